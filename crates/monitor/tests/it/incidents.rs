//! Inhibition by lineage, silences, routing, retries while a notifier is down, and two
//! monitors sharing one store.

use crate::common::*;
use chrono::{DateTime, Duration, Utc};
use pulse_monitor::{DatasetStatus, Monitor, MonitorConfig, MonitorInputs};
use std::time::Duration as StdDuration;

fn stale(id: &str, now: DateTime<Utc>, age: Duration) -> DatasetStatus {
    DatasetStatus {
        id: id.into(),
        last_updated: Some(now - age),
        max_age: Some(StdDuration::from_secs(26 * 3600)),
    }
}

async fn failed_landing(h: &Harness) -> String {
    good_run(&h.store, None, 10).await;
    let run = create_run(&h.store, None, 1).await;
    drive(&h.store, &run.run_id, |id, _| {
        if id == "land:orders" {
            Do::Fail("connection refused")
        } else {
            Do::Ok(10)
        }
    })
    .await;
    run.run_id
}

async fn fix_landing(h: &Harness, run_id: &str) {
    h.store
        .retry_task(run_id, "land:orders")
        .await
        .expect("retry");
    drive(&h.store, run_id, |_, _| Do::Ok(10)).await;
}

#[tokio::test]
async fn a_failed_landing_holds_back_the_stale_marts_below_it_and_names_them() {
    let h = Harness::new(
        "",
        "[[alerts]]\nrule = \"task_failed\"\n\n[[alerts]]\nrule = \"freshness\"\n",
    )
    .await;
    let run_id = failed_landing(&h).await;
    let now = Utc::now();
    let mut inputs = MonitorInputs::default();
    // The catalog's lineage below the models: a metric and a dashboard.
    inputs
        .upstream
        .insert("metric:gmv".into(), vec!["fct_orders".into()]);
    inputs
        .upstream
        .insert("dashboard:executive".into(), vec!["metric:gmv".into()]);
    inputs.datasets = vec![
        stale("fct_orders", now, Duration::hours(30)),
        stale("dashboard:executive", now, Duration::hours(30)),
        // Not below the landing: paged on its own.
        stale("support.tickets", now, Duration::hours(30)),
    ];

    let r = h.tick(&inputs, now).await;
    assert_eq!(r.reconcile.opened.len(), 4, "{r:#?}");
    let mut held = r.reconcile.held_back.clone();
    held.sort();
    assert_eq!(
        held,
        ["freshness:dashboard:executive", "freshness:fct_orders"]
    );
    let hooks = h.hook.calls();
    let mut paged: Vec<&str> = hooks
        .iter()
        .filter_map(|c| c.body["incident"]["key"].as_str())
        .collect();
    paged.sort();
    assert_eq!(
        paged,
        ["freshness:support.tickets", "task_failed:land:orders"]
    );
    let landing = hooks
        .iter()
        .find(|c| c.body["incident"]["key"] == "task_failed:land:orders")
        .expect("the landing alert");
    let mut named: Vec<&str> = landing.body["incident"]["held_back"]
        .as_array()
        .expect("held_back")
        .iter()
        .filter_map(|x| x["key"].as_str())
        .collect();
    named.sort();
    assert_eq!(
        named,
        ["freshness:dashboard:executive", "freshness:fct_orders"]
    );
    let mail = h
        .smtp
        .mails()
        .into_iter()
        .find(|m| m.body.contains("(task_failed:land:orders)"))
        .expect("the landing mail");
    assert!(
        mail.body.contains("held back (downstream of this incident")
            && mail
                .body
                .contains("freshness:fct_orders: dataset fct_orders is stale"),
        "{}",
        mail.body
    );
    let slack = h
        .slack
        .calls()
        .into_iter()
        .find(|c| {
            c.body["text"]
                .as_str()
                .unwrap_or("")
                .contains("(task_failed:land:orders)")
        })
        .expect("the landing Slack message");
    assert!(
        slack.body["text"]
            .as_str()
            .unwrap_or("")
            .contains("freshness:dashboard:executive")
    );
    assert_eq!(h.counts().hook, 2);

    let landing_incident = h
        .monitor
        .alerts()
        .incident_by_key("task_failed:land:orders")
        .await
        .expect("read")
        .expect("landing");
    for key in ["freshness:fct_orders", "freshness:dashboard:executive"] {
        let i = h
            .monitor
            .alerts()
            .incident_by_key(key)
            .await
            .expect("read")
            .expect("recorded");
        assert_eq!(i.status(), "held back");
        assert_eq!(i.inhibited_by, Some(landing_incident.id));
        assert!(!i.notified);
    }

    // Nothing new while it all holds.
    let quiet = h.counts();
    h.tick(&inputs, now + Duration::minutes(1)).await;
    assert_eq!(h.counts(), quiet);

    // The landing is fixed and the mart rebuilt; the dashboard is not refreshed yet. The
    // landing resolves with its notification; the mart resolves without ever paging; the
    // dashboard stays held back for the grace period after its upstream resolved.
    fix_landing(&h, &run_id).await;
    inputs.datasets[0] = stale("fct_orders", now, Duration::minutes(-4));
    let r = h.tick(&inputs, now + Duration::minutes(5)).await;
    let mut resolved = r.reconcile.resolved.clone();
    resolved.sort();
    assert_eq!(
        resolved,
        ["freshness:fct_orders", "task_failed:land:orders"]
    );
    h.assert_notified_once("task_failed:land:orders", "resolved");
    assert!(
        h.hook
            .calls()
            .iter()
            .all(|c| c.body["incident"]["key"] != "freshness:fct_orders"),
        "the mart was never paged"
    );
    assert_eq!(h.counts().hook, 3);

    // Past the grace period the dashboard is still stale: now it is its own problem.
    let r = h.tick(&inputs, now + Duration::minutes(40)).await;
    assert_eq!(r.reconcile.released, ["freshness:dashboard:executive"]);
    h.assert_notified_once("freshness:dashboard:executive", "firing");
}

