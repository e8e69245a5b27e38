//! Fixed runs and tasks, so rendered pages are the same on every machine and every day.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use pulse_orchestrate::{
    AssetGraph, LogLine, RunRecord, RunState, TaskInstance, TaskKind, TaskSpec, TaskState,
};

pub fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 5, h, m, s)
        .single()
        .expect("a valid time")
}

pub fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, day).expect("a valid date")
}

fn spec(id: &str, kind: TaskKind, target: &str, upstream: &[&str]) -> TaskSpec {
    TaskSpec {
        id: id.to_owned(),
        kind,
        target: target.to_owned(),
        tags: Vec::new(),
        upstream: upstream.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// A small food-delivery graph: two landings, their validations and three models.
pub fn graph() -> AssetGraph {
    AssetGraph::from_tasks(vec![
        spec("land.orders.orders", TaskKind::Land, "orders.orders", &[]),
        spec(
            "land.payments.payments",
            TaskKind::Land,
            "payments.payments",
            &[],
        ),
        spec(
            "validate.orders.orders",
            TaskKind::Validate,
            "orders.orders",
            &["land.orders.orders"],
        ),
        spec(
            "validate.payments.payments",
            TaskKind::Validate,
            "payments.payments",
            &["land.payments.payments"],
        ),
        spec(
            "model.stg_orders",
            TaskKind::Model,
            "stg_orders",
            &["validate.orders.orders"],
        ),
        spec(
            "model.stg_payments",
            TaskKind::Model,
            "stg_payments",
            &["validate.payments.payments"],
        ),
        spec(
            "model.fct_orders",
            TaskKind::Model,
            "fct_orders",
            &["model.stg_orders", "model.stg_payments"],
        ),
    ])
    .expect("the fixture graph is acyclic")
}

pub fn run(
    id: &str,
    day: u32,
    state: RunState,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> RunRecord {
    RunRecord {
        run_id: id.to_owned(),
        logical_date: date(day),
        state,
        trigger: "schedule".to_owned(),
        schedule: Some("daily".to_owned()),
        created_at: at(6, 0, 0),
        started_at: start,
        ended_at: end,
        sla_missed: false,
    }
}

pub struct T {
    pub state: TaskState,
    pub attempt: u32,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub rows: u64,
    pub bytes: u64,
    pub error: Option<&'static str>,
}

pub fn task(graph: &AssetGraph, run_id: &str, task_id: &str, t: T) -> TaskInstance {
    let spec = graph
        .tasks
        .iter()
        .find(|s| s.id == task_id)
        .expect("the task is in the fixture graph");
    TaskInstance {
        run_id: run_id.to_owned(),
        task_id: task_id.to_owned(),
        kind: spec.kind,
        target: spec.target.clone(),
        state: t.state,
        attempt: t.attempt,
        max_attempts: 3,
        upstream: spec.upstream.clone(),
        queued_at: at(6, 0, 0),
        started_at: t.start,
        ended_at: t.end,
        next_try_at: None,
        worker: t.start.map(|_| "worker-1".to_owned()),
        lease_until: None,
        rows: t.rows,
        bytes: t.bytes,
        error: t.error.map(str::to_owned),
    }
}

pub fn done(
    state: TaskState,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    rows: u64,
    bytes: u64,
) -> T {
    T {
        state,
        attempt: 1,
        start: Some(start),
        end: Some(end),
        rows,
        bytes,
        error: None,
    }
}

pub fn waiting(state: TaskState) -> T {
    T {
        state,
        attempt: 0,
        start: None,
        end: None,
        rows: 0,
        bytes: 0,
        error: None,
    }
}

/// Three runs, newest first as the store lists them: one succeeded, one failed with a retry
/// and an upstream failure, one still running.
pub fn runs_and_tasks(graph: &AssetGraph) -> (Vec<RunRecord>, Vec<TaskInstance>) {
    use TaskState::*;
    let runs = vec![
        run("run-3", 5, RunState::Running, Some(at(8, 0, 0)), None),
        run(
            "run-2",
            4,
            RunState::Failed,
            Some(at(7, 0, 0)),
            Some(at(7, 4, 30)),
        ),
        run(
            "run-1",
            3,
            RunState::Succeeded,
            Some(at(6, 0, 0)),
            Some(at(6, 12, 5)),
        ),
    ];
    let mut tasks = Vec::new();
    let ok = |s, e, rows, bytes| done(Succeeded, s, e, rows, bytes);
    for (id, s, e, rows, bytes) in [
        (
            "land.orders.orders",
            at(6, 0, 1),
            at(6, 2, 0),
            1_300,
            2_400_000,
        ),
        (
            "land.payments.payments",
            at(6, 0, 1),
            at(6, 1, 10),
            1_450,
            310_000,
        ),
        ("validate.orders.orders", at(6, 2, 1), at(6, 2, 9), 1_300, 0),
        (
            "validate.payments.payments",
            at(6, 1, 11),
            at(6, 1, 15),
            1_450,
            0,
        ),
        (
            "model.stg_orders",
            at(6, 2, 10),
            at(6, 5, 0),
            1_298,
            1_100_000,
        ),
        (
            "model.stg_payments",
            at(6, 1, 16),
            at(6, 3, 0),
            1_450,
            420_000,
        ),
        (
            "model.fct_orders",
            at(6, 5, 1),
            at(6, 12, 5),
            1_298,
            3_900_000,
        ),
    ] {
        tasks.push(task(graph, "run-1", id, ok(s, e, rows, bytes)));
    }
    tasks.push(task(
        graph,
        "run-2",
        "land.orders.orders",
        ok(at(7, 0, 1), at(7, 1, 0), 1_280, 2_300_000),
    ));
    tasks.push(task(
        graph,
        "run-2",
        "land.payments.payments",
        T {
            state: Failed,
            attempt: 3,
            start: Some(at(7, 3, 0)),
            end: Some(at(7, 4, 30)),
            rows: 0,
            bytes: 0,
            error: Some("connection refused: payments.sqlite is locked\nretried 3 times"),
        },
    ));
    tasks.push(task(
        graph,
        "run-2",
        "validate.orders.orders",
        ok(at(7, 1, 1), at(7, 1, 5), 1_280, 0),
    ));
    tasks.push(task(
        graph,
        "run-2",
        "validate.payments.payments",
        waiting(UpstreamFailed),
    ));
    tasks.push(task(
        graph,
        "run-2",
        "model.stg_orders",
        ok(at(7, 1, 6), at(7, 2, 0), 1_279, 1_000_000),
    ));
    tasks.push(task(
        graph,
        "run-2",
        "model.stg_payments",
        waiting(UpstreamFailed),
    ));
    tasks.push(task(
        graph,
        "run-2",
        "model.fct_orders",
        waiting(UpstreamFailed),
    ));
    tasks.push(task(
        graph,
        "run-3",
        "land.orders.orders",
        ok(at(8, 0, 1), at(8, 0, 50), 1_310, 2_450_000),
    ));
    tasks.push(task(
        graph,
        "run-3",
        "land.payments.payments",
        T {
            state: UpForRetry,
            attempt: 1,
            start: Some(at(8, 0, 1)),
            end: Some(at(8, 0, 4)),
            rows: 0,
            bytes: 0,
            error: Some("timed out after 3 s"),
        },
    ));
    tasks.push(task(
        graph,
        "run-3",
        "validate.orders.orders",
        T {
            state: Running,
            attempt: 1,
            start: Some(at(8, 0, 51)),
            end: None,
            rows: 0,
            bytes: 0,
            error: None,
        },
    ));
    for id in [
        "validate.payments.payments",
        "model.stg_orders",
        "model.stg_payments",
        "model.fct_orders",
    ] {
        tasks.push(task(graph, "run-3", id, waiting(Queued)));
    }
    (runs, tasks)
}

pub fn log_lines() -> Vec<LogLine> {
    let line = |ts, attempt, level: &str, message: &str| LogLine {
        ts,
        attempt,
        level: level.to_owned(),
        message: message.to_owned(),
    };
    vec![
        line(
            at(7, 0, 1),
            1,
            "INFO",
            "reading payments.payments from data/payments.sqlite",
        ),
        line(
            at(7, 0, 2),
            1,
            "ERROR",
            "connection refused: payments.sqlite is locked",
        ),
        line(
            at(7, 1, 2),
            2,
            "INFO",
            "reading payments.payments from data/payments.sqlite",
        ),
        line(at(7, 1, 3), 2, "WARN", "<b>not bold</b> & escaped"),
    ]
}
