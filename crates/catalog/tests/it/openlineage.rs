//! OpenLineage events validate against the official JSON schema (spec 2-0-2) and the facet
//! schemas, both copied into `tests/conformance/openlineage/`; the spec's own example events
//! pass the same validator, which shows it is wired right (formats checked, no network).

use crate::{at, project};
use jsonschema::{Draft, Registry, Validator};
use pulse_catalog::openlineage::{EventType, OpenLineage, RunEvent, TaskRun, Transport, run_uuid};
use pulse_catalog::{Catalog, CatalogStore, ColumnInput, ColumnMap};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;

const CORE_URI: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json";

fn spec_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/openlineage")
}

fn read_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).expect("a spec file");
    serde_json::from_str(&text).expect("JSON")
}

/// Facet key -> the schema file that defines it.
const FACET_SCHEMAS: &[(&str, &str)] = &[
    ("schema", "SchemaDatasetFacet"),
    ("dataSource", "DatasourceDatasetFacet"),
    ("documentation", "DocumentationDatasetFacet"),
    ("ownership", "OwnershipDatasetFacet"),
    ("columnLineage", "ColumnLineageDatasetFacet"),
    ("outputStatistics", "OutputStatisticsOutputDatasetFacet"),
    ("parent", "ParentRunFacet"),
    ("nominalTime", "NominalTimeRunFacet"),
    ("processing_engine", "ProcessingEngineRunFacet"),
    ("errorMessage", "ErrorMessageRunFacet"),
    ("jobType", "JobTypeJobFacet"),
    ("sql", "SQLJobFacet"),
];

struct Validators {
    core: Validator,
    facets: BTreeMap<String, Validator>,
}

fn validators() -> Validators {
    let core_schema = read_json(&spec_dir().join("OpenLineage.json"));
    let registry = Registry::new()
        .add(CORE_URI, core_schema.clone())
        .expect("a URI")
        .prepare()
        .expect("the registry");
    let build = |schema: &Value| {
        jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .with_registry(&registry)
            .build(schema)
            .expect("a valid schema")
    };
    let core = build(&core_schema);
    let facets = FACET_SCHEMAS
        .iter()
        .map(|(_, file)| {
            let schema = read_json(&spec_dir().join(format!("facets/{file}.json")));
            (file.to_string(), build(&schema))
        })
        .collect();
    Validators { core, facets }
}

