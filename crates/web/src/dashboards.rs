//! The dashboard pages, rendered from plain data: the list, and one dashboard with its filter
//! form and tiles. Pure functions of a [`DashboardView`], so they are snapshot-tested with hand
//! made results and need no warehouse.
//!
//! The figures are testable: each tile's root is `<section class="tile" data-tile="<id>"
//! data-kind="<kind>">` with `data-rendered="true"` when it drew its figures or
//! `data-error="true"` when its query failed; each element showing a figure has
//! `data-metric="<result column>" data-value="<the JSON cell>" data-row="<row index>"`.

use maud::{Markup, html};
use pulse_metrics::{DashboardView, FilterView, TileView};

use crate::charts::{self, ChartContext};
use crate::format;
use crate::params;
use crate::render::{Section, layout, path_segment};

/// The grid the layout classes (`gx-*`, `gw-*`, `gy-*`, `gh-*`, `cols-*`) cover; tiles outside
/// it are placed by the browser.
pub const MAX_GRID_COLUMNS: u32 = 24;
pub const MAX_GRID_ROWS: u32 = 60;

/// One entry of the dashboards list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DashboardSummary {
    pub name: String,
    pub title: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub tiles: usize,
}

impl From<&pulse_project::Dashboard> for DashboardSummary {
    fn from(d: &pulse_project::Dashboard) -> Self {
        DashboardSummary {
            name: d.name.clone(),
            title: d.config.title.clone(),
            description: d.config.description.clone(),
            owner: d.config.owner.clone(),
            tiles: d.tiles.len(),
        }
    }
}

pub fn dashboard_url(name: &str) -> String {
    format!("/dashboards/{}", path_segment(name))
}

/// The CSV download of a tile, under the filters in `query` (without `?`).
pub fn tile_csv_url(dashboard: &str, tile: &str, query: &str) -> String {
    let base = format!(
        "/dashboards/{}/tiles/{}.csv",
        path_segment(dashboard),
        path_segment(tile)
    );
    if query.is_empty() {
        base
    } else {
        format!("{base}?{query}")
    }
}

