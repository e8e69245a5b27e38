//! Rule evaluation: from the recent history in the metadata store and the caller's inputs to
//! the alerts firing now. Pure: the same history, inputs and `now` give the same alerts, so
//! several processes evaluating one store agree.

use crate::config::{AlertRuleConfig, MonitorConfig, RuleKind, Severity};
use crate::glob::any_match;
use crate::history::History;
use crate::inputs::{Lineage, MonitorInputs, dataset_of_task};
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use pulse_orchestrate::{RunRecord, RunState, TaskState};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// One condition that holds now. Its `key` (`<rule>:<subject>`) is stable: while the condition
/// holds, evaluations yield the same key, and the incident it opened stays the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub key: String,
    /// The rule's name.
    pub rule: String,
    pub kind: RuleKind,
    /// A task id, dataset id or schedule, or `compute`.
    pub subject: String,
    /// Where the subject sits in the lineage (a task or dataset id); None for run-level rules,
    /// which are never held back.
    pub node: Option<String>,
    pub severity: Severity,
    pub owner: Option<String>,
    pub summary: String,
    /// The upstream tasks and datasets involved, and for a failure the tasks it blocked.
    pub involved: Vec<String>,
    /// The numbers behind the summary.
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub alerts: Vec<Alert>,
    /// The names of the rules judged.
    pub evaluated: Vec<String>,
}

/// `3h 05m`, `12m 30s`, `45s`.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        s if s >= 86_400 => format!("{}d {:02}h", s / 86_400, (s % 86_400) / 3600),
        s if s >= 3600 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

fn first_line(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    if line.chars().count() > max {
        let cut: String = line.chars().take(max).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}

/// When the run's clock started: its first task's start, or its creation if none started.
pub fn run_start(r: &RunRecord) -> DateTime<Utc> {
    r.started_at.unwrap_or(r.created_at)
}

/// Seconds a finished run took, or an unfinished one has taken by `now`.
pub fn run_elapsed(r: &RunRecord, now: DateTime<Utc>) -> i64 {
    (r.ended_at.unwrap_or(now) - run_start(r))
        .num_seconds()
        .max(0)
}

/// What a deadline is judged by: a run delivers only by succeeding, so a failed run's clock
/// runs on until a retry succeeds.
pub fn sla_elapsed(r: &RunRecord, now: DateTime<Utc>) -> i64 {
    match r.state {
        RunState::Succeeded => run_elapsed(r, now),
        _ => (now - run_start(r)).num_seconds().max(0),
    }
}

pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// Groups runs by schedule (`manual` for runs without one), each newest first.
fn runs_by_schedule(history: &History) -> BTreeMap<String, Vec<&RunRecord>> {
    let mut out: BTreeMap<String, Vec<&RunRecord>> = BTreeMap::new();
    for r in &history.runs {
        let name = r.schedule.clone().unwrap_or_else(|| "manual".to_string());
        out.entry(name).or_default().push(r);
    }
    out
}

struct Ctx<'a> {
    history: &'a History,
    inputs: &'a MonitorInputs,
    lineage: &'a Lineage,
    now: DateTime<Utc>,
}

struct Base<'a> {
    rule: &'a AlertRuleConfig,
    name: String,
}

impl Base<'_> {
    fn alert(
        &self,
        ctx: &Ctx,
        subject: &str,
        node: Option<&str>,
        summary: String,
        involved: Vec<String>,
        details: serde_json::Value,
    ) -> Alert {
        let owner = self
            .rule
            .owner()
            .map(str::to_string)
            .or_else(|| node.and_then(|n| ctx.lineage.owner_of(n)))
            .or_else(|| ctx.lineage.owner_of(subject));
        Alert {
            key: format!("{}:{subject}", self.name),
            rule: self.name.clone(),
            kind: self.rule.kind(),
            subject: subject.to_string(),
            node: node.map(str::to_string),
            severity: self.rule.severity(),
            owner,
            summary,
            involved,
            details,
        }
    }
}

