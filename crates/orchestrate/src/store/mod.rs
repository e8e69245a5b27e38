//! The metadata store: runs, task instances, their logs and schedule fire times, in SQLite (one
//! file, the default) or PostgreSQL (shared by several workers). Times are stored as integer
//! microseconds since the epoch so that comparisons and ordering are the same on both.

mod db;
mod schema;

use crate::error::OrchestrateError;
use crate::graph::{TaskKind, TaskSpec};
use chrono::{DateTime, NaiveDate, Utc};
use db::{Db, Dialect, P, Row, V, transaction};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Queued,
    Running,
    Succeeded,
    Failed,
    UpForRetry,
    Skipped,
    UpstreamFailed,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Running => "running",
            TaskState::Succeeded => "succeeded",
            TaskState::Failed => "failed",
            TaskState::UpForRetry => "up_for_retry",
            TaskState::Skipped => "skipped",
            TaskState::UpstreamFailed => "upstream_failed",
        }
    }

    pub fn parse(s: &str) -> Option<TaskState> {
        Some(match s {
            "queued" => TaskState::Queued,
            "running" => TaskState::Running,
            "succeeded" => TaskState::Succeeded,
            "failed" => TaskState::Failed,
            "up_for_retry" => TaskState::UpForRetry,
            "skipped" => TaskState::Skipped,
            "upstream_failed" => TaskState::UpstreamFailed,
            _ => return None,
        })
    }

    /// Nothing more happens to a task in this state unless a person retries it.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::Succeeded
                | TaskState::Failed
                | TaskState::Skipped
                | TaskState::UpstreamFailed
        )
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<RunState> {
        Some(match s {
            "queued" => RunState::Queued,
            "running" => RunState::Running,
            "succeeded" => RunState::Succeeded,
            "failed" => RunState::Failed,
            _ => return None,
        })
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, RunState::Succeeded | RunState::Failed)
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub logical_date: NaiveDate,
    pub state: RunState,
    /// manual | schedule | backfill | cli
    pub trigger: String,
    pub schedule: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub sla_missed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInstance {
    pub run_id: String,
    pub task_id: String,
    pub kind: TaskKind,
    pub target: String,
    pub state: TaskState,
    /// The attempt running or last run, from 1; 0 before the first.
    pub attempt: u32,
    /// Attempts allowed before the task fails; a retry or resume raises it by the run's
    /// original allowance so attempt numbers keep counting up and logs stay apart.
    pub max_attempts: u32,
    pub upstream: Vec<String>,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub next_try_at: Option<DateTime<Utc>>,
    pub worker: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub rows: u64,
    pub bytes: u64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    pub ts: DateTime<Utc>,
    pub attempt: u32,
    pub level: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct NewRun {
    pub logical_date: NaiveDate,
    pub trigger: String,
    pub schedule: Option<String>,
    pub tasks: Vec<TaskSpec>,
    /// Attempts each task gets: 1 + the configured retries.
    pub max_attempts: u32,
}

/// One page of runs, newest first; `before` is the last run id of the previous page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub limit: u32,
    pub before: Option<String>,
}

/// What became of an attempt, as the executor reports it.
#[derive(Debug, Clone)]
pub enum Outcome {
    Succeeded {
        rows: u64,
        bytes: u64,
        skipped: bool,
    },
    /// `retry_at`: when the next attempt may start, if there is one.
    Failed {
        error: String,
        retry_at: DateTime<Utc>,
    },
}

/// A task whose worker stopped renewing its lease.
#[derive(Debug, Clone, PartialEq)]
pub struct ReapedTask {
    pub run_id: String,
    pub task_id: String,
    pub attempt: u32,
    pub worker: Option<String>,
    pub state: TaskState,
}

/// Cheap to clone: every clone talks to the same connection thread.
#[derive(Clone)]
pub struct Store {
    worker: Arc<db::Worker>,
    dialect: Dialect,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Store({:?})", self.dialect)
    }
}

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn time(v: &V) -> Option<DateTime<Utc>> {
    v.i().and_then(DateTime::from_timestamp_micros)
}

fn req_time(v: &V) -> DateTime<Utc> {
    time(v).unwrap_or(DateTime::UNIX_EPOCH)
}

const RUN_COLS: &str = "run_id, logical_date, state, trigger_kind, schedule, created_at, started_at, ended_at, sla_missed";
const TASK_COLS: &str = "run_id, task_id, kind, target, state, attempt, max_attempts, upstream, queued_at, started_at, ended_at, next_try_at, worker, lease_until, rows_out, bytes_out, error";

fn run_from(row: &Row) -> Result<RunRecord, OrchestrateError> {
    let bad = |what: &str| OrchestrateError::Store(format!("unreadable run row: {what}"));
    Ok(RunRecord {
        run_id: row[0].t().ok_or_else(|| bad("run_id"))?,
        logical_date: row[1]
            .t()
            .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
            .ok_or_else(|| bad("logical_date"))?,
        state: row[2]
            .t()
            .and_then(|s| RunState::parse(&s))
            .ok_or_else(|| bad("state"))?,
        trigger: row[3].t().unwrap_or_default(),
        schedule: row[4].t(),
        created_at: req_time(&row[5]),
        started_at: time(&row[6]),
        ended_at: time(&row[7]),
        sla_missed: row[8].i().unwrap_or(0) != 0,
    })
}

