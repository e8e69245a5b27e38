//! Operations: `/metrics` for Prometheus, and the operator page — health at a glance (open
//! alerts, the last runs, SLA, freshness, error rate and duration trends, cost against the
//! budget) — over the monitor. The page is rendered from plain data so it can be
//! snapshot-tested with a fixed clock.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use maud::{Markup, html};
use pulse_monitor::overview::{DayTrend, FreshnessRow, RunSummary, SlaStatus};
use pulse_monitor::{
    CostReport, Incident, IncidentFilter, IncidentState, Monitor, MonitorInputs, Overview,
};
use serde::Deserialize;

use crate::render::{self, Section};
use crate::{App, format};

/// What the monitor judges besides the store (datasets' freshness, owners, quality, lineage),
/// built by the caller from the catalog at each request.
pub type InputsFn = Arc<dyn Fn() -> MonitorInputs + Send + Sync>;

/// The monitor behind `/metrics` and `/operations`.
#[derive(Clone)]
pub struct Ops {
    pub monitor: Arc<Monitor>,
    pub inputs: InputsFn,
}

/// Incidents the page lists below the open ones.
const RECENT_INCIDENTS: u32 = 20;

fn ops(app: &App) -> Result<&Ops, (StatusCode, String)> {
    app.monitor.as_ref().ok_or((
        StatusCode::NOT_FOUND,
        "no monitor is configured on this server".to_string(),
    ))
}

fn server_error(e: impl std::fmt::Display) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// `GET /metrics`: the Prometheus text exposition.
pub async fn prometheus(State(app): State<App>) -> Response {
    let result = async {
        let ops = ops(&app)?;
        let inputs = (ops.inputs)();
        ops.monitor
            .metrics(&inputs, Utc::now())
            .await
            .map_err(server_error)
    }
    .await;
    match result {
        Ok(text) => {
            let mut r = text.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(pulse_monitor::prometheus::CONTENT_TYPE),
            );
            r
        }
        Err((status, message)) => (status, message).into_response(),
    }
}

async fn gather(ops: &Ops) -> Result<(Overview, Vec<Incident>), (StatusCode, String)> {
    let now = Utc::now();
    let inputs = (ops.inputs)();
    let overview = ops
        .monitor
        .overview(&inputs, now)
        .await
        .map_err(server_error)?;
    let recent = ops
        .monitor
        .alerts()
        .list(&IncidentFilter {
            open_only: false,
            since: None,
            limit: RECENT_INCIDENTS,
        })
        .await
        .map_err(server_error)?;
    Ok((overview, recent))
}

/// `GET /operations`.
pub async fn page(State(app): State<App>) -> Response {
    match ops(&app) {
        Err((status, message)) => (
            status,
            render::error_page_in(
                &app.project_name,
                Section::Operations,
                status.as_u16(),
                &message,
            ),
        )
            .into_response(),
        Ok(ops) => match gather(ops).await {
            Ok((overview, recent)) => {
                operations_page(&app.project_name, &overview, &recent).into_response()
            }
            Err((status, message)) => (
                status,
                render::error_page_in(
                    &app.project_name,
                    Section::Operations,
                    status.as_u16(),
                    &message,
                ),
            )
                .into_response(),
        },
    }
}

