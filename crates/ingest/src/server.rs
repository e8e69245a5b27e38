//! What the PostgreSQL and MySQL connectors share: the column model (a database type and the
//! Arrow type it lands as), column builders, key-range splitting and the read options.

use crate::IngestError;
use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder, ListArray, RecordBatch,
    StringBuilder, Time64MicrosecondBuilder, TimestampMicrosecondBuilder, UInt8Builder,
    UInt16Builder, UInt32Builder, UInt64Builder,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::Arc;

/// How a column's values are decoded, independent of the wire format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Bool,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
    Decimal {
        precision: u8,
        scale: i8,
    },
    Text,
    Binary,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    /// PostgreSQL only: 16 bytes, landed as the usual hyphenated text.
    Uuid,
    /// PostgreSQL only: jsonb's binary form is a version byte and the text.
    Jsonb,
    /// PostgreSQL only: a one-dimensional array of the element kind.
    List(Box<Kind>),
}

impl Kind {
    pub fn data_type(&self) -> DataType {
        match self {
            Kind::Bool => DataType::Boolean,
            Kind::I8 => DataType::Int8,
            Kind::I16 => DataType::Int16,
            Kind::I32 => DataType::Int32,
            Kind::I64 => DataType::Int64,
            Kind::U8 => DataType::UInt8,
            Kind::U16 => DataType::UInt16,
            Kind::U32 => DataType::UInt32,
            Kind::U64 => DataType::UInt64,
            Kind::F32 => DataType::Float32,
            Kind::F64 => DataType::Float64,
            Kind::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale),
            Kind::Text | Kind::Uuid | Kind::Jsonb => DataType::Utf8,
            Kind::Binary => DataType::Binary,
            Kind::Date => DataType::Date32,
            Kind::Time => DataType::Time64(TimeUnit::Microsecond),
            Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            Kind::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Kind::List(e) => DataType::List(Arc::new(Field::new("item", e.data_type(), true))),
        }
    }

    /// Whole numbers: the kinds a table can be split into key ranges by.
    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            Kind::I8
                | Kind::I16
                | Kind::I32
                | Kind::I64
                | Kind::U8
                | Kind::U16
                | Kind::U32
                | Kind::U64
        )
    }
}

/// A column of a server table: its declared type and how it lands.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerColumn {
    pub name: String,
    /// The type as the database names it (`numeric(12,2)`, `tinyint(1) unsigned`).
    pub db_type: String,
    pub kind: Kind,
    /// False when the type has no mapping: the column is read as the database's text form.
    pub mapped: bool,
}

pub fn schema_of(cols: &[ServerColumn]) -> SchemaRef {
    Arc::new(Schema::new(
        cols.iter()
            .map(|c| Field::new(&c.name, c.kind.data_type(), true))
            .collect::<Vec<_>>(),
    ))
}

/// The warning for each column whose type has no mapping.
pub fn unmapped_warnings(table: &str, cols: &[ServerColumn]) -> Vec<String> {
    cols.iter()
        .filter(|c| !c.mapped)
        .map(|c| {
            format!(
                "table {table}, column {}: type {} has no Arrow mapping; it lands as text",
                c.name, c.db_type
            )
        })
        .collect()
}

/// What to read of one table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadRequest {
    pub table: String,
    /// Incremental: the cursor column, and the watermark rows must be above.
    pub cursor: Option<String>,
    pub after: Option<String>,
    /// Read as this many key ranges at once (bounded by the session's connections).
    pub parallel: usize,
    /// The integer column to split ranges by.
    pub split_by: Option<String>,
    pub batch_rows: usize,
}

/// What reading one server table produced.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerRead {
    pub schema: SchemaRef,
    pub rows: u64,
    /// The largest cursor value among the rows read, in the database's text form.
    pub max_cursor: Option<String>,
    /// Bytes of values received.
    pub bytes_read: u64,
    /// Key ranges actually read in parallel.
    pub ranges: usize,
    pub warnings: Vec<String>,
}

