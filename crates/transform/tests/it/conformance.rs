//! Great Expectations' own test definitions (../shared/conformance/great-expectations), run
//! through Pulse's engine. Every case of an expectation type Pulse supports must give GE's
//! documented result (pandas is the reference backend), except the listed, explained ones.

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampNanosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use pulse_project::ExpectationConfig;
use pulse_project::expectations::SUPPORTED;
use pulse_transform::{Engine, ValidateOptions};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Cases that do not pass, and why. Each is a deliberate difference, not a bug.
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "expect_column_values_to_be_in_type_list",
        "negative_test_string_and_int_values_summary_output",
        "Arrow columns have one type: Pulse checks the column's type, so there is no list of \
         individual values of the wrong type in a pandas object column",
    ),
    (
        "expect_column_values_to_be_in_type_list",
        "negative_test_string_and_int_values_complete_output",
        "as above",
    ),
    (
        "expect_column_values_to_be_of_type",
        "dtype_object_and_type_object_still_has_aggregate_semantics",
        "observed_value names the Arrow type (Utf8), not pandas' dtype (object_)",
    ),
    (
        "expect_column_values_to_be_of_type",
        "dtype_object_and_type_object_still_has_aggregate_semantics_object_underscore",
        "as above",
    ),
    (
        "expect_column_values_to_be_of_type",
        "dtype_object_and_type_object_still_has_aggregate_semantics_big_o",
        "pandas keeps integers in an object column; Arrow types them Int64, which is not `object`",
    ),
    (
        "expect_column_values_to_be_of_type",
        "positive_pandas_datetime_no_timezone",
        "observed_value names the Arrow type (Timestamp(ns)), not pandas' dtype (datetime64)",
    ),
];

/// Parameters of GE's that only shape GE's own output or runtime, not the result.
const IGNORED_PARAMETERS: &[&str] = &[
    "result_format",
    "catch_exceptions",
    "include_config",
    "meta",
];

fn conformance_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/great-expectations");
    dir.is_dir().then_some(dir)
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

fn pandas_type(values: &[Value], declared: Option<&str>) -> DataType {
    match declared.map(|d| d.to_ascii_lowercase()) {
        Some(d) if d.starts_with("int") || d == "int64dtype" => DataType::Int64,
        Some(d) if d.starts_with("float") => DataType::Float64,
        Some(d) if d.starts_with("bool") => DataType::Boolean,
        Some(d) if d.starts_with("datetime64") => DataType::Timestamp(TimeUnit::Nanosecond, None),
        Some(d) if d == "str" || d == "string" => DataType::Utf8,
        _ => {
            let present: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
            if present.is_empty() {
                DataType::Utf8
            } else if present.iter().all(|v| v.is_i64() || v.is_u64()) {
                DataType::Int64
            } else if present.iter().all(|v| v.is_number()) {
                DataType::Float64
            } else if present.iter().all(|v| v.is_boolean()) {
                DataType::Boolean
            } else {
                DataType::Utf8
            }
        }
    }
}

