//! Table-level lineage of the example, checked against a graph written out by hand from the
//! project's files.

use crate::catalog;
use pulse_catalog::{LineageGraph, NodeKind};
use std::collections::{BTreeMap, BTreeSet};

/// Source tables whose raw landing feeds one staging model of the same name.
const STAGED: &[(&str, &str)] = &[
    ("ga4.events", "stg_ga4__events"),
    ("logistics.couriers", "stg_logistics__couriers"),
    ("logistics.deliveries", "stg_logistics__deliveries"),
    ("orders.customers", "stg_orders__customers"),
    ("orders.menu_items", "stg_orders__menu_items"),
    ("orders.order_items", "stg_orders__order_items"),
    ("orders.orders", "stg_orders__orders"),
    ("orders.restaurants", "stg_orders__restaurants"),
    ("payments.payments", "stg_payments__payments"),
    ("payments.refunds", "stg_payments__refunds"),
    ("photos.delivery_photos", "stg_photos__delivery_photos"),
    ("photos.menu_photos", "stg_photos__menu_photos"),
    ("promotions.campaigns", "stg_promotions__campaigns"),
    ("promotions.promo_codes", "stg_promotions__promo_codes"),
    ("support.tickets", "stg_support__tickets"),
];

/// Datasets with an expectation that moves failing rows to quarantine.
const QUARANTINED: &[&str] = &[
    "raw:ga4.events",
    "raw:logistics.deliveries",
    "raw:orders.orders",
    "raw:payments.payments",
    "raw:support.tickets",
    "fct_orders",
    "fct_deliveries",
];

/// Each model and what it `ref`s.
const REFS: &[(&str, &[&str])] = &[
    ("int_ga4__sessions", &["stg_ga4__events"]),
    (
        "fct_orders",
        &[
            "stg_orders__orders",
            "stg_logistics__deliveries",
            "stg_orders__order_items",
            "int_ga4__sessions",
            "stg_promotions__promo_codes",
            "stg_orders__restaurants",
        ],
    ),
    (
        "fct_deliveries",
        &[
            "fct_orders",
            "stg_logistics__couriers",
            "stg_photos__delivery_photos",
        ],
    ),
    ("fct_campaign_funnel_daily", &["int_ga4__sessions"]),
    (
        "fct_campaign_funnel",
        &[
            "int_ga4__sessions",
            "fct_orders",
            "stg_promotions__campaigns",
        ],
    ),
    (
        "fct_payments",
        &["stg_payments__refunds", "stg_payments__payments"],
    ),
    (
        "fct_support_tickets",
        &["stg_support__tickets", "fct_orders"],
    ),
    (
        "dim_customers",
        &[
            "fct_orders",
            "stg_support__tickets",
            "stg_orders__customers",
        ],
    ),
    (
        "dim_restaurants",
        &[
            "stg_orders__menu_items",
            "stg_photos__menu_photos",
            "fct_orders",
            "stg_orders__restaurants",
        ],
    ),
];

/// Metrics that read a model.
const METRIC_MODELS: &[(&str, &str)] = &[
    ("deliveries", "fct_deliveries"),
    ("delivery_time_p50", "fct_deliveries"),
    ("delivery_time_p90", "fct_deliveries"),
    ("delivery_time_p99", "fct_deliveries"),
    ("accept_time", "fct_deliveries"),
    ("preparation_time", "fct_deliveries"),
    ("pickup_wait_time", "fct_deliveries"),
    ("drive_time", "fct_deliveries"),
    ("on_time_deliveries", "fct_deliveries"),
    ("sessions", "fct_campaign_funnel_daily"),
    ("view_item_sessions", "fct_campaign_funnel_daily"),
    ("add_to_cart_sessions", "fct_campaign_funnel_daily"),
    ("begin_checkout_sessions", "fct_campaign_funnel_daily"),
    ("purchase_sessions", "fct_campaign_funnel_daily"),
    ("orders", "fct_orders"),
    ("delivered_orders", "fct_orders"),
    ("cancelled_orders", "fct_orders"),
    ("gmv", "fct_orders"),
    ("promo_orders", "fct_orders"),
    ("discounts", "fct_orders"),
    ("payments", "fct_payments"),
    ("successful_payments", "fct_payments"),
    ("refunded_payments", "fct_payments"),
    ("refunds", "fct_payments"),
    ("tickets", "fct_support_tickets"),
    ("first_response_time", "fct_support_tickets"),
    ("resolution_time", "fct_support_tickets"),
    ("satisfaction", "fct_support_tickets"),
];

