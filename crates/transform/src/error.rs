use std::path::PathBuf;

pub type Result<T, E = TransformError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("{0}")]
    Project(#[from] pulse_project::ProjectError),

    /// A model's SQL failed to plan or run; names the model and its file.
    #[error("model `{model}` ({}): {message}", file.display())]
    Model {
        model: String,
        file: PathBuf,
        message: String,
    },

    #[error("query failed: {0}")]
    Query(#[from] datafusion::error::DataFusionError),

    #[error("warehouse table `{table}`: {source}")]
    Delta {
        table: String,
        #[source]
        source: deltalake::DeltaTableError,
    },

    #[error("warehouse at {url}: {message}")]
    Warehouse { url: String, message: String },

    #[error("source table {source_name}.{table}: {message}")]
    SourceTable {
        source_name: String,
        table: String,
        message: String,
    },
}

impl TransformError {
    pub fn model(model: &pulse_project::Model, message: impl std::fmt::Display) -> Self {
        TransformError::Model {
            model: model.name.clone(),
            file: model.sql_file.clone(),
            message: message.to_string(),
        }
    }
}
