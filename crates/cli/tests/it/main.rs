//! The binary end to end, as a user runs it: scaffold the example, generate data, run the
//! pipeline, and check the warehouse against the generator's independent account (`truth.json`).

mod orchestrate;
mod serve;
mod servers;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn pulse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pulse"))
        .args(args)
        .output()
        .expect("run pulse")
}

fn ok(args: &[&str]) -> String {
    let out = pulse(args);
    assert!(
        out.status.success(),
        "pulse {args:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sql_json(project: &Path, query: &str) -> Vec<Value> {
    let out = ok(&[
        "sql",
        "--project",
        project.to_str().expect("utf8"),
        query,
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_str(out.trim()).expect("json rows");
    v.as_array().cloned().unwrap_or_default()
}

fn as_i64(v: &Value) -> i64 {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not an integer: {v}"))
}

/// Every file below `dir`, with its bytes, for byte-identity checks.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).expect("read"));
            }
        }
    }
    out
}

fn run_json(project: &str, extra: &[&str]) -> Value {
    let mut args = vec!["run", "--project", project, "--format", "json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&ok(&args)).expect("run summary json")
}

#[test]
fn food_delivery_end_to_end_matches_truth() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("fd");
    let project = root.to_str().expect("utf8");
    ok(&["init", "--example", "food-delivery", project]);
    ok(&[
        "generate",
        "--project",
        project,
        "--days",
        "4",
        "--orders-per-day",
        "80",
        "--seed",
        "7",
        "--defect-rate",
        "0.03",
    ]);
    let truth: Value =
        serde_json::from_slice(&std::fs::read(root.join("data/truth.json")).expect("truth.json"))
            .expect("truth json");

    let first = run_json(project, &[]);
    assert_eq!(first["succeeded"], true, "{first:#}");

    // Every injected defect is caught by the example's expectations, exactly as often as the
    // generator injected it.
    let unexpected = |dataset: &str, label: &str| -> i64 {
        let d = first["quality"]
            .as_array()
            .expect("quality")
            .iter()
            .find(|d| d["dataset"] == dataset)
            .unwrap_or_else(|| panic!("{dataset} not validated: {first:#}"));
        let r = d["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|r| r["label"] == label)
            .unwrap_or_else(|| panic!("{label} not in {d:#}"));
        as_i64(&r["unexpected_count"])
    };
    let defects = &truth["defects"];
    let caught = [
        (
            "null_keys",
            unexpected(
                "payments.payments",
                "expect_column_values_to_not_be_null(order_id)",
            ) + unexpected(
                "support.tickets",
                "expect_column_values_to_not_be_null(order_id)",
            ),
        ),
        (
            "duplicate_rows",
            unexpected(
                "ga4.events",
                "expect_compound_columns_to_be_unique(user_pseudo_id, event_timestamp, event_name)",
            ) + unexpected(
                "support.tickets",
                "expect_column_values_to_be_unique(ticket_id)",
            ),
        ),
        (
            "negative_amounts",
            unexpected(
                "payments.payments",
                "expect_column_values_to_be_between(amount_cents)",
            ),
        ),
        (
            "delivered_before_picked_up",
            unexpected(
                "logistics.deliveries",
                "expect_column_pair_values_A_to_be_greater_than_B(delivered_at, picked_up_at)",
            ),
        ),
        (
            "unknown_promo_codes",
            unexpected("orders.orders", "relationships(promo_code)"),
        ),
        (
            "late_arriving_events",
            unexpected("ga4.events", "unexpected_rows_expectation"),
        ),
    ];
    for (kind, n) in caught {
        assert_eq!(n, as_i64(&defects[kind]), "{kind}");
        assert!(n > 0, "the generator injected no {kind}");
    }
    // Quarantined rows left the source tables models read; clean + quarantined = landed.
    for (dataset, quarantine) in [
        ("payments.payments", "payments__payments__quarantine"),
        ("ga4.events", "ga4__events__quarantine"),
    ] {
        let (source, table) = dataset.split_once('.').expect("dataset");
        let counts = sql_json(
            &root,
            &format!(
                "select (select count(*) from {dataset}) as clean, \
                 (select count(*) from {quarantine}) as quarantined, \
                 (select count(*) from {source}.{table}__raw) as landed"
            ),
        );
        let c = &counts[0];
        assert!(as_i64(&c["quarantined"]) > 0, "{dataset}: {c}");
        assert_eq!(
            as_i64(&c["clean"]) + as_i64(&c["quarantined"]),
            as_i64(&c["landed"]),
            "{dataset}: {c}"
        );
    }
    let (payments_q,) = (sql_json(
        &root,
        "select _pulse_expectation as e, count(*) as n from payments__payments__quarantine group by 1 order by 1",
    ),);
    assert_eq!(
        payments_q.iter().map(|r| as_i64(&r["n"])).sum::<i64>(),
        as_i64(&defects["negative_amounts"])
            + unexpected(
                "payments.payments",
                "expect_column_values_to_not_be_null(order_id)"
            ),
        "{payments_q:?}"
    );
    // `pulse test` reads the same results back as JSON, without moving anything.
    let tested: Value = serde_json::from_str(&ok(&[
        "test",
        "--project",
        project,
        "--format",
        "json",
        "--select",
        "payments.payments",
    ]))
    .expect("test json");
    assert_eq!(
        tested["datasets"].as_array().map(Vec::len),
        Some(1),
        "{tested:#}"
    );
    assert_eq!(
        tested["datasets"][0]["results"][1]["unexpected_count"],
        Value::from(as_i64(&defects["negative_amounts"]))
    );

    // Orders and GMV per day, exactly.
    let rows = sql_json(
        &root,
        "select cast(order_date as varchar) as day, count(*) as orders, \
         sum(case when status = 'delivered' then total_cents else 0 end) as gmv_cents \
         from fct_orders group by 1 order by 1",
    );
    let mut got = BTreeMap::new();
    for r in &rows {
        got.insert(
            r["day"].as_str().expect("day").to_string(),
            (as_i64(&r["orders"]), as_i64(&r["gmv_cents"])),
        );
    }
    let mut want = BTreeMap::new();
    for (day, v) in truth["orders_by_day"].as_object().expect("orders_by_day") {
        want.insert(day.clone(), (as_i64(&v["orders"]), as_i64(&v["gmv_cents"])));
    }
    assert_eq!(got, want);

    // The campaign funnel: distinct sessions per step and campaign, exactly.
    let rows = sql_json(
        &root,
        "select campaign, step, sessions from ( \
           select campaign, 'session_start' as step, sum(session_start_sessions) as sessions from fct_campaign_funnel group by 1 \
           union all select campaign, 'view_item', sum(view_item_sessions) from fct_campaign_funnel group by 1 \
           union all select campaign, 'add_to_cart', sum(add_to_cart_sessions) from fct_campaign_funnel group by 1 \
           union all select campaign, 'begin_checkout', sum(begin_checkout_sessions) from fct_campaign_funnel group by 1 \
           union all select campaign, 'purchase', sum(purchase_sessions) from fct_campaign_funnel group by 1)",
    );
    let mut got = BTreeMap::new();
    for r in &rows {
        got.insert(
            (
                r["campaign"].as_str().expect("campaign").to_string(),
                r["step"].as_str().expect("step").to_string(),
            ),
            as_i64(&r["sessions"]),
        );
    }
    let mut want = BTreeMap::new();
    for (campaign, steps) in truth["funnel_by_campaign"].as_object().expect("funnel") {
        for step in [
            "session_start",
            "view_item",
            "add_to_cart",
            "begin_checkout",
            "purchase",
        ] {
            want.insert((campaign.clone(), step.to_string()), as_i64(&steps[step]));
        }
    }
    assert_eq!(got, want);

    // Malformed JSON lines are kept aside, each one, with file and line.
    let malformed: i64 = first["landings"]
        .as_array()
        .expect("landings")
        .iter()
        .map(|l| as_i64(&l["malformed_rows"]))
        .sum();
    assert_eq!(
        malformed,
        as_i64(&truth["defects"]["malformed_json_lines"]),
        "{first:#}"
    );
    assert!(malformed > 0, "the generator injected no malformed lines");
    let quarantine = snapshot(&root.join("lake/quarantine"));
    let kept: usize = quarantine
        .iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "jsonl"))
        .map(|(_, bytes)| {
            String::from_utf8_lossy(bytes)
                .lines()
                .map(|l| {
                    let v: Value = serde_json::from_str(l).expect("quarantine line is json");
                    assert!(
                        v["file"].as_str().is_some_and(|f| f.contains("events_")),
                        "{v}"
                    );
                    assert!(v["line"].as_u64().is_some_and(|n| n >= 1), "{v}");
                    1
                })
                .sum::<usize>()
        })
        .sum();
    assert_eq!(kept as i64, malformed);

    // Original files are kept byte for byte in the raw zone.
    let raw = snapshot(&root.join("lake/raw/ga4"));
    let originals = snapshot(&root.join("data/ga4"));
    for (path, bytes) in &originals {
        let name = path.file_name().expect("name");
        assert!(
            raw.iter()
                .any(|(p, b)| p.file_name() == Some(name) && b == bytes),
            "{} not kept byte for byte",
            path.display()
        );
    }

    // A second run changes nothing: nothing lands, no model is rebuilt, no file changes.
    let lake_before = snapshot(&root.join("lake"));
    let wh_before = snapshot(&root.join("warehouse"));
    let second = run_json(project, &[]);
    assert_eq!(second["succeeded"], true, "{second:#}");
    for l in second["landings"].as_array().expect("landings") {
        assert_eq!(l["status"], "up to date", "{l:#}");
    }
    for m in second["models"].as_array().expect("models") {
        assert_eq!(m["status"], "unchanged", "{m:#}");
    }
    assert_eq!(snapshot(&root.join("lake")), lake_before);
    assert_eq!(snapshot(&root.join("warehouse")), wh_before);

    // A re-run for one logical date replaces that partition and leaves every other one as it was.
    let day = truth["orders_by_day"]
        .as_object()
        .expect("days")
        .keys()
        .nth(1)
        .expect("a second day")
        .clone();
    let fct = root.join("warehouse/fct_orders");
    let others: BTreeMap<PathBuf, Vec<u8>> = snapshot(&fct)
        .into_iter()
        .filter(|(p, _)| {
            let s = p.to_string_lossy();
            s.contains("order_date=") && !s.contains(&format!("order_date={day}"))
        })
        .collect();
    assert!(!others.is_empty());
    let third = run_json(project, &["--date", &day]);
    assert_eq!(third["succeeded"], true, "{third:#}");
    let fct_row = third["models"]
        .as_array()
        .expect("models")
        .iter()
        .find(|m| m["model"] == "fct_orders")
        .expect("fct_orders")
        .clone();
    assert_eq!(fct_row["status"], "built", "{fct_row:#}");
    assert_eq!(fct_row["partition"], Value::String(day.clone()));
    let after = snapshot(&fct);
    for (p, bytes) in &others {
        assert_eq!(after.get(p), Some(bytes), "{} changed", p.display());
    }
    let count = sql_json(
        &root,
        &format!("select count(*) as n from fct_orders where order_date = date '{day}'"),
    );
    assert_eq!(
        as_i64(&count[0]["n"]),
        as_i64(&truth["orders_by_day"][&day]["orders"])
    );
}

