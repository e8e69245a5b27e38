//! OpenLineage run events (spec 2-0-2): each task of a run reports START, then COMPLETE or
//! FAIL, with its input and output datasets and their facets, so DataHub, Marquez or any
//! OpenLineage consumer can follow Pulse's lineage. Events go to a JSON-lines file or are POSTed
//! to an HTTP endpoint (a small HTTP/1.1 client over `std::net`, `http://` only).
//!
//! Naming follows OpenLineage's conventions where Pulse has them: models and quarantines are
//! tables in the warehouse's namespace, raw landings are paths in the lake's namespace, source
//! tables are `<table>` in `<connector>://<source>` unless the caller names the source's
//! namespace (a connection URL without secrets).

use crate::catalog::Catalog;
use crate::error::{CatalogError, Result};
use crate::model::{Dataset as CatalogDataset, DatasetKind, Details};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

/// The spec version the events follow.
pub const SPEC_URL: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json";
/// `schemaURL` of every run event.
pub const RUN_EVENT_SCHEMA_URL: &str =
    "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";

const FACETS: &str = "https://openlineage.io/spec/facets";

/// The namespace of Pulse's run UUIDs (a fixed random UUID): a task's run id is the name-based
/// (version 5) UUID of `<run id>/<task id>` in it, so START and COMPLETE of a task carry the
/// same `runId` without anyone storing it, and a retried task keeps it.
pub const RUN_ID_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x6f1c_2b7e_93d4_4a51_8e0a_5c3b_d2f4_7a19);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    Start,
    Running,
    Complete,
    Abort,
    Fail,
    Other,
}

/// A run event as the spec defines it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEvent {
    #[serde(rename = "eventType")]
    pub event_type: EventType,
    #[serde(rename = "eventTime")]
    pub event_time: String,
    pub run: Run,
    pub job: Job,
    pub inputs: Vec<InputDataset>,
    pub outputs: Vec<OutputDataset>,
    pub producer: String,
    #[serde(rename = "schemaURL")]
    pub schema_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    #[serde(rename = "runId")]
    pub run_id: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub facets: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub namespace: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub facets: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputDataset {
    pub namespace: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub facets: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputDataset {
    pub namespace: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub facets: Map<String, Value>,
    #[serde(
        rename = "outputFacets",
        default,
        skip_serializing_if = "Map::is_empty"
    )]
    pub output_facets: Map<String, Value>,
}

/// One task execution, as the orchestrator knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRun {
    /// The pipeline run's id.
    pub run_id: String,
    /// The task's id in the run (`model:fct_orders`, `land:orders`).
    pub task_id: String,
    /// `LAND`, `VALIDATE` or `MODEL`.
    pub job_type: String,
    /// The run's logical date, as the start of the period it covers.
    pub nominal_time: Option<DateTime<Utc>>,
    /// The SQL a model task ran.
    pub sql: Option<String>,
}

/// How Pulse names its datasets and itself in events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenLineage {
    /// Jobs' namespace: the project.
    pub job_namespace: String,
    /// The `producer` URI of every event and facet.
    pub producer: String,
    /// The warehouse's namespace (its URL, e.g. `file:///srv/pulse/warehouse`).
    pub warehouse_namespace: String,
    /// The lake's namespace (its URL).
    pub lake_namespace: String,
    /// Source -> namespace, for sources whose system has a URL to name (no secrets in it).
    pub source_namespaces: BTreeMap<String, String>,
}

