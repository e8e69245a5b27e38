//! The food-delivery example on real servers, through the binary: generate into PostgreSQL and
//! MariaDB, run, let the applications change rows (`generate --live`), kill a run mid-extract,
//! run again, and hold every staging model to the servers' current state row by row.

use crate::ok;
use arrow::array::{Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::DataType;
use pulse_ingest::Collect;
use pulse_ingest::server::ReadRequest;
use pulse_project::ConnectionString;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

fn pg_url() -> String {
    std::env::var("PULSE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

fn my_url() -> String {
    std::env::var("PULSE_TEST_MYSQL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_string())
}

/// A server table's rows, key → column → value as text (timestamps as microseconds).
fn server_rows(
    postgres: bool,
    schema: &str,
    table: &str,
    key: &str,
) -> (Vec<String>, BTreeMap<String, BTreeMap<String, String>>) {
    let url = ConnectionString::resolve(&if postgres { pg_url() } else { my_url() }).expect("url");
    let req = ReadRequest {
        table: table.to_string(),
        parallel: 1,
        batch_rows: 65_536,
        ..ReadRequest::default()
    };
    let mut sink = Collect::default();
    let read = if postgres {
        pulse_ingest::postgres::PgSession::open(&url, schema, 1)
            .unwrap_or_else(|e| panic!("{e}: run `bash scripts/services.sh`"))
            .read(&req, &mut sink)
    } else {
        pulse_ingest::mysql::MySession::open(&url, Some(schema), 1)
            .unwrap_or_else(|e| panic!("{e}: run `bash scripts/services.sh`"))
            .read(&req, &mut sink)
    }
    .expect("read");
    let columns: Vec<String> = read
        .schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut rows = BTreeMap::new();
    for b in &sink.batches {
        for r in 0..b.num_rows() {
            let row: BTreeMap<String, String> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.clone(), text(b, i, r)))
                .collect();
            assert!(
                rows.insert(row[key].clone(), row).is_none(),
                "{table}: key twice"
            );
        }
    }
    (columns, rows)
}

fn text(b: &RecordBatch, i: usize, r: usize) -> String {
    let a = b.column(i);
    if a.is_null(r) {
        return "null".into();
    }
    match a.data_type() {
        DataType::Int64 => a
            .as_any()
            .downcast_ref::<Int64Array>()
            .map(|x| x.value(r).to_string()),
        DataType::Utf8 => a
            .as_any()
            .downcast_ref::<StringArray>()
            .map(|x| x.value(r).to_string()),
        DataType::Timestamp(..) => a
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .map(|x| x.value(r).to_string()),
        other => panic!("unexpected type {other}"),
    }
    .expect("array")
}

/// A model's rows through `pulse sql`, the same columns as text.
fn model_rows(
    project: &Path,
    model: &str,
    columns: &[String],
    key: &str,
    timestamps: &[&str],
) -> BTreeMap<String, BTreeMap<String, String>> {
    let list = columns
        .iter()
        .map(|c| {
            if timestamps.contains(&c.as_str()) {
                format!("cast({c} as bigint) as {c}")
            } else {
                c.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let out = ok(&[
        "sql",
        "--project",
        project.to_str().expect("utf8"),
        &format!("select {list} from {model}"),
        "--format",
        "json",
    ]);
    let v: Vec<Value> = serde_json::from_str(out.trim()).expect("json");
    let mut rows = BTreeMap::new();
    for obj in v {
        let row: BTreeMap<String, String> = columns
            .iter()
            .map(|c| {
                let t = match obj.get(c) {
                    None | Some(Value::Null) => "null".to_string(),
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                };
                (c.clone(), t)
            })
            .collect();
        assert!(
            rows.insert(row[key].clone(), row).is_none(),
            "{model}: duplicate key"
        );
    }
    rows
}

/// A run whose landings all succeed and whose staging models of the server tables build.
/// (Other models' results are other tests' business.)
/// Drops the test's schemas and database when the test ends, also when it fails.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let prefix = &self.0;
        if let Ok(mut c) = postgres::Client::connect(&pg_url(), postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP SCHEMA IF EXISTS \"{prefix}orders\" CASCADE; DROP SCHEMA IF EXISTS \"{prefix}payments\" CASCADE; DROP SCHEMA IF EXISTS \"{prefix}promotions\" CASCADE;"
            ));
        }
        if let Ok(opts) = mysql::Opts::from_url(&my_url())
            && let Ok(mut c) =
                mysql::Conn::new(mysql::OptsBuilder::from_opts(opts).prefer_socket(false))
        {
            use mysql::prelude::Queryable;
            let _ = c.query_drop(format!("DROP DATABASE IF EXISTS `{prefix}logistics`"));
        }
    }
}

fn run_ok(project: &str) {
    let out = crate::pulse(&["run", "--project", project, "--format", "json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("hunter2pw"), "{stdout}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("hunter2pw"));
    let v: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    for l in v["landings"].as_array().expect("landings") {
        assert_eq!(l["error"], Value::Null, "{l}");
    }
    for m in v["models"].as_array().expect("models") {
        let name = m["model"].as_str().unwrap_or_default();
        if name.starts_with("stg_orders")
            || name.starts_with("stg_payments")
            || name.starts_with("stg_logistics")
        {
            assert_eq!(m["error"], Value::Null, "{m}");
        }
    }
}

#[test]
fn servers_example_warehouse_equals_server_state() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("fd");
    let project = root.to_str().expect("utf8");
    let prefix = format!("cli{}_", std::process::id());
    let _cleanup = Cleanup(prefix.clone());
    ok(&["init", "--example", "food-delivery-servers", project]);
    // This test's own schemas and database, so tests can run side by side.
    for s in ["orders", "payments", "promotions", "logistics"] {
        let p = root.join(format!("sources/{s}.toml"));
        let text = std::fs::read_to_string(&p).expect("source");
        let text = text.replace(
            &format!("schema = \"{s}\""),
            &format!("schema = \"{prefix}{s}\""),
        );
        std::fs::write(&p, text).expect("write");
    }
    // The orders source connects with a password (the test server trusts local connections,
    // so any will do): it must not show anywhere.
    let orders = root.join("sources/orders.toml");
    let text = std::fs::read_to_string(&orders).expect("orders source");
    let with_password = pg_url().replacen("postgres@", "postgres:hunter2pw@", 1);
    let text = text.replace(
        "url = \"${PULSE_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}\"",
        &format!("url = \"{with_password}\""),
    );
    assert!(text.contains("hunter2pw"));
    std::fs::write(&orders, text).expect("write");
    let (pg, my) = (pg_url(), my_url());
    let servers = [
        "--postgres",
        &pg,
        "--mysql",
        &my,
        "--server-prefix",
        &prefix,
    ];
    let mut args = vec![
        "generate",
        "--project",
        project,
        "--days",
        "2",
        "--orders-per-day",
        "200",
        "--photos",
        "2",
    ];
    args.extend_from_slice(&servers);
    ok(&args);
    run_ok(project);

    let live = |changes: &str| {
        let mut args = vec![
            "generate",
            "--project",
            project,
            "--live",
            "--rate",
            "5000",
            "--changes",
            changes,
        ];
        args.extend_from_slice(&servers);
        ok(&args);
    };
    live("150");
    // A run killed (SIGKILL) in the middle of its extract.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pulse"))
        .args(["run", "--project", project, "--format", "json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let staging = root.join("lake/_staging");
    let started = Instant::now();
    while !staging.exists() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(staging.exists(), "the run never started landing");
    assert!(
        child.try_wait().expect("child").is_none(),
        "the run finished before it could be killed"
    );
    child.kill().expect("kill");
    let _ = child.wait();
    live("60");
    run_ok(project);

    for (postgres, schema, table, model, key, ts) in [
        (
            true,
            "orders",
            "orders",
            "stg_orders__orders",
            "order_id",
            &["placed_at", "promised_at", "updated_at"][..],
        ),
        (
            true,
            "orders",
            "order_items",
            "stg_orders__order_items",
            "order_item_id",
            &["updated_at"][..],
        ),
        (
            true,
            "payments",
            "payments",
            "stg_payments__payments",
            "payment_id",
            &["created_at", "updated_at"][..],
        ),
        (
            true,
            "payments",
            "refunds",
            "stg_payments__refunds",
            "refund_id",
            &["created_at", "updated_at"][..],
        ),
        (
            false,
            "logistics",
            "deliveries",
            "stg_logistics__deliveries",
            "delivery_id",
            &[
                "accepted_at",
                "ready_at",
                "picked_up_at",
                "delivered_at",
                "cancelled_at",
                "updated_at",
            ][..],
        ),
    ] {
        let (columns, server) = server_rows(postgres, &format!("{prefix}{schema}"), table, key);
        assert!(!server.is_empty(), "{table} is empty on the server");
        let warehouse = model_rows(&root, model, &columns, key, ts);
        let missing: Vec<_> = server
            .keys()
            .filter(|k| !warehouse.contains_key(*k))
            .take(5)
            .collect();
        let extra: Vec<_> = warehouse
            .keys()
            .filter(|k| !server.contains_key(*k))
            .take(5)
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{model}: missing {missing:?}, extra {extra:?}"
        );
        for (k, row) in &server {
            assert_eq!(&warehouse[k], row, "{model} {key}={k}");
        }
    }

    // Nothing in the lake or the warehouse carries the password.
    for (path, bytes) in crate::snapshot(&root) {
        if path.starts_with(root.join("lake")) || path.starts_with(root.join("warehouse")) {
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains("hunter2pw"), "{}", path.display());
        }
    }
}
