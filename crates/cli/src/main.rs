//! `pulse`: the command line of Pulse Analytics.

mod alerts;
mod bench;
mod bench_pg;
mod catalog;
mod logging;
mod metrics;
mod output;
mod pipeline;
mod profile;
mod publish;
mod quality;
mod scaffold;
mod serve;
mod sysinfo;
mod tasks;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Pulse Analytics: ingest, store raw, transform and serve a company's analytics from one
/// project folder of TOML and SQL files.
#[derive(Parser)]
#[command(name = "pulse", version, about, long_about = None, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How logs on standard error look: text, or JSON lines for log shippers (default: the
    /// PULSE_LOG_FORMAT environment variable, else text). PULSE_LOG sets the level (`info`).
    #[arg(long, global = true, value_enum)]
    log_format: Option<logging::LogFormat>,
}

#[derive(Subcommand)]
enum Command {
    /// Scaffold a project folder (`--example food-delivery` for the complete worked example).
    Init(InitArgs),
    /// Make realistic, deterministic source data for the food-delivery example.
    Generate(GenerateArgs),
    /// Check a project's files without running anything; every mistake is listed with its file and line.
    Validate(ProjectArg),
    /// Run the pipeline: land every source in the raw lake, then build the models into the warehouse.
    Run(RunArgs),
    /// Run the pipeline once for each logical date of a range, a bounded number of runs at once.
    Backfill(BackfillArgs),
    /// Print the task graph the project implies (land, validate, model), or the selected part.
    Graph(GraphArgs),
    /// The long-running process: scheduler, workers and the web UI with the runs grid.
    Serve(serve::ServeArgs),
    /// Check the expectations of sources and models on the data as it is; results are stored.
    /// Exits 1 when an error-severity expectation fails.
    Test(TestArgs),
    /// Run a SQL query over the warehouse (models by name, sources as `source.table`).
    Sql(SqlArgs),
    /// The key metrics, defined once in metrics/*.toml: list them, check them, compute them.
    Metrics(metrics::MetricsArgs),
    /// The catalog: search datasets, columns, metrics and dashboards; show one.
    Catalog(catalog::CatalogArgs),
    /// Where a dataset, column or metric comes from (--upstream) and what it feeds (--downstream).
    Lineage(catalog::LineageArgs),
    /// Alerts: list and show incidents, evaluate the rules now, silence and unsilence.
    Alerts(alerts::AlertsArgs),
    /// Measure throughput and memory: generate data at a scale, run the pipeline, report MB/s per stage.
    Bench(bench::BenchArgs),
    /// Scaffold, generate and run the food-delivery example in one go, then print its key numbers.
    Demo(DemoArgs),
}

#[derive(Args)]
struct ProjectArg {
    /// The project folder.
    #[arg(long, short = 'p', default_value = ".")]
    project: PathBuf,
}

#[derive(Args)]
struct InitArgs {
    /// Where to create the project (must be empty or missing).
    dir: PathBuf,
    /// Start from a complete example instead of an empty project.
    #[arg(long, value_enum)]
    example: Option<scaffold::Example>,
}

#[derive(Args)]
struct GenerateArgs {
    /// The project folder; data is written to its `data/` folder.
    #[arg(long, short = 'p', default_value = ".")]
    project: PathBuf,
    /// How many days of activity.
    #[arg(long, default_value_t = 7)]
    days: u32,
    /// The first day (UTC).
    #[arg(long, default_value = "2026-11-01")]
    start_date: NaiveDate,
    /// Orders per average day (overrides --scale).
    #[arg(long)]
    orders_per_day: Option<u32>,
    /// Size of the data set: 1.0 is about 1 GB of raw data over all days.
    #[arg(long)]
    scale: Option<f64>,
    /// Random seed: the same seed and options give byte-identical data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Share of records given a documented data-quality defect.
    #[arg(long, default_value_t = 0.01)]
    defect_rate: f64,
    /// At most this many photo files of each kind.
    #[arg(long, default_value_t = 40)]
    photos: u32,
    /// Also write orders, payments and promotions into this PostgreSQL database (as schemas).
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// Also write logistics into this MariaDB/MySQL server (as database `logistics`).
    #[arg(long, value_name = "URL")]
    mysql: Option<String>,
    /// Put this in front of the schema and database names on the servers.
    #[arg(long, default_value = "")]
    server_prefix: String,
    /// Instead of generating, keep changing the server databases like the running applications
    /// (new orders, status changes, refunds) until stopped; needs --postgres and --mysql.
    #[arg(long)]
    live: bool,
    /// With --live: changes per second.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// With --live: stop after this many changes.
    #[arg(long)]
    changes: Option<u64>,
    /// With --live: stop after this many seconds.
    #[arg(long)]
    seconds: Option<f64>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Args)]
