//! Every expectation type on a small table: pass, fail (with GE's counts and observed values),
//! nulls, `mostly` and an empty table.

use pulse_project::{Expectation, ExpectationConfig};
use pulse_quality::EvaluationContext;
use pulse_transform::{Engine, ValidateOptions};
use serde_json::{Value, json};

async fn engine() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pulse.toml"), "name = \"q\"\n").expect("write");
    let project = pulse_project::Project::load(dir.path()).expect("project");
    let engine = Engine::open(&project).await.expect("engine");
    for sql in [
        "CREATE TABLE t AS SELECT \
           id, id AS x, 11 - id AS down, 11 - id AS rev, id % 3 AS grp, 'item-' || CAST(id AS VARCHAR) AS s, \
           id * 2 AS a, id AS b, CASE WHEN id <= 2 THEN NULL ELSE id END AS maybe, CAST(NULL AS BIGINT) AS nothing, \
           to_timestamp_seconds(1767225600 + id * 3600) AS ts, 'c' || CAST(id % 3 AS VARCHAR) AS code \
         FROM (SELECT unnest(range(1, 11)) AS id)",
        "CREATE TABLE tn AS SELECT * FROM t UNION ALL SELECT 11, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
         UNION ALL SELECT 12, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL",
        "CREATE TABLE te AS SELECT * FROM t WHERE false",
        "CREATE TABLE parents AS SELECT * FROM (VALUES (0), (1), (2)) AS v(k)",
        "CREATE TABLE some_parents AS SELECT * FROM (VALUES (0), (1)) AS v(k)",
    ] {
        engine
            .context()
            .sql(sql)
            .await
            .expect("plan")
            .collect()
            .await
            .expect("create");
    }
    (dir, engine)
}

fn expectation(toml_text: &str) -> Expectation {
    let config: ExpectationConfig = toml::from_str(toml_text).expect("toml");
    config.parse().expect("valid expectation")
}

async fn check(
    engine: &Engine,
    table: &str,
    e: &Expectation,
    ctx: &EvaluationContext,
) -> pulse_quality::ExpectationResult {
    let opts = ValidateOptions {
        context: ctx.clone(),
        ..Default::default()
    };
    let v = engine
        .validate(
            table,
            &format!("\"{table}\""),
            std::slice::from_ref(e),
            &opts,
        )
        .await
        .expect("validate");
    v.summary.results.into_iter().next().expect("one result")
}

struct Spec {
    name: &'static str,
    pass: &'static str,
    fail: &'static str,
    /// `unexpected_count` of the failing case, for row-level expectations.
    unexpected: Option<u64>,
    /// `observed_value` of the passing case, where GE reports one.
    observed: Option<Value>,
    /// Whether the expectation ignores nulls (column-map expectations other than the null ones).
    ignores_nulls: bool,
    /// Whether `mostly = 0.05` turns the failing case into a success.
    mostly_rescues: bool,
    /// Success on an empty table with the passing parameters.
    empty_success: bool,
}