/// Metrics that combine others.
const COMBINED: &[(&str, &[&str])] = &[
    ("on_time_rate", &["on_time_deliveries", "deliveries"]),
    (
        "campaign_funnel",
        &[
            "sessions",
            "view_item_sessions",
            "add_to_cart_sessions",
            "begin_checkout_sessions",
            "purchase_sessions",
        ],
    ),
    (
        "session_conversion_rate",
        &["purchase_sessions", "sessions"],
    ),
    ("average_order_value", &["gmv", "delivered_orders"]),
    ("cancellation_rate", &["cancelled_orders", "orders"]),
    ("promo_redemption_rate", &["promo_orders", "orders"]),
    ("payment_success_rate", &["successful_payments", "payments"]),
    ("refund_rate", &["refunded_payments", "successful_payments"]),
    ("tickets_per_1000_orders", &["tickets", "orders"]),
];

/// Each dashboard's tiles and the metrics they show.
type Tiles = &'static [(&'static str, &'static [&'static str])];

const TILES: &[(&str, Tiles)] = &[
    (
        "executive",
        &[
            ("orders", &["orders"]),
            ("gmv", &["gmv"]),
            ("aov", &["average_order_value"]),
            ("cancellation-rate", &["cancellation_rate"]),
            ("delivery-time", &["delivery_time_p50"]),
            ("on-time-rate", &["on_time_rate"]),
            ("orders-per-day", &["orders"]),
            ("gmv-per-day", &["gmv"]),
            ("gmv-by-city", &["gmv"]),
            (
                "cities",
                &[
                    "orders",
                    "gmv",
                    "average_order_value",
                    "cancellation_rate",
                    "delivery_time_p50",
                    "on_time_rate",
                ],
            ),
            ("orders-by-hour", &["orders"]),
        ],
    ),
    (
        "logistics",
        &[
            ("p50", &["delivery_time_p50"]),
            ("p90", &["delivery_time_p90"]),
            ("p99", &["delivery_time_p99"]),
            ("on-time", &["on_time_rate"]),
            (
                "delivery-time-per-day",
                &[
                    "delivery_time_p50",
                    "delivery_time_p90",
                    "delivery_time_p99",
                ],
            ),
            (
                "stages",
                &[
                    "accept_time",
                    "preparation_time",
                    "pickup_wait_time",
                    "drive_time",
                ],
            ),
            (
                "cities",
                &[
                    "deliveries",
                    "delivery_time_p50",
                    "delivery_time_p90",
                    "accept_time",
                    "preparation_time",
                    "pickup_wait_time",
                    "drive_time",
                    "on_time_rate",
                ],
            ),
            ("p90-by-city", &["delivery_time_p90"]),
            ("busy-hours", &["delivery_time_p50"]),
        ],
    ),
    (
        "marketing",
        &[
            ("sessions", &["sessions"]),
            ("conversion", &["session_conversion_rate"]),
            ("promo-redemption", &["promo_redemption_rate"]),
            ("discounts", &["discounts"]),
            ("funnel", &["campaign_funnel"]),
            ("conversion-by-channel", &["session_conversion_rate"]),
            ("funnel-by-campaign", &["campaign_funnel"]),
            (
                "funnel-by-channel",
                &["campaign_funnel", "session_conversion_rate"],
            ),
            ("gmv-by-campaign", &["gmv"]),
        ],
    ),
    (
        "support",
        &[
            ("tickets", &["tickets"]),
            ("per-1000-orders", &["tickets_per_1000_orders"]),
            ("first-response", &["first_response_time"]),
            ("satisfaction", &["satisfaction"]),
            ("tickets-per-day", &["tickets"]),
            ("categories", &["tickets"]),
            (
                "cities",
                &[
                    "tickets",
                    "tickets_per_1000_orders",
                    "first_response_time",
                    "resolution_time",
                    "satisfaction",
                ],
            ),
        ],
    ),
];

