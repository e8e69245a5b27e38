//! What a caller asks the semantic layer for.

use chrono::NaiveDate;
use pulse_project::Grain;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Metrics cut by dimensions, over a date range, at a time grain. The same shape serves the CLI
/// (`pulse metrics query`), the HTTP API (`/api/metrics/query`) and every dashboard tile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricRequest {
    pub metrics: Vec<String>,
    /// Dimensions the metrics are cut by, in the order of the result's columns.
    #[serde(default, alias = "by")]
    pub dimensions: Vec<String>,
    /// One row per period of this grain (the `period` column, the period's first day).
    #[serde(default)]
    pub grain: Option<Grain>,
    /// First day, inclusive.
    #[serde(default)]
    pub from: Option<NaiveDate>,
    /// Last day, inclusive.
    #[serde(default)]
    pub to: Option<NaiveDate>,
    /// Only rows whose dimension has one of the values.
    #[serde(default)]
    pub filters: BTreeMap<String, Vec<String>>,
    /// Adds `<metric>__previous` and `<metric>__change` from the period of the same length just
    /// before `from`..`to`.
    #[serde(default)]
    pub compare: bool,
    /// At most this many rows, largest first metric first.
    #[serde(default)]
    pub limit: Option<usize>,
}

impl MetricRequest {
    /// Days in the range, both ends included.
    pub fn days(&self) -> Option<i64> {
        match (self.from, self.to) {
            (Some(from), Some(to)) => Some((to - from).num_days() + 1),
            _ => None,
        }
    }

    /// The period of the same length just before this one.
    pub fn previous_range(&self) -> Option<(NaiveDate, NaiveDate)> {
        let days = self.days()?;
        let from = self.from? - chrono::Duration::days(days);
        let to = self.to? - chrono::Duration::days(days);
        Some((from, to))
    }
}
