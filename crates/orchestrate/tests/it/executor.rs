//! The executor with a scripted runner: order, parallelism, retries, timeouts, failure
//! propagation, resume, backfill.

use crate::common::{BACKENDS, Backend, Script, ScriptedRunner, Shared, fast_options, open, spec};
use chrono::NaiveDate;
use pulse_orchestrate::{AssetGraph, Executor, NewRun, RunState, Store, TaskSpec, TaskState};
use std::sync::Arc;
use std::time::Duration;

async fn run_of(store: &Store, tasks: Vec<TaskSpec>, max_attempts: u32) -> String {
    store
        .create_run(NewRun {
            logical_date: NaiveDate::from_ymd_opt(2026, 2, 1).expect("date"),
            trigger: "cli".into(),
            schedule: None,
            tasks,
            max_attempts,
        })
        .await
        .expect("create")
        .run_id
}

fn executor(store: &Store, runner: &Arc<ScriptedRunner>, parallelism: usize) -> Executor {
    let mut opts = fast_options("w1");
    opts.parallelism = parallelism;
    Executor::new(store.clone(), Arc::new(Shared(runner.clone())), opts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_tasks_overlap_and_dependants_wait() {
    for backend in BACKENDS {
        let t = open(backend).await;
        let runner = Arc::new(ScriptedRunner::new(Duration::from_millis(300)));
        let run = run_of(
            &t.store,
            vec![
                spec("a", &[]),
                spec("b", &[]),
                spec("c", &[]),
                spec("d", &["a", "b", "c"]),
            ],
            1,
        )
        .await;
        let rec = executor(&t.store, &runner, 3)
            .drive_run(&run)
            .await
            .expect("drive");
        assert_eq!(rec.state, RunState::Succeeded, "{backend:?}");
        let ev = runner.events();
        let first = |id: &str| ev.iter().find(|e| e.task_id == id).expect("ran").clone();
        let (a, b, c, d) = (first("a"), first("b"), first("c"), first("d"));
        let latest_start = a.start.max(b.start).max(c.start);
        let earliest_end = a.end.min(b.end).min(c.end);
        assert!(
            latest_start < earliest_end,
            "a, b and c ran at the same time"
        );
        assert!(
            d.start >= a.end.max(b.end).max(c.end),
            "d started before its upstream ended"
        );
        let tasks = t.store.tasks(&run).await.expect("tasks");
        assert!(
            tasks
                .iter()
                .all(|t| t.state == TaskState::Succeeded && t.rows == 10 && t.bytes == 100)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallelism_bounds_tasks_at_once() {
    let t = open(Backend::Sqlite).await;
    let runner = Arc::new(ScriptedRunner::new(Duration::from_millis(100)));
    let tasks: Vec<TaskSpec> = (0..8).map(|i| spec(&format!("t{i}"), &[])).collect();
    let run = run_of(&t.store, tasks, 1).await;
    executor(&t.store, &runner, 2)
        .drive_run(&run)
        .await
        .expect("drive");
    let ev = runner.events();
    assert_eq!(ev.len(), 8);
    for e in &ev {
        let at_once = ev
            .iter()
            .filter(|o| o.start <= e.start && e.start < o.end)
            .count();
        assert!(at_once <= 2, "{at_once} tasks ran at once");
    }
    let max_at_once = ev
        .iter()
        .map(|e| {
            ev.iter()
                .filter(|o| o.start <= e.start && e.start < o.end)
                .count()
        })
        .max();
    assert_eq!(max_at_once, Some(2), "two at once were allowed and used");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_back_off_exponentially() {
    for backend in BACKENDS {
        let t = open(backend).await;
        let runner = Arc::new(ScriptedRunner::new(Duration::ZERO).with(
            "flaky",
            Script {
                fail_times: 3,
                ..Default::default()
            },
        ));
        let run = run_of(
            &t.store,
            vec![spec("flaky", &[]), spec("after", &["flaky"])],
            4,
        )
        .await;
        let mut opts = fast_options("w1");
        opts.retry_delay = Duration::from_millis(200);
        let ex = Executor::new(t.store.clone(), Arc::new(Shared(runner.clone())), opts);
        let rec = ex.drive_run(&run).await.expect("drive");
        assert_eq!(rec.state, RunState::Succeeded, "{backend:?}");
        let ev = runner.ran("flaky");
        assert_eq!(
            ev.iter().map(|e| e.attempt).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert_eq!(
            ev.iter().map(|e| e.ok).collect::<Vec<_>>(),
            [false, false, false, true]
        );
        let gaps: Vec<Duration> = ev.windows(2).map(|w| w[1].start - w[0].end).collect();
        for (i, gap) in gaps.iter().enumerate() {
            let want = Duration::from_millis(200 << i);
            assert!(*gap >= want, "gap {i} was {gap:?}, backoff {want:?}");
            assert!(
                *gap < want + Duration::from_millis(700),
                "gap {i} was {gap:?}, far above {want:?}"
            );
        }
        let log = t.store.task_log(&run, "flaky").await.expect("log");
        let text: Vec<&str> = log.iter().map(|l| l.message.as_str()).collect();
        assert!(
            text.iter().any(|l| l.contains("retrying in 200ms")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|l| l.contains("retrying in 400ms")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|l| l.contains("retrying in 800ms")),
            "{text:?}"
        );
        let flaky = &t.store.tasks(&run).await.expect("tasks")[0];
        assert_eq!((flaky.state, flaky.attempt), (TaskState::Succeeded, 4));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_over_its_timeout_fails_and_blocks_its_dependants() {
    for backend in BACKENDS {
        let t = open(backend).await;
        let runner = Arc::new(ScriptedRunner::new(Duration::ZERO).with(
            "slow",
            Script {
                hang: true,
                ..Default::default()
            },
        ));
        let run = run_of(
            &t.store,
            vec![
                spec("slow", &[]),
                spec("b", &["slow"]),
                spec("c", &["b"]),
                spec("x", &[]),
            ],
            1,
        )
        .await;
        let mut opts = fast_options("w1");
        opts.timeout = Duration::from_millis(300);
        let ex = Executor::new(t.store.clone(), Arc::new(Shared(runner.clone())), opts);
        let started = std::time::Instant::now();
        let rec = ex.drive_run(&run).await.expect("drive");
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(rec.state, RunState::Failed, "{backend:?}");
        let tasks = t.store.tasks(&run).await.expect("tasks");
        let st: Vec<(&str, TaskState)> = tasks
            .iter()
            .map(|t| (t.task_id.as_str(), t.state))
            .collect();
        assert_eq!(
            st,
            [
                ("slow", TaskState::Failed),
                ("b", TaskState::UpstreamFailed),
                ("c", TaskState::UpstreamFailed),
                ("x", TaskState::Succeeded)
            ]
        );
        assert_eq!(tasks[0].error.as_deref(), Some("timed out after 300ms"));
        assert!(runner.ran("b").is_empty() && runner.ran("c").is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_runs_only_failed_and_never_run_tasks() {
    for backend in BACKENDS {
        let t = open(backend).await;
        let runner = Arc::new(ScriptedRunner::new(Duration::from_millis(5)).with(
            "c",
            Script {
                fail_times: 1,
                ..Default::default()
            },
        ));
        let run = run_of(
            &t.store,
            vec![
                spec("a", &[]),
                spec("b", &["a"]),
                spec("c", &["a"]),
                spec("d", &["c"]),
                spec("e", &["b"]),
            ],
            1,
        )
        .await;
        let ex = executor(&t.store, &runner, 4);
        assert_eq!(
            ex.drive_run(&run).await.expect("drive").state,
            RunState::Failed,
            "{backend:?}"
        );
        assert!(runner.ran("d").is_empty());
        t.store.resume_run(&run).await.expect("resume");
        let rec = ex.drive_run(&run).await.expect("drive again");
        assert_eq!(rec.state, RunState::Succeeded);
        for (id, times) in [("a", 1), ("b", 1), ("e", 1), ("c", 2), ("d", 1)] {
            assert_eq!(runner.ran(id).len(), times, "{id} {backend:?}");
        }
        let c = t
            .store
            .tasks(&run)
            .await
            .expect("tasks")
            .into_iter()
            .find(|t| t.task_id == "c")
            .expect("c");
        assert_eq!(c.attempt, 2, "attempt numbers go on after a resume");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_task_and_mark_success_let_a_failed_run_finish() {
    let t = open(Backend::Sqlite).await;
    let runner = Arc::new(
        ScriptedRunner::new(Duration::ZERO)
            .with(
                "a",
                Script {
                    fail_times: 1,
                    ..Default::default()
                },
            )
            .with(
                "m",
                Script {
                    fail_times: 99,
                    ..Default::default()
                },
            ),
    );
    let run = run_of(
        &t.store,
        vec![
            spec("a", &[]),
            spec("b", &["a"]),
            spec("m", &[]),
            spec("n", &["m"]),
        ],
        1,
    )
    .await;
    let ex = executor(&t.store, &runner, 4);
    assert_eq!(
        ex.drive_run(&run).await.expect("drive").state,
        RunState::Failed
    );
    t.store.retry_task(&run, "a").await.expect("retry");
    assert_eq!(
        ex.drive_run(&run).await.expect("drive").state,
        RunState::Failed,
        "m still failed"
    );
    assert_eq!(runner.ran("b").len(), 1);
    t.store.mark_success(&run, "m").await.expect("mark");
    assert_eq!(
        ex.drive_run(&run).await.expect("drive").state,
        RunState::Succeeded
    );
    assert_eq!(runner.ran("m").len(), 1, "marked, not run again");
    assert_eq!(runner.ran("n").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_of_seven_dates_keeps_two_runs_active() {
    for backend in BACKENDS {
        let t = open(backend).await;
        let runner = Arc::new(ScriptedRunner::new(Duration::from_millis(60)));
        let graph =
            AssetGraph::from_tasks(vec![spec("a", &[]), spec("b", &["a"]), spec("c", &["a"])])
                .expect("graph");
        let ex = executor(&t.store, &runner, 8);
        let from = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
        let to = NaiveDate::from_ymd_opt(2026, 1, 7).expect("date");
        let runs = ex.backfill(&graph, from, to, 2, 1).await.expect("backfill");
        assert_eq!(runs.len(), 7);
        let dates: Vec<NaiveDate> = runs.iter().map(|r| r.logical_date).collect();
        assert_eq!(dates, from.iter_days().take(7).collect::<Vec<_>>());
        assert!(
            runs.iter()
                .all(|r| r.state == RunState::Succeeded && r.trigger == "backfill")
        );
        // Each run's active span is from its first task's start to its last task's end.
        let ev = runner.events();
        let spans: Vec<(std::time::Instant, std::time::Instant)> = runs
            .iter()
            .map(|r| {
                let mine: Vec<_> = ev.iter().filter(|e| e.run_id == r.run_id).collect();
                assert_eq!(mine.len(), 3);
                (
                    mine.iter().map(|e| e.start).min().expect("start"),
                    mine.iter().map(|e| e.end).max().expect("end"),
                )
            })
            .collect();
        let mut most = 0;
        for (s, _) in &spans {
            let active = spans.iter().filter(|(s2, e2)| s2 <= s && s < e2).count();
            most = most.max(active);
        }
        assert!(most <= 2, "{most} runs were active at once ({backend:?})");
        assert_eq!(most, 2, "the bound of two was used");
        // Runs also bounded in the store: at no point were more than two runs created and
        // unfinished; their created/ended times show it.
        for r in &runs {
            let overlapping = runs
                .iter()
                .filter(|o| {
                    o.created_at <= r.created_at && o.ended_at.is_some_and(|e| e > r.created_at)
                })
                .count();
            assert!(
                overlapping <= 2,
                "{overlapping} runs open when {} was created",
                r.run_id
            );
        }
    }
}

/// A runner whose work goes on in a thread of its own, as a blocking query would; it stops when
/// the executor gives the attempt up.
struct Blocking(Arc<std::sync::atomic::AtomicBool>);

impl pulse_orchestrate::TaskRunner for Blocking {
    fn run(
        &self,
        ctx: pulse_orchestrate::TaskContext,
    ) -> futures::future::BoxFuture<'static, Result<pulse_orchestrate::TaskOutput, String>> {
        let stopped = self.0.clone();
        Box::pin(async move {
            let cancel = ctx.cancel.clone();
            let work = tokio::task::spawn_blocking(move || {
                let until = std::time::Instant::now() + Duration::from_secs(20);
                while std::time::Instant::now() < until {
                    if cancel.is_cancelled() {
                        stopped.store(true, std::sync::atomic::Ordering::SeqCst);
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            });
            let _ = work.await;
            Ok(pulse_orchestrate::TaskOutput::default())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_attempt_tells_its_background_work_to_stop() {
    let t = open(Backend::Sqlite).await;
    let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let run = run_of(&t.store, vec![spec("long", &[])], 1).await;
    let mut opts = fast_options("w1");
    opts.timeout = Duration::from_millis(200);
    let ex = Executor::new(t.store.clone(), Arc::new(Blocking(stopped.clone())), opts);
    assert_eq!(
        ex.drive_run(&run).await.expect("drive").state,
        RunState::Failed
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !stopped.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(
            std::time::Instant::now() < deadline,
            "the blocking work was never told to stop"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skipped_task_lets_its_dependants_run() {
    let t = open(Backend::Sqlite).await;
    let runner = Arc::new(ScriptedRunner::new(Duration::ZERO).with(
        "nothing_new",
        Script {
            skip: true,
            ..Default::default()
        },
    ));
    let run = run_of(
        &t.store,
        vec![spec("nothing_new", &[]), spec("after", &["nothing_new"])],
        1,
    )
    .await;
    let rec = executor(&t.store, &runner, 2)
        .drive_run(&run)
        .await
        .expect("drive");
    assert_eq!(rec.state, RunState::Succeeded);
    let tasks = t.store.tasks(&run).await.expect("tasks");
    assert_eq!(tasks[0].state, TaskState::Skipped);
    assert_eq!(tasks[1].state, TaskState::Succeeded);
    assert_eq!(runner.ran("after").len(), 1);
}
