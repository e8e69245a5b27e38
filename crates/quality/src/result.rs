//! Turning observed counts and statistics into Great Expectations' result fields.

use crate::compile::Plan;
use arrow::datatypes::{DataType, Schema, TimeUnit};
use pulse_project::expectations::{
    Aggregate, Check, ColumnMap, Expectation, MultiColumn, Severity,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub index: usize,
    pub kind: ItemKind,
}

#[derive(Debug, Clone)]
pub(crate) enum ItemKind {
    /// Known from the schema alone, or the expectation could not be compiled.
    Decided(Box<ExpectationResult>),
    /// Row-level: counts `e{i}`, `d{i}`, `u{i}` in the aggregate row.
    Map {
        domain: String,
        unexpected: String,
        /// The select-list expression shown in `partial_unexpected_list`.
        sample: String,
        counts_nulls: bool,
    },
    /// `v{i}` (and `d{i}`) in the aggregate row.
    Aggregate,
    /// `e{i}` in the aggregate row.
    RowCount,
    /// A separate query, plus `e{i}` in the aggregate row.
    Separate,
}

/// One expectation's outcome, with Great Expectations' field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectationResult {
    /// `expect_column_values_to_not_be_null`.
    pub expectation: String,
    /// The expectation and its columns, as reports show it.
    pub label: String,
    pub columns: Vec<String>,
    pub severity: Severity,
    pub success: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexpected_count: Option<u64>,
    /// Of the non-missing values (GE's `unexpected_percent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexpected_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexpected_percent_total: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partial_unexpected_list: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
    /// Rows moved to quarantine because of this expectation.
    #[serde(default)]
    pub quarantined: u64,
    /// Set when the expectation could not be evaluated (a missing column, a query error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
}

impl ExpectationResult {
    fn blank(e: &Expectation, success: bool) -> Self {
        ExpectationResult {
            expectation: e.name.clone(),
            label: e.label(),
            columns: e.columns(),
            severity: e.severity,
            success,
            observed_value: None,
            element_count: None,
            missing_count: None,
            missing_percent: None,
            unexpected_count: None,
            unexpected_percent: None,
            unexpected_percent_total: None,
            partial_unexpected_list: Vec::new(),
            details: None,
            quarantined: 0,
            exception: None,
        }
    }

    pub fn exception(e: &Expectation, message: impl Into<String>) -> Self {
        let mut r = Self::blank(e, false);
        r.exception = Some(message.into());
        r
    }

    /// A failed expectation of severity `error`: dependants must not run.
    pub fn is_blocking(&self) -> bool {
        !self.success && self.severity == Severity::Error
    }
}

/// What the executor read back.
#[derive(Debug, Clone, Default)]
pub struct Observations {
    /// The aggregate query's one row, by column name.
    pub aggregate: Map<String, Value>,
    /// Each separate query's one row, by expectation index.
    pub separate: BTreeMap<usize, Map<String, Value>>,
    /// Unexpected values, by expectation index.
    pub samples: BTreeMap<usize, Vec<Value>>,
    /// Errors of separate or sample queries, by expectation index.
    pub errors: BTreeMap<usize, String>,
}

/// What results depend on besides the data.
#[derive(Debug, Clone, Default)]
pub struct EvaluationContext {
    /// Seconds since the epoch, for `freshness`.
    pub now_unix: i64,
    /// Row counts of earlier validations of this dataset, oldest first, for `volume_change`.
    pub previous_row_counts: Vec<u64>,
}

/// A dataset's results in one place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationSummary {
    pub dataset: String,
    pub success: bool,
    pub row_count: u64,
    pub evaluated: usize,
    pub successful: usize,
    pub quarantined_rows: u64,
    pub results: Vec<ExpectationResult>,
    /// What was validated (the data read and the expectations): equal fingerprints give equal
    /// results, so an unchanged dataset need not be validated again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

impl ValidationSummary {
    pub fn new(
        dataset: &str,
        row_count: u64,
        results: Vec<ExpectationResult>,
        quarantined_rows: u64,
    ) -> Self {
        ValidationSummary {
            dataset: dataset.to_string(),
            success: results.iter().all(|r| r.success),
            row_count,
            evaluated: results.len(),
            successful: results.iter().filter(|r| r.success).count(),
            quarantined_rows,
            results,
            fingerprint: None,
        }
    }

