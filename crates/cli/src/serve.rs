//! `pulse serve`: the long-running process. The scheduler starts runs when their cron fires,
//! a worker claims and runs the tasks of every queued run, and the web server shows the runs
//! and lets people trigger, retry and mark tasks. `--worker` runs only a worker, so several
//! processes sharing a PostgreSQL metadata store split the work.

use crate::tasks::{ProjectRunner, Runner};
use anyhow::{Context, Result};
use clap::Args;
use pulse_orchestrate::{AssetGraph, Executor, ExecutorOptions, Scheduler};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args)]
pub struct ServeArgs {
    #[arg(long, short = 'p', default_value = ".")]
    project: PathBuf,
    /// Where the web UI listens. A non-loopback address needs --token.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Run only a worker: no web server, no scheduler. Start several against one PostgreSQL
    /// metadata store to share the work.
    #[arg(long)]
    worker: bool,
    /// Every request except /health must carry it (`Authorization: Bearer …`, or open
    /// /login?token=… once in the browser). Default: the PULSE_TOKEN environment variable.
    #[arg(long)]
    token: Option<String>,
    /// Stop after this many seconds (tests, demos); default: until stopped.
    #[arg(long)]
    seconds: Option<f64>,
    /// Where the PostgreSQL endpoint over the warehouse listens (psql, BI tools), or `off`.
    /// Default: `[serve.wire] listen` in pulse.toml, else 127.0.0.1:5433.
    #[arg(long, value_name = "ADDR|off")]
    wire: Option<String>,
}

impl ServeArgs {
    pub fn for_demo(project: &std::path::Path, addr: SocketAddr) -> Self {
        ServeArgs {
            project: project.to_path_buf(),
            addr,
            worker: false,
            token: None,
            seconds: None,
            wire: None,
        }
    }
}

pub async fn serve(a: ServeArgs) -> Result<ExitCode> {
    let mut a = a;
    if a.token.is_none() {
        a.token = std::env::var("PULSE_TOKEN").ok().filter(|t| !t.is_empty());
    }
    let project = Arc::new(crate::load_project(&a.project)?);
    let config = project.config.orchestrator.clone();
    let store = crate::pipeline::open_store(&project).await?;
    let graph = AssetGraph::from_project(&project);
    if !a.worker {
        pulse_web::check_bind(&a.addr, a.token.as_deref())?;
    }

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let runner = Arc::new(ProjectRunner::new(project.clone(), false, None));
    let executor = Executor::new(
        store.clone(),
        Arc::new(Runner {
            inner: runner,
            store: store.clone(),
        }),
        ExecutorOptions::from_config(&config),
    );
    let worker_id = executor.options().worker_id.clone();
    let mut jobs = tokio::task::JoinSet::new();
    let worker_stop = stop_rx.clone();
    jobs.spawn(async move {
        executor
            .work(worker_stop)
            .await
            .context("the worker stopped")
    });

    if !a.worker {
        let scheduler = Scheduler::new(
            store.clone(),
            &graph,
            &project.config.schedules,
            config.retries + 1,
        )?;
        let scheduler_stop = stop_rx.clone();
        jobs.spawn(async move {
            scheduler
                .run(scheduler_stop, Duration::from_secs(15), |run| {
                    tracing::warn!(run_id = %run.run_id, "run {} missed its SLA", run.run_id);
                })
                .await;
            Ok(())
        });
        let catalog = match crate::catalog::store(&project) {
            Some(store) => Some(Arc::new(
                pulse_catalog::CatalogService::new(&project, store)
                    .context("opening the catalog")?,
            )),
            None => None,
        };
        let metrics = Arc::new(crate::metrics::service(project.clone()));
        if let Some(settings) = wire_settings(&project, a.wire.as_deref())? {
            let engines = Arc::new(
                pulse_warehouse::EngineSource::new(project.clone())
                    .with_opener(Arc::new(|p: Arc<pulse_project::Project>| {
                        Box::pin(async move {
                            crate::pipeline::open_engine_lenient(&p)
                                .await
                                .map_err(|e| format!("{e:#}"))
                        }) as futures::future::BoxFuture<'static, _>
                    }))
                    .with_views(Arc::new(crate::metrics::MetricViews(metrics.clone()))),
            );
            // The web UI is what most people came for: a taken port is said, not fatal.
            match pulse_warehouse::WireServer::bind(&settings).await {
                Ok(server) => {
                    let at = server
                        .local_addr()
                        .map(|a| a.to_string())
                        .unwrap_or_default();
                    println!("pulse serve: PostgreSQL endpoint at postgres://{at}/ (read-only)");
                    let mut wire_stop = stop_rx.clone();
                    jobs.spawn(async move {
                        server
                            .run(engines, async move {
                                let _ = wire_stop.wait_for(|s| *s).await;
                            })
                            .await
                            .context("the PostgreSQL endpoint stopped")
                    });
                }
                Err(e) => eprintln!("warning: no PostgreSQL endpoint: {e}"),
            }
        }
        let monitor = Arc::new(crate::alerts::open(&project).await?);
        let inputs = crate::alerts::inputs_source(project.clone(), catalog.clone());
        jobs.spawn(evaluate_alerts(
            monitor.clone(),
            inputs.clone(),
            stop_rx.clone(),
        ));
        let web = pulse_web::WebConfig {
            project_name: project.config.name.clone(),
            graph: Arc::new(graph.clone()),
            store: store.clone(),
            access_token: a.token.clone(),
            max_attempts: config.retries + 1,
            metrics: Some(metrics),
            catalog,
            monitor: Some(pulse_web::Ops { monitor, inputs }),
        };
        // Definitions that no longer fit the built models are said at start; the tiles that
        // use them show the same error.
        for problem in crate::metrics::check_built(&project).await.0 {
            eprintln!("warning: {problem}");
        }
        let listener = tokio::net::TcpListener::bind(a.addr)
            .await
            .with_context(|| format!("listening on {}", a.addr))?;
        let bound = listener.local_addr()?;
        println!(
            "pulse serve: {} ({} tasks, {} schedules) at http://{bound}/  (worker {worker_id})",
            project.config.name,
            graph.tasks.len(),
            project.config.schedules.len()
        );
        let mut web_stop = stop_rx.clone();
        jobs.spawn(async move {
            pulse_web::serve_listener(listener, web, async move {
                let _ = web_stop.wait_for(|s| *s).await;
            })
            .await
            .context("the web server stopped")
        });
    } else {
        println!(
            "pulse serve --worker: {} (worker {worker_id}), working on queued runs",
            project.config.name
        );
    }

    let deadline = async {
        match a.seconds {
            Some(s) => tokio::time::sleep(Duration::from_secs_f64(s.max(0.0))).await,
            None => std::future::pending().await,
        }
    };
    // Ctrl-C ends the process where it is: the leases of its running tasks expire and another
    // worker (or the next start) runs them again.
    let result = tokio::select! {
        _ = deadline => Ok(()),
        Some(done) = jobs.join_next() => match done {
            Ok(r) => r,
            Err(e) => Err(anyhow::anyhow!("a part of pulse serve stopped: {e}")),
        },
    };
    let _ = stop_tx.send(true);
    // Give running tasks a moment to record where they are; leases cover the rest.
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while jobs.join_next().await.is_some() {}
    })
    .await;
    result.map(|_| ExitCode::SUCCESS)
}

