//! `/metrics` from a staged store: `promtool check metrics` accepts it (Debian's `prometheus`
//! package; the test fails when promtool is missing), the numbers are the store's, and another
//! process reads the same numbers.

use crate::common::*;
use chrono::{Duration, Utc};
use pulse_monitor::{DatasetStatus, Monitor, MonitorConfig, MonitorInputs, QualityResult};
use pulse_project::{Catchup, ScheduleConfig};
use std::io::Write;
use std::process::{Command, Stdio};

fn promtool_check(text: &str) {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!(
            "this test needs promtool (`apt-get install -y prometheus` installs it; scripts/test.sh does) and cannot run it: {e}"
        ),
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool ran");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {said}\n--- the exposition ---\n{text}"
    );
}

/// Without the process metrics, which differ between processes.
fn store_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.contains("process_"))
        .map(str::to_string)
        .collect()
}

fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no series {series} in:\n{text}"))
        .parse()
        .expect("a number")
}

#[tokio::test]
async fn metrics_pass_promtool_and_count_what_the_store_holds() {
    let h = Harness::new(
        "",
        "[[alerts]]\nrule = \"task_failed\"\n[[alerts]]\nrule = \"freshness\"\n",
    )
    .await;
    good_run(&h.store, Some("daily"), 1000).await;
    // A landing that failed on both its attempts.
    let failed = create_run(&h.store, None, 2).await;
    drive(&h.store, &failed.run_id, |id, _| {
        if id == "land:orders" {
            Do::Fail("boom")
        } else {
            Do::Ok(5)
        }
    })
    .await;
    // A run with its landing running and three tasks queued behind it, and one not started.
    let running = create_run(&h.store, None, 1).await;
    drive(&h.store, &running.run_id, |_, _| Do::Hold).await;
    create_run(&h.store, None, 1).await;

    let now = Utc::now();
    let inputs = MonitorInputs {
        datasets: vec![
            DatasetStatus {
                id: "fct_orders".into(),
                last_updated: Some(now - Duration::hours(30)),
                max_age: Some(std::time::Duration::from_secs(26 * 3600)),
            },
            // Label values are escaped.
            DatasetStatus {
                id: "odd \"name\" \\ with\nnewline".into(),
                last_updated: Some(now - Duration::hours(1)),
                max_age: Some(std::time::Duration::from_secs(26 * 3600)),
            },
        ],
        quality: vec![QualityResult {
            dataset: "orders.orders".into(),
            run_id: failed.run_id.clone(),
            at: now,
            passed: 9,
            failed: 1,
        }],
        schedules: vec![ScheduleConfig {
            name: "daily".into(),
            cron: "0 6 * * *".into(),
            timezone: "UTC".into(),
            catchup: Catchup::Latest,
            sla: None,
            select: None,
        }],
        ..Default::default()
    };
    h.tick(&inputs, now).await;
    let text = h.monitor.metrics(&inputs, now).await.expect("metrics");
    promtool_check(&text);

    assert_eq!(value(&text, "pulse_runs{state=\"succeeded\"}"), 1.0);
    assert_eq!(value(&text, "pulse_runs{state=\"failed\"}"), 1.0);
    assert_eq!(value(&text, "pulse_runs{state=\"queued\"}"), 1.0);
    assert_eq!(value(&text, "pulse_runs{state=\"running\"}"), 1.0);
    assert_eq!(
        value(
            &text,
            "pulse_run_duration_seconds_count{state=\"succeeded\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "pulse_run_duration_seconds_bucket{state=\"failed\",le=\"+Inf\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "pulse_task_failures_total{task=\"land:orders\",kind=\"land\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "pulse_task_retries_total{task=\"land:orders\",kind=\"land\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "pulse_task_rows_total{task=\"land:orders\",kind=\"land\"}"
        ),
        1000.0
    );
    assert_eq!(
        value(
            &text,
            "pulse_task_bytes_total{task=\"model:fct_orders\",kind=\"model\"}"
        ),
        10_000.0
    );
    assert_eq!(
        value(
            &text,
            "pulse_task_duration_seconds_count{kind=\"land\",state=\"failed\"}"
        ),
        1.0
    );
    assert_eq!(value(&text, "pulse_queue_depth{state=\"queued\"}"), 7.0);
    assert_eq!(value(&text, "pulse_tasks_running"), 1.0);
    assert_eq!(
        value(
            &text,
            "pulse_dataset_freshness_lag_seconds{dataset=\"fct_orders\"}"
        ),
        108_000.0
    );
    assert!(text.contains("{dataset=\"odd \\\"name\\\" \\\\ with\\nnewline\"}"));
    assert_eq!(
        value(
            &text,
            "pulse_quality_expectations{dataset=\"orders.orders\",result=\"failed\"}"
        ),
        1.0
    );
    // No scheduler ever fired `daily` in this store: it lags since its latest fire time.
    assert!(value(&text, "pulse_scheduler_lag_seconds{schedule=\"daily\"}") > 0.0);
    assert_eq!(
        value(
            &text,
            "pulse_alerts_open{severity=\"critical\",status=\"notified\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "pulse_alerts_open{severity=\"warning\",status=\"held_back\"}"
        ),
        1.0,
        "the stale mart below the failed landing"
    );
    assert_eq!(
        value(&text, "pulse_alert_notifications{state=\"sent\"}"),
        4.0
    );
    assert!(value(&text, "process_resident_memory_bytes") > 0.0);
    assert!(value(&text, "process_open_fds") > 0.0);

    // Another process sharing the store reads the same numbers.
    let config: MonitorConfig = h.monitor.config().clone();
    let other = Monitor::open(
        config.clone(),
        h.store.clone(),
        "sqlite://.pulse/metadata.sqlite",
        h.dir.path(),
    )
    .await
    .expect("another monitor");
    let theirs = other.metrics(&inputs, now).await.expect("metrics");
    assert_eq!(store_lines(&text), store_lines(&theirs));

    // A finished run that changes again (a retry) is read again, not counted twice.
    h.store
        .retry_task(&failed.run_id, "land:orders")
        .await
        .expect("retry");
    drive(&h.store, &failed.run_id, |_, _| Do::Ok(7)).await;
    let mine = h.monitor.metrics(&inputs, now).await.expect("metrics");
    let fresh = Monitor::open(
        config,
        h.store.clone(),
        "sqlite://.pulse/metadata.sqlite",
        h.dir.path(),
    )
    .await
    .expect("a third monitor")
    .metrics(&inputs, now)
    .await
    .expect("metrics");
    assert_eq!(store_lines(&mine), store_lines(&fresh));
    assert_eq!(
        value(
            &mine,
            "pulse_task_rows_total{task=\"land:orders\",kind=\"land\"}"
        ),
        1007.0
    );
    promtool_check(&mine);
}
