//! Versioned schema: each migration runs once, in order, in one transaction, and the version
//! reached is recorded, so a newer pulse upgrades an older store in place.

use super::db::{Db, Dialect, P, transaction};
use crate::error::OrchestrateError;

const V1: &str = "
CREATE TABLE runs (
  run_id TEXT PRIMARY KEY,
  logical_date TEXT NOT NULL,
  state TEXT NOT NULL,
  trigger_kind TEXT NOT NULL,
  schedule TEXT,
  created_at BIGINT NOT NULL,
  started_at BIGINT,
  ended_at BIGINT,
  sla_missed BIGINT NOT NULL DEFAULT 0
);
-- The grid pages through runs newest first by this key; never a scan of all runs.
CREATE INDEX runs_by_created ON runs (created_at, run_id);
CREATE INDEX runs_by_state ON runs (state);
CREATE INDEX runs_by_schedule ON runs (schedule, sla_missed);
CREATE TABLE task_instances (
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  kind TEXT NOT NULL,
  target TEXT NOT NULL,
  state TEXT NOT NULL,
  attempt BIGINT NOT NULL DEFAULT 0,
  max_attempts BIGINT NOT NULL,
  tries BIGINT NOT NULL,
  upstream TEXT NOT NULL,
  queued_at BIGINT NOT NULL,
  started_at BIGINT,
  ended_at BIGINT,
  next_try_at BIGINT,
  worker TEXT,
  lease_until BIGINT,
  rows_out BIGINT NOT NULL DEFAULT 0,
  bytes_out BIGINT NOT NULL DEFAULT 0,
  error TEXT,
  PRIMARY KEY (run_id, task_id)
);
-- Claims look for queued and due tasks, reaping for running ones: few rows of many.
CREATE INDEX tasks_by_state ON task_instances (state, next_try_at);
CREATE TABLE task_deps (
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  upstream_id TEXT NOT NULL,
  PRIMARY KEY (run_id, task_id, upstream_id)
);
CREATE INDEX deps_by_upstream ON task_deps (run_id, upstream_id);
CREATE TABLE schedule_fires (
  schedule TEXT NOT NULL,
  fire_at BIGINT NOT NULL,
  run_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (schedule, fire_at)
);
";

fn logs_table(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => {
            "CREATE TABLE task_logs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL, task_id TEXT NOT NULL, attempt BIGINT NOT NULL,
  ts BIGINT NOT NULL, level TEXT NOT NULL, message TEXT NOT NULL);
CREATE INDEX logs_by_task ON task_logs (run_id, task_id, id);"
        }
        Dialect::Postgres => {
            "CREATE TABLE task_logs (
  id BIGSERIAL PRIMARY KEY,
  run_id TEXT NOT NULL, task_id TEXT NOT NULL, attempt BIGINT NOT NULL,
  ts BIGINT NOT NULL, level TEXT NOT NULL, message TEXT NOT NULL);
CREATE INDEX logs_by_task ON task_logs (run_id, task_id, id);"
        }
    }
}

/// Claims walk queued tasks in run and graph order and stop at the first ready ones.
const V2: &str = "CREATE INDEX tasks_ready ON task_instances (state, run_id, seq);";

/// The migrations in order; the index + 1 is the version each brings the store to.
fn migrations(d: Dialect) -> Vec<String> {
    vec![format!("{V1}\n{}", logs_table(d)), V2.to_string()]
}

pub(crate) fn migrate(db: &mut dyn Db) -> Result<(), OrchestrateError> {
    let dialect = db.dialect();
    transaction(db, |db| {
        if dialect == Dialect::Postgres {
            // Two workers starting together must not both create the tables.
            db.batch("SELECT pg_advisory_xact_lock(727384501)")?;
        }
        db.batch("CREATE TABLE IF NOT EXISTS pulse_schema_version (version BIGINT NOT NULL)")?;
        let current = db
            .query("SELECT MAX(version) FROM pulse_schema_version", &[])?
            .first()
            .and_then(|r| r[0].i())
            .unwrap_or(0);
        let all = migrations(dialect);
        if current > all.len() as i64 {
            return Err(OrchestrateError::Store(format!(
                "the metadata store has schema version {current}, newer than this pulse knows ({}); upgrade pulse",
                all.len()
            )));
        }
        for (i, sql) in all.iter().enumerate().skip(current as usize) {
            db.batch(sql)?;
            db.execute(
                "INSERT INTO pulse_schema_version (version) VALUES ($1)",
                &[P::I(i as i64 + 1)],
            )?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::SqliteDb;

    fn version(db: &mut dyn Db) -> Option<i64> {
        db.query("SELECT MAX(version) FROM pulse_schema_version", &[])
            .expect("version")
            .first()
            .and_then(|r| r[0].i())
    }

    #[test]
    fn an_older_store_is_upgraded_in_place_and_a_newer_one_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut db = SqliteDb::open(&dir.path().join("m.sqlite")).expect("open");
        // A store as version 1 left it.
        db.batch("CREATE TABLE pulse_schema_version (version BIGINT NOT NULL)")
            .expect("create");
        db.batch(&migrations(Dialect::Sqlite)[0]).expect("v1");
        db.execute("INSERT INTO pulse_schema_version (version) VALUES (1)", &[])
            .expect("v1 recorded");
        migrate(&mut db).expect("upgrade");
        assert_eq!(
            version(&mut db),
            Some(migrations(Dialect::Sqlite).len() as i64)
        );
        let idx = db
            .query(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'tasks_ready'",
                &[],
            )
            .expect("index");
        assert_eq!(idx.len(), 1);
        migrate(&mut db).expect("a second migrate changes nothing");
        db.execute(
            "INSERT INTO pulse_schema_version (version) VALUES (99)",
            &[],
        )
        .expect("future");
        let e = migrate(&mut db).expect_err("too new");
        assert!(e.to_string().contains("upgrade pulse"), "{e}");
    }
}
