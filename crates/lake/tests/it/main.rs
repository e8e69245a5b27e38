//! End-to-end landings into a lake in a temporary project.

mod servers;

use arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, TimeUnit};
use pulse_lake::{Lake, LandProgress, LandingReport, RunContext};
use pulse_project::Project;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(sources: &[(&str, &str)]) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("pulse.toml"), "name = \"t\"\n").expect("pulse.toml");
        std::fs::create_dir_all(dir.path().join("sources")).expect("sources");
        std::fs::create_dir_all(dir.path().join("data/ga4")).expect("data");
        for (name, text) in sources {
            std::fs::write(dir.path().join(format!("sources/{name}.toml")), text).expect("source");
        }
        Fixture { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn project(&self) -> Project {
        Project::load(self.root()).expect("project")
    }

    fn lake(&self) -> Lake {
        Lake::open("lake", self.root()).expect("lake")
    }

    fn write(&self, rel: &str, bytes: &[u8]) {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, bytes).expect("write");
    }

    fn sqlite(&self, sql: &str) {
        let conn = rusqlite::Connection::open(self.root().join("data/app.sqlite")).expect("db");
        conn.execute_batch(sql).expect("sql");
    }

    async fn land(&self, source: &str, table: &str, run: &str) -> Result<LandingReport, String> {
        let project = self.project();
        let lake = self.lake();
        let s = project.source(source).expect("source");
        let t = s.table(table).expect("table");
        let ctx = RunContext {
            run_id: run.to_string(),
            ingest_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"),
        };
        let progress = |_: LandProgress| {};
        lake.land_table(&project, s, t, &ctx, &progress)
            .await
            .map_err(|e| e.to_string())
    }

    /// Every file under the lake with its bytes.
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            let Ok(rd) = std::fs::read_dir(dir) else {
                return;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.insert(p.clone(), std::fs::read(&p).expect("read"));
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.root().join("lake"), &mut out);
        out
    }

    fn lake_files(&self) -> Vec<String> {
        let root = self.root().join("lake");
        self.snapshot()
            .keys()
            .map(|p| {
                p.strip_prefix(&root)
                    .expect("in lake")
                    .to_string_lossy()
                    .replace('\\', "/")
            })
            .collect()
    }
}

fn read_parquet(url: &str) -> Vec<RecordBatch> {
    let path = url::Url::parse(url)
        .expect("url")
        .to_file_path()
        .expect("file url");
    let file = std::fs::File::open(path).expect("open part");
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet")
        .build()
        .expect("reader")
        .collect::<Result<Vec<_>, _>>()
        .expect("batches")
}

async fn landed_rows(lake: &Lake, source: &str, table: &str) -> Vec<RecordBatch> {
    lake.landed_files(source, table)
        .await
        .expect("landed files")
        .iter()
        .flat_map(|f| read_parquet(&f.url))
        .collect()
}

