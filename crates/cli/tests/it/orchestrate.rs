//! The orchestrator through the CLI: the graph the example implies, a run recorded in the
//! metadata store, a failed model resumed after its fix without re-running what succeeded,
//! and a backfill of several logical dates.

use super::{ok, pulse, run_json, sql_json};
use serde_json::Value;

fn tiny_example(dir: &std::path::Path) -> String {
    super::example_project(
        dir,
        &["--days", "2", "--orders-per-day", "40", "--photos", "2"],
    )
}

fn task_ids(graph: &Value) -> Vec<String> {
    graph
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_string())
        .collect()
}

#[test]
fn graph_run_resume_and_backfill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = tiny_example(dir.path());

    let all: Value =
        serde_json::from_str(&ok(&["graph", "--project", &project, "--format", "json"]))
            .expect("graph json");
    let ids = task_ids(&all);
    for id in [
        "land:orders",
        "land:ga4",
        "validate:payments.payments",
        "model:stg_orders__orders",
        "model:fct_orders",
    ] {
        assert!(ids.contains(&id.to_string()), "{id} missing from {ids:?}");
    }
    // Every task comes after the tasks it depends on.
    for (i, t) in all.as_array().expect("tasks").iter().enumerate() {
        for u in t["upstream"].as_array().expect("upstream") {
            let j = ids.iter().position(|x| x == u.as_str().expect("id"));
            assert!(j.is_some_and(|j| j < i), "{u} after {}", t["id"]);
        }
    }
    let upstream_of_orders: Value = serde_json::from_str(&ok(&[
        "graph",
        "--project",
        &project,
        "--select",
        "+stg_payments__payments",
        "--format",
        "json",
    ]))
    .expect("graph json");
    let selected = task_ids(&upstream_of_orders);
    assert_eq!(
        selected,
        [
            "land:payments",
            "validate:payments.payments",
            "model:stg_payments__payments"
        ],
        "{selected:?}"
    );

    // A model that fails: the run fails, that model and only what reads it are not built.
    let sql = std::path::Path::new(&project).join("models/marts/fct_support_tickets.sql");
    let good = std::fs::read_to_string(&sql).expect("model sql");
    std::fs::write(
        &sql,
        "select no_such_column from {{ ref('stg_support__tickets') }}",
    )
    .expect("break model");
    let out = pulse(&["run", "--project", &project, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let failed: Value = serde_json::from_slice(&out.stdout).expect("summary json");
    let status = |summary: &Value, model: &str| -> String {
        summary["models"]
            .as_array()
            .expect("models")
            .iter()
            .find(|m| m["model"] == model)
            .and_then(|m| m["status"].as_str())
            .unwrap_or("absent")
            .to_string()
    };
    assert_eq!(
        status(&failed, "fct_support_tickets"),
        "failed",
        "{failed:#}"
    );
    assert_eq!(status(&failed, "fct_orders"), "built");
    let run_id = failed["run_id"].as_str().expect("run id").to_string();

    // Fixed and resumed: only the failed task runs; nothing lands again.
    std::fs::write(&sql, good).expect("fix model");
    let resumed = run_json(&project, &["--resume", &run_id]);
    assert_eq!(resumed["run_id"], Value::from(run_id.clone()));
    assert_eq!(resumed["succeeded"], Value::Bool(true), "{resumed:#}");
    assert_eq!(status(&resumed, "fct_support_tickets"), "built");
    assert_eq!(
        resumed["landings"].as_array().map(Vec::len),
        Some(0),
        "{resumed:#}"
    );
    let unknown = pulse(&["run", "--project", &project, "--resume", "no-such-run"]);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no run `no-such-run`"),
        "{unknown:?}"
    );

    // Three logical dates, at most two runs at once, each its own recorded run.
    let runs: Value = serde_json::from_str(&ok(&[
        "backfill",
        "--project",
        &project,
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-03",
        "--max-active-runs",
        "2",
        "--format",
        "json",
    ]))
    .expect("backfill json");
    let runs = runs.as_array().expect("runs");
    assert_eq!(runs.len(), 3);
    let mut dates: Vec<&str> = runs
        .iter()
        .map(|r| r["logical_date"].as_str().expect("date"))
        .collect();
    dates.sort_unstable();
    assert_eq!(dates, ["2026-11-01", "2026-11-02", "2026-11-03"]);
    assert!(runs.iter().all(|r| r["state"] == "succeeded"), "{runs:?}");
    assert!(runs.iter().all(|r| r["trigger"] == "backfill"), "{runs:?}");

    // Running a date again gives the same warehouse: its partition is replaced, not added to.
    let by_day = "select cast(order_date as varchar) as day, count(*) as orders, \
                  sum(total_cents) as total from fct_orders group by 1 order by 1";
    let before = sql_json(std::path::Path::new(&project), by_day);
    assert!(!before.is_empty());
    ok(&[
        "backfill",
        "--project",
        &project,
        "--from",
        "2026-11-02",
        "--to",
        "2026-11-02",
    ]);
    assert_eq!(sql_json(std::path::Path::new(&project), by_day), before);
}

#[test]
fn a_source_waits_for_its_ready_file_and_fails_when_it_never_comes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("sources")).expect("mkdir");
    std::fs::create_dir_all(root.join("models")).expect("mkdir");
    std::fs::create_dir_all(root.join("data")).expect("mkdir");
    std::fs::write(
        root.join("pulse.toml"),
        "name = \"sensor\"\n[orchestrator]\nretries = 0\n",
    )
    .expect("write");
    std::fs::write(
        root.join("sources/shop.toml"),
        "connector = \"csv\"\nwait_for = \"data/ready_{ds_nodash}.flag\"\nwait_timeout = \"4s\"\n\
         [[tables]]\nname = \"sales\"\npath = \"data/sales_*.csv\"\n",
    )
    .expect("write");
    std::fs::write(root.join("data/sales_1.csv"), "id,amount\n1,10\n2,20\n").expect("write");
    std::fs::write(
        root.join("models/total.sql"),
        "select sum(amount) as total from {{ source('shop', 'sales') }}",
    )
    .expect("write");
    let project = root.to_str().expect("utf8");

    let out = pulse(&[
        "run",
        "--project",
        project,
        "--date",
        "2026-11-05",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let summary: Value = serde_json::from_slice(&out.stdout).expect("json");
    let error = summary["landings"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("data/ready_20261105.flag") && error.contains("waited 4s"),
        "{summary:#}"
    );
    assert_eq!(
        summary["models"][0]["status"], "upstream_failed",
        "{summary:#}"
    );

    // The upstream finishes its export while the sensor waits.
    let flag = root.join("data/ready_20261105.flag");
    let writer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        std::fs::write(flag, "").expect("flag");
    });
    let done = run_json(project, &["--date", "2026-11-05"]);
    writer.join().expect("writer");
    assert_eq!(done["succeeded"], true, "{done:#}");
    assert_eq!(done["landings"][0]["rows"], 2, "{done:#}");
}
