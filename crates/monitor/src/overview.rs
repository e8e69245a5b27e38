//! The operator page's data: last runs and their states, SLA status per schedule, freshness of
//! each dataset, open alerts, error-rate and duration trends per day, and this month's cost
//! against the budget. Plain serializable structs; the web server renders them.

use crate::alerts::Incident;
use crate::config::{AlertRuleConfig, MonitorConfig};
use crate::glob::any_match;
use crate::history::History;
use crate::inputs::MonitorInputs;
use crate::rules::{CostReport, cost_report, median, run_elapsed, run_start, sla_elapsed};
use chrono::{DateTime, NaiveDate, Utc};
use pulse_orchestrate::{RunState, TaskState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Days of trends the overview covers.
pub const TREND_DAYS: i64 = 14;
/// Runs listed.
pub const LAST_RUNS: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run_id: String,
    pub state: RunState,
    pub schedule: Option<String>,
    pub trigger: String,
    pub logical_date: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Taken, or taken so far.
    pub elapsed_seconds: i64,
    /// Task state -> how many.
    pub tasks: BTreeMap<String, u32>,
    pub sla_missed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaStatus {
    pub schedule: String,
    pub sla_seconds: i64,
    pub run_id: String,
    pub run_state: RunState,
    pub deadline: DateTime<Utc>,
    pub elapsed_seconds: i64,
    /// `met`, `missed`, `on_track` (running, under 80 % of the SLA) or `at_risk`.
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FreshnessRow {
    pub dataset: String,
    pub last_updated: Option<DateTime<Utc>>,
    pub lag_seconds: Option<i64>,
    pub max_age_seconds: Option<i64>,
    /// `fresh`, `stale` or `unknown` (never built, or no window).
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayTrend {
    /// The UTC day runs were created on.
    pub day: NaiveDate,
    pub runs: u32,
    pub failed_runs: u32,
    pub tasks_finished: u32,
    pub tasks_failed: u32,
    /// Failed over finished tasks (0 when none finished).
    pub error_rate: f64,
    pub median_run_seconds: Option<f64>,
    pub max_run_seconds: Option<i64>,
    pub rows: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub generated_at: DateTime<Utc>,
    pub runs: Vec<RunSummary>,
    pub sla: Vec<SlaStatus>,
    pub freshness: Vec<FreshnessRow>,
    pub open_alerts: Vec<Incident>,
    pub trends: Vec<DayTrend>,
    pub cost: Vec<CostReport>,
}

pub fn last_runs(history: &History, n: usize, now: DateTime<Utc>) -> Vec<RunSummary> {
    history
        .runs
        .iter()
        .take(n)
        .map(|r| {
            let mut tasks: BTreeMap<String, u32> = BTreeMap::new();
            for t in history.tasks_of(&r.run_id) {
                *tasks.entry(t.state.as_str().to_string()).or_default() += 1;
            }
            RunSummary {
                run_id: r.run_id.clone(),
                state: r.state,
                schedule: r.schedule.clone(),
                trigger: r.trigger.clone(),
                logical_date: r.logical_date,
                created_at: r.created_at,
                started_at: r.started_at,
                ended_at: r.ended_at,
                elapsed_seconds: run_elapsed(r, now),
                tasks,
                sla_missed: r.sla_missed,
            }
        })
        .collect()
}

/// The newest run of each schedule that has an SLA (from an `sla` rule or the schedule).
pub fn sla_status(
    config: &MonitorConfig,
    history: &History,
    inputs: &MonitorInputs,
    now: DateTime<Utc>,
) -> Vec<SlaStatus> {
    let mut out = Vec::new();
    let mut names: Vec<String> = history
        .runs
        .iter()
        .filter_map(|r| r.schedule.clone())
        .collect();
    names.sort();
    names.dedup();
    for schedule in names {
        let from_rule = config.alerts.iter().find_map(|r| match r {
            AlertRuleConfig::Sla {
                schedules,
                sla: Some(d),
                ..
            } if any_match(schedules, &schedule) => Some(d.as_std()),
            _ => None,
        });
        let own = inputs
            .schedules
            .iter()
            .find(|s| s.name == schedule)
            .and_then(|s| s.sla.map(|d| d.as_std()));
        let Some(sla) = from_rule.or(own) else {
            continue;
        };
        let Some(r) = history
            .runs
            .iter()
            .find(|r| r.schedule.as_deref() == Some(schedule.as_str()))
        else {
            continue;
        };
        let sla_s = i64::try_from(sla.as_secs()).unwrap_or(i64::MAX / 4);
        let elapsed = sla_elapsed(r, now);
        let status = if elapsed > sla_s {
            "missed"
        } else if r.state == RunState::Succeeded {
            "met"
        } else if elapsed * 5 > sla_s * 4 {
            "at_risk"
        } else {
            "on_track"
        };
        out.push(SlaStatus {
            schedule,
            sla_seconds: sla_s,
            run_id: r.run_id.clone(),
            run_state: r.state,
            deadline: run_start(r) + chrono::Duration::seconds(sla_s),
            elapsed_seconds: elapsed,
            status: status.to_string(),
        });
    }
    out
}

/// Each dataset the caller reports, judged by the first freshness rule that covers it (or its
/// own window).
pub fn freshness(
    config: &MonitorConfig,
    inputs: &MonitorInputs,
    now: DateTime<Utc>,
) -> Vec<FreshnessRow> {
    inputs
        .datasets
        .iter()
        .map(|d| {
            let rule_age = config.alerts.iter().find_map(|r| match r {
                AlertRuleConfig::Freshness {
                    datasets,
                    max_age: Some(a),
                    ..
                } if any_match(datasets, &d.id) => Some(a.as_std()),
                _ => None,
            });
            let max_age = rule_age
                .or(d.max_age)
                .map(|a| i64::try_from(a.as_secs()).unwrap_or(i64::MAX / 4));
            let lag = d.last_updated.map(|u| (now - u).num_seconds().max(0));
            let status = match (lag, max_age) {
                (Some(l), Some(m)) if l > m => "stale",
                (Some(_), Some(_)) => "fresh",
                _ => "unknown",
            };
            FreshnessRow {
                dataset: d.id.clone(),
                last_updated: d.last_updated,
                lag_seconds: lag,
                max_age_seconds: max_age,
                status: status.to_string(),
            }
        })
        .collect()
}

/// One row per UTC day of the last `days`, oldest first, from runs created that day.
pub fn trends(history: &History, days: i64, now: DateTime<Utc>) -> Vec<DayTrend> {
    let today = now.date_naive();
    let mut out = Vec::new();
    for back in (0..days).rev() {
        let day = today - chrono::Duration::days(back);
        let runs: Vec<_> = history
            .runs
            .iter()
            .filter(|r| r.created_at.date_naive() == day)
            .collect();
        let mut t = DayTrend {
            day,
            runs: runs.len() as u32,
            failed_runs: runs.iter().filter(|r| r.state == RunState::Failed).count() as u32,
            tasks_finished: 0,
            tasks_failed: 0,
            error_rate: 0.0,
            median_run_seconds: None,
            max_run_seconds: None,
            rows: 0,
        };
        let mut durations: Vec<f64> = Vec::new();
        for r in &runs {
            if r.state.is_terminal() {
                let d = run_elapsed(r, now);
                durations.push(d as f64);
                t.max_run_seconds = Some(t.max_run_seconds.map_or(d, |m| m.max(d)));
            }
            for task in history.tasks_of(&r.run_id) {
                match task.state {
                    TaskState::Succeeded | TaskState::Skipped => {
                        t.tasks_finished += 1;
                        t.rows += task.rows;
                    }
                    TaskState::Failed => {
                        t.tasks_finished += 1;
                        t.tasks_failed += 1;
                    }
                    _ => {}
                }
            }
        }
        if t.tasks_finished > 0 {
            t.error_rate = f64::from(t.tasks_failed) / f64::from(t.tasks_finished);
        }
        t.median_run_seconds = median(&mut durations);
        out.push(t);
    }
    out
}

pub fn build(
    config: &MonitorConfig,
    history: &History,
    inputs: &MonitorInputs,
    open_alerts: Vec<Incident>,
    now: DateTime<Utc>,
) -> Overview {
    Overview {
        generated_at: now,
        runs: last_runs(history, LAST_RUNS, now),
        sla: sla_status(config, history, inputs, now),
        freshness: freshness(config, inputs, now),
        open_alerts,
        trends: trends(history, TREND_DAYS, now),
        cost: config
            .alerts
            .iter()
            .filter_map(|r| cost_report(history, r, now))
            .collect(),
    }
}