fn ids(batches: &[RecordBatch], column: &str) -> Vec<i64> {
    let mut out: Vec<i64> = batches
        .iter()
        .flat_map(|b| {
            b.column_by_name(column)
                .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
                .expect("int column")
                .iter()
                .flatten()
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out
}

const APP: &str = "connector = \"sqlite\"\npath = \"data/app.sqlite\"\n\
[[tables]]\nname = \"orders\"\ncursor = \"updated_at\"\nprimary_key = [\"id\"]\n\
[[tables]]\nname = \"customers\"\nprimary_key = [\"id\"]\n";

const ORDERS: &str = "
CREATE TABLE orders (id INTEGER PRIMARY KEY, amount REAL, status TEXT, placed_at TIMESTAMP,
                     updated_at TIMESTAMP);
INSERT INTO orders VALUES (1, 10.5, 'placed', '2026-11-01 10:00:00', '2026-11-01 10:00:00');
INSERT INTO orders VALUES (2, 20, 'placed', '2026-11-01 11:00:00', '2026-11-01 11:00:00');
INSERT INTO orders VALUES (3, NULL, 'placed', '2026-11-01 12:00:00', '2026-11-01 12:00:00');
CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, signed_up DATE);
INSERT INTO customers VALUES (1, 'a@x', '2026-10-01');
INSERT INTO customers VALUES (2, 'b@x', '2026-10-02');
";

#[tokio::test]
async fn sqlite_cursor_lands_only_new_rows() {
    let fx = Fixture::new(&[("app", APP)]);
    fx.sqlite(ORDERS);

    let first = fx.land("app", "orders", "r1").await.expect("first landing");
    assert!(first.landed);
    assert_eq!(first.rows, 3);
    assert_eq!(first.watermark.as_deref(), Some("2026-11-01 12:00:00"));
    assert!(first.output_bytes > 0);
    let files = fx.lake_files();
    assert!(files.contains(&"raw/app/orders/2026-11-01/r1/_manifest.json".to_string()));
    assert!(files.contains(&"raw/app/orders/2026-11-01/r1/part-00000.parquet".to_string()));
    assert!(files.contains(&"_state/app/orders.json".to_string()));
    assert!(
        !files.iter().any(|f| f.starts_with("_staging")),
        "staging is cleaned up: {files:?}"
    );

    let lake = fx.lake();
    let manifests = lake.manifests("app", "orders").await.expect("manifests");
    assert_eq!(manifests.len(), 1);
    assert_eq!(manifests[0].rows, 3);
    assert_eq!(manifests[0].watermark_before, None);
    assert_eq!(manifests[0].connector, "sqlite");
    assert_eq!(manifests[0].parts[0].rows, 3);

    // Types as declared.
    let files = lake.landed_files("app", "orders").await.expect("files");
    assert_eq!(files.len(), 1);
    assert!(files[0].url.starts_with("file:///"));
    let batches = read_parquet(&files[0].url);
    let schema = batches[0].schema();
    assert_eq!(schema.field(0).data_type(), &DataType::Int64);
    assert_eq!(schema.field(1).data_type(), &DataType::Float64);
    assert_eq!(schema.field(2).data_type(), &DataType::Utf8);
    assert_eq!(
        schema.field(3).data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, None)
    );

    // Nothing changed: nothing written.
    let before = fx.snapshot();
    let again = fx
        .land("app", "orders", "r2")
        .await
        .expect("second landing");
    assert!(!again.landed);
    assert_eq!(again.rows, 0);
    assert_eq!(again.watermark.as_deref(), Some("2026-11-01 12:00:00"));
    assert_eq!(before, fx.snapshot(), "the lake must be byte-identical");

    // Two new rows and one update past the watermark.
    fx.sqlite(
        "INSERT INTO orders VALUES (4, 1, 'placed', '2026-11-02 08:00:00', '2026-11-02 08:00:00');
         INSERT INTO orders VALUES (5, 2, 'placed', '2026-11-02 09:00:00', '2026-11-02 09:00:00');
         UPDATE orders SET status = 'delivered', updated_at = '2026-11-02 10:00:00' WHERE id = 1;",
    );
    let third = fx.land("app", "orders", "r3").await.expect("third landing");
    assert!(third.landed);
    assert_eq!(third.rows, 3);
    assert_eq!(third.watermark.as_deref(), Some("2026-11-02 10:00:00"));
    let manifests = lake.manifests("app", "orders").await.expect("manifests");
    assert_eq!(
        manifests[1].watermark_before.as_deref(),
        Some("2026-11-01 12:00:00")
    );
    // Increments add up.
    let rows = landed_rows(&lake, "app", "orders").await;
    assert_eq!(ids(&rows, "id"), [1, 1, 2, 3, 4, 5]);
    let state = lake
        .state("app", "orders")
        .await
        .expect("state")
        .expect("some");
    assert_eq!(state.last_run_id.as_deref(), Some("r3"));
    assert_eq!(state.watermark.as_deref(), Some("2026-11-02 10:00:00"));
}

