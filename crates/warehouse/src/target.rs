//! PostgreSQL as the warehouse *target*: each stored model, computed by the engine as Arrow
//! record batches, is published into a table of one schema, and BI tools, the semantic layer
//! and dashboards query PostgreSQL.
//!
//! * Loading is binary `COPY … FROM STDIN` fed by our own columnar encoder (`encode`): no
//!   per-value `ToSql`, about 1 MiB per `CopyData` chunk, the batches streamed through.
//! * A whole table is replaced by loading `<name>__pulse_load` and swapping it in with one
//!   transaction (drop + rename), so a reader sees the old table or the new one.
//! * An incremental model's partition (one day) is deleted and copied in one transaction.
//! * Queries come back as Arrow through binary `COPY (<query>) TO STDOUT` (`decode`), after a
//!   `prepare` that tells the column types.
//! * `<schema>._pulse_builds` records each publish; [`PgTarget::version`] reads it so caches of
//!   query results know when to drop.
//!
//! Types: see [`pg_type`] for Arrow → PostgreSQL, and [`PgTarget::query`] for PostgreSQL →
//! Arrow. The session runs with `TimeZone = UTC`, so a timestamptz's date (a partition) and
//! `date_trunc` on one are UTC.
//!
//! Redshift speaks the same protocol, and the SQL here avoids what it lacks where it could
//! (`ON CONFLICT`: the bookkeeping is a delete and an insert; `string_agg`; `create … if not
//! exists` is in both). What still differs, as far as we know:
//! * Redshift has no `COPY … FROM STDIN` and no `COPY … TO STDOUT`, binary or not: loading
//!   would go through S3 (`COPY … FROM 's3://…' FORMAT PARQUET`) or multi-row `INSERT`s, and
//!   reading through the extended protocol's rows (or `UNLOAD`). This module does not do that.
//! * `text` there is `VARCHAR(256)`: [`pg_type`] would have to say `varchar(max)` (65535
//!   bytes at most).
//! * No array types (`SUPER` instead), so lists would become `SUPER` or text; `bytea` is
//!   `VARBYTE`; `numeric` stops at precision 38 (Decimal128 fits); `interval` as a column type
//!   only as `INTERVAL YEAR TO MONTH` / `DAY TO SECOND`.
//! * Primary keys are informational (not enforced): the bookkeeping never relies on one.
//! * tokio-postgres looks up the type OIDs it does not know (enums, domains, composites) in
//!   `pg_type` with PostgreSQL-only columns; on Redshift such a result column may fail to
//!   prepare rather than be cast to text.
//! * DDL is transactional there too (the drop + rename swap works), except on external
//!   (Spectrum) tables; `ALTER TABLE` adds one column per statement, which is how it is
//!   written here.
//! * `SET TIME ZONE 'UTC'` and `create schema if not exists` are accepted by both.

mod decode;
mod encode;

pub use crate::error::TargetError;
use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use bytes::{Bytes, BytesMut};
use decode::{CopyReader, Kind, kind_of};
use encode::{COPY_HEADER, COPY_TRAILER, Pg, encode_batch};
use futures::{SinkExt, Stream, StreamExt, pin_mut};
use std::sync::Arc;
use std::time::Instant;
use tokio_postgres::types::{Kind as PgKind, Type};
use tokio_postgres::{Client, NoTls};

/// Bytes per `CopyData` message sent.
const CHUNK: usize = 1 << 20;
const LOAD_SUFFIX: &str = "__pulse_load";
/// PostgreSQL truncates longer identifiers (NAMEDATALEN - 1 bytes) without an error, which
/// would make `<name>__pulse_load` collide with other names.
const MAX_IDENTIFIER: usize = 63;

/// What a load did.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    pub rows: u64,
    /// COPY payload bytes sent (header, rows and trailer of the binary format).
    pub bytes: u64,
    pub seconds: f64,
}

/// One connection to a PostgreSQL warehouse and the schema models are published into.
///
/// Calls on one `PgTarget` run one after another (they share the connection, and loads use
/// transactions); open several for parallel loads.
pub struct PgTarget {
    client: tokio::sync::Mutex<Client>,
    schema: String,
    /// The connection's password (as written and as decoded), taken out of every error message.
    secrets: Vec<String>,
}

