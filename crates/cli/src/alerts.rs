//! The monitor wired into the CLI: the configuration read off `pulse.toml`, the inputs the
//! metadata store does not know (datasets' freshness, owners, quality, lineage — read off the
//! catalog, which every run keeps current), and `pulse alerts`.

use crate::Format;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use comfy_table::Table;
use pulse_catalog::Catalog;
use pulse_monitor::{
    AlertStore, DatasetStatus, Incident, IncidentFilter, Monitor, MonitorConfig, MonitorInputs,
    QualityResult,
};
use pulse_project::Project;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// `[monitor]`, `[[alerts]]`, `[[notifiers]]` and `[[routes]]` of the project's pulse.toml
/// (all optional: without them the monitor still serves `/metrics` and the operator page).
pub fn config(project: &Project) -> Result<MonitorConfig> {
    let path = project.root.join("pulse.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    MonitorConfig::from_pulse_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The monitor over the project's metadata store, its incidents kept beside the runs.
pub async fn open(project: &Project) -> Result<Monitor> {
    let config = config(project)?;
    let store = crate::pipeline::open_store(project).await?;
    let monitor = Monitor::open(
        config,
        store,
        &project.config.orchestrator.metadata,
        &project.root,
    )
    .await
    .context("opening the alert store")?;
    Ok(monitor.with_project(&project.config.name))
}

/// The catalog as the runs left it (the project's datasets alone before the first run).
pub fn catalog(project: &Project) -> Result<Catalog> {
    Ok(match crate::catalog::store(project) {
        Some(s) => Catalog::load(project, &s)?,
        None => Catalog::from_project(project),
    })
}

/// What the rules judge besides the store: every dataset's last update and the age its
/// schedule allows, its owner, its latest validation, and what it reads.
pub fn inputs(project: &Project, catalog: &Catalog, now: DateTime<Utc>) -> MonitorInputs {
    let mut inputs = MonitorInputs {
        schedules: project.config.schedules.clone(),
        ..Default::default()
    };
    for ds in catalog.datasets() {
        if let Some(owner) = &ds.owner {
            inputs.owners.insert(ds.id.clone(), owner.clone());
        }
        let parents: Vec<String> = catalog
            .lineage()
            .parents(&ds.id)
            .into_iter()
            .map(str::to_string)
            .collect();
        if !parents.is_empty() {
            inputs.upstream.insert(ds.id.clone(), parents);
        }
        if let Some(q) = &ds.quality {
            inputs.quality.push(QualityResult {
                dataset: ds.id.clone(),
                run_id: q.run_id.clone(),
                at: q.at,
                passed: q.passed,
                failed: q.failed,
            });
        }
        // A dataset without a schedule has no window to be late against.
        let max_age = catalog
            .freshness(&ds.id, now)
            .ok()
            .and_then(|f| u64::try_from(f.max_age_seconds).ok())
            .filter(|s| *s > 0)
            .map(std::time::Duration::from_secs);
        inputs.datasets.push(DatasetStatus {
            id: ds.id.clone(),
            last_updated: catalog.last_updated(&ds.id),
            max_age,
        });
    }
    inputs
}

/// The inputs `pulse serve` hands the monitor: read off the catalog service's current
/// snapshot (rebuilt only when a run recorded something), else off the project alone.
pub fn inputs_source(
    project: Arc<Project>,
    catalog: Option<Arc<pulse_catalog::CatalogService>>,
) -> pulse_web::InputsFn {
    Arc::new(move || match &catalog {
        Some(service) => inputs(&project, service.snapshot().catalog(), Utc::now()),
        None => inputs(&project, &Catalog::from_project(&project), Utc::now()),
    })
}

#[derive(Args)]
pub struct AlertsArgs {
    #[command(subcommand)]
    command: AlertsCommand,
}

#[derive(Subcommand)]
enum AlertsCommand {
    /// Incidents, newest first: open, held back, silenced and resolved.
    List(ListArgs),
    /// One incident (by id or key) with its history and notifications.
    Show(ShowArgs),
    /// Evaluate the rules now, open and resolve incidents and send what is due — what
    /// `pulse serve` does every `[monitor] interval`. Exits 1 while incidents are open.
    Check(CheckArgs),
    /// Hold back notifications of the incidents a matcher picks until a time.
    Silence(SilenceArgs),
    /// The silences in force (--all: also the ended ones).
    Silences(SilencesArgs),
    /// End a silence now.
    Expire(ExpireArgs),
}

#[derive(Args)]
struct ProjectOpt {
    #[arg(long, short = 'p', default_value = ".")]
    project: PathBuf,
}

#[derive(Args)]
struct ListArgs {
    #[command(flatten)]
    p: ProjectOpt,
    /// Only incidents that are still open.
    #[arg(long)]
    open: bool,
    /// Only incidents opened within this long (`2h`, `7d`) or since this RFC 3339 time.
    #[arg(long)]
    since: Option<String>,
    #[arg(long, default_value_t = 50)]
    limit: u32,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Args)]
struct ShowArgs {
    #[command(flatten)]
    p: ProjectOpt,
    /// The incident's id (`7`) or key (`task_failed:land:orders`).
    incident: String,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Args)]
