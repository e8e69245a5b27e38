//! Two workers sharing one store split a run of 200 tasks; none runs twice. PostgreSQL is the
//! setup for several machines; SQLite is checked too because two processes on one machine
//! (`pulse run` beside `pulse serve`) share its file the same way.

use crate::common::{Backend, ScriptedRunner, Shared, fast_options, open, spec};
use chrono::NaiveDate;
use pulse_orchestrate::{Executor, NewRun, RunState, Store, TaskSpec, TaskState};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_postgres_run_each_of_200_tasks_once() {
    two_workers(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_sqlite_file_run_each_of_200_tasks_once() {
    two_workers(Backend::Sqlite).await;
}

async fn two_workers(backend: Backend) {
    let t = open(backend).await;
    // 50 chains of four: plenty of parallel work, and dependencies that cross workers.
    let mut tasks: Vec<TaskSpec> = Vec::new();
    for c in 0..50 {
        for step in 0..4 {
            let id = format!("c{c}s{step}");
            let up = format!("c{c}s{}", step.max(1) - 1);
            if step == 0 {
                tasks.push(spec(&id, &[]));
            } else {
                tasks.push(spec(&id, &[up.as_str()]));
            }
        }
    }
    assert_eq!(tasks.len(), 200);
    let run = t
        .store
        .create_run(NewRun {
            logical_date: NaiveDate::from_ymd_opt(2026, 6, 1).expect("date"),
            trigger: "manual".into(),
            schedule: None,
            tasks,
            max_attempts: 1,
        })
        .await
        .expect("run")
        .run_id;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut handles = Vec::new();
    let mut runners = Vec::new();
    for w in ["worker-a", "worker-b"] {
        // Each worker has its own connection, like two `pulse serve --worker` processes.
        let store = Store::open(&t.url, std::path::Path::new("."))
            .await
            .expect("open");
        let runner = Arc::new(ScriptedRunner::new(Duration::from_millis(15)));
        runners.push((w, runner.clone()));
        let ex = Executor::new(store, Arc::new(Shared(runner)), fast_options(w));
        let rx = stop_rx.clone();
        handles.push(tokio::spawn(async move { ex.work(rx).await }));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let rec = t.store.run(&run).await.expect("run").expect("run");
        if rec.state.is_terminal() {
            assert_eq!(rec.state, RunState::Succeeded);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the workers did not finish the run"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_tx.send(true).expect("stop");
    for h in handles {
        h.await.expect("join").expect("worker loop");
    }
    let mut runs_of: HashMap<String, Vec<&str>> = HashMap::new();
    for (w, r) in &runners {
        for e in r.events() {
            runs_of.entry(e.task_id).or_default().push(w);
        }
    }
    assert_eq!(runs_of.len(), 200, "every task ran");
    let twice: Vec<_> = runs_of.iter().filter(|(_, ws)| ws.len() != 1).collect();
    assert!(twice.is_empty(), "tasks run more than once: {twice:?}");
    for (w, r) in &runners {
        assert!(
            r.events().len() >= 20,
            "{w} did only {} tasks",
            r.events().len()
        );
    }
    let tasks = t.store.tasks(&run).await.expect("tasks");
    assert!(
        tasks
            .iter()
            .all(|t| t.state == TaskState::Succeeded && t.attempt == 1)
    );
}
