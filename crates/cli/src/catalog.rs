//! The metadata flow: after every task the catalog records what it saw (schema, rows, size,
//! quality, column lineage read off the model's plan), and OpenLineage events go out when
//! `[catalog] openlineage` names a file or an HTTP endpoint. `pulse catalog search` and
//! `pulse lineage` read it back.

use crate::Format;
use crate::tasks::Collected;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use pulse_catalog::openlineage::{EventType, OpenLineage, TaskRun, Transport};
use pulse_catalog::{
    Catalog, CatalogStore, ColumnInput, ColumnMap, DatasetKind, FailedExpectation, QualitySummary,
    SearchQuery,
};
use pulse_orchestrate::{TaskContext, TaskKind, TaskOutput};
use pulse_project::{Project, RenderContext};
use pulse_transform::Engine;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The catalog's store beside a local warehouse (`<warehouse>/_catalog/`); none for a warehouse
/// on another scheme.
pub fn store(project: &Project) -> Option<CatalogStore> {
    let url = project.config.warehouse.engine_url();
    if url.contains("://") {
        return None;
    }
    CatalogStore::in_warehouse(&project.resolve(url)).ok()
}

/// Records each task's results in the catalog and emits its OpenLineage events.
pub struct Recorder {
    project: Arc<Project>,
    store: Option<CatalogStore>,
    catalog: Mutex<Catalog>,
    openlineage: Option<(OpenLineage, Transport)>,
}

impl Recorder {
    pub fn new(project: Arc<Project>) -> Result<Self> {
        let catalog = Catalog::from_project(&project);
        let openlineage = match &project.config.catalog.openlineage {
            None => None,
            Some(target) => {
                let target = if target.contains("://") {
                    target.clone()
                } else {
                    project.resolve(target).display().to_string()
                };
                let transport = Transport::from_target(&target)
                    .with_context(|| format!("[catalog] openlineage = {target:?} in pulse.toml"))?;
                let warehouse = namespace(&project, project.config.warehouse.engine_url());
                let lake = namespace(&project, &project.config.lake.url);
                Some((
                    OpenLineage::new(&project.config.name, &warehouse, &lake),
                    transport,
                ))
            }
        };
        Ok(Self {
            store: store(&project),
            project,
            catalog: Mutex::new(catalog),
            openlineage,
        })
    }

    fn task_run(&self, ctx: &TaskContext) -> TaskRun {
        TaskRun {
            run_id: ctx.run_id.clone(),
            task_id: ctx.task_id.clone(),
            job_type: match ctx.kind {
                TaskKind::Land => "LAND",
                TaskKind::Validate => "VALIDATE",
                TaskKind::Model => "MODEL",
            }
            .to_string(),
            nominal_time: ctx.logical_date.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
            sql: None,
        }
    }

    /// The datasets a task reads and writes, by catalog id.
    fn io(&self, ctx: &TaskContext) -> (Vec<String>, Vec<String>) {
        let p = &self.project;
        match ctx.kind {
            TaskKind::Land => match p.source(&ctx.target) {
                Some(s) => (
                    s.config
                        .tables
                        .iter()
                        .map(|t| format!("{}.{}", s.name, t.name))
                        .collect(),
                    s.config
                        .tables
                        .iter()
                        .map(|t| format!("raw:{}.{}", s.name, t.name))
                        .collect(),
                ),
                None => (Vec::new(), Vec::new()),
            },
            TaskKind::Validate => (
                vec![format!("raw:{}", ctx.target)],
                vec![format!("quarantine:{}", ctx.target)],
            ),
            TaskKind::Model => match p.model(&ctx.target) {
                Some(m) => (
                    m.depends_on
                        .refs
                        .iter()
                        .cloned()
                        .chain(m.depends_on.sources.iter().map(|(s, t)| format!("{s}.{t}")))
                        .collect(),
                    vec![m.name.clone()],
                ),
                None => (Vec::new(), Vec::new()),
            },
        }
    }

    /// OpenLineage START, when configured. A receiver that is down is logged, never a task
    /// failure: lineage must not stop the data.
    pub fn start(&self, ctx: &TaskContext) {
        self.emit(ctx, EventType::Start, None, None);
    }

