use thiserror::Error;

/// Every variant starts with `source.table` (or the lake) and names the file involved, so a
/// message in a run summary says what failed and where without more context.
#[derive(Debug, Error)]
pub enum LakeError {
    #[error("lake {url}: {message}")]
    Open { url: String, message: String },
    #[error("{table}: {source}")]
    Ingest {
        table: String,
        #[source]
        source: Box<pulse_ingest::IngestError>,
    },
    #[error("{table}: no files match {glob}")]
    NoFiles { table: String, glob: String },
    #[error("{table}: {message}")]
    Config { table: String, message: String },
    #[error("{table}: {path}: {source}")]
    Store {
        table: String,
        path: String,
        #[source]
        source: Box<object_store::Error>,
    },
    #[error("{table}: writing {path}: {source}")]
    Parquet {
        table: String,
        path: String,
        #[source]
        source: Box<parquet::errors::ParquetError>,
    },
    #[error("{table}: {path}: {source}")]
    Io {
        table: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A manifest or state file that does not parse.
    #[error("{table}: {path}: {message}")]
    Corrupt {
        table: String,
        path: String,
        message: String,
    },
}

impl LakeError {
    pub(crate) fn store(
        table: &str,
        path: &object_store::path::Path,
        e: object_store::Error,
    ) -> Self {
        LakeError::Store {
            table: table.to_string(),
            path: path.to_string(),
            source: Box::new(e),
        }
    }

    pub(crate) fn ingest(table: &str, e: pulse_ingest::IngestError) -> Self {
        LakeError::Ingest {
            table: table.to_string(),
            source: Box::new(e),
        }
    }
}
