//! The catalog: one searchable place for every dataset and metric of a project.
//!
//! - [`Catalog::from_project`] knows every dataset the project files define (source tables,
//!   their raw landings and quarantines, models, metrics, dashboards) with description, owner,
//!   tags, documented columns, where each is used, and the table-level [`Lineage`] between them.
//! - [`CatalogStore`] keeps what runs report (row counts, sizes, schemas and their history,
//!   column profiles, quality results, column lineage); [`Catalog::load`] overlays it.
//! - [`Lineage`] answers upstream/downstream questions at table and column level and draws
//!   them ([`LineageGraph::to_dot`], [`LineageGraph::layout`], [`Layout::to_svg`]).
//! - [`SearchIndex`] is a tantivy full-text index over all of it.
//! - [`openlineage`] builds and emits OpenLineage run events for each task.
//! - [`CatalogService`] is what a server holds: a snapshot of catalog and index, rebuilt when the
//!   store changed.
//!
//! The crate is engine-free: the CLI, which runs DataFusion, supplies column lineage read off
//! the logical plans and calls the `record_*` functions after each task.

mod catalog;
mod error;
pub mod freshness;
mod layout;
mod lineage;
mod model;
pub mod openlineage;
mod search;
mod service;
pub mod sql;
mod store;

pub use catalog::{Catalog, ScheduleInfo};
pub use error::{CatalogError, Result};
pub use freshness::{Freshness, FreshnessStatus, cron_interval, freshness};
pub use layout::{Layout, PlacedEdge, PlacedNode};
pub use lineage::{
    ColumnInput, ColumnMap, Direction, Lineage, LineageEdge, LineageGraph, LineageNode, NodeKind,
    kind_colour,
};
pub use model::{
    Column, ColumnProfile, Dataset, DatasetKind, Details, FailedExpectation, MetricDefinition,
    Profile, QualitySummary, Stats, TileRef, TileSummary, TopValue, UsedBy,
};
pub use search::{SearchHit, SearchIndex, SearchQuery};
pub use service::{CatalogService, CatalogSnapshot};
pub use store::{
    CatalogStore, DatasetRecord, RecordedColumnLineage, Retyped, SchemaChange, StoreStamp,
};