struct CheckArgs {
    #[command(flatten)]
    p: ProjectOpt,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Args)]
struct SilenceArgs {
    #[command(flatten)]
    p: ProjectOpt,
    /// Which incidents: `field=pattern` terms joined by commas (fields key, rule, kind,
    /// subject, owner, severity; `*` and `?` match), or a bare pattern for the key
    /// (`freshness:fct_*`).
    matcher: String,
    /// When it ends: a duration from now (`2h`, `1d`) or an RFC 3339 time.
    #[arg(long)]
    until: String,
    /// Why (shown beside the silence and in the incidents it holds).
    #[arg(long, default_value = "")]
    comment: String,
    /// Who (default: $USER).
    #[arg(long)]
    by: Option<String>,
}

#[derive(Args)]
struct SilencesArgs {
    #[command(flatten)]
    p: ProjectOpt,
    /// Also the silences that have ended.
    #[arg(long)]
    all: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Args)]
struct ExpireArgs {
    #[command(flatten)]
    p: ProjectOpt,
    /// The silence's id (from `pulse alerts silences`).
    id: i64,
}

async fn alert_store(project_dir: &Path) -> Result<(Project, AlertStore)> {
    let project = crate::load_project(project_dir)?;
    let config = config(&project)?;
    let url = config
        .monitor
        .store
        .clone()
        .unwrap_or_else(|| project.config.orchestrator.metadata.clone());
    let store = AlertStore::open(&url, &project.root)
        .await
        .with_context(|| {
            format!(
                "opening the alert store {}",
                pulse_project::secrets::redact_url(&url)
            )
        })?;
    Ok((project, store))
}

