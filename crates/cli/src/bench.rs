//! `pulse bench`: the figures every change is measured against — MB/s of raw input per stage and
//! end to end, rows/s, CPU-seconds and peak memory — on generated food-delivery data.

use crate::output::{human_bytes, mb_per_s};
use crate::pipeline::{self, PipelineOptions};
use crate::sysinfo;
use crate::{Format, scaffold};
use anyhow::{Result, bail};
use chrono::NaiveDate;
use clap::Args;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

const MARKER: &str = ".pulse-bench";

#[derive(Args)]
pub struct BenchArgs {
    /// Data size: 1.0 is about 1 GB of raw input.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Days of data the volume is spread over.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Working folder (made by the bench; replaced on the next bench run).
    #[arg(long, default_value = "pulse-bench")]
    dir: PathBuf,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Instead: PostgreSQL extract MB/s beside `psql \copy` of the same table on this server.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// With --postgres: rows of the benchmark table (made once in schema `pulse_bench`).
    #[arg(long, default_value_t = 2_000_000)]
    pub postgres_rows: u64,
    /// Instead: what 20 expectations cost on the largest table (GA4 events): its pipeline
    /// (land, validate, staging model) without expectations and with 20, on the same data.
    #[arg(long)]
    pub expectations: bool,
    /// Also: after the pipeline, serve every dashboard of the example under several filter
    /// choices and report the server time per page (metric queries and rendering), p50 and
    /// p95, uncached and cached.
    #[arg(long)]
    pub dashboards: bool,
    /// Also: after the pipeline, publish the largest mart (the model of the `marts` layer with
    /// the most rows, or of any layer when there is none) to this PostgreSQL server (schema
    /// `pulse_bench_wh`) as a PostgreSQL warehouse does — binary COPY into a new table swapped
    /// in atomically — and report its load time.
    #[arg(long, value_name = "URL")]
    pub publish_postgres: Option<String>,
}

#[derive(Serialize)]
struct PublishBench {
    model: String,
    rows: u64,
    copy_bytes: u64,
    seconds: f64,
    rows_per_s: f64,
    mb_per_s: f64,
}

/// Loads the largest stored mart into PostgreSQL, timed from the first batch read off the
/// engine to the committed swap.
async fn publish_bench(project: &pulse_project::Project, url: &str) -> Result<PublishBench> {
    let engine = pipeline::open_engine_lenient(project).await?;
    let stored = || {
        project
            .models
            .iter()
            .filter(|m| m.config.materialized != pulse_project::Materialization::View)
    };
    let marts = stored().any(|m| m.layer == "marts");
    let mut largest: Option<(String, u64)> = None;
    for m in stored().filter(|m| !marts || m.layer == "marts") {
        let rows =
            crate::catalog::row_count(&engine, &crate::profile::quoted_name(&m.name)).await?;
        if largest.as_ref().is_none_or(|(_, r)| rows > *r) {
            largest = Some((m.name.clone(), rows));
        }
    }
    let Some((model, _)) = largest else {
        bail!("the project has no stored model to publish");
    };
    let url = pulse_project::ConnectionString::resolve(url).map_err(anyhow::Error::msg)?;
    let target = pulse_warehouse::target::PgTarget::connect(url.expose(), "pulse_bench_wh")
        .await
        .map_err(|e| anyhow::anyhow!("{}", url.redact(&e.to_string())))?;
    let (schema, batches) = engine.stream(&format!("select * from \"{model}\"")).await?;
    let load = target
        .replace_table(&model, schema, batches, "bench")
        .await
        .map_err(|e| anyhow::anyhow!("{}", url.redact(&e.to_string())))?;
    Ok(PublishBench {
        model,
        rows: load.rows,
        copy_bytes: load.bytes,
        seconds: load.seconds,
        rows_per_s: load.rows as f64 / load.seconds.max(1e-9),
        mb_per_s: mb_per_s(load.bytes, load.seconds),
    })
}