/// Judges every rule of `config`.
pub fn evaluate(
    config: &MonitorConfig,
    history: &History,
    inputs: &MonitorInputs,
    now: DateTime<Utc>,
) -> Evaluation {
    let lineage = Lineage::new(
        history.latest_instances(),
        inputs,
        config.monitor.default_owner.clone(),
    );
    let ctx = Ctx {
        history,
        inputs,
        lineage: &lineage,
        now,
    };
    let mut eval = Evaluation::default();
    for rule in &config.alerts {
        let base = Base {
            rule,
            name: rule.name(),
        };
        let alerts = match rule {
            AlertRuleConfig::TaskFailed { select, .. } => task_failed(&ctx, &base, select),
            AlertRuleConfig::Sla { schedules, sla, .. } => {
                sla_missed(&ctx, &base, schedules, sla.map(|d| d.as_std()))
            }
            AlertRuleConfig::Freshness {
                datasets, max_age, ..
            } => stale(&ctx, &base, datasets, max_age.map(|d| d.as_std())),
            AlertRuleConfig::Quality {
                datasets,
                threshold,
                window,
                ..
            } => quality(&ctx, &base, datasets, *threshold, *window as usize),
            AlertRuleConfig::Volume {
                select,
                runs,
                min_runs,
                factor,
                ..
            } => volume(
                &ctx,
                &base,
                select,
                *runs as usize,
                *min_runs as usize,
                *factor,
            ),
            AlertRuleConfig::SlowRun {
                schedules,
                runs,
                min_runs,
                factor,
                min_excess,
                ..
            } => slow_run(
                &ctx,
                &base,
                schedules,
                *runs as usize,
                *min_runs as usize,
                *factor,
                min_excess.as_std().as_secs() as f64,
            ),
            AlertRuleConfig::Cost { .. } => cost(&ctx, &base),
        };
        eval.alerts.extend(alerts);
        eval.evaluated.push(base.name);
    }
    eval
}

fn task_failed(ctx: &Ctx, base: &Base, select: &[String]) -> Vec<Alert> {
    let mut out = Vec::new();
    for task_id in ctx.history.task_ids() {
        if !any_match(select, task_id) {
            continue;
        }
        // The newest instance that settled the task's own fate decides; one still to run, or
        // that could not run because of another task, leaves an earlier failure standing.
        let mut failed = None;
        for (run, t) in ctx.history.instances(task_id) {
            match t.state {
                TaskState::Failed => {
                    failed = Some((run, t));
                    break;
                }
                TaskState::Succeeded | TaskState::Skipped => break,
                _ => {}
            }
        }
        let Some((run, t)) = failed else { continue };
        let blocked: Vec<String> = ctx
            .history
            .tasks_of(&run.run_id)
            .iter()
            .filter(|b| b.state == TaskState::UpstreamFailed)
            .filter(|b| ctx.lineage.downstream_of(&b.task_id, task_id))
            .map(|b| b.task_id.clone())
            .collect();
        let error = t.error.clone().unwrap_or_default();
        let mut summary = format!(
            "task {task_id} failed after {} attempt{} in run {}",
            t.attempt,
            if t.attempt == 1 { "" } else { "s" },
            run.run_id
        );
        if !error.is_empty() {
            summary.push_str(&format!(": {}", first_line(&error, 300)));
        }
        if !blocked.is_empty() {
            summary.push_str(&format!(
                " ({} downstream task{} blocked)",
                blocked.len(),
                if blocked.len() == 1 { "" } else { "s" }
            ));
        }
        let mut involved = t.upstream.clone();
        involved.extend(blocked.iter().cloned());
        out.push(base.alert(
            ctx,
            task_id,
            Some(task_id),
            summary,
            involved,
            json!({
                "run_id": run.run_id,
                "logical_date": run.logical_date.to_string(),
                "attempts": t.attempt,
                "error": error,
                "upstream": t.upstream,
                "blocked": blocked,
            }),
        ));
    }
    out
}