fn parse_timestamp(s: &str) -> Option<i64> {
    let formats = [
        "%b %d %Y %H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ];
    for f in formats {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return t.and_utc().timestamp_nanos_opt();
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| t.and_utc().timestamp_nanos_opt())
}

/// The dataset as an Arrow batch, typed as pandas would type it. `None` when a value cannot be
/// represented in the declared type.
fn batch(data: &Map<String, Value>, schema: Option<&Map<String, Value>>) -> Option<RecordBatch> {
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (name, column) in data {
        let values = column.as_array()?;
        let declared = schema.and_then(|s| s.get(name)).and_then(Value::as_str);
        let t = pandas_type(values, declared);
        let array: ArrayRef = match &t {
            DataType::Int64 => Arc::new(
                values
                    .iter()
                    .map(|v| match v {
                        Value::Null => Some(None),
                        v => v
                            .as_i64()
                            .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                            .map(Some),
                    })
                    .collect::<Option<Int64Array>>()?,
            ),
            DataType::Float64 => Arc::new(
                values
                    .iter()
                    .map(|v| match v {
                        Value::Null => Some(None),
                        v => v.as_f64().map(Some),
                    })
                    .collect::<Option<Float64Array>>()?,
            ),
            DataType::Boolean => Arc::new(
                values
                    .iter()
                    .map(|v| match v {
                        Value::Null => Some(None),
                        v => v.as_bool().map(Some),
                    })
                    .collect::<Option<BooleanArray>>()?,
            ),
            DataType::Timestamp(_, _) => Arc::new(
                values
                    .iter()
                    .map(|v| match v {
                        Value::Null => Some(None),
                        Value::String(s) => parse_timestamp(s).map(Some),
                        _ => None,
                    })
                    .collect::<Option<TimestampNanosecondArray>>()?,
            ),
            _ => Arc::new(
                values
                    .iter()
                    .map(|v| match v {
                        Value::Null => None,
                        Value::String(s) => Some(s.clone()),
                        other => Some(other.to_string()),
                    })
                    .collect::<StringArray>(),
            ),
        };
        fields.push(Field::new(name, t, true));
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).ok()
}

fn close(a: &Value, b: &Value, tolerance: f64) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            (x - y).abs() <= tolerance.max(1e-9 * x.abs().max(y.abs()))
        }
        (Value::Number(_), Value::String(s)) | (Value::String(s), Value::Number(_)) => {
            s.parse::<f64>().ok().is_some_and(|f| {
                close(
                    &serde_json::json!(f),
                    if a.is_number() { a } else { b },
                    tolerance,
                )
            })
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| close(v, w, tolerance)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| close(p, q, tolerance))
        }
        (Value::String(x), Value::String(y)) => {
            x == y || parse_timestamp(x).is_some() && parse_timestamp(x) == parse_timestamp(y)
        }
        _ => a == b,
    }
}

/// Same values regardless of order.
fn same_multiset(got: &[Value], want: &[Value]) -> bool {
    if got.len() != want.len() {
        return false;
    }
    let mut used = vec![false; got.len()];
    want.iter().all(|w| {
        match got
            .iter()
            .enumerate()
            .find(|(i, g)| !used[*i] && close(g, w, 0.0))
        {
            Some((i, _)) => {
                used[i] = true;
                true
            }
            None => false,
        }
    })
}

fn applies_to_pandas(case: &Map<String, Value>) -> bool {
    let names = |key: &str| -> Option<Vec<String>> {
        case.get(key).and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
    };
    if let Some(only) = names("only_for")
        && !only.iter().any(|b| b == "pandas")
    {
        return false;
    }
    if let Some(suppress) = names("suppress_test_for")
        && suppress.iter().any(|b| b == "pandas")
    {
        return false;
    }
    true
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: Vec<String>,
    skipped: Vec<String>,
}

async fn engine() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pulse.toml"), "name = \"conformance\"\n").expect("write");
    let project = pulse_project::Project::load(dir.path()).expect("project");
    let engine = Engine::open(&project).await.expect("engine");
    (dir, engine)
}