fn task_from(row: &Row) -> Result<TaskInstance, OrchestrateError> {
    let bad = |what: &str| OrchestrateError::Store(format!("unreadable task row: {what}"));
    Ok(TaskInstance {
        run_id: row[0].t().ok_or_else(|| bad("run_id"))?,
        task_id: row[1].t().ok_or_else(|| bad("task_id"))?,
        kind: row[2]
            .t()
            .and_then(|k| TaskKind::parse(&k))
            .ok_or_else(|| bad("kind"))?,
        target: row[3].t().unwrap_or_default(),
        state: row[4]
            .t()
            .and_then(|s| TaskState::parse(&s))
            .ok_or_else(|| bad("state"))?,
        attempt: row[5].i().unwrap_or(0) as u32,
        max_attempts: row[6].i().unwrap_or(1) as u32,
        upstream: row[7]
            .t()
            .and_then(|u| serde_json::from_str(&u).ok())
            .unwrap_or_default(),
        queued_at: req_time(&row[8]),
        started_at: time(&row[9]),
        ended_at: time(&row[10]),
        next_try_at: time(&row[11]),
        worker: row[12].t(),
        lease_until: time(&row[13]),
        rows: row[14].i().unwrap_or(0).max(0) as u64,
        bytes: row[15].i().unwrap_or(0).max(0) as u64,
        error: row[16].t(),
    })
}

/// Sortable by creation time, unique without coordination between processes.
fn new_run_id(now: DateTime<Utc>) -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    h.write_i64(now.timestamp_nanos_opt().unwrap_or_default());
    format!(
        "{}-{:06x}",
        now.format("%Y%m%dT%H%M%S%6fZ"),
        h.finish() & 0xff_ffff
    )
}

fn get_run(db: &mut dyn Db, run_id: &str) -> Result<Option<RunRecord>, OrchestrateError> {
    let rows = db.query(
        &format!("SELECT {RUN_COLS} FROM runs WHERE run_id = $1"),
        &[P::t(run_id)],
    )?;
    rows.first().map(run_from).transpose()
}

fn require_run(db: &mut dyn Db, run_id: &str) -> Result<RunRecord, OrchestrateError> {
    get_run(db, run_id)?.ok_or_else(|| OrchestrateError::NotFound {
        what: "run",
        name: run_id.to_string(),
    })
}

fn require_task(
    db: &mut dyn Db,
    run_id: &str,
    task_id: &str,
) -> Result<TaskInstance, OrchestrateError> {
    let rows = db.query(
        &format!("SELECT {TASK_COLS} FROM task_instances WHERE run_id = $1 AND task_id = $2"),
        &[P::t(run_id), P::t(task_id)],
    )?;
    rows.first()
        .map(task_from)
        .transpose()?
        .ok_or_else(|| OrchestrateError::NotFound {
            what: "task",
            name: format!("{task_id} in run {run_id}"),
        })
}

fn insert_run(
    db: &mut dyn Db,
    run_id: &str,
    new: &NewRun,
    now: i64,
) -> Result<RunRecord, OrchestrateError> {
    db.execute(
        "INSERT INTO runs (run_id, logical_date, state, trigger_kind, schedule, created_at, sla_missed) \
         VALUES ($1, $2, 'queued', $3, $4, $5, 0)",
        &[
            P::t(run_id),
            P::T(new.logical_date.format("%Y-%m-%d").to_string()),
            P::t(&new.trigger),
            P::opt_t(new.schedule.as_deref()),
            P::I(now),
        ],
    )?;
    let attempts = i64::from(new.max_attempts.max(1));
    // Many rows per statement: a run of hundreds of tasks is a few round trips, not hundreds.
    const ROWS: usize = 200;
    let numbered: Vec<(usize, &TaskSpec)> = new.tasks.iter().enumerate().collect();
    for chunk in numbered.chunks(ROWS) {
        let mut params = vec![P::t(run_id), P::I(attempts), P::I(now)];
        let mut values = Vec::with_capacity(chunk.len());
        for (seq, t) in chunk {
            let n = params.len();
            values.push(format!(
                "($1, ${}, ${}, ${}, ${}, 'queued', 0, $2, $2, ${}, $3, 0, 0)",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5
            ));
            params.extend([
                P::t(&t.id),
                P::I(*seq as i64),
                P::t(t.kind.as_str()),
                P::t(&t.target),
                P::T(serde_json::to_string(&t.upstream).unwrap_or_else(|_| "[]".into())),
            ]);
        }
        db.execute(
            &format!(
                "INSERT INTO task_instances (run_id, task_id, seq, kind, target, state, attempt, max_attempts, tries, upstream, queued_at, rows_out, bytes_out) VALUES {}",
                values.join(", ")
            ),
            &params,
        )?;
    }
    let edges: Vec<(&str, &str)> = new
        .tasks
        .iter()
        .flat_map(|t| t.upstream.iter().map(move |u| (t.id.as_str(), u.as_str())))
        .collect();
    for chunk in edges.chunks(ROWS) {
        let mut params = vec![P::t(run_id)];
        let mut values = Vec::with_capacity(chunk.len());
        for (task, up) in chunk {
            let n = params.len();
            values.push(format!("($1, ${}, ${})", n + 1, n + 2));
            params.extend([P::t(task), P::t(up)]);
        }
        db.execute(
            &format!(
                "INSERT INTO task_deps (run_id, task_id, upstream_id) VALUES {}",
                values.join(", ")
            ),
            &params,
        )?;
    }
    require_run(db, run_id)
}

