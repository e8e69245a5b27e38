//! Validation's and transformation's engine: the one crate that owns DataFusion and Delta Lake.
//!
//! [`Engine`] builds the session and registers tables (landed raw Parquet as `source.table`,
//! models' Delta tables by name); [`models::run_models`] builds a project's SQL models in
//! dependency order into the warehouse. Everything else in Pulse talks to the engine through this
//! small surface, so only this crate waits for DataFusion to compile.

pub mod error;
pub mod functions;
pub mod lineage;
pub mod models;
pub mod session;
pub mod validate;
pub mod warehouse;
pub mod wire;

pub use error::{Result, TransformError};
pub use lineage::ColumnSources;
pub use models::{ModelEvent, ModelReport, Outcome, RunOptions, run_model, run_models};
pub use session::Engine;
pub use validate::{ValidateOptions, Validation};
pub use warehouse::Warehouse;

pub use datafusion::arrow;