async fn run_case(
    engine: &Engine,
    expectation_type: &str,
    case: &Map<String, Value>,
) -> Result<(), String> {
    let mut params = case
        .get("in")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for p in IGNORED_PARAMETERS {
        params.remove(*p);
    }
    params.insert("expectation".into(), Value::String(expectation_type.into()));
    let config: ExpectationConfig = serde_json::from_value(Value::Object(params))
        .map_err(|e| format!("unsupported parameters: {e}"))?;
    let out = case
        .get("out")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let expects_error = out.contains_key("traceback_substring") || case.get("error").is_some();
    let expectation = match config.parse() {
        Ok(e) => e,
        Err(_) if expects_error => return Ok(()),
        Err(e) => return Err(format!("refused: {e}")),
    };
    let opts = ValidateOptions {
        sample_limit: 10_000,
        ..Default::default()
    };
    let validation = engine
        .validate("t", "\"t\"", std::slice::from_ref(&expectation), &opts)
        .await;
    let result = match validation {
        Ok(v) => v.summary.results.into_iter().next().ok_or("no result")?,
        Err(_) if expects_error => return Ok(()),
        Err(e) => return Err(format!("engine error: {e}")),
    };
    if expects_error {
        return if result.exception.is_some() {
            Ok(())
        } else {
            Err(format!(
                "GE raises an error here; Pulse said success={}",
                result.success
            ))
        };
    }
    if let Some(e) = &result.exception {
        return Err(format!("exception: {e}"));
    }
    let tolerance = case.get("tolerance").and_then(Value::as_f64).unwrap_or(0.0);
    let mut problems = Vec::new();
    if let Some(success) = out.get("success").and_then(Value::as_bool)
        && success != result.success
    {
        problems.push(format!("success: GE {success}, Pulse {}", result.success));
    }
    if let Some(want) = out.get("observed_value") {
        let got = result.observed_value.clone().unwrap_or(Value::Null);
        if !close(&got, want, tolerance) {
            problems.push(format!("observed_value: GE {want}, Pulse {got}"));
        }
    }
    if let Some(want) = out.get("unexpected_list").and_then(Value::as_array)
        && !same_multiset(&result.partial_unexpected_list, want)
    {
        problems.push(format!(
            "unexpected_list: GE {want:?}, Pulse {:?}",
            result.partial_unexpected_list
        ));
    }
    for (key, got) in [
        ("element_count", result.element_count),
        ("missing_count", result.missing_count),
        ("unexpected_count", result.unexpected_count),
    ] {
        if let Some(want) = out.get(key).and_then(Value::as_u64)
            && Some(want) != got
        {
            problems.push(format!("{key}: GE {want}, Pulse {got:?}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn great_expectations_test_definitions() {
    let Some(dir) = conformance_dir() else {
        eprintln!("SKIPPED: ../shared/conformance/great-expectations is not in this checkout");
        return;
    };
    let mut files = Vec::new();
    json_files(&dir, &mut files);
    assert!(
        !files.is_empty(),
        "no test definitions in {}",
        dir.display()
    );
    let (_dir, engine) = engine().await;
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut unsupported_types = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        let doc: Value = serde_json::from_str(&text).expect("json");
        let Some(expectation_type) = doc.get("expectation_type").and_then(Value::as_str) else {
            continue;
        };
        if !SUPPORTED.contains(&expectation_type) {
            unsupported_types.push(expectation_type.to_string());
            continue;
        }
        let tally = tallies.entry(expectation_type.to_string()).or_default();
        for dataset in doc
            .get("datasets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let data = dataset
                .get("data")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let schema = dataset
                .get("schemas")
                .and_then(|s| s.get("pandas"))
                .and_then(Value::as_object);
            let cases = dataset
                .get("tests")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let Some(batch) = batch(&data, schema) else {
                for case in &cases {
                    let title = case.get("title").and_then(Value::as_str).unwrap_or("?");
                    tally.skipped.push(format!(
                        "{title}: data not representable in its declared types"
                    ));
                }
                continue;
            };
            let _ = engine.context().deregister_table("t");
            engine
                .context()
                .register_batch("t", batch)
                .expect("register");
            for case in cases.iter().filter_map(Value::as_object) {
                let title = case
                    .get("title")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string();
                if !applies_to_pandas(case) {
                    continue;
                }
                match run_case(&engine, expectation_type, case).await {
                    Ok(()) => tally.passed += 1,
                    Err(why) if why.starts_with("unsupported parameters") => {
                        tally.skipped.push(format!("{title}: {why}"));
                    }
                    Err(why) => tally.failed.push(format!("{title}: {why}")),
                }
            }
        }
    }
    let mut report = String::new();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut unexplained = Vec::new();
    for (t, tally) in &tallies {
        passed += tally.passed;
        failed += tally.failed.len();
        skipped += tally.skipped.len();
        report.push_str(&format!(
            "{t}: {} passed, {} failed, {} skipped\n",
            tally.passed,
            tally.failed.len(),
            tally.skipped.len()
        ));
        for f in &tally.failed {
            report.push_str(&format!("    FAILED {f}\n"));
            let title = f.split(':').next().unwrap_or_default();
            if !EXCEPTIONS.iter().any(|(et, ti, _)| et == t && *ti == title) {
                unexplained.push(format!("{t} / {f}"));
            }
        }
        for s in &tally.skipped {
            report.push_str(&format!("    skipped {s}\n"));
        }
    }
    report.push_str(&format!(
        "total: {passed} passed, {failed} failed, {skipped} skipped; types not supported: {}\n",
        unsupported_types.join(", ")
    ));
    println!("{report}");
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("ge-conformance.txt"),
        &report,
    )
    .ok();
    assert!(
        unexplained.is_empty(),
        "{} conformance cases fail without an explanation:\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
}
