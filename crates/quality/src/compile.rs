//! Compiling a dataset's expectations into SQL.
//!
//! Every row-level check becomes a pair of predicates over one "base" relation: the *domain*
//! (rows the check looks at: matching `where`, and non-null unless the check is about nulls) and
//! *unexpected* (rows in the domain that fail). Uniqueness adds a left join to the duplicated keys
//! (or, keeping the first copy, a row number), and `relationships` a left join to the referenced
//! keys, so that every predicate stays a plain per-row expression. All counts and statistics are then one aggregate query over the base: one
//! scan of the dataset, however many expectations it has.

use crate::result::{ExpectationResult, Item, ItemKind};
use crate::sql::{is_true, quote_ident, sql_literal};
use crate::{QUARANTINE_EXPECTATION_COLUMN, QUARANTINE_REASON_COLUMN};
use arrow::datatypes::{DataType, Schema};
use pulse_project::expectations::{
    Aggregate, Check, ColumnMap, Expectation, IgnoreRowIf, MultiColumn,
};
use serde_json::Value;

/// A query run on its own, beside the aggregate one.
#[derive(Debug, Clone, PartialEq)]
pub struct SeparateQuery {
    /// The expectation (index into the plan's list) it serves.
    pub index: usize,
    pub sql: String,
    pub kind: SeparateKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeparateKind {
    /// Compares each row with the one before it: must run in one partition, in table order.
    /// Returns one row with `d` (values looked at) and `u` (unexpected).
    Ordered,
    /// Returns one row with `u`, the number of rows the custom query returned.
    Count,
}

/// The compiled checks of one dataset.
#[derive(Debug, Clone)]
pub struct Plan {
    table: String,
    columns: Vec<String>,
    extras: Vec<String>,
    joins: Vec<String>,
    aggregates: Vec<String>,
    pub(crate) items: Vec<Item>,
    separate: Vec<SeparateQuery>,
    /// Row-level expectations whose unexpected rows a separate query counts.
    counted_apart: Vec<usize>,
    /// Row-level expectations whose unexpected values are sampled from this relation instead
    /// of the base.
    sampled_from: std::collections::BTreeMap<usize, String>,
    pub(crate) expectations: Vec<Expectation>,
}

struct Columns<'a>(&'a Schema);

impl Columns<'_> {
    fn find(&self, name: &str) -> Result<&DataType, String> {
        self.0
            .fields()
            .iter()
            .find(|f| f.name() == name)
            .map(|f| f.data_type())
            .ok_or_else(|| {
                let names: Vec<&str> = self.0.fields().iter().map(|f| f.name().as_str()).collect();
                format!(
                    "column `{name}` does not exist (columns: {})",
                    names.join(", ")
                )
            })
    }
}

fn where_of(e: &Expectation) -> String {
    match &e.where_ {
        Some(w) => is_true(w),
        None => "true".to_string(),
    }
}

fn range_predicate(
    value: &str,
    min: &Option<Value>,
    max: &Option<Value>,
    strict_min: bool,
    strict_max: bool,
) -> String {
    let mut parts = Vec::new();
    if let Some(min) = min {
        let op = if strict_min { ">" } else { ">=" };
        parts.push(format!("{value} {op} {}", sql_literal(min)));
    }
    if let Some(max) = max {
        let op = if strict_max { "<" } else { "<=" };
        parts.push(format!("{value} {op} {}", sql_literal(max)));
    }
    if parts.is_empty() {
        "true".to_string()
    } else {
        parts.join(" AND ")
    }
}

