//! `metrics/*.toml` and `dashboards/*.toml`: the one definition of each key metric, and the
//! dashboards that show them. Loading checks everything that needs no data (names, references,
//! which dimensions a tile may use); the columns a metric reads are checked against the
//! warehouse by the semantic layer (`pulse-metrics`), which knows the models' schemas.

use crate::error::{ProjectError, line_of_offset};
use crate::load::{Model, parse_toml};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use toml::Spanned;

/// One `metrics/<file>.toml`: named dimension expressions its metrics may share, and metrics.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsFileConfig {
    /// Dimensions that are expressions over the model's columns, e.g.
    /// `weekday = { expr = "date_part('dow', placed_at)", label = "Weekday" }`.
    #[serde(default)]
    pub dimensions: BTreeMap<String, DimensionConfig>,
    #[serde(default)]
    pub metrics: Vec<Spanned<MetricConfig>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DimensionConfig {
    pub expr: String,
    #[serde(default)]
    pub label: Option<String>,
}

/// How a metric aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Rows (or non-null values of `expr`).
    Count,
    CountDistinct,
    Sum,
    Average,
    Min,
    Max,
    /// `percentile` (0–1) of `expr`, exact.
    Percentile,
    /// `numerator` / `denominator`, two other metrics, each aggregated on its own first.
    Ratio,
    /// Ordered `steps` (other metrics), with the conversion from each step to the next.
    Funnel,
    /// An `expression` over other metrics by name, e.g. `1000.0 * tickets / orders`.
    Derived,
}

impl Measure {
    /// Metrics of these kinds read a model themselves; the others combine metrics.
    pub fn reads_model(self) -> bool {
        !matches!(self, Measure::Ratio | Measure::Funnel | Measure::Derived)
    }
}

/// How a value is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueFormat {
    #[default]
    Number,
    Integer,
    /// Money in `unit` (an ISO currency code).
    Currency,
    /// A duration in `unit` (`seconds`, `minutes`, `hours`).
    Duration,
    /// A share between 0 and 1, shown as a percentage.
    Percent,
}

impl ValueFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueFormat::Number => "number",
            ValueFormat::Integer => "integer",
            ValueFormat::Currency => "currency",
            ValueFormat::Duration => "duration",
            ValueFormat::Percent => "percent",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricConfig {
    pub name: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The model it reads (metrics that read a model).
    #[serde(default)]
    pub model: Option<String>,
    /// The date or timestamp column that places a row in time.
    #[serde(default)]
    pub time_column: Option<String>,
    pub measure: Measure,
    /// What is aggregated: a column or an SQL expression over the model's columns.
    #[serde(default)]
    pub expr: Option<String>,
    #[serde(default)]
    pub percentile: Option<f64>,
    #[serde(default)]
    pub numerator: Option<String>,
    #[serde(default)]
    pub denominator: Option<String>,
    #[serde(default)]
    pub steps: Vec<String>,
    #[serde(default)]
    pub expression: Option<String>,
    /// The dimensions it may be cut by (columns of the model, or the file's named dimensions).
    /// Metrics that combine others may be cut by what all of them allow.
    #[serde(default)]
    pub dimensions: Vec<String>,
    /// A fixed SQL condition on the model's rows, e.g. `status = 'delivered'`.
    #[serde(default)]
    pub filter: Option<String>,
    #[serde(default)]
    pub format: ValueFormat,
    #[serde(default)]
    pub unit: Option<String>,
    /// Digits after the decimal point when shown; by format when absent.
    #[serde(default)]
    pub decimals: Option<u8>,
}

/// A loaded metric, with where it is written.
#[derive(Debug, Clone)]
pub struct Metric {
    pub file: PathBuf,
    pub line: usize,
    pub config: MetricConfig,
    /// The named dimensions of its file.
    pub named_dimensions: BTreeMap<String, DimensionConfig>,
}

impl Metric {
    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn label(&self) -> String {
        self.config
            .label
            .clone()
            .unwrap_or_else(|| humanize(&self.config.name))
    }

    pub fn error(&self, message: impl Into<String>) -> ProjectError {
        ProjectError::new(&self.file, Some(self.line), message)
    }

