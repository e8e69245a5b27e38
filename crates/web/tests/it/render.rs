//! The pages as HTML, from fixed data and a fixed clock, held by snapshots.

use pulse_web::render::{self, GridView, RunView, TaskLogView};

use crate::fixtures::{self, at, date};

#[test]
fn grid_page() {
    let graph = fixtures::graph();
    let (runs, tasks) = fixtures::runs_and_tasks(&graph);
    let html = render::runs_grid(&GridView {
        project: "food-delivery",
        graph: &graph,
        runs: &runs,
        tasks: &tasks,
        total_runs: 60,
        older: Some("run-1"),
        paged: false,
        notice: None,
        today: date(5),
        now: at(8, 1, 30),
    })
    .into_string();
    // Oldest run on the left, newest on the right.
    let first = html.find(r#"data-run="run-1""#).expect("run-1 is shown");
    let last = html.find(r#"data-run="run-3""#).expect("run-3 is shown");
    assert!(first < last);
    assert!(
        html.contains(r#"data-task="land.payments.payments" data-run="run-2" data-state="failed""#)
    );
    assert!(html.contains(r#"id="trigger-run""#));
    assert!(html.contains(r#"href="/runs?before=run-1""#));
    insta::assert_snapshot!(pretty(&html));
}

#[test]
fn empty_grid_invites_a_first_run() {
    let graph = fixtures::graph();
    let html = render::runs_grid(&GridView {
        project: "food-delivery",
        graph: &graph,
        runs: &[],
        tasks: &[],
        total_runs: 0,
        older: None,
        paged: false,
        notice: None,
        today: date(5),
        now: at(8, 0, 0),
    })
    .into_string();
    assert!(html.contains("No runs yet"));
    assert!(html.contains(r#"value="2026-11-05""#));
    assert!(!html.contains("Older runs"));
}

#[test]
fn run_page() {
    let graph = fixtures::graph();
    let (runs, tasks) = fixtures::runs_and_tasks(&graph);
    let mut run = runs[1].clone();
    run.sla_missed = true;
    let run_tasks: Vec<_> = tasks
        .iter()
        .filter(|t| t.run_id == "run-2")
        .cloned()
        .collect();
    let html = render::run_page(&RunView {
        project: "food-delivery",
        graph: &graph,
        run: &run,
        tasks: &run_tasks,
        notice: Some("land.payments.payments is queued again."),
        now: at(9, 0, 0),
    })
    .into_string();
    assert!(html.contains("4 m 30 s"));
    assert!(html.contains("missed"));
    assert!(html.contains(r#"action="/runs/run-2/tasks/land.payments.payments/retry""#));
    insta::assert_snapshot!(pretty(&html));
}

#[test]
fn task_log_page_escapes_messages() {
    let graph = fixtures::graph();
    let (runs, tasks) = fixtures::runs_and_tasks(&graph);
    let task = tasks
        .iter()
        .find(|t| t.run_id == "run-2" && t.task_id == "land.payments.payments")
        .expect("fixture task");
    let html = render::task_log_page(&TaskLogView {
        project: "food-delivery",
        run: &runs[1],
        task,
        lines: &fixtures::log_lines(),
        now: at(9, 0, 0),
    })
    .into_string();
    assert!(html.contains("&lt;b&gt;not bold&lt;/b&gt; &amp; escaped"));
    assert!(html.contains("Attempt 2"));
    insta::assert_snapshot!(pretty(&html));
}

/// One tag per line, so a snapshot diff points at the element that changed.
fn pretty(html: &str) -> String {
    html.replace("><", ">\n<")
}

#[test]
fn operations_page() {
    let incident = |id: i64, key: &str, state: &str, severity: &str| {
        serde_json::json!({
            "id": id, "key": key, "rule": key.split(':').next(), "kind": key.split(':').next(),
            "subject": key.split_once(':').map(|(_, s)| s), "node": null, "severity": severity,
            "owner": "orders-team@example.com", "summary": format!("{key} fired"),
            "involved": [], "details": {}, "state": state,
            "opened_at": "2026-11-05T02:10:00Z", "last_seen_at": "2026-11-05T08:00:00Z",
            "resolved_at": if state == "resolved" { serde_json::json!("2026-11-05T07:00:00Z") } else { serde_json::Value::Null },
            "inhibited_by": null, "silenced_by": null, "notified": true, "resolve_notified": state == "resolved",
            "held_back": if id == 7 { serde_json::json!([{"id": 8, "key": "freshness:fct_orders", "summary": "stale"}]) } else { serde_json::json!([]) }
        })
    };
    let overview: pulse_monitor::Overview = serde_json::from_value(serde_json::json!({
        "generated_at": "2026-11-05T08:01:30Z",
        "runs": [
            {"run_id": "run-3", "state": "failed", "schedule": "daily", "trigger": "schedule",
             "logical_date": "2026-11-04", "created_at": "2026-11-05T01:00:00Z",
             "started_at": "2026-11-05T01:00:05Z", "ended_at": "2026-11-05T01:20:00Z",
             "elapsed_seconds": 1195, "tasks": {"failed": 1, "succeeded": 6, "upstream_failed": 3},
             "sla_missed": false},
            {"run_id": "run-2", "state": "succeeded", "schedule": "daily", "trigger": "schedule",
             "logical_date": "2026-11-03", "created_at": "2026-11-04T01:00:00Z",
             "started_at": "2026-11-04T01:00:05Z", "ended_at": "2026-11-04T01:18:00Z",
             "elapsed_seconds": 1075, "tasks": {"succeeded": 10}, "sla_missed": false}
        ],
        "sla": [{"schedule": "daily", "sla_seconds": 21600, "run_id": "run-3", "run_state": "failed",
                 "deadline": "2026-11-05T07:00:05Z", "elapsed_seconds": 25000, "status": "missed"}],
        "freshness": [
            {"dataset": "fct_orders", "last_updated": "2026-11-03T01:18:00Z", "lag_seconds": 197000,
             "max_age_seconds": 108000, "status": "stale"},
            {"dataset": "dim_customers", "last_updated": "2026-11-05T01:15:00Z", "lag_seconds": 24000,
             "max_age_seconds": 108000, "status": "fresh"},
            {"dataset": "stg_orders", "last_updated": null, "lag_seconds": null,
             "max_age_seconds": null, "status": "unknown"}
        ],
        "open_alerts": [incident(7, "task_failed:land:orders", "open", "critical")],
        "trends": [
            {"day": "2026-11-04", "runs": 1, "failed_runs": 0, "tasks_finished": 10, "tasks_failed": 0,
             "error_rate": 0.0, "median_run_seconds": 1075.0, "max_run_seconds": 1075, "rows": 1000},
            {"day": "2026-11-05", "runs": 1, "failed_runs": 1, "tasks_finished": 7, "tasks_failed": 1,
             "error_rate": 0.142857, "median_run_seconds": 1195.0, "max_run_seconds": 1195, "rows": 800}
        ],
        "cost": [{"month": "2026-11", "currency": "USD", "budget": 50.0, "price_per_core_hour": 0.048,
                  "cores_per_task": 1.0, "core_hours": 1.2, "spent": 0.0576, "projected": 0.4,
                  "projected_core_hours": 8.3, "month_start": "2026-11-01T00:00:00Z",
                  "month_end": "2026-12-01T00:00:00Z"}]
    }))
    .expect("an overview");
    let recent: Vec<pulse_monitor::Incident> = serde_json::from_value(serde_json::json!([
        incident(7, "task_failed:land:orders", "open", "critical"),
        incident(5, "volume:land:payments", "resolved", "warning")
    ]))
    .expect("incidents");
    let html =
        pulse_web::operations::operations_page("food-delivery", &overview, &recent).into_string();
    assert!(html.contains(r#"data-health="bad""#));
    // Stale datasets are listed first, outside the folded list of the others.
    let stale = html.find(r#"id="stale-datasets""#).expect("stale list");
    let rest = html.find(r#"id="fresh-datasets""#).expect("folded list");
    assert!(stale < rest);
    insta::assert_snapshot!(html);
}
