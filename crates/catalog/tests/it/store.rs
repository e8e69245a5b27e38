//! The store: what runs report survives, schema changes are recorded with their run, writes
//! are atomic.

use crate::{at, project};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use pulse_catalog::{
    Catalog, CatalogError, CatalogStore, ColumnProfile, FailedExpectation, QualitySummary, TopValue,
};

fn schema(fields: &[(&str, DataType)]) -> Schema {
    Schema::new(
        fields
            .iter()
            .map(|(n, t)| Field::new(*n, t.clone(), true))
            .collect::<Vec<_>>(),
    )
}

#[test]
fn schema_history_records_adds_removes_and_retypes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = CatalogStore::open(dir.path().join("_catalog")).expect("store");
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let v1 = schema(&[("order_id", DataType::Int64), ("placed_at", ts.clone())]);
    let first = store
        .record_build(
            "fct_orders",
            &v1,
            10,
            1000,
            "run-1",
            at("2026-03-01T02:30:00Z"),
        )
        .expect("build 1")
        .expect("the first schema is a change");
    assert_eq!(first.added.len(), 2);
    // The same schema again is no change.
    assert!(
        store
            .record_build(
                "fct_orders",
                &v1,
                12,
                1100,
                "run-2",
                at("2026-03-02T02:30:00Z")
            )
            .expect("build 2")
            .is_none()
    );
    // A column added.
    let v3 = schema(&[
        ("order_id", DataType::Int64),
        ("placed_at", ts.clone()),
        ("city", DataType::Utf8),
    ]);
    store
        .record_build(
            "fct_orders",
            &v3,
            13,
            1200,
            "run-3",
            at("2026-03-03T02:30:00Z"),
        )
        .expect("build 3");
    // One removed, one retyped.
    let v4 = schema(&[("order_id", DataType::Utf8), ("city", DataType::Utf8)]);
    let last = store
        .record_build(
            "fct_orders",
            &v4,
            14,
            1300,
            "run-4",
            at("2026-03-04T02:30:00Z"),
        )
        .expect("build 4")
        .expect("a change");
    assert_eq!(last.removed.len(), 1);
    assert_eq!(last.removed[0].name, "placed_at");
    assert_eq!(last.retyped.len(), 1);
    assert_eq!(last.retyped[0].column, "order_id");
    assert_eq!(last.retyped[0].from.as_deref(), Some("Int64"));
    assert_eq!(last.retyped[0].to.as_deref(), Some("Utf8"));

    let history = store.schema_history("fct_orders").expect("history");
    let runs: Vec<&str> = history.iter().map(|c| c.run_id.as_str()).collect();
    assert_eq!(runs, vec!["run-1", "run-3", "run-4"]);
    assert_eq!(history[1].added.len(), 1);
    assert_eq!(history[1].added[0].name, "city");
    assert_eq!(history[1].added[0].data_type.as_deref(), Some("Utf8"));
    assert_eq!(history[2].columns.len(), 2);
    assert!(
        store
            .schema_history("never_built")
            .expect("empty")
            .is_empty()
    );
}