    fn emit(
        &self,
        ctx: &TaskContext,
        event_type: EventType,
        output: Option<&TaskOutput>,
        error: Option<&str>,
    ) {
        let Some((ol, transport)) = &self.openlineage else {
            return;
        };
        let Ok(catalog) = self.catalog.lock() else {
            return;
        };
        let (inputs, outputs) = self.io(ctx);
        let inputs = inputs
            .iter()
            .filter_map(|id| ol.input(&catalog, id).ok())
            .collect();
        let outputs = outputs
            .iter()
            .filter_map(|id| {
                ol.output(
                    &catalog,
                    id,
                    output.map(|o| o.rows),
                    output.map(|o| o.bytes).filter(|b| *b > 0),
                )
                .ok()
            })
            .collect();
        let mut run = self.task_run(ctx);
        if ctx.kind == TaskKind::Model {
            run.sql = self.rendered_sql(&ctx.target);
        }
        let event = ol.event(&run, event_type, Utc::now(), inputs, outputs, error);
        if let Err(e) = transport.emit(&event) {
            ctx.log
                .info(format!("openlineage: the event was not delivered: {e}"));
        }
    }

    fn rendered_sql(&self, model: &str) -> Option<String> {
        let m = self.project.model(model)?;
        m.render(&RenderContext {
            incremental: false,
            logical_date: None,
            vars: self.project.config.vars.clone(),
        })
        .ok()
    }

    /// After a task: what it built goes into the catalog store, then COMPLETE or FAIL.
    pub async fn finish(
        &self,
        ctx: &TaskContext,
        engine: Option<&Engine>,
        collected: &Collected,
        result: &Result<TaskOutput, String>,
    ) {
        if let (Some(store), Ok(output), Some(engine)) = (&self.store, result, engine)
            && let Err(e) = self.record(store, ctx, engine, collected, output).await
        {
            ctx.log.info(format!("catalog: not recorded: {e}"));
        }
        match result {
            Ok(output) => self.emit(ctx, EventType::Complete, Some(output), None),
            Err(e) => self.emit(ctx, EventType::Fail, None, Some(e)),
        }
    }

    async fn record(
        &self,
        store: &CatalogStore,
        ctx: &TaskContext,
        engine: &Engine,
        collected: &Collected,
        output: &TaskOutput,
    ) -> Result<()> {
        let now = Utc::now();
        match ctx.kind {
            TaskKind::Land => {
                for l in collected.landings.iter().filter(|l| l.source == ctx.target) {
                    let table = format!("{}.{}", l.source, l.table);
                    let Some(schema) = table_schema(engine, &format!("{table}__raw")).await else {
                        continue;
                    };
                    let change = store.record_build(
                        &format!("raw:{table}"),
                        &schema,
                        l.rows,
                        l.output_bytes,
                        &ctx.run_id,
                        now,
                    )?;
                    if let Some(change) = change {
                        ctx.log
                            .info(format!("schema of {table} changed: {change:?}"));
                    }
                    // The landing is the source table as it was read: one profile for both.
                    let raw = crate::profile::quoted_name(&format!("{table}__raw"));
                    match crate::profile::profile(engine, &raw, &schema).await {
                        Ok(p) => {
                            for dataset in [format!("raw:{table}"), table.clone()] {
                                store.record_profile(
                                    &dataset,
                                    &ctx.run_id,
                                    now,
                                    p.rows,
                                    p.columns.clone(),
                                )?;
                            }
                        }
                        Err(e) => ctx
                            .log
                            .info(format!("catalog: no column profiles of {table}: {e:#}")),
                    }
                }
            }
            TaskKind::Validate => {
                if let Some(v) = collected
                    .quality
                    .iter()
                    .rev()
                    .find(|v| v.dataset == ctx.target)
                {
                    store.record_quality(&ctx.target, quality_summary(v, &ctx.run_id, now))?;
                }
            }
            TaskKind::Model => {
                let model = &ctx.target;
                if let Some(schema) = table_schema(engine, model).await {
                    let materialized = self.project.model(model).map(|m| m.config.materialized);
                    let stored =
                        materialized.is_some_and(|m| m != pulse_project::Materialization::View);
                    let table = crate::profile::quoted_name(model);
                    let bytes = self
                        .project
                        .model(model)
                        .filter(|m| m.config.materialized != pulse_project::Materialization::View)
                        .map(|_| {
                            folder_size(
                                &self
                                    .project
                                    .resolve(self.project.config.warehouse.engine_url())
                                    .join(model),
                            )
                        })
                        .unwrap_or(0);
                    let built = collected
                        .models
                        .iter()
                        .rev()
                        .find(|m| &m.model == model)
                        .map(|m| m.rows)
                        .unwrap_or(output.rows);
                    // An incremental run builds one partition; the table holds them all (the
                    // count comes from the files' statistics, not a scan).
                    let rows = if materialized == Some(pulse_project::Materialization::Incremental)
                    {
                        match row_count(engine, &table).await {
                            Ok(n) => n,
                            Err(e) => {
                                ctx.log
                                    .info(format!("catalog: no row count of {model}: {e:#}"));
                                built
                            }
                        }
                    } else {
                        built
                    };
                    store.record_build(model, &schema, rows, bytes, &ctx.run_id, now)?;
                    // A view has no data of its own; profiling it would run its query again.
                    if stored {
                        match crate::profile::profile(engine, &table, &schema).await {
                            Ok(p) => {
                                store.record_profile(model, &ctx.run_id, now, p.rows, p.columns)?
                            }
                            Err(e) => ctx.log.info(format!("catalog: no column profiles: {e:#}")),
                        }
                    }
                }
                if let Some(v) = collected.quality.iter().rev().find(|v| &v.dataset == model) {
                    store.record_quality(model, quality_summary(v, &ctx.run_id, now))?;
                }
                if let Some(sql) = self.rendered_sql(model) {
                    let lineage = engine.column_lineage(&sql).await?;
                    let columns = column_map(&self.project, &lineage);
                    if let Ok(mut catalog) = self.catalog.lock() {
                        catalog.set_column_lineage(model, &columns)?;
                    }
                    store.record_column_lineage(model, &ctx.run_id, now, &columns)?;
                }
            }
        }
        Ok(())
    }
}

