//! The store's operations, each on SQLite and on PostgreSQL.

use crate::common::{BACKENDS, Backend, open, spec};
use chrono::{NaiveDate, Utc};
use pulse_orchestrate::store::Outcome;
use pulse_orchestrate::{NewRun, Page, RunState, Store, TaskSpec, TaskState};
use std::time::Duration;

fn date(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, d).expect("date")
}

fn diamond() -> Vec<TaskSpec> {
    vec![
        spec("a", &[]),
        spec("b", &["a"]),
        spec("c", &["a"]),
        spec("d", &["b", "c"]),
        spec("e", &["d"]),
        spec("x", &[]),
    ]
}

async fn new_run(store: &Store, tasks: Vec<TaskSpec>, max_attempts: u32) -> String {
    store
        .create_run(NewRun {
            logical_date: date(5),
            trigger: "manual".into(),
            schedule: None,
            tasks,
            max_attempts,
        })
        .await
        .expect("create run")
        .run_id
}

async fn states(store: &Store, run_id: &str) -> Vec<(String, TaskState)> {
    store
        .tasks(run_id)
        .await
        .expect("tasks")
        .into_iter()
        .map(|t| (t.task_id, t.state))
        .collect()
}

fn state_of(s: &[(String, TaskState)], id: &str) -> TaskState {
    s.iter()
        .find(|(t, _)| t == id)
        .map(|(_, st)| *st)
        .unwrap_or_else(|| panic!("no task {id}"))
}

async fn claim_ids(store: &Store, run_id: &str, worker: &str) -> Vec<String> {
    let mut ids: Vec<String> = store
        .claim_tasks(Some(run_id), worker, 100, Duration::from_secs(60))
        .await
        .expect("claim")
        .into_iter()
        .map(|t| t.task_id)
        .collect();
    ids.sort();
    ids
}

async fn succeed(store: &Store, run_id: &str, task: &str, worker: &str, attempt: u32) {
    let st = store
        .finish_task(
            run_id,
            task,
            worker,
            attempt,
            Outcome::Succeeded {
                rows: 1,
                bytes: 2,
                skipped: false,
            },
        )
        .await
        .expect("finish");
    assert_eq!(st, Some(TaskState::Succeeded));
}

async fn fail(
    store: &Store,
    run_id: &str,
    task: &str,
    worker: &str,
    attempt: u32,
) -> Option<TaskState> {
    store
        .finish_task(
            run_id,
            task,
            worker,
            attempt,
            Outcome::Failed {
                error: "boom".into(),
                retry_at: Utc::now(),
            },
        )
        .await
        .expect("finish")
}

#[tokio::test]
async fn runs_keep_their_graph_and_page_newest_first() {
    for backend in BACKENDS {
        let t = open(backend).await;
        let s = &t.store;
        let mut ids = Vec::new();
        for _ in 0..7 {
            ids.push(new_run(s, diamond(), 3).await);
        }
        assert_eq!(s.count_runs().await.expect("count"), 7, "{backend:?}");
        let run = s.run(&ids[0]).await.expect("run").expect("exists");
        assert_eq!(run.state, RunState::Queued);
        assert_eq!(run.trigger, "manual");
        assert_eq!(run.logical_date, date(5));
        assert!(s.run("nope").await.expect("run").is_none());
        let tasks = s.tasks(&ids[0]).await.expect("tasks");
        assert_eq!(
            tasks.iter().map(|t| t.task_id.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c", "d", "e", "x"]
        );
        assert_eq!(tasks[3].upstream, ["b", "c"]);
        assert!(
            tasks
                .iter()
                .all(|t| t.state == TaskState::Queued && t.attempt == 0 && t.max_attempts == 3)
        );
        // Pages of 3, newest first, keyed by the last id of the previous page.
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = s
                .list_runs(&Page {
                    limit: 3,
                    before: before.clone(),
                })
                .await
                .expect("page");
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 3);
            before = page.last().map(|r| r.run_id.clone());
            seen.extend(page.into_iter().map(|r| r.run_id));
        }
        let mut newest_first = ids.clone();
        newest_first.reverse();
        assert_eq!(seen, newest_first, "{backend:?}");
        let grid = s.tasks_for_runs(&ids[..2]).await.expect("grid");
        assert_eq!(grid.len(), 12);
    }
}