#[derive(Serialize)]
struct PageTimes {
    pages: usize,
    uncached_p50_ms: f64,
    uncached_p95_ms: f64,
    cached_p50_ms: f64,
    cached_p95_ms: f64,
    /// The first page after start: the engine opens the warehouse then.
    first_page_ms: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Dashboard pages as `pulse serve` makes them: every tile's metric request through the
/// semantic layer on the warehouse, then the HTML. Each dashboard under its default filters and
/// one value of each filter dimension at a time (each a different set of queries, so uncached),
/// then the same pages again (cached).
async fn dashboards_bench(project: std::sync::Arc<pulse_project::Project>) -> Result<PageTimes> {
    use pulse_metrics::DashboardFilters;
    let service = crate::metrics::service(project.clone());
    let t = Instant::now();
    let first = project
        .dashboards
        .first()
        .ok_or_else(|| anyhow::anyhow!("the project has no dashboards"))?;
    let view = service
        .dashboard_view(&first.name, &DashboardFilters::default())
        .await?;
    let _ = pulse_web::dashboards::dashboard_page(&project.config.name, &view).into_string();
    let first_page_ms = t.elapsed().as_secs_f64() * 1000.0;
    let mut variants: Vec<(String, DashboardFilters)> = Vec::new();
    for d in &project.dashboards {
        variants.push((d.name.clone(), DashboardFilters::default()));
        for dimension in &d.config.filters {
            let values = service.dimension_values(dimension).await?;
            for v in values.iter().take(3) {
                let mut f = DashboardFilters::default();
                f.values.insert(dimension.clone(), vec![v.clone()]);
                variants.push((d.name.clone(), f));
            }
        }
    }
    let mut uncached = Vec::new();
    let mut cached = Vec::new();
    for round in [&mut uncached, &mut cached] {
        for (name, filters) in &variants {
            let t = Instant::now();
            let view = service.dashboard_view(name, filters).await?;
            if let Some(e) = view.tiles.iter().find_map(|t| t.error.as_ref()) {
                bail!("dashboard {name}: a tile failed: {e}");
            }
            let html =
                pulse_web::dashboards::dashboard_page(&project.config.name, &view).into_string();
            std::hint::black_box(html);
            round.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    uncached.retain(|x| x.is_finite());
    uncached.sort_by(f64::total_cmp);
    cached.sort_by(f64::total_cmp);
    Ok(PageTimes {
        pages: variants.len(),
        uncached_p50_ms: percentile(&uncached, 0.5),
        uncached_p95_ms: percentile(&uncached, 0.95),
        cached_p50_ms: percentile(&cached, 0.5),
        cached_p95_ms: percentile(&cached, 0.95),
        first_page_ms,
    })
}

/// The 20 expectations of the expectations bench: the example's own four on GA4 events and
/// sixteen more of the kinds teams write first (nulls, sets, ranges, lengths, statistics).
const GA4_TWENTY_EXPECTATIONS: &str = r#"
[[tables.expectations]]
expectation = "expect_column_values_to_not_be_null"
column = "event_timestamp"

[[tables.expectations]]
expectation = "expect_column_values_to_not_be_null"
column = "event_name"

[[tables.expectations]]
expectation = "expect_column_values_to_not_be_null"
column = "event_date"

[[tables.expectations]]
expectation = "expect_column_values_to_not_be_null"
column = "_file"

[[tables.expectations]]
expectation = "expect_column_values_to_be_in_set"
column = "event_name"
value_set = ["session_start", "page_view", "view_item", "add_to_cart", "begin_checkout", "purchase"]

[[tables.expectations]]
expectation = "expect_column_values_to_not_be_in_set"
column = "event_name"
value_set = ["", "(not set)"]

[[tables.expectations]]
expectation = "expect_column_values_to_be_between"
column = "event_timestamp"
min_value = 1600000000000000
max_value = 2000000000000000

[[tables.expectations]]
expectation = "expect_column_value_lengths_to_equal"
column = "event_date"
value = 8

[[tables.expectations]]
expectation = "expect_column_value_lengths_to_be_between"
column = "user_pseudo_id"
min_value = 1
max_value = 64

[[tables.expectations]]
expectation = "expect_column_value_lengths_to_be_between"
column = "user_id"
max_value = 64

[[tables.expectations]]
expectation = "expect_column_values_to_not_match_regex"
column = "event_name"
regex = '\s'

[[tables.expectations]]
expectation = "expect_column_min_to_be_between"
column = "event_timestamp"
min_value = 1600000000000000

[[tables.expectations]]
expectation = "expect_column_max_to_be_between"
column = "event_timestamp"
max_value = 2000000000000000

[[tables.expectations]]
expectation = "expect_column_proportion_of_unique_values_to_be_between"
column = "user_pseudo_id"
min_value = 0.0
max_value = 1.0

[[tables.expectations]]
expectation = "expect_table_row_count_to_be_between"
min_value = 1

[[tables.expectations]]
expectation = "expect_table_column_count_to_be_between"
min_value = 5
max_value = 50
"#;

#[derive(Serialize)]
struct ExpectationsBench {
    table: &'static str,
    raw_input_bytes: u64,
    rows: u64,
    expectations: usize,
    seconds_without: f64,
    seconds_with: f64,
    validate_seconds: f64,
    overhead_percent: f64,
    peak_rss_bytes: Option<u64>,
}

/// Runs the GA4 events' own pipeline (`+stg_ga4__events`) on freshly landed data, once without
/// expectations and once with twenty, and reports what the expectations add.
async fn expectations_bench(a: &BenchArgs, quiet: bool) -> Result<()> {
    let ga4 = a.dir.join("sources/ga4.toml");
    let original = std::fs::read_to_string(&ga4)?;
    let without: String = match original.find("[[tables.expectations]]") {
        Some(i) => original[..i].to_string(),
        None => original.clone(),
    };
    let with = format!("{original}{GA4_TWENTY_EXPECTATIONS}");
    let mut timings = Vec::new();
    for (variant, text) in [("without", &without), ("with", &with)] {
        for state in ["lake", "warehouse", ".pulse"] {
            let p = a.dir.join(state);
            if p.exists() {
                std::fs::remove_dir_all(&p)?;
            }
        }
        std::fs::write(&ga4, text)?;
        let project = crate::load_project(&a.dir)?;
        reset_peak_rss();
        let summary = pipeline::run(
            &project,
            &PipelineOptions {
                quiet,
                select: Some("+stg_ga4__events".to_string()),
                ..Default::default()
            },
        )
        .await?;
        if !summary.succeeded {
            crate::output::print_run_summary(&summary);
            bail!("the GA4 pipeline failed during the expectations bench ({variant})");
        }
        let count = project
            .source("ga4")
            .and_then(|s| s.expectations.get("events"))
            .map(Vec::len)
            .unwrap_or(0);
        timings.push((summary, count, sysinfo::peak_rss_bytes()));
    }
    std::fs::write(&ga4, original)?;
    let (without, _, _) = &timings[0];
    let (with, count, peak) = &timings[1];
    let report = ExpectationsBench {
        table: "ga4.events",
        raw_input_bytes: with.input_bytes,
        rows: with.landings.iter().map(|l| l.rows).sum(),
        expectations: *count,
        seconds_without: without.total_seconds,
        seconds_with: with.total_seconds,
        validate_seconds: with.validate_seconds,
        overhead_percent: (with.total_seconds / without.total_seconds.max(1e-9) - 1.0) * 100.0,
        peak_rss_bytes: *peak,
    };
    match a.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        _ => println!(
            "{} ({} raw, {} rows): land + staging model {:.2}s without expectations, {:.2}s with {} \
             (validation {:.2}s): +{:.1}%; peak RSS {}",
            report.table,
            human_bytes(report.raw_input_bytes),
            report.rows,
            report.seconds_without,
            report.seconds_with,
            report.expectations,
            report.validate_seconds,
            report.overhead_percent,
            report.peak_rss_bytes.map(human_bytes).unwrap_or_default()
        ),
    }
    Ok(())
}

#[derive(Serialize)]
struct Stage {
    stage: &'static str,
    seconds: f64,
    bytes: u64,
    mb_per_s: f64,
    rows: u64,
    rows_per_s: f64,
    cpu_seconds: Option<f64>,
    peak_rss_bytes: Option<u64>,
}

#[derive(Serialize)]
struct Projection {
    hours_for_1_tb_per_day: f64,
    cores_for_1_tb_in_6h: f64,
    cores_for_10_tb_in_6h: f64,
    cores_for_100_tb_in_6h: f64,
    assumption: &'static str,
}

#[derive(Serialize)]
struct BenchReport {
    scale: f64,
    days: u32,
    cores: usize,
    raw_input_bytes: u64,
    stages: Vec<Stage>,
    projection: Projection,
    #[serde(skip_serializing_if = "Option::is_none")]
    publish_to_postgres: Option<PublishBench>,
}

/// Resets the kernel's peak-RSS counter so each stage reports its own peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub async fn run(a: BenchArgs) -> Result<()> {
    if a.dir.exists() {
        if !a.dir.join(MARKER).exists() {
            bail!(
                "{} exists and was not made by `pulse bench`: choose another --dir",
                a.dir.display()
            );
        }
        std::fs::remove_dir_all(&a.dir)?;
    }
    scaffold::init(&a.dir, Some(scaffold::Example::FoodDelivery))?;
    std::fs::write(
        a.dir.join(MARKER),
        "made by pulse bench; deleted by the next one\n",
    )?;
    let quiet = a.format == Format::Json;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);

