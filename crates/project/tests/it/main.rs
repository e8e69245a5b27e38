//! Loading whole project folders: the example ships valid, and each kind of mistake is reported
//! with the file and line a user has to fix.

use proptest::prelude::*;
use pulse_project::{Materialization, Project};
use std::path::{Path, PathBuf};

struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let s = Self {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        s.write("pulse.toml", "name = \"t\"\n");
        s
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
        p
    }

    fn error(&self) -> String {
        Project::load(self.root())
            .expect_err("the project must not load")
            .to_string()
    }
}

const ORDERS_SOURCE: &str = r#"connector = "sqlite"
path = "data/orders.sqlite"

[[tables]]
name = "orders"
cursor = "updated_at"
"#;

#[test]
fn the_food_delivery_example_loads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/food-delivery");
    let project = Project::load(&root).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(project.config.name, "food_delivery");
    for name in ["fct_orders", "fct_campaign_funnel_daily", "dim_customers"] {
        assert!(project.model(name).is_some(), "model {name} missing");
    }
    let fct = project.model("fct_orders").expect("fct_orders");
    assert_eq!(fct.config.materialized, Materialization::Incremental);
    // Dependency order: every ref comes before the model that reads it.
    for (i, m) in project.models.iter().enumerate() {
        for r in &m.depends_on.refs {
            let j = project
                .models
                .iter()
                .position(|x| &x.name == r)
                .expect("ref exists");
            assert!(j < i, "{r} must come before {}", m.name);
        }
    }
}

#[test]
fn valid_project_orders_models() {
    let s = Scratch::new();
    s.write("sources/orders.toml", ORDERS_SOURCE);
    s.write("models/marts/b.sql", "select * from {{ ref('a') }}");
    s.write(
        "models/staging/a.sql",
        "select * from {{ source('orders', 'orders') }}",
    );
    let p = Project::load(s.root()).expect("loads");
    let names: Vec<&str> = p.models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(p.models[0].layer, "staging");
}

#[test]
fn unknown_key_names_file_and_line() {
    let s = Scratch::new();
    s.write(
        "sources/orders.toml",
        "connector = \"sqlite\"\npath = \"x.sqlite\"\nconector_typo = 1\n[[tables]]\nname = \"orders\"\n",
    );
    let e = s.error();
    assert!(e.contains("sources/orders.toml:3:"), "{e}");
    assert!(e.contains("unknown field `conector_typo`"), "{e}");
}

#[test]
fn bad_toml_syntax_names_line() {
    let s = Scratch::new();
    s.write("pulse.toml", "name = \"t\"\n\n[lake\nurl = 1\n");
    let e = s.error();
    assert!(e.contains("pulse.toml:3:"), "{e}");
}

#[test]
fn missing_pulse_toml_is_explained() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = Project::load(dir.path())
        .expect_err("must fail")
        .to_string();
    assert!(e.contains("pulse.toml"), "{e}");
    assert!(e.contains("pulse init"), "{e}");
}

#[test]
fn unknown_ref_names_file_line_and_suggests() {
    let s = Scratch::new();
    s.write("sources/orders.toml", ORDERS_SOURCE);
    s.write(
        "models/staging/stg_orders.sql",
        "select * from {{ source('orders', 'orders') }}",
    );
    s.write(
        "models/marts/fct.sql",
        "select *\nfrom {{ ref('stg_order') }}",
    );
    let e = s.error();
    assert!(e.contains("models/marts/fct.sql:2:"), "{e}");
    assert!(e.contains("no model named `stg_order`"), "{e}");
    assert!(e.contains("did you mean `stg_orders`"), "{e}");
}

#[test]
fn unknown_source_table_is_an_error() {
    let s = Scratch::new();
    s.write("sources/orders.toml", ORDERS_SOURCE);
    s.write(
        "models/staging/x.sql",
        "select *\n\nfrom {{ source('orders', 'refunds') }}",
    );
    let e = s.error();
    assert!(e.contains("models/staging/x.sql:3:"), "{e}");
    assert!(e.contains("declares no table `refunds`"), "{e}");
}

#[test]
fn cycle_names_every_model_on_it() {
    let s = Scratch::new();
    s.write("models/a.sql", "select * from {{ ref('c') }}");
    s.write("models/b.sql", "select * from {{ ref('a') }}");
    s.write("models/c.sql", "select * from {{ ref('b') }}");
    s.write("models/d.sql", "select 1 as x");
    let e = s.error();
    assert!(e.contains("cycle: a -> b -> c"), "{e}");
}

