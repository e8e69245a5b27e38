//! Freshness: is a dataset as recent as its schedule promises?
//!
//! A dataset rebuilt by a schedule that fires every `interval` and must finish within `sla` of
//! firing is fresh while its last update is at most `interval + sla` old: the next run has
//! fired but may still be within its deadline. Past that, it is stale by the difference.

use crate::error::{CatalogError, Result};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FreshnessStatus {
    Fresh,
    Stale,
    /// Never built, or no schedule to judge it by.
    Unknown,
}

impl FreshnessStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FreshnessStatus::Fresh => "fresh",
            FreshnessStatus::Stale => "stale",
            FreshnessStatus::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freshness {
    pub status: FreshnessStatus,
    /// Seconds since the last update (0 for an update stamped in the future); none if never.
    pub lag_seconds: Option<i64>,
    /// The age the schedule allows, in seconds: interval plus SLA.
    pub max_age_seconds: i64,
    /// Seconds past the allowed age (0 when fresh).
    pub overdue_seconds: i64,
}

/// Judges `last_updated` against a schedule that fires every `interval` and allows `sla` for a
/// run to finish, at `now`.
pub fn freshness(
    last_updated: Option<DateTime<Utc>>,
    interval: Duration,
    sla: Duration,
    now: DateTime<Utc>,
) -> Freshness {
    let max_age = interval + sla;
    let max_age_seconds = max_age.num_seconds();
    let Some(updated) = last_updated else {
        return Freshness {
            status: FreshnessStatus::Unknown,
            lag_seconds: None,
            max_age_seconds,
            overdue_seconds: 0,
        };
    };
    let lag = (now - updated).max(Duration::zero());
    let overdue = (lag - max_age).max(Duration::zero());
    Freshness {
        status: if lag <= max_age {
            FreshnessStatus::Fresh
        } else {
            FreshnessStatus::Stale
        },
        lag_seconds: Some(lag.num_seconds()),
        max_age_seconds,
        overdue_seconds: overdue.num_seconds(),
    }
}

/// The longest gap between two consecutive fire times of a cron expression (five fields, or six
/// with seconds), over the four weeks after `from`: a weekday-only schedule allows the weekend.
/// Read in UTC; a time zone's daylight-saving shift moves a gap by an hour at most.
pub fn cron_interval(cron: &str, from: DateTime<Utc>) -> Result<Duration> {
    let err = |message: String| CatalogError::Schedule {
        cron: cron.to_string(),
        message,
    };
    let parsed = croner::Cron::from_str(cron).map_err(|e| err(e.to_string()))?;
    let horizon = from + Duration::days(28);
    let mut previous = parsed
        .find_next_occurrence(&from, false)
        .map_err(|e| err(e.to_string()))?;
    let mut longest = Duration::zero();
    // A cron that fires every second would loop long: a few thousand fires tell enough.
    for _ in 0..5000 {
        let Ok(next) = parsed.find_next_occurrence(&previous, false) else {
            break;
        };
        longest = longest.max(next - previous);
        if next > horizon {
            break;
        }
        previous = next;
    }
    if longest.is_zero() {
        return Err(err("it never fires twice".into()));
    }
    Ok(longest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn daily_and_weekdays() {
        assert_eq!(
            cron_interval("0 2 * * *", at(0)).ok(),
            Some(Duration::hours(24))
        );
        assert_eq!(
            cron_interval("0 9 * * 1-5", at(0)).ok(),
            Some(Duration::hours(72))
        );
        assert!(cron_interval("not a cron", at(0)).is_err());
    }
}
