//! Notifiers: where a notification goes. Each sends synchronously (the monitor runs them on
//! blocking threads) and reports failure as a message that names no secret; failures are
//! retried by the alert store's schedule.

pub mod command;
pub mod email;
pub mod webhook;

use crate::alerts::Incident;
use crate::config::NotifierConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// What every notifier sends: the JSON webhook's body and the command's standard input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// The payload's format version.
    pub version: u32,
    /// `firing` or `resolved`.
    pub status: String,
    pub project: Option<String>,
    pub incident: Incident,
}

impl Notification {
    pub fn new(status: &str, project: Option<&str>, incident: Incident) -> Notification {
        Notification {
            version: 1,
            status: status.to_string(),
            project: project.map(str::to_string),
            incident,
        }
    }

    pub fn is_resolved(&self) -> bool {
        self.status == "resolved"
    }

    /// One line: `[FIRING critical] <summary>` or `[RESOLVED] <summary>`.
    pub fn title(&self) -> String {
        let i = &self.incident;
        let project = self
            .project
            .as_deref()
            .map(|p| format!("{p}: "))
            .unwrap_or_default();
        if self.is_resolved() {
            format!("[RESOLVED] {project}{}", i.summary)
        } else {
            format!("[FIRING {}] {project}{}", i.severity, i.summary)
        }
    }

    /// The title and the facts, as plain text.
    pub fn text(&self) -> String {
        let i = &self.incident;
        let mut lines = vec![self.title(), String::new()];
        lines.push(format!(
            "rule: {} ({})   subject: {}   severity: {}",
            i.rule, i.kind, i.subject, i.severity
        ));
        lines.push(format!(
            "owner: {}",
            i.owner.as_deref().unwrap_or("(none recorded)")
        ));
        lines.push(format!("opened: {}", i.opened_at.to_rfc3339()));
        if let Some(r) = i.resolved_at {
            lines.push(format!("resolved: {}", r.to_rfc3339()));
        }
        if !i.involved.is_empty() {
            lines.push(format!("involved: {}", i.involved.join(", ")));
        }
        if !i.held_back.is_empty() {
            lines.push(String::new());
            lines.push(
                "held back (downstream of this incident, not notified on their own):".to_string(),
            );
            for h in &i.held_back {
                lines.push(format!("  - {}: {}", h.key, h.summary));
            }
        }
        lines.push(String::new());
        lines.push(format!("incident #{} ({})", i.id, i.key));
        lines.join("\n")
    }
}

pub trait Notifier: Send + Sync {
    fn name(&self) -> &str;
    /// Delivers the notification or says why not (without secrets).
    fn send(&self, n: &Notification) -> Result<(), String>;
}

/// The configured notifiers by name.
#[derive(Clone, Default)]
pub struct Notifiers {
    by_name: BTreeMap<String, Arc<dyn Notifier>>,
}

impl std::fmt::Debug for Notifiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.by_name.keys()).finish()
    }
}

impl Notifiers {
    pub fn from_config(configs: &[NotifierConfig], timeout: Duration) -> Notifiers {
        let mut n = Notifiers::default();
        for c in configs {
            let notifier: Arc<dyn Notifier> = match c {
                NotifierConfig::Webhook {
                    name,
                    url,
                    format,
                    headers,
                } => Arc::new(webhook::Webhook::new(name, url, *format, headers, timeout)),
                NotifierConfig::Email { .. } => Arc::new(email::Email::new(c, timeout)),
                NotifierConfig::Command { name, command, env } => {
                    Arc::new(command::Command::new(name, command, env, timeout))
                }
            };
            n.insert(notifier);
        }
        n
    }

    /// Adds (or replaces) a notifier: for callers with a channel of their own.
    pub fn insert(&mut self, n: Arc<dyn Notifier>) {
        self.by_name.insert(n.name().to_string(), n);
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn Notifier>> {
        self.by_name.get(name).cloned()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}

/// Resolves `${ENV}` references in a configured value.
pub(crate) fn resolve(written: &str) -> Result<pulse_project::ConnectionString, String> {
    pulse_project::ConnectionString::resolve(written)
}
