//! The JSON API: the same reads and writes as the pages, for scripts.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use pulse_orchestrate::{LogLine, OrchestrateError, Page, RunRecord, TaskInstance};
use serde::{Deserialize, Serialize};

use crate::render::{kind_name, run_state_name, run_url, task_state_name, task_url};
use crate::{App, GRID_RUNS, MANUAL, WebError, ops};

/// Past this a client should page: one response stays small whatever the store holds.
pub const MAX_LIMIT: u32 = 500;

/// An error as `{"error": "..."}` with its status code.
pub struct ApiError(pub WebError);

impl From<WebError> for ApiError {
    fn from(e: WebError) -> Self {
        ApiError(e)
    }
}

impl From<OrchestrateError> for ApiError {
    fn from(e: OrchestrateError) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.0.to_string() }));
        (self.0.status(), body).into_response()
    }
}

pub fn no_such_endpoint(path: &str) -> Response {
    let body = Json(serde_json::json!({ "error": format!("no API endpoint {path}") }));
    (StatusCode::NOT_FOUND, body).into_response()
}

type ApiResult<T> = Result<T, ApiError>;

#[derive(Serialize)]
pub struct RunJson {
    pub run_id: String,
    pub logical_date: NaiveDate,
    pub state: &'static str,
    pub trigger: String,
    pub schedule: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<f64>,
    pub sla_missed: bool,
    pub url: String,
}

fn seconds(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Option<f64> {
    Some((end? - start?).num_milliseconds() as f64 / 1_000.0)
}

impl From<&RunRecord> for RunJson {
    fn from(r: &RunRecord) -> Self {
        RunJson {
            run_id: r.run_id.clone(),
            logical_date: r.logical_date,
            state: run_state_name(r.state),
            trigger: r.trigger.clone(),
            schedule: r.schedule.clone(),
            created_at: r.created_at,
            started_at: r.started_at,
            ended_at: r.ended_at,
            duration_seconds: seconds(r.started_at, r.ended_at),
            sla_missed: r.sla_missed,
            url: run_url(&r.run_id),
        }
    }
}

#[derive(Serialize)]
pub struct TaskJson {
    pub run_id: String,
    pub task_id: String,
    pub kind: &'static str,
    pub target: String,
    pub state: &'static str,
    pub attempt: u32,
    pub max_attempts: u32,
    pub upstream: Vec<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<f64>,
    pub worker: Option<String>,
    pub rows: u64,
    pub bytes: u64,
    pub error: Option<String>,
    pub url: String,
}

impl From<&TaskInstance> for TaskJson {
    fn from(t: &TaskInstance) -> Self {
        TaskJson {
            run_id: t.run_id.clone(),
            task_id: t.task_id.clone(),
            kind: kind_name(t.kind),
            target: t.target.clone(),
            state: task_state_name(t.state),
            attempt: t.attempt,
            max_attempts: t.max_attempts,
            upstream: t.upstream.clone(),
            started_at: t.started_at,
            ended_at: t.ended_at,
            duration_seconds: seconds(t.started_at, t.ended_at),
            worker: t.worker.clone(),
            rows: t.rows,
            bytes: t.bytes,
            error: t.error.clone(),
            url: task_url(&t.run_id, &t.task_id),
        }
    }
}

#[derive(Serialize)]
struct LogLineJson<'a> {
    ts: DateTime<Utc>,
    attempt: u32,
    level: &'a str,
    message: &'a str,
}

impl<'a> From<&'a LogLine> for LogLineJson<'a> {
    fn from(l: &'a LogLine) -> Self {
        LogLineJson {
            ts: l.ts,
            attempt: l.attempt,
            level: &l.level,
            message: &l.message,
        }
    }
}

pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<u32>,
    before: Option<String>,
}

pub async fn list_runs(
    State(app): State<App>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Query(q) = q.map_err(|e| WebError::BadRequest(e.body_text()))?;
    let limit = q.limit.unwrap_or(GRID_RUNS);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(WebError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}, got {limit}"
        ))
        .into());
    }
    let before = q.before.filter(|b| !b.is_empty());
    if let Some(b) = &before
        && app.store.run(b).await?.is_none()
    {
        return Err(WebError::BadRequest(format!("before: no run {b}")).into());
    }
    let mut runs = app
        .store
        .list_runs(&Page {
            limit: limit + 1,
            before,
        })
        .await?;
    let more = runs.len() > limit as usize;
    runs.truncate(limit as usize);
    let total = app.store.count_runs().await?;
    let next_before = if more {
        runs.last().map(|r| r.run_id.clone())
    } else {
        None
    };
    Ok(Json(serde_json::json!({
        "runs": runs.iter().map(RunJson::from).collect::<Vec<_>>(),
        "total": total,
        "next_before": next_before,
    })))
}

fn run_with_tasks(run: &RunRecord, tasks: &[TaskInstance]) -> serde_json::Value {
    let mut value = serde_json::to_value(RunJson::from(run)).unwrap_or_default();
    value["tasks"] = serde_json::to_value(tasks.iter().map(TaskJson::from).collect::<Vec<_>>())
        .unwrap_or_default();
    value
}

pub async fn run(
    State(app): State<App>,
    Path(run_id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let run = ops::run(&app, &run_id).await?;
    let tasks = app.store.tasks(&run_id).await?;
    Ok(Json(run_with_tasks(&run, &tasks)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerBody {
    logical_date: Option<String>,
}

/// The body is optional, so it is read as bytes: `curl -X POST` with nothing works too.
pub async fn trigger(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let raw = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let parsed: TriggerBody = serde_json::from_slice(&body).map_err(|e| {
            WebError::BadRequest(format!(
                "the body must be JSON like {{\"logical_date\": \"YYYY-MM-DD\"}}: {e}"
            ))
        })?;
        parsed.logical_date
    };
    let date = ops::logical_date(raw.as_deref())?;
    let run = ops::trigger(&app, date, MANUAL).await?;
    let tasks = app.store.tasks(&run.run_id).await?;
    let location = format!("/api{}", run_url(&run.run_id));
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(run_with_tasks(&run, &tasks)),
    )
        .into_response())
}

pub async fn retry(
    State(app): State<App>,
    Path((run_id, task_id)): Path<(String, String)>,
) -> ApiResult<Json<TaskJson>> {
    let task = ops::retry(&app, &run_id, &task_id).await?;
    Ok(Json(TaskJson::from(&task)))
}

pub async fn mark_success(
    State(app): State<App>,
    Path((run_id, task_id)): Path<(String, String)>,
) -> ApiResult<Json<TaskJson>> {
    let task = ops::mark_success(&app, &run_id, &task_id).await?;
    Ok(Json(TaskJson::from(&task)))
}

pub async fn task_log(
    State(app): State<App>,
    Path((run_id, task_id)): Path<(String, String)>,
) -> ApiResult<Json<serde_json::Value>> {
    let (_, task) = ops::task(&app, &run_id, &task_id).await?;
    let lines = app.store.task_log(&run_id, &task_id).await?;
    Ok(Json(serde_json::json!({
        "run_id": run_id,
        "task_id": task_id,
        "state": task_state_name(task.state),
        "attempt": task.attempt,
        "lines": lines.iter().map(LogLineJson::from).collect::<Vec<_>>(),
    })))
}
