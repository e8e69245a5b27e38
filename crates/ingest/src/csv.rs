//! CSV files. Lines are split here rather than by arrow's reader so that a row with the wrong
//! number of fields (or an unterminated quote) becomes a malformed record and the rest of the
//! file still lands. Quoted fields spanning lines are not supported: their pieces are reported
//! as malformed.

use crate::lines::{Chunk, Lines, malformed};
use crate::schema::{merge_types, replace_nulls};
use crate::{FileRead, IngestError, Sink};
use arrow::array::RecordBatch;
use arrow::csv::ReaderBuilder;
use arrow::csv::reader::Format;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use std::path::Path;
use std::sync::Arc;

/// Lines per schema-inference round: bounds memory while every line still counts.
const INFER_CHUNK: usize = 65_536;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvOptions {
    pub header: bool,
    pub delimiter: u8,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            header: true,
            delimiter: b',',
        }
    }
}

impl CsvOptions {
    /// From a source table's settings; a delimiter must be one byte (ASCII).
    pub fn from_config(
        table: &pulse_project::SourceTableConfig,
    ) -> Result<CsvOptions, IngestError> {
        let delimiter = match table.delimiter {
            None => b',',
            Some(c) if c.is_ascii() => c as u8,
            Some(c) => {
                return Err(IngestError::Invalid {
                    path: table.path.clone().unwrap_or_default(),
                    message: format!("delimiter {c:?} is not a single ASCII character"),
                });
            }
        };
        Ok(CsvOptions {
            header: table.header.unwrap_or(true),
            delimiter,
        })
    }
}

/// Number of fields in a line, honouring double quotes.
pub fn count_fields(line: &[u8], delimiter: u8) -> Result<usize, &'static str> {
    let mut n = 1;
    let mut quoted = false;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if b == delimiter && !quoted {
            n += 1;
        }
    }
    if quoted {
        Err("unterminated quoted field")
    } else {
        Ok(n)
    }
}

/// Splits a header line into names, unquoting them.
fn split_header(line: &[u8], delimiter: u8) -> Vec<String> {
    let mut names = Vec::new();
    let mut cur = Vec::new();
    let mut quoted = false;
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        if b == b'"' {
            if quoted && line.get(i + 1) == Some(&b'"') {
                cur.push(b'"');
                i += 1;
            } else {
                quoted = !quoted;
            }
        } else if b == delimiter && !quoted {
            names.push(String::from_utf8_lossy(&cur).trim().to_string());
            cur.clear();
        } else {
            cur.push(b);
        }
        i += 1;
    }
    names.push(String::from_utf8_lossy(&cur).trim().to_string());
    names
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            if n.is_empty() {
                format!("column_{}", i + 1)
            } else {
                n
            }
        })
        .collect()
}

/// Whether a data line is usable, and why not.
fn check_line(line: &[u8], delimiter: u8, expected: usize) -> Option<String> {
    match count_fields(line, delimiter) {
        Err(e) => Some(e.to_string()),
        Ok(n) if n != expected => Some(format!("expected {expected} fields, found {n}")),
        Ok(_) => None,
    }
}

/// The column names and how many fields a row must have, from the first line.
fn layout(lines: &mut Lines, opts: CsvOptions) -> Result<Option<Vec<String>>, IngestError> {
    let Some(first) = lines.next_line()? else {
        return Ok(None);
    };
    let names = split_header(first, opts.delimiter);
    if opts.header {
        Ok(Some(names))
    } else {
        Ok(Some(
            (1..=names.len()).map(|i| format!("column_{i}")).collect(),
        ))
    }
}

fn infer_chunk(
    buf: &[u8],
    opts: CsvOptions,
    types: &mut Vec<DataType>,
    display: &str,
) -> Result<(), IngestError> {
    let (schema, _) = Format::default()
        .with_header(false)
        .with_delimiter(opts.delimiter)
        .infer_schema(std::io::Cursor::new(buf), None)
        .map_err(|e| IngestError::arrow(display, e))?;
    for (i, f) in schema.fields().iter().enumerate() {
        match types.get_mut(i) {
            Some(t) => *t = merge_types(t, f.data_type()),
            None => types.push(f.data_type().clone()),
        }
    }
    Ok(())
}

/// The schema of a file's valid rows. Columns are the file's own (CSV is positional); a column
/// `known` from earlier landings keeps a type wide enough for both.
pub fn infer_schema(
    path: &Path,
    display: &str,
    opts: CsvOptions,
    known: Option<&Schema>,
) -> Result<Schema, IngestError> {
    let mut lines = Lines::open(path, display)?;
    let Some(names) = layout(&mut lines, opts)? else {
        return Ok(Schema::empty());
    };
    let mut types: Vec<DataType> = vec![DataType::Null; names.len()];
    let mut buf = Vec::new();
    let mut count = 0;
    if !opts.header {
        // The first line was data: include it.
        let mut again = Lines::open(path, display)?;
        if let Some(first) = again.next_line()?
            && check_line(first, opts.delimiter, names.len()).is_none()
        {
            buf.extend_from_slice(first);
            buf.push(b'\n');
            count += 1;
        }
    }
    while let Some(line) = lines.next_line()? {
        if line.is_empty() || check_line(line, opts.delimiter, names.len()).is_some() {
            continue;
        }
        buf.extend_from_slice(line);
        buf.push(b'\n');
        count += 1;
        if count >= INFER_CHUNK {
            infer_chunk(&buf, opts, &mut types, display)?;
            buf.clear();
            count = 0;
        }
    }
    if count > 0 {
        infer_chunk(&buf, opts, &mut types, display)?;
    }
    let fields: Vec<Field> = names
        .iter()
        .zip(types)
        .map(|(name, t)| {
            let t = match known.and_then(|k| k.field_with_name(name).ok()) {
                Some(f) => merge_types(f.data_type(), &t),
                None => t,
            };
            Field::new(name, t, true)
        })
        .collect();
    Ok(replace_nulls(&Schema::new(fields)))
}