fn specs() -> Vec<Spec> {
    let map = |name, pass, fail, unexpected, mostly_rescues| Spec {
        name,
        pass,
        fail,
        unexpected: Some(unexpected),
        observed: None,
        ignores_nulls: true,
        mostly_rescues,
        empty_success: true,
    };
    let agg = |name, pass, fail, observed: Value| Spec {
        name,
        pass,
        fail,
        unexpected: None,
        observed: Some(observed),
        ignores_nulls: true,
        mostly_rescues: false,
        // No values: nothing to assert a statistic of.
        empty_success: false,
    };
    let table = |name, pass, fail, observed: Option<Value>, empty_success| Spec {
        name,
        pass,
        fail,
        unexpected: None,
        observed,
        ignores_nulls: false,
        mostly_rescues: false,
        empty_success,
    };
    vec![
        Spec {
            ignores_nulls: false,
            ..map(
                "expect_column_values_to_not_be_null",
                r#"column = "x""#,
                r#"column = "maybe""#,
                2,
                true,
            )
        },
        Spec {
            ignores_nulls: false,
            ..map(
                "expect_column_values_to_be_null",
                r#"column = "nothing""#,
                r#"column = "maybe""#,
                8,
                true,
            )
        },
        map(
            "expect_column_values_to_be_unique",
            r#"column = "x""#,
            r#"column = "grp""#,
            10,
            false,
        ),
        map(
            "expect_column_values_to_be_between",
            "column = \"x\"\nmin_value = 1\nmax_value = 10",
            "column = \"x\"\nmin_value = 3\nmax_value = 8",
            4,
            true,
        ),
        map(
            "expect_column_values_to_be_in_set",
            "column = \"x\"\nvalue_set = [1,2,3,4,5,6,7,8,9,10]",
            "column = \"x\"\nvalue_set = [1,2,3]",
            7,
            true,
        ),
        map(
            "expect_column_values_to_not_be_in_set",
            "column = \"x\"\nvalue_set = [11, 12]",
            "column = \"x\"\nvalue_set = [1, 2]",
            2,
            true,
        ),
        map(
            "expect_column_values_to_match_regex",
            "column = \"s\"\nregex = '^item-\\d+$'",
            "column = \"s\"\nregex = '^item-1'",
            8,
            true,
        ),
        map(
            "expect_column_values_to_not_match_regex",
            "column = \"s\"\nregex = 'zzz'",
            "column = \"s\"\nregex = '^item-1'",
            2,
            true,
        ),
        map(
            "expect_column_value_lengths_to_be_between",
            "column = \"s\"\nmin_value = 6\nmax_value = 7",
            "column = \"s\"\nmax_value = 6",
            1,
            true,
        ),
        map(
            "expect_column_value_lengths_to_equal",
            "column = \"code\"\nvalue = 2",
            "column = \"s\"\nvalue = 6",
            1,
            true,
        ),
        map(
            "expect_column_values_to_be_increasing",
            r#"column = "x""#,
            r#"column = "down""#,
            9,
            true,
        ),
        map(
            "expect_column_values_to_be_decreasing",
            r#"column = "down""#,
            r#"column = "x""#,
            9,
            true,
        ),
        map(
            "relationships",
            "column = \"grp\"\nto = \"parents\"\nfield = \"k\"",
            "column = \"grp\"\nto = \"some_parents\"\nfield = \"k\"",
            3,
            true,
        ),
        map(
            "expect_column_pair_values_A_to_be_greater_than_B",
            "column_A = \"a\"\ncolumn_B = \"b\"",
            "column_A = \"b\"\ncolumn_B = \"a\"",
            10,
            false,
        ),
        map(
            "expect_compound_columns_to_be_unique",
            "column_list = [\"id\", \"grp\"]",
            "column_list = [\"grp\", \"nothing\"]",
            10,
            false,
        ),
        map(
            "expect_select_column_values_to_be_unique_within_record",
            "column_list = [\"a\", \"b\"]",
            "column_list = [\"x\", \"b\"]",
            10,
            false,
        ),
        map(
            "expect_multicolumn_sum_to_equal",
            "column_list = [\"x\", \"rev\"]\nsum_total = 11",
            "column_list = [\"x\", \"rev\"]\nsum_total = 12",
            10,
            false,
        ),
        table(
            "expect_column_values_to_be_of_type",
            "column = \"x\"\ntype_ = \"int\"",
            "column = \"x\"\ntype_ = \"str\"",
            Some(json!("Int64")),
            true,
        ),
        table(
            "expect_column_values_to_be_in_type_list",
            "column = \"s\"\ntype_list = [\"int\", \"str\"]",
            "column = \"s\"\ntype_list = [\"int\", \"float\"]",
            None,
            true,
        ),
        table(
            "expect_column_to_exist",
            "column = \"x\"",
            "column = \"nope\"",
            None,
            true,
        ),
        table(
            "expect_table_row_count_to_be_between",
            "min_value = 1\nmax_value = 10",
            "min_value = 11",
            Some(json!(10)),
            false,
        ),
        table(
            "expect_table_row_count_to_equal",
            "value = 10",
            "value = 9",
            Some(json!(10)),
            false,
        ),
        table(
            "expect_table_column_count_to_be_between",
            "min_value = 12\nmax_value = 12",
            "max_value = 3",
            Some(json!(12)),
            true,
        ),
        table(
            "expect_table_column_count_to_equal",
            "value = 12",
            "value = 3",
            Some(json!(12)),
            true,
        ),
        table(
            "expect_table_columns_to_match_set",
            "column_set = [\"id\",\"x\",\"down\",\"rev\",\"grp\",\"s\",\"a\",\"b\",\"maybe\",\"nothing\",\"ts\",\"code\"]",
            "column_set = [\"id\", \"x\"]",
            None,
            true,
        ),
        table(
            "expect_table_columns_to_match_ordered_list",
            "column_list = [\"id\",\"x\",\"down\",\"rev\",\"grp\",\"s\",\"a\",\"b\",\"maybe\",\"nothing\",\"ts\",\"code\"]",
            "column_list = [\"x\",\"id\",\"down\",\"rev\",\"grp\",\"s\",\"a\",\"b\",\"maybe\",\"nothing\",\"ts\",\"code\"]",
            None,
            true,
        ),
        agg(
            "expect_column_min_to_be_between",
            "column = \"x\"\nmin_value = 1\nmax_value = 1",
            "column = \"x\"\nmin_value = 2",
            json!(1),
        ),
        agg(
            "expect_column_max_to_be_between",
            "column = \"x\"\nmin_value = 10",
            "column = \"x\"\nmax_value = 9",
            json!(10),
        ),
        agg(
            "expect_column_mean_to_be_between",
            "column = \"x\"\nmin_value = 5.5\nmax_value = 5.5",
            "column = \"x\"\nmin_value = 6",
            json!(5.5),
        ),
        agg(
            "expect_column_median_to_be_between",
            "column = \"x\"\nmin_value = 5\nmax_value = 6",
            "column = \"x\"\nmax_value = 5",
            json!(5.5),
        ),
        agg(
            "expect_column_sum_to_be_between",
            "column = \"x\"\nmin_value = 55\nmax_value = 55",
            "column = \"x\"\nmax_value = 50",
            json!(55),
        ),
        agg(
            "expect_column_stdev_to_be_between",
            "column = \"x\"\nmin_value = 3\nmax_value = 3.1",
            "column = \"x\"\nmax_value = 3",
            json!(3.0276503540974917),
        ),
        agg(
            "expect_column_proportion_of_unique_values_to_be_between",
            "column = \"x\"\nmin_value = 1",
            "column = \"grp\"\nmin_value = 0.5",
            json!(1.0),
        ),
        agg(
            "expect_column_unique_value_count_to_be_between",
            "column = \"grp\"\nmin_value = 3\nmax_value = 3",
            "column = \"grp\"\nmin_value = 4",
            json!(3),
        ),
        Spec {
            observed: None,
            ..agg(
                "freshness",
                "column = \"ts\"\nmax_age = \"2h\"",
                "column = \"ts\"\nmax_age = \"30m\"",
                Value::Null,
            )
        },
        table(
            "volume_change",
            "max_change_percent = 10",
            "max_change_percent = 10\nlookback_runs = 1",
            Some(json!(10)),
            false,
        ),
        Spec {
            unexpected: Some(2),
            ..table(
                "unexpected_rows_expectation",
                "unexpected_rows_query = \"SELECT * FROM {batch} WHERE x > 100\"",
                "unexpected_rows_query = \"SELECT * FROM {batch} WHERE x > 8\"",
                Some(json!(0)),
                true,
            )
        },
    ]
}

