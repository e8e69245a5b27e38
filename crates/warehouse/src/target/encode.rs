//! Arrow record batches → PostgreSQL's binary COPY format, a column at a time.
//!
//! The format is row-major (per row a field count, per field a length and the value), but the
//! encoder works on whole columns: one pass adds every column's field sizes to the row sizes, so
//! each row's place in the output is known; a second pass writes each column into its rows. The
//! inner loops then run over one typed array each, without a type dispatch per value.

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, DurationMicrosecondType,
    DurationMillisecondType, DurationNanosecondType, DurationSecondType, Float16Type, Float32Type,
    Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, IntervalDayTimeType,
    IntervalMonthDayNanoType, IntervalUnit, IntervalYearMonthType, Time32MillisecondType,
    Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use bytes::BytesMut;
use std::borrow::Cow;
use std::io::Write;
use tokio_postgres::types::Type;

/// 2000-01-01, PostgreSQL's epoch, in days and microseconds after 1970-01-01.
pub(crate) const PG_EPOCH_DAYS: i32 = 10_957;
pub(crate) const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

pub(crate) const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
pub(crate) const COPY_TRAILER: &[u8] = &[0xff, 0xff];

/// What an Arrow column becomes in PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pg {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric {
        precision: u32,
        scale: u32,
    },
    Text,
    Bytea,
    Date,
    Timestamp,
    Timestamptz,
    Time,
    Interval,
    Array(Box<Pg>),
    /// No native counterpart: text, each value written with Arrow's display formatting.
    Display,
}

