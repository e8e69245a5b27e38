//! The one place that builds the DataFusion session and registers tables in it. Everything that
//! runs SQL (models, `pulse sql`, later the quality checks and the semantic layer) goes through
//! [`Engine`], so swapping the executor (a Ballista cluster) or the storage (S3) happens here.

use crate::error::{Result, TransformError};
use crate::functions::EventParam;
use crate::warehouse::Warehouse;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use deltalake::delta_datafusion::planner::DeltaPlanner;
use pulse_project::Project;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The name under which a source table's landed rows stay readable as they are.
pub fn raw_name(table: &str) -> String {
    format!("{table}__raw")
}

/// The catalog DataFusion creates by default; sources become schemas inside it.
const CATALOG: &str = "datafusion";

pub struct Engine {
    pub(crate) ctx: SessionContext,
    pub(crate) warehouse: Warehouse,
    /// A fingerprint of what each registered source table reads, for skipping unchanged models.
    pub(crate) source_fingerprints: Mutex<BTreeMap<String, String>>,
    /// Models built side by side each record their build in the one warehouse state file.
    pub(crate) state_lock: tokio::sync::Mutex<()>,
    /// Replacing a table's registration is a deregister and a register: tasks running side by
    /// side that refresh the same table must not interleave them.
    pub(crate) registry: tokio::sync::Mutex<()>,
}