fn namespace(project: &Project, url: &str) -> String {
    if url.contains("://") {
        url.to_string()
    } else {
        format!("file://{}", project.resolve(url).display())
    }
}

/// The rows of `table` (a name as SQL writes it).
pub(crate) async fn row_count(engine: &Engine, table: &str) -> Result<u64> {
    let (_, batches) = engine
        .query(&format!("select count(*) from {table}"))
        .await?;
    let n = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .map(|b| arrow::util::display::array_value_to_string(b.column(0), 0))
        .transpose()?
        .unwrap_or_default();
    Ok(n.parse().unwrap_or(0))
}

async fn table_schema(engine: &Engine, table: &str) -> Option<arrow::datatypes::Schema> {
    let df = engine.context().table(table).await.ok()?;
    Some(df.schema().as_arrow().clone())
}

fn folder_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => folder_size(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

fn quality_summary(
    v: &pulse_quality::ValidationSummary,
    run_id: &str,
    at: DateTime<Utc>,
) -> QualitySummary {
    QualitySummary {
        run_id: run_id.to_string(),
        at,
        passed: v.results.iter().filter(|r| r.success).count() as u32,
        failed: v.results.iter().filter(|r| !r.success).count() as u32,
        quarantined_rows: v.quarantined_rows,
        failures: v
            .results
            .iter()
            .filter(|r| !r.success)
            .map(|r| FailedExpectation {
                expectation: r.label.clone(),
                severity: format!("{:?}", r.severity).to_lowercase(),
                unexpected_count: r.unexpected_count,
            })
            .collect(),
    }
}

/// The plan's lineage in the catalog's terms: a source table is read through its clean view or
/// landing (`source.table`, `source.table__raw`), both the source table in the catalog.
fn column_map(
    project: &Project,
    lineage: &std::collections::BTreeMap<String, pulse_transform::ColumnSources>,
) -> ColumnMap {
    let dataset = |table: &str| -> String {
        let t = table.trim_end_matches("__raw");
        match t.split_once('.') {
            Some((s, _)) if project.source(s).is_some() => t.to_string(),
            _ => t.to_string(),
        }
    };
    lineage
        .iter()
        .map(|(column, sources)| {
            let mut inputs: Vec<ColumnInput> = sources
                .direct
                .iter()
                .map(|(t, c)| ColumnInput::direct(&dataset(t), c))
                .collect();
            for (t, c) in &sources.indirect {
                if !sources.direct.contains(&(t.clone(), c.clone())) {
                    inputs.push(ColumnInput {
                        dataset: dataset(t),
                        column: c.clone(),
                        indirect: true,
                    });
                }
            }
            inputs.sort();
            inputs.dedup();
            (column.clone(), inputs)
        })
        .collect()
}

#[derive(Args)]
pub struct CatalogArgs {
    #[command(subcommand)]
    command: CatalogCommand,
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Full-text search over datasets, columns, metrics and dashboards, best match first.
    Search(SearchArgs),
    /// One dataset or metric: description, owner, schema, stats, quality, where it is used.
    Show(ShowArgs),
}

#[derive(Args)]
struct SearchArgs {
    #[arg(long, short = 'p', default_value = ".")]
    project: PathBuf,
    /// What to look for, e.g. "delivery time".
    query: String,
    /// Only this kind: source_table, raw_landing, quarantine, model, metric, dashboard.
    #[arg(long)]
    kind: Option<String>,
    /// Only datasets with this tag.
    #[arg(long)]
    tag: Option<String>,
    #[arg(long, default_value_t = 10)]
    limit: usize,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Args)]