impl Pg {
    pub(crate) fn of(dt: &DataType) -> Pg {
        match dt {
            DataType::Boolean => Pg::Bool,
            DataType::Int8 | DataType::Int16 => Pg::Int2,
            DataType::Int32 | DataType::UInt8 | DataType::UInt16 => Pg::Int4,
            DataType::Int64 | DataType::UInt32 => Pg::Int8,
            DataType::UInt64 => Pg::Numeric {
                precision: 20,
                scale: 0,
            },
            DataType::Float16 | DataType::Float32 => Pg::Float4,
            DataType::Float64 => Pg::Float8,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Pg::Text,
            DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_) => Pg::Bytea,
            DataType::Date32 | DataType::Date64 => Pg::Date,
            DataType::Timestamp(_, None) => Pg::Timestamp,
            DataType::Timestamp(_, Some(_)) => Pg::Timestamptz,
            DataType::Time32(_) | DataType::Time64(_) => Pg::Time,
            DataType::Duration(_) | DataType::Interval(_) => Pg::Interval,
            DataType::Decimal128(p, s) => {
                let (p, s) = (i32::from(*p), i32::from(*s));
                // A negative scale (values are multiples of 10^-s) becomes an integer numeric
                // wide enough for the zeros: PostgreSQL before 15 has no negative scales.
                let (precision, scale) = if s >= 0 { (p.max(s), s) } else { (p - s, 0) };
                Pg::Numeric {
                    precision: precision.clamp(1, 1000).unsigned_abs(),
                    scale: scale.unsigned_abs(),
                }
            }
            DataType::Dictionary(_, values) => Pg::of(values),
            DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
                match Pg::of(item.data_type()) {
                    // PostgreSQL's arrays are rectangular and of a base type: nested lists and
                    // lists of displayed values stay text.
                    Pg::Array(_) | Pg::Display => Pg::Display,
                    item => Pg::Array(Box::new(item)),
                }
            }
            _ => Pg::Display,
        }
    }

    pub(crate) fn sql(&self) -> String {
        match self {
            Pg::Bool => "boolean".into(),
            Pg::Int2 => "smallint".into(),
            Pg::Int4 => "integer".into(),
            Pg::Int8 => "bigint".into(),
            Pg::Float4 => "real".into(),
            Pg::Float8 => "double precision".into(),
            Pg::Numeric { precision, scale } => format!("numeric({precision},{scale})"),
            Pg::Text | Pg::Display => "text".into(),
            Pg::Bytea => "bytea".into(),
            Pg::Date => "date".into(),
            Pg::Timestamp => "timestamp".into(),
            Pg::Timestamptz => "timestamptz".into(),
            Pg::Time => "time".into(),
            Pg::Interval => "interval".into(),
            Pg::Array(item) => format!("{}[]", item.sql()),
        }
    }

    pub(crate) fn oid(&self) -> u32 {
        let t = match self {
            Pg::Bool => Type::BOOL,
            Pg::Int2 => Type::INT2,
            Pg::Int4 => Type::INT4,
            Pg::Int8 => Type::INT8,
            Pg::Float4 => Type::FLOAT4,
            Pg::Float8 => Type::FLOAT8,
            Pg::Numeric { .. } => Type::NUMERIC,
            Pg::Text | Pg::Display => Type::TEXT,
            Pg::Bytea => Type::BYTEA,
            Pg::Date => Type::DATE,
            Pg::Timestamp => Type::TIMESTAMP,
            Pg::Timestamptz => Type::TIMESTAMPTZ,
            Pg::Time => Type::TIME,
            Pg::Interval => Type::INTERVAL,
            Pg::Array(item) => {
                return match item.as_ref() {
                    Pg::Bool => Type::BOOL_ARRAY,
                    Pg::Int2 => Type::INT2_ARRAY,
                    Pg::Int4 => Type::INT4_ARRAY,
                    Pg::Int8 => Type::INT8_ARRAY,
                    Pg::Float4 => Type::FLOAT4_ARRAY,
                    Pg::Float8 => Type::FLOAT8_ARRAY,
                    Pg::Numeric { .. } => Type::NUMERIC_ARRAY,
                    Pg::Text | Pg::Display => Type::TEXT_ARRAY,
                    Pg::Bytea => Type::BYTEA_ARRAY,
                    Pg::Date => Type::DATE_ARRAY,
                    Pg::Timestamp => Type::TIMESTAMP_ARRAY,
                    Pg::Timestamptz => Type::TIMESTAMPTZ_ARRAY,
                    Pg::Time => Type::TIME_ARRAY,
                    Pg::Interval => Type::INTERVAL_ARRAY,
                    Pg::Array(_) => Type::TEXT,
                }
                .oid();
            }
        };
        t.oid()
    }
}

/// One column of a batch, ready to be written: each row's value bytes, or null.
struct Column<'a> {
    values: Values<'a>,
    nulls: Option<NullBuffer>,
}

enum Values<'a> {
    /// Row `i` is `data[i * width..(i + 1) * width]`.
    Fixed {
        width: usize,
        data: Vec<u8>,
    },
    /// Row `i` is `data[offsets[i]..offsets[i + 1]]`.
    Var {
        data: Cow<'a, [u8]>,
        offsets: Cow<'a, [i64]>,
    },
    AllNull,
}

/// Appends the rows of `batch` to `out`.
pub(crate) fn encode_batch(batch: &RecordBatch, out: &mut BytesMut) -> Result<(), String> {
    let rows = batch.num_rows();
    let fields = i16::try_from(batch.num_columns())
        .map_err(|_| format!("{} columns are too many", batch.num_columns()))?;
    // Dictionaries are written as their values; casting first lets the columns borrow.
    let arrays = batch
        .columns()
        .iter()
        .map(|a| match a.data_type() {
            DataType::Dictionary(_, values) => arrow::compute::cast(a, values)
                .map_err(|e| format!("decoding a dictionary column: {e}")),
            _ => Ok(a.clone()),
        })
        .collect::<Result<Vec<ArrayRef>, String>>()?;
    let mut columns = Vec::with_capacity(arrays.len());
    for (array, field) in arrays.iter().zip(batch.schema().fields()) {
        columns.push(column(array.as_ref()).map_err(|m| format!("column {}: {m}", field.name()))?);
    }
    let mut sizes = vec![2usize; rows];
    for (c, field) in columns.iter().zip(batch.schema().fields()) {
        c.add_sizes(&mut sizes)
            .map_err(|m| format!("column {}: {m}", field.name()))?;
    }
    let total: usize = sizes.iter().sum();
    let start = out.len();
    out.resize(start + total, 0);
    let buf = &mut out[start..];
    let mut pos = Vec::with_capacity(rows);
    let mut at = 0;
    for size in &sizes {
        buf[at..at + 2].copy_from_slice(&fields.to_be_bytes());
        pos.push(at + 2);
        at += size;
    }
    for c in &columns {
        c.write(buf, &mut pos);
    }
    Ok(())
}