fn errors(v: &Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

impl Validators {
    /// The event against the core schema, and every facet map against the schema of each
    /// facet in it; a facet no schema covers is an error too.
    fn check(&self, event: &Value) -> Vec<String> {
        let mut out = errors(&self.core, event);
        let mut maps: Vec<(String, &Value)> = Vec::new();
        for (where_, v) in [("run", &event["run"]), ("job", &event["job"])] {
            maps.push((format!("{where_}.facets"), &v["facets"]));
        }
        for side in ["inputs", "outputs"] {
            for (i, d) in event[side].as_array().into_iter().flatten().enumerate() {
                maps.push((format!("{side}[{i}].facets"), &d["facets"]));
                maps.push((format!("{side}[{i}].outputFacets"), &d["outputFacets"]));
            }
        }
        for (where_, facets) in maps {
            let Some(obj) = facets.as_object() else {
                continue;
            };
            for key in obj.keys() {
                match FACET_SCHEMAS.iter().find(|(k, _)| k == key) {
                    Some((_, file)) => {
                        // The facet names the very schema it is checked against.
                        let schema = read_json(&spec_dir().join(format!("facets/{file}.json")));
                        let url = obj[key]["_schemaURL"].as_str().unwrap_or_default();
                        if url.split('#').next() != schema["$id"].as_str() {
                            out.push(format!("{where_}.{key}: _schemaURL {url} is not {file}"));
                        }
                        let v = &self.facets[*file];
                        out.extend(
                            errors(v, facets)
                                .into_iter()
                                .map(|e| format!("{where_}.{key}: {e}")),
                        );
                    }
                    None => out.push(format!("{where_}.{key}: no schema for this facet")),
                }
            }
        }
        out
    }
}

#[test]
fn the_specs_own_examples_validate() {
    let v = validators();
    let example = read_json(&spec_dir().join("tests/example_full_event.json"));
    assert_eq!(example["eventType"], "COMPLETE");
    assert!(
        errors(&v.core, &example).is_empty(),
        "{:?}",
        errors(&v.core, &example)
    );
    let mut checked = 0;
    for (_, file) in FACET_SCHEMAS {
        let dir = spec_dir().join("tests").join(file);
        for entry in std::fs::read_dir(&dir).expect("examples") {
            let path = entry.expect("entry").path();
            let example = read_json(&path);
            let errs = errors(&v.facets[*file], &example);
            assert!(errs.is_empty(), "{}: {errs:?}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= FACET_SCHEMAS.len());
    // The validator rejects what the spec forbids: a run id that is no UUID, a bad time.
    let mut bad = read_json(&spec_dir().join("tests/example_full_event.json"));
    bad["run"]["runId"] = Value::String("run-42".into());
    assert!(
        !errors(&v.core, &bad).is_empty(),
        "a non-UUID run id passed"
    );
    let mut bad = read_json(&spec_dir().join("tests/example_full_event.json"));
    bad["eventTime"] = Value::String("yesterday".into());
    assert!(!errors(&v.core, &bad).is_empty(), "a bad eventTime passed");
    let bad_facet: Value = serde_json::json!({
        "errorMessage": { "_producer": "urn:x", "_schemaURL": "urn:y", "message": "m" }
    });
    assert!(!errors(&v.facets["ErrorMessageRunFacet"], &bad_facet).is_empty());
}

fn catalog_with_state() -> Catalog {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = CatalogStore::open(dir.path()).expect("store");
    let schema = arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("order_id", arrow::datatypes::DataType::Int64, false),
        arrow::datatypes::Field::new("gmv_cents", arrow::datatypes::DataType::Int64, true),
    ]);
    store
        .record_build(
            "fct_orders",
            &schema,
            10,
            100,
            "run-1",
            at("2026-03-01T02:30:00Z"),
        )
        .expect("build");
    let mut catalog = Catalog::load(&project(), &store).expect("load");
    let map: ColumnMap = [
        (
            "order_id".to_string(),
            vec![ColumnInput::direct("stg_orders__orders", "order_id")],
        ),
        (
            "gmv_cents".to_string(),
            vec![
                ColumnInput::direct("stg_orders__orders", "total_cents"),
                ColumnInput::indirect("stg_orders__orders", "status"),
            ],
        ),
    ]
    .into_iter()
    .collect();
    catalog.set_column_lineage("fct_orders", &map).expect("map");
    catalog
}

fn events(catalog: &Catalog) -> Vec<RunEvent> {
    let ol = OpenLineage::new(
        "food_delivery",
        "file:///srv/pulse/warehouse",
        "file:///srv/pulse/lake",
    );
    let when = at("2026-03-01T02:30:00Z");
    let model = TaskRun {
        run_id: "20260301T020000-1".into(),
        task_id: "model:fct_orders".into(),
        job_type: "MODEL".into(),
        nominal_time: Some(at("2026-03-01T00:00:00Z")),
        sql: Some("select 1".into()),
    };
    let inputs = || {
        ["stg_orders__orders", "stg_logistics__deliveries"]
            .iter()
            .map(|d| ol.input(catalog, d).expect("input"))
            .collect::<Vec<_>>()
    };
    let land = TaskRun {
        run_id: model.run_id.clone(),
        task_id: "land:orders".into(),
        job_type: "LAND".into(),
        nominal_time: None,
        sql: None,
    };
    vec![
        ol.event(&model, EventType::Start, when, inputs(), Vec::new(), None),
        ol.event(
            &model,
            EventType::Complete,
            when,
            inputs(),
            vec![
                ol.output(catalog, "fct_orders", Some(10), Some(100))
                    .expect("out"),
            ],
            None,
        ),
        ol.event(
            &model,
            EventType::Fail,
            when,
            inputs(),
            vec![ol.output(catalog, "fct_orders", None, None).expect("out")],
            Some("division by zero in fct_orders"),
        ),
        ol.event(
            &land,
            EventType::Complete,
            when,
            vec![ol.input(catalog, "orders.orders").expect("in")],
            vec![
                ol.output(catalog, "raw:orders.orders", Some(5), None)
                    .expect("out"),
                ol.output(catalog, "quarantine:orders.orders", Some(0), None)
                    .expect("out"),
            ],
            None,
        ),
    ]
}

#[test]
fn every_event_pulse_emits_validates() {
    let v = validators();
    let catalog = catalog_with_state();
    let events = events(&catalog);
    for event in &events {
        let json = serde_json::to_value(event).expect("json");
        let errs = v.check(&json);
        assert!(errs.is_empty(), "{:?}: {errs:#?}", event.event_type);
    }
    // What the events say.
    let (start, complete, fail) = (&events[0], &events[1], &events[2]);
    assert_eq!(start.run.run_id, complete.run.run_id);
    assert_eq!(
        complete.run.run_id,
        run_uuid("20260301T020000-1", "model:fct_orders").to_string()
    );
    assert_eq!(complete.job.name, "model:fct_orders");
    let out = serde_json::to_value(&complete.outputs[0]).expect("json");
    assert_eq!(out["namespace"], "file:///srv/pulse/warehouse");
    assert_eq!(out["name"], "fct_orders");
    assert_eq!(out["outputFacets"]["outputStatistics"]["rowCount"], 10);
    let fields = &out["facets"]["schema"]["fields"];
    assert!(fields.as_array().is_some_and(|f| {
        f.iter()
            .any(|c| c["name"] == "gmv_cents" && c["type"] == "Int64")
    }));
    let lineage = out["facets"]["columnLineage"]["fields"]["gmv_cents"]["inputFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let kinds: Vec<(String, String)> = lineage
        .iter()
        .map(|f| {
            assert_eq!(f["name"], "stg_orders__orders");
            (
                f["field"].as_str().unwrap_or_default().to_string(),
                f["transformations"][0]["type"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("status".to_string(), "INDIRECT".to_string()),
            ("total_cents".to_string(), "DIRECT".to_string())
        ]
    );
    let fail = serde_json::to_value(fail).expect("json");
    assert_eq!(fail["eventType"], "FAIL");
    assert_eq!(
        fail["run"]["facets"]["errorMessage"]["message"],
        "division by zero in fct_orders"
    );
    let land = serde_json::to_value(&events[3]).expect("json");
    assert_eq!(land["inputs"][0]["namespace"], "sqlite://orders");
    assert_eq!(land["inputs"][0]["name"], "orders");
    assert_eq!(land["outputs"][0]["namespace"], "file:///srv/pulse/lake");
    assert_eq!(land["outputs"][0]["name"], "raw/orders/orders");
}

#[test]
fn events_go_to_a_json_lines_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("lineage/events.jsonl");
    let transport = Transport::from_target(&format!("file://{}", path.display())).expect("file");
    let catalog = catalog_with_state();
    let events = events(&catalog);
    for e in &events {
        transport.emit(e).expect("emit");
    }
    let text = std::fs::read_to_string(&path).expect("written");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), events.len());
    let v = validators();
    for line in lines {
        let value: Value = serde_json::from_str(line).expect("one event a line");
        assert!(v.check(&value).is_empty());
    }
    assert!(Transport::from_target("https://marquez/api/v1/lineage").is_err());
    assert!(Transport::from_target("").is_err());
}

/// A one-shot HTTP server on 127.0.0.1 that answers `status` and hands back what it got.
fn serve_once(status: &'static str) -> (String, std::thread::JoinHandle<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://{}/api/v1/lineage",
        listener.local_addr().expect("addr")
    );
    let handle = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("a connection");
        conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .expect("timeout");
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        // Read the head, then as many body bytes as Content-Length says.
        loop {
            let n = conn.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some(head_end) = text.find("\r\n\r\n") {
                let length: usize = text[..head_end]
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if got.len() >= head_end + 4 + length {
                    break;
                }
            }
        }
        let body = format!("{{\"status\":\"{status}\"}}");
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        conn.write_all(response.as_bytes()).expect("answer");
        String::from_utf8_lossy(&got).to_string()
    });
    (url, handle)
}

#[test]
fn events_are_posted_over_http() {
    let catalog = catalog_with_state();
    let event = &events(&catalog)[1];
    let (url, server) = serve_once("201 Created");
    let transport = Transport::from_target(&url).expect("http");
    transport.emit(event).expect("posted");
    let request = server.join().expect("server");
    assert!(
        request.starts_with("POST /api/v1/lineage HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(request.contains("Content-Type: application/json"));
    let body = request.split("\r\n\r\n").nth(1).expect("a body");
    let sent: RunEvent = serde_json::from_str(body).expect("the event");
    assert_eq!(&sent, event);

    let (url, server) = serve_once("400 Bad Request");
    let err = Transport::from_target(&url)
        .expect("http")
        .emit(event)
        .expect_err("a 400 is an error");
    server.join().expect("server");
    assert!(err.to_string().contains("400"), "{err}");

    // Nobody listening: a clear error, not a hang.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let err = Transport::from_target(&format!("http://{addr}/x"))
        .expect("http")
        .emit(event)
        .expect_err("refused");
    assert!(err.to_string().contains("cannot connect"), "{err}");
}