type Edges = BTreeSet<(String, String)>;

fn expected_edges() -> Edges {
    let mut e = Edges::new();
    let mut add = |a: String, b: String| {
        e.insert((a, b));
    };
    for (table, staging) in STAGED {
        add(table.to_string(), format!("raw:{table}"));
        add(format!("raw:{table}"), staging.to_string());
    }
    for q in QUARANTINED {
        let name = q.trim_start_matches("raw:");
        add(q.to_string(), format!("quarantine:{name}"));
    }
    for (model, refs) in REFS {
        for r in *refs {
            add(r.to_string(), model.to_string());
        }
    }
    for (metric, model) in METRIC_MODELS {
        add(model.to_string(), format!("metric:{metric}"));
    }
    for (metric, parts) in COMBINED {
        for p in *parts {
            add(format!("metric:{p}"), format!("metric:{metric}"));
        }
    }
    for (dashboard, tiles) in TILES {
        for (tile, metrics) in *tiles {
            let t = format!("tile:{dashboard}/{tile}");
            for m in *metrics {
                add(format!("metric:{m}"), t.clone());
            }
            add(t, format!("dashboard:{dashboard}"));
        }
    }
    e
}

/// The part of `edges` reachable from `start` against (upstream) or along (downstream) them.
fn closure(edges: &Edges, start: &str, upstream: bool) -> (BTreeSet<String>, Edges) {
    let mut nodes = BTreeSet::from([start.to_string()]);
    let mut out = Edges::new();
    let mut frontier = vec![start.to_string()];
    while let Some(n) = frontier.pop() {
        for (a, b) in edges {
            let (near, far) = if upstream { (b, a) } else { (a, b) };
            if *near == n {
                out.insert((a.clone(), b.clone()));
                if nodes.insert(far.clone()) {
                    frontier.push(far.clone());
                }
            }
        }
    }
    (nodes, out)
}

fn graph_sets(g: &LineageGraph) -> (BTreeSet<String>, Edges) {
    (
        g.nodes.iter().map(|n| n.id.clone()).collect(),
        g.edges
            .iter()
            .map(|e| (e.from.clone(), e.to.clone()))
            .collect(),
    )
}

#[test]
fn the_whole_graph_is_exactly_the_hand_written_one() {
    let catalog = catalog();
    let actual: Edges = catalog
        .lineage()
        .edges()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let expected = expected_edges();
    let missing: Vec<_> = expected.difference(&actual).collect();
    let extra: Vec<_> = actual.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing: {missing:#?}\nextra: {extra:#?}"
    );
}

#[test]
fn every_mart_and_metric_up_and_downstream() {
    let catalog = catalog();
    let expected = expected_edges();
    let marts: Vec<String> = REFS
        .iter()
        .map(|(m, _)| m.to_string())
        .filter(|m| m != "int_ga4__sessions")
        .collect();
    let metrics: Vec<String> = METRIC_MODELS
        .iter()
        .map(|(m, _)| m.to_string())
        .chain(COMBINED.iter().map(|(m, _)| m.to_string()))
        .collect();
    assert_eq!(marts.len(), 8);
    assert_eq!(metrics.len(), 37);
    let ids = marts
        .iter()
        .cloned()
        .chain(metrics.iter().map(|m| format!("metric:{m}")));
    for id in ids {
        for upstream in [true, false] {
            let graph = if upstream {
                catalog.upstream(&id, None)
            } else {
                catalog.downstream(&id, None)
            }
            .expect("a lineage answer");
            let (nodes, edges) = graph_sets(&graph);
            let (want_nodes, want_edges) = closure(&expected, &id, upstream);
            assert_eq!(nodes, want_nodes, "{id} upstream={upstream}: nodes");
            assert_eq!(edges, want_edges, "{id} upstream={upstream}: edges");
        }
    }
}