    /// The metrics it combines, in the order written.
    pub fn components(&self) -> Vec<&str> {
        let c = &self.config;
        match c.measure {
            Measure::Ratio => [c.numerator.as_deref(), c.denominator.as_deref()]
                .into_iter()
                .flatten()
                .collect(),
            Measure::Funnel => c.steps.iter().map(String::as_str).collect(),
            Measure::Derived => c.expression.as_deref().map(identifiers).unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

/// The time grains a request may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grain {
    Day,
    Week,
    Month,
}

impl Grain {
    pub fn as_str(self) -> &'static str {
        match self {
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
        }
    }

    pub fn parse(s: &str) -> Option<Grain> {
        match s {
            "day" => Some(Grain::Day),
            "week" => Some(Grain::Week),
            "month" => Some(Grain::Month),
            _ => None,
        }
    }
}

/// `dashboards/<name>.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    /// Dimensions a reader may filter every tile by (beside the date range, which is always
    /// there); a filter applies to the tiles whose metrics may be cut by it.
    #[serde(default)]
    pub filters: Vec<String>,
    /// Days shown when the reader picks none, ending at the newest data.
    #[serde(default = "default_days")]
    pub default_days: u32,
    /// Columns of the layout grid.
    #[serde(default = "default_columns")]
    pub columns: u32,
    #[serde(default)]
    pub tiles: Vec<Spanned<TileConfig>>,
}

fn default_days() -> u32 {
    28
}

