//! SQLite tables, opened read-only and streamed in batches. Column types come from the declared
//! types (SQLite itself stores whatever it is given), so a value that does not fit its declared
//! type is an error naming the row rather than a silently different column type.

use crate::{IngestError, Sink};
use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder,
    RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::NaiveDate;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

/// A column as declared in the table and the Arrow type it lands as.
#[derive(Debug, Clone, PartialEq)]
pub struct SqliteColumn {
    pub name: String,
    pub declared_type: String,
    pub data_type: DataType,
    /// Position in the primary key (1-based), 0 if not part of it.
    pub pk: i64,
}

/// The Arrow type for a declared SQLite column type.
pub fn arrow_type(declared: &str) -> DataType {
    let base = declared
        .split('(')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    match base.as_str() {
        "INTEGER" | "INT" | "BIGINT" | "SMALLINT" | "TINYINT" | "MEDIUMINT" | "INT2" | "INT8"
        | "UNSIGNED BIG INT" => DataType::Int64,
        "REAL" | "DOUBLE" | "DOUBLE PRECISION" | "FLOAT" | "NUMERIC" | "DECIMAL" => {
            DataType::Float64
        }
        "TIMESTAMP" | "DATETIME" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "DATE" => DataType::Date32,
        "BOOLEAN" | "BOOL" => DataType::Boolean,
        "BLOB" => DataType::Binary,
        _ => DataType::Utf8,
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    b.iter().try_fold(0u32, |acc, d| {
        acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })
}

/// 'YYYY-MM-DD'.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = i32::try_from(digits(&b[0..4])?).ok()?;
    NaiveDate::from_ymd_opt(y, digits(&b[5..7])?, digits(&b[8..10])?)
}

/// Days since 1970-01-01 of a 'YYYY-MM-DD' text.
pub fn parse_date_days(s: &str) -> Option<i32> {
    // 719_163 days separate 0001-01-01 (CE day 1) from the Unix epoch.
    parse_date(s).map(|d| chrono::Datelike::num_days_from_ce(&d) - 719_163)
}

/// Microseconds since the epoch of 'YYYY-MM-DD HH:MM[:SS[.fraction]]', with 'T' accepted for the
/// space and a trailing 'Z' ignored (SQLite's own datetime() output is UTC without zone). A bare
/// date is midnight.
pub fn parse_timestamp_micros(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = s.strip_suffix('Z').unwrap_or(s);
    let b = s.as_bytes();
    let date = parse_date(s.get(..10)?)?;
    if b.len() == 10 {
        return Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros());
    }
    if b[10] != b' ' && b[10] != b'T' {
        return None;
    }
    let t = &b[11..];
    if t.len() < 5 || t[2] != b':' {
        return None;
    }
    let h = digits(&t[0..2])?;
    let m = digits(&t[3..5])?;
    let mut sec = 0;
    let mut micros = 0;
    let rest = &t[5..];
    if !rest.is_empty() {
        if rest.len() < 3 || rest[0] != b':' {
            return None;
        }
        sec = digits(&rest[1..3])?;
        let frac = &rest[3..];
        if !frac.is_empty() {
            if frac[0] != b'.' || frac.len() < 2 || frac.len() > 10 {
                return None;
            }
            let f = &frac[1..];
            digits(f)?;
            // Pad or cut to six digits: finer than microseconds is dropped.
            let mut us = 0u32;
            for i in 0..6 {
                us = us * 10 + f.get(i).map_or(0, |d| u32::from(d - b'0'));
            }
            micros = us;
        }
    }
    Some(
        date.and_hms_micro_opt(h, m, sec, micros)?
            .and_utc()
            .timestamp_micros(),
    )
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Text of a value for messages and watermarks.
fn value_text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Some(hex::encode(b)),
    }
}

