//! PostgreSQL tables, read with binary `COPY (SELECT …) TO STDOUT` inside one repeatable-read,
//! read-only snapshot per session: the first connection exports its snapshot and every other
//! connection imports it, so all tables and all key ranges of a source see the same moment.
//! The binary COPY stream is decoded straight into Arrow builders.

use crate::server::{
    ColumnBuilder, Kind, ReadRequest, ServerColumn, ServerRead, finish_batch, new_builders,
    range_conditions, read_in_parallel, schema_of, sql_literal, unmapped_warnings,
};
use crate::{IngestError, Sink};
use ::postgres::{Client, NoTls};
use arrow::array::RecordBatch;
use pulse_project::ConnectionString;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

/// Microseconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
const PG_EPOCH_DAYS: i32 = 10_957;

/// Connections to one server sharing one snapshot.
pub struct PgSession {
    conns: Vec<Client>,
    url: ConnectionString,
    schema: String,
    snapshot: String,
}

impl std::fmt::Debug for PgSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSession")
            .field("url", &self.url)
            .field("schema", &self.schema)
            .field("connections", &self.conns.len())
            .finish()
    }
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// The driver's message, with the database's own error text when there is one.
fn describe(e: &::postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut m = format!("{}: {}", db.severity(), db.message());
            if let Some(d) = db.detail() {
                m.push_str(&format!(" ({d})"));
            }
            m
        }
        None => {
            let mut m = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(s) = src {
                let text = s.to_string();
                if !m.contains(&text) {
                    m.push_str(&format!(": {text}"));
                }
                src = s.source();
            }
            m
        }
    }
}

impl PgSession {
    /// Connects `connections` times (at least once) and opens the shared snapshot.
    pub fn open(
        url: &ConnectionString,
        schema: &str,
        connections: usize,
    ) -> Result<PgSession, IngestError> {
        let mut config = url.expose().parse::<::postgres::Config>().map_err(|e| {
            server_error(
                url,
                format!("invalid connection string: {}", url.redact(&e.to_string())),
            )
        })?;
        config.connect_timeout(Duration::from_secs(10));
        config.application_name("pulse");
        let connect = || -> Result<Client, IngestError> {
            let mut c = config
                .connect(NoTls)
                .map_err(|e| server_error(url, url.redact(&describe(&e))))?;
            c.batch_execute(
                "SET TIME ZONE 'UTC'; SET DateStyle = 'ISO'; SET extra_float_digits = 3",
            )
            .map_err(|e| server_error(url, url.redact(&describe(&e))))?;
            Ok(c)
        };
        let mut first = connect()?;
        first
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .map_err(|e| server_error(url, url.redact(&describe(&e))))?;
        let snapshot: String = first
            .query_one("SELECT pg_export_snapshot()", &[])
            .and_then(|r| r.try_get(0))
            .map_err(|e| server_error(url, url.redact(&describe(&e))))?;
        let mut conns = vec![first];
        for _ in 1..connections.max(1) {
            let mut c = connect()?;
            c.batch_execute(&format!(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT {}",
                sql_literal(&snapshot)
            ))
            .map_err(|e| server_error(url, url.redact(&describe(&e))))?;
            conns.push(c);
        }
        Ok(PgSession {
            conns,
            url: url.clone(),
            schema: schema.to_string(),
            snapshot,
        })
    }

    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// The exported snapshot's id (all connections read in it).
    pub fn snapshot_id(&self) -> &str {
        &self.snapshot
    }

    fn qualified(&self, table: &str) -> String {
        format!("{}.{}", quote(&self.schema), quote(table))
    }

    fn table_error(&self, table: &str, message: String) -> IngestError {
        IngestError::Table {
            path: self.url.to_string(),
            table: table.to_string(),
            message: self.url.redact(&message),
        }
    }

