use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The request asks for something the definitions do not allow; the caller's mistake.
    #[error("{0}")]
    BadRequest(String),
    #[error("no metric named `{0}`; `pulse metrics list` shows them")]
    UnknownMetric(String),
    #[error("no dashboard named `{0}`")]
    UnknownDashboard(String),
    /// A definition that does not fit the warehouse (unknown column, a model not built yet).
    #[error("{}:{line}: metric `{metric}`: {message}", file.display())]
    Definition {
        file: PathBuf,
        line: usize,
        metric: String,
        message: String,
    },
    #[error("the warehouse failed the query: {message}\n  query: {sql}")]
    Query { sql: String, message: String },
    #[error("the warehouse: {0}")]
    Warehouse(String),
}

pub type Result<T, E = MetricsError> = std::result::Result<T, E>;
