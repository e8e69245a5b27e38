//! Schedulers creating runs from cron fire times, once each, and SLA misses.

use crate::common::{BACKENDS, open, spec};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use pulse_orchestrate::{AssetGraph, Scheduler, Store};
use pulse_project::{Catchup, ConfigDuration, ScheduleConfig};
use std::time::Duration;

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("valid")
}

fn daily(catchup: Catchup) -> ScheduleConfig {
    ScheduleConfig {
        name: "daily".into(),
        cron: "0 2 * * *".into(),
        timezone: "Europe/Berlin".into(),
        catchup,
        sla: Some(ConfigDuration::from_secs(6 * 3600)),
        select: Some("+c".into()),
    }
}

fn graph() -> AssetGraph {
    AssetGraph::from_tasks(vec![
        spec("model:a", &[]),
        spec("model:c", &["model:a"]),
        spec("model:z", &[]),
    ])
    .expect("graph")
}

#[tokio::test]
async fn ticks_create_each_fire_once_with_the_interval_start_as_logical_date() {
    for backend in BACKENDS {
        let t = open(backend).await;
        let g = graph();
        let s1 = Scheduler::new(t.store.clone(), &g, &[daily(Catchup::All)], 3).expect("scheduler");
        // First start: nothing recorded, so only the latest fire time (02:00 Berlin on the 10th).
        let now = utc(2026, 1, 10, 12, 0);
        let made = s1.tick(now).await.expect("tick");
        assert_eq!(made.len(), 1, "{backend:?}");
        assert_eq!(
            made[0].logical_date,
            NaiveDate::from_ymd_opt(2026, 1, 9).expect("d")
        );
        assert_eq!(made[0].trigger, "schedule");
        assert_eq!(made[0].schedule.as_deref(), Some("daily"));
        let tasks = t.store.tasks(&made[0].run_id).await.expect("tasks");
        assert_eq!(
            tasks.iter().map(|t| t.task_id.as_str()).collect::<Vec<_>>(),
            ["model:a", "model:c"],
            "the selection only"
        );
        assert!(
            s1.tick(now).await.expect("tick").is_empty(),
            "the same fire twice"
        );
        // Down for three days: catch-up all makes one run per missed fire, in order.
        let later = utc(2026, 1, 13, 9, 0);
        let other = Store::open(&t.url, std::path::Path::new("/"))
            .await
            .expect("second store");
        let s2 = Scheduler::new(other, &g, &[daily(Catchup::All)], 3).expect("scheduler");
        let (a, b) = tokio::join!(s1.tick(later), s2.tick(later));
        let mut made: Vec<_> = a
            .expect("tick")
            .into_iter()
            .chain(b.expect("tick"))
            .collect();
        made.sort_by_key(|r| r.logical_date);
        let dates: Vec<String> = made.iter().map(|r| r.logical_date.to_string()).collect();
        assert_eq!(
            dates,
            ["2026-01-10", "2026-01-11", "2026-01-12"],
            "two schedulers, each fire once"
        );
        assert_eq!(t.store.count_runs().await.expect("count"), 4);
    }
}

#[tokio::test]
async fn catchup_latest_and_none() {
    let t = open(crate::common::Backend::Sqlite).await;
    let g = graph();
    let latest = Scheduler::new(t.store.clone(), &g, &[daily(Catchup::Latest)], 1).expect("s");
    latest.tick(utc(2026, 3, 1, 3, 0)).await.expect("tick");
    let made = latest.tick(utc(2026, 3, 5, 3, 0)).await.expect("tick");
    assert_eq!(made.len(), 1);
    assert_eq!(
        made[0].logical_date,
        NaiveDate::from_ymd_opt(2026, 3, 4).expect("d")
    );

    let mut cfg = daily(Catchup::None);
    cfg.name = "strict".into();
    let none = Scheduler::new(t.store.clone(), &g, &[cfg], 1).expect("s");
    assert!(
        none.tick(utc(2026, 3, 5, 3, 0))
            .await
            .expect("tick")
            .is_empty(),
        "an hour late is missed"
    );
    // 02:00 Berlin is 01:00 UTC in winter: two minutes after it is on time.
    let made = none.tick(utc(2026, 3, 6, 1, 2)).await.expect("tick");
    assert_eq!(made.len(), 1);
    assert_eq!(
        made[0].logical_date,
        NaiveDate::from_ymd_opt(2026, 3, 5).expect("d")
    );
}