#[tokio::test]
async fn sqlite_snapshot_relands_only_when_changed() {
    let fx = Fixture::new(&[("app", APP)]);
    fx.sqlite(ORDERS);
    let lake = fx.lake();

    let first = fx.land("app", "customers", "r1").await.expect("first");
    assert!(first.landed);
    assert_eq!(first.rows, 2);
    let before = fx.snapshot();
    let second = fx.land("app", "customers", "r2").await.expect("second");
    assert!(!second.landed);
    assert_eq!(before, fx.snapshot());

    fx.sqlite("INSERT INTO customers VALUES (3, 'c@x', '2026-10-03');");
    let third = fx.land("app", "customers", "r3").await.expect("third");
    assert!(third.landed);
    assert_eq!(third.rows, 3);
    let files = lake.landed_files("app", "customers").await.expect("files");
    assert!(files.iter().all(|f| f.run_id == "r3"), "{files:?}");
    let rows = landed_rows(&lake, "app", "customers").await;
    assert_eq!(ids(&rows, "id"), [1, 2, 3]);
    assert_eq!(rows[0].schema().field(2).data_type(), &DataType::Date32);
}

#[tokio::test]
async fn missing_database_is_an_error_and_leaves_nothing() {
    let fx = Fixture::new(&[(
        "orders",
        "connector = \"sqlite\"\npath = \"data/orders.sqlite\"\n[[tables]]\nname = \"orders\"\ncursor = \"updated_at\"\n",
    )]);
    let err = fx
        .land("orders", "orders", "r1")
        .await
        .expect_err("missing db");
    assert!(err.starts_with("orders.orders: "), "{err}");
    assert!(err.contains("data/orders.sqlite"), "{err}");
    assert!(err.contains("no such file"), "{err}");
    assert!(fx.lake_files().is_empty(), "{:?}", fx.lake_files());
    assert!(
        fx.lake()
            .state("orders", "orders")
            .await
            .expect("state")
            .is_none()
    );
}

const GA4: &str =
    "connector = \"jsonl\"\n[[tables]]\nname = \"events\"\npath = \"data/ga4/*.jsonl\"\n";

fn ga4_line(name: &str, ts: i64, campaign: &str) -> String {
    format!(
        r#"{{"event_date":"20261101","event_timestamp":{ts},"event_name":"{name}","user_pseudo_id":"u{ts}","event_params":[{{"key":"page_location","value":{{"string_value":"/menu","int_value":null,"double_value":null}}}},{{"key":"ga_session_id","value":{{"string_value":null,"int_value":{ts},"double_value":null}}}}],"collected_traffic_source":{{"manual_campaign_name":"{campaign}","manual_source":"google","manual_medium":"cpc"}},"ecommerce":null}}"#
    )
}

