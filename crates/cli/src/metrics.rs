//! `pulse metrics`: the semantic layer on the command line, and the warehouse it reads (the
//! DataFusion engine over the Delta tables), shared with `pulse serve`.

use crate::Format;
use anyhow::Result;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use pulse_metrics::{
    ColumnRole, MetricRequest, MetricResult, MetricsService, ResultColumn, WarehouseReader,
};
use pulse_project::{Grain, Project, ValueFormat};
use pulse_transform::{Engine, Warehouse};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The warehouse as the semantic layer reads it: an engine over the built models, opened again
/// whenever a run has rebuilt something (the warehouse state file changes with every build).
pub struct EngineReader {
    project: Arc<Project>,
    engine: tokio::sync::Mutex<Option<(String, Arc<Engine>)>>,
}

impl EngineReader {
    pub fn new(project: Arc<Project>) -> Self {
        Self {
            project,
            engine: tokio::sync::Mutex::new(None),
        }
    }

    async fn engine(&self) -> Result<Arc<Engine>, String> {
        let version = self.version().await?;
        let mut slot = self.engine.lock().await;
        if let Some((v, engine)) = slot.as_ref()
            && *v == version
        {
            return Ok(engine.clone());
        }
        let engine = Arc::new(
            crate::pipeline::open_engine_lenient(&self.project)
                .await
                .map_err(|e| format!("{e:#}"))?,
        );
        *slot = Some((version, engine.clone()));
        Ok(engine)
    }
}

#[async_trait]
impl WarehouseReader for EngineReader {
    async fn version(&self) -> Result<String, String> {
        let warehouse = Warehouse::open(
            self.project.config.warehouse.engine_url(),
            &self.project.root,
        )
        .map_err(|e| e.to_string())?;
        let state = warehouse.load_state().map_err(|e| e.to_string())?;
        let mut builds: Vec<String> = state
            .builds
            .iter()
            .map(|(k, b)| format!("{k}={}@{}", b.fingerprint, b.built_at.to_rfc3339()))
            .collect();
        builds.sort();
        let digest = Sha256::digest(builds.join("\n").as_bytes());
        Ok(hex::encode(&digest[..8]))
    }

    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, String> {
        let engine = self.engine().await?;
        engine
            .query(sql)
            .await
            .map(|(_, batches)| batches)
            .map_err(|e| e.to_string())
    }

    async fn check(&self, sql: &str) -> Result<(), String> {
        let engine = self.engine().await?;
        engine
            .context()
            .sql(sql)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn schema(&self, table: &str) -> Result<Option<SchemaRef>, String> {
        let engine = self.engine().await?;
        match engine.context().table(table).await {
            Ok(df) => Ok(Some(Arc::new(df.schema().as_arrow().clone()))),
            Err(_) => Ok(None),
        }
    }
}

/// Definitions checked against the models that are built: the problems, and how many metrics
/// could not be checked because their model is not built yet.
pub async fn check_built(project: &Arc<Project>) -> (Vec<pulse_metrics::MetricsError>, usize) {
    let url = project.config.warehouse.engine_url();
    let never_built =
        !url.contains("://") && !project.resolve(url).join("_pulse_state.json").is_file();
    if project.metrics.is_empty() || never_built {
        let reading = project
            .metrics
            .iter()
            .filter(|m| m.config.measure.reads_model())
            .count();
        return (Vec::new(), reading);
    }
    let service = service(project.clone());
    let mut unchecked = 0;
    let problems = service
        .check_definitions()
        .await
        .into_iter()
        .filter(|p| {
            let not_built = matches!(p, pulse_metrics::MetricsError::Definition { message, .. }
                if message.contains("is not built yet"));
            unchecked += usize::from(not_built);
            !not_built
        })
        .collect();
    (problems, unchecked)
}

/// The semantic layer over the project's warehouse: the embedded engine, or the PostgreSQL
/// server the models are published to (its URL was checked when the project loaded).
pub fn service(project: Arc<Project>) -> MetricsService {
    if let Ok(Some(pg)) = crate::publish::PgWarehouse::of(&project) {
        return MetricsService::new(project, Arc::new(crate::publish::PgReader::new(pg)));
    }
    let reader = Arc::new(EngineReader::new(project.clone()));
    MetricsService::new(project, reader)
}

#[derive(Args)]
pub struct MetricsArgs {
    #[command(subcommand)]
    command: MetricsCommand,
}

#[derive(Subcommand)]
enum MetricsCommand {
    /// Every metric with its label, measure, model, owner and the dimensions it may be cut by.
    List(ListArgs),
    /// Compute metrics: `pulse metrics query orders gmv --by city --grain week --from 2026-11-01`.
    Query(QueryArgs),
    /// Check every definition against the warehouse (columns exist, expressions plan).
    Check(ListArgs),
}

#[derive(Args)]
struct ListArgs {
    #[arg(long, short = 'p', default_value = ".")]
    project: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Args)]
