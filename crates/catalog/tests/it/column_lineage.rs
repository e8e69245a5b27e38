//! Column-level lineage through a chain of models, with per-model column maps written by hand
//! the way the CLI reads them off DataFusion's plans (joins, CTEs and aggregates included).

use crate::{at, catalog, project};
use pulse_catalog::{
    Catalog, CatalogError, CatalogStore, ColumnInput, ColumnMap, LineageGraph, NodeKind,
};
use std::collections::BTreeSet;

/// `(output, [(input dataset, input column, indirect)])`.
type Spec<'a> = &'a [(&'a str, &'a [(&'a str, &'a str, bool)])];

fn map(spec: Spec) -> ColumnMap {
    spec.iter()
        .map(|(out, inputs)| {
            (
                out.to_string(),
                inputs
                    .iter()
                    .map(|(d, c, indirect)| {
                        if *indirect {
                            ColumnInput::indirect(d, c)
                        } else {
                            ColumnInput::direct(d, c)
                        }
                    })
                    .collect(),
            )
        })
        .collect()
}

const O: &str = "orders.orders";
const D: &str = "logistics.deliveries";
const SO: &str = "stg_orders__orders";
const SD: &str = "stg_logistics__deliveries";
const F: &str = "fct_orders";

/// A staging view that keeps the latest version per key (a window over `updated_at`): each
/// column is its source column, and depends indirectly on the key and the version.
fn dedup_view(source: &str, key: &str, columns: &[&str]) -> ColumnMap {
    columns
        .iter()
        .map(|c| {
            (
                c.to_string(),
                vec![
                    ColumnInput::direct(source, c),
                    ColumnInput::indirect(source, key),
                    ColumnInput::indirect(source, "updated_at"),
                ],
            )
        })
        .collect()
}

fn column_maps() -> Vec<(&'static str, ColumnMap)> {
    let stg_orders = dedup_view(
        O,
        "order_id",
        &[
            "order_id",
            "customer_id",
            "restaurant_id",
            "city",
            "placed_at",
            "promised_at",
            "status",
            "total_cents",
        ],
    );
    let stg_deliveries = dedup_view(
        D,
        "delivery_id",
        &[
            "delivery_id",
            "order_id",
            "courier_id",
            "status",
            "accepted_at",
            "picked_up_at",
            "delivered_at",
        ],
    );
    // The join of the orders CTE with deliveries, on order_id.
    const JOIN: [(&str, &str, bool); 2] = [(SO, "order_id", true), (SD, "order_id", true)];
    let fct_orders = map(&[
        ("order_id", &[(SO, "order_id", false)]),
        ("order_date", &[(SO, "placed_at", false)]),
        ("order_hour", &[(SO, "placed_at", false)]),
        ("city", &[(SO, "city", false)]),
        ("status", &[(SO, "status", false)]),
        (
            "gmv_cents",
            &[(SO, "total_cents", false), (SO, "status", true)],
        ),
        (
            "delivery_id",
            &[(SD, "delivery_id", false), JOIN[0], JOIN[1]],
        ),
        ("courier_id", &[(SD, "courier_id", false), JOIN[0], JOIN[1]]),
        (
            "end_to_end_minutes",
            &[
                (SO, "placed_at", false),
                (SD, "delivered_at", false),
                JOIN[0],
                JOIN[1],
            ],
        ),
        (
            "on_time",
            &[
                (SD, "delivered_at", false),
                (SO, "promised_at", false),
                (SO, "status", true),
                JOIN[0],
                JOIN[1],
            ],
        ),
        (
            "restaurant_name",
            &[
                ("stg_orders__restaurants", "restaurant_name", false),
                ("stg_orders__restaurants", "restaurant_id", true),
                (SO, "restaurant_id", true),
            ],
        ),
    ]);
    const NOT_NULL: (&str, &str, bool) = (F, "delivery_id", true);
    let fct_deliveries = map(&[
        ("delivery_id", &[(F, "delivery_id", false)]),
        ("order_date", &[(F, "order_date", false), NOT_NULL]),
        ("order_hour", &[(F, "order_hour", false), NOT_NULL]),
        ("peak_hour", &[(F, "order_hour", false), NOT_NULL]),
        ("city", &[(F, "city", false), NOT_NULL]),
        (
            "restaurant_name",
            &[(F, "restaurant_name", false), NOT_NULL],
        ),
        ("status", &[(F, "status", false), NOT_NULL]),
        (
            "end_to_end_minutes",
            &[(F, "end_to_end_minutes", false), NOT_NULL],
        ),
        ("on_time", &[(F, "on_time", false), NOT_NULL]),
        (
            "vehicle",
            &[
                ("stg_logistics__couriers", "vehicle", false),
                ("stg_logistics__couriers", "courier_id", true),
                (F, "courier_id", true),
            ],
        ),
    ]);
    let couriers = map(&[
        ("courier_id", &[("logistics.couriers", "courier_id", false)]),
        ("vehicle", &[("logistics.couriers", "vehicle", false)]),
    ]);
    vec![
        (SO, stg_orders),
        (SD, stg_deliveries),
        ("stg_logistics__couriers", couriers),
        (F, fct_orders),
        ("fct_deliveries", fct_deliveries),
    ]
}

