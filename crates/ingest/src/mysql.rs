//! MySQL and MariaDB tables, read as streaming text-protocol result sets inside
//! `START TRANSACTION WITH CONSISTENT SNAPSHOT`. Several connections share one snapshot the way
//! mydumper does it: a brief global read lock on an extra connection while every reader starts
//! its snapshot, then the lock is released. Without the privilege for that lock the session
//! reads on one connection (still one snapshot) and says so.

use crate::server::{
    ColumnBuilder, Kind, ReadRequest, ServerColumn, ServerRead, finish_batch, new_builders,
    parse_decimal, range_conditions, read_in_parallel, schema_of, sql_literal, unmapped_warnings,
};
use crate::sqlite::{parse_date_days, parse_timestamp_micros};
use crate::{IngestError, Sink};
use ::mysql::prelude::Queryable;
use ::mysql::{Conn, Opts, OptsBuilder, Value};
use arrow::array::RecordBatch;
use pulse_project::ConnectionString;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Connections to one server sharing one snapshot.
pub struct MySession {
    conns: Vec<Conn>,
    url: ConnectionString,
    database: String,
    /// Said once per session, e.g. that parallel reads fell back to one connection.
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for MySession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySession")
            .field("url", &self.url)
            .field("database", &self.database)
            .field("connections", &self.conns.len())
            .finish()
    }
}

