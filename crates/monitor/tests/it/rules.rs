//! Each rule fires on a staged failure in a real SQLite metadata store, notifies every receiver
//! once, stays quiet while the condition holds, and resolves (with one notification each) once
//! the condition is fixed.

use crate::common::*;
use chrono::{Duration, Utc};
use pulse_monitor::{DatasetStatus, MonitorInputs, QualityResult};
use pulse_orchestrate::RunState;
use pulse_orchestrate::store::Outcome;
use pulse_project::{Catchup, ConfigDuration, ScheduleConfig};
use std::time::Duration as StdDuration;

fn daily_with_sla(hours: u64) -> ScheduleConfig {
    ScheduleConfig {
        name: "daily".into(),
        cron: "0 6 * * *".into(),
        timezone: "UTC".into(),
        catchup: Catchup::Latest,
        sla: Some(ConfigDuration::from_secs(hours * 3600)),
        select: None,
    }
}

#[tokio::test]
async fn a_task_that_failed_after_its_retries() {
    let h = Harness::new("", "[[alerts]]\nrule = \"task_failed\"\n").await;
    let run = create_run(&h.store, None, 2).await;
    let done = drive(&h.store, &run.run_id, |id, _| {
        if id == "land:orders" {
            Do::Fail("connection refused by the orders database")
        } else {
            Do::Ok(10)
        }
    })
    .await;
    assert_eq!(done.state, RunState::Failed);
    let mut inputs = MonitorInputs::default();
    inputs
        .owners
        .insert("orders.orders".into(), "orders-team@example.com".into());

    let (eval, _) = h
        .monitor
        .evaluate(&inputs, Utc::now())
        .await
        .expect("evaluate");
    let alert = &eval.alerts[0];
    assert!(
        alert
            .summary
            .starts_with("task land:orders failed after 2 attempts in run"),
        "{}",
        alert.summary
    );
    assert!(
        alert.summary.contains("connection refused"),
        "{}",
        alert.summary
    );
    assert!(
        alert.summary.contains("3 downstream tasks blocked"),
        "{}",
        alert.summary
    );
    assert_eq!(alert.owner.as_deref(), Some("orders-team@example.com"));
    assert!(alert.involved.contains(&"model:fct_orders".to_string()));

    let (store, id) = (h.store.clone(), run.run_id.clone());
    h.lifecycle(
        "task_failed:land:orders",
        &inputs,
        Utc::now(),
        || async move {
            store.retry_task(&id, "land:orders").await.expect("retry");
            let r = drive(&store, &id, |_, _| Do::Ok(10)).await;
            assert_eq!(r.state, RunState::Succeeded);
        },
        &inputs,
        Utc::now() + Duration::minutes(5),
    )
    .await;
    // The owner got the mails too.
    assert!(
        h.smtp
            .mails()
            .iter()
            .all(|m| m.to.contains(&"orders-team@example.com".to_string())),
        "{:#?}",
        h.smtp.mails()
    );
}

#[tokio::test]
async fn a_run_that_missed_its_sla() {
    // The SLA is the schedule's own (6 hours), as [[schedules]] declares it.
    let h = Harness::new("", "[[alerts]]\nrule = \"sla\"\n").await;
    good_run(&h.store, Some("daily"), 10).await;
    let run = create_run(&h.store, Some("daily"), 1).await;
    drive(&h.store, &run.run_id, |id, _| {
        if id == "model:fct_orders" {
            Do::Hold
        } else {
            Do::Ok(10)
        }
    })
    .await;
    let inputs = MonitorInputs {
        schedules: vec![daily_with_sla(6)],
        ..Default::default()
    };
    let later = Utc::now() + Duration::hours(7);
    let (eval, _) = h.monitor.evaluate(&inputs, later).await.expect("evaluate");
    assert!(
        eval.alerts[0]
            .summary
            .contains("missed its 6h 00m SLA: still running after 7h"),
        "{}",
        eval.alerts[0].summary
    );
    assert_eq!(
        eval.alerts[0].involved,
        vec!["model:fct_orders".to_string()]
    );
    // Within the SLA nothing fires.
    let (eval, _) = h
        .monitor
        .evaluate(&inputs, Utc::now() + Duration::hours(5))
        .await
        .expect("evaluate");
    assert!(eval.alerts.is_empty(), "{eval:#?}");

    let (store, id) = (h.store.clone(), run.run_id.clone());
    h.lifecycle(
        "sla:daily",
        &inputs,
        later,
        || async move {
            store
                .finish_task(
                    &id,
                    "model:fct_orders",
                    "test-worker",
                    1,
                    Outcome::Succeeded {
                        rows: 10,
                        bytes: 100,
                        skipped: false,
                    },
                )
                .await
                .expect("finish");
            let r = store.finalize_run(&id).await.expect("finalize");
            assert_eq!(r.state, RunState::Succeeded);
        },
        &inputs,
        later + Duration::minutes(2),
    )
    .await;
}

