//! Data quality: the expectations a project declares (Great Expectations' names and semantics,
//! parsed by `pulse-project`) compiled into SQL that checks a whole dataset in one pass, and the
//! results evaluated exactly as Great Expectations reports them (`success`, `observed_value`,
//! `element_count`, `unexpected_count`, `unexpected_percent`, `partial_unexpected_list`).
//!
//! This crate is pure: it writes SQL and reads back values. `pulse-transform` runs the SQL on
//! DataFusion (the one crate that owns it), so the rules live here and are tested fast.
//!
//! One validation of a dataset:
//! 1. [`Plan::new`] compiles the expectations against the dataset's schema. Checks that need
//!    only the schema (types, column sets) are decided right away.
//! 2. The executor runs [`Plan::aggregate_sql`] (one row: every count and statistic, one scan)
//!    and each of [`Plan::separate_queries`] (order-dependent or custom checks).
//! 3. For each expectation with unexpected rows, [`Plan::sample_sql`] lists some of them.
//! 4. [`Plan::results`] turns all of that into one [`ExpectationResult`] per expectation.
//!
//! Quarantine: [`Plan::quarantine_sql`] splits a dataset into clean and unexpected rows, with the
//! expectation and reason on each unexpected row; the two always add up to the input.

mod compile;
mod result;
mod sql;
mod store;

pub use compile::{Plan, SeparateKind, SeparateQuery};
pub use result::{EvaluationContext, ExpectationResult, Observations, ValidationSummary};
pub use sql::{quote_ident, sql_literal};
pub use store::{History, QualityRun, ResultStore, StoreError};

/// Columns the quarantine adds to each unexpected row.
pub const QUARANTINE_EXPECTATION_COLUMN: &str = "_pulse_expectation";
pub const QUARANTINE_REASON_COLUMN: &str = "_pulse_reason";

/// GE's default size of `partial_unexpected_list`.
pub const PARTIAL_UNEXPECTED_LIMIT: usize = 20;