/// The PostgreSQL column type of an Arrow type, as `create table` writes it.
///
/// Int8/Int16 → smallint, Int32/UInt8/UInt16 → integer, Int64/UInt32 → bigint, UInt64 →
/// numeric(20,0), Float16/Float32 → real, Float64 → double precision, Boolean → boolean,
/// Utf8/LargeUtf8/Utf8View → text, Dictionary(_, V) → the type of V, Date32/Date64 → date,
/// Timestamp(_, None) → timestamp, Timestamp(_, Some) → timestamptz (values are UTC instants
/// whatever the zone), Time32/Time64 → time, Duration and Interval → interval, Decimal128(p, s)
/// → numeric(p, s) (a negative s → numeric(p - s, 0)), Binary/LargeBinary/BinaryView/
/// FixedSizeBinary → bytea, List/LargeList/FixedSizeList of a mapped scalar type → that type[],
/// anything else (structs, maps, nested lists, Decimal256…) → text holding Arrow's display
/// formatting of the value.
pub fn pg_type(dt: &DataType) -> String {
    Pg::of(dt).sql()
}

/// `"name"`, quotes doubled: names may hold capitals, spaces or quotes.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'` as an SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn check_name(what: &str, name: &str, room: usize) -> Result<(), TargetError> {
    if name.is_empty() || name.contains('\0') || name.len() + room > MAX_IDENTIFIER {
        return Err(TargetError::Invalid(format!(
            "{what} {name:?}: a PostgreSQL name must be 1 to {} bytes without NUL",
            MAX_IDENTIFIER - room
        )));
    }
    Ok(())
}

/// The server, port, database and user of a connection string, never its password.
fn describe(url: &str) -> String {
    match url.parse::<tokio_postgres::Config>() {
        Ok(c) => {
            let host = c
                .get_hosts()
                .first()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(h) => h.clone(),
                    tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .unwrap_or_else(|| "localhost".into());
            let port = c.get_ports().first().copied().unwrap_or(5432);
            format!(
                "postgres://{}@{host}:{port}/{}",
                c.get_user().unwrap_or(""),
                c.get_dbname().unwrap_or("")
            )
        }
        Err(_) => "(a connection string that does not parse)".into(),
    }
}

