//! One connection per store, owned by a dedicated thread that runs jobs in order. The same SQL
//! (written with `$n` placeholders, times as integer microseconds, everything else as text)
//! runs on both backends, so each store operation is written once, as a synchronous
//! transaction, and neither rusqlite's blocking calls nor a PostgreSQL round trip ever runs on
//! the async runtime's threads.

use crate::error::OrchestrateError;
use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;

/// A parameter. Nulls are typed because PostgreSQL checks a parameter's Rust type against the
/// column's.
#[derive(Debug, Clone)]
pub(crate) enum P {
    I(i64),
    T(String),
    NullI,
    NullT,
}

impl P {
    pub(crate) fn t(s: &str) -> P {
        P::T(s.to_string())
    }

    pub(crate) fn opt_i(v: Option<i64>) -> P {
        v.map_or(P::NullI, P::I)
    }

    pub(crate) fn opt_t(v: Option<&str>) -> P {
        v.map_or(P::NullT, P::t)
    }
}

/// A value read back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum V {
    Null,
    I(i64),
    T(String),
}

impl V {
    pub(crate) fn i(&self) -> Option<i64> {
        match self {
            V::I(i) => Some(*i),
            V::T(t) => t.parse().ok(),
            V::Null => None,
        }
    }

    pub(crate) fn t(&self) -> Option<String> {
        match self {
            V::T(t) => Some(t.clone()),
            V::I(i) => Some(i.to_string()),
            V::Null => None,
        }
    }
}

pub(crate) type Row = Vec<V>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

pub(crate) trait Db {
    fn dialect(&self) -> Dialect;
    fn query(&mut self, sql: &str, params: &[P]) -> Result<Vec<Row>, OrchestrateError>;
    fn execute(&mut self, sql: &str, params: &[P]) -> Result<u64, OrchestrateError>;
    fn batch(&mut self, sql: &str) -> Result<(), OrchestrateError>;
}

/// Runs `f` in a transaction, again from the start when the database reports a conflict that
/// a retry resolves (a PostgreSQL deadlock or serialization failure, SQLite busy).
pub(crate) fn transaction<T>(
    db: &mut dyn Db,
    mut f: impl FnMut(&mut dyn Db) -> Result<T, OrchestrateError>,
) -> Result<T, OrchestrateError> {
    let begin = match db.dialect() {
        // Taking the write lock up front is what makes claims exclusive on SQLite: two
        // processes cannot both read a task as queued and then both claim it.
        Dialect::Sqlite => "BEGIN IMMEDIATE",
        Dialect::Postgres => "BEGIN",
    };
    let mut tries = 0;
    loop {
        tries += 1;
        let result = db.batch(begin).and_then(|_| f(db));
        let result = match result {
            Ok(v) => db.batch("COMMIT").map(|_| v),
            Err(e) => {
                let _ = db.batch("ROLLBACK");
                Err(e)
            }
        };
        match result {
            Err(e) if tries < 8 && is_transient(&e) => {
                std::thread::sleep(std::time::Duration::from_millis(10 * tries));
            }
            other => return other,
        }
    }
}

/// The PostgreSQL connection went away (server restart, network): the next statement
/// reconnects, so the operation can simply be tried again.
pub(crate) fn is_connection_lost(e: &OrchestrateError) -> bool {
    let OrchestrateError::Postgres(pg) = e else {
        return false;
    };
    // Class 57 (operator intervention: the server shuts down or the backend was terminated)
    // and class 08 (connection exception) end the session.
    pg.is_closed()
        || pg
            .code()
            .is_some_and(|c| c.code().starts_with("57") || c.code().starts_with("08"))
}

fn is_transient(e: &OrchestrateError) -> bool {
    match e {
        OrchestrateError::Postgres(pg) => {
            is_connection_lost(e)
                || pg.code().is_some_and(|c| {
                    *c == tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED
                        || *c == tokio_postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
                })
        }
        OrchestrateError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => matches!(
            f.code,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
        ),
        _ => false,
    }
}

pub(crate) struct SqliteDb {
    conn: rusqlite::Connection,
}

