//! The asset graph of the example project.

use pulse_orchestrate::{AssetGraph, TaskKind};
use std::path::Path;

fn example() -> AssetGraph {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/food-delivery");
    let project = pulse_project::Project::load(&root).expect("the example project loads");
    AssetGraph::from_project(&project)
}

#[test]
fn one_land_task_per_source_validations_and_models() {
    let g = example();
    let lands: Vec<&str> = g
        .tasks
        .iter()
        .filter(|t| t.kind == TaskKind::Land)
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(
        lands,
        [
            "land:ga4",
            "land:logistics",
            "land:orders",
            "land:payments",
            "land:photos",
            "land:promotions",
            "land:support"
        ]
    );
    let pay = g
        .task("validate:payments.payments")
        .expect("payments has expectations");
    assert_eq!(pay.upstream, ["land:payments"]);
    assert_eq!(pay.target, "payments.payments");
    // A model reads a validated table through its validation, an unvalidated one from landing.
    let stg = g.task("model:stg_payments__payments").expect("model");
    assert_eq!(stg.upstream, ["validate:payments.payments"]);
    assert!(g.task("validate:orders.restaurants").is_none());
    let rest = g.task("model:stg_orders__restaurants").expect("model");
    assert_eq!(rest.upstream, ["land:orders"]);
    // Topological order.
    for (i, t) in g.tasks.iter().enumerate() {
        for u in &t.upstream {
            let j = g
                .tasks
                .iter()
                .position(|x| &x.id == u)
                .expect("known upstream");
            assert!(j < i, "{u} after {}", t.id);
        }
    }
    assert_eq!(
        g.tasks.iter().filter(|t| t.kind == TaskKind::Model).count(),
        24
    );
}

#[test]
fn selectors_on_the_example() {
    let g = example();
    let up = g.select("+fct_orders", None).expect("select");
    assert!(
        up.contains("model:fct_orders") && up.contains("land:orders") && up.contains("land:ga4")
    );
    assert!(!up.contains("land:support") && !up.contains("model:fct_support_tickets"));
    assert_eq!(
        g.select("1+fct_support_tickets", None)
            .expect("select")
            .into_iter()
            .collect::<Vec<_>>(),
        [
            "model:fct_orders",
            "model:fct_support_tickets",
            "model:stg_support__tickets"
        ]
    );
    let src = g.select("source:payments", None).expect("select");
    assert!(src.contains("land:payments") && src.contains("validate:payments.payments"));
    assert!(src.iter().all(|id| id.contains("payments")));
    let staging = g.select("path:models/staging", None).expect("select");
    assert!(!staging.is_empty() && staging.iter().all(|id| id.starts_with("model:stg_")));
    let down = g.select("stg_orders__orders+", None).expect("select");
    assert!(down.contains("model:fct_orders"));
    let e = g.select("fct_orderz", None).expect_err("unknown");
    assert!(e.to_string().contains("fct_orderz"), "{e}");
    let restricted = g.restrict(&up);
    assert_eq!(restricted.tasks.len(), up.len());
    let text = g.render_text();
    assert!(text.starts_with("level 0\n  land:"), "{text}");
    assert!(text.contains("model:fct_orders  <- "), "{text}");
    assert!(g.to_dot().contains("\"land:orders\" -> "));
}

#[test]
fn tags_select_models() {
    let g = example();
    let tagged: Vec<&str> = g
        .tasks
        .iter()
        .filter(|t| t.kind == TaskKind::Model && !t.tags.is_empty())
        .map(|t| t.id.as_str())
        .collect();
    assert!(!tagged.is_empty(), "the example tags some models");
    let tag = g
        .tasks
        .iter()
        .find(|t| t.kind == TaskKind::Model && !t.tags.is_empty())
        .map(|t| t.tags[0].clone())
        .expect("a tag");
    let sel = g.select(&format!("tag:{tag}"), None).expect("select");
    let finance = g.select("tag:finance", None).expect("select");
    // The payments source is tagged finance too, so its landing and validation come along.
    assert_eq!(
        finance.iter().map(String::as_str).collect::<Vec<_>>(),
        [
            "land:payments",
            "model:fct_payments",
            "validate:payments.payments"
        ]
    );
    assert!(
        g.select("tag:finance", Some("tag:finance"))
            .expect("select")
            .is_empty()
    );
    assert!(
        sel.iter()
            .all(|id| g.task(id).is_some_and(|t| t.tags.contains(&tag)))
    );
}
