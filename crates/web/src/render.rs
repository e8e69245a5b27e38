//! The HTML pages, rendered on the server from plain data so they can be snapshot-tested with
//! fixed runs and a fixed clock.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use maud::{DOCTYPE, Markup, html};
use pulse_orchestrate::{
    AssetGraph, LogLine, RunRecord, RunState, TaskInstance, TaskKind, TaskState,
};

use crate::format;

/// The sections of the site, one per entry of the nav bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Runs,
    Dashboards,
    Catalog,
    Operations,
}

const NAV: &[(Section, &str, &str)] = &[
    (Section::Runs, "Runs", "/runs"),
    (Section::Dashboards, "Dashboards", "/dashboards"),
    (Section::Catalog, "Catalog", "/catalog"),
    (Section::Operations, "Operations", "/operations"),
];

/// Every task state, in the order the legend shows them.
pub const TASK_STATES: [TaskState; 7] = [
    TaskState::Queued,
    TaskState::Running,
    TaskState::Succeeded,
    TaskState::Failed,
    TaskState::UpForRetry,
    TaskState::UpstreamFailed,
    TaskState::Skipped,
];

const KINDS: [TaskKind; 3] = [TaskKind::Land, TaskKind::Validate, TaskKind::Model];

/// The state as the API and the `data-state` attributes spell it (Airflow's names).
pub fn task_state_name(state: TaskState) -> &'static str {
    // The store's own spelling, so the API and the pages never drift from it.
    state.as_str()
}

fn task_state_label(state: TaskState) -> &'static str {
    match state {
        TaskState::Queued => "queued",
        TaskState::Running => "running",
        TaskState::Succeeded => "succeeded",
        TaskState::Failed => "failed",
        TaskState::UpForRetry => "up for retry",
        TaskState::Skipped => "skipped",
        TaskState::UpstreamFailed => "upstream failed",
    }
}

pub fn run_state_name(state: RunState) -> &'static str {
    // The store's own spelling, so the API and the pages never drift from it.
    state.as_str()
}

pub fn kind_name(kind: TaskKind) -> &'static str {
    // The store's own spelling, so the API and the pages never drift from it.
    kind.as_str()
}

fn kind_heading(kind: TaskKind) -> &'static str {
    match kind {
        TaskKind::Land => "Landing",
        TaskKind::Validate => "Validation",
        TaskKind::Model => "Models",
    }
}

fn run_is_active(state: RunState) -> bool {
    matches!(state, RunState::Queued | RunState::Running)
}

fn task_is_active(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::Queued | TaskState::Running | TaskState::UpForRetry
    )
}

/// Percent-encodes one path segment, so ids with any characters make working links.
pub fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn run_url(run_id: &str) -> String {
    format!("/runs/{}", path_segment(run_id))
}

pub fn task_url(run_id: &str, task_id: &str) -> String {
    format!(
        "/runs/{}/tasks/{}",
        path_segment(run_id),
        path_segment(task_id)
    )
}

/// The frame every page shares: title, nav bar, the catalog's search box, our stylesheet and
/// script. `live` makes the script reload the page while runs are still moving.
pub fn layout(project: &str, section: Section, title: &str, live: bool, body: Markup) -> Markup {
    layout_searched(project, section, title, live, "", body)
}

/// [`layout`] with the search box showing `query` (the search results page).
pub fn layout_searched(
    project: &str,
    section: Section,
    title: &str,
    live: bool,
    query: &str,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (project) " · Pulse" }
                link rel="stylesheet" href="/static/pulse.css";
                script src="/static/pulse.js" defer {}
            }
            body data-live=(if live { "true" } else { "false" }) {
                header.top {
                    a.brand href="/runs" { "Pulse" }
                    span.project { (project) }
                    nav {
                        @for (s, label, href) in NAV {
                            a href=(href) class=[(*s == section).then_some("active")] { (label) }
                        }
                    }
                    form.site-search #site-search method="get" action="/catalog/search" role="search" {
                        input #site-search-q type="search" name="q" value=(query)
                            placeholder="Search datasets and metrics" aria-label="Search the catalog";
                        button type="submit" { "Search" }
                    }
                }
                main { (body) }
            }
        }
    }
}

