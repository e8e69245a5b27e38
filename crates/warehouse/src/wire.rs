//! The listener: one task per connection, each with a wire session over the current engine,
//! md5 password authentication when a password is set, cancel requests, and errors given the
//! SQLSTATE a client can act on.

use crate::config::WireSettings;
use crate::engines::EngineSource;
use crate::error::{Result, WireError};
use async_trait::async_trait;
use futures::Sink;
use pgwire::api::auth::md5pass::{Md5PasswordAuthStartupHandler, hash_md5_password};
use pgwire::api::auth::noop::NoopStartupHandler;
use pgwire::api::auth::{
    AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
};
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::{ClientInfo, ConnectionManager, ErrorHandler, PgWireServerHandlers};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pulse_transform::wire::DfSessionService;
use std::fmt::Debug;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// A bound listener; [`WireServer::run`] accepts connections until `shutdown` completes.
pub struct WireServer {
    listener: TcpListener,
    password: Option<String>,
}

/// Binds `settings.listen` and serves until `shutdown` completes, on the caller's runtime.
pub async fn serve(
    settings: &WireSettings,
    engines: Arc<EngineSource>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    WireServer::bind(settings)
        .await?
        .run(engines, shutdown)
        .await
}

impl WireServer {
    pub async fn bind(settings: &WireSettings) -> Result<Self> {
        // Checked again here: settings built by hand must not open the warehouse either.
        let settings = WireSettings::new(settings.listen, settings.password.clone())?;
        let listener =
            TcpListener::bind(settings.listen)
                .await
                .map_err(|source| WireError::Bind {
                    addr: settings.listen.to_string(),
                    source,
                })?;
        Ok(Self {
            listener,
            password: settings.password,
        })
    }

    /// The address bound (the port chosen when 0 was asked for).
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener
            .local_addr()
            .map_err(|source| WireError::Bind {
                addr: "the listener".into(),
                source,
            })
    }

    pub async fn run(
        self,
        engines: Arc<EngineSource>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<()> {
        let connections = Arc::new(ConnectionManager::new());
        let cancel = Arc::new(DefaultCancelHandler::new(connections.clone()));
        let password = self.password.map(Arc::new);
        tracing::info!(addr = ?self.listener.local_addr().ok(), auth = password.is_some(), "warehouse endpoint listening");
        tokio::pin!(shutdown);
        loop {
            let (socket, peer) = tokio::select! {
                _ = &mut shutdown => return Ok(()),
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: the next accept may succeed.
                        tracing::warn!(error = %e, "accepting a warehouse connection failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let engines = engines.clone();
            let connections = connections.clone();
            let cancel = cancel.clone();
            let password = password.clone();
            tokio::spawn(async move {
                let engine = match engines.engine().await {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::warn!(%peer, error = %e, "warehouse connection refused");
                        refuse(socket, &e.to_string()).await;
                        return;
                    }
                };
                let startup = match password {
                    Some(p) => Startup::Password(
                        Md5PasswordAuthStartupHandler::new(
                            Arc::new(Secret(p)),
                            Arc::new(server_parameters()),
                        )
                        .with_connection_manager(connections),
                    ),
                    None => Startup::Open(OpenStartup { connections }),
                };
                let handlers = Connection {
                    service: Arc::new(engine.wire_service()),
                    startup: Arc::new(startup),
                    cancel,
                };
                if let Err(e) = pgwire::tokio::process_socket(socket, None, handlers).await {
                    tracing::debug!(%peer, error = %e, "warehouse connection ended");
                }
            });
        }
    }
}

fn server_parameters() -> DefaultServerParameterProvider {
    let mut parameters = DefaultServerParameterProvider::default();
    // Drivers read the major version to pick their catalog queries; 16 is what the catalog
    // rewriting targets. The suffix tells a person what answers.
    parameters.server_version = "16.6 (Pulse warehouse)".to_string();
    parameters
}

/// Tells a client why it cannot connect: an ErrorResponse is what libpq, pgjdbc and psycopg
/// expect in reply to their first message, be it a startup or an SSL request.
async fn refuse(mut socket: TcpStream, message: &str) {
    let mut body = Vec::new();
    for (field, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', "57P03"),
        (b'M', message),
    ] {
        body.push(field);
        body.extend_from_slice(value.replace('\0', " ").as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut frame = vec![b'E'];
    let len = u32::try_from(body.len() + 4).unwrap_or(u32::MAX);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&body);
    let _ = socket.write_all(&frame).await;
    let _ = socket.shutdown().await;
}

struct Connection {
    service: Arc<DfSessionService>,
    startup: Arc<Startup>,
    cancel: Arc<DefaultCancelHandler>,
}

impl PgWireServerHandlers for Connection {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.service.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.service.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(SqlStates)
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        self.cancel.clone()
    }
}

enum Startup {
    Open(OpenStartup),
    Password(Md5PasswordAuthStartupHandler<Secret, DefaultServerParameterProvider>),
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match self {
            Startup::Open(h) => h.on_startup(client, message).await,
            Startup::Password(h) => h.on_startup(client, message).await,
        }
    }
}