/// Every queued task below a failed or upstream_failed one becomes upstream_failed: it can
/// never run in this run unless a person retries what failed.
fn propagate_failures(db: &mut dyn Db, run_id: &str, now: i64) -> Result<u64, OrchestrateError> {
    db.execute(
        "UPDATE task_instances SET state = 'upstream_failed', ended_at = $2, next_try_at = NULL \
         WHERE run_id = $1 AND state IN ('queued', 'up_for_retry') AND task_id IN ( \
           WITH RECURSIVE down(task_id) AS ( \
             SELECT d.task_id FROM task_deps d JOIN task_instances u \
               ON u.run_id = d.run_id AND u.task_id = d.upstream_id \
             WHERE d.run_id = $1 AND u.state IN ('failed', 'upstream_failed') \
             UNION \
             SELECT d.task_id FROM task_deps d JOIN down ON d.upstream_id = down.task_id \
             WHERE d.run_id = $1) \
           SELECT task_id FROM down)",
        &[P::t(run_id), P::I(now)],
    )
}

/// Queues again the upstream_failed tasks below `task_id`, with fresh attempts.
fn requeue_blocked_below(
    db: &mut dyn Db,
    run_id: &str,
    task_id: &str,
    now: i64,
) -> Result<u64, OrchestrateError> {
    db.execute(
        "UPDATE task_instances SET state = 'queued', max_attempts = attempt + tries, queued_at = $3, \
           started_at = NULL, ended_at = NULL, next_try_at = NULL, worker = NULL, lease_until = NULL, error = NULL \
         WHERE run_id = $1 AND state = 'upstream_failed' AND task_id IN ( \
           WITH RECURSIVE down(task_id) AS ( \
             SELECT task_id FROM task_deps WHERE run_id = $1 AND upstream_id = $2 \
             UNION \
             SELECT d.task_id FROM task_deps d JOIN down ON d.upstream_id = down.task_id \
             WHERE d.run_id = $1) \
           SELECT task_id FROM down)",
        &[P::t(run_id), P::t(task_id), P::I(now)],
    )
}

/// Sets the run's state from its tasks': succeeded when all succeeded or were skipped, failed
/// when all are done and any failed; otherwise queued or running (a retried run goes back
/// from done to queued).
fn finalize(db: &mut dyn Db, run_id: &str, now: i64) -> Result<RunRecord, OrchestrateError> {
    let run = require_run(db, run_id)?;
    let rows = db.query(
        "SELECT state, COUNT(*) FROM task_instances WHERE run_id = $1 GROUP BY state",
        &[P::t(run_id)],
    )?;
    let mut open = 0;
    let mut failed = 0;
    let mut running = 0;
    for r in &rows {
        let n = r[1].i().unwrap_or(0);
        match r[0].t().and_then(|s| TaskState::parse(&s)) {
            Some(TaskState::Failed | TaskState::UpstreamFailed) => failed += n,
            Some(TaskState::Succeeded | TaskState::Skipped) => {}
            Some(TaskState::Running) => {
                running += n;
                open += n;
            }
            _ => open += n,
        }
    }
    let state = if open > 0 {
        if running > 0 || run.state == RunState::Running {
            RunState::Running
        } else {
            RunState::Queued
        }
    } else if failed > 0 {
        RunState::Failed
    } else {
        RunState::Succeeded
    };
    if state != run.state {
        let ended = state.is_terminal().then_some(now);
        db.execute(
            "UPDATE runs SET state = $2, ended_at = $3, started_at = COALESCE(started_at, $4) WHERE run_id = $1",
            &[P::t(run_id), P::t(state.as_str()), P::opt_i(ended), P::I(now)],
        )?;
        return require_run(db, run_id);
    }
    Ok(run)
}

fn log(
    db: &mut dyn Db,
    run_id: &str,
    task_id: &str,
    attempt: u32,
    level: &str,
    message: &str,
    now: i64,
) -> Result<(), OrchestrateError> {
    db.execute(
        "INSERT INTO task_logs (run_id, task_id, attempt, ts, level, message) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            P::t(run_id),
            P::t(task_id),
            P::I(attempt.into()),
            P::I(now),
            P::t(level),
            P::t(message),
        ],
    )?;
    Ok(())
}

