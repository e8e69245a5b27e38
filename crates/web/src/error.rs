use std::net::SocketAddr;

use axum::http::StatusCode;
use pulse_catalog::CatalogError;
use pulse_metrics::MetricsError;
use pulse_orchestrate::OrchestrateError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error(
        "refusing to listen on {addr}: it is reachable from other machines and no access token \
         is configured; set an access token or listen on 127.0.0.1"
    )]
    NonLoopbackWithoutToken { addr: SocketAddr },
    #[error("the access token is empty; set a non-empty token or none")]
    EmptyToken,
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the web server stopped: {0}")]
    Serve(#[source] std::io::Error),
    #[error("no run {0}")]
    RunNotFound(String),
    #[error("run {run_id} has no task {task_id}")]
    TaskNotFound { run_id: String, task_id: String },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] OrchestrateError),
    #[error(
        "no metrics are configured on this server: add metrics/*.toml and dashboards/*.toml to \
         the project and restart `pulse serve`"
    )]
    NoMetrics,
    #[error("dashboard {dashboard} has no tile {tile}")]
    TileNotFound { dashboard: String, tile: String },
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error(
        "no catalog is configured on this server: `pulse serve` keeps one when the project has \
         a warehouse"
    )]
    NoCatalog,
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl WebError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            WebError::RunNotFound(_) | WebError::TaskNotFound { .. } => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::Store(OrchestrateError::NotFound { .. }) => StatusCode::NOT_FOUND,
            WebError::NoMetrics
            | WebError::TileNotFound { .. }
            | WebError::Metrics(MetricsError::UnknownDashboard(_)) => StatusCode::NOT_FOUND,
            WebError::Metrics(MetricsError::BadRequest(_) | MetricsError::UnknownMetric(_)) => {
                StatusCode::BAD_REQUEST
            }
            WebError::NoCatalog => StatusCode::NOT_FOUND,
            WebError::Catalog(e) if e.is_not_found() => StatusCode::NOT_FOUND,
            WebError::NonLoopbackWithoutToken { .. }
            | WebError::EmptyToken
            | WebError::Bind { .. }
            | WebError::Serve(_)
            | WebError::Store(_)
            | WebError::Metrics(
                MetricsError::Definition { .. }
                | MetricsError::Query { .. }
                | MetricsError::Warehouse(_),
            )
            | WebError::Catalog(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_errors_map_to_the_caller_or_the_server() {
        let status = |e: MetricsError| WebError::from(e).status();
        assert_eq!(
            status(MetricsError::BadRequest("x".into())),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(MetricsError::UnknownMetric("x".into())),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(MetricsError::UnknownDashboard("x".into())),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status(MetricsError::Query {
                sql: "select 1".into(),
                message: "boom".into()
            }),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status(MetricsError::Warehouse("down".into())),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(WebError::NoMetrics.status(), StatusCode::NOT_FOUND);
    }
}