struct OpenStartup {
    connections: Arc<ConnectionManager>,
}

impl NoopStartupHandler for OpenStartup {
    fn connection_manager(&self) -> Option<Arc<ConnectionManager>> {
        Some(self.connections.clone())
    }
}

/// The configured password; any user name is accepted.
struct Secret(Arc<String>);

impl Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[async_trait]
impl AuthSource for Secret {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let user = login.user().unwrap_or_default();
        let salt = fresh_salt();
        let hashed = hash_md5_password(user, &self.0, &salt);
        Ok(Password::new(Some(salt.to_vec()), hashed.into_bytes()))
    }
}

/// A salt per connection, so a captured md5 answer cannot be replayed; the standard library's
/// randomly keyed hasher is random enough for that and needs no RNG crate.
fn fresh_salt() -> [u8; 4] {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    let bytes = hasher.finish().to_le_bytes();
    [bytes[0], bytes[1], bytes[2], bytes[3]]
}

/// DataFusion's errors reach pgwire as opaque `XX000`; clients (and people) act on the class:
/// a syntax error, an unknown table or column, a type mismatch.
struct SqlStates;

impl ErrorHandler for SqlStates {
    fn on_error<C>(&self, _client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        if let PgWireError::ApiError(e) = error {
            let message = e.to_string();
            let info = ErrorInfo::new("ERROR".to_string(), sqlstate(&message).to_string(), message);
            tracing::debug!(code = %info.code, message = %info.message, "warehouse query failed");
            *error = PgWireError::UserError(Box::new(info));
        }
    }
}

/// The SQLSTATE for a DataFusion error message.
pub fn sqlstate(message: &str) -> &'static str {
    let m = message.to_ascii_lowercase();
    if m.contains("parsererror") || m.contains("parser error") {
        "42601" // syntax_error
    } else if m.contains("table '") && m.contains("not found") || m.contains("table not found") {
        "42P01" // undefined_table
    } else if m.contains("no field named") || m.contains("schema error: no field") {
        "42703" // undefined_column
    } else if m.contains("invalid function") || m.contains("function") && m.contains("not found") {
        "42883" // undefined_function
    } else if m.contains("cast error") || m.contains("cannot cast") || m.contains("cannot coerce") {
        "22P02" // invalid_text_representation / a value that does not fit
    } else if m.contains("divide by zero") {
        "22012"
    } else if m.contains("not implemented") || m.contains("unsupported") {
        "0A000" // feature_not_supported
    } else if m.contains("error during planning") || m.contains("schema error") {
        "42000" // syntax_error_or_access_rule_violation
    } else {
        "XX000"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datafusion_errors_get_their_class() {
        assert_eq!(
            sqlstate("SQL error: ParserError(\"Expected: an expression, found: EOF\")"),
            "42601"
        );
        assert_eq!(
            sqlstate("Error during planning: table 'datafusion.public.nope' not found"),
            "42P01"
        );
        assert_eq!(
            sqlstate("Schema error: No field named nope. Valid fields are t.a."),
            "42703"
        );
        assert_eq!(
            sqlstate("sql parser error: Expected: an SQL statement, found: selec"),
            "42601"
        );
        assert_eq!(sqlstate("something else"), "XX000");
    }
}
