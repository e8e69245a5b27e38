//! What the catalog knows about one dataset: what the project files say, and what runs report.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The kinds of dataset, upstream to downstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetKind {
    /// A table of an upstream system (`sources/<system>.toml`), named `source.table`.
    SourceTable,
    /// Its landings in the raw zone of the lake, `raw:source.table`.
    RawLanding,
    /// Rows a quarantining expectation set aside, `quarantine:<dataset>`.
    Quarantine,
    /// A model of `models/`, by its name.
    Model,
    /// A metric of `metrics/*.toml`, `metric:<name>`.
    Metric,
    /// A dashboard of `dashboards/*.toml`, `dashboard:<name>`.
    Dashboard,
}

impl DatasetKind {
    pub const ALL: [DatasetKind; 6] = [
        DatasetKind::SourceTable,
        DatasetKind::RawLanding,
        DatasetKind::Quarantine,
        DatasetKind::Model,
        DatasetKind::Metric,
        DatasetKind::Dashboard,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DatasetKind::SourceTable => "source_table",
            DatasetKind::RawLanding => "raw_landing",
            DatasetKind::Quarantine => "quarantine",
            DatasetKind::Model => "model",
            DatasetKind::Metric => "metric",
            DatasetKind::Dashboard => "dashboard",
        }
    }

    pub fn parse(s: &str) -> Option<DatasetKind> {
        DatasetKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The prefix of its ids (`metric:`), empty for source tables and models, whose ids are the
    /// names SQL uses.
    pub fn id_prefix(self) -> &'static str {
        match self {
            DatasetKind::SourceTable | DatasetKind::Model => "",
            DatasetKind::RawLanding => "raw:",
            DatasetKind::Quarantine => "quarantine:",
            DatasetKind::Metric => "metric:",
            DatasetKind::Dashboard => "dashboard:",
        }
    }

    /// The id of the dataset of this kind called `name`.
    pub fn id(self, name: &str) -> String {
        format!("{}{name}", self.id_prefix())
    }
}

impl std::fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One column: documented in the project files, seen by a run, or both.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// The Arrow type a run saw (`Int64`, `Utf8`, `Timestamp(µs, "UTC")`); none until a run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nullable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl Column {
    /// The columns of an Arrow schema, in order.
    pub fn from_arrow(schema: &arrow::datatypes::Schema) -> Vec<Column> {
        schema
            .fields()
            .iter()
            .map(|f| Column {
                name: f.name().clone(),
                data_type: Some(f.data_type().to_string()),
                nullable: Some(f.is_nullable()),
                description: None,
                tags: Vec::new(),
            })
            .collect()
    }
}

/// What the last build (or landing) of a dataset reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub row_count: u64,
    pub size_bytes: u64,
    pub last_updated: DateTime<Utc>,
    pub last_run_id: String,
}

/// A column's profile; the caller (which can query the data) fills it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub column: String,
    /// Share of rows where the column is null, 0–1.
    pub null_share: f64,
    pub distinct_count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<String>,
    /// The most frequent values, most frequent first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top_values: Vec<TopValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopValue {
    pub value: String,
    pub count: u64,
}

/// The column profiles one run computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub run_id: String,
    pub at: DateTime<Utc>,
    /// How many rows the profile read (a bounded sample of a large table).
    #[serde(default)]
    pub rows: u64,
    pub columns: Vec<ColumnProfile>,
}

/// The latest validation of a dataset, summed up.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QualitySummary {
    pub run_id: String,
    pub at: DateTime<Utc>,
    pub passed: u32,
    pub failed: u32,
    /// Rows moved to the dataset's quarantine.
    pub quarantined_rows: u64,
    /// The expectations that failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<FailedExpectation>,
}

impl QualitySummary {
    /// No expectation of error severity failed.
    pub fn ok(&self) -> bool {
        !self.failures.iter().any(|f| f.severity == "error")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedExpectation {
    /// The expectation and its columns (`expect_column_values_to_not_be_null(order_id)`).
    pub expectation: String,
    /// `error` or `warn`.
    pub severity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexpected_count: Option<u64>,
}

/// A tile of a dashboard.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TileRef {
    pub dashboard: String,
    pub tile: String,
    pub title: String,
}

impl TileRef {
    /// Its node in the lineage graph, `tile:<dashboard>/<tile>`.
    pub fn node_id(&self) -> String {
        format!("tile:{}/{}", self.dashboard, self.tile)
    }
}

/// Where a dataset is used directly (through its raw landing, for a source table).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UsedBy {
    /// Models that `ref()` or `source()` it.
    pub models: Vec<String>,
    /// Metrics that read it (a model) or combine it (a metric), by name.
    pub metrics: Vec<String>,
    /// Dashboard tiles that show it (a metric).
    pub tiles: Vec<TileRef>,
}

impl UsedBy {
    pub fn is_empty(&self) -> bool {
        self.models.is_empty() && self.metrics.is_empty() && self.tiles.is_empty()
    }
}

/// What is particular to each kind of dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Details {
    SourceTable {
        source: String,
        table: String,
        connector: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        primary_key: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<String>,
        /// File sources: the glob of files it reads.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        /// File sources: the column naming each row's file.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_column: Option<String>,
        /// Expectations checked after each landing.
        expectations: Vec<String>,
    },
    RawLanding {
        /// The source table it lands.
        source_table: String,
        /// Its folder in the lake, `raw/<source>/<table>/`.
        path: String,
    },
    Quarantine {
        /// The dataset whose rows it keeps.
        of: String,
        /// The warehouse table that holds the rows.
        table: String,
    },
    Model {
        layer: String,
        materialized: String,
        /// The SQL file, relative to the project.
        sql_file: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        unique_key: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partition_by: Option<String>,
        /// Expectations checked after each build.
        expectations: Vec<String>,
    },
    Metric(MetricDefinition),
    Dashboard {
        title: String,
        tiles: Vec<TileSummary>,
    },
}

/// A metric's one definition, as the glossary shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricDefinition {
    pub label: String,
    /// `count`, `sum`, `percentile`, `ratio`, …
    pub measure: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentile: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_column: Option<String>,
    /// Ratio, funnel and derived metrics: the metrics they combine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// Derived metrics: the expression over other metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    pub dimensions: Vec<String>,
    pub format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The SQL the semantic layer compiles the metric alone to (no dimensions, whole range).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileSummary {
    pub id: String,
    pub title: String,
    pub kind: String,
    pub metrics: Vec<String>,
}

/// Everything the catalog knows about one dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// Unique across kinds: `orders.orders`, `raw:orders.orders`, `fct_orders`, `metric:gmv`, …
    pub id: String,
    pub kind: DatasetKind,
    /// The name users write (`orders.orders`, `fct_orders`, `gmv`, `executive`).
    pub name: String,
    /// A metric's label, a dashboard's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub tags: Vec<String>,
    /// The project file that defines it, relative to the project, and the line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Documented columns first (in the order written), then the ones only a run saw; each with
    /// the type the last run saw.
    pub columns: Vec<Column>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
    /// The schedule its freshness is judged against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<QualitySummary>,
    pub used_by: UsedBy,
    /// The datasets it reads directly (table-level lineage), by id.
    pub upstream: Vec<String>,
    pub details: Details,
}

impl Dataset {
    /// The label if it has one, else the name.
    pub fn title(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.name)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn metric(&self) -> Option<&MetricDefinition> {
        match &self.details {
            Details::Metric(m) => Some(m),
            _ => None,
        }
    }
}