impl Column<'_> {
    fn is_null(&self, i: usize) -> bool {
        self.nulls.as_ref().is_some_and(|n| n.is_null(i))
    }

    fn add_sizes(&self, sizes: &mut [usize]) -> Result<(), String> {
        match &self.values {
            Values::Fixed { width, .. } => {
                for (i, s) in sizes.iter_mut().enumerate() {
                    *s += if self.is_null(i) { 4 } else { 4 + width };
                }
            }
            Values::Var { offsets, .. } => {
                for (i, s) in sizes.iter_mut().enumerate() {
                    let len = offsets[i + 1] - offsets[i];
                    if len > i64::from(i32::MAX) {
                        return Err(format!(
                            "a value of {len} bytes is too large for PostgreSQL"
                        ));
                    }
                    *s += if self.is_null(i) { 4 } else { 4 + len as usize };
                }
            }
            Values::AllNull => sizes.iter_mut().for_each(|s| *s += 4),
        }
        Ok(())
    }

    /// Writes row `i`'s field at `pos[i]` and moves `pos[i]` past it.
    fn write(&self, buf: &mut [u8], pos: &mut [usize]) {
        const NULL: [u8; 4] = (-1i32).to_be_bytes();
        match &self.values {
            Values::Fixed { width, data } => {
                let w = *width;
                let len = (w as i32).to_be_bytes();
                for (i, p) in pos.iter_mut().enumerate() {
                    let at = *p;
                    if self.is_null(i) {
                        buf[at..at + 4].copy_from_slice(&NULL);
                        *p += 4;
                    } else {
                        buf[at..at + 4].copy_from_slice(&len);
                        buf[at + 4..at + 4 + w].copy_from_slice(&data[i * w..(i + 1) * w]);
                        *p += 4 + w;
                    }
                }
            }
            Values::Var { data, offsets } => {
                for (i, p) in pos.iter_mut().enumerate() {
                    let at = *p;
                    if self.is_null(i) {
                        buf[at..at + 4].copy_from_slice(&NULL);
                        *p += 4;
                    } else {
                        let (s, e) = (offsets[i] as usize, offsets[i + 1] as usize);
                        let len = e - s;
                        buf[at..at + 4].copy_from_slice(&(len as i32).to_be_bytes());
                        buf[at + 4..at + 4 + len].copy_from_slice(&data[s..e]);
                        *p += 4 + len;
                    }
                }
            }
            Values::AllNull => {
                for p in pos.iter_mut() {
                    buf[*p..*p + 4].copy_from_slice(&NULL);
                    *p += 4;
                }
            }
        }
    }
}

fn fixed<T: Copy, const N: usize>(values: &[T], f: impl Fn(T) -> [u8; N]) -> Values<'static> {
    let mut data = vec![0u8; values.len() * N];
    for (d, v) in data.chunks_exact_mut(N).zip(values) {
        d.copy_from_slice(&f(*v));
    }
    Values::Fixed { width: N, data }
}

