//! The web server of `pulse serve`: the runs pages and the JSON API over the orchestrator's
//! store, the dashboards and metrics API over the semantic layer, and the catalog (search,
//! dataset and metric pages, lineage) over the catalog service. Pages are rendered on the
//! server (charts too, as inline SVG); the only script is our own, embedded in the binary.
//!
//! The web side never runs tasks: it reads the store and writes to it (a new run, a retry, a
//! task marked successful), and the executors in the same process pick the work up.

mod api;
mod assets;
mod auth;
pub mod catalog;
mod catalog_http;
pub mod charts;
pub mod dashboards;
mod error;
pub mod format;
mod metrics_api;
pub mod operations;
mod pages;
pub mod params;
pub mod render;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};
use pulse_catalog::CatalogService;
use pulse_metrics::MetricsService;
use pulse_orchestrate::{AssetGraph, Store};
use tokio::net::TcpListener;

pub use error::WebError;
pub use operations::{InputsFn, Ops};

/// Everything the server needs: the project's graph (what a triggered run contains) and the
/// store that holds the runs.
#[derive(Clone)]
pub struct WebConfig {
    pub project_name: String,
    pub graph: Arc<AssetGraph>,
    pub store: Store,
    /// When set, every request except `/health` must present it.
    pub access_token: Option<String>,
    /// Attempts each task of a triggered run gets.
    pub max_attempts: u32,
    /// The semantic layer behind the dashboards and `/api/metrics`; without it the dashboard
    /// pages say that no metrics are configured and the metrics API answers 404.
    pub metrics: Option<Arc<MetricsService>>,
    /// The catalog behind `/catalog` and `/api/catalog`, `/api/lineage`; without it the catalog
    /// pages say that no catalog is configured and its API answers 404.
    pub catalog: Option<Arc<CatalogService>>,
    /// The monitor behind `/metrics` and the operator page (`/operations`, `/api/operations`,
    /// `/api/alerts`); without it those answer 404.
    pub monitor: Option<operations::Ops>,
}

type App = Arc<WebConfig>;

/// How many runs the grid shows at once; the store is asked for one more to know if there are
/// older ones.
pub const GRID_RUNS: u32 = 25;

/// The store's name for a run a person started (beside schedule, backfill and cli).
const MANUAL: &str = "manual";

/// All pages and the API, with the access-token check in front of everything but `/health`,
/// `/login` and the static stylesheet and script (which hold nothing secret and style the
/// login page).
pub fn router(cfg: WebConfig) -> Router {
    let app: App = Arc::new(cfg);
    let protected = Router::new()
        .route("/", get(|| async { Redirect::to("/runs") }))
        .route("/runs", get(pages::runs).post(pages::trigger))
        .route("/runs/{run_id}", get(pages::run))
        .route("/runs/{run_id}/tasks/{task_id}", get(pages::task_log))
        .route("/runs/{run_id}/tasks/{task_id}/retry", post(pages::retry))
        .route(
            "/runs/{run_id}/tasks/{task_id}/success",
            post(pages::mark_success),
        )
        .route("/api/runs", get(api::list_runs).post(api::trigger))
        .route("/api/runs/{run_id}", get(api::run))
        .route("/api/runs/{run_id}/tasks/{task_id}/retry", post(api::retry))
        .route(
            "/api/runs/{run_id}/tasks/{task_id}/success",
            post(api::mark_success),
        )
        .route("/api/runs/{run_id}/tasks/{task_id}/log", get(api::task_log))
        .route("/dashboards", get(pages::dashboards))
        .route("/dashboards/{name}", get(pages::dashboard))
        // `{tile}.csv`: the handler strips the suffix (a route segment cannot mix text and a
        // parameter).
        .route("/dashboards/{name}/tiles/{file}", get(pages::tile_csv))
        .route("/api/metrics", get(metrics_api::list))
        .route(
            "/api/metrics/query",
            get(metrics_api::query_get).post(metrics_api::query_post),
        )
        .route("/api/dashboards", get(metrics_api::dashboards))
        .route("/api/dashboards/{name}", get(metrics_api::dashboard))
        .route("/catalog", get(catalog_http::home))
        .route("/catalog/search", get(catalog_http::search))
        .route("/catalog/datasets/{id}", get(catalog_http::dataset))
        .route("/api/catalog/search", get(catalog_http::search_json))
        .route("/api/catalog/datasets", get(catalog_http::datasets_json))
        .route(
            "/api/catalog/datasets/{id}",
            get(catalog_http::dataset_json),
        )
        .route("/api/lineage/{id}", get(catalog_http::lineage_json))
        .route("/metrics", get(operations::prometheus))
        .route("/operations", get(operations::page))
        .route("/api/operations", get(operations::overview_json))
        .route("/api/alerts", get(operations::alerts_json))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::require_token,
        ));
    Router::new()
        .route("/health", get(api::health))
        .route("/login", get(auth::login))
        .route("/static/pulse.css", get(assets::css))
        .route("/static/pulse.js", get(assets::js))
        .merge(protected)
        .layer(axum::middleware::from_fn(auth::same_origin_writes))
        .layer(axum::middleware::map_response(assets::security_headers))
        .with_state(app)
}

