//! The application databases on real servers: orders, payments and promotions as schemas of a
//! PostgreSQL database, logistics as a MariaDB/MySQL database, with the same keys, foreign keys,
//! indexes and `updated_at` columns as the SQLite files (whose rows they copy). `live` then
//! behaves like the running applications: new orders, status changes and refunds.

use crate::sqlite::{LOGISTICS_SCHEMA, ORDERS_SCHEMA, PAYMENTS_SCHEMA, PROMOTIONS_SCHEMA};
use crate::{GenerateError, Result};
use ::mysql::prelude::Queryable;
use ::postgres::{Client, NoTls};
use pulse_project::ConnectionString;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use rusqlite::types::ValueRef;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Where the application databases go. Names get `prefix` in front, so tests can keep their
/// own copies side by side.
#[derive(Debug, Clone, Default)]
pub struct ServerTargets {
    /// `postgres://…`: schemas `<prefix>orders`, `<prefix>payments`, `<prefix>promotions`.
    pub postgres: Option<String>,
    /// `mysql://…`: database `<prefix>logistics`.
    pub mysql: Option<String>,
    pub prefix: String,
}

#[derive(Debug, Default)]
pub struct ServerReport {
    /// Rows per `source.table` written.
    pub rows: BTreeMap<String, u64>,
    pub seconds: f64,
}

fn server_err(url: &ConnectionString, message: impl std::fmt::Display) -> GenerateError {
    GenerateError::Server {
        target: url.to_string(),
        message: url.redact(&message.to_string()),
    }
}

fn pg_message(e: &::postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut m = e.to_string();
            if let Some(s) = std::error::Error::source(e) {
                m.push_str(&format!(": {s}"));
            }
            m
        }
    }
}

fn resolve(url: &str) -> Result<ConnectionString> {
    ConnectionString::resolve(url).map_err(|message| GenerateError::Server {
        target: pulse_project::secrets::redact_url(url),
        message,
    })
}

pub fn pg_connect(url: &ConnectionString) -> Result<Client> {
    Client::connect(url.expose(), NoTls).map_err(|e| server_err(url, pg_message(&e)))
}

pub fn my_connect(url: &ConnectionString, db: Option<&str>) -> Result<::mysql::Conn> {
    let opts = ::mysql::Opts::from_url(url.expose()).map_err(|e| server_err(url, e))?;
    let mut b = ::mysql::OptsBuilder::from_opts(opts)
        .prefer_socket(false)
        .init(vec!["SET time_zone = '+00:00'"]);
    if let Some(db) = db {
        b = b.db_name(Some(db));
    }
    ::mysql::Conn::new(b).map_err(|e| server_err(url, e))
}

fn pg_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn my_ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// The SQLite DDL in PostgreSQL's words.
fn pg_ddl(ddl: &str) -> String {
    ddl.replace("INTEGER", "BIGINT")
        .replace("TIMESTAMP", "TIMESTAMP(6)")
}

/// The SQLite DDL in MariaDB's words.
fn my_ddl(ddl: &str) -> String {
    ddl.replace("INTEGER", "BIGINT")
        .replace("TIMESTAMP", "DATETIME(6)")
        .replace("TEXT", "VARCHAR(255)")
}