    /// Failures of severity `error`.
    pub fn blocking(&self) -> Vec<&ExpectationResult> {
        self.results.iter().filter(|r| r.is_blocking()).collect()
    }
}

fn count(v: Option<&Value>) -> u64 {
    match v {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_i64().map(|i| i.max(0) as u64))
            .or_else(|| n.as_f64().map(|f| f.max(0.0) as u64))
            .unwrap_or(0),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

/// GE's `mostly`: the share of expected values among those looked at.
fn mostly_ok(unexpected: u64, looked_at: u64, mostly: f64) -> bool {
    if looked_at == 0 {
        return true;
    }
    let expected_share = (looked_at - unexpected.min(looked_at)) as f64 / looked_at as f64;
    // Shares like 0.95 are not exact in binary; forgive the last bits.
    expected_share + 1e-12 >= mostly
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// `observed` within `[min, max]` (either side open when missing), numbers numerically and
/// everything else as text (ISO dates and timestamps order correctly as text).
pub(crate) fn within(
    observed: &Value,
    min: &Option<Value>,
    max: &Option<Value>,
    strict_min: bool,
    strict_max: bool,
) -> bool {
    use std::cmp::Ordering;
    let compare = |bound: &Value| -> Option<Ordering> {
        match (observed, bound) {
            (Value::Number(_), _) | (_, Value::Number(_)) => {
                as_f64(observed)?.partial_cmp(&as_f64(bound)?)
            }
            (Value::String(a), Value::String(b)) => Some(a.as_str().cmp(b.as_str())),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            _ => None,
        }
    };
    if observed.is_null() {
        return false;
    }
    if let Some(min) = min {
        match compare(min) {
            Some(Ordering::Greater) => {}
            Some(Ordering::Equal) if !strict_min => {}
            _ => return false,
        }
    }
    if let Some(max) = max {
        match compare(max) {
            Some(Ordering::Less) => {}
            Some(Ordering::Equal) if !strict_max => {}
            _ => return false,
        }
    }
    true
}

/// The reason written on a quarantined row.
pub(crate) fn reason(e: &Expectation) -> String {
    let show = |v: &Option<Value>| {
        v.as_ref()
            .map(|v| v.to_string())
            .unwrap_or_else(|| "…".into())
    };
    match &e.check {
        Check::ColumnMap { column, map } => match map {
            ColumnMap::NotNull => format!("{column} is null"),
            ColumnMap::Null => format!("{column} is not null"),
            ColumnMap::Between { min, max, .. } => match (min, max) {
                (Some(_), None) => format!("{column} below {}", show(min)),
                (None, Some(_)) => format!("{column} above {}", show(max)),
                _ => format!("{column} outside [{}, {}]", show(min), show(max)),
            },
            ColumnMap::InSet(_) => format!("{column} not in the allowed set"),
            ColumnMap::NotInSet(_) => format!("{column} in the forbidden set"),
            ColumnMap::MatchRegex(re) => format!("{column} does not match /{re}/"),
            ColumnMap::NotMatchRegex(re) => format!("{column} matches /{re}/"),
            ColumnMap::LengthsBetween { min, max, .. } => {
                format!("length of {column} outside [{}, {}]", show(min), show(max))
            }
            ColumnMap::LengthsEqual(n) => format!("length of {column} is not {n}"),
            ColumnMap::Unique { keep_first: true } => format!("repeated {column}"),
            ColumnMap::Unique { keep_first: false } => format!("duplicate {column}"),
            ColumnMap::InRelation { to, field } => {
                format!("{column} not found in {to}.{field}")
            }
        },
        Check::MultiColumn { columns, kind, .. } => match kind {
            MultiColumn::PairGreater { or_equal } => format!(
                "{} not {} {}",
                columns.first().map(String::as_str).unwrap_or_default(),
                if *or_equal { ">=" } else { ">" },
                columns.get(1).map(String::as_str).unwrap_or_default()
            ),
            MultiColumn::CompoundUnique { keep_first: true } => {
                format!("repeated ({})", columns.join(", "))
            }
            MultiColumn::CompoundUnique { keep_first: false } => {
                format!("duplicate ({})", columns.join(", "))
            }
            MultiColumn::UniqueWithinRecord => {
                format!("equal values within ({})", columns.join(", "))
            }
            MultiColumn::SumEqual(total) => {
                format!("{} does not sum to {total}", columns.join(" + "))
            }
        },
        _ => e.label(),
    }
}

/// Arrow's types grouped the way GE users name them: pandas dtypes, SQL type names, or Arrow's.
fn type_matches(actual: &DataType, wanted: &str) -> bool {
    let w = wanted.trim().to_ascii_lowercase();
    if actual.to_string().to_ascii_lowercase() == w {
        return true;
    }
    let w = w.trim_end_matches("dtype");
    match w {
        "int" | "integer" | "int8" | "int16" | "int32" | "int64" | "bigint" | "smallint"
        | "tinyint" | "long" => matches!(
            actual,
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
        ),
        "uint8" | "uint16" | "uint32" | "uint64" | "unsigned" => matches!(
            actual,
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64
        ),
        "float" | "float16" | "float32" | "float64" | "double" | "real" | "double precision" => {
            actual.is_floating()
        }
        "decimal" | "numeric" => matches!(
            actual,
            DataType::Decimal32(..)
                | DataType::Decimal64(..)
                | DataType::Decimal128(..)
                | DataType::Decimal256(..)
        ),
        "str" | "string" | "text" | "varchar" | "char" | "object" | "object_" | "utf8" => {
            matches!(
                actual,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            )
        }
        "bool" | "boolean" => matches!(actual, DataType::Boolean),
        "date" | "date32" => matches!(actual, DataType::Date32 | DataType::Date64),
        "datetime" | "datetime64" | "datetime64[ns]" | "timestamp" => {
            matches!(actual, DataType::Timestamp(_, _))
        }
        "timestamptz" | "timestamp with time zone" | "datetimetz" => {
            matches!(actual, DataType::Timestamp(_, Some(_)))
        }
        "time" => matches!(actual, DataType::Time32(_) | DataType::Time64(_)),
        "binary" | "bytes" | "bytea" | "blob" => matches!(
            actual,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView
        ),
        _ => false,
    }
}

/// A short, stable name for an Arrow type in `observed_value`.
fn type_name(t: &DataType) -> String {
    match t {
        DataType::Timestamp(TimeUnit::Nanosecond, None) => "Timestamp(ns)".into(),
        other => other.to_string(),
    }
}

pub(crate) fn schema_result(e: &Expectation, schema: &Schema) -> ExpectationResult {
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let mut r = ExpectationResult::blank(e, false);
    match &e.check {
        Check::OfType { column, types } => match schema.field_with_name(column) {
            Ok(field) => {
                r.observed_value = Some(json!(type_name(field.data_type())));
                r.success =
                    types.is_empty() || types.iter().any(|t| type_matches(field.data_type(), t));
            }
            Err(_) => r.exception = Some(format!("column `{column}` does not exist")),
        },
        Check::ColumnToExist { column } => {
            r.success = names.iter().any(|n| n == column);
        }
        Check::ColumnCountBetween { min, max } => {
            let n = names.len() as u64;
            r.observed_value = Some(json!(n));
            r.success = min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m);
        }
        Check::ColumnCountEqual(want) => {
            r.observed_value = Some(json!(names.len()));
            r.success = names.len() as u64 == *want;
        }
        Check::ColumnsMatchSet { columns, exact } => {
            let missing: Vec<&String> = columns.iter().filter(|c| !names.contains(c)).collect();
            let unexpected: Vec<&String> = names.iter().filter(|c| !columns.contains(c)).collect();
            r.observed_value = Some(json!(names));
            r.success = missing.is_empty() && (!exact || unexpected.is_empty());
            if !r.success {
                r.details =
                    Some(json!({"mismatched": {"unexpected": unexpected, "missing": missing}}));
            }
        }
        Check::ColumnsMatchOrderedList(None) => {
            r.observed_value = Some(json!(names));
            r.success = true;
        }
        Check::ColumnsMatchOrderedList(Some(list)) => {
            r.observed_value = Some(json!(names));
            r.success = &names == list;
            if !r.success {
                let longest = names.len().max(list.len());
                let mismatched: Vec<Value> = (0..longest)
                    .filter(|i| names.get(*i) != list.get(*i))
                    .map(|i| json!({"Expected Column Position": i, "Expected": list.get(i), "Found": names.get(i)}))
                    .collect();
                r.details = Some(json!({"mismatched": mismatched}));
            }
        }
        _ => r.exception = Some("not a schema check".into()),
    }
    r
}

fn median(values: &mut [u64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) as f64 / 2.0
    } else {
        values[mid] as f64
    })
}