/// Like [`fixed`] for conversions that can overflow; a null row's slot holds anything, so only
/// a valid row's overflow is an error.
fn fixed_checked<T: Copy + std::fmt::Debug, const N: usize>(
    values: &[T],
    nulls: Option<&NullBuffer>,
    what: &str,
    f: impl Fn(T) -> Option<[u8; N]>,
) -> Result<Values<'static>, String> {
    let mut data = vec![0u8; values.len() * N];
    for (i, (d, v)) in data.chunks_exact_mut(N).zip(values).enumerate() {
        match f(*v) {
            Some(b) => d.copy_from_slice(&b),
            None if nulls.is_some_and(|n| n.is_null(i)) => {}
            None => return Err(format!("{v:?} is out of PostgreSQL's {what} range")),
        }
    }
    Ok(Values::Fixed { width: N, data })
}

fn micros(v: i64, unit: &TimeUnit) -> Option<i64> {
    match unit {
        TimeUnit::Second => v.checked_mul(1_000_000),
        TimeUnit::Millisecond => v.checked_mul(1_000),
        TimeUnit::Microsecond => Some(v),
        TimeUnit::Nanosecond => Some(v.div_euclid(1_000)),
    }
}

fn interval(micros: i64, days: i32, months: i32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&micros.to_be_bytes());
    b[8..12].copy_from_slice(&days.to_be_bytes());
    b[12..].copy_from_slice(&months.to_be_bytes());
    b
}

/// Var-width values built here, each appended by `put` (which may append nothing for a null).
fn owned(
    len: usize,
    nulls: Option<&NullBuffer>,
    mut put: impl FnMut(usize, &mut Vec<u8>) -> Result<(), String>,
) -> Result<Values<'static>, String> {
    let mut data = Vec::new();
    let mut offsets = Vec::with_capacity(len + 1);
    offsets.push(0i64);
    for i in 0..len {
        if !nulls.is_some_and(|n| n.is_null(i)) {
            put(i, &mut data)?;
        }
        offsets.push(data.len() as i64);
    }
    Ok(Values::Var {
        data: Cow::Owned(data),
        offsets: Cow::Owned(offsets),
    })
}

fn var_i32<'a>(data: &'a [u8], offsets: &[i32]) -> Values<'a> {
    Values::Var {
        data: Cow::Borrowed(data),
        offsets: Cow::Owned(offsets.iter().map(|&o| i64::from(o)).collect()),
    }
}

