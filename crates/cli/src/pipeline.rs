//! One run of the pipeline, through the orchestrator: land the sources in the raw lake,
//! validate them, build the models. The composition root of the data flow.

use crate::tasks::{Collected, ProjectRunner, Runner};
use anyhow::{Context, Result};
use chrono::{NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use pulse_lake::{Lake, LandingReport};
use pulse_orchestrate::{
    AssetGraph, Executor, ExecutorOptions, NewRun, RunRecord, RunState, Store, TaskKind, TaskState,
};
use pulse_project::Project;
use pulse_project::secrets::redact_url;
use pulse_transform::Engine;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Default, Clone)]
pub struct PipelineOptions {
    pub logical_date: Option<NaiveDate>,
    /// dbt's graph selector syntax over the project's tasks.
    pub select: Option<String>,
    pub exclude: Option<String>,
    /// Finish this earlier run instead of starting one.
    pub resume: Option<String>,
    pub full_refresh: bool,
    /// No progress bars (JSON output, tests).
    pub quiet: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct LandingRow {
    pub source: String,
    pub table: String,
    pub status: String,
    pub rows: u64,
    pub input_bytes: u64,
    pub output_bytes: u64,
    pub files_seen: u64,
    pub files_skipped: u64,
    pub malformed_rows: u64,
    pub malformed_path: Option<String>,
    pub seconds: f64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelRow {
    pub model: String,
    pub materialized: String,
    pub partition: Option<String>,
    pub status: String,
    pub rows: u64,
    pub seconds: f64,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub project: String,
    pub logical_date: Option<NaiveDate>,
    pub succeeded: bool,
    pub landings: Vec<LandingRow>,
    pub models: Vec<ModelRow>,
    /// Expectations' results of every dataset validated in this run.
    pub quality: Vec<pulse_quality::ValidationSummary>,
    pub input_bytes: u64,
    pub land_seconds: f64,
    /// Validating the source tables (part of `transform_seconds`).
    pub validate_seconds: f64,
    pub transform_seconds: f64,
    pub total_seconds: f64,
}

impl LandingRow {
    pub fn failed(source: &str, table: &str, error: String) -> Self {
        LandingRow {
            source: source.to_string(),
            table: table.to_string(),
            status: "failed".into(),
            rows: 0,
            input_bytes: 0,
            output_bytes: 0,
            files_seen: 0,
            files_skipped: 0,
            malformed_rows: 0,
            malformed_path: None,
            seconds: 0.0,
            error: Some(error),
        }
    }
}

fn bar(len: u64, quiet: bool, what: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    let style = ProgressStyle::with_template(&format!(
        "{{spinner}} {what:<10} [{{bar:30}}] {{pos}}/{{len}} {{elapsed:>4}} {{wide_msg}}"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    pb.set_style(style);
    pb.enable_steady_tick(std::time::Duration::from_millis(200));
    pb
}

pub fn new_run_id() -> String {
    let now = Utc::now();
    format!(
        "{}-{:04x}",
        now.format("%Y%m%dT%H%M%S%.3fZ")
            .to_string()
            .replace('.', ""),
        std::process::id() & 0xffff
    )
}

/// The warehouse as `pulse sql`, `pulse test` and the demo read it: every landed source table
/// and every built model. A model that cannot be read (its source has not landed, after a run
/// of only part of the graph) is left out, so the rest can still be queried.
pub async fn open_engine(project: &Project) -> Result<Engine> {
    let engine = Engine::open(project).await?;
    let lake = Lake::open(&project.config.lake.url, &project.root)?;
    let landed = register_sources(project, &lake, &engine).await?;
    if landed == 0 {
        anyhow::bail!(
            "nothing has landed yet: has `pulse run --project {}` landed the sources?",
            project.root.display()
        );
    }
    for (model, e) in engine.register_models_available(project).await {
        tracing::debug!(model = %model, "not readable: {e}");
    }
    engine.register_quarantine_tables(project).await?;
    // Models read the clean rows of a source table that quarantined some, and so does `pulse sql`.
    apply_clean_views(project, &engine).await?;
    Ok(engine)
}

/// The engine the tasks of a run share: every source table that has landed and can be read,
/// every model built before (models not built yet are left out, their tasks build them), and
/// the clean views of source tables whose latest validation quarantined rows.
pub async fn open_engine_lenient(project: &Project) -> Result<Engine> {
    let engine = Engine::open(project).await?;
    let lake = Lake::open(&project.config.lake.url, &project.root)?;
    // Tables whose landings no longer fit together fail in their land task, with the reason.
    let _unreadable = register_each_source(project, &lake, &engine).await?;
    let _not_built = engine.register_models_available(project).await;
    engine.register_quarantine_tables(project).await?;
    apply_clean_views(project, &engine).await?;
    Ok(engine)
}

async fn apply_clean_views(project: &Project, engine: &Engine) -> Result<()> {
    let latest = crate::quality::store(project).latest_by_dataset()?;
    for source in &project.sources {
        for (table, expectations) in &source.expectations {
            let quarantined = latest
                .get(&format!("{}.{table}", source.name))
                .is_some_and(|d| d.quarantined_rows > 0);
            if quarantined
                && engine
                    .context()
                    .table_exist(format!("{}.{table}", source.name).as_str())
                    .unwrap_or(false)
            {
                engine
                    .reuse_source_quarantine(&source.name, table, expectations)
                    .await?;
            }
        }
    }
    Ok(())
}

/// Registers every source table that has landed at least once; returns how many.
async fn register_sources(project: &Project, lake: &Lake, engine: &Engine) -> Result<usize> {
    let mut landed = 0;
    for source in &project.sources {
        for table in &source.config.tables {
            let files = lake.landed_files(&source.name, &table.name).await?;
            if files.is_empty() {
                continue;
            }
            let urls: Vec<String> = files.iter().map(|f| f.url.clone()).collect();
            engine
                .register_source_table(&source.name, &table.name, &urls)
                .await?;
            landed += 1;
        }
    }
    Ok(landed)
}

/// Registers every landed source table; returns the tables that could not be registered, with
/// the reason, instead of failing the run.
async fn register_each_source(
    project: &Project,
    lake: &Lake,
    engine: &Engine,
) -> Result<Vec<(String, String)>> {
    let mut failed = Vec::new();
    for source in &project.sources {
        for table in &source.config.tables {
            let files = lake.landed_files(&source.name, &table.name).await?;
            if files.is_empty() {
                continue;
            }
            let label = format!("{}.{}", source.name, table.name);
            if let Some(message) = type_change(lake, &source.name, &table.name).await? {
                failed.push((label, message));
                continue;
            }
            let urls: Vec<String> = files.iter().map(|f| f.url.clone()).collect();
            if let Err(e) = engine
                .register_source_table(&source.name, &table.name, &urls)
                .await
            {
                failed.push((
                    format!("{}.{}", source.name, table.name),
                    format!("its landings cannot be read together: {e}"),
                ));
            }
        }
    }
    Ok(failed)
}

/// A column whose type differs between landings of a table: its landings no longer mean one
/// thing, so the models reading it must not run until someone decides (cast in staging, or
/// re-land). Names the column, both types and the runs where each was seen.
pub(crate) async fn type_change(lake: &Lake, source: &str, table: &str) -> Result<Option<String>> {
    let mut manifests = lake.manifests(source, table).await?;
    manifests.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then(a.run_id.cmp(&b.run_id))
    });
    let mut seen: std::collections::BTreeMap<String, (String, String)> = Default::default();
    for m in &manifests {
        for f in &m.schema {
            match seen.get(&f.name) {
                Some((data_type, run)) if *data_type != f.data_type => {
                    return Ok(Some(format!(
                        "column `{}` changed type from {data_type} (landed by run {run}) to {} (landed by run {}); \
                         models reading {source}.{table} wait until its landings agree \
                         (cast it in staging, or land the table again from scratch)",
                        f.name, f.data_type, m.run_id
                    )));
                }
                Some(_) => {}
                None => {
                    seen.insert(f.name.clone(), (f.data_type.clone(), m.run_id.clone()));
                }
            }
        }
    }
    Ok(None)
}

/// A column that earlier landings of a table had and its latest landing has not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DroppedColumn {
    pub column: String,
    /// The last run whose landing had it.
    pub last_run: String,
    /// The latest landing's run, which did not have it.
    pub missing_run: String,
}

/// The columns the source no longer has: in some landing of the table, not in its latest one.
/// Earlier landings keep them (nothing landed is rewritten), so the raw table still shows them,
/// null for new rows; a model reading one would silently go blank.
pub(crate) async fn dropped_columns(
    lake: &Lake,
    source: &str,
    table: &str,
) -> Result<Vec<DroppedColumn>> {
    let mut manifests = lake.manifests(source, table).await?;
    manifests.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then(a.run_id.cmp(&b.run_id))
    });
    let Some(latest) = manifests.last() else {
        return Ok(Vec::new());
    };
    let current: std::collections::BTreeSet<&str> =
        latest.schema.iter().map(|f| f.name.as_str()).collect();
    let mut last_seen: std::collections::BTreeMap<&str, &str> = Default::default();
    for m in &manifests {
        for f in m
            .schema
            .iter()
            .filter(|f| !current.contains(f.name.as_str()))
        {
            last_seen.insert(f.name.as_str(), m.run_id.as_str());
        }
    }
    Ok(last_seen
        .into_iter()
        .map(|(column, run)| DroppedColumn {
            column: column.to_string(),
            last_run: run.to_string(),
            missing_run: latest.run_id.clone(),
        })
        .collect())
}

