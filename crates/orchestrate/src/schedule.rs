//! Cron schedules in a time zone. A fire time starts one run whose logical date is the start of
//! its data interval (Airflow's rule: the daily run that fires at 02:00 on the 10th processes
//! the 9th). The fire time is recorded with a unique key, so several schedulers sharing a store
//! start each run once.

use crate::error::OrchestrateError;
use crate::graph::AssetGraph;
use crate::store::{NewRun, RunRecord, Store};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use croner::Cron;
use pulse_project::{Catchup, ProjectError, ProjectErrors, ScheduleConfig};
use std::str::FromStr;

/// Under `catchup = "none"` a fire time this much in the past counts as missed, not due.
pub const MISSED_AFTER: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Under `catchup = "all"`, at most this many missed runs are started at once; the rest follow
/// on later ticks.
pub const MAX_CATCHUP: usize = 1000;

#[derive(Debug, Clone)]
pub struct Schedule {
    pub config: ScheduleConfig,
    cron: Cron,
    tz: Tz,
}

impl Schedule {
    pub fn new(config: &ScheduleConfig) -> Result<Self, OrchestrateError> {
        let err = |message: String| OrchestrateError::Schedule {
            schedule: config.name.clone(),
            message,
        };
        let cron = Cron::from_str(&config.cron)
            .map_err(|e| err(format!("cron `{}`: {e}", config.cron)))?;
        let tz = Tz::from_str(&config.timezone).map_err(|_| {
            err(format!(
                "unknown time zone `{}` (use an IANA name like Europe/Berlin or UTC)",
                config.timezone
            ))
        })?;
        Ok(Self {
            config: config.clone(),
            cron,
            tz,
        })
    }

    fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&t.with_timezone(&self.tz), false)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    fn previous_before(&self, t: DateTime<Utc>, inclusive: bool) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&t.with_timezone(&self.tz), inclusive)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// Fire times that should start a run now, oldest first, given the last fire time that
    /// started one (`None`: the schedule never fired).
    pub fn due_fires(
        &self,
        last_fire: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        let Some(latest) = self.previous_before(now, true) else {
            return Vec::new();
        };
        if last_fire.is_some_and(|l| latest <= l) {
            return Vec::new();
        }
        match (self.config.catchup, last_fire) {
            (Catchup::None, _) => {
                if now - latest <= MISSED_AFTER {
                    vec![latest]
                } else {
                    Vec::new()
                }
            }
            (Catchup::Latest, _) | (Catchup::All, None) => vec![latest],
            (Catchup::All, Some(last)) => {
                let mut out = Vec::new();
                let mut t = last;
                while let Some(next) = self.next_after(t) {
                    if next > now || out.len() >= MAX_CATCHUP {
                        break;
                    }
                    out.push(next);
                    t = next;
                }
                out
            }
        }
    }

    /// The date, in the schedule's time zone, at which the data interval that ends at `fire`
    /// begins: the previous fire time.
    pub fn logical_date(&self, fire: DateTime<Utc>) -> NaiveDate {
        self.previous_before(fire, false)
            .unwrap_or(fire)
            .with_timezone(&self.tz)
            .date_naive()
    }

    /// The next fire time after `t`.
    pub fn next_fire(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.next_after(t)
    }
}

/// See [`Schedule::due_fires`]; a schedule whose cron or time zone is invalid has none (they
/// are reported by [`check_schedules`] when the project is validated).
pub fn due_fires(
    config: &ScheduleConfig,
    last_fire: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    match Schedule::new(config) {
        Ok(s) => s.due_fires(last_fire, now),
        Err(e) => {
            tracing::error!("{e}");
            Vec::new()
        }
    }
}

/// See [`Schedule::logical_date`].
pub fn logical_date_for(
    config: &ScheduleConfig,
    fire: DateTime<Utc>,
) -> Result<NaiveDate, OrchestrateError> {
    Ok(Schedule::new(config)?.logical_date(fire))
}

