//! The engine over a scratch project: sources as landed Parquet, models of every
//! materialization, unchanged-model skipping, partition replacement and failure propagation.

mod conformance;
mod lineage;
mod quality;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Int64Type;
use pulse_project::Project;
use pulse_transform::{Engine, Outcome, RunOptions, run_models};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

/// A project with one source table of orders on three days and three models.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(root, "pulse.toml", "name = \"t\"\n");
    write(
        root,
        "sources/shop.toml",
        "connector = \"parquet\"\n[[tables]]\nname = \"orders\"\npath = \"data/*.parquet\"\n",
    );
    write(
        root,
        "models/staging/stg_orders.sql",
        "select id, cast(placed_at as date) as order_date, amount from {{ source('shop', 'orders') }}",
    );
    write(
        root,
        "models/staging/stg_orders.toml",
        "materialized = \"view\"\n",
    );
    write(
        root,
        "models/marts/fct_orders.sql",
        "select order_date, id, amount * 2 as doubled from {{ ref('stg_orders') }}\n\
         {% if is_incremental() %} where order_date = date '{{ logical_date }}' {% endif %}",
    );
    write(
        root,
        "models/marts/fct_orders.toml",
        "materialized = \"incremental\"\npartition_by = \"order_date\"\n",
    );
    write(
        root,
        "models/marts/daily.sql",
        "select order_date, count(*) as orders, sum(doubled) as total from {{ ref('fct_orders') }} group by order_date",
    );
    dir
}

async fn source_file(root: &Path, name: &str, values: &str) -> String {
    let path = root.join("data").join(name);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let ctx = datafusion::prelude::SessionContext::new();
    let sql = format!(
        "copy (select column1 as id, cast(column2 as timestamp) as placed_at, column3 as amount from (values {values})) to '{}' stored as parquet",
        path.display()
    );
    ctx.sql(&sql)
        .await
        .expect("plan copy")
        .collect()
        .await
        .expect("copy");
    format!("file://{}", path.display())
}

async fn engine_with(project: &Project, files: &[String]) -> Engine {
    let engine = Engine::open(project).await.expect("engine");
    engine
        .register_source_table("shop", "orders", files)
        .await
        .expect("register");
    engine
}

async fn daily(engine: &Engine) -> BTreeMap<String, (i64, i64)> {
    let (_, batches) = engine
        .query("select cast(order_date as varchar) as d, orders, total from daily order by d")
        .await
        .expect("query");
    let mut out = BTreeMap::new();
    for b in batches {
        let d = datafusion::arrow::compute::cast(
            b.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .expect("cast");
        let d = d.as_string::<i32>();
        let n = b.column(1).as_primitive::<Int64Type>().clone();
        let t = b.column(2).as_primitive::<Int64Type>().clone();
        for i in 0..b.num_rows() {
            out.insert(d.value(i).to_string(), (n.value(i), t.value(i)));
        }
    }
    out
}

fn partition_files(root: &Path, date: &str) -> BTreeMap<PathBuf, Vec<u8>> {
    let dir = root
        .join("warehouse/fct_orders")
        .join(format!("order_date={date}"));
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(&dir).expect("partition dir") {
        let p = e.expect("entry").path();
        out.insert(p.clone(), std::fs::read(&p).expect("read"));
    }
    out
}

#[tokio::test]
async fn builds_skips_and_replaces_partitions() {
    let dir = scratch();
    let root = dir.path();
    let file = source_file(
        root,
        "orders.parquet",
        "(1, '2026-11-01 10:00:00', 5), (2, '2026-11-01 12:00:00', 7), (3, '2026-11-02 09:00:00', 11), (4, '2026-11-03 19:00:00', 13)",
    )
    .await;
    let project = Project::load(root).expect("project");
    let engine = engine_with(&project, std::slice::from_ref(&file)).await;
    let reports = run_models(&engine, &project, &RunOptions::default(), &|_| {})
        .await
        .expect("run");
    assert!(
        reports.iter().all(|r| r.outcome == Outcome::Built),
        "{reports:?}"
    );
    let fct = reports
        .iter()
        .find(|r| r.model == "fct_orders")
        .expect("fct");
    assert_eq!(fct.rows, 4);
    let expected: BTreeMap<String, (i64, i64)> = [
        ("2026-11-01".to_string(), (2, 24)),
        ("2026-11-02".to_string(), (1, 22)),
        ("2026-11-03".to_string(), (1, 26)),
    ]
    .into();
    assert_eq!(daily(&engine).await, expected);

    // A second run over the same inputs changes nothing.
    let engine = engine_with(&project, std::slice::from_ref(&file)).await;
    let again = run_models(&engine, &project, &RunOptions::default(), &|_| {})
        .await
        .expect("run");
    assert!(
        again.iter().all(|r| r.outcome == Outcome::Unchanged),
        "{again:?}"
    );
    assert_eq!(daily(&engine).await, expected);

    // New data for 2026-11-02 arrives; a run for that date replaces only that partition.
    let before_01 = partition_files(root, "2026-11-01");
    let before_03 = partition_files(root, "2026-11-03");
    let late = source_file(
        root,
        "late.parquet",
        "(5, '2026-11-02 20:00:00', 100), (6, '2026-11-01 23:00:00', 1000)",
    )
    .await;
    let engine = engine_with(&project, &[file.clone(), late.clone()]).await;
    let opts = RunOptions {
        logical_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 2),
        ..Default::default()
    };
    let partial = run_models(&engine, &project, &opts, &|_| {})
        .await
        .expect("run");
    let fct = partial
        .iter()
        .find(|r| r.model == "fct_orders")
        .expect("fct");
    assert_eq!(fct.partition.as_deref(), Some("2026-11-02"));
    assert_eq!(fct.outcome, Outcome::Built);
    assert_eq!(fct.rows, 2);
    let got = daily(&engine).await;
    // The late order of 11-01 is not picked up: its partition was not part of this run.
    assert_eq!(got["2026-11-01"], (2, 24));
    assert_eq!(got["2026-11-02"], (2, 222));
    assert_eq!(partition_files(root, "2026-11-01"), before_01);
    assert_eq!(partition_files(root, "2026-11-03"), before_03);
}

