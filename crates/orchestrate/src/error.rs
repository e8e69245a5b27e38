/// Everything the orchestrator can fail with. Database errors keep the driver's message, which
/// names the statement's problem; they never contain the connection password because the URL is
/// not part of them.
#[derive(Debug, thiserror::Error)]
pub enum OrchestrateError {
    #[error("task `{task}` depends on unknown task `{upstream}`")]
    UnknownUpstream { task: String, upstream: String },
    #[error("task `{0}` is declared twice")]
    DuplicateTask(String),
    #[error("tasks form a cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    #[error("selector `{selector}`: {message}")]
    Selector { selector: String, message: String },
    #[error("no such {what}: {name}")]
    NotFound { what: &'static str, name: String },
    #[error("metadata store: {0}")]
    Store(String),
    #[error("metadata store (SQLite): {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("metadata store (PostgreSQL): {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("schedule `{schedule}`: {message}")]
    Schedule { schedule: String, message: String },
    #[error("{0}")]
    Config(String),
}
