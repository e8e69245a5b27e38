//! `/metrics`: the numbers of the metadata store in the Prometheus text format. Everything but
//! the process metrics is a function of the store's contents (and the caller's inputs), so
//! several `pulse serve` processes sharing one store report the same numbers.
//!
//! Every scrape reads the run records (one small row each); task instances are read once per
//! finished run and kept as running totals, and again for every run still active. A finished run
//! that changes again (a retry or resume re-queues it, so its end time changes) makes the totals
//! be rebuilt from the store.

use crate::alerts::AlertStore;
use crate::error::Result;
use crate::inputs::MonitorInputs;
use crate::prometheus::{DURATION_BUCKETS, Exposition, Histogram, Kind};
use chrono::{DateTime, Utc};
use pulse_orchestrate::{Page, RunRecord, RunState, Schedule, Store, TaskInstance, TaskState};
use std::collections::{BTreeMap, HashMap};

const RUN_PAGE: u32 = 1000;
const TASK_CHUNK: usize = 100;
const KINDS: [&str; 3] = ["land", "validate", "model"];
const TASK_END_STATES: [&str; 3] = ["succeeded", "failed", "skipped"];

#[derive(Debug, Clone, Default)]
struct TaskTotals {
    kind: String,
    rows: u64,
    bytes: u64,
    failures: u64,
    retries: u64,
}

#[derive(Debug, Clone, Default)]
struct Totals {
    run_duration: BTreeMap<String, Histogram>,
    task_duration: BTreeMap<(String, String), Histogram>,
    /// From queued to the first attempt's start, by kind.
    queue_wait: BTreeMap<String, Histogram>,
    tasks: BTreeMap<String, TaskTotals>,
    /// Validation tasks that ended failed, by dataset.
    quality_failures: BTreeMap<String, u64>,
}

fn hist() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

impl Totals {
    fn add_run(&mut self, run: &RunRecord, tasks: &[TaskInstance]) {
        if run.state.is_terminal()
            && let Some(end) = run.ended_at
        {
            let start = run.started_at.unwrap_or(run.created_at);
            self.run_duration
                .entry(run.state.as_str().to_string())
                .or_insert_with(hist)
                .observe(secs(end - start));
        }
        for t in tasks {
            let kind = t.kind.as_str().to_string();
            let e = self.tasks.entry(t.task_id.clone()).or_default();
            e.kind = kind.clone();
            e.retries += u64::from(t.attempt.saturating_sub(1));
            match t.state {
                TaskState::Succeeded => {
                    e.rows += t.rows;
                    e.bytes += t.bytes;
                }
                TaskState::Failed => {
                    e.failures += 1;
                    if let Some(d) = t.task_id.strip_prefix("validate:") {
                        *self.quality_failures.entry(d.to_string()).or_default() += 1;
                    }
                }
                _ => {}
            }
            if matches!(
                t.state,
                TaskState::Succeeded | TaskState::Failed | TaskState::Skipped
            ) && let (Some(s), Some(e)) = (t.started_at, t.ended_at)
            {
                self.task_duration
                    .entry((kind.clone(), t.state.as_str().to_string()))
                    .or_insert_with(hist)
                    .observe(secs(e - s));
            }
            if t.attempt == 1
                && let Some(s) = t.started_at
            {
                self.queue_wait
                    .entry(kind)
                    .or_insert_with(hist)
                    .observe(secs(s - t.queued_at));
            }
        }
    }

    fn merge(&mut self, o: &Totals) {
        for (k, h) in &o.run_duration {
            self.run_duration
                .entry(k.clone())
                .or_insert_with(hist)
                .merge(h);
        }
        for (k, h) in &o.task_duration {
            self.task_duration
                .entry(k.clone())
                .or_insert_with(hist)
                .merge(h);
        }
        for (k, h) in &o.queue_wait {
            self.queue_wait
                .entry(k.clone())
                .or_insert_with(hist)
                .merge(h);
        }
        for (k, t) in &o.tasks {
            let e = self.tasks.entry(k.clone()).or_default();
            e.kind = t.kind.clone();
            e.rows += t.rows;
            e.bytes += t.bytes;
            e.failures += t.failures;
            e.retries += t.retries;
        }
        for (k, n) in &o.quality_failures {
            *self.quality_failures.entry(k.clone()).or_default() += n;
        }
    }
}

