//! Expectations as users declare them: Great Expectations' names and parameters in a model's or
//! source table's `.toml` (`[[expectations]]`), or in a named suite under `suites/`. Parsing turns
//! the loose parameter bag into a typed [`Check`], so a missing or misspelled parameter is an
//! error at load time (with file and line) rather than a failure in the middle of a run.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One `[[expectations]]` entry as written. Parameter names are Great Expectations' own
/// (`column_A`, `type_`, `value_set`, ...); `where` is GE's `row_condition` in SQL.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ExpectationConfig {
    pub expectation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_list: Option<Vec<String>>,
    #[serde(default, rename = "column_A", skip_serializing_if = "Option::is_none")]
    pub column_a: Option<String>,
    #[serde(default, rename = "column_B", skip_serializing_if = "Option::is_none")]
    pub column_b: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub or_equal: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict_min: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict_max: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_set: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    #[serde(default, rename = "type_", skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_list: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_set: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact_match: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_row_if: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sum_total: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strictly: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mostly: Option<f64>,
    /// Pulse: for uniqueness, `"first"` treats the first row of each duplicate group as expected
    /// and only the repeats as unexpected (deduplication); GE's default marks every copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<String>,
    /// `relationships`: the model, or `source.table`, whose `field` must contain each value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `freshness`: how old the newest value may be, like `36h`, `2d`, `90m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<String>,
    /// `volume_change`: how many earlier runs the median is taken over (default 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookback_runs: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_change_percent: Option<f64>,
    /// `unexpected_rows_expectation`: a query returning the unexpected rows; `{batch}` names the
    /// dataset under test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexpected_rows_query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub severity: Severity,
    /// A SQL condition: only rows matching it are checked.
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub where_: Option<String>,
    /// Row-level expectations move unexpected rows to quarantine unless this is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<bool>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A failure stops everything downstream of the dataset.
    #[default]
    Error,
    /// A failure is reported; dependants still run.
    Warn,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warn => "warn",
        }
    }
}

/// A named, reusable list of expectations: `suites/<name>.toml`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SuiteConfig {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub expectations: Vec<ExpectationConfig>,
}

/// A bound of a range: GE's `min_value`/`max_value`, numbers or strings (dates, timestamps).
pub type Bound = Option<Value>;

/// What a column-map expectation asks of each (non-null) value.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnMap {
    NotNull,
    Null,
    Between {
        min: Bound,
        max: Bound,
        strict_min: bool,
        strict_max: bool,
    },
    InSet(Vec<Value>),
    NotInSet(Vec<Value>),
    MatchRegex(String),
    NotMatchRegex(String),
    LengthsBetween {
        min: Bound,
        max: Bound,
        strict_min: bool,
        strict_max: bool,
    },
    LengthsEqual(u64),
    Unique {
        keep_first: bool,
    },
    /// Exists in another dataset's column (dbt's `relationships`).
    InRelation {
        to: String,
        field: String,
    },
}

impl ColumnMap {
    /// Whether nulls are counted as unexpected values (only the null expectations look at them).
    pub fn is_about_nulls(&self) -> bool {
        matches!(self, ColumnMap::NotNull | ColumnMap::Null)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Min,
    Max,
    Mean,
    Median,
    Sum,
    Stdev,
    ProportionUnique,
    UniqueValueCount,
}

impl Aggregate {
    pub fn sql_function(self) -> &'static str {
        match self {
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::Mean => "avg",
            Aggregate::Median => "median",
            Aggregate::Sum => "sum",
            Aggregate::Stdev => "stddev_samp",
            Aggregate::ProportionUnique | Aggregate::UniqueValueCount => "count",
        }
    }
}

/// GE's `ignore_row_if` for multicolumn expectations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoreRowIf {
    BothValuesAreMissing,
    EitherValueIsMissing,
    AllValuesAreMissing,
    AnyValueIsMissing,
    Never,
}