/// Table names of a DDL text, in order.
fn tables_of(ddl: &str) -> Vec<String> {
    ddl.lines()
        .filter_map(|l| l.strip_prefix("CREATE TABLE "))
        .filter_map(|r| r.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

fn sqlite_err(path: &Path) -> impl Fn(rusqlite::Error) -> GenerateError + '_ {
    move |source| GenerateError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// Every row of a SQLite table, values as optional text.
fn for_each_row(
    db: &Path,
    table: &str,
    mut f: impl FnMut(&[Option<String>]) -> Result<()>,
) -> Result<u64> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(sqlite_err(db))?;
    let mut st = conn
        .prepare(&format!("SELECT * FROM \"{table}\""))
        .map_err(sqlite_err(db))?;
    let n = st.column_count();
    let mut rows = st.query([]).map_err(sqlite_err(db))?;
    let mut count = 0;
    let mut vals = Vec::with_capacity(n);
    while let Some(r) = rows.next().map_err(sqlite_err(db))? {
        vals.clear();
        for i in 0..n {
            vals.push(match r.get_ref(i).map_err(sqlite_err(db))? {
                ValueRef::Null => None,
                ValueRef::Integer(v) => Some(v.to_string()),
                ValueRef::Real(v) => Some(v.to_string()),
                ValueRef::Text(t) | ValueRef::Blob(t) => {
                    Some(String::from_utf8_lossy(t).into_owned())
                }
            });
        }
        f(&vals)?;
        count += 1;
    }
    Ok(count)
}

fn copy_text_escape(out: &mut Vec<u8>, v: &str) {
    for b in v.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

fn my_literal(v: &Option<String>) -> String {
    match v {
        None => "NULL".to_string(),
        Some(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''")),
    }
}

/// Copies the SQLite databases under `data_dir` (written by [`crate::generate`]) into the
/// servers, replacing earlier copies with the same prefix.
pub fn load_servers(data_dir: &Path, targets: &ServerTargets) -> Result<ServerReport> {
    let started = Instant::now();
    let mut report = ServerReport::default();
    if let Some(url) = &targets.postgres {
        let url = resolve(url)?;
        let mut client = pg_connect(&url)?;
        for (name, ddl) in [
            ("promotions", PROMOTIONS_SCHEMA),
            ("orders", ORDERS_SCHEMA),
            ("payments", PAYMENTS_SCHEMA),
        ] {
            let schema = format!("{}{name}", targets.prefix);
            let db = data_dir.join(format!("{name}.sqlite"));
            let mut tx = client
                .transaction()
                .map_err(|e| server_err(&url, pg_message(&e)))?;
            tx.batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s}; SET LOCAL search_path TO {s};\n{}",
                pg_ddl(ddl),
                s = pg_ident(&schema)
            ))
            .map_err(|e| server_err(&url, pg_message(&e)))?;
            for table in tables_of(ddl) {
                let mut w = tx
                    .copy_in(&format!(
                        "COPY {}.{} FROM STDIN",
                        pg_ident(&schema),
                        pg_ident(&table)
                    ))
                    .map_err(|e| server_err(&url, pg_message(&e)))?;
                let mut buf = Vec::with_capacity(1 << 20);
                let n = for_each_row(&db, &table, |vals| {
                    for (i, v) in vals.iter().enumerate() {
                        if i > 0 {
                            buf.push(b'\t');
                        }
                        match v {
                            Some(v) => copy_text_escape(&mut buf, v),
                            None => buf.extend_from_slice(b"\\N"),
                        }
                    }
                    buf.push(b'\n');
                    if buf.len() > 1 << 20 {
                        w.write_all(&buf).map_err(|e| server_err(&url, e))?;
                        buf.clear();
                    }
                    Ok(())
                })?;
                w.write_all(&buf).map_err(|e| server_err(&url, e))?;
                w.finish().map_err(|e| server_err(&url, pg_message(&e)))?;
                report.rows.insert(format!("{name}.{table}"), n);
            }
            tx.commit().map_err(|e| server_err(&url, pg_message(&e)))?;
        }
    }
    if let Some(url) = &targets.mysql {
        let url = resolve(url)?;
        let mut conn = my_connect(&url, None)?;
        let db_name = format!("{}logistics", targets.prefix);
        let db = data_dir.join("logistics.sqlite");
        let e = |err: ::mysql::Error| server_err(&url, err);
        conn.query_drop(format!(
            "DROP DATABASE IF EXISTS {d}; CREATE DATABASE {d} CHARACTER SET utf8mb4",
            d = my_ident(&db_name)
        ))
        .map_err(e)?;
        conn.query_drop(format!("USE {}", my_ident(&db_name)))
            .map_err(e)?;
        for stmt in my_ddl(LOGISTICS_SCHEMA).split(';') {
            if !stmt.trim().is_empty() {
                conn.query_drop(stmt).map_err(e)?;
            }
        }
        conn.query_drop("START TRANSACTION").map_err(e)?;
        for table in tables_of(LOGISTICS_SCHEMA) {
            let head = format!("INSERT INTO {} VALUES ", my_ident(&table));
            let mut sql = head.clone();
            let mut pending = 0;
            let n = for_each_row(&db, &table, |vals| {
                if pending > 0 {
                    sql.push(',');
                }
                sql.push('(');
                sql.push_str(&vals.iter().map(my_literal).collect::<Vec<_>>().join(","));
                sql.push(')');
                pending += 1;
                if pending >= 2000 {
                    conn.query_drop(&sql).map_err(e)?;
                    sql = head.clone();
                    pending = 0;
                }
                Ok(())
            })?;
            if pending > 0 {
                conn.query_drop(&sql).map_err(e)?;
            }
            report.rows.insert(format!("logistics.{table}"), n);
        }
        conn.query_drop("COMMIT").map_err(e)?;
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// How long and how fast `live` runs.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub targets: ServerTargets,
    /// Changes per second (each a small transaction like the applications make).
    pub rate: f64,
    /// Stop after this many changes.
    pub max_changes: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    pub seed: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LiveReport {
    pub new_orders: u64,
    pub status_changes: u64,
    pub refunds: u64,
}

impl LiveReport {
    pub fn changes(&self) -> u64 {
        self.new_orders + self.status_changes + self.refunds
    }
}

struct Pending {
    order_id: i64,
    delivery_id: i64,
    payment_id: i64,
    total: i64,
    fee: i64,
}

/// A timestamp text with microseconds.
fn ts(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string())
        .unwrap_or_default()
}

fn pg_i64(client: &mut Client, url: &ConnectionString, sql: &str) -> Result<i64> {
    let row = client
        .query_one(sql, &[])
        .map_err(|e| server_err(url, pg_message(&e)))?;
    row.try_get::<_, Option<i64>>(0)
        .map(|v| v.unwrap_or(0))
        .map_err(|e| server_err(url, pg_message(&e)))
}

/// Keeps changing the application databases like the running applications would: new orders
/// (with items, a payment and a delivery), orders delivered or cancelled, late deliveries
/// refunded. Every change sets `updated_at` to the current time (never earlier than what the
/// tables hold). Stops when `stop` is set, or after `max_changes` / `duration`.
pub fn live(opts: &LiveOptions, stop: &AtomicBool) -> Result<LiveReport> {
    let (Some(pg_url), Some(my_url)) = (&opts.targets.postgres, &opts.targets.mysql) else {
        return Err(GenerateError::Options(
            "--live needs both --postgres and --mysql".into(),
        ));
    };
    let pg_url = resolve(pg_url)?;
    let my_url = resolve(my_url)?;
    let p = &opts.targets.prefix;
    let (o, pay) = (
        pg_ident(&format!("{p}orders")),
        pg_ident(&format!("{p}payments")),
    );
    let mut pg = pg_connect(&pg_url)?;
    let logistics = format!("{p}logistics");
    let mut my = my_connect(&my_url, Some(&logistics))?;
    let pe = |e: ::postgres::Error| server_err(&pg_url, pg_message(&e));
    let me = |e: ::mysql::Error| server_err(&my_url, e);

    // What the applications know: customers, menus, couriers, and where the ids are.
    let customers: Vec<(i64, String)> = pg
        .query(
            &format!("SELECT customer_id, city FROM {o}.customers ORDER BY customer_id"),
            &[],
        )
        .map_err(pe)?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<std::result::Result<_, ::postgres::Error>>()
        .map_err(pe)?;
    let items: Vec<(i64, i64, i64)> = pg
        .query(
            &format!(
                "SELECT item_id, restaurant_id, price_cents FROM {o}.menu_items ORDER BY item_id"
            ),
            &[],
        )
        .map_err(pe)?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect::<std::result::Result<_, ::postgres::Error>>()
        .map_err(pe)?;
    let couriers: Vec<i64> = my
        .query("SELECT courier_id FROM couriers ORDER BY courier_id")
        .map_err(me)?;
    if customers.is_empty() || items.is_empty() || couriers.is_empty() {
        return Err(GenerateError::Options(
            "the servers hold no customers, menu items or couriers: run generate with --postgres and --mysql first".into(),
        ));
    }
    let mut next_order = pg_i64(
        &mut pg,
        &pg_url,
        &format!("SELECT max(order_id) FROM {o}.orders"),
    )? + 1;
    let mut next_item = pg_i64(
        &mut pg,
        &pg_url,
        &format!("SELECT max(order_item_id) FROM {o}.order_items"),
    )? + 1;
    let mut next_payment = pg_i64(
        &mut pg,
        &pg_url,
        &format!("SELECT max(payment_id) FROM {pay}.payments"),
    )? + 1;
    let mut next_refund = pg_i64(
        &mut pg,
        &pg_url,
        &format!("SELECT max(refund_id) FROM {pay}.refunds"),
    )? + 1;
    let mut next_delivery: i64 = my
        .query_first::<Option<i64>, _>("SELECT MAX(delivery_id) FROM deliveries")
        .map_err(me)?
        .flatten()
        .unwrap_or(0)
        + 1;
    let latest = pg_i64(
        &mut pg,
        &pg_url,
        &format!(
            "SELECT (extract(epoch FROM greatest(
                 (SELECT max(updated_at) FROM {o}.orders), (SELECT max(updated_at) FROM {pay}.payments),
                 (SELECT max(updated_at) FROM {pay}.refunds))) * 1000000)::int8"
        ),
    )?;
    let my_latest: i64 = my
        .query_first::<Option<i64>, _>(
            "SELECT CAST(UNIX_TIMESTAMP(MAX(updated_at)) * 1000000 AS SIGNED) FROM deliveries",
        )
        .map_err(me)?
        .flatten()
        .unwrap_or(0);
    let mut clock = latest.max(my_latest);
    let mut now = move || {
        let wall = chrono::Utc::now().timestamp_micros();
        clock = wall.max(clock + 1);
        clock
    };

    let mut rng = Pcg64Mcg::seed_from_u64(opts.seed ^ 0x11fe);
    let mut pending: Vec<Pending> = Vec::new();
    let mut delivered: Vec<Pending> = Vec::new();
    let mut report = LiveReport::default();
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / opts.rate.max(0.001));
    let mut next_at = Instant::now();
    loop {
        if stop.load(Ordering::SeqCst)
            || opts.max_changes.is_some_and(|m| report.changes() >= m)
            || opts.duration.is_some_and(|d| started.elapsed() >= d)
        {
            break;
        }
        let wait = next_at.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait.min(Duration::from_millis(200)));
            continue;
        }
        next_at += interval;
        let roll: f64 = rng.random();
        if pending.is_empty() || (roll < 0.45 && pending.len() < 50) {
            // A new order: items, the payment captured, a courier accepts.
            let (customer, city) = &customers[rng.random_range(0..customers.len())];
            let (_, restaurant, _) = items[rng.random_range(0..items.len())];
            let menu: Vec<&(i64, i64, i64)> = items.iter().filter(|i| i.1 == restaurant).collect();
            let t = now();
            let mut tx = pg.transaction().map_err(pe)?;
            let lines = rng.random_range(1..=3usize);
            let mut subtotal = 0;
            let mut rows = Vec::new();
            for _ in 0..lines {
                let it = menu[rng.random_range(0..menu.len())];
                let qty = rng.random_range(1..=2i64);
                subtotal += qty * it.2;
                rows.push((it.0, qty, it.2));
            }
            let fee = 299;
            let total = subtotal + fee;
            let order_id = next_order;
            tx.execute(
                &format!(
                    "INSERT INTO {o}.orders VALUES ($1, $2, $3, $4, $5::text::timestamp, $6::text::timestamp, 'placed', $7, 0, $8, $9, NULL, NULL, $5::text::timestamp)"
                ),
                &[&order_id, customer, &restaurant, city, &ts(t), &ts(t + 2_700_000_000), &subtotal, &fee, &total],
            )
            .map_err(pe)?;
            for (item, qty, price) in rows {
                tx.execute(
                    &format!("INSERT INTO {o}.order_items VALUES ($1, $2, $3, $4, $5, $6::text::timestamp)"),
                    &[&next_item, &order_id, &item, &qty, &price, &ts(t)],
                )
                .map_err(pe)?;
                next_item += 1;
            }
            let payment_id = next_payment;
            tx.execute(
                &format!(
                    "INSERT INTO {pay}.payments VALUES ($1, $2, 'card', 'succeeded', NULL, $3, 'EUR', $4, $5::text::timestamp, $5::text::timestamp)"
                ),
                &[&payment_id, &order_id, &total, &format!("psp_live_{payment_id:x}"), &ts(t)],
            )
            .map_err(pe)?;
            tx.commit().map_err(pe)?;
            let courier = couriers[rng.random_range(0..couriers.len())];
            my.exec_drop(
                "INSERT INTO deliveries VALUES (?, ?, ?, ?, 'accepted', ?, ?, NULL, NULL, NULL, NULL, ?)",
                (next_delivery, order_id, courier, city, rng.random_range(500..6000i64), ts(t), ts(t)),
            )
            .map_err(me)?;
            pending.push(Pending {
                order_id,
                delivery_id: next_delivery,
                payment_id,
                total,
                fee,
            });
            next_order += 1;
            next_payment += 1;
            next_delivery += 1;
            report.new_orders += 1;
        } else if roll < 0.9 || delivered.is_empty() {
            // An order finishes: delivered (mostly) or cancelled.
            let p = pending.remove(rng.random_range(0..pending.len()));
            let t = now();
            let cancelled = rng.random::<f64>() < 0.1;
            let status = if cancelled { "cancelled" } else { "delivered" };
            pg.execute(
                &format!("UPDATE {o}.orders SET status = $1, updated_at = $2::text::timestamp WHERE order_id = $3"),
                &[&status, &ts(t), &p.order_id],
            )
            .map_err(pe)?;
            if cancelled {
                my.exec_drop(
                    "UPDATE deliveries SET status = 'cancelled', cancelled_at = ?, updated_at = ? WHERE delivery_id = ?",
                    (ts(t), ts(t), p.delivery_id),
                )
                .map_err(me)?;
            } else {
                my.exec_drop(
                    "UPDATE deliveries SET status = 'delivered', ready_at = ?, picked_up_at = ?, delivered_at = ?, updated_at = ? WHERE delivery_id = ?",
                    (ts(t - 1_200_000_000), ts(t - 900_000_000), ts(t), ts(t), p.delivery_id),
                )
                .map_err(me)?;
                delivered.push(p);
            }
            report.status_changes += 1;
        } else {
            // A late delivery refunded: the fee back, the payment marked.
            let p = delivered.remove(rng.random_range(0..delivered.len()));
            let t = now();
            let mut tx = pg.transaction().map_err(pe)?;
            tx.execute(
                &format!("INSERT INTO {pay}.refunds VALUES ($1, $2, $3, $4, 'late_delivery', $5::text::timestamp, $5::text::timestamp)"),
                &[&next_refund, &p.payment_id, &p.order_id, &p.fee.min(p.total), &ts(t)],
            )
            .map_err(pe)?;
            tx.execute(
                &format!("UPDATE {pay}.payments SET status = 'partially_refunded', updated_at = $1::text::timestamp WHERE payment_id = $2"),
                &[&ts(t), &p.payment_id],
            )
            .map_err(pe)?;
            tx.commit().map_err(pe)?;
            next_refund += 1;
            report.refunds += 1;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_translations() {
        assert!(pg_ddl(ORDERS_SCHEMA).contains("order_id BIGINT PRIMARY KEY"));
        assert!(my_ddl(LOGISTICS_SCHEMA).contains("updated_at DATETIME(6) NOT NULL"));
        assert_eq!(tables_of(LOGISTICS_SCHEMA), ["couriers", "deliveries"]);
    }
}