struct QueryArgs {
    #[arg(long, short = 'p', default_value = ".")]
    project: PathBuf,
    /// The metrics, by name.
    #[arg(required = true)]
    metrics: Vec<String>,
    /// Dimensions to cut by (repeat or separate with commas).
    #[arg(long, value_delimiter = ',')]
    by: Vec<String>,
    /// One row per day, week or month.
    #[arg(long, value_parser = parse_grain)]
    grain: Option<Grain>,
    /// First day (inclusive), YYYY-MM-DD.
    #[arg(long)]
    from: Option<NaiveDate>,
    /// Last day (inclusive), YYYY-MM-DD.
    #[arg(long)]
    to: Option<NaiveDate>,
    /// Only rows where a dimension has a value: `--filter city=Berlin` (repeat for more values).
    #[arg(long = "filter", value_name = "DIMENSION=VALUE")]
    filters: Vec<String>,
    /// Add each metric in the period just before, and the change.
    #[arg(long)]
    compare: bool,
    /// At most this many rows, largest first metric first.
    #[arg(long)]
    limit: Option<usize>,
    /// Print the SQL the request compiles to.
    #[arg(long)]
    show_sql: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn parse_grain(s: &str) -> Result<Grain, String> {
    Grain::parse(s).ok_or_else(|| format!("a grain is day, week or month, not {s:?}"))
}

pub async fn run(args: MetricsArgs) -> Result<std::process::ExitCode> {
    match args.command {
        MetricsCommand::List(a) => list(a),
        MetricsCommand::Query(a) => query(a).await,
        MetricsCommand::Check(a) => check(a).await,
    }
}

fn list(a: ListArgs) -> Result<std::process::ExitCode> {
    let project = crate::load_project(&a.project)?;
    let layer = pulse_metrics::SemanticLayer::new(&project);
    let rows: Vec<serde_json::Value> = layer
        .metrics()
        .map(|m| {
            serde_json::json!({
                "name": m.name(),
                "label": m.label(),
                "description": m.config.description,
                "owner": m.config.owner,
                "measure": m.config.measure,
                "model": m.config.model,
                "time_column": m.config.time_column,
                "components": m.components(),
                "dimensions": layer.allowed_dimensions(m.name()),
                "format": m.config.format,
                "unit": m.config.unit,
                "file": format!("{}:{}", m.file.display(), m.line),
            })
        })
        .collect();
    match a.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        Format::Csv => {
            println!("name,label,measure,model,owner");
            for m in layer.metrics() {
                println!(
                    "{},{},{:?},{},{}",
                    m.name(),
                    csv(&m.label()),
                    m.config.measure,
                    m.config.model.as_deref().unwrap_or(""),
                    m.config.owner.as_deref().unwrap_or("")
                );
            }
        }
        Format::Table => {
            let mut table = Table::new();
            table.load_style(UTF8_FULL_CONDENSED);
            table.set_header(["metric", "label", "measure", "reads", "dimensions", "owner"]);
            for m in layer.metrics() {
                let reads = match &m.config.model {
                    Some(model) => model.clone(),
                    None => m.components().join(", "),
                };
                table.add_row([
                    m.name().to_string(),
                    m.label(),
                    format!("{:?}", m.config.measure).to_lowercase(),
                    reads,
                    layer
                        .allowed_dimensions(m.name())
                        .into_iter()
                        .collect::<Vec<_>>()
                        .join(", "),
                    m.config.owner.clone().unwrap_or_default(),
                ]);
            }
            println!("{table}");
            if project.metrics.is_empty() {
                println!("no metrics yet: define them in metrics/*.toml");
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn csv(s: &str) -> String {
    if s.contains([',', '"']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

async fn check(a: ListArgs) -> Result<std::process::ExitCode> {
    let project = Arc::new(crate::load_project(&a.project)?);
    let service = service(project.clone());
    let problems = service.check_definitions().await;
    let json = a.format == Format::Json;
    if json {
        let list: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        println!(
            "{}",
            serde_json::json!({"metrics": project.metrics.len(), "problems": list})
        );
    } else if problems.is_empty() {
        println!("{} metrics fit the warehouse", project.metrics.len());
    } else {
        for p in &problems {
            eprintln!("{p}");
        }
    }
    Ok(if problems.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

async fn query(a: QueryArgs) -> Result<std::process::ExitCode> {
    let project = Arc::new(crate::load_project(&a.project)?);
    let mut filters: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in &a.filters {
        let Some((dimension, value)) = f.split_once('=') else {
            anyhow::bail!("--filter takes DIMENSION=VALUE, e.g. --filter city=Berlin; got {f:?}");
        };
        filters
            .entry(dimension.trim().to_string())
            .or_default()
            .push(value.to_string());
    }
    let request = MetricRequest {
        metrics: a.metrics,
        dimensions: a.by,
        grain: a.grain,
        from: a.from,
        to: a.to,
        filters,
        compare: a.compare,
        limit: a.limit,
    };
    let service = service(project);
    let result = match service.query(&request).await {
        Ok(r) => r,
        Err(e @ pulse_metrics::MetricsError::Query { .. }) => {
            // A query that fails on the warehouse is most often a definition that no longer
            // fits a model: say which.
            let problems = service.check_definitions().await;
            for p in &problems {
                eprintln!("{p}");
            }
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    if a.show_sql && a.format != Format::Json {
        eprintln!("{}\n", result.sql);
    }
    match a.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(result.as_ref())?),
        Format::Csv => print!("{}", result.to_csv()),
        Format::Table => println!("{}", table_of(&result)),
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// The result as a terminal table, with each value in its metric's format.
fn table_of(result: &MetricResult) -> Table {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(result.columns.iter().map(|c| c.label.clone()));
    for row in &result.rows {
        table.add_row(
            row.iter()
                .zip(&result.columns)
                .map(|(v, c)| format_value(v, c)),
        );
    }
    table
}

pub fn format_value(v: &serde_json::Value, c: &ResultColumn) -> String {
    let Some(x) = v.as_f64() else {
        return match v {
            serde_json::Value::Null => "–".into(),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
    };
    if matches!(c.role, ColumnRole::Period | ColumnRole::Dimension) {
        return trim_number(x);
    }
    let decimals = |default: u8| usize::from(c.decimals.unwrap_or(default));
    match c.format {
        ValueFormat::Integer => format!("{x:.0}"),
        ValueFormat::Number => format!("{x:.*}", decimals(2)),
        ValueFormat::Currency => format!("{x:.*} {}", decimals(2), c.unit.as_deref().unwrap_or(""))
            .trim_end()
            .to_string(),
        ValueFormat::Duration => format!(
            "{x:.*} {}",
            decimals(1),
            match c.unit.as_deref() {
                Some("minutes") | None => "min",
                Some("seconds") => "s",
                Some("hours") => "h",
                Some(other) => other,
            }
        ),
        ValueFormat::Percent => format!("{:.*}%", decimals(1), x * 100.0),
    }
}

fn trim_number(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        x.to_string()
    }
}

/// One view per metric in the `metrics` schema of the PostgreSQL endpoint (`metrics.gmv`: a
/// row per day with the metric's value, or one row for a metric without time), compiled by the
/// same semantic layer as the dashboards, so a BI tool reads the same numbers.
pub struct MetricViews(pub Arc<MetricsService>);

#[async_trait::async_trait]
impl pulse_warehouse::RegisterViews for MetricViews {
    async fn register(&self, engine: &Engine) -> std::result::Result<(), String> {
        let (_, layer) = self.0.layer().await.map_err(|e| e.to_string())?;
        for metric in layer.metrics() {
            let name = metric.name().to_string();
            let by_day = pulse_metrics::MetricRequest {
                metrics: vec![name.clone()],
                grain: Some(Grain::Day),
                ..Default::default()
            };
            let whole = pulse_metrics::MetricRequest {
                metrics: vec![name.clone()],
                ..Default::default()
            };
            let compiled = match layer.compile(&by_day) {
                Ok(c) => Ok(c),
                Err(_) => layer.compile(&whole),
            };
            let registered = match compiled {
                Ok(c) => engine
                    .register_view(Some("metrics"), &name, &c.sql)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = registered {
                tracing::warn!(metric = %name, "no view of the metric over the wire: {e}");
            }
        }
        Ok(())
    }
}