impl Store {
    /// `sqlite://path` (relative to `project_root` unless absolute; the folder is created) or
    /// `postgres://…`. Creates or migrates the schema.
    pub async fn open(url: &str, project_root: &Path) -> Result<Store, OrchestrateError> {
        let (dialect, worker) = if let Some(rest) = url.strip_prefix("sqlite://") {
            if rest.is_empty() {
                return Err(OrchestrateError::Config(
                    "metadata url `sqlite://` names no file (like sqlite://.pulse/metadata.sqlite)"
                        .into(),
                ));
            }
            let p = Path::new(rest);
            let path = if p.is_absolute() {
                p.to_path_buf()
            } else {
                project_root.join(p)
            };
            let w = db::Worker::start(move || {
                let mut db = db::SqliteDb::open(&path)?;
                schema::migrate(&mut db)?;
                Ok(Box::new(db) as Box<dyn Db>)
            })
            .await?;
            (Dialect::Sqlite, w)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let url = url.to_string();
            let w = db::Worker::start(move || {
                let mut db = db::PgDb::connect(&url)?;
                schema::migrate(&mut db)?;
                Ok(Box::new(db) as Box<dyn Db>)
            })
            .await?;
            (Dialect::Postgres, w)
        } else {
            return Err(OrchestrateError::Config(format!(
                "metadata url must start with sqlite:// or postgres://, not `{}`",
                url.split("://").next().unwrap_or(url)
            )));
        };
        Ok(Store {
            worker: Arc::new(worker),
            dialect,
        })
    }

    pub fn is_postgres(&self) -> bool {
        self.dialect == Dialect::Postgres
    }