fn sla_missed(
    ctx: &Ctx,
    base: &Base,
    schedules: &[String],
    sla: Option<std::time::Duration>,
) -> Vec<Alert> {
    let mut out = Vec::new();
    for (schedule, runs) in runs_by_schedule(ctx.history) {
        if runs.iter().all(|r| r.schedule.is_none()) {
            continue;
        }
        if !any_match(schedules, &schedule) {
            continue;
        }
        let own = ctx
            .inputs
            .schedules
            .iter()
            .find(|s| s.name == schedule)
            .and_then(|s| s.sla.map(|d| d.as_std()));
        let Some(limit) = sla.or(own) else { continue };
        let limit_s = i64::try_from(limit.as_secs()).unwrap_or(i64::MAX / 4);
        let mut late = Vec::new();
        for (i, r) in runs.iter().enumerate() {
            if i > 0 && r.state.is_terminal() {
                continue;
            }
            if sla_elapsed(r, ctx.now) > limit_s {
                late.push(*r);
            }
        }
        let Some(first) = late.first() else { continue };
        let how = match first.state {
            RunState::Succeeded => format!(
                "succeeded only after {}",
                human_duration(run_elapsed(first, ctx.now))
            ),
            RunState::Failed => format!(
                "failed, and its data is still missing {} after the start",
                human_duration(sla_elapsed(first, ctx.now))
            ),
            _ => format!(
                "still {} after {}",
                first.state,
                human_duration(run_elapsed(first, ctx.now))
            ),
        };
        let summary = format!(
            "run {} of schedule {schedule} missed its {} SLA: {how}",
            first.run_id,
            human_duration(limit_s)
        );
        let mut involved: Vec<String> = Vec::new();
        for r in &late {
            for t in ctx.history.tasks_of(&r.run_id) {
                if !matches!(t.state, TaskState::Succeeded | TaskState::Skipped)
                    && !involved.contains(&t.task_id)
                {
                    involved.push(t.task_id.clone());
                }
            }
        }
        out.push(base.alert(
            ctx,
            &schedule,
            None,
            summary,
            involved,
            json!({
                "sla_seconds": limit_s,
                "runs": late.iter().map(|r| json!({
                    "run_id": r.run_id,
                    "state": r.state.as_str(),
                    "started_at": run_start(r),
                    "ended_at": r.ended_at,
                    "elapsed_seconds": run_elapsed(r, ctx.now),
                })).collect::<Vec<_>>(),
            }),
        ));
    }
    out
}

/// Tasks above `node` whose newest instance did not succeed.
fn broken_upstream(ctx: &Ctx, node: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(p) = ctx.lineage.producer_of(node) {
        out.push(p);
    }
    for up in ctx.lineage.all_upstream(node) {
        if !ctx.lineage.is_task(&up) || out.contains(&up) {
            continue;
        }
        let state = ctx.history.instances(&up).next().map(|(_, t)| t.state);
        if matches!(
            state,
            Some(TaskState::Failed | TaskState::UpstreamFailed | TaskState::UpForRetry)
        ) {
            out.push(up);
        }
    }
    out
}

fn stale(
    ctx: &Ctx,
    base: &Base,
    datasets: &[String],
    max_age: Option<std::time::Duration>,
) -> Vec<Alert> {
    let mut out = Vec::new();
    for d in &ctx.inputs.datasets {
        if !any_match(datasets, &d.id) {
            continue;
        }
        let (Some(limit), Some(updated)) = (max_age.or(d.max_age), d.last_updated) else {
            continue;
        };
        let limit_s = i64::try_from(limit.as_secs()).unwrap_or(i64::MAX / 4);
        let lag = (ctx.now - updated).num_seconds().max(0);
        if lag <= limit_s {
            continue;
        }
        let summary = format!(
            "dataset {} is stale: last updated {} ago, allowed {}",
            d.id,
            human_duration(lag),
            human_duration(limit_s)
        );
        out.push(base.alert(
            ctx,
            &d.id,
            Some(&d.id),
            summary,
            broken_upstream(ctx, &d.id),
            json!({
                "last_updated": updated,
                "lag_seconds": lag,
                "max_age_seconds": limit_s,
            }),
        ));
    }
    out
}