/// Runs one query per connection at once (`read` streams one query's batches into the channel)
/// and hands every batch to `sink` as it arrives; the channel bounds memory to a few batches.
/// Returns rows and bytes read, or the first failure (the sink's before the readers').
pub fn read_in_parallel<C: Send>(
    conns: &mut [C],
    sqls: &[String],
    sink: &mut dyn crate::Sink,
    read: impl Fn(
        &mut C,
        &str,
        &std::sync::mpsc::SyncSender<RecordBatch>,
    ) -> Result<(u64, u64), IngestError>
    + Sync,
) -> Result<(u64, u64), IngestError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<RecordBatch>(4);
    let mut sink_error = None;
    let mut bytes_seen = 0u64;
    let read = &read;
    let results: Vec<Result<(u64, u64), IngestError>> = std::thread::scope(|s| {
        let handles: Vec<_> = conns
            .iter_mut()
            .zip(sqls.iter())
            .map(|(conn, sql)| {
                let tx = tx.clone();
                s.spawn(move || read(conn, sql, &tx))
            })
            .collect();
        drop(tx);
        for batch in rx.iter() {
            bytes_seen += batch.get_array_memory_size() as u64;
            if let Err(e) = sink.batch(batch) {
                sink_error = Some(e);
                break;
            }
            sink.progress(bytes_seen);
        }
        // Dropping the receiver stops every reader at its next batch.
        drop(rx);
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(IngestError::Stopped("a reader thread panicked".to_string()))
                })
            })
            .collect()
    });
    if let Some(e) = sink_error {
        return Err(e);
    }
    let (mut rows, mut bytes) = (0, 0);
    for r in results {
        let (r, b) = r?;
        rows += r;
        bytes += b;
    }
    Ok((rows, bytes))
}

/// SQL conditions, one per key range of `split_ranges`, to append after the table's `filter`
/// (`has_filter`: whether it already has a WHERE). The first range also takes the NULL keys, so
/// together they read every row exactly once.
pub fn range_conditions(
    column: &str,
    has_filter: bool,
    lo: i128,
    hi: i128,
    n: usize,
) -> Vec<String> {
    let join = if has_filter { " AND " } else { " WHERE " };
    split_ranges(lo, hi, n)
        .into_iter()
        .enumerate()
        .map(|(i, (a, b))| {
            let mut cond = format!("{join}({column} >= {a}");
            if let Some(b) = b {
                cond.push_str(&format!(" AND {column} < {b}"));
            }
            if i == 0 {
                cond.push_str(&format!(" OR {column} IS NULL"));
            }
            cond.push(')');
            cond
        })
        .collect()
}

/// `n` half-open ranges covering `lo..=hi`; the last one is closed. Fewer when the span is small.
pub fn split_ranges(lo: i128, hi: i128, n: usize) -> Vec<(i128, Option<i128>)> {
    if hi < lo || n <= 1 {
        return vec![(lo, None)];
    }
    let span = hi - lo + 1;
    let n = (n as i128).min(span).max(1);
    let step = span / n + i128::from(span % n != 0);
    let mut out = Vec::new();
    let mut start = lo;
    while start <= hi {
        let end = start + step;
        if end > hi {
            out.push((start, None));
            break;
        }
        out.push((start, Some(end)));
        start = end;
    }
    out
}

