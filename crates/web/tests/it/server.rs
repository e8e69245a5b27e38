//! A real store in a temporary folder and the router over it, driven in process.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use pulse_orchestrate::store::Outcome;
use pulse_orchestrate::{NewRun, RunRecord, Store};
use pulse_web::{WebConfig, router};
use tempfile::TempDir;
use tower::ServiceExt;

use crate::fixtures;

pub struct TestServer {
    // Held so the store's file outlives the test.
    _dir: TempDir,
    pub store: Store,
    pub router: Router,
    pub cfg: WebConfig,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("the body is JSON")
    }

    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .expect("a Location header")
    }
}

pub async fn start(token: Option<&str>, max_attempts: u32) -> TestServer {
    start_with_catalog(token, max_attempts, None).await
}

/// [`start`] with a monitor over the same store behind `/metrics` and `/operations`.
pub async fn start_with_monitor(config: pulse_monitor::MonitorConfig) -> TestServer {
    let mut s = start(None, 1).await;
    let monitor = pulse_monitor::Monitor::open(
        config,
        s.store.clone(),
        "sqlite://metadata.sqlite",
        s._dir.path(),
    )
    .await
    .expect("the monitor opens beside the store");
    s.cfg.monitor = Some(pulse_web::Ops {
        monitor: Arc::new(monitor.with_project("food-delivery")),
        inputs: Arc::new(pulse_monitor::MonitorInputs::default),
    });
    s.router = router(s.cfg.clone());
    s
}

/// [`start`] with a catalog service behind `/catalog` and its API.
pub async fn start_with_catalog(
    token: Option<&str>,
    max_attempts: u32,
    catalog: Option<Arc<pulse_catalog::CatalogService>>,
) -> TestServer {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = Store::open("sqlite://metadata.sqlite", dir.path())
        .await
        .expect("the SQLite store opens");
    let cfg = WebConfig {
        project_name: "food-delivery".to_owned(),
        graph: Arc::new(fixtures::graph()),
        store: store.clone(),
        access_token: token.map(str::to_owned),
        max_attempts,
        metrics: None,
        catalog,
        monitor: None,
    };
    TestServer {
        _dir: dir,
        store,
        router: router(cfg.clone()),
        cfg,
    }
}

impl TestServer {
    pub async fn send(&self, req: Request<Body>) -> Reply {
        let resp = self
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("the router always answers");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 16 << 20)
            .await
            .expect("the body reads");
        Reply {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).expect("the body is UTF-8"),
        }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).expect("a request"))
            .await
    }

    pub async fn post_json(&self, uri: &str, body: &str) -> Reply {
        self.send(
            Request::post(uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_owned()))
                .expect("a request"),
        )
        .await
    }

    pub async fn post_form(&self, uri: &str, body: &str) -> Reply {
        self.send(
            Request::post(uri)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body.to_owned()))
                .expect("a request"),
        )
        .await
    }

    /// A run of the fixture graph, created straight in the store.
    pub async fn create_run(&self, day: u32) -> RunRecord {
        self.store
            .create_run(NewRun {
                logical_date: fixtures::date(day),
                trigger: "schedule".to_owned(),
                schedule: None,
                tasks: self.cfg.graph.tasks.clone(),
                max_attempts: self.cfg.max_attempts,
            })
            .await
            .expect("the run is created")
    }

    /// Plays an executor: claims the run's ready tasks and ends each with `outcome(task_id)`.
    pub async fn execute_ready(&self, run_id: &str, outcome: impl Fn(&str) -> Outcome) {
        let claimed = self
            .store
            .claim_tasks(
                Some(run_id),
                "test-worker",
                100,
                std::time::Duration::from_secs(60),
            )
            .await
            .expect("tasks are claimed");
        for t in claimed {
            self.store
                .finish_task(
                    run_id,
                    &t.task_id,
                    "test-worker",
                    t.attempt,
                    outcome(&t.task_id),
                )
                .await
                .expect("the attempt is recorded");
        }
        self.store
            .finalize_run(run_id)
            .await
            .expect("the run is finalized");
    }

    pub async fn task_state(&self, run_id: &str, task_id: &str) -> String {
        let reply = self.get(&format!("/api/runs/{run_id}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json()["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .find(|t| t["task_id"] == task_id)
            .and_then(|t| t["state"].as_str())
            .expect("the task is in the run")
            .to_owned()
    }
}

pub fn succeed(_: &str) -> Outcome {
    Outcome::Succeeded {
        rows: 10,
        bytes: 1_000,
        skipped: false,
    }
}