#[test]
fn missing_source_data_fails_with_the_path() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("fd");
    let project = root.to_str().expect("utf8");
    ok(&["init", "--example", "food-delivery", project]);
    // No `pulse generate`: the databases do not exist.
    let out = pulse(&["run", "--project", project, "--format", "json"]);
    assert!(!out.status.success());
    let summary: Value = serde_json::from_slice(&out.stdout).expect("summary json");
    let orders = summary["landings"]
        .as_array()
        .expect("landings")
        .iter()
        .find(|l| l["source"] == "orders")
        .expect("orders landing")
        .clone();
    assert_eq!(orders["status"], "failed");
    let err = orders["error"].as_str().expect("error");
    assert!(err.contains("data/orders.sqlite"), "{err}");
}

#[test]
fn bad_project_file_exits_nonzero_with_file_and_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("p");
    let project = root.to_str().expect("utf8");
    ok(&["init", project]);
    std::fs::write(
        root.join("models/staging/a.sql"),
        "select 1 as x\nfrom {{ ref('missing_model') }}",
    )
    .expect("write");
    let out = pulse(&["validate", "--project", project]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("models/staging/a.sql:2:"), "{err}");
    assert!(err.contains("missing_model"), "{err}");
}

#[test]
fn init_refuses_a_folder_that_is_not_empty() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("keep.txt"), "mine").expect("write");
    let out = pulse(&["init", tmp.path().to_str().expect("utf8")]);
    assert!(!out.status.success());
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("keep.txt")).expect("read"),
        "mine"
    );
}