#[tokio::test]
async fn claims_follow_dependencies_and_logs_keep_order() {
    for backend in BACKENDS {
        let t = open(backend).await;
        let s = &t.store;
        let run = new_run(s, diamond(), 1).await;
        assert_eq!(claim_ids(s, &run, "w").await, ["a", "x"], "{backend:?}");
        assert!(
            claim_ids(s, &run, "w").await.is_empty(),
            "nothing else is ready"
        );
        assert_eq!(
            s.run(&run).await.expect("run").expect("run").state,
            RunState::Running
        );
        succeed(s, &run, "a", "w", 1).await;
        assert_eq!(claim_ids(s, &run, "w").await, ["b", "c"]);
        succeed(s, &run, "b", "w", 1).await;
        assert!(claim_ids(s, &run, "w").await.is_empty(), "d waits for c");
        // A finish from a worker that does not hold the task is ignored.
        let stale = s
            .finish_task(
                &run,
                "c",
                "other",
                1,
                Outcome::Succeeded {
                    rows: 0,
                    bytes: 0,
                    skipped: false,
                },
            )
            .await
            .expect("finish");
        assert_eq!(stale, None);
        succeed(s, &run, "c", "w", 1).await;
        assert_eq!(claim_ids(s, &run, "w").await, ["d"]);
        for i in 0..5 {
            s.append_log(&run, "d", 1, "info", &format!("line {i}"))
                .await
                .expect("log");
        }
        s.append_log_nowait(&run, "d", 1, "warn", "line 5");
        let log = s.task_log(&run, "d").await.expect("log");
        let lines: Vec<&str> = log.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(
            lines,
            ["line 0", "line 1", "line 2", "line 3", "line 4", "line 5"]
        );
        assert_eq!(log[5].level, "warn");
        let d = s
            .tasks(&run)
            .await
            .expect("tasks")
            .into_iter()
            .find(|t| t.task_id == "d")
            .expect("d");
        assert_eq!(
            (d.state, d.attempt, d.worker.as_deref()),
            (TaskState::Running, 1, Some("w"))
        );
        assert!(d.lease_until.is_some_and(|l| l > Utc::now()));
    }
}

#[tokio::test]
async fn failures_retry_then_block_everything_below() {
    for backend in BACKENDS {
        let t = open(backend).await;
        let s = &t.store;
        let run = new_run(s, diamond(), 2).await;
        claim_ids(s, &run, "w").await;
        assert_eq!(
            fail(s, &run, "a", "w", 1).await,
            Some(TaskState::UpForRetry),
            "{backend:?}"
        );
        assert_eq!(claim_ids(s, &run, "w").await, ["a"], "due at once");
        assert_eq!(fail(s, &run, "a", "w", 2).await, Some(TaskState::Failed));
        let st = states(s, &run).await;
        for id in ["b", "c", "d", "e"] {
            assert_eq!(
                state_of(&st, id),
                TaskState::UpstreamFailed,
                "{id} {backend:?}"
            );
        }
        assert_eq!(state_of(&st, "x"), TaskState::Running);
        succeed(s, &run, "x", "w", 1).await;
        let rec = s.finalize_run(&run).await.expect("finalize");
        assert_eq!(rec.state, RunState::Failed);
        assert!(rec.ended_at.is_some());

        // A retry queues `a` with fresh attempts and unblocks what was below it.
        s.retry_task(&run, "a").await.expect("retry");
        let st = states(s, &run).await;
        assert_eq!(state_of(&st, "a"), TaskState::Queued);
        assert_eq!(state_of(&st, "e"), TaskState::Queued);
        assert_eq!(state_of(&st, "x"), TaskState::Succeeded);
        assert_eq!(
            s.run(&run).await.expect("run").expect("run").state,
            RunState::Queued
        );
        let a = s
            .tasks(&run)
            .await
            .expect("tasks")
            .into_iter()
            .find(|t| t.task_id == "a")
            .expect("a");
        assert_eq!((a.attempt, a.max_attempts), (2, 4));
        assert_eq!(claim_ids(s, &run, "w").await, ["a"]);
        assert_eq!(
            fail(s, &run, "a", "w", 3).await,
            Some(TaskState::UpForRetry)
        );
        claim_ids(s, &run, "w").await;
        assert_eq!(fail(s, &run, "a", "w", 4).await, Some(TaskState::Failed));

        // Marking it succeeded by hand lets the rest run.
        s.mark_success(&run, "a").await.expect("mark");
        let st = states(s, &run).await;
        assert_eq!(state_of(&st, "a"), TaskState::Succeeded);
        assert_eq!(state_of(&st, "b"), TaskState::Queued);
        assert_eq!(claim_ids(s, &run, "w").await, ["b", "c"]);
        assert!(
            s.retry_task(&run, "b").await.is_err(),
            "a running task cannot be retried"
        );
        assert!(s.retry_task(&run, "zzz").await.is_err());
    }
}