/// One run of the whole project (or the selected part of its graph) through the orchestrator:
/// the run and its tasks are recorded in the metadata store, tasks run in parallel up to the
/// configured limit, with retries, and `pulse run --resume` can finish it later.
pub async fn run(project: &Project, opts: &PipelineOptions) -> Result<RunSummary> {
    let project = Arc::new(project.clone());
    let store = open_store(&project).await?;
    let graph = selected_graph(&project, opts.select.as_deref(), opts.exclude.as_deref())?;
    let config = &project.config.orchestrator;
    let run = match &opts.resume {
        Some(run_id) => {
            store
                .run(run_id)
                .await?
                .with_context(|| format!("no run `{run_id}` in the metadata store"))?;
            store.resume_run(run_id).await?;
            store
                .run(run_id)
                .await?
                .with_context(|| format!("no run `{run_id}` in the metadata store"))?
        }
        None => {
            store
                .create_run(NewRun {
                    logical_date: opts.logical_date.unwrap_or_else(|| Utc::now().date_naive()),
                    trigger: if opts.logical_date.is_some() {
                        "cli-date"
                    } else {
                        "cli"
                    }
                    .to_string(),
                    schedule: None,
                    tasks: graph.tasks.clone(),
                    max_attempts: config.retries + 1,
                })
                .await?
        }
    };
    let total = store.tasks(&run.run_id).await?.len() as u64;
    let pb = bar(total, opts.quiet, "tasks");
    let runner = Arc::new(ProjectRunner::new(
        project.clone(),
        opts.full_refresh,
        Some(pb.clone()),
    ));
    let executor = Executor::new(
        store.clone(),
        Arc::new(Runner {
            inner: runner.clone(),
            store: store.clone(),
        }),
        ExecutorOptions::from_config(config),
    );
    let finished = executor.drive_run(&run.run_id).await?;
    pb.finish_and_clear();
    let collected = runner.take_collected(&run.run_id);
    summarize(&project, &store, &finished, collected).await
}