impl IgnoreRowIf {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "both_values_are_missing" => IgnoreRowIf::BothValuesAreMissing,
            "either_value_is_missing" => IgnoreRowIf::EitherValueIsMissing,
            "all_values_are_missing" => IgnoreRowIf::AllValuesAreMissing,
            "any_value_is_missing" => IgnoreRowIf::AnyValueIsMissing,
            "never" => IgnoreRowIf::Never,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum MultiColumn {
    /// Column A greater than column B (or equal with `or_equal`).
    PairGreater {
        or_equal: bool,
    },
    CompoundUnique {
        keep_first: bool,
    },
    UniqueWithinRecord,
    SumEqual(Value),
}

/// A parsed expectation: what to check, independent of where the data lives.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    ColumnMap {
        column: String,
        map: ColumnMap,
    },
    /// Order-dependent: each non-null value against the previous one.
    Monotonic {
        column: String,
        increasing: bool,
        strictly: bool,
    },
    OfType {
        column: String,
        types: Vec<String>,
    },
    ColumnToExist {
        column: String,
    },
    ColumnAggregate {
        column: String,
        aggregate: Aggregate,
        min: Bound,
        max: Bound,
        strict_min: bool,
        strict_max: bool,
    },
    MultiColumn {
        columns: Vec<String>,
        kind: MultiColumn,
        ignore_row_if: IgnoreRowIf,
    },
    RowCountBetween {
        min: Option<u64>,
        max: Option<u64>,
    },
    RowCountEqual(u64),
    ColumnCountBetween {
        min: Option<u64>,
        max: Option<u64>,
    },
    ColumnCountEqual(u64),
    ColumnsMatchSet {
        columns: Vec<String>,
        exact: bool,
    },
    ColumnsMatchOrderedList(Option<Vec<String>>),
    Freshness {
        column: String,
        max_age_seconds: u64,
    },
    VolumeChange {
        lookback_runs: u32,
        max_change_percent: f64,
    },
    UnexpectedRows {
        query: String,
    },
}

/// An expectation ready to run: the check plus how to treat its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// The name as written (`expect_column_values_to_not_be_null`).
    pub name: String,
    pub check: Check,
    pub mostly: f64,
    pub severity: Severity,
    pub where_: Option<String>,
    pub quarantine: bool,
    pub description: Option<String>,
    pub config: ExpectationConfig,
}

impl Expectation {
    /// Whether the result can change while the data does not: freshness is measured against
    /// the clock, a volume change against the trailing runs. Such a result is never reused.
    pub fn depends_on_more_than_the_data(&self) -> bool {
        matches!(
            self.check,
            Check::Freshness { .. } | Check::VolumeChange { .. }
        )
    }

    /// The columns it is about, for reports (`order_id`, `picked_up_at, delivered_at`).
    pub fn columns(&self) -> Vec<String> {
        match &self.check {
            Check::ColumnMap { column, .. }
            | Check::Monotonic { column, .. }
            | Check::OfType { column, .. }
            | Check::ColumnToExist { column }
            | Check::ColumnAggregate { column, .. }
            | Check::Freshness { column, .. } => vec![column.clone()],
            Check::MultiColumn { columns, .. } => columns.clone(),
            _ => Vec::new(),
        }
    }

    /// Row-level checks can say which rows are unexpected, so those rows can be quarantined.
    pub fn is_row_level(&self) -> bool {
        matches!(
            self.check,
            Check::ColumnMap { .. }
                | Check::MultiColumn {
                    kind: MultiColumn::PairGreater { .. }
                        | MultiColumn::CompoundUnique { .. }
                        | MultiColumn::UniqueWithinRecord
                        | MultiColumn::SumEqual(_),
                    ..
                }
        )
    }

    /// A short label: the expectation's name and the columns it checks.
    pub fn label(&self) -> String {
        let cols = self.columns();
        if cols.is_empty() {
            self.name.clone()
        } else {
            format!("{}({})", self.name, cols.join(", "))
        }
    }
}

