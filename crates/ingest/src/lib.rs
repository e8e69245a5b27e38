//! Source connectors: each reads one kind of source (a SQLite, PostgreSQL or MySQL/MariaDB
//! table, JSON lines, CSV, Parquet, plain files) and pushes Arrow record batches into a [`Sink`]. Rows that cannot be read are
//! handed to the sink as [`Malformed`] records instead of failing the whole file, so the caller
//! decides where they go (the lake quarantines them).
//!
//! Readers are synchronous and stream: memory stays bounded by one batch regardless of input size.

pub mod csv;
mod error;
pub mod files;
pub mod image;
pub mod jsonl;
mod lines;
pub mod mysql;
pub mod parquet_file;
pub mod postgres;
pub mod schema;
pub mod server;
pub mod sqlite;

pub use error::IngestError;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use serde::{Deserialize, Serialize};

/// Rows per batch unless the caller asks otherwise: large enough for Parquet row groups to
/// compress well, small enough that a batch of wide rows stays in the tens of megabytes.
pub const DEFAULT_BATCH_ROWS: usize = 65_536;

/// One input line that could not be read, kept so that nothing is dropped silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Malformed {
    /// The file as the user would name it (relative to the project root).
    pub file: String,
    /// 1-based line number in the file.
    pub line: u64,
    pub error: String,
    /// The line as read, without its line ending (invalid UTF-8 replaced).
    pub raw: String,
}

/// Where a reader delivers what it reads.
pub trait Sink {
    fn batch(&mut self, batch: RecordBatch) -> Result<(), IngestError>;
    fn malformed(&mut self, record: Malformed) -> Result<(), IngestError>;
    /// Bytes of the current input read so far; advisory, for progress display.
    fn progress(&mut self, _bytes_read: u64) {}
}

/// A sink that keeps everything in memory: for tests and small inputs.
#[derive(Debug, Default)]
pub struct Collect {
    pub batches: Vec<RecordBatch>,
    pub malformed: Vec<Malformed>,
    pub bytes_read: u64,
}

impl Collect {
    pub fn rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
}

impl Sink for Collect {
    fn batch(&mut self, batch: RecordBatch) -> Result<(), IngestError> {
        self.batches.push(batch);
        Ok(())
    }

    fn malformed(&mut self, record: Malformed) -> Result<(), IngestError> {
        self.malformed.push(record);
        Ok(())
    }

    fn progress(&mut self, bytes_read: u64) {
        self.bytes_read = bytes_read;
    }
}

/// What reading one file produced.
#[derive(Debug, Clone)]
pub struct FileRead {
    pub schema: SchemaRef,
    pub rows: u64,
    pub malformed: u64,
    pub bytes_read: u64,
}
