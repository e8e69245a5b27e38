//! The HTML pages' handlers: read the store, hand plain data to `render`.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use maud::Markup;
use pulse_orchestrate::Page;
use serde::Deserialize;

use crate::render::{self, GridView, RunView, TaskLogView};
use crate::{App, GRID_RUNS, MANUAL, WebError, ops};

/// An error shown as a page in the site's frame.
pub struct PageError {
    project: String,
    error: WebError,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.error.status();
        (
            status,
            render::error_page(&self.project, status.as_u16(), &self.error.to_string()),
        )
            .into_response()
    }
}

trait OrPage<T> {
    fn or_page(self, app: &App) -> Result<T, PageError>;
}

impl<T, E: Into<WebError>> OrPage<T> for Result<T, E> {
    fn or_page(self, app: &App) -> Result<T, PageError> {
        self.map_err(|e| PageError {
            project: app.project_name.clone(),
            error: e.into(),
        })
    }
}

#[derive(Deserialize)]
pub struct GridQuery {
    before: Option<String>,
    /// The run the trigger button just created.
    queued: Option<String>,
}

pub async fn runs(State(app): State<App>, Query(q): Query<GridQuery>) -> Result<Markup, PageError> {
    let before = q.before.filter(|b| !b.is_empty());
    if let Some(b) = &before {
        ops::run(&app, b).await.or_page(&app)?;
    }
    let mut runs = app
        .store
        .list_runs(&Page {
            limit: GRID_RUNS + 1,
            before: before.clone(),
        })
        .await
        .or_page(&app)?;
    let has_older = runs.len() > GRID_RUNS as usize;
    runs.truncate(GRID_RUNS as usize);
    let ids: Vec<String> = runs.iter().map(|r| r.run_id.clone()).collect();
    let tasks = if ids.is_empty() {
        Vec::new()
    } else {
        app.store.tasks_for_runs(&ids).await.or_page(&app)?
    };
    let total_runs = app.store.count_runs().await.or_page(&app)?;
    let notice = q
        .queued
        .and_then(|id| runs.iter().find(|r| r.run_id == id))
        .map(|r| {
            format!(
                "Run of {} queued: it starts as soon as a worker is free.",
                r.logical_date
            )
        });
    let now = Utc::now();
    Ok(render::runs_grid(&GridView {
        project: &app.project_name,
        graph: &app.graph,
        runs: &runs,
        tasks: &tasks,
        total_runs,
        older: if has_older {
            runs.last().map(|r| r.run_id.as_str())
        } else {
            None
        },
        paged: before.is_some(),
        notice: notice.as_deref(),
        today: now.date_naive(),
        now,
    }))
}

#[derive(Deserialize)]
pub struct TriggerForm {
    logical_date: Option<String>,
}

pub async fn trigger(
    State(app): State<App>,
    Form(form): Form<TriggerForm>,
) -> Result<Redirect, PageError> {
    let date = ops::logical_date(form.logical_date.as_deref()).or_page(&app)?;
    let run = ops::trigger(&app, date, MANUAL).await.or_page(&app)?;
    Ok(Redirect::to(&format!(
        "/runs?queued={}",
        render::path_segment(&run.run_id)
    )))
}

#[derive(Deserialize)]
pub struct RunQuery {
    /// What a task button just did (`retry` or `success`) and to which task.
    done: Option<String>,
    task: Option<String>,
}

pub async fn run(
    State(app): State<App>,
    Path(run_id): Path<String>,
    Query(q): Query<RunQuery>,
) -> Result<Markup, PageError> {
    let run = ops::run(&app, &run_id).await.or_page(&app)?;
    let tasks = app.store.tasks(&run_id).await.or_page(&app)?;
    let task = q
        .task
        .as_deref()
        .filter(|id| tasks.iter().any(|t| t.task_id == *id));
    let notice = match (q.done.as_deref(), task) {
        (Some("retry"), Some(t)) => Some(format!("{t} is queued again.")),
        (Some("success"), Some(t)) => Some(format!(
            "{t} is marked succeeded; the tasks it held back are queued again."
        )),
        _ => None,
    };
    Ok(render::run_page(&RunView {
        project: &app.project_name,
        graph: &app.graph,
        run: &run,
        tasks: &tasks,
        notice: notice.as_deref(),
        now: Utc::now(),
    }))
}

/// Back to the run's page, saying what was done.
fn back_to_run(run_id: &str, done: &str, task_id: &str) -> Redirect {
    Redirect::to(&format!(
        "{}?done={done}&task={}",
        render::run_url(run_id),
        render::path_segment(task_id)
    ))
}

pub async fn task_log(
    State(app): State<App>,
    Path((run_id, task_id)): Path<(String, String)>,
) -> Result<Markup, PageError> {
    let (run, task) = ops::task(&app, &run_id, &task_id).await.or_page(&app)?;
    let lines = app.store.task_log(&run_id, &task_id).await.or_page(&app)?;
    Ok(render::task_log_page(&TaskLogView {
        project: &app.project_name,
        run: &run,
        task: &task,
        lines: &lines,
        now: Utc::now(),
    }))
}

pub async fn retry(
    State(app): State<App>,
    Path((run_id, task_id)): Path<(String, String)>,
) -> Result<Redirect, PageError> {
    ops::retry(&app, &run_id, &task_id).await.or_page(&app)?;
    Ok(back_to_run(&run_id, "retry", &task_id))
}

pub async fn mark_success(
    State(app): State<App>,
    Path((run_id, task_id)): Path<(String, String)>,
) -> Result<Redirect, PageError> {
    ops::mark_success(&app, &run_id, &task_id)
        .await
        .or_page(&app)?;
    Ok(back_to_run(&run_id, "success", &task_id))
}

pub async fn not_found(State(app): State<App>, uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return crate::api::no_such_endpoint(uri.path());
    }
    (
        StatusCode::NOT_FOUND,
        render::error_page(&app.project_name, 404, "There is no page here."),
    )
        .into_response()
}
