//! Serving the warehouse to analysts and BI tools: a PostgreSQL wire-protocol endpoint over the
//! query engine (psql, psycopg, JDBC and the tools built on them connect as to PostgreSQL).
//!
//! The DataFusion side (protocol handlers, `pg_catalog`, the read-only rule) lives in
//! `pulse_transform::wire`; this crate owns the sockets, authentication, configuration, the
//! engine each connection reads, and the streaming benchmark. `target` publishes models into a
//! PostgreSQL warehouse and reads it back as Arrow.

pub mod bench;
pub mod config;
pub mod engines;
pub mod error;
pub mod target;
pub mod wire;

pub use bench::{WireBench, bench_wire};
pub use config::{DEFAULT_LISTEN, WireConfig, WireSettings};
pub use engines::{EngineSource, RegisterViews};
pub use error::{Result, TargetError, WireError};
pub use target::{LoadReport, PgTarget, bench_load, pg_type};
pub use wire::{WireServer, serve};