#[test]
fn every_error_is_reported_at_once() {
    let s = Scratch::new();
    s.write("models/a.sql", "select * from {{ ref('nope') }}");
    s.write("models/b.toml", "description = \"orphan\"\n");
    s.write("models/c.toml", "materialized = \"incremental\"\n");
    s.write("models/c.sql", "select 1 as x");
    let e = s.error();
    assert!(e.contains("3 errors"), "{e}");
    assert!(e.contains("no model SQL beside this file"), "{e}");
    assert!(e.contains("needs `partition_by`"), "{e}");
}

#[test]
fn file_source_tables_need_a_path() {
    let s = Scratch::new();
    s.write(
        "sources/ga4.toml",
        "connector = \"jsonl\"\n[[tables]]\nname = \"events\"\n",
    );
    let e = s.error();
    assert!(e.contains("sources/ga4.toml"), "{e}");
    assert!(e.contains("needs `path`"), "{e}");
}

proptest! {
    /// Any acyclic set of refs loads, and the order puts each model after what it reads.
    #[test]
    fn random_acyclic_graphs_load_in_dependency_order(
        edges in proptest::collection::vec((0usize..8, 0usize..8), 0..20)
    ) {
        let s = Scratch::new();
        for i in 0..8usize {
            let deps: Vec<String> = edges
                .iter()
                .filter(|(a, b)| *b == i && a < b)
                .map(|(a, _)| format!("select * from {{{{ ref('m{a}') }}}}"))
                .collect();
            let sql = if deps.is_empty() { "select 1 as x".to_string() } else { deps.join(" union all ") };
            s.write(&format!("models/m{i}.sql"), &sql);
        }
        let p = Project::load(s.root()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let pos = |n: &str| p.models.iter().position(|m| m.name == n);
        for (a, b) in edges.iter().filter(|(a, b)| a < b) {
            let (from, to) = (format!("m{a}"), format!("m{b}"));
            prop_assert!(pos(&from) < pos(&to), "{} must come before {}", from, to);
        }
    }
}

/// The SQL each example model compiles to, in both modes, so a change to templating or to a
/// model shows up in review as a diff of SQL.
#[test]
fn example_models_compile_to_reviewed_sql() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/food-delivery");
    let project = Project::load(&root).unwrap_or_else(|e| panic!("{e}"));
    for model in &project.models {
        let full = model
            .render(&pulse_project::RenderContext {
                vars: project.config.vars.clone(),
                ..Default::default()
            })
            .expect("renders");
        insta::assert_snapshot!(format!("{}__full", model.name), full);
        if model.config.materialized == Materialization::Incremental {
            let ctx = pulse_project::RenderContext {
                incremental: true,
                logical_date: Some("2026-11-02".into()),
                vars: project.config.vars.clone(),
            };
            let inc = model.render(&ctx).expect("renders");
            insta::assert_snapshot!(format!("{}__incremental", model.name), inc);
        }
    }
}

mod semantic {
    use super::*;

    const MODEL: &str = "select 1 as order_id, date '2026-01-01' as order_date, 'Berlin' as city";

    fn scratch_with_model() -> Scratch {
        let s = Scratch::new();
        s.write("models/fct_orders.sql", MODEL);
        s
    }

    const ORDERS: &str = r#"[[metrics]]
name = "orders"
model = "fct_orders"
time_column = "order_date"
measure = "count"
dimensions = ["city"]
"#;