fn column(array: &dyn Array) -> Result<Column<'_>, String> {
    let nulls = array.logical_nulls();
    let n = nulls.as_ref();
    let len = array.len();
    let values = match array.data_type() {
        DataType::Null => Values::AllNull,
        DataType::Boolean => {
            let a = array.as_boolean();
            Values::Fixed {
                width: 1,
                data: (0..len).map(|i| u8::from(a.value(i))).collect(),
            }
        }
        DataType::Int8 => fixed(array.as_primitive::<Int8Type>().values(), |v| {
            i16::from(v).to_be_bytes()
        }),
        DataType::Int16 => fixed(array.as_primitive::<Int16Type>().values(), i16::to_be_bytes),
        DataType::Int32 => fixed(array.as_primitive::<Int32Type>().values(), i32::to_be_bytes),
        DataType::Int64 => fixed(array.as_primitive::<Int64Type>().values(), i64::to_be_bytes),
        DataType::UInt8 => fixed(array.as_primitive::<UInt8Type>().values(), |v| {
            i32::from(v).to_be_bytes()
        }),
        DataType::UInt16 => fixed(array.as_primitive::<UInt16Type>().values(), |v| {
            i32::from(v).to_be_bytes()
        }),
        DataType::UInt32 => fixed(array.as_primitive::<UInt32Type>().values(), |v| {
            i64::from(v).to_be_bytes()
        }),
        DataType::UInt64 => {
            let a = array.as_primitive::<UInt64Type>();
            owned(len, n, |i, out| {
                put_numeric(out, i128::from(a.value(i)), 0);
                Ok(())
            })?
        }
        DataType::Float16 => fixed(array.as_primitive::<Float16Type>().values(), |v| {
            v.to_f32().to_be_bytes()
        }),
        DataType::Float32 => fixed(
            array.as_primitive::<Float32Type>().values(),
            f32::to_be_bytes,
        ),
        DataType::Float64 => fixed(
            array.as_primitive::<Float64Type>().values(),
            f64::to_be_bytes,
        ),
        DataType::Decimal128(_, scale) => {
            let a = array.as_primitive::<Decimal128Type>();
            let scale = *scale;
            owned(len, n, |i, out| {
                put_numeric(out, a.value(i), scale);
                Ok(())
            })?
        }
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            var_i32(a.value_data(), a.value_offsets())
        }
        DataType::LargeUtf8 => {
            let a = array.as_string::<i64>();
            Values::Var {
                data: Cow::Borrowed(a.value_data()),
                offsets: Cow::Borrowed(a.value_offsets()),
            }
        }
        DataType::Utf8View => {
            let a = array.as_string_view();
            owned(len, n, |i, out| {
                out.extend_from_slice(a.value(i).as_bytes());
                Ok(())
            })?
        }
        DataType::Binary => {
            let a = array.as_binary::<i32>();
            var_i32(a.value_data(), a.value_offsets())
        }
        DataType::LargeBinary => {
            let a = array.as_binary::<i64>();
            Values::Var {
                data: Cow::Borrowed(a.value_data()),
                offsets: Cow::Borrowed(a.value_offsets()),
            }
        }
        DataType::BinaryView => {
            let a = array.as_binary_view();
            owned(len, n, |i, out| {
                out.extend_from_slice(a.value(i));
                Ok(())
            })?
        }
        DataType::FixedSizeBinary(_) => {
            let a = array.as_fixed_size_binary();
            owned(len, n, |i, out| {
                out.extend_from_slice(a.value(i));
                Ok(())
            })?
        }
        DataType::Date32 => fixed_checked(
            array.as_primitive::<Date32Type>().values(),
            n,
            "date",
            |v| v.checked_sub(PG_EPOCH_DAYS).map(i32::to_be_bytes),
        )?,
        DataType::Date64 => fixed_checked(
            array.as_primitive::<Date64Type>().values(),
            n,
            "date",
            |v| {
                let days = v.div_euclid(86_400_000) - i64::from(PG_EPOCH_DAYS);
                i32::try_from(days).ok().map(i32::to_be_bytes)
            },
        )?,
        DataType::Timestamp(unit, _) => {
            let to_pg = |v: i64| {
                micros(v, unit)
                    .and_then(|m| m.checked_sub(PG_EPOCH_MICROS))
                    .map(i64::to_be_bytes)
            };
            let values: &[i64] = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().values(),
                TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().values(),
                TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().values(),
                TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().values(),
            };
            fixed_checked(values, n, "timestamp", to_pg)?
        }
        DataType::Time32(unit) => {
            let values: &[i32] = match unit {
                TimeUnit::Millisecond => array.as_primitive::<Time32MillisecondType>().values(),
                _ => array.as_primitive::<Time32SecondType>().values(),
            };
            fixed_checked(values, n, "time", |v| {
                micros(i64::from(v), unit).map(i64::to_be_bytes)
            })?
        }
        DataType::Time64(unit) => {
            let values: &[i64] = match unit {
                TimeUnit::Nanosecond => array.as_primitive::<Time64NanosecondType>().values(),
                _ => array.as_primitive::<Time64MicrosecondType>().values(),
            };
            fixed_checked(values, n, "time", |v| micros(v, unit).map(i64::to_be_bytes))?
        }
        DataType::Duration(unit) => {
            let values: &[i64] = match unit {
                TimeUnit::Second => array.as_primitive::<DurationSecondType>().values(),
                TimeUnit::Millisecond => array.as_primitive::<DurationMillisecondType>().values(),
                TimeUnit::Microsecond => array.as_primitive::<DurationMicrosecondType>().values(),
                TimeUnit::Nanosecond => array.as_primitive::<DurationNanosecondType>().values(),
            };
            fixed_checked(values, n, "interval", |v| {
                micros(v, unit).map(|m| interval(m, 0, 0))
            })?
        }
        DataType::Interval(IntervalUnit::YearMonth) => fixed(
            array.as_primitive::<IntervalYearMonthType>().values(),
            |months| interval(0, 0, months),
        ),
        DataType::Interval(IntervalUnit::DayTime) => {
            fixed(array.as_primitive::<IntervalDayTimeType>().values(), |v| {
                interval(i64::from(v.milliseconds) * 1_000, v.days, 0)
            })
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => fixed(
            array.as_primitive::<IntervalMonthDayNanoType>().values(),
            |v| interval(v.nanoseconds / 1_000, v.days, v.months),
        ),
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
            if matches!(Pg::of(array.data_type()), Pg::Array(_)) =>
        {
            list(array, n)?
        }
        _ => {
            let format = FormatOptions::default();
            let formatter = ArrayFormatter::try_new(array, &format).map_err(|e| e.to_string())?;
            owned(len, n, |i, out| {
                write!(out, "{}", formatter.value(i)).map_err(|e| e.to_string())
            })?
        }
    };
    Ok(Column { values, nulls })
}

