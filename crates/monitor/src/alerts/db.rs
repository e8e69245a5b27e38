//! The alert store's connection: one per store, owned by a thread of its own that runs jobs in
//! order, so neither rusqlite's blocking calls nor a PostgreSQL round trip runs on the async
//! runtime. One SQL text serves both databases: `$n` placeholders, times as integer
//! microseconds, everything else as text.

use crate::error::{MonitorError, Result};
use std::path::Path;
use std::sync::mpsc;

/// A parameter; nulls are typed because PostgreSQL checks a parameter's type.
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
    fn query(&mut self, sql: &str, params: &[P]) -> Result<Vec<Row>>;
    fn execute(&mut self, sql: &str, params: &[P]) -> Result<u64>;
    fn batch(&mut self, sql: &str) -> Result<()>;
}

fn is_transient(e: &MonitorError) -> bool {
    match e {
        MonitorError::Postgres(pg) => {
            pg.is_closed()
                || pg.code().is_some_and(|c| {
                    *c == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
                        || *c == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
                })
        }
        MonitorError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => matches!(
            f.code,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
        ),
        _ => false,
    }
}

/// Runs `f` in a transaction, again from the start after a conflict a retry resolves.
pub(crate) fn transaction<T>(
    db: &mut dyn Db,
    mut f: impl FnMut(&mut dyn Db) -> Result<T>,
) -> Result<T> {
    let begin = match db.dialect() {
        // The write lock up front: two processes never both read an incident as new.
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

pub(crate) struct SqliteDb {
    conn: rusqlite::Connection,
}

impl SqliteDb {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                MonitorError::Store(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(Self { conn })
    }
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

    fn query(&mut self, sql: &str, params: &[P]) -> Result<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(&sql.replace('$', "?"))?;
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
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        V::T(String::from_utf8_lossy(t).into_owned())
                    }
                });
            }
            out.push(r);
        }
        Ok(out)
    }

    fn execute(&mut self, sql: &str, params: &[P]) -> Result<u64> {
        let mut stmt = self.conn.prepare_cached(&sql.replace('$', "?"))?;
        let values = bind_sqlite(params);
        Ok(stmt.execute(rusqlite::params_from_iter(values.iter()))? as u64)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.conn.execute_batch(sql)?)
    }
}

/// The synchronous client: it runs its own small runtime, which is allowed here because the
/// store thread is not a runtime thread.
pub(crate) struct PgDb {
    url: String,
    client: postgres::Client,
    broken: bool,
}

impl PgDb {
    pub(crate) fn connect(url: &str) -> Result<Self> {
        Ok(Self {
            url: url.to_string(),
            client: postgres::Client::connect(url, postgres::NoTls)?,
            broken: false,
        })
    }

    /// A long-running server outlives a database restart: reconnect before the next
    /// statement.
    fn ensure(&mut self) -> Result<()> {
        if self.broken || self.client.is_closed() {
            tracing::warn!("alert store connection lost; reconnecting");
            self.client = postgres::Client::connect(&self.url, postgres::NoTls)?;
            self.broken = false;
        }
        Ok(())
    }

    fn note<T>(&mut self, r: Result<T, postgres::Error>) -> Result<T> {
        if let Err(e) = &r
            && (e.is_closed()
                || e.code()
                    .is_some_and(|c| c.code().starts_with("57") || c.code().starts_with("08")))
        {
            self.broken = true;
        }
        r.map_err(MonitorError::from)
    }
}

type PgParam = Box<dyn postgres::types::ToSql + Sync + Send>;

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

fn refs(owned: &[PgParam]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    owned
        .iter()
        .map(|b| b.as_ref() as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

impl Db for PgDb {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn query(&mut self, sql: &str, params: &[P]) -> Result<Vec<Row>> {
        use postgres::types::Type;
        self.ensure()?;
        let owned = bind_pg(params);
        let result = self.client.query(sql, &refs(&owned));
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

    fn execute(&mut self, sql: &str, params: &[P]) -> Result<u64> {
        self.ensure()?;
        let owned = bind_pg(params);
        let result = self.client.execute(sql, &refs(&owned));
        self.note(result)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.ensure()?;
        let result = self.client.batch_execute(sql);
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
        open: impl FnOnce() -> Result<Box<dyn Db>> + Send + 'static,
    ) -> Result<Worker> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("pulse-alerts".into())
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
            .map_err(|e| {
                MonitorError::Store(format!("cannot start the alert store thread: {e}"))
            })?;
        ready_rx.await.map_err(|_| {
            MonitorError::Store("the alert store thread stopped while opening".into())
        })??;
        Ok(Worker { jobs })
    }

    pub(crate) async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Db) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |db| {
                let _ = tx.send(f(db));
            }))
            .map_err(|_| MonitorError::Store("the alert store thread has stopped".into()))?;
        rx.await.map_err(|_| {
            MonitorError::Store("the alert store thread stopped during a call".into())
        })?
    }
}