fn secs(d: chrono::Duration) -> f64 {
    (d.num_milliseconds() as f64 / 1000.0).max(0.0)
}

#[derive(Debug, Default)]
struct Cache {
    /// Finished runs counted in `totals`, with the end they had.
    seen: HashMap<String, (RunState, Option<DateTime<Utc>>)>,
    totals: Totals,
}

/// Keeps the running totals between scrapes; one per process.
#[derive(Debug, Default)]
pub struct Telemetry {
    cache: tokio::sync::Mutex<Cache>,
}

async fn all_runs(store: &Store) -> Result<Vec<RunRecord>> {
    let mut runs: Vec<RunRecord> = Vec::new();
    loop {
        let page = store
            .list_runs(&Page {
                limit: RUN_PAGE,
                before: runs.last().map(|r| r.run_id.clone()),
            })
            .await?;
        let full = page.len() == RUN_PAGE as usize;
        runs.extend(page);
        if !full {
            return Ok(runs);
        }
    }
}

async fn tasks_by_run(store: &Store, ids: &[String]) -> Result<HashMap<String, Vec<TaskInstance>>> {
    let mut out: HashMap<String, Vec<TaskInstance>> = HashMap::new();
    for chunk in ids.chunks(TASK_CHUNK) {
        for t in store.tasks_for_runs(chunk).await? {
            out.entry(t.run_id.clone()).or_default().push(t);
        }
    }
    Ok(out)
}

impl Telemetry {
    pub fn new() -> Telemetry {
        Telemetry::default()
    }