pub async fn open_store(project: &Project) -> Result<Store> {
    let url = &project.config.orchestrator.metadata;
    Store::open(url, &project.root)
        .await
        .with_context(|| format!("opening the metadata store {}", redact_url(url)))
}

/// The project's graph, or the part a dbt-style selector picks.
pub fn selected_graph(
    project: &Project,
    select: Option<&str>,
    exclude: Option<&str>,
) -> Result<AssetGraph> {
    let graph = AssetGraph::from_project(project);
    if select.is_none() && exclude.is_none() {
        return Ok(graph);
    }
    let ids = graph.select(select.unwrap_or("*"), exclude)?;
    Ok(graph.restrict(&ids))
}

/// The summary of a finished run: what its tasks reported in this process, and for tasks that
/// did not run here (upstream failed, or finished in an earlier attempt of a resumed run) their
/// state from the store.
pub async fn summarize(
    project: &Project,
    store: &Store,
    run: &RunRecord,
    mut collected: Collected,
) -> Result<RunSummary> {
    let tasks = store.tasks(&run.run_id).await?;
    for t in &tasks {
        if t.kind != TaskKind::Model
            || collected.models.iter().any(|m| m.model == t.target)
            || !matches!(
                t.state,
                TaskState::UpstreamFailed
                    | TaskState::Failed
                    | TaskState::Succeeded
                    | TaskState::Skipped
            )
        {
            continue;
        }
        let upstream_failure = || {
            // The first failed task above it, as the user knows it.
            let mut frontier: Vec<&str> = t.upstream.iter().map(String::as_str).collect();
            while let Some(id) = frontier.pop() {
                if let Some(u) = tasks.iter().find(|u| u.task_id == id) {
                    if u.state == TaskState::Failed {
                        return Some(match u.kind {
                            TaskKind::Model => u.target.clone(),
                            _ => format!("source {}", u.target),
                        });
                    }
                    frontier.extend(u.upstream.iter().map(String::as_str));
                }
            }
            None
        };
        let (status, error) = match t.state {
            TaskState::UpstreamFailed => (
                "upstream_failed",
                Some(format!(
                    "{} failed",
                    upstream_failure().unwrap_or_else(|| "an upstream task".into())
                )),
            ),
            TaskState::Failed => ("failed", t.error.clone()),
            TaskState::Skipped => ("unchanged", None),
            _ => ("built", None),
        };
        collected.models.push(ModelRow {
            model: t.target.clone(),
            materialized: project
                .model(&t.target)
                .map(|m| m.config.materialized.as_str().to_string())
                .unwrap_or_default(),
            partition: None,
            status: status.to_string(),
            rows: t.rows,
            seconds: 0.0,
            error,
        });
    }
    // Models in the project's order, as before the orchestrator.
    let order: Vec<&str> = project.models.iter().map(|m| m.name.as_str()).collect();
    collected.models.sort_by_key(|m| {
        order
            .iter()
            .position(|n| *n == m.model)
            .unwrap_or(usize::MAX)
    });
    // A failed land task's tables that never reported (the task failed before landing).
    for t in tasks.iter().filter(|t| t.kind == TaskKind::Land) {
        if t.state == TaskState::Failed && !collected.landings.iter().any(|l| l.source == t.target)
        {
            collected.landings.push(LandingRow::failed(
                &t.target,
                "*",
                t.error.clone().unwrap_or_else(|| "failed".into()),
            ));
        }
    }
    // Tasks of a kind overlap each other and other kinds: a stage's time is the sum of its
    // tasks' durations (task-seconds); the run's wall clock is `total_seconds`.
    let seconds_of = |kind: TaskKind| -> f64 {
        tasks
            .iter()
            .filter(|t| t.kind == kind)
            .filter_map(|t| Some((t.ended_at? - t.started_at?).num_milliseconds().max(0)))
            .sum::<i64>() as f64
            / 1000.0
    };
    let total_seconds = match (run.started_at, run.ended_at) {
        (Some(s), Some(e)) => (e - s).num_milliseconds().max(0) as f64 / 1000.0,
        _ => 0.0,
    };
    let quality_failed = tasks
        .iter()
        .any(|t| t.kind == TaskKind::Validate && t.state == TaskState::Failed);
    let succeeded = run.state == RunState::Succeeded && !quality_failed;
    Ok(RunSummary {
        run_id: run.run_id.clone(),
        project: project.config.name.clone(),
        logical_date: Some(run.logical_date),
        succeeded,
        input_bytes: collected.landings.iter().map(|l| l.input_bytes).sum(),
        landings: collected.landings,
        models: collected.models,
        quality: collected.quality,
        land_seconds: seconds_of(TaskKind::Land),
        validate_seconds: seconds_of(TaskKind::Validate),
        transform_seconds: seconds_of(TaskKind::Model) + seconds_of(TaskKind::Validate),
        total_seconds,
    })
}