#[test]
fn the_question_of_the_issue_at_table_level() {
    let catalog = catalog();
    // By bare metric name: which source tables feed delivery time p90?
    let up = catalog
        .upstream("delivery_time_p90", None)
        .expect("upstream");
    assert_eq!(up.start, "metric:delivery_time_p90");
    let roots: BTreeSet<&str> = up.roots().iter().map(|n| n.id.as_str()).collect();
    let want: BTreeSet<&str> = [
        "ga4.events",
        "logistics.couriers",
        "logistics.deliveries",
        "orders.order_items",
        "orders.orders",
        "orders.restaurants",
        "photos.delivery_photos",
        "promotions.promo_codes",
    ]
    .into_iter()
    .collect();
    assert_eq!(roots, want);
    // Which dashboards does the orders source table reach?
    let down = catalog
        .downstream("orders.orders", None)
        .expect("downstream");
    let leaves: BTreeSet<&str> = down
        .leaves()
        .iter()
        .filter(|n| n.kind != NodeKind::Quarantine)
        .map(|n| n.id.as_str())
        .collect();
    // Every dashboard, and the marts no metric reads yet.
    assert_eq!(
        leaves,
        [
            "dashboard:executive",
            "dashboard:logistics",
            "dashboard:marketing",
            "dashboard:support",
            "dim_customers",
            "dim_restaurants",
            "fct_campaign_funnel",
        ]
        .into_iter()
        .collect()
    );
    assert!(catalog.upstream("no_such_thing", None).is_err());
}

#[test]
fn used_by_and_upstream_on_datasets() {
    let catalog = catalog();
    let fct = catalog.get("fct_orders").expect("fct_orders");
    let models: BTreeSet<&str> = fct.used_by.models.iter().map(String::as_str).collect();
    assert_eq!(
        models,
        [
            "dim_customers",
            "dim_restaurants",
            "fct_campaign_funnel",
            "fct_deliveries",
            "fct_support_tickets"
        ]
        .into_iter()
        .collect()
    );
    let metrics: BTreeSet<&str> = fct.used_by.metrics.iter().map(String::as_str).collect();
    let want: BTreeSet<&str> = METRIC_MODELS
        .iter()
        .filter(|(_, m)| *m == "fct_orders")
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(metrics, want);
    // A source table is used by the models that read its landing.
    let orders = catalog.get("orders.orders").expect("orders.orders");
    assert_eq!(orders.used_by.models, vec!["stg_orders__orders"]);
    // A metric is used by combined metrics and by tiles.
    let gmv = catalog.get("gmv").expect("the gmv metric");
    assert_eq!(gmv.used_by.metrics, vec!["average_order_value"]);
    let tiles: Vec<String> = gmv
        .used_by
        .tiles
        .iter()
        .map(|t| format!("{}/{}", t.dashboard, t.tile))
        .collect();
    assert_eq!(
        tiles,
        vec![
            "executive/cities",
            "executive/gmv",
            "executive/gmv-by-city",
            "executive/gmv-per-day",
            "marketing/gmv-by-campaign"
        ]
    );
    let executive = catalog.get("executive").expect("the executive dashboard");
    assert!(executive.upstream.contains(&"metric:gmv".to_string()));
    assert_eq!(executive.upstream.len(), 6);
}

