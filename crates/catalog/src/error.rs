//! One error type for the crate; the CLI and the web server map its kinds to messages and
//! status codes (unknown dataset or column: 404, the rest: 500).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("no dataset `{0}` in the catalog; `pulse catalog search` finds names")]
    UnknownDataset(String),
    #[error("dataset `{dataset}` has no known column `{column}`")]
    UnknownColumn { dataset: String, column: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a catalog record: {source}", path.display())]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("schedule cron `{cron}`: {message}")]
    Schedule { cron: String, message: String },
    #[error("column lineage of `{dataset}`: {message}")]
    ColumnLineage { dataset: String, message: String },
    #[error("search index: {0}")]
    Search(String),
    #[error("OpenLineage: {0}")]
    OpenLineage(String),
}

impl CatalogError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CatalogError::Io {
            path: path.into(),
            source,
        }
    }

    /// The caller asked for something the catalog does not have (an HTTP 404).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            CatalogError::UnknownDataset(_) | CatalogError::UnknownColumn { .. }
        )
    }
}

impl From<tantivy::TantivyError> for CatalogError {
    fn from(e: tantivy::TantivyError) -> Self {
        CatalogError::Search(e.to_string())
    }
}

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;
