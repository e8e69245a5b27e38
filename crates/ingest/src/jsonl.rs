//! JSON lines (one object per line, e.g. a GA4 BigQuery export). Two passes over a file: the first
//! infers the schema from every valid line, the second decodes; a bad line is reported and
//! skipped, never fatal.

use crate::lines::{Chunk, Lines, malformed};
use crate::schema::{merge_schemas, replace_nulls};
use crate::{FileRead, IngestError, Sink};
use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::json::ReaderBuilder;
use arrow::json::reader::infer_json_schema_from_iterator;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

/// Why a line is not a record, or None if it is one. Cheap: nothing is built.
fn check_line(line: &[u8]) -> Option<String> {
    match line.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Some("blank line".to_string()),
        Some(b'{') => {}
        Some(_) => return Some("not a JSON object".to_string()),
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(line)
        .err()
        .map(|e| e.to_string())
}

/// The schema of a file's valid lines, merged into `known` (the schema of earlier landings) so
/// later files keep compatible types. Null types become Utf8.
pub fn infer_schema(
    path: &Path,
    display: &str,
    known: Option<&Schema>,
) -> Result<Schema, IngestError> {
    let mut lines = Lines::open(path, display)?;
    let mut io_error = None;
    let values = std::iter::from_fn(|| {
        loop {
            match lines.next_line() {
                Ok(None) => return None,
                Ok(Some(line)) => {
                    if line.is_empty() || check_line(line).is_some() {
                        continue;
                    }
                    // check_line accepted it, so it parses; keep the guard anyway.
                    match serde_json::from_slice::<Value>(line) {
                        Ok(v @ Value::Object(_)) => return Some(Ok::<Value, ArrowError>(v)),
                        _ => continue,
                    }
                }
                Err(e) => {
                    io_error = Some(e);
                    return None;
                }
            }
        }
    });
    let inferred = infer_json_schema_from_iterator(values);
    if let Some(e) = io_error {
        return Err(e);
    }
    let inferred = inferred.map_err(|e| IngestError::arrow(display, e))?;
    let merged = match known {
        Some(k) => merge_schemas(k, &inferred),
        None => inferred,
    };
    Ok(replace_nulls(&merged))
}

fn decode_json(
    schema: &SchemaRef,
    buf: &[u8],
    rows: usize,
) -> Result<Vec<RecordBatch>, ArrowError> {
    let mut decoder = ReaderBuilder::new(schema.clone())
        .with_batch_size(rows.max(1))
        .with_coerce_primitive(true)
        .build_decoder()?;
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < buf.len() {
        let used = decoder.decode(&buf[offset..])?;
        offset += used;
        if used == 0 {
            // The batch is full: flush it to make room.
            match decoder.flush()? {
                Some(b) => out.push(b),
                None => break,
            }
        }
    }
    if let Some(b) = decoder.flush()? {
        out.push(b);
    }
    Ok(out)
}

/// Decodes a file with `schema` (from [`infer_schema`]), pushing batches of up to `batch_rows`
/// rows and one malformed record per bad line.
pub fn read_jsonl(
    path: &Path,
    display: &str,
    schema: SchemaRef,
    batch_rows: usize,
    sink: &mut dyn Sink,
) -> Result<FileRead, IngestError> {
    let mut lines = Lines::open(path, display)?;
    let mut chunk = Chunk::default();
    let mut rows = 0;
    let mut bad = 0;
    let decode = |buf: &[u8], n: usize| decode_json(&schema, buf, n);
    loop {
        let line_no = lines.line_no + 1;
        let Some(line) = lines.next_line()? else {
            break;
        };
        if line.is_empty() {
            continue;
        }
        match check_line(line) {
            Some(error) => {
                bad += 1;
                sink.malformed(malformed(display, line_no, &error, line))?;
            }
            None => chunk.push(line_no, line),
        }
        if chunk.len() >= batch_rows {
            let before = chunk.len() as u64;
            let got = chunk.decode(display, &schema, &decode, sink)?;
            bad += before - got;
            rows += got;
            sink.progress(lines.bytes_read);
        }
    }
    let before = chunk.len() as u64;
    let got = chunk.decode(display, &schema, &decode, sink)?;
    bad += before - got;
    rows += got;
    sink.progress(lines.bytes_read);
    Ok(FileRead {
        schema,
        rows,
        malformed: bad,
        bytes_read: lines.bytes_read,
    })
}