    pub fn columns(&mut self, table: &str) -> Result<Vec<ServerColumn>, IngestError> {
        let sql = "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod),
                          bt.oid::int8, bt.typtype::text, bt.typcategory::text, a.atttypmod,
                          et.oid::int8, et.typtype::text, et.typcategory::text
                   FROM pg_attribute a
                   JOIN pg_class c ON c.oid = a.attrelid
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                   JOIN pg_type t ON t.oid = a.atttypid
                   JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
                   LEFT JOIN pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A'
                   WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
                     AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                   ORDER BY a.attnum";
        let schema = self.schema.clone();
        let rows = self.conns[0]
            .query(sql, &[&schema, &table])
            .map_err(|e| self.table_error(table, describe(&e)))?;
        if rows.is_empty() {
            return Err(self.table_error(table, format!("no such table in schema {}", self.schema)));
        }
        let mut cols = Vec::with_capacity(rows.len());
        for r in rows {
            let get = |i: usize| -> Result<Option<String>, IngestError> {
                r.try_get::<_, Option<String>>(i)
                    .map_err(|e| self.table_error(table, describe(&e)))
            };
            let name = get(0)?.unwrap_or_default();
            let db_type = get(1)?.unwrap_or_default();
            let oid: i64 = r
                .try_get(2)
                .map_err(|e| self.table_error(table, describe(&e)))?;
            let typtype = get(3)?.unwrap_or_default();
            let category = get(4)?.unwrap_or_default();
            let typmod: i32 = r
                .try_get(5)
                .map_err(|e| self.table_error(table, describe(&e)))?;
            let elem_oid: Option<i64> = r
                .try_get(6)
                .map_err(|e| self.table_error(table, describe(&e)))?;
            let elem_typtype = get(7)?.unwrap_or_default();
            let elem_category = get(8)?.unwrap_or_default();
            let kind = match elem_oid {
                Some(e) => pg_kind(e, &elem_typtype, &elem_category, typmod)
                    .map(|k| Kind::List(Box::new(k))),
                None => pg_kind(oid, &typtype, &category, typmod),
            };
            cols.push(match kind {
                Some(kind) => ServerColumn {
                    name,
                    db_type,
                    kind,
                    mapped: true,
                },
                None => ServerColumn {
                    name,
                    db_type,
                    kind: Kind::Text,
                    mapped: false,
                },
            });
        }
        Ok(cols)
    }

    /// A hash of the columns and every row's text, in the snapshot: equal hashes mean a full
    /// snapshot would land the same rows again. Meant for the small tables read without cursor.
    pub fn fingerprint(&mut self, table: &str) -> Result<String, IngestError> {
        let cols = self.columns(table)?;
        let sql = format!(
            "SELECT count(*)::text || ':' || coalesce(md5(string_agg(h, '' ORDER BY h)), '')
             FROM (SELECT md5(x::text) AS h FROM {} x) s",
            self.qualified(table)
        );
        let text: String = self
            .with_savepoint(0, |c| c.query_one(&sql, &[]).and_then(|r| r.try_get(0)))
            .map_err(|e| self.table_error(table, describe(&e)))?;
        let mut h = Sha256::new();
        for c in &cols {
            h.update(c.name.as_bytes());
            h.update([0]);
            h.update(c.db_type.as_bytes());
            h.update([0]);
        }
        h.update(text.as_bytes());
        Ok(hex::encode(h.finalize()))
    }