/// Each row's list as a one-dimensional PostgreSQL array (binary: dimensions, a has-null flag,
/// the element type, size and lower bound of the dimension, then the elements as fields).
fn list<'a>(array: &'a dyn Array, nulls: Option<&NullBuffer>) -> Result<Values<'a>, String> {
    let (items, ranges): (&ArrayRef, Vec<(usize, usize)>) = match array.data_type() {
        DataType::List(_) => {
            let a = array.as_list::<i32>();
            let o = a.value_offsets();
            let r = o.windows(2).map(|w| (w[0] as usize, w[1] as usize));
            (a.values(), r.collect())
        }
        DataType::LargeList(_) => {
            let a = array.as_list::<i64>();
            let o = a.value_offsets();
            let r = o.windows(2).map(|w| (w[0] as usize, w[1] as usize));
            (a.values(), r.collect())
        }
        _ => {
            let a = array.as_fixed_size_list();
            let size = a.value_length() as usize;
            let r = (0..a.len()).map(|i| {
                let s = a.value_offset(i) as usize;
                (s, s + size)
            });
            (a.values(), r.collect())
        }
    };
    let element = Pg::of(items.data_type()).oid();
    // Every element as a field (length and value), laid end to end.
    let items = match items.data_type() {
        DataType::Dictionary(_, values) => {
            arrow::compute::cast(items, values).map_err(|e| e.to_string())?
        }
        _ => items.clone(),
    };
    let col = column(items.as_ref())?;
    let mut sizes = vec![0usize; items.len()];
    col.add_sizes(&mut sizes)?;
    let mut ends = Vec::with_capacity(sizes.len());
    let mut pos = Vec::with_capacity(sizes.len());
    let mut at = 0;
    for s in &sizes {
        pos.push(at);
        at += s;
        ends.push(at);
    }
    let mut fields = vec![0u8; at];
    col.write(&mut fields, &mut pos);
    let start_of = |i: usize| if i == 0 { 0 } else { ends[i - 1] };
    owned(array.len(), nulls, |row, out| {
        let (s, e) = ranges[row];
        let count = i32::try_from(e - s).map_err(|_| "a list is too long".to_string())?;
        if count == 0 {
            out.extend_from_slice(&0i32.to_be_bytes());
            out.extend_from_slice(&0i32.to_be_bytes());
            out.extend_from_slice(&element.to_be_bytes());
            return Ok(());
        }
        let has_null = (s..e).any(|i| col.is_null(i));
        out.extend_from_slice(&1i32.to_be_bytes());
        out.extend_from_slice(&i32::from(has_null).to_be_bytes());
        out.extend_from_slice(&element.to_be_bytes());
        out.extend_from_slice(&count.to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
        out.extend_from_slice(&fields[start_of(s)..ends[e - 1]]);
        Ok(())
    })
}