#[tokio::test]
async fn jsonl_files_land_once_with_bad_lines_quarantined() {
    let fx = Fixture::new(&[("ga4", GA4)]);
    let day1 = format!(
        "{}\n{{\"event_name\": oops\n{}\n",
        ga4_line("page_view", 1, "fall"),
        ga4_line("purchase", 2, "fall")
    );
    let day2 = format!("{}\n", ga4_line("page_view", 3, "winter"));
    fx.write("data/ga4/events_20261101.jsonl", day1.as_bytes());
    fx.write("data/ga4/events_20261102.jsonl", day2.as_bytes());

    let seen = Arc::new(Mutex::new(Vec::new()));
    let first = {
        // The CLI passes a `move` closure capturing its own state; that must type-check.
        let project = fx.project();
        let lake = fx.lake();
        let s = project.source("ga4").expect("source");
        let ctx = RunContext {
            run_id: "r1".into(),
            ingest_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"),
        };
        let name = "ga4.events".to_string();
        let sink = seen.clone();
        let progress = move |p: LandProgress| {
            let LandProgress::Bytes { done, total } = p;
            if let Ok(mut v) = sink.lock() {
                v.push((name.clone(), done, total));
            }
        };
        lake.land_table(&project, s, &s.config.tables[0], &ctx, &progress)
            .await
            .expect("first landing")
    };
    assert!(first.landed);
    assert_eq!((first.files_seen, first.files_skipped), (2, 0));
    assert_eq!(first.rows, 3);
    assert_eq!(first.malformed_rows, 1);
    assert_eq!(first.input_bytes, (day1.len() + day2.len()) as u64);
    let progress = seen.lock().expect("lock").clone();
    assert!(!progress.is_empty());
    assert!(
        progress
            .iter()
            .all(|(n, done, total)| n == "ga4.events" && done <= total)
    );

    // Quarantine: one JSON object per bad line, naming file and line.
    let qpath = first.malformed_path.clone().expect("quarantine path");
    assert!(
        qpath.ends_with("quarantine/ga4/events/r1/malformed.jsonl"),
        "{qpath}"
    );
    let q = std::fs::read_to_string(&qpath).expect("quarantine");
    let lines: Vec<serde_json::Value> = q
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["file"], "data/ga4/events_20261101.jsonl");
    assert_eq!(lines[0]["line"], 2);
    assert_eq!(lines[0]["raw"], "{\"event_name\": oops");
    assert!(lines[0]["error"].as_str().is_some_and(|e| !e.is_empty()));

    // Originals byte for byte.
    let landing = fx.root().join("lake/raw/ga4/events/2026-11-01/r1");
    assert_eq!(
        std::fs::read(landing.join("original/events_20261101.jsonl")).expect("original"),
        day1.as_bytes()
    );
    assert_eq!(
        std::fs::read(landing.join("original/events_20261102.jsonl")).expect("original"),
        day2.as_bytes()
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(landing.join("_manifest.json")).expect("manifest"))
            .expect("manifest json");
    assert_eq!(manifest["malformed_rows"], 1);
    assert_eq!(
        manifest["originals"][0]["source_path"],
        "data/ga4/events_20261101.jsonl"
    );
    assert_eq!(
        manifest["quarantine"],
        "quarantine/ga4/events/r1/malformed.jsonl"
    );

    // Nested records are Arrow lists of structs and structs.
    let lake = fx.lake();
    let rows = landed_rows(&lake, "ga4", "events").await;
    let schema = rows[0].schema();
    let DataType::List(item) = schema
        .field_with_name("event_params")
        .expect("event_params")
        .data_type()
    else {
        panic!("event_params is a list")
    };
    let DataType::Struct(param) = item.data_type() else {
        panic!("of structs")
    };
    assert!(matches!(
        param.find("value").expect("value").1.data_type(),
        DataType::Struct(_)
    ));
    let DataType::Struct(cts) = schema
        .field_with_name("collected_traffic_source")
        .expect("cts")
        .data_type()
    else {
        panic!("collected_traffic_source is a struct")
    };
    assert!(cts.find("manual_campaign_name").is_some());
    assert_eq!(
        schema
            .field_with_name("ecommerce")
            .expect("ecommerce")
            .data_type(),
        &DataType::Utf8
    );
    assert_eq!(
        schema
            .field_with_name("event_timestamp")
            .expect("ts")
            .data_type(),
        &DataType::Int64
    );
    assert_eq!(ids(&rows, "event_timestamp"), [1, 2, 3]);

    // Unchanged: nothing written.
    let before = fx.snapshot();
    let second = fx.land("ga4", "events", "r2").await.expect("second");
    assert!(!second.landed);
    assert_eq!((second.files_seen, second.files_skipped), (2, 2));
    assert_eq!(before, fx.snapshot());

    // A new file lands alone; one with a new field widens the schema.
    let day3 = r#"{"event_name":"scroll","event_timestamp":4,"user_pseudo_id":"u4","engagement_time_msec":1200}