/// The password as written in `url` (maybe percent-encoded) and as parsed, for redaction.
fn secrets(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(c) = url.parse::<tokio_postgres::Config>()
        && let Some(p) = c.get_password()
    {
        out.push(String::from_utf8_lossy(p).into_owned());
    }
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && let Some((_, p)) = userinfo.split_once(':')
        {
            out.push(p.to_string());
        }
    }
    for part in url.split(['?', '&', ' ']) {
        if let Some(p) = part.strip_prefix("password=") {
            out.push(p.trim_matches('\'').to_string());
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

fn redact_all(secrets: &[String], message: &str) -> String {
    let mut m = message.to_string();
    for s in secrets {
        m = m.replace(s.as_str(), "***");
    }
    m
}

/// A driver error as text: the server's message with its detail and hint, or the chain of
/// causes (tokio-postgres' own `Display` names only the kind, e.g. "db error").
fn error_text(e: &tokio_postgres::Error) -> (Option<String>, String) {
    if let Some(db) = e.as_db_error() {
        let mut m = db.message().to_string();
        if let Some(d) = db.detail() {
            m.push_str(&format!("; detail: {d}"));
        }
        if let Some(h) = db.hint() {
            m.push_str(&format!("; hint: {h}"));
        }
        return (Some(db.code().code().to_string()), m);
    }
    let mut m = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        m.push_str(&format!(": {s}"));
        source = s.source();
    }
    (None, m)
}

impl PgTarget {
    /// Connects (`postgres://user[:password]@host:port/db`, no TLS), creates `schema` if missing
    /// and the bookkeeping table `<schema>._pulse_builds`.
    pub async fn connect(url: &str, schema: &str) -> Result<Self, TargetError> {
        let secret = secrets(url);
        let connect_err = |message: String| TargetError::Connect {
            target: describe(url),
            message: redact_all(&secret, &message),
        };
        check_name("schema", schema, 0).map_err(|e| connect_err(e.to_string()))?;
        let (client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .map_err(|e| connect_err(error_text(&e).1))?;
        let server = describe(url);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(server = %server, error = %e, "postgresql target connection ended");
            }
        });
        let me = Self {
            client: tokio::sync::Mutex::new(client),
            schema: schema.to_string(),
            secrets: secret.clone(),
        };
        let s = ident(schema);
        let client = me.client.lock().await;
        client
            .batch_execute("set time zone 'UTC'")
            .await
            .map_err(|e| connect_err(error_text(&e).1))?;
        // `create … if not exists` needs the CREATE privilege even when the object exists, so a
        // read-only role (dashboards) only creates what is missing.
        let present = client
            .query_one(
                "select exists (select 1 from pg_catalog.pg_namespace where nspname = $1), \
                        exists (select 1 from pg_catalog.pg_class c \
                                  join pg_catalog.pg_namespace n on n.oid = c.relnamespace \
                                 where n.nspname = $1 and c.relname = '_pulse_builds')",
                &[&schema],
            )
            .await
            .map_err(|e| connect_err(error_text(&e).1))?;
        let exists = |i| {
            present
                .try_get::<_, bool>(i)
                .map_err(|e| connect_err(error_text(&e).1))
        };
        let (has_schema, has_builds) = (exists(0)?, exists(1)?);
        let mut setup = Vec::new();
        if !has_schema {
            setup.push(format!("create schema if not exists {s}"));
        }
        if !has_builds {
            setup.push(format!(
                "create table if not exists {s}.\"_pulse_builds\" (model text, part text, \
                 rows bigint, run_id text, published_at timestamptz, primary key (model, part))"
            ));
        }
        for sql in &setup {
            if let Err(e) = client.batch_execute(sql).await {
                // `if not exists` still races with another connection creating the same
                // object (a unique violation in the catalog); then it exists, which is the aim.
                let raced = e
                    .as_db_error()
                    .is_some_and(|d| matches!(d.code().code(), "23505" | "42P06" | "42P07"));
                if !raced {
                    return Err(connect_err(error_text(&e).1));
                }
            }
        }
        drop(client);
        Ok(me)
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    fn redact(&self, message: String) -> String {
        redact_all(&self.secrets, &message)
    }

    fn db(&self, what: impl Into<String>) -> impl Fn(tokio_postgres::Error) -> TargetError + '_ {
        let what = what.into();
        move |e| {
            let (code, message) = error_text(&e);
            let message = self.redact(message);
            match code {
                Some(code) => TargetError::Database {
                    what: what.clone(),
                    code,
                    message,
                },
                None => TargetError::Connection {
                    what: what.clone(),
                    message,
                },
            }
        }
    }

    fn table(&self, name: &str) -> String {
        format!("{}.{}", ident(&self.schema), ident(name))
    }

    /// Replaces table `name` of the schema with the batches, atomically for readers: they are
    /// copied into `<name>__pulse_load` (a leftover one from a crash is dropped first), which
    /// one transaction then renames to `name` after dropping the old table. Views on the old
    /// table make the drop fail (nothing is dropped with `cascade`).
    pub async fn replace_table<S>(
        &self,
        name: &str,
        schema: SchemaRef,
        batches: S,
        run_id: &str,
    ) -> Result<LoadReport, TargetError>
    where
        S: Stream<Item = Result<RecordBatch, String>> + Send,
    {
        let start = Instant::now();
        check_name("table", name, LOAD_SUFFIX.len())?;
        let load_name = format!("{name}{LOAD_SUFFIX}");
        let load = self.table(&load_name);
        let mut client = self.client.lock().await;
        client
            .batch_execute(&format!(
                "drop table if exists {load}; create table {load} ({})",
                column_list(&schema, true)
            ))
            .await
            .map_err(self.db(format!("creating {load_name}")))?;
        let loaded = async {
            let copy = copy_sql(&load, &schema);
            let sink = client
                .copy_in::<_, Bytes>(copy.as_str())
                .await
                .map_err(self.db(format!("copying into {load_name}")))?;
            let (rows, bytes) = self.fill(sink, &schema, batches, &load_name).await?;
            let tx = client
                .transaction()
                .await
                .map_err(self.db(format!("swapping in {name}")))?;
            tx.batch_execute(&format!(
                "drop table if exists {}; alter table {load} rename to {}",
                self.table(name),
                ident(name)
            ))
            .await
            .map_err(self.db(format!("swapping in {name}")))?;
            self.record(&tx, name, "", rows, run_id).await?;
            tx.commit()
                .await
                .map_err(self.db(format!("swapping in {name}")))?;
            Ok::<_, TargetError>((rows, bytes))
        }
        .await;
        let (rows, bytes) = match loaded {
            Ok(done) => done,
            Err(e) => {
                // The half-loaded table would only be dropped by the next load; best effort.
                let _ = client
                    .batch_execute(&format!("drop table if exists {load}"))
                    .await;
                return Err(e);
            }
        };
        Ok(LoadReport {
            rows,
            bytes,
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// Replaces one day of an incremental model in one transaction: deletes the rows whose
    /// `column` (a date or timestamp; compared as `cast(column as date)`, UTC for timestamptz)
    /// is `value`, then copies the batches in. A missing table is created; columns the batches
    /// have and the table lacks are added (`alter table … add column`). A column whose type
    /// differs from the table's is an error (a full rebuild is the way out).
    pub async fn merge_partition<S>(
        &self,
        name: &str,
        schema: SchemaRef,
        column: &str,
        value: chrono::NaiveDate,
        batches: S,
        run_id: &str,
    ) -> Result<LoadReport, TargetError>
    where
        S: Stream<Item = Result<RecordBatch, String>> + Send,
    {
        let start = Instant::now();
        check_name("table", name, 0)?;
        let table = self.table(name);
        let what = format!("replacing partition {value} of {name}");
        let mut client = self.client.lock().await;
        let tx = client.transaction().await.map_err(self.db(what.clone()))?;
        let existing = self.columns_of(&tx, name).await?;
        if existing.is_empty() {
            tx.batch_execute(&format!(
                "create table {table} ({})",
                column_list(&schema, true)
            ))
            .await
            .map_err(self.db(format!("creating {name}")))?;
        } else {
            let mut add = Vec::new();
            for f in schema.fields() {
                let want = Pg::of(f.data_type());
                match existing.iter().find(|c| c.name == *f.name()) {
                    None => add.push(format!("add column {} {}", ident(f.name()), want.sql())),
                    Some(c) if !compatible(&want, c.base_oid) => {
                        return Err(TargetError::Invalid(format!(
                            "{name}.{}: the table's column is {} but the model's is {}; \
                             rebuild the whole table",
                            f.name(),
                            c.type_name,
                            want.sql()
                        )));
                    }
                    Some(_) => {}
                }
            }
            for addition in add {
                tx.batch_execute(&format!("alter table {table} {addition}"))
                    .await
                    .map_err(self.db(format!("adding columns to {name}")))?;
            }
        }
        tx.execute(
            &format!(
                "delete from {table} where cast({} as date) = cast({} as date)",
                ident(column),
                literal(&value.format("%Y-%m-%d").to_string())
            ),
            &[],
        )
        .await
        .map_err(self.db(what.clone()))?;
        let sink = tx
            .copy_in::<_, Bytes>(copy_sql(&table, &schema).as_str())
            .await
            .map_err(self.db(what.clone()))?;
        let (rows, bytes) = self.fill(sink, &schema, batches, name).await?;
        self.record(
            &tx,
            name,
            &value.format("%Y-%m-%d").to_string(),
            rows,
            run_id,
        )
        .await?;
        tx.commit().await.map_err(self.db(what))?;
        Ok(LoadReport {
            rows,
            bytes,
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// The bookkeeping row of a publish; delete and insert rather than `on conflict`, which
    /// Redshift lacks.
    async fn record(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        model: &str,
        part: &str,
        rows: u64,
        run_id: &str,
    ) -> Result<(), TargetError> {
        let builds = self.table("_pulse_builds");
        let rows = i64::try_from(rows).unwrap_or(i64::MAX);
        let what = || format!("recording the publish of {model}");
        tx.execute(
            &format!("delete from {builds} where model = $1 and part = $2"),
            &[&model, &part],
        )
        .await
        .map_err(self.db(what()))?;
        tx.execute(
            &format!(
                "insert into {builds} (model, part, rows, run_id, published_at) \
                 values ($1, $2, $3, $4, now())"
            ),
            &[&model, &part, &rows, &run_id],
        )
        .await
        .map_err(self.db(what()))?;
        Ok(())
    }

    /// Streams `batches` into an open COPY; returns rows and payload bytes.
    async fn fill<S>(
        &self,
        sink: tokio_postgres::CopyInSink<Bytes>,
        schema: &SchemaRef,
        batches: S,
        table: &str,
    ) -> Result<(u64, u64), TargetError>
    where
        S: Stream<Item = Result<RecordBatch, String>> + Send,
    {
        let what = format!("copying into {table}");
        let data_err = |message: String| TargetError::Data {
            what: what.clone(),
            message,
        };
        pin_mut!(sink);
        pin_mut!(batches);
        let mut buf = BytesMut::with_capacity(CHUNK + CHUNK / 2);
        buf.extend_from_slice(COPY_HEADER);
        let mut rows = 0u64;
        let mut bytes = 0u64;
        // Dropping the sink before `finish` aborts the COPY (CopyFail), so an error here leaves
        // no partial rows.
        while let Some(batch) = batches.next().await {
            let batch = batch.map_err(|m| data_err(format!("the model's batches failed: {m}")))?;
            same_columns(schema, &batch).map_err(&data_err)?;
            encode_batch(&batch, &mut buf).map_err(&data_err)?;
            rows += batch.num_rows() as u64;
            while buf.len() >= CHUNK {
                let chunk = buf.split_to(CHUNK).freeze();
                bytes += chunk.len() as u64;
                sink.send(chunk).await.map_err(self.db(what.clone()))?;
            }
        }
        buf.extend_from_slice(COPY_TRAILER);
        bytes += buf.len() as u64;
        sink.send(buf.freeze())
            .await
            .map_err(self.db(what.clone()))?;
        let copied = sink
            .as_mut()
            .finish()
            .await
            .map_err(self.db(what.clone()))?;
        if copied != rows {
            return Err(data_err(format!(
                "PostgreSQL copied {copied} rows of the {rows} sent"
            )));
        }
        Ok((rows, bytes))
    }

    /// Changes with every publish: the count of bookkeeping rows, the latest publish time and
    /// the sum of all publish times (a republished model moves it even when it is not the
    /// latest).
    pub async fn version(&self) -> Result<String, TargetError> {
        let builds = self.table("_pulse_builds");
        let client = self.client.lock().await;
        let row = client
            .query_one(
                &format!(
                    "select count(*)::text, coalesce(max(published_at)::text, ''), \
                     coalesce(sum(extract(epoch from published_at))::text, '') from {builds}"
                ),
                &[],
            )
            .await
            .map_err(self.db("reading the warehouse version"))?;
        let get = |i| -> Result<String, TargetError> {
            row.try_get::<_, String>(i)
                .map_err(self.db("reading the warehouse version"))
        };
        Ok(format!("{}/{}/{}", get(0)?, get(1)?, get(2)?))
    }

    /// Runs a query and returns its rows as Arrow. The statement is prepared first to learn
    /// the column types, then run as `COPY (<sql>) TO STDOUT (FORMAT binary)`.
    ///
    /// int2 → Int16, int4 → Int32, int8 → Int64 (each its own width), float4 → Float32, float8
    /// → Float64, numeric → Decimal128(38, s) when the statement states the scale s (a
    /// numeric(p, s) column, p ≤ 38), otherwise Float64 (sums, averages, `round`), bool →
    /// Boolean, text/varchar/bpchar/name/json/jsonb/uuid and enums → Utf8, date → Date32,
    /// timestamp → Timestamp(µs), timestamptz → Timestamp(µs, "UTC"), time → Time64(µs),
    /// interval → Int64 microseconds (a month counted as 30 days, as PostgreSQL compares
    /// intervals), bytea → Binary, domains as their base type, arrays of these → List (several
    /// dimensions flattened). ±infinity dates and timestamps and numeric NaN/infinity into a
    /// Decimal are null. Any other type is cast to text in SQL (arrays of them to text[]).
    pub async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, TargetError> {
        let sql = sql.trim().trim_end_matches(';').trim_end();
        let client = self.client.lock().await;
        let statement = client
            .prepare(sql)
            .await
            .map_err(self.db("preparing the query"))?;
        let columns = statement.columns();
        if columns.is_empty() {
            return Err(TargetError::Invalid(
                "query() runs statements that return rows; this one returns no columns".into(),
            ));
        }
        let mut names = Vec::with_capacity(columns.len());
        let mut kinds = Vec::with_capacity(columns.len());
        let mut outputs = Vec::with_capacity(columns.len());
        let mut wrap = false;
        for (i, c) in columns.iter().enumerate() {
            names.push(c.name().to_string());
            let alias = format!("c{}", i + 1);
            match kind_of(c.type_(), c.type_modifier()) {
                Some(k) => {
                    kinds.push(k);
                    outputs.push(alias);
                }
                None if matches!(c.type_().kind(), PgKind::Array(_)) => {
                    wrap = true;
                    kinds.push(Kind::List(Box::new(Kind::Text)));
                    outputs.push(format!("cast({alias} as text[])"));
                }
                None => {
                    wrap = true;
                    kinds.push(Kind::Text);
                    outputs.push(format!("cast({alias} as text)"));
                }
            }
        }
        drop(statement);
        // Newlines keep a trailing `-- comment` of the query from swallowing the parenthesis.
        let copy = if wrap {
            let aliases: Vec<String> = (1..=kinds.len()).map(|i| format!("c{i}")).collect();
            format!(
                "copy (select {} from (\n{sql}\n) as pulse_q ({})) to stdout (format binary)",
                outputs.join(", "),
                aliases.join(", ")
            )
        } else {
            format!("copy (\n{sql}\n) to stdout (format binary)")
        };
        let decode_err = |message: String| TargetError::Data {
            what: "reading the query's rows".into(),
            message,
        };
        let mut reader = CopyReader::new(&names, &kinds).map_err(decode_err)?;
        let stream = client
            .copy_out(copy.as_str())
            .await
            .map_err(self.db("running the query"))?;
        pin_mut!(stream);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(self.db("running the query"))?;
            reader.feed(&chunk).map_err(decode_err)?;
        }
        reader.finish().map_err(decode_err)
    }

    /// Plans a statement without running it: unknown tables and columns fail here with
    /// PostgreSQL's message (which names them).
    pub async fn check(&self, sql: &str) -> Result<(), TargetError> {
        let sql = sql.trim().trim_end_matches(';').trim_end();
        let client = self.client.lock().await;
        client
            .prepare(sql)
            .await
            .map(drop)
            .map_err(self.db("checking the query"))
    }

    /// The columns of table `name` of the schema as PostgreSQL has them (none when there is no
    /// such table), read on `client` (a transaction's, to see its own changes).
    async fn columns_of(
        &self,
        client: &impl tokio_postgres::GenericClient,
        name: &str,
    ) -> Result<Vec<TableColumn>, TargetError> {
        let what = format!("reading the columns of {name}");
        let rows = client
            .query(COLUMNS_SQL, &[&self.schema, &name])
            .await
            .map_err(self.db(what.clone()))?;
        table_columns(&rows).map_err(|message| TargetError::Data { what, message })
    }

    /// The columns of table (or view) `name` of the schema as an Arrow schema, with the types
    /// [`PgTarget::query`] would return; `None` when there is no such table.
    pub async fn table_schema(&self, name: &str) -> Result<Option<SchemaRef>, TargetError> {
        let client = self.client.lock().await;
        let columns = self.columns_of(&*client, name).await?;
        if columns.is_empty() {
            return Ok(None);
        }
        let fields: Vec<Field> = columns
            .iter()
            .map(|c| {
                let dt = match Type::from_oid(c.base_oid).and_then(|t| kind_of(&t, c.typmod)) {
                    Some(k) => k.data_type(),
                    None if c.is_array => Kind::List(Box::new(Kind::Text)).data_type(),
                    None => DataType::Utf8,
                };
                Field::new(&c.name, dt, !c.not_null)
            })
            .collect();
        Ok(Some(Arc::new(Schema::new(fields))))
    }
}

/// A table's columns, domains resolved to their base types; no rows when there is no table.
const COLUMNS_SQL: &str = "select a.attname::text, \
       (case when t.typtype = 'd' then t.typbasetype else a.atttypid end)::bigint, \
       case when t.typtype = 'd' then t.typtypmod else a.atttypmod end, \
       a.attnotnull, \
       (t.typelem <> 0 and t.typlen = -1), \
       format_type(a.atttypid, a.atttypmod) \
  from pg_catalog.pg_attribute a \
  join pg_catalog.pg_class c on c.oid = a.attrelid \
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace \
  join pg_catalog.pg_type t on t.oid = a.atttypid \
 where n.nspname = $1 and c.relname = $2 and a.attnum > 0 and not a.attisdropped \
 order by a.attnum";

struct TableColumn {
    name: String,
    base_oid: u32,
    typmod: i32,
    not_null: bool,
    is_array: bool,
    type_name: String,
}

fn table_columns(rows: &[tokio_postgres::Row]) -> Result<Vec<TableColumn>, String> {
    rows.iter()
        .map(|r| {
            let oid: i64 = r.try_get(1).map_err(|e| e.to_string())?;
            Ok(TableColumn {
                name: r.try_get(0).map_err(|e| e.to_string())?,
                base_oid: u32::try_from(oid).map_err(|e| e.to_string())?,
                typmod: r.try_get(2).map_err(|e| e.to_string())?,
                not_null: r.try_get(3).map_err(|e| e.to_string())?,
                is_array: r.try_get(4).map_err(|e| e.to_string())?,
                type_name: r.try_get(5).map_err(|e| e.to_string())?,
            })
        })
        .collect()
}

/// Whether values encoded for `want` load into a column of type `oid`: the same type, or text
/// into the other string types (their binary input is the same).
fn compatible(want: &Pg, oid: u32) -> bool {
    let text_like = [Type::TEXT, Type::VARCHAR, Type::BPCHAR].map(|t| t.oid());
    want.oid() == oid || (want.oid() == Type::TEXT.oid() && text_like.contains(&oid))
}

fn column_list(schema: &Schema, with_types: bool) -> String {
    schema
        .fields()
        .iter()
        .map(|f| {
            if with_types {
                format!("{} {}", ident(f.name()), pg_type(f.data_type()))
            } else {
                ident(f.name())
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn copy_sql(table: &str, schema: &Schema) -> String {
    format!(
        "copy {table} ({}) from stdin (format binary)",
        column_list(schema, false)
    )
}

/// A batch must have the declared columns, each encoded as the table's column type.
fn same_columns(schema: &Schema, batch: &RecordBatch) -> Result<(), String> {
    if batch.num_columns() != schema.fields().len() {
        return Err(format!(
            "a batch has {} columns, the schema {}",
            batch.num_columns(),
            schema.fields().len()
        ));
    }
    for (f, have) in schema.fields().iter().zip(batch.schema().fields()) {
        if Pg::of(f.data_type()) != Pg::of(have.data_type()) {
            return Err(format!(
                "column {} is {} in a batch but {} in the schema",
                f.name(),
                have.data_type(),
                f.data_type()
            ));
        }
    }
    Ok(())
}

/// Loads a wide orders-like table of `rows` rows into a fresh schema of the database at `url`
/// (dropped afterwards) with [`PgTarget::replace_table`], for `pulse bench` and the tests.
pub async fn bench_load(url: &str, rows: u64) -> Result<LoadReport, TargetError> {
    let schema_name = format!(
        "pulse_bench_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    let target = PgTarget::connect(url, &schema_name).await?;
    let (schema, batches) = bench::orders(rows);
    let result = target
        .replace_table(
            "orders",
            schema,
            futures::stream::iter(batches.into_iter().map(Ok)),
            "bench",
        )
        .await;
    let dropped = target
        .client
        .lock()
        .await
        .batch_execute(&format!(
            "drop schema if exists {} cascade",
            ident(&schema_name)
        ))
        .await
        .map_err(target.db(format!("dropping {schema_name}")));
    let report = result?;
    dropped?;
    Ok(report)
}

mod bench {
    use arrow::array::{
        ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array,
        Int16Array, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    };
    use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
    use std::sync::Arc;

    const BATCH: u64 = 8192;

    /// Batches of a generated orders table (20 columns: ids, texts, timestamps, decimals,
    /// floats, nulls). A few distinct batches are generated and sliced, so the generator does
    /// not weigh on the measured load.
    pub(super) fn orders(rows: u64) -> (SchemaRef, Vec<RecordBatch>) {
        let utc = Some("UTC".into());
        let schema = Arc::new(Schema::new(vec![
            Field::new("order_id", DataType::Int64, false),
            Field::new("customer_id", DataType::Int64, false),
            Field::new("restaurant_id", DataType::Int32, false),
            Field::new("courier_id", DataType::Int32, true),
            Field::new("city", DataType::Utf8, false),
            Field::new("status", DataType::Utf8, false),
            Field::new("channel", DataType::Utf8, false),
            Field::new(
                "created_at",
                DataType::Timestamp(TimeUnit::Microsecond, utc.clone()),
                false,
            ),
            Field::new(
                "delivered_at",
                DataType::Timestamp(TimeUnit::Microsecond, utc),
                true,
            ),
            Field::new("order_date", DataType::Date32, false),
            Field::new("items", DataType::Int16, false),
            Field::new("subtotal", DataType::Decimal128(12, 2), false),
            Field::new("delivery_fee", DataType::Decimal128(10, 2), false),
            Field::new("discount", DataType::Decimal128(10, 2), true),
            Field::new("total", DataType::Decimal128(12, 2), false),
            Field::new("distance_km", DataType::Float64, false),
            Field::new("rating", DataType::Float32, true),
            Field::new("first_order", DataType::Boolean, false),
            Field::new("promo_code", DataType::Utf8, true),
            Field::new("address", DataType::Utf8, false),
        ]));
        let distinct = rows.div_ceil(BATCH).clamp(1, 8);
        let made: Vec<RecordBatch> = (0..distinct)
            .filter_map(|b| batch(&schema, b * BATCH, BATCH as usize))
            .collect();
        let mut out = Vec::new();
        let mut left = rows;
        let mut i = 0;
        while left > 0 && !made.is_empty() {
            let b = &made[i % made.len()];
            let n = left.min(b.num_rows() as u64);
            out.push(b.slice(0, n as usize));
            left -= n;
            i += 1;
        }
        (schema, out)
    }

    fn batch(schema: &SchemaRef, first: u64, n: usize) -> Option<RecordBatch> {
        const CITIES: [&str; 6] = ["Berlin", "Paris", "Lyon", "Madrid", "Porto", "Kraków"];
        const STATUS: [&str; 4] = ["delivered", "cancelled", "refunded", "delivered"];
        const CHANNEL: [&str; 3] = ["app", "web", "phone"];
        let mut x = first.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let ids: Vec<i64> = (0..n as i64).map(|i| first as i64 + i).collect();
        let r: Vec<u64> = (0..n).map(|_| rand()).collect();
        let created: Vec<i64> = r
            .iter()
            .map(|v| 1_793_000_000_000_000 + (v % 2_592_000_000_000) as i64)
            .collect();
        let subtotal: Vec<i128> = r.iter().map(|v| 500 + (v >> 8) as i128 % 9_000).collect();
        let fee: Vec<i128> = r.iter().map(|v| 199 + (v >> 20) as i128 % 300).collect();
        let discount: Vec<Option<i128>> = r
            .iter()
            .map(|v| (v % 5 == 0).then(|| (v >> 30) as i128 % 500))
            .collect();
        let total: Vec<i128> = (0..n)
            .map(|i| subtotal[i] + fee[i] - discount[i].unwrap_or(0))
            .collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(ids.clone())),
            Arc::new(Int64Array::from_iter_values(
                r.iter().map(|v| (v % 50_000) as i64),
            )),
            Arc::new(Int32Array::from_iter_values(
                r.iter().map(|v| (v >> 16) as i32 % 800),
            )),
            Arc::new(Int32Array::from_iter(
                r.iter()
                    .map(|v| (v % 10 != 0).then_some((v >> 24) as i32 % 300)),
            )),
            Arc::new(StringArray::from_iter_values(
                r.iter().map(|v| CITIES[(v % 6) as usize]),
            )),
            Arc::new(StringArray::from_iter_values(
                r.iter().map(|v| STATUS[((v >> 3) % 4) as usize]),
            )),
            Arc::new(StringArray::from_iter_values(
                r.iter().map(|v| CHANNEL[((v >> 5) % 3) as usize]),
            )),
            Arc::new(TimestampMicrosecondArray::from(created.clone()).with_timezone("UTC")),
            Arc::new(
                TimestampMicrosecondArray::from_iter(created.iter().zip(&r).map(|(c, v)| {
                    (v % 7 != 0).then_some(c + 1_200_000_000 + (v % 1_800_000_000) as i64)
                }))
                .with_timezone("UTC"),
            ),
            Arc::new(Date32Array::from_iter_values(
                created.iter().map(|c| (c / 86_400_000_000) as i32),
            )),
            Arc::new(Int16Array::from_iter_values(
                r.iter().map(|v| 1 + (v % 9) as i16),
            )),
            Arc::new(
                Decimal128Array::from(subtotal)
                    .with_precision_and_scale(12, 2)
                    .ok()?,
            ),
            Arc::new(
                Decimal128Array::from(fee)
                    .with_precision_and_scale(10, 2)
                    .ok()?,
            ),
            Arc::new(
                Decimal128Array::from(discount)
                    .with_precision_and_scale(10, 2)
                    .ok()?,
            ),
            Arc::new(
                Decimal128Array::from(total)
                    .with_precision_and_scale(12, 2)
                    .ok()?,
            ),
            Arc::new(Float64Array::from_iter_values(
                r.iter().map(|v| (v % 15_000) as f64 / 1000.0),
            )),
            Arc::new(Float32Array::from_iter(
                r.iter()
                    .map(|v| (v % 3 != 0).then_some(1.0 + (v % 5) as f32)),
            )),
            Arc::new(BooleanArray::from_iter(r.iter().map(|v| Some(v % 11 == 0)))),
            Arc::new(StringArray::from_iter(
                r.iter()
                    .map(|v| (v % 4 == 0).then(|| format!("PROMO{}", v % 97))),
            )),
            Arc::new(StringArray::from_iter_values(ids.iter().zip(&r).map(
                |(i, v)| {
                    format!(
                        "{} Rue \"{}\" {}, étage {}",
                        v % 300,
                        i % 1000,
                        CITIES[(v % 6) as usize],
                        v % 9
                    )
                },
            ))),
        ];
        RecordBatch::try_new(schema.clone(), columns).ok()
    }
}