/// Both passes in one call: the schema of this file alone (merged into `known`).
pub fn read_file(
    path: &Path,
    display: &str,
    known: Option<&Schema>,
    batch_rows: usize,
    sink: &mut dyn Sink,
) -> Result<FileRead, IngestError> {
    let schema = Arc::new(infer_schema(path, display, known)?);
    read_jsonl(path, display, schema, batch_rows, sink)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Collect;
    use arrow::array::{Array, Int64Array, ListArray, StructArray};
    use arrow::datatypes::DataType;

    const GA4: &str = r#"{"event_name":"page_view","event_timestamp":1761990000000000,"event_params":[{"key":"page","value":{"string_value":"/","int_value":null,"double_value":null}},{"key":"n","value":{"string_value":null,"int_value":3,"double_value":null}}],"collected_traffic_source":{"manual_campaign_name":"fall","manual_source":"google"},"user_pseudo_id":"u1","extra":null}
{"event_name":"purchase","event_timestamp":1761990000000001,"event_params":[],"collected_traffic_source":null,"user_pseudo_id":"u2"}
{"event_name": broken
   
[1,2,3]

{"event_name":"scroll","event_timestamp":1761990000000002,"event_params":[{"key":"pct","value":{"double_value":0.5}}],"user_pseudo_id":"u3"}
"#;

    fn fixture(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn nested_records_survive_and_bad_lines_are_reported() {
        let (_dir, path) = fixture(GA4);
        let mut sink = Collect::default();
        let read = read_file(&path, "data/events.jsonl", None, 2, &mut sink).expect("read");
        assert_eq!(read.rows, 3);
        assert_eq!(read.malformed, 3);
        assert_eq!(sink.rows(), 3);
        let lines: Vec<u64> = sink.malformed.iter().map(|m| m.line).collect();
        assert_eq!(lines, [3, 4, 5]);
        assert_eq!(sink.malformed[0].file, "data/events.jsonl");
        assert_eq!(sink.malformed[0].raw, r#"{"event_name": broken"#);
        assert_eq!(sink.malformed[1].error, "blank line");
        let schema = read.schema;
        let DataType::List(item) = schema
            .field_with_name("event_params")
            .expect("event_params")
            .data_type()
        else {
            panic!("event_params should be a list")
        };
        assert!(matches!(item.data_type(), DataType::Struct(_)));
        assert!(matches!(
            schema
                .field_with_name("collected_traffic_source")
                .expect("cts")
                .data_type(),
            DataType::Struct(_)
        ));
        assert_eq!(
            schema.field_with_name("extra").expect("extra").data_type(),
            &DataType::Utf8
        );
        let batch = &sink.batches[0];
        let params = batch
            .column_by_name("event_params")
            .and_then(|c| c.as_any().downcast_ref::<ListArray>())
            .expect("list");
        assert_eq!(params.value_length(0), 2);
        let first = params.value(0);
        let s = first
            .as_any()
            .downcast_ref::<StructArray>()
            .expect("struct");
        let value = s
            .column_by_name("value")
            .and_then(|c| c.as_any().downcast_ref::<StructArray>())
            .expect("value struct");
        let ints = value
            .column_by_name("int_value")
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
            .expect("int_value");
        assert!(ints.is_null(0));
        assert_eq!(ints.value(1), 3);
    }

    #[test]
    fn a_known_schema_keeps_its_fields_and_widens() {
        let (_dir, path) = fixture("{\"a\":1.5}\n");
        let known = Schema::new(vec![
            arrow::datatypes::Field::new("a", DataType::Int64, true),
            arrow::datatypes::Field::new("b", DataType::Utf8, true),
        ]);
        let s = infer_schema(&path, "x.jsonl", Some(&known)).expect("infer");
        assert_eq!(s.field(0).data_type(), &DataType::Float64);
        assert_eq!(s.field(1).name(), "b");
    }

    #[test]
    fn a_line_that_does_not_fit_the_schema_is_malformed_alone() {
        let (_dir, path) = fixture("{\"a\":{\"b\":1}}\n{\"a\":{\"b\":2}}\n");
        let known = Schema::new(vec![arrow::datatypes::Field::new(
            "a",
            DataType::Int64,
            true,
        )]);
        // `a` is Int64 in the known schema and a struct here: merged to Utf8, which an object
        // cannot fill, so both lines are reported rather than failing the file.
        let mut sink = Collect::default();
        let read = read_file(&path, "x.jsonl", Some(&known), 10, &mut sink).expect("read");
        assert_eq!(read.rows, 0);
        assert_eq!(sink.malformed.len(), 2);
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = infer_schema(Path::new("/nonexistent/x.jsonl"), "data/x.jsonl", None)
            .expect_err("missing");
        assert_eq!(err.to_string(), "cannot open data/x.jsonl: no such file");
    }
}
