//! Landings from database servers (PostgreSQL, MySQL/MariaDB): one session per source and run,
//! so every table of the source is read in the same snapshot, on at most `max_connections`
//! connections. The commit follows the same path as every landing: parts, manifest, then state
//! with the new watermark, so a crash can re-read but never skip.

use crate::land::{Landing, Outcome, join_error, load_state};
use crate::state::{LandingMode, TableState};
use crate::{Lake, LakeError, LandProgress, LandingReport, RunContext};
use pulse_ingest::mysql::MySession;
use pulse_ingest::postgres::PgSession;
use pulse_ingest::server::{ReadRequest, ServerRead};
use pulse_ingest::{DEFAULT_BATCH_ROWS, IngestError, Sink};
use pulse_project::{ConnectionString, ConnectorKind, Project, Source, SourceTableConfig};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Connections per source unless `max_connections` says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 4;

enum Session {
    Pg(PgSession),
    My(MySession),
}

impl Session {
    fn read(&mut self, req: &ReadRequest, sink: &mut dyn Sink) -> Result<ServerRead, IngestError> {
        match self {
            Session::Pg(s) => s.read(req, sink),
            Session::My(s) => s.read(req, sink),
        }
    }

    fn fingerprint(&mut self, table: &str) -> Result<String, IngestError> {
        match self {
            Session::Pg(s) => s.fingerprint(table),
            Session::My(s) => s.fingerprint(table),
        }
    }
}

type Shared = Arc<Mutex<Session>>;

/// How many connections the source's session opens: what its most parallel table can use,
/// within `max_connections`.
fn connections_for(source: &Source, tables: &[&SourceTableConfig]) -> usize {
    let max = source
        .config
        .max_connections
        .unwrap_or(DEFAULT_MAX_CONNECTIONS)
        .max(1);
    let want = tables
        .iter()
        .map(|t| t.parallel.unwrap_or(1).max(1))
        .max()
        .unwrap_or(1);
    want.min(max) as usize
}

async fn open_session(source: &Source, connections: usize) -> Result<Shared, String> {
    let written = source
        .config
        .url
        .clone()
        .ok_or_else(|| format!("a {} source needs `url`", source.config.connector.as_str()))?;
    let url = ConnectionString::resolve(&written)?;
    let kind = source.config.connector;
    let schema = source.config.schema.clone();
    let session = tokio::task::spawn_blocking(move || match kind {
        ConnectorKind::Postgres => {
            PgSession::open(&url, schema.as_deref().unwrap_or("public"), connections)
                .map(Session::Pg)
        }
        _ => MySession::open(&url, schema.as_deref(), connections).map(Session::My),
    })
    .await
    .map_err(|e| format!("the connecting thread failed: {e}"))?
    .map_err(|e| e.to_string())?;
    Ok(Arc::new(Mutex::new(session)))
}

fn fresh_state(source: &str, table: &str) -> TableState {
    TableState {
        source: source.to_string(),
        table: table.to_string(),
        ..TableState::default()
    }
}

pub(crate) async fn land_source(
    lake: &Lake,
    project: &Project,
    source: &Source,
    ctx: &RunContext,
    progress: &(dyn Fn(&str, LandProgress) + Send + Sync),
) -> Vec<(String, Result<LandingReport, LakeError>)> {
    let mut out = Vec::new();
    if !source.config.connector.is_server() {
        for table in &source.config.tables {
            let p = |lp: LandProgress| progress(&table.name, lp);
            let r = lake.land_table(project, source, table, ctx, &p).await;
            out.push((table.name.clone(), r));
        }
        return out;
    }
    let tables: Vec<&SourceTableConfig> = source.config.tables.iter().collect();
    let session = match open_session(source, connections_for(source, &tables)).await {
        Ok(s) => s,
        Err(message) => {
            // Nothing can be read: every table says why, and nothing landed before is touched.
            for t in &tables {
                out.push((
                    t.name.clone(),
                    Err(LakeError::Config {
                        table: format!("{}.{}", source.name, t.name),
                        message: message.clone(),
                    }),
                ));
            }
            return out;
        }
    };
    for table in tables {
        let p = |lp: LandProgress| progress(&table.name, lp);
        let r = land_with(lake, source, table, ctx, &p, session.clone()).await;
        out.push((table.name.clone(), r));
    }
    release(session).await;
    out
}

/// Closes the session's connections off the async threads: the PostgreSQL client owns a
/// runtime of its own, which must not be dropped inside another.
async fn release(session: Shared) {
    let _ = tokio::task::spawn_blocking(move || drop(session)).await;
}

