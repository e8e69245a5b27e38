//! The semantic layer on the real warehouse: metric results equal the generator's own account
//! (`truth.json`), combined metrics equal the arithmetic of their parts, and a definition that no
//! longer fits its model fails with the file and line.

use super::{example_project, ok, pulse, run_json};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

pub fn metrics_json(project: &str, args: &[&str]) -> Value {
    let mut all = vec!["metrics", "query", "--project", project, "--format", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(&all)).expect("metric result json")
}

/// Rows as maps from column name to value.
pub fn rows(result: &Value) -> Vec<BTreeMap<String, Value>> {
    let names: Vec<String> = result["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().expect("name").to_string())
        .collect();
    result["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            names
                .iter()
                .cloned()
                .zip(r.as_array().expect("row").iter().cloned())
                .collect()
        })
        .collect()
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn text(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not text: {v}"))
        .to_string()
}

#[test]
fn metrics_equal_the_generators_truth() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = example_project(
        tmp.path(),
        &["--days", "4", "--orders-per-day", "80", "--seed", "11"],
    );
    let run = run_json(&project, &[]);
    assert_eq!(run["succeeded"], true, "{run:#}");
    let truth: Value = serde_json::from_slice(
        &std::fs::read(Path::new(&project).join("data/truth.json")).expect("truth.json"),
    )
    .expect("truth json");

    let checked = ok(&["metrics", "check", "--project", &project]);
    assert!(checked.contains("metrics fit the warehouse"), "{checked}");

    // Orders, cancellations and GMV per day.
    let daily = metrics_json(
        &project,
        &["orders", "cancelled_orders", "gmv", "--grain", "day"],
    );
    let mut got = BTreeMap::new();
    for r in rows(&daily) {
        got.insert(
            text(&r["period"]),
            (
                num(&r["orders"]) as i64,
                num(&r["cancelled_orders"]) as i64,
                (num(&r["gmv"]) * 100.0).round() as i64,
            ),
        );
    }
    let mut want = BTreeMap::new();
    for (day, v) in truth["orders_by_day"].as_object().expect("orders_by_day") {
        want.insert(
            day.clone(),
            (
                v["orders"].as_i64().expect("orders"),
                v["cancelled"].as_i64().expect("cancelled"),
                v["gmv_cents"].as_i64().expect("gmv"),
            ),
        );
    }
    assert_eq!(got, want);

    // The median delivery time per city.
    let by_city = metrics_json(&project, &["delivery_time_p50", "--by", "city"]);
    let got: BTreeMap<String, f64> = rows(&by_city)
        .iter()
        .map(|r| (text(&r["city"]), num(&r["delivery_time_p50"])))
        .collect();
    let want = truth["delivery_minutes_median_by_city"]
        .as_object()
        .expect("medians");
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (city, median) in want {
        // fct_orders keeps minutes to two decimals.
        let diff = (got[city] - num(median)).abs();
        assert!(diff <= 0.01, "{city}: {} vs truth {median}", got[city]);
    }

    // The funnel per campaign: distinct sessions reaching each step.
    let funnel = metrics_json(&project, &["campaign_funnel", "--by", "campaign"]);
    let funnel_rows = rows(&funnel);
    let want = truth["funnel_by_campaign"].as_object().expect("funnel");
    assert_eq!(funnel_rows.len(), want.len(), "{funnel:#}");
    for r in &funnel_rows {
        let campaign = text(&r["campaign"]);
        let t = &want[&campaign];
        for (step, truth_step) in [
            ("view_item_sessions", "view_item"),
            ("add_to_cart_sessions", "add_to_cart"),
            ("begin_checkout_sessions", "begin_checkout"),
            ("purchase_sessions", "purchase"),
        ] {
            assert_eq!(
                num(&r[&format!("campaign_funnel__{step}")]) as i64,
                t[truth_step].as_i64().expect("count"),
                "{campaign} {step}"
            );
        }
        assert!(num(&r["campaign_funnel__sessions"]) >= num(&t["session_start"]));
        let conversion = num(&r["campaign_funnel__purchase_sessions__conversion"]);
        let expected = num(&r["campaign_funnel__purchase_sessions"])
            / num(&r["campaign_funnel__begin_checkout_sessions"]);
        assert!((conversion - expected).abs() < 1e-9, "{campaign}");
    }
}

