//! What each task of the orchestrator does in this process: land a source in the raw lake,
//! validate a landed source table, build a model. One DataFusion engine per run is shared by
//! its tasks, so a model reads the clean view its source's validation registered.

use crate::pipeline::{LandingRow, ModelRow, dropped_columns, landing_row, type_change};
use chrono::Utc;
use futures::future::BoxFuture;
use pulse_lake::{Lake, RunContext};
use pulse_orchestrate::{TaskContext, TaskKind, TaskOutput, TaskRunner};
use pulse_project::Project;
use pulse_quality::{History, QualityRun, ValidationSummary};
use pulse_transform::{Engine, Outcome, RunOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Engines of the runs this process works on; a few at once (a backfill runs several).
const ENGINES_KEPT: usize = 4;

/// What the tasks of one run reported, for the summary `pulse run` prints.
#[derive(Debug, Default, Clone)]
pub struct Collected {
    pub landings: Vec<LandingRow>,
    pub models: Vec<ModelRow>,
    pub quality: Vec<ValidationSummary>,
}

pub struct ProjectRunner {
    project: Arc<Project>,
    full_refresh: bool,
    engines: tokio::sync::Mutex<Vec<(String, Arc<Engine>)>>,
    collected: Mutex<BTreeMap<String, Collected>>,
    /// Advanced by one for each finished task (`pulse run`'s progress bar).
    progress: Option<indicatif::ProgressBar>,
    /// One lock per task id: two runs at once (a backfill, a scheduled run beside a manual one)
    /// must not land the same source or write the same table at the same time.
    task_locks: Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// What earlier runs' validations found, read once per run (the results folder grows with
    /// every run; a task each reading all of it would grow with it).
    histories: Mutex<Vec<(String, Arc<History>)>>,
    /// The metadata flow: every finished task reports to the catalog (and OpenLineage).
    recorder: Option<crate::catalog::Recorder>,
}

/// Runs whose logical date is a partition to replace: scheduled and backfilled runs, and
/// `pulse run --date`. Other runs (`pulse run`, a run triggered by hand) build models whole.
pub fn builds_partition(trigger: &str) -> bool {
    matches!(trigger, "schedule" | "backfill" | "cli-date")
}

impl ProjectRunner {
    pub fn new(
        project: Arc<Project>,
        full_refresh: bool,
        progress: Option<indicatif::ProgressBar>,
    ) -> Self {
        Self {
            full_refresh,
            engines: tokio::sync::Mutex::new(Vec::new()),
            collected: Mutex::new(BTreeMap::new()),
            progress,
            task_locks: Mutex::new(BTreeMap::new()),
            histories: Mutex::new(Vec::new()),
            recorder: match crate::catalog::Recorder::new(project.clone()) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!("the catalog will not be kept current: {e:#}");
                    None
                }
            },
            project,
        }
    }

    /// What the tasks of `run_id` reported so far (a copy).
    fn collected_so_far(&self, run_id: &str) -> Collected {
        self.collected
            .lock()
            .ok()
            .and_then(|c| c.get(run_id).cloned())
            .unwrap_or_default()
    }

    fn task_lock(&self, task_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        match self.task_locks.lock() {
            Ok(mut locks) => locks.entry(task_id.to_string()).or_default().clone(),
            // A poisoned map only means another task panicked; a fresh lock still orders us.
            Err(_) => Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    fn history(&self, run_id: &str) -> Result<Arc<History>, String> {
        if let Ok(h) = self.histories.lock()
            && let Some((_, history)) = h.iter().find(|(id, _)| id == run_id)
        {
            return Ok(history.clone());
        }
        let history = Arc::new(
            crate::quality::store(&self.project)
                .history()
                .map_err(|e| e.to_string())?,
        );
        if let Ok(mut h) = self.histories.lock() {
            h.push((run_id.to_string(), history.clone()));
            if h.len() > ENGINES_KEPT {
                h.remove(0);
            }
        }
        Ok(history)
    }

    /// What the tasks of `run_id` reported in this process (taken out).
    pub fn take_collected(&self, run_id: &str) -> Collected {
        self.collected
            .lock()
            .map(|mut c| c.remove(run_id).unwrap_or_default())
            .unwrap_or_default()
    }

    fn collect(&self, run_id: &str, f: impl FnOnce(&mut Collected)) {
        if let Ok(mut c) = self.collected.lock() {
            f(c.entry(run_id.to_string()).or_default());
        }
    }

    /// The engine of a run: everything landed and built so far registered, clean views of the
    /// source tables that quarantined rows applied.
    async fn engine(&self, run_id: &str) -> Result<Arc<Engine>, String> {
        let mut engines = self.engines.lock().await;
        if let Some((_, e)) = engines.iter().find(|(id, _)| id == run_id) {
            return Ok(e.clone());
        }
        let engine = Arc::new(
            crate::pipeline::open_engine_lenient(&self.project)
                .await
                .map_err(|e| format!("{e:#}"))?,
        );
        engines.push((run_id.to_string(), engine.clone()));
        if engines.len() > ENGINES_KEPT {
            engines.remove(0);
        }
        Ok(engine)
    }

    async fn land(&self, ctx: &TaskContext) -> Result<TaskOutput, String> {
        let project = &self.project;
        let source = project
            .source(&ctx.target)
            .ok_or_else(|| format!("no source `{}` in the project", ctx.target))?;
        if let Some(pattern) = &source.config.wait_for {
            let timeout = source
                .config
                .wait_timeout
                .map(|d| d.as_std())
                .unwrap_or(Duration::from_secs(3600));
            wait_for_file(ctx, project, pattern, timeout).await?;
        }
        // Another process (a second `pulse serve --worker`) may be landing this source for
        // another run: one landing at a time, so a file never lands twice.
        let _landing = lock_landing(project, &source.name)?;
        let lake =
            Lake::open(&project.config.lake.url, &project.root).map_err(|e| e.to_string())?;
        let run = RunContext {
            run_id: ctx.run_id.clone(),
            ingest_date: ctx.logical_date,
        };
        let progress = |_: &str, _: pulse_lake::LandProgress| {};
        let results = lake.land_source(project, source, &run, &progress).await;
        let engine = self.engine(&ctx.run_id).await?;
        let mut errors = Vec::new();
        let mut out = TaskOutput::default();
        let mut landed_any = false;
        for (table, result) in results {
            let row = match result {
                Ok(r) => {
                    for w in &r.warnings {
                        ctx.log.warn(format!("{}.{table}: {w}", source.name));
                    }
                    ctx.log.info(format!(
                        "{}.{table}: {} rows from {} of input ({} files, {} already landed){}",
                        source.name,
                        r.rows,
                        crate::output::human_bytes(r.input_bytes),
                        r.files_seen,
                        r.files_skipped,
                        if r.malformed_rows > 0 {
                            format!(", {} malformed rows set aside", r.malformed_rows)
                        } else {
                            String::new()
                        }
                    ));
                    out.rows += r.rows;
                    out.bytes += r.input_bytes;
                    landed_any |= r.landed;
                    landing_row(r, &project.root)
                }
                Err(e) => {
                    let message = e.to_string();
                    ctx.log.error(format!("{}.{table}: {message}", source.name));
                    errors.push(format!("{}.{table}: {message}", source.name));
                    LandingRow::failed(&source.name, &table, message)
                }
            };
            let mut row = row;
            if row.error.is_none()
                && let Err(message) = self
                    .register_landed(&lake, &engine, &source.name, &table)
                    .await
            {
                errors.push(format!("{}.{table}: {message}", source.name));
                row.status = "failed".into();
                row.error = Some(message);
            }
            self.collect(&ctx.run_id, |c| c.landings.push(row));
        }
        if !errors.is_empty() {
            return Err(errors.join("; "));
        }
        out.skipped = !landed_any;
        Ok(out)
    }

    /// Makes what landed now readable to models together with every earlier landing of the
    /// table; a column whose type changed between landings stops that here, with the reason.
    async fn register_landed(
        &self,
        lake: &Lake,
        engine: &Engine,
        source: &str,
        table: &str,
    ) -> Result<(), String> {
        if let Some(message) = type_change(lake, source, table)
            .await
            .map_err(|e| format!("{e:#}"))?
        {
            return Err(message);
        }
        let files = lake
            .landed_files(source, table)
            .await
            .map_err(|e| e.to_string())?;
        if files.is_empty() {
            return Ok(());
        }
        let urls: Vec<String> = files.iter().map(|f| f.url.clone()).collect();
        engine
            .register_source_table(source, table, &urls)
            .await
            .map_err(|e| format!("its landings cannot be read together: {e}"))
    }

    /// A model that reads a source column the latest landing no longer has fails here, naming
    /// the column and the runs: building it would fill that column with nulls from now on
    /// without anyone noticing. Only the columns its result depends on count (read off the
    /// plan), so a `select *` in a subquery whose outer query names its columns is fine.
    async fn dropped_columns_read(&self, engine: &Engine, model: &str) -> Result<(), String> {
        let Some(m) = self.project.model(model) else {
            return Ok(());
        };
        let mut dropped = Vec::new();
        let lake = Lake::open(&self.project.config.lake.url, &self.project.root)
            .map_err(|e| e.to_string())?;
        for (source, table) in &m.depends_on.sources {
            for d in dropped_columns(&lake, source, table)
                .await
                .map_err(|e| format!("{e:#}"))?
            {
                dropped.push((format!("{source}.{table}"), d));
            }
        }
        if dropped.is_empty() {
            return Ok(());
        }
        let sql = m
            .render(&pulse_project::RenderContext {
                incremental: false,
                logical_date: None,
                vars: self.project.config.vars.clone(),
            })
            .map_err(|e| e.to_string())?;
        let lineage = engine
            .column_lineage(&sql)
            .await
            .map_err(|e| e.to_string())?;
        let read: BTreeSet<(String, String)> = lineage
            .values()
            .flat_map(|s| s.direct.iter().chain(s.indirect.iter()))
            .map(|(t, c)| (t.trim_end_matches("__raw").to_string(), c.clone()))
            .collect();
        let used: Vec<String> = dropped
            .iter()
            .filter(|(table, d)| read.contains(&(table.clone(), d.column.clone())))
            .map(|(table, d)| {
                format!(
                    "column `{}` of {table}, which the source no longer has (last landed by run {}, \
                     missing from the landing of run {})",
                    d.column, d.last_run, d.missing_run
                )
            })
            .collect();
        if used.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{model} reads {}: remove it from the model, or restore it in the source",
            used.join("; ")
        ))
    }

    /// What a model reads may have landed or been built by another worker process since this
    /// engine was opened: its source tables (with their clean views) and models are read again
    /// when they changed.
    async fn refresh_inputs(&self, engine: &Engine, model: &str) -> Result<(), String> {
        let project = &self.project;
        let Some(model) = project.model(model) else {
            return Ok(());
        };
        // A view reads its own inputs when queried: those of the views it refs count too.
        let mut sources = BTreeSet::new();
        let mut refs = Vec::new();
        let mut pending = vec![model];
        let mut seen = BTreeSet::new();
        while let Some(m) = pending.pop() {
            sources.extend(m.depends_on.sources.iter().cloned());
            for r in &m.depends_on.refs {
                if let Some(upstream) = project.model(r)
                    && seen.insert(r.clone())
                {
                    refs.push(upstream);
                    if upstream.config.materialized == pulse_project::Materialization::View {
                        pending.push(upstream);
                    }
                }
            }
        }
        let lake =
            Lake::open(&project.config.lake.url, &project.root).map_err(|e| e.to_string())?;
        let mut latest = None;
        for (source, table) in &sources {
            let files = lake
                .landed_files(source, table)
                .await
                .map_err(|e| e.to_string())?;
            if files.is_empty() {
                continue;
            }
            let urls: Vec<String> = files.iter().map(|f| f.url.clone()).collect();
            let changed = engine
                .refresh_source_table(source, table, &urls)
                .await
                .map_err(|e| e.to_string())?;
            let expectations = project
                .source(source)
                .and_then(|s| s.expectations.get(table))
                .filter(|e| !e.is_empty());
            if let (true, Some(expectations)) = (changed, expectations) {
                if latest.is_none() {
                    latest = Some(
                        crate::quality::store(project)
                            .latest_by_dataset()
                            .map_err(|e| e.to_string())?,
                    );
                }
                let quarantined = latest
                    .as_ref()
                    .and_then(|l| l.get(&format!("{source}.{table}")))
                    .is_some_and(|d| d.quarantined_rows > 0);
                if quarantined {
                    engine
                        .reuse_source_quarantine(source, table, expectations)
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
        }
        // Upstream first (the project's models are in dependency order): a view is made over
        // what it reads.
        let position = |name: &str| project.models.iter().position(|m| m.name == name);
        refs.sort_by_key(|m| position(&m.name));
        for upstream in refs {
            engine
                .refresh_model(upstream)
                .await
                .map_err(|e| format!("reading {}: {e}", upstream.name))?;
        }
        Ok(())
    }

    async fn validate(&self, ctx: &TaskContext) -> Result<TaskOutput, String> {
        let project = &self.project;
        let engine = self.engine(&ctx.run_id).await?;
        let earlier = self.history(&ctx.run_id)?;
        // The landings (this table's, and those its `relationships` read) may have run in
        // another worker process.
        if let Some((source, table)) = ctx.target.split_once('.') {
            let mut tables = vec![(source.to_string(), table.to_string())];
            for e in project
                .source(source)
                .and_then(|s| s.expectations.get(table))
                .into_iter()
                .flatten()
            {
                if let pulse_project::Check::ColumnMap {
                    map: pulse_project::expectations::ColumnMap::InRelation { to, .. },
                    ..
                } = &e.check
                    && let Some((s, t)) = to.split_once('.')
                {
                    tables.push((s.to_string(), t.to_string()));
                }
            }
            let lake =
                Lake::open(&project.config.lake.url, &project.root).map_err(|e| e.to_string())?;
            for (s, t) in tables {
                let files = lake.landed_files(&s, &t).await.map_err(|e| e.to_string())?;
                if !files.is_empty() {
                    let urls: Vec<String> = files.iter().map(|f| f.url.clone()).collect();
                    engine
                        .refresh_source_table(&s, &t, &urls)
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
        }
        let select: BTreeSet<String> = [ctx.target.clone()].into();
        let (summaries, blocked, fresh) = crate::quality::validate_sources(
            &engine,
            project,
            &BTreeSet::new(),
            &earlier.row_counts,
            &earlier.latest,
            true,
            Some(&select),
        )
        .await
        .map_err(|e| format!("{e:#}"))?;
        if summaries.is_empty() {
            return Err(format!(
                "{} has not landed: there is nothing to validate",
                ctx.target
            ));
        }
        if fresh > 0 {
            save_quality(project, &ctx.run_id, &ctx.task_id, &summaries)?;
        }
        let out = log_validations(ctx, &summaries);
        self.collect(&ctx.run_id, |c| c.quality.extend(summaries));
        if blocked.is_empty() {
            Ok(out)
        } else {
            Err(format!(
                "error-severity expectations failed on {}: its models do not run",
                blocked.into_iter().collect::<Vec<_>>().join(", ")
            ))
        }
    }

    async fn model(
        &self,
        ctx: &TaskContext,
        trigger_partition: bool,
    ) -> Result<TaskOutput, String> {
        let project = &self.project;
        let engine = self.engine(&ctx.run_id).await?;
        let opts = RunOptions {
            logical_date: trigger_partition.then_some(ctx.logical_date),
            full_refresh: self.full_refresh,
            select: None,
            failed_sources: BTreeSet::new(),
            validate: true,
            previous_row_counts: self.history(&ctx.run_id)?.row_counts.clone(),
        };
        self.refresh_inputs(&engine, &ctx.target).await?;
        let result = match self.dropped_columns_read(&engine, &ctx.target).await {
            Err(message) => Err(message),
            Ok(()) => pulse_transform::run_model(&engine, project, &ctx.target, &opts)
                .await
                .map_err(|e| e.to_string()),
        };
        let report = match result {
            Ok(r) => r,
            Err(message) => {
                self.collect(&ctx.run_id, |c| {
                    c.models.push(ModelRow {
                        model: ctx.target.clone(),
                        materialized: project
                            .model(&ctx.target)
                            .map(|m| m.config.materialized.as_str().to_string())
                            .unwrap_or_default(),
                        partition: None,
                        status: "failed".into(),
                        rows: 0,
                        seconds: 0.0,
                        error: Some(message.clone()),
                    })
                });
                return Err(message);
            }
        };
        let status = match &report.outcome {
            Outcome::Built => "built",
            Outcome::Unchanged => "unchanged",
            Outcome::Failed(_) => "failed",
            Outcome::UpstreamFailed(_) => "upstream_failed",
        };
        ctx.log.info(format!(
            "{} {} ({}{}): {} rows in {:.1}s",
            status,
            report.model,
            report.materialized.as_str(),
            report
                .partition
                .as_ref()
                .map(|p| format!(", partition {p}"))
                .unwrap_or_default(),
            report.rows,
            report.seconds
        ));
        let mut blocking = Vec::new();
        if let Some(summary) = &report.validation {
            save_quality(
                project,
                &ctx.run_id,
                &ctx.task_id,
                std::slice::from_ref(summary),
            )?;
            log_validations(ctx, std::slice::from_ref(summary));
            blocking = summary.blocking().iter().map(|b| b.label.clone()).collect();
        }
        // A PostgreSQL warehouse gets what was built before anything downstream reads it.
        if let Some(pg) = crate::publish::PgWarehouse::of(project)?
            && let Some(line) = pg.publish(project, &engine, &report, &ctx.run_id).await?
        {
            ctx.log.info(line);
        }
        let rows = report.rows;
        self.collect(&ctx.run_id, |c| {
            c.models.push(ModelRow {
                model: report.model.clone(),
                materialized: report.materialized.as_str().to_string(),
                partition: report.partition.clone(),
                status: status.to_string(),
                rows: report.rows,
                seconds: report.seconds,
                error: None,
            });
            c.quality.extend(report.validation.clone());
        });
        if !blocking.is_empty() {
            return Err(format!(
                "built, but error-severity expectations failed: {}; the models reading it do not run",
                blocking.join(", ")
            ));
        }
        Ok(TaskOutput {
            rows,
            bytes: 0,
            skipped: report.outcome == Outcome::Unchanged,
        })
    }
}

/// An exclusive lock on `_state/<source>.lock` in a lake on the local file system, held while
/// the returned file is open. Object-store lakes have no such lock; their workers should not
/// land one source at once.
fn lock_landing(project: &Project, source: &str) -> Result<Option<std::fs::File>, String> {
    let url = &project.config.lake.url;
    let root = match url.strip_prefix("file://") {
        Some(path) => std::path::PathBuf::from(path),
        None if !url.contains("://") => project.resolve(url),
        None => return Ok(None),
    };
    let dir = root.join("_state");
    let path = dir.join(format!("{source}.lock"));
    let err = |e: std::io::Error| format!("locking {}: {e}", path.display());
    std::fs::create_dir_all(&dir).map_err(err)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(err)?;
    file.lock().map_err(err)?;
    Ok(Some(file))
}

/// The sensor of a source: polls for the file its upstream writes when an export is complete.
async fn wait_for_file(
    ctx: &TaskContext,
    project: &Project,
    pattern: &str,
    timeout: Duration,
) -> Result<(), String> {
    let written = pattern
        .replace("{ds}", &ctx.logical_date.format("%Y-%m-%d").to_string())
        .replace(
            "{ds_nodash}",
            &ctx.logical_date.format("%Y%m%d").to_string(),
        );
    let path = project.resolve(&written);
    let started = Instant::now();
    // Often enough to start soon after the file appears, rarely enough to cost nothing.
    let poll = (timeout / 20).clamp(Duration::from_millis(200), Duration::from_secs(30));
    let mut said = false;
    loop {
        if path.exists() {
            if said {
                ctx.log.info(format!(
                    "{written} arrived after {:.0}s",
                    started.elapsed().as_secs_f64()
                ));
            }
            return Ok(());
        }
        if started.elapsed() >= timeout {
            return Err(format!(
                "waited {:.0}s for {written} (wait_for of source `{}`); it did not arrive",
                timeout.as_secs_f64(),
                ctx.target
            ));
        }
        if !said {
            ctx.log.info(format!(
                "waiting up to {:.0}s for {written}",
                timeout.as_secs_f64()
            ));
            said = true;
        }
        tokio::time::sleep(poll).await;
    }
}

fn save_quality(
    project: &Project,
    run_id: &str,
    task_id: &str,
    summaries: &[ValidationSummary],
) -> Result<(), String> {
    // One file per validating task: tasks of a run finish in any order, on any worker.
    let id = format!("{run_id}-{}", task_id.replace([':', '/'], "-"));
    crate::quality::store(project)
        .save(&QualityRun::new(
            &id,
            &Utc::now().to_rfc3339(),
            "run",
            summaries.to_vec(),
        ))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn log_validations(ctx: &TaskContext, summaries: &[ValidationSummary]) -> TaskOutput {
    let mut out = TaskOutput::default();
    for s in summaries {
        out.rows += s.row_count;
        for r in &s.results {
            let line = format!(
                "{}: {} {} ({} unexpected)",
                s.dataset,
                if r.success { "passed" } else { "FAILED" },
                r.label,
                r.unexpected_count.unwrap_or(0)
            );
            if r.success {
                ctx.log.info(line);
            } else {
                ctx.log.warn(line);
            }
        }
        if s.quarantined_rows > 0 {
            ctx.log.info(format!(
                "{}: {} rows quarantined",
                s.dataset, s.quarantined_rows
            ));
        }
    }
    out
}

/// The runner as the orchestrator calls it. The trigger of a task's run decides whether its
/// logical date is a partition to replace.
pub struct Runner {
    pub inner: Arc<ProjectRunner>,
    pub store: pulse_orchestrate::Store,
}

impl TaskRunner for Runner {
    fn run(&self, ctx: TaskContext) -> BoxFuture<'static, Result<TaskOutput, String>> {
        let inner = self.inner.clone();
        let store = self.store.clone();
        Box::pin(async move {
            let partition = store
                .run(&ctx.run_id)
                .await
                .map_err(|e| e.to_string())?
                .is_some_and(|r| builds_partition(&r.trigger));
            let lock = inner.task_lock(&ctx.task_id);
            let _same_task_elsewhere = lock.lock().await;
            if let Some(recorder) = &inner.recorder {
                recorder.start(&ctx);
            }
            let result = match ctx.kind {
                TaskKind::Land => {
                    // The lake's writer keeps Parquet encoders that are not `Sync` across its
                    // awaits, so a landing runs to completion on a thread of its own.
                    let runner = inner.clone();
                    let task = ctx.clone();
                    let handle = tokio::runtime::Handle::current();
                    tokio::task::spawn_blocking(move || handle.block_on(runner.land(&task)))
                        .await
                        .map_err(|e| format!("the landing stopped: {e}"))?
                }
                TaskKind::Validate => inner.validate(&ctx).await,
                TaskKind::Model => inner.model(&ctx, partition).await,
            };
            if let Some(recorder) = &inner.recorder {
                let engine = inner.engine(&ctx.run_id).await.ok();
                let collected = inner.collected_so_far(&ctx.run_id);
                recorder
                    .finish(&ctx, engine.as_deref(), &collected, &result)
                    .await;
            }
            if let Some(pb) = &inner.progress {
                pb.inc(1);
                pb.set_message(ctx.task_id.clone());
            }
            result
        })
    }
}
