//! The metrics API: definitions, queries through the semantic layer, and dashboards as JSON.
//! The pages and the API read through the same service, so they show the same figures.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use pulse_metrics::{MetricRequest, MetricsService};
use serde::Serialize;

use crate::api::ApiError;
use crate::dashboards::{DashboardSummary, dashboard_url};
use crate::{App, WebError, params};

type ApiResult<T> = Result<T, ApiError>;

fn service(app: &App) -> Result<&MetricsService, ApiError> {
    app.metrics.as_deref().ok_or(ApiError(WebError::NoMetrics))
}

#[derive(Serialize)]
struct MetricJson<'a> {
    name: &'a str,
    label: String,
    description: Option<&'a str>,
    owner: Option<&'a str>,
    tags: &'a [String],
    model: Option<&'a str>,
    measure: pulse_project::Measure,
    /// Every dimension the metric may be cut or filtered by.
    dimensions: Vec<String>,
    format: &'static str,
    unit: Option<&'a str>,
    decimals: Option<u8>,
}

/// `GET /api/metrics`.
pub async fn list(State(app): State<App>) -> ApiResult<Json<serde_json::Value>> {
    let m = service(&app)?;
    let defs = m.definitions();
    let metrics: Vec<MetricJson<'_>> = defs
        .metrics()
        .map(|metric| {
            let c = &metric.config;
            MetricJson {
                name: metric.name(),
                label: metric.label(),
                description: c.description.as_deref(),
                owner: c.owner.as_deref(),
                tags: &c.tags,
                model: c.model.as_deref(),
                measure: c.measure,
                dimensions: defs.allowed_dimensions(metric.name()).into_iter().collect(),
                format: c.format.as_str(),
                unit: c.unit.as_deref(),
                decimals: c.decimals,
            }
        })
        .collect();
    Ok(Json(serde_json::json!({ "metrics": metrics })))
}

async fn answer(m: &MetricsService, req: &MetricRequest) -> ApiResult<Response> {
    let result = m.query(req).await.map_err(WebError::from)?;
    Ok(Json(result.as_ref()).into_response())
}

/// `GET /api/metrics/query?metrics=orders,gmv&by=city&grain=week&from=…&to=…&f.city=Berlin`.
pub async fn query_get(State(app): State<App>, uri: Uri) -> ApiResult<Response> {
    let m = service(&app)?;
    let req = params::metric_request(uri.query())?;
    answer(m, &req).await
}

/// `POST /api/metrics/query` with a JSON metric request.
pub async fn query_post(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let m = service(&app)?;
    let req: MetricRequest = serde_json::from_slice(&body).map_err(|e| {
        WebError::BadRequest(format!(
            "the body must be a JSON metric request like {{\"metrics\": [\"orders\"], \"by\": \
             [\"city\"], \"grain\": \"week\", \"from\": \"2026-01-01\", \"to\": \"2026-01-31\", \
             \"filters\": {{\"city\": [\"Berlin\"]}}, \"compare\": false, \"limit\": 10}}: {e}"
        ))
    })?;
    answer(m, &req).await
}

#[derive(Serialize)]
struct DashboardJson {
    #[serde(flatten)]
    summary: DashboardSummary,
    url: String,
    api_url: String,
}

/// `GET /api/dashboards`.
pub async fn dashboards(State(app): State<App>) -> ApiResult<Json<serde_json::Value>> {
    let m = service(&app)?;
    let list: Vec<DashboardJson> = m
        .dashboards()
        .iter()
        .map(|d| {
            let url = dashboard_url(&d.name);
            DashboardJson {
                summary: d.into(),
                api_url: format!("/api{url}"),
                url,
            }
        })
        .collect();
    Ok(Json(serde_json::json!({ "dashboards": list })))
}

/// `GET /api/dashboards/{name}` with the page's filter parameters: every tile and its figures.
pub async fn dashboard(
    State(app): State<App>,
    Path(name): Path<String>,
    uri: Uri,
) -> ApiResult<Response> {
    let m = service(&app)?;
    let filters = params::dashboard_filters(uri.query())?;
    let view = m
        .dashboard_view(&name, &filters)
        .await
        .map_err(WebError::from)?;
    Ok(Json(view).into_response())
}