struct RunArgs {
    #[arg(long, short = 'p', default_value = ".")]
    project: PathBuf,
    /// The logical date: incremental models replace only this date's partition.
    #[arg(long)]
    date: Option<NaiveDate>,
    /// Only these tasks, in dbt's graph syntax: `+fct_orders`, `stg_orders+`, `tag:finance`,
    /// `source:orders`; space separated for union, comma for intersection.
    #[arg(long)]
    select: Option<String>,
    /// Leave these out (same syntax).
    #[arg(long)]
    exclude: Option<String>,
    /// Re-run only what failed or never ran in this earlier run (its id from `pulse run`).
    #[arg(long, value_name = "RUN_ID", conflicts_with_all = ["date", "select", "exclude"])]
    resume: Option<String>,
    /// Rebuild models even when nothing they read has changed.
    #[arg(long)]
    full_refresh: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Args)]
struct BackfillArgs {
    #[arg(long, short = 'p', default_value = ".")]
    project: PathBuf,
    /// The first logical date.
    #[arg(long)]
    from: NaiveDate,
    /// The last logical date (included).
    #[arg(long)]
    to: NaiveDate,
    /// Runs at once (default: `max_active_runs` of `[orchestrator]`).
    #[arg(long)]
    max_active_runs: Option<usize>,
    /// Only these tasks (dbt's graph syntax).
    #[arg(long)]
    select: Option<String>,
    #[arg(long)]
    exclude: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Args)]
struct GraphArgs {
    #[arg(long, short = 'p', default_value = ".")]
    project: PathBuf,
    /// Only these tasks (dbt's graph syntax: `+fct_orders`, `stg_orders+`, `tag:x`, `source:x`).
    #[arg(long)]
    select: Option<String>,
    #[arg(long)]
    exclude: Option<String>,
    /// `table` prints the tasks level by level; `dot` is Graphviz; `json` lists tasks and edges.
    #[arg(long, value_enum, default_value_t = GraphFormat::Table)]
    format: GraphFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GraphFormat {
    Table,
    Dot,
    Json,
}

#[derive(Args)]
struct TestArgs {
    #[arg(long, short = 'p', default_value = ".")]
    project: PathBuf,
    /// Only these datasets (comma separated): models by name, source tables as `source.table`,
    /// or a whole source by its name.
    #[arg(long, value_delimiter = ',')]
    select: Option<Vec<String>>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Args)]
struct SqlArgs {
    #[arg(long, short = 'p', default_value = ".")]
    project: PathBuf,
    /// The query.
    query: String,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Args)]
struct DemoArgs {
    /// Where the demo project goes.
    #[arg(long, default_value = "pulse-demo")]
    dir: PathBuf,
    #[arg(long, default_value_t = 14)]
    days: u32,
    #[arg(long, default_value_t = 400)]
    orders_per_day: u32,
    /// Where the web UI listens after the run.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: std::net::SocketAddr,
    /// Stop after the run instead of serving the web UI.
    #[arg(long)]
    no_serve: bool,
}

