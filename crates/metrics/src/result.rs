//! Query results as JSON-friendly rows, and their CSV form.

use crate::compile::{ColumnRole, ResultColumn};
use crate::request::MetricRequest;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;

/// What a request returned: the columns (with label, role and display format) and the rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricResult {
    pub request: MetricRequest,
    pub columns: Vec<ResultColumn>,
    pub rows: Vec<Vec<Value>>,
    pub sql: String,
    /// The period the `__previous` columns come from, when the request compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_range: Option<(NaiveDate, NaiveDate)>,
    /// The warehouse state the figures come from; results are cached per version.
    pub warehouse_version: String,
    /// Time the warehouse took, in milliseconds (the first time it was asked).
    pub query_ms: f64,
}

impl MetricResult {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The value of a column in a row, as a number when it is one.
    pub fn number(&self, row: usize, column: &str) -> Option<f64> {
        let i = self.column_index(column)?;
        self.rows.get(row)?.get(i)?.as_f64()
    }

    /// RFC 4180 CSV with a header of column names; numbers as computed, not as formatted.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|c| csv_field(&c.name)).collect();
        out.push_str(&header.join(","));
        out.push_str("\r\n");
        for row in &self.rows {
            let fields: Vec<String> = row
                .iter()
                .map(|v| match v {
                    Value::Null => String::new(),
                    Value::String(s) => csv_field(s),
                    other => csv_field(&other.to_string()),
                })
                .collect();
            out.push_str(&fields.join(","));
            out.push_str("\r\n");
        }
        out
    }

    /// The metric columns (not period or dimensions).
    pub fn value_columns(&self) -> impl Iterator<Item = (usize, &ResultColumn)> {
        self.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !matches!(c.role, ColumnRole::Period | ColumnRole::Dimension))
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Arrow batches to rows of JSON values: numbers as numbers (decimals and integers as f64,
/// which holds every figure a metric produces exactly enough to show), dates as `YYYY-MM-DD`,
/// booleans as booleans, everything else as its display text.
pub fn rows_of(batches: &[RecordBatch]) -> Result<Vec<Vec<Value>>, String> {
    let mut rows = Vec::new();
    let options = FormatOptions::default();
    for batch in batches {
        let mut columns: Vec<Vec<Value>> = Vec::with_capacity(batch.num_columns());
        for array in batch.columns() {
            columns.push(values_of(array.as_ref(), &options)?);
        }
        for r in 0..batch.num_rows() {
            rows.push(columns.iter().map(|c| c[r].clone()).collect());
        }
    }
    Ok(rows)
}

fn values_of(array: &dyn Array, options: &FormatOptions) -> Result<Vec<Value>, String> {
    let n = array.len();
    let dt = array.data_type();
    if dt.is_numeric() {
        let floats = cast(array, &DataType::Float64).map_err(|e| e.to_string())?;
        let floats = floats.as_primitive::<Float64Type>();
        return Ok((0..n)
            .map(|i| {
                if floats.is_null(i) {
                    Value::Null
                } else {
                    serde_json::Number::from_f64(floats.value(i))
                        .map(Value::Number)
                        .unwrap_or(Value::Null)
                }
            })
            .collect());
    }
    if *dt == DataType::Boolean {
        let b = array.as_boolean();
        return Ok((0..n)
            .map(|i| {
                if b.is_null(i) {
                    Value::Null
                } else {
                    Value::Bool(b.value(i))
                }
            })
            .collect());
    }
    let formatter = ArrayFormatter::try_new(array, options).map_err(|e| e.to_string())?;
    Ok((0..n)
        .map(|i| {
            if array.is_null(i) {
                Value::Null
            } else {
                Value::String(formatter.value(i).to_string())
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Date32Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    #[test]
    fn rows_keep_numbers_dates_and_nulls() -> Result<(), Box<dyn std::error::Error>> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("period", DataType::Date32, true),
            Field::new("city", DataType::Utf8, true),
            Field::new("orders", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Date32Array::from(vec![Some(20_000), None])),
                Arc::new(StringArray::from(vec![Some("Köln, Nord"), Some("x")])),
                Arc::new(Int64Array::from(vec![Some(3), None])),
            ],
        )?;
        let rows = rows_of(&[batch])?;
        assert_eq!(rows[0][0], Value::String("2024-10-04".into()));
        assert_eq!(rows[0][2], serde_json::json!(3.0));
        assert_eq!(rows[1][0], Value::Null);
        assert_eq!(rows[1][2], Value::Null);
        Ok(())
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(csv_field("Köln, Nord"), "\"Köln, Nord\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
