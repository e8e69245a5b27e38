//! Line-oriented reading shared by the JSON-lines and CSV readers: they split lines themselves so
//! that one bad line becomes one malformed record instead of an error for the whole file.

use crate::error::open_file;
use crate::{IngestError, Malformed, Sink};
use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Big reads: these files are often hundreds of megabytes of short lines.
const READ_BUFFER: usize = 1 << 20;

/// Decodes newline-separated records (the buffer, the number of lines in it) into batches.
pub(crate) type DecodeFn<'a> = &'a dyn Fn(&[u8], usize) -> Result<Vec<RecordBatch>, ArrowError>;

pub(crate) struct Lines {
    reader: BufReader<std::fs::File>,
    display: String,
    buf: Vec<u8>,
    pub line_no: u64,
    pub bytes_read: u64,
}

impl Lines {
    pub fn open(path: &Path, display: &str) -> Result<Self, IngestError> {
        let file = open_file(path, display)?;
        Ok(Lines {
            reader: BufReader::with_capacity(READ_BUFFER, file),
            display: display.to_string(),
            buf: Vec::new(),
            line_no: 0,
            bytes_read: 0,
        })
    }

    /// The next line without its line ending, or None at the end of the file.
    pub fn next_line(&mut self) -> Result<Option<&[u8]>, IngestError> {
        self.buf.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| IngestError::io(&self.display, e))?;
        if n == 0 {
            return Ok(None);
        }
        self.line_no += 1;
        self.bytes_read += n as u64;
        let mut line = self.buf.as_slice();
        if let Some(l) = line.strip_suffix(b"\n") {
            line = l;
        }
        if let Some(l) = line.strip_suffix(b"\r") {
            line = l;
        }
        Ok(Some(line))
    }
}

/// Lines waiting to be decoded together, remembering where each came from.
#[derive(Default)]
pub(crate) struct Chunk {
    buf: Vec<u8>,
    lines: Vec<(u64, usize, usize)>,
}

impl Chunk {
    pub fn push(&mut self, line_no: u64, line: &[u8]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(line);
        self.lines.push((line_no, start, self.buf.len()));
        self.buf.push(b'\n');
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Decodes all lines at once; if that fails, decodes line by line so that only the lines
    /// at fault become malformed. Returns the good rows as one batch.
    pub fn decode(
        &mut self,
        file: &str,
        schema: &SchemaRef,
        decode: DecodeFn<'_>,
        sink: &mut dyn Sink,
    ) -> Result<u64, IngestError> {
        if self.lines.is_empty() {
            return Ok(0);
        }
        let result = decode(&self.buf, self.lines.len()).and_then(|batches| {
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            if rows == self.lines.len() {
                Ok(batches)
            } else {
                Err(ArrowError::ParseError(format!(
                    "decoded {rows} rows from {} lines",
                    self.lines.len()
                )))
            }
        });
        let batches = match result {
            Ok(b) => b,
            Err(_) => {
                let mut good = Vec::new();
                for &(line_no, start, end) in &self.lines {
                    let mut one = self.buf[start..end].to_vec();
                    one.push(b'\n');
                    match decode(&one, 1) {
                        Ok(b) if b.iter().map(|b| b.num_rows()).sum::<usize>() == 1 => {
                            good.extend(b)
                        }
                        Ok(_) => sink.malformed(malformed(
                            file,
                            line_no,
                            "the line does not hold exactly one record",
                            &self.buf[start..end],
                        ))?,
                        Err(e) => sink.malformed(malformed(
                            file,
                            line_no,
                            &e.to_string(),
                            &self.buf[start..end],
                        ))?,
                    }
                }
                good
            }
        };
        self.buf.clear();
        self.lines.clear();
        let batch = concat_batches(schema, &batches).map_err(|e| IngestError::arrow(file, e))?;
        let rows = batch.num_rows() as u64;
        if rows > 0 {
            sink.batch(batch)?;
        }
        Ok(rows)
    }
}

pub(crate) fn malformed(file: &str, line: u64, error: &str, raw: &[u8]) -> Malformed {
    Malformed {
        file: file.to_string(),
        line,
        error: error.to_string(),
        raw: String::from_utf8_lossy(raw).into_owned(),
    }
}
