//! Compiles a [`MetricRequest`] into one SQL query over the warehouse.
//!
//! Metrics that read a model are aggregated in one common table expression per model and time
//! column (`g0`, `g1`, …), each grouped by the period and the requested dimensions; metrics that
//! combine others (ratio, derived, funnel) are computed over those aggregates, so a ratio is
//! always the ratio of two sums and never the average of per-row ratios. With more than one
//! group, the groups are joined on the period and dimensions through the union of their keys,
//! NULL-safely, so a city without tickets still shows its orders. A comparison compiles the same
//! groups once more for the previous period, with the period shifted onto the current one.

use crate::error::{MetricsError, Result};
use crate::request::MetricRequest;
use chrono::NaiveDate;
use pulse_project::semantic::{allowed_dimensions, identifiers};
use pulse_project::{Grain, Measure, Metric, Project, ValueFormat};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The role of a result column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnRole {
    /// The first day of the period.
    Period,
    Dimension,
    Metric,
    /// A funnel's step: how many reached it.
    Step,
    /// A funnel's step: the share of the previous step that reached it.
    Conversion,
    /// The metric in the previous period.
    Previous,
    /// (current - previous) / |previous|.
    Change,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultColumn {
    pub name: String,
    pub label: String,
    pub role: ColumnRole,
    /// The metric the column shows (not for period and dimension columns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    pub format: ValueFormat,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u8>,
}

/// The SQL of a request and the columns it returns, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompiledQuery {
    pub sql: String,
    pub columns: Vec<ResultColumn>,
}

/// The metric definitions of a project, ready to compile requests.
#[derive(Debug, Clone)]
pub struct SemanticLayer {
    metrics: BTreeMap<String, Metric>,
    /// `(model, column)` pairs known to be of type DATE: compared as they are, so partition
    /// pruning applies; other time columns are cast to a date first.
    date_columns: BTreeSet<(String, String)>,
}

impl SemanticLayer {
    pub fn new(project: &Project) -> Self {
        Self::from_metrics(project.metrics.iter().cloned())
    }

    pub fn from_metrics(metrics: impl IntoIterator<Item = Metric>) -> Self {
        Self {
            metrics: metrics
                .into_iter()
                .map(|m| (m.name().to_owned(), m))
                .collect(),
            date_columns: BTreeSet::new(),
        }
    }

    pub fn mark_date_column(&mut self, model: &str, column: &str) {
        self.date_columns
            .insert((model.to_owned(), column.to_owned()));
    }

    pub fn metrics(&self) -> impl Iterator<Item = &Metric> {
        self.metrics.values()
    }

    pub fn metric(&self, name: &str) -> Result<&Metric> {
        self.metrics
            .get(name)
            .ok_or_else(|| MetricsError::UnknownMetric(name.to_owned()))
    }

    /// The dimensions a metric may be cut by.
    pub fn allowed_dimensions(&self, name: &str) -> BTreeSet<String> {
        let by_name: BTreeMap<&str, &Metric> =
            self.metrics.iter().map(|(k, v)| (k.as_str(), v)).collect();
        allowed_dimensions(&by_name, name)
    }

    /// The metrics that read a model, which `name` is computed from (itself, if it reads one).
    pub fn base_metrics(&self, name: &str) -> Vec<&Metric> {
        let mut out: Vec<&Metric> = Vec::new();
        self.collect_base(name, &mut out, 0);
        out
    }

