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
