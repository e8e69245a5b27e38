//! How results look in a terminal, and as CSV or JSON for scripts.

use crate::Format;
use crate::pipeline::RunSummary;
use anyhow::Result;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use pulse_transform::Engine;
use std::path::Path;

pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

pub fn mb_per_s(bytes: u64, seconds: f64) -> f64 {
    if seconds <= 0.0 {
        0.0
    } else {
        bytes as f64 / 1e6 / seconds
    }
}

pub fn print_batches(schema: SchemaRef, batches: &[RecordBatch], format: Format) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Table => {
            let text = if batches.is_empty() {
                // Still show the columns of an empty result.
                arrow::util::pretty::pretty_format_batches(&[RecordBatch::new_empty(schema)])?
            } else {
                arrow::util::pretty::pretty_format_batches(batches)?
            };
            use std::io::Write;
            writeln!(out, "{text}")?;
        }
        Format::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            if batches.is_empty() {
                w.write(&RecordBatch::new_empty(schema))?;
            }
            for b in batches {
                w.write(b)?;
            }
        }
        Format::Json => {
            let mut w = arrow::json::ArrayWriter::new(out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            w.write_batches(&refs)?;
            w.finish()?;
            use std::io::Write;
            writeln!(std::io::stdout())?;
        }
    }
    Ok(())
}

pub fn print_generate_report(data_dir: &Path, r: &pulse_generate::GenerateReport) {
    println!(
        "generated {} in {} files into {} in {:.1}s ({:.0} MB/s)",
        human_bytes(r.bytes),
        r.files,
        data_dir.display(),
        r.seconds,
        mb_per_s(r.bytes, r.seconds)
    );
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(vec!["table", "rows"]);
    for (table, rows) in &r.rows {
        t.add_row(vec![table.clone(), rows.to_string()]);
    }
    println!("{t}");
}

pub fn print_run_summary(s: &RunSummary) {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(vec!["step", "status", "rows", "input", "seconds", "note"]);
    for l in &s.landings {
        let mut note = String::new();
        if l.files_seen > 0 {
            note = format!("{} files, {} already landed", l.files_seen, l.files_skipped);
        }
        if l.malformed_rows > 0 {
            note = format!(
                "{note}; {} malformed rows kept aside in {}",
                l.malformed_rows,
                l.malformed_path.as_deref().unwrap_or("quarantine")
            );
        }
        if let Some(e) = &l.error {
            note = e.clone();
        }
        t.add_row(vec![
            format!("land {}.{}", l.source, l.table),
            l.status.clone(),
            l.rows.to_string(),
            human_bytes(l.input_bytes),
            format!("{:.2}", l.seconds),
            note,
        ]);
    }
    for m in &s.models {
        let status = match &m.partition {
            Some(p) => format!("{} ({p})", m.status),
            None => m.status.clone(),
        };
        t.add_row(vec![
            format!("model {} ({})", m.model, m.materialized),
            status,
            // A view stores nothing: its rows are counted by whoever reads it.
            if m.materialized == "view" {
                String::new()
            } else {
                m.rows.to_string()
            },
            String::new(),
            format!("{:.2}", m.seconds),
            m.error.clone().unwrap_or_default(),
        ]);
    }
    println!("{t}");
    if !s.quality.is_empty() {
        crate::quality::print_results(&s.quality, false);
    }
    println!(
        "run {} {}: landed {} in {:.1}s, models in {:.1}s, total {:.1}s",
        s.run_id,
        if s.succeeded { "succeeded" } else { "FAILED" },
        human_bytes(s.input_bytes),
        s.land_seconds,
        s.transform_seconds,
        s.total_seconds
    );
}

/// The few numbers a manager asks for first, straight from the warehouse.
pub async fn print_key_numbers(engine: &Engine) -> Result<()> {
    let queries = [
        (
            "orders and GMV",
            "select count(*) as orders, \
             cast(sum(case when status = 'delivered' then total_cents else 0 end) as double) / 100 as gmv, \
             round(avg(end_to_end_minutes), 1) as avg_delivery_minutes, \
             round(avg(case when on_time then 1.0 else 0.0 end) * 100, 1) as on_time_pct \
             from fct_orders",
        ),
        (
            "orders by city",
            "select city, count(*) as orders, round(median(end_to_end_minutes), 1) as median_delivery_minutes \
             from fct_orders group by city order by orders desc",
        ),
    ];
    for (title, sql) in queries {
        println!("\n{title}:");
        let (schema, batches) = engine.query(sql).await?;
        print_batches(schema, &batches, Format::Table)?;
    }
    Ok(())
}
