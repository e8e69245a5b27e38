//! The monitor's part of `pulse.toml`: `[monitor]`, `[[alerts]]`, `[[notifiers]]` and
//! `[[routes]]`. Durations are written like the orchestrator's (`30s`, `5m`, `6h`, `1d`); unknown
//! keys are errors that name their line; [`MonitorConfig::validate`] reports every remaining
//! mistake at once.

use crate::error::{MonitorError, Result};
use pulse_project::ConfigDuration;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "critical" => Ok(Severity::Critical),
            other => Err(format!(
                "unknown severity `{other}` (info, warning or critical)"
            )),
        }
    }
}

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    TaskFailed,
    Sla,
    Freshness,
    Quality,
    Volume,
    SlowRun,
    Cost,
}

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::TaskFailed => "task_failed",
            RuleKind::Sla => "sla",
            RuleKind::Freshness => "freshness",
            RuleKind::Quality => "quality",
            RuleKind::Volume => "volume",
            RuleKind::SlowRun => "slow_run",
            RuleKind::Cost => "cost",
        }
    }

    pub fn parse(s: &str) -> Option<RuleKind> {
        Some(match s {
            "task_failed" => RuleKind::TaskFailed,
            "sla" => RuleKind::Sla,
            "freshness" => RuleKind::Freshness,
            "quality" => RuleKind::Quality,
            "volume" => RuleKind::Volume,
            "slow_run" => RuleKind::SlowRun,
            "cost" => RuleKind::Cost,
            _ => return None,
        })
    }

    /// A failure pages; a drift warns.
    pub fn default_severity(self) -> Severity {
        match self {
            RuleKind::TaskFailed | RuleKind::Sla => Severity::Critical,
            _ => Severity::Warning,
        }
    }
}

impl fmt::Display for RuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn minutes(m: u64) -> ConfigDuration {
    ConfigDuration::from_secs(m * 60)
}

/// `[monitor]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorSettings {
    /// How often `pulse serve` evaluates the rules and sends what is due.
    pub interval: ConfigDuration,
    /// Runs read back (newest first) to judge the latest against; the cost rule also reads every
    /// run of the month and of its trailing window.
    pub history_runs: u32,
    /// The owner of incidents whose dataset has none recorded.
    pub default_owner: Option<String>,
    /// An incident stays held back this long after the upstream incident that held it resolves,
    /// so the rebuild that follows a fix has time to run before anyone is paged.
    pub inhibit_grace: ConfigDuration,
    /// The first wait before sending a notification again; it doubles up to `max_retry_delay`.
    pub retry_delay: ConfigDuration,
    pub max_retry_delay: ConfigDuration,
    /// Attempts per notification before it is given up (and recorded as failed).
    pub notify_attempts: u32,
    /// Per webhook call, SMTP session or command.
    pub timeout: ConfigDuration,
    /// Where incidents are kept: `sqlite://…` or `postgres://…`; default the orchestrator's
    /// metadata store (the same database, tables prefixed `monitor_`).
    pub store: Option<String>,
}

impl Default for MonitorSettings {
    fn default() -> Self {
        MonitorSettings {
            interval: minutes(1),
            history_runs: 200,
            default_owner: None,
            inhibit_grace: minutes(30),
            retry_delay: ConfigDuration::from_secs(30),
            max_retry_delay: minutes(30),
            notify_attempts: 12,
            timeout: ConfigDuration::from_secs(30),
            store: None,
        }
    }
}

fn default_volume_select() -> Vec<String> {
    vec!["land:*".to_string()]
}
fn seven() -> u32 {
    7
}
fn three() -> u32 {
    3
}
fn one() -> u32 {
    1
}
fn volume_factor() -> f64 {
    3.0
}
fn slow_factor() -> f64 {
    2.0
}
fn five_minutes() -> ConfigDuration {
    minutes(5)
}
fn one_core() -> f64 {
    1.0
}
fn usd() -> String {
    "USD".to_string()
}
fn seven_days() -> ConfigDuration {
    ConfigDuration::from_secs(7 * 86_400)
}