impl SqliteDb {
    pub(crate) fn open(path: &Path) -> Result<Self, OrchestrateError> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                OrchestrateError::Store(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let conn = rusqlite::Connection::open(path)?;
        // WAL lets readers (the web UI) go on while a worker writes; the busy timeout makes a
        // second process wait for the write lock instead of failing.
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Self { conn })
    }
}

fn sqlite_sql(sql: &str) -> String {
    // `?N` is SQLite's numbered parameter, the same meaning as PostgreSQL's `$N`.
    sql.replace('$', "?")
}

fn bind_sqlite(params: &[P]) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value;
    params
        .iter()
        .map(|p| match p {
            P::I(i) => Value::Integer(*i),
            P::T(t) => Value::Text(t.clone()),
            P::NullI | P::NullT => Value::Null,
        })
        .collect()
}

impl Db for SqliteDb {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn query(&mut self, sql: &str, params: &[P]) -> Result<Vec<Row>, OrchestrateError> {
        let mut stmt = self.conn.prepare_cached(&sqlite_sql(sql))?;
        let n = stmt.column_count();
        let values = bind_sqlite(params);
        let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut r = Vec::with_capacity(n);
            for i in 0..n {
                use rusqlite::types::ValueRef;
                r.push(match row.get_ref(i)? {
                    ValueRef::Null => V::Null,
                    ValueRef::Integer(i) => V::I(i),
                    ValueRef::Real(f) => V::I(f as i64),
                    ValueRef::Text(t) => V::T(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => V::T(String::from_utf8_lossy(b).into_owned()),
                });
            }
            out.push(r);
        }
        Ok(out)
    }

    fn execute(&mut self, sql: &str, params: &[P]) -> Result<u64, OrchestrateError> {
        let mut stmt = self.conn.prepare_cached(&sqlite_sql(sql))?;
        let values = bind_sqlite(params);
        Ok(stmt.execute(rusqlite::params_from_iter(values.iter()))? as u64)
    }

    fn batch(&mut self, sql: &str) -> Result<(), OrchestrateError> {
        Ok(self.conn.execute_batch(sql)?)
    }
}

pub(crate) struct PgDb {
    rt: tokio::runtime::Runtime,
    url: String,
    client: tokio_postgres::Client,
    statements: HashMap<String, tokio_postgres::Statement>,
    /// Set when a statement found the session ended, before the client itself may know.
    broken: bool,
}

fn pg_connect(
    rt: &tokio::runtime::Runtime,
    url: &str,
) -> Result<tokio_postgres::Client, OrchestrateError> {
    let (client, connection) = rt.block_on(tokio_postgres::connect(url, tokio_postgres::NoTls))?;
    rt.spawn(async move {
        if let Err(e) = connection.await {
            tracing::error!("metadata store connection closed: {e}");
        }
    });
    Ok(client)
}

impl PgDb {
    pub(crate) fn connect(url: &str) -> Result<Self, OrchestrateError> {
        // A runtime of this thread's own: the store thread is not a runtime thread, so blocking
        // on it here is allowed, and the caller's runtime is never blocked.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| OrchestrateError::Store(format!("cannot start a runtime: {e}")))?;
        let client = pg_connect(&rt, url)?;
        Ok(Self {
            rt,
            url: url.to_string(),
            client,
            statements: HashMap::new(),
            broken: false,
        })
    }

    /// A long-running worker outlives a server restart: a closed connection is opened again
    /// before the next statement (its transaction, if any, was rolled back by the server).
    fn ensure_connected(&mut self) -> Result<(), OrchestrateError> {
        if self.broken || self.client.is_closed() {
            tracing::warn!("metadata store connection lost; reconnecting");
            self.client = pg_connect(&self.rt, &self.url)?;
            self.statements.clear();
            self.broken = false;
        }
        Ok(())
    }

    fn note<T>(&mut self, r: Result<T, tokio_postgres::Error>) -> Result<T, OrchestrateError> {
        let r = r.map_err(OrchestrateError::from);
        if let Err(e) = &r
            && is_connection_lost(e)
        {
            self.broken = true;
        }
        r
    }

