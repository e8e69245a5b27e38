//! The metadata flow after a real run: the catalog knows each model's rows and schema, its
//! column lineage read off the plans reaches the source columns, search finds the one
//! definition of a metric, and OpenLineage events are written for every task. Then the
//! catalog's pages in a real headless Chromium: search results, a metric's definition page and a
//! mart's page with its profiled schema and lineage graph (screenshots kept for a person).

use super::serve::{Browser, wait_until};
use super::{example_project, ok, run_json};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&ok(args)).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

#[test]
fn a_run_keeps_the_catalog_current_and_lineage_reaches_the_source_columns() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = example_project(
        tmp.path(),
        &["--days", "2", "--orders-per-day", "40", "--photos", "2"],
    );
    let toml = Path::new(&project).join("pulse.toml");
    let mut text = std::fs::read_to_string(&toml).expect("pulse.toml");
    text.push_str("\n[catalog]\nopenlineage = \"lineage/events.jsonl\"\n");
    std::fs::write(&toml, text).expect("write pulse.toml");
    let run = run_json(&project, &[]);
    assert_eq!(run["succeeded"], true, "{run:#}");
    let run_id = run["run_id"].as_str().unwrap_or_default().to_string();

    // What the run built, as the catalog recorded it.
    let fct = json(&["catalog", "show", "--project", &project, "fct_orders"]);
    let rows = fct["stats"]["row_count"].as_u64().expect("row count");
    let sql_rows = super::sql_json(Path::new(&project), "select count(*) as n from fct_orders");
    assert_eq!(Some(rows), sql_rows[0]["n"].as_u64(), "{fct:#}");
    assert!(
        fct["stats"]["size_bytes"].as_u64().unwrap_or(0) > 0,
        "{fct:#}"
    );
    if !run_id.is_empty() {
        assert_eq!(fct["stats"]["last_run_id"], run_id.as_str());
    }

    // Column profiles, checked against the warehouse: keys are never null and (nearly, it is
    // an estimate) all distinct; a categorical column's top values are exact counts.
    let profile = |column: &str| -> Value {
        fct["profile"]["columns"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["column"] == column))
            .cloned()
            .unwrap_or_else(|| panic!("no profile of {column}: {fct:#}"))
    };
    let order_id = profile("order_id");
    assert_eq!(order_id["null_share"], 0.0);
    let distinct = order_id["distinct_count"].as_u64().unwrap_or(0) as f64;
    assert!(
        (distinct - rows as f64).abs() <= rows as f64 * 0.05,
        "{order_id:#} vs {rows}"
    );
    let city = profile("city");
    let top = &city["top_values"][0];
    let by_sql = super::sql_json(
        Path::new(&project),
        "select city, count(*) as n from fct_orders where city is not null \
         group by city order by n desc, city limit 1",
    );
    assert_eq!(top["value"], by_sql[0]["city"], "{city:#}");
    assert_eq!(top["count"], by_sql[0]["n"], "{city:#}");
    assert_eq!(fct["profile"]["rows"].as_u64(), Some(rows), "{fct:#}");

    // A source table is profiled as it landed, and its raw landing has the same profile.
    let source = json(&["catalog", "show", "--project", &project, "orders.orders"]);
    let status = source["profile"]["columns"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["column"] == "status"))
        .cloned()
        .unwrap_or_else(|| panic!("no profile of orders.orders status: {source:#}"));
    let by_sql = super::sql_json(
        Path::new(&project),
        "select status, count(*) as n from orders.orders__raw \
         group by status order by n desc, status limit 1",
    );
    assert_eq!(
        status["top_values"][0]["value"], by_sql[0]["status"],
        "{status:#}"
    );
    assert_eq!(
        status["top_values"][0]["count"], by_sql[0]["n"],
        "{status:#}"
    );
    let raw = json(&[
        "catalog",
        "show",
        "--project",
        &project,
        "raw:orders.orders",
    ]);
    assert_eq!(raw["profile"]["columns"], source["profile"]["columns"]);

    // Column lineage through the marts and staging views down to the landed columns.
    let graph = json(&[
        "lineage",
        "--project",
        &project,
        "delivery_time_p90",
        "--upstream",
        "--column",
        "delivery_time_p90",
        "--format",
        "json",
    ]);
    let nodes: Vec<String> = graph["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].as_str().expect("id").to_string())
        .collect();
    for wanted in [
        "fct_deliveries#end_to_end_minutes",
        "fct_orders#end_to_end_minutes",
        "orders.orders#placed_at",
        "logistics.deliveries#delivered_at",
    ] {
        assert!(
            nodes.iter().any(|n| n == wanted),
            "{wanted} not in {nodes:?}"
        );
    }

    // Search finds the one definition of a metric first.
    let hits = json(&[
        "catalog",
        "search",
        "--project",
        &project,
        "gross merchandise value",
        "--format",
        "json",
    ]);
    assert_eq!(hits[0]["id"], "metric:gmv", "{hits:#}");

    // One START and one COMPLETE per task, each a valid-looking OpenLineage run event.
    let events = std::fs::read_to_string(Path::new(&project).join("lineage/events.jsonl"))
        .expect("openlineage events");
    let events: Vec<Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).expect("event json"))
        .collect();
    let of = |kind: &str| events.iter().filter(|e| e["eventType"] == kind).count();
    assert!(of("START") >= 10, "{}", events.len());
    assert_eq!(of("START"), of("COMPLETE") + of("FAIL"));
    let model = events
        .iter()
        .find(|e| {
            e["eventType"] == "COMPLETE"
                && e["job"]["name"]
                    .as_str()
                    .is_some_and(|n| n.ends_with("fct_orders"))
        })
        .expect("fct_orders COMPLETE");
    assert!(
        model["outputs"][0]["facets"]["schema"]["fields"]
            .as_array()
            .is_some_and(|f| !f.is_empty()),
        "{model:#}"
    );

    // fct_orders is incremental: a run for its last day rebuilds that partition only, and the
    // catalog still counts every row of the table.
    let last = super::sql_json(
        Path::new(&project),
        "select cast(max(order_date) as varchar) as d from fct_orders",
    );
    let last = last[0]["d"].as_str().expect("last order date").to_string();
    let again = run_json(&project, &["--date", &last]);
    assert_eq!(again["succeeded"], true, "{again:#}");
    let rebuilt = again["models"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["model"] == "fct_orders"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(rebuilt["partition"], last.as_str(), "{again:#}");
    assert!(rebuilt["rows"].as_u64() < Some(rows), "{rebuilt:#}");
    let fct = json(&["catalog", "show", "--project", &project, "fct_orders"]);
    let sql_rows = super::sql_json(Path::new(&project), "select count(*) as n from fct_orders");
    assert_eq!(
        fct["stats"]["row_count"].as_u64(),
        sql_rows[0]["n"].as_u64(),
        "{fct:#}"
    );

    catalog_pages_in_a_browser(&project);
}

