//! PostgreSQL's binary COPY output → Arrow record batches, each column into its own builder.

use super::encode::{PG_EPOCH_DAYS, PG_EPOCH_MICROS};
use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, ListArray, NullBufferBuilder,
    RecordBatch, StringBuilder, Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef, TimeUnit};
use std::sync::Arc;
use tokio_postgres::types::{Kind as PgKind, Type};

/// Rows per record batch of a query's result.
const BATCH_ROWS: usize = 8192;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// How a PostgreSQL type is read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Bool,
    I16,
    I32,
    I64,
    F32,
    F64,
    /// numeric whose scale the statement states → Decimal128(38, scale)
    Decimal(i8),
    /// numeric of no stated scale → Float64
    NumericF64,
    Text,
    Jsonb,
    Uuid,
    Date,
    Timestamp,
    TimestampTz,
    Time,
    /// interval → Int64 microseconds, a month counted as 30 days (as PostgreSQL compares them)
    Interval,
    Bytea,
    List(Box<Kind>),
}

/// `None` for a type this module does not decode: the query casts it to text.
pub(crate) fn kind_of(ty: &Type, typmod: i32) -> Option<Kind> {
    Some(match *ty {
        Type::BOOL => Kind::Bool,
        Type::INT2 => Kind::I16,
        Type::INT4 => Kind::I32,
        Type::INT8 => Kind::I64,
        Type::FLOAT4 => Kind::F32,
        Type::FLOAT8 => Kind::F64,
        Type::NUMERIC => numeric_kind(typmod),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::JSON => Kind::Text,
        Type::JSONB => Kind::Jsonb,
        Type::UUID => Kind::Uuid,
        Type::DATE => Kind::Date,
        Type::TIMESTAMP => Kind::Timestamp,
        Type::TIMESTAMPTZ => Kind::TimestampTz,
        Type::TIME => Kind::Time,
        Type::INTERVAL => Kind::Interval,
        Type::BYTEA => Kind::Bytea,
        _ => match ty.kind() {
            PgKind::Array(item) => Kind::List(Box::new(kind_of(item, typmod)?)),
            // A domain is sent as its base type, an enum as its label.
            PgKind::Domain(base) => kind_of(base, typmod)?,
            PgKind::Enum(_) => Kind::Text,
            _ => return None,
        },
    })
}

/// numeric(p, s) has typmod ((p << 16) | s) + 4, s being 11 bits two's complement (PostgreSQL 15
/// allows negative scales).
fn numeric_kind(typmod: i32) -> Kind {
    if typmod < 4 {
        return Kind::NumericF64;
    }
    let t = typmod - 4;
    let precision = (t >> 16) & 0xffff;
    let scale = ((t & 0x7ff) ^ 0x400) - 0x400;
    match i8::try_from(scale) {
        Ok(s) if precision <= 38 && (-38..=38).contains(&s) => Kind::Decimal(s),
        _ => Kind::NumericF64,
    }
}

impl Kind {
    pub(crate) fn data_type(&self) -> DataType {
        match self {
            Kind::Bool => DataType::Boolean,
            Kind::I16 => DataType::Int16,
            Kind::I32 => DataType::Int32,
            Kind::I64 | Kind::Interval => DataType::Int64,
            Kind::F32 => DataType::Float32,
            Kind::F64 | Kind::NumericF64 => DataType::Float64,
            Kind::Decimal(s) => DataType::Decimal128(38, *s),
            Kind::Text | Kind::Jsonb | Kind::Uuid => DataType::Utf8,
            Kind::Date => DataType::Date32,
            Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            Kind::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Kind::Time => DataType::Time64(TimeUnit::Microsecond),
            Kind::Bytea => DataType::Binary,
            Kind::List(item) => {
                DataType::List(Arc::new(Field::new_list_field(item.data_type(), true)))
            }
        }
    }
}