    #[test]
    fn the_example_defines_the_metric_pack_and_four_dashboards() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/food-delivery");
        let project = Project::load(&root).unwrap_or_else(|e| panic!("{e}"));
        for name in [
            "orders",
            "gmv",
            "average_order_value",
            "cancellation_rate",
            "campaign_funnel",
            "promo_redemption_rate",
            "delivery_time_p50",
            "delivery_time_p90",
            "delivery_time_p99",
            "accept_time",
            "preparation_time",
            "pickup_wait_time",
            "drive_time",
            "on_time_rate",
            "payment_success_rate",
            "refund_rate",
            "tickets_per_1000_orders",
            "first_response_time",
        ] {
            assert!(project.metric(name).is_some(), "metric {name} missing");
        }
        let mut dashboards: Vec<&str> =
            project.dashboards.iter().map(|d| d.name.as_str()).collect();
        dashboards.sort();
        assert_eq!(
            dashboards,
            ["executive", "logistics", "marketing", "support"]
        );
    }

    #[test]
    fn a_metric_of_an_unknown_model_names_file_and_line() {
        let s = scratch_with_model();
        s.write(
            "metrics/orders.toml",
            &format!("{ORDERS}\n[[metrics]]\nname = \"gmv\"\nmodel = \"fct_order\"\ntime_column = \"order_date\"\nmeasure = \"sum\"\nexpr = \"x\"\n"),
        );
        let e = s.error();
        assert!(e.contains("orders.toml:8:"), "{e}");
        assert!(e.contains("no model named `fct_order`"), "{e}");
    }

    #[test]
    fn a_measure_without_what_it_needs_is_refused() {
        let s = scratch_with_model();
        s.write(
            "metrics/m.toml",
            "[[metrics]]\nname = \"gmv\"\nmodel = \"fct_orders\"\ntime_column = \"order_date\"\nmeasure = \"sum\"\n",
        );
        let e = s.error();
        assert!(e.contains("m.toml:1:"), "{e}");
        assert!(e.contains("measure `sum` needs `expr`"), "{e}");
    }

    #[test]
    fn an_unknown_key_in_a_metric_names_its_line() {
        let s = scratch_with_model();
        s.write("metrics/m.toml", &format!("{ORDERS}colour = \"red\"\n"));
        let e = s.error();
        assert!(e.contains("m.toml:7:"), "{e}");
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn combined_metrics_allow_only_the_dimensions_all_parts_allow() {
        let s = scratch_with_model();
        s.write(
            "metrics/m.toml",
            &format!(
                "{ORDERS}\n[[metrics]]\nname = \"late\"\nmodel = \"fct_orders\"\ntime_column = \"order_date\"\nmeasure = \"count\"\n\n[[metrics]]\nname = \"late_rate\"\nmeasure = \"ratio\"\nnumerator = \"late\"\ndenominator = \"orders\"\ndimensions = [\"city\"]\n"
            ),
        );
        let e = s.error();
        assert!(e.contains("m.toml:14:"), "{e}");
        assert!(e.contains("dimension `city` is not allowed"), "{e}");
    }

    #[test]
    fn metrics_that_refer_to_each_other_in_a_circle_are_refused() {
        let s = scratch_with_model();
        s.write(
            "metrics/m.toml",
            "[[metrics]]\nname = \"a\"\nmeasure = \"derived\"\nexpression = \"b + 1\"\n\n[[metrics]]\nname = \"b\"\nmeasure = \"derived\"\nexpression = \"2 * a\"\n",
        );
        let e = s.error();
        assert!(e.contains("circle"), "{e}");
        assert!(e.contains("a -> b -> a"), "{e}");
    }

    #[test]
    fn a_tile_cut_by_a_dimension_its_metric_does_not_allow_names_file_and_line() {
        let s = scratch_with_model();
        s.write("metrics/m.toml", ORDERS);
        s.write(
            "dashboards/d.toml",
            "title = \"D\"\n\n[[tiles]]\ntitle = \"Orders\"\ntype = \"kpi\"\nmetrics = [\"orders\"]\n\n[[tiles]]\ntitle = \"By campaign\"\ntype = \"bar\"\nmetrics = [\"orders\"]\nby = [\"campaign\"]\n",
        );
        let e = s.error();
        assert!(e.contains("d.toml:8:"), "{e}");
        assert!(e.contains("tile `by-campaign`"), "{e}");
        assert!(
            e.contains("may not be cut by `campaign` (it allows: city)"),
            "{e}"
        );
    }

    #[test]
    fn a_tile_of_an_unknown_metric_and_a_filter_of_no_metric_are_refused() {
        let s = scratch_with_model();
        s.write("metrics/m.toml", ORDERS);
        s.write(
            "dashboards/d.toml",
            "title = \"D\"\nfilters = [\"restaurant\"]\n\n[[tiles]]\ntitle = \"GMV\"\ntype = \"kpi\"\nmetrics = [\"gmv\"]\nx = 10\nw = 4\n",
        );
        let e = s.error();
        assert!(e.contains("d.toml:2: dashboard filter `restaurant`"), "{e}");
        assert!(e.contains("no metric named `gmv`"), "{e}");
        assert!(e.contains("does not fit the grid"), "{e}");
    }
}
