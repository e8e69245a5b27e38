//! The PostgreSQL and MySQL/MariaDB connectors against the running servers (see
//! scripts/services.sh). Each test works in a schema or database of its own, so they run in
//! parallel; a missing server fails the test with a message saying how to start it.

mod mysql;
mod postgres;

use std::sync::atomic::{AtomicU32, Ordering};

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        nanos
    )
}

pub fn pg_url() -> String {
    std::env::var("PULSE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

pub fn my_url() -> String {
    std::env::var("PULSE_TEST_MYSQL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_string())
}