impl Engine {
    /// A session over the project's warehouse, with the engine's functions registered.
    pub async fn open(project: &Project) -> Result<Self> {
        let warehouse = Warehouse::open(project.config.warehouse.engine_url(), &project.root)?;
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_target_partitions(
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2),
            );
        // Delta's planner turns its write nodes (with their row metrics) into execution plans.
        let state = SessionStateBuilder::new()
            .with_default_features()
            .with_config(config)
            .with_query_planner(DeltaPlanner::new())
            .build();
        let ctx = SessionContext::new_with_state(state);
        ctx.register_udf(EventParam::udf());
        Ok(Self {
            ctx,
            warehouse,
            source_fingerprints: Mutex::new(BTreeMap::new()),
            state_lock: tokio::sync::Mutex::new(()),
            registry: tokio::sync::Mutex::new(()),
        })
    }

    pub fn warehouse(&self) -> &Warehouse {
        &self.warehouse
    }

    /// Makes `source.table` readable from SQL over the given landed Parquet files (URLs).
    /// A table with no landings yet is still registered, empty, when `empty_schema` is given.
    pub async fn register_source_table(
        &self,
        source: &str,
        table: &str,
        file_urls: &[String],
    ) -> Result<()> {
        let err = |message: String| TransformError::SourceTable {
            source_name: source.to_string(),
            table: table.to_string(),
            message,
        };
        let schema = self.schema_provider(source)?;
        if file_urls.is_empty() {
            return Err(err(
                "nothing has landed yet: run `pulse run` (or check the source's path)".into(),
            ));
        }
        let urls = file_urls
            .iter()
            .map(ListingTableUrl::parse)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| err(e.to_string()))?;
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let state = self.ctx.state();
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .infer_schema(&state)
            .await
            .map_err(|e| err(e.to_string()))?;
        let provider: Arc<dyn datafusion::catalog::TableProvider> =
            Arc::new(ListingTable::try_new(config).map_err(|e| err(e.to_string()))?);
        // `table__raw` always reads everything landed; `table` is what models read, and becomes
        // a view of the clean rows when expectations quarantine some. Registering again (after
        // a new landing) replaces both, so the clean view is made again by validation.
        let _registering = self.registry.lock().await;
        for name in [raw_name(table), table.to_string()] {
            schema
                .deregister_table(&name)
                .map_err(|e| err(e.to_string()))?;
        }
        schema
            .register_table(raw_name(table), provider.clone())
            .map_err(|e| err(e.to_string()))?;
        schema
            .register_table(table.to_string(), provider)
            .map_err(|e| err(e.to_string()))?;
        if let Ok(mut fps) = self.source_fingerprints.lock() {
            fps.insert(format!("{source}.{table}"), urls_fingerprint(file_urls));
        }
        Ok(())
    }

    /// Registers `source.table` again when what has landed differs from what this engine
    /// reads (another process landed it since); returns whether it did, in which case the
    /// caller applies the clean view again.
    pub async fn refresh_source_table(
        &self,
        source: &str,
        table: &str,
        file_urls: &[String],
    ) -> Result<bool> {
        let current = self
            .source_fingerprints
            .lock()
            .ok()
            .and_then(|fps| fps.get(&format!("{source}.{table}")).cloned());
        if current.as_deref() == Some(urls_fingerprint(file_urls).as_str()) {
            return Ok(false);
        }
        self.register_source_table(source, table, file_urls).await?;
        Ok(true)
    }

    /// Reads a model as the warehouse has it now (another process may have built it since).
    pub async fn refresh_model(&self, model: &pulse_project::Model) -> Result<()> {
        crate::models::register_existing(self, model).await
    }

    /// Makes models read only the clean rows of a source table: `source.table` becomes a view
    /// of `clean_sql` (which reads `source.table__raw`).
    pub async fn restrict_source_table(
        &self,
        source: &str,
        table: &str,
        clean_sql: &str,
    ) -> Result<()> {
        let view = self.ctx.sql(clean_sql).await?.into_view();
        let schema = self.schema_provider(source)?;
        let _registering = self.registry.lock().await;
        schema.deregister_table(table)?;
        schema.register_table(table.to_string(), view)?;
        // Models reading the table must rebuild when what is held back changes.
        if let Ok(mut fps) = self.source_fingerprints.lock() {
            let key = format!("{source}.{table}");
            let mut hasher = Sha256::new();
            hasher.update(fps.get(&key).cloned().unwrap_or_default().as_bytes());
            hasher.update(clean_sql.as_bytes());
            fps.insert(key, hex::encode(hasher.finalize()));
        }
        Ok(())
    }

    pub(crate) fn schema_provider(&self, name: &str) -> Result<Arc<dyn SchemaProvider>> {
        let catalog = self
            .ctx
            .catalog(CATALOG)
            .ok_or_else(|| TransformError::Warehouse {
                url: self.warehouse.url().to_string(),
                message: "the default catalog is missing".into(),
            })?;
        if let Some(s) = catalog.schema(name) {
            return Ok(s);
        }
        let schema: Arc<dyn SchemaProvider> = Arc::new(MemorySchemaProvider::new());
        catalog.register_schema(name, schema.clone())?;
        Ok(schema)
    }

    /// Makes every model that has been built readable: Delta tables as they are, views rendered
    /// from their SQL.
    pub async fn register_models(&self, project: &Project) -> Result<()> {
        for model in &project.models {
            crate::models::register_existing(self, model).await?;
        }
        Ok(())
    }

    /// Like [`Engine::register_models`], but a model that cannot be registered (a view over a
    /// source that has not landed) is returned with the reason instead of stopping the others.
    pub async fn register_models_available(
        &self,
        project: &Project,
    ) -> Vec<(String, crate::TransformError)> {
        let mut failed = Vec::new();
        for model in &project.models {
            if let Err(e) = crate::models::register_existing(self, model).await {
                failed.push((model.name.clone(), e));
            }
        }
        failed
    }

    /// Runs a query and collects its result.
    pub async fn query(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let df = self.ctx.sql(sql).await?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await?;
        Ok((schema, batches))
    }

    /// Runs a query and streams its result batch by batch (bounded memory for large tables).
    pub async fn stream(
        &self,
        sql: &str,
    ) -> Result<(
        SchemaRef,
        futures::stream::BoxStream<'static, std::result::Result<RecordBatch, String>>,
    )> {
        use futures::StreamExt;
        let df = self.ctx.sql(sql).await?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let stream = df.execute_stream().await?;
        Ok((schema, stream.map(|b| b.map_err(|e| e.to_string())).boxed()))
    }

    /// The session itself, for callers that need DataFusion directly (tests, later the
    /// PostgreSQL-wire endpoint).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }
}

fn urls_fingerprint(file_urls: &[String]) -> String {
    let mut hasher = Sha256::new();
    for u in file_urls {
        hasher.update(u.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}