impl Plan {
    /// Every expectation's result, in declaration order.
    pub fn results(&self, obs: &Observations, ctx: &EvaluationContext) -> Vec<ExpectationResult> {
        self.items
            .iter()
            .map(|item| {
                let e = &self.expectations[item.index];
                let mut r = self.evaluate(item, e, obs, ctx);
                if let Some(err) = obs.errors.get(&item.index) {
                    r.success = false;
                    r.exception = Some(err.clone());
                }
                r
            })
            .collect()
    }

    fn evaluate(
        &self,
        item: &Item,
        e: &Expectation,
        obs: &Observations,
        ctx: &EvaluationContext,
    ) -> ExpectationResult {
        let i = item.index;
        let agg = |name: String| obs.aggregate.get(&name);
        let mut r = ExpectationResult::blank(e, false);
        match &item.kind {
            ItemKind::Decided(decided) => return (**decided).clone(),
            ItemKind::Map { counts_nulls, .. } => {
                let element = count(agg(format!("e{i}")));
                let looked_at = count(agg(format!("d{i}")));
                // Keep-first uniqueness counts its unexpected rows in a query of its own.
                let unexpected = count(
                    obs.separate
                        .get(&i)
                        .and_then(|row| row.get("u"))
                        .or_else(|| agg(format!("u{i}"))),
                );
                r.element_count = Some(element);
                if *counts_nulls {
                    // Null checks look at every row: their percentages are of all rows.
                    r.unexpected_percent = percent(unexpected, element).or(Some(0.0));
                    r.unexpected_percent_total = r.unexpected_percent;
                } else {
                    let missing = element - looked_at.min(element);
                    r.missing_count = Some(missing);
                    r.missing_percent = percent(missing, element);
                    r.unexpected_percent = percent(unexpected, looked_at);
                    r.unexpected_percent_total = percent(unexpected, element);
                }
                r.unexpected_count = Some(unexpected);
                r.partial_unexpected_list = obs.samples.get(&i).cloned().unwrap_or_default();
                r.success = mostly_ok(unexpected, looked_at, e.mostly);
            }
            ItemKind::Aggregate => {
                let value = agg(format!("v{i}")).cloned().unwrap_or(Value::Null);
                match &e.check {
                    Check::ColumnAggregate {
                        aggregate,
                        min,
                        max,
                        strict_min,
                        strict_max,
                        ..
                    } => {
                        let observed = if *aggregate == Aggregate::ProportionUnique {
                            let nonnull = count(agg(format!("d{i}")));
                            let distinct = count(Some(&value));
                            if nonnull == 0 {
                                Value::Null
                            } else {
                                json!(distinct as f64 / nonnull as f64)
                            }
                        } else {
                            value
                        };
                        r.element_count = Some(count(agg(format!("d{i}"))));
                        r.success = within(&observed, min, max, *strict_min, *strict_max);
                        r.observed_value = Some(observed);
                    }
                    Check::Freshness {
                        max_age_seconds, ..
                    } => {
                        let newest = agg(format!("m{i}")).cloned().unwrap_or(Value::Null);
                        match as_f64(&value) {
                            Some(ts) => {
                                let age = (ctx.now_unix as f64 - ts).max(0.0);
                                r.success = age <= *max_age_seconds as f64;
                                r.details = Some(
                                    json!({"age_seconds": age, "max_age_seconds": max_age_seconds}),
                                );
                            }
                            None => {
                                r.success = false;
                                r.details =
                                    Some(json!({"reason": "no values: nothing has arrived"}));
                            }
                        }
                        r.observed_value = Some(newest);
                    }
                    _ => {}
                }
            }
            ItemKind::RowCount => {
                let n = count(agg(format!("e{i}")));
                r.observed_value = Some(json!(n));
                r.element_count = Some(n);
                match &e.check {
                    Check::RowCountBetween { min, max } => {
                        r.success = min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m);
                    }
                    Check::RowCountEqual(want) => r.success = n == *want,
                    Check::VolumeChange {
                        lookback_runs,
                        max_change_percent,
                    } => {
                        let skip = ctx
                            .previous_row_counts
                            .len()
                            .saturating_sub(*lookback_runs as usize);
                        let mut trailing: Vec<u64> = ctx.previous_row_counts[skip..].to_vec();
                        match median(&mut trailing) {
                            // The first run has nothing to compare with: it sets the baseline.
                            None => {
                                r.success = true;
                                r.details = Some(json!({"baseline": null, "runs_compared": 0}));
                            }
                            Some(m) => {
                                let change = if m == 0.0 {
                                    if n == 0 { 0.0 } else { 100.0 }
                                } else {
                                    (n as f64 - m) / m * 100.0
                                };
                                r.success = change.abs() <= *max_change_percent;
                                r.details = Some(
                                    json!({"trailing_median": m, "change_percent": change, "runs_compared": trailing.len()}),
                                );
                            }
                        }
                    }
                    _ => {}
                }
            }
            ItemKind::Separate => {
                let element = count(agg(format!("e{i}")));
                let row = obs.separate.get(&i);
                let unexpected = count(row.and_then(|m| m.get("u")));
                r.element_count = Some(element);
                r.unexpected_count = Some(unexpected);
                r.partial_unexpected_list = obs.samples.get(&i).cloned().unwrap_or_default();
                match &e.check {
                    Check::Monotonic { .. } => {
                        let looked_at = count(row.and_then(|m| m.get("d")));
                        r.missing_count = Some(element - looked_at.min(element));
                        r.unexpected_percent = percent(unexpected, looked_at);
                        r.success = mostly_ok(unexpected, looked_at, e.mostly);
                    }
                    _ => {
                        r.observed_value = Some(json!(unexpected));
                        r.success = unexpected == 0;
                    }
                }
                if row.is_none() {
                    r.success = false;
                }
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mostly_is_a_share_of_the_values_looked_at() {
        assert!(mostly_ok(0, 0, 1.0));
        assert!(mostly_ok(5, 100, 0.95));
        assert!(!mostly_ok(6, 100, 0.95));
        assert!(!mostly_ok(1, 100, 1.0));
    }

    #[test]
    fn within_compares_numbers_and_text() {
        assert!(within(
            &json!(5),
            &Some(json!(1)),
            &Some(json!(10)),
            false,
            false
        ));
        assert!(!within(
            &json!(10),
            &Some(json!(1)),
            &Some(json!(10)),
            false,
            true
        ));
        assert!(within(&json!(2.5), &None, &Some(json!(3)), false, false));
        assert!(within(
            &json!("2026-01-05"),
            &Some(json!("2026-01-01")),
            &None,
            false,
            false
        ));
        assert!(!within(&Value::Null, &None, &None, false, false));
    }

    #[test]
    fn types_by_their_common_names() {
        assert!(type_matches(&DataType::Int64, "int"));
        assert!(type_matches(&DataType::Int64, "Int64"));
        assert!(type_matches(&DataType::Utf8, "str"));
        assert!(type_matches(&DataType::Utf8View, "VARCHAR"));
        assert!(!type_matches(&DataType::Utf8, "int"));
        assert!(type_matches(&DataType::Float64, "float64"));
        assert!(type_matches(
            &DataType::Timestamp(TimeUnit::Microsecond, None),
            "datetime64[ns]"
        ));
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3, 1, 2]), Some(2.0));
        assert_eq!(median(&mut [4, 1, 2, 3]), Some(2.5));
    }
}