/// `[[alerts]]`: one rule. `name` (default: the rule's kind) makes the incident keys
/// `<name>:<subject>`; `severity` overrides the kind's default; `owner` overrides the owner
/// looked up for the dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum AlertRuleConfig {
    /// A task ended failed after its retries. Subject: the task id.
    TaskFailed {
        name: Option<String>,
        severity: Option<Severity>,
        owner: Option<String>,
        /// Task id patterns (`land:*`, `model:fct_*`); default every task.
        #[serde(default)]
        select: Vec<String>,
    },
    /// The newest run of a schedule (or one still running) did not succeed within its SLA of
    /// its start. Subject: the schedule.
    Sla {
        name: Option<String>,
        severity: Option<Severity>,
        owner: Option<String>,
        /// Schedule name patterns; default every schedule.
        #[serde(default)]
        schedules: Vec<String>,
        /// Default: each schedule's own `sla` from `[[schedules]]`.
        sla: Option<ConfigDuration>,
    },
    /// A dataset was last updated longer ago than its window. Subject: the dataset id.
    Freshness {
        name: Option<String>,
        severity: Option<Severity>,
        owner: Option<String>,
        /// Dataset id patterns; default every dataset the caller reports.
        #[serde(default)]
        datasets: Vec<String>,
        /// Default: the window the caller reports for each dataset (its schedule's interval
        /// plus SLA).
        max_age: Option<ConfigDuration>,
    },
    /// The share of failed expectations (or of failed validations, where no expectation
    /// results are reported) over the last `window` validations is above `threshold`.
    /// Subject: the dataset id.
    Quality {
        name: Option<String>,
        severity: Option<Severity>,
        owner: Option<String>,
        #[serde(default)]
        datasets: Vec<String>,
        /// A fraction: 0.05 fires above 5 %.
        threshold: f64,
        #[serde(default = "one")]
        window: u32,
    },
    /// The rows the newest successful instance of a task produced are below the trailing
    /// median divided by `factor`, or above it times `factor`. Subject: the task id.
    Volume {
        name: Option<String>,
        severity: Option<Severity>,
        owner: Option<String>,
        #[serde(default = "default_volume_select")]
        select: Vec<String>,
        /// Earlier successful instances the median is taken over.
        #[serde(default = "seven")]
        runs: u32,
        /// Fewer earlier instances than this: no judgement yet.
        #[serde(default = "three")]
        min_runs: u32,
        #[serde(default = "volume_factor")]
        factor: f64,
    },
    /// The newest run of a schedule took (or is taking) more than `factor` times the median of
    /// its trailing successful runs, and at least `min_excess` more. Subject: the schedule
    /// (`manual` for runs without one).
    SlowRun {
        name: Option<String>,
        severity: Option<Severity>,
        owner: Option<String>,
        #[serde(default)]
        schedules: Vec<String>,
        #[serde(default = "seven")]
        runs: u32,
        #[serde(default = "three")]
        min_runs: u32,
        #[serde(default = "slow_factor")]
        factor: f64,
        #[serde(default = "five_minutes")]
        min_excess: ConfigDuration,
    },
    /// This month's compute cost, projected to the month's end, is over `budget`. Compute is
    /// each task's last attempt (end - start) times `cores_per_task`; the projection adds the
    /// trailing window's rate for the rest of the month. Subject: `compute`.
    Cost {
        name: Option<String>,
        severity: Option<Severity>,
        owner: Option<String>,
        /// Per calendar month (UTC), in `currency`.
        budget: f64,
        price_per_core_hour: f64,
        #[serde(default = "one_core")]
        cores_per_task: f64,
        #[serde(default = "usd")]
        currency: String,
        #[serde(default = "seven_days")]
        trailing: ConfigDuration,
    },
}