    fn collect_base<'a>(&'a self, name: &str, out: &mut Vec<&'a Metric>, depth: usize) {
        let Some(m) = self.metrics.get(name) else {
            return;
        };
        if m.config.measure.reads_model() {
            if !out.iter().any(|o| o.name() == m.name()) {
                out.push(m);
            }
        } else if depth < 16 {
            for c in m.components() {
                self.collect_base(c, out, depth + 1);
            }
        }
    }

    /// The SQL expression of a dimension on a metric's model: a named dimension of the metric's
    /// file, or the column of that name.
    fn dimension_expr(&self, metric: &Metric, dimension: &str) -> String {
        match metric.named_dimensions.get(dimension) {
            Some(d) => format!("({})", d.expr),
            None => quote_ident(dimension),
        }
    }

    pub fn dimension_label(&self, dimension: &str) -> String {
        self.metrics
            .values()
            .find_map(|m| m.named_dimensions.get(dimension)?.label.clone())
            .unwrap_or_else(|| pulse_project::semantic::humanize(dimension))
    }

    fn check(&self, req: &MetricRequest) -> Result<()> {
        let bad = |m: String| Err(MetricsError::BadRequest(m));
        if req.metrics.is_empty() {
            return bad("ask for at least one metric".into());
        }
        let mut seen = BTreeSet::new();
        for d in &req.dimensions {
            if !seen.insert(d) {
                return bad(format!("dimension `{d}` is asked for twice"));
            }
            if d == "period" {
                return bad(
                    "`period` is the time column of a grain; ask for a grain instead".into(),
                );
            }
        }
        for name in &req.metrics {
            self.metric(name)?;
            let allowed = self.allowed_dimensions(name);
            for d in req.dimensions.iter().chain(req.filters.keys()) {
                if !allowed.contains(d) {
                    return bad(format!(
                        "metric `{name}` may not be cut or filtered by `{d}`; it allows: {}",
                        if allowed.is_empty() {
                            "no dimensions".to_string()
                        } else {
                            allowed.into_iter().collect::<Vec<_>>().join(", ")
                        }
                    ));
                }
            }
        }
        if let (Some(from), Some(to)) = (req.from, req.to)
            && from > to
        {
            return bad(format!("the range ends ({to}) before it starts ({from})"));
        }
        if req.compare && (req.from.is_none() || req.to.is_none()) {
            return bad("a comparison with the previous period needs both `from` and `to`".into());
        }
        Ok(())
    }

    pub fn compile(&self, req: &MetricRequest) -> Result<CompiledQuery> {
        self.check(req)?;
        let mut bases: Vec<&Metric> = Vec::new();
        for name in &req.metrics {
            for b in self.base_metrics(name) {
                if !bases.iter().any(|x| x.name() == b.name()) {
                    bases.push(b);
                }
            }
        }
        // One group per (model, time column), in the order first needed.
        let mut groups: Vec<Group> = Vec::new();
        for b in bases {
            let model = b.config.model.clone().unwrap_or_default();
            let time = b.config.time_column.clone().unwrap_or_default();
            match groups
                .iter_mut()
                .find(|g| g.model == model && g.time_column == time)
            {
                Some(g) => g.metrics.push(b),
                None => groups.push(Group {
                    model,
                    time_column: time,
                    metrics: vec![b],
                }),
            }
        }
        let keys: Vec<String> = req
            .grain
            .map(|_| "period".to_string())
            .into_iter()
            .chain(req.dimensions.iter().cloned())
            .collect();

        let mut ctes: Vec<(String, String)> = Vec::new();
        let current = Window {
            from: req.from,
            to: req.to,
            shift_days: 0,
        };
        let cur = self.combined(req, &groups, &keys, &current, "g", &mut ctes);
        let mut columns = self.key_columns(req);
        let mut select: Vec<String> = keys
            .iter()
            .map(|k| format!("cur.{}", quote_ident(k)))
            .collect();
        let mut order_value: Option<String> = None;
        for name in &req.metrics {
            let m = self.metric(name)?;
            for (col, _expr) in self.metric_outputs(m, &|_| String::new()) {
                select.push(format!("cur.{}", quote_ident(&col.name)));
                if order_value.is_none() {
                    order_value = Some(format!("cur.{}", quote_ident(&col.name)));
                }
                columns.push(col);
            }
        }
        ctes.push(("cur".into(), cur));
        let mut from_clause = "cur".to_string();
        if req.compare {
            let days = req.days().unwrap_or(0);
            let previous = Window {
                from: req.previous_range().map(|r| r.0),
                to: req.previous_range().map(|r| r.1),
                shift_days: days,
            };
            let prev = self.combined(req, &groups, &keys, &previous, "p", &mut ctes);
            ctes.push(("prev".into(), prev));
            from_clause = if keys.is_empty() {
                "cur cross join prev".into()
            } else {
                format!(
                    "cur left join prev on {}",
                    null_safe_on("cur", "prev", &keys)
                )
            };
            for name in &req.metrics {
                let m = self.metric(name)?;
                if m.config.measure == Measure::Funnel {
                    continue;
                }
                let q = quote_ident(name);
                let prev_name = format!("{name}__previous");
                let change_name = format!("{name}__change");
                select.push(format!("prev.{q} as {}", quote_ident(&prev_name)));
                select.push(format!(
                    "(cast(cur.{q} as double precision) - cast(prev.{q} as double precision)) / nullif(abs(cast(prev.{q} as double precision)), 0) as {}",
                    quote_ident(&change_name)
                ));
                columns.push(ResultColumn {
                    name: prev_name,
                    label: format!("{} (previous period)", m.label()),
                    role: ColumnRole::Previous,
                    metric: Some(name.clone()),
                    format: m.config.format,
                    unit: m.config.unit.clone(),
                    decimals: m.config.decimals,
                });
                columns.push(ResultColumn {
                    name: change_name,
                    label: format!("{} change", m.label()),
                    role: ColumnRole::Change,
                    metric: Some(name.clone()),
                    format: ValueFormat::Percent,
                    unit: None,
                    decimals: Some(1),
                });
            }
        }
        let mut sql = String::from("with\n");
        for (i, (name, body)) in ctes.iter().enumerate() {
            sql.push_str(&format!("{name} as (\n{}\n)", indent(body)));
            sql.push_str(if i + 1 < ctes.len() { ",\n" } else { "\n" });
        }
        sql.push_str(&format!(
            "select\n    {}\nfrom {from_clause}\n",
            select.join(",\n    ")
        ));
        let key_order: Vec<String> = keys
            .iter()
            .map(|k| format!("cur.{} nulls last", quote_ident(k)))
            .collect();
        match (req.limit, order_value) {
            (Some(limit), Some(value)) => {
                let mut order = vec![format!("{value} desc nulls last")];
                order.extend(key_order);
                sql.push_str(&format!("order by {}\nlimit {limit}", order.join(", ")));
            }
            _ if !key_order.is_empty() => {
                sql.push_str(&format!("order by {}", key_order.join(", ")));
            }
            _ => {}
        }
        Ok(CompiledQuery {
            sql: sql.trim_end().to_string(),
            columns,
        })
    }

    fn key_columns(&self, req: &MetricRequest) -> Vec<ResultColumn> {
        let mut out = Vec::new();
        if let Some(grain) = req.grain {
            out.push(ResultColumn {
                name: "period".into(),
                label: match grain {
                    Grain::Day => "Day",
                    Grain::Week => "Week",
                    Grain::Month => "Month",
                }
                .into(),
                role: ColumnRole::Period,
                metric: None,
                format: ValueFormat::Number,
                unit: None,
                decimals: None,
            });
        }
        for d in &req.dimensions {
            out.push(ResultColumn {
                name: d.clone(),
                label: self.dimension_label(d),
                role: ColumnRole::Dimension,
                metric: None,
                format: ValueFormat::Number,
                unit: None,
                decimals: None,
            });
        }
        out
    }

    /// The query of one window: the groups' CTEs (pushed into `ctes`, named `{prefix}{i}`) and
    /// the select that combines them into the keys and every requested metric's columns.
    fn combined(
        &self,
        req: &MetricRequest,
        groups: &[Group],
        keys: &[String],
        window: &Window,
        prefix: &str,
        ctes: &mut Vec<(String, String)>,
    ) -> String {
        let names: Vec<String> = (0..groups.len()).map(|i| format!("{prefix}{i}")).collect();
        for (g, name) in groups.iter().zip(&names) {
            ctes.push((name.clone(), self.group_sql(req, g, window)));
        }
        let group_of = |metric: &str| -> String {
            groups
                .iter()
                .zip(&names)
                .find(|(g, _)| g.metrics.iter().any(|m| m.name() == metric))
                .map(|(_, n)| n.clone())
                .unwrap_or_default()
        };
        let reference = |metric: &str| format!("{}.{}", group_of(metric), quote_ident(metric));
        let mut select: Vec<String> = Vec::new();
        let from = if names.len() == 1 {
            for k in keys {
                select.push(format!("{}.{}", names[0], quote_ident(k)));
            }
            names[0].clone()
        } else if keys.is_empty() {
            names.join(" cross join ")
        } else {
            let key_list = keys
                .iter()
                .map(|k| quote_ident(k))
                .collect::<Vec<_>>()
                .join(", ");
            let union = names
                .iter()
                .map(|n| format!("select {key_list} from {n}"))
                .collect::<Vec<_>>()
                .join(" union ");
            for k in keys {
                select.push(format!("k.{}", quote_ident(k)));
            }
            let mut from = format!("({union}) k");
            for n in &names {
                from.push_str(&format!(" left join {n} on {}", null_safe_on("k", n, keys)));
            }
            from
        };
        for name in &req.metrics {
            let Ok(m) = self.metric(name) else { continue };
            for (col, expr) in self.metric_outputs(m, &reference) {
                select.push(format!("{expr} as {}", quote_ident(&col.name)));
            }
        }
        format!("select\n    {}\nfrom {from}", select.join(",\n    "))
    }

    /// The columns a requested metric adds, each with its expression over the groups.
    fn metric_outputs(
        &self,
        m: &Metric,
        reference: &dyn Fn(&str) -> String,
    ) -> Vec<(ResultColumn, String)> {
        let column = |name: String, label: String, role: ColumnRole, of: &Metric| ResultColumn {
            name,
            label,
            role,
            metric: Some(m.name().to_owned()),
            format: if role == ColumnRole::Conversion {
                ValueFormat::Percent
            } else {
                of.config.format
            },
            unit: if role == ColumnRole::Conversion {
                None
            } else {
                of.config.unit.clone()
            },
            decimals: if role == ColumnRole::Conversion {
                Some(1)
            } else {
                of.config.decimals
            },
        };
        if m.config.measure != Measure::Funnel {
            return vec![(
                column(m.name().to_owned(), m.label(), ColumnRole::Metric, m),
                self.value_expr(m, reference, 0),
            )];
        }
        let mut out = Vec::new();
        let mut previous: Option<String> = None;
        for step in &m.config.steps {
            let Ok(s) = self.metric(step) else { continue };
            let value = self.value_expr(s, reference, 0);
            out.push((
                column(
                    format!("{}__{step}", m.name()),
                    s.label(),
                    ColumnRole::Step,
                    s,
                ),
                value.clone(),
            ));
            if let Some(prev) = previous {
                out.push((
                    column(
                        format!("{}__{step}__conversion", m.name()),
                        format!("{} conversion", s.label()),
                        ColumnRole::Conversion,
                        s,
                    ),
                    format!("cast({value} as double precision) / nullif(cast({prev} as double precision), 0)"),
                ));
            }
            previous = Some(value);
        }
        out
    }

    /// A metric's value over the aggregated groups.
    fn value_expr(&self, m: &Metric, reference: &dyn Fn(&str) -> String, depth: usize) -> String {
        let c = &m.config;
        if c.measure.reads_model() || depth > 16 {
            return reference(m.name());
        }
        let of = |name: &str| match self.metrics.get(name) {
            Some(x) => self.value_expr(x, reference, depth + 1),
            None => "null".into(),
        };
        match c.measure {
            Measure::Ratio => format!(
                "(cast({} as double precision) / nullif(cast({} as double precision), 0))",
                of(c.numerator.as_deref().unwrap_or_default()),
                of(c.denominator.as_deref().unwrap_or_default())
            ),
            Measure::Derived => {
                let expression = c.expression.as_deref().unwrap_or_default();
                let substitutions: BTreeMap<&str, String> = identifiers(expression)
                    .into_iter()
                    .filter(|name| self.metrics.contains_key(*name))
                    .map(|name| (name, format!("cast({} as double precision)", of(name))))
                    .collect();
                format!("({})", substitute(expression, &substitutions))
            }
            // A funnel has no single value; requests show its steps.
            _ => "null".into(),
        }
    }

    /// One group's CTE: its metrics aggregated by period and dimensions over the window.
    fn group_sql(&self, req: &MetricRequest, g: &Group, window: &Window) -> String {
        let first = g.metrics[0];
        let time = quote_ident(&g.time_column);
        let is_date = self
            .date_columns
            .contains(&(g.model.clone(), g.time_column.clone()));
        let day = if is_date {
            time.clone()
        } else {
            format!("cast({time} as date)")
        };
        let mut select = Vec::new();
        let mut group_by = Vec::new();
        if let Some(grain) = req.grain {
            let shifted = if window.shift_days == 0 {
                day.clone()
            } else {
                // A date plus an interval is a timestamp in PostgreSQL, a date in DataFusion.
                format!(
                    "cast({day} + interval '{} days' as date)",
                    window.shift_days
                )
            };
            let bucket = match grain {
                Grain::Day => shifted,
                _ => format!(
                    "cast(date_trunc('{}', cast({shifted} as timestamp)) as date)",
                    grain.as_str()
                ),
            };
            select.push(format!("{bucket} as \"period\""));
            group_by.push(bucket);
        }
        for d in &req.dimensions {
            let expr = self.dimension_expr(first, d);
            select.push(format!("{expr} as {}", quote_ident(d)));
            group_by.push(expr);
        }
        for m in &g.metrics {
            select.push(format!("{} as {}", aggregate(m), quote_ident(m.name())));
        }
        let mut wheres = Vec::new();
        match (window.from, window.to) {
            (Some(from), Some(to)) => wheres.push(format!(
                "{day} between {} and {}",
                date_literal(from),
                date_literal(to)
            )),
            (Some(from), None) => wheres.push(format!("{day} >= {}", date_literal(from))),
            (None, Some(to)) => wheres.push(format!("{day} <= {}", date_literal(to))),
            (None, None) => {}
        }
        for (dimension, values) in &req.filters {
            let expr = self.dimension_expr(first, dimension);
            if values.is_empty() {
                continue;
            }
            let list = values
                .iter()
                .map(|v| quote_literal(v))
                .collect::<Vec<_>>()
                .join(", ");
            wheres.push(format!("cast({expr} as varchar) in ({list})"));
        }
        let mut sql = format!(
            "select\n    {}\nfrom {}",
            select.join(",\n    "),
            quote_ident(&g.model)
        );
        if !wheres.is_empty() {
            sql.push_str(&format!("\nwhere {}", wheres.join("\n  and ")));
        }
        if !group_by.is_empty() {
            sql.push_str(&format!("\ngroup by {}", group_by.join(", ")));
        }
        sql
    }
}