pub async fn run(a: AlertsArgs) -> Result<ExitCode> {
    match a.command {
        AlertsCommand::List(a) => {
            let (_, store) = alert_store(&a.p.project).await?;
            let now = Utc::now();
            let since = match &a.since {
                Some(s) => Some(parse_since(s, now)?),
                None => None,
            };
            let incidents = store
                .list(&IncidentFilter {
                    open_only: a.open,
                    since,
                    limit: a.limit,
                })
                .await?;
            match a.format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&incidents)?),
                Format::Csv => {
                    println!("id,status,severity,key,owner,opened_at,resolved_at,summary");
                    for i in &incidents {
                        println!(
                            "{},{},{},{},{},{},{},{}",
                            i.id,
                            i.status(),
                            i.severity,
                            csv(&i.key),
                            csv(i.owner.as_deref().unwrap_or("")),
                            i.opened_at.to_rfc3339(),
                            i.resolved_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                            csv(&i.summary)
                        );
                    }
                }
                Format::Table => {
                    if incidents.is_empty() {
                        println!("no incidents");
                    } else {
                        println!("{}", incident_table(&incidents));
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AlertsCommand::Show(a) => {
            let (_, store) = alert_store(&a.p.project).await?;
            let incident = match a.incident.parse::<i64>() {
                Ok(id) => store.incident(id).await?,
                Err(_) => store.incident_by_key(&a.incident).await?,
            }
            .with_context(|| format!("no incident {:?}", a.incident))?;
            let events = store.events(incident.id).await?;
            let deliveries = store.deliveries(incident.id).await?;
            match a.format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "incident": incident,
                        "events": events,
                        "notifications": deliveries,
                    }))?
                ),
                _ => {
                    println!(
                        "#{} {} [{} {}]\n{}",
                        incident.id,
                        incident.key,
                        incident.severity,
                        incident.status(),
                        incident.summary
                    );
                    println!("owner: {}", incident.owner.as_deref().unwrap_or("(nobody)"));
                    println!("opened: {}", incident.opened_at.to_rfc3339());
                    if let Some(t) = incident.resolved_at {
                        println!("resolved: {}", t.to_rfc3339());
                    }
                    if !incident.involved.is_empty() {
                        println!("involved: {}", incident.involved.join(", "));
                    }
                    for h in &incident.held_back {
                        println!("holds back: #{} {} — {}", h.id, h.key, h.summary);
                    }
                    println!("\nhistory:");
                    for e in &events {
                        println!("  {}  {:<14} {}", e.at.to_rfc3339(), e.event, e.detail);
                    }
                    if !deliveries.is_empty() {
                        println!("\nnotifications:");
                        for d in &deliveries {
                            println!(
                                "  {:<9} {:<12} {:<8} attempts {}{}",
                                d.event,
                                d.notifier,
                                d.state,
                                d.attempts,
                                d.last_error
                                    .as_deref()
                                    .map(|e| format!("  last error: {e}"))
                                    .unwrap_or_default()
                            );
                        }
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AlertsCommand::Check(a) => {
            let project = crate::load_project(&a.p.project)?;
            let monitor = open(&project).await?;
            let now = Utc::now();
            let inputs = inputs(&project, &catalog(&project)?, now);
            let report = monitor.tick(&inputs, now).await?;
            let open = monitor
                .alerts()
                .list(&IncidentFilter {
                    open_only: true,
                    since: None,
                    limit: 1000,
                })
                .await?;
            match a.format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "opened": report.reconcile.opened,
                        "resolved": report.reconcile.resolved,
                        "held_back": report.reconcile.held_back,
                        "silenced": report.reconcile.silenced,
                        "notifications": report.dispatch.attempts,
                        "open": open,
                    }))?
                ),
                _ => {
                    for k in &report.reconcile.opened {
                        println!("opened    {k}");
                    }
                    for k in &report.reconcile.resolved {
                        println!("resolved  {k}");
                    }
                    for k in &report.reconcile.held_back {
                        println!("held back {k}");
                    }
                    for s in &report.dispatch.attempts {
                        match &s.error {
                            None => println!(
                                "notified  {} ({}) via {}",
                                s.incident, s.event, s.notifier
                            ),
                            Some(e) => println!(
                                "not sent  {} ({}) via {}: {e} — {}",
                                s.incident, s.event, s.notifier, s.state
                            ),
                        }
                    }
                    if open.is_empty() {
                        println!("no open incidents");
                    } else {
                        println!("{}", incident_table(&open));
                    }
                }
            }
            Ok(if open.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        AlertsCommand::Silence(a) => {
            let (_, store) = alert_store(&a.p.project).await?;
            let now = Utc::now();
            let until = pulse_monitor::parse_until(&a.until, now)?;
            let by = a.by.or_else(|| std::env::var("USER").ok());
            let s = store
                .silence(&a.matcher, until, &a.comment, by.as_deref(), now)
                .await?;
            println!(
                "silence {} on {:?} until {} (takes effect at the next evaluation)",
                s.id,
                s.matcher,
                s.ends_at.to_rfc3339()
            );
            Ok(ExitCode::SUCCESS)
        }
        AlertsCommand::Silences(a) => {
            let (_, store) = alert_store(&a.p.project).await?;
            let now = Utc::now();
            let silences = store.silences(a.all, now).await?;
            match a.format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&silences)?),
                _ => {
                    if silences.is_empty() {
                        println!("no silences");
                    }
                    for s in &silences {
                        println!(
                            "{:>4}  {:<30} until {}  {}{}{}",
                            s.id,
                            s.matcher,
                            s.ends_at.to_rfc3339(),
                            if s.is_active(now) { "active" } else { "ended" },
                            s.created_by
                                .as_deref()
                                .map(|b| format!("  by {b}"))
                                .unwrap_or_default(),
                            if s.comment.is_empty() {
                                String::new()
                            } else {
                                format!("  — {}", s.comment)
                            }
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AlertsCommand::Expire(a) => {
            let (_, store) = alert_store(&a.p.project).await?;
            store.expire_silence(a.id, Utc::now()).await?;
            println!("silence {} ended", a.id);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `--since 2h` (that long ago) or an RFC 3339 time.
fn parse_since(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    // parse_until reads a duration forward from now; the same duration, backwards.
    let ahead = pulse_monitor::parse_until(s, now).map_err(|_| {
        anyhow::anyhow!("--since takes a duration (`2h`, `7d`) or an RFC 3339 time; got {s:?}")
    })?;
    Ok(now - (ahead - now))
}

fn incident_table(incidents: &[Incident]) -> Table {
    let mut t = Table::new();
    t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_header([
        "id", "status", "severity", "key", "owner", "opened", "summary",
    ]);
    for i in incidents {
        t.add_row([
            i.id.to_string(),
            i.status().to_string(),
            i.severity.to_string(),
            i.key.clone(),
            i.owner.clone().unwrap_or_default(),
            i.opened_at.format("%Y-%m-%d %H:%M").to_string(),
            i.summary.clone(),
        ]);
    }
    t
}

fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_a_duration_back_from_now_or_a_time() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time");
        assert_eq!(
            parse_since("2h", now).expect("2h").to_rfc3339(),
            "2026-11-29T10:00:00+00:00"
        );
        assert_eq!(
            parse_since("2026-11-01T00:00:00Z", now)
                .expect("rfc3339")
                .to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert!(parse_since("yesterday", now).is_err());
    }
}