/// A run id as OpenLineage wants it: the version 5 UUID of `<run id>/<task id>`.
pub fn run_uuid(run_id: &str, task_id: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(&RUN_ID_NAMESPACE, format!("{run_id}/{task_id}").as_bytes())
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl OpenLineage {
    pub fn new(job_namespace: &str, warehouse_namespace: &str, lake_namespace: &str) -> Self {
        OpenLineage {
            job_namespace: job_namespace.to_string(),
            producer: format!("urn:pulse-analytics:pulse:{}", env!("CARGO_PKG_VERSION")),
            warehouse_namespace: warehouse_namespace.to_string(),
            lake_namespace: lake_namespace.to_string(),
            source_namespaces: BTreeMap::new(),
        }
    }

    fn facet(&self, schema: &str, body: Value) -> Value {
        let mut out = Map::new();
        out.insert("_producer".into(), Value::String(self.producer.clone()));
        out.insert(
            "_schemaURL".into(),
            Value::String(format!("{FACETS}/{schema}")),
        );
        if let Value::Object(fields) = body {
            out.extend(fields);
        }
        Value::Object(out)
    }

    /// The OpenLineage `(namespace, name)` of a catalog dataset.
    pub fn naming(&self, ds: &CatalogDataset) -> (String, String) {
        match &ds.details {
            Details::SourceTable {
                source,
                table,
                connector,
                ..
            } => (
                self.source_namespaces
                    .get(source)
                    .cloned()
                    .unwrap_or_else(|| format!("{connector}://{source}")),
                table.clone(),
            ),
            Details::RawLanding { path, .. } => (
                self.lake_namespace.clone(),
                path.trim_end_matches('/').to_string(),
            ),
            Details::Quarantine { table, .. } => (self.warehouse_namespace.clone(), table.clone()),
            Details::Model { .. } => (self.warehouse_namespace.clone(), ds.name.clone()),
            Details::Metric(_) | Details::Dashboard { .. } => {
                (format!("pulse://{}", self.job_namespace), ds.id.clone())
            }
        }
    }

    /// A dataset's facets: schema (the columns the catalog knows, typed once a run saw them),
    /// data source, documentation and ownership.
    fn dataset_facets(&self, ds: &CatalogDataset) -> Map<String, Value> {
        let (namespace, _) = self.naming(ds);
        let mut facets = Map::new();
        if !ds.columns.is_empty() {
            let fields: Vec<Value> = ds
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let mut f = Map::new();
                    f.insert("name".into(), json!(c.name));
                    if let Some(t) = &c.data_type {
                        f.insert("type".into(), json!(t));
                    }
                    if let Some(d) = &c.description {
                        f.insert("description".into(), json!(d));
                    }
                    f.insert("ordinal_position".into(), json!(i + 1));
                    Value::Object(f)
                })
                .collect();
            facets.insert(
                "schema".into(),
                self.facet(
                    "1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
                    json!({ "fields": fields }),
                ),
            );
        }
        facets.insert(
            "dataSource".into(),
            self.facet(
                "1-0-1/DatasourceDatasetFacet.json#/$defs/DatasourceDatasetFacet",
                json!({ "name": namespace, "uri": namespace }),
            ),
        );
        if let Some(d) = &ds.description {
            facets.insert(
                "documentation".into(),
                self.facet(
                    "1-1-0/DocumentationDatasetFacet.json#/$defs/DocumentationDatasetFacet",
                    json!({ "description": d }),
                ),
            );
        }
        if let Some(o) = &ds.owner {
            facets.insert(
                "ownership".into(),
                self.facet(
                    "1-0-1/OwnershipDatasetFacet.json#/$defs/OwnershipDatasetFacet",
                    json!({ "owners": [{ "name": format!("user:{o}"), "type": "OWNER" }] }),
                ),
            );
        }
        facets
    }

    /// An input of a task: a dataset of the catalog by id or name.
    pub fn input(&self, catalog: &Catalog, dataset: &str) -> Result<InputDataset> {
        let ds = catalog.get(dataset)?;
        let (namespace, name) = self.naming(ds);
        Ok(InputDataset {
            namespace,
            name,
            facets: self.dataset_facets(ds),
        })
    }

    /// An output of a task, with its row count and size when known and, for a model whose
    /// column lineage the catalog has, the column lineage facet.
    pub fn output(
        &self,
        catalog: &Catalog,
        dataset: &str,
        rows: Option<u64>,
        bytes: Option<u64>,
    ) -> Result<OutputDataset> {
        let ds = catalog.get(dataset)?;
        let (namespace, name) = self.naming(ds);
        let mut facets = self.dataset_facets(ds);
        if ds.kind == DatasetKind::Model
            && let Some(map) = catalog.lineage().column_map(&ds.id)
        {
            let mut fields = Map::new();
            for (column, inputs) in map {
                let inputs: Vec<Value> = inputs
                    .iter()
                    .filter_map(|i| {
                        let input = catalog.dataset(&i.dataset)?;
                        let (ns, n) = self.naming(input);
                        Some(json!({
                            "namespace": ns,
                            "name": n,
                            "field": i.column,
                            "transformations": [{
                                "type": if i.indirect { "INDIRECT" } else { "DIRECT" }
                            }],
                        }))
                    })
                    .collect();
                fields.insert(column.clone(), json!({ "inputFields": inputs }));
            }
            facets.insert(
                "columnLineage".into(),
                self.facet(
                    "1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet",
                    json!({ "fields": fields }),
                ),
            );
        }
        let mut output_facets = Map::new();
        if let Some(rows) = rows {
            let mut stats = json!({ "rowCount": rows });
            if let (Some(b), Value::Object(m)) = (bytes, &mut stats) {
                m.insert("size".into(), json!(b));
            }
            output_facets.insert(
                "outputStatistics".into(),
                self.facet(
                    "1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet",
                    stats,
                ),
            );
        }
        Ok(OutputDataset {
            namespace,
            name,
            facets,
            output_facets,
        })
    }

    /// A run event of a task. `error` is the failure's message (FAIL events).
    pub fn event(
        &self,
        task: &TaskRun,
        event_type: EventType,
        at: DateTime<Utc>,
        inputs: Vec<InputDataset>,
        outputs: Vec<OutputDataset>,
        error: Option<&str>,
    ) -> RunEvent {
        let mut run_facets = Map::new();
        run_facets.insert(
            "parent".into(),
            self.facet(
                "1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet",
                json!({
                    "run": { "runId": run_uuid(&task.run_id, "").to_string() },
                    "job": { "namespace": self.job_namespace, "name": "pulse_run" },
                }),
            ),
        );
        if let Some(t) = task.nominal_time {
            run_facets.insert(
                "nominalTime".into(),
                self.facet(
                    "1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet",
                    json!({ "nominalStartTime": timestamp(t) }),
                ),
            );
        }
        run_facets.insert(
            "processing_engine".into(),
            self.facet(
                "1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet",
                json!({ "name": "pulse", "version": env!("CARGO_PKG_VERSION") }),
            ),
        );
        if let Some(message) = error {
            run_facets.insert(
                "errorMessage".into(),
                self.facet(
                    "1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
                    json!({ "message": message, "programmingLanguage": "RUST" }),
                ),
            );
        }
        let mut job_facets = Map::new();
        job_facets.insert(
            "jobType".into(),
            self.facet(
                "2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
                json!({
                    "processingType": "BATCH",
                    "integration": "PULSE",
                    "jobType": task.job_type,
                }),
            ),
        );
        if let Some(sql) = &task.sql {
            job_facets.insert(
                "sql".into(),
                self.facet(
                    "1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet",
                    json!({ "query": sql, "dialect": "datafusion" }),
                ),
            );
        }
        RunEvent {
            event_type,
            event_time: timestamp(at),
            run: Run {
                run_id: run_uuid(&task.run_id, &task.task_id).to_string(),
                facets: run_facets,
            },
            job: Job {
                namespace: self.job_namespace.clone(),
                name: task.task_id.clone(),
                facets: job_facets,
            },
            inputs,
            outputs,
            producer: self.producer.clone(),
            schema_url: RUN_EVENT_SCHEMA_URL.to_string(),
        }
    }
}