enum Builder {
    Bool(BooleanBuilder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Decimal(Decimal128Builder, i8),
    NumericF64(Float64Builder),
    Text(StringBuilder),
    Jsonb(StringBuilder),
    Uuid(StringBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Time(Time64MicrosecondBuilder),
    Interval(Int64Builder),
    Bytea(BinaryBuilder),
    List {
        item: Box<Builder>,
        field: FieldRef,
        offsets: Vec<i32>,
        nulls: NullBufferBuilder,
    },
}

fn be<const N: usize>(v: &[u8]) -> Result<[u8; N], String> {
    v.try_into()
        .map_err(|_| format!("expected {N} bytes, got {}", v.len()))
}

fn utf8(v: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(v).map_err(|_| "text is not valid UTF-8".to_string())
}

impl Builder {
    fn new(kind: &Kind) -> Result<Builder, String> {
        Ok(match kind {
            Kind::Bool => Builder::Bool(BooleanBuilder::new()),
            Kind::I16 => Builder::I16(Int16Builder::new()),
            Kind::I32 => Builder::I32(Int32Builder::new()),
            Kind::I64 => Builder::I64(Int64Builder::new()),
            Kind::F32 => Builder::F32(Float32Builder::new()),
            Kind::F64 => Builder::F64(Float64Builder::new()),
            Kind::Decimal(s) => Builder::Decimal(
                Decimal128Builder::new()
                    .with_precision_and_scale(38, *s)
                    .map_err(|e| e.to_string())?,
                *s,
            ),
            Kind::NumericF64 => Builder::NumericF64(Float64Builder::new()),
            Kind::Text => Builder::Text(StringBuilder::new()),
            Kind::Jsonb => Builder::Jsonb(StringBuilder::new()),
            Kind::Uuid => Builder::Uuid(StringBuilder::new()),
            Kind::Date => Builder::Date(Date32Builder::new()),
            Kind::Timestamp => Builder::Timestamp(TimestampMicrosecondBuilder::new()),
            Kind::TimestampTz => {
                Builder::Timestamp(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            Kind::Time => Builder::Time(Time64MicrosecondBuilder::new()),
            Kind::Interval => Builder::Interval(Int64Builder::new()),
            Kind::Bytea => Builder::Bytea(BinaryBuilder::new()),
            Kind::List(item) => Builder::List {
                item: Box::new(Builder::new(item)?),
                field: Arc::new(Field::new_list_field(item.data_type(), true)),
                offsets: vec![0],
                nulls: NullBufferBuilder::new(0),
            },
        })
    }

    fn append_null(&mut self) {
        match self {
            Builder::Bool(b) => b.append_null(),
            Builder::I16(b) => b.append_null(),
            Builder::I32(b) => b.append_null(),
            Builder::I64(b) | Builder::Interval(b) => b.append_null(),
            Builder::F32(b) => b.append_null(),
            Builder::F64(b) | Builder::NumericF64(b) => b.append_null(),
            Builder::Decimal(b, _) => b.append_null(),
            Builder::Text(b) | Builder::Jsonb(b) | Builder::Uuid(b) => b.append_null(),
            Builder::Date(b) => b.append_null(),
            Builder::Timestamp(b) => b.append_null(),
            Builder::Time(b) => b.append_null(),
            Builder::Bytea(b) => b.append_null(),
            Builder::List { offsets, nulls, .. } => {
                offsets.push(offsets.last().copied().unwrap_or(0));
                nulls.append_null();
            }
        }
    }

    /// Appends one value in PostgreSQL's binary format.
    fn append(&mut self, v: &[u8]) -> Result<(), String> {
        match self {
            Builder::Bool(b) => b.append_value(be::<1>(v)?[0] != 0),
            Builder::I16(b) => b.append_value(i16::from_be_bytes(be(v)?)),
            Builder::I32(b) => b.append_value(i32::from_be_bytes(be(v)?)),
            Builder::I64(b) => b.append_value(i64::from_be_bytes(be(v)?)),
            Builder::F32(b) => b.append_value(f32::from_be_bytes(be(v)?)),
            Builder::F64(b) => b.append_value(f64::from_be_bytes(be(v)?)),
            Builder::Decimal(b, scale) => match numeric_i128(v, *scale)? {
                Some(x) => b.append_value(x),
                None => b.append_null(),
            },
            Builder::NumericF64(b) => b.append_value(numeric_f64(v)?),
            Builder::Text(b) => b.append_value(utf8(v)?),
            Builder::Jsonb(b) => match v.split_first() {
                Some((1, rest)) => b.append_value(utf8(rest)?),
                _ => return Err("unknown jsonb version".to_string()),
            },
            Builder::Uuid(b) => b.append_value(uuid(&be::<16>(v)?)),
            Builder::Date(b) => {
                let d = i32::from_be_bytes(be(v)?);
                // ±infinity have no calendar date.
                match d.checked_add(PG_EPOCH_DAYS) {
                    Some(d) if d != i32::MIN + PG_EPOCH_DAYS => b.append_value(d),
                    _ => b.append_null(),
                }
            }
            Builder::Timestamp(b) => {
                let t = i64::from_be_bytes(be(v)?);
                if t == i64::MAX || t == i64::MIN {
                    b.append_null()
                } else {
                    b.append_value(t.saturating_add(PG_EPOCH_MICROS))
                }
            }
            Builder::Time(b) => b.append_value(i64::from_be_bytes(be(v)?)),
            Builder::Interval(b) => {
                let v = be::<16>(v)?;
                let micros = i64::from_be_bytes([v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]]);
                let days = i64::from(i32::from_be_bytes([v[8], v[9], v[10], v[11]]));
                let months = i64::from(i32::from_be_bytes([v[12], v[13], v[14], v[15]]));
                let total = (days + 30 * months)
                    .checked_mul(MICROS_PER_DAY)
                    .and_then(|d| d.checked_add(micros))
                    .ok_or("interval out of the range of 64-bit microseconds")?;
                b.append_value(total)
            }
            Builder::Bytea(b) => b.append_value(v),
            Builder::List {
                item,
                offsets,
                nulls,
                ..
            } => {
                let n = array_into(item, v)?;
                let last = offsets.last().copied().unwrap_or(0);
                offsets.push(
                    last.checked_add(n)
                        .ok_or_else(|| "more list elements than a batch holds".to_string())?,
                );
                nulls.append_non_null();
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<ArrayRef, String> {
        Ok(match self {
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::I16(b) => Arc::new(b.finish()),
            Builder::I32(b) => Arc::new(b.finish()),
            Builder::I64(b) | Builder::Interval(b) => Arc::new(b.finish()),
            Builder::F32(b) => Arc::new(b.finish()),
            Builder::F64(b) | Builder::NumericF64(b) => Arc::new(b.finish()),
            Builder::Decimal(b, _) => Arc::new(b.finish()),
            Builder::Text(b) | Builder::Jsonb(b) | Builder::Uuid(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Timestamp(b) => Arc::new(b.finish()),
            Builder::Time(b) => Arc::new(b.finish()),
            Builder::Bytea(b) => Arc::new(b.finish()),
            Builder::List {
                item,
                field,
                offsets,
                nulls,
            } => {
                let values = item.finish()?;
                let offsets = OffsetBuffer::new(std::mem::replace(offsets, vec![0]).into());
                Arc::new(
                    ListArray::try_new(field.clone(), offsets, values, nulls.finish())
                        .map_err(|e| e.to_string())?,
                )
            }
        })
    }
}

/// A binary array's elements into `item`; returns how many. Several dimensions are flattened
/// in storage order.
fn array_into(item: &mut Builder, v: &[u8]) -> Result<i32, String> {
    let word = |at: usize| -> Result<i32, String> {
        v.get(at..at + 4)
            .map(|s| i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
            .ok_or_else(|| "truncated array".to_string())
    };
    let ndim = word(0)?;
    if ndim <= 0 {
        return Ok(0);
    }
    let mut count: i64 = 1;
    let mut at = 12;
    for _ in 0..ndim {
        count = count.saturating_mul(i64::from(word(at)?.max(0)));
        at += 8;
    }
    let count = i32::try_from(count).map_err(|_| "array too large".to_string())?;
    for _ in 0..count {
        let len = word(at)?;
        at += 4;
        if len < 0 {
            item.append_null();
        } else {
            let end = at + len as usize;
            item.append(v.get(at..end).ok_or("truncated array")?)?;
            at = end;
        }
    }
    Ok(count)
}

fn uuid(b: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(HEX[usize::from(byte >> 4)] as char);
        s.push(HEX[usize::from(byte & 0xf)] as char);
    }
    s
}

struct NumericParts<'a> {
    weight: i32,
    sign: u16,
    digits: &'a [u8],
}

const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

fn numeric_parts(v: &[u8]) -> Result<NumericParts<'_>, String> {
    let h = |i: usize| -> Result<u16, String> {
        v.get(i * 2..i * 2 + 2)
            .map(|s| u16::from_be_bytes([s[0], s[1]]))
            .ok_or_else(|| "truncated numeric".to_string())
    };
    let ndigits = usize::from(h(0)?);
    let digits = v
        .get(8..8 + 2 * ndigits)
        .ok_or_else(|| "truncated numeric".to_string())?;
    Ok(NumericParts {
        weight: i32::from(h(1)? as i16),
        sign: h(2)?,
        digits,
    })
}

fn digit(digits: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([digits[2 * i], digits[2 * i + 1]])
}

/// A binary numeric as an integer at `scale`; None for NaN and the infinities.
fn numeric_i128(v: &[u8], scale: i8) -> Result<Option<i128>, String> {
    let p = numeric_parts(v)?;
    if matches!(p.sign, NUMERIC_NAN | NUMERIC_PINF | NUMERIC_NINF) {
        return Ok(None);
    }
    let overflow = || "numeric value out of the range of Decimal128(38)".to_string();
    let mut out: i128 = 0;
    for i in 0..p.digits.len() / 2 {
        let d = i128::from(digit(p.digits, i));
        let e = 4 * (p.weight - i as i32) + i32::from(scale);
        if e >= 0 {
            let m = 10i128.checked_pow(e.unsigned_abs()).ok_or_else(overflow)?;
            out = d
                .checked_mul(m)
                .and_then(|x| out.checked_add(x))
                .ok_or_else(overflow)?;
        } else if e > -4 {
            let m = 10i128.pow(e.unsigned_abs());
            if d % m != 0 {
                return Err("more fractional digits than the column's scale".to_string());
            }
            out += d / m;
        } else if d != 0 {
            return Err("more fractional digits than the column's scale".to_string());
        }
    }
    Ok(Some(if p.sign == NUMERIC_NEG { -out } else { out }))
}

/// A binary numeric as the nearest double (through its decimal text, which parses exactly).
fn numeric_f64(v: &[u8]) -> Result<f64, String> {
    let p = numeric_parts(v)?;
    match p.sign {
        NUMERIC_NAN => return Ok(f64::NAN),
        NUMERIC_PINF => return Ok(f64::INFINITY),
        NUMERIC_NINF => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    let n = p.digits.len() / 2;
    if n == 0 {
        return Ok(0.0);
    }
    let mut s = String::with_capacity(8 + 4 * n);
    if p.sign == NUMERIC_NEG {
        s.push('-');
    }
    for i in 0..n {
        s.push_str(&format!("{:04}", digit(p.digits, i)));
    }
    // The digits are an integer times 10000^(weight - n + 1).
    s.push_str(&format!("e{}", 4 * (p.weight - n as i32 + 1)));
    s.parse::<f64>().map_err(|e| format!("numeric {s}: {e}"))
}

/// Reads a binary COPY stream that arrives in chunks of any size.
pub(crate) struct CopyReader {
    schema: SchemaRef,
    builders: Vec<Builder>,
    pending: Vec<u8>,
    header_done: bool,
    done: bool,
    in_batch: usize,
    batches: Vec<RecordBatch>,
}

impl CopyReader {
    pub(crate) fn new(names: &[String], kinds: &[Kind]) -> Result<Self, String> {
        let fields: Vec<Field> = names
            .iter()
            .zip(kinds)
            .map(|(n, k)| Field::new(n, k.data_type(), true))
            .collect();
        Ok(Self {
            schema: Arc::new(Schema::new(fields)),
            builders: kinds.iter().map(Builder::new).collect::<Result<_, _>>()?,
            pending: Vec::new(),
            header_done: false,
            done: false,
            in_batch: 0,
            batches: Vec::new(),
        })
    }

    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<(), String> {
        if self.pending.is_empty() {
            let used = self.parse(chunk)?;
            self.pending.extend_from_slice(&chunk[used..]);
        } else {
            let mut data = std::mem::take(&mut self.pending);
            data.extend_from_slice(chunk);
            let used = self.parse(&data)?;
            data.drain(..used);
            self.pending = data;
        }
        Ok(())
    }

    /// Decodes the complete rows at the start of `data`; returns the bytes used.
    fn parse(&mut self, data: &[u8]) -> Result<usize, String> {
        let mut at = 0;
        if !self.header_done {
            if data.len() < 19 {
                return Ok(0);
            }
            if &data[..11] != b"PGCOPY\n\xff\r\n\0" {
                return Err("not a binary COPY stream".to_string());
            }
            let ext = u32::from_be_bytes([data[15], data[16], data[17], data[18]]) as usize;
            if data.len() < 19 + ext {
                return Ok(0);
            }
            at = 19 + ext;
            self.header_done = true;
        }
        while !self.done {
            let rest = &data[at..];
            let Some(row_len) = complete_row(rest)? else {
                break;
            };
            let count = i16::from_be_bytes([rest[0], rest[1]]);
            if count == -1 {
                self.done = true;
                at += 2;
                break;
            }
            if usize::try_from(count).ok() != Some(self.builders.len()) {
                return Err(format!(
                    "a row has {count} fields, the query {} columns",
                    self.builders.len()
                ));
            }
            let mut p = 2;
            for (i, b) in self.builders.iter_mut().enumerate() {
                let len = i32::from_be_bytes([rest[p], rest[p + 1], rest[p + 2], rest[p + 3]]);
                p += 4;
                if len < 0 {
                    b.append_null();
                } else {
                    let end = p + len as usize;
                    b.append(&rest[p..end])
                        .map_err(|m| format!("column {}: {m}", self.schema.field(i).name()))?;
                    p = end;
                }
            }
            at += row_len;
            self.in_batch += 1;
            if self.in_batch == BATCH_ROWS {
                self.flush()?;
            }
        }
        Ok(at)
    }

    fn flush(&mut self) -> Result<(), String> {
        let columns = self
            .builders
            .iter_mut()
            .map(Builder::finish)
            .collect::<Result<Vec<_>, _>>()?;
        let batch =
            RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| e.to_string())?;
        self.batches.push(batch);
        self.in_batch = 0;
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Result<Vec<RecordBatch>, String> {
        if !self.done {
            return Err("the COPY stream ended before its trailer".to_string());
        }
        if self.in_batch > 0 || self.batches.is_empty() {
            self.flush()?;
        }
        Ok(self.batches)
    }
}

/// The length of the row (or trailer) at the start of `data`, `None` when it is incomplete.
fn complete_row(data: &[u8]) -> Result<Option<usize>, String> {
    if data.len() < 2 {
        return Ok(None);
    }
    let count = i16::from_be_bytes([data[0], data[1]]);
    if count == -1 {
        return Ok(Some(2));
    }
    let mut p = 2;
    for _ in 0..count.max(0) {
        let Some(len) = data.get(p..p + 4) else {
            return Ok(None);
        };
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        p += 4;
        if len > 0 {
            p += len as usize;
        } else if len < -1 {
            return Err(format!("a field of length {len}"));
        }
    }
    Ok((p <= data.len()).then_some(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::encode::put_numeric;

    #[test]
    fn numeric_round_trips() {
        for (v, s) in [
            (1_234_567i128, 2i8),
            (-50, 2),
            (0, 4),
            (1, 5),
            (123, -2),
            (10_000, 0),
            (i128::MAX / 10, 10),
            (-99_999_999_999_999_999_999_999_999_999_999_999, 38),
        ] {
            let mut b = Vec::new();
            put_numeric(&mut b, v, s);
            assert_eq!(numeric_i128(&b, s), Ok(Some(v)), "{v} at {s}");
        }
        let mut b = Vec::new();
        put_numeric(&mut b, -1_234_567, 2);
        assert_eq!(numeric_f64(&b), Ok(-12345.67));
        assert_eq!(numeric_kind(-1), Kind::NumericF64);
        assert_eq!(numeric_kind((12 << 16 | 2) + 4), Kind::Decimal(2));
        assert_eq!(uuid(&[0xab; 16]), "abababab-abab-abab-abab-abababababab");
    }
}