fn with_maps() -> Catalog {
    let mut catalog = catalog();
    for (model, m) in column_maps() {
        catalog
            .set_column_lineage(model, &m)
            .expect("a column map of the project");
    }
    catalog
}

fn ids(nodes: &[&pulse_catalog::LineageNode]) -> BTreeSet<String> {
    nodes.iter().map(|n| n.id.clone()).collect()
}

fn all_ids(g: &LineageGraph) -> BTreeSet<String> {
    g.nodes.iter().map(|n| n.id.clone()).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn which_source_columns_feed_delivery_time_p90() {
    let catalog = with_maps();
    let up = catalog
        .upstream("delivery_time_p90", Some("delivery_time_p90"))
        .expect("column lineage");
    assert!(up.column_level);
    assert_eq!(up.start, "metric:delivery_time_p90#delivery_time_p90");
    // The value itself is computed from two source columns, through four models.
    let direct = up.direct_only();
    assert_eq!(
        all_ids(&direct),
        set(&[
            "metric:delivery_time_p90#delivery_time_p90",
            "fct_deliveries#end_to_end_minutes",
            "fct_orders#end_to_end_minutes",
            "stg_orders__orders#placed_at",
            "stg_logistics__deliveries#delivered_at",
            "raw:orders.orders#placed_at",
            "raw:logistics.deliveries#delivered_at",
            "orders.orders#placed_at",
            "logistics.deliveries#delivered_at",
        ])
    );
    assert_eq!(direct.edges.len(), 8);
    assert_eq!(
        ids(&direct.roots()),
        set(&[
            "orders.orders#placed_at",
            "logistics.deliveries#delivered_at"
        ])
    );
    // Counting what filters and joins read: the metric's filter (status) and time column
    // (order_date, from placed_at), the join keys and the dedup's version column.
    assert_eq!(
        ids(&up.roots()),
        set(&[
            "orders.orders#placed_at",
            "orders.orders#status",
            "orders.orders#order_id",
            "orders.orders#updated_at",
            "logistics.deliveries#delivered_at",
            "logistics.deliveries#delivery_id",
            "logistics.deliveries#order_id",
            "logistics.deliveries#updated_at",
        ])
    );
    let filter_edge = up
        .edges
        .iter()
        .find(|e| e.from == "fct_deliveries#status")
        .expect("the filter's edge");
    assert!(filter_edge.indirect);
    assert_eq!(filter_edge.to, "metric:delivery_time_p90#delivery_time_p90");
    // `value` names a metric's value column too.
    assert_eq!(
        catalog
            .upstream("metric:delivery_time_p90", Some("value"))
            .expect("by value")
            .nodes
            .len(),
        up.nodes.len()
    );
}

#[test]
fn a_named_dimension_and_a_combined_metric() {
    let catalog = with_maps();
    // weekday = to_char(cast(order_date as timestamp), '%u %a')
    let weekday = catalog
        .upstream("delivery_time_p90", Some("weekday"))
        .expect("dimension lineage");
    assert_eq!(
        ids(&weekday.direct_only().roots()),
        set(&["orders.orders#placed_at"])
    );
    assert!(all_ids(&weekday).contains("fct_deliveries#order_date"));
    // on_time_rate = on_time_deliveries / deliveries: their filters read on_time and status.
    let rate = catalog
        .upstream("on_time_rate", Some("on_time_rate"))
        .expect("combined metric lineage");
    let roots = ids(&rate.roots());
    for c in [
        "logistics.deliveries#delivered_at",
        "orders.orders#promised_at",
        "orders.orders#status",
    ] {
        assert!(roots.contains(c), "{c} in {roots:?}");
    }
    assert!(all_ids(&rate).contains("metric:on_time_deliveries#on_time_deliveries"));
    // The vehicle dimension comes from a joined model.
    let vehicle = catalog
        .upstream("drive_time", Some("vehicle"))
        .expect("vehicle");
    assert_eq!(
        ids(&vehicle.direct_only().roots()),
        set(&["logistics.couriers#vehicle"])
    );
}

#[test]
fn what_a_source_column_reaches() {
    let catalog = with_maps();
    let down = catalog
        .downstream("orders.orders", Some("placed_at"))
        .expect("downstream");
    let reached = all_ids(&down);
    for id in [
        "raw:orders.orders#placed_at",
        "stg_orders__orders#placed_at",
        "fct_orders#end_to_end_minutes",
        "fct_deliveries#end_to_end_minutes",
        "metric:delivery_time_p90#delivery_time_p90",
        "metric:delivery_time_p90#weekday",
        "tile:logistics/p90#delivery_time_p90",
        "tile:logistics/busy-hours#weekday",
        "tile:executive/orders-by-hour#order_hour",
        // The quarantine of orders keeps the column as it is.
        "quarantine:orders.orders#placed_at",
    ] {
        assert!(reached.contains(id), "{id} not reached");
    }
    assert!(
        down.nodes
            .iter()
            .any(|n| n.kind == NodeKind::Tile && n.column.as_deref() == Some("delivery_time_p50"))
    );
    // Every edge points downstream from the start.
    assert_eq!(down.start, "orders.orders#placed_at");
    assert!(down.edges.iter().all(|e| e.to != down.start));
}

#[test]
fn bad_maps_and_columns_are_errors() {
    let mut catalog = with_maps();
    let bad = map(&[("x", &[("no_such_model", "y", false)])]);
    match catalog.set_column_lineage("fct_orders", &bad) {
        Err(CatalogError::ColumnLineage { dataset, message }) => {
            assert_eq!(dataset, "fct_orders");
            assert!(message.contains("no_such_model"), "{message}");
        }
        other => panic!("expected a column lineage error, got {other:?}"),
    }
    assert!(
        catalog
            .set_column_lineage("orders.orders", &ColumnMap::new())
            .is_err()
    );
    assert!(matches!(
        catalog.upstream("fct_deliveries", Some("no_such_column")),
        Err(CatalogError::UnknownColumn { .. })
    ));
    assert!(matches!(
        catalog.upstream("nope", Some("x")),
        Err(CatalogError::UnknownDataset(_))
    ));
}

#[test]
fn column_lineage_survives_the_store() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = CatalogStore::open(dir.path()).expect("store");
    let mut checked = catalog();
    for (model, m) in column_maps() {
        checked.set_column_lineage(model, &m).expect("valid");
        store
            .record_column_lineage(model, "run-1", at("2026-03-01T02:30:00Z"), &m)
            .expect("recorded");
    }
    let loaded = Catalog::load(&project(), &store).expect("loaded");
    assert!(loaded.warnings().is_empty(), "{:?}", loaded.warnings());
    let a = checked
        .upstream("delivery_time_p90", Some("delivery_time_p90"))
        .expect("a");
    let b = loaded
        .upstream("delivery_time_p90", Some("delivery_time_p90"))
        .expect("b");
    assert_eq!(a, b);
}