/// A column's values for the current batch.
pub enum ColumnBuilder {
    Bool(BooleanBuilder),
    I8(Int8Builder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    U8(UInt8Builder),
    U16(UInt16Builder),
    U32(UInt32Builder),
    U64(UInt64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Decimal(Decimal128Builder, u8, i8),
    Text(StringBuilder),
    Binary(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder, bool),
    List {
        item: DataType,
        offsets: Vec<i32>,
        valid: Vec<bool>,
        child: Box<ColumnBuilder>,
    },
}

impl ColumnBuilder {
    pub fn new(kind: &Kind, capacity: usize) -> ColumnBuilder {
        match kind {
            Kind::Bool => ColumnBuilder::Bool(BooleanBuilder::with_capacity(capacity)),
            Kind::I8 => ColumnBuilder::I8(Int8Builder::with_capacity(capacity)),
            Kind::I16 => ColumnBuilder::I16(Int16Builder::with_capacity(capacity)),
            Kind::I32 => ColumnBuilder::I32(Int32Builder::with_capacity(capacity)),
            Kind::I64 => ColumnBuilder::I64(Int64Builder::with_capacity(capacity)),
            Kind::U8 => ColumnBuilder::U8(UInt8Builder::with_capacity(capacity)),
            Kind::U16 => ColumnBuilder::U16(UInt16Builder::with_capacity(capacity)),
            Kind::U32 => ColumnBuilder::U32(UInt32Builder::with_capacity(capacity)),
            Kind::U64 => ColumnBuilder::U64(UInt64Builder::with_capacity(capacity)),
            Kind::F32 => ColumnBuilder::F32(Float32Builder::with_capacity(capacity)),
            Kind::F64 => ColumnBuilder::F64(Float64Builder::with_capacity(capacity)),
            Kind::Decimal { precision, scale } => ColumnBuilder::Decimal(
                Decimal128Builder::with_capacity(capacity),
                *precision,
                *scale,
            ),
            Kind::Text | Kind::Uuid | Kind::Jsonb => ColumnBuilder::Text(StringBuilder::new()),
            Kind::Binary => ColumnBuilder::Binary(BinaryBuilder::new()),
            Kind::Date => ColumnBuilder::Date(Date32Builder::with_capacity(capacity)),
            Kind::Time => ColumnBuilder::Time(Time64MicrosecondBuilder::with_capacity(capacity)),
            Kind::Timestamp => ColumnBuilder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity),
                false,
            ),
            Kind::TimestampTz => {
                ColumnBuilder::Timestamp(TimestampMicrosecondBuilder::with_capacity(capacity), true)
            }
            Kind::List(e) => ColumnBuilder::List {
                item: e.data_type(),
                offsets: vec![0],
                valid: Vec::with_capacity(capacity),
                child: Box::new(ColumnBuilder::new(e, capacity)),
            },
        }
    }

    pub fn append_null(&mut self) {
        match self {
            ColumnBuilder::Bool(b) => b.append_null(),
            ColumnBuilder::I8(b) => b.append_null(),
            ColumnBuilder::I16(b) => b.append_null(),
            ColumnBuilder::I32(b) => b.append_null(),
            ColumnBuilder::I64(b) => b.append_null(),
            ColumnBuilder::U8(b) => b.append_null(),
            ColumnBuilder::U16(b) => b.append_null(),
            ColumnBuilder::U32(b) => b.append_null(),
            ColumnBuilder::U64(b) => b.append_null(),
            ColumnBuilder::F32(b) => b.append_null(),
            ColumnBuilder::F64(b) => b.append_null(),
            ColumnBuilder::Decimal(b, ..) => b.append_null(),
            ColumnBuilder::Text(b) => b.append_null(),
            ColumnBuilder::Binary(b) => b.append_null(),
            ColumnBuilder::Date(b) => b.append_null(),
            ColumnBuilder::Time(b) => b.append_null(),
            ColumnBuilder::Timestamp(b, _) => b.append_null(),
            ColumnBuilder::List { offsets, valid, .. } => {
                offsets.push(offsets.last().copied().unwrap_or(0));
                valid.push(false);
            }
        }
    }

    /// Closes a list value whose `items` elements were appended to the child.
    pub fn close_list(&mut self, items: i32) {
        if let ColumnBuilder::List { offsets, valid, .. } = self {
            offsets.push(offsets.last().copied().unwrap_or(0) + items);
            valid.push(true);
        }
    }