fn quality(
    ctx: &Ctx,
    base: &Base,
    datasets: &[String],
    threshold: f64,
    window: usize,
) -> Vec<Alert> {
    let mut out = Vec::new();
    // Expectation results where the caller reports them.
    let mut reported: BTreeMap<&str, Vec<&crate::inputs::QualityResult>> = BTreeMap::new();
    for q in &ctx.inputs.quality {
        reported.entry(q.dataset.as_str()).or_default().push(q);
    }
    let mut judged: Vec<(String, f64, u64, u64, Vec<String>)> = Vec::new();
    for (dataset, mut results) in reported {
        if !any_match(datasets, dataset) {
            continue;
        }
        results.sort_by_key(|q| std::cmp::Reverse(q.at));
        let last: Vec<_> = results.into_iter().take(window).collect();
        let failed: u64 = last.iter().map(|q| u64::from(q.failed)).sum();
        let total: u64 = last
            .iter()
            .map(|q| u64::from(q.passed) + u64::from(q.failed))
            .sum();
        if total > 0 {
            let runs = last.iter().map(|q| q.run_id.clone()).collect();
            judged.push((
                dataset.to_string(),
                failed as f64 / total as f64,
                failed,
                total,
                runs,
            ));
        }
    }
    // Elsewhere the validation tasks' outcomes.
    for task_id in ctx.history.task_ids() {
        let Some(dataset) = task_id.strip_prefix("validate:") else {
            continue;
        };
        if !any_match(datasets, dataset) || judged.iter().any(|j| j.0 == dataset) {
            continue;
        }
        let last: Vec<_> = ctx
            .history
            .instances(task_id)
            .filter(|(_, t)| matches!(t.state, TaskState::Succeeded | TaskState::Failed))
            .take(window)
            .collect();
        if last.is_empty() {
            continue;
        }
        let failed = last
            .iter()
            .filter(|(_, t)| t.state == TaskState::Failed)
            .count() as u64;
        let runs = last.iter().map(|(r, _)| r.run_id.clone()).collect();
        judged.push((
            dataset.to_string(),
            failed as f64 / last.len() as f64,
            failed,
            last.len() as u64,
            runs,
        ));
    }
    for (dataset, rate, failed, total, runs) in judged {
        if rate <= threshold {
            continue;
        }
        let what = if ctx.inputs.quality.iter().any(|q| q.dataset == dataset) {
            "expectations"
        } else {
            "validations"
        };
        let summary = format!(
            "dataset {dataset}: {failed} of {total} {what} failed ({:.1} %, threshold {:.1} %) over the last {} validation{}",
            rate * 100.0,
            threshold * 100.0,
            runs.len(),
            if runs.len() == 1 { "" } else { "s" }
        );
        out.push(base.alert(
            ctx,
            &dataset,
            Some(&dataset),
            summary,
            broken_upstream(ctx, &dataset),
            json!({
                "failure_rate": rate,
                "threshold": threshold,
                "failed": failed,
                "total": total,
                "counted": what,
                "runs": runs,
            }),
        ));
    }
    out
}