fn legend() -> Markup {
    html! {
        ul.legend aria-label="State colours" {
            @for state in TASK_STATES {
                li { span class={"swatch s-" (task_state_name(state))} {} (task_state_label(state)) }
            }
            li { span.swatch.s-none {} "no task" }
        }
    }
}

fn notice(text: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = text {
            p.notice #notice role="status" { (text) }
        }
    }
}

fn state_badge(name: &str, label: &str) -> Markup {
    html! { span class={"badge s-" (name)} { (label) } }
}

/// A run's state as a coloured badge.
pub fn run_state_badge(state: RunState) -> Markup {
    run_badge(state)
}

fn run_badge(state: RunState) -> Markup {
    state_badge(run_state_name(state), run_state_name(state))
}

fn task_badge(state: TaskState) -> Markup {
    state_badge(task_state_name(state), task_state_label(state))
}

/// One grid row: a task id and its kind, in the order the grid shows them.
struct Row<'a> {
    task_id: &'a str,
    target: &'a str,
}

/// The graph's tasks grouped by kind in topological order, then tasks that only older runs have
/// (the project changed since), so no recorded work disappears from the grid.
fn grid_rows<'a>(
    graph: &'a AssetGraph,
    instances: &'a [TaskInstance],
) -> Vec<(TaskKind, Vec<Row<'a>>)> {
    let mut groups: Vec<(TaskKind, Vec<Row<'a>>)> =
        KINDS.iter().map(|k| (*k, Vec::new())).collect();
    let mut seen = std::collections::HashSet::new();
    for task in &graph.tasks {
        if seen.insert(task.id.as_str())
            && let Some(group) = groups.iter_mut().find(|(k, _)| *k == task.kind)
        {
            group.1.push(Row {
                task_id: &task.id,
                target: &task.target,
            });
        }
    }
    let mut extra: Vec<&TaskInstance> = instances
        .iter()
        .filter(|t| !seen.contains(t.task_id.as_str()))
        .collect();
    extra.sort_by(|a, b| a.task_id.cmp(&b.task_id));
    for t in extra {
        if seen.insert(t.task_id.as_str())
            && let Some(group) = groups.iter_mut().find(|(k, _)| *k == t.kind)
        {
            group.1.push(Row {
                task_id: &t.task_id,
                target: &t.target,
            });
        }
    }
    groups.retain(|(_, rows)| !rows.is_empty());
    groups
}

fn task_tooltip(t: &TaskInstance, now: DateTime<Utc>) -> String {
    let mut tip = format!(
        "{} · {} · attempt {} of {}",
        t.task_id,
        task_state_label(t.state),
        t.attempt,
        t.max_attempts
    );
    if let Some(d) = format::elapsed(t.started_at, t.ended_at, now) {
        tip.push_str(" · ");
        tip.push_str(&format::duration(d));
    }
    tip
}

fn run_tooltip(r: &RunRecord, now: DateTime<Utc>) -> String {
    let mut tip = format!(
        "{} · {} · logical date {}",
        r.run_id,
        run_state_name(r.state),
        r.logical_date
    );
    if let Some(d) = format::elapsed(r.started_at, r.ended_at, now) {
        tip.push_str(" · ");
        tip.push_str(&format::duration(d));
    }
    if r.sla_missed {
        tip.push_str(" · SLA missed");
    }
    tip
}

/// What the runs grid shows.
pub struct GridView<'a> {
    pub project: &'a str,
    pub graph: &'a AssetGraph,
    /// Newest first, as the store pages them.
    pub runs: &'a [RunRecord],
    /// The task instances of `runs`.
    pub tasks: &'a [TaskInstance],
    pub total_runs: u64,
    /// The `before` of the next older page, when there is one.
    pub older: Option<&'a str>,
    /// Whether this is a page of older runs (so a link back to the newest is useful).
    pub paged: bool,
    /// What the last button did, shown once above the grid.
    pub notice: Option<&'a str>,
    pub today: NaiveDate,
    pub now: DateTime<Utc>,
}