#[tokio::test]
async fn silences_hold_notifications_until_they_end() {
    let h = Harness::new(
        "",
        "[[alerts]]\nrule = \"task_failed\"\n\n[[alerts]]\nrule = \"freshness\"\n",
    )
    .await;
    let run_id = failed_landing(&h).await;
    let now = Utc::now();
    let alerts = h.monitor.alerts();
    let by_hand = alerts
        .silence(
            "rule=task_failed,subject=land:*",
            now + Duration::hours(1),
            "orders database maintenance",
            Some("ops"),
            now,
        )
        .await
        .expect("silence");
    assert_eq!(by_hand.matcher, "rule=task_failed,subject=land:*");
    alerts
        .silence(
            "freshness:support.*",
            now + Duration::minutes(10),
            "backfill",
            None,
            now,
        )
        .await
        .expect("silence");
    alerts
        .silence(
            "subject=marketing.*",
            now + Duration::days(1),
            "being rebuilt",
            None,
            now,
        )
        .await
        .expect("silence");
    let e = alerts
        .silence("nonsense=1", now + Duration::hours(1), "", None, now)
        .await
        .expect_err("a bad matcher");
    assert!(e.to_string().contains("unknown field `nonsense`"), "{e}");
    assert_eq!(alerts.silences(false, now).await.expect("list").len(), 3);

    let mut inputs = MonitorInputs {
        datasets: vec![
            stale("support.tickets", now, Duration::hours(30)),
            stale("marketing.campaigns", now, Duration::hours(30)),
        ],
        ..Default::default()
    };
    let r = h.tick(&inputs, now).await;
    assert_eq!(r.reconcile.opened.len(), 3);
    assert_eq!(r.reconcile.silenced.len(), 3);
    assert_eq!(r.dispatch.attempts.len(), 0);
    let landing = alerts
        .incident_by_key("task_failed:land:orders")
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(landing.status(), "silenced");
    assert_eq!(landing.silenced_by, Some(by_hand.id));

    // Ended by hand: notified at the next evaluation.
    alerts
        .expire_silence(by_hand.id, now + Duration::minutes(2))
        .await
        .expect("expire");
    assert_eq!(
        alerts
            .silences(false, now + Duration::minutes(3))
            .await
            .expect("list")
            .len(),
        2
    );
    h.tick(&inputs, now + Duration::minutes(3)).await;
    h.assert_notified_once("task_failed:land:orders", "firing");
    assert_eq!(h.counts().hook, 1);

    // Ended by its end time.
    h.tick(&inputs, now + Duration::minutes(11)).await;
    h.assert_notified_once("freshness:support.tickets", "firing");
    assert_eq!(h.counts().hook, 2);

    // Silenced for its whole life: never notified, not even when it resolves.
    inputs.datasets[1] = stale("marketing.campaigns", now, Duration::minutes(1));
    fix_landing(&h, &run_id).await;
    let r = h.tick(&inputs, now + Duration::minutes(12)).await;
    let mut resolved = r.reconcile.resolved.clone();
    resolved.sort();
    assert_eq!(
        resolved,
        ["freshness:marketing.campaigns", "task_failed:land:orders"]
    );
    h.assert_notified_once("task_failed:land:orders", "resolved");
    assert!(
        h.hook
            .calls()
            .iter()
            .all(|c| c.body["incident"]["key"] != "freshness:marketing.campaigns")
    );
    let events = alerts
        .events(landing.id)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.event)
        .collect::<Vec<_>>();
    assert_eq!(
        &events[..4],
        ["opened", "silenced", "unsilenced", "queued"],
        "{events:?}"
    );
}