#[tokio::test]
async fn a_dataset_stale_beyond_its_window() {
    let h = Harness::new("", "[[alerts]]\nrule = \"freshness\"\n").await;
    good_run(&h.store, None, 10).await;
    let now = Utc::now();
    let dataset = |age: Duration| MonitorInputs {
        datasets: vec![DatasetStatus {
            id: "fct_orders".into(),
            last_updated: Some(now - age),
            max_age: Some(StdDuration::from_secs(26 * 3600)),
        }],
        ..Default::default()
    };
    let stale = dataset(Duration::hours(30));
    let (eval, _) = h.monitor.evaluate(&stale, now).await.expect("evaluate");
    assert_eq!(
        eval.alerts[0].summary,
        "dataset fct_orders is stale: last updated 1d 06h ago, allowed 1d 02h"
    );
    assert_eq!(
        eval.alerts[0].involved,
        vec!["model:fct_orders".to_string()]
    );
    h.lifecycle(
        "freshness:fct_orders",
        &stale,
        now,
        || async {},
        &dataset(Duration::minutes(1)),
        now + Duration::minutes(5),
    )
    .await;
}

#[tokio::test]
async fn a_quality_failure_rate_over_the_threshold() {
    let h = Harness::new(
        "",
        "[[alerts]]\nrule = \"quality\"\nthreshold = 0.2\nwindow = 2\n",
    )
    .await;
    good_run(&h.store, None, 10).await;
    let run = create_run(&h.store, None, 1).await;
    drive(&h.store, &run.run_id, |id, _| {
        if id == "validate:orders.orders" {
            Do::Fail("expect_column_values_to_not_be_null(order_id): 12 rows")
        } else {
            Do::Ok(10)
        }
    })
    .await;
    let inputs = MonitorInputs::default();
    let (eval, _) = h
        .monitor
        .evaluate(&inputs, Utc::now())
        .await
        .expect("evaluate");
    assert_eq!(
        eval.alerts[0].summary,
        "dataset orders.orders: 1 of 2 validations failed (50.0 %, threshold 20.0 %) over the last 2 validations"
    );
    let store = h.store.clone();
    h.lifecycle(
        "quality:orders.orders",
        &inputs,
        Utc::now(),
        || async move {
            good_run(&store, None, 10).await;
            good_run(&store, None, 10).await;
        },
        &inputs,
        Utc::now() + Duration::minutes(5),
    )
    .await;
}

#[tokio::test]
async fn a_quality_rate_from_expectation_results() {
    let h = Harness::new("", "[[alerts]]\nrule = \"quality\"\nthreshold = 0.2\n").await;
    good_run(&h.store, None, 10).await;
    let result = |failed: u32| QualityResult {
        dataset: "fct_orders".into(),
        run_id: "r".into(),
        at: Utc::now(),
        passed: 10 - failed,
        failed,
    };
    let firing = MonitorInputs {
        quality: vec![result(3)],
        ..Default::default()
    };
    let (eval, _) = h
        .monitor
        .evaluate(&firing, Utc::now())
        .await
        .expect("evaluate");
    assert_eq!(eval.alerts.len(), 1, "{eval:#?}");
    assert_eq!(
        eval.alerts[0].summary,
        "dataset fct_orders: 3 of 10 expectations failed (30.0 %, threshold 20.0 %) over the last 1 validation"
    );
    let fixed = MonitorInputs {
        quality: vec![result(1)],
        ..Default::default()
    };
    h.lifecycle(
        "quality:fct_orders",
        &firing,
        Utc::now(),
        || async {},
        &fixed,
        Utc::now() + Duration::minutes(5),
    )
    .await;
}

