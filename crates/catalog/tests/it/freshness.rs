//! Freshness against the project's schedule (daily at 02:00, SLA 6 h).

use crate::at;
use chrono::Duration;
use pulse_catalog::{CatalogStore, FreshnessStatus, freshness};

#[test]
fn the_function() {
    let day = Duration::hours(24);
    let sla = Duration::hours(6);
    let built = at("2026-03-01T02:40:00Z");
    let f = freshness(Some(built), day, sla, at("2026-03-02T07:00:00Z"));
    assert_eq!(f.status, FreshnessStatus::Fresh);
    assert_eq!(f.lag_seconds, Some(28 * 3600 + 20 * 60));
    assert_eq!(f.max_age_seconds, 30 * 3600);
    assert_eq!(f.overdue_seconds, 0);
    let f = freshness(Some(built), day, sla, at("2026-03-02T09:10:00Z"));
    assert_eq!(f.status, FreshnessStatus::Stale);
    assert_eq!(f.overdue_seconds, 30 * 60);
    assert_eq!(
        freshness(None, day, sla, built).status,
        FreshnessStatus::Unknown
    );
    // A clock that runs behind the writer's is no negative lag.
    let f = freshness(Some(built), day, sla, at("2026-03-01T02:00:00Z"));
    assert_eq!((f.status, f.lag_seconds), (FreshnessStatus::Fresh, Some(0)));
}

#[test]
fn datasets_metrics_and_dashboards_by_the_schedule() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = CatalogStore::open(dir.path()).expect("store");
    let schema = arrow::datatypes::Schema::empty();
    store
        .record_build(
            "fct_deliveries",
            &schema,
            1,
            1,
            "run-1",
            at("2026-03-01T02:40:00Z"),
        )
        .expect("build");
    let mut catalog = pulse_catalog::Catalog::load(&crate::project(), &store).expect("load");
    assert_eq!(
        catalog
            .get("fct_deliveries")
            .expect("ds")
            .schedule
            .as_deref(),
        Some("daily")
    );
    let fresh = catalog
        .freshness("fct_deliveries", at("2026-03-02T07:00:00Z"))
        .expect("freshness");
    assert_eq!(fresh.status, FreshnessStatus::Fresh);
    let stale = catalog
        .freshness("fct_deliveries", at("2026-03-02T09:00:00Z"))
        .expect("freshness");
    assert_eq!(stale.status, FreshnessStatus::Stale);
    // A metric is as fresh as the model it reads; one over an unbuilt model is unknown.
    assert_eq!(
        catalog
            .freshness("delivery_time_p90", at("2026-03-02T09:00:00Z"))
            .expect("metric")
            .status,
        FreshnessStatus::Stale
    );
    assert_eq!(
        catalog
            .freshness("gmv", at("2026-03-02T07:00:00Z"))
            .expect("metric")
            .status,
        FreshnessStatus::Unknown
    );
    // Without a schedule there is nothing to judge by.
    catalog.set_schedule("fct_deliveries", None).expect("set");
    assert_eq!(
        catalog
            .freshness("fct_deliveries", at("2026-03-05T00:00:00Z"))
            .expect("f")
            .status,
        FreshnessStatus::Unknown
    );
    assert!(
        catalog
            .freshness("nope", at("2026-03-05T00:00:00Z"))
            .is_err()
    );
}