fn quote(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

fn describe(e: &::mysql::Error) -> String {
    match e {
        ::mysql::Error::MySqlError(m) => format!("ERROR {} ({}): {}", m.code, m.state, m.message),
        other => other.to_string(),
    }
}

fn server_error(url: &ConnectionString, e: &::mysql::Error) -> IngestError {
    IngestError::Server {
        url: url.to_string(),
        message: url.redact(&describe(e)),
    }
}

/// Every row of a small result, values as text.
fn text_rows(conn: &mut Conn, sql: &str) -> Result<Vec<Vec<Option<String>>>, ::mysql::Error> {
    let mut out = Vec::new();
    for row in conn.query_iter(sql)? {
        let row = row?;
        out.push(
            (0..row.len())
                .map(|i| match row.as_ref(i) {
                    Some(Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
                    Some(Value::NULL) | None => None,
                    Some(v) => Some(v.as_sql(true).trim_matches('\'').to_string()),
                })
                .collect(),
        );
    }
    Ok(out)
}

impl MySession {
    /// Connects and opens the shared snapshot on `connections` connections (at least one).
    pub fn open(
        url: &ConnectionString,
        database: Option<&str>,
        connections: usize,
    ) -> Result<MySession, IngestError> {
        let opts = Opts::from_url(url.expose()).map_err(|e| IngestError::Server {
            url: url.to_string(),
            message: format!("invalid connection string: {}", url.redact(&e.to_string())),
        })?;
        let database = database
            .map(str::to_string)
            .or_else(|| opts.get_db_name().map(str::to_string))
            .ok_or_else(|| IngestError::Server {
                url: url.to_string(),
                message: "no database: name it in the url (mysql://host/db) or as `schema`"
                    .to_string(),
            })?;
        let builder = OptsBuilder::from_opts(opts)
            .prefer_socket(false)
            .tcp_connect_timeout(Some(Duration::from_secs(10)))
            .init(vec!["SET time_zone = '+00:00'", "SET NAMES utf8mb4"]);
        let connect = || Conn::new(builder.clone()).map_err(|e| server_error(url, &e));
        let start = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY";
        let mut warnings = Vec::new();
        let mut conns = Vec::new();
        if connections > 1 {
            let mut lock = connect()?;
            // Never queue the applications' writes behind a long query for more than a moment:
            // when the lock is not granted quickly, read on one connection instead.
            let _ = lock.query_drop("SET SESSION lock_wait_timeout = 5");
            match lock.query_drop("FLUSH TABLES WITH READ LOCK") {
                Ok(()) => {
                    for _ in 0..connections {
                        let mut c = connect()?;
                        c.query_drop(start).map_err(|e| server_error(url, &e))?;
                        conns.push(c);
                    }
                    lock.query_drop("UNLOCK TABLES")
                        .map_err(|e| server_error(url, &e))?;
                }
                Err(e) => warnings.push(format!(
                    "parallel reads need a brief global read lock to share one snapshot, which \
                     the server refused ({}); reading on one connection",
                    url.redact(&describe(&e))
                )),
            }
        }
        if conns.is_empty() {
            let mut c = connect()?;
            c.query_drop(start).map_err(|e| server_error(url, &e))?;
            conns.push(c);
        }
        Ok(MySession {
            conns,
            url: url.clone(),
            database,
            warnings,
        })
    }

    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    fn qualified(&self, table: &str) -> String {
        format!("{}.{}", quote(&self.database), quote(table))
    }

    fn table_error(&self, table: &str, message: String) -> IngestError {
        IngestError::Table {
            path: self.url.to_string(),
            table: table.to_string(),
            message: self.url.redact(&message),
        }
    }

    pub fn columns(&mut self, table: &str) -> Result<Vec<ServerColumn>, IngestError> {
        let sql = format!(
            "SELECT COLUMN_NAME, LOWER(DATA_TYPE), LOWER(COLUMN_TYPE), NUMERIC_PRECISION, NUMERIC_SCALE
             FROM information_schema.COLUMNS
             WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} ORDER BY ORDINAL_POSITION",
            sql_literal(&self.database),
            sql_literal(table)
        );
        let rows = text_rows(&mut self.conns[0], &sql)
            .map_err(|e| self.table_error(table, describe(&e)))?;
        if rows.is_empty() {
            return Err(self.table_error(
                table,
                format!(
                    "no such table in database {} (or no privilege to see it)",
                    self.database
                ),
            ));
        }
        Ok(rows
            .into_iter()
            .map(|r| {
                let text = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
                let (name, data_type, column_type) = (text(0), text(1), text(2));
                let precision = text(3).parse::<u32>().ok();
                let scale = text(4).parse::<u32>().ok();
                match my_kind(&data_type, &column_type, precision, scale) {
                    Some(kind) => ServerColumn {
                        name,
                        db_type: column_type,
                        kind,
                        mapped: true,
                    },
                    None => ServerColumn {
                        name,
                        db_type: column_type,
                        kind: Kind::Text,
                        mapped: false,
                    },
                }
            })
            .collect())
    }

    /// A hash of the columns and every row, in the snapshot; for tables read without cursor.
    pub fn fingerprint(&mut self, table: &str) -> Result<String, IngestError> {
        let cols = self.columns(table)?;
        let list = cols
            .iter()
            .map(|c| format!("COALESCE(CAST({} AS CHAR), '\\0')", quote(&c.name)))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT COUNT(*), COALESCE(BIT_XOR(CRC32(CONCAT_WS('\\t', {list}))), 0),
                    COALESCE(SUM(CRC32(CONCAT_WS('\\t', {list}))), 0)
             FROM {}",
            self.qualified(table)
        );
        let rows = text_rows(&mut self.conns[0], &sql)
            .map_err(|e| self.table_error(table, describe(&e)))?;
        let mut h = Sha256::new();
        for c in &cols {
            h.update(c.name.as_bytes());
            h.update([0]);
            h.update(c.db_type.as_bytes());
            h.update([0]);
        }
        for v in rows.into_iter().flatten().flatten() {
            h.update(v.as_bytes());
            h.update([0]);
        }
        Ok(hex::encode(h.finalize()))
    }

    fn scalar(&mut self, table: &str, sql: &str) -> Result<Option<String>, IngestError> {
        let rows = text_rows(&mut self.conns[0], sql)
            .map_err(|e| self.table_error(table, describe(&e)))?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten()))
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
        let mut warnings = unmapped_warnings(table, &cols);
        warnings.extend(self.warnings.iter().cloned());
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
                &format!("SELECT CAST(MAX({}) AS CHAR) FROM {from}{filter}", quote(c)),
            )?,
            None => None,
        };
        let n = req.parallel.clamp(1, self.conns.len());
        let mut conds = vec![String::new()];
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
            let lo = self.scalar(table, &format!("SELECT MIN({q}) FROM {from}{filter}"))?;
            let hi = self.scalar(table, &format!("SELECT MAX({q}) FROM {from}{filter}"))?;
            if let (Some(lo), Some(hi)) = (
                lo.and_then(|v| v.parse::<i128>().ok()),
                hi.and_then(|v| v.parse::<i128>().ok()),
            ) {
                conds = range_conditions(&q, !filter.is_empty(), lo, hi, n);
            }
        }
        let list = cols
            .iter()
            .map(|c| {
                if c.mapped {
                    quote(&c.name)
                } else {
                    format!("CAST({} AS CHAR)", quote(&c.name))
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sqls: Vec<String> = conds
            .iter()
            .map(|cond| format!("SELECT {list} FROM {from}{filter}{cond}"))
            .collect();
        let batch_rows = req.batch_rows.max(1);
        let used = sqls.len();
        let url = self.url.clone();
        let (rows, bytes) = read_in_parallel(&mut self.conns, &sqls, sink, |conn, sql, tx| {
            stream_into(conn, sql, &cols, &schema, batch_rows, &url, table, tx)
        })?;
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

/// The kind a MySQL/MariaDB column is decoded as; None when it has no mapping.
fn my_kind(
    data_type: &str,
    column_type: &str,
    precision: Option<u32>,
    scale: Option<u32>,
) -> Option<Kind> {
    let unsigned = column_type.contains("unsigned");
    Some(match data_type {
        "tinyint" if column_type.starts_with("tinyint(1)") && !unsigned => Kind::Bool,
        "bool" | "boolean" => Kind::Bool,
        "tinyint" if unsigned => Kind::U8,
        "tinyint" => Kind::I8,
        "smallint" if unsigned => Kind::U16,
        "smallint" => Kind::I16,
        "year" => Kind::I16,
        "mediumint" | "int" | "integer" if unsigned => Kind::U32,
        "mediumint" | "int" | "integer" => Kind::I32,
        "bigint" if unsigned => Kind::U64,
        "bigint" => Kind::I64,
        "float" => Kind::F32,
        "double" | "real" | "double precision" => Kind::F64,
        "decimal" | "numeric" => {
            let p = precision?;
            let s = scale.unwrap_or(0);
            if p > 38 {
                // Wider than Arrow's 128-bit decimal: the exact text.
                Kind::Text
            } else {
                Kind::Decimal {
                    precision: u8::try_from(p.max(1)).ok()?,
                    scale: i8::try_from(s).ok()?,
                }
            }
        }
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set"
        | "json" => Kind::Text,
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => Kind::Binary,
        "date" => Kind::Date,
        "datetime" => Kind::Timestamp,
        "timestamp" => Kind::TimestampTz,
        "time" => Kind::Time,
        _ => return None,
    })
}

#[allow(clippy::too_many_arguments)]
fn stream_into(
    conn: &mut Conn,
    sql: &str,
    cols: &[crate::server::ServerColumn],
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
    let mut result = conn.query_iter(sql).map_err(|e| terr(describe(&e)))?;
    let mut builders = new_builders(cols, batch_rows);
    let mut in_batch = 0;
    let mut rows = 0u64;
    let mut bytes = 0u64;
    // Stop reading (but drain the result, so the connection stays usable) once the lake stops.
    let mut stopped = false;
    for row in result.by_ref() {
        let row = row.map_err(|e| terr(describe(&e)))?;
        if stopped {
            continue;
        }
        rows += 1;
        for (i, b) in builders.iter_mut().enumerate() {
            match row.as_ref(i) {
                Some(Value::Bytes(v)) => {
                    bytes += v.len() as u64;
                    decode_text(&cols[i].kind, b, v).map_err(|m| {
                        terr(format!(
                            "column {} ({}), row {rows} of the read: {m}",
                            cols[i].name, cols[i].db_type
                        ))
                    })?;
                }
                _ => {
                    bytes += 1;
                    b.append_null();
                }
            }
        }
        in_batch += 1;
        if in_batch >= batch_rows {
            let batch = finish_batch(schema, &mut builders, &display)?;
            in_batch = 0;
            if tx.send(batch).is_err() {
                stopped = true;
            }
        }
    }
    if stopped {
        return Err(IngestError::Stopped("the lake stopped writing".to_string()));
    }
    if in_batch > 0 {
        let batch = finish_batch(schema, &mut builders, &display)?;
        tx.send(batch)
            .map_err(|_| IngestError::Stopped("the lake stopped writing".to_string()))?;
    }
    Ok((rows, bytes))
}

fn parse<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    s.trim().parse().map_err(|_| format!("{s:?} is not {what}"))
}

/// 'HH:MM:SS[.ffffff]' within a day, as microseconds.
fn parse_time_micros(s: &str) -> Option<i64> {
    let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut parts = hms.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let sec: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some()
        || !(0..24).contains(&h)
        || !(0..60).contains(&m)
        || !(0..60).contains(&sec)
    {
        return None;
    }
    let mut us = 0i64;
    for i in 0..6 {
        us = us * 10
            + match frac.as_bytes().get(i) {
                Some(c) if c.is_ascii_digit() => i64::from(c - b'0'),
                Some(_) => return None,
                None => 0,
            };
    }
    Some(((h * 60 + m) * 60 + sec) * 1_000_000 + us)
}

/// Decodes one value in the text protocol's form and appends it.
fn decode_text(kind: &Kind, b: &mut ColumnBuilder, v: &[u8]) -> Result<(), String> {
    if let (Kind::Binary, ColumnBuilder::Binary(b)) = (kind, &mut *b) {
        b.append_value(v);
        return Ok(());
    }
    let s = match std::str::from_utf8(v) {
        Ok(s) => s,
        // Unmapped types are read as CAST(… AS CHAR), which can still carry other bytes.
        Err(_) if matches!(kind, Kind::Text) => {
            if let ColumnBuilder::Text(b) = b {
                b.append_value(String::from_utf8_lossy(v));
            }
            return Ok(());
        }
        Err(_) => return Err("text is not valid UTF-8".to_string()),
    };
    match (kind, b) {
        (Kind::Bool, ColumnBuilder::Bool(b)) => b.append_value(parse::<i64>(s, "a boolean")? != 0),
        (Kind::I8, ColumnBuilder::I8(b)) => b.append_value(parse(s, "an integer")?),
        (Kind::I16, ColumnBuilder::I16(b)) => b.append_value(parse(s, "an integer")?),
        (Kind::I32, ColumnBuilder::I32(b)) => b.append_value(parse(s, "an integer")?),
        (Kind::I64, ColumnBuilder::I64(b)) => b.append_value(parse(s, "an integer")?),
        (Kind::U8, ColumnBuilder::U8(b)) => b.append_value(parse(s, "an integer")?),
        (Kind::U16, ColumnBuilder::U16(b)) => b.append_value(parse(s, "an integer")?),
        (Kind::U32, ColumnBuilder::U32(b)) => b.append_value(parse(s, "an integer")?),
        (Kind::U64, ColumnBuilder::U64(b)) => b.append_value(parse(s, "an integer")?),
        (Kind::F32, ColumnBuilder::F32(b)) => b.append_value(parse(s, "a number")?),
        (Kind::F64, ColumnBuilder::F64(b)) => b.append_value(parse(s, "a number")?),
        (Kind::Decimal { scale, .. }, ColumnBuilder::Decimal(b, ..)) => b.append_value(
            parse_decimal(s, *scale).ok_or_else(|| format!("{s:?} is not a decimal"))?,
        ),
        (Kind::Text, ColumnBuilder::Text(b)) => b.append_value(s),
        (Kind::Date, ColumnBuilder::Date(b)) => {
            // MySQL's zero date stands for "no date".
            if s.starts_with("0000-00-00") {
                b.append_null()
            } else {
                b.append_value(parse_date_days(s).ok_or_else(|| format!("{s:?} is not a date"))?)
            }
        }
        (Kind::Timestamp | Kind::TimestampTz, ColumnBuilder::Timestamp(b, _)) => {
            if s.starts_with("0000-00-00") {
                b.append_null()
            } else {
                b.append_value(
                    parse_timestamp_micros(s).ok_or_else(|| format!("{s:?} is not a timestamp"))?,
                )
            }
        }
        (Kind::Time, ColumnBuilder::Time(b)) => b.append_value(
            parse_time_micros(s)
                .ok_or_else(|| format!("{s:?} is not a time of day (00:00:00 to 23:59:59)"))?,
        ),
        (k, _) => return Err(format!("no decoder for {k:?}")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day() {
        assert_eq!(parse_time_micros("00:00:01"), Some(1_000_000));
        assert_eq!(parse_time_micros("23:59:59.5"), Some(86_399_500_000));
        assert_eq!(parse_time_micros("24:00:00"), None);
        assert_eq!(parse_time_micros("-01:00:00"), None);
    }

    #[test]
    fn type_names() {
        assert_eq!(
            my_kind("tinyint", "tinyint(1)", Some(3), Some(0)),
            Some(Kind::Bool)
        );
        assert_eq!(
            my_kind("tinyint", "tinyint(3) unsigned", Some(3), Some(0)),
            Some(Kind::U8)
        );
        assert_eq!(
            my_kind("decimal", "decimal(12,2)", Some(12), Some(2)),
            Some(Kind::Decimal {
                precision: 12,
                scale: 2
            })
        );
        assert_eq!(my_kind("geometry", "geometry", None, None), None);
    }
}