#[tokio::test]
async fn a_volume_anomaly_against_the_trailing_median() {
    let h = Harness::new("", "[[alerts]]\nrule = \"volume\"\n").await;
    for rows in [1000, 1100, 900, 1000, 1050] {
        let run = create_run(&h.store, None, 1).await;
        drive(&h.store, &run.run_id, |id, _| {
            Do::Ok(if id == "land:orders" { rows } else { 10 })
        })
        .await;
    }
    let run = create_run(&h.store, None, 1).await;
    drive(&h.store, &run.run_id, |id, _| {
        Do::Ok(if id == "land:orders" { 12 } else { 10 })
    })
    .await;
    let inputs = MonitorInputs::default();
    let (eval, _) = h
        .monitor
        .evaluate(&inputs, Utc::now())
        .await
        .expect("evaluate");
    assert_eq!(
        eval.alerts.len(),
        1,
        "only the landing is judged: {eval:#?}"
    );
    assert!(
        eval.alerts[0].summary.contains("produced 12 rows in run")
            && eval.alerts[0]
                .summary
                .contains("far below the median of 1000 over its previous 5 successful runs"),
        "{}",
        eval.alerts[0].summary
    );
    let store = h.store.clone();
    h.lifecycle(
        "volume:land:orders",
        &inputs,
        Utc::now(),
        || async move {
            let run = create_run(&store, None, 1).await;
            drive(&store, &run.run_id, |id, _| {
                Do::Ok(if id == "land:orders" { 980 } else { 10 })
            })
            .await;
        },
        &inputs,
        Utc::now() + Duration::minutes(5),
    )
    .await;
}

#[tokio::test]
async fn a_run_slower_than_usual() {
    let h = Harness::new("", "[[alerts]]\nrule = \"slow_run\"\n").await;
    for _ in 0..3 {
        good_run(&h.store, Some("daily"), 10).await;
    }
    let run = create_run(&h.store, Some("daily"), 1).await;
    drive(&h.store, &run.run_id, |id, _| {
        if id == "model:fct_orders" {
            Do::Hold
        } else {
            Do::Ok(10)
        }
    })
    .await;
    let inputs = MonitorInputs::default();
    let later = Utc::now() + Duration::hours(1);
    let (eval, _) = h.monitor.evaluate(&inputs, later).await.expect("evaluate");
    assert!(
        eval.alerts[0]
            .summary
            .contains("of schedule daily has been running for 1h 00m, against a median of 0s over the previous 3 successful runs"),
        "{}",
        eval.alerts[0].summary
    );
    assert_eq!(eval.alerts[0].involved[0], "model:fct_orders");
    // Four minutes in is slower too, but not by the 5 minutes that make it worth a page.
    let (eval, _) = h
        .monitor
        .evaluate(&inputs, Utc::now() + Duration::minutes(4))
        .await
        .expect("evaluate");
    assert!(eval.alerts.is_empty(), "{eval:#?}");

    let (store, id) = (h.store.clone(), run.run_id.clone());
    h.lifecycle(
        "slow_run:daily",
        &inputs,
        later,
        || async move {
            store
                .finish_task(
                    &id,
                    "model:fct_orders",
                    "test-worker",
                    1,
                    Outcome::Succeeded {
                        rows: 10,
                        bytes: 100,
                        skipped: false,
                    },
                )
                .await
                .expect("finish");
            store.finalize_run(&id).await.expect("finalize");
        },
        &inputs,
        later + Duration::minutes(2),
    )
    .await;
}

#[tokio::test]
async fn a_projected_monthly_cost_over_budget() {
    let h = Harness::new(
        "",
        "[[alerts]]\nrule = \"cost\"\nbudget = 100.0\nprice_per_core_hour = 1000000.0\ncores_per_task = 2.0\ncurrency = \"EUR\"\n",
    )
    .await;
    let run = create_run(&h.store, None, 1).await;
    drive(&h.store, &run.run_id, |_, _| {
        Do::Work(StdDuration::from_millis(300), 10)
    })
    .await;
    let now = Utc::now();
    let report = h.monitor.cost(now).await.expect("cost");
    let c = &report[0];
    // Four tasks of about 0.3 s on two cores each: about 2.4 core-seconds.
    let core_seconds = c.core_hours * 3600.0;
    assert!((2.3..4.0).contains(&core_seconds), "{c:#?}");
    assert!(c.spent > c.budget && c.projected >= c.spent, "{c:#?}");
    assert_eq!(c.currency, "EUR");
    let (eval, _) = h
        .monitor
        .evaluate(&MonitorInputs::default(), now)
        .await
        .expect("evaluate");
    assert!(
        eval.alerts[0]
            .summary
            .contains("over the budget of 100.00 EUR"),
        "{}",
        eval.alerts[0].summary
    );
    // The month ends: the new month has spent nothing yet.
    let next_month = c.month_end + Duration::days(10);
    h.lifecycle(
        "cost:compute",
        &MonitorInputs::default(),
        now,
        || async {},
        &MonitorInputs::default(),
        next_month,
    )
    .await;
}
