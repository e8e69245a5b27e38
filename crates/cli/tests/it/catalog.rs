//! The metadata flow after a real run: the catalog knows each model's rows and schema, its
//! column lineage read off the plans reaches the source columns, search finds the one
//! definition of a metric, and OpenLineage events are written for every task.

use super::{example_project, ok, run_json};
use serde_json::Value;
use std::path::Path;

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
}