/// `GET /api/operations`: the page's data.
pub async fn overview_json(State(app): State<App>) -> Response {
    let result = async {
        let ops = ops(&app)?;
        let inputs = (ops.inputs)();
        ops.monitor
            .overview(&inputs, Utc::now())
            .await
            .map_err(server_error)
    }
    .await;
    match result {
        Ok(o) => Json(o).into_response(),
        Err((status, message)) => {
            (status, Json(serde_json::json!({ "error": message }))).into_response()
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct AlertsQuery {
    #[serde(default)]
    open: Option<bool>,
    #[serde(default)]
    limit: Option<u32>,
}

/// `GET /api/alerts[?open=true&limit=n]`: incidents, newest first.
pub async fn alerts_json(State(app): State<App>, Query(q): Query<AlertsQuery>) -> Response {
    let result = async {
        let ops = ops(&app)?;
        ops.monitor
            .alerts()
            .list(&IncidentFilter {
                open_only: q.open.unwrap_or(false),
                since: None,
                limit: q.limit.unwrap_or(100),
            })
            .await
            .map_err(server_error)
    }
    .await;
    match result {
        Ok(list) => Json(list).into_response(),
        Err((status, message)) => {
            (status, Json(serde_json::json!({ "error": message }))).into_response()
        }
    }
}

/// The overall verdict a manager reads first.
fn health(o: &Overview) -> (&'static str, &'static str, String) {
    let critical = o
        .open_alerts
        .iter()
        .filter(|i| i.severity == pulse_monitor::Severity::Critical)
        .count();
    let open = o.open_alerts.len();
    if critical > 0 {
        (
            "bad",
            "Action needed",
            format!("{critical} critical of {open} open alert{}", plural(open)),
        )
    } else if open > 0 {
        (
            "warn",
            "Degraded",
            format!("{open} open alert{}", plural(open)),
        )
    } else if o
        .runs
        .first()
        .is_some_and(|r| r.state == pulse_orchestrate::RunState::Failed)
    {
        ("warn", "Degraded", "the last run failed".to_string())
    } else {
        ("good", "Healthy", "no open alerts".to_string())
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

pub fn operations_page(project: &str, o: &Overview, recent: &[Incident]) -> Markup {
    let (class, verdict, why) = health(o);
    let stale = o.freshness.iter().filter(|f| f.status == "stale").count();
    let judged = o.freshness.iter().filter(|f| f.status != "unknown").count();
    let finished: u32 = o.trends.iter().map(|d| d.tasks_finished).sum();
    let failed: u32 = o.trends.iter().map(|d| d.tasks_failed).sum();
    let error_rate = if finished > 0 {
        f64::from(failed) / f64::from(finished)
    } else {
        0.0
    };
    let resolved: Vec<&Incident> = recent
        .iter()
        .filter(|i| i.state == IncidentState::Resolved)
        .collect();
    let body = html! {
        h1 { "Operations" }
        p.crumbs { "As of " (format::timestamp(o.generated_at)) }
        section.ops-cards aria-label="Health at a glance" {
            div class={"ops-card verdict " (class)} #ops-health data-health=(class) {
                span.ops-label { "Health" }
                span.ops-value { (verdict) }
                span.ops-sub { (why) }
            }
            div.ops-card #ops-last-run {
                span.ops-label { "Last run" }
                @match o.runs.first() {
                    Some(r) => {
                        span.ops-value { (render::run_state_badge(r.state)) }
                        span.ops-sub {
                            a href=(render::run_url(&r.run_id)) { (r.logical_date) }
                            " · " (format::duration(chrono::TimeDelta::seconds(r.elapsed_seconds)))
                        }
                    }
                    None => { span.ops-value { "—" } span.ops-sub { "no runs yet" } }
                }
            }
            div class={"ops-card " (if o.sla.iter().any(|s| s.status == "missed") { "bad" } else if o.sla.iter().any(|s| s.status == "at_risk") { "warn" } else { "" })} #ops-sla {
                span.ops-label { "SLA" }
                @if o.sla.is_empty() {
                    span.ops-value { "—" } span.ops-sub { "no scheduled runs" }
                } @else {
                    span.ops-value { (o.sla.iter().filter(|s| s.status == "met" || s.status == "on_track").count()) " / " (o.sla.len()) }
                    span.ops-sub { "schedules within their SLA" }
                }
            }
            div class={"ops-card " (if stale > 0 { "warn" } else { "" })} #ops-freshness data-stale=(stale) {
                span.ops-label { "Freshness" }
                span.ops-value { (judged - stale) " / " (judged) }
                span.ops-sub { "datasets fresh" @if stale > 0 { " · " (stale) " stale" } }
            }
            div class={"ops-card " (if error_rate > 0.05 { "bad" } else if error_rate > 0.0 { "warn" } else { "" })} #ops-errors {
                span.ops-label { "Error rate, " (o.trends.len()) " days" }
                span.ops-value { (format::fixed(error_rate * 100.0, 1)) " %" }
                span.ops-sub { (failed) " of " (finished) " tasks failed" }
            }
            @for c in &o.cost {
                (cost_card(c))
            }
            @if o.cost.is_empty() {
                div.ops-card #ops-cost {
                    span.ops-label { "Compute cost" }
                    span.ops-value { "—" }
                    span.ops-sub { "no budget: add a " code { "cost" } " alert rule" }
                }
            }
        }
        h2 { "Open alerts" }
        (incident_table(&o.open_alerts, "open-alerts", "Nothing is firing."))
        h2 { "Last runs" }
        (runs_table(&o.runs))
        @if !o.sla.is_empty() {
            h2 { "SLA" }
            (sla_table(&o.sla))
        }
        h2 { "Trends" }
        (trends(&o.trends))
        h2 { "Freshness" }
        (freshness_table(&o.freshness))
        h2 { "Recently resolved" }
        (incident_table(&resolved.into_iter().cloned().collect::<Vec<_>>(), "resolved-alerts", "No incident resolved recently."))
        p.dash-foot { "Prometheus scrapes " a href="/metrics" { "/metrics" } "; the same data as JSON at " a href="/api/operations" { "/api/operations" } "." }
    };
    // Follow a run while it moves, as the runs pages do.
    let live = o.runs.iter().any(|r| {
        matches!(
            r.state,
            pulse_orchestrate::RunState::Queued | pulse_orchestrate::RunState::Running
        )
    });
    render::layout(project, Section::Operations, "Operations", live, body)
}

