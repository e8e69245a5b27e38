//! The alert store beside the runs in PostgreSQL: a rule's whole life, inhibition, silences,
//! and a second monitor sharing the database.

use crate::common::*;
use chrono::{Duration, Utc};
use pulse_monitor::{DatasetStatus, Monitor, MonitorInputs};

#[tokio::test]
async fn incidents_live_beside_the_runs_in_postgres() {
    let h = Harness::on_postgres(
        "",
        "[[alerts]]\nrule = \"task_failed\"\n\n[[alerts]]\nrule = \"freshness\"\n",
    )
    .await;
    let tables = h.pg.as_ref().expect("postgres").tables();
    for t in [
        "monitor_events",
        "monitor_incidents",
        "monitor_notifications",
        "monitor_schema_version",
        "monitor_silences",
        "runs",
        "task_instances",
    ] {
        assert!(tables.contains(&t.to_string()), "{t} in {tables:?}");
    }

    good_run(&h.store, None, 10).await;
    let run = create_run(&h.store, None, 1).await;
    drive(&h.store, &run.run_id, |id, _| {
        if id == "land:orders" {
            Do::Fail("boom")
        } else {
            Do::Ok(10)
        }
    })
    .await;
    let now = Utc::now();
    let inputs = MonitorInputs {
        datasets: vec![DatasetStatus {
            id: "fct_orders".into(),
            last_updated: Some(now - Duration::hours(30)),
            max_age: Some(std::time::Duration::from_secs(3600)),
        }],
        ..Default::default()
    };
    let silence = h
        .monitor
        .alerts()
        .silence(
            "owner=nobody",
            now + Duration::hours(1),
            "unrelated",
            None,
            now,
        )
        .await
        .expect("silence");

    // A second process shares the database; both evaluate at once.
    let other = Monitor::open(
        h.monitor.config().clone(),
        h.store.clone(),
        &h.pg.as_ref().expect("postgres").url,
        h.dir.path(),
    )
    .await
    .expect("a second monitor");
    let (a, b) = tokio::join!(h.monitor.tick(&inputs, now), other.tick(&inputs, now));
    let (a, b) = (a.expect("tick"), b.expect("tick"));
    assert_eq!(a.reconcile.opened.len() + b.reconcile.opened.len(), 2);
    assert_eq!(a.reconcile.held_back.len() + b.reconcile.held_back.len(), 1);
    h.assert_notified_once("task_failed:land:orders", "firing");
    assert_eq!(h.counts().hook, 1, "the stale mart is held back");

    let held = h
        .monitor
        .alerts()
        .incident_by_key("freshness:fct_orders")
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(held.status(), "held back");

    h.store
        .retry_task(&run.run_id, "land:orders")
        .await
        .expect("retry");
    drive(&h.store, &run.run_id, |_, _| Do::Ok(10)).await;
    let fixed = MonitorInputs {
        datasets: vec![DatasetStatus {
            id: "fct_orders".into(),
            last_updated: Some(now),
            max_age: Some(std::time::Duration::from_secs(3600)),
        }],
        ..Default::default()
    };
    let r = h.tick(&fixed, now + Duration::minutes(5)).await;
    assert_eq!(r.reconcile.resolved.len(), 2, "{r:#?}");
    h.assert_notified_once("task_failed:land:orders", "resolved");
    assert_eq!(h.counts().hook, 2);

    let listed = h
        .monitor
        .alerts()
        .list(&pulse_monitor::IncidentFilter::default())
        .await
        .expect("list");
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|i| i.status() == "resolved"));
    let expired = h
        .monitor
        .alerts()
        .expire_silence(silence.id, now + Duration::minutes(6))
        .await
        .expect("expire");
    assert_eq!(
        expired.ends_at.timestamp_micros(),
        (now + Duration::minutes(6)).timestamp_micros()
    );
    assert!(
        h.monitor
            .alerts()
            .silences(false, now + Duration::minutes(7))
            .await
            .expect("silences")
            .is_empty()
    );
}