    async fn tx<T: Send + 'static>(
        &self,
        mut f: impl FnMut(&mut dyn Db) -> Result<T, OrchestrateError> + Send + 'static,
    ) -> Result<T, OrchestrateError> {
        self.worker.call(move |db| transaction(db, &mut f)).await
    }

    /// One statement outside a transaction; tried a second time when the first found the
    /// connection closed (the second reconnects).
    async fn read<T: Send + 'static>(
        &self,
        mut f: impl FnMut(&mut dyn Db) -> Result<T, OrchestrateError> + Send + 'static,
    ) -> Result<T, OrchestrateError> {
        self.worker
            .call(move |db| match f(db) {
                Err(e) if db::is_connection_lost(&e) => f(db),
                other => other,
            })
            .await
    }

    /// A new run with every task queued.
    pub async fn create_run(&self, new: NewRun) -> Result<RunRecord, OrchestrateError> {
        self.tx(move |db| {
            let now = Utc::now();
            insert_run(db, &new_run_id(now), &new, micros(now))
        })
        .await
    }

    /// The run for a schedule's fire time, created only if no scheduler created one for that
    /// fire time before: `None` when it already exists.
    pub async fn create_scheduled_run(
        &self,
        schedule: &str,
        fire_at: DateTime<Utc>,
        new: NewRun,
    ) -> Result<Option<RunRecord>, OrchestrateError> {
        let schedule = schedule.to_string();
        self.tx(move |db| {
            let now = Utc::now();
            let run_id = new_run_id(now);
            let inserted = db.execute(
                "INSERT INTO schedule_fires (schedule, fire_at, run_id, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (schedule, fire_at) DO NOTHING",
                &[P::t(&schedule), P::I(micros(fire_at)), P::t(&run_id), P::I(micros(now))],
            )?;
            if inserted == 0 {
                return Ok(None);
            }
            insert_run(db, &run_id, &new, micros(now)).map(Some)
        })
        .await
    }

    pub async fn run(&self, run_id: &str) -> Result<Option<RunRecord>, OrchestrateError> {
        let run_id = run_id.to_string();
        self.read(move |db| get_run(db, &run_id)).await
    }

    /// Newest first, `page.limit` at most, after `page.before`; reads only that page.
    pub async fn list_runs(&self, page: &Page) -> Result<Vec<RunRecord>, OrchestrateError> {
        let page = page.clone();
        self.read(move |db| {
            let limit = i64::from(page.limit.max(1));
            let rows = match &page.before {
                None => db.query(
                    &format!("SELECT {RUN_COLS} FROM runs ORDER BY created_at DESC, run_id DESC LIMIT $1"),
                    &[P::I(limit)],
                )?,
                Some(before) => {
                    let Some(cursor) = get_run(db, before)? else {
                        return Err(OrchestrateError::NotFound {
                            what: "run",
                            name: before.clone(),
                        });
                    };
                    let c = micros(cursor.created_at);
                    db.query(
                        &format!(
                            "SELECT {RUN_COLS} FROM runs WHERE created_at < $1 OR (created_at = $1 AND run_id < $2) \
                             ORDER BY created_at DESC, run_id DESC LIMIT $3"
                        ),
                        &[P::I(c), P::t(before), P::I(limit)],
                    )?
                }
            };
            rows.iter().map(run_from).collect()
        })
        .await
    }

    pub async fn count_runs(&self) -> Result<u64, OrchestrateError> {
        self.read(|db| {
            let rows = db.query("SELECT COUNT(*) FROM runs", &[])?;
            Ok(rows.first().and_then(|r| r[0].i()).unwrap_or(0).max(0) as u64)
        })
        .await
    }

    /// Runs not yet succeeded or failed, oldest first.
    pub async fn active_runs(&self) -> Result<Vec<RunRecord>, OrchestrateError> {
        self.read(|db| {
            let rows = db.query(
                &format!("SELECT {RUN_COLS} FROM runs WHERE state IN ('queued', 'running') ORDER BY created_at, run_id"),
                &[],
            )?;
            rows.iter().map(run_from).collect()
        })
        .await
    }

    /// The run's tasks in the order of its graph.
    pub async fn tasks(&self, run_id: &str) -> Result<Vec<TaskInstance>, OrchestrateError> {
        let run_id = run_id.to_string();
        self.read(move |db| {
            let rows = db.query(
                &format!("SELECT {TASK_COLS} FROM task_instances WHERE run_id = $1 ORDER BY seq"),
                &[P::t(&run_id)],
            )?;
            rows.iter().map(task_from).collect()
        })
        .await
    }

    /// The tasks of several runs (the grid), by run then graph order.
    pub async fn tasks_for_runs(
        &self,
        run_ids: &[String],
    ) -> Result<Vec<TaskInstance>, OrchestrateError> {
        if run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = run_ids.to_vec();
        self.read(move |db| {
            let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
            let params: Vec<P> = ids.iter().map(|i| P::t(i)).collect();
            let rows = db.query(
                &format!(
                    "SELECT {TASK_COLS} FROM task_instances WHERE run_id IN ({}) ORDER BY run_id, seq",
                    marks.join(", ")
                ),
                &params,
            )?;
            rows.iter().map(task_from).collect()
        })
        .await
    }

    pub async fn append_log(
        &self,
        run_id: &str,
        task_id: &str,
        attempt: u32,
        level: &str,
        message: &str,
    ) -> Result<(), OrchestrateError> {
        let (r, t, l, m) = (
            run_id.to_string(),
            task_id.to_string(),
            level.to_string(),
            message.to_string(),
        );
        self.read(move |db| log(db, &r, &t, attempt, &l, &m, micros(Utc::now())))
            .await
    }

    /// Like [`Store::append_log`] without waiting for the write; lines keep their order and
    /// any later call on this store sees them. A failed write is reported through tracing.
    pub fn append_log_nowait(
        &self,
        run_id: &str,
        task_id: &str,
        attempt: u32,
        level: &str,
        message: &str,
    ) {
        let (r, t, l, m) = (
            run_id.to_string(),
            task_id.to_string(),
            level.to_string(),
            message.to_string(),
        );
        let queued = self.worker.send(move |db| {
            if let Err(e) = log(db, &r, &t, attempt, &l, &m, micros(Utc::now())) {
                tracing::warn!(run_id = %r, task_id = %t, "cannot store a log line: {e}");
            }
        });
        if !queued {
            tracing::warn!(
                run_id,
                task_id,
                "cannot store a log line: the store is closed"
            );
        }
    }

    /// Every line of every attempt, in the order written.
    pub async fn task_log(
        &self,
        run_id: &str,
        task_id: &str,
    ) -> Result<Vec<LogLine>, OrchestrateError> {
        let (r, t) = (run_id.to_string(), task_id.to_string());
        self.read(move |db| {
            let rows = db.query(
                "SELECT ts, attempt, level, message FROM task_logs WHERE run_id = $1 AND task_id = $2 ORDER BY id",
                &[P::t(&r), P::t(&t)],
            )?;
            Ok(rows
                .iter()
                .map(|r| LogLine {
                    ts: req_time(&r[0]),
                    attempt: r[1].i().unwrap_or(0) as u32,
                    level: r[2].t().unwrap_or_default(),
                    message: r[3].t().unwrap_or_default(),
                })
                .collect())
        })
        .await
    }

    /// Queues the task again with fresh attempts, and the tasks below it that could not run
    /// because of it; the run goes back to queued.
    pub async fn retry_task(&self, run_id: &str, task_id: &str) -> Result<(), OrchestrateError> {
        let (r, t) = (run_id.to_string(), task_id.to_string());
        self.tx(move |db| {
            let now = micros(Utc::now());
            let task = require_task(db, &r, &t)?;
            if task.state == TaskState::Running {
                return Err(OrchestrateError::Store(format!(
                    "task {t} of run {r} is running (attempt {}); wait for it to end",
                    task.attempt
                )));
            }
            db.execute(
                "UPDATE task_instances SET state = 'queued', max_attempts = attempt + tries, queued_at = $3, \
                   started_at = NULL, ended_at = NULL, next_try_at = NULL, worker = NULL, lease_until = NULL, error = NULL \
                 WHERE run_id = $1 AND task_id = $2",
                &[P::t(&r), P::t(&t), P::I(now)],
            )?;
            requeue_blocked_below(db, &r, &t, now)?;
            // Tasks also below another failure stay blocked.
            propagate_failures(db, &r, now)?;
            db.execute(
                "UPDATE runs SET state = 'queued', ended_at = NULL WHERE run_id = $1",
                &[P::t(&r)],
            )?;
            log(db, &r, &t, task.attempt, "info", "queued again by a retry", now)?;
            finalize(db, &r, now)?;
            Ok(())
        })
        .await
    }

    /// Records the task as succeeded without running it (a person fixed the data by hand);
    /// the tasks below it that it had blocked are queued again.
    pub async fn mark_success(&self, run_id: &str, task_id: &str) -> Result<(), OrchestrateError> {
        let (r, t) = (run_id.to_string(), task_id.to_string());
        self.tx(move |db| {
            let now = micros(Utc::now());
            let task = require_task(db, &r, &t)?;
            if task.state == TaskState::Running {
                return Err(OrchestrateError::Store(format!(
                    "task {t} of run {r} is running; wait for it to end"
                )));
            }
            db.execute(
                "UPDATE task_instances SET state = 'succeeded', ended_at = $3, next_try_at = NULL, \
                   worker = NULL, lease_until = NULL, error = NULL WHERE run_id = $1 AND task_id = $2",
                &[P::t(&r), P::t(&t), P::I(now)],
            )?;
            requeue_blocked_below(db, &r, &t, now)?;
            propagate_failures(db, &r, now)?;
            log(db, &r, &t, task.attempt, "info", "marked succeeded by hand", now)?;
            db.execute(
                "UPDATE runs SET state = 'queued', ended_at = NULL WHERE run_id = $1",
                &[P::t(&r)],
            )?;
            finalize(db, &r, now)?;
            Ok(())
        })
        .await
    }

    /// Queues again everything that did not succeed (failed, upstream_failed, waiting for a
    /// retry, never run), each with fresh attempts; succeeded and skipped tasks are kept.
    pub async fn resume_run(&self, run_id: &str) -> Result<(), OrchestrateError> {
        let r = run_id.to_string();
        self.tx(move |db| {
            let now = micros(Utc::now());
            require_run(db, &r)?;
            db.execute(
                "UPDATE task_instances SET state = 'queued', max_attempts = attempt + tries, queued_at = $2, \
                   started_at = NULL, ended_at = NULL, next_try_at = NULL, worker = NULL, lease_until = NULL, error = NULL \
                 WHERE run_id = $1 AND state IN ('failed', 'upstream_failed', 'queued', 'up_for_retry')",
                &[P::t(&r), P::I(now)],
            )?;
            db.execute(
                "UPDATE runs SET state = 'queued', ended_at = NULL WHERE run_id = $1",
                &[P::t(&r)],
            )?;
            finalize(db, &r, now)?;
            Ok(())
        })
        .await
    }

    pub async fn last_scheduled_fire(
        &self,
        schedule: &str,
    ) -> Result<Option<DateTime<Utc>>, OrchestrateError> {
        let s = schedule.to_string();
        self.read(move |db| {
            let rows = db.query(
                "SELECT MAX(fire_at) FROM schedule_fires WHERE schedule = $1",
                &[P::t(&s)],
            )?;
            Ok(rows.first().and_then(|r| time(&r[0])))
        })
        .await
    }

    /// Claims up to `limit` ready tasks (of one run, or of any) for `worker`, leasing each
    /// until `lease_until`: queued, or up for retry and due, with every upstream succeeded or
    /// skipped. Each returned instance is in state running with its attempt counted.
    pub async fn claim_tasks(
        &self,
        run_id: Option<&str>,
        worker: &str,
        limit: usize,
        lease: std::time::Duration,
    ) -> Result<Vec<TaskInstance>, OrchestrateError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let run_id = run_id.map(str::to_string);
        let worker = worker.to_string();
        let dialect = self.dialect;
        self.tx(move |db| {
            let now = Utc::now();
            let lease_until = micros(now) + i64::try_from(lease.as_micros()).unwrap_or(i64::MAX / 4);
            // Rows another worker holds are skipped, not waited for: that worker claims them.
            let lock = match dialect {
                Dialect::Postgres => " FOR UPDATE OF t SKIP LOCKED",
                Dialect::Sqlite => "",
            };
            let run_filter = if run_id.is_some() { " AND t.run_id = $3" } else { "" };
            // Retries that are due come first, then queued tasks, each in run and graph order.
            // Two queries rather than one with OR so that each walks its index in order and
            // stops after `limit` ready tasks, however many runs are queued behind them.
            let ready_sql = |state: &str| {
                format!(
                    "SELECT t.run_id, t.task_id FROM task_instances t \
                     WHERE {state}{run_filter} \
                       AND NOT EXISTS (SELECT 1 FROM task_deps d JOIN task_instances u \
                           ON u.run_id = d.run_id AND u.task_id = d.upstream_id \
                         WHERE d.run_id = t.run_id AND d.task_id = t.task_id AND u.state NOT IN ('succeeded', 'skipped')) \
                     ORDER BY t.run_id, t.seq LIMIT $2{lock}"
                )
            };
            let mut params = vec![P::I(micros(now)), P::I(limit as i64)];
            if let Some(r) = &run_id {
                params.push(P::t(r));
            }
            let mut ready = db.query(
                &ready_sql("t.state = 'up_for_retry' AND t.next_try_at <= $1"),
                &params,
            )?;
            if ready.len() < limit {
                params[1] = P::I((limit - ready.len()) as i64);
                // $1 is unused by this query; PostgreSQL needs every parameter typed, so it
                // appears in a condition that is always true.
                ready.extend(db.query(
                    &ready_sql("t.state = 'queued' AND CAST($1 AS BIGINT) IS NOT NULL"),
                    &params,
                )?);
            }
            let mut claimed = Vec::new();
            for row in ready {
                let (r, t) = (row[0].t().unwrap_or_default(), row[1].t().unwrap_or_default());
                let rows = db.query(
                    &format!(
                        "UPDATE task_instances SET state = 'running', attempt = attempt + 1, started_at = $3, \
                           ended_at = NULL, next_try_at = NULL, worker = $4, lease_until = $5, error = NULL \
                         WHERE run_id = $1 AND task_id = $2 RETURNING {TASK_COLS}"
                    ),
                    &[P::t(&r), P::t(&t), P::I(micros(now)), P::t(&worker), P::I(lease_until)],
                )?;
                db.execute(
                    "UPDATE runs SET state = 'running', started_at = COALESCE(started_at, $2) \
                     WHERE run_id = $1 AND state = 'queued'",
                    &[P::t(&r), P::I(micros(now))],
                )?;
                for row in &rows {
                    claimed.push(task_from(row)?);
                }
            }
            Ok(claimed)
        })
        .await
    }

    /// Extends the lease of a task this worker runs; false when the task is no longer this
    /// worker's (its lease expired and it was reaped), so the worker must stop it.
    pub async fn heartbeat(
        &self,
        run_id: &str,
        task_id: &str,
        worker: &str,
        attempt: u32,
        lease: std::time::Duration,
    ) -> Result<bool, OrchestrateError> {
        let (r, t, w) = (run_id.to_string(), task_id.to_string(), worker.to_string());
        self.read(move |db| {
            let until = micros(Utc::now()) + i64::try_from(lease.as_micros()).unwrap_or(i64::MAX / 4);
            let n = db.execute(
                "UPDATE task_instances SET lease_until = $5 \
                 WHERE run_id = $1 AND task_id = $2 AND worker = $3 AND attempt = $4 AND state = 'running'",
                &[P::t(&r), P::t(&t), P::t(&w), P::I(attempt.into()), P::I(until)],
            )?;
            Ok(n == 1)
        })
        .await
    }

    /// Records the end of an attempt. A failure with attempts left becomes up_for_retry at
    /// `retry_at`; without, failed, and everything below it upstream_failed. Returns the new
    /// state, or `None` when the attempt was no longer this worker's (its lease was taken).
    pub async fn finish_task(
        &self,
        run_id: &str,
        task_id: &str,
        worker: &str,
        attempt: u32,
        outcome: Outcome,
    ) -> Result<Option<TaskState>, OrchestrateError> {
        let (r, t, w) = (run_id.to_string(), task_id.to_string(), worker.to_string());
        self.tx(move |db| {
            let now = micros(Utc::now());
            let guard = "WHERE run_id = $1 AND task_id = $2 AND worker = $3 AND attempt = $4 AND state = 'running'";
            let key = [P::t(&r), P::t(&t), P::t(&w), P::I(attempt.into())];
            let rows = match &outcome {
                Outcome::Succeeded { rows, bytes, skipped } => {
                    let state = if *skipped { "skipped" } else { "succeeded" };
                    let mut params = key.to_vec();
                    params.extend([
                        P::t(state),
                        P::I(now),
                        P::I(i64::try_from(*rows).unwrap_or(i64::MAX)),
                        P::I(i64::try_from(*bytes).unwrap_or(i64::MAX)),
                    ]);
                    db.query(
                        &format!(
                            "UPDATE task_instances SET state = $5, ended_at = $6, rows_out = $7, bytes_out = $8, \
                               lease_until = NULL, error = NULL {guard} RETURNING state"
                        ),
                        &params,
                    )?
                }
                Outcome::Failed { error, retry_at } => {
                    let mut params = key.to_vec();
                    params.extend([P::I(now), P::t(error), P::I(micros(*retry_at))]);
                    db.query(
                        &format!(
                            "UPDATE task_instances SET \
                               state = CASE WHEN attempt < max_attempts THEN 'up_for_retry' ELSE 'failed' END, \
                               next_try_at = CASE WHEN attempt < max_attempts THEN CAST($7 AS BIGINT) ELSE NULL END, \
                               ended_at = $5, lease_until = NULL, error = $6 {guard} RETURNING state"
                        ),
                        &params,
                    )?
                }
            };
            let Some(state) = rows.first().and_then(|row| row[0].t()).and_then(|s| TaskState::parse(&s)) else {
                return Ok(None);
            };
            if state == TaskState::Failed {
                propagate_failures(db, &r, now)?;
            }
            Ok(Some(state))
        })
        .await
    }

    /// Tasks left running by a worker whose lease ran out (it died or hung): each goes to
    /// up_for_retry (due now), or failed when it has no attempt left, with a log line saying
    /// the worker was lost.
    pub async fn reap_expired(&self) -> Result<Vec<ReapedTask>, OrchestrateError> {
        let dialect = self.dialect;
        self.tx(move |db| {
            let now = micros(Utc::now());
            let lock = match dialect {
                Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
                Dialect::Sqlite => "",
            };
            let rows = db.query(
                &format!(
                    "SELECT run_id, task_id, attempt, worker, max_attempts FROM task_instances \
                     WHERE state = 'running' AND lease_until < $1{lock}"
                ),
                &[P::I(now)],
            )?;
            let mut out = Vec::new();
            for row in rows {
                let r = row[0].t().unwrap_or_default();
                let t = row[1].t().unwrap_or_default();
                let attempt = row[2].i().unwrap_or(0);
                let worker = row[3].t();
                let max = row[4].i().unwrap_or(1);
                let state = if attempt < max {
                    TaskState::UpForRetry
                } else {
                    TaskState::Failed
                };
                let message = format!(
                    "worker {} was lost: its lease expired while attempt {attempt} was running",
                    worker.as_deref().unwrap_or("?")
                );
                db.execute(
                    "UPDATE task_instances SET state = $4, next_try_at = $5, ended_at = $7, lease_until = NULL, error = $6 \
                     WHERE run_id = $1 AND task_id = $2 AND attempt = $3 AND state = 'running'",
                    &[
                        P::t(&r),
                        P::t(&t),
                        P::I(attempt),
                        P::t(state.as_str()),
                        P::opt_i((state == TaskState::UpForRetry).then_some(now)),
                        P::t(&message),
                        P::I(now),
                    ],
                )?;
                log(db, &r, &t, attempt as u32, "error", &message, now)?;
                if state == TaskState::Failed {
                    propagate_failures(db, &r, now)?;
                }
                out.push(ReapedTask {
                    run_id: r,
                    task_id: t,
                    attempt: attempt as u32,
                    worker,
                    state,
                });
            }
            Ok(out)
        })
        .await
    }

    /// Brings the run's state up to date with its tasks' and returns it.
    pub async fn finalize_run(&self, run_id: &str) -> Result<RunRecord, OrchestrateError> {
        let r = run_id.to_string();
        self.tx(move |db| finalize(db, &r, micros(Utc::now())))
            .await
    }

    /// Brings up to date the runs marked queued or running that have no task left to run (a
    /// run of no tasks, or one whose last task was settled by a reaper); returns them.
    pub async fn finalize_settled_runs(&self) -> Result<Vec<RunRecord>, OrchestrateError> {
        self.tx(|db| {
            let now = micros(Utc::now());
            let rows = db.query(
                "SELECT r.run_id FROM runs r WHERE r.state IN ('queued', 'running') AND NOT EXISTS ( \
                   SELECT 1 FROM task_instances t WHERE t.run_id = r.run_id \
                     AND t.state IN ('queued', 'running', 'up_for_retry'))",
                &[],
            )?;
            let mut out = Vec::new();
            for row in rows {
                if let Some(id) = row[0].t() {
                    out.push(finalize(db, &id, now)?);
                }
            }
            Ok(out)
        })
        .await
    }

    /// Marks the schedule's runs that have not finished within `sla` of their start (or of
    /// their creation, if no worker started them) and were not marked before; returns them.
    pub async fn mark_sla_missed(
        &self,
        schedule: &str,
        sla: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<RunRecord>, OrchestrateError> {
        let s = schedule.to_string();
        self.tx(move |db| {
            let sla = i64::try_from(sla.as_micros()).unwrap_or(i64::MAX / 4);
            let rows = db.query(
                &format!(
                    "UPDATE runs SET sla_missed = 1 WHERE schedule = $1 AND sla_missed = 0 AND ( \
                       (ended_at IS NULL AND COALESCE(started_at, created_at) + $2 < $3) \
                       OR (ended_at IS NOT NULL AND ended_at - COALESCE(started_at, created_at) > $2)) \
                     RETURNING {RUN_COLS}"
                ),
                &[P::t(&s), P::I(sla), P::I(micros(now))],
            )?;
            rows.iter().map(run_from).collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_sort_by_time_and_differ() {
        let t1 = Utc::now();
        let t2 = t1 + chrono::Duration::milliseconds(1);
        let (a, b, c) = (new_run_id(t1), new_run_id(t1), new_run_id(t2));
        assert_ne!(a, b);
        assert!(a < c && b < c, "{a} {b} {c}");
    }
}