    let gen_opts = pulse_generate::GenerateOptions {
        seed: a.seed,
        days: a.days,
        start_date: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default(),
        orders_per_day: pulse_generate::orders_per_day_for_scale(a.scale, a.days),
        ..Default::default()
    };
    reset_peak_rss();
    let cpu0 = sysinfo::cpu_seconds();
    let t = Instant::now();
    let generated = pipeline::generate_with_progress(&gen_opts, &a.dir.join("data"), quiet)?;
    let gen_seconds = t.elapsed().as_secs_f64();
    if a.expectations {
        return expectations_bench(&a, quiet).await;
    }
    let gen_rows: u64 = generated.rows.values().sum();
    let gen_stage = Stage {
        stage: "generate",
        seconds: gen_seconds,
        bytes: generated.bytes,
        mb_per_s: mb_per_s(generated.bytes, gen_seconds),
        rows: gen_rows,
        rows_per_s: gen_rows as f64 / gen_seconds.max(1e-9),
        cpu_seconds: delta(cpu0, sysinfo::cpu_seconds()),
        peak_rss_bytes: sysinfo::peak_rss_bytes(),
    };

    let project = crate::load_project(&a.dir)?;
    reset_peak_rss();
    let cpu1 = sysinfo::cpu_seconds();
    let summary = pipeline::run(
        &project,
        &PipelineOptions {
            quiet,
            ..Default::default()
        },
    )
    .await?;
    if !summary.succeeded {
        crate::output::print_run_summary(&summary);
        bail!("the pipeline failed during the bench");
    }
    let cpu_total = delta(cpu1, sysinfo::cpu_seconds());
    let peak = sysinfo::peak_rss_bytes();
    let input = summary.input_bytes;
    let land_rows: u64 = summary.landings.iter().map(|l| l.rows).sum();
    let model_rows: u64 = summary.models.iter().map(|m| m.rows).sum();
    // Tasks run in parallel now: the end to end time is the run's wall clock, and each stage's
    // is the sum of its tasks' durations, so stages add up to more than end to end.
    let e2e_seconds = summary.total_seconds;
    let stages = vec![
        gen_stage,
        Stage {
            stage: "land",
            seconds: summary.land_seconds,
            bytes: input,
            mb_per_s: mb_per_s(input, summary.land_seconds),
            rows: land_rows,
            rows_per_s: land_rows as f64 / summary.land_seconds.max(1e-9),
            cpu_seconds: None,
            peak_rss_bytes: None,
        },
        Stage {
            // Every expectation of every source table, included in "transform" below.
            stage: "validate sources",
            seconds: summary.validate_seconds,
            bytes: input,
            mb_per_s: mb_per_s(input, summary.validate_seconds),
            rows: summary
                .quality
                .iter()
                .filter(|d| d.dataset.contains('.'))
                .map(|d| d.row_count)
                .sum(),
            rows_per_s: summary
                .quality
                .iter()
                .filter(|d| d.dataset.contains('.'))
                .map(|d| d.row_count)
                .sum::<u64>() as f64
                / summary.validate_seconds.max(1e-9),
            cpu_seconds: None,
            peak_rss_bytes: None,
        },
        Stage {
            stage: "transform",
            seconds: summary.transform_seconds,
            bytes: input,
            mb_per_s: mb_per_s(input, summary.transform_seconds),
            rows: model_rows,
            rows_per_s: model_rows as f64 / summary.transform_seconds.max(1e-9),
            cpu_seconds: None,
            peak_rss_bytes: None,
        },
        Stage {
            stage: "end to end",
            seconds: e2e_seconds,
            bytes: input,
            mb_per_s: mb_per_s(input, e2e_seconds),
            rows: land_rows + model_rows,
            rows_per_s: (land_rows + model_rows) as f64 / e2e_seconds.max(1e-9),
            cpu_seconds: cpu_total,
            peak_rss_bytes: peak,
        },
    ];
    let bytes_per_s = input as f64 / e2e_seconds.max(1e-9);
    let per_core = bytes_per_s / cores as f64;
    let cores_for = |tb: f64| tb * 1e12 / (6.0 * 3600.0) / per_core.max(1e-9);
    let report = BenchReport {
        scale: a.scale,
        days: a.days,
        cores,
        raw_input_bytes: input,
        projection: Projection {
            hours_for_1_tb_per_day: 1e12 / bytes_per_s.max(1e-9) / 3600.0,
            cores_for_1_tb_in_6h: cores_for(1.0),
            cores_for_10_tb_in_6h: cores_for(10.0),
            cores_for_100_tb_in_6h: cores_for(100.0),
            assumption: "linear scaling per core of this machine's end-to-end rate",
        },
        stages,
        publish_to_postgres: match &a.publish_postgres {
            Some(url) => Some(publish_bench(&project, url).await?),
            None => None,
        },
    };
    match a.format {
        Format::Json if !a.dashboards => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Json => {}
        _ => print_report(&report),
    }
    if a.dashboards {
        let pages = dashboards_bench(std::sync::Arc::new(project)).await?;
        match a.format {
            Format::Json => println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "pipeline": report,
                    "dashboard_pages": pages,
                }))?
            ),
            _ => println!(
                "dashboard pages ({} pages: each dashboard with default filters and with one value of each filter): \
                 server time uncached p50 {:.0} ms, p95 {:.0} ms; cached p50 {:.1} ms, p95 {:.1} ms; \
                 first page after start {:.0} ms",
                pages.pages,
                pages.uncached_p50_ms,
                pages.uncached_p95_ms,
                pages.cached_p50_ms,
                pages.cached_p95_ms,
                pages.first_page_ms
            ),
        }
    }
    Ok(())
}

