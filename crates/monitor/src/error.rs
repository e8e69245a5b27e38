//! Everything the monitor can fail with: one enum, a `Result` alias.

use pulse_orchestrate::OrchestrateError;

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// Reading runs and tasks from the orchestrator's metadata store.
    #[error(transparent)]
    Orchestrate(#[from] OrchestrateError),
    #[error("alert store (SQLite): {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The driver's message names the statement's problem; the URL (and so a password) is never
    /// part of it.
    #[error("alert store (PostgreSQL): {0}")]
    Postgres(#[from] postgres::Error),
    #[error("alert store: {0}")]
    Store(String),
    /// Every problem of a configuration at once, each naming the section and entry.
    #[error("monitor configuration: {}", .0.join("; "))]
    Config(Vec<String>),
    /// A `[monitor]`, `[[alerts]]`, `[[notifiers]]` or `[[routes]]` section that does not parse;
    /// the message names the line.
    #[error("monitor configuration: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("silence matcher `{matcher}`: {message}")]
    Matcher { matcher: String, message: String },
    #[error("notifier `{notifier}`: {message}")]
    Notify { notifier: String, message: String },
    #[error("no such {what}: {name}")]
    NotFound { what: &'static str, name: String },
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

pub type Result<T, E = MonitorError> = std::result::Result<T, E>;