impl AlertRuleConfig {
    pub fn kind(&self) -> RuleKind {
        match self {
            AlertRuleConfig::TaskFailed { .. } => RuleKind::TaskFailed,
            AlertRuleConfig::Sla { .. } => RuleKind::Sla,
            AlertRuleConfig::Freshness { .. } => RuleKind::Freshness,
            AlertRuleConfig::Quality { .. } => RuleKind::Quality,
            AlertRuleConfig::Volume { .. } => RuleKind::Volume,
            AlertRuleConfig::SlowRun { .. } => RuleKind::SlowRun,
            AlertRuleConfig::Cost { .. } => RuleKind::Cost,
        }
    }

    fn common(&self) -> (&Option<String>, &Option<Severity>, &Option<String>) {
        match self {
            AlertRuleConfig::TaskFailed {
                name,
                severity,
                owner,
                ..
            }
            | AlertRuleConfig::Sla {
                name,
                severity,
                owner,
                ..
            }
            | AlertRuleConfig::Freshness {
                name,
                severity,
                owner,
                ..
            }
            | AlertRuleConfig::Quality {
                name,
                severity,
                owner,
                ..
            }
            | AlertRuleConfig::Volume {
                name,
                severity,
                owner,
                ..
            }
            | AlertRuleConfig::SlowRun {
                name,
                severity,
                owner,
                ..
            }
            | AlertRuleConfig::Cost {
                name,
                severity,
                owner,
                ..
            } => (name, severity, owner),
        }
    }

    /// The rule's name: the configured one, or its kind.
    pub fn name(&self) -> String {
        self.common()
            .0
            .clone()
            .unwrap_or_else(|| self.kind().as_str().to_string())
    }

    pub fn severity(&self) -> Severity {
        self.common()
            .1
            .unwrap_or_else(|| self.kind().default_severity())
    }

    pub fn owner(&self) -> Option<&str> {
        self.common().2.as_deref()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// The incident as JSON (see the README).
    #[default]
    Json,
    /// `{"text": "…"}`, which Slack, Mattermost, Rocket.Chat and Teams' Slack-compatible hooks
    /// accept.
    Slack,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP (a relay on the same host or network).
    None,
    /// SMTP upgraded with STARTTLS (port 587).
    #[default]
    Starttls,
    /// SMTP inside TLS from the start (port 465).
    Tls,
}

/// `[[notifiers]]`: where notifications go. Values may use `${ENV_VAR}` (resolved when
/// sending; never shown).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum NotifierConfig {
    /// An HTTP POST of JSON.
    Webhook {
        name: String,
        url: String,
        #[serde(default)]
        format: WebhookFormat,
        /// Extra request headers (an `Authorization` token).
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
    /// A mail over SMTP.
    Email {
        name: String,
        /// `host:port`.
        smtp: String,
        #[serde(default)]
        tls: SmtpTls,
        username: Option<String>,
        password: Option<String>,
        from: String,
        #[serde(default)]
        to: Vec<String>,
        /// Also to the incident's owner when the owner is an e-mail address.
        #[serde(default)]
        to_owner: bool,
    },
    /// A program (no shell), with the notification as JSON on its standard input and
    /// `PULSE_ALERT_*` variables; a non-zero exit is a failure that is retried.
    Command {
        name: String,
        command: Vec<String>,
        #[serde(default)]
        env: BTreeMap<String, String>,
    },
}

impl NotifierConfig {
    pub fn name(&self) -> &str {
        match self {
            NotifierConfig::Webhook { name, .. }
            | NotifierConfig::Email { name, .. }
            | NotifierConfig::Command { name, .. } => name,
        }
    }
}

/// `[[routes]]`: incidents at or above `severity`, of an owner matching `owners` and a rule
/// matching `rules` (empty lists match all), go to `notifiers`. An incident goes to the union of
/// every route it matches. Without any `[[routes]]`, every incident goes to every notifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The lowest severity routed.
    pub severity: Option<Severity>,
    /// Owner patterns; an incident without an owner matches only a route without `owners`.
    #[serde(default)]
    pub owners: Vec<String>,
    /// Rule name patterns.
    #[serde(default)]
    pub rules: Vec<String>,
    pub notifiers: Vec<String>,
}

