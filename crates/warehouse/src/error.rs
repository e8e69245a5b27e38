use thiserror::Error;

pub type Result<T, E = WireError> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum WireError {
    #[error("[serve.wire] {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("the warehouse could not be opened: {0}")]
    Engine(String),
    #[error("registering the extra views (metrics): {0}")]
    Views(String),
    #[error("wire benchmark: {0}")]
    Bench(String),
}

/// Errors of the PostgreSQL warehouse target ([`crate::target`]). No message ever holds the
/// connection's password.
#[derive(Debug, Error)]
pub enum TargetError {
    #[error("cannot connect to the PostgreSQL warehouse {target}: {message}")]
    Connect { target: String, message: String },
    /// PostgreSQL refused a statement; `code` is its SQLSTATE (e.g. 42703, undefined column).
    #[error("{what}: {message} (SQLSTATE {code})")]
    Database {
        what: String,
        code: String,
        message: String,
    },
    /// The connection failed (closed, broken, a protocol error).
    #[error("{what}: {message}")]
    Connection { what: String, message: String },
    /// The batches to load failed or held a value PostgreSQL cannot take, or a result could
    /// not be read into Arrow.
    #[error("{what}: {message}")]
    Data { what: String, message: String },
    /// A name or request this module refuses before asking the server.
    #[error("{0}")]
    Invalid(String),
}

impl TargetError {
    /// PostgreSQL's SQLSTATE, for errors the server raised.
    pub fn code(&self) -> Option<&str> {
        match self {
            TargetError::Database { code, .. } => Some(code),
            _ => None,
        }
    }
}