#[tokio::test]
async fn mark_success_of_the_only_failure_finishes_the_run() {
    for backend in BACKENDS {
        let t = open(backend).await;
        let s = &t.store;
        let run = new_run(s, vec![spec("a", &[]), spec("b", &[])], 1).await;
        claim_ids(s, &run, "w").await;
        succeed(s, &run, "a", "w", 1).await;
        fail(s, &run, "b", "w", 1).await;
        assert_eq!(
            s.finalize_run(&run).await.expect("fin").state,
            RunState::Failed
        );
        s.mark_success(&run, "b").await.expect("mark");
        let rec = s.run(&run).await.expect("run").expect("run");
        assert_eq!(rec.state, RunState::Succeeded, "{backend:?}");
        let log = s.task_log(&run, "b").await.expect("log");
        assert!(log.iter().any(|l| l.message.contains("marked succeeded")));
    }
}

#[tokio::test]
async fn resume_requeues_only_what_did_not_succeed() {
    for backend in BACKENDS {
        let t = open(backend).await;
        let s = &t.store;
        let run = new_run(s, diamond(), 1).await;
        claim_ids(s, &run, "w").await;
        succeed(s, &run, "a", "w", 1).await;
        succeed(s, &run, "x", "w", 1).await;
        claim_ids(s, &run, "w").await;
        succeed(s, &run, "b", "w", 1).await;
        fail(s, &run, "c", "w", 1).await;
        assert_eq!(
            s.finalize_run(&run).await.expect("fin").state,
            RunState::Failed
        );
        s.resume_run(&run).await.expect("resume");
        let st = states(s, &run).await;
        assert_eq!(
            st.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
            [
                TaskState::Succeeded,
                TaskState::Succeeded,
                TaskState::Queued,
                TaskState::Queued,
                TaskState::Queued,
                TaskState::Succeeded
            ],
            "{backend:?}"
        );
        assert_eq!(claim_ids(s, &run, "w").await, ["c"]);
        assert!(s.resume_run("missing").await.is_err());
    }
}

