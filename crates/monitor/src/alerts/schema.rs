//! The alert store's tables, beside the orchestrator's in the same database and prefixed
//! `monitor_`, with a version table of their own (`monitor_schema_version`) so the two schemas
//! upgrade independently.

use super::db::{Db, Dialect, P, transaction};
use crate::error::{MonitorError, Result};

fn v1(d: Dialect) -> String {
    let id = match d {
        Dialect::Sqlite => "id INTEGER PRIMARY KEY AUTOINCREMENT",
        Dialect::Postgres => "id BIGSERIAL PRIMARY KEY",
    };
    format!(
        "
CREATE TABLE monitor_incidents (
  {id},
  incident_key TEXT NOT NULL,
  rule TEXT NOT NULL,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  node TEXT,
  severity TEXT NOT NULL,
  owner TEXT,
  summary TEXT NOT NULL,
  involved TEXT NOT NULL,
  details TEXT NOT NULL,
  state TEXT NOT NULL,
  opened_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,
  resolved_at BIGINT,
  inhibited_by BIGINT,
  silenced_by BIGINT,
  notified BIGINT NOT NULL DEFAULT 0,
  resolve_notified BIGINT NOT NULL DEFAULT 0,
  held_back TEXT NOT NULL DEFAULT '[]'
);
-- At most one open incident per key, whichever process evaluates.
CREATE UNIQUE INDEX monitor_incidents_open ON monitor_incidents (incident_key) WHERE state = 'open';
CREATE INDEX monitor_incidents_by_state ON monitor_incidents (state, resolved_at);
CREATE INDEX monitor_incidents_by_opened ON monitor_incidents (opened_at);
CREATE TABLE monitor_notifications (
  {id},
  incident_id BIGINT NOT NULL,
  event TEXT NOT NULL,
  notifier TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  next_try_at BIGINT NOT NULL,
  lease_until BIGINT,
  last_error TEXT,
  created_at BIGINT NOT NULL,
  sent_at BIGINT,
  UNIQUE (incident_id, event, notifier)
);
CREATE INDEX monitor_notifications_due ON monitor_notifications (state, next_try_at);
CREATE TABLE monitor_silences (
  {id},
  matcher TEXT NOT NULL,
  starts_at BIGINT NOT NULL,
  ends_at BIGINT NOT NULL,
  comment TEXT NOT NULL,
  created_by TEXT,
  created_at BIGINT NOT NULL
);
CREATE TABLE monitor_events (
  {id},
  incident_id BIGINT NOT NULL,
  at BIGINT NOT NULL,
  event TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX monitor_events_by_incident ON monitor_events (incident_id, id);
"
    )
}

fn migrations(d: Dialect) -> Vec<String> {
    vec![v1(d)]
}

pub(crate) fn migrate(db: &mut dyn Db) -> Result<()> {
    let dialect = db.dialect();
    transaction(db, |db| {
        if dialect == Dialect::Postgres {
            // Two servers starting together must not both create the tables.
            db.batch("SELECT pg_advisory_xact_lock(727384502)")?;
        }
        db.batch("CREATE TABLE IF NOT EXISTS monitor_schema_version (version BIGINT NOT NULL)")?;
        let current = db
            .query("SELECT MAX(version) FROM monitor_schema_version", &[])?
            .first()
            .and_then(|r| r[0].i())
            .unwrap_or(0);
        let all = migrations(dialect);
        if current > all.len() as i64 {
            return Err(MonitorError::Store(format!(
                "the alert store has schema version {current}, newer than this pulse knows ({}); upgrade pulse",
                all.len()
            )));
        }
        for (i, sql) in all.iter().enumerate().skip(current as usize) {
            db.batch(sql)?;
            db.execute(
                "INSERT INTO monitor_schema_version (version) VALUES ($1)",
                &[P::I(i as i64 + 1)],
            )?;
        }
        Ok(())
    })
}