    fn statement(&mut self, sql: &str) -> Result<tokio_postgres::Statement, OrchestrateError> {
        self.ensure_connected()?;
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let prepared = self.rt.block_on(self.client.prepare(sql));
        let s = self.note(prepared)?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

type PgParam = Box<dyn tokio_postgres::types::ToSql + Sync + Send>;

fn bind_pg(params: &[P]) -> Vec<PgParam> {
    params
        .iter()
        .map(|p| -> PgParam {
            match p {
                P::I(i) => Box::new(*i),
                P::T(t) => Box::new(t.clone()),
                P::NullI => Box::new(None::<i64>),
                P::NullT => Box::new(None::<String>),
            }
        })
        .collect()
}

fn param_refs(owned: &[PgParam]) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
    owned
        .iter()
        .map(|b| b.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect()
}

impl Db for PgDb {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn query(&mut self, sql: &str, params: &[P]) -> Result<Vec<Row>, OrchestrateError> {
        use tokio_postgres::types::Type;
        let stmt = self.statement(sql)?;
        let owned = bind_pg(params);
        let result = self
            .rt
            .block_on(self.client.query(&stmt, &param_refs(&owned)));
        let rows = self.note(result)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut r = Vec::with_capacity(row.len());
            for (i, col) in row.columns().iter().enumerate() {
                let t = col.type_();
                let v = if *t == Type::INT8 {
                    row.try_get::<_, Option<i64>>(i)?.map(V::I)
                } else if *t == Type::INT4 {
                    row.try_get::<_, Option<i32>>(i)?.map(|v| V::I(v.into()))
                } else if *t == Type::INT2 {
                    row.try_get::<_, Option<i16>>(i)?.map(|v| V::I(v.into()))
                } else if *t == Type::BOOL {
                    row.try_get::<_, Option<bool>>(i)?.map(|v| V::I(v.into()))
                } else {
                    row.try_get::<_, Option<String>>(i)?.map(V::T)
                };
                r.push(v.unwrap_or(V::Null));
            }
            out.push(r);
        }
        Ok(out)
    }

    fn execute(&mut self, sql: &str, params: &[P]) -> Result<u64, OrchestrateError> {
        let stmt = self.statement(sql)?;
        let owned = bind_pg(params);
        let result = self
            .rt
            .block_on(self.client.execute(&stmt, &param_refs(&owned)));
        self.note(result)
    }

    fn batch(&mut self, sql: &str) -> Result<(), OrchestrateError> {
        self.ensure_connected()?;
        let result = self.rt.block_on(self.client.batch_execute(sql));
        self.note(result)
    }
}

type Job = Box<dyn FnOnce(&mut dyn Db) + Send>;

/// The sending end of a store thread; the thread ends when the last clone is dropped.
pub(crate) struct Worker {
    jobs: mpsc::Sender<Job>,
}

impl Worker {
    pub(crate) async fn start(
        open: impl FnOnce() -> Result<Box<dyn Db>, OrchestrateError> + Send + 'static,
    ) -> Result<Worker, OrchestrateError> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("pulse-metadata".into())
            .spawn(move || {
                let mut db = match open() {
                    Ok(db) => {
                        let _ = ready_tx.send(Ok(()));
                        db
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                while let Ok(job) = rx.recv() {
                    job(db.as_mut());
                }
            })
            .map_err(|e| OrchestrateError::Store(format!("cannot start the store thread: {e}")))?;
        ready_rx.await.map_err(|_| {
            OrchestrateError::Store("the store thread stopped while opening".into())
        })??;
        Ok(Worker { jobs })
    }

    /// Queues `f` without waiting for it; jobs run in the order queued, so a later call sees
    /// its effect.
    pub(crate) fn send(&self, f: impl FnOnce(&mut dyn Db) + Send + 'static) -> bool {
        self.jobs.send(Box::new(f)).is_ok()
    }

    pub(crate) async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Db) -> Result<T, OrchestrateError> + Send + 'static,
    ) -> Result<T, OrchestrateError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |db| {
                let _ = tx.send(f(db));
            }))
            .map_err(|_| OrchestrateError::Store("the store thread has stopped".into()))?;
        rx.await
            .map_err(|_| OrchestrateError::Store("the store thread stopped during a call".into()))?
    }
}
