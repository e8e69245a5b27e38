//! The orchestrator's library core: the asset graph a project implies (land, validate and model
//! tasks), the metadata store that records runs and task instances (SQLite by default,
//! PostgreSQL by URL), the executor that runs tasks in parallel with retries, timeouts, leases
//! and resumption, and cron schedules with catch-up and SLAs.
//!
//! Semantics follow Airflow's where users know them: task states, `upstream_failed`,
//! exponential retry backoff, a run's logical date being the start of its data interval.

pub mod error;
pub mod executor;
pub mod graph;
pub mod schedule;
pub mod selector;
pub mod store;

pub use error::OrchestrateError;
pub use executor::{
    Cancel, Executor, ExecutorOptions, TaskContext, TaskLog, TaskOutput, TaskRunner, backoff_delay,
};
pub use graph::{AssetGraph, TaskKind, TaskSpec};
pub use schedule::{Schedule, Scheduler, check_schedules, due_fires, logical_date_for};
pub use store::{LogLine, NewRun, Page, RunRecord, RunState, Store, TaskInstance, TaskState};