#[test]
fn combined_metrics_are_the_arithmetic_of_their_parts_and_filters_apply() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = example_project(
        tmp.path(),
        &["--days", "6", "--orders-per-day", "60", "--seed", "3"],
    );
    assert_eq!(run_json(&project, &[])["succeeded"], true);

    // A ratio across two models is the ratio of the sums, per city, with the city filter.
    let parts = metrics_json(
        &project,
        &[
            "tickets",
            "orders",
            "--by",
            "city",
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-05",
        ],
    );
    let ratio = metrics_json(
        &project,
        &[
            "tickets_per_1000_orders",
            "--by",
            "city",
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-05",
        ],
    );
    let parts = rows(&parts);
    let ratio = rows(&ratio);
    assert_eq!(parts.len(), ratio.len());
    assert!(parts.len() >= 2, "several cities: {parts:?}");
    for (p, r) in parts.iter().zip(&ratio) {
        assert_eq!(p["city"], r["city"]);
        match (p["tickets"].as_f64(), p["orders"].as_f64()) {
            (Some(t), Some(o)) if o > 0.0 => {
                let want = 1000.0 * t / o;
                assert!((num(&r["tickets_per_1000_orders"]) - want).abs() < 1e-9);
            }
            _ => assert!(r["tickets_per_1000_orders"].is_null()),
        }
    }
    let city = text(&parts[0]["city"]);
    let filtered = metrics_json(
        &project,
        &[
            "orders",
            "--filter",
            &format!("city={city}"),
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-05",
        ],
    );
    assert_eq!(rows(&filtered)[0]["orders"], parts[0]["orders"]);

    // A comparison: the previous period of 2026-11-04..06 is 2026-11-01..03.
    let compared = metrics_json(
        &project,
        &[
            "orders",
            "--from",
            "2026-11-04",
            "--to",
            "2026-11-06",
            "--compare",
        ],
    );
    let earlier = metrics_json(
        &project,
        &["orders", "--from", "2026-11-01", "--to", "2026-11-03"],
    );
    let c = &rows(&compared)[0];
    let e = &rows(&earlier)[0];
    assert_eq!(c["orders__previous"], e["orders"]);
    let want = (num(&c["orders"]) - num(&e["orders"])) / num(&e["orders"]);
    assert!((num(&c["orders__change"]) - want).abs() < 1e-9);

    // CSV for scripts, and the compiled SQL on request.
    let csv = ok(&[
        "metrics",
        "query",
        "--project",
        &project,
        "orders",
        "--by",
        "city",
        "--format",
        "csv",
    ]);
    assert!(csv.starts_with("city,orders\r\n"), "{csv}");
    let out = pulse(&[
        "metrics",
        "query",
        "--project",
        &project,
        "gmv",
        "--grain",
        "week",
        "--show-sql",
    ]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("date_trunc('week'"), "{stderr}");

    // A request the definitions do not allow: a clear refusal, exit code 1.
    let out = pulse(&[
        "metrics",
        "query",
        "--project",
        &project,
        "orders",
        "--by",
        "vehicle",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("may not be cut or filtered by `vehicle`"),
        "{stderr}"
    );
}

#[test]
fn a_definition_that_no_longer_fits_its_model_names_file_and_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = example_project(
        tmp.path(),
        &["--days", "2", "--orders-per-day", "30", "--seed", "5"],
    );
    assert_eq!(run_json(&project, &[])["succeeded"], true);
    let file = Path::new(&project).join("metrics/orders.toml");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(
        &file,
        text.replace("expr = \"gmv_cents / 100.0\"", "expr = \"gmv_eur\""),
    )
    .expect("write");
    for args in [
        vec!["validate", "--project", &project],
        vec!["metrics", "check", "--project", &project],
    ] {
        let out = pulse(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("metrics/orders.toml:"), "{stderr}");
        assert!(stderr.contains("metric `gmv`"), "{stderr}");
        assert!(stderr.contains("gmv_eur"), "{stderr}");
    }
    // The other metrics still answer.
    let orders = metrics_json(&project, &["orders"]);
    assert!(num(&rows(&orders)[0]["orders"]) > 0.0);
}