/// A decimal (`v` × 10^-`scale`) in PostgreSQL's binary numeric: digit count, weight (the power
/// of 10000 of the first digit), sign, display scale, then base-10000 digits, most significant
/// first, without leading or trailing zero digits.
pub(crate) fn put_numeric(out: &mut Vec<u8>, v: i128, scale: i8) {
    let mut abs = v.unsigned_abs();
    // Base-10000 digits, least significant first, the first at power `low` of 10000. Digit
    // boundaries must fall on the decimal point, so a scale that is not a multiple of 4 makes
    // the lowest digit partial.
    let mut digits = [0u16; 16];
    let mut count = 0;
    let scale = i32::from(scale);
    let mut low = if scale >= 0 {
        -((scale + 3) / 4)
    } else {
        -scale / 4
    };
    let partial = if scale >= 0 {
        scale % 4
    } else {
        4 - (-scale) % 4
    };
    if partial != 0 && partial != 4 && abs != 0 {
        let cut = 10u128.pow(partial.unsigned_abs());
        let fill = 10u128.pow(4 - partial.unsigned_abs());
        digits[0] = ((abs % cut) * fill) as u16;
        abs /= cut;
        count = 1;
    }
    while abs != 0 {
        digits[count] = (abs % 10_000) as u16;
        abs /= 10_000;
        count += 1;
    }
    let mut first = 0;
    while first < count && digits[first] == 0 {
        first += 1;
        low += 1;
    }
    let used = &digits[first..count];
    let weight = if used.is_empty() {
        0
    } else {
        low + used.len() as i32 - 1
    };
    let sign: u16 = if v < 0 { 0x4000 } else { 0 };
    out.extend_from_slice(&(used.len() as i16).to_be_bytes());
    out.extend_from_slice(&(weight as i16).to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&(scale.max(0) as u16).to_be_bytes());
    for d in used.iter().rev() {
        out.extend_from_slice(&d.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(v: i128, scale: i8) -> Vec<u8> {
        let mut out = Vec::new();
        put_numeric(&mut out, v, scale);
        out
    }

    #[test]
    fn numeric_binary() {
        // 12345.67: 3 digits, weight 1, +, dscale 2: 1 2345 6700
        assert_eq!(
            numeric(1_234_567, 2),
            [0, 3, 0, 1, 0, 0, 0, 2, 0, 1, 0x09, 0x29, 0x1a, 0x2c]
        );
        // -0.5 at scale 2: weight -1, digit 5000
        assert_eq!(
            numeric(-50, 2),
            [0, 1, 0xff, 0xff, 0x40, 0, 0, 2, 0x13, 0x88]
        );
        assert_eq!(numeric(0, 3), [0, 0, 0, 0, 0, 0, 0, 3]);
        // 0.00001 at scale 5: weight -2, digit 1000
        assert_eq!(numeric(1, 5), [0, 1, 0xff, 0xfe, 0, 0, 0, 5, 0x03, 0xe8]);
        // 12300 (123 at scale -2): weight 1, digits 1 2300
        assert_eq!(numeric(123, -2), [0, 2, 0, 1, 0, 0, 0, 0, 0, 1, 0x08, 0xfc]);
        // 10000 at scale 0: trailing zero digit dropped, weight 1
        assert_eq!(numeric(10_000, 0), [0, 1, 0, 1, 0, 0, 0, 0, 0, 1]);
        // i128::MIN does not overflow
        assert_eq!(numeric(i128::MIN, 0)[4..6], [0x40, 0]);
    }
}