/// Refuses to expose the server beyond this machine without an access token: the pages can
/// trigger runs and mark tasks successful.
pub fn check_bind(addr: &SocketAddr, token: Option<&str>) -> Result<(), WebError> {
    match token {
        Some("") => Err(WebError::EmptyToken),
        Some(_) => Ok(()),
        None if addr.ip().is_loopback() => Ok(()),
        None => Err(WebError::NonLoopbackWithoutToken { addr: *addr }),
    }
}

/// Listens on `addr` and serves until `shutdown` completes.
pub async fn serve(
    addr: SocketAddr,
    cfg: WebConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WebError> {
    check_bind(&addr, cfg.access_token.as_deref())?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| WebError::Bind { addr, source })?;
    serve_listener(listener, cfg, shutdown).await
}

/// Serves on a listener the caller bound, e.g. on port 0 to learn the port first.
pub async fn serve_listener(
    listener: TcpListener,
    cfg: WebConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WebError> {
    let addr = listener.local_addr().map_err(WebError::Serve)?;
    check_bind(&addr, cfg.access_token.as_deref())?;
    axum::serve(listener, router(cfg))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(WebError::Serve)
}

/// The store reads and writes both the pages and the API make, with the same checks.
mod ops {
    use chrono::{NaiveDate, Utc};
    use pulse_orchestrate::{NewRun, RunRecord, TaskInstance, TaskState};

    use crate::{App, WebError};

    pub async fn run(app: &App, run_id: &str) -> Result<RunRecord, WebError> {
        app.store
            .run(run_id)
            .await?
            .ok_or_else(|| WebError::RunNotFound(run_id.to_owned()))
    }

    pub async fn task(
        app: &App,
        run_id: &str,
        task_id: &str,
    ) -> Result<(RunRecord, TaskInstance), WebError> {
        let run = run(app, run_id).await?;
        let task = app
            .store
            .tasks(run_id)
            .await?
            .into_iter()
            .find(|t| t.task_id == task_id)
            .ok_or_else(|| WebError::TaskNotFound {
                run_id: run_id.to_owned(),
                task_id: task_id.to_owned(),
            })?;
        Ok((run, task))
    }

    /// An absent or empty date means today (UTC, the clock the store keeps).
    pub fn logical_date(raw: Option<&str>) -> Result<NaiveDate, WebError> {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(Utc::now().date_naive()),
            Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                WebError::BadRequest(format!(
                    "logical_date must be a date as YYYY-MM-DD, got {s:?}"
                ))
            }),
        }
    }

    pub async fn trigger(
        app: &App,
        logical_date: NaiveDate,
        trigger: &str,
    ) -> Result<RunRecord, WebError> {
        Ok(app
            .store
            .create_run(NewRun {
                logical_date,
                trigger: trigger.to_owned(),
                schedule: None,
                tasks: app.graph.tasks.clone(),
                max_attempts: app.max_attempts,
            })
            .await?)
    }

    /// The store refuses to touch a running attempt; saying so here gives the caller a 409
    /// rather than a store failure.
    fn refuse_running(t: &TaskInstance, action: &str) -> Result<(), WebError> {
        if t.state == TaskState::Running {
            return Err(WebError::Conflict(format!(
                "cannot {action} task {} of run {}: attempt {} is running; wait for it to end",
                t.task_id, t.run_id, t.attempt
            )));
        }
        Ok(())
    }

    pub async fn retry(app: &App, run_id: &str, task_id: &str) -> Result<TaskInstance, WebError> {
        refuse_running(&task(app, run_id, task_id).await?.1, "retry")?;
        app.store.retry_task(run_id, task_id).await?;
        Ok(task(app, run_id, task_id).await?.1)
    }

    pub async fn mark_success(
        app: &App,
        run_id: &str,
        task_id: &str,
    ) -> Result<TaskInstance, WebError> {
        refuse_running(&task(app, run_id, task_id).await?.1, "mark success")?;
        app.store.mark_success(run_id, task_id).await?;
        Ok(task(app, run_id, task_id).await?.1)
    }
}
