//! A PostgreSQL warehouse (`[warehouse] url = "postgres://…"`): each stored model, once the
//! engine has built it, is published into a table of the configured schema — the whole table
//! swapped in atomically, or for an incremental run its one partition replaced in a
//! transaction — and the semantic layer and dashboards read those tables ([`PgReader`]).
//!
//! The engine keeps building from its own Delta copy of each model (`[warehouse] local`):
//! models read upstream models and the lake through DataFusion whatever the target, so a model's
//! SQL means the same on both warehouses. Views are not published: they are the staging layer,
//! computed when a stored model reads them.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use pulse_metrics::WarehouseReader;
use pulse_project::{ConnectionString, Materialization, Project};
use pulse_transform::{Engine, ModelReport, Outcome};
use pulse_warehouse::target::{LoadReport, PgTarget};
use std::sync::Arc;

/// Where and how to reach the PostgreSQL warehouse of a project.
#[derive(Clone)]
pub struct PgWarehouse {
    url: ConnectionString,
    schema: String,
}

impl PgWarehouse {
    /// `None` for the embedded warehouse. The URL's `${VARIABLES}` are resolved here; an unset
    /// one is an error naming it.
    pub fn of(project: &Project) -> Result<Option<Self>, String> {
        let Some(written) = project.config.warehouse.postgres_url() else {
            return Ok(None);
        };
        let url =
            ConnectionString::resolve(written).map_err(|e| format!("[warehouse] url: {e}"))?;
        Ok(Some(Self {
            url,
            schema: project.config.warehouse.postgres_schema().to_string(),
        }))
    }

    /// A new connection; errors carry the URL without its password. Its search path starts
    /// with the models' schema, so the semantic layer's SQL names tables as on the embedded
    /// warehouse.
    pub async fn connect(&self) -> Result<PgTarget, String> {
        let url = self.url.expose();
        let separator = if url.contains('?') { '&' } else { '?' };
        let search_path = format!("-c search_path={},public", self.schema);
        let url = format!("{url}{separator}options={}", percent_encode(&search_path));
        PgTarget::connect(&url, &self.schema).await.map_err(|e| {
            format!(
                "the PostgreSQL warehouse {}: {}",
                self.url,
                self.url.redact(&e.to_string())
            )
        })
    }

    /// Publishes what a model task built. Returns a line for the task's log, `None` when there
    /// was nothing to publish (a view, a failed build, an unchanged table already there).
    pub async fn publish(
        &self,
        project: &Project,
        engine: &Engine,
        report: &ModelReport,
        run_id: &str,
    ) -> Result<Option<String>, String> {
        let Some(model) = project.model(&report.model) else {
            return Ok(None);
        };
        if model.config.materialized == Materialization::View {
            return Ok(None);
        }
        let target = self.connect().await?;
        let name = &report.model;
        let table = quote(name);
        let err = |e: pulse_warehouse::target::TargetError| {
            format!(
                "publishing {name} to the PostgreSQL warehouse: {}",
                self.url.redact(&e.to_string())
            )
        };
        let engine_err = |e: pulse_transform::TransformError| format!("reading {name}: {e}");
        let partition = match (
            &report.outcome,
            &report.partition,
            &model.config.partition_by,
        ) {
            (Outcome::Built, Some(partition), Some(column)) => Some((partition, column)),
            (Outcome::Built, _, _) => None,
            // Unchanged since the last build: published then, unless the target is new.
            (Outcome::Unchanged, _, _) => {
                if target.table_schema(name).await.map_err(err)?.is_some() {
                    return Ok(None);
                }
                None
            }
            (Outcome::Failed(_) | Outcome::UpstreamFailed(_), _, _) => return Ok(None),
        };
        let load: LoadReport = match partition {
            Some((partition, column)) => {
                let date = chrono::NaiveDate::parse_from_str(partition, "%Y-%m-%d")
                    .map_err(|e| format!("{name}: partition `{partition}` is not a date: {e}"))?;
                let sql = format!(
                    "select * from {table} where cast({} as date) = date '{date}'",
                    quote(column)
                );
                let (schema, batches) = engine.stream(&sql).await.map_err(engine_err)?;
                target
                    .merge_partition(name, schema, column, date, batches, run_id)
                    .await
                    .map_err(err)?
            }
            None => {
                let (schema, batches) = engine
                    .stream(&format!("select * from {table}"))
                    .await
                    .map_err(engine_err)?;
                target
                    .replace_table(name, schema, batches, run_id)
                    .await
                    .map_err(err)?
            }
        };
        let mb = load.bytes as f64 / 1e6;
        Ok(Some(format!(
            "published {name} to PostgreSQL {}.{name}{}: {} rows, {:.1} MB in {:.2}s ({:.0} MB/s)",
            self.schema,
            report
                .partition
                .as_ref()
                .filter(|_| model.config.partition_by.is_some())
                .map(|p| format!(" (partition {p})"))
                .unwrap_or_default(),
            load.rows,
            mb,
            load.seconds,
            if load.seconds > 0.0 {
                mb / load.seconds
            } else {
                0.0
            }
        )))
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The semantic layer's reader of a PostgreSQL warehouse: its SQL runs on the server, over the
/// published tables. One connection, opened again after an error.
pub struct PgReader {
    warehouse: PgWarehouse,
    connection: tokio::sync::Mutex<Option<Arc<PgTarget>>>,
}

impl PgReader {
    pub fn new(warehouse: PgWarehouse) -> Self {
        Self {
            warehouse,
            connection: tokio::sync::Mutex::new(None),
        }
    }

    async fn target(&self) -> Result<Arc<PgTarget>, String> {
        let mut slot = self.connection.lock().await;
        if let Some(t) = slot.as_ref() {
            return Ok(t.clone());
        }
        let t = Arc::new(self.warehouse.connect().await?);
        *slot = Some(t.clone());
        Ok(t)
    }

    /// Runs `f` on the connection; an error drops it, so a restarted server is reconnected to.
    async fn with<T, F, Fut>(&self, f: F) -> Result<T, String>
    where
        F: FnOnce(Arc<PgTarget>) -> Fut,
        Fut: std::future::Future<Output = Result<T, pulse_warehouse::target::TargetError>>,
    {
        let target = self.target().await?;
        match f(target).await {
            Ok(v) => Ok(v),
            Err(e) => {
                *self.connection.lock().await = None;
                Err(self.warehouse.url.redact(&e.to_string()))
            }
        }
    }
}

#[async_trait]
impl WarehouseReader for PgReader {
    async fn version(&self) -> Result<String, String> {
        self.with(|t| async move { t.version().await }).await
    }

    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, String> {
        let sql = sql.to_string();
        self.with(|t| async move { t.query(&sql).await }).await
    }

    async fn check(&self, sql: &str) -> Result<(), String> {
        let sql = sql.to_string();
        self.with(|t| async move { t.check(&sql).await }).await
    }

    async fn schema(&self, table: &str) -> Result<Option<SchemaRef>, String> {
        let table = table.to_string();
        self.with(|t| async move { t.table_schema(&table).await })
            .await
    }
}