pub(crate) fn landing_row(r: LandingReport, project_root: &Path) -> LandingRow {
    // Paths inside the project read better relative to it, as the user typed it.
    let root = std::fs::canonicalize(project_root).unwrap_or_else(|_| project_root.to_path_buf());
    let malformed_path = r.malformed_path.map(|p| {
        Path::new(&p)
            .strip_prefix(&root)
            .map(|rel| rel.display().to_string())
            .unwrap_or(p)
    });
    LandingRow {
        status: if r.landed { "landed" } else { "up to date" }.to_string(),
        source: r.source,
        table: r.table,
        rows: r.rows,
        input_bytes: r.input_bytes,
        output_bytes: r.output_bytes,
        files_seen: r.files_seen,
        files_skipped: r.files_skipped,
        malformed_rows: r.malformed_rows,
        malformed_path,
        seconds: r.seconds,
        error: None,
    }
}

pub fn generate_with_progress(
    opts: &pulse_generate::GenerateOptions,
    data_dir: &Path,
    quiet: bool,
) -> Result<pulse_generate::GenerateReport> {
    let pb = bar(u64::from(opts.days), quiet, "generating");
    let progress = |p: pulse_generate::Progress| {
        let pulse_generate::Progress::Day { done, bytes, .. } = p;
        pb.set_position(u64::from(done));
        pb.set_message(crate::output::human_bytes(bytes));
    };
    let report = pulse_generate::generate(opts, data_dir, &progress)
        .with_context(|| format!("generating into {}", data_dir.display()))?;
    pb.finish_and_clear();
    Ok(report)
}
