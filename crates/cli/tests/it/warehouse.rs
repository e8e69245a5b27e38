//! PostgreSQL as the warehouse: the example, generated twice with the same seed, runs once on
//! the embedded warehouse and once publishing to the PostgreSQL at 127.0.0.1:5432; every tile
//! of every dashboard then has the same figures on both, the published tables hold exactly the
//! engine's rows, and a second run (an incremental partition replaced) leaves no duplicates.

use super::serve::{http_get, http_post, start_serve};
use super::{example_project, run_json, sql_json};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const DASHBOARDS: [&str; 4] = ["executive", "marketing", "logistics", "support"];

fn psql(sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "test",
            "-Atc",
            sql,
        ])
        .output()
        .expect("psql (scripts/test.sh installs postgresql-client)");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The test's schema, dropped at the end whatever happens.
struct Schema(String);

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc"])
            .arg(format!("drop schema if exists {} cascade", self.0))
            .output();
    }
}

fn api(port: u16, path: &str) -> Value {
    let body = http_get(port, path).unwrap_or_else(|| panic!("GET {path}"));
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

fn query(port: u16, request: &Value) -> Value {
    let body = http_post(port, "/api/metrics/query", &request.to_string())
        .unwrap_or_else(|| panic!("POST {request}"));
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{request}: {e}: {body}"))
}

/// Equal, numbers to a millionth: DataFusion's percentile_cont and PostgreSQL's differ in the
/// eighth digit (46.03299967 against 46.033), far below what a dashboard shows.
fn same_cell(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1.0),
        _ => a == b,
    }
}

#[test]
fn the_example_on_a_postgresql_warehouse_shows_the_same_figures() {
    let args = ["--days", "5", "--orders-per-day", "40", "--photos", "2"];
    let dir = tempfile::tempdir().expect("tempdir");
    let embedded = example_project(&dir.path().join("embedded"), &args);
    let on_pg = example_project(&dir.path().join("postgres"), &args);
    let schema = Schema(format!(
        "pulse_wh_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    ));
    let toml = Path::new(&on_pg).join("pulse.toml");
    let text = std::fs::read_to_string(&toml).expect("pulse.toml");
    let text = text.replace(
        "[warehouse]\n# Delta tables of the models.\nurl = \"warehouse\"",
        &format!(
            "[warehouse]\nurl = \"postgres://postgres@127.0.0.1:5432/test\"\nschema = \"{}\"",
            schema.0
        ),
    );
    assert!(
        text.contains(&schema.0),
        "the example's [warehouse] changed"
    );
    std::fs::write(&toml, text).expect("write pulse.toml");

    assert_eq!(run_json(&embedded, &[])["succeeded"], true);
    let run = run_json(&on_pg, &[]);
    assert_eq!(run["succeeded"], true, "{run:#}");

    // Every stored model is a table of the schema with the engine's rows; views are not.
    for model in [
        "fct_orders",
        "fct_deliveries",
        "fct_payments",
        "fct_support_tickets",
    ] {
        let engine = sql_json(
            Path::new(&on_pg),
            &format!("select count(*) as n from {model}"),
        );
        let published = psql(&format!("select count(*) from {}.{model}", schema.0));
        assert_eq!(
            Some(published.parse::<u64>().expect("count")),
            engine[0]["n"].as_u64(),
            "{model}"
        );
    }
    assert_eq!(
        psql(&format!(
            "select count(*) from information_schema.tables where table_schema = '{}' \
             and table_name = 'stg_orders__orders'",
            schema.0
        )),
        "0"
    );

    let (embedded_server, embedded_port) = start_serve(&embedded);
    let (pg_server, pg_port) = start_serve(&on_pg);
    let mut compared = 0;
    for name in DASHBOARDS {
        let view = api(embedded_port, &format!("/api/dashboards/{name}"));
        let tiles = view["tiles"].as_array().expect("tiles");
        assert_eq!(
            api(pg_port, &format!("/api/dashboards/{name}"))["tiles"]
                .as_array()
                .map(Vec::len),
            Some(tiles.len()),
            "{name}"
        );
        for tile in tiles {
            let want = query(embedded_port, &tile["request"]);
            let got = query(pg_port, &tile["request"]);
            let id = tile["id"].as_str().unwrap_or("?");
            assert!(got.get("error").is_none(), "{name}/{id}: {got}");
            assert_eq!(got["columns"], want["columns"], "{name}/{id}");
            let (w, g) = (
                want["rows"].as_array().expect("rows"),
                got["rows"].as_array().expect("rows"),
            );
            assert_eq!(g.len(), w.len(), "{name}/{id}: {got} vs {want}");
            assert!(!w.is_empty(), "{name}/{id} has no rows to compare");
            for (rw, rg) in w.iter().zip(g) {
                let (rw, rg) = (rw.as_array().expect("row"), rg.as_array().expect("row"));
                assert!(
                    rw.len() == rg.len() && rw.iter().zip(rg).all(|(a, b)| same_cell(a, b)),
                    "{name}/{id}: {rg:?} on PostgreSQL, {rw:?} embedded"
                );
            }
            compared += 1;
        }
    }
    assert!(compared >= 20, "only {compared} tiles compared");
    // Stopped first: their workers would otherwise take the next run's tasks, and the run's
    // summary would not say which partition they built.
    drop((embedded_server, pg_server));

    // A run for the last day replaces that partition of fct_orders in place: no duplicates.
    let last = sql_json(
        Path::new(&on_pg),
        "select cast(max(order_date) as varchar) as d from fct_orders",
    );
    let last = last[0]["d"].as_str().expect("last order date").to_string();
    let again = run_json(&on_pg, &["--date", &last]);
    assert_eq!(again["succeeded"], true, "{again:#}");
    assert!(
        again["models"]
            .as_array()
            .is_some_and(|ms| ms.iter().any(|m| m["model"] == "fct_orders"
                && m["partition"] == last.as_str()
                && m["status"] == "built")),
        "{again:#}"
    );
    let engine = sql_json(Path::new(&on_pg), "select count(*) as n from fct_orders");
    let published = psql(&format!(
        "select count(*) from (select distinct order_id from {}.fct_orders) o",
        schema.0
    ));
    assert_eq!(
        psql(&format!("select count(*) from {}.fct_orders", schema.0)),
        published,
        "duplicate orders"
    );
    assert_eq!(
        Some(published.parse::<u64>().expect("count")),
        engine[0]["n"].as_u64()
    );
}