#[test]
fn drawings_dot_json_and_layout() {
    let catalog = catalog();
    let graph = catalog.upstream("fct_deliveries", None).expect("upstream");
    let dot = graph.to_dot();
    assert!(dot.starts_with("digraph lineage {"));
    assert!(dot.contains("\"fct_orders\" -> \"fct_deliveries\";"));
    assert!(dot.contains("\"raw:orders.orders\" -> \"stg_orders__orders\";"));
    let json = serde_json::to_value(&graph).expect("json");
    assert_eq!(json["start"], "fct_deliveries");
    assert_eq!(json["direction"], "upstream");

    let layout = graph.layout();
    assert_eq!(layout.nodes.len(), graph.nodes.len());
    let by_id: BTreeMap<&str, &pulse_catalog::PlacedNode> =
        layout.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    // Every edge goes left to right, and no two nodes overlap.
    for e in &graph.edges {
        assert!(
            by_id[e.from.as_str()].layer < by_id[e.to.as_str()].layer,
            "{e:?}"
        );
    }
    for a in &layout.nodes {
        for b in &layout.nodes {
            if a.id < b.id {
                let apart = a.x + a.width <= b.x
                    || b.x + b.width <= a.x
                    || a.y + a.height <= b.y
                    || b.y + b.height <= a.y;
                assert!(apart, "{} overlaps {}", a.id, b.id);
            }
            assert!(a.x + a.width <= layout.width && a.y + a.height <= layout.height);
        }
    }
    // Source tables are the first layer, the start the last.
    assert_eq!(by_id["orders.orders"].layer, 0);
    assert_eq!(
        by_id["fct_deliveries"].layer,
        layout.nodes.iter().map(|n| n.layer).max().unwrap_or(0)
    );
    // A route passes through a slot in every layer its edge crosses, always rightwards.
    for e in &layout.edges {
        let span = by_id[e.to.as_str()].layer - by_id[e.from.as_str()].layer;
        assert_eq!(e.points.len(), 2 * span, "{} -> {}", e.from, e.to);
        assert!(e.points.windows(2).all(|p| p[0].0 < p[1].0));
    }
    let svg = layout.to_svg();
    assert!(svg.starts_with("<svg") && svg.contains("data-id=\"fct_orders\""));
}

#[test]
fn dashboards_showing_a_metric_directly_or_combined() {
    let catalog = catalog();
    // delivered_orders is on no tile itself, but average_order_value is.
    assert_eq!(
        catalog
            .dashboards_showing("delivered_orders")
            .expect("a metric"),
        vec!["executive"]
    );
    assert_eq!(
        catalog.dashboards_showing("gmv").expect("a metric"),
        vec!["executive", "marketing"]
    );
    assert_eq!(
        catalog.dashboards_showing("fct_orders").expect("a model"),
        vec!["executive", "logistics", "marketing", "support"]
    );
}

#[test]
fn the_catalog_and_its_index_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<pulse_catalog::Catalog>();
    shared::<pulse_catalog::SearchIndex>();
    shared::<pulse_catalog::CatalogStore>();
}

#[test]
#[ignore = "writes drawings to $PULSE_CATALOG_DRAW_DIR for a person to look at"]
fn draw_for_a_person() {
    let Ok(dir) = std::env::var("PULSE_CATALOG_DRAW_DIR") else {
        return;
    };
    let catalog = catalog();
    for (name, graph) in [
        (
            "fct_deliveries_up",
            catalog.upstream("fct_deliveries", None),
        ),
        ("gmv_both", catalog.neighbourhood("gmv", None)),
        ("orders_down", catalog.downstream("orders.orders", None)),
    ] {
        let svg = graph.expect("lineage").layout().to_svg();
        std::fs::write(format!("{dir}/{name}.svg"), svg).expect("written");
    }
}

#[test]
fn tiles_collapse_into_metric_to_dashboard_edges() {
    let catalog = catalog();
    let full = catalog.downstream("gmv", None).expect("downstream");
    let overview = full.collapse(NodeKind::Tile);
    assert!(overview.nodes.iter().all(|n| n.kind != NodeKind::Tile));
    let edges: BTreeSet<(&str, &str)> = overview
        .edges
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str()))
        .collect();
    let want: BTreeSet<(&str, &str)> = [
        ("metric:gmv", "metric:average_order_value"),
        ("metric:gmv", "dashboard:executive"),
        ("metric:gmv", "dashboard:marketing"),
        ("metric:average_order_value", "dashboard:executive"),
    ]
    .into_iter()
    .collect();
    assert_eq!(edges, want);
}