#[test]
fn help_explains_every_command() {
    let out = ok(&["--help"]);
    for cmd in [
        "init", "generate", "validate", "run", "sql", "bench", "demo",
    ] {
        assert!(out.contains(cmd), "--help does not mention {cmd}:\n{out}");
    }
}

#[test]
fn an_error_severity_failure_stops_exactly_the_models_downstream() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("fd");
    let project = root.to_str().expect("utf8");
    ok(&["init", "--example", "food-delivery", project]);
    ok(&[
        "generate",
        "--project",
        project,
        "--days",
        "2",
        "--orders-per-day",
        "40",
        "--seed",
        "3",
        "--defect-rate",
        "0.05",
    ]);
    // Refunds must all be under 10 cents: they are not, and nothing is quarantined for it.
    let refunds = root.join("sources/payments.toml");
    let mut text = std::fs::read_to_string(&refunds).expect("read");
    text.push_str(
        "\n[[tables.expectations]]\nexpectation = \"expect_column_max_to_be_between\"\ncolumn = \"amount_cents\"\nmax_value = 10\n",
    );
    std::fs::write(&refunds, text).expect("write");
    let out = pulse(&["run", "--project", project, "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a blocking failure fails the run"
    );
    let summary: Value = serde_json::from_slice(&out.stdout).expect("json");
    let status = |model: &str| -> String {
        summary["models"]
            .as_array()
            .expect("models")
            .iter()
            .find(|m| m["model"] == model)
            .map(|m| m["status"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    // The last table of payments.toml is refunds.
    assert_eq!(
        status("stg_payments__refunds"),
        "upstream_failed",
        "{summary:#}"
    );
    assert_eq!(status("stg_payments__payments"), "built", "{summary:#}");
    assert_eq!(status("stg_orders__orders"), "built", "{summary:#}");
    assert_eq!(status("fct_orders"), "built", "{summary:#}");
    let stopped: Vec<String> = summary["models"]
        .as_array()
        .expect("models")
        .iter()
        .filter(|m| m["status"] == "upstream_failed")
        .map(|m| format!("{}: {}", m["model"], m["error"]))
        .collect();
    assert!(
        stopped.iter().all(|s| s.contains("payments.refunds")),
        "{stopped:?}"
    );
}

#[test]
fn a_column_that_changes_type_holds_back_its_models_with_the_reason() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    std::fs::create_dir_all(root.join("sources")).expect("mkdir");
    std::fs::create_dir_all(root.join("models")).expect("mkdir");
    std::fs::create_dir_all(root.join("data")).expect("mkdir");
    std::fs::write(root.join("pulse.toml"), "name = \"retype\"\n").expect("write");
    std::fs::write(
        root.join("sources/app.toml"),
        "connector = \"sqlite\"\npath = \"data/app.sqlite\"\n[[tables]]\nname = \"orders\"\nprimary_key = [\"id\"]\ncursor = \"updated_at\"\n",
    )
    .expect("write");
    std::fs::write(
        root.join("models/plus_one.sql"),
        "select id, amount + 1 as amount_plus_one from {{ source('app', 'orders') }}",
    )
    .expect("write");
    std::fs::write(root.join("models/other.sql"), "select 1 as one").expect("write");
    let db = rusqlite::Connection::open(root.join("data/app.sqlite")).expect("sqlite");
    db.execute_batch(
        "create table orders(id integer primary key, amount integer, updated_at timestamp);
         insert into orders values (1, 10, '2026-01-01 00:00:00'), (2, 20, '2026-01-01 00:00:01');",
    )
    .expect("create");
    let project = root.to_str().expect("utf8");
    let first = run_json(project, &[]);
    assert_eq!(first["succeeded"], true, "{first:#}");
    // The application changes the column to text, and a row changes.
    db.execute_batch(
        "create table o2(id integer primary key, amount text, updated_at timestamp);
         insert into o2 select id, 'x' || amount, '2026-01-02 00:00:00' from orders;
         drop table orders; alter table o2 rename to orders;",
    )
    .expect("retype");
    let out = pulse(&["run", "--project", project, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let second: Value = serde_json::from_slice(&out.stdout).expect("json");
    let landing = &second["landings"][0];
    let message = landing["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("column `amount` changed type from Int64")
            && message.contains("to Utf8")
            && message.contains("app.orders"),
        "{second:#}"
    );
    let models = second["models"].as_array().expect("models");
    let status = |name: &str| {
        models
            .iter()
            .find(|m| m["model"] == name)
            .map(|m| m["status"].clone())
            .unwrap_or_default()
    };
    assert_eq!(status("plus_one"), "upstream_failed", "{second:#}");
    assert_eq!(status("other"), "unchanged", "{second:#}");
}

#[test]
fn querying_before_the_first_run_says_to_run_first() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("fd");
    let project = root.to_str().expect("utf8");
    ok(&["init", "--example", "food-delivery", project]);
    for args in [
        vec!["test", "--project", project],
        vec!["sql", "--project", project, "select 1"],
    ] {
        let out = pulse(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("has `pulse run --project"),
            "{args:?}: {stderr}"
        );
    }
}