enum Builder {
    Int(Int64Builder),
    Float(Float64Builder),
    Text(StringBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    Date(Date32Builder),
    Bool(BooleanBuilder),
    Binary(BinaryBuilder),
}

impl Builder {
    fn new(t: &DataType, capacity: usize) -> Builder {
        match t {
            DataType::Int64 => Builder::Int(Int64Builder::with_capacity(capacity)),
            DataType::Float64 => Builder::Float(Float64Builder::with_capacity(capacity)),
            DataType::Timestamp(..) => {
                Builder::Timestamp(TimestampMicrosecondBuilder::with_capacity(capacity))
            }
            DataType::Date32 => Builder::Date(Date32Builder::with_capacity(capacity)),
            DataType::Boolean => Builder::Bool(BooleanBuilder::with_capacity(capacity)),
            DataType::Binary => Builder::Binary(BinaryBuilder::new()),
            _ => Builder::Text(StringBuilder::new()),
        }
    }

    /// Appends a value, or says why it does not fit.
    fn append(&mut self, v: ValueRef<'_>) -> Result<(), String> {
        let text = |t: &[u8]| {
            std::str::from_utf8(t)
                .map(str::to_string)
                .map_err(|_| "text is not valid UTF-8".to_string())
        };
        match (self, v) {
            (Builder::Int(b), ValueRef::Null) => b.append_null(),
            (Builder::Float(b), ValueRef::Null) => b.append_null(),
            (Builder::Text(b), ValueRef::Null) => b.append_null(),
            (Builder::Timestamp(b), ValueRef::Null) => b.append_null(),
            (Builder::Date(b), ValueRef::Null) => b.append_null(),
            (Builder::Bool(b), ValueRef::Null) => b.append_null(),
            (Builder::Binary(b), ValueRef::Null) => b.append_null(),

            (Builder::Int(b), ValueRef::Integer(i)) => b.append_value(i),
            (Builder::Int(b), ValueRef::Real(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => {
                b.append_value(f as i64)
            }
            (Builder::Int(b), ValueRef::Text(t)) => {
                let s = text(t)?;
                b.append_value(
                    s.trim()
                        .parse()
                        .map_err(|_| format!("{s:?} is not an integer"))?,
                )
            }

            (Builder::Float(b), ValueRef::Integer(i)) => b.append_value(i as f64),
            (Builder::Float(b), ValueRef::Real(f)) => b.append_value(f),
            (Builder::Float(b), ValueRef::Text(t)) => {
                let s = text(t)?;
                b.append_value(
                    s.trim()
                        .parse()
                        .map_err(|_| format!("{s:?} is not a number"))?,
                )
            }

            (Builder::Text(b), ValueRef::Text(t)) => b.append_value(text(t)?),
            (Builder::Text(b), ValueRef::Integer(i)) => b.append_value(i.to_string()),
            (Builder::Text(b), ValueRef::Real(f)) => b.append_value(f.to_string()),

            (Builder::Timestamp(b), ValueRef::Text(t)) => {
                let s = text(t)?;
                b.append_value(
                    parse_timestamp_micros(&s)
                        .ok_or_else(|| format!("{s:?} is not a timestamp 'YYYY-MM-DD HH:MM:SS'"))?,
                )
            }
            (Builder::Date(b), ValueRef::Text(t)) => {
                let s = text(t)?;
                b.append_value(
                    parse_date_days(&s)
                        .ok_or_else(|| format!("{s:?} is not a date 'YYYY-MM-DD'"))?,
                )
            }
            (Builder::Bool(b), ValueRef::Integer(i @ (0 | 1))) => b.append_value(i == 1),
            (Builder::Bool(b), ValueRef::Text(t)) => match text(t)?.to_ascii_lowercase().as_str() {
                "true" | "1" => b.append_value(true),
                "false" | "0" => b.append_value(false),
                other => return Err(format!("{other:?} is not a boolean")),
            },
            (Builder::Binary(b), ValueRef::Blob(x)) => b.append_value(x),
            (Builder::Binary(b), ValueRef::Text(x)) => b.append_value(x),
            (_, other) => {
                return Err(format!(
                    "a {} value ({}) does not fit the declared type",
                    match other.data_type() {
                        rusqlite::types::Type::Null => "null",
                        rusqlite::types::Type::Integer => "integer",
                        rusqlite::types::Type::Real => "real",
                        rusqlite::types::Type::Text => "text",
                        rusqlite::types::Type::Blob => "blob",
                    },
                    value_text(other).unwrap_or_default()
                ));
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Int(b) => Arc::new(b.finish()),
            Builder::Float(b) => Arc::new(b.finish()),
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::Timestamp(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Binary(b) => Arc::new(b.finish()),
        }
    }
}

/// What an incremental or full read produced.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRead {
    pub rows: u64,
    /// The largest cursor value read, as text (the next watermark); None if no rows or no cursor.
    pub max_cursor: Option<String>,
    /// Bytes of values read (an estimate of the data volume, not of file pages).
    pub bytes_read: u64,
}

/// A SQLite database opened read-only.
pub struct SqliteSource {
    conn: Connection,
    display: String,
}

impl SqliteSource {
    /// `display` is the path as the user wrote it, used in every message.
    pub fn open(path: &Path, display: &str) -> Result<SqliteSource, IngestError> {
        if !path.is_file() {
            return Err(IngestError::Open {
                path: display.to_string(),
                message: "no such file".to_string(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| IngestError::Open {
            path: display.to_string(),
            message: e.to_string(),
        })?;
        Ok(SqliteSource {
            conn,
            display: display.to_string(),
        })
    }

    fn err(&self, e: rusqlite::Error) -> IngestError {
        IngestError::sqlite(&self.display, e)
    }

    fn table_error(&self, table: &str, message: String) -> IngestError {
        IngestError::Table {
            path: self.display.clone(),
            table: table.to_string(),
            message,
        }
    }

    pub fn columns(&self, table: &str) -> Result<Vec<SqliteColumn>, IngestError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, type, pk FROM pragma_table_info(?1) ORDER BY cid")
            .map_err(|e| self.err(e))?;
        let cols = stmt
            .query_map([table], |r| {
                let declared: String = r.get(1)?;
                Ok(SqliteColumn {
                    name: r.get(0)?,
                    data_type: arrow_type(&declared),
                    declared_type: declared,
                    pk: r.get(2)?,
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        if cols.is_empty() {
            return Err(self.table_error(table, "no such table".to_string()));
        }
        Ok(cols)
    }

    pub fn schema(&self, table: &str) -> Result<SchemaRef, IngestError> {
        Ok(schema_of(&self.columns(table)?))
    }

    /// A hash of the table's declared columns and every value, in storage order: equal hashes
    /// mean a snapshot would land the same rows again.
    pub fn fingerprint(&self, table: &str) -> Result<String, IngestError> {
        let cols = self.columns(table)?;
        let mut hasher = Sha256::new();
        for c in &cols {
            hasher.update(c.name.as_bytes());
            hasher.update([0]);
            hasher.update(c.declared_type.as_bytes());
            hasher.update([0]);
        }
        let sql = select_sql(table, &cols, None, false);
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            for i in 0..cols.len() {
                match row.get_ref(i).map_err(|e| self.err(e))? {
                    ValueRef::Null => hasher.update([0]),
                    ValueRef::Integer(v) => {
                        hasher.update([1]);
                        hasher.update(v.to_le_bytes());
                    }
                    ValueRef::Real(v) => {
                        hasher.update([2]);
                        hasher.update(v.to_bits().to_le_bytes());
                    }
                    ValueRef::Text(t) => {
                        hasher.update([3]);
                        hasher.update((t.len() as u64).to_le_bytes());
                        hasher.update(t);
                    }
                    ValueRef::Blob(t) => {
                        hasher.update([4]);
                        hasher.update((t.len() as u64).to_le_bytes());
                        hasher.update(t);
                    }
                }
            }
        }
        Ok(hex::encode(hasher.finalize()))
    }

    /// Streams the table in batches of `batch_rows`. With a `cursor` column rows come in cursor
    /// order, and with a watermark `after` only rows whose cursor is greater are read.
    pub fn read_table(
        &self,
        table: &str,
        cursor: Option<&str>,
        after: Option<&str>,
        batch_rows: usize,
        sink: &mut dyn Sink,
    ) -> Result<TableRead, IngestError> {
        let cols = self.columns(table)?;
        let schema = schema_of(&cols);
        let cursor_idx = match cursor {
            Some(c) => Some(cols.iter().position(|col| col.name == c).ok_or_else(|| {
                self.table_error(table, format!("cursor column `{c}` does not exist"))
            })?),
            None => None,
        };
        let mut pk: Vec<(i64, usize)> = cols
            .iter()
            .enumerate()
            .filter(|(_, c)| c.pk > 0)
            .map(|(i, c)| (c.pk, i))
            .collect();
        pk.sort();
        let batch_rows = batch_rows.max(1);
        let sql = select_sql(table, &cols, cursor, after.is_some() && cursor.is_some());
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let mut rows = match (cursor, after) {
            (Some(_), Some(w)) => stmt.query([w]),
            _ => stmt.query([]),
        }
        .map_err(|e| self.err(e))?;

        let new_builders = || {
            cols.iter()
                .map(|c| Builder::new(&c.data_type, batch_rows))
                .collect::<Vec<_>>()
        };
        let mut builders = new_builders();
        let mut in_batch = 0usize;
        let mut total = 0u64;
        let mut bytes = 0u64;
        let mut max_cursor = None;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            total += 1;
            for (i, b) in builders.iter_mut().enumerate() {
                let v = row.get_ref(i).map_err(|e| self.err(e))?;
                bytes += match v {
                    ValueRef::Text(t) | ValueRef::Blob(t) => t.len() as u64,
                    ValueRef::Null => 1,
                    _ => 8,
                };
                if let Err(message) = b.append(v) {
                    let which = if pk.is_empty() {
                        format!("row {total} of the result")
                    } else {
                        pk.iter()
                            .map(|&(_, j)| {
                                let v = row.get_ref(j).ok().and_then(value_text);
                                format!("{}={}", cols[j].name, v.unwrap_or_else(|| "NULL".into()))
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    return Err(IngestError::Value {
                        path: self.display.clone(),
                        location: format!(
                            "table {table}, column {} ({}), {which}",
                            cols[i].name, cols[i].declared_type
                        ),
                        message,
                    });
                }
            }
            if let Some(ci) = cursor_idx
                && let Some(text) = row.get_ref(ci).ok().and_then(value_text)
            {
                max_cursor = Some(text);
            }
            in_batch += 1;
            if in_batch >= batch_rows {
                let batch = finish(&schema, &mut builders, &self.display)?;
                builders = new_builders();
                in_batch = 0;
                sink.batch(batch)?;
                sink.progress(bytes);
            }
        }
        if in_batch > 0 {
            sink.batch(finish(&schema, &mut builders, &self.display)?)?;
        }
        sink.progress(bytes);
        Ok(TableRead {
            rows: total,
            max_cursor,
            bytes_read: bytes,
        })
    }
}

fn schema_of(cols: &[SqliteColumn]) -> SchemaRef {
    Arc::new(Schema::new(
        cols.iter()
            .map(|c| Field::new(&c.name, c.data_type.clone(), true))
            .collect::<Vec<_>>(),
    ))
}

fn select_sql(table: &str, cols: &[SqliteColumn], cursor: Option<&str>, filter: bool) -> String {
    let list = cols
        .iter()
        .map(|c| quote(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let mut sql = format!("SELECT {list} FROM {}", quote(table));
    if let Some(c) = cursor {
        if filter {
            sql.push_str(&format!(" WHERE {} > ?1", quote(c)));
        }
        sql.push_str(&format!(" ORDER BY {}", quote(c)));
    }
    sql
}

fn finish(
    schema: &SchemaRef,
    builders: &mut [Builder],
    display: &str,
) -> Result<RecordBatch, IngestError> {
    let arrays = builders.iter_mut().map(Builder::finish).collect();
    RecordBatch::try_new(schema.clone(), arrays).map_err(|e| IngestError::arrow(display, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Collect;
    use arrow::array::{Array, BooleanArray, Date32Array, TimestampMicrosecondArray};
    use proptest::prelude::*;

    fn db() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("app.sqlite");
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, amount REAL, note TEXT, paid BOOLEAN,
                                  day DATE, updated_at TIMESTAMP, misc);
             INSERT INTO orders VALUES (1, 1.5, 'a', 1, '2026-11-01', '2026-11-01 10:00:00', 5);
             INSERT INTO orders VALUES (2, 2, NULL, 0, NULL, '2026-11-01T11:00:00.250', 'x');
             INSERT INTO orders VALUES (3, NULL, 'c', NULL, '2026-11-02', '2026-11-02 09:00:00', NULL);",
        )
        .expect("schema");
        (dir, path)
    }

    #[test]
    fn types_batches_and_watermarks() {
        let (_dir, path) = db();
        let src = SqliteSource::open(&path, "data/app.sqlite").expect("open");
        let schema = src.schema("orders").expect("schema");
        let types: Vec<&DataType> = schema.fields().iter().map(|f| f.data_type()).collect();
        assert_eq!(
            types,
            [
                &DataType::Int64,
                &DataType::Float64,
                &DataType::Utf8,
                &DataType::Boolean,
                &DataType::Date32,
                &DataType::Timestamp(TimeUnit::Microsecond, None),
                &DataType::Utf8,
            ]
        );
        let mut sink = Collect::default();
        let read = src
            .read_table("orders", Some("updated_at"), None, 2, &mut sink)
            .expect("read");
        assert_eq!(read.rows, 3);
        assert_eq!(sink.batches.len(), 2);
        assert_eq!(read.max_cursor.as_deref(), Some("2026-11-02 09:00:00"));
        let ts = sink.batches[0]
            .column(5)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .expect("ts")
            .clone();
        assert_eq!(ts.value(1) - ts.value(0), 3_600_250_000);
        let paid = sink.batches[0]
            .column(3)
            .as_any()
            .downcast_ref::<BooleanArray>()
            .expect("bool")
            .clone();
        assert!(paid.value(0) && !paid.value(1));
        let day = sink.batches[1]
            .column(4)
            .as_any()
            .downcast_ref::<Date32Array>()
            .expect("date")
            .clone();
        assert_eq!(day.value(0), 20_759);

        let mut sink = Collect::default();
        let read = src
            .read_table(
                "orders",
                Some("updated_at"),
                // Watermarks are the cursor's text as stored, compared as SQLite compares them.
                Some("2026-11-01T11:00:00.250"),
                10,
                &mut sink,
            )
            .expect("read");
        assert_eq!(read.rows, 1);
        let read = src
            .read_table(
                "orders",
                Some("updated_at"),
                Some("2026-11-02 09:00:00"),
                10,
                &mut Collect::default(),
            )
            .expect("read");
        assert_eq!((read.rows, read.max_cursor), (0, None));
        // An integer cursor compares numerically against the text watermark.
        let read = src
            .read_table("orders", Some("id"), Some("1"), 10, &mut Collect::default())
            .expect("read");
        assert_eq!((read.rows, read.max_cursor.as_deref()), (2, Some("3")));
    }

    #[test]
    fn bad_values_name_the_row() {
        let (_dir, path) = db();
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute(
                "INSERT INTO orders VALUES (7, 1, 'a', 1, NULL, 'yesterday', NULL)",
                [],
            )
            .expect("insert");
        }
        let src = SqliteSource::open(&path, "data/app.sqlite").expect("open");
        let err = src
            .read_table("orders", None, None, 10, &mut Collect::default())
            .expect_err("bad timestamp");
        let msg = err.to_string();
        assert!(msg.contains("data/app.sqlite"), "{msg}");
        assert!(msg.contains("table orders, column updated_at"), "{msg}");
        assert!(msg.contains("id=7"), "{msg}");
        assert!(msg.contains("yesterday"), "{msg}");
    }

    #[test]
    fn fingerprint_follows_content() {
        let (_dir, path) = db();
        let before = SqliteSource::open(&path, "x")
            .expect("open")
            .fingerprint("orders")
            .expect("fp");
        let again = SqliteSource::open(&path, "x")
            .expect("open")
            .fingerprint("orders")
            .expect("fp");
        assert_eq!(before, again);
        Connection::open(&path)
            .expect("open")
            .execute("UPDATE orders SET note = 'b' WHERE id = 1", [])
            .expect("update");
        let after = SqliteSource::open(&path, "x")
            .expect("open")
            .fingerprint("orders")
            .expect("fp");
        assert_ne!(before, after);
    }

    #[test]
    fn missing_database_and_table() {
        let err = SqliteSource::open(Path::new("/nonexistent/o.sqlite"), "data/orders.sqlite")
            .err()
            .expect("missing");
        assert_eq!(
            err.to_string(),
            "cannot open data/orders.sqlite: no such file"
        );
        let (_dir, path) = db();
        let src = SqliteSource::open(&path, "data/app.sqlite").expect("open");
        let err = src.schema("nope").expect_err("no table");
        assert_eq!(
            err.to_string(),
            "data/app.sqlite: table nope: no such table"
        );
        let err = src
            .read_table("orders", Some("nope"), None, 1, &mut Collect::default())
            .expect_err("no cursor");
        assert!(err.to_string().contains("cursor column `nope`"));
    }

    #[test]
    fn timestamp_texts() {
        assert_eq!(
            parse_timestamp_micros("1970-01-01 00:00:01"),
            Some(1_000_000)
        );
        assert_eq!(
            parse_timestamp_micros("1970-01-01T00:00:00.5Z"),
            Some(500_000)
        );
        assert_eq!(parse_timestamp_micros("1970-01-01 00:01"), Some(60_000_000));
        assert_eq!(parse_timestamp_micros("1970-01-02"), Some(86_400_000_000));
        assert_eq!(
            parse_timestamp_micros("1970-01-01 00:00:00.123456789"),
            Some(123_456)
        );
        assert_eq!(parse_timestamp_micros("2026-02-30 00:00:00"), None);
        assert_eq!(parse_timestamp_micros("2026-01-01 24:00:00"), None);
        assert_eq!(parse_timestamp_micros("2026-01-01 10:00:0"), None);
        assert_eq!(parse_timestamp_micros("2026-01-01 10:00:00."), None);
        assert_eq!(parse_date_days("1970-01-01"), Some(0));
        assert_eq!(parse_date_days("1970-1-01"), None);
    }

    proptest! {
        #[test]
        fn timestamp_parser_never_panics(s in "\\PC{0,40}") {
            let _ = parse_timestamp_micros(&s);
        }

        #[test]
        fn timestamp_round_trips(micros in -62_000_000_000_000_000i64..250_000_000_000_000_000i64) {
            let dt = chrono::DateTime::from_timestamp_micros(micros).expect("in range").naive_utc();
            let text = dt.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
            prop_assert_eq!(parse_timestamp_micros(&text), Some(micros));
        }
    }
}
