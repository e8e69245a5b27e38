//! Small warehouses built with the engine, each served by an endpoint on its own runtime thread
//! (tests each have a runtime of their own, which would stop a server they started).

use async_trait::async_trait;
use pulse_project::Project;
use pulse_transform::{Engine, RunOptions, run_models};
use pulse_warehouse::{EngineSource, RegisterViews, WireServer, WireSettings};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub struct Server {
    pub addr: SocketAddr,
    pub engines: Arc<EngineSource>,
    pub root: PathBuf,
}

/// A row of every common type, with NULLs in the last one.
const TYPED: &str = "
select
  cast(column1 as smallint) as i2,
  cast(column2 as int) as i4,
  cast(column3 as bigint) as i8,
  cast(column4 as real) as f4,
  cast(column5 as double) as f8,
  cast(column6 as decimal(12, 2)) as amount,
  cast(column7 as boolean) as flag,
  cast(column8 as varchar) as label,
  cast(column9 as date) as day,
  arrow_cast(cast(column10 as timestamp), 'Timestamp(Microsecond, None)') as at_local,
  arrow_cast(cast(column10 as timestamp), 'Timestamp(Microsecond, Some(\"UTC\"))') as at_utc,
  decode(column11, 'hex') as raw
from (values
  (1, 10, 100, 1.5, 2.25, '12.34', true, 'alpha', '2026-01-02', '2026-01-02 03:04:05.123456', '00ff10'),
  (2, 20, 3000000000, -0.5, 10000000000.5, '-0.01', false, 'beta ünïcode', '1999-12-31', '1999-12-31 23:59:59', '61'),
  (3, 30, -7, 0.25, 3.125, '1000000.50', true, 'it''s \"quoted\"', '2000-02-29', '2000-02-29 12:00:00', ''),
  (null, 40, null, null, null, null, null, null, null, null, null)
)
";

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

fn scratch(name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("wire-{name}"));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("scratch dir");
    write(&root, "pulse.toml", "name = \"wire\"\n");
    root
}

async fn build(root: &Path) {
    let project = Project::load(root).expect("project");
    let engine = Engine::open(&project).await.expect("engine");
    let opts = RunOptions {
        full_refresh: true,
        ..Default::default()
    };
    let reports = run_models(&engine, &project, &opts, &|_| {})
        .await
        .expect("models build");
    assert!(!reports.is_empty());
}

/// One view per "metric", as `pulse serve` registers them.
struct MetricViews;

#[async_trait]
impl RegisterViews for MetricViews {
    async fn register(&self, engine: &Engine) -> Result<(), String> {
        engine
            .register_view(
                Some("metrics"),
                "typed_totals",
                "select count(*) as orders, sum(f8) as total from typed",
            )
            .await
            .map_err(|e| e.to_string())
    }
}

fn start(name: &str, password: Option<&str>, models: &[(&str, &str)]) -> Server {
    let root = scratch(name);
    for (model, sql) in models {
        write(&root, &format!("models/marts/{model}.sql"), sql);
    }
    let password = password.map(str::to_string);
    let (tx, rx) = std::sync::mpsc::channel();
    let thread_root = root.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            build(&thread_root).await;
            let project = Arc::new(Project::load(&thread_root).expect("project"));
            let engines = Arc::new(EngineSource::new(project).with_views(Arc::new(MetricViews)));
            let settings =
                WireSettings::new("127.0.0.1:0".parse().expect("addr"), password).expect("ok");
            let server = WireServer::bind(&settings).await.expect("bind");
            let addr = server.local_addr().expect("addr");
            tx.send((addr, engines.clone())).expect("send");
            server
                .run(engines, std::future::pending::<()>())
                .await
                .expect("serve");
        });
    });
    let (addr, engines) = rx.recv().expect("server started");
    Server {
        addr,
        engines,
        root,
    }
}

const ORDERS: &str =
    "select i4 as id, label as customer, f8 as amount, day as order_date from typed";

pub fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| start("main", None, &[("typed", TYPED), ("orders", ORDERS)]))
}

pub fn with_password(password: &'static str) -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| start("auth", Some(password), &[("typed", TYPED)]))
}

fn growing(rows: u32) -> String {
    format!("select value as n from generate_series(1, {rows})")
}

pub fn rebuildable() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| {
        start(
            "refresh",
            None,
            &[("typed", TYPED), ("growing", &growing(1))],
        )
    })
}

/// What `pulse run` does to the warehouse: the model rebuilt with new rows.
pub async fn rebuild_growing(s: &Server, rows: u32) {
    write(&s.root, "models/marts/growing.sql", &growing(rows));
    build(&s.root).await;
}
