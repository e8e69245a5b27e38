//! Column lineage off logical plans: through CTEs, joins, aggregates, unions and views, each
//! output column names the base columns that compute it and those that only pick its rows. A
//! view is not looked through: a query over `stg_orders` reads `stg_orders`' columns, and the
//! view's own lineage leads on to `orders` (the catalog chains the hops).

use pulse_transform::{ColumnSources, Engine};
use std::collections::{BTreeMap, BTreeSet};

async fn engine() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pulse.toml"), "name = \"lineage\"\n").expect("write");
    let project = pulse_project::Project::load(dir.path()).expect("project");
    let engine = Engine::open(&project).await.expect("engine");
    for ddl in [
        "create table orders (order_id bigint, customer_id bigint, placed_at timestamp, status varchar, total_cents bigint)",
        "create table deliveries (delivery_id bigint, order_id bigint, delivered_at timestamp)",
        "create table customers (customer_id bigint, city varchar)",
        "create view stg_orders as select order_id, customer_id, placed_at, status, total_cents from orders where status is not null",
    ] {
        engine.query(ddl).await.expect(ddl);
    }
    (dir, engine)
}

fn cols(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(t, c)| (t.to_string(), c.to_string()))
        .collect()
}

async fn lineage(sql: &str) -> BTreeMap<String, ColumnSources> {
    let (_dir, engine) = engine().await;
    engine.column_lineage(sql).await.expect("lineage")
}

#[tokio::test]
async fn through_a_cte_a_join_and_arithmetic() {
    let l = lineage(
        "with o as (select * from stg_orders), d as (select order_id, delivered_at from deliveries) \
         select o.order_id, c.city, \
                (date_part('epoch', d.delivered_at) - date_part('epoch', o.placed_at)) / 60.0 as minutes \
         from o left join d on d.order_id = o.order_id \
         left join customers c on c.customer_id = o.customer_id \
         where o.status = 'delivered'",
    )
    .await;
    assert_eq!(
        l["minutes"].direct,
        cols(&[("deliveries", "delivered_at"), ("stg_orders", "placed_at")])
    );
    assert_eq!(l["city"].direct, cols(&[("customers", "city")]));
    assert_eq!(l["order_id"].direct, cols(&[("stg_orders", "order_id")]));
    // Join keys and the filter pick the rows of every column.
    for column in ["minutes", "city", "order_id"] {
        let indirect = &l[column].indirect;
        for base in [
            ("stg_orders", "status"),
            ("stg_orders", "customer_id"),
            ("customers", "customer_id"),
            ("deliveries", "order_id"),
        ] {
            assert!(
                indirect.contains(&(base.0.to_string(), base.1.to_string())),
                "{column} misses {base:?}: {indirect:?}"
            );
        }
    }
}

#[tokio::test]
async fn aggregates_read_their_argument_and_are_grouped_by_the_keys() {
    let l = lineage(
        "select c.city, sum(o.total_cents) as gmv, count(*) as orders \
         from stg_orders o join customers c on c.customer_id = o.customer_id group by c.city",
    )
    .await;
    assert_eq!(l["city"].direct, cols(&[("customers", "city")]));
    assert_eq!(l["gmv"].direct, cols(&[("stg_orders", "total_cents")]));
    assert!(
        l["gmv"]
            .indirect
            .contains(&("customers".into(), "city".into()))
    );
    assert!(l["orders"].direct.is_empty(), "{:?}", l["orders"]);
}

#[tokio::test]
async fn a_union_merges_its_branches_and_a_window_reads_its_argument() {
    let l = lineage(
        "select order_id as id, placed_at as at from orders \
         union all select delivery_id, delivered_at from deliveries",
    )
    .await;
    assert_eq!(
        l["at"].direct,
        cols(&[("orders", "placed_at"), ("deliveries", "delivered_at")])
    );
    let l = lineage(
        "select order_id, row_number() over (partition by customer_id order by placed_at) as n, \
                sum(total_cents) over (partition by customer_id) as running from orders",
    )
    .await;
    assert_eq!(l["order_id"].direct, cols(&[("orders", "order_id")]));
    // A window's partition keys are read with its argument.
    assert_eq!(
        l["running"].direct,
        cols(&[("orders", "total_cents"), ("orders", "customer_id")])
    );
}

#[tokio::test]
async fn a_view_is_one_hop_and_its_own_lineage_is_the_next() {
    let mart = lineage("select order_id, total_cents from stg_orders").await;
    assert_eq!(
        mart["total_cents"].direct,
        cols(&[("stg_orders", "total_cents")])
    );
    let view = lineage(
        "select order_id, customer_id, placed_at, status, total_cents from orders \
         where status is not null",
    )
    .await;
    assert_eq!(
        view["total_cents"].direct,
        cols(&[("orders", "total_cents")])
    );
    assert!(
        view["total_cents"]
            .indirect
            .contains(&("orders".into(), "status".into()))
    );
}