fn decode_csv(
    schema: &SchemaRef,
    opts: CsvOptions,
    buf: &[u8],
    rows: usize,
) -> Result<Vec<RecordBatch>, ArrowError> {
    let mut decoder = ReaderBuilder::new(schema.clone())
        .with_header(false)
        .with_delimiter(opts.delimiter)
        .with_batch_size(rows.max(1))
        .build_decoder();
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < buf.len() {
        let used = decoder.decode(&buf[offset..])?;
        offset += used;
        if used == 0 {
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

/// Decodes a file with `schema` (from [`infer_schema`]).
pub fn read_csv(
    path: &Path,
    display: &str,
    opts: CsvOptions,
    schema: SchemaRef,
    batch_rows: usize,
    sink: &mut dyn Sink,
) -> Result<FileRead, IngestError> {
    let mut lines = Lines::open(path, display)?;
    let expected = schema.fields().len();
    let mut chunk = Chunk::default();
    let mut rows = 0;
    let mut bad = 0;
    let decode = |buf: &[u8], n: usize| decode_csv(&schema, opts, buf, n);
    if opts.header {
        lines.next_line()?;
    }
    loop {
        let line_no = lines.line_no + 1;
        let Some(line) = lines.next_line()? else {
            break;
        };
        if line.is_empty() {
            continue;
        }
        match check_line(line, opts.delimiter, expected) {
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

/// Both passes in one call.
pub fn read_file(
    path: &Path,
    display: &str,
    opts: CsvOptions,
    known: Option<&Schema>,
    batch_rows: usize,
    sink: &mut dyn Sink,
) -> Result<FileRead, IngestError> {
    let schema = Arc::new(infer_schema(path, display, opts, known)?);
    read_csv(path, display, opts, schema, batch_rows, sink)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Collect;
    use arrow::array::{Array, Float64Array, Int64Array, StringArray};

    fn fixture(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.csv");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn types_are_inferred_and_bad_rows_reported() {
        let (_dir, path) = fixture(
            "id,name,amount,at\r\n1,\"Smith, J\",1.5,2026-11-01 10:00:00\r\n2,b,2,2026-11-01 11:00:00\r\n3,c\r\n4,\"open,5,2026-11-01 12:00:00\r\n\r\n5,e,x,2026-11-01 13:00:00\r\n",
        );
        let mut sink = Collect::default();
        let read = read_file(
            &path,
            "data/t.csv",
            CsvOptions::default(),
            None,
            2,
            &mut sink,
        )
        .expect("read");
        // amount has an "x", so it is text; the rows themselves are fine.
        assert_eq!(read.rows, 3);
        assert_eq!(read.malformed, 2);
        assert_eq!(sink.malformed[0].line, 4);
        assert_eq!(sink.malformed[0].error, "expected 4 fields, found 2");
        assert_eq!(sink.malformed[1].line, 5);
        assert_eq!(read.schema.field(0).data_type(), &DataType::Int64);
        assert_eq!(read.schema.field(2).data_type(), &DataType::Utf8);
        assert!(matches!(
            read.schema.field(3).data_type(),
            DataType::Timestamp(_, None)
        ));
        let names = sink.batches[0]
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("names")
            .clone();
        assert_eq!(names.value(0), "Smith, J");
    }

    #[test]
    fn semicolons_without_header() {
        let (_dir, path) = fixture("1;2.5\n2;3\n");
        let opts = CsvOptions {
            header: false,
            delimiter: b';',
        };
        let mut sink = Collect::default();
        let read = read_file(&path, "t.csv", opts, None, 100, &mut sink).expect("read");
        assert_eq!(read.rows, 2);
        assert_eq!(read.schema.field(0).name(), "column_1");
        let ids = sink.batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("ints")
            .clone();
        assert_eq!(ids.values(), &[1, 2]);
        let f = sink.batches[0]
            .column(1)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("floats")
            .clone();
        assert!(!f.is_null(1));
    }

    #[test]
    fn a_value_that_breaks_the_known_type_is_malformed_alone() {
        // Known as Int64 and inferred Int64 too, but an overflowing value cannot decode.
        let (_dir, path) = fixture("n\n1\n99999999999999999999999\n3\n");
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
        let mut sink = Collect::default();
        let read = read_csv(
            &path,
            "t.csv",
            CsvOptions::default(),
            schema,
            100,
            &mut sink,
        )
        .expect("read");
        assert_eq!(read.rows, 2);
        assert_eq!(sink.malformed.len(), 1);
        assert_eq!(sink.malformed[0].line, 3);
    }
}
