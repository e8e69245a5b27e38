//! `[orchestrator]` and `[[schedules]]` in `pulse.toml`: where run state is kept, how tasks are
//! retried and bounded, and when runs start. Durations are written as `10s`, `5m`, `2h`, `1d`
//! and checked while the file is parsed, so a bad one is reported with its line.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A length of time written as `<number><unit>` with unit s, m, h or d.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfigDuration(pub std::time::Duration);

impl ConfigDuration {
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    pub fn as_std(self) -> std::time::Duration {
        self.0
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        crate::expectations::parse_age(text).map(Self::from_secs)
    }
}

impl fmt::Display for ConfigDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        // The largest unit that divides evenly, so a value round-trips as the user wrote it.
        match s {
            0 => write!(f, "0s"),
            s if s % 86_400 == 0 => write!(f, "{}d", s / 86_400),
            s if s % 3600 == 0 => write!(f, "{}h", s / 3600),
            s if s % 60 == 0 => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ConfigDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for ConfigDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn at_least_one<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = usize::deserialize(d)?;
    if n == 0 {
        return Err(serde::de::Error::custom("must be at least 1"));
    }
    Ok(n)
}

/// A zero lease or timeout would expire every task at once.
fn not_zero<'de, D: Deserializer<'de>>(d: D) -> Result<ConfigDuration, D::Error> {
    let v = ConfigDuration::deserialize(d)?;
    if v.0.is_zero() {
        return Err(serde::de::Error::custom("must be longer than 0s"));
    }
    Ok(v)
}

/// `[orchestrator]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OrchestratorConfig {
    /// `sqlite://path` (relative to the project folder) or `postgres://…`.
    pub metadata: String,
    /// Tasks at once per worker.
    #[serde(deserialize_with = "at_least_one")]
    pub parallelism: usize,
    /// Extra attempts after the first.
    pub retries: u32,
    /// The first backoff; it doubles with each attempt up to `max_retry_delay`.
    pub retry_delay: ConfigDuration,
    pub max_retry_delay: ConfigDuration,
    /// Per task attempt.
    #[serde(deserialize_with = "not_zero")]
    pub timeout: ConfigDuration,
    /// Runs at once (bounds a backfill).
    #[serde(deserialize_with = "at_least_one")]
    pub max_active_runs: usize,
    /// How long a running task stays claimed without a heartbeat; heartbeats renew it every
    /// third of it, so a worker that dies is noticed after at most this long.
    #[serde(deserialize_with = "not_zero")]
    pub lease: ConfigDuration,
}

impl Default for OrchestratorConfig {
    fn default() -> Self {
        Self {
            metadata: "sqlite://.pulse/metadata.sqlite".to_string(),
            parallelism: 4,
            retries: 2,
            retry_delay: ConfigDuration::from_secs(10),
            max_retry_delay: ConfigDuration::from_secs(600),
            timeout: ConfigDuration::from_secs(2 * 3600),
            max_active_runs: 2,
            lease: ConfigDuration::from_secs(60),
        }
    }
}

/// What a scheduler does about fire times it missed while it was not running.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Catchup {
    /// One run for every missed fire time.
    All,
    /// One run, for the most recent missed fire time.
    #[default]
    Latest,
    /// No run for missed fire times; only fire times from now on.
    None,
}

/// `[[schedules]]`: runs started by a cron expression in a time zone.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    pub name: String,
    /// Five fields (minute hour day-of-month month day-of-week), or six with seconds first.
    pub cron: String,
    /// An IANA time zone such as `Europe/Berlin`; the cron is read in it (default UTC).
    #[serde(default = "default_timezone")]
    pub timezone: String,
    #[serde(default)]
    pub catchup: Catchup,
    /// The run must finish within this long of its start.
    #[serde(default)]
    pub sla: Option<ConfigDuration>,
    /// A dbt-style selector; default the whole project.
    #[serde(default)]
    pub select: Option<String>,
}