/// Where events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// Appended to a JSON-lines file, one event a line.
    File(PathBuf),
    /// POSTed as JSON to an `http://` URL (Marquez: `http://host:5000/api/v1/lineage`).
    Http {
        url: String,
        /// Sent as `Authorization: Bearer <key>`.
        api_key: Option<String>,
        timeout: Duration,
    },
}

impl Transport {
    /// `http://…` posts there; `file://…` or a plain path appends to that file.
    pub fn from_target(target: &str) -> Result<Transport> {
        if target.starts_with("http://") {
            Ok(Transport::Http {
                url: target.to_string(),
                api_key: None,
                timeout: Duration::from_secs(10),
            })
        } else if target.starts_with("https://") {
            Err(CatalogError::OpenLineage(format!(
                "{target}: https is not supported by the built-in client; send to an http:// endpoint (a local proxy) or to a file"
            )))
        } else {
            let path = target.strip_prefix("file://").unwrap_or(target);
            if path.is_empty() {
                return Err(CatalogError::OpenLineage(
                    "an empty target: give a file path or an http:// URL".into(),
                ));
            }
            Ok(Transport::File(PathBuf::from(path)))
        }
    }

    /// Sends one event.
    pub fn emit(&self, event: &RunEvent) -> Result<()> {
        let json = serde_json::to_string(event)
            .map_err(|e| CatalogError::OpenLineage(format!("cannot serialise the event: {e}")))?;
        match self {
            Transport::File(path) => append_line(path, &json),
            Transport::Http {
                url,
                api_key,
                timeout,
            } => post_json(url, api_key.as_deref(), &json, *timeout),
        }
    }
}

