//! The service a server holds: one snapshot handed out while the store is unchanged, a new one
//! after any write, safe under concurrent readers and writers, and a broken store never takes
//! the last good catalog away.

use crate::{at, project};
use arrow::datatypes::{DataType, Field, Schema};
use pulse_catalog::{CatalogService, CatalogStore, QualitySummary, SearchQuery};
use std::sync::Arc;

fn schema(fields: &[(&str, DataType)]) -> Schema {
    Schema::new(
        fields
            .iter()
            .map(|(n, t)| Field::new(*n, t.clone(), true))
            .collect::<Vec<_>>(),
    )
}

fn service() -> (tempfile::TempDir, CatalogService) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = CatalogStore::open(dir.path().join("_catalog")).expect("store");
    let service = CatalogService::new(&project(), store).expect("the service loads");
    (dir, service)
}

#[test]
fn every_write_bumps_the_store_version() {
    let (_dir, service) = service();
    let store = service.store();
    assert_eq!(store.version().expect("version"), 0);
    let before = store.stamp().expect("stamp");
    store
        .record_quality("fct_orders", QualitySummary::default())
        .expect("quality");
    store
        .record_quality("fct_orders", QualitySummary::default())
        .expect("quality");
    assert_eq!(store.version().expect("version"), 2);
    assert_ne!(store.stamp().expect("stamp"), before);
}

#[test]
fn the_snapshot_is_reused_until_the_store_changes() {
    let (_dir, service) = service();
    let first = service.snapshot();
    assert!(first.catalog().dataset("fct_orders").is_some());
    assert!(Arc::ptr_eq(&first, &service.snapshot()));
    assert!(
        first
            .catalog()
            .dataset("fct_orders")
            .and_then(|d| d.stats.as_ref())
            .is_none()
    );

    service
        .store()
        .record_build(
            "fct_orders",
            &schema(&[
                ("order_id", DataType::Int64),
                ("zeppelin_hangar", DataType::Utf8),
            ]),
            1234,
            56_789,
            "run-7",
            at("2026-03-01T02:30:00Z"),
        )
        .expect("a build");
    let second = service.snapshot();
    assert!(!Arc::ptr_eq(&first, &second));
    let stats = second
        .dataset("fct_orders")
        .expect("fct_orders")
        .stats
        .clone()
        .expect("stats after a build");
    assert_eq!(stats.row_count, 1234);
    assert_eq!(stats.last_run_id, "run-7");
    assert_eq!(second.schema_history("fct_orders").len(), 1);
    // The index was rebuilt too: a column only the build saw is found.
    let hits = second
        .search(&SearchQuery::text("zeppelin_hangar"))
        .expect("search");
    assert_eq!(
        hits.first().map(|h| h.id.as_str()),
        Some("fct_orders"),
        "{hits:?}"
    );
    // The old snapshot is untouched: readers holding it see one consistent catalog.
    assert!(
        first
            .search(&SearchQuery::text("zeppelin_hangar"))
            .expect("search")
            .is_empty()
    );
    assert!(Arc::ptr_eq(&second, &service.snapshot()));
}

#[test]
fn readers_and_writers_at_once() {
    let (_dir, service) = service();
    let service = Arc::new(service);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let service = service.clone();
            scope.spawn(move || {
                for _ in 0..25 {
                    let snap = service.snapshot();
                    assert!(snap.catalog().dataset("fct_orders").is_some());
                    assert!(
                        !snap
                            .search(&SearchQuery::text("gmv"))
                            .expect("search")
                            .is_empty()
                    );
                }
            });
        }
        let writer = service.clone();
        scope.spawn(move || {
            for i in 1..=10u64 {
                writer
                    .store()
                    .record_build(
                        "fct_orders",
                        &schema(&[("order_id", DataType::Int64)]),
                        i,
                        i * 100,
                        &format!("run-{i}"),
                        at("2026-03-01T02:30:00Z"),
                    )
                    .expect("a build");
            }
        });
    });
    let rows = service
        .snapshot()
        .dataset("fct_orders")
        .ok()
        .and_then(|d| d.stats.as_ref())
        .map(|s| s.row_count);
    assert_eq!(rows, Some(10));
}

#[test]
fn a_broken_record_keeps_the_last_good_catalog() {
    let (_dir, service) = service();
    service
        .store()
        .record_quality("fct_orders", QualitySummary::default())
        .expect("quality");
    let good = service.snapshot();
    assert!(
        good.dataset("fct_orders")
            .expect("fct_orders")
            .quality
            .is_some()
    );
    // Changes by hand bump no counter: the folder's mtime tells them, so let the clock tick.
    let tick = || std::thread::sleep(std::time::Duration::from_millis(30));
    let broken = service
        .store()
        .dir()
        .join("datasets")
        .join("dim_customers.json");
    tick();
    std::fs::write(&broken, b"{ not json").expect("write");
    let after = service.snapshot();
    assert!(Arc::ptr_eq(&good, &after), "the last good snapshot stays");
    assert!(
        service
            .last_error()
            .is_some_and(|e| e.contains("dim_customers.json")),
        "{:?}",
        service.last_error()
    );
    assert!(service.reload().is_err());
    tick();
    std::fs::remove_file(&broken).expect("remove");
    let fixed = service.snapshot();
    assert!(!Arc::ptr_eq(&good, &fixed));
    assert!(service.last_error().is_none());
}
