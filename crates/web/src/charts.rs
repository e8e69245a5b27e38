//! A tile's figures as a chart: inline SVG (or an HTML table, or KPI figures) rendered on the
//! server, so a page needs no script to show them.
//!
//! Every element that shows a figure carries `data-metric` (the result column), `data-value`
//! (the cell as JSON text, `null` for none) and `data-row` (the index into the result's rows);
//! SVG marks hold a `<title>` the browser shows as a tooltip. Colours come from attributes, not
//! `style`, which the pages' Content-Security-Policy forbids.

use std::collections::HashMap;

use chrono::NaiveDate;
use maud::{Markup, html};
use pulse_metrics::{ColumnRole, MetricResult, ResultColumn};
use pulse_project::{Grain, TileKind, ValueFormat};
use serde_json::Value;

use crate::format;

/// Okabe–Ito's colour-blind-safe palette (yellow darkened to read on white), then a grey.
pub const PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#A08A00", "#5F6B7A",
];

/// Lines a time series shows at most; the CSV download has every one.
const MAX_SERIES: usize = PALETTE.len();
/// Bars, funnels and heatmap rows shown at most.
const MAX_ROWS: usize = 40;
/// Table rows shown at most.
const MAX_TABLE_ROWS: usize = 200;

/// The width of the drawing, in the SVG's own units: about the tile's share of a wide screen,
/// so text keeps roughly the size of the page's.
fn chart_width(w: u32, columns: u32) -> f64 {
    let share = f64::from(w.max(1)) / f64::from(columns.max(1));
    (1200.0 * share).clamp(320.0, 1200.0)
}

/// What a chart needs beside the result.
pub struct ChartContext {
    pub kind: TileKind,
    pub w: u32,
    pub h: u32,
    pub columns: u32,
}

pub fn chart(ctx: &ChartContext, r: &MetricResult) -> Markup {
    if r.rows.is_empty() {
        return html! { p.chart-empty { "No data for this range and these filters." } };
    }
    match ctx.kind {
        TileKind::Kpi => kpi(r),
        TileKind::TimeSeries => time_series(ctx, r),
        TileKind::Bar => bars(ctx, r),
        TileKind::Funnel => funnel(ctx, r),
        TileKind::Table => table(r),
        TileKind::Heatmap => heatmap(ctx, r),
    }
}

// ---------------------------------------------------------------------------------------------
// Cells

/// The cell as it is in the JSON row: the text a test compares with the API's answer.
pub fn raw(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64().filter(|n| n.is_finite())
}