#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("PULSE_LOG").unwrap_or_else(|_| {
        // delta-rs logs a missing table as an error while it checks whether to create one;
        // that is the normal first run, not something to alarm a user with.
        tracing_subscriber::EnvFilter::new("warn,buoyant_kernel=off")
    });
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match logging::LogFormat::resolve(cli.log_format) {
        logging::LogFormat::Json => logs.event_format(logging::JsonLines).init(),
        logging::LogFormat::Text => logs.init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Init(a) => {
            scaffold::init(&a.dir, a.example)?;
            println!("created project in {}", a.dir.display());
            if a.example.is_some() {
                println!(
                    "next: pulse generate --project {0} && pulse run --project {0}",
                    a.dir.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate(a) => generate(a).map(|_| ExitCode::SUCCESS),
        Command::Validate(a) => {
            let project = load_project(&a.project)?;
            let project = std::sync::Arc::new(project);
            // Metrics are checked against the models as built, when they are.
            let (problems, unchecked) = metrics::check_built(&project).await;
            for p in &problems {
                eprintln!("{p}");
            }
            if !problems.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
            println!(
                "{}: ok ({} sources, {} source tables, {} models, {} metrics, {} dashboards)",
                project.config_file.display(),
                project.sources.len(),
                project
                    .sources
                    .iter()
                    .map(|s| s.config.tables.len())
                    .sum::<usize>(),
                project.models.len(),
                project.metrics.len(),
                project.dashboards.len()
            );
            if unchecked > 0 {
                println!(
                    "{unchecked} metrics read models not built yet; `pulse run` builds them, then they are checked too"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(a) => {
            let project = load_project(&a.project)?;
            let opts = pipeline::PipelineOptions {
                logical_date: a.date,
                select: a.select,
                exclude: a.exclude,
                resume: a.resume,
                full_refresh: a.full_refresh,
                quiet: a.format == Format::Json,
            };
            let summary = pipeline::run(&project, &opts).await?;
            match a.format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
                _ => output::print_run_summary(&summary),
            }
            Ok(if summary.succeeded {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Backfill(a) => backfill(a).await,
        Command::Graph(a) => {
            let project = load_project(&a.project)?;
            let graph =
                pipeline::selected_graph(&project, a.select.as_deref(), a.exclude.as_deref())?;
            match a.format {
                GraphFormat::Table => print!("{}", graph.render_text()),
                GraphFormat::Dot => print!("{}", graph.to_dot()),
                GraphFormat::Json => println!("{}", serde_json::to_string_pretty(&graph.tasks)?),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(a) => serve::serve(a).await,
        Command::Test(a) => {
            let project = load_project(&a.project)?;
            let passed = quality::test(
                &project,
                a.select.map(|s| s.into_iter().collect()),
                a.format,
            )
            .await?;
            Ok(if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Metrics(a) => metrics::run(a).await,
        Command::Catalog(a) => catalog::run(a),
        Command::Lineage(a) => catalog::lineage(a),
        Command::Alerts(a) => alerts::run(a).await,
        Command::Sql(a) => {
            let project = load_project(&a.project)?;
            let engine = pipeline::open_engine(&project).await?;
            let (schema, batches) = engine.query(&a.query).await?;
            output::print_batches(schema, &batches, a.format)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(a) => match a.postgres.clone() {
            Some(url) => tokio::task::block_in_place(|| {
                bench_pg::run(&url, a.postgres_rows, a.format == Format::Json)
            })
            .map(|_| ExitCode::SUCCESS),
            None => bench::run(a).await.map(|_| ExitCode::SUCCESS),
        },
        Command::Demo(a) => demo(a).await,
    }
}

async fn backfill(a: BackfillArgs) -> Result<ExitCode> {
    if a.to < a.from {
        anyhow::bail!("--to {} is before --from {}", a.to, a.from);
    }
    let project = std::sync::Arc::new(load_project(&a.project)?);
    let graph = pipeline::selected_graph(&project, a.select.as_deref(), a.exclude.as_deref())?;
    let store = pipeline::open_store(&project).await?;
    let config = &project.config.orchestrator;
    let days = (a.to - a.from).num_days() as u64 + 1;
    let quiet = a.format == Format::Json;
    let pb = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let pb = indicatif::ProgressBar::new(days * graph.tasks.len() as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} backfill [{bar:30}] {pos}/{len} tasks {elapsed:>4} {wide_msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        pb
    };
    let runner = std::sync::Arc::new(tasks::ProjectRunner::new(
        project.clone(),
        false,
        Some(pb.clone()),
    ));
    let executor = pulse_orchestrate::Executor::new(
        store.clone(),
        std::sync::Arc::new(tasks::Runner {
            inner: runner,
            store: store.clone(),
        }),
        pulse_orchestrate::ExecutorOptions::from_config(config),
    );
    let runs = executor
        .backfill(
            &graph,
            a.from,
            a.to,
            a.max_active_runs.unwrap_or(config.max_active_runs).max(1),
            config.retries + 1,
        )
        .await?;
    pb.finish_and_clear();
    let ok = runs
        .iter()
        .all(|r| r.state == pulse_orchestrate::RunState::Succeeded);
    match a.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&runs)?),
        _ => {
            for r in &runs {
                println!("{}  {}  {}", r.logical_date, r.state.as_str(), r.run_id);
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub fn load_project(dir: &Path) -> Result<pulse_project::Project> {
    // The error lists every mistake with its file and line; nothing to add to it.
    let project = pulse_project::Project::load(dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    // Cron expressions and time zones are the orchestrator's to read.
    pulse_orchestrate::check_schedules(&project).map_err(|e| anyhow::anyhow!("{e}"))?;
    // pulse.toml's alerting sections are the monitor's to read; a mistake there is said at
    // once, like any other, not only when `pulse serve` starts alerting.
    alerts::config(&project)?;
    serve::wire_config(&project)?;
    publish::PgWarehouse::of(&project)
        .map_err(|e| anyhow::anyhow!("{}: {e}", project.config_file.display()))?;
    Ok(project)
}

fn generate(a: GenerateArgs) -> Result<()> {
    let targets = pulse_generate::ServerTargets {
        postgres: a.postgres.clone(),
        mysql: a.mysql.clone(),
        prefix: a.server_prefix.clone(),
    };
    if a.live {
        if !(a.rate.is_finite() && a.rate > 0.0) {
            anyhow::bail!("--rate must be a positive number of changes per second");
        }
        let duration = a
            .seconds
            .map(std::time::Duration::try_from_secs_f64)
            .transpose()
            .map_err(|_| anyhow::anyhow!("--seconds must be a positive number"))?;
        let opts = pulse_generate::LiveOptions {
            targets,
            rate: a.rate,
            max_changes: a.changes,
            duration,
            seed: a.seed,
        };
        if a.format != Format::Json {
            eprintln!(
                "changing the servers at {} changes/s until stopped (Ctrl-C)",
                a.rate
            );
        }
        let stop = std::sync::atomic::AtomicBool::new(false);
        // The database clients block: keep them off the async worker's back.
        let report = tokio::task::block_in_place(|| pulse_generate::live(&opts, &stop))?;
        let summary = serde_json::json!({
            "new_orders": report.new_orders,
            "status_changes": report.status_changes,
            "refunds": report.refunds,
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    generate_files(&a)?;
    if targets.postgres.is_some() || targets.mysql.is_some() {
        let data_dir = a.project.join("data");
        let report =
            tokio::task::block_in_place(|| pulse_generate::load_servers(&data_dir, &targets))?;
        match a.format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&report.rows)?),
            _ => println!(
                "loaded {} rows into the servers in {:.1}s",
                report.rows.values().sum::<u64>(),
                report.seconds
            ),
        }
    }
    Ok(())
}

fn generate_files(a: &GenerateArgs) -> Result<pulse_generate::GenerateReport> {
    let opts = generate_options(
        a.days,
        a.start_date,
        a.orders_per_day,
        a.scale,
        a.seed,
        a.defect_rate,
        a.photos,
    );
    let data_dir = a.project.join("data");
    let report = pipeline::generate_with_progress(&opts, &data_dir, a.format == Format::Json)?;
    match a.format {
        Format::Json => println!(
            "{}",
            serde_json::json!({
                "data_dir": data_dir,
                "bytes": report.bytes,
                "files": report.files,
                "seconds": report.seconds,
                "mb_per_s": output::mb_per_s(report.bytes, report.seconds),
                "rows": report.rows,
            })
        ),
        _ => output::print_generate_report(&data_dir, &report),
    }
    Ok(report)
}

fn generate_options(
    days: u32,
    start_date: NaiveDate,
    orders_per_day: Option<u32>,
    scale: Option<f64>,
    seed: u64,
    defect_rate: f64,
    photos: u32,
) -> pulse_generate::GenerateOptions {
    let defaults = pulse_generate::GenerateOptions::default();
    let orders_per_day = orders_per_day
        .or_else(|| scale.map(|s| pulse_generate::orders_per_day_for_scale(s, days)))
        .unwrap_or(defaults.orders_per_day);
    pulse_generate::GenerateOptions {
        seed,
        days,
        start_date,
        orders_per_day,
        defect_rate,
        photos,
    }
}

async fn demo(a: DemoArgs) -> Result<ExitCode> {
    if !a.dir.join("pulse.toml").is_file() {
        scaffold::init(&a.dir, Some(scaffold::Example::FoodDelivery))?;
        println!(
            "1/3 created the food-delivery project in {}",
            a.dir.display()
        );
    } else {
        println!("1/3 using the project already in {}", a.dir.display());
    }
    let opts = generate_options(
        a.days,
        NaiveDate::from_ymd_opt(2026, 11, 1).context("start date")?,
        Some(a.orders_per_day),
        None,
        42,
        0.01,
        40,
    );
    let data_dir = a.dir.join("data");
    if !data_dir.join("truth.json").is_file() {
        let report = pipeline::generate_with_progress(&opts, &data_dir, false)?;
        println!(
            "2/3 generated {} of source data ({} files) in {:.1}s",
            output::human_bytes(report.bytes),
            report.files,
            report.seconds
        );
    } else {
        println!(
            "2/3 source data already generated in {}",
            data_dir.display()
        );
    }
    let project = load_project(&a.dir)?;
    let summary = pipeline::run(&project, &pipeline::PipelineOptions::default()).await?;
    println!("3/3 ran the pipeline (run {})", summary.run_id);
    output::print_run_summary(&summary);
    if !summary.succeeded {
        return Ok(ExitCode::FAILURE);
    }
    let engine = pipeline::open_engine(&project).await?;
    output::print_key_numbers(&engine).await?;
    println!(
        "\nexplore: pulse sql --project {} \"select city, count(*) from fct_orders group by 1\"",
        a.dir.display()
    );
    if a.no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    drop(engine);
    println!("\nserving the runs UI; stop with Ctrl-C");
    serve::serve(serve::ServeArgs::for_demo(&a.dir, a.addr)).await
}
