//! Landings from the running PostgreSQL and MariaDB servers (scripts/services.sh starts them):
//! one snapshot per source, failures isolated per table, schema changes, and the end-to-end
//! check that raw landings deduplicated by key equal the servers' current state, also after a
//! landing process was killed mid-extract.

use crate::{Fixture, landed_rows};
use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use mysql::prelude::Queryable;
use pulse_ingest::Collect;
use pulse_ingest::server::ReadRequest;
use pulse_lake::{Lake, LakeError, LandProgress, LandingReport, RunContext};
use pulse_project::{ConnectionString, Project};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
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

fn pg_url() -> String {
    std::env::var("PULSE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

fn my_url() -> String {
    std::env::var("PULSE_TEST_MYSQL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_string())
}

fn pg() -> postgres::Client {
    postgres::Client::connect(&pg_url(), postgres::NoTls).unwrap_or_else(|e| {
        panic!(
            "PostgreSQL at {} is not reachable ({e}): run `bash scripts/services.sh`",
            pg_url()
        )
    })
}

fn my() -> mysql::Conn {
    let opts = mysql::Opts::from_url(&my_url()).expect("url");
    mysql::Conn::new(mysql::OptsBuilder::from_opts(opts).prefer_socket(false)).unwrap_or_else(|e| {
        panic!(
            "MariaDB at {} is not reachable ({e}): run `bash scripts/services.sh`",
            my_url()
        )
    })
}

/// Drops a PostgreSQL schema (`pg:` prefix) or a MariaDB database when the test ends, also when
/// it fails.
struct Cleanup(&'static str, String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let name = self.1.clone();
        let clean = move || match self.0 {
            "pg" => {
                let _ = pg().batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"));
            }
            _ => {
                let _ = my().query_drop(format!("DROP DATABASE IF EXISTS {name}"));
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(_) => tokio::task::block_in_place(clean),
            Err(_) => clean(),
        }
    }
}

/// Blocking client calls from inside an async test.
fn sync<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

fn ctx(run: &str) -> RunContext {
    RunContext {
        run_id: run.to_string(),
        ingest_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 29).expect("date"),
    }
}

async fn land_source(
    root: &Path,
    source: &str,
    run: &str,
) -> BTreeMap<String, Result<LandingReport, String>> {
    let project = Project::load(root).expect("project");
    let lake = Lake::open("lake", root).expect("lake");
    let s = project.source(source).expect("source");
    let progress = |_: &str, _: LandProgress| {};
    lake.land_source(&project, s, &ctx(run), &progress)
        .await
        .into_iter()
        .map(|(t, r)| (t, r.map_err(|e: LakeError| e.to_string())))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn server_failures_stay_with_their_table_and_lose_nothing() {
    let schema = unique("lake_err");
    let _cleanup = Cleanup("pg", schema.clone());
    sync(|| {
        pg()
        .batch_execute(&format!(
            "CREATE SCHEMA {schema}; CREATE TABLE {schema}.ok (id bigint PRIMARY KEY, updated_at timestamp NOT NULL);
             INSERT INTO {schema}.ok VALUES (1, '2026-11-01 10:00'), (2, '2026-11-01 11:00');"
        ))
        .expect("setup")
    });
    let source = |url: &str| {
        format!(
            "connector = \"postgres\"\nurl = \"{url}\"\nschema = \"{schema}\"\n\
             [[tables]]\nname = \"ok\"\nprimary_key = [\"id\"]\ncursor = \"updated_at\"\n\
             [[tables]]\nname = \"missing\"\n"
        )
    };
    // A password in the URL (the test server trusts local connections, so any will do).
    let with_password = pg_url().replacen("postgres@", "postgres:pa55word@", 1);
    let fx = Fixture::new(&[("app", &source(&with_password))]);
    let out = land_source(fx.root(), "app", "run1").await;
    let ok = out["ok"].as_ref().expect("ok lands");
    assert_eq!(
        (ok.rows, ok.watermark.as_deref()),
        (2, Some("2026-11-01 11:00:00"))
    );
    let err = out["missing"].as_ref().expect_err("missing fails");
    assert!(err.starts_with("app.missing: "), "{err}");
    assert!(err.contains("no such table"), "{err}");

    // The server becomes unreachable (and the URL carries a password): every table says so,
    // naming source and table, and what landed before stays.
    std::fs::write(
        fx.root().join("sources/app.toml"),
        source("postgres://postgres:${PULSE_NO_SUCH_VAR_FOR_TESTS}@127.0.0.1:1/test"),
    )
    .expect("rewrite");
    let out = land_source(fx.root(), "app", "run2").await;
    let err = out["ok"].as_ref().expect_err("unset variable");
    assert!(
        err.contains("app.ok") && err.contains("PULSE_NO_SUCH_VAR_FOR_TESTS"),
        "{err}"
    );
    std::fs::write(
        fx.root().join("sources/app.toml"),
        source("postgres://postgres:pa55word@127.0.0.1:1/test"),
    )
    .expect("rewrite");
    let out = land_source(fx.root(), "app", "run3").await;
    for t in ["ok", "missing"] {
        let err = out[t].as_ref().expect_err("unreachable");
        assert!(err.starts_with(&format!("app.{t}: ")), "{err}");
        assert!(!err.contains("pa55word"), "{err}");
        assert!(
            err.contains("postgres://postgres:***@127.0.0.1:1/test"),
            "{err}"
        );
    }
    let lake = fx.lake();
    assert_eq!(
        lake.landed_files("app", "ok").await.expect("files").len(),
        1
    );
    let state = lake.state("app", "ok").await.expect("state").expect("some");
    assert_eq!(state.watermark.as_deref(), Some("2026-11-01 11:00:00"));
    // No manifest, state or catalog record carries the password.
    for (path, bytes) in fx.snapshot() {
        assert!(
            !String::from_utf8_lossy(&bytes).contains("pa55word"),
            "{}",
            path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn added_column_lands_without_breaking_anything() {
    let db = unique("lake_schema");
    let _cleanup = Cleanup("my", db.clone());
    let mut admin = sync(my);
    admin
        .query_drop(format!(
            "CREATE DATABASE {db}; CREATE TABLE {db}.t (id bigint PRIMARY KEY, v varchar(10), updated_at datetime(6) NOT NULL);
             INSERT INTO {db}.t VALUES (1, 'a', '2026-11-01 10:00:00'), (2, 'b', '2026-11-01 10:00:01')"
        ))
        .expect("setup");
    let fx = Fixture::new(&[(
        "logistics",
        &format!(
            "connector = \"mariadb\"\nurl = \"{}\"\nschema = \"{db}\"\n\
             [[tables]]\nname = \"t\"\nprimary_key = [\"id\"]\ncursor = \"updated_at\"\n",
            my_url()
        ),
    )]);
    let out = land_source(fx.root(), "logistics", "run1").await;
    assert_eq!(out["t"].as_ref().expect("first").rows, 2);
    admin
        .query_drop(format!(
            "ALTER TABLE {db}.t ADD COLUMN note varchar(20) NULL;
             UPDATE {db}.t SET v = 'b2', note = 'new', updated_at = '2026-11-01 12:00:00' WHERE id = 2"
        ))
        .expect("alter");
    let out = land_source(fx.root(), "logistics", "run2").await;
    assert_eq!(out["t"].as_ref().expect("second").rows, 1);
    let lake = fx.lake();
    let manifests = lake.manifests("logistics", "t").await.expect("manifests");
    let names =
        |m: &pulse_lake::Manifest| m.schema.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&manifests[0]), ["id", "v", "updated_at"]);
    assert_eq!(names(&manifests[1]), ["id", "v", "updated_at", "note"]);
    let state = lake
        .state("logistics", "t")
        .await
        .expect("state")
        .expect("some");
    assert_eq!(state.schema.len(), 4);
    assert!(out["t"].as_ref().expect("second").warnings.is_empty());
    // A retyped and a dropped column are said in the landing's warnings.
    admin
        .query_drop(format!(
            "UPDATE {db}.t SET v = '0'; ALTER TABLE {db}.t MODIFY v bigint NULL, DROP COLUMN note;
             UPDATE {db}.t SET v = 7, updated_at = '2026-11-01 13:00:00' WHERE id = 1"
        ))
        .expect("retype");
    let out = land_source(fx.root(), "logistics", "run3").await;
    let warnings = &out["t"].as_ref().expect("third").warnings;
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains("column v changed type from Utf8 to Int64"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].contains("column note no longer exists"),
        "{warnings:?}"
    );
    // Every landing stays readable, each part with the columns it had.
    let batches = landed_rows(&lake, "logistics", "t").await;
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 4);
    let widths: Vec<usize> = batches.iter().map(|b| b.schema().fields().len()).collect();
    assert_eq!(widths, [3, 4, 3]);
}

/// Every value of a batch row as text, the key column's text first.
fn rows_by_key(
    batches: &[RecordBatch],
    key: &str,
    cursor: Option<&str>,
) -> (BTreeMap<String, Vec<String>>, usize) {
    let mut latest: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    let mut raw = 0;
    let opts = FormatOptions::default().with_null("NULL");
    for b in batches {
        let schema = b.schema();
        let k = schema.index_of(key).expect("key column");
        let c = cursor.map(|c| schema.index_of(c).expect("cursor column"));
        let fmts: Vec<ArrayFormatter> = b
            .columns()
            .iter()
            .map(|a| ArrayFormatter::try_new(a.as_ref(), &opts).expect("formatter"))
            .collect();
        for row in 0..b.num_rows() {
            raw += 1;
            let vals: Vec<String> = (0..b.num_columns())
                .map(|i| format!("{}={}", schema.field(i).name(), fmts[i].value(row)))
                .collect();
            let key = fmts[k].value(row).to_string();
            let version = c
                .map(|c| fmts[c].value(row).to_string())
                .unwrap_or_default();
            match latest.get(&key) {
                // Timestamps of one format compare correctly as text.
                Some((v, _)) if *v >= version => {}
                _ => {
                    latest.insert(key, (version, vals));
                }
            }
        }
    }
    (latest.into_iter().map(|(k, (_, v))| (k, v)).collect(), raw)
}

struct E2e {
    prefix: String,
    data: tempfile::TempDir,
    fx: Fixture,
}

fn e2e_sources(prefix: &str) -> Vec<(String, String)> {
    let pg = pg_url();
    let my = my_url();
    vec![
        (
            "orders".into(),
            format!(
                "connector = \"postgres\"\nurl = \"{pg}\"\nschema = \"{prefix}orders\"\nmax_connections = 2\n\
                 [[tables]]\nname = \"customers\"\nprimary_key = [\"customer_id\"]\ncursor = \"updated_at\"\n\
                 [[tables]]\nname = \"restaurants\"\nprimary_key = [\"restaurant_id\"]\ncursor = \"updated_at\"\n\
                 [[tables]]\nname = \"menu_items\"\nprimary_key = [\"item_id\"]\ncursor = \"updated_at\"\n\
                 [[tables]]\nname = \"orders\"\nprimary_key = [\"order_id\"]\ncursor = \"updated_at\"\nparallel = 2\n\
                 [[tables]]\nname = \"order_items\"\nprimary_key = [\"order_item_id\"]\ncursor = \"updated_at\"\nparallel = 2\n"
            ),
        ),
        (
            "payments".into(),
            format!(
                "connector = \"postgres\"\nurl = \"{pg}\"\nschema = \"{prefix}payments\"\n\
                 [[tables]]\nname = \"payments\"\nprimary_key = [\"payment_id\"]\ncursor = \"updated_at\"\n\
                 [[tables]]\nname = \"refunds\"\nprimary_key = [\"refund_id\"]\ncursor = \"updated_at\"\n"
            ),
        ),
        (
            "promotions".into(),
            format!(
                "connector = \"postgres\"\nurl = \"{pg}\"\nschema = \"{prefix}promotions\"\n\
                 [[tables]]\nname = \"campaigns\"\nprimary_key = [\"campaign_id\"]\n\
                 [[tables]]\nname = \"promo_codes\"\nprimary_key = [\"code\"]\n"
            ),
        ),
        (
            "logistics".into(),
            format!(
                "connector = \"mysql\"\nurl = \"{my}\"\nschema = \"{prefix}logistics\"\n\
                 [[tables]]\nname = \"couriers\"\nprimary_key = [\"courier_id\"]\ncursor = \"updated_at\"\n\
                 [[tables]]\nname = \"deliveries\"\nprimary_key = [\"delivery_id\"]\ncursor = \"updated_at\"\nparallel = 2\n"
            ),
        ),
    ]
}

impl E2e {
    fn new() -> E2e {
        let prefix = format!("{}_", unique("e2e"));
        let data = tempfile::tempdir().expect("tempdir");
        let opts = pulse_generate::GenerateOptions {
            days: 2,
            orders_per_day: 300,
            photos: 0,
            ..pulse_generate::GenerateOptions::default()
        };
        pulse_generate::generate(&opts, data.path(), &|_| {}).expect("generate");
        pulse_generate::load_servers(data.path(), &targets(&prefix)).expect("load servers");
        let sources = e2e_sources(&prefix);
        let refs: Vec<(&str, &str)> = sources
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let fx = Fixture::new(&refs);
        E2e { prefix, data, fx }
    }

    async fn land_all(&self, run: &str) {
        for s in ["orders", "payments", "promotions", "logistics"] {
            for (t, r) in land_source(self.fx.root(), s, run).await {
                if let Err(e) = r {
                    panic!("{s}.{t}: {e}");
                }
            }
        }
    }

    /// The lake, deduplicated by key, equals a fresh full read of every server table.
    async fn assert_lake_equals_servers(&self) {
        let project = self.fx.project();
        let lake = self.fx.lake();
        for source in &project.sources {
            let url =
                ConnectionString::resolve(source.config.url.as_deref().expect("url")).expect("url");
            for table in &source.config.tables {
                let key = &table.primary_key[0];
                let landed = landed_rows(&lake, &source.name, &table.name).await;
                let (lake_rows, raw) = rows_by_key(&landed, key, table.cursor.as_deref());
                let mut sink = Collect::default();
                let req = ReadRequest {
                    table: table.name.clone(),
                    parallel: 1,
                    batch_rows: 10_000,
                    ..ReadRequest::default()
                };
                let schema = source.config.schema.clone().expect("schema");
                let url2 = url.clone();
                let kind = source.config.connector;
                let sink = tokio::task::spawn_blocking(move || {
                    if kind == pulse_project::ConnectorKind::Postgres {
                        let mut s =
                            pulse_ingest::postgres::PgSession::open(&url2, &schema, 1).expect("pg");
                        s.read(&req, &mut sink).expect("read");
                    } else {
                        let mut s = pulse_ingest::mysql::MySession::open(&url2, Some(&schema), 1)
                            .expect("my");
                        s.read(&req, &mut sink).expect("read");
                    }
                    sink
                })
                .await
                .expect("join");
                let (server_rows, server_raw) = rows_by_key(&sink.batches, key, None);
                assert_eq!(
                    server_raw,
                    server_rows.len(),
                    "{}.{}: server keys unique",
                    source.name,
                    table.name
                );
                assert!(raw >= lake_rows.len());
                let missing: Vec<_> = server_rows
                    .keys()
                    .filter(|k| !lake_rows.contains_key(*k))
                    .take(5)
                    .collect();
                let extra: Vec<_> = lake_rows
                    .keys()
                    .filter(|k| !server_rows.contains_key(*k))
                    .take(5)
                    .collect();
                assert!(
                    missing.is_empty() && extra.is_empty(),
                    "{}.{}: missing in the lake {missing:?}, not on the server {extra:?}",
                    source.name,
                    table.name
                );
                for (k, v) in &server_rows {
                    assert_eq!(&lake_rows[k], v, "{}.{} key {k}", source.name, table.name);
                }
            }
        }
    }
}

fn targets(prefix: &str) -> pulse_generate::ServerTargets {
    pulse_generate::ServerTargets {
        postgres: Some(pg_url()),
        mysql: Some(my_url()),
        prefix: prefix.to_string(),
    }
}

impl Drop for E2e {
    fn drop(&mut self) {
        let p = self.prefix.clone();
        let clean = move || {
            let _ = pg().batch_execute(&format!(
                "DROP SCHEMA IF EXISTS \"{p}orders\" CASCADE; DROP SCHEMA IF EXISTS \"{p}payments\" CASCADE; DROP SCHEMA IF EXISTS \"{p}promotions\" CASCADE;"
            ));
            let _ = my().query_drop(format!("DROP DATABASE IF EXISTS `{p}logistics`"));
        };
        // Dropped inside the async test: the PostgreSQL client must not block a runtime thread.
        match tokio::runtime::Handle::try_current() {
            Ok(_) => tokio::task::block_in_place(clean),
            Err(_) => clean(),
        }
        let _ = &self.data;
    }
}

/// Not a test on its own: the landing process the end-to-end test kills mid-extract. It lands
/// slowly (each progress report waits) so the kill lands in the middle.
#[test]
#[ignore = "run by servers_end_to_end_with_live_changes_and_a_killed_extract"]
fn landing_to_be_killed() {
    let Ok(root) = std::env::var("PULSE_KILL_PROJECT") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let project = Project::load(Path::new(&root)).expect("project");
        let lake = Lake::open("lake", Path::new(&root)).expect("lake");
        let progress = |_: &str, _: LandProgress| std::thread::sleep(Duration::from_millis(30));
        for s in &project.sources {
            let _ = lake
                .land_source(&project, s, &ctx("run-killed"), &progress)
                .await;
        }
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn servers_end_to_end_with_live_changes_and_a_killed_extract() {
    let e = sync(E2e::new);
    e.land_all("run1").await;
    e.assert_lake_equals_servers().await;

    // The applications keep working: new orders, deliveries, refunds.
    let live = pulse_generate::LiveOptions {
        targets: targets(&e.prefix),
        rate: 5000.0,
        max_changes: Some(150),
        duration: None,
        seed: 7,
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    let report = tokio::task::block_in_place(|| pulse_generate::live(&live, &stop)).expect("live");
    assert_eq!(report.changes(), 150);
    assert!(
        report.new_orders > 0 && report.status_changes > 0,
        "{report:?}"
    );

    // A landing process killed in the middle of its extract (SIGKILL, no cleanup).
    let mut child = std::process::Command::new(std::env::current_exe().expect("exe"))
        .args([
            "--exact",
            "servers::landing_to_be_killed",
            "--ignored",
            "--nocapture",
        ])
        .env("PULSE_KILL_PROJECT", e.fx.root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Killed as soon as it has written anything (staged parts or a first committed table).
    let started = Instant::now();
    fn mentions(dir: &Path, what: &str) -> bool {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                let p = e.path();
                p.to_string_lossy().contains(what) || (p.is_dir() && mentions(&p, what))
            })
    }
    let lake_dir = e.fx.root().join("lake");
    let begun = || mentions(&lake_dir, "run-killed");
    while !begun() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(begun(), "the landing to be killed never started writing");
    assert!(
        child.try_wait().expect("child").is_none(),
        "the landing finished before it could be killed"
    );
    child.kill().expect("kill");
    let _ = child.wait();

    // More changes, then a normal run: the lake matches the servers again, exactly.
    let live = pulse_generate::LiveOptions {
        max_changes: Some(60),
        seed: 8,
        ..live
    };
    tokio::task::block_in_place(|| pulse_generate::live(&live, &stop)).expect("live");
    e.land_all("run3").await;
    e.assert_lake_equals_servers().await;
    // A run with nothing new changes nothing.
    let before = e.fx.lake_files().len();
    e.land_all("run4").await;
    assert_eq!(e.fx.lake_files().len(), before);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        let p = e.path();
        let target = to.join(e.file_name());
        if p.is_dir() {
            copy_tree(&p, &target);
        } else {
            std::fs::copy(&p, &target).expect("copy");
        }
    }
}

/// `pulse init --example food-delivery-servers` is the food-delivery example with the servers
/// variant's files written over it: that project must load, its database sources on servers.
#[test]
fn servers_example_variant_loads() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&examples.join("food-delivery"), dir.path());
    copy_tree(&examples.join("food-delivery-servers"), dir.path());
    let project = Project::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let kinds: BTreeMap<&str, &str> = project
        .sources
        .iter()
        .map(|s| (s.name.as_str(), s.config.connector.as_str()))
        .collect();
    assert_eq!(kinds["orders"], "postgres");
    assert_eq!(kinds["payments"], "postgres");
    assert_eq!(kinds["promotions"], "postgres");
    assert_eq!(kinds["logistics"], "mysql");
    for s in project
        .sources
        .iter()
        .filter(|s| s.config.connector.is_server())
    {
        let url = ConnectionString::resolve(s.config.url.as_deref().expect("url")).expect("url");
        assert!(url.expose().contains("127.0.0.1"), "{url}");
    }
}