/// Every schedule mistake in the project (bad cron, unknown time zone, a selector naming
/// nothing, a name used twice), each with `pulse.toml`'s line.
pub fn check_schedules(project: &pulse_project::Project) -> Result<(), ProjectErrors> {
    let text = std::fs::read_to_string(&project.config_file).unwrap_or_default();
    let line_of = |name: &str| {
        let needle = format!("\"{name}\"");
        text.find(&needle)
            .map(|p| text[..p].bytes().filter(|b| *b == b'\n').count() + 1)
    };
    let graph = AssetGraph::from_project(project);
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for s in &project.config.schedules {
        let mut push = |message: String| {
            errors.push(ProjectError::new(
                &project.config_file,
                line_of(&s.name),
                message,
            ))
        };
        if !seen.insert(s.name.as_str()) {
            push(format!("schedule `{}` is declared twice", s.name));
        }
        if let Err(e) = Schedule::new(s) {
            push(e.to_string());
        }
        if let Some(sel) = &s.select
            && let Err(e) = graph.select(sel, None)
        {
            push(format!("schedule `{}`: {e}", s.name));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ProjectErrors(errors))
    }
}

/// Starts scheduled runs and watches their SLAs.
pub struct Scheduler {
    store: Store,
    schedules: Vec<(Schedule, AssetGraph)>,
    max_attempts: u32,
}

impl Scheduler {
    /// Each schedule runs its `select`ion of `graph` (all of it without one).
    pub fn new(
        store: Store,
        graph: &AssetGraph,
        schedules: &[ScheduleConfig],
        max_attempts: u32,
    ) -> Result<Self, OrchestrateError> {
        let mut out = Vec::new();
        for c in schedules {
            let s = Schedule::new(c)?;
            let g = match &c.select {
                Some(sel) => graph.restrict(&graph.select(sel, None)?),
                None => graph.clone(),
            };
            out.push((s, g));
        }
        Ok(Self {
            store,
            schedules: out,
            max_attempts: max_attempts.max(1),
        })
    }

