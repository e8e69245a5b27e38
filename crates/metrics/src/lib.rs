//! The semantic layer: each key metric defined once in `metrics/*.toml`, compiled with the
//! request (metrics, dimensions, time grain, date range, filters, comparison) into one SQL query
//! over the warehouse. The CLI, the HTTP API and every dashboard tile read through it, so they
//! all show the same numbers.

mod compile;
mod dashboard;
mod error;
mod request;
mod result;
mod service;

pub use compile::{
    ColumnRole, CompiledQuery, ResultColumn, SemanticLayer, quote_ident, quote_literal,
};
pub use dashboard::{DashboardFilters, DashboardView, FilterView, TileView};
pub use error::{MetricsError, Result};
pub use request::MetricRequest;
pub use result::{MetricResult, rows_of};
pub use service::{MetricsService, WarehouseReader};
