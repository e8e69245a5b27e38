//! The files a user writes, as serde types. Every struct denies unknown keys so that a typo is an
//! error with a line number instead of a silently ignored setting.

use crate::expectations::ExpectationConfig;
use crate::orchestration::{OrchestratorConfig, ScheduleConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `pulse.toml`: the project as a whole.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub lake: LakeConfig,
    #[serde(default)]
    pub warehouse: WarehouseConfig,
    /// Values models read with `{{ var('name') }}`.
    #[serde(default)]
    pub vars: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub orchestrator: OrchestratorConfig,
    #[serde(default)]
    pub schedules: Vec<ScheduleConfig>,
    #[serde(default)]
    pub catalog: CatalogConfig,
    /// `[monitor]`, `[[alerts]]`, `[[notifiers]]` and `[[routes]]` belong to `pulse-monitor`,
    /// which depends on this crate: they are kept raw here and parsed there
    /// (`MonitorConfig::from_pulse_toml`), with errors that name pulse.toml's lines.
    #[serde(default)]
    pub monitor: Option<toml::Value>,
    #[serde(default)]
    pub alerts: Vec<toml::Value>,
    #[serde(default)]
    pub notifiers: Vec<toml::Value>,
    #[serde(default)]
    pub routes: Vec<toml::Value>,
    /// `[serve]` (`[serve.wire]`: the PostgreSQL endpoint) belongs to `pulse serve`, whose
    /// endpoint crate depends on this one: kept raw here, parsed by the CLI with pulse.toml's
    /// lines in its errors.
    #[serde(default)]
    pub serve: Option<toml::Value>,
}

/// `[catalog]` in `pulse.toml`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CatalogConfig {
    /// Where OpenLineage run events go: a JSON-lines file (relative to the project) or an
    /// `http://` endpoint such as Marquez's `/api/v1/lineage`. None: no events.
    #[serde(default)]
    pub openlineage: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LakeConfig {
    /// A folder relative to the project, or an object_store URL (`file:///…`, later `s3://…`).
    #[serde(default = "default_lake_url")]
    pub url: String,
}

impl Default for LakeConfig {
    fn default() -> Self {
        Self {
            url: default_lake_url(),
        }
    }
}

fn default_lake_url() -> String {
    "lake".to_string()
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WarehouseConfig {
    /// Where the models' tables live: a folder relative to the project (Delta tables, the
    /// embedded default), or a PostgreSQL URL (`postgres://user:${PASSWORD}@host:5432/db`;
    /// Redshift speaks the same protocol) whose tables BI tools, metrics and dashboards read.
    #[serde(default = "default_warehouse_url")]
    pub url: String,
    /// With a PostgreSQL warehouse: the schema the models' tables go to (default `analytics`).
    #[serde(default)]
    pub schema: Option<String>,
    /// With a PostgreSQL warehouse: the folder, relative to the project, of the query engine's
    /// own copy of each model (Delta tables it reads upstream models from while building;
    /// default `warehouse`).
    #[serde(default)]
    pub local: Option<String>,
}

impl Default for WarehouseConfig {
    fn default() -> Self {
        Self {
            url: default_warehouse_url(),
            schema: None,
            local: None,
        }
    }
}

impl WarehouseConfig {
    /// Whether the models are published to a PostgreSQL (or Redshift) server.
    pub fn is_postgres(&self) -> bool {
        let url = self.url.trim_start();
        url.starts_with("postgres://") || url.starts_with("postgresql://")
    }

    /// Where the query engine keeps the models' Delta tables: the warehouse itself, or with a
    /// PostgreSQL warehouse its local copy.
    pub fn engine_url(&self) -> &str {
        if self.is_postgres() {
            self.local.as_deref().unwrap_or(DEFAULT_WAREHOUSE_FOLDER)
        } else {
            &self.url
        }
    }

    /// The PostgreSQL URL the models are published to, as written (it may reference
    /// environment variables; resolve it with [`crate::ConnectionString`]).
    pub fn postgres_url(&self) -> Option<&str> {
        self.is_postgres().then_some(self.url.as_str())
    }

    /// The schema of the published tables in a PostgreSQL warehouse.
    pub fn postgres_schema(&self) -> &str {
        self.schema.as_deref().unwrap_or("analytics")
    }
}

const DEFAULT_WAREHOUSE_FOLDER: &str = "warehouse";

fn default_warehouse_url() -> String {
    DEFAULT_WAREHOUSE_FOLDER.to_string()
}

/// How a source system is read.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    Sqlite,
    Csv,
    Jsonl,
    Parquet,
    Files,
    /// A PostgreSQL server, read with binary `COPY ... TO STDOUT`.
    Postgres,
    /// A MySQL or MariaDB server, read with streaming result sets.
    #[serde(alias = "mariadb")]
    Mysql,
}