#[tokio::test]
async fn routes_send_by_severity_and_owner() {
    let h = Harness::new(
        "",
        r#"
[[alerts]]
rule = "task_failed"
[[alerts]]
rule = "freshness"

[[routes]]
severity = "critical"
notifiers = ["hook", "mail"]
[[routes]]
owners = ["analytics*"]
notifiers = ["slack"]
[[routes]]
rules = ["fresh*"]
notifiers = ["script"]
"#,
    )
    .await;
    failed_landing(&h).await;
    let now = Utc::now();
    let mut inputs = MonitorInputs {
        datasets: vec![stale("support.tickets", now, Duration::hours(30))],
        ..Default::default()
    };
    inputs
        .owners
        .insert("support.tickets".into(), "analytics-team".into());
    h.tick(&inputs, now).await;
    let key = |v: &serde_json::Value| v["incident"]["key"].as_str().unwrap_or("").to_string();
    assert_eq!(
        h.hook
            .calls()
            .iter()
            .map(|c| key(&c.body))
            .collect::<Vec<_>>(),
        ["task_failed:land:orders"]
    );
    let mails = h.smtp.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].body.contains("(task_failed:land:orders)"));
    let slack = h.slack.calls();
    assert_eq!(slack.len(), 1);
    assert!(
        slack[0].body["text"]
            .as_str()
            .unwrap_or("")
            .contains("(freshness:support.tickets)")
    );
    assert_eq!(
        h.script_calls().iter().map(key).collect::<Vec<_>>(),
        ["freshness:support.tickets"]
    );
}

