//! Search on the example: the dataset a person means comes first. Each expected first hit was
//! written down by hand, from what the query asks for.

use crate::catalog;
use pulse_catalog::{DatasetKind, SearchQuery};

/// (query, the dataset that should come first)
const FIRST_HITS: &[(&str, &str)] = &[
    // Metrics: a search for one finds its one definition.
    ("delivery time", "metric:delivery_time_p50"),
    ("delivery time p90", "metric:delivery_time_p90"),
    ("gmv", "metric:gmv"),
    ("GMV", "metric:gmv"),
    ("refunds", "metric:refunds"),
    ("support tickets", "metric:tickets"),
    ("campaign funnel", "metric:campaign_funnel"),
    ("conversion", "metric:session_conversion_rate"),
    ("on time", "metric:on_time_rate"),
    ("cancellation rate", "metric:cancellation_rate"),
    ("average order value", "metric:average_order_value"),
    ("first response time", "metric:first_response_time"),
    ("payment success rate", "metric:payment_success_rate"),
    ("preparation time", "metric:preparation_time"),
    ("satisfaction", "metric:satisfaction"),
    ("tickets per 1000 orders", "metric:tickets_per_1000_orders"),
    // Dashboards.
    ("executive overview", "dashboard:executive"),
    ("marketing funnel", "dashboard:marketing"),
    // Datasets: the modelled one before the layers that feed it.
    ("courier", "stg_logistics__couriers"),
    ("promo codes", "stg_promotions__promo_codes"),
    ("ga4 events", "stg_ga4__events"),
    ("menu photos", "stg_photos__menu_photos"),
    ("proof of delivery photos", "stg_photos__delivery_photos"),
    ("restaurants", "dim_restaurants"),
    ("customers", "dim_customers"),
    ("orphan payments", "fct_payments"),
    // A column name, an owner's e-mail, a tag.
    ("end_to_end_minutes", "fct_orders"),
    ("finance-analytics@fooddash.example", "fct_payments"),
    ("pii", "dim_customers"),
    // Raw and quarantined data, when asked for.
    ("raw landing orders", "raw:orders.orders"),
    ("quarantine payments", "quarantine:payments.payments"),
];

#[test]
fn the_right_dataset_comes_first() {
    let catalog = catalog();
    let index = catalog.search_index().expect("an index");
    assert_eq!(index.len(), catalog.datasets().count());
    let mut wrong = Vec::new();
    for (query, want) in FIRST_HITS {
        let hits = index.search(&SearchQuery::text(query)).expect("a search");
        let got: Vec<&str> = hits.iter().take(3).map(|h| h.id.as_str()).collect();
        if got.first() != Some(want) {
            wrong.push(format!("{query:?}: want {want}, got {got:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} queries ranked wrong:\n{}",
        wrong.len(),
        FIRST_HITS.len(),
        wrong.join("\n")
    );
}

#[test]
fn names_split_at_underscores_and_stem() {
    let index = catalog().search_index().expect("an index");
    let hits = index
        .search(&SearchQuery::text("orders").kind(DatasetKind::Model))
        .expect("search");
    assert_eq!(hits.first().map(|h| h.id.as_str()), Some("fct_orders"));
    // "deliveries" and "delivery" are one word.
    let hits = index
        .search(&SearchQuery::text("delivery").kind(DatasetKind::Model))
        .expect("search");
    assert!(hits.iter().take(3).any(|h| h.id == "fct_deliveries"));
}

#[test]
fn filters_by_kind_and_tag() {
    let index = catalog().search_index().expect("an index");
    let hits = index
        .search(&SearchQuery::text("orders").kind(DatasetKind::SourceTable))
        .expect("search");
    assert_eq!(hits.first().map(|h| h.id.as_str()), Some("orders.orders"));
    assert!(hits.iter().all(|h| h.kind == DatasetKind::SourceTable));

    let pii = index
        .search(&SearchQuery::default().tag("pii").limit(100))
        .expect("browse by tag");
    let mut ids: Vec<&str> = pii.iter().map(|h| h.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        vec!["dim_customers", "orders.customers", "raw:orders.customers"]
    );
    let finance_metrics = index
        .search(
            &SearchQuery::text("rate")
                .kind(DatasetKind::Metric)
                .tag("finance"),
        )
        .expect("search");
    let mut ids: Vec<&str> = finance_metrics.iter().map(|h| h.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        vec!["metric:payment_success_rate", "metric:refund_rate"]
    );
}

#[test]
fn hits_carry_a_snippet_with_highlights() {
    let index = catalog().search_index().expect("an index");
    let hits = index
        .search(&SearchQuery::text("gross merchandise value"))
        .expect("search");
    let gmv = hits.first().expect("a hit");
    assert_eq!(gmv.id, "metric:gmv");
    assert_eq!(gmv.title, "GMV");
    assert!(
        gmv.snippet.contains("Gross merchandise value"),
        "{}",
        gmv.snippet
    );
    let (s, e) = gmv.highlights.first().copied().expect("a highlight");
    assert_eq!(&gmv.snippet[s..e], "Gross");
    // Odd input is no error, and nothing-but-punctuation finds nothing.
    assert!(
        index
            .search(&SearchQuery::text("\"(gmv OR:"))
            .expect("lenient")
            .first()
            .is_some_and(|h| h.id == "metric:gmv")
    );
    assert!(
        index
            .search(&SearchQuery::text("-- ::"))
            .expect("ok")
            .is_empty()
    );
}

#[test]
fn rebuilding_is_fast_enough_to_do_on_every_change() {
    let catalog = catalog();
    let started = std::time::Instant::now();
    for _ in 0..5 {
        catalog.search_index().expect("an index");
    }
    let each = started.elapsed() / 5;
    assert!(each.as_millis() < 1000, "one rebuild took {each:?}");
}