#[test]
fn everything_recorded_comes_back_in_the_catalog() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = CatalogStore::in_warehouse(dir.path()).expect("store");
    assert_eq!(store.dir(), dir.path().join("_catalog"));
    let when = at("2026-03-01T02:40:00Z");
    let landed = schema(&[
        ("order_id", DataType::Int64),
        ("total_cents", DataType::Int64),
        ("promo_code", DataType::Utf8),
    ]);
    store
        .record_build("raw:orders.orders", &landed, 5000, 250_000, "run-1", when)
        .expect("landing");
    store
        .record_build(
            "fct_orders",
            &schema(&[
                ("order_id", DataType::Int64),
                ("gmv_cents", DataType::Int64),
            ]),
            4990,
            180_000,
            "run-1",
            when,
        )
        .expect("build");
    let profiles = vec![ColumnProfile {
        column: "gmv_cents".into(),
        null_share: 0.0,
        distinct_count: 812,
        min: Some("0".into()),
        max: Some("15400".into()),
        top_values: vec![TopValue {
            value: "0".into(),
            count: 310,
        }],
    }];
    store
        .record_profile("fct_orders", "run-1", when, 310, profiles.clone())
        .expect("profile");
    let quality = QualitySummary {
        run_id: "run-1".into(),
        at: when,
        passed: 3,
        failed: 1,
        quarantined_rows: 10,
        failures: vec![FailedExpectation {
            expectation: "expect_column_values_to_be_unique(order_id)".into(),
            severity: "warn".into(),
            unexpected_count: Some(10),
        }],
    };
    store
        .record_quality("raw:orders.orders", quality.clone())
        .expect("quality");
    // A record of a dataset the project dropped is a warning, not an error.
    store
        .record_quality("dropped_model", quality.clone())
        .expect("quality");

    let catalog = Catalog::load(&project(), &store).expect("load");
    assert_eq!(catalog.warnings().len(), 1);
    assert!(catalog.warnings()[0].contains("dropped_model"));

    let fct = catalog.get("fct_orders").expect("fct_orders");
    let stats = fct.stats.as_ref().expect("stats");
    assert_eq!((stats.row_count, stats.size_bytes), (4990, 180_000));
    assert_eq!(stats.last_run_id, "run-1");
    assert_eq!(fct.profile.as_ref().map(|p| &p.columns), Some(&profiles));
    // Documented columns keep their description and take the type; the rest follow.
    let gmv = fct.column("gmv_cents").expect("gmv_cents");
    assert_eq!(gmv.data_type.as_deref(), Some("Int64"));
    assert!(
        gmv.description
            .as_deref()
            .is_some_and(|d| d.contains("Gross"))
    );
    assert_eq!(fct.columns[0].name, "order_date");
    assert!(fct.column("order_id").is_some());

    let raw = catalog.get("raw:orders.orders").expect("raw");
    assert_eq!(raw.quality.as_ref(), Some(&quality));
    assert!(raw.quality.as_ref().is_some_and(|q| q.ok()));
    // The source table has the schema its landing saw.
    let source = catalog.get("orders.orders").expect("source");
    let promo = source.column("promo_code").expect("promo_code");
    assert_eq!(promo.data_type.as_deref(), Some("Utf8"));
    assert!(promo.description.is_some());
    assert_eq!(catalog.last_updated("orders.orders"), Some(when));
}

#[test]
fn writes_are_atomic_and_serialised() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = CatalogStore::open(dir.path()).expect("store");
    let when = at("2026-03-01T02:40:00Z");
    // Eight writers, each its own field of the same record, at once: the lock keeps all.
    std::thread::scope(|s| {
        for i in 0..8u64 {
            let store = store.clone();
            s.spawn(move || {
                for round in 0..10u64 {
                    store
                        .update("fct_orders", |r| {
                            let mut p = r.profile.clone().unwrap_or(pulse_catalog::Profile {
                                run_id: "r".into(),
                                at: when,
                                rows: 0,
                                columns: Vec::new(),
                            });
                            p.columns.push(ColumnProfile {
                                column: format!("c{i}_{round}"),
                                ..ColumnProfile::default()
                            });
                            r.profile = Some(p);
                        })
                        .expect("update");
                }
            });
        }
        // A reader meanwhile never sees a torn record.
        let reader = store.clone();
        s.spawn(move || {
            for _ in 0..200 {
                reader.record("fct_orders").expect("a whole record");
            }
        });
    });
    let record = store.record("fct_orders").expect("read").expect("exists");
    assert_eq!(record.profile.map(|p| p.columns.len()), Some(80));
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("datasets"))
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_damaged_record_names_its_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = CatalogStore::open(dir.path()).expect("store");
    store
        .record_quality("fct_orders", QualitySummary::default())
        .expect("write");
    let path = dir.path().join("datasets").join("fct_orders.json");
    std::fs::write(&path, "{ not json").expect("damage");
    match store.record("fct_orders") {
        Err(CatalogError::Corrupt { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected a corrupt-record error, got {other:?}"),
    }
    let message = store
        .records()
        .map(|_| ())
        .expect_err("corrupt")
        .to_string();
    assert!(message.contains("fct_orders.json"), "{message}");
}