/// A dimension value as text: `3` rather than `3.0`, `(none)` for null.
fn label_text(v: &Value) -> String {
    match v {
        Value::Null => "(none)".to_owned(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// A figure in full, as the column's format says; `—` for none.
pub fn full(c: &ResultColumn, v: &Value) -> String {
    match v {
        Value::Null => "—".to_owned(),
        _ => match number(v) {
            Some(n) if c.role == ColumnRole::Change => format::change(n),
            Some(n) => format::value(n, c.format, c.unit.as_deref(), c.decimals),
            None => raw(v),
        },
    }
}

/// A figure shortened above 99,999.
fn short(c: &ResultColumn, v: &Value) -> String {
    match number(v) {
        Some(n) if c.role == ColumnRole::Change => format::change(n),
        Some(n) => format::compact(n, c.format, c.unit.as_deref(), c.decimals),
        None => full(c, v),
    }
}

/// `Orders` or `GMV (EUR)`.
fn with_unit(label: &str, c: &ResultColumn) -> String {
    match format::unit_label(c.format, c.unit.as_deref()) {
        Some(u) if c.format != ValueFormat::Percent => format!("{label} ({u})"),
        _ => label.to_owned(),
    }
}

fn period_label(v: &Value, grain: Option<Grain>, with_year: bool) -> String {
    let text = label_text(v);
    let Ok(d) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") else {
        return text;
    };
    match (grain, with_year) {
        (Some(Grain::Month), _) => d.format("%b %Y").to_string(),
        (_, true) => format::day(d),
        (_, false) => d.format("%-d %b").to_string(),
    }
}

fn cell(r: &MetricResult, row: usize, col: usize) -> &Value {
    r.rows
        .get(row)
        .and_then(|cells| cells.get(col))
        .unwrap_or(&Value::Null)
}

fn columns_with(r: &MetricResult, roles: &[ColumnRole]) -> Vec<usize> {
    r.columns
        .iter()
        .enumerate()
        .filter(|(_, c)| roles.contains(&c.role))
        .map(|(i, _)| i)
        .collect()
}

/// The columns a chart draws: metrics and funnel steps, or any figure when there are none.
fn figure_columns(r: &MetricResult) -> Vec<usize> {
    let main = columns_with(r, &[ColumnRole::Metric, ColumnRole::Step]);
    if main.is_empty() {
        r.value_columns().map(|(i, _)| i).collect()
    } else {
        main
    }
}

/// The label of a row from its period and dimension cells: `Berlin · mobile`.
fn row_label(r: &MetricResult, row: usize, keys: &[usize]) -> String {
    let grain = r.request.grain;
    keys.iter()
        .map(|&k| {
            if r.columns[k].role == ColumnRole::Period {
                period_label(cell(r, row, k), grain, true)
            } else {
                label_text(cell(r, row, k))
            }
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

fn px(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// Text width at the charts' 12px font, roughly.
fn text_width(s: &str) -> f64 {
    s.chars().count() as f64 * 6.8
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() > max_chars {
        let cut: String = s.chars().take(max_chars.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        s.to_owned()
    }
}

/// Round tick values covering `lo..=hi` (1, 2, 2.5 or 5 times a power of ten apart), and the
/// step between them.
pub fn nice_ticks(lo: f64, hi: f64, count: usize) -> (Vec<f64>, f64) {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else if hi == 0.0 {
        (0.0, 1.0)
    } else {
        (lo.min(0.0), hi.max(0.0) + hi.abs() * 0.1)
    };
    let raw = (hi - lo) / count.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).floor() * step;
    let end = (hi / step).ceil() * step;
    let n = ((end - start) / step).round() as usize;
    let ticks = (0..=n.min(20))
        .map(|i| {
            let t = start + step * i as f64;
            if t.abs() < step * 1e-9 { 0.0 } else { t }
        })
        .collect();
    (ticks, step)
}

/// A linear scale from a domain onto pixels.
#[derive(Clone, Copy)]
struct Scale {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
}

impl Scale {
    fn at(&self, v: f64) -> f64 {
        if self.d1 == self.d0 {
            return self.r0;
        }
        self.r0 + (v - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)
    }
}

fn domain(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

fn legend(items: &[(String, usize)]) -> Markup {
    html! {
        @if items.len() > 1 {
            ul.chart-legend {
                @for (name, colour) in items {
                    li { span class={"sw p" (colour % PALETTE.len())} {} (name) }
                }
            }
        }
    }
}

fn note(text: Option<String>) -> Markup {
    html! { @if let Some(t) = text { p.chart-note { (t) } } }
}

// ---------------------------------------------------------------------------------------------
// KPI

/// One big figure per metric, its change against the previous period and the previous figure.
fn kpi(r: &MetricResult) -> Markup {
    let by_name: HashMap<&str, usize> = r
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    let figures = figure_columns(r);
    let figures: Vec<usize> = figures
        .into_iter()
        .filter(|&i| !matches!(r.columns[i].role, ColumnRole::Previous | ColumnRole::Change))
        .collect();
    let previous_range = r
        .previous_range
        .map(|(from, to)| format::date_range(from, to));
    let several = figures.len() > 1;
    html! {
        div.kpis {
            @for i in figures {
                @let c = &r.columns[i];
                @let v = cell(r, 0, i);
                @let prev = by_name.get(format!("{}__previous", c.name).as_str()).copied();
                @let change = by_name.get(format!("{}__change", c.name).as_str()).copied();
                div.kpi {
                    @if several { div.kpi-label { (c.label) } }
                    div.kpi-value data-metric=(c.name) data-value=(raw(v)) data-row="0"
                        title={(c.label) ": " (full(c, v))} { (short(c, v)) }
                    @if prev.is_some() || change.is_some() {
                        div.kpi-compare {
                            @if let Some(ci) = change {
                                @let cv = cell(r, 0, ci);
                                @let (class, arrow) = match number(cv) {
                                    Some(n) if n > 0.0005 => ("up", "▲"),
                                    Some(n) if n < -0.0005 => ("down", "▼"),
                                    Some(_) => ("flat", "■"),
                                    None => ("none", ""),
                                };
                                span class={"kpi-change " (class)} data-metric=(r.columns[ci].name)
                                    data-value=(raw(cv)) data-row="0"
                                    title="Change against the previous period of the same length" {
                                    @if number(cv).is_some() { span.arrow aria-hidden="true" { (arrow) } " " (full(&r.columns[ci], cv)) }
                                    @else { "no change to show" }
                                }
                            }
                            @if let Some(pi) = prev {
                                @let pv = cell(r, 0, pi);
                                " "
                                span.kpi-prev data-metric=(r.columns[pi].name) data-value=(raw(pv)) data-row="0"
                                    title={"Previous period" @if let Some(p) = &previous_range { ": " (p) } ": " (full(&r.columns[pi], pv))} {
                                    "vs " (short(&r.columns[pi], pv))
                                    @if let Some(p) = &previous_range { " (" (p) ")" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Time series

struct Point {
    period: usize,
    row: usize,
    value: f64,
    raw: String,
}

struct Series {
    name: String,
    col: usize,
    points: Vec<Point>,
}

fn time_series(ctx: &ChartContext, r: &MetricResult) -> Markup {
    let Some(pcol) = r.columns.iter().position(|c| c.role == ColumnRole::Period) else {
        return bars(ctx, r);
    };
    let dims = columns_with(r, &[ColumnRole::Dimension]);
    let values = figure_columns(r);
    let mut periods: Vec<String> = r
        .rows
        .iter()
        .map(|row| raw(row.get(pcol).unwrap_or(&Value::Null)))
        .collect();
    periods.sort();
    periods.dedup();
    let mut series: Vec<Series> = Vec::new();
    let mut index: HashMap<(String, usize), usize> = HashMap::new();
    for (ri, row) in r.rows.iter().enumerate() {
        let key = row_label(r, ri, &dims);
        let Ok(pi) = periods.binary_search(&raw(row.get(pcol).unwrap_or(&Value::Null))) else {
            continue;
        };
        for &c in &values {
            let si = *index.entry((key.clone(), c)).or_insert_with(|| {
                let name = match (dims.is_empty(), values.len() > 1) {
                    (true, _) => r.columns[c].label.clone(),
                    (false, false) => key.clone(),
                    (false, true) => format!("{key} · {}", r.columns[c].label),
                };
                series.push(Series {
                    name,
                    col: c,
                    points: Vec::new(),
                });
                series.len() - 1
            });
            let v = cell(r, ri, c);
            if let Some(n) = number(v) {
                series[si].points.push(Point {
                    period: pi,
                    row: ri,
                    value: n,
                    raw: raw(v),
                });
            }
        }
    }
    let total = series.len();
    if total > MAX_SERIES {
        let sum = |s: &Series| s.points.iter().map(|p| p.value.abs()).sum::<f64>();
        series.sort_by(|a, b| sum(b).total_cmp(&sum(a)));
        series.truncate(MAX_SERIES);
    }
    let first = &r.columns[values.first().copied().unwrap_or(pcol)];
    let (lo, hi) = domain(series.iter().flat_map(|s| s.points.iter().map(|p| p.value)));
    let (ticks, step) = nice_ticks(lo, hi, 5);
    let tick_labels: Vec<String> = ticks
        .iter()
        .map(|t| format::tick(*t, step, first.format, first.unit.as_deref()))
        .collect();
    let width = chart_width(ctx.w, ctx.columns);
    let height = 110.0 * f64::from(ctx.h.max(1)) + 90.0;
    let left = tick_labels
        .iter()
        .map(|t| text_width(t))
        .fold(0.0, f64::max)
        + 14.0;
    let (right, top, bottom) = (16.0, 24.0, 28.0);
    let y = Scale {
        d0: ticks.first().copied().unwrap_or(0.0),
        d1: ticks.last().copied().unwrap_or(1.0),
        r0: height - bottom,
        r1: top,
    };
    let n = periods.len();
    let x_of = |i: usize| {
        if n <= 1 {
            left + (width - left - right) / 2.0
        } else {
            left + (width - left - right) * i as f64 / (n - 1) as f64
        }
    };
    let max_labels = ((width - left - right) / 70.0).floor().max(2.0) as usize;
    let every = n.div_ceil(max_labels).max(1);
    let grain = r.request.grain;
    let axis_title =
        if values.len() == 1 || series.iter().all(|s| same_unit(&r.columns[s.col], first)) {
            if values.len() == 1 {
                with_unit(&first.label, first)
            } else {
                format::unit_label(first.format, first.unit.as_deref()).unwrap_or_default()
            }
        } else {
            String::new()
        };
    let radius = if n > 60 { 2.0 } else { 3.0 };
    let items: Vec<(String, usize)> = series
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.clone(), i))
        .collect();
    html! {
        svg.chart.time-series viewBox={"0 0 " (px(width)) " " (px(height))} role="img"
            aria-label={"Line chart: " (axis_title)} {
            text.axis-title x="0" y="12" { (axis_title) }
            @for (t, label) in ticks.iter().zip(&tick_labels) {
                @let ty = y.at(*t);
                line.grid x1=(px(left)) x2=(px(width - right)) y1=(px(ty)) y2=(px(ty)) {}
                text.tick x=(px(left - 6.0)) y=(px(ty + 4.0)) text-anchor="end" { (label) }
            }
            line.axis x1=(px(left)) x2=(px(width - right)) y1=(px(y.at(0.0))) y2=(px(y.at(0.0))) {}
            @for (i, p) in periods.iter().enumerate() {
                // Counted back from the newest period, which always has its label.
                @if (n - 1 - i).is_multiple_of(every) {
                    @let x = x_of(i);
                    line.tick-mark x1=(px(x)) x2=(px(x)) y1=(px(height - bottom)) y2=(px(height - bottom + 4.0)) {}
                    text.tick x=(px(x)) y=(px(height - bottom + 16.0))
                        text-anchor=(if n > 1 && i == 0 { "start" } else if n > 1 && i + 1 == n { "end" } else { "middle" }) {
                        (period_label(&Value::String(p.clone()), grain, false))
                    }
                }
            }
            @for (si, s) in series.iter().enumerate() {
                @let colour = PALETTE[si % PALETTE.len()];
                @let c = &r.columns[s.col];
                g.series data-series=(s.name) {
                    @if s.points.len() > 1 {
                        polyline.line fill="none" stroke=(colour) stroke-width="2" stroke-linejoin="round"
                            points=(line_points(&s.points, &x_of, &y)) {}
                    }
                    @for p in &s.points {
                        @let date = period_label(&Value::String(periods[p.period].clone()), grain, true);
                        circle.point cx=(px(x_of(p.period))) cy=(px(y.at(p.value))) r=(px(radius)) fill=(colour)
                            data-metric=(c.name) data-value=(p.raw) data-row=(p.row) {
                            title { (s.name) " · " (date) ": " (format::value(p.value, c.format, c.unit.as_deref(), c.decimals)) }
                        }
                    }
                }
            }
        }
        (legend(&items))
        (note((total > MAX_SERIES).then(|| format!("Showing the {MAX_SERIES} largest of {total} lines; the CSV has all."))))
    }
}

fn same_unit(a: &ResultColumn, b: &ResultColumn) -> bool {
    a.format == b.format && a.unit == b.unit
}

/// The polyline of a series, broken nowhere: periods without a value are skipped.
fn line_points(points: &[Point], x_of: &dyn Fn(usize) -> f64, y: &Scale) -> String {
    points
        .iter()
        .map(|p| format!("{},{}", px(x_of(p.period)), px(y.at(p.value))))
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------------
// Bars

/// Horizontal bars, one row per dimension value. Several metrics in one unit share a scale (a
/// bar each, with a legend); metrics in different units get a panel each.
fn bars(ctx: &ChartContext, r: &MetricResult) -> Markup {
    let keys = columns_with(r, &[ColumnRole::Period, ColumnRole::Dimension]);
    let values = figure_columns(r);
    if values.is_empty() {
        return table(r);
    }
    let rows = r.rows.len().min(MAX_ROWS);
    let labels: Vec<String> = (0..rows)
        .map(|i| {
            if keys.is_empty() {
                "All".to_owned()
            } else {
                row_label(r, i, &keys)
            }
        })
        .collect();
    let first = &r.columns[values[0]];
    let shared = values.iter().all(|&c| same_unit(&r.columns[c], first));
    let panels: Vec<Vec<usize>> = if shared {
        vec![values.clone()]
    } else {
        values.iter().map(|&c| vec![c]).collect()
    };
    let width = chart_width(ctx.w, ctx.columns);
    let label_w = labels
        .iter()
        .map(|l| text_width(&truncate(l, 28)))
        .fold(40.0, f64::max)
        .min(width * 0.35)
        + 10.0;
    let per_row = panels.iter().map(Vec::len).max().unwrap_or(1);
    let bar_h = if per_row > 1 { 11.0 } else { 18.0 };
    let band = bar_h * per_row as f64 + 10.0;
    let top = if panels.len() > 1 { 22.0 } else { 6.0 };
    let axis_h = 34.0;
    let height = top + band * rows as f64 + axis_h;
    let gap = 16.0;
    let panel_w = (width - label_w - gap * (panels.len() - 1) as f64) / panels.len() as f64;
    let text_room = 62.0;
    let items: Vec<(String, usize)> = if shared && values.len() > 1 {
        values
            .iter()
            .enumerate()
            .map(|(i, &c)| (r.columns[c].label.clone(), i))
            .collect()
    } else {
        Vec::new()
    };
    let axis_title = if panels.len() == 1 {
        if values.len() == 1 {
            with_unit(&first.label, first)
        } else {
            format::unit_label(first.format, first.unit.as_deref()).unwrap_or_default()
        }
    } else {
        String::new()
    };
    html! {
        svg.chart.bars viewBox={"0 0 " (px(width)) " " (px(height))} role="img" aria-label={"Bar chart: " (axis_title)} {
            @for (pi, panel) in panels.iter().enumerate() {
                @let x0 = label_w + (panel_w + gap) * pi as f64;
                @let pc = &r.columns[panel[0]];
                @let (lo, hi) = domain(panel.iter().flat_map(|&c| (0..rows).filter_map(move |i| number(cell(r, i, c)))));
                @let (ticks, step) = nice_ticks(lo, hi, if panel_w > 300.0 { 4 } else { 2 });
                @let sx = Scale { d0: ticks.first().copied().unwrap_or(0.0), d1: ticks.last().copied().unwrap_or(1.0), r0: x0, r1: x0 + (panel_w - text_room).max(20.0) };
                @if panels.len() > 1 {
                    text.panel-title x=(px(x0)) y="14" { (with_unit(&pc.label, pc)) }
                }
                @for t in &ticks {
                    @let tx = sx.at(*t);
                    line.grid x1=(px(tx)) x2=(px(tx)) y1=(px(top)) y2=(px(height - axis_h + 4.0)) {}
                    text.tick x=(px(tx)) y=(px(height - axis_h + 16.0)) text-anchor="middle" { (format::tick(*t, step, pc.format, pc.unit.as_deref())) }
                }
                @for (ri, label) in labels.iter().enumerate() {
                    @let y0 = top + band * ri as f64 + 5.0;
                    @for (k, &c) in panel.iter().enumerate() {
                        @let col = &r.columns[c];
                        @let v = cell(r, ri, c);
                        @if let Some(n) = number(v) {
                            @let (a, b) = (sx.at(0.0), sx.at(n));
                            @let colour = PALETTE[if items.is_empty() { 0 } else { k % PALETTE.len() }];
                            rect.bar x=(px(a.min(b))) y=(px(y0 + bar_h * k as f64)) width=(px((b - a).abs().max(1.0))) height=(px(bar_h - 2.0))
                                fill=(colour) rx="2" data-metric=(col.name) data-value=(raw(v)) data-row=(ri) {
                                title { (label) " · " (col.label) ": " (full(col, v)) }
                            }
                            text.bar-value x=(px(a.max(b) + 4.0)) y=(px(y0 + bar_h * k as f64 + bar_h / 2.0 + 2.0))
                                data-metric=(col.name) data-value=(raw(v)) data-row=(ri) { (short(col, v)) }
                        }
                    }
                }
            }
            @for (ri, label) in labels.iter().enumerate() {
                text.bar-label x=(px(label_w - 8.0)) y=(px(top + band * ri as f64 + band / 2.0 + 4.0)) text-anchor="end" {
                    (truncate(label, 28))
                    title { (label) }
                }
            }
            @if !axis_title.is_empty() {
                text.axis-title x=(px(label_w)) y=(px(height - 4.0)) { (axis_title) }
            }
        }
        (legend(&items))
        (note((r.rows.len() > MAX_ROWS).then(|| format!("Showing the first {MAX_ROWS} of {} rows; the CSV has all.", r.rows.len()))))
    }
}

// ---------------------------------------------------------------------------------------------
// Funnel

struct Step<'a> {
    col: usize,
    column: &'a ResultColumn,
    conversion: Option<usize>,
}

fn funnel_steps(r: &MetricResult) -> Vec<Step<'_>> {
    let steps = columns_with(r, &[ColumnRole::Step]);
    let Some(metric) = steps.first().map(|&i| r.columns[i].metric.clone()) else {
        return Vec::new();
    };
    steps
        .into_iter()
        .filter(|&i| r.columns[i].metric == metric)
        .map(|i| {
            let column = &r.columns[i];
            let conv_name = format!("{}__conversion", column.name);
            Step {
                col: i,
                column,
                conversion: r.column_index(&conv_name),
            }
        })
        .collect()
}

fn funnel(ctx: &ChartContext, r: &MetricResult) -> Markup {
    let steps = funnel_steps(r);
    if steps.is_empty() {
        return bars(ctx, r);
    }
    let keys = columns_with(r, &[ColumnRole::Period, ColumnRole::Dimension]);
    if keys.is_empty() || r.rows.len() == 1 {
        single_funnel(ctx, r, &steps)
    } else {
        funnel_rows(ctx, r, &steps, &keys)
    }
}

/// One bar per step, centred and narrowing, with the count and the share of the step before.
fn single_funnel(ctx: &ChartContext, r: &MetricResult, steps: &[Step<'_>]) -> Markup {
    let width = chart_width(ctx.w, ctx.columns);
    let label_w = steps
        .iter()
        .map(|s| text_width(&s.column.label))
        .fold(60.0, f64::max)
        .min(width * 0.3)
        + 12.0;
    let text_room = 150.0;
    let band = 40.0;
    let height = band * steps.len() as f64 + 8.0;
    let area = (width - label_w - text_room).max(60.0);
    let max = steps
        .iter()
        .filter_map(|s| number(cell(r, 0, s.col)))
        .fold(0.0, f64::max);
    let cx = label_w + area / 2.0;
    let first_value = steps.first().and_then(|s| number(cell(r, 0, s.col)));
    let last_value = steps.last().and_then(|s| number(cell(r, 0, s.col)));
    let overall = match (first_value, last_value) {
        (Some(f), Some(l)) if f > 0.0 && steps.len() > 1 => Some(l / f),
        _ => None,
    };
    html! {
        svg.chart.funnel viewBox={"0 0 " (px(width)) " " (px(height))} role="img" aria-label="Funnel" {
            @for (i, s) in steps.iter().enumerate() {
                @let v = cell(r, 0, s.col);
                @let y0 = band * i as f64 + 4.0;
                text.bar-label x=(px(label_w - 8.0)) y=(px(y0 + 21.0)) text-anchor="end" { (truncate(&s.column.label, 30)) }
                @if let Some(n) = number(v) {
                    @let w = if max > 0.0 { (n / max * area).max(2.0) } else { 2.0 };
                    rect.bar x=(px(cx - w / 2.0)) y=(px(y0)) width=(px(w)) height="30" rx="3"
                        fill=(PALETTE[0]) data-metric=(s.column.name) data-value=(raw(v)) data-row="0" {
                        title { (step_tooltip(r, 0, steps, i)) }
                    }
                }
                text.funnel-count x=(px(label_w + area + 10.0)) y=(px(y0 + 14.0))
                    data-metric=(s.column.name) data-value=(raw(v)) data-row="0" { (full(s.column, v)) }
                @if let Some(ci) = s.conversion {
                    @let cv = cell(r, 0, ci);
                    text.funnel-conversion x=(px(label_w + area + 10.0)) y=(px(y0 + 28.0))
                        data-metric=(r.columns[ci].name) data-value=(raw(cv)) data-row="0" {
                        (full(&r.columns[ci], cv)) " of previous step"
                    }
                }
            }
        }
        @if let (Some(o), Some(first), Some(last)) = (overall, steps.first(), steps.last()) {
            p.chart-note { "Overall " strong { (format::value(o, ValueFormat::Percent, None, Some(1))) } " of " (first.column.label) " reach " (last.column.label) "." }
        }
    }
}

fn step_tooltip(r: &MetricResult, row: usize, steps: &[Step<'_>], i: usize) -> String {
    let s = &steps[i];
    let mut tip = format!(
        "{}: {}",
        s.column.label,
        full(s.column, cell(r, row, s.col))
    );
    if let Some(ci) = s.conversion {
        tip.push_str(&format!(
            " · {} of {}",
            full(&r.columns[ci], cell(r, row, ci)),
            steps
                .get(i.wrapping_sub(1))
                .map(|p| p.column.label.as_str())
                .unwrap_or("the step before")
        ));
    }
    tip
}

/// A funnel per row (one per dimension value): steps as columns, each bar as long as the share
/// of the row's first step that reached it.
fn funnel_rows(ctx: &ChartContext, r: &MetricResult, steps: &[Step<'_>], keys: &[usize]) -> Markup {
    let rows = r.rows.len().min(MAX_ROWS);
    let labels: Vec<String> = (0..rows).map(|i| row_label(r, i, keys)).collect();
    let width = chart_width(ctx.w, ctx.columns);
    let label_w = labels
        .iter()
        .map(|l| text_width(&truncate(l, 24)))
        .fold(40.0, f64::max)
        .min(width * 0.3)
        + 10.0;
    let cw = (width - label_w) / steps.len() as f64;
    let band = 38.0;
    let top = 22.0;
    let height = top + band * rows as f64 + 4.0;
    html! {
        svg.chart.funnel-rows viewBox={"0 0 " (px(width)) " " (px(height))} role="img" aria-label="Funnel per row" {
            @for (si, s) in steps.iter().enumerate() {
                text.panel-title x=(px(label_w + cw * si as f64)) y="14" { (truncate(&s.column.label, (cw / 7.0) as usize)) title { (s.column.label) } }
            }
            @for (ri, label) in labels.iter().enumerate() {
                @let y0 = top + band * ri as f64;
                @let base = number(cell(r, ri, steps[0].col)).filter(|b| *b > 0.0);
                text.bar-label x=(px(label_w - 8.0)) y=(px(y0 + 14.0)) text-anchor="end" { (truncate(label, 24)) title { (label) } }
                @for (si, s) in steps.iter().enumerate() {
                    @let x0 = label_w + cw * si as f64;
                    @let v = cell(r, ri, s.col);
                    @if let (Some(n), Some(b)) = (number(v), base) {
                        rect.bar x=(px(x0)) y=(px(y0 + 2.0)) width=(px(((n / b).clamp(0.0, 1.0) * (cw - 10.0)).max(1.0))) height="12" rx="2"
                            fill=(PALETTE[0]) data-metric=(s.column.name) data-value=(raw(v)) data-row=(ri) {
                            title { (label) " · " (step_tooltip(r, ri, steps, si)) }
                        }
                    }
                    text.funnel-count x=(px(x0)) y=(px(y0 + 28.0)) {
                        tspan data-metric=(s.column.name) data-value=(raw(v)) data-row=(ri) { (short(s.column, v)) }
                        @if let Some(ci) = s.conversion {
                            @let cv = cell(r, ri, ci);
                            " · "
                            tspan.funnel-conversion data-metric=(r.columns[ci].name) data-value=(raw(cv)) data-row=(ri) { (full(&r.columns[ci], cv)) }
                        }
                    }
                }
            }
        }
        (note((r.rows.len() > MAX_ROWS).then(|| format!("Showing the first {MAX_ROWS} of {} rows; the CSV has all.", r.rows.len()))))
    }
}

// ---------------------------------------------------------------------------------------------
// Table

fn table(r: &MetricResult) -> Markup {
    let rows = r.rows.len().min(MAX_TABLE_ROWS);
    let grain = r.request.grain;
    html! {
        div.table-scroll {
            table.data {
                thead {
                    tr {
                        @for c in &r.columns {
                            @let numeric = !matches!(c.role, ColumnRole::Period | ColumnRole::Dimension);
                            th class=[numeric.then_some("num")] title=[c.metric.as_deref()] { (c.label) }
                        }
                    }
                }
                tbody {
                    @for ri in 0..rows {
                        tr {
                            @for (ci, c) in r.columns.iter().enumerate() {
                                @let v = cell(r, ri, ci);
                                @match c.role {
                                    ColumnRole::Period => td { (period_label(v, grain, true)) },
                                    ColumnRole::Dimension => td { (label_text(v)) },
                                    ColumnRole::Change => {
                                        @let class = match number(v) { Some(n) if n > 0.0005 => "num up", Some(n) if n < -0.0005 => "num down", _ => "num" };
                                        td class=(class) data-metric=(c.name) data-value=(raw(v)) data-row=(ri) { (full(c, v)) }
                                    },
                                    _ => td.num data-metric=(c.name) data-value=(raw(v)) data-row=(ri) { (full(c, v)) },
                                }
                            }
                        }
                    }
                }
            }
        }
        (note((r.rows.len() > MAX_TABLE_ROWS).then(|| format!("Showing the first {MAX_TABLE_ROWS} of {} rows; the CSV has all.", r.rows.len()))))
    }
}

// ---------------------------------------------------------------------------------------------
// Heatmap

/// Distinct values of a column, numerically when all are numbers, else as text.
fn distinct(r: &MetricResult, col: Option<usize>) -> Vec<String> {
    let Some(col) = col else {
        return vec!["All".to_owned()];
    };
    let mut values: Vec<&Value> = r
        .rows
        .iter()
        .map(|row| row.get(col).unwrap_or(&Value::Null))
        .collect();
    if values.iter().all(|v| v.is_number()) {
        values.sort_by(|a, b| {
            a.as_f64()
                .unwrap_or(0.0)
                .total_cmp(&b.as_f64().unwrap_or(0.0))
        });
    } else {
        values.sort_by_key(|v| label_text(v));
    }
    let mut out: Vec<String> = values.into_iter().map(label_text).collect();
    out.dedup();
    out
}

/// Blue from light to dark, mixed in sRGB: one hue, so order reads without colour vision.
fn heat_colour(t: f64) -> (String, bool) {
    const LIGHT: (f64, f64, f64) = (239.0, 246.0, 255.0);
    const DARK: (f64, f64, f64) = (8.0, 48.0, 107.0);
    let t = t.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    (
        format!(
            "#{:02x}{:02x}{:02x}",
            mix(LIGHT.0, DARK.0),
            mix(LIGHT.1, DARK.1),
            mix(LIGHT.2, DARK.2)
        ),
        t > 0.55,
    )
}

fn heatmap(ctx: &ChartContext, r: &MetricResult) -> Markup {
    let keys = columns_with(r, &[ColumnRole::Dimension, ColumnRole::Period]);
    let Some(&vc) = figure_columns(r).first() else {
        return table(r);
    };
    let vcol = &r.columns[vc];
    let (row_key, col_key) = (keys.first().copied(), keys.get(1).copied());
    let row_values: Vec<String> = distinct(r, row_key).into_iter().take(MAX_ROWS).collect();
    let col_values = distinct(r, col_key);
    let mut grid: HashMap<(usize, usize), usize> = HashMap::new();
    for ri in 0..r.rows.len() {
        let rv = row_key
            .map(|k| label_text(cell(r, ri, k)))
            .unwrap_or_else(|| "All".to_owned());
        let cv = col_key
            .map(|k| label_text(cell(r, ri, k)))
            .unwrap_or_else(|| "All".to_owned());
        if let (Some(a), Some(b)) = (
            row_values.iter().position(|x| *x == rv),
            col_values.iter().position(|x| *x == cv),
        ) {
            grid.entry((a, b)).or_insert(ri);
        }
    }
    let nums: Vec<f64> = grid
        .values()
        .filter_map(|&ri| number(cell(r, ri, vc)))
        .collect();
    let lo = nums.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = nums.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let t_of = |v: f64| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
    let width = chart_width(ctx.w, ctx.columns);
    let label_w = row_values
        .iter()
        .map(|l| text_width(&truncate(l, 16)))
        .fold(24.0, f64::max)
        + 10.0;
    let top = 34.0;
    let cw = ((width - label_w) / col_values.len().max(1) as f64).max(6.0);
    let ch = 24.0;
    let legend_h = 40.0;
    let height = top + ch * row_values.len() as f64 + legend_h;
    let every = (28.0 / cw).ceil().max(1.0) as usize;
    let show_values = cw >= 46.0;
    let row_name = row_key
        .map(|k| r.columns[k].label.clone())
        .unwrap_or_default();
    let col_name = col_key
        .map(|k| r.columns[k].label.clone())
        .unwrap_or_default();
    let legend_steps = 5;
    html! {
        svg.chart.heatmap viewBox={"0 0 " (px(width)) " " (px(height))} role="img"
            aria-label={"Heatmap of " (vcol.label) " by " (row_name) " and " (col_name)} {
            text.axis-title x="0" y="12" { (row_name) " × " (col_name) }
            @for (ci, c) in col_values.iter().enumerate() {
                @if ci % every == 0 {
                    text.tick x=(px(label_w + cw * ci as f64 + cw / 2.0)) y=(px(top - 6.0)) text-anchor="middle" { (truncate(c, (cw * every as f64 / 7.0).max(3.0) as usize)) }
                }
            }
            @for (ri, rv) in row_values.iter().enumerate() {
                @let y0 = top + ch * ri as f64;
                text.bar-label x=(px(label_w - 6.0)) y=(px(y0 + ch / 2.0 + 4.0)) text-anchor="end" { (truncate(rv, 16)) title { (rv) } }
                @for (ci, cv) in col_values.iter().enumerate() {
                    @let x0 = label_w + cw * ci as f64;
                    @match grid.get(&(ri, ci)) {
                        Some(&row) => {
                            @let v = cell(r, row, vc);
                            @let (fill, dark) = number(v).map(|n| heat_colour(t_of(n))).unwrap_or_else(|| ("#f1f3f5".to_owned(), false));
                            rect.heat-cell x=(px(x0 + 1.0)) y=(px(y0 + 1.0)) width=(px(cw - 2.0)) height=(px(ch - 2.0)) rx="2" fill=(fill)
                                data-metric=(vcol.name) data-value=(raw(v)) data-row=(row) {
                                title { (row_name) " " (rv) " · " (col_name) " " (cv) ": " (vcol.label) " " (full(vcol, v)) }
                            }
                            @if show_values && number(v).is_some() {
                                text class={"cell-value" @if dark { " on-dark" }} x=(px(x0 + cw / 2.0)) y=(px(y0 + ch / 2.0 + 4.0)) text-anchor="middle" { (short(vcol, v)) }
                            }
                        }
                        None => {
                            rect.heat-cell.no-data x=(px(x0 + 1.0)) y=(px(y0 + 1.0)) width=(px(cw - 2.0)) height=(px(ch - 2.0)) rx="2" fill="#f8f9fa" {
                                title { (row_name) " " (rv) " · " (col_name) " " (cv) ": no data" }
                            }
                        }
                    }
                }
            }
            @if lo.is_finite() && hi.is_finite() {
                @let ly = height - legend_h + 14.0;
                text.tick x=(px(label_w)) y=(px(ly + 10.0)) text-anchor="end" dx="-6" { (with_unit(&vcol.label, vcol)) }
                @for i in 0..legend_steps {
                    @let t = i as f64 / (legend_steps - 1) as f64;
                    @let (fill, _) = heat_colour(t);
                    rect.legend-swatch x=(px(label_w + 56.0 * i as f64)) y=(px(ly)) width="54" height="12" fill=(fill) {}
                    text.tick x=(px(label_w + 56.0 * i as f64 + 27.0)) y=(px(ly + 24.0)) text-anchor="middle" {
                        (format::compact(lo + (hi - lo) * t, vcol.format, vcol.unit.as_deref(), vcol.decimals))
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_data() {
        let (ticks, step) = nice_ticks(0.0, 97.0, 5);
        assert_eq!(step, 20.0);
        assert_eq!(ticks, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        let (ticks, step) = nice_ticks(-3.0, 12.0, 5);
        assert_eq!(step, 5.0);
        assert_eq!(ticks.first().copied(), Some(-5.0));
        assert_eq!(ticks.last().copied(), Some(15.0));
        let (ticks, _) = nice_ticks(0.0, 0.0, 5);
        assert!(ticks.len() >= 2);
        let (ticks, step) = nice_ticks(0.0, 0.23, 4);
        assert_eq!(step, 0.1);
        assert_eq!(ticks.len(), 4);
    }

    #[test]
    fn cells_read_as_json_text_and_labels() {
        assert_eq!(raw(&serde_json::json!(3.0)), "3.0");
        assert_eq!(raw(&Value::Null), "null");
        assert_eq!(label_text(&serde_json::json!(3.0)), "3");
        assert_eq!(label_text(&serde_json::json!("Köln")), "Köln");
    }

    #[test]
    fn heat_runs_from_light_to_dark() {
        assert_eq!(heat_colour(0.0).0, "#eff6ff");
        assert_eq!(heat_colour(1.0).0, "#08306b");
        assert!(heat_colour(1.0).1 && !heat_colour(0.0).1);
    }
}