fn volume(
    ctx: &Ctx,
    base: &Base,
    select: &[String],
    runs: usize,
    min_runs: usize,
    factor: f64,
) -> Vec<Alert> {
    let mut out = Vec::new();
    for task_id in ctx.history.task_ids() {
        if !any_match(select, task_id) {
            continue;
        }
        let mut ok = ctx
            .history
            .instances(task_id)
            .filter(|(_, t)| t.state == TaskState::Succeeded);
        let Some((run, latest)) = ok.next() else {
            continue;
        };
        let mut baseline: Vec<f64> = ok.take(runs).map(|(_, t)| t.rows as f64).collect();
        if baseline.len() < min_runs {
            continue;
        }
        let n = baseline.len();
        let Some(med) = median(&mut baseline) else {
            continue;
        };
        let rows = latest.rows as f64;
        let (low, high) = (rows < med / factor, rows > med * factor);
        if !low && !high {
            continue;
        }
        let summary = format!(
            "task {task_id} produced {} rows in run {}, {} the median of {} over its previous {n} successful runs (factor {factor})",
            latest.rows,
            run.run_id,
            if low { "far below" } else { "far above" },
            med.round()
        );
        out.push(base.alert(
            ctx,
            task_id,
            Some(task_id),
            summary,
            latest.upstream.clone(),
            json!({
                "run_id": run.run_id,
                "rows": latest.rows,
                "median": med,
                "factor": factor,
                "baseline_runs": n,
                "direction": if low { "low" } else { "high" },
                "dataset": dataset_of_task(task_id),
            }),
        ));
    }
    out
}

fn slow_run(
    ctx: &Ctx,
    base: &Base,
    schedules: &[String],
    runs: usize,
    min_runs: usize,
    factor: f64,
    min_excess: f64,
) -> Vec<Alert> {
    let mut out = Vec::new();
    for (schedule, list) in runs_by_schedule(ctx.history) {
        if !any_match(schedules, &schedule) {
            continue;
        }
        let Some((newest, earlier)) = list.split_first() else {
            continue;
        };
        if newest.state == RunState::Failed {
            continue;
        }
        let mut baseline: Vec<f64> = earlier
            .iter()
            .filter(|r| r.state == RunState::Succeeded && r.ended_at.is_some())
            .take(runs)
            .map(|r| run_elapsed(r, ctx.now) as f64)
            .collect();
        if baseline.len() < min_runs {
            continue;
        }
        let n = baseline.len();
        let Some(med) = median(&mut baseline) else {
            continue;
        };
        let took = run_elapsed(newest, ctx.now) as f64;
        if !(took > med * factor && took - med >= min_excess) {
            continue;
        }
        let running = !newest.state.is_terminal();
        let summary = format!(
            "run {} of {} {} {}, against a median of {} over the previous {n} successful runs (factor {factor})",
            newest.run_id,
            if schedule == "manual" {
                "manual runs".to_string()
            } else {
                format!("schedule {schedule}")
            },
            if running {
                "has been running for"
            } else {
                "took"
            },
            human_duration(took as i64),
            human_duration(med as i64)
        );
        // The tasks that took longest are the ones to look at.
        let mut tasks: Vec<(i64, String)> = ctx
            .history
            .tasks_of(&newest.run_id)
            .iter()
            .filter_map(|t| {
                let start = t.started_at?;
                let end = t.ended_at.unwrap_or(ctx.now);
                Some(((end - start).num_seconds(), t.task_id.clone()))
            })
            .collect();
        tasks.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        out.push(base.alert(
            ctx,
            &schedule,
            None,
            summary,
            tasks.iter().take(5).map(|(_, t)| t.clone()).collect(),
            json!({
                "run_id": newest.run_id,
                "seconds": took,
                "median_seconds": med,
                "factor": factor,
                "running": running,
                "baseline_runs": n,
            }),
        ));
    }
    out
}

/// This month's compute and its projection, by the cost rule's prices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostReport {
    /// `2025-06`.
    pub month: String,
    pub currency: String,
    pub budget: f64,
    pub price_per_core_hour: f64,
    pub cores_per_task: f64,
    /// Core-hours of task attempts that ended this month, and their cost.
    pub core_hours: f64,
    pub spent: f64,
    /// This month's cost at the month's end if the trailing window's rate goes on.
    pub projected: f64,
    pub projected_core_hours: f64,
    pub month_start: DateTime<Utc>,
    pub month_end: DateTime<Utc>,
}