/// `GET /dashboards`.
pub fn dashboards_page(project: &str, dashboards: &[DashboardSummary]) -> Markup {
    let body = html! {
        h1 { "Dashboards" }
        @if dashboards.is_empty() {
            p.empty #no-dashboards { "This project has no dashboards yet. Add one as dashboards/<name>.toml." }
        } @else {
            ul.dash-list #dashboards {
                @for d in dashboards {
                    li data-dashboard=(d.name) {
                        a.dash-card href=(dashboard_url(&d.name)) {
                            span.dash-title { (d.title) }
                            @if let Some(desc) = &d.description { span.dash-desc { (desc) } }
                            span.dash-meta {
                                (d.tiles) @if d.tiles == 1 { " tile" } @else { " tiles" }
                                @if let Some(o) = &d.owner { " · owner " (o) }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(project, Section::Dashboards, "Dashboards", false, body)
}

/// What `/dashboards` says when the server has no metrics service.
pub fn no_metrics_page(project: &str) -> Markup {
    let body = html! {
        h1 { "Dashboards" }
        p.empty #no-metrics {
            "No metrics are configured on this server. Define metrics in metrics/*.toml and \
             dashboards in dashboards/*.toml, then restart pulse serve."
        }
    };
    layout(project, Section::Dashboards, "Dashboards", false, body)
}

/// `GET /dashboards/{name}`: the header, the filter form and the tiles on the grid.
pub fn dashboard_page(project: &str, v: &DashboardView) -> Markup {
    let query = params::filters_query(v.from, v.to, &selected(&v.filters));
    let mut tiles: Vec<&TileView> = v.tiles.iter().collect();
    // Reading order: row by row, left to right, whatever the file's order.
    tiles.sort_by_key(|t| (t.y, t.x));
    let body = html! {
        p.crumbs { a href="/dashboards" { "Dashboards" } " › " (v.title) }
        div.dash-head {
            h1 { (v.title) }
            @if let Some(d) = &v.description { p.dash-desc { (d) } }
            p.dash-meta #dash-meta {
                @match (v.from, v.to) {
                    (Some(f), Some(t)) => { span.range data-from=(f) data-to=(t) { (format::date_range(f, t)) } }
                    _ => { span.range { "All dates" } }
                }
                @if let Some(n) = v.newest_date { " · " span.newest data-newest=(n) { "data up to " (format::day(n)) } }
                @if let Some(o) = &v.owner { " · owner " (o) }
            }
        }
        (filter_form(v))
        div class={"dash-grid" (grid_columns_class(v.columns))} #tiles data-dashboard=(v.name) {
            @for t in tiles {
                (tile(v, t, &query))
            }
        }
        p.dash-foot { "Warehouse version " code { (v.warehouse_version) } }
    };
    layout(project, Section::Dashboards, &v.title, false, body)
}

fn selected(filters: &[FilterView]) -> std::collections::BTreeMap<String, Vec<String>> {
    filters
        .iter()
        .filter(|f| !f.selected.is_empty())
        .map(|f| (f.dimension.clone(), f.selected.clone()))
        .collect()
}

fn grid_columns_class(columns: u32) -> String {
    if (1..=MAX_GRID_COLUMNS).contains(&columns) {
        format!(" cols-{columns}")
    } else {
        String::new()
    }
}

/// The classes that place a tile: `grid-column: x+1 / span w; grid-row: y+1 / span h` as
/// classes, since the Content-Security-Policy refuses `style` attributes.
fn placement(t: &TileView, columns: u32) -> String {
    let columns = columns.clamp(1, MAX_GRID_COLUMNS);
    let w = t.w.clamp(1, columns);
    let mut classes = String::new();
    if t.x < columns {
        classes.push_str(&format!(" gx-{} gw-{}", t.x + 1, w.min(columns - t.x)));
    } else {
        classes.push_str(&format!(" gw-{w}"));
    }
    if t.y < MAX_GRID_ROWS {
        classes.push_str(&format!(" gy-{}", t.y + 1));
    }
    classes.push_str(&format!(" gh-{}", t.h.clamp(1, 12)));
    classes
}

fn filter_form(v: &DashboardView) -> Markup {
    html! {
        form.filters #filters method="get" action=(dashboard_url(&v.name)) {
            div.field {
                label for="f-from" { "From" }
                input #f-from type="date" name="from" value=[v.from.map(|d| d.to_string())];
            }
            div.field {
                label for="f-to" { "To" }
                input #f-to type="date" name="to" value=[v.to.map(|d| d.to_string())];
            }
            @for f in &v.filters {
                @let id = format!("f-{}", path_segment(&f.dimension));
                @let options = filter_options(f);
                div.field {
                    label for=(id) {
                        (f.label)
                        @if !f.selected.is_empty() { " " span.count { "(" (f.selected.len()) ")" } }
                    }
                    select id=(id) name={(params::FILTER_PREFIX) (f.dimension)} multiple
                        size=(options.len().clamp(2, 5)) data-dimension=(f.dimension)
                        title="Ctrl/⌘-click to choose several; none means all" {
                        @for o in &options {
                            option value=(o) selected[f.selected.contains(o)] { (o) }
                        }
                    }
                }
            }
            div.field.actions {
                button #apply-filters type="submit" { "Apply" }
                a #reset-filters href=(dashboard_url(&v.name)) { "Reset" }
            }
        }
    }
}

/// The values a filter offers: its options, then chosen values the options lack (so a link
/// with an old value still shows what it filters by).
fn filter_options(f: &FilterView) -> Vec<&String> {
    f.options
        .iter()
        .chain(f.selected.iter().filter(|s| !f.options.contains(s)))
        .collect()
}

/// One tile: title, description, a note for filters it cannot apply, and its chart or error.
pub fn tile(v: &DashboardView, t: &TileView, query: &str) -> Markup {
    let (rendered, error) = match (&t.result, &t.error) {
        (_, Some(e)) => (false, Some(e.as_str())),
        (Some(_), None) => (true, None),
        (None, None) => (false, Some("the tile has no figures")),
    };
    let not_applied: Vec<String> = t
        .filters_not_applied
        .iter()
        .map(|d| {
            v.filters
                .iter()
                .find(|f| f.dimension == *d)
                .map(|f| f.label.clone())
                .unwrap_or_else(|| d.clone())
        })
        .collect();
    let ctx = ChartContext {
        kind: t.kind,
        w: t.w,
        h: t.h,
        columns: v.columns,
    };
    html! {
        section class={"tile kind-" (t.kind.as_str()) (placement(t, v.columns))}
            id={"tile-" (path_segment(&t.id))}
            data-tile=(t.id) data-kind=(t.kind.as_str())
            data-rendered=[rendered.then_some("true")] data-error=[error.is_some().then_some("true")] {
            header.tile-head {
                h2 { (t.title) }
                @if rendered {
                    a.csv href=(tile_csv_url(&v.name, &t.id, query)) download
                        title="Download the figures as CSV" { "CSV" }
                }
            }
            @if let Some(d) = &t.description { p.tile-desc { (d) } }
            @if !not_applied.is_empty() {
                p.tile-note data-not-filtered=(t.filters_not_applied.join(","))
                    title="A metric of this tile cannot be cut by these dimensions, so they do not apply to it." {
                    "Not filtered by " (not_applied.join(", ").to_lowercase())
                }
            }
            div.tile-body {
                @if let Some(e) = error {
                    (tile_error(e))
                } @else if let Some(r) = &t.result {
                    (charts::chart(&ctx, r))
                }
            }
        }
    }
}

fn tile_error(e: &str) -> Markup {
    let mut lines = e.lines();
    let first = lines.next().unwrap_or("");
    let rest: Vec<&str> = lines.collect();
    html! {
        div.tile-error role="alert" {
            p { strong { "Could not load this tile." } " " (first) }
            @if !rest.is_empty() {
                details { summary { "Details" } pre { (rest.join("\n")) } }
            }
        }
    }
}