    pub fn finish(&mut self) -> Result<ArrayRef, arrow::error::ArrowError> {
        Ok(match self {
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::I8(b) => Arc::new(b.finish()),
            ColumnBuilder::I16(b) => Arc::new(b.finish()),
            ColumnBuilder::I32(b) => Arc::new(b.finish()),
            ColumnBuilder::I64(b) => Arc::new(b.finish()),
            ColumnBuilder::U8(b) => Arc::new(b.finish()),
            ColumnBuilder::U16(b) => Arc::new(b.finish()),
            ColumnBuilder::U32(b) => Arc::new(b.finish()),
            ColumnBuilder::U64(b) => Arc::new(b.finish()),
            ColumnBuilder::F32(b) => Arc::new(b.finish()),
            ColumnBuilder::F64(b) => Arc::new(b.finish()),
            ColumnBuilder::Decimal(b, p, s) => {
                Arc::new(b.finish().with_precision_and_scale(*p, *s)?)
            }
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
            ColumnBuilder::Binary(b) => Arc::new(b.finish()),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::Time(b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(b, tz) => {
                let a = b.finish();
                if *tz {
                    Arc::new(a.with_timezone("UTC"))
                } else {
                    Arc::new(a)
                }
            }
            ColumnBuilder::List {
                item,
                offsets,
                valid,
                child,
            } => {
                let values = child.finish()?;
                let offsets = OffsetBuffer::new(std::mem::replace(offsets, vec![0]).into());
                let nulls = NullBuffer::from(std::mem::take(valid));
                Arc::new(ListArray::try_new(
                    Arc::new(Field::new("item", item.clone(), true)),
                    offsets,
                    values,
                    Some(nulls),
                )?)
            }
        })
    }
}

pub fn new_builders(cols: &[ServerColumn], capacity: usize) -> Vec<ColumnBuilder> {
    cols.iter()
        .map(|c| ColumnBuilder::new(&c.kind, capacity))
        .collect()
}

pub fn finish_batch(
    schema: &SchemaRef,
    builders: &mut [ColumnBuilder],
    display: &str,
) -> Result<RecordBatch, IngestError> {
    let arrays = builders
        .iter_mut()
        .map(ColumnBuilder::finish)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| IngestError::arrow(display, e))?;
    RecordBatch::try_new(schema.clone(), arrays).map_err(|e| IngestError::arrow(display, e))
}

/// Parses a decimal text (`-12.345`, `1e3` is not accepted) into an i128 at `scale`.
pub fn parse_decimal(s: &str, scale: i8) -> Option<i128> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let scale = usize::try_from(scale).ok()?;
    let mut v: i128 = 0;
    for c in int.bytes() {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(i128::from(c - b'0'))?;
    }
    for i in 0..scale {
        let d = match frac.as_bytes().get(i) {
            Some(c) if c.is_ascii_digit() => i128::from(c - b'0'),
            Some(_) => return None,
            None => 0,
        };
        v = v.checked_mul(10)?.checked_add(d)?;
    }
    // Digits beyond the scale must be zeros: the column's scale says there are none.
    if frac.len() > scale && !frac.as_bytes()[scale..].iter().all(|c| *c == b'0') {
        return None;
    }
    Some(if neg { -v } else { v })
}

/// SQL string literal with single quotes doubled.
pub fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_everything_once() {
        assert_eq!(split_ranges(1, 10, 1), vec![(1, None)]);
        assert_eq!(
            split_ranges(1, 10, 3),
            vec![(1, Some(5)), (5, Some(9)), (9, None)]
        );
        assert_eq!(split_ranges(5, 6, 4), vec![(5, Some(6)), (6, None)]);
        assert_eq!(split_ranges(7, 3, 4), vec![(7, None)]);
        for n in 1..9 {
            let r = split_ranges(-3, 100, n);
            assert!(r.len() <= n);
            assert_eq!(r[0].0, -3);
            for w in r.windows(2) {
                assert_eq!(w[0].1, Some(w[1].0));
            }
            assert_eq!(r.last().map(|x| x.1), Some(None));
        }
    }

    #[test]
    fn decimals_parse_at_scale() {
        assert_eq!(parse_decimal("12.5", 2), Some(1250));
        assert_eq!(parse_decimal("-0.01", 2), Some(-1));
        assert_eq!(parse_decimal("7", 0), Some(7));
        assert_eq!(parse_decimal("1.230", 2), Some(123));
        assert_eq!(parse_decimal("1.235", 2), None);
        assert_eq!(parse_decimal("abc", 2), None);
    }
}