fn month_bounds(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now);
    let (y, m) = if now.month() == 12 {
        (now.year() + 1, 1)
    } else {
        (now.year(), now.month() + 1)
    };
    let end = Utc
        .with_ymd_and_hms(y, m, 1, 0, 0, 0)
        .single()
        .unwrap_or(now);
    (start, end)
}

/// The earliest time the history must reach back to for [`cost_report`].
pub fn cost_window_start(rule: &AlertRuleConfig, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let AlertRuleConfig::Cost { trailing, .. } = rule else {
        return None;
    };
    let trailing = Duration::from_std(trailing.as_std()).unwrap_or(Duration::days(7));
    Some(month_bounds(now).0.min(now - trailing))
}

/// The cost rule's view of the month; None for another kind of rule.
pub fn cost_report(
    history: &History,
    rule: &AlertRuleConfig,
    now: DateTime<Utc>,
) -> Option<CostReport> {
    let AlertRuleConfig::Cost {
        budget,
        price_per_core_hour,
        cores_per_task,
        currency,
        trailing,
        ..
    } = rule
    else {
        return None;
    };
    let (start, end) = month_bounds(now);
    let trailing = Duration::from_std(trailing.as_std()).unwrap_or(Duration::days(7));
    let window_start = now - trailing;
    let mut month_s = 0.0f64;
    let mut window_s = 0.0f64;
    let mut earliest: Option<DateTime<Utc>> = None;
    for (_, t) in history.all_tasks() {
        let (Some(s), Some(e)) = (t.started_at, t.ended_at) else {
            continue;
        };
        if e < s || e > now {
            continue;
        }
        let secs = (e - s).num_milliseconds() as f64 / 1000.0;
        earliest = Some(earliest.map_or(s, |x: DateTime<Utc>| x.min(s)));
        if e >= start {
            month_s += secs;
        }
        if e >= window_start {
            window_s += secs;
        }
    }
    // A store younger than the window: the rate over the time it has existed.
    let observed = earliest.map_or(trailing, |e| (now - e).min(trailing));
    let observed_s = (observed.num_seconds() as f64).max(3600.0);
    let rate = window_s / observed_s;
    let remaining_s = (end - now).num_seconds().max(0) as f64;
    let core_hours = month_s * cores_per_task / 3600.0;
    let projected_core_hours = (month_s + rate * remaining_s) * cores_per_task / 3600.0;
    Some(CostReport {
        month: start.format("%Y-%m").to_string(),
        currency: currency.clone(),
        budget: *budget,
        price_per_core_hour: *price_per_core_hour,
        cores_per_task: *cores_per_task,
        core_hours,
        spent: core_hours * price_per_core_hour,
        projected: projected_core_hours * price_per_core_hour,
        projected_core_hours,
        month_start: start,
        month_end: end,
    })
}

fn cost(ctx: &Ctx, base: &Base) -> Vec<Alert> {
    let Some(c) = cost_report(ctx.history, base.rule, ctx.now) else {
        return Vec::new();
    };
    if c.projected <= c.budget {
        return Vec::new();
    }
    let summary = format!(
        "compute cost for {} is projected at {:.2} {cur}, over the budget of {:.2} {cur} ({:.2} {cur} spent so far, {:.1} core-hours)",
        c.month,
        c.projected,
        c.budget,
        c.spent,
        c.core_hours,
        cur = c.currency
    );
    vec![base.alert(
        ctx,
        "compute",
        None,
        summary,
        Vec::new(),
        serde_json::to_value(&c).unwrap_or_default(),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_durations() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(3 * 3600 + 5 * 60), "3h 05m");
        assert_eq!(human_duration(90_000), "1d 01h");
    }

    #[test]
    fn month_bounds_roll_over_the_year() {
        let now = Utc
            .with_ymd_and_hms(2025, 12, 15, 10, 0, 0)
            .single()
            .expect("t");
        let (s, e) = month_bounds(now);
        assert_eq!(s.to_rfc3339(), "2025-12-01T00:00:00+00:00");
        assert_eq!(e.to_rfc3339(), "2026-01-01T00:00:00+00:00");
    }
}