fn default_columns() -> u32 {
    12
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TileKind {
    /// One figure per metric with its change against the previous period.
    Kpi,
    /// Metrics over time at a grain, optionally one line per value of one dimension.
    TimeSeries,
    /// One metric by one dimension.
    Bar,
    /// A funnel metric's steps with the conversion between them.
    Funnel,
    /// Metrics by any dimensions.
    Table,
    /// One metric by two dimensions, e.g. hour by weekday.
    Heatmap,
}

impl TileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TileKind::Kpi => "kpi",
            TileKind::TimeSeries => "time_series",
            TileKind::Bar => "bar",
            TileKind::Funnel => "funnel",
            TileKind::Table => "table",
            TileKind::Heatmap => "heatmap",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TileConfig {
    /// Unique in the dashboard; the file name of its CSV download. From the title when absent.
    #[serde(default)]
    pub id: Option<String>,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub kind: TileKind,
    pub metrics: Vec<String>,
    /// Dimensions the metrics are cut by.
    #[serde(default)]
    pub by: Vec<String>,
    #[serde(default)]
    pub grain: Option<Grain>,
    /// Rows shown (bars, table rows), largest first.
    #[serde(default)]
    pub limit: Option<usize>,
    /// Grid position and size, in columns and rows.
    #[serde(default)]
    pub x: u32,
    #[serde(default)]
    pub y: u32,
    #[serde(default = "default_width")]
    pub w: u32,
    #[serde(default = "default_height")]
    pub h: u32,
}

fn default_width() -> u32 {
    4
}

fn default_height() -> u32 {
    1
}

#[derive(Debug, Clone)]
pub struct Tile {
    pub id: String,
    pub line: usize,
    pub config: TileConfig,
}

#[derive(Debug, Clone)]
pub struct Dashboard {
    /// The file stem: its address in the web UI.
    pub name: String,
    pub file: PathBuf,
    pub config: DashboardConfig,
    pub tiles: Vec<Tile>,
}

/// Loads `metrics/*.toml`, reporting mistakes with file and line.
pub(crate) fn load_metrics(root: &Path, errors: &mut Vec<ProjectError>) -> Vec<Metric> {
    let mut metrics = Vec::new();
    for file in toml_files(&root.join("metrics")) {
        let Some((text, parsed)) = read_and_parse::<MetricsFileConfig>(&file, errors) else {
            continue;
        };
        for spanned in parsed.metrics {
            let line = line_of_offset(&text, spanned.span().start);
            metrics.push(Metric {
                file: file.clone(),
                line,
                config: spanned.into_inner(),
                named_dimensions: parsed.dimensions.clone(),
            });
        }
    }
    metrics
}

pub(crate) fn load_dashboards(root: &Path, errors: &mut Vec<ProjectError>) -> Vec<Dashboard> {
    let mut dashboards = Vec::new();
    for file in toml_files(&root.join("dashboards")) {
        let Some((text, config)) = read_and_parse::<DashboardConfig>(&file, errors) else {
            continue;
        };
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let tiles = config
            .tiles
            .iter()
            .map(|t| Tile {
                id: t
                    .get_ref()
                    .id
                    .clone()
                    .unwrap_or_else(|| slug(&t.get_ref().title)),
                line: line_of_offset(&text, t.span().start),
                config: t.get_ref().clone(),
            })
            .collect();
        dashboards.push(Dashboard {
            name,
            file,
            config,
            tiles,
        });
    }
    dashboards
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.retain(|p| p.extension().and_then(|e| e.to_str()) == Some("toml"));
    out.sort();
    out
}

fn read_and_parse<T: serde::de::DeserializeOwned>(
    file: &Path,
    errors: &mut Vec<ProjectError>,
) -> Option<(String, T)> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            errors.push(ProjectError::in_file(file, format!("cannot read: {e}")));
            return None;
        }
    };
    match parse_toml(file, &text) {
        Ok(parsed) => Some((text, parsed)),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

/// What a metric may be cut by, resolved through the metrics it combines.
pub fn allowed_dimensions(metrics: &BTreeMap<&str, &Metric>, name: &str) -> BTreeSet<String> {
    fn walk(
        metrics: &BTreeMap<&str, &Metric>,
        name: &str,
        depth: usize,
    ) -> Option<BTreeSet<String>> {
        let m = metrics.get(name)?;
        if m.config.measure.reads_model() {
            return Some(m.config.dimensions.iter().cloned().collect());
        }
        if depth > 16 {
            return None;
        }
        let mut out: Option<BTreeSet<String>> = None;
        for c in m.components() {
            let dims = walk(metrics, c, depth + 1)?;
            out = Some(match out {
                None => dims,
                Some(acc) => acc.intersection(&dims).cloned().collect(),
            });
        }
        let mut out = out.unwrap_or_default();
        if !m.config.dimensions.is_empty() {
            out.retain(|d| m.config.dimensions.contains(d));
        }
        Some(out)
    }
    walk(metrics, name, 0).unwrap_or_default()
}

/// Checks every metric and dashboard against each other and the models.
pub(crate) fn check(
    metrics: &[Metric],
    dashboards: &[Dashboard],
    models: &[Model],
    errors: &mut Vec<ProjectError>,
) {
    let mut by_name: BTreeMap<&str, &Metric> = BTreeMap::new();
    for m in metrics {
        if !crate::load::is_identifier(m.name()) {
            errors.push(m.error(format!(
                "metric name `{}` must be lower_snake_case",
                m.name()
            )));
        }
        if let Some(first) = by_name.insert(m.name(), m) {
            errors.push(m.error(format!(
                "metric `{}` is already defined in {}:{}",
                m.name(),
                first.file.display(),
                first.line
            )));
        }
    }
    for m in metrics {
        check_metric(m, &by_name, models, errors);
    }
    check_cycles(&by_name, errors);
    let mut seen_dashboards = BTreeSet::new();
    for d in dashboards {
        if !seen_dashboards.insert(&d.name) {
            errors.push(ProjectError::in_file(
                &d.file,
                format!("dashboard `{}` is defined twice", d.name),
            ));
        }
        check_dashboard(d, &by_name, errors);
    }
}

fn check_metric(
    m: &Metric,
    by_name: &BTreeMap<&str, &Metric>,
    models: &[Model],
    errors: &mut Vec<ProjectError>,
) {
    let c = &m.config;
    let measure = format!("{:?}", c.measure).to_lowercase();
    let mut need = |present: bool, what: &str| {
        if !present {
            errors.push(m.error(format!(
                "metric `{}`: measure `{measure}` needs `{what}`",
                c.name
            )));
        }
    };
    match c.measure {
        Measure::Count => {}
        Measure::CountDistinct | Measure::Sum | Measure::Average | Measure::Min | Measure::Max => {
            need(c.expr.is_some(), "expr")
        }
        Measure::Percentile => {
            need(c.expr.is_some(), "expr");
            need(c.percentile.is_some(), "percentile");
        }
        Measure::Ratio => {
            need(c.numerator.is_some(), "numerator");
            need(c.denominator.is_some(), "denominator");
        }
        Measure::Funnel => need(c.steps.len() >= 2, "steps (at least two metrics)"),
        Measure::Derived => need(c.expression.is_some(), "expression"),
    }
    if let Some(p) = c.percentile
        && !(0.0..=1.0).contains(&p)
    {
        errors.push(m.error(format!(
            "metric `{}`: percentile must be between 0 and 1 (0.9 is p90), got {p}",
            c.name
        )));
    }
    if c.measure.reads_model() {
        match c.model.as_deref() {
            None => errors.push(m.error(format!(
                "metric `{}`: needs `model`, the model it reads",
                c.name
            ))),
            Some(model) if !models.iter().any(|x| x.name == model) => {
                errors.push(m.error(format!(
                    "metric `{}`: no model named `{model}` (models/**/{model}.sql)",
                    c.name
                )))
            }
            Some(_) => {}
        }
        if c.time_column.is_none() {
            errors.push(m.error(format!(
                "metric `{}`: needs `time_column`, the date or timestamp that places a row in time",
                c.name
            )));
        }
        for (field, present) in [
            ("numerator", c.numerator.is_some()),
            ("denominator", c.denominator.is_some()),
            ("expression", c.expression.is_some()),
            ("steps", !c.steps.is_empty()),
        ] {
            if present {
                errors.push(m.error(format!(
                    "metric `{}`: `{field}` is for ratio, funnel and derived metrics, not `{measure}`",
                    c.name
                )));
            }
        }
    } else {
        for (field, present) in [
            ("model", c.model.is_some()),
            ("time_column", c.time_column.is_some()),
            ("expr", c.expr.is_some()),
            ("filter", c.filter.is_some()),
        ] {
            if present {
                errors.push(m.error(format!(
                    "metric `{}`: a {measure} metric combines other metrics and takes no `{field}`; \
                     set it on the metrics it combines",
                    c.name
                )));
            }
        }
        for component in m.components() {
            match by_name.get(component) {
                None => errors.push(m.error(format!(
                    "metric `{}`: refers to `{component}`, which is no metric",
                    c.name
                ))),
                Some(other) if other.config.measure == Measure::Funnel => {
                    errors.push(m.error(format!(
                        "metric `{}`: cannot combine the funnel `{component}`; use its steps",
                        c.name
                    )))
                }
                Some(_) => {}
            }
        }
        let allowed_below = allowed_dimensions_of_components(m, by_name);
        for d in &c.dimensions {
            if let Some(allowed) = &allowed_below
                && !allowed.contains(d)
            {
                errors.push(m.error(format!(
                    "metric `{}`: dimension `{d}` is not allowed by all the metrics it combines \
                     (they all allow: {})",
                    c.name,
                    join(allowed)
                )));
            }
        }
    }
    for d in &c.dimensions {
        if !crate::load::is_identifier(d) {
            errors.push(m.error(format!(
                "metric `{}`: dimension `{d}` must be a column or a named dimension (lower_snake_case)",
                c.name
            )));
        }
    }
}

fn allowed_dimensions_of_components(
    m: &Metric,
    by_name: &BTreeMap<&str, &Metric>,
) -> Option<BTreeSet<String>> {
    let mut out: Option<BTreeSet<String>> = None;
    for c in m.components() {
        by_name.get(c)?;
        let dims = allowed_dimensions(by_name, c);
        out = Some(match out {
            None => dims,
            Some(acc) => acc.intersection(&dims).cloned().collect(),
        });
    }
    out
}

fn check_cycles(by_name: &BTreeMap<&str, &Metric>, errors: &mut Vec<ProjectError>) {
    fn visit<'a>(
        name: &'a str,
        by_name: &BTreeMap<&'a str, &'a Metric>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if done.contains(name) {
            return None;
        }
        if let Some(at) = path.iter().position(|p| *p == name) {
            let mut cycle = path[at..].to_vec();
            cycle.push(name);
            return Some(cycle);
        }
        let m = by_name.get(name)?;
        path.push(name);
        for c in m.components() {
            if let Some(cycle) = visit(c, by_name, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(name);
        None
    }
    let mut done = BTreeSet::new();
    for (name, m) in by_name {
        if let Some(cycle) = visit(name, by_name, &mut Vec::new(), &mut done) {
            errors.push(m.error(format!(
                "metrics refer to each other in a circle: {}",
                cycle.join(" -> ")
            )));
            return;
        }
    }
}

fn check_dashboard(
    d: &Dashboard,
    by_name: &BTreeMap<&str, &Metric>,
    errors: &mut Vec<ProjectError>,
) {
    let mut ids = BTreeSet::new();
    for f in &d.config.filters {
        let allowed_anywhere = by_name
            .keys()
            .any(|m| allowed_dimensions(by_name, m).contains(f));
        if !allowed_anywhere {
            errors.push(ProjectError::new(
                &d.file,
                d.file_line_of(f),
                format!("dashboard filter `{f}` is a dimension of no metric"),
            ));
        }
    }
    for tile in &d.tiles {
        let c = &tile.config;
        let err = |message: String| {
            ProjectError::new(
                &d.file,
                Some(tile.line),
                format!("tile `{}`: {message}", tile.id),
            )
        };
        if tile.id.is_empty() || !ids.insert(tile.id.clone()) {
            errors.push(err("needs an `id` that is unique in the dashboard".into()));
        }
        if c.metrics.is_empty() {
            errors.push(err("needs at least one metric in `metrics`".into()));
        }
        for metric in &c.metrics {
            let Some(m) = by_name.get(metric.as_str()) else {
                errors.push(err(format!("no metric named `{metric}` (metrics/*.toml)")));
                continue;
            };
            let allowed = allowed_dimensions(by_name, metric);
            for dim in &c.by {
                if !allowed.contains(dim) {
                    errors.push(err(format!(
                        "metric `{metric}` may not be cut by `{dim}` (it allows: {})",
                        join(&allowed)
                    )));
                }
            }
            let is_funnel = m.config.measure == Measure::Funnel;
            if is_funnel && !matches!(c.kind, TileKind::Funnel | TileKind::Table) {
                errors.push(err(format!(
                    "the funnel metric `{metric}` is shown by a tile of type \"funnel\" or \"table\""
                )));
            }
            if !is_funnel && c.kind == TileKind::Funnel {
                errors.push(err(format!(
                    "a funnel tile shows a funnel metric; `{metric}` is not one"
                )));
            }
        }
        let shape = match c.kind {
            TileKind::Kpi => (c.by.is_empty(), "a kpi tile takes no `by`"),
            TileKind::TimeSeries => (
                c.grain.is_some() && c.by.len() <= 1,
                "a time_series tile needs a `grain` and at most one `by` dimension",
            ),
            TileKind::Bar => (
                c.by.len() == 1,
                "a bar tile needs exactly one `by` dimension",
            ),
            TileKind::Funnel => (
                c.metrics.len() == 1 && c.by.len() <= 1,
                "a funnel tile shows one funnel metric, optionally `by` one dimension",
            ),
            TileKind::Table => (true, ""),
            TileKind::Heatmap => (
                c.by.len() == 2 && c.metrics.len() == 1,
                "a heatmap tile shows one metric `by` two dimensions (rows, columns)",
            ),
        };
        if !shape.0 {
            errors.push(err(shape.1.into()));
        }
        if c.w == 0 || c.h == 0 || c.x + c.w > d.config.columns {
            errors.push(err(format!(
                "does not fit the grid of {} columns (x = {}, w = {})",
                d.config.columns, c.x, c.w
            )));
        }
    }
}

impl Dashboard {
    fn file_line_of(&self, needle: &str) -> Option<usize> {
        let text = std::fs::read_to_string(&self.file).ok()?;
        text.find(&format!("\"{needle}\""))
            .map(|p| line_of_offset(&text, p))
    }
}

fn join(set: &BTreeSet<String>) -> String {
    if set.is_empty() {
        "none".into()
    } else {
        set.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// `end_to_end_p90` -> `End to end p90`.
pub fn humanize(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `Orders per day` -> `orders-per-day`.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

const SQL_WORDS: &[&str] = &[
    "and", "as", "case", "cast", "double", "else", "end", "false", "null", "not", "or", "then",
    "true", "when", "bigint", "float", "decimal", "is",
];

/// The identifiers in a derived metric's expression: the metrics it names. Quoted strings,
/// numbers, SQL words and function names are skipped.
pub fn identifiers(expression: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = expression.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\'' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'\'' {
                i += 1;
            }
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = &expression[start..i];
            let rest = expression[i..].trim_start();
            let is_function = rest.starts_with('(');
            let is_keyword = SQL_WORDS.contains(&word.to_ascii_lowercase().as_str());
            if !is_function && !is_keyword && !out.contains(&word) {
                out.push(word);
            }
        } else if c.is_ascii_digit() {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_skip_numbers_and_strings() {
        assert_eq!(
            identifiers("1000.0 * tickets / nullif(orders, 0) + 'x_y'"),
            vec!["tickets", "orders"]
        );
    }

    #[test]
    fn slugs_and_labels() {
        assert_eq!(slug("Orders per day (EUR)"), "orders-per-day-eur");
        assert_eq!(humanize("end_to_end_p90"), "End to end p90");
    }
}
