//! Backends and a scripted task runner shared by the tests.

use futures::future::BoxFuture;
use pulse_orchestrate::{
    ExecutorOptions, Store, TaskContext, TaskKind, TaskOutput, TaskRunner, TaskSpec,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A store in a fresh place: a SQLite file in a temporary folder, or a PostgreSQL schema of its
/// own that is dropped when this is dropped.
pub struct TestStore {
    pub store: Store,
    pub url: String,
    /// PostgreSQL: the schema, also the connections' application name.
    pub pg_schema_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
    pg_schema: Option<String>,
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some(schema) = self.pg_schema.take() {
            // Dropped inside a test's runtime: do the async clean-up on a thread of its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    if let Ok((client, conn)) =
                        tokio_postgres::connect(PG_URL, tokio_postgres::NoTls).await
                    {
                        tokio::spawn(conn);
                        let _ = client
                            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

fn unique() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    format!("{:012x}", h.finish() & 0xffff_ffff_ffff)
}

pub async fn open(backend: Backend) -> TestStore {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = "sqlite://.pulse/metadata.sqlite".to_string();
            let store = Store::open(&url, dir.path())
                .await
                .expect("open sqlite store");
            let url = format!(
                "sqlite://{}",
                dir.path().join(".pulse/metadata.sqlite").display()
            );
            TestStore {
                store,
                url,
                pg_schema_name: None,
                _dir: Some(dir),
                pg_schema: None,
            }
        }
        Backend::Postgres => {
            let schema = format!("pulse_test_{}", unique());
            let (client, conn) = tokio_postgres::connect(PG_URL, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "these tests need the PostgreSQL server at {PG_URL} (trust auth, database `test`) and it is not reachable: {e}. \
                         Start it (scripts/test.sh starts or installs it) and run the tests again."
                    )
                });
            tokio::spawn(conn);
            client
                .batch_execute(&format!("CREATE SCHEMA {schema}"))
                .await
                .expect("create test schema");
            // The application name lets a test find this store's own server connection.
            let url =
                format!("{PG_URL}?options=-csearch_path%3D{schema}&application_name={schema}");
            let store = Store::open(&url, std::path::Path::new("."))
                .await
                .expect("open postgres store");
            TestStore {
                store,
                url,
                pg_schema_name: Some(schema.clone()),
                _dir: None,
                pg_schema: Some(schema),
            }
        }
    }
}

pub fn spec(id: &str, up: &[&str]) -> TaskSpec {
    TaskSpec {
        id: id.to_string(),
        kind: TaskKind::Model,
        target: id.trim_start_matches("model:").to_string(),
        tags: Vec::new(),
        upstream: up.iter().map(|s| s.to_string()).collect(),
    }
}

pub fn fast_options(worker: &str) -> ExecutorOptions {
    ExecutorOptions {
        worker_id: worker.to_string(),
        parallelism: 4,
        retry_delay: Duration::from_millis(100),
        max_retry_delay: Duration::from_secs(5),
        timeout: Duration::from_secs(30),
        lease: Duration::from_secs(3),
        poll_interval: Duration::from_millis(10),
    }
}

/// What one task does in a test.
#[derive(Debug, Clone, Default)]
pub struct Script {
    pub sleep: Duration,
    /// The first this many attempts fail.
    pub fail_times: u32,
    pub hang: bool,
    pub skip: bool,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub run_id: String,
    pub task_id: String,
    pub attempt: u32,
    pub start: Instant,
    pub end: Instant,
    pub ok: bool,
}

/// Runs tasks by script and records when each attempt started and ended.
#[derive(Default)]
pub struct ScriptedRunner {
    pub scripts: HashMap<String, Script>,
    pub default_sleep: Duration,
    pub events: Mutex<Vec<Event>>,
    attempts: Mutex<HashMap<(String, String), u32>>,
}

impl ScriptedRunner {
    pub fn new(default_sleep: Duration) -> Self {
        Self {
            default_sleep,
            ..Default::default()
        }
    }

    pub fn with(mut self, task: &str, script: Script) -> Self {
        self.scripts.insert(task.to_string(), script);
        self
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.lock().expect("lock").clone()
    }

    pub fn ran(&self, task: &str) -> Vec<Event> {
        self.events()
            .into_iter()
            .filter(|e| e.task_id == task)
            .collect()
    }
}

pub struct Shared(pub Arc<ScriptedRunner>);

impl TaskRunner for Shared {
    fn run(&self, ctx: TaskContext) -> BoxFuture<'static, Result<TaskOutput, String>> {
        let me = self.0.clone();
        Box::pin(async move {
            let script = me.scripts.get(&ctx.task_id).cloned().unwrap_or(Script {
                sleep: me.default_sleep,
                ..Default::default()
            });
            let seen = {
                let mut a = me.attempts.lock().expect("lock");
                let n = a
                    .entry((ctx.run_id.clone(), ctx.task_id.clone()))
                    .or_default();
                *n += 1;
                *n
            };
            let start = Instant::now();
            ctx.log.info(format!("working on {}", ctx.target));
            if script.hang {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            tokio::time::sleep(script.sleep).await;
            let ok = seen > script.fail_times;
            me.events.lock().expect("lock").push(Event {
                run_id: ctx.run_id.clone(),
                task_id: ctx.task_id.clone(),
                attempt: ctx.attempt,
                start,
                end: Instant::now(),
                ok,
            });
            if ok {
                Ok(TaskOutput {
                    rows: 10,
                    bytes: 100,
                    skipped: script.skip,
                })
            } else {
                Err(format!("scripted failure {seen}"))
            }
        })
    }
}