    /// Creates the runs due at `now` (trigger `schedule`); a fire time that already has a run,
    /// made by this or another scheduler, is not started again.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<Vec<RunRecord>, OrchestrateError> {
        let mut created = Vec::new();
        for (schedule, graph) in &self.schedules {
            let name = &schedule.config.name;
            let last = self.store.last_scheduled_fire(name).await?;
            for fire in schedule.due_fires(last, now) {
                let new = NewRun {
                    logical_date: schedule.logical_date(fire),
                    trigger: "schedule".into(),
                    schedule: Some(name.clone()),
                    tasks: graph.tasks.clone(),
                    max_attempts: self.max_attempts,
                };
                if let Some(run) = self.store.create_scheduled_run(name, fire, new).await? {
                    tracing::info!(schedule = %name, run_id = %run.run_id, "scheduled run for {} (fired {fire})", run.logical_date);
                    created.push(run);
                }
            }
        }
        Ok(created)
    }

    /// The scheduler loop of `pulse serve`: ticks and checks SLAs every `every` until
    /// `shutdown` turns true, handing each SLA miss to `on_sla_miss` (the caller alerts). A
    /// store error is logged and the loop goes on, so a database restart does not stop it.
    pub async fn run(
        &self,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
        every: std::time::Duration,
        mut on_sla_miss: impl FnMut(&RunRecord) + Send,
    ) {
        while !*shutdown.borrow() {
            let now = Utc::now();
            if let Err(e) = self.tick(now).await {
                tracing::error!("scheduler: {e}");
            }
            match self.check_sla(now).await {
                Ok(missed) => missed.iter().for_each(&mut on_sla_miss),
                Err(e) => tracing::error!("scheduler SLA check: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                changed = shutdown.changed() => if changed.is_err() { return },
            }
        }
    }

    /// Runs of schedules with an `sla` that have not finished within it of their start and
    /// were not reported before; each is marked `sla_missed` and returned once, for alerting.
    pub async fn check_sla(&self, now: DateTime<Utc>) -> Result<Vec<RunRecord>, OrchestrateError> {
        let mut missed = Vec::new();
        for (schedule, _) in &self.schedules {
            if let Some(sla) = schedule.config.sla {
                let runs = self
                    .store
                    .mark_sla_missed(&schedule.config.name, sla.as_std(), now)
                    .await?;
                for r in &runs {
                    tracing::warn!(schedule = %schedule.config.name, run_id = %r.run_id, "SLA of {sla} missed");
                }
                missed.extend(runs);
            }
        }
        Ok(missed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn config(cron: &str, tz: &str, catchup: Catchup) -> ScheduleConfig {
        ScheduleConfig {
            name: "daily".into(),
            cron: cron.into(),
            timezone: tz.into(),
            catchup,
            sla: None,
            select: None,
        }
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .expect("valid time")
    }

    #[test]
    fn catchup_policies() {
        let now = utc(2026, 1, 10, 12, 0);
        let last = Some(utc(2026, 1, 6, 2, 0));
        let all = due_fires(&config("0 2 * * *", "UTC", Catchup::All), last, now);
        assert_eq!(
            all,
            (7..=10).map(|d| utc(2026, 1, d, 2, 0)).collect::<Vec<_>>()
        );
        let latest = due_fires(&config("0 2 * * *", "UTC", Catchup::Latest), last, now);
        assert_eq!(latest, [utc(2026, 1, 10, 2, 0)]);
        let none = due_fires(&config("0 2 * * *", "UTC", Catchup::None), last, now);
        assert!(none.is_empty());
        let on_time = due_fires(
            &config("0 2 * * *", "UTC", Catchup::None),
            last,
            utc(2026, 1, 10, 2, 1),
        );
        assert_eq!(on_time, [utc(2026, 1, 10, 2, 0)]);
        // Already fired: nothing more until the next fire time.
        let again = due_fires(
            &config("0 2 * * *", "UTC", Catchup::All),
            Some(utc(2026, 1, 10, 2, 0)),
            now,
        );
        assert!(again.is_empty());
    }

    #[test]
    fn logical_date_is_the_start_of_the_interval_in_the_zone() {
        let c = config("0 2 * * *", "Europe/Berlin", Catchup::Latest);
        // 02:00 Berlin on the 10th is 01:00 UTC.
        assert_eq!(
            logical_date_for(&c, utc(2026, 1, 10, 1, 0)).expect("valid"),
            NaiveDate::from_ymd_opt(2026, 1, 9).expect("date")
        );
        // 00:30 Berlin on the 10th is still the 9th in UTC; the date is taken in Berlin.
        let c = config("30 0 * * *", "Europe/Berlin", Catchup::Latest);
        assert_eq!(
            logical_date_for(&c, utc(2026, 1, 9, 23, 30)).expect("valid"),
            NaiveDate::from_ymd_opt(2026, 1, 9).expect("date")
        );
    }

    #[test]
    fn fires_once_a_day_across_both_dst_changes() {
        let c = config("30 2 * * *", "Europe/Berlin", Catchup::All);
        let s = Schedule::new(&c).expect("valid");
        for (start, end) in [
            (utc(2026, 3, 27, 0, 0), utc(2026, 3, 31, 0, 0)),
            (utc(2026, 10, 23, 0, 0), utc(2026, 10, 27, 0, 0)),
        ] {
            let fires = s.due_fires(Some(start), end);
            let days: Vec<NaiveDate> = fires
                .iter()
                .map(|f| f.with_timezone(&chrono_tz::Europe::Berlin).date_naive())
                .collect();
            let unique: std::collections::BTreeSet<_> = days.iter().collect();
            assert_eq!(fires.len(), 4, "{fires:?}");
            assert_eq!(unique.len(), 4, "one fire per local day: {fires:?}");
            let dates: std::collections::BTreeSet<NaiveDate> =
                fires.iter().map(|f| s.logical_date(*f)).collect();
            assert_eq!(dates.len(), 4, "distinct logical dates: {fires:?}");
        }
    }

    #[test]
    fn bad_cron_and_zone_are_errors() {
        assert!(Schedule::new(&config("0 2 * *", "UTC", Catchup::All)).is_err());
        let e = Schedule::new(&config("0 2 * * *", "Mars/Olympus", Catchup::All))
            .expect_err("bad zone");
        assert!(e.to_string().contains("Mars/Olympus"), "{e}");
        assert!(due_fires(&config("nope", "UTC", Catchup::All), None, Utc::now()).is_empty());
    }
}
