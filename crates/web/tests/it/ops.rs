//! `/metrics` and the operator page over a real SQLite store and a real monitor: healthy after
//! a good run; after a failed landing the monitor's evaluation opens an incident that the page,
//! the JSON API and the Prometheus text all show.

use axum::http::{StatusCode, header};
use chrono::Utc;
use pulse_monitor::{MonitorConfig, MonitorInputs};
use pulse_orchestrate::store::Outcome;

use crate::server;

#[tokio::test]
async fn the_operator_page_and_metrics_follow_the_store() {
    let config = MonitorConfig::from_toml("[[alerts]]\nrule = \"task_failed\"\n")
        .expect("a task_failed rule");
    let s = server::start_with_monitor(config).await;

    let good = s.create_run(1).await;
    s.execute_ready(&good.run_id, |_| Outcome::Succeeded {
        rows: 10,
        bytes: 100,
        skipped: false,
    })
    .await;
    let page = s.get("/operations").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("data-health=\"good\""), "{}", page.body);
    assert!(page.body.contains("Healthy"), "{}", page.body);
    assert!(page.body.contains(&good.run_id), "{}", page.body);

    let bad = s.create_run(2).await;
    s.execute_ready(&bad.run_id, |task| {
        if task == "land.payments.payments" {
            Outcome::Failed {
                error: "payments.sqlite is locked".to_owned(),
                retry_at: Utc::now(),
            }
        } else {
            Outcome::Succeeded {
                rows: 10,
                bytes: 100,
                skipped: false,
            }
        }
    })
    .await;
    let ops = s.cfg.monitor.as_ref().expect("monitor");
    let report = ops
        .monitor
        .tick(&MonitorInputs::default(), Utc::now())
        .await
        .expect("the rules evaluate");
    assert_eq!(
        report.reconcile.opened,
        ["task_failed:land.payments.payments"]
    );

    let page = s.get("/operations").await;
    assert!(page.body.contains("data-health=\"bad\""), "{}", page.body);
    assert!(
        page.body
            .contains("data-key=\"task_failed:land.payments.payments\""),
        "{}",
        page.body
    );
    let overview = s.get("/api/operations").await.json();
    assert_eq!(overview["open_alerts"][0]["rule"], "task_failed");
    assert_eq!(overview["runs"][0]["run_id"], bad.run_id.as_str());
    let alerts = s.get("/api/alerts?open=true").await.json();
    assert_eq!(alerts.as_array().map(Vec::len), Some(1), "{alerts:#}");

    let metrics = s.get("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert_eq!(
        metrics.headers[header::CONTENT_TYPE],
        pulse_monitor::prometheus::CONTENT_TYPE
    );
    assert!(
        metrics
            .body
            .contains("pulse_task_failures_total{task=\"land.payments.payments\",kind=\"land\"} 1"),
        "{}",
        metrics.body
    );
}

#[tokio::test]
async fn without_a_monitor_the_operations_routes_say_so() {
    let s = server::start(None, 1).await;
    for path in ["/metrics", "/operations", "/api/operations", "/api/alerts"] {
        let r = s.get(path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(r.body.contains("no monitor"), "{path}: {}", r.body);
    }
}