/// The four sections together.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorConfig {
    pub monitor: MonitorSettings,
    pub alerts: Vec<AlertRuleConfig>,
    pub notifiers: Vec<NotifierConfig>,
    pub routes: Vec<RouteConfig>,
}

/// The same sections read out of a whole `pulse.toml`, whose other sections are someone
/// else's to check.
#[derive(Deserialize)]
struct Sections {
    #[serde(default)]
    monitor: MonitorSettings,
    #[serde(default)]
    alerts: Vec<AlertRuleConfig>,
    #[serde(default)]
    notifiers: Vec<NotifierConfig>,
    #[serde(default)]
    routes: Vec<RouteConfig>,
}

impl MonitorConfig {
    /// A file of only these sections; then [`MonitorConfig::validate`].
    pub fn from_toml(text: &str) -> Result<MonitorConfig> {
        let config: MonitorConfig = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// The sections of a whole `pulse.toml` (other keys are ignored here); then
    /// [`MonitorConfig::validate`].
    pub fn from_pulse_toml(text: &str) -> Result<MonitorConfig> {
        let s: Sections = toml::from_str(text)?;
        let config = MonitorConfig {
            monitor: s.monitor,
            alerts: s.alerts,
            notifiers: s.notifiers,
            routes: s.routes,
        };
        config.validate()?;
        Ok(config)
    }

    pub fn rule(&self, name: &str) -> Option<&AlertRuleConfig> {
        self.alerts.iter().find(|r| r.name() == name)
    }

    /// Every mistake at once.
    pub fn validate(&self) -> Result<()> {
        let mut errors = Vec::new();
        let m = &self.monitor;
        if m.interval.as_std().is_zero() {
            errors.push("[monitor] interval must be longer than 0s".to_string());
        }
        if m.history_runs == 0 {
            errors.push("[monitor] history_runs must be at least 1".to_string());
        }
        if m.notify_attempts == 0 {
            errors.push("[monitor] notify_attempts must be at least 1".to_string());
        }
        if m.timeout.as_std().is_zero() {
            errors.push("[monitor] timeout must be longer than 0s".to_string());
        }
        if let Some(url) = &m.store
            && !(url.starts_with("sqlite://")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            errors.push("[monitor] store must start with sqlite:// or postgres://".to_string());
        }

        let mut names = BTreeSet::new();
        for (i, rule) in self.alerts.iter().enumerate() {
            let name = rule.name();
            let at = format!("[[alerts]] #{} (`{name}`)", i + 1);
            if name.is_empty() || name.contains(char::is_whitespace) {
                errors.push(format!("{at}: a name has no spaces and is not empty"));
            }
            if !names.insert(name.clone()) {
                errors.push(format!(
                    "{at}: the rule name `{name}` is used twice; give rules of the same kind a `name` each"
                ));
            }
            let mut check = |ok: bool, message: &str| {
                if !ok {
                    errors.push(format!("{at}: {message}"));
                }
            };
            match rule {
                AlertRuleConfig::Quality {
                    threshold, window, ..
                } => {
                    check(
                        threshold.is_finite() && (0.0..1.0).contains(threshold),
                        "threshold is a fraction from 0 up to (not including) 1, like 0.05",
                    );
                    check(*window >= 1, "window must be at least 1");
                }
                AlertRuleConfig::Volume {
                    runs,
                    min_runs,
                    factor,
                    select,
                    ..
                } => {
                    check(*runs >= 1, "runs must be at least 1");
                    check(
                        (1..=*runs).contains(min_runs),
                        "min_runs must be from 1 up to runs",
                    );
                    check(
                        factor.is_finite() && *factor > 1.0,
                        "factor must be above 1, like 3.0",
                    );
                    check(!select.is_empty(), "select names no task");
                }
                AlertRuleConfig::SlowRun {
                    runs,
                    min_runs,
                    factor,
                    ..
                } => {
                    check(*runs >= 1, "runs must be at least 1");
                    check(
                        (1..=*runs).contains(min_runs),
                        "min_runs must be from 1 up to runs",
                    );
                    check(
                        factor.is_finite() && *factor > 1.0,
                        "factor must be above 1, like 2.0",
                    );
                }
                AlertRuleConfig::Cost {
                    budget,
                    price_per_core_hour,
                    cores_per_task,
                    trailing,
                    ..
                } => {
                    check(
                        budget.is_finite() && *budget > 0.0,
                        "budget must be above 0",
                    );
                    check(
                        price_per_core_hour.is_finite() && *price_per_core_hour >= 0.0,
                        "price_per_core_hour must be 0 or more",
                    );
                    check(
                        cores_per_task.is_finite() && *cores_per_task > 0.0,
                        "cores_per_task must be above 0",
                    );
                    check(
                        !trailing.as_std().is_zero(),
                        "trailing must be longer than 0s",
                    );
                }
                AlertRuleConfig::Sla { sla: Some(d), .. } => {
                    check(!d.as_std().is_zero(), "sla must be longer than 0s")
                }
                AlertRuleConfig::Freshness {
                    max_age: Some(d), ..
                } => check(!d.as_std().is_zero(), "max_age must be longer than 0s"),
                _ => {}
            }
        }

        let mut notifiers = BTreeSet::new();
        for (i, n) in self.notifiers.iter().enumerate() {
            let name = n.name();
            let at = format!("[[notifiers]] #{} (`{name}`)", i + 1);
            if name.is_empty() {
                errors.push(format!("[[notifiers]] #{}: name is empty", i + 1));
            }
            if !notifiers.insert(name.to_string()) {
                errors.push(format!("{at}: the name `{name}` is used twice"));
            }
            match n {
                NotifierConfig::Webhook { url, .. } => {
                    if !(url.starts_with("http://")
                        || url.starts_with("https://")
                        || url.starts_with("${"))
                    {
                        errors.push(format!("{at}: url must start with http:// or https://"));
                    }
                }
                NotifierConfig::Email {
                    smtp,
                    from,
                    to,
                    to_owner,
                    ..
                } => {
                    if crate::notify::email::split_host_port(smtp).is_none() && !smtp.contains("${")
                    {
                        errors.push(format!(
                            "{at}: smtp is `host:port`, like `smtp.example.com:587`"
                        ));
                    }
                    for a in std::iter::once(from).chain(to) {
                        if !a.contains("${") && a.parse::<lettre::message::Mailbox>().is_err() {
                            errors.push(format!("{at}: `{a}` is not an e-mail address"));
                        }
                    }
                    if to.is_empty() && !to_owner {
                        errors.push(format!(
                            "{at}: no recipient: set `to`, or `to_owner = true`"
                        ));
                    }
                }
                NotifierConfig::Command { command, .. } => {
                    if command.first().is_none_or(|c| c.is_empty()) {
                        errors.push(format!(
                            "{at}: command is the program and its arguments, like [\"/usr/local/bin/page\", \"--team\", \"data\"]"
                        ));
                    }
                }
            }
        }

        for (i, r) in self.routes.iter().enumerate() {
            let at = format!("[[routes]] #{}", i + 1);
            if r.notifiers.is_empty() {
                errors.push(format!("{at}: notifiers names none"));
            }
            for n in &r.notifiers {
                if !notifiers.contains(n) {
                    errors.push(format!("{at}: no [[notifiers]] is named `{n}`"));
                }
            }
        }

        if errors.is_empty() {
            Ok(())
        } else {
            Err(MonitorError::Config(errors))
        }
    }

    /// The notifiers an incident goes to, by the routes (or all, without routes).
    pub fn route(&self, severity: Severity, owner: Option<&str>, rule: &str) -> Vec<String> {
        if self.routes.is_empty() {
            return self
                .notifiers
                .iter()
                .map(|n| n.name().to_string())
                .collect();
        }
        let mut out: Vec<String> = Vec::new();
        for r in &self.routes {
            let severity_ok = r.severity.is_none_or(|min| severity >= min);
            let owner_ok = r.owners.is_empty()
                || owner.is_some_and(|o| r.owners.iter().any(|p| crate::glob::glob_match(p, o)));
            let rule_ok = crate::glob::any_match(&r.rules, rule);
            if severity_ok && owner_ok && rule_ok {
                for n in &r.notifiers {
                    if !out.contains(n) {
                        out.push(n.clone());
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mistake_is_reported_at_once() {
        let text = r#"
[[alerts]]
rule = "quality"
threshold = 1.5

[[alerts]]
rule = "volume"
factor = 0.5

[[alerts]]
rule = "volume"

[[notifiers]]
name = "mail"
kind = "email"
smtp = "nohost"
from = "not an address"

[[routes]]
notifiers = ["pager"]
"#;
        let Err(MonitorError::Config(errors)) = MonitorConfig::from_toml(text) else {
            panic!("expected config errors");
        };
        let all = errors.join("\n");
        for needle in [
            "threshold is a fraction",
            "factor must be above 1",
            "`volume` is used twice",
            "smtp is `host:port`",
            "`not an address` is not an e-mail address",
            "no recipient",
            "no [[notifiers]] is named `pager`",
        ] {
            assert!(all.contains(needle), "missing `{needle}` in:\n{all}");
        }
    }

    #[test]
    fn unknown_keys_name_their_line() {
        let text = "[monitor]\ninterval = \"1m\"\n\n[[alerts]]\nrule = \"task_failed\"\nselct = [\"land:*\"]\n";
        let e = MonitorConfig::from_toml(text).expect_err("unknown key");
        let s = e.to_string();
        assert!(s.contains("selct") && s.contains("line 4"), "{s}");
        let e = MonitorConfig::from_toml("[[alerts]]\nrule = \"nope\"\n").expect_err("kind");
        assert!(e.to_string().contains("unknown variant `nope`"), "{e}");
    }

    #[test]
    fn routes_take_the_union_of_matches() {
        let text = r#"
[[notifiers]]
name = "all"
kind = "webhook"
url = "http://127.0.0.1:1/"
[[notifiers]]
name = "pager"
kind = "command"
command = ["true"]
[[routes]]
notifiers = ["all"]
[[routes]]
severity = "critical"
owners = ["payments*"]
notifiers = ["pager"]
"#;
        let c = MonitorConfig::from_toml(text).expect("valid");
        assert_eq!(c.route(Severity::Warning, Some("payments"), "x"), ["all"]);
        assert_eq!(
            c.route(Severity::Critical, Some("payments-team"), "x"),
            ["all", "pager"]
        );
        assert_eq!(c.route(Severity::Critical, None, "x"), ["all"]);
    }

    #[test]
    fn a_whole_pulse_toml_yields_its_monitor_sections() {
        let text = r#"
name = "shop"
[orchestrator]
metadata = "sqlite://.pulse/metadata.sqlite"
[monitor]
interval = "30s"
[[alerts]]
rule = "sla"
sla = "6h"
"#;
        let c = MonitorConfig::from_pulse_toml(text).expect("sections");
        assert_eq!(c.monitor.interval.as_std().as_secs(), 30);
        assert_eq!(c.alerts.len(), 1);
        assert_eq!(c.alerts[0].name(), "sla");
        assert_eq!(c.alerts[0].severity(), Severity::Critical);
    }
}