/// The runs grid: runs as columns (oldest left, newest right, as in Airflow), tasks as rows.
pub fn runs_grid(v: &GridView<'_>) -> Markup {
    let by_cell: HashMap<(&str, &str), &TaskInstance> = v
        .tasks
        .iter()
        .map(|t| ((t.run_id.as_str(), t.task_id.as_str()), t))
        .collect();
    let columns: Vec<&RunRecord> = v.runs.iter().rev().collect();
    let groups = grid_rows(v.graph, v.tasks);
    let live = v.runs.iter().any(|r| run_is_active(r.state));
    let body = html! {
        div.toolbar {
            h1 { "Runs" }
            form #trigger-form method="post" action="/runs" {
                label for="logical-date" { "Logical date" }
                input #logical-date type="date" name="logical_date" value=(v.today.format("%Y-%m-%d")) required;
                button #trigger-run type="submit" { "Trigger run" }
            }
        }
        (notice(v.notice))
        (legend())
        @if columns.is_empty() {
            p.empty #no-runs {
                @if v.paged { "No older runs." } @else { "No runs yet. Trigger the first one with the button above." }
            }
        } @else {
            div.grid-scroll {
                table.grid #runs-grid {
                    thead {
                        tr {
                            th.corner scope="col" { "Task" }
                            @for r in &columns {
                                th.run-head scope="col" data-run=(r.run_id) data-state=(run_state_name(r.state)) {
                                    a href=(run_url(&r.run_id)) title=(run_tooltip(r, v.now)) {
                                        span class={"run-bar s-" (run_state_name(r.state)) @if r.sla_missed { " sla-missed" }} {}
                                        span.run-date { (r.logical_date.format("%m-%d")) }
                                    }
                                }
                            }
                        }
                    }
                    @for (kind, rows) in &groups {
                        tbody data-kind=(kind_name(*kind)) {
                            tr.group {
                                th colspan=(columns.len() + 1) scope="rowgroup" { (kind_heading(*kind)) " (" (rows.len()) ")" }
                            }
                            @for row in rows {
                                tr {
                                    th.task scope="row" title=(row.target) { (row.task_id) }
                                    @for r in &columns {
                                        td {
                                            @match by_cell.get(&(r.run_id.as_str(), row.task_id)) {
                                                Some(t) => {
                                                    a class={"cell s-" (task_state_name(t.state))}
                                                        href=(task_url(&r.run_id, row.task_id))
                                                        title=(task_tooltip(t, v.now))
                                                        aria-label=(task_tooltip(t, v.now))
                                                        data-task=(row.task_id) data-run=(r.run_id)
                                                        data-state=(task_state_name(t.state)) {}
                                                }
                                                None => {
                                                    span.cell.s-none title={(row.task_id) " · not part of this run"}
                                                        data-task=(row.task_id) data-run=(r.run_id) data-state="none" {}
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
        }
        nav.pager {
            @if let Some(before) = v.older {
                a #older-runs href={"/runs?before=" (path_segment(before))} { "← Older runs" }
            }
            span.count {
                "Showing " (columns.len()) " of " (format::count(v.total_runs)) " runs"
            }
            @if v.paged {
                a #newest-runs href="/runs" { "Newest runs →" }
            }
        }
    };
    layout(v.project, Section::Runs, "Runs", live, body)
}

/// What a run's page shows.
pub struct RunView<'a> {
    pub project: &'a str,
    pub graph: &'a AssetGraph,
    pub run: &'a RunRecord,
    pub tasks: &'a [TaskInstance],
    /// What the last button did, shown once above the facts.
    pub notice: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// The run's tasks in grid order: by kind, then as the graph orders them.
fn ordered_tasks<'a>(graph: &AssetGraph, tasks: &'a [TaskInstance]) -> Vec<&'a TaskInstance> {
    let position: HashMap<&str, usize> = graph
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i))
        .collect();
    let kind_rank = |k: TaskKind| KINDS.iter().position(|x| *x == k).unwrap_or(KINDS.len());
    let mut ordered: Vec<&TaskInstance> = tasks.iter().collect();
    ordered.sort_by(|a, b| {
        let pa = position
            .get(a.task_id.as_str())
            .copied()
            .unwrap_or(usize::MAX);
        let pb = position
            .get(b.task_id.as_str())
            .copied()
            .unwrap_or(usize::MAX);
        (kind_rank(a.kind), pa, &a.task_id).cmp(&(kind_rank(b.kind), pb, &b.task_id))
    });
    ordered
}

fn opt_time(t: Option<DateTime<Utc>>) -> String {
    t.map(format::timestamp).unwrap_or_else(|| "—".to_owned())
}

pub fn run_page(v: &RunView<'_>) -> Markup {
    let run = v.run;
    let tasks = ordered_tasks(v.graph, v.tasks);
    let live = run_is_active(run.state) || tasks.iter().any(|t| task_is_active(t.state));
    let duration = format::elapsed(run.started_at, run.ended_at, v.now).map(format::duration);
    let body = html! {
        p.crumbs { a href="/runs" { "Runs" } " › " (run.run_id) }
        h1 { "Run of " (run.logical_date) " " (run_badge(run.state)) }
        (notice(v.notice))
        dl.facts #run-facts data-run=(run.run_id) data-state=(run_state_name(run.state)) {
            dt { "Run id" } dd { code { (run.run_id) } }
            dt { "State" } dd { (run_badge(run.state)) }
            dt { "Logical date" } dd { (run.logical_date) }
            dt { "Triggered by" } dd {
                (run.trigger)
                @if let Some(s) = &run.schedule { " (schedule " code { (s) } ")" }
            }
            dt { "Created" } dd { (format::timestamp(run.created_at)) }
            dt { "Started" } dd { (opt_time(run.started_at)) }
            dt { "Ended" } dd { (opt_time(run.ended_at)) }
            dt { "Duration" } dd {
                (duration.as_deref().unwrap_or("not started"))
                @if run.started_at.is_some() && run.ended_at.is_none() { " so far" }
            }
            dt { "SLA" } dd {
                @if run.sla_missed { span.sla-missed-text { "missed" } }
                @else if run.ended_at.is_some() { "met" }
                @else { "not missed so far" }
            }
        }
        h2 { "Timeline" }
        (timeline(&tasks, v.now))
        h2 { "Tasks" }
        @if tasks.is_empty() {
            p.empty { "This run has no tasks." }
        } @else {
            div.table-scroll {
                table.tasks #run-tasks {
                    thead {
                        tr {
                            th { "Task" } th { "Kind" } th { "State" } th.num { "Attempt" }
                            th { "Started" } th.num { "Duration" } th.num { "Rows" } th.num { "Bytes" }
                            th { "Error" } th { "Actions" }
                        }
                    }
                    tbody {
                        @for t in &tasks {
                            tr data-task=(t.task_id) data-state=(task_state_name(t.state)) {
                                td { a href=(task_url(&t.run_id, &t.task_id)) title="Show the log" { (t.task_id) } }
                                td { (kind_name(t.kind)) }
                                td { (task_badge(t.state)) }
                                td.num { (t.attempt) " / " (t.max_attempts) }
                                td { (t.started_at.map(|s| s.format("%H:%M:%S").to_string()).unwrap_or_else(|| "—".to_owned())) }
                                td.num { (format::elapsed(t.started_at, t.ended_at, v.now).map(format::duration).unwrap_or_else(|| "—".to_owned())) }
                                td.num { (format::count(t.rows)) }
                                td.num { (format::bytes(t.bytes)) }
                                td.error {
                                    @if let Some(e) = &t.error {
                                        span title=(e) { (first_line(e, 120)) }
                                    }
                                }
                                td.actions {
                                    @let base = task_url(&t.run_id, &t.task_id);
                                    @if retry_allowed(t.state) {
                                        form method="post" action={(base) "/retry"} {
                                            button.retry type="submit" data-task=(t.task_id) { "Retry" }
                                        }
                                    }
                                    @if !matches!(t.state, TaskState::Succeeded | TaskState::Running) {
                                        form method="post" action={(base) "/success"}
                                            data-confirm={"Mark " (t.task_id) " as succeeded without running it?"} {
                                            button.mark-success type="submit" data-task=(t.task_id) { "Mark success" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(
        v.project,
        Section::Runs,
        &format!("Run {}", run.logical_date),
        live,
        body,
    )
}

/// A task that is waiting or working already needs no retry.
fn retry_allowed(state: TaskState) -> bool {
    !matches!(state, TaskState::Queued | TaskState::Running)
}

fn first_line(s: &str, max_chars: usize) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.chars().count() > max_chars || s.lines().nth(1).is_some() {
        let cut: String = line.chars().take(max_chars).collect();
        format!("{cut}…")
    } else {
        line.to_owned()
    }
}

/// A Gantt-like SVG: one bar per task from its start to its end (or now), on one time axis.
fn timeline(tasks: &[&TaskInstance], now: DateTime<Utc>) -> Markup {
    const WIDTH: f64 = 960.0;
    const LABEL: f64 = 230.0;
    const RIGHT: f64 = 16.0;
    const ROW: f64 = 22.0;
    const TOP: f64 = 26.0;
    let started: Vec<DateTime<Utc>> = tasks.iter().filter_map(|t| t.started_at).collect();
    let Some(t0) = started.iter().min().copied() else {
        return html! { p.empty #timeline { "No task has started yet." } };
    };
    let t1 = tasks
        .iter()
        .filter_map(|t| t.started_at.map(|_| t.ended_at.unwrap_or(now)))
        .max()
        .unwrap_or(t0);
    let span_ms = (t1 - t0).num_milliseconds().max(1_000) as f64;
    let area = WIDTH - LABEL - RIGHT;
    let x_of = |t: DateTime<Utc>| LABEL + ((t - t0).num_milliseconds() as f64 / span_ms) * area;
    let height = TOP + ROW * tasks.len() as f64 + 8.0;
    let ticks = 4;
    html! {
        div.timeline-scroll {
            svg.timeline #timeline viewBox={"0 0 " (WIDTH) " " (height)} width=(WIDTH) height=(height)
                role="img" aria-label="Timeline of the run's tasks" {
                @for i in 0..=ticks {
                    @let x = LABEL + area * f64::from(i) / f64::from(ticks);
                    @let offset = chrono::TimeDelta::milliseconds((span_ms * f64::from(i) / f64::from(ticks)) as i64);
                    line.tick x1=(fmt_px(x)) y1="18" x2=(fmt_px(x)) y2=(fmt_px(height - 4.0)) {}
                    text.tick-label x=(fmt_px(x)) y="12"
                        text-anchor=(if i == 0 { "start" } else if i == ticks { "end" } else { "middle" }) {
                        @if i == 0 { (t0.format("%H:%M:%S")) " UTC" } @else { "+" (format::duration(offset)) }
                    }
                }
                @for (i, t) in tasks.iter().enumerate() {
                    @let y = TOP + ROW * i as f64;
                    text.task-label x=(fmt_px(LABEL - 8.0)) y=(fmt_px(y + 12.0)) text-anchor="end" { (t.task_id) }
                    @if let Some(s) = t.started_at {
                        @let x = x_of(s);
                        @let w = (x_of(t.ended_at.unwrap_or(now)) - x).max(2.0);
                        rect class={"bar s-" (task_state_name(t.state))} data-task=(t.task_id)
                            x=(fmt_px(x)) y=(fmt_px(y)) width=(fmt_px(w)) height="16" rx="2" {
                            title { (task_tooltip(t, now)) }
                        }
                    } @else {
                        text.not-started x=(fmt_px(LABEL + 4.0)) y=(fmt_px(y + 12.0)) { (task_state_label(t.state)) }
                    }
                }
            }
        }
    }
}

fn fmt_px(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// What a task's log page shows.
pub struct TaskLogView<'a> {
    pub project: &'a str,
    pub run: &'a RunRecord,
    pub task: &'a TaskInstance,
    pub lines: &'a [LogLine],
    pub now: DateTime<Utc>,
}

pub fn task_log_page(v: &TaskLogView<'_>) -> Markup {
    let t = v.task;
    let live = task_is_active(t.state);
    let body = html! {
        p.crumbs {
            a href="/runs" { "Runs" } " › "
            a href=(run_url(&v.run.run_id)) { (v.run.run_id) } " › " (t.task_id)
        }
        h1 { (t.task_id) " " (task_badge(t.state)) }
        dl.facts #task-facts data-task=(t.task_id) data-run=(t.run_id) data-state=(task_state_name(t.state)) {
            dt { "Run" } dd { a href=(run_url(&v.run.run_id)) { (v.run.logical_date) } " (" code { (v.run.run_id) } ")" }
            dt { "Kind" } dd { (kind_name(t.kind)) }
            dt { "Target" } dd { code { (t.target) } }
            dt { "Attempt" } dd { (t.attempt) " of " (t.max_attempts) }
            dt { "Started" } dd { (opt_time(t.started_at)) }
            dt { "Duration" } dd { (format::elapsed(t.started_at, t.ended_at, v.now).map(format::duration).unwrap_or_else(|| "—".to_owned())) }
            dt { "Rows" } dd { (format::count(t.rows)) }
            dt { "Bytes" } dd { (format::bytes(t.bytes)) }
            @if let Some(w) = &t.worker { dt { "Worker" } dd { (w) } }
            @if let Some(e) = &t.error { dt { "Error" } dd { pre.error { (e) } } }
        }
        h2 { "Log" }
        @if v.lines.is_empty() {
            p.empty #task-log { "No log lines yet." }
        } @else {
            table.log #task-log {
                tbody {
                    @for (i, line) in v.lines.iter().enumerate() {
                        @if i == 0 || v.lines[i - 1].attempt != line.attempt {
                            tr.attempt { th colspan="3" { "Attempt " (line.attempt) } }
                        }
                        tr class={"level-" (line.level.to_ascii_lowercase())} {
                            td.ts { (format::clock(line.ts)) }
                            td.level { (line.level.to_ascii_uppercase()) }
                            td.msg { (line.message) }
                        }
                    }
                }
            }
        }
    };
    layout(v.project, Section::Runs, &t.task_id, live, body)
}

/// A whole page for an error, with the same frame as the rest.
pub fn error_page(project: &str, status: u16, message: &str) -> Markup {
    error_page_in(project, Section::Runs, status, message)
}

/// An error page in a section of the site, with a link back to the section's start.
pub fn error_page_in(project: &str, section: Section, status: u16, message: &str) -> Markup {
    let (href, back) = match section {
        Section::Runs => ("/runs", "Back to the runs"),
        Section::Dashboards => ("/dashboards", "Back to the dashboards"),
        Section::Catalog => ("/catalog", "Back to the catalog"),
        Section::Operations => ("/operations", "Back to operations"),
    };
    let body = html! {
        h1 { "Error " (status) }
        p.error-message { (message) }
        p { a href=(href) { (back) } }
    };
    layout(project, section, "Error", false, body)
}

/// The page a browser gets without the access token: a form that sends it to `/login`.
pub fn login_page(wrong: bool) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Access token needed · Pulse" }
                link rel="stylesheet" href="/static/pulse.css";
            }
            body.login {
                h1 { "Access token needed" }
                @if wrong { p { "That token is not the one this server was started with." } }
                p { "This Pulse server was started with an access token. Enter it to continue." }
                form method="get" action="/login" {
                    input type="password" name="token" autocomplete="current-password" required autofocus;
                    " "
                    button type="submit" { "Continue" }
                }
            }
        }
    }
}