#[tokio::test]
async fn dst_changes_neither_skip_nor_double_a_day() {
    let t = open(crate::common::Backend::Sqlite).await;
    let g = graph();
    let mut cfg = daily(Catchup::All);
    cfg.cron = "30 2 * * *".into();
    let s = Scheduler::new(t.store.clone(), &g, &[cfg], 1).expect("s");
    s.tick(utc(2026, 10, 23, 12, 0)).await.expect("tick");
    let made = s.tick(utc(2026, 10, 28, 12, 0)).await.expect("tick");
    let dates: Vec<String> = made.iter().map(|r| r.logical_date.to_string()).collect();
    assert_eq!(
        dates,
        [
            "2026-10-23",
            "2026-10-24",
            "2026-10-25",
            "2026-10-26",
            "2026-10-27"
        ]
    );
}

#[tokio::test]
async fn runs_over_their_sla_are_reported_once() {
    for backend in BACKENDS {
        let t = open(backend).await;
        let g = graph();
        let s = Scheduler::new(t.store.clone(), &g, &[daily(Catchup::Latest)], 1).expect("s");
        let made = s.tick(Utc::now()).await.expect("tick");
        assert_eq!(made.len(), 1);
        // Started now: within its 6 hours for now.
        t.store
            .claim_tasks(None, "w", 10, Duration::from_secs(60))
            .await
            .expect("claim");
        assert!(
            s.check_sla(Utc::now()).await.expect("sla").is_empty(),
            "{backend:?}"
        );
        let late = Utc::now() + chrono::Duration::hours(7);
        let missed = s.check_sla(late).await.expect("sla");
        assert_eq!(missed.len(), 1);
        assert!(missed[0].sla_missed);
        assert_eq!(missed[0].run_id, made[0].run_id);
        assert!(
            s.check_sla(late).await.expect("sla").is_empty(),
            "reported once"
        );
        let rec = t
            .store
            .run(&made[0].run_id)
            .await
            .expect("run")
            .expect("run");
        assert!(rec.sla_missed);
    }
}

#[test]
fn schedule_mistakes_are_reported_with_their_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("pulse.toml"),
        r#"name = "x"

[[schedules]]
name = "daily"
cron = "0 2 * * *"
timezone = "Europe/Berlin"

[[schedules]]
name = "broken_cron"
cron = "61 2 * * *"

[[schedules]]
name = "broken_zone"
cron = "0 2 * * *"
timezone = "Europe/Berlln"

[[schedules]]
name = "broken_select"
cron = "0 2 * * *"
select = "+no_such_model"
"#,
    )
    .expect("write");
    let project = pulse_project::Project::load(dir.path()).expect("loads");
    let errors = pulse_orchestrate::check_schedules(&project)
        .expect_err("three mistakes")
        .0;
    let got: Vec<(Option<usize>, bool)> = errors
        .iter()
        .map(|e| (e.line, e.file.ends_with("pulse.toml")))
        .collect();
    assert_eq!(
        got,
        [(Some(9), true), (Some(13), true), (Some(18), true)],
        "{errors:?}"
    );
    assert!(errors[0].message.contains("61 2 * * *"), "{}", errors[0]);
    assert!(errors[1].message.contains("Europe/Berlln"), "{}", errors[1]);
    assert!(errors[2].message.contains("no_such_model"), "{}", errors[2]);
}

#[tokio::test]
async fn the_scheduler_loop_starts_runs_until_told_to_stop() {
    let t = open(crate::common::Backend::Sqlite).await;
    let g = graph();
    let mut cfg = daily(Catchup::Latest);
    cfg.cron = "* * * * * *".into();
    cfg.sla = Some(ConfigDuration::from_secs(0));
    let s = Scheduler::new(t.store.clone(), &g, &[cfg], 1).expect("s");
    let (stop, rx) = tokio::sync::watch::channel(false);
    let missed = std::sync::Mutex::new(Vec::new());
    let stopper = async {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        stop.send(true).expect("stop");
    };
    tokio::join!(
        s.run(rx, Duration::from_millis(100), |r| missed
            .lock()
            .expect("lock")
            .push(r.run_id.clone())),
        stopper
    );
    let runs = t.store.count_runs().await.expect("count");
    assert!((2..=4).contains(&runs), "one run per second fired: {runs}");
    let missed = missed.into_inner().expect("lock");
    assert!(
        !missed.is_empty(),
        "a zero SLA is missed by every unfinished run"
    );
    let unique: std::collections::BTreeSet<_> = missed.iter().collect();
    assert_eq!(unique.len(), missed.len(), "each miss reported once");
}