"#;
    fx.write("data/ga4/events_20261103.jsonl", day3.as_bytes());
    let third = fx.land("ga4", "events", "r3").await.expect("third");
    assert!(third.landed);
    assert_eq!((third.files_seen, third.files_skipped), (3, 2));
    assert_eq!(third.rows, 1);
    assert_eq!(third.malformed_rows, 0);
    assert_eq!(third.malformed_path, None);
    let files = lake.landed_files("ga4", "events").await.expect("files");
    let runs: Vec<&str> = files.iter().map(|f| f.run_id.as_str()).collect();
    assert_eq!(runs, ["r1", "r3"]);
    let new = read_parquet(&files[1].url);
    let s = new[0].schema();
    // Earlier fields are kept (as nulls) so every landing can be read together.
    assert!(s.field_with_name("event_params").is_ok());
    assert!(s.field_with_name("engagement_time_msec").is_ok());
    assert_eq!(
        ids(
            &landed_rows(&lake, "ga4", "events").await,
            "event_timestamp"
        ),
        [1, 2, 3, 4]
    );
}

#[tokio::test]
async fn a_file_of_only_bad_lines_counts_as_landed() {
    let fx = Fixture::new(&[("ga4", GA4)]);
    fx.write("data/ga4/junk.jsonl", b"not json\n  \n");
    let first = fx.land("ga4", "events", "r1").await.expect("first");
    assert!(first.landed);
    assert_eq!(first.rows, 0);
    assert_eq!(first.malformed_rows, 2);
    let second = fx.land("ga4", "events", "r2").await.expect("second");
    assert!(!second.landed);
    assert_eq!(second.files_skipped, 1);
}

#[tokio::test]
async fn no_matching_files_names_the_glob() {
    let fx = Fixture::new(&[("ga4", GA4)]);
    let err = fx.land("ga4", "events", "r1").await.expect_err("no files");
    assert_eq!(err, "ga4.events: no files match data/ga4/*.jsonl");
}

#[tokio::test]
async fn a_landing_without_manifest_is_ignored() {
    let fx = Fixture::new(&[("app", APP)]);
    fx.sqlite(ORDERS);
    fx.land("app", "orders", "r1").await.expect("landing");
    // A crashed landing: parts copied, no manifest.
    let root = fx.root().join("lake/raw/app/orders/2026-11-01");
    std::fs::create_dir_all(root.join("r0-crashed")).expect("mkdir");
    std::fs::copy(
        root.join("r1/part-00000.parquet"),
        root.join("r0-crashed/part-00000.parquet"),
    )
    .expect("copy");
    let files = fx
        .lake()
        .landed_files("app", "orders")
        .await
        .expect("files");
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].run_id, "r1");
    assert!(
        files[0]
            .url
            .ends_with("/raw/app/orders/2026-11-01/r1/part-00000.parquet")
    );
}

#[tokio::test]
async fn csv_lands_good_rows_and_quarantines_bad_ones() {
    let fx = Fixture::new(&[(
        "shop",
        "connector = \"csv\"\n[[tables]]\nname = \"refunds\"\npath = \"data/refunds/*.csv\"\ndelimiter = \";\"\n",
    )]);
    fx.write(
        "data/refunds/r.csv",
        b"id;amount;at\n1;2.5;2026-11-01 10:00:00\n2;3\n3;4;2026-11-01 11:00:00\n",
    );
    let r = fx.land("shop", "refunds", "r1").await.expect("landing");
    assert_eq!((r.rows, r.malformed_rows), (2, 1));
    let rows = landed_rows(&fx.lake(), "shop", "refunds").await;
    assert_eq!(ids(&rows, "id"), [1, 3]);
    assert_eq!(rows[0].schema().field(1).data_type(), &DataType::Float64);
    let q = std::fs::read_to_string(r.malformed_path.expect("quarantine")).expect("read");
    let v: serde_json::Value = serde_json::from_str(q.trim()).expect("json");
    assert_eq!(v["file"], "data/refunds/r.csv");
    assert_eq!(v["line"], 3);
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend_from_slice(&13u32.to_be_bytes());
    v.extend_from_slice(b"IHDR");
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&[8, 2, 0, 0, 0, 0x90, 0x77, 0x53, 0xDE]);
    v
}

