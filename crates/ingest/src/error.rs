use thiserror::Error;

/// Every variant names the input (as the user wrote its path) so a message stands on its own.
#[derive(Debug, Error)]
pub enum IngestError {
    #[error("cannot open {path}: {message}")]
    Open { path: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: Box<rusqlite::Error>,
    },
    /// A database server that cannot be reached or refuses the session; `url` has no password.
    #[error("{url}: {message}")]
    Server { url: String, message: String },
    #[error("{path}: table {table}: {message}")]
    Table {
        path: String,
        table: String,
        message: String,
    },
    /// A value that cannot become its column's type; `location` names table, column and row.
    #[error("{path}: {location}: {message}")]
    Value {
        path: String,
        location: String,
        message: String,
    },
    #[error("{path}: {source}")]
    Arrow {
        path: String,
        #[source]
        source: Box<arrow::error::ArrowError>,
    },
    #[error("{path}: {source}")]
    Parquet {
        path: String,
        #[source]
        source: Box<parquet::errors::ParquetError>,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    /// The sink refused more data (the consumer failed or went away).
    #[error("reading stopped: {0}")]
    Stopped(String),
}

impl IngestError {
    pub(crate) fn io(path: &str, source: std::io::Error) -> Self {
        IngestError::Io {
            path: path.to_string(),
            source,
        }
    }

    pub(crate) fn arrow(path: &str, source: arrow::error::ArrowError) -> Self {
        IngestError::Arrow {
            path: path.to_string(),
            source: Box::new(source),
        }
    }

    pub(crate) fn sqlite(path: &str, source: rusqlite::Error) -> Self {
        IngestError::Sqlite {
            path: path.to_string(),
            source: Box::new(source),
        }
    }
}

/// Opens a file for reading, with the error naming it as the user wrote it.
pub(crate) fn open_file(
    path: &std::path::Path,
    display: &str,
) -> Result<std::fs::File, IngestError> {
    std::fs::File::open(path).map_err(|e| IngestError::Open {
        path: display.to_string(),
        message: if e.kind() == std::io::ErrorKind::NotFound {
            "no such file".to_string()
        } else {
            e.to_string()
        },
    })
}