    /// The whole exposition: store metrics, the caller's freshness and quality facts, scheduler
    /// lag, the alert store's incidents (when given), and this process's metrics.
    pub async fn render(
        &self,
        store: &Store,
        alerts: Option<&AlertStore>,
        inputs: &MonitorInputs,
        now: DateTime<Utc>,
    ) -> Result<String> {
        let runs = all_runs(store).await?;
        let mut cache = self.cache.lock().await;
        let changed = runs.iter().any(|r| {
            cache
                .seen
                .get(&r.run_id)
                .is_some_and(|(state, ended)| *state != r.state || *ended != r.ended_at)
        }) || cache.seen.len()
            > runs
                .iter()
                .filter(|r| cache.seen.contains_key(&r.run_id))
                .count();
        if changed {
            *cache = Cache::default();
        }
        let new_done: Vec<&RunRecord> = runs
            .iter()
            .filter(|r| r.state.is_terminal() && !cache.seen.contains_key(&r.run_id))
            .collect();
        let active: Vec<&RunRecord> = runs.iter().filter(|r| !r.state.is_terminal()).collect();
        let ids: Vec<String> = new_done.iter().map(|r| r.run_id.clone()).collect();
        let done_tasks = tasks_by_run(store, &ids).await?;
        for r in &new_done {
            let tasks = done_tasks.get(&r.run_id).map(Vec::as_slice).unwrap_or(&[]);
            cache.totals.add_run(r, tasks);
            cache.seen.insert(r.run_id.clone(), (r.state, r.ended_at));
        }
        let ids: Vec<String> = active.iter().map(|r| r.run_id.clone()).collect();
        let active_tasks = tasks_by_run(store, &ids).await?;
        let mut totals = cache.totals.clone();
        drop(cache);
        let mut live = Totals::default();
        let (mut queued, mut retrying, mut running) = (0u64, 0u64, 0u64);
        for r in &active {
            let tasks = active_tasks
                .get(&r.run_id)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            live.add_run(r, tasks);
            for t in tasks {
                match t.state {
                    TaskState::Queued => queued += 1,
                    TaskState::UpForRetry => retrying += 1,
                    TaskState::Running => running += 1,
                    _ => {}
                }
            }
        }
        totals.merge(&live);

        let mut e = Exposition::new();
        let mut by_state: BTreeMap<&str, u64> = [
            RunState::Queued,
            RunState::Running,
            RunState::Succeeded,
            RunState::Failed,
        ]
        .iter()
        .map(|s| (s.as_str(), 0))
        .collect();
        let mut sla_missed: BTreeMap<String, u64> = BTreeMap::new();
        for r in &runs {
            *by_state.entry(r.state.as_str()).or_default() += 1;
            if r.sla_missed {
                *sla_missed
                    .entry(r.schedule.clone().unwrap_or_else(|| "manual".into()))
                    .or_default() += 1;
            }
        }
        e.family(
            "pulse_runs",
            Kind::Gauge,
            "Runs in the metadata store by state.",
        );
        for (s, n) in &by_state {
            e.sample("pulse_runs", &[("state", s)], *n as f64);
        }
        e.family(
            "pulse_run_duration_seconds",
            Kind::Histogram,
            "Finished runs: from the first task's start to the run's end, by final state.",
        );
        for s in ["succeeded", "failed"] {
            let h = totals.run_duration.get(s).cloned().unwrap_or_else(hist);
            e.histogram("pulse_run_duration_seconds", &[("state", s)], &h);
        }
        e.family(
            "pulse_run_sla_missed_total",
            Kind::Counter,
            "Runs marked as having missed their schedule's SLA, by schedule.",
        );
        for (s, n) in &sla_missed {
            e.sample("pulse_run_sla_missed_total", &[("schedule", s)], *n as f64);
        }
        e.family(
            "pulse_task_duration_seconds",
            Kind::Histogram,
            "Finished task attempts (the last attempt of each task instance), by task kind and final state.",
        );
        for kind in KINDS {
            for state in TASK_END_STATES {
                let h = totals
                    .task_duration
                    .get(&(kind.to_string(), state.to_string()))
                    .cloned()
                    .unwrap_or_else(hist);
                e.histogram(
                    "pulse_task_duration_seconds",
                    &[("kind", kind), ("state", state)],
                    &h,
                );
            }
        }
        e.family(
            "pulse_task_queue_wait_seconds",
            Kind::Histogram,
            "From a task being queued to its first attempt starting, by task kind.",
        );
        for kind in KINDS {
            let h = totals.queue_wait.get(kind).cloned().unwrap_or_else(hist);
            e.histogram("pulse_task_queue_wait_seconds", &[("kind", kind)], &h);
        }
        type Pick = fn(&TaskTotals) -> u64;
        let per_task: [(&str, &str, Pick); 4] = [
            (
                "pulse_task_rows_total",
                "Rows written by successful task instances, by task.",
                |t| t.rows,
            ),
            (
                "pulse_task_bytes_total",
                "Bytes written by successful task instances, by task.",
                |t| t.bytes,
            ),
            (
                "pulse_task_failures_total",
                "Task instances that failed after their retries, by task.",
                |t| t.failures,
            ),
            (
                "pulse_task_retries_total",
                "Attempts after the first, by task.",
                |t| t.retries,
            ),
        ];
        for (name, help, pick) in per_task {
            e.family(name, Kind::Counter, help);
            for (id, t) in &totals.tasks {
                e.sample(name, &[("task", id), ("kind", &t.kind)], pick(t) as f64);
            }
        }
        e.family(
            "pulse_quality_failures_total",
            Kind::Counter,
            "Validations that failed (an error-severity expectation did not hold), by dataset.",
        );
        for (d, n) in &totals.quality_failures {
            e.sample("pulse_quality_failures_total", &[("dataset", d)], *n as f64);
        }
        e.family(
            "pulse_quality_expectations",
            Kind::Gauge,
            "Expectations of each dataset's latest validation, by result.",
        );
        let mut latest: BTreeMap<&str, &crate::inputs::QualityResult> = BTreeMap::new();
        for q in &inputs.quality {
            let slot = latest.entry(q.dataset.as_str()).or_insert(q);
            if q.at > slot.at {
                *slot = q;
            }
        }
        for (d, q) in &latest {
            e.sample(
                "pulse_quality_expectations",
                &[("dataset", d), ("result", "passed")],
                f64::from(q.passed),
            );
            e.sample(
                "pulse_quality_expectations",
                &[("dataset", d), ("result", "failed")],
                f64::from(q.failed),
            );
        }
        e.family(
            "pulse_queue_depth",
            Kind::Gauge,
            "Task instances waiting to run: queued, or waiting for their next attempt.",
        );
        e.sample("pulse_queue_depth", &[("state", "queued")], queued as f64);
        e.sample(
            "pulse_queue_depth",
            &[("state", "up_for_retry")],
            retrying as f64,
        );
        e.single(
            "pulse_tasks_running",
            Kind::Gauge,
            "Task instances running now.",
            running as f64,
        );
        e.family(
            "pulse_dataset_freshness_lag_seconds",
            Kind::Gauge,
            "Seconds since each dataset was last updated.",
        );
        for d in &inputs.datasets {
            if let Some(u) = d.last_updated {
                e.sample(
                    "pulse_dataset_freshness_lag_seconds",
                    &[("dataset", &d.id)],
                    secs(now - u),
                );
            }
        }
        e.family(
            "pulse_dataset_freshness_max_age_seconds",
            Kind::Gauge,
            "The age each dataset may reach before it is stale.",
        );
        for d in &inputs.datasets {
            if let Some(m) = d.max_age {
                e.sample(
                    "pulse_dataset_freshness_max_age_seconds",
                    &[("dataset", &d.id)],
                    m.as_secs_f64(),
                );
            }
        }
        e.family(
            "pulse_scheduler_lag_seconds",
            Kind::Gauge,
            "How long the oldest fire time of each schedule has been due without a run (0: up to date).",
        );
        for s in &inputs.schedules {
            let Ok(schedule) = Schedule::new(s) else {
                continue;
            };
            let last = store.last_scheduled_fire(&s.name).await?;
            let lag = schedule
                .due_fires(last, now)
                .first()
                .map_or(0.0, |f| secs(now - *f));
            e.sample("pulse_scheduler_lag_seconds", &[("schedule", &s.name)], lag);
        }
        if let Some(a) = alerts {
            let stats = a.stats().await?;
            e.family(
                "pulse_alerts_open",
                Kind::Gauge,
                "Open incidents by severity and whether they were notified, held back by an upstream incident, or silenced.",
            );
            for ((severity, status), n) in &stats.open {
                e.sample(
                    "pulse_alerts_open",
                    &[("severity", severity), ("status", status)],
                    *n as f64,
                );
            }
            e.family(
                "pulse_alert_notifications",
                Kind::Gauge,
                "Notifications by state: pending (due or waiting to be retried), sent, failed (given up).",
            );
            for (state, n) in &stats.notifications {
                e.sample("pulse_alert_notifications", &[("state", state)], *n as f64);
            }
        }
        process_metrics(&mut e);
        Ok(e.finish())
    }
}

