//! Rows per second streamed to a real client (tokio-postgres, the extended protocol with binary
//! results) for a large result, for `pulse bench`.

use crate::config::WireSettings;
use crate::engines::EngineSource;
use crate::error::{Result, WireError};
use crate::wire::WireServer;
use futures::{StreamExt, pin_mut};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_postgres::types::ToSql;

#[derive(Debug, Clone)]
pub struct WireBench {
    pub rows: u64,
    pub elapsed: Duration,
    pub rows_per_second: f64,
    pub query: String,
}

/// Starts an endpoint over `engines` on a free loopback port, streams `rows` rows of three
/// columns (bigint, double, text) to a tokio-postgres client and stops it again.
pub async fn bench_wire(engines: Arc<EngineSource>, rows: u64) -> Result<WireBench> {
    let err = |e: &dyn std::fmt::Display| WireError::Bench(e.to_string());
    let server = WireServer::bind(&WireSettings::loopback_any_port()).await?;
    let addr = server.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(engines, async {
        let _ = stopped.await;
    }));
    let query = format!(
        "select value as id, value * 2.5 as amount, concat('row ', value) as label \
         from generate_series(1, {rows})"
    );
    let result = async {
        let (client, connection) = tokio_postgres::connect(
            &format!("host={} port={} user=bench", addr.ip(), addr.port()),
            tokio_postgres::NoTls,
        )
        .await
        .map_err(|e| err(&e))?;
        let driving = tokio::spawn(connection);
        let start = Instant::now();
        let stream = client
            .query_raw(query.as_str(), std::iter::empty::<&dyn ToSql>())
            .await
            .map_err(|e| err(&e))?;
        pin_mut!(stream);
        let mut received = 0u64;
        while let Some(row) = stream.next().await {
            let row = row.map_err(|e| err(&e))?;
            // Decoding a column keeps the client from skipping work a real one would do.
            let _label: &str = row.try_get(2).map_err(|e| err(&e))?;
            received += 1;
        }
        let elapsed = start.elapsed();
        drop(client);
        let _ = driving.await;
        Ok(WireBench {
            rows: received,
            elapsed,
            rows_per_second: received as f64 / elapsed.as_secs_f64().max(1e-9),
            query: query.clone(),
        })
    }
    .await;
    let _ = stop.send(());
    let _ = serving.await;
    result
}
