//! Building the project's models in dependency order: render, plan on DataFusion, write as Delta.

use crate::error::{Result, TransformError};
use crate::session::Engine;
use crate::warehouse::{BuildRecord, WarehouseState};
use chrono::{NaiveDate, Utc};
use datafusion::common::ScalarValue;
use datafusion::prelude::{col, lit};
use deltalake::DeltaTable;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use futures::TryStreamExt;
use pulse_project::{Materialization, Model, Project, RenderContext};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The logical date of the run; incremental models whose table exists replace only this
    /// date's partition.
    pub logical_date: Option<NaiveDate>,
    /// Rebuild every selected model even when nothing it reads has changed.
    pub full_refresh: bool,
    /// Only these models (all when `None`); the others are registered as they are.
    pub select: Option<BTreeSet<String>>,
    /// Source tables (`source.table`) whose landing failed: models reading them do not run.
    pub failed_sources: BTreeSet<String>,
    /// Check each model's expectations after building it.
    pub validate: bool,
    /// For `volume_change`: each dataset's row counts of earlier validations, oldest first.
    pub previous_row_counts: BTreeMap<String, Vec<u64>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Built,
    /// Nothing it reads changed since its last build.
    Unchanged,
    Failed(String),
    /// Not run because a model it reads failed.
    UpstreamFailed(String),
}

#[derive(Debug, Clone)]
pub struct ModelReport {
    pub model: String,
    pub materialized: Materialization,
    /// `Some(date)` when only that partition was replaced.
    pub partition: Option<String>,
    pub outcome: Outcome,
    pub rows: u64,
    pub seconds: f64,
    /// Its expectations' results, when it was built and has expectations.
    pub validation: Option<pulse_quality::ValidationSummary>,
}

pub enum ModelEvent<'a> {
    Started {
        model: &'a str,
        index: usize,
        total: usize,
    },
    Finished(&'a ModelReport),
}

fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// Builds the models in order. A failed model marks everything downstream of it
/// `UpstreamFailed`; independent models still run.
pub async fn run_models(
    engine: &Engine,
    project: &Project,
    opts: &RunOptions,
    on_event: &(dyn Fn(ModelEvent<'_>) + Sync),
) -> Result<Vec<ModelReport>> {
    let mut state = engine.warehouse.load_state()?;
    let mut reports = Vec::new();
    let mut failed: BTreeMap<String, String> = BTreeMap::new();
    let total = project.models.len();
    for (index, model) in project.models.iter().enumerate() {
        let selected = opts.select.as_ref().is_none_or(|s| s.contains(&model.name));
        if !selected {
            register_existing(engine, model).await?;
            continue;
        }
        on_event(ModelEvent::Started {
            model: &model.name,
            index,
            total,
        });
        let started = Instant::now();
        let upstream_failure = model
            .depends_on
            .refs
            .iter()
            .find_map(|r| failed.get(r).cloned())
            .or_else(|| {
                model
                    .depends_on
                    .sources
                    .iter()
                    .map(|(s, t)| format!("{s}.{t}"))
                    .find(|k| opts.failed_sources.contains(k))
                    .map(|k| format!("source {k}"))
            });
        let report = match upstream_failure {
            Some(root) => {
                failed.insert(model.name.clone(), root.clone());
                ModelReport {
                    model: model.name.clone(),
                    materialized: model.config.materialized,
                    partition: None,
                    outcome: Outcome::UpstreamFailed(root),
                    rows: 0,
                    seconds: 0.0,
                    validation: None,
                }
            }
            None => match build_model(engine, project, model, opts, &mut state).await {
                Ok(mut r) => {
                    engine.warehouse.save_state(&state)?;
                    if opts.validate
                        && r.outcome == Outcome::Built
                        && !model.expectations.is_empty()
                    {
                        let vopts = model_validate_options(model, opts);
                        match engine.validate_model(model, &vopts).await {
                            Ok(summary) => {
                                let blocking: Vec<String> =
                                    summary.blocking().iter().map(|b| b.label.clone()).collect();
                                if !blocking.is_empty() {
                                    failed.insert(
                                        model.name.clone(),
                                        format!("{} (failed {})", model.name, blocking.join(", ")),
                                    );
                                }
                                r.rows = r.rows.saturating_sub(summary.quarantined_rows);
                                r.validation = Some(summary);
                            }
                            Err(e) => {
                                failed.insert(model.name.clone(), model.name.clone());
                                r.outcome = Outcome::Failed(format!("validating: {e}"));
                            }
                        }
                    }
                    r.seconds = started.elapsed().as_secs_f64();
                    r
                }
                Err(e) => {
                    failed.insert(model.name.clone(), model.name.clone());
                    ModelReport {
                        model: model.name.clone(),
                        materialized: model.config.materialized,
                        partition: None,
                        outcome: Outcome::Failed(e.to_string()),
                        rows: 0,
                        seconds: started.elapsed().as_secs_f64(),
                        validation: None,
                    }
                }
            },
        };
        on_event(ModelEvent::Finished(&report));
        reports.push(report);
    }
    Ok(reports)
}

/// Builds one model (and checks its expectations) as a task of the orchestrator: whatever it
/// reads must already be registered in `engine`; upstream failures are the orchestrator's to
/// handle. Several models may be built at once on one engine: each records its build in the
/// warehouse state under a lock, on top of what the others recorded meanwhile.
pub async fn run_model(
    engine: &Engine,
    project: &Project,
    name: &str,
    opts: &RunOptions,
) -> Result<ModelReport> {
    let model = project
        .model(name)
        .ok_or_else(|| TransformError::Warehouse {
            url: engine.warehouse.url().to_string(),
            message: format!("no model named `{name}` in the project"),
        })?;
    let started = Instant::now();
    let mut snapshot = engine.warehouse.load_state()?;
    let before = snapshot.clone();
    let mut report = build_model(engine, project, model, opts, &mut snapshot).await?;
    {
        let _guard = engine.state_lock.lock().await;
        engine.warehouse.update_state(|state| {
            for (key, record) in snapshot.builds {
                if before.builds.get(&key) != Some(&record) {
                    state.builds.insert(key, record);
                }
            }
        })?;
    }
    if opts.validate && report.outcome == Outcome::Built && !model.expectations.is_empty() {
        let summary = engine
            .validate_model(model, &model_validate_options(model, opts))
            .await?;
        report.rows = report.rows.saturating_sub(summary.quarantined_rows);
        report.validation = Some(summary);
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn model_validate_options(model: &Model, opts: &RunOptions) -> crate::validate::ValidateOptions {
    crate::validate::ValidateOptions {
        context: pulse_quality::EvaluationContext {
            now_unix: Utc::now().timestamp(),
            previous_row_counts: opts
                .previous_row_counts
                .get(&model.name)
                .cloned()
                .unwrap_or_default(),
        },
        ..Default::default()
    }
}

async fn build_model(
    engine: &Engine,
    project: &Project,
    model: &Model,
    opts: &RunOptions,
    state: &mut WarehouseState,
) -> Result<ModelReport> {
    let existing = match model.config.materialized {
        Materialization::View => None,
        _ => engine.warehouse.open_table(&model.name).await?,
    };
    let partition_date = match (model.config.materialized, opts.logical_date, &existing) {
        (Materialization::Incremental, Some(date), Some(_)) if !opts.full_refresh => Some(date),
        _ => None,
    };
    let ctx = RenderContext {
        incremental: partition_date.is_some(),
        logical_date: partition_date.map(|d| d.format("%Y-%m-%d").to_string()),
        vars: project.config.vars.clone(),
    };
    let sql = model.render(&ctx)?;

    let mut inputs: Vec<String> = Vec::new();
    {
        let fps = engine
            .source_fingerprints
            .lock()
            .map_err(|_| TransformError::model(model, "internal error: fingerprints poisoned"))?;
        for (s, t) in &model.depends_on.sources {
            let key = format!("{s}.{t}");
            inputs.push(format!(
                "{key}={}",
                fps.get(&key).cloned().unwrap_or_default()
            ));
        }
    }
    for r in &model.depends_on.refs {
        let fp = state
            .builds
            .get(r)
            .map(|b| b.fingerprint.clone())
            .unwrap_or_default();
        inputs.push(format!("{r}={fp}"));
    }
    let mut parts: Vec<&str> = vec![
        &sql,
        model.config.materialized.as_str(),
        model.config.partition_by.as_deref().unwrap_or(""),
    ];
    parts.extend(inputs.iter().map(String::as_str));
    let fp = fingerprint(&parts);
    let key = match &ctx.logical_date {
        Some(d) => format!("{}@{d}", model.name),
        None => model.name.clone(),
    };
    let unchanged = !opts.full_refresh
        && state.builds.get(&key).is_some_and(|b| b.fingerprint == fp)
        && (model.config.materialized == Materialization::View || existing.is_some());
    let mut report = ModelReport {
        model: model.name.clone(),
        materialized: model.config.materialized,
        partition: ctx.logical_date.clone(),
        outcome: Outcome::Unchanged,
        rows: state.builds.get(&key).map(|b| b.rows).unwrap_or(0),
        seconds: 0.0,
        validation: None,
    };
    if unchanged {
        register_existing(engine, model).await?;
        return Ok(report);
    }

    let (rows, version) = match model.config.materialized {
        Materialization::View => {
            create_view(engine, model, &sql).await?;
            (0, None)
        }
        Materialization::Table | Materialization::Incremental => {
            let table = write_table(engine, model, &sql, existing, partition_date).await?;
            let rows = added_rows(&table).await;
            let version = table.version();
            register_table(engine, &model.name, &table).await?;
            (rows, version)
        }
    };
    let record = BuildRecord {
        fingerprint: fp.clone(),
        rows,
        built_at: Utc::now(),
        delta_version: version,
    };
    if partition_date.is_some() {
        // Downstream models must see that this table changed even though only a partition did.
        let whole = state.builds.get(&model.name).cloned();
        let combined = fingerprint(&[
            whole.as_ref().map(|b| b.fingerprint.as_str()).unwrap_or(""),
            &fp,
        ]);
        state.builds.insert(
            model.name.clone(),
            BuildRecord {
                fingerprint: combined,
                rows: whole.map(|b| b.rows).unwrap_or(0),
                built_at: record.built_at,
                delta_version: version,
            },
        );
    }
    state.builds.insert(key, record);
    report.outcome = Outcome::Built;
    report.rows = rows;
    Ok(report)
}

async fn create_view(engine: &Engine, model: &Model, sql: &str) -> Result<()> {
    let _registering = engine.registry.lock().await;
    let stmt = format!("CREATE OR REPLACE VIEW {} AS {sql}", model.name);
    engine
        .ctx
        .sql(&stmt)
        .await
        .map_err(|e| TransformError::model(model, e))?
        .collect()
        .await
        .map_err(|e| TransformError::model(model, e))?;
    Ok(())
}

async fn write_table(
    engine: &Engine,
    model: &Model,
    sql: &str,
    existing: Option<DeltaTable>,
    partition_date: Option<NaiveDate>,
) -> Result<DeltaTable> {
    let df = engine
        .ctx
        .sql(sql)
        .await
        .map_err(|e| TransformError::model(model, e))?;
    let plan = df.logical_plan().clone();
    let table = match existing {
        Some(t) => t,
        None => engine.warehouse.table_for_write(&model.name).await?,
    };
    let mut builder = table
        .write(Vec::new())
        .with_input_plan(plan)
        .with_session_state(Arc::new(engine.ctx.state()))
        .with_save_mode(SaveMode::Overwrite)
        .with_table_name(model.name.clone());
    if let Some(d) = &model.config.description {
        builder = builder.with_description(d.clone());
    }
    if let Some(column) = &model.config.partition_by {
        builder = builder.with_partition_columns(vec![column.clone()]);
    }
    builder = match partition_date {
        Some(date) => {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            let days = i32::try_from(date.signed_duration_since(epoch).num_days())
                .map_err(|_| TransformError::model(model, format!("date {date} out of range")))?;
            let column = model.config.partition_by.clone().unwrap_or_default();
            builder.with_replace_where(col(column).eq(lit(ScalarValue::Date32(Some(days)))))
        }
        None => builder.with_schema_mode(SchemaMode::Overwrite),
    };
    builder.await.map_err(|e| TransformError::model(model, e))
}

/// Rows written by the table's last commit, from Delta's own operation metrics.
pub(crate) async fn added_rows(table: &DeltaTable) -> u64 {
    let history: Vec<_> = match table.history(Some(1)).try_collect().await {
        Ok(h) => h,
        Err(_) => return 0,
    };
    history
        .first()
        .and_then(|c| c.info.get("operationMetrics"))
        .and_then(|m| m.get("num_added_rows"))
        .and_then(|v| v.as_u64())
        .unwrap_or(0)
}

pub(crate) async fn register_table(engine: &Engine, name: &str, table: &DeltaTable) -> Result<()> {
    let delta = |source| TransformError::Delta {
        table: name.to_string(),
        source,
    };
    table
        .update_datafusion_session(&engine.ctx.state())
        .map_err(delta)?;
    let provider = table
        .table_provider()
        .await
        .map_err(|e| TransformError::Warehouse {
            url: engine.warehouse.url().to_string(),
            message: format!("table `{name}`: {e}"),
        })?;
    let _registering = engine.registry.lock().await;
    engine.ctx.deregister_table(name)?;
    engine.ctx.register_table(name, provider)?;
    Ok(())
}

/// Makes a model readable as it was last built (a view is re-created from its SQL).
pub(crate) async fn register_existing(engine: &Engine, model: &Model) -> Result<()> {
    match model.config.materialized {
        Materialization::View => {
            let sql = model.render(&RenderContext::default())?;
            create_view(engine, model, &sql).await
        }
        _ => {
            if let Some(table) = engine.warehouse.open_table(&model.name).await? {
                register_table(engine, &model.name, &table).await?;
            }
            Ok(())
        }
    }
}