/// Every `[monitor] interval`: judge the rules, open and resolve incidents, send what is due.
/// A failed evaluation is logged and tried again at the next interval: alerting must not stop
/// the server (nor the runs it works off).
async fn evaluate_alerts(
    monitor: Arc<pulse_monitor::Monitor>,
    inputs: pulse_web::InputsFn,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    let interval = monitor.config().monitor.interval.as_std();
    loop {
        let now = chrono::Utc::now();
        match monitor.tick(&inputs(), now).await {
            Ok(report) => {
                for key in &report.reconcile.opened {
                    tracing::warn!(alert = %key, "alert opened");
                }
                for key in &report.reconcile.resolved {
                    tracing::info!(alert = %key, "alert resolved");
                }
                for sent in report
                    .dispatch
                    .attempts
                    .iter()
                    .filter(|s| s.error.is_some())
                {
                    tracing::warn!(
                        alert = %sent.incident,
                        notifier = %sent.notifier,
                        "notification not delivered ({}): {}",
                        sent.state,
                        sent.error.as_deref().unwrap_or_default()
                    );
                }
            }
            Err(e) => tracing::warn!("the alert rules could not be evaluated: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
    }
}

/// `[serve]` of pulse.toml (only `wire` so far); other sections are someone else's.
#[derive(serde::Deserialize)]
struct ServeSections {
    #[serde(default)]
    serve: Option<ServeConfig>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ServeConfig {
    #[serde(default)]
    wire: Option<pulse_warehouse::WireConfig>,
}

/// The PostgreSQL endpoint as pulse.toml configures it (errors name the file and line).
pub fn wire_config(project: &pulse_project::Project) -> Result<pulse_warehouse::WireConfig> {
    let path = project.root.join("pulse.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let sections: ServeSections =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(sections.serve.and_then(|s| s.wire).unwrap_or_default())
}

/// Where to listen, with the password read from the environment; None when switched off.
fn wire_settings(
    project: &pulse_project::Project,
    flag: Option<&str>,
) -> Result<Option<pulse_warehouse::WireSettings>> {
    let mut config = wire_config(project)?;
    match flag {
        Some("off") => return Ok(None),
        Some(addr) => {
            config.enabled = true;
            config.listen = addr.to_string();
        }
        None => {}
    }
    if !config.enabled {
        return Ok(None);
    }
    config
        .settings(|var| std::env::var(var).ok())
        .map(Some)
        .map_err(|e| anyhow::anyhow!("[serve.wire] in pulse.toml: {e}"))
}
