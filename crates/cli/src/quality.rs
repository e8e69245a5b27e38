//! Data quality in the CLI: validating sources during `pulse run`, `pulse test`, the results
//! store, and how results are shown.

use crate::Format;
use anyhow::Result;
use chrono::Utc;
use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use pulse_project::Project;
use pulse_quality::{EvaluationContext, QualityRun, ResultStore, ValidationSummary};
use pulse_transform::{Engine, ValidateOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Results live beside the warehouse they describe.
pub fn store(project: &Project) -> ResultStore {
    let url = project.config.warehouse.engine_url();
    let dir = match url.strip_prefix("file://") {
        Some(path) => PathBuf::from(path),
        None => project.resolve(url),
    };
    ResultStore::new(dir.join("_quality"))
}

fn options(history: &BTreeMap<String, Vec<u64>>, dataset: &str) -> ValidateOptions {
    ValidateOptions {
        context: EvaluationContext {
            now_unix: Utc::now().timestamp(),
            previous_row_counts: history.get(dataset).cloned().unwrap_or_default(),
        },
        ..Default::default()
    }
}

/// Validates every landed source table that declares expectations. With `quarantine`, failing
/// rows move to the table's quarantine and models read only the clean rest. Returns the
/// summaries, the source tables whose error-severity expectations failed, and how many were
/// validated afresh (the others had not changed since the `previous` validation).
pub async fn validate_sources(
    engine: &Engine,
    project: &Project,
    skip: &BTreeSet<String>,
    history: &BTreeMap<String, Vec<u64>>,
    previous: &BTreeMap<String, ValidationSummary>,
    quarantine: bool,
    select: Option<&BTreeSet<String>>,
) -> Result<(Vec<ValidationSummary>, BTreeSet<String>, usize)> {
    let mut summaries = Vec::new();
    let mut blocked = BTreeSet::new();
    let mut fresh = 0;
    for source in &project.sources {
        for (table, expectations) in &source.expectations {
            let dataset = format!("{}.{table}", source.name);
            if expectations.is_empty()
                || skip.contains(&dataset)
                || select.is_some_and(|s| !s.contains(&dataset) && !s.contains(&source.name))
            {
                continue;
            }
            // Only what has landed can be checked.
            let registered = engine
                .context()
                .table_exist(format!("{}.{}", source.name, table).as_str())
                .unwrap_or(false);
            if !registered {
                continue;
            }
            let fingerprint =
                engine.source_validation_fingerprint(&source.name, table, expectations);
            if quarantine
                && let Some(previous) = previous.get(&dataset)
                && previous.fingerprint.as_deref() == Some(fingerprint.as_str())
                && !expectations
                    .iter()
                    .any(|e| e.depends_on_more_than_the_data())
            {
                // Nothing new landed and the expectations are the same: so are the results.
                if previous.quarantined_rows > 0 {
                    engine
                        .reuse_source_quarantine(&source.name, table, expectations)
                        .await?;
                }
                if !previous.blocking().is_empty() {
                    blocked.insert(dataset.clone());
                }
                summaries.push(previous.clone());
                continue;
            }
            fresh += 1;
            let opts = options(history, &dataset);
            let summary = if quarantine {
                engine
                    .validate_source_table(&source.name, table, expectations, &opts)
                    .await
            } else {
                let sql_name = format!(
                    "{}.{}",
                    pulse_quality::quote_ident(&source.name),
                    pulse_quality::quote_ident(&pulse_transform::session::raw_name(table))
                );
                engine
                    .validate(&dataset, &sql_name, expectations, &opts)
                    .await
                    .map(|v| v.summary)
            };
            let mut summary = summary.map_err(|e| anyhow::anyhow!("validating {dataset}: {e}"))?;
            summary.fingerprint = Some(fingerprint);
            if !summary.blocking().is_empty() {
                blocked.insert(dataset.clone());
            }
            summaries.push(summary);
        }
    }
    Ok((summaries, blocked, fresh))
}

/// `pulse test`: every selected dataset's expectations, on the data as it is; nothing moves.
pub async fn test(
    project: &Project,
    select: Option<BTreeSet<String>>,
    format: Format,
) -> Result<bool> {
    let engine = crate::pipeline::open_engine(project).await?;
    let store = store(project);
    let history = store.previous_row_counts()?;
    let (mut summaries, _, _) = validate_sources(
        &engine,
        project,
        &BTreeSet::new(),
        &history,
        &BTreeMap::new(),
        false,
        select.as_ref(),
    )
    .await?;
    for model in &project.models {
        if model.expectations.is_empty()
            || select.as_ref().is_some_and(|s| !s.contains(&model.name))
            || !engine
                .context()
                .table_exist(model.name.as_str())
                .unwrap_or(false)
        {
            continue;
        }
        let opts = options(&history, &model.name);
        let v = engine
            .validate(
                &model.name,
                &pulse_quality::quote_ident(&model.name),
                &model.expectations,
                &opts,
            )
            .await
            .map_err(|e| anyhow::anyhow!("validating {}: {e}", model.name))?;
        summaries.push(v.summary);
    }
    let run = QualityRun::new(
        &crate::pipeline::new_run_id(),
        &Utc::now().to_rfc3339(),
        "test",
        summaries,
    );
    store.save(&run)?;
    let blocking = run.datasets.iter().any(|d| !d.blocking().is_empty());
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&run)?),
        _ => print_results(&run.datasets, true),
    }
    Ok(!blocking)
}

/// A table of results: with `all`, every expectation; otherwise only those that failed or
/// quarantined rows.
pub fn print_results(datasets: &[ValidationSummary], all: bool) {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "dataset",
        "expectation",
        "result",
        "unexpected",
        "quarantined",
        "observed / note",
    ]);
    let mut shown = 0;
    for d in datasets {
        for r in &d.results {
            if !all && r.success && r.quarantined == 0 {
                continue;
            }
            shown += 1;
            let result = match (r.success, r.severity) {
                (true, _) => "ok".to_string(),
                (false, pulse_project::Severity::Error) => "FAILED".to_string(),
                (false, pulse_project::Severity::Warn) => "warn".to_string(),
            };
            let unexpected = match (r.unexpected_count, r.unexpected_percent) {
                (Some(n), Some(p)) => format!("{n} ({p:.2}%)"),
                (Some(n), None) => n.to_string(),
                _ => String::new(),
            };
            let mut note = r
                .observed_value
                .as_ref()
                .map(|v| v.to_string())
                .unwrap_or_default();
            if !r.partial_unexpected_list.is_empty() {
                let sample: Vec<String> = r
                    .partial_unexpected_list
                    .iter()
                    .take(3)
                    .map(|v| v.to_string())
                    .collect();
                note = format!("e.g. {}", sample.join(", "));
            }
            if let Some(e) = &r.exception {
                note = e.clone();
            }
            if note.chars().count() > 80 {
                note = format!("{}…", note.chars().take(79).collect::<String>());
            }
            t.add_row(vec![
                d.dataset.clone(),
                r.label.clone(),
                result,
                unexpected,
                if r.quarantined > 0 {
                    r.quarantined.to_string()
                } else {
                    String::new()
                },
                note,
            ]);
        }
    }
    if shown > 0 {
        println!("{t}");
    }
    let evaluated: usize = datasets.iter().map(|d| d.evaluated).sum();
    let successful: usize = datasets.iter().map(|d| d.successful).sum();
    let quarantined: u64 = datasets.iter().map(|d| d.quarantined_rows).sum();
    println!(
        "quality: {successful}/{evaluated} expectations passed on {} datasets; {quarantined} rows quarantined",
        datasets.len()
    );
}