struct Group<'a> {
    model: String,
    time_column: String,
    metrics: Vec<&'a Metric>,
}

struct Window {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    /// Days added to each row's date so the previous period lines up with the current one.
    shift_days: i64,
}

/// The aggregate of a metric that reads a model, its fixed filter applied inside the aggregate
/// so metrics with different filters share one scan.
fn aggregate(m: &Metric) -> String {
    let c = &m.config;
    let value = c.expr.as_deref().unwrap_or("1");
    let filtered = |v: &str| match &c.filter {
        Some(f) => format!("case when {f} then {v} end"),
        None => v.to_string(),
    };
    match c.measure {
        Measure::Count => match (&c.filter, &c.expr) {
            (None, None) => "count(*)".into(),
            _ => format!("count({})", filtered(value)),
        },
        Measure::CountDistinct => format!("count(distinct {})", filtered(value)),
        Measure::Sum => format!("sum({})", filtered(value)),
        Measure::Average => format!("avg({})", filtered(value)),
        Measure::Min => format!("min({})", filtered(value)),
        Measure::Max => format!("max({})", filtered(value)),
        // The ordered-set form is the one PostgreSQL and DataFusion both accept.
        Measure::Percentile => format!(
            "percentile_cont({}) within group (order by cast({} as double precision))",
            c.percentile.unwrap_or(0.5),
            filtered(value)
        ),
        Measure::Ratio | Measure::Funnel | Measure::Derived => "null".into(),
    }
}

fn null_safe_on(left: &str, right: &str, keys: &[String]) -> String {
    keys.iter()
        .map(|k| {
            let q = quote_ident(k);
            format!("{left}.{q} is not distinct from {right}.{q}")
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Replaces whole-word identifiers outside string literals.
fn substitute(expression: &str, with: &BTreeMap<&str, String>) -> String {
    let mut out = String::with_capacity(expression.len());
    let chars: Vec<char> = expression.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i = (i + 1).min(chars.len());
            out.extend(&chars[start..i]);
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            match with.get(word.as_str()) {
                Some(replacement) => out.push_str(replacement),
                None => out.push_str(&word),
            }
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.extend(&chars[start..i]);
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn date_literal(d: NaiveDate) -> String {
    format!("date '{}'", d.format("%Y-%m-%d"))
}

fn indent(body: &str) -> String {
    body.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_leaves_strings_and_longer_names_alone() {
        let with = BTreeMap::from([("orders", "X".to_string())]);
        assert_eq!(
            substitute("orders + orders_total + 'orders' + 2.5e3", &with),
            "X + orders_total + 'orders' + 2.5e3"
        );
    }

    #[test]
    fn literals_are_escaped() {
        assert_eq!(quote_literal("O'Hare"), "'O''Hare'");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
