//! Runs the tasks of runs: claims ready tasks with a lease, runs them through a [`TaskRunner`]
//! up to `parallelism` at once, renews the lease while they run, applies the timeout, and
//! records the outcome with Airflow's semantics (retries with exponential backoff, then failed
//! and everything below upstream_failed). Leases make crashes recoverable: a task whose worker
//! died is found by its expired lease and tried again.

use crate::error::OrchestrateError;
use crate::graph::{AssetGraph, TaskKind};
use crate::store::{NewRun, Outcome, RunRecord, Store, TaskInstance, TaskState};
use chrono::{NaiveDate, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinSet;

/// Where a task writes its log: the store (shown with the task in the UI) and tracing.
#[derive(Clone)]
pub struct TaskLog {
    store: Store,
    run_id: String,
    task_id: String,
    attempt: u32,
}

impl TaskLog {
    pub fn new(store: Store, run_id: &str, task_id: &str, attempt: u32) -> Self {
        Self {
            store,
            run_id: run_id.to_string(),
            task_id: task_id.to_string(),
            attempt,
        }
    }

    pub fn info(&self, message: impl AsRef<str>) {
        let m = message.as_ref();
        tracing::info!(run_id = %self.run_id, task_id = %self.task_id, attempt = self.attempt, "{m}");
        self.write("info", m);
    }

    pub fn warn(&self, message: impl AsRef<str>) {
        let m = message.as_ref();
        tracing::warn!(run_id = %self.run_id, task_id = %self.task_id, attempt = self.attempt, "{m}");
        self.write("warn", m);
    }

    pub fn error(&self, message: impl AsRef<str>) {
        let m = message.as_ref();
        tracing::error!(run_id = %self.run_id, task_id = %self.task_id, attempt = self.attempt, "{m}");
        self.write("error", m);
    }

    fn write(&self, level: &str, message: &str) {
        self.store
            .append_log_nowait(&self.run_id, &self.task_id, self.attempt, level, message);
    }
}

/// Tells a runner that its attempt was given up (timed out, or its lease was lost). The
/// runner's future is dropped then, but work it handed to other threads (a blocking query)
/// goes on unless it checks this and stops.
#[derive(Clone)]
pub struct Cancel(tokio::sync::watch::Receiver<bool>);

impl Cancel {
    /// A signal and the sender that raises it.
    pub fn new() -> (tokio::sync::watch::Sender<bool>, Cancel) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        (tx, Cancel(rx))
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes when the attempt is given up (or its executor is gone).
    pub async fn cancelled(&self) {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// What a runner gets for one attempt of one task.
#[derive(Clone)]
pub struct TaskContext {
    pub run_id: String,
    pub task_id: String,
    pub kind: TaskKind,
    pub target: String,
    pub logical_date: NaiveDate,
    pub attempt: u32,
    pub log: TaskLog,
    pub cancel: Cancel,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskOutput {
    pub rows: u64,
    pub bytes: u64,
    /// Nothing to do (no new data): recorded as skipped, which lets dependants run.
    pub skipped: bool,
}

/// Does the work of a task (land a source, validate a table, build a model). An `Err` is the
/// message recorded for the failed attempt.
pub trait TaskRunner: Send + Sync + 'static {
    fn run(&self, ctx: TaskContext) -> BoxFuture<'static, Result<TaskOutput, String>>;
}

#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// Recorded on each claimed task; must differ between processes sharing a store.
    pub worker_id: String,
    /// Tasks at once in this executor, over all the runs it drives.
    pub parallelism: usize,
    pub retry_delay: Duration,
    pub max_retry_delay: Duration,
    pub timeout: Duration,
    pub lease: Duration,
    /// How often to look for ready tasks when nothing finished.
    pub poll_interval: Duration,
}

impl ExecutorOptions {
    /// From `[orchestrator]`, with a worker id unique to this process.
    pub fn from_config(c: &pulse_project::OrchestratorConfig) -> Self {
        Self {
            worker_id: default_worker_id(),
            parallelism: c.parallelism.max(1),
            retry_delay: c.retry_delay.as_std(),
            max_retry_delay: c.max_retry_delay.as_std(),
            timeout: c.timeout.as_std(),
            lease: c.lease.as_std(),
            poll_interval: Duration::from_millis(500),
        }
    }
}

impl Default for ExecutorOptions {
    fn default() -> Self {
        Self::from_config(&pulse_project::OrchestratorConfig::default())
    }
}

/// `host-pid-random`: readable in the UI, and different for every process.
pub fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".into());
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!("{host}-{}-{:04x}", std::process::id(), h.finish() & 0xffff)
}

/// The wait before attempt `attempt + 1` after attempt `attempt` failed: `base * 2^(attempt-1)`,
/// at most `max`.
pub fn backoff_delay(base: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    base.checked_mul(1u32 << exp).unwrap_or(max).min(max)
}

pub struct Executor {
    store: Store,
    runner: Arc<dyn TaskRunner>,
    opts: ExecutorOptions,
    slots: Arc<Semaphore>,
    /// Claims happen one at a time so that a claim never takes more tasks than free slots.
    claim_lock: Mutex<()>,
}

type Running = JoinSet<String>;

impl Executor {
    pub fn new(store: Store, runner: Arc<dyn TaskRunner>, opts: ExecutorOptions) -> Self {
        let slots = Arc::new(Semaphore::new(opts.parallelism.max(1)));
        Self {
            store,
            runner,
            opts,
            slots,
            claim_lock: Mutex::new(()),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn options(&self) -> &ExecutorOptions {
        &self.opts
    }

    fn reap_every(&self) -> Duration {
        (self.opts.lease / 3).max(self.opts.poll_interval)
    }

    /// Runs the tasks of `run_id` until every one is done, and returns the final record.
    /// Other workers may work on the same run at the same time.
    pub async fn drive_run(&self, run_id: &str) -> Result<RunRecord, OrchestrateError> {
        let run = self
            .store
            .run(run_id)
            .await?
            .ok_or_else(|| OrchestrateError::NotFound {
                what: "run",
                name: run_id.to_string(),
            })?;
        let mut dates = HashMap::from([(run.run_id.clone(), run.logical_date)]);
        let mut running: Running = JoinSet::new();
        self.reap().await?;
        let mut last_reap = Instant::now();
        loop {
            self.claim_and_start(Some(run_id), &mut dates, &mut running)
                .await?;
            if running.is_empty() {
                let rec = self.store.finalize_run(run_id).await?;
                if rec.state.is_terminal() {
                    return Ok(rec);
                }
            }
            tokio::select! {
                Some(done) = running.join_next(), if !running.is_empty() => {
                    if let Err(e) = done {
                        tracing::error!("a task's supervisor stopped: {e}");
                    }
                }
                _ = tokio::time::sleep(self.opts.poll_interval) => {}
            }
            if last_reap.elapsed() >= self.reap_every() {
                self.reap().await?;
                last_reap = Instant::now();
            }
        }
    }

    /// The worker loop of `pulse serve --worker`: runs ready tasks of every run, recovers tasks
    /// of dead workers and keeps run states current, until `shutdown` turns true; then it
    /// stops claiming and waits for its running tasks.
    pub async fn work(
        &self,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), OrchestrateError> {
        let mut dates: HashMap<String, NaiveDate> = HashMap::new();
        let mut running: Running = JoinSet::new();
        // The first reap happens at once: tasks a previous incarnation of this worker left
        // running are recovered on start.
        let mut last_reap: Option<Instant> = None;
        let mut finished: Vec<String> = Vec::new();
        let mut stop = false;
        while !stop && !*shutdown.borrow() {
            let step = async {
                if last_reap.is_none_or(|t| t.elapsed() >= self.reap_every()) {
                    self.reap_and_finalize().await?;
                    last_reap = Some(Instant::now());
                }
                for run_id in finished.drain(..) {
                    self.store.finalize_run(&run_id).await?;
                }
                self.claim_and_start(None, &mut dates, &mut running).await
            };
            let pause = match step.await {
                Ok(()) => self.opts.poll_interval,
                Err(e) => {
                    // A long-running worker rides out a store outage instead of exiting.
                    tracing::error!("worker {}: {e}; trying again", self.opts.worker_id);
                    self.opts.poll_interval.max(Duration::from_secs(1))
                }
            };
            tokio::select! {
                Some(done) = running.join_next(), if !running.is_empty() => {
                    match done {
                        Ok(run_id) => finished.push(run_id),
                        Err(e) => tracing::error!("a task's supervisor stopped: {e}"),
                    }
                }
                _ = tokio::time::sleep(pause) => {}
                changed = shutdown.changed() => {
                    // The sender is gone: nobody can ask this worker to stop any more, so
                    // treat it as the request.
                    stop = changed.is_err();
                }
            }
        }
        while let Some(done) = running.join_next().await {
            if let Ok(run_id) = done {
                finished.push(run_id);
            }
        }
        for run_id in finished {
            self.store.finalize_run(&run_id).await?;
        }
        Ok(())
    }

    /// One run per date from `from` to `to`, at most `max_active_runs` at once; returns the
    /// runs in date order once all are done.
    pub async fn backfill(
        &self,
        graph: &AssetGraph,
        from: NaiveDate,
        to: NaiveDate,
        max_active_runs: usize,
        max_attempts: u32,
    ) -> Result<Vec<RunRecord>, OrchestrateError> {
        use futures::StreamExt;
        if to < from {
            return Err(OrchestrateError::Config(format!(
                "backfill: --to {to} is before --from {from}"
            )));
        }
        let dates: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
        let results: Vec<Result<RunRecord, OrchestrateError>> = futures::stream::iter(dates)
            .map(|date| async move {
                // The run is created only when a slot is free, so queued runs never pile
                // up for other workers to start beyond the bound.
                let run = self
                    .store
                    .create_run(NewRun {
                        logical_date: date,
                        trigger: "backfill".into(),
                        schedule: None,
                        tasks: graph.tasks.clone(),
                        max_attempts,
                    })
                    .await?;
                self.drive_run(&run.run_id).await
            })
            .buffered(max_active_runs.max(1))
            .collect()
            .await;
        results.into_iter().collect()
    }

    async fn reap(&self) -> Result<Vec<String>, OrchestrateError> {
        let reaped = self.store.reap_expired().await?;
        for r in &reaped {
            tracing::warn!(
                run_id = %r.run_id, task_id = %r.task_id,
                "worker {} was lost during attempt {}; task is now {}",
                r.worker.as_deref().unwrap_or("?"), r.attempt, r.state
            );
        }
        Ok(reaped.into_iter().map(|r| r.run_id).collect())
    }

    async fn reap_and_finalize(&self) -> Result<(), OrchestrateError> {
        for run_id in self.reap().await? {
            self.store.finalize_run(&run_id).await?;
        }
        self.store.finalize_settled_runs().await?;
        Ok(())
    }

    async fn claim_and_start(
        &self,
        run_id: Option<&str>,
        dates: &mut HashMap<String, NaiveDate>,
        running: &mut Running,
    ) -> Result<(), OrchestrateError> {
        let _guard = self.claim_lock.lock().await;
        let free = self.slots.available_permits();
        if free == 0 {
            return Ok(());
        }
        let claimed = self
            .store
            .claim_tasks(run_id, &self.opts.worker_id, free, self.opts.lease)
            .await?;
        for task in claimed {
            let logical_date = match dates.get(&task.run_id) {
                Some(d) => *d,
                None => {
                    let d = match self.store.run(&task.run_id).await? {
                        Some(r) => r.logical_date,
                        None => Utc::now().date_naive(),
                    };
                    dates.insert(task.run_id.clone(), d);
                    d
                }
            };
            let permit = self.slots.clone().try_acquire_owned().map_err(|_| {
                OrchestrateError::Store("claimed more tasks than free slots".into())
            })?;
            let store = self.store.clone();
            let runner = self.runner.clone();
            let opts = self.opts.clone();
            running.spawn(async move {
                let run_id = task.run_id.clone();
                attempt(store, runner, opts, task, logical_date).await;
                drop(permit);
                run_id
            });
        }
        Ok(())
    }
}

/// One attempt of one claimed task, from start to recorded outcome.
async fn attempt(
    store: Store,
    runner: Arc<dyn TaskRunner>,
    opts: ExecutorOptions,
    task: TaskInstance,
    logical_date: NaiveDate,
) {
    let log = TaskLog::new(store.clone(), &task.run_id, &task.task_id, task.attempt);
    log.info(format!(
        "attempt {} of {} started on {}",
        task.attempt, task.max_attempts, opts.worker_id
    ));
    let (cancel_tx, cancel) = Cancel::new();
    let ctx = TaskContext {
        run_id: task.run_id.clone(),
        task_id: task.task_id.clone(),
        kind: task.kind,
        target: task.target.clone(),
        logical_date,
        attempt: task.attempt,
        log: log.clone(),
        cancel,
    };
    let started = Instant::now();
    let work = std::panic::AssertUnwindSafe(runner.run(ctx)).catch_unwind();
    let result = tokio::select! {
        r = tokio::time::timeout(opts.timeout, work) => match r {
            Ok(Ok(Ok(out))) => Ok(out),
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(panic)) => Err(format!("the task panicked: {}", panic_message(&panic))),
            Err(_) => {
                let _ = cancel_tx.send(true);
                Err(format!("timed out after {}", human(opts.timeout)))
            }
        },
        lost = keep_lease(&store, &task, &opts) => {
            // Someone else owns the task now (our lease expired, it was reaped and maybe
            // claimed again): stop and record nothing, so it never counts twice.
            let _ = cancel_tx.send(true);
            log.warn(format!("lease lost ({lost}); this worker stops the attempt"));
            return;
        }
    };
    let elapsed = started.elapsed();
    let outcome = match &result {
        Ok(out) => Outcome::Succeeded {
            rows: out.rows,
            bytes: out.bytes,
            skipped: out.skipped,
        },
        Err(e) => {
            let delay = backoff_delay(opts.retry_delay, opts.max_retry_delay, task.attempt);
            Outcome::Failed {
                error: e.clone(),
                retry_at: Utc::now()
                    + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX),
            }
        }
    };
    match store
        .finish_task(
            &task.run_id,
            &task.task_id,
            &opts.worker_id,
            task.attempt,
            outcome,
        )
        .await
    {
        Ok(Some(state)) => match (&result, state) {
            (Ok(out), _) => log.info(format!(
                "{state} in {}: {} rows, {} bytes",
                human(elapsed),
                out.rows,
                out.bytes
            )),
            (Err(e), TaskState::UpForRetry) => log.error(format!(
                "attempt {} failed after {}: {e}; retrying in {}",
                task.attempt,
                human(elapsed),
                human(backoff_delay(
                    opts.retry_delay,
                    opts.max_retry_delay,
                    task.attempt
                ))
            )),
            (Err(e), _) => log.error(format!(
                "attempt {} failed after {}: {e}; no attempts left",
                task.attempt,
                human(elapsed)
            )),
        },
        Ok(None) => log.warn("the outcome was not recorded: another worker took the task over"),
        Err(e) => tracing::error!(
            run_id = %task.run_id, task_id = %task.task_id,
            "cannot record the outcome: {e}; the lease will expire and the task be retried"
        ),
    }
}

/// Renews the lease every third of it; returns only when it cannot.
async fn keep_lease(store: &Store, task: &TaskInstance, opts: &ExecutorOptions) -> String {
    let every = (opts.lease / 3).max(Duration::from_millis(10));
    loop {
        tokio::time::sleep(every).await;
        match store
            .heartbeat(
                &task.run_id,
                &task.task_id,
                &opts.worker_id,
                task.attempt,
                opts.lease,
            )
            .await
        {
            Ok(true) => {}
            Ok(false) => return "the task is no longer this worker's".into(),
            // A store hiccup is not a lost lease; the next heartbeat may get through.
            Err(e) => tracing::warn!(task_id = %task.task_id, "heartbeat failed: {e}"),
        }
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// `1h 5m`, `2.5s`, `120ms`: short and readable in logs.
pub(crate) fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let s = d.as_secs();
        match (s / 3600, (s % 3600) / 60, s % 60) {
            (0, m, 0) => format!("{m}m"),
            (0, m, s) => format!("{m}m {s}s"),
            (h, 0, _) => format!("{h}h"),
            (h, m, _) => format!("{h}h {m}m"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let b = Duration::from_secs(10);
        let max = Duration::from_secs(600);
        let got: Vec<u64> = (1..=8)
            .map(|a| backoff_delay(b, max, a).as_secs())
            .collect();
        assert_eq!(got, [10, 20, 40, 80, 160, 320, 600, 600]);
        assert_eq!(backoff_delay(b, max, 200), max);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human(Duration::from_millis(120)), "120ms");
        assert_eq!(human(Duration::from_millis(2500)), "2.5s");
        assert_eq!(human(Duration::from_secs(7200)), "2h");
        assert_eq!(human(Duration::from_secs(3900)), "1h 5m");
    }
}