    /// Runs `f` on connection `i` inside a savepoint, so an error (a missing table, a denied
    /// permission) does not abort the snapshot transaction for the tables after it.
    fn with_savepoint<T>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut Client) -> Result<T, ::postgres::Error>,
    ) -> Result<T, ::postgres::Error> {
        let c = &mut self.conns[i];
        c.batch_execute("SAVEPOINT pulse_read")?;
        match f(c) {
            Ok(v) => {
                c.batch_execute("RELEASE SAVEPOINT pulse_read")?;
                Ok(v)
            }
            Err(e) => {
                let _ = c.batch_execute("ROLLBACK TO SAVEPOINT pulse_read");
                Err(e)
            }
        }
    }

    fn scalar(&mut self, table: &str, sql: &str) -> Result<Option<String>, IngestError> {
        self.with_savepoint(0, |c| {
            c.query_one(sql, &[])
                .and_then(|r| r.try_get::<_, Option<String>>(0))
        })
        .map_err(|e| self.table_error(table, describe(&e)))
    }

    /// Streams the table (rows above the watermark, when incremental) into `sink`.
    pub fn read(
        &mut self,
        req: &ReadRequest,
        sink: &mut dyn Sink,
    ) -> Result<ServerRead, IngestError> {
        let table = req.table.as_str();
        let cols = self.columns(table)?;
        let schema = schema_of(&cols);
        let warnings = unmapped_warnings(table, &cols);
        let url_display = self.url.to_string();
        let find = |c: &str, what: &str| {
            cols.iter()
                .find(|col| col.name == c)
                .ok_or_else(|| IngestError::Table {
                    path: url_display.clone(),
                    table: table.to_string(),
                    message: format!("{what} column `{c}` does not exist"),
                })
        };
        let mut filter = String::new();
        if let Some(c) = &req.cursor {
            find(c, "cursor")?;
            if let Some(after) = &req.after {
                filter = format!(" WHERE {} > {}", quote(c), sql_literal(after));
            }
        }
        let from = self.qualified(table);
        let max_cursor = match &req.cursor {
            Some(c) => self.scalar(
                table,
                &format!("SELECT max({})::text FROM {from}{filter}", quote(c)),
            )?,
            None => None,
        };
        let n = req.parallel.clamp(1, self.conns.len());
        let mut ranges = vec![(String::new(), None::<String>)];
        if n > 1
            && let Some(k) = &req.split_by
        {
            let col = find(k, "split_by")?;
            if !col.kind.is_integer() {
                return Err(self.table_error(
                    table,
                    format!("split_by column `{k}` is {}, not an integer", col.db_type),
                ));
            }
            let q = quote(k);
            let lo = self.scalar(table, &format!("SELECT min({q})::text FROM {from}{filter}"))?;
            let hi = self.scalar(table, &format!("SELECT max({q})::text FROM {from}{filter}"))?;
            if let (Some(lo), Some(hi)) = (
                lo.and_then(|v| v.parse::<i128>().ok()),
                hi.and_then(|v| v.parse::<i128>().ok()),
            ) {
                ranges = range_conditions(&q, !filter.is_empty(), lo, hi, n)
                    .into_iter()
                    .map(|cond| (cond, None))
                    .collect();
            }
        }
        let list = cols
            .iter()
            .map(|c| {
                if c.mapped {
                    quote(&c.name)
                } else {
                    format!("{}::text", quote(&c.name))
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sqls: Vec<String> = ranges
            .iter()
            .map(|(cond, _)| {
                format!("COPY (SELECT {list} FROM {from}{filter}{cond}) TO STDOUT (FORMAT binary)")
            })
            .collect();
        let batch_rows = req.batch_rows.max(1);
        let used = sqls.len();
        for i in 0..used {
            self.conns[i]
                .batch_execute("SAVEPOINT pulse_read")
                .map_err(|e| self.table_error(table, describe(&e)))?;
        }
        let url = self.url.clone();
        let outcome = read_in_parallel(&mut self.conns, &sqls, sink, |conn, sql, tx| {
            copy_into(conn, sql, &cols, &schema, batch_rows, &url, table, tx)
        });
        let end = if outcome.is_err() {
            "ROLLBACK TO SAVEPOINT pulse_read"
        } else {
            "RELEASE SAVEPOINT pulse_read"
        };
        for i in 0..used {
            let _ = self.conns[i].batch_execute(end);
        }
        let (rows, bytes) = outcome?;
        sink.progress(bytes);
        Ok(ServerRead {
            schema,
            rows,
            max_cursor: if rows > 0 { max_cursor } else { None },
            bytes_read: bytes,
            ranges: used,
            warnings,
        })
    }
}

fn server_error(url: &ConnectionString, message: String) -> IngestError {
    IngestError::Server {
        url: url.to_string(),
        message,
    }
}

/// The kind a PostgreSQL type is decoded as; None when it has no mapping.
fn pg_kind(oid: i64, typtype: &str, category: &str, typmod: i32) -> Option<Kind> {
    Some(match oid {
        16 => Kind::Bool,
        17 => Kind::Binary,
        20 => Kind::I64,
        21 => Kind::I16,
        23 => Kind::I32,
        26 => Kind::U32,
        700 => Kind::F32,
        701 => Kind::F64,
        1082 => Kind::Date,
        1083 => Kind::Time,
        1114 => Kind::Timestamp,
        1184 => Kind::TimestampTz,
        2950 => Kind::Uuid,
        3802 => Kind::Jsonb,
        // json, xml, "char", name, text, bpchar, varchar: the binary form is the text.
        114 | 142 | 18 | 19 | 25 | 1042 | 1043 => Kind::Text,
        1700 => {
            // numeric(p, s): typmod is ((p << 16) | s) + 4; without it, any scale is allowed.
            if typmod < 4 {
                return None;
            }
            let p = ((typmod - 4) >> 16) & 0xffff;
            let s = (typmod - 4) & 0xffff;
            if !(1..=38).contains(&p) || s > p {
                return None;
            }
            Kind::Decimal {
                precision: u8::try_from(p).ok()?,
                scale: i8::try_from(s).ok()?,
            }
        }
        // Enums send their label; string-category extension types (citext) their text.
        _ if typtype == "e" || (category == "S" && typtype == "b") => Kind::Text,
        _ => return None,
    })
}

struct CopyReader<R: BufRead> {
    r: R,
    bytes: u64,
}

impl<R: BufRead> CopyReader<R> {
    fn exact(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        self.r.read_exact(buf)?;
        self.bytes += buf.len() as u64;
        Ok(())
    }
    fn i16(&mut self) -> std::io::Result<i16> {
        let mut b = [0; 2];
        self.exact(&mut b)?;
        Ok(i16::from_be_bytes(b))
    }
    fn i32(&mut self) -> std::io::Result<i32> {
        let mut b = [0; 4];
        self.exact(&mut b)?;
        Ok(i32::from_be_bytes(b))
    }
}

#[allow(clippy::too_many_arguments)]
fn copy_into(
    conn: &mut Client,
    sql: &str,
    cols: &[ServerColumn],
    schema: &arrow::datatypes::SchemaRef,
    batch_rows: usize,
    url: &ConnectionString,
    table: &str,
    tx: &std::sync::mpsc::SyncSender<RecordBatch>,
) -> Result<(u64, u64), IngestError> {
    let display = url.to_string();
    let terr = |message: String| IngestError::Table {
        path: display.clone(),
        table: table.to_string(),
        message: url.redact(&message),
    };
    let reader = conn.copy_out(sql).map_err(|e| terr(describe(&e)))?;
    let mut r = CopyReader {
        r: BufReader::with_capacity(1 << 20, reader),
        bytes: 0,
    };
    let io = |e: std::io::Error| {
        // The driver's error (permission denied, a broken connection) comes through as the
        // source of the io error.
        let inner = e
            .get_ref()
            .and_then(|i| i.downcast_ref::<::postgres::Error>())
            .map(describe);
        terr(inner.unwrap_or_else(|| e.to_string()))
    };
    let mut header = [0u8; 19];
    r.exact(&mut header).map_err(io)?;
    if &header[..11] != b"PGCOPY\n\xff\r\n\0" {
        return Err(terr("not a binary COPY stream".to_string()));
    }
    let ext = u32::from_be_bytes([header[15], header[16], header[17], header[18]]);
    let mut skip = vec![0u8; ext as usize];
    r.exact(&mut skip).map_err(io)?;

    let mut builders = new_builders(cols, batch_rows);
    let mut in_batch = 0;
    let mut rows = 0u64;
    let mut buf = Vec::new();
    loop {
        let n = r.i16().map_err(io)?;
        if n == -1 {
            break;
        }
        if usize::try_from(n).ok() != Some(cols.len()) {
            return Err(terr(format!(
                "a COPY row has {n} fields, the table {} columns",
                cols.len()
            )));
        }
        rows += 1;
        for (i, b) in builders.iter_mut().enumerate() {
            let len = r.i32().map_err(io)?;
            if len < 0 {
                b.append_null();
                continue;
            }
            buf.resize(len as usize, 0);
            r.exact(&mut buf).map_err(io)?;
            decode(&cols[i].kind, b, &buf).map_err(|m| {
                terr(format!(
                    "column {} ({}), row {rows} of the read: {m}",
                    cols[i].name, cols[i].db_type
                ))
            })?;
        }
        in_batch += 1;
        if in_batch >= batch_rows {
            let batch = finish_batch(schema, &mut builders, &display)?;
            in_batch = 0;
            tx.send(batch)
                .map_err(|_| IngestError::Stopped("the lake stopped writing".to_string()))?;
        }
    }
    // Drain to the end of the stream so the connection is ready for the next statement.
    let mut rest = Vec::new();
    r.r.read_to_end(&mut rest).map_err(io)?;
    if in_batch > 0 {
        let batch = finish_batch(schema, &mut builders, &display)?;
        tx.send(batch)
            .map_err(|_| IngestError::Stopped("the lake stopped writing".to_string()))?;
    }
    Ok((rows, r.bytes))
}

fn be<const N: usize>(v: &[u8]) -> Result<[u8; N], String> {
    v.try_into()
        .map_err(|_| format!("expected {N} bytes, got {}", v.len()))
}

fn utf8(v: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(v).map_err(|_| "text is not valid UTF-8".to_string())
}

/// Decodes one value in PostgreSQL's binary format and appends it.
fn decode(kind: &Kind, b: &mut ColumnBuilder, v: &[u8]) -> Result<(), String> {
    match (kind, b) {
        (Kind::Bool, ColumnBuilder::Bool(b)) => {
            b.append_value(v.first().copied().unwrap_or(0) != 0)
        }
        (Kind::I16, ColumnBuilder::I16(b)) => b.append_value(i16::from_be_bytes(be(v)?)),
        (Kind::I32, ColumnBuilder::I32(b)) => b.append_value(i32::from_be_bytes(be(v)?)),
        (Kind::I64, ColumnBuilder::I64(b)) => b.append_value(i64::from_be_bytes(be(v)?)),
        (Kind::U32, ColumnBuilder::U32(b)) => b.append_value(u32::from_be_bytes(be(v)?)),
        (Kind::F32, ColumnBuilder::F32(b)) => b.append_value(f32::from_be_bytes(be(v)?)),
        (Kind::F64, ColumnBuilder::F64(b)) => b.append_value(f64::from_be_bytes(be(v)?)),
        (Kind::Text, ColumnBuilder::Text(b)) => b.append_value(utf8(v)?),
        (Kind::Jsonb, ColumnBuilder::Text(b)) => match v.split_first() {
            Some((1, rest)) => b.append_value(utf8(rest)?),
            _ => return Err("unknown jsonb version".to_string()),
        },
        (Kind::Uuid, ColumnBuilder::Text(b)) => {
            let h = hex::encode(be::<16>(v)?);
            b.append_value(format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            ))
        }
        (Kind::Binary, ColumnBuilder::Binary(b)) => b.append_value(v),
        (Kind::Date, ColumnBuilder::Date(b)) => {
            let d = i32::from_be_bytes(be(v)?);
            // ±infinity have no calendar date.
            if d == i32::MAX || d == i32::MIN {
                b.append_null()
            } else {
                b.append_value(d + PG_EPOCH_DAYS)
            }
        }
        (Kind::Time, ColumnBuilder::Time(b)) => b.append_value(i64::from_be_bytes(be(v)?)),
        (Kind::Timestamp | Kind::TimestampTz, ColumnBuilder::Timestamp(b, _)) => {
            let t = i64::from_be_bytes(be(v)?);
            if t == i64::MAX || t == i64::MIN {
                b.append_null()
            } else {
                b.append_value(t + PG_EPOCH_MICROS)
            }
        }
        (Kind::Decimal { scale, .. }, ColumnBuilder::Decimal(b, ..)) => match numeric(v, *scale)? {
            Some(x) => b.append_value(x),
            None => b.append_null(),
        },
        (Kind::List(elem), b @ ColumnBuilder::List { .. }) => {
            let items = array_into(elem, b, v)?;
            b.close_list(items);
        }
        (k, _) => return Err(format!("no decoder for {k:?}")),
    }
    Ok(())
}

/// A binary array's elements into the list's child; returns how many.
fn array_into(elem: &Kind, list: &mut ColumnBuilder, v: &[u8]) -> Result<i32, String> {
    let ColumnBuilder::List { child, .. } = list else {
        return Err("not a list".to_string());
    };
    let word = |at: usize| -> Result<i32, String> {
        v.get(at..at + 4)
            .map(|s| i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
            .ok_or_else(|| "truncated array".to_string())
    };
    let ndim = word(0)?;
    if ndim == 0 {
        return Ok(0);
    }
    // Multi-dimensional arrays are flattened in storage order.
    let mut count: i64 = 1;
    let mut at = 12;
    for _ in 0..ndim {
        count *= i64::from(word(at)?);
        at += 8;
    }
    let mut n = 0;
    for _ in 0..count {
        let len = word(at)?;
        at += 4;
        if len < 0 {
            child.append_null();
        } else {
            let end = at + len as usize;
            let item = v
                .get(at..end)
                .ok_or_else(|| "truncated array".to_string())?;
            decode(elem, child, item)?;
            at = end;
        }
        n += 1;
    }
    Ok(n)
}

/// A binary numeric as an integer at `scale`; None for NaN and infinities.
fn numeric(v: &[u8], scale: i8) -> Result<Option<i128>, String> {
    let h = |i: usize| -> Result<u16, String> {
        v.get(i * 2..i * 2 + 2)
            .map(|s| u16::from_be_bytes([s[0], s[1]]))
            .ok_or_else(|| "truncated numeric".to_string())
    };
    let ndigits = usize::from(h(0)?);
    let weight = i32::from(h(1)? as i16);
    let sign = h(2)?;
    if sign == 0xC000 || sign == 0xD000 || sign == 0xF000 {
        return Ok(None);
    }
    let overflow = || "numeric value out of range".to_string();
    let mut out: i128 = 0;
    for i in 0..ndigits {
        let d = i128::from(h(4 + i)?);
        let e = 4 * (weight - i as i32) + i32::from(scale);
        if e >= 0 {
            let p = 10i128.checked_pow(e as u32).ok_or_else(overflow)?;
            out = out
                .checked_add(d.checked_mul(p).ok_or_else(overflow)?)
                .ok_or_else(overflow)?;
        } else if e > -4 {
            let p = 10i128.pow((-e) as u32);
            if d % p != 0 {
                return Err("more fractional digits than the column's scale".to_string());
            }
            out += d / p;
        } else if d != 0 {
            return Err("more fractional digits than the column's scale".to_string());
        }
    }
    Ok(Some(if sign == 0x4000 { -out } else { out }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_binary() {
        // 12345.67: ndigits 3, weight 1, sign +, dscale 2, digits 1 2345 6700
        let v = [0, 3, 0, 1, 0, 0, 0, 2, 0, 1, 0x09, 0x29, 0x1a, 0x2c];
        assert_eq!(numeric(&v, 2), Ok(Some(1_234_567)));
        let neg = [0, 1, 0xff, 0xff, 0x40, 0, 0, 2, 0x13, 0x88];
        // -0.5: weight -1, digit 5000
        assert_eq!(numeric(&neg, 2), Ok(Some(-50)));
        assert_eq!(numeric(&[0, 0, 0, 0, 0xC0, 0, 0, 0], 2), Ok(None));
    }
}
