//! The semantic layer compiles requests on the food-delivery example's definitions into the SQL
//! reviewed in the snapshots, and refuses requests the definitions do not allow.

use chrono::NaiveDate;
use proptest::prelude::*;
use pulse_metrics::{ColumnRole, MetricRequest, MetricsError, SemanticLayer};
use pulse_project::{Grain, Project};
use std::collections::BTreeMap;
use std::path::Path;

fn layer() -> SemanticLayer {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/food-delivery");
    let project = Project::load(&root).unwrap_or_else(|e| panic!("{e}"));
    let mut layer = SemanticLayer::new(&project);
    // As the service marks them from the warehouse schema.
    layer.mark_date_column("fct_orders", "order_date");
    layer
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn request(metrics: &[&str]) -> MetricRequest {
    MetricRequest {
        metrics: metrics.iter().map(|m| m.to_string()).collect(),
        ..MetricRequest::default()
    }
}

#[test]
fn one_model_by_city_and_week_with_a_filter() {
    let req = MetricRequest {
        dimensions: vec!["city".into()],
        grain: Some(Grain::Week),
        from: Some(day("2026-11-01")),
        to: Some(day("2026-11-28")),
        filters: BTreeMap::from([(
            "campaign".into(),
            vec!["black_friday".into(), "o'hare".into()],
        )]),
        ..request(&["orders", "gmv", "average_order_value"])
    };
    let q = layer().compile(&req).expect("compiles");
    insta::assert_snapshot!("orders_gmv_aov_by_city_week", q.sql);
    let names: Vec<&str> = q.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["period", "city", "orders", "gmv", "average_order_value"]
    );
}

#[test]
fn a_derived_metric_across_two_models_joins_their_keys_null_safely() {
    let req = MetricRequest {
        dimensions: vec!["city".into()],
        from: Some(day("2026-11-01")),
        to: Some(day("2026-11-07")),
        ..request(&["tickets_per_1000_orders"])
    };
    let q = layer().compile(&req).expect("compiles");
    insta::assert_snapshot!("tickets_per_1000_orders_by_city", q.sql);
}

#[test]
fn a_funnel_shows_each_step_and_its_conversion() {
    let req = MetricRequest {
        dimensions: vec!["campaign".into()],
        ..request(&["campaign_funnel"])
    };
    let q = layer().compile(&req).expect("compiles");
    insta::assert_snapshot!("campaign_funnel_by_campaign", q.sql);
    let roles: Vec<ColumnRole> = q.columns.iter().map(|c| c.role).collect();
    assert_eq!(roles[0], ColumnRole::Dimension);
    assert_eq!(roles.iter().filter(|r| **r == ColumnRole::Step).count(), 5);
    assert_eq!(
        roles
            .iter()
            .filter(|r| **r == ColumnRole::Conversion)
            .count(),
        4
    );
}

#[test]
fn a_comparison_lines_the_previous_period_up_with_the_current_one() {
    let req = MetricRequest {
        grain: Some(Grain::Day),
        from: Some(day("2026-11-08")),
        to: Some(day("2026-11-14")),
        compare: true,
        ..request(&["delivery_time_p90", "on_time_rate"])
    };
    let q = layer().compile(&req).expect("compiles");
    insta::assert_snapshot!("delivery_p90_on_time_compare_daily", q.sql);
    assert_eq!(
        req.previous_range(),
        Some((day("2026-11-01"), day("2026-11-07")))
    );
    let names: Vec<&str> = q.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "period",
            "delivery_time_p90",
            "on_time_rate",
            "delivery_time_p90__previous",
            "delivery_time_p90__change",
            "on_time_rate__previous",
            "on_time_rate__change"
        ]
    );
}

#[test]
fn totals_with_a_limit_are_ordered_by_the_first_metric() {
    let req = MetricRequest {
        dimensions: vec!["restaurant_name".into()],
        limit: Some(5),
        ..request(&["gmv"])
    };
    let q = layer().compile(&req).expect("compiles");
    assert!(
        q.sql.ends_with(
            "order by cur.\"gmv\" desc nulls last, cur.\"restaurant_name\" nulls last\nlimit 5"
        ),
        "{}",
        q.sql
    );
}

#[test]
fn requests_the_definitions_do_not_allow_are_refused_with_the_reason() {
    let l = layer();
    let bad = |req: MetricRequest| match l.compile(&req) {
        Err(MetricsError::BadRequest(m)) => m,
        Err(MetricsError::UnknownMetric(m)) => format!("unknown {m}"),
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(bad(request(&["revenue"])), "unknown revenue");
    let m = bad(MetricRequest {
        dimensions: vec!["vehicle".into()],
        ..request(&["orders"])
    });
    assert!(
        m.contains("`orders` may not be cut or filtered by `vehicle`"),
        "{m}"
    );
    let m = bad(MetricRequest {
        filters: BTreeMap::from([("method".into(), vec!["card".into()])]),
        ..request(&["tickets_per_1000_orders"])
    });
    assert!(m.contains("may not be cut or filtered by `method`"), "{m}");
    let m = bad(MetricRequest {
        from: Some(day("2026-11-08")),
        to: Some(day("2026-11-01")),
        ..request(&["orders"])
    });
    assert!(m.contains("ends (2026-11-01) before it starts"), "{m}");
    let m = bad(MetricRequest {
        compare: true,
        ..request(&["orders"])
    });
    assert!(m.contains("needs both `from` and `to`"), "{m}");
    assert!(bad(request(&[])).contains("at least one metric"));
}

proptest! {
    /// Filter values are data, never SQL: whatever a reader types stays inside one literal.
    #[test]
    fn filter_values_stay_inside_their_literal(value in "\\PC{0,20}") {
        let req = MetricRequest {
            filters: BTreeMap::from([("city".into(), vec![value.clone()])]),
            ..request(&["orders"])
        };
        let sql = layer().compile(&req).expect("compiles").sql;
        let literal = pulse_metrics::quote_literal(&value);
        let wanted = format!("in ({literal})");
        prop_assert!(sql.contains(&wanted));
        // An odd number of quotes outside the literal would mean it broke out.
        let outside = sql.replacen(&literal, "", 1);
        prop_assert_eq!(outside.matches('\'').count() % 2, 0);
    }
}
