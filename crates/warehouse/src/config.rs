//! `[serve.wire]` in `pulse.toml`, and the settings the server runs with once the password has
//! been read from the environment and the address checked.

use crate::error::{Result, WireError};
use serde::Deserialize;
use std::net::SocketAddr;

/// PostgreSQL's own port is 5432; one above it lets both run on a developer's machine.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5433";

/// The endpoint as a project configures it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireConfig {
    /// Whether `pulse serve` listens for PostgreSQL clients at all.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// Address and port, e.g. `127.0.0.1:5433` or `0.0.0.0:5433` (the latter needs a password).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The environment variable holding the password clients must give (any user name); no
    /// secret is written in the project.
    #[serde(default)]
    pub password_env: Option<String>,
}

fn default_enabled() -> bool {
    true
}

fn default_listen() -> String {
    DEFAULT_LISTEN.to_string()
}

impl Default for WireConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: default_listen(),
            password_env: None,
        }
    }
}

impl WireConfig {
    /// The settings to serve with: the address parsed and the password read through `env`
    /// (`std::env::var` in the binary). A variable that is named but unset or empty is an
    /// error, not a silently open endpoint.
    pub fn settings(&self, env: impl Fn(&str) -> Option<String>) -> Result<WireSettings> {
        let listen: SocketAddr = self.listen.parse().map_err(|e| {
            WireError::Config(format!(
                "listen = \"{}\" is not an address and port such as {DEFAULT_LISTEN}: {e}",
                self.listen
            ))
        })?;
        let password = match &self.password_env {
            None => None,
            Some(var) => match env(var).filter(|p| !p.is_empty()) {
                Some(p) => Some(p),
                None => {
                    return Err(WireError::Config(format!(
                        "password_env = \"{var}\" but the environment variable {var} is not set"
                    )));
                }
            },
        };
        WireSettings::new(listen, password)
    }
}

/// What the server runs with.
#[derive(Debug, Clone)]
pub struct WireSettings {
    pub listen: SocketAddr,
    pub password: Option<String>,
}

impl WireSettings {
    /// Refuses an address beyond loopback without a password: the warehouse holds the
    /// company's data, and PostgreSQL clients send no other credential.
    pub fn new(listen: SocketAddr, password: Option<String>) -> Result<Self> {
        let password = password.filter(|p| !p.is_empty());
        if !listen.ip().is_loopback() && password.is_none() {
            return Err(WireError::Config(format!(
                "listening on {listen} (beyond loopback) needs a password: set password_env \
                 (or --token), or listen on 127.0.0.1"
            )));
        }
        Ok(Self { listen, password })
    }

    /// Loopback on any free port, no password: for tests and benchmarks.
    pub fn loopback_any_port() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            password: None,
        }
    }
}