impl ConnectorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorKind::Sqlite => "sqlite",
            ConnectorKind::Csv => "csv",
            ConnectorKind::Jsonl => "jsonl",
            ConnectorKind::Parquet => "parquet",
            ConnectorKind::Files => "files",
            ConnectorKind::Postgres => "postgres",
            ConnectorKind::Mysql => "mysql",
        }
    }

    /// Database connectors read tables; file connectors read files matched by each table's `path`.
    pub fn is_file_based(self) -> bool {
        !matches!(
            self,
            ConnectorKind::Sqlite | ConnectorKind::Postgres | ConnectorKind::Mysql
        )
    }

    /// Database servers, reached through a connection `url`.
    pub fn is_server(self) -> bool {
        matches!(self, ConnectorKind::Postgres | ConnectorKind::Mysql)
    }
}

/// `sources/<system>.toml`: one upstream system.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Defaults to the file's stem.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    pub connector: ConnectorKind,
    /// The database file (sqlite); unused by file connectors, whose tables carry their own path.
    #[serde(default)]
    pub path: Option<String>,
    /// Database servers: the connection string (`postgres://user:${PG_PASSWORD}@host/db`,
    /// `mysql://…`). `${NAME}` is replaced by the environment variable when the source is read;
    /// the password never appears in messages.
    #[serde(default)]
    pub url: Option<String>,
    /// Database servers: the schema (PostgreSQL, default `public`) or database (MySQL, default
    /// the one in `url`) the tables are in.
    #[serde(default)]
    pub schema: Option<String>,
    /// Database servers: at most this many connections at once (default 4).
    #[serde(default)]
    pub max_connections: Option<u32>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// A sensor: the landing waits until this file exists (relative to the project; `{ds}` and
    /// `{ds_nodash}` are the run's logical date, as `2026-11-05` and `20261105`), as an
    /// upstream's "export finished" marker, for at most `wait_timeout`.
    #[serde(default)]
    pub wait_for: Option<String>,
    /// How long the sensor waits before the landing fails (default 1h).
    #[serde(default)]
    pub wait_timeout: Option<crate::orchestration::ConfigDuration>,
    pub tables: Vec<SourceTableConfig>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SourceTableConfig {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// File connectors: a glob relative to the project. Every matching file lands once.
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub primary_key: Vec<String>,
    /// Incremental landing: only rows whose cursor is above the last watermark are read.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Database servers: read the table as this many key ranges in parallel (default 1), each on
    /// its own connection within the source's `max_connections`, all in one snapshot.
    #[serde(default)]
    pub parallel: Option<u32>,
    /// Database servers: the integer column the ranges split (default: the primary key when it
    /// is a single column).
    #[serde(default)]
    pub split_by: Option<String>,
    /// File connectors: a column added to every row naming the file it came from (its path
    /// relative to the project), as ingestion tools do, so checks can compare a row with the file
    /// it arrived in (late events) and analysts can trace a row to its file.
    #[serde(default)]
    pub file_column: Option<String>,
    /// CSV only: the field delimiter (default `,`).
    #[serde(default)]
    pub delimiter: Option<char>,
    /// CSV only: whether the first line names the columns (default true).
    #[serde(default)]
    pub header: Option<bool>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub columns: Vec<ColumnDoc>,
    /// Checked after every landing; see [`crate::expectations`].
    #[serde(default)]
    pub expectations: Vec<ExpectationConfig>,
    /// Named suites (`suites/<name>.toml`) whose expectations apply too.
    #[serde(default)]
    pub suites: Vec<String>,
}

/// Documentation of one column, in a source table or a model.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ColumnDoc {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Materialization {
    #[default]
    Table,
    View,
    Incremental,
}

impl Materialization {
    pub fn as_str(self) -> &'static str {
        match self {
            Materialization::Table => "table",
            Materialization::View => "view",
            Materialization::Incremental => "incremental",
        }
    }
}

/// `models/<layer>/<name>.toml`, optional beside each model's SQL.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub materialized: Materialization,
    /// Incremental models: the DATE column whose partition a run for one logical date replaces.
    #[serde(default)]
    pub partition_by: Option<String>,
    #[serde(default)]
    pub unique_key: Vec<String>,
    #[serde(default)]
    pub columns: Vec<ColumnDoc>,
    /// Checked after every build; see [`crate::expectations`].
    #[serde(default)]
    pub expectations: Vec<ExpectationConfig>,
    /// Named suites (`suites/<name>.toml`) whose expectations apply too.
    #[serde(default)]
    pub suites: Vec<String>,
}