fn default_timezone() -> String {
    "UTC".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProjectConfig;
    use std::path::Path;

    #[test]
    fn defaults_apply_when_the_sections_are_absent() {
        let c: ProjectConfig =
            crate::load::parse_toml(Path::new("pulse.toml"), "name = \"x\"\n").expect("parses");
        assert_eq!(c.orchestrator, OrchestratorConfig::default());
        assert!(c.schedules.is_empty());
    }

    #[test]
    fn reads_the_documented_example() {
        let text = r#"name = "x"
[orchestrator]
metadata = "postgres://postgres@127.0.0.1/test"
parallelism = 8
retries = 3
retry_delay = "5s"
max_retry_delay = "10m"
timeout = "2h"
max_active_runs = 3
lease = "1m"
[[schedules]]
name = "daily"
cron = "0 2 * * *"
timezone = "Europe/Berlin"
catchup = "all"
sla = "6h"
select = "+fct_orders"
"#;
        let c: ProjectConfig =
            crate::load::parse_toml(Path::new("pulse.toml"), text).expect("parses");
        assert_eq!(c.orchestrator.parallelism, 8);
        assert_eq!(c.orchestrator.retry_delay.as_std().as_secs(), 5);
        assert_eq!(c.orchestrator.max_retry_delay.as_std().as_secs(), 600);
        assert_eq!(c.orchestrator.lease.as_std().as_secs(), 60);
        let s = &c.schedules[0];
        assert_eq!(s.catchup, Catchup::All);
        assert_eq!(s.sla, Some(ConfigDuration::from_secs(6 * 3600)));
        assert_eq!(s.timezone, "Europe/Berlin");
        assert_eq!(s.select.as_deref(), Some("+fct_orders"));
    }

    #[test]
    fn a_bad_duration_names_the_file_and_line() {
        let text = "name = \"x\"\n[orchestrator]\nretries = 1\ntimeout = \"2 hours\"\n";
        let e = crate::load::parse_toml::<ProjectConfig>(Path::new("pulse.toml"), text)
            .expect_err("must fail");
        assert_eq!(e.line, Some(4), "{e}");
        assert!(e.message.contains("2 hours"), "{e}");
    }

    #[test]
    fn unknown_keys_and_catchup_values_are_errors_with_lines() {
        let text =
            "name = \"x\"\n[[schedules]]\nname = \"d\"\ncron = \"0 2 * * *\"\ncatchup = \"some\"\n";
        let e = crate::load::parse_toml::<ProjectConfig>(Path::new("pulse.toml"), text)
            .expect_err("must fail");
        assert_eq!(e.line, Some(5), "{e}");
        let text = "name = \"x\"\n[orchestrator]\nparalellism = 2\n";
        let e = crate::load::parse_toml::<ProjectConfig>(Path::new("pulse.toml"), text)
            .expect_err("must fail");
        assert_eq!(e.line, Some(3), "{e}");
    }

    #[test]
    fn zero_parallelism_and_lease_are_refused_with_lines() {
        for (text, line, needle) in [
            (
                "name = \"x\"\n[orchestrator]\nparallelism = 0\n",
                3,
                "at least 1",
            ),
            (
                "name = \"x\"\n[orchestrator]\n\nmax_active_runs = 0\n",
                4,
                "at least 1",
            ),
            (
                "name = \"x\"\n[orchestrator]\nlease = \"0s\"\n",
                3,
                "longer than 0s",
            ),
        ] {
            let e = crate::load::parse_toml::<ProjectConfig>(Path::new("pulse.toml"), text)
                .expect_err("must fail");
            assert_eq!(e.line, Some(line), "{e}");
            assert!(e.message.contains(needle), "{e}");
        }
    }

    #[test]
    fn durations_round_trip() {
        for text in ["10s", "5m", "2h", "1d", "90s"] {
            assert_eq!(
                ConfigDuration::parse(text).expect("parses").to_string(),
                text
            );
        }
    }
}
