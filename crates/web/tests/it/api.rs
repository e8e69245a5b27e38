//! The JSON API over a real SQLite store.

use std::collections::HashSet;

use axum::http::StatusCode;
use chrono::Utc;
use pulse_orchestrate::store::Outcome;

use crate::server::{self, succeed};

#[tokio::test]
async fn a_triggered_run_is_listed_with_its_tasks_queued() {
    let s = server::start(None, 3).await;
    let created = s
        .post_json("/api/runs", r#"{"logical_date": "2026-11-05"}"#)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let run = created.json();
    let run_id = run["run_id"].as_str().expect("a run id").to_owned();
    assert_eq!(created.location(), format!("/api/runs/{run_id}"));
    assert_eq!(run["logical_date"], "2026-11-05");
    assert_eq!(run["trigger"], "manual");
    let tasks = run["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 7);
    assert!(
        tasks
            .iter()
            .all(|t| t["state"] == "queued" && t["max_attempts"] == 3)
    );

    let list = s.get("/api/runs").await;
    assert_eq!(list.status, StatusCode::OK);
    let list = list.json();
    assert_eq!(list["total"], 1);
    assert_eq!(list["runs"][0]["run_id"], run_id.as_str());
    assert_eq!(list["runs"][0]["state"], "queued");
    assert!(list["next_before"].is_null());

    let one = s.get(&format!("/api/runs/{run_id}")).await.json();
    assert_eq!(one["tasks"].as_array().map(Vec::len), Some(7));
}

#[tokio::test]
async fn a_trigger_without_a_body_runs_today() {
    let s = server::start(None, 3).await;
    let created = s.post_json("/api/runs", "").await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.json()["logical_date"],
        Utc::now().date_naive().format("%Y-%m-%d").to_string()
    );
}

#[tokio::test]
async fn bad_input_is_a_400_with_a_json_error() {
    let s = server::start(None, 3).await;
    for body in [
        r#"{"logical_date": "05/11/2026"}"#,
        r#"{"date": "2026-11-05"}"#,
        "not json",
    ] {
        let reply = s.post_json("/api/runs", body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            reply.json()["error"]
                .as_str()
                .is_some_and(|e| !e.is_empty())
        );
    }
    for uri in [
        "/api/runs?limit=0",
        "/api/runs?limit=abc",
        "/api/runs?before=no-such-run",
    ] {
        let reply = s.get(uri).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{uri}: {}",
            reply.body
        );
        assert!(reply.json()["error"].is_string());
    }
    assert_eq!(
        s.get("/api/runs").await.json()["total"],
        0,
        "nothing was created"
    );
}

#[tokio::test]
async fn unknown_runs_and_tasks_are_404() {
    let s = server::start(None, 3).await;
    let run = s.create_run(5).await;
    for (method, uri) in [
        ("GET", "/api/runs/no-such-run".to_owned()),
        (
            "GET",
            "/api/runs/no-such-run/tasks/model.fct_orders/log".to_owned(),
        ),
        (
            "POST",
            "/api/runs/no-such-run/tasks/model.fct_orders/retry".to_owned(),
        ),
        (
            "POST",
            format!("/api/runs/{}/tasks/model.nope/success", run.run_id),
        ),
        ("GET", "/api/nothing-here".to_owned()),
    ] {
        let reply = if method == "GET" {
            s.get(&uri).await
        } else {
            s.post_json(&uri, "").await
        };
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{method} {uri}: {}",
            reply.body
        );
        assert!(reply.json()["error"].is_string());
    }
}

#[tokio::test]
async fn pages_of_runs_follow_next_before_without_gaps_or_repeats() {
    let s = server::start(None, 3).await;
    for i in 0..60 {
        s.create_run(1 + i % 28).await;
    }
    let mut seen = HashSet::new();
    let mut sizes = Vec::new();
    let mut uri = "/api/runs?limit=25".to_owned();
    loop {
        let page = s.get(&uri).await.json();
        assert_eq!(page["total"], 60);
        let runs = page["runs"].as_array().expect("runs");
        sizes.push(runs.len());
        for r in runs {
            assert!(
                seen.insert(r["run_id"].as_str().expect("id").to_owned()),
                "a run came twice"
            );
        }
        match page["next_before"].as_str() {
            Some(b) => uri = format!("/api/runs?limit=25&before={b}"),
            None => break,
        }
    }
    assert_eq!(sizes, [25, 25, 10]);
    assert_eq!(seen.len(), 60);
}

#[tokio::test]
async fn retry_and_mark_success_change_states() {
    // One attempt each, so a failure is final at once.
    let s = server::start(None, 1).await;
    let run = s.create_run(5).await;
    let id = run.run_id.as_str();
    s.execute_ready(id, |task| {
        if task == "land.payments.payments" {
            Outcome::Failed {
                error: "payments.sqlite is locked".to_owned(),
                retry_at: Utc::now(),
            }
        } else {
            succeed(task)
        }
    })
    .await;
    assert_eq!(s.task_state(id, "land.payments.payments").await, "failed");
    assert_eq!(
        s.task_state(id, "validate.payments.payments").await,
        "upstream_failed"
    );
    assert_eq!(s.task_state(id, "land.orders.orders").await, "succeeded");

    let retried = s
        .post_json(
            &format!("/api/runs/{id}/tasks/land.payments.payments/retry"),
            "",
        )
        .await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    assert_eq!(retried.json()["state"], "queued");
    assert_eq!(
        s.task_state(id, "validate.payments.payments").await,
        "queued"
    );

    s.execute_ready(id, |_| Outcome::Failed {
        error: "still locked".to_owned(),
        retry_at: Utc::now(),
    })
    .await;
    assert_eq!(s.task_state(id, "land.payments.payments").await, "failed");

    let marked = s
        .post_json(
            &format!("/api/runs/{id}/tasks/land.payments.payments/success"),
            "",
        )
        .await;
    assert_eq!(marked.status, StatusCode::OK, "{}", marked.body);
    assert_eq!(marked.json()["state"], "succeeded");
    assert_eq!(
        s.task_state(id, "validate.payments.payments").await,
        "queued"
    );

    let log = s
        .get(&format!("/api/runs/{id}/tasks/land.payments.payments/log"))
        .await;
    assert_eq!(log.status, StatusCode::OK);
    let messages: Vec<String> = log.json()["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .filter_map(|l| l["message"].as_str().map(str::to_owned))
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("queued again by a retry")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("marked succeeded")),
        "{messages:?}"
    );
}

#[tokio::test]
async fn a_running_task_is_neither_retried_nor_marked() {
    let s = server::start(None, 3).await;
    let run = s.create_run(5).await;
    let claimed = s
        .store
        .claim_tasks(
            Some(&run.run_id),
            "test-worker",
            1,
            std::time::Duration::from_secs(60),
        )
        .await
        .expect("claimed");
    let task = &claimed[0].task_id;
    for action in ["retry", "success"] {
        let reply = s
            .post_json(
                &format!("/api/runs/{}/tasks/{task}/{action}", run.run_id),
                "",
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CONFLICT,
            "{action}: {}",
            reply.body
        );
    }
    assert_eq!(s.task_state(&run.run_id, task).await, "running");
}

#[tokio::test]
async fn health_answers() {
    let s = server::start(None, 3).await;
    let reply = s.get("/health").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["status"], "ok");
}
