//! The engine each connection reads. Opening one costs a Delta log read per model, so it is
//! shared by connections and opened again only when the warehouse has changed (a `pulse run`
//! rebuilt a model): a new connection then sees the new versions, a connection keeps the
//! snapshot it started with (its prepared statements are planned against it).

use crate::error::{Result, WireError};
use async_trait::async_trait;
use futures::future::BoxFuture;
use pulse_project::Project;
use pulse_transform::{Engine, Warehouse};
use std::sync::Arc;

/// Extra views registered on every engine the endpoint opens, before any client reads it: the
/// binary registers one view per metric of the semantic layer.
#[async_trait]
pub trait RegisterViews: Send + Sync {
    async fn register(&self, engine: &Engine) -> Result<(), String>;
}

/// How an engine over the project is opened; `pulse serve` passes the one `pulse sql` uses.
pub type OpenEngine =
    Arc<dyn Fn(Arc<Project>) -> BoxFuture<'static, Result<Engine, String>> + Send + Sync>;

pub struct EngineSource {
    project: Arc<Project>,
    open: OpenEngine,
    views: Option<Arc<dyn RegisterViews>>,
    current: tokio::sync::Mutex<Option<(String, Arc<Engine>)>>,
}

impl EngineSource {
    /// Engines over the project's built models (a model not built yet is left out).
    pub fn new(project: Arc<Project>) -> Self {
        Self {
            project,
            open: Arc::new(|project: Arc<Project>| -> BoxFuture<'static, _> {
                Box::pin(async move {
                    let engine = Engine::open(&project).await.map_err(|e| e.to_string())?;
                    for (model, e) in engine.register_models_available(&project).await {
                        tracing::debug!(%model, error = %e, "model not readable over the wire");
                    }
                    Ok(engine)
                })
            }),
            views: None,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// Opens engines with `open` instead (e.g. with the source tables registered too).
    pub fn with_opener(mut self, open: OpenEngine) -> Self {
        self.open = open;
        self
    }

    pub fn with_views(mut self, views: Arc<dyn RegisterViews>) -> Self {
        self.views = Some(views);
        self
    }

    pub fn project(&self) -> &Arc<Project> {
        &self.project
    }

    /// Changes whenever a model is rebuilt (the warehouse state records every build).
    pub fn version(&self) -> Result<String> {
        let warehouse = Warehouse::open(
            self.project.config.warehouse.engine_url(),
            &self.project.root,
        )
        .map_err(|e| WireError::Engine(e.to_string()))?;
        let state = warehouse
            .load_state()
            .map_err(|e| WireError::Engine(e.to_string()))?;
        Ok(state
            .builds
            .iter()
            .map(|(k, b)| format!("{k}={}@{}\n", b.fingerprint, b.built_at.to_rfc3339()))
            .collect())
    }

    /// The engine for a new connection: the shared one, or a new one when the warehouse
    /// changed since it was opened.
    pub async fn engine(&self) -> Result<Arc<Engine>> {
        let version = self.version()?;
        let mut current = self.current.lock().await;
        if let Some((v, engine)) = current.as_ref()
            && *v == version
        {
            return Ok(engine.clone());
        }
        let engine = self.open_new().await?;
        *current = Some((version, engine.clone()));
        Ok(engine)
    }

    /// A new engine with `pg_catalog` and the extra views, shared with nobody.
    pub async fn open_new(&self) -> Result<Arc<Engine>> {
        let engine = (self.open)(self.project.clone())
            .await
            .map_err(WireError::Engine)?;
        if let Some(views) = &self.views {
            views.register(&engine).await.map_err(WireError::Views)?;
        }
        engine
            .install_pg_catalog()
            .map_err(|e| WireError::Engine(e.to_string()))?;
        Ok(Arc::new(engine))
    }
}