async fn land_with(
    lake: &Lake,
    source: &Source,
    table: &SourceTableConfig,
    ctx: &RunContext,
    progress: &(dyn Fn(LandProgress) + Send + Sync),
    session: Shared,
) -> Result<LandingReport, LakeError> {
    let started = Instant::now();
    let state = load_state(lake, &source.name, &table.name)
        .await?
        .unwrap_or_else(|| fresh_state(&source.name, &table.name));
    let mut landing = Landing::new(lake, &source.name, &table.name, ctx, progress);
    match land_server(&mut landing, source, table, state, session).await {
        Ok(mut report) => {
            report.seconds = started.elapsed().as_secs_f64();
            Ok(report)
        }
        Err(e) => {
            landing.cleanup().await;
            Err(e)
        }
    }
}

/// `Lake::land_table` on a server source: a session of its own for the one table.
pub(crate) async fn land_one(
    landing: &mut Landing<'_>,
    source: &Source,
    table: &SourceTableConfig,
    state: TableState,
) -> Result<LandingReport, LakeError> {
    let session = open_session(source, connections_for(source, &[table]))
        .await
        .map_err(|message| LakeError::Config {
            table: landing.label.clone(),
            message,
        })?;
    let result = land_server(landing, source, table, state, session.clone()).await;
    release(session).await;
    result
}

async fn land_server(
    landing: &mut Landing<'_>,
    source: &Source,
    table: &SourceTableConfig,
    mut state: TableState,
    session: Shared,
) -> Result<LandingReport, LakeError> {
    let label = landing.label.clone();
    let cursor = table.cursor.clone();
    let mut outcome = Outcome {
        connector: source.config.connector,
        mode: if cursor.is_some() {
            LandingMode::Append
        } else {
            LandingMode::Snapshot
        },
        schema: None,
        rows: 0,
        input_bytes: 0,
        watermark_before: state.watermark.clone(),
        watermark_after: state.watermark.clone(),
        files_seen: 0,
        files_skipped: 0,
    };
    let poisoned = || IngestError::Stopped("an earlier read of this source failed".to_string());

    // A table without cursor lands whole, but only when its content (hashed in the snapshot)
    // changed since the last landing.
    let snapshot_hash = if cursor.is_none() {
        let (s, name) = (session.clone(), table.name.clone());
        let hash = tokio::task::spawn_blocking(move || {
            s.lock().map_err(|_| poisoned())?.fingerprint(&name)
        })
        .await
        .map_err(|e| join_error(&label, e))?
        .map_err(|e| LakeError::ingest(&label, e))?;
        if state.snapshot_hash.as_deref() == Some(hash.as_str()) && state.last_run_id.is_some() {
            return Ok(landing.nothing_new(&outcome).await);
        }
        Some(hash)
    } else {
        None
    };

    let split_by = table
        .split_by
        .clone()
        .or_else(|| match table.primary_key.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        });
    let req = ReadRequest {
        table: table.name.clone(),
        cursor: cursor.clone(),
        after: if cursor.is_some() {
            state.watermark.clone()
        } else {
            None
        },
        parallel: table.parallel.unwrap_or(1).max(1) as usize,
        split_by,
        batch_rows: DEFAULT_BATCH_ROWS,
    };
    let read = landing
        .drive(0, move |sink| {
            session.lock().map_err(|_| poisoned())?.read(&req, sink)
        })
        .await?;
    landing.warnings = read.warnings.clone();
    landing
        .warnings
        .extend(schema_changes(&state, &read.schema));
    outcome.input_bytes = read.bytes_read;
    outcome.rows = read.rows;
    outcome.schema = Some(read.schema.clone());
    if cursor.is_some() {
        // Nothing past the watermark on a table that has landed before: nothing to write.
        // The first landing goes ahead even when empty, so the table exists for readers.
        if read.rows == 0 && state.last_run_id.is_some() {
            return Ok(landing.nothing_new(&outcome).await);
        }
        outcome.watermark_after = read.max_cursor.clone().or(state.watermark.clone());
        state.watermark = outcome.watermark_after.clone();
    }
    state.snapshot_hash = snapshot_hash;
    landing.commit(outcome, state).await
}

/// What changed in the table's columns since the last landing. An added column needs no word:
/// it simply appears. A dropped or retyped one may break the models that use it, so it is said.
fn schema_changes(state: &TableState, schema: &arrow::datatypes::Schema) -> Vec<String> {
    let mut out = Vec::new();
    for before in &state.schema {
        match schema.field_with_name(&before.name) {
            Err(_) => out.push(format!(
                "column {} no longer exists in the source: earlier landings keep it, new rows do not have it",
                before.name
            )),
            Ok(f) if f.data_type().to_string() != before.data_type => out.push(format!(
                "column {} changed type from {} to {}: models reading both landings may fail",
                before.name,
                before.data_type,
                f.data_type()
            )),
            Ok(_) => {}
        }
    }
    out
}