fn append_line(path: &std::path::Path, json: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| CatalogError::io(dir, e))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| CatalogError::io(path, e))?;
    // Several workers may append at once: one locked write per line keeps lines whole.
    file.lock().map_err(|e| CatalogError::io(path, e))?;
    let mut line = String::with_capacity(json.len() + 1);
    line.push_str(json);
    line.push('\n');
    let written = file
        .write_all(line.as_bytes())
        .and_then(|()| file.flush())
        .map_err(|e| CatalogError::io(path, e));
    let _ = file.unlock();
    written
}

/// Splits `http://host[:port][/path]`.
fn split_url(url: &str) -> Result<(String, u16, String)> {
    let bad = |m: &str| CatalogError::OpenLineage(format!("{url}: {m}"));
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad("not an http:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("needs a host (and no user:password@)"));
    }
    let (host, port_text) = if authority.starts_with('[') {
        // An IPv6 literal: `[::1]` or `[::1]:8080`.
        let end = authority
            .find(']')
            .ok_or_else(|| bad("unclosed [ in the host"))?;
        let after = &authority[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(bad("bad host")),
        };
        (&authority[..=end], port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port_text {
        Some(p) => p.parse::<u16>().map_err(|_| bad("bad port"))?,
        None => 80,
    };
    let host = host.to_string();
    Ok((host, port, path.to_string()))
}

fn post_json(url: &str, api_key: Option<&str>, body: &str, timeout: Duration) -> Result<()> {
    let (host, port, path) = split_url(url)?;
    let fail = |m: String| CatalogError::OpenLineage(format!("POST {url}: {m}"));
    let host_for_connect = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = (host_for_connect, port)
        .to_socket_addrs()
        .map_err(|e| fail(format!("cannot resolve {host}: {e}")))?
        .collect();
    let mut stream = None;
    let mut last_error = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_error = Some(e),
        }
    }
    let mut stream = stream.ok_or_else(|| {
        fail(match last_error {
            Some(e) => format!("cannot connect: {e}"),
            None => format!("{host} has no address"),
        })
    })?;
    let io = |e: std::io::Error| fail(e.to_string());
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let host_header = if port == 80 {
        host.clone()
    } else {
        format!("{host}:{port}")
    };
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: pulse/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    if let Some(key) = api_key {
        request.push_str(&format!("Authorization: Bearer {key}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).map_err(io)?;
    stream.write_all(body.as_bytes()).map_err(io)?;
    stream.flush().map_err(io)?;
    // The status line and a little of the body are all that matter.
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                response.extend_from_slice(&buf[..n]);
                if response.len() > 65_536 {
                    break;
                }
            }
            Err(e) if response.is_empty() => return Err(io(e)),
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&response);
    let status_line = text.lines().next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| fail(format!("not an HTTP response: {status_line:?}")))?;
    if (200..300).contains(&status) {
        return Ok(());
    }
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    let excerpt: String = body.chars().take(300).collect();
    Err(fail(format!("the endpoint answered {status}: {excerpt}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split() {
        let ok = |u: &str| split_url(u).ok();
        assert_eq!(
            ok("http://localhost:5000/api/v1/lineage"),
            Some(("localhost".into(), 5000, "/api/v1/lineage".into()))
        );
        assert_eq!(
            ok("http://marquez"),
            Some(("marquez".into(), 80, "/".into()))
        );
        assert_eq!(
            ok("http://[::1]:8080/x"),
            Some(("[::1]".into(), 8080, "/x".into()))
        );
        assert_eq!(ok("http://[::1]"), Some(("[::1]".into(), 80, "/".into())));
        assert!(split_url("http://u:p@host/").is_err());
        assert!(split_url("http://host:notaport/").is_err());
    }

    #[test]
    fn run_ids_are_stable_v5_uuids() {
        let a = run_uuid("2026-03-01T02:00:00Z", "model:fct_orders");
        assert_eq!(a, run_uuid("2026-03-01T02:00:00Z", "model:fct_orders"));
        assert_ne!(a, run_uuid("2026-03-01T02:00:00Z", "model:fct_deliveries"));
        assert_eq!(a.get_version_num(), 5);
    }
}
