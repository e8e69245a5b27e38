//! One run of the pipeline: land every source table in the raw lake, then build the models.
//! The orchestrator will take this over; until then it is the composition root of the data flow.

use anyhow::{Context, Result};
use chrono::{NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use pulse_lake::{Lake, LandingReport, RunContext};
use pulse_project::Project;
use pulse_transform::{Engine, ModelEvent, Outcome, RunOptions};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

#[derive(Debug, Default, Clone)]
pub struct PipelineOptions {
    pub logical_date: Option<NaiveDate>,
    pub select: Option<BTreeSet<String>>,
    pub full_refresh: bool,
    /// No progress bars (JSON output, tests).
    pub quiet: bool,
}

#[derive(Debug, Serialize)]
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

#[derive(Debug, Serialize)]
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

pub async fn open_engine(project: &Project) -> Result<Engine> {
    let engine = Engine::open(project).await?;
    let lake = Lake::open(&project.config.lake.url, &project.root)?;
    register_sources(project, &lake, &engine).await?;
    engine.register_models(project).await.with_context(|| {
        format!(
            "the models cannot be read yet: has `pulse run --project {}` landed the sources?",
            project.root.display()
        )
    })?;
    engine.register_quarantine_tables(project).await?;
    // Models read the clean rows of a source table that quarantined some, and so does `pulse sql`.
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
    Ok(engine)
}

/// Registers every source table that has landed at least once.
async fn register_sources(project: &Project, lake: &Lake, engine: &Engine) -> Result<()> {
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
        }
    }
    Ok(())
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
async fn type_change(lake: &Lake, source: &str, table: &str) -> Result<Option<String>> {
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

pub async fn run(project: &Project, opts: &PipelineOptions) -> Result<RunSummary> {
    let started = Instant::now();
    let run_id = new_run_id();
    let lake = Lake::open(&project.config.lake.url, &project.root)?;
    let ctx = RunContext {
        run_id: run_id.clone(),
        ingest_date: opts.logical_date.unwrap_or_else(|| Utc::now().date_naive()),
    };

    // Extract: every source table lands; a failure is recorded and blocks only its dependants.
    let total_tables: usize = project.sources.iter().map(|s| s.config.tables.len()).sum();
    let pb = bar(total_tables as u64, opts.quiet, "landing");
    let mut landings = Vec::new();
    let mut failed_sources = BTreeSet::new();
    for source in &project.sources {
        // A source lands as a whole: database servers are read in one snapshot per source.
        pb.set_message(source.name.clone());
        let t0 = Instant::now();
        let progress_bar = pb.clone();
        let source_name = source.name.clone();
        let progress = move |table: &str, p: pulse_lake::LandProgress| {
            let pulse_lake::LandProgress::Bytes { done, .. } = p;
            progress_bar.set_message(format!(
                "{source_name}.{table} {}",
                crate::output::human_bytes(done)
            ));
        };
        let results = lake.land_source(project, source, &ctx, &progress).await;
        for (table_name, result) in results {
            if let Ok(r) = &result {
                for w in &r.warnings {
                    tracing::warn!(source = %source.name, table = %table_name, "{w}");
                }
            }
            landings.push(match result {
                Ok(r) => landing_row(r, &project.root),
                Err(e) => {
                    failed_sources.insert(format!("{}.{}", source.name, table_name));
                    LandingRow {
                        source: source.name.clone(),
                        table: table_name.clone(),
                        status: "failed".into(),
                        rows: 0,
                        input_bytes: 0,
                        output_bytes: 0,
                        files_seen: 0,
                        files_skipped: 0,
                        malformed_rows: 0,
                        malformed_path: None,
                        seconds: t0.elapsed().as_secs_f64(),
                        error: Some(e.to_string()),
                    }
                }
            });
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    let land_seconds = started.elapsed().as_secs_f64();

    // Transform: models in dependency order over what has landed.
    let t_transform = Instant::now();
    let engine = Engine::open(project).await?;
    // A table whose landings cannot be read together (a column changed type between runs)
    // fails with the reason; only the models that read it are held back.
    for (label, message) in register_each_source(project, &lake, &engine).await? {
        if let Some(row) = landings
            .iter_mut()
            .find(|l| format!("{}.{}", l.source, l.table) == label)
        {
            row.status = "failed".into();
            row.error = Some(message);
        }
        failed_sources.insert(label);
    }

    // Validate: each landed source table's expectations; failing rows are quarantined and an
    // error-severity failure stops the models that read the table.
    let t_validate = Instant::now();
    let store = crate::quality::store(project);
    let history = store.previous_row_counts()?;
    let previous = store.latest_by_dataset()?;
    let (mut quality, blocked, fresh) = crate::quality::validate_sources(
        &engine,
        project,
        &failed_sources,
        &history,
        &previous,
        true,
        None,
    )
    .await?;
    failed_sources.extend(blocked);
    let validate_seconds = t_validate.elapsed().as_secs_f64();
    let run_opts = RunOptions {
        logical_date: opts.logical_date,
        full_refresh: opts.full_refresh,
        select: opts.select.clone(),
        failed_sources,
        validate: true,
        previous_row_counts: history,
    };
    let pb = bar(project.models.len() as u64, opts.quiet, "models");
    let on_event = |e: ModelEvent<'_>| match e {
        ModelEvent::Started { model, .. } => pb.set_message(model.to_string()),
        ModelEvent::Finished(_) => pb.inc(1),
    };
    let reports = pulse_transform::run_models(&engine, project, &run_opts, &on_event)
        .await
        .context("building the models")?;
    pb.finish_and_clear();
    let validated_models = reports.iter().filter(|r| r.validation.is_some()).count();
    quality.extend(reports.iter().filter_map(|r| r.validation.clone()));
    let quality_failed = quality.iter().any(|d| !d.blocking().is_empty());
    // A run that validated nothing afresh leaves the results (and the warehouse) as they were.
    if fresh + validated_models > 0 {
        store.save(&pulse_quality::QualityRun::new(
            &run_id,
            &Utc::now().to_rfc3339(),
            "run",
            quality.clone(),
        ))?;
    }
    let models: Vec<ModelRow> = reports
        .into_iter()
        .map(|r| {
            let (status, error) = match r.outcome {
                Outcome::Built => ("built".to_string(), None),
                Outcome::Unchanged => ("unchanged".to_string(), None),
                Outcome::Failed(e) => ("failed".to_string(), Some(e)),
                Outcome::UpstreamFailed(u) => {
                    ("upstream_failed".to_string(), Some(format!("{u} failed")))
                }
            };
            ModelRow {
                model: r.model,
                materialized: r.materialized.as_str().to_string(),
                partition: r.partition,
                status,
                rows: r.rows,
                seconds: r.seconds,
                error,
            }
        })
        .collect();
    let succeeded = !quality_failed
        && landings.iter().all(|l| l.error.is_none())
        && models.iter().all(|m| m.error.is_none());
    Ok(RunSummary {
        run_id,
        project: project.config.name.clone(),
        logical_date: opts.logical_date,
        succeeded,
        input_bytes: landings.iter().map(|l| l.input_bytes).sum(),
        landings,
        models,
        quality,
        land_seconds,
        validate_seconds,
        transform_seconds: t_transform.elapsed().as_secs_f64(),
        total_seconds: started.elapsed().as_secs_f64(),
    })
}

fn landing_row(r: LandingReport, project_root: &Path) -> LandingRow {
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