#[tokio::test]
async fn a_notifier_that_is_down_is_retried_with_backoff_and_the_others_are_not_repeated() {
    let h = Harness::new(
        "retry_delay = \"30s\"\nmax_retry_delay = \"5m\"",
        "[[alerts]]\nrule = \"task_failed\"\n",
    )
    .await;
    let run_id = failed_landing(&h).await;
    h.hook.fail_next(2);
    let inputs = MonitorInputs::default();
    let t0 = Utc::now();

    let r = h.tick(&inputs, t0).await;
    assert_eq!(r.dispatch.sent(), 3, "{r:#?}");
    assert_eq!(r.dispatch.failed(), 1, "{r:#?}");
    assert_eq!(h.hook.refused(), 1);
    let incident = h
        .monitor
        .alerts()
        .incident_by_key("task_failed:land:orders")
        .await
        .expect("read")
        .expect("recorded");
    let hook = h
        .monitor
        .alerts()
        .deliveries(incident.id)
        .await
        .expect("deliveries")
        .into_iter()
        .find(|d| d.notifier == "hook")
        .expect("the webhook's delivery");
    assert_eq!(hook.state, "pending");
    assert_eq!(hook.attempts, 1);
    let wait = (hook.next_try_at - t0).num_milliseconds();
    assert!(
        (29_990..=30_000).contains(&wait),
        "the first backoff is retry_delay: {wait} ms"
    );
    assert!(
        hook.last_error
            .as_deref()
            .unwrap_or("")
            .contains("answered HTTP 503: down for maintenance"),
        "{hook:#?}"
    );
    assert!(
        !hook.last_error.as_deref().unwrap_or("").contains("/alerts"),
        "errors name the host, not the path"
    );

    // Before the backoff has passed nothing is tried; meanwhile the condition is fixed, and
    // the resolve notifications go out to the notifiers that were told.
    fix_landing(&h, &run_id).await;
    let r = h.tick(&inputs, t0 + Duration::seconds(10)).await;
    assert_eq!(r.reconcile.resolved, ["task_failed:land:orders"]);
    assert_eq!(r.dispatch.sent(), 3, "{r:#?}");
    assert_eq!(h.hook.refused(), 1);
    assert_eq!(h.smtp.mails().len(), 2);

    // The second try fails too; the backoff doubles.
    let r = h.tick(&inputs, t0 + Duration::seconds(31)).await;
    assert_eq!((r.dispatch.sent(), r.dispatch.failed()), (0, 1), "{r:#?}");
    assert_eq!(h.hook.refused(), 2);
    let r = h.tick(&inputs, t0 + Duration::seconds(31 + 59)).await;
    assert!(r.dispatch.attempts.is_empty(), "{r:#?}");

    // Back up: the firing notification, then the resolved one, in that order.
    let r = h.tick(&inputs, t0 + Duration::seconds(31 + 61)).await;
    assert_eq!(r.dispatch.sent(), 2, "{r:#?}");
    let statuses: Vec<String> = h
        .hook
        .calls()
        .iter()
        .map(|c| c.body["status"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(statuses, ["firing", "resolved"]);
    h.assert_notified_once("task_failed:land:orders", "firing");
    h.assert_notified_once("task_failed:land:orders", "resolved");
    assert_eq!(
        h.counts(),
        Counts {
            hook: 2,
            slack: 2,
            mail: 2,
            script: 2
        }
    );
}

#[tokio::test]
async fn a_notifier_that_stays_down_is_given_up_after_its_attempts() {
    let h = Harness::new(
        "retry_delay = \"10s\"\nnotify_attempts = 2",
        "[[alerts]]\nrule = \"task_failed\"\n",
    )
    .await;
    failed_landing(&h).await;
    h.hook.fail_next(100);
    let inputs = MonitorInputs::default();
    let t0 = Utc::now();
    h.tick(&inputs, t0).await;
    h.tick(&inputs, t0 + Duration::seconds(11)).await;
    h.tick(&inputs, t0 + Duration::hours(2)).await;
    assert_eq!(h.hook.refused(), 2);
    let incident = h
        .monitor
        .alerts()
        .incident_by_key("task_failed:land:orders")
        .await
        .expect("read")
        .expect("recorded");
    let events = h
        .monitor
        .alerts()
        .events(incident.id)
        .await
        .expect("events");
    let gave_up = events
        .iter()
        .find(|e| e.event == "gave_up")
        .expect("a gave_up event");
    assert!(
        gave_up.detail.contains("firing via hook after 2 attempts"),
        "{gave_up:?}"
    );
    let stats = h.monitor.alerts().stats().await.expect("stats");
    assert_eq!(stats.notifications.get("failed"), Some(&1));
    assert_eq!(stats.notifications.get("sent"), Some(&3));
}

#[tokio::test]
async fn two_monitors_sharing_a_store_notify_once() {
    let h = Harness::new("", "[[alerts]]\nrule = \"task_failed\"\n").await;
    failed_landing(&h).await;
    // A second process: its own connections to the same database, the same configuration.
    let config: MonitorConfig = h.monitor.config().clone();
    let other = Monitor::open(
        config,
        h.store.clone(),
        "sqlite://.pulse/metadata.sqlite",
        h.dir.path(),
    )
    .await
    .expect("a second monitor");
    let inputs = MonitorInputs::default();
    let now = Utc::now();
    let (a, b) = tokio::join!(h.monitor.tick(&inputs, now), other.tick(&inputs, now));
    let (a, b) = (a.expect("tick"), b.expect("tick"));
    assert_eq!(a.reconcile.opened.len() + b.reconcile.opened.len(), 1);
    assert_eq!(a.dispatch.sent() + b.dispatch.sent(), 4);
    h.assert_notified_once("task_failed:land:orders", "firing");
}
