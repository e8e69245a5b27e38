//! Crash recovery with a real process: a child executor is killed with SIGKILL while a task
//! runs; a new executor finds the task by its expired lease and runs it again.

use crate::common::{BACKENDS, Script, ScriptedRunner, Shared, fast_options, open, spec};
use chrono::NaiveDate;
use pulse_orchestrate::{Executor, NewRun, RunState, Store, TaskState};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const URL_VAR: &str = "PULSE_ORCH_CHILD_URL";
const RUN_VAR: &str = "PULSE_ORCH_CHILD_RUN";

/// Not a test of its own: the body of the child process the test below starts and kills.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by kill_9_during_a_task_is_recovered as its child process"]
async fn child_executor_that_hangs() {
    let (Ok(url), Ok(run)) = (std::env::var(URL_VAR), std::env::var(RUN_VAR)) else {
        // Run by `--include-ignored` outside its parent: there is nothing to drive.
        eprintln!("only meant to run as the child of kill_9_during_a_task_is_recovered");
        return;
    };
    let store = Store::open(&url, std::path::Path::new("/"))
        .await
        .expect("open");
    let runner = Arc::new(ScriptedRunner::new(Duration::ZERO).with(
        "hang",
        Script {
            hang: true,
            ..Default::default()
        },
    ));
    let mut opts = fast_options("child");
    opts.lease = Duration::from_secs(1);
    let ex = Executor::new(store, Arc::new(Shared(runner)), opts);
    ex.drive_run(&run).await.expect("drive");
    panic!("the child was meant to be killed before its run ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_task_is_recovered() {
    for backend in BACKENDS {
        kill_9_recovery_on(backend).await;
    }
}

async fn kill_9_recovery_on(backend: crate::common::Backend) {
    let t = open(backend).await;
    let store = t.store.clone();
    let run = store
        .create_run(NewRun {
            logical_date: NaiveDate::from_ymd_opt(2026, 5, 1).expect("date"),
            trigger: "cli".into(),
            schedule: None,
            tasks: vec![
                spec("first", &[]),
                spec("hang", &["first"]),
                spec("last", &["hang"]),
            ],
            max_attempts: 3,
        })
        .await
        .expect("run")
        .run_id;

    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "recovery::child_executor_that_hangs",
            "--ignored",
            "--nocapture",
        ])
        .env(URL_VAR, &t.url)
        .env(RUN_VAR, &run)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the child");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let tasks = store.tasks(&run).await.expect("tasks");
        let hang = tasks.iter().find(|t| t.task_id == "hang").expect("hang");
        if hang.state == TaskState::Running {
            assert_eq!(hang.worker.as_deref(), Some("child"));
            break;
        }
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the child ended early"
        );
        assert!(
            Instant::now() < deadline,
            "the child never started the task"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let a heartbeat or two happen, then SIGKILL: no clean-up code runs in the child.
    tokio::time::sleep(Duration::from_millis(700)).await;
    child.kill().expect("kill -9");
    let status = child.wait().expect("reap child");
    assert!(!status.success());
    let hang = store
        .tasks(&run)
        .await
        .expect("tasks")
        .into_iter()
        .find(|t| t.task_id == "hang")
        .expect("hang");
    assert_eq!(
        hang.state,
        TaskState::Running,
        "left running by the dead worker"
    );

    let runner = Arc::new(ScriptedRunner::new(Duration::ZERO));
    let mut opts = fast_options("rescuer");
    opts.lease = Duration::from_secs(1);
    let ex = Executor::new(store.clone(), Arc::new(Shared(runner.clone())), opts);
    let started = Instant::now();
    let rec = tokio::time::timeout(Duration::from_secs(30), ex.drive_run(&run))
        .await
        .expect("recovered in time")
        .expect("drive");
    assert_eq!(rec.state, RunState::Succeeded, "{backend:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        runner.ran("first").is_empty(),
        "what the dead worker finished is kept"
    );
    assert_eq!(runner.ran("hang").len(), 1);
    assert_eq!(runner.ran("last").len(), 1);
    let tasks = store.tasks(&run).await.expect("tasks");
    let hang = tasks.iter().find(|t| t.task_id == "hang").expect("hang");
    assert_eq!((hang.attempt, hang.worker.as_deref()), (2, Some("rescuer")));
    let log = store.task_log(&run, "hang").await.expect("log");
    assert!(
        log.iter()
            .any(|l| l.attempt == 1 && l.message.contains("worker child was lost")),
        "{log:?}"
    );
}
