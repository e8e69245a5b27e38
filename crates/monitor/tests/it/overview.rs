//! The operator page's data from a staged store.

use crate::common::*;
use chrono::{Duration, Utc};
use pulse_monitor::{DatasetStatus, MonitorInputs};
use pulse_orchestrate::RunState;

#[tokio::test]
async fn the_overview_has_runs_slas_freshness_alerts_trends_and_cost() {
    let h = Harness::new(
        "",
        r#"
[[alerts]]
rule = "sla"
sla = "6h"
[[alerts]]
rule = "freshness"
[[alerts]]
rule = "task_failed"
[[alerts]]
rule = "cost"
budget = 500.0
price_per_core_hour = 0.05
"#,
    )
    .await;
    good_run(&h.store, Some("daily"), 100).await;
    let failed = create_run(&h.store, None, 1).await;
    drive(&h.store, &failed.run_id, |id, _| {
        if id == "model:fct_orders" {
            Do::Fail("division by zero")
        } else {
            Do::Ok(100)
        }
    })
    .await;
    let running = create_run(&h.store, Some("daily"), 1).await;
    drive(&h.store, &running.run_id, |id, _| {
        if id == "land:orders" {
            Do::Hold
        } else {
            Do::Ok(1)
        }
    })
    .await;
    let now = Utc::now();
    let inputs = MonitorInputs {
        datasets: vec![
            DatasetStatus {
                id: "fct_orders".into(),
                last_updated: Some(now - Duration::hours(2)),
                max_age: Some(std::time::Duration::from_secs(3600)),
            },
            DatasetStatus {
                id: "stg_orders".into(),
                last_updated: Some(now - Duration::minutes(10)),
                max_age: Some(std::time::Duration::from_secs(3600)),
            },
            DatasetStatus {
                id: "never_built".into(),
                last_updated: None,
                max_age: None,
            },
        ],
        ..Default::default()
    };
    h.tick(&inputs, now).await;
    let o = h.monitor.overview(&inputs, now).await.expect("overview");

    assert_eq!(o.runs.len(), 3);
    assert_eq!(o.runs[0].run_id, running.run_id);
    assert_eq!(o.runs[0].tasks.get("running"), Some(&1));
    assert_eq!(o.runs[0].tasks.get("queued"), Some(&3));
    assert_eq!(o.runs[1].state, RunState::Failed);

    assert_eq!(o.sla.len(), 1);
    assert_eq!(o.sla[0].schedule, "daily");
    assert_eq!(o.sla[0].run_id, running.run_id);
    assert_eq!(o.sla[0].status, "on_track");
    assert_eq!(o.sla[0].sla_seconds, 6 * 3600);

    let status: Vec<(&str, &str)> = o
        .freshness
        .iter()
        .map(|f| (f.dataset.as_str(), f.status.as_str()))
        .collect();
    assert_eq!(
        status,
        [
            ("fct_orders", "stale"),
            ("stg_orders", "fresh"),
            ("never_built", "unknown")
        ]
    );

    let mut open: Vec<&str> = o.open_alerts.iter().map(|i| i.key.as_str()).collect();
    open.sort();
    assert_eq!(
        open,
        ["freshness:fct_orders", "task_failed:model:fct_orders"]
    );
    let held = o
        .open_alerts
        .iter()
        .find(|i| i.key == "freshness:fct_orders")
        .expect("stale mart");
    assert_eq!(held.status(), "held back", "below the failed model");

    assert_eq!(o.trends.len(), 14);
    let today = o.trends.last().expect("today");
    assert_eq!(today.day, now.date_naive());
    assert_eq!(today.runs, 3);
    assert_eq!(today.failed_runs, 1);
    // Run 1: four succeeded; run 2: three succeeded and one failed; run 3: none finished yet.
    assert_eq!(today.tasks_finished, 8);
    assert_eq!(today.tasks_failed, 1);
    assert!((today.error_rate - 1.0 / 8.0).abs() < 1e-9);
    assert!(today.median_run_seconds.is_some());

    assert_eq!(o.cost.len(), 1);
    assert_eq!(o.cost[0].budget, 500.0);
    assert!(o.cost[0].projected < o.cost[0].budget);
    // It is all JSON for the web page.
    let json = serde_json::to_value(&o).expect("json");
    assert!(json["trends"].as_array().is_some_and(|t| t.len() == 14));
}