fn set_list(values: &[Value]) -> String {
    values
        .iter()
        .map(sql_literal)
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_stringy(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn as_text(column: &str, t: &DataType) -> String {
    if is_stringy(t) {
        column.to_string()
    } else {
        format!("CAST({column} AS VARCHAR)")
    }
}

fn ignore_domain(columns: &[String], ignore: IgnoreRowIf) -> String {
    let nulls: Vec<String> = columns.iter().map(|c| format!("{c} IS NULL")).collect();
    match ignore {
        IgnoreRowIf::BothValuesAreMissing | IgnoreRowIf::AllValuesAreMissing => {
            format!("NOT ({})", nulls.join(" AND "))
        }
        IgnoreRowIf::EitherValueIsMissing | IgnoreRowIf::AnyValueIsMissing => {
            format!("NOT ({})", nulls.join(" OR "))
        }
        IgnoreRowIf::Never => "true".to_string(),
    }
}

impl Plan {
    /// `table` is how SQL names the dataset (already quoted, e.g. `"orders"."payments"`).
    pub fn new(table: &str, schema: &Schema, expectations: &[Expectation]) -> Plan {
        let mut plan = Plan {
            table: table.to_string(),
            columns: schema.fields().iter().map(|f| f.name().clone()).collect(),
            extras: Vec::new(),
            joins: Vec::new(),
            aggregates: vec!["count(*) AS \"n\"".to_string()],
            items: Vec::new(),
            separate: Vec::new(),
            counted_apart: Vec::new(),
            sampled_from: Default::default(),
            expectations: expectations.to_vec(),
        };
        let cols = Columns(schema);
        for (i, e) in expectations.iter().enumerate() {
            let item = match plan.compile_one(i, e, &cols) {
                Ok(kind) => kind,
                Err(message) => {
                    ItemKind::Decided(Box::new(ExpectationResult::exception(e, message)))
                }
            };
            plan.items.push(Item {
                index: i,
                kind: item,
            });
        }
        plan
    }

    fn count_where(&mut self, name: String, condition: &str) {
        self.aggregates.push(format!(
            "COALESCE(sum(CASE WHEN {condition} THEN 1 ELSE 0 END), 0) AS {}",
            quote_ident(&name)
        ));
    }

    fn compile_one(
        &mut self,
        i: usize,
        e: &Expectation,
        cols: &Columns,
    ) -> Result<ItemKind, String> {
        let w = where_of(e);
        match &e.check {
            Check::ColumnMap { column, map } => {
                let data_type = cols.find(column)?.clone();
                let c = quote_ident(column);
                let domain = if map.is_about_nulls() {
                    w.clone()
                } else {
                    format!("{w} AND {c} IS NOT NULL")
                };
                if let ColumnMap::Between { min, max, .. } = map
                    && is_stringy(&data_type)
                    && [min, max].into_iter().flatten().any(Value::is_number)
                {
                    return Err(format!(
                        "column `{column}` holds text: it cannot be compared with numbers"
                    ));
                }
                if matches!(
                    map,
                    ColumnMap::LengthsBetween { .. } | ColumnMap::LengthsEqual(_)
                ) && !is_stringy(&data_type)
                {
                    return Err(format!(
                        "column `{column}` is {data_type}, not text: it has no length"
                    ));
                }
                let unexpected = match map {
                    ColumnMap::NotNull => format!("{c} IS NULL"),
                    ColumnMap::Null => format!("{c} IS NOT NULL"),
                    ColumnMap::Between {
                        min,
                        max,
                        strict_min,
                        strict_max,
                    } => format!(
                        "NOT {}",
                        is_true(&range_predicate(&c, min, max, *strict_min, *strict_max))
                    ),
                    ColumnMap::InSet(values) if values.is_empty() => "true".to_string(),
                    ColumnMap::InSet(values) => {
                        format!("NOT {}", is_true(&format!("{c} IN ({})", set_list(values))))
                    }
                    ColumnMap::NotInSet(values) if values.is_empty() => "false".to_string(),
                    ColumnMap::NotInSet(values) => {
                        is_true(&format!("{c} IN ({})", set_list(values)))
                    }
                    ColumnMap::MatchRegex(re) => format!(
                        "NOT {}",
                        is_true(&format!(
                            "regexp_like({}, {})",
                            as_text(&c, &data_type),
                            sql_literal(&Value::String(re.clone()))
                        ))
                    ),
                    ColumnMap::NotMatchRegex(re) => is_true(&format!(
                        "regexp_like({}, {})",
                        as_text(&c, &data_type),
                        sql_literal(&Value::String(re.clone()))
                    )),
                    ColumnMap::LengthsBetween {
                        min,
                        max,
                        strict_min,
                        strict_max,
                    } => format!(
                        "NOT {}",
                        is_true(&range_predicate(
                            &format!("character_length({})", as_text(&c, &data_type)),
                            min,
                            max,
                            *strict_min,
                            *strict_max
                        ))
                    ),
                    ColumnMap::LengthsEqual(n) => format!(
                        "NOT {}",
                        is_true(&format!(
                            "character_length({}) = {n}",
                            as_text(&c, &data_type)
                        ))
                    ),
                    ColumnMap::Unique { keep_first } => {
                        self.window_duplicates(i, std::slice::from_ref(&c), &domain, *keep_first)
                    }
                    ColumnMap::InRelation { to, field } => {
                        let alias = format!("__pulse_rel_{i}");
                        let key = format!("__pulse_key_{i}");
                        self.joins.push(format!(
                            "LEFT JOIN (SELECT DISTINCT {} AS {} FROM {}) AS {} ON t.{c} = {}.{}",
                            quote_ident(field),
                            quote_ident(&key),
                            dataset_reference(to),
                            quote_ident(&alias),
                            quote_ident(&alias),
                            quote_ident(&key)
                        ));
                        self.extras.push(format!(
                            "{}.{} AS {}",
                            quote_ident(&alias),
                            quote_ident(&key),
                            quote_ident(&key)
                        ));
                        format!("{} IS NULL", quote_ident(&key))
                    }
                };
                let sample = c.clone();
                self.map_counts(i, &w, &domain, &unexpected);
                Ok(ItemKind::Map {
                    domain,
                    unexpected,
                    sample,
                    counts_nulls: map.is_about_nulls(),
                })
            }
            Check::MultiColumn {
                columns,
                kind,
                ignore_row_if,
            } => {
                for column in columns {
                    cols.find(column)?;
                }
                let quoted: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
                let domain = format!("{w} AND {}", ignore_domain(&quoted, *ignore_row_if));
                let unexpected = match kind {
                    MultiColumn::PairGreater { or_equal } => {
                        let op = if *or_equal { ">=" } else { ">" };
                        format!(
                            "NOT {}",
                            is_true(&format!("{} {op} {}", quoted[0], quoted[1]))
                        )
                    }
                    MultiColumn::CompoundUnique { keep_first } => {
                        self.window_duplicates(i, &quoted, &domain, *keep_first)
                    }
                    MultiColumn::UniqueWithinRecord => {
                        let mut pairs = Vec::new();
                        for a in 0..quoted.len() {
                            for b in a + 1..quoted.len() {
                                pairs.push(format!(
                                    "{} IS NOT DISTINCT FROM {}",
                                    quoted[a], quoted[b]
                                ));
                            }
                        }
                        if pairs.is_empty() {
                            "false".to_string()
                        } else {
                            format!("({})", pairs.join(" OR "))
                        }
                    }
                    MultiColumn::SumEqual(total) => {
                        let sum = quoted
                            .iter()
                            .map(|c| format!("COALESCE({c}, 0)"))
                            .collect::<Vec<_>>()
                            .join(" + ");
                        format!(
                            "NOT {}",
                            is_true(&format!("({sum}) = {}", sql_literal(total)))
                        )
                    }
                };
                // GE lists each unexpected row as an object of the columns checked.
                let sample = format!(
                    "named_struct({})",
                    columns
                        .iter()
                        .zip(&quoted)
                        .map(|(name, q)| format!(
                            "{}, {q}",
                            sql_literal(&Value::String(name.clone()))
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                self.map_counts(i, &w, &domain, &unexpected);
                Ok(ItemKind::Map {
                    domain,
                    unexpected,
                    sample,
                    counts_nulls: false,
                })
            }
            Check::ColumnAggregate {
                column, aggregate, ..
            } => {
                let data_type = cols.find(column)?.clone();
                let c = quote_ident(column);
                let value = format!("CASE WHEN {w} THEN {c} END");
                let numeric = format!("CAST({value} AS DOUBLE)");
                let expr = match aggregate {
                    Aggregate::Min | Aggregate::Max => {
                        format!("{}({value})", aggregate.sql_function())
                    }
                    Aggregate::Sum if data_type.is_integer() => format!("sum({value})"),
                    Aggregate::Mean | Aggregate::Median | Aggregate::Stdev | Aggregate::Sum => {
                        format!("{}({numeric})", aggregate.sql_function())
                    }
                    Aggregate::ProportionUnique | Aggregate::UniqueValueCount => {
                        format!("count(DISTINCT {value})")
                    }
                };
                self.aggregates
                    .push(format!("{expr} AS {}", quote_ident(&format!("v{i}"))));
                self.aggregates.push(format!(
                    "count({value}) AS {}",
                    quote_ident(&format!("d{i}"))
                ));
                Ok(ItemKind::Aggregate)
            }
            Check::Monotonic {
                column,
                increasing,
                strictly,
            } => {
                cols.find(column)?;
                let c = quote_ident(column);
                let op = monotonic_operator(*increasing, *strictly);
                self.separate.push(SeparateQuery {
                    index: i,
                    sql: format!(
                        "SELECT count(*) AS \"d\", COALESCE(sum(CASE WHEN \"__prev\" IS NOT NULL AND NOT {} THEN 1 ELSE 0 END), 0) AS \"u\" \
                         FROM (SELECT {c} AS \"__v\", lag({c}) OVER () AS \"__prev\" FROM {} WHERE {w} AND {c} IS NOT NULL) AS s",
                        is_true(&format!("\"__v\" {op} \"__prev\"")),
                        self.table
                    ),
                    kind: SeparateKind::Ordered,
                });
                self.count_where(format!("e{i}"), &w);
                Ok(ItemKind::Separate)
            }
            Check::UnexpectedRows { query } => {
                self.separate.push(SeparateQuery {
                    index: i,
                    sql: format!(
                        "SELECT count(*) AS \"u\" FROM ({}) AS s",
                        query.replace("{batch}", &self.table)
                    ),
                    kind: SeparateKind::Count,
                });
                self.count_where(format!("e{i}"), &w);
                Ok(ItemKind::Separate)
            }
            Check::RowCountBetween { .. }
            | Check::RowCountEqual(_)
            | Check::VolumeChange { .. } => {
                self.count_where(format!("e{i}"), &w);
                Ok(ItemKind::RowCount)
            }
            Check::Freshness { column, .. } => {
                cols.find(column)?;
                let c = quote_ident(column);
                self.aggregates.push(format!(
                    "to_unixtime(CAST(max(CASE WHEN {w} THEN {c} END) AS TIMESTAMP)) AS {}",
                    quote_ident(&format!("v{i}"))
                ));
                self.aggregates.push(format!(
                    "CAST(max(CASE WHEN {w} THEN {c} END) AS VARCHAR) AS {}",
                    quote_ident(&format!("m{i}"))
                ));
                Ok(ItemKind::Aggregate)
            }
            Check::OfType { .. }
            | Check::ColumnToExist { .. }
            | Check::ColumnCountBetween { .. }
            | Check::ColumnCountEqual(_)
            | Check::ColumnsMatchSet { .. }
            | Check::ColumnsMatchOrderedList(_) => Ok(ItemKind::Decided(Box::new(
                crate::result::schema_result(e, cols.0),
            ))),
        }
    }

    /// Unexpected when another row in the domain has the same key; with `keep_first`, only the
    /// second and later rows of each key are.
    ///
    /// Without keep-first, the keys that occur more than once are found with a hash aggregate
    /// over the key columns alone (duplicates are rare, so the result is small), and each row
    /// learns whether its key is one of them through a hash join with NULLs equal, as GE's
    /// uniqueness treats them: a window over the whole table would sort every row with all its
    /// columns, on every read of the clean rows.
    fn window_duplicates(
        &mut self,
        i: usize,
        keys: &[String],
        domain: &str,
        keep_first: bool,
    ) -> String {
        let key_list = keys.join(", ");
        let aliases: Vec<String> = (0..keys.len())
            .map(|k| format!("\"__pulse_k{k}\""))
            .collect();
        let selected: Vec<String> = keys
            .iter()
            .zip(&aliases)
            .map(|(k, a)| format!("{k} AS {a}"))
            .collect();
        let matches = |row: &str, dup: &str| -> String {
            keys.iter()
                .zip(&aliases)
                .map(|(k, a)| format!("({row}.{k} IS NOT DISTINCT FROM {dup}.{a})"))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        let duplicated = |count: Option<&str>| {
            format!(
                "SELECT {}{} FROM {} WHERE {domain} GROUP BY {key_list} HAVING count(*) > 1",
                selected.join(", "),
                count
                    .map(|c| format!(", count(*) AS {c}"))
                    .unwrap_or_default(),
                self.table
            )
        };
        if keep_first {
            // Which copy is first needs an order within each key: a window, which quarantine
            // and the clean rows use. (Numbering only the rows of duplicated keys, through a
            // union with the rest, trips DataFusion 55's projection pruning when a model reads
            // the clean rows.) The count needs no order: every copy after the first of each
            // duplicated key, from the hash aggregate alone, so the aggregate query over the
            // base never computes the window and the optimizer drops it there.
            self.separate.push(SeparateQuery {
                index: i,
                sql: format!(
                    "SELECT COALESCE(sum(\"__c\" - 1), 0) AS \"u\" FROM ({}) AS s",
                    duplicated(Some("\"__c\""))
                ),
                kind: SeparateKind::Count,
            });
            self.counted_apart.push(i);
            // Samples of the repeated values come from the same aggregate, not the window.
            self.sampled_from.insert(
                i,
                format!(
                    "SELECT {key_list} FROM {} WHERE {domain} GROUP BY {key_list} HAVING count(*) > 1",
                    self.table
                ),
            );
            let name = format!("__pulse_dup_{i}");
            self.extras.push(format!(
                "row_number() OVER (PARTITION BY {key_list}, ({domain})) AS {}",
                quote_ident(&name)
            ));
            format!("{} > 1", quote_ident(&name))
        } else {
            let count = quote_ident(&format!("__pulse_cnt_{i}"));
            let alias = quote_ident(&format!("__pulse_dupkeys_{i}"));
            self.joins.push(format!(
                "LEFT JOIN ({}) AS {alias} ON {}",
                duplicated(Some(&count)),
                matches("t", &alias)
            ));
            self.extras.push(format!("{alias}.{count} AS {count}"));
            format!("{count} IS NOT NULL")
        }
    }

    fn map_counts(&mut self, i: usize, w: &str, domain: &str, unexpected: &str) {
        self.count_where(format!("e{i}"), w);
        self.count_where(format!("d{i}"), domain);
        if !self.counted_apart.contains(&i) {
            self.count_where(format!("u{i}"), &format!("{domain} AND {unexpected}"));
        }
    }

    /// The relation every row-level predicate is written against: the dataset's columns plus
    /// the window counts and join keys some checks need. The window expressions refer to the
    /// dataset's own columns, so they sit directly over the (aliased) table.
    pub fn base_sql(&self) -> String {
        if self.extras.is_empty() && self.joins.is_empty() {
            return format!("SELECT * FROM {}", self.table);
        }
        let extras = if self.extras.is_empty() {
            String::new()
        } else {
            format!(", {}", self.extras.join(", "))
        };
        let mut sql = format!("SELECT t.*{extras} FROM {} AS t", self.table);
        for j in &self.joins {
            sql.push(' ');
            sql.push_str(j);
        }
        sql
    }

    /// One query, one row: every count and statistic the plan needs.
    pub fn aggregate_sql(&self) -> String {
        format!(
            "SELECT {} FROM ({}) AS b",
            self.aggregates.join(", "),
            self.base_sql()
        )
    }

    pub fn separate_queries(&self) -> &[SeparateQuery] {
        &self.separate
    }

    pub fn expectations(&self) -> &[Expectation] {
        &self.expectations
    }

    /// Some unexpected values of expectation `index`, when it is a row-level one.
    pub fn sample_sql(&self, index: usize, limit: usize) -> Option<String> {
        let item = self.items.get(index)?;
        match &item.kind {
            ItemKind::Map { sample, .. } if self.sampled_from.contains_key(&index) => {
                Some(format!(
                    "SELECT {sample} AS \"value\" FROM ({}) AS b LIMIT {limit}",
                    self.sampled_from[&index]
                ))
            }
            ItemKind::Map {
                domain,
                unexpected,
                sample,
                ..
            } => Some(format!(
                "SELECT {sample} AS \"value\" FROM ({}) AS b WHERE {domain} AND {unexpected} LIMIT {limit}",
                self.base_sql()
            )),
            ItemKind::Separate => {
                let e = self.expectations.get(index)?;
                match &e.check {
                    Check::Monotonic {
                        column,
                        increasing,
                        strictly,
                    } => {
                        let c = quote_ident(column);
                        Some(format!(
                            "SELECT \"__v\" AS \"value\" FROM (SELECT {c} AS \"__v\", lag({c}) OVER () AS \"__prev\" FROM {} WHERE {} AND {c} IS NOT NULL) AS s \
                             WHERE \"__prev\" IS NOT NULL AND NOT {} LIMIT {limit}",
                            self.table,
                            where_of(e),
                            is_true(&format!(
                                "\"__v\" {} \"__prev\"",
                                monotonic_operator(*increasing, *strictly)
                            ))
                        ))
                    }
                    Check::UnexpectedRows { query } => Some(format!(
                        "SELECT * FROM ({}) AS s LIMIT {limit}",
                        query.replace("{batch}", &self.table)
                    )),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Indexes of the expectations whose unexpected rows go to quarantine.
    pub fn quarantining(&self) -> Vec<usize> {
        self.items
            .iter()
            .filter(|item| {
                matches!(item.kind, ItemKind::Map { .. })
                    && self.expectations[item.index].quarantine
            })
            .map(|item| item.index)
            .collect()
    }

    /// `(clean, quarantined)` queries, or `None` when no expectation quarantines. The clean query
    /// returns the dataset's columns; the quarantined one adds which expectations each row failed
    /// and why. A row fails when it is in an expectation's domain and unexpected there.
    pub fn quarantine_sql(&self) -> Option<(String, String)> {
        let indexes = self.quarantining();
        if indexes.is_empty() {
            return None;
        }
        let mut labels = Vec::new();
        let mut reasons = Vec::new();
        let mut any = Vec::new();
        for &i in &indexes {
            let ItemKind::Map {
                domain, unexpected, ..
            } = &self.items[i].kind
            else {
                continue;
            };
            let e = &self.expectations[i];
            let cond = format!("({domain} AND {unexpected})");
            labels.push(format!(
                "CASE WHEN {cond} THEN {} END",
                sql_literal(&Value::String(e.label()))
            ));
            reasons.push(format!(
                "CASE WHEN {cond} THEN {} END",
                sql_literal(&Value::String(crate::result::reason(e)))
            ));
            any.push(cond);
        }
        let columns = self
            .columns
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ");
        let flagged = format!(
            "SELECT {columns}, concat_ws('; ', {}) AS {}, concat_ws('; ', {}) AS {}, ({}) AS \"__pulse_failed\" FROM ({}) AS b",
            labels.join(", "),
            quote_ident(QUARANTINE_EXPECTATION_COLUMN),
            reasons.join(", "),
            quote_ident(QUARANTINE_REASON_COLUMN),
            any.join(" OR "),
            self.base_sql()
        );
        let clean = format!("SELECT {columns} FROM ({flagged}) AS f WHERE NOT \"__pulse_failed\"");
        let quarantined = format!(
            "SELECT {columns}, {}, {} FROM ({flagged}) AS f WHERE \"__pulse_failed\"",
            quote_ident(QUARANTINE_EXPECTATION_COLUMN),
            quote_ident(QUARANTINE_REASON_COLUMN)
        );
        Some((clean, quarantined))
    }
}

/// How each value must compare with the one before it.
fn monotonic_operator(increasing: bool, strictly: bool) -> &'static str {
    match (increasing, strictly) {
        (true, true) => ">",
        (true, false) => ">=",
        (false, true) => "<",
        (false, false) => "<=",
    }
}

/// `source.table` or a model name, as SQL.
fn dataset_reference(name: &str) -> String {
    match name.split_once('.') {
        Some((schema, table)) => format!("{}.{}", quote_ident(schema), quote_ident(table)),
        None => quote_ident(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Field;
    use pulse_project::ExpectationConfig;

    fn expectations(toml_text: &str) -> Vec<Expectation> {
        #[derive(serde::Deserialize)]
        struct File {
            expectations: Vec<ExpectationConfig>,
        }
        let file: File = match toml::from_str(toml_text) {
            Ok(f) => f,
            Err(e) => panic!("bad test toml: {e}"),
        };
        file.expectations
            .iter()
            .map(|c| c.parse().unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("payment_id", DataType::Int64, false),
            Field::new("order_id", DataType::Int64, true),
            Field::new("amount_cents", DataType::Int64, true),
            Field::new("status", DataType::Utf8, true),
        ])
    }

    #[test]
    fn one_aggregate_query_and_a_quarantine_split() {
        let plan = Plan::new(
            "\"payments\".\"payments__raw\"",
            &schema(),
            &expectations(
                r#"
[[expectations]]
expectation = "expect_column_values_to_not_be_null"
column = "order_id"
[[expectations]]
expectation = "expect_column_values_to_be_between"
column = "amount_cents"
min_value = 0
where = "status = 'succeeded'"
[[expectations]]
expectation = "expect_column_values_to_be_unique"
column = "payment_id"
keep = "first"
[[expectations]]
expectation = "relationships"
column = "order_id"
to = "orders.orders"
field = "order_id"
quarantine = false
[[expectations]]
expectation = "expect_column_mean_to_be_between"
column = "amount_cents"
min_value = 1
[[expectations]]
expectation = "expect_table_row_count_to_be_between"
min_value = 1
"#,
            ),
        );
        insta::assert_snapshot!("aggregate", plan.aggregate_sql());
        let (clean, quarantined) = plan.quarantine_sql().expect("quarantines");
        insta::assert_snapshot!("clean", clean);
        insta::assert_snapshot!("quarantined", quarantined);
        assert_eq!(plan.quarantining(), vec![0, 1, 2]);
    }

    #[test]
    fn a_missing_column_is_an_exception_not_a_crash() {
        let e = expectations(
            "[[expectations]]\nexpectation = \"expect_column_values_to_not_be_null\"\ncolumn = \"nope\"\n",
        );
        let plan = Plan::new("t", &schema(), &e);
        let results = plan.results(&Default::default(), &Default::default());
        assert!(!results[0].success);
        assert!(
            results[0]
                .exception
                .as_deref()
                .is_some_and(|m| m.contains("column `nope` does not exist")),
            "{results:?}"
        );
    }
}