fn catalog_pages_in_a_browser(project: &str) {
    let (_server, port) = super::serve::start_serve(project);
    let addr = format!("127.0.0.1:{port}");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("catalog");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let mut browser = Browser::start();
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1440, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
    );
    let screenshot = |browser: &mut Browser, name: &str| {
        let shot = browser.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        );
        let png = super::dashboards::base64_decode(shot["data"].as_str().expect("data"));
        assert!(png.starts_with(b"\x89PNG"), "{name}");
        std::fs::write(shots.join(format!("{name}.png")), png).expect("write screenshot");
    };

    // The search box on another page leads to ranked results.
    browser.open(&format!("http://{addr}/runs"));
    browser.eval(
        "document.getElementById('site-search-q').value = 'gross merchandise value';
         document.getElementById('site-search').submit()",
    );
    wait_until("the search results", Duration::from_secs(20), || {
        let hits = browser.eval(
            "document.readyState === 'complete' && location.pathname === '/catalog/search'
               ? Array.from(document.querySelectorAll('#hits li[data-hit]')).map(h => h.dataset.hit)
               : null",
        );
        hits.as_array().filter(|h| !h.is_empty()).cloned()
    });
    let first = browser.eval("document.querySelector('#hits li[data-hit]').dataset.hit");
    assert_eq!(first, "metric:gmv");
    screenshot(&mut browser, "search");

    // The metric's one definition page: what it measures, the SQL, the dashboards.
    browser.eval("document.querySelector('#hits li[data-hit] a.hit-title').click()");
    let metric = wait_until("the metric page", Duration::from_secs(20), || {
        let v = browser.eval(
            "document.readyState === 'complete' && document.getElementById('metric-definition')
               ? ({metric: document.getElementById('metric-definition').dataset.metric,
                   sql: document.getElementById('metric-sql').textContent,
                   dashboards: Array.from(document.querySelectorAll('#shown-on li[data-dashboard]')).map(d => d.dataset.dashboard),
                   nodes: Array.from(document.querySelectorAll('#lineage-graph [data-node]')).map(n => n.dataset.node)})
               : null",
        );
        (!v.is_null()).then_some(v)
    });
    assert_eq!(metric["metric"], "gmv", "{metric:#}");
    assert!(
        metric["sql"]
            .as_str()
            .is_some_and(|s| s.contains("fct_orders")),
        "{metric:#}"
    );
    assert!(
        metric["dashboards"]
            .as_array()
            .is_some_and(|d| d.contains(&json!("executive"))),
        "{metric:#}"
    );
    assert!(
        metric["nodes"]
            .as_array()
            .is_some_and(|n| n.contains(&json!("fct_orders"))),
        "{metric:#}"
    );
    screenshot(&mut browser, "metric-gmv");

    // A mart: its schema with profiles, and its lineage drawn back to the source tables.
    browser.open(&format!("http://{addr}/catalog/datasets/fct_orders"));
    let page = browser.eval(
        "({columns: Array.from(document.querySelectorAll('#schema-table tr[data-column]')).map(r => r.dataset.column),
           headers: Array.from(document.querySelectorAll('#schema-table th')).map(h => h.textContent),
           cityTop: document.querySelector('#schema-table tr[data-column=\"city\"] td.top').textContent,
           nodes: Array.from(document.querySelectorAll('#lineage-graph [data-node]')).map(n => n.dataset.node),
           edges: document.querySelectorAll('#lineage-graph path.edge').length})",
    );
    let columns = page["columns"].as_array().expect("columns");
    assert!(columns.contains(&json!("order_id")), "{page:#}");
    assert!(
        page["headers"]
            .as_array()
            .is_some_and(|h| h.contains(&json!("Distinct")) && h.contains(&json!("Top values"))),
        "{page:#}"
    );
    assert!(
        page["cityTop"].as_str().is_some_and(|t| t.contains('(')),
        "{page:#}"
    );
    let nodes = page["nodes"].as_array().expect("nodes");
    for wanted in ["fct_orders", "stg_orders__orders", "orders.orders"] {
        assert!(nodes.contains(&json!(wanted)), "{wanted}: {page:#}");
    }
    assert!(page["edges"].as_u64().unwrap_or(0) >= 3, "{page:#}");
    screenshot(&mut browser, "dataset-fct_orders");
}
