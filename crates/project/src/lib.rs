//! The project a user writes: `pulse.toml`, `sources/*.toml`, `models/**/*.sql` with optional
//! `.toml` beside each model. Loading validates everything and reports every mistake with its
//! file and line; the result is a graph of sources and models in dependency order.

pub mod config;
pub mod error;
pub mod expectations;
pub mod graph;
pub mod load;
pub mod orchestration;
pub mod secrets;
pub mod semantic;
pub mod template;

pub use config::{
    ColumnDoc, ConnectorKind, LakeConfig, Materialization, ModelConfig, ProjectConfig,
    SourceConfig, SourceTableConfig, WarehouseConfig,
};
pub use error::{ProjectError, ProjectErrors};
pub use expectations::{Check, Expectation, ExpectationConfig, Severity};
pub use graph::{ModelGraph, Node};
pub use load::{Model, Project, Source, parse_toml};
pub use orchestration::{Catchup, ConfigDuration, OrchestratorConfig, ScheduleConfig};
pub use secrets::ConnectionString;
pub use semantic::{
    Dashboard, DashboardConfig, Grain, Measure, Metric, MetricConfig, Tile, TileConfig, TileKind,
    ValueFormat,
};
pub use template::{Dependencies, RenderContext};
