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