#[tokio::test]
async fn expired_leases_are_reaped_with_a_log_line() {
    for backend in BACKENDS {
        let t = open(backend).await;
        let s = &t.store;
        let run = new_run(
            s,
            vec![spec("a", &[]), spec("b", &["a"]), spec("c", &[])],
            2,
        )
        .await;
        let claimed = s
            .claim_tasks(Some(&run), "dead", 10, Duration::from_millis(200))
            .await
            .expect("claim");
        assert_eq!(claimed.len(), 2);
        assert!(
            s.heartbeat(&run, "c", "dead", 1, Duration::from_secs(60))
                .await
                .expect("hb")
        );
        assert!(
            !s.heartbeat(&run, "c", "someone", 1, Duration::from_secs(60))
                .await
                .expect("hb")
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let reaped = s.reap_expired().await.expect("reap");
        assert_eq!(
            reaped.len(),
            1,
            "only a's lease expired: {reaped:?} {backend:?}"
        );
        assert_eq!(reaped[0].task_id, "a");
        assert_eq!(reaped[0].state, TaskState::UpForRetry);
        let log = s.task_log(&run, "a").await.expect("log");
        assert!(
            log.iter()
                .any(|l| l.message.contains("worker dead was lost")),
            "{log:?}"
        );
        // The dead worker's late report does not count.
        assert_eq!(fail(s, &run, "a", "dead", 1).await, None);
        assert_eq!(claim_ids(s, &run, "new").await, ["a"]);
    }
}

#[tokio::test]
async fn a_fire_time_creates_one_run_and_reopening_keeps_data() {
    for backend in BACKENDS {
        let t = open(backend).await;
        let s = &t.store;
        let fire = Utc::now();
        let mk = || NewRun {
            logical_date: date(9),
            trigger: "schedule".into(),
            schedule: Some("daily".into()),
            tasks: diamond(),
            max_attempts: 1,
        };
        let first = s
            .create_scheduled_run("daily", fire, mk())
            .await
            .expect("create");
        assert!(first.is_some());
        // A second store on the same database (another scheduler process).
        let other = Store::open(&t.url, std::path::Path::new("/"))
            .await
            .expect("reopen");
        let second = other
            .create_scheduled_run("daily", fire, mk())
            .await
            .expect("create");
        assert!(second.is_none(), "{backend:?}");
        assert_eq!(other.count_runs().await.expect("count"), 1);
        let last = other
            .last_scheduled_fire("daily")
            .await
            .expect("last")
            .expect("some");
        assert_eq!(last.timestamp_micros(), fire.timestamp_micros());
        assert!(
            other
                .last_scheduled_fire("weekly")
                .await
                .expect("last")
                .is_none()
        );
    }
}

#[tokio::test]
async fn unknown_urls_are_refused() {
    let e = Store::open("mysql://x", std::path::Path::new("."))
        .await
        .expect_err("refused");
    assert!(e.to_string().contains("sqlite:// or postgres://"), "{e}");
}

/// 10,000 runs of 30 tasks: one page of the grid must read only that page.
#[tokio::test]
async fn the_grid_stays_fast_with_ten_thousand_runs() {
    let t = open(Backend::Sqlite).await;
    let s = &t.store;
    let tasks: Vec<TaskSpec> = (0..30)
        .map(|i| {
            if i == 0 {
                spec("t0", &[])
            } else {
                let up = format!("t{}", i - 1);
                spec(&format!("t{i}"), &[up.as_str()])
            }
        })
        .collect();
    let started = std::time::Instant::now();
    for _ in 0..10_000 {
        new_run(s, tasks.clone(), 1).await;
    }
    eprintln!(
        "inserting 10,000 runs x 30 tasks took {:?}",
        started.elapsed()
    );
    assert_eq!(s.count_runs().await.expect("count"), 10_000);
    let mut before = None;
    for page_no in 0..3 {
        let started = std::time::Instant::now();
        let page = s
            .list_runs(&Page {
                limit: 25,
                before: before.clone(),
            })
            .await
            .expect("page");
        let ids: Vec<String> = page.iter().map(|r| r.run_id.clone()).collect();
        let grid = s.tasks_for_runs(&ids).await.expect("grid");
        eprintln!(
            "grid page {page_no}: list_runs + tasks_for_runs of 25 runs ({} task rows) took {:?}",
            grid.len(),
            started.elapsed()
        );
        assert_eq!(page.len(), 25);
        assert_eq!(grid.len(), 25 * 30);
        before = ids.last().cloned();
    }
    // What a worker does every poll must not grow with the history either.
    let started = std::time::Instant::now();
    let claimed = s
        .claim_tasks(None, "w", 4, Duration::from_secs(60))
        .await
        .expect("claim");
    eprintln!(
        "claim_tasks over 300,000 queued tasks took {:?}",
        started.elapsed()
    );
    assert_eq!(claimed.len(), 4);
    assert!(claimed.iter().all(|t| t.task_id == "t0"));
    let started = std::time::Instant::now();
    assert!(s.reap_expired().await.expect("reap").is_empty());
    assert!(s.finalize_settled_runs().await.expect("settle").is_empty());
    eprintln!(
        "reap_expired + finalize_settled_runs took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn runs_without_open_tasks_are_settled() {
    for backend in BACKENDS {
        let t = open(backend).await;
        let s = &t.store;
        let empty = new_run(s, Vec::new(), 1).await;
        let busy = new_run(s, diamond(), 1).await;
        let settled = s.finalize_settled_runs().await.expect("settle");
        assert_eq!(settled.len(), 1, "{backend:?}");
        assert_eq!(
            (settled[0].run_id.as_str(), settled[0].state),
            (empty.as_str(), RunState::Succeeded)
        );
        assert_eq!(
            s.run(&busy).await.expect("run").expect("run").state,
            RunState::Queued
        );
    }
}

/// A worker outlives a PostgreSQL restart: its connection is terminated by the server and the
/// next operations reconnect.
#[tokio::test]
async fn a_terminated_postgres_connection_is_reopened() {
    let t = open(Backend::Postgres).await;
    let s = &t.store;
    let run = new_run(s, diamond(), 1).await;
    let (admin, conn) = tokio_postgres::connect(crate::common::PG_URL, tokio_postgres::NoTls)
        .await
        .expect("admin connection");
    tokio::spawn(conn);
    let name = t.pg_schema_name.clone().expect("postgres");
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .await
        .expect("terminate");
    assert_eq!(killed.len(), 1, "the store's one connection");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(s.run(&run).await.expect("read after a restart").is_some());
    // Again, now with a transaction as the first operation after it.
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .await
        .expect("terminate");
    assert_eq!(killed.len(), 1);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(claim_ids(s, &run, "w").await, ["a", "x"]);
    assert_eq!(s.count_runs().await.expect("count"), 1);
}

#[tokio::test]
async fn a_run_of_many_tasks_is_stored_whole() {
    for backend in BACKENDS {
        let t = open(backend).await;
        let s = &t.store;
        // More tasks and edges than one insert statement carries.
        let ids: Vec<String> = (0..450).map(|i| format!("t{i:03}")).collect();
        let tasks: Vec<TaskSpec> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let ups: Vec<&str> = ids[i.saturating_sub(2)..i]
                    .iter()
                    .map(String::as_str)
                    .collect();
                spec(id, &ups)
            })
            .collect();
        let run = new_run(s, tasks.clone(), 2).await;
        let stored = s.tasks(&run).await.expect("tasks");
        assert_eq!(stored.len(), 450, "{backend:?}");
        for (want, got) in tasks.iter().zip(&stored) {
            assert_eq!((&want.id, &want.upstream), (&got.task_id, &got.upstream));
        }
        // The dependency rows are there too: only the first task is ready.
        assert_eq!(claim_ids(s, &run, "w").await, ["t000"]);
    }
}