fn toml_of(name: &str, params: &str) -> String {
    format!("expectation = \"{name}\"\n{params}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_expectation_passes_fails_and_handles_nulls_mostly_and_empty_tables() {
    let (_dir, engine) = engine().await;
    // ts runs to 2026-01-01 10:00; "now" is an hour later.
    let newest = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
        .and_then(|d| d.and_hms_opt(10, 0, 0))
        .expect("date")
        .and_utc()
        .timestamp();
    let mut problems = Vec::new();
    for spec in specs() {
        let ctx_pass = EvaluationContext {
            now_unix: newest + 3600,
            previous_row_counts: vec![10, 10, 11],
        };
        let ctx_fail = EvaluationContext {
            now_unix: newest + 3600,
            previous_row_counts: vec![10, 10, 20],
        };
        let pass = expectation(&toml_of(spec.name, spec.pass));
        let fail = expectation(&toml_of(spec.name, spec.fail));

        let r = check(&engine, "t", &pass, &ctx_pass).await;
        if !r.success || r.exception.is_some() {
            problems.push(format!("{}: pass case failed: {r:?}", spec.name));
        }
        if let Some(want) = &spec.observed {
            let got = r.observed_value.clone().unwrap_or(Value::Null);
            let same = match (got.as_f64(), want.as_f64()) {
                (Some(g), Some(w)) => (g - w).abs() < 1e-9,
                _ => &got == want,
            };
            if !same {
                problems.push(format!("{}: observed {got}, GE reports {want}", spec.name));
            }
        }

        let r = check(&engine, "t", &fail, &ctx_fail).await;
        if r.success {
            problems.push(format!("{}: fail case passed: {r:?}", spec.name));
        }
        if let Some(n) = spec.unexpected
            && r.unexpected_count != Some(n)
        {
            problems.push(format!(
                "{}: unexpected_count {:?}, want {n}",
                spec.name, r.unexpected_count
            ));
        }
        if spec.unexpected.is_some() && r.partial_unexpected_list.is_empty() {
            problems.push(format!("{}: no partial_unexpected_list", spec.name));
        }

        // Two extra rows of nulls: ignored by column-map expectations.
        if spec.ignores_nulls && spec.unexpected.is_some() {
            let r = check(&engine, "tn", &pass, &ctx_pass).await;
            if !r.success {
                problems.push(format!("{}: nulls were not ignored: {r:?}", spec.name));
            }
            let single_column = pass.columns().len() == 1;
            if single_column && r.missing_count != Some(2) {
                problems.push(format!(
                    "{}: missing_count {:?}, want 2",
                    spec.name, r.missing_count
                ));
            }
        }

        if spec.unexpected.is_some() && spec.name != "unexpected_rows_expectation" {
            let mostly = expectation(&format!("{}mostly = 0.05\n", toml_of(spec.name, spec.fail)));
            let r = check(&engine, "t", &mostly, &ctx_fail).await;
            if r.success != spec.mostly_rescues {
                problems.push(format!(
                    "{}: with mostly = 0.05 success is {}, want {}",
                    spec.name, r.success, spec.mostly_rescues
                ));
            }
        }

        let r = check(
            &engine,
            "te",
            &pass,
            &EvaluationContext {
                now_unix: newest + 3600,
                previous_row_counts: Vec::new(),
            },
        )
        .await;
        let empty_success = if spec.name == "volume_change" {
            // The first run sets the baseline.
            true
        } else {
            spec.empty_success
        };
        if r.success != empty_success {
            problems.push(format!(
                "{}: on an empty table success is {}, want {empty_success}: {r:?}",
                spec.name, r.success
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_splits_rows_and_keeps_every_one() {
    let (_dir, engine) = engine().await;
    let expectations = vec![
        expectation(
            "expectation = \"expect_column_values_to_be_between\"\ncolumn = \"x\"\nmax_value = 8\nmostly = 0.5",
        ),
        expectation(
            "expectation = \"expect_column_values_to_not_be_null\"\ncolumn = \"maybe\"\nseverity = \"warn\"",
        ),
        expectation("expectation = \"expect_table_row_count_to_be_between\"\nmin_value = 1"),
    ];
    let mut v = engine
        .validate("t", "\"t\"", &expectations, &ValidateOptions::default())
        .await
        .expect("validate");
    assert!(v.summary.results[0].success, "mostly 0.5 tolerates 2 of 10");
    assert!(!v.summary.results[1].success);
    assert!(v.has_rows_to_quarantine());
    let clean_sql = engine
        .quarantine(&mut v, "t__quarantine", false)
        .await
        .expect("quarantine")
        .expect("something to quarantine");
    // x = 9, 10 and maybe IS NULL for id 1, 2: four rows.
    assert_eq!(v.summary.quarantined_rows, 4);
    assert_eq!(v.summary.results[0].quarantined, 2);
    assert_eq!(v.summary.results[1].quarantined, 2);
    let (_, clean) = engine
        .query(&format!("SELECT count(*) AS n FROM ({clean_sql}) AS c"))
        .await
        .expect("clean");
    let (_, q) = engine
        .query("SELECT id, _pulse_expectation, _pulse_reason FROM t__quarantine ORDER BY id")
        .await
        .expect("quarantine table");
    let clean_rows = pulse_transform::validate::rows_as_json(&clean).expect("json");
    let q_rows = pulse_transform::validate::rows_as_json(&q).expect("json");
    assert_eq!(clean_rows[0]["n"], json!(6));
    assert_eq!(q_rows.len(), 4);
    assert_eq!(q_rows[0]["id"], json!(1));
    assert_eq!(
        q_rows[0]["_pulse_expectation"],
        json!("expect_column_values_to_not_be_null(maybe)")
    );
    assert_eq!(q_rows[0]["_pulse_reason"], json!("maybe is null"));
    assert_eq!(q_rows[3]["id"], json!(10));
    assert_eq!(q_rows[3]["_pulse_reason"], json!("x above 8"));
}