#[tokio::test]
async fn a_failing_model_blocks_only_its_dependants() {
    let dir = scratch();
    let root = dir.path();
    write(
        root,
        "models/marts/broken.sql",
        "select no_such_column from {{ ref('stg_orders') }}",
    );
    write(
        root,
        "models/marts/after_broken.sql",
        "select * from {{ ref('broken') }}",
    );
    let file = source_file(root, "orders.parquet", "(1, '2026-11-01 10:00:00', 5)").await;
    let project = Project::load(root).expect("project");
    let engine = engine_with(&project, &[file]).await;
    let reports = run_models(&engine, &project, &RunOptions::default(), &|_| {})
        .await
        .expect("run");
    let by_name: BTreeMap<&str, &Outcome> = reports
        .iter()
        .map(|r| (r.model.as_str(), &r.outcome))
        .collect();
    match by_name["broken"] {
        Outcome::Failed(msg) => {
            assert!(msg.contains("broken"), "{msg}");
            assert!(msg.contains("models/marts/broken.sql"), "{msg}");
            assert!(msg.contains("no_such_column"), "{msg}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(
        by_name["after_broken"],
        &Outcome::UpstreamFailed("broken".into())
    );
    assert_eq!(by_name["daily"], &Outcome::Built);
}

#[tokio::test]
async fn event_param_reads_ga4_style_parameters() {
    let dir = scratch();
    let project = Project::load(dir.path()).expect("project");
    let engine = Engine::open(&project).await.expect("engine");
    let (_, batches) = engine
        .query(
            "select event_param(p, 'ga_session_id') as sid, event_param(p, 'page') as page, event_param(p, 'missing') as missing from (select [named_struct('key', 'ga_session_id', 'value', named_struct('string_value', cast(null as varchar), 'int_value', 42)), named_struct('key', 'page', 'value', named_struct('string_value', '/menu', 'int_value', cast(null as bigint)))] as p)",
        )
        .await
        .expect("query");
    let b = &batches[0];
    assert_eq!(b.column(0).as_string::<i32>().value(0), "42");
    assert_eq!(b.column(1).as_string::<i32>().value(0), "/menu");
    assert!(b.column(2).is_null(0));
}

#[tokio::test]
async fn unknown_source_files_name_the_table() {
    let dir = scratch();
    let project = Project::load(dir.path()).expect("project");
    let engine = Engine::open(&project).await.expect("engine");
    let err = engine
        .register_source_table("shop", "orders", &[])
        .await
        .expect_err("nothing landed");
    assert!(err.to_string().contains("shop.orders"), "{err}");
}
