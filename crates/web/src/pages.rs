//! The HTML pages' handlers: read the store, hand plain data to `render`.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use maud::Markup;
use pulse_metrics::MetricsService;
use pulse_orchestrate::Page;
use serde::Deserialize;

use crate::dashboards::{self, DashboardSummary};
use crate::params;
use crate::render::{self, GridView, RunView, Section, TaskLogView};
use crate::{App, GRID_RUNS, MANUAL, WebError, ops};

/// An error shown as a page in the site's frame.
pub struct PageError {
    project: String,
    section: Section,
    error: WebError,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.error.status();
        (
            status,
            render::error_page_in(
                &self.project,
                self.section,
                status.as_u16(),
                &self.error.to_string(),
            ),
        )
            .into_response()
    }
}

pub(crate) trait OrPage<T> {
    fn or_page(self, app: &App) -> Result<T, PageError>;
    /// The same, in the dashboards' section.
    fn or_dash(self, app: &App) -> Result<T, PageError>;
    /// The same, in the catalog's section.
    fn or_catalog(self, app: &App) -> Result<T, PageError>;
}

impl<T, E: Into<WebError>> OrPage<T> for Result<T, E> {
    fn or_page(self, app: &App) -> Result<T, PageError> {
        self.map_err(|e| PageError {
            project: app.project_name.clone(),
            section: Section::Runs,
            error: e.into(),
        })
    }

    fn or_dash(self, app: &App) -> Result<T, PageError> {
        self.map_err(|e| PageError {
            project: app.project_name.clone(),
            section: Section::Dashboards,
            error: e.into(),
        })
    }

    fn or_catalog(self, app: &App) -> Result<T, PageError> {
        self.map_err(|e| PageError {
            project: app.project_name.clone(),
            section: Section::Catalog,
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

fn metrics(app: &App) -> Result<&MetricsService, WebError> {
    app.metrics.as_deref().ok_or(WebError::NoMetrics)
}

pub async fn dashboards(State(app): State<App>) -> Markup {
    match app.metrics.as_deref() {
        None => dashboards::no_metrics_page(&app.project_name),
        Some(m) => {
            let list: Vec<DashboardSummary> = m.dashboards().iter().map(Into::into).collect();
            dashboards::dashboards_page(&app.project_name, &list)
        }
    }
}

pub async fn dashboard(
    State(app): State<App>,
    Path(name): Path<String>,
    uri: Uri,
) -> Result<Markup, PageError> {
    let m = metrics(&app).or_dash(&app)?;
    let filters = params::dashboard_filters(uri.query()).or_dash(&app)?;
    let view = m.dashboard_view(&name, &filters).await.or_dash(&app)?;
    Ok(dashboards::dashboard_page(&app.project_name, &view))
}

/// Letters, digits, `-`, `_` and `.`; anything else becomes `_`, so the name is safe in the
/// header and on every file system.
fn file_name_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `GET /dashboards/{name}/tiles/{tile}.csv`: the tile's figures under the same filters.
pub async fn tile_csv(
    State(app): State<App>,
    Path((name, file)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, PageError> {
    let m = metrics(&app).or_dash(&app)?;
    let tile_id = file.strip_suffix(".csv").unwrap_or(&file);
    let dashboard = m
        .dashboards()
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| pulse_metrics::MetricsError::UnknownDashboard(name.clone()))
        .or_dash(&app)?;
    if !file.ends_with(".csv") || !dashboard.tiles.iter().any(|t| t.id == tile_id) {
        return Err(WebError::TileNotFound {
            dashboard: name.clone(),
            tile: tile_id.to_owned(),
        })
        .or_dash(&app);
    }
    let filters = params::dashboard_filters(uri.query()).or_dash(&app)?;
    let result = m
        .tile_result(&name, tile_id, &filters)
        .await
        .or_dash(&app)?;
    let disposition = format!(
        "attachment; filename=\"{}-{}.csv\"",
        file_name_part(&name),
        file_name_part(tile_id)
    );
    let mut resp = result.to_csv().into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
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