fn cost_card(c: &CostReport) -> Markup {
    let share = if c.budget > 0.0 {
        c.projected / c.budget
    } else {
        0.0
    };
    let class = if share > 1.0 {
        "bad"
    } else if share > 0.8 {
        "warn"
    } else {
        ""
    };
    html! {
        div class={"ops-card " (class)} #ops-cost data-projected=(format::fixed(c.projected, 2)) data-budget=(format::fixed(c.budget, 2)) {
            span.ops-label { "Compute cost, " (c.month) }
            span.ops-value { (format::fixed(c.spent, 2)) " " (c.currency) }
            span.ops-sub {
                "projected " (format::fixed(c.projected, 2)) " of " (format::fixed(c.budget, 2)) " budget"
            }
            meter min="0" max=(format::fixed(c.budget.max(c.projected), 2)) low=(format::fixed(c.budget * 0.8, 2)) high=(format::fixed(c.budget, 2)) value=(format::fixed(c.projected, 2)) {}
        }
    }
}

fn incident_table(list: &[Incident], id: &str, empty: &str) -> Markup {
    html! {
        @if list.is_empty() {
            p.empty #(id) { (empty) }
        } @else {
            div.table-scroll {
                table.data #(id) {
                    thead { tr { th { "Severity" } th { "Alert" } th { "Status" } th { "Owner" } th { "Opened" } th { "Summary" } } }
                    tbody {
                        @for i in list {
                            tr data-key=(i.key) data-status=(i.status()) {
                                td { span class={"sev sev-" (i.severity)} { (i.severity) } }
                                td { code { (i.key) } }
                                td { (i.status()) @if let Some(t) = i.resolved_at { " " (format::timestamp(t)) } }
                                td { (i.owner.as_deref().unwrap_or("—")) }
                                td { (format::timestamp(i.opened_at)) }
                                td {
                                    (i.summary)
                                    @if !i.held_back.is_empty() {
                                        br;
                                        span.muted { "holds back " (i.held_back.len()) ": " (i.held_back.iter().map(|h| h.key.as_str()).collect::<Vec<_>>().join(", ")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn runs_table(runs: &[RunSummary]) -> Markup {
    html! {
        @if runs.is_empty() {
            p.empty { "No runs yet." }
        } @else {
            div.table-scroll {
                table.data #last-runs {
                    thead { tr { th { "Run" } th { "Date" } th { "Trigger" } th { "State" } th { "Tasks" } th.num { "Took" } } }
                    tbody {
                        @for r in runs.iter().take(10) {
                            tr data-run=(r.run_id) data-state=(r.state.as_str()) {
                                td { a href=(render::run_url(&r.run_id)) { code { (r.run_id) } } }
                                td { (r.logical_date) }
                                td { (r.schedule.as_deref().unwrap_or(&r.trigger)) }
                                td { (render::run_state_badge(r.state)) @if r.sla_missed { " " span.sev.sev-critical { "SLA missed" } } }
                                td { (r.tasks.iter().map(|(s, n)| format!("{n} {}", s.replace('_', " "))).collect::<Vec<_>>().join(", ")) }
                                td.num { (format::duration(chrono::TimeDelta::seconds(r.elapsed_seconds))) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn sla_table(sla: &[SlaStatus]) -> Markup {
    html! {
        table.data #sla {
            thead { tr { th { "Schedule" } th { "Newest run" } th { "Status" } th { "Deadline" } th.num { "Elapsed" } } }
            tbody {
                @for s in sla {
                    tr data-schedule=(s.schedule) data-status=(s.status) {
                        td { (s.schedule) }
                        td { a href=(render::run_url(&s.run_id)) { code { (s.run_id) } } }
                        td { span class={"sla sla-" (s.status)} { (s.status.replace('_', " ")) } }
                        td { (format::timestamp(s.deadline)) }
                        td.num { (format::duration(chrono::TimeDelta::seconds(s.elapsed_seconds))) " of " (format::duration(chrono::TimeDelta::seconds(s.sla_seconds))) }
                    }
                }
            }
        }
    }
}

/// Two small bar charts, one bar per day: task error rate and the median run duration.
fn trends(days: &[DayTrend]) -> Markup {
    let error: Vec<(String, f64, String)> = days
        .iter()
        .map(|d| {
            (
                d.day.format("%m-%d").to_string(),
                d.error_rate,
                format!(
                    "{}: {} of {} tasks failed",
                    d.day, d.tasks_failed, d.tasks_finished
                ),
            )
        })
        .collect();
    let duration: Vec<(String, f64, String)> = days
        .iter()
        .map(|d| {
            let secs = d.median_run_seconds.unwrap_or(0.0);
            (
                d.day.format("%m-%d").to_string(),
                secs,
                format!(
                    "{}: {} runs, median {}",
                    d.day,
                    d.runs,
                    format::duration(chrono::TimeDelta::seconds(secs.round() as i64))
                ),
            )
        })
        .collect();
    html! {
        div.ops-trends {
            figure #trend-errors {
                figcaption { "Task error rate per day" }
                (bars(&error, |v| format!("{} %", format::fixed(v * 100.0, 0)), "failed"))
            }
            figure #trend-durations {
                figcaption { "Median run duration per day" }
                (bars(&duration, |v| format::duration(chrono::TimeDelta::seconds(v.round() as i64)), "accent"))
            }
        }
    }
}

fn bars(points: &[(String, f64, String)], label: impl Fn(f64) -> String, colour: &str) -> Markup {
    const W: f64 = 420.0;
    const H: f64 = 120.0;
    const TOP: f64 = 14.0;
    const BOTTOM: f64 = 18.0;
    let max = points.iter().map(|p| p.1).fold(0.0_f64, f64::max);
    let n = points.len().max(1) as f64;
    let slot = W / n;
    let plot = H - TOP - BOTTOM;
    html! {
        @if points.is_empty() {
            p.chart-empty { "No runs in this period." }
        } @else {
            svg.ops-bars viewBox={"0 0 " (W) " " (H)} role="img" aria-label="bar chart" {
                line x1="0" x2=(W) y1=(H - BOTTOM) y2=(H - BOTTOM) class="axis" {}
                text x="0" y="10" class="tick" { "max " (label(max)) }
                @for (i, (day, v, title)) in points.iter().enumerate() {
                    @let h = if max > 0.0 { v / max * plot } else { 0.0 };
                    @let x = i as f64 * slot + slot * 0.15;
                    rect class={"bar " (colour)} x=(format::fixed(x, 1)) y=(format::fixed(H - BOTTOM - h, 1)) width=(format::fixed(slot * 0.7, 1)) height=(format::fixed(h, 1)) {
                        title { (title) }
                    }
                    @if i % 2 == 0 || points.len() <= 8 {
                        text class="tick" x=(format::fixed(x + slot * 0.35, 1)) y=(format::fixed(H - 4.0, 1)) text-anchor="middle" { (day) }
                    }
                }
            }
        }
    }
}

fn freshness_table(rows: &[FreshnessRow]) -> Markup {
    let mut sorted: Vec<&FreshnessRow> = rows.iter().collect();
    // Stale first (the most overdue on top), then the rest by name.
    let rank = |f: &FreshnessRow| match f.status.as_str() {
        "stale" => 0,
        "fresh" => 1,
        _ => 2,
    };
    sorted.sort_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then(b.lag_seconds.cmp(&a.lag_seconds))
            .then(a.dataset.cmp(&b.dataset))
    });
    let (attention, rest): (Vec<&FreshnessRow>, Vec<&FreshnessRow>) =
        sorted.into_iter().partition(|f| f.status == "stale");
    html! {
        @if rows.is_empty() {
            p.empty { "No datasets are tracked." }
        } @else {
            @if attention.is_empty() {
                p.ok-line { "Every dataset with a schedule is within its window." }
            } @else {
                (freshness_rows(&attention, "stale-datasets"))
            }
            details {
                summary { (rest.len()) " other datasets" }
                (freshness_rows(&rest, "fresh-datasets"))
            }
        }
    }
}

fn freshness_rows(rows: &[&FreshnessRow], id: &str) -> Markup {
    let age = |s: Option<i64>| {
        s.map(|s| format::duration(chrono::TimeDelta::seconds(s)))
            .unwrap_or_else(|| "—".to_string())
    };
    html! {
        div.table-scroll {
            table.data #(id) {
                thead { tr { th { "Dataset" } th { "Status" } th { "Last updated" } th.num { "Age" } th.num { "Allowed" } } }
                tbody {
                    @for f in rows {
                        tr data-dataset=(f.dataset) data-status=(f.status) {
                            td { a href={"/catalog/datasets/" (render::path_segment(&f.dataset))} { (f.dataset) } }
                            td { span class={"fresh fresh-" (f.status)} { (f.status) } }
                            td { (f.last_updated.map(format::timestamp).unwrap_or_else(|| "never".to_string())) }
                            td.num { (age(f.lag_seconds)) }
                            td.num { (age(f.max_age_seconds)) }
                        }
                    }
                }
            }
        }
    }
}