#[tokio::test]
async fn files_land_as_metadata_rows_with_originals() {
    let fx = Fixture::new(&[(
        "photos",
        "connector = \"files\"\n[[tables]]\nname = \"menu_photos\"\npath = \"data/photos/**/*\"\n",
    )]);
    let a = png(640, 480);
    let jpeg = vec![
        0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0x20, 0x00, 0x40, 3, 1, 0x22, 0, 2, 0x11,
        1, 3, 0x11, 1, 0xFF, 0xD9,
    ];
    fx.write("data/photos/a.png", &a);
    fx.write("data/photos/sub/b.jpg", &jpeg);
    fx.write("data/photos/sub/a.png", &png(1, 1));
    let r = fx
        .land("photos", "menu_photos", "r1")
        .await
        .expect("landing");
    assert_eq!((r.rows, r.files_seen), (3, 3));
    let rows = landed_rows(&fx.lake(), "photos", "menu_photos").await;
    let b = &rows[0];
    let col = |n: &str| {
        b.column_by_name(n)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .expect("text")
            .clone()
    };
    let paths = col("path");
    assert_eq!(paths.value(0), "data/photos/a.png");
    assert_eq!(paths.value(1), "data/photos/sub/a.png");
    assert_eq!(col("content_type").value(2), "image/jpeg");
    let width = b
        .column_by_name("width")
        .and_then(|c| c.as_any().downcast_ref::<arrow::array::Int32Array>())
        .expect("width")
        .clone();
    assert_eq!(width.value(0), 640);
    assert_eq!(width.value(2), 64);
    assert!(!width.is_null(1));
    let landing = fx
        .root()
        .join("lake/raw/photos/menu_photos/2026-11-01/r1/original");
    assert_eq!(std::fs::read(landing.join("a.png")).expect("original"), a);
    // Same file name in another folder: kept under a distinct name.
    assert!(landing.join("data__photos__sub__a.png").is_file());
    assert_eq!(
        std::fs::read(landing.join("b.jpg")).expect("original"),
        jpeg
    );
}

#[tokio::test]
async fn parquet_files_land_their_batches() {
    let fx = Fixture::new(&[(
        "ext",
        "connector = \"parquet\"\n[[tables]]\nname = \"rates\"\npath = \"data/rates/*.parquet\"\n",
    )]);
    let schema = Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("id", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![7, 8]))])
        .expect("batch");
    std::fs::create_dir_all(fx.root().join("data/rates")).expect("mkdir");
    let file = std::fs::File::create(fx.root().join("data/rates/x.parquet")).expect("create");
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    let r = fx.land("ext", "rates", "r1").await.expect("landing");
    assert_eq!(r.rows, 2);
    assert_eq!(
        ids(&landed_rows(&fx.lake(), "ext", "rates").await, "id"),
        [7, 8]
    );

    fx.write("data/rates/broken.parquet", b"PAR1 nope");
    let err = fx.land("ext", "rates", "r2").await.expect_err("corrupt");
    assert!(
        err.starts_with("ext.rates: data/rates/broken.parquet"),
        "{err}"
    );
    // The failed landing left no manifest behind.
    assert_eq!(
        fx.lake().manifests("ext", "rates").await.expect("m").len(),
        1
    );
    assert!(!fx.lake_files().iter().any(|f| f.contains("/r2/")));
}

#[test]
fn lake_urls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let abs = dir.path().join("elsewhere");
    let url = url::Url::from_file_path(&abs).expect("url").to_string();
    let lake = Lake::open(&url, Path::new("/nonexistent")).expect("file url");
    assert!(lake.root().ends_with("elsewhere"));
    let err = Lake::open("s3://bucket/lake", dir.path()).expect_err("s3");
    assert!(err.to_string().contains("s3://bucket/lake"));
}