struct ShowArgs {
    #[arg(long, short = 'p', default_value = ".")]
    project: PathBuf,
    /// A dataset id or name (`fct_orders`, `orders.orders`, `gmv`).
    name: String,
}

#[derive(Args)]
pub struct LineageArgs {
    #[arg(long, short = 'p', default_value = ".")]
    project: PathBuf,
    /// A dataset, metric or dashboard (`fct_orders`, `delivery_time_p90`, `executive`).
    name: String,
    /// Which way to follow the edges.
    #[arg(long, conflicts_with = "downstream")]
    upstream: bool,
    #[arg(long)]
    downstream: bool,
    /// Column-level: follow this column.
    #[arg(long)]
    column: Option<String>,
    #[arg(long, value_enum, default_value_t = LineageFormat::Table)]
    format: LineageFormat,
}

#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum LineageFormat {
    Table,
    Json,
    Dot,
}

fn load(project_dir: &Path) -> Result<Catalog> {
    let project = crate::load_project(project_dir)?;
    Ok(match store(&project) {
        Some(s) => Catalog::load(&project, &s)?,
        None => Catalog::from_project(&project),
    })
}

pub fn run(a: CatalogArgs) -> Result<std::process::ExitCode> {
    match a.command {
        CatalogCommand::Search(a) => {
            let catalog = load(&a.project)?;
            let mut q = SearchQuery::text(&a.query).limit(a.limit);
            if let Some(k) = &a.kind {
                let kind: DatasetKind = serde_json::from_value(serde_json::json!(k))
                    .map_err(|_| anyhow::anyhow!("--kind is one of source_table, raw_landing, quarantine, model, metric, dashboard; got {k:?}"))?;
                q = q.kind(kind);
            }
            if let Some(t) = &a.tag {
                q = q.tag(t);
            }
            let hits = catalog.search_index()?.search(&q)?;
            match a.format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&hits)?),
                _ => {
                    if hits.is_empty() {
                        println!("nothing matches {:?}", a.query);
                    }
                    for (i, h) in hits.iter().enumerate() {
                        println!("{:>2}. {}  [{:?}]  {}", i + 1, h.id, h.kind, h.title);
                        if !h.snippet.is_empty() {
                            println!("      {}", h.snippet);
                        }
                    }
                }
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
        CatalogCommand::Show(a) => {
            let catalog = load(&a.project)?;
            let ds = catalog.get(&a.name)?;
            println!("{}", serde_json::to_string_pretty(ds)?);
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

pub fn lineage(a: LineageArgs) -> Result<std::process::ExitCode> {
    let catalog = load(&a.project)?;
    let column = a.column.as_deref();
    let graph = if a.upstream {
        catalog.upstream(&a.name, column)?
    } else if a.downstream {
        catalog.downstream(&a.name, column)?
    } else {
        catalog.neighbourhood(&a.name, column)?
    };
    match a.format {
        LineageFormat::Json => println!("{}", serde_json::to_string_pretty(&graph)?),
        LineageFormat::Dot => print!("{}", graph.to_dot()),
        LineageFormat::Table => {
            for e in &graph.edges {
                println!("{} -> {}", e.from, e.to);
            }
            if graph.edges.is_empty() {
                println!("{}: no lineage in that direction", a.name);
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
