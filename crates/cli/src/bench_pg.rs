//! `pulse bench --postgres URL`: PostgreSQL extract throughput, side by side with
//! `psql -c "\copy (select …) to stdout"` of the same table in the same run. Both figures are
//! MB/s of the table's text form (what psql writes), so they share one denominator.

use crate::output::human_bytes;
use anyhow::{Context, Result, bail};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use pulse_ingest::postgres::PgSession;
use pulse_ingest::server::ReadRequest;
use pulse_ingest::{DEFAULT_BATCH_ROWS, IngestError, Malformed, Sink};
use pulse_project::ConnectionString;
use serde::Serialize;
use std::io::Read;
use std::time::Instant;

const SCHEMA: &str = "pulse_bench";
const TABLE: &str = "orders";

#[derive(Serialize)]
pub struct PgBenchRow {
    pub reader: String,
    pub seconds: f64,
    pub rows: u64,
    pub mb_per_s: f64,
}

#[derive(Serialize)]
pub struct PgBenchReport {
    pub table: String,
    pub rows: u64,
    /// Bytes of the table as text (psql's output).
    pub text_bytes: u64,
    pub runs: Vec<PgBenchRow>,
}

/// Counts what it is given and drops it: the extract alone, no lake writes.
#[derive(Default)]
struct Count {
    rows: u64,
}

impl Sink for Count {
    fn batch(&mut self, batch: arrow::array::RecordBatch) -> Result<(), IngestError> {
        self.rows += batch.num_rows() as u64;
        Ok(())
    }
    fn malformed(&mut self, _: Malformed) -> Result<(), IngestError> {
        Ok(())
    }
}

/// Makes (once) a table of `rows` order-like rows in schema `pulse_bench`.
fn prepare(url: &ConnectionString, rows: u64) -> Result<()> {
    let mut c = postgres::Client::connect(url.expose(), postgres::NoTls)
        .map_err(|e| anyhow::anyhow!("{}: {}", url, url.redact(&e.to_string())))?;
    let exists: Option<String> = c
        .query_one(
            &format!("SELECT to_regclass('{SCHEMA}.{TABLE}')::text"),
            &[],
        )?
        .try_get(0)?;
    let have: i64 = match exists {
        Some(_) => c
            .query_one(&format!("SELECT count(*) FROM {SCHEMA}.{TABLE}"), &[])?
            .try_get(0)?,
        None => -1,
    };
    if have == rows as i64 {
        return Ok(());
    }
    eprintln!("bench: writing {rows} rows into {SCHEMA}.{TABLE} …");
    c.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA};
         CREATE TABLE {SCHEMA}.{TABLE} (
           order_id bigint PRIMARY KEY, customer_id bigint NOT NULL, restaurant_id integer NOT NULL,
           city text NOT NULL, status text NOT NULL, placed_at timestamp NOT NULL,
           total numeric(12,2) NOT NULL, items smallint NOT NULL, paid boolean NOT NULL,
           note text, updated_at timestamptz NOT NULL);
         INSERT INTO {SCHEMA}.{TABLE}
         SELECT g, g % 50000, g % 900, (ARRAY['Berlin','Hamburg','Munich','Cologne'])[1 + g % 4],
                CASE WHEN g % 10 = 0 THEN 'cancelled' ELSE 'delivered' END,
                timestamp '2026-11-01' + g * interval '1 second', (g % 10000) / 100.0 + 5,
                1 + g % 4, g % 7 <> 0, CASE WHEN g % 3 = 0 THEN 'ring twice please' END,
                timestamptz '2026-11-01 00:00+00' + g * interval '1 second'
         FROM generate_series(1, {rows}) g;
         ANALYZE {SCHEMA}.{TABLE};"
    ))?;
    Ok(())
}

/// psql's `\copy … to stdout`, output counted as it streams.
fn run_psql(url: &ConnectionString) -> Result<(f64, u64, u64)> {
    let started = Instant::now();
    let mut child = std::process::Command::new("psql")
        .arg(url.expose())
        .args([
            "-X",
            "-q",
            "-c",
            &format!("\\copy (select * from {SCHEMA}.{TABLE}) to stdout"),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("running psql (is the PostgreSQL client installed?)")?;
    let mut out = child.stdout.take().context("psql's output")?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut bytes, mut lines) = (0u64, 0u64);
    loop {
        let n = out.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("psql failed: {status}");
    }
    Ok((started.elapsed().as_secs_f64(), bytes, lines))
}

fn run_pulse(url: &ConnectionString, parallel: usize) -> Result<(f64, u64)> {
    let started = Instant::now();
    let mut session = PgSession::open(url, SCHEMA, parallel)?;
    let mut sink = Count::default();
    let read = session.read(
        &ReadRequest {
            table: TABLE.to_string(),
            parallel,
            split_by: Some("order_id".to_string()),
            batch_rows: DEFAULT_BATCH_ROWS,
            ..ReadRequest::default()
        },
        &mut sink,
    )?;
    Ok((started.elapsed().as_secs_f64(), read.rows))
}

pub fn run(url: &str, rows: u64, json: bool) -> Result<PgBenchReport> {
    let url = ConnectionString::resolve(url).map_err(|e| anyhow::anyhow!(e))?;
    prepare(&url, rows)?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut runs = Vec::new();
    // Warm the server's cache first so neither reader pays for the first read from disk.
    let _ = run_psql(&url)?;
    let (secs, text_bytes, psql_rows) = run_psql(&url)?;
    let mb = |s: f64| text_bytes as f64 / 1e6 / s.max(1e-9);
    runs.push(PgBenchRow {
        reader: "psql \\copy (text) to stdout".into(),
        seconds: secs,
        rows: psql_rows,
        mb_per_s: mb(secs),
    });
    for parallel in [1, cores.max(2)] {
        let (secs, n) = run_pulse(&url, parallel)?;
        runs.push(PgBenchRow {
            reader: format!("pulse binary COPY → Arrow, {parallel} connection(s)"),
            seconds: secs,
            rows: n,
            mb_per_s: mb(secs),
        });
    }
    let report = PgBenchReport {
        table: format!("{SCHEMA}.{TABLE}"),
        rows: psql_rows,
        text_bytes,
        runs,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "PostgreSQL extract of {} ({} rows, {} as text) from {}, {} cores",
            report.table,
            report.rows,
            human_bytes(report.text_bytes),
            url,
            cores
        );
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(["reader", "seconds", "rows", "MB/s (text size)"]);
        for r in &report.runs {
            t.add_row([
                r.reader.clone(),
                format!("{:.2}", r.seconds),
                r.rows.to_string(),
                format!("{:.1}", r.mb_per_s),
            ]);
        }
        println!("{t}");
    }
    Ok(report)
}