/// Parameters a check does not read are refused, so a misplaced one is not silently ignored.
fn check_unused(c: &ExpectationConfig, used: &[&str]) -> Result<(), String> {
    let present: [(&str, bool); 26] = [
        ("column", c.column.is_some()),
        ("column_list", c.column_list.is_some()),
        ("column_A", c.column_a.is_some()),
        ("column_B", c.column_b.is_some()),
        ("or_equal", c.or_equal.is_some()),
        ("min_value", c.min_value.is_some()),
        ("max_value", c.max_value.is_some()),
        ("strict_min", c.strict_min.is_some()),
        ("strict_max", c.strict_max.is_some()),
        ("value_set", c.value_set.is_some()),
        ("regex", c.regex.is_some()),
        ("type_", c.type_name.is_some()),
        ("type_list", c.type_list.is_some()),
        ("value", c.value.is_some()),
        ("column_set", c.column_set.is_some()),
        ("exact_match", c.exact_match.is_some()),
        ("ignore_row_if", c.ignore_row_if.is_some()),
        ("sum_total", c.sum_total.is_some()),
        ("strictly", c.strictly.is_some()),
        ("mostly", c.mostly.is_some()),
        ("keep", c.keep.is_some()),
        ("to", c.to.is_some()),
        ("field", c.field.is_some()),
        ("max_age", c.max_age.is_some()),
        ("lookback_runs", c.lookback_runs.is_some()),
        ("max_change_percent", c.max_change_percent.is_some()),
    ];
    let unused: Vec<&str> = present
        .iter()
        .filter(|(name, set)| *set && !used.contains(name))
        .map(|(name, _)| *name)
        .collect();
    if c.unexpected_rows_query.is_some() && !used.contains(&"unexpected_rows_query") {
        return Err(format!(
            "`{}` does not take `unexpected_rows_query`",
            c.expectation
        ));
    }
    if unused.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "`{}` does not take {}",
            c.expectation,
            unused
                .iter()
                .map(|u| format!("`{u}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

fn need<T: Clone>(value: &Option<T>, name: &str, expectation: &str) -> Result<T, String> {
    value
        .clone()
        .ok_or_else(|| format!("`{expectation}` needs `{name}`"))
}

fn as_count(v: &Option<Value>, name: &str) -> Result<Option<u64>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .map(Some)
            .ok_or_else(|| format!("`{name}` must be a non-negative whole number")),
        Some(other) => Err(format!(
            "`{name}` must be a non-negative whole number, not {other}"
        )),
    }
}

fn null_to_none(v: &Option<Value>) -> Bound {
    match v {
        Some(Value::Null) | None => None,
        Some(v) => Some(v.clone()),
    }
}

fn keep_first(c: &ExpectationConfig) -> Result<bool, String> {
    match c.keep.as_deref() {
        None | Some("none") => Ok(false),
        Some("first") => Ok(true),
        Some(other) => Err(format!(
            "`keep` must be \"first\" or \"none\", not \"{other}\""
        )),
    }
}

/// Parses a duration like `90s`, `45m`, `36h`, `2d`.
pub fn parse_age(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{s}` needs a unit: s, m, h or d (like `36h`)"))?;
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like `36h`"))?;
    let factor = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => {
            return Err(format!("unknown unit `{other}` in `{s}`: use s, m, h or d"));
        }
    };
    Ok(n * factor)
}

/// Bounds the way GE refuses them: a minimum above the maximum, or a length that is not a
/// whole number.
fn check_range(c: &ExpectationConfig, check: &Check) -> Result<(), String> {
    let number = |v: &Option<Value>| v.as_ref().and_then(Value::as_f64);
    // GE refuses an empty range for values and counts; for lengths it is simply unmet.
    let is_lengths = matches!(
        check,
        Check::ColumnMap {
            map: ColumnMap::LengthsBetween { .. },
            ..
        }
    );
    if let (Some(min), Some(max)) = (number(&c.min_value), number(&c.max_value))
        && min > max
        && !is_lengths
    {
        return Err(format!(
            "`min_value` ({min}) is greater than `max_value` ({max})"
        ));
    }
    if let Check::ColumnMap {
        map: ColumnMap::LengthsBetween { min, max, .. },
        ..
    } = check
    {
        for (name, bound) in [("min_value", min), ("max_value", max)] {
            if let Some(v) = bound
                && !(v.is_u64() || v.as_f64().is_some_and(|f| f >= 0.0 && f.fract() == 0.0))
            {
                return Err(format!(
                    "`{name}` of a length must be a whole number, not {v}"
                ));
            }
        }
    }
    Ok(())
}

/// Every expectation name Pulse runs.
pub const SUPPORTED: &[&str] = &[
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_null",
    "expect_column_values_to_be_unique",
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_in_set",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_not_match_regex",
    "expect_column_values_to_be_of_type",
    "expect_column_values_to_be_in_type_list",
    "expect_column_value_lengths_to_be_between",
    "expect_column_value_lengths_to_equal",
    "expect_column_values_to_be_increasing",
    "expect_column_values_to_be_decreasing",
    "expect_column_to_exist",
    "expect_table_row_count_to_be_between",
    "expect_table_row_count_to_equal",
    "expect_table_column_count_to_be_between",
    "expect_table_column_count_to_equal",
    "expect_table_columns_to_match_set",
    "expect_table_columns_to_match_ordered_list",
    "expect_column_min_to_be_between",
    "expect_column_max_to_be_between",
    "expect_column_mean_to_be_between",
    "expect_column_median_to_be_between",
    "expect_column_sum_to_be_between",
    "expect_column_stdev_to_be_between",
    "expect_column_proportion_of_unique_values_to_be_between",
    "expect_column_unique_value_count_to_be_between",
    "expect_column_pair_values_A_to_be_greater_than_B",
    "expect_compound_columns_to_be_unique",
    "expect_select_column_values_to_be_unique_within_record",
    "expect_multicolumn_sum_to_equal",
    "relationships",
    "freshness",
    "volume_change",
    "unexpected_rows_expectation",
];

impl ExpectationConfig {
    /// Checks the parameters against the expectation's signature.
    pub fn parse(&self) -> Result<Expectation, String> {
        let name = self.expectation.as_str();
        let col = || need(&self.column, "column", name);
        let range = |c: &ExpectationConfig| -> (Bound, Bound, bool, bool) {
            (
                null_to_none(&c.min_value),
                null_to_none(&c.max_value),
                c.strict_min.unwrap_or(false),
                c.strict_max.unwrap_or(false),
            )
        };
        let map = |column: String, map: ColumnMap| Check::ColumnMap { column, map };
        const MAP: &[&str] = &["column", "mostly"];
        const RANGE: &[&str] = &[
            "column",
            "mostly",
            "min_value",
            "max_value",
            "strict_min",
            "strict_max",
        ];
        let (check, used): (Check, &[&str]) = match name {
            "expect_column_values_to_not_be_null" => (map(col()?, ColumnMap::NotNull), MAP),
            "expect_column_values_to_be_null" => (map(col()?, ColumnMap::Null), MAP),
            "expect_column_values_to_be_unique" => (
                map(
                    col()?,
                    ColumnMap::Unique {
                        keep_first: keep_first(self)?,
                    },
                ),
                &["column", "mostly", "keep"],
            ),
            "expect_column_values_to_be_between" => {
                let (min, max, strict_min, strict_max) = range(self);
                if min.is_none() && max.is_none() {
                    return Err(format!("`{name}` needs `min_value` or `max_value`"));
                }
                (
                    map(
                        col()?,
                        ColumnMap::Between {
                            min,
                            max,
                            strict_min,
                            strict_max,
                        },
                    ),
                    RANGE,
                )
            }
            "expect_column_value_lengths_to_be_between" => {
                let (min, max, strict_min, strict_max) = range(self);
                if min.is_none() && max.is_none() {
                    return Err(format!("`{name}` needs `min_value` or `max_value`"));
                }
                (
                    map(
                        col()?,
                        ColumnMap::LengthsBetween {
                            min,
                            max,
                            strict_min,
                            strict_max,
                        },
                    ),
                    RANGE,
                )
            }
            "expect_column_value_lengths_to_equal" => {
                let n = as_count(&self.value, "value")?
                    .ok_or_else(|| format!("`{name}` needs `value`"))?;
                (
                    map(col()?, ColumnMap::LengthsEqual(n)),
                    &["column", "mostly", "value"],
                )
            }
            "expect_column_values_to_be_in_set" => (
                map(
                    col()?,
                    ColumnMap::InSet(need(&self.value_set, "value_set", name)?),
                ),
                &["column", "mostly", "value_set"],
            ),
            "expect_column_values_to_not_be_in_set" => (
                map(
                    col()?,
                    ColumnMap::NotInSet(need(&self.value_set, "value_set", name)?),
                ),
                &["column", "mostly", "value_set"],
            ),
            "expect_column_values_to_match_regex" => (
                map(
                    col()?,
                    ColumnMap::MatchRegex(need(&self.regex, "regex", name)?),
                ),
                &["column", "mostly", "regex"],
            ),
            "expect_column_values_to_not_match_regex" => (
                map(
                    col()?,
                    ColumnMap::NotMatchRegex(need(&self.regex, "regex", name)?),
                ),
                &["column", "mostly", "regex"],
            ),
            "relationships" => (
                map(
                    col()?,
                    ColumnMap::InRelation {
                        to: need(&self.to, "to", name)?,
                        field: need(&self.field, "field", name)?,
                    },
                ),
                &["column", "mostly", "to", "field"],
            ),
            "expect_column_values_to_be_of_type" => (
                Check::OfType {
                    column: col()?,
                    types: vec![need(&self.type_name, "type_", name)?],
                },
                &["column", "type_", "mostly"],
            ),
            // GE: without a list every type is allowed.
            "expect_column_values_to_be_in_type_list" => (
                Check::OfType {
                    column: col()?,
                    types: self.type_list.clone().unwrap_or_default(),
                },
                &["column", "type_list", "mostly"],
            ),
            "expect_column_values_to_be_increasing" | "expect_column_values_to_be_decreasing" => (
                Check::Monotonic {
                    column: col()?,
                    increasing: name.ends_with("increasing"),
                    strictly: self.strictly.unwrap_or(false),
                },
                &["column", "mostly", "strictly"],
            ),
            "expect_column_to_exist" => (Check::ColumnToExist { column: col()? }, &["column"]),
            "expect_table_row_count_to_be_between" | "expect_table_column_count_to_be_between" => {
                let min = as_count(&self.min_value, "min_value")?;
                let max = as_count(&self.max_value, "max_value")?;
                let check = if name.contains("row_count") {
                    Check::RowCountBetween { min, max }
                } else {
                    Check::ColumnCountBetween { min, max }
                };
                (check, &["min_value", "max_value"])
            }
            "expect_table_row_count_to_equal" | "expect_table_column_count_to_equal" => {
                let n = as_count(&self.value, "value")?
                    .ok_or_else(|| format!("`{name}` needs `value`"))?;
                let check = if name.contains("row_count") {
                    Check::RowCountEqual(n)
                } else {
                    Check::ColumnCountEqual(n)
                };
                (check, &["value"])
            }
            // GE: a missing set is empty (vacuously true unless exact_match).
            "expect_table_columns_to_match_set" => (
                Check::ColumnsMatchSet {
                    columns: self.column_set.clone().unwrap_or_default(),
                    exact: self.exact_match.unwrap_or(true),
                },
                &["column_set", "exact_match"],
            ),
            // GE: a missing list is vacuously true.
            "expect_table_columns_to_match_ordered_list" => (
                Check::ColumnsMatchOrderedList(self.column_list.clone()),
                &["column_list"],
            ),
            "expect_column_min_to_be_between"
            | "expect_column_max_to_be_between"
            | "expect_column_mean_to_be_between"
            | "expect_column_median_to_be_between"
            | "expect_column_sum_to_be_between"
            | "expect_column_stdev_to_be_between"
            | "expect_column_proportion_of_unique_values_to_be_between"
            | "expect_column_unique_value_count_to_be_between" => {
                let aggregate = match name {
                    "expect_column_min_to_be_between" => Aggregate::Min,
                    "expect_column_max_to_be_between" => Aggregate::Max,
                    "expect_column_mean_to_be_between" => Aggregate::Mean,
                    "expect_column_median_to_be_between" => Aggregate::Median,
                    "expect_column_sum_to_be_between" => Aggregate::Sum,
                    "expect_column_stdev_to_be_between" => Aggregate::Stdev,
                    "expect_column_unique_value_count_to_be_between" => Aggregate::UniqueValueCount,
                    _ => Aggregate::ProportionUnique,
                };
                let (min, max, strict_min, strict_max) = range(self);
                (
                    Check::ColumnAggregate {
                        column: col()?,
                        aggregate,
                        min,
                        max,
                        strict_min,
                        strict_max,
                    },
                    &[
                        "column",
                        "min_value",
                        "max_value",
                        "strict_min",
                        "strict_max",
                    ],
                )
            }
            "expect_column_pair_values_A_to_be_greater_than_B" => (
                Check::MultiColumn {
                    columns: vec![
                        need(&self.column_a, "column_A", name)?,
                        need(&self.column_b, "column_B", name)?,
                    ],
                    kind: MultiColumn::PairGreater {
                        or_equal: self.or_equal.unwrap_or(false),
                    },
                    ignore_row_if: self.ignore(IgnoreRowIf::BothValuesAreMissing)?,
                },
                &[
                    "column_A",
                    "column_B",
                    "or_equal",
                    "mostly",
                    "ignore_row_if",
                ],
            ),
            "expect_compound_columns_to_be_unique" => (
                Check::MultiColumn {
                    columns: need(&self.column_list, "column_list", name)?,
                    kind: MultiColumn::CompoundUnique {
                        keep_first: keep_first(self)?,
                    },
                    ignore_row_if: self.ignore(IgnoreRowIf::AllValuesAreMissing)?,
                },
                &["column_list", "mostly", "ignore_row_if", "keep"],
            ),
            "expect_select_column_values_to_be_unique_within_record" => (
                Check::MultiColumn {
                    columns: need(&self.column_list, "column_list", name)?,
                    kind: MultiColumn::UniqueWithinRecord,
                    ignore_row_if: self.ignore(IgnoreRowIf::AllValuesAreMissing)?,
                },
                &["column_list", "mostly", "ignore_row_if"],
            ),
            "expect_multicolumn_sum_to_equal" => (
                Check::MultiColumn {
                    columns: need(&self.column_list, "column_list", name)?,
                    kind: MultiColumn::SumEqual(need(&self.sum_total, "sum_total", name)?),
                    ignore_row_if: self.ignore(IgnoreRowIf::AllValuesAreMissing)?,
                },
                &["column_list", "sum_total", "mostly", "ignore_row_if"],
            ),
            "freshness" => (
                Check::Freshness {
                    column: col()?,
                    max_age_seconds: parse_age(&need(&self.max_age, "max_age", name)?)?,
                },
                &["column", "max_age"],
            ),
            "volume_change" => (
                Check::VolumeChange {
                    lookback_runs: self.lookback_runs.unwrap_or(7).max(1),
                    max_change_percent: need(&self.max_change_percent, "max_change_percent", name)?,
                },
                &["lookback_runs", "max_change_percent"],
            ),
            "unexpected_rows_expectation" => (
                Check::UnexpectedRows {
                    query: need(&self.unexpected_rows_query, "unexpected_rows_query", name)?,
                },
                &["unexpected_rows_query"],
            ),
            other => {
                let close = SUPPORTED
                    .iter()
                    .min_by_key(|s| strsim_distance(s, other))
                    .copied()
                    .unwrap_or_default();
                return Err(format!(
                    "unknown expectation `{other}` (did you mean `{close}`?)"
                ));
            }
        };
        check_unused(self, used)?;
        check_range(self, &check)?;
        let mostly = self.mostly.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&mostly) {
            return Err(format!("`mostly` must be between 0 and 1, not {mostly}"));
        }
        let quarantine = self.quarantine.unwrap_or(true);
        let expectation = Expectation {
            name: name.to_string(),
            check,
            mostly,
            severity: self.severity,
            where_: self.where_.clone(),
            quarantine,
            description: self.description.clone(),
            config: self.clone(),
        };
        if self.quarantine == Some(true) && !expectation.is_row_level() {
            return Err(format!(
                "`{name}` checks the table as a whole: it has no rows to quarantine"
            ));
        }
        Ok(expectation)
    }

    fn ignore(&self, default: IgnoreRowIf) -> Result<IgnoreRowIf, String> {
        match &self.ignore_row_if {
            None => Ok(default),
            Some(s) => {
                IgnoreRowIf::parse(s).ok_or_else(|| format!("unknown `ignore_row_if` \"{s}\""))
            }
        }
    }
}

/// Levenshtein distance, for "did you mean" hints.
fn strsim_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(toml_text: &str) -> ExpectationConfig {
        match toml::from_str(toml_text) {
            Ok(c) => c,
            Err(e) => panic!("bad test toml: {e}"),
        }
    }

    #[test]
    fn parses_a_range_with_mostly() {
        let e = cfg(r#"expectation = "expect_column_values_to_be_between"
column = "amount_cents"
min_value = 0
mostly = 0.95
severity = "warn""#)
        .parse();
        let e = e.expect("valid");
        assert_eq!(e.mostly, 0.95);
        assert_eq!(e.severity, Severity::Warn);
        assert!(e.is_row_level());
        assert_eq!(
            e.label(),
            "expect_column_values_to_be_between(amount_cents)"
        );
    }

    #[test]
    fn refuses_missing_and_foreign_parameters() {
        let missing = cfg(r#"expectation = "expect_column_values_to_be_in_set"
column = "x""#)
        .parse();
        assert_eq!(
            missing.err().as_deref(),
            Some("`expect_column_values_to_be_in_set` needs `value_set`")
        );
        let foreign = cfg(r#"expectation = "expect_column_values_to_not_be_null"
column = "x"
regex = "a""#)
        .parse();
        assert_eq!(
            foreign.err().as_deref(),
            Some("`expect_column_values_to_not_be_null` does not take `regex`")
        );
        let range = cfg(r#"expectation = "expect_column_values_to_be_between"
column = "x""#)
        .parse();
        assert!(range.is_err());
    }

    #[test]
    fn suggests_the_closest_name() {
        let e = cfg(r#"expectation = "expect_column_values_to_not_be_nul"
column = "x""#)
        .parse();
        assert_eq!(
            e.err().as_deref(),
            Some(
                "unknown expectation `expect_column_values_to_not_be_nul` (did you mean `expect_column_values_to_not_be_null`?)"
            )
        );
    }

    #[test]
    fn table_checks_cannot_quarantine() {
        let e = cfg(r#"expectation = "expect_table_row_count_to_be_between"
min_value = 1
quarantine = true"#)
        .parse();
        assert!(e.is_err());
    }

    #[test]
    fn ages() {
        assert_eq!(parse_age("36h"), Ok(36 * 3600));
        assert_eq!(parse_age("2d"), Ok(172_800));
        assert!(parse_age("36").is_err());
        assert!(parse_age("3w").is_err());
    }
}
