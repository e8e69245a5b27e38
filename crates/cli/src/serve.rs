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
}

impl ServeArgs {
    pub fn for_demo(project: &std::path::Path, addr: SocketAddr) -> Self {
        ServeArgs {
            project: project.to_path_buf(),
            addr,
            worker: false,
            token: None,
            seconds: None,
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
        let web = pulse_web::WebConfig {
            project_name: project.config.name.clone(),
            graph: Arc::new(graph.clone()),
            store: store.clone(),
            access_token: a.token.clone(),
            max_attempts: config.retries + 1,
            metrics: Some(Arc::new(crate::metrics::service(project.clone()))),
            catalog: match crate::catalog::store(&project) {
                Some(store) => Some(Arc::new(
                    pulse_catalog::CatalogService::new(&project, store)
                        .context("opening the catalog")?,
                )),
                None => None,
            },
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