fn delta(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(b? - a?)
}

fn print_report(r: &BenchReport) {
    println!(
        "pulse bench: scale {} ({} days, {} raw input), {} cores",
        r.scale,
        r.days,
        human_bytes(r.raw_input_bytes),
        r.cores
    );
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "stage", "seconds", "input", "MB/s", "rows", "rows/s", "CPU s", "peak RSS",
    ]);
    for s in &r.stages {
        t.add_row(vec![
            s.stage.to_string(),
            format!("{:.2}", s.seconds),
            human_bytes(s.bytes),
            format!("{:.1}", s.mb_per_s),
            s.rows.to_string(),
            format!("{:.0}", s.rows_per_s),
            s.cpu_seconds.map(|c| format!("{c:.1}")).unwrap_or_default(),
            s.peak_rss_bytes.map(human_bytes).unwrap_or_default(),
        ]);
    }
    println!("{t}");
    let p = &r.projection;
    println!(
        "projection ({}): 1 TB/day takes {:.1} h here; to finish within 6 h: {:.1} cores for 1 TB, {:.0} for 10 TB, {:.0} for 100 TB",
        p.assumption,
        p.hours_for_1_tb_per_day,
        p.cores_for_1_tb_in_6h,
        p.cores_for_10_tb_in_6h,
        p.cores_for_100_tb_in_6h
    );
    if let Some(p) = &r.publish_to_postgres {
        println!(
            "published {} to PostgreSQL (binary COPY, atomic swap): {} rows, {} in {:.2} s = {:.0} rows/s, {:.1} MB/s",
            p.model,
            p.rows,
            human_bytes(p.copy_bytes),
            p.seconds,
            p.rows_per_s,
            p.mb_per_s
        );
    }
}