/// The standard `process_*` metrics from /proc/self (Linux); nothing elsewhere.
fn process_metrics(e: &mut Exposition) {
    // The kernel's USER_HZ, 100 on every Linux architecture userland sees.
    const TICKS: f64 = 100.0;
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
        && let Some((_, rest)) = stat.rsplit_once(')')
    {
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
        if let (Some(u), Some(s)) = (num(11), num(12)) {
            e.single(
                "process_cpu_seconds_total",
                Kind::Counter,
                "Total user and system CPU time spent in seconds.",
                (u + s) / TICKS,
            );
        }
        if let Some(v) = num(20) {
            e.single(
                "process_virtual_memory_bytes",
                Kind::Gauge,
                "Virtual memory size in bytes.",
                v,
            );
        }
        let btime = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<f64>().ok())
        });
        if let (Some(b), Some(start)) = (btime, num(19)) {
            e.single(
                "process_start_time_seconds",
                Kind::Gauge,
                "Start time of the process since unix epoch in seconds.",
                b + start / TICKS,
            );
        }
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(kb) = status.lines().find_map(|l| {
            l.strip_prefix("VmRSS:")
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
    {
        e.single(
            "process_resident_memory_bytes",
            Kind::Gauge,
            "Resident memory size in bytes.",
            kb * 1024.0,
        );
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        e.single(
            "process_open_fds",
            Kind::Gauge,
            "Number of open file descriptors.",
            fds.count() as f64,
        );
    }
    if let Ok(limits) = std::fs::read_to_string("/proc/self/limits")
        && let Some(max) = limits.lines().find_map(|l| {
            l.strip_prefix("Max open files")
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
        })
    {
        e.single(
            "process_max_fds",
            Kind::Gauge,
            "Maximum number of open file descriptors.",
            max,
        );
    }
}
