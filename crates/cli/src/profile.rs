//! Column profiles for the catalog: null share, distinct count, min and max of every column in
//! one aggregate scan, then the most frequent values of the categorical text columns (few
//! distinct values), each one small group-by. Distinct counts are HyperLogLog estimates
//! (`approx_distinct`): exact counts would hash every value of every column again.
//!
//! A profile reads at most [`SAMPLE_ROWS`] rows of a table, so its cost stays bounded however
//! large the table grows; the profile says how many rows it read.

use anyhow::Result;
use arrow::array::Array;
use arrow::datatypes::{DataType, Schema};
use arrow::record_batch::RecordBatch;
use arrow::util::display::array_value_to_string;
use pulse_catalog::{ColumnProfile, TopValue};
use pulse_transform::Engine;

/// Text columns with at most this many distinct values get their top values.
const CATEGORICAL: u64 = 50;
const TOP_VALUES: usize = 5;
/// The most rows one profile reads.
pub const SAMPLE_ROWS: u64 = 100_000;

/// What a profile reads of `table` (a name as SQL writes it): its first [`SAMPLE_ROWS`] rows.
pub fn sample_of(table: &str) -> String {
    format!("(select * from {table} limit {SAMPLE_ROWS}) as sample")
}

/// A table name as SQL writes it, each part quoted: `orders.orders__raw` becomes
/// `"orders"."orders__raw"`.
pub fn quoted_name(dotted: &str) -> String {
    dotted.split('.').map(quote).collect::<Vec<_>>().join(".")
}

/// The column profiles of a table and how many rows they were computed on.
#[derive(Debug, Clone, PartialEq)]
pub struct TableProfile {
    pub rows: u64,
    pub columns: Vec<ColumnProfile>,
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Types min/max and approx_distinct read; nested and binary columns are counted only.
fn orderable(t: &DataType) -> bool {
    !matches!(
        t,
        DataType::List(_)
            | DataType::LargeList(_)
            | DataType::ListView(_)
            | DataType::LargeListView(_)
            | DataType::FixedSizeList(_, _)
            | DataType::Struct(_)
            | DataType::Map(_, _)
            | DataType::Union(_, _)
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_)
            | DataType::Null
    )
}

fn textual(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Boolean => true,
        DataType::Dictionary(_, v) => textual(v),
        _ => false,
    }
}

/// The aggregate query over `table` (a name as SQL writes it) for `schema`.
pub fn summary_sql(table: &str, schema: &Schema) -> String {
    let mut items = vec!["count(*)".to_string()];
    for f in schema.fields() {
        let c = quote(f.name());
        items.push(format!("count({c})"));
        if orderable(f.data_type()) {
            // approx_distinct hashes only some types (not floats, booleans or decimals); their
            // text has the same distinct values.
            items.push(format!("approx_distinct(cast({c} as varchar))"));
            items.push(format!("cast(min({c}) as varchar)"));
            items.push(format!("cast(max({c}) as varchar)"));
        }
    }
    format!("select {} from {table}", items.join(", "))
}

fn cell(batches: &[RecordBatch], column: usize) -> Option<String> {
    let b = batches.iter().find(|b| b.num_rows() > 0)?;
    let a = b.columns().get(column)?;
    if a.is_null(0) {
        return None;
    }
    array_value_to_string(a, 0).ok()
}

fn number(batches: &[RecordBatch], column: usize) -> u64 {
    cell(batches, column)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Profiles every column of `table` (a name as SQL writes it) on a sample of its rows.
pub async fn profile(engine: &Engine, table: &str, schema: &Schema) -> Result<TableProfile> {
    let table = sample_of(table);
    let table = table.as_str();
    let (_, batches) = engine.query(&summary_sql(table, schema)).await?;
    let rows = number(&batches, 0);
    let mut at = 1;
    let mut out = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        let non_null = number(&batches, at);
        at += 1;
        let (distinct, min, max) = if orderable(f.data_type()) {
            let r = (
                number(&batches, at),
                cell(&batches, at + 1),
                cell(&batches, at + 2),
            );
            at += 3;
            r
        } else {
            (0, None, None)
        };
        out.push(ColumnProfile {
            column: f.name().clone(),
            null_share: if rows == 0 {
                0.0
            } else {
                (rows - non_null.min(rows)) as f64 / rows as f64
            },
            distinct_count: distinct,
            min,
            max,
            top_values: Vec::new(),
        });
    }
    for (p, f) in out.iter_mut().zip(schema.fields()) {
        if !textual(f.data_type()) || p.distinct_count == 0 || p.distinct_count > CATEGORICAL {
            continue;
        }
        let c = quote(f.name());
        let sql = format!(
            "select cast({c} as varchar) as v, count(*) as n from {table} where {c} is not null \
             group by 1 order by 2 desc, 1 limit {TOP_VALUES}"
        );
        let (_, batches) = engine.query(&sql).await?;
        for b in &batches {
            for i in 0..b.num_rows() {
                let value = array_value_to_string(b.column(0), i)?;
                let count = array_value_to_string(b.column(1), i)?.parse().unwrap_or(0);
                p.top_values.push(TopValue { value, count });
            }
        }
    }
    Ok(TableProfile { rows, columns: out })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Field;
    use std::sync::Arc;

    #[test]
    fn the_summary_reads_every_column_once_and_skips_min_max_of_nested_ones() {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("say \"hi\"", DataType::Utf8, true),
            Field::new(
                "tags",
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                true,
            ),
        ]);
        assert_eq!(
            summary_sql("\"fct_orders\"", &schema),
            "select count(*), count(\"id\"), approx_distinct(cast(\"id\" as varchar)), cast(min(\"id\") as varchar), \
             cast(max(\"id\") as varchar), count(\"say \"\"hi\"\"\"), approx_distinct(cast(\"say \"\"hi\"\"\" as varchar)), \
             cast(min(\"say \"\"hi\"\"\") as varchar), cast(max(\"say \"\"hi\"\"\") as varchar), \
             count(\"tags\") from \"fct_orders\""
        );
    }
}
