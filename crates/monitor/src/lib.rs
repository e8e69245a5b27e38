//! Monitoring and alerting for Pulse, without the query engine: Prometheus telemetry computed
//! from the metadata store, alert rules (`[[alerts]]` in `pulse.toml`), incidents kept in the
//! metadata store's database with inhibition by lineage and silences, and notifiers (webhook,
//! Slack-compatible webhook, SMTP e-mail, command) with retries.
//!
//! `pulse serve` builds a [`Monitor`] and calls [`Monitor::tick`] every `[monitor] interval`,
//! and [`Monitor::metrics`] for `/metrics`; `pulse alerts` uses an [`AlertStore`] alone.

pub mod alerts;
pub mod config;
pub mod error;
pub mod glob;
pub mod history;
pub mod inputs;
pub mod monitor;
pub mod notify;
pub mod overview;
pub mod prometheus;
pub mod rules;
pub mod silence;
pub mod telemetry;

pub use alerts::{
    AlertStats, AlertStore, Delivery, HeldBack, Incident, IncidentEvent, IncidentFilter,
    IncidentState, ReconcileReport, Silence,
};
pub use config::{
    AlertRuleConfig, MonitorConfig, MonitorSettings, NotifierConfig, RouteConfig, RuleKind,
    Severity, SmtpTls, WebhookFormat,
};
pub use error::{MonitorError, Result};
pub use history::History;
pub use inputs::{DatasetStatus, Lineage, MonitorInputs, QualityResult};
pub use monitor::{DispatchReport, Monitor, Sent, TickReport};
pub use notify::{Notification, Notifier, Notifiers};
pub use overview::Overview;
pub use rules::{Alert, CostReport, Evaluation, evaluate};
pub use silence::{Matcher, parse_until};
pub use telemetry::Telemetry;
