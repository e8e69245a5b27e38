//! The JSON files the lake keeps beside the data: the manifest of each landing (its commit
//! marker) and the per-table state that makes the next landing incremental.

use arrow::datatypes::{Schema, SchemaRef};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LandingMode {
    /// The landing is the whole table: it replaces every earlier landing for readers.
    Snapshot,
    /// The landing adds to the earlier ones (new files, rows past the watermark).
    Append,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldInfo {
    pub name: String,
    pub data_type: String,
    pub nullable: bool,
}

pub fn describe_schema(schema: &Schema) -> Vec<FieldInfo> {
    schema
        .fields()
        .iter()
        .map(|f| FieldInfo {
            name: f.name().clone(),
            data_type: f.data_type().to_string(),
            nullable: f.is_nullable(),
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartInfo {
    /// Relative to the lake root.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginalInfo {
    /// The name under `original/` in the landing folder.
    pub name: String,
    /// Relative to the lake root.
    pub path: String,
    /// The source file, relative to the project root.
    pub source_path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// `_manifest.json` of one landing; written last, so its presence means the landing is complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub source: String,
    pub table: String,
    pub connector: String,
    pub mode: LandingMode,
    pub run_id: String,
    /// YYYY-MM-DD.
    pub ingest_date: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub schema: Vec<FieldInfo>,
    pub parts: Vec<PartInfo>,
    pub originals: Vec<OriginalInfo>,
    pub rows: u64,
    pub input_bytes: u64,
    pub output_bytes: u64,
    pub watermark_before: Option<String>,
    pub watermark_after: Option<String>,
    pub malformed_rows: u64,
    /// Relative to the lake root.
    pub quarantine: Option<String>,
    /// What the landing noted without failing (a column type landed as text, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A file's checksum remembered with its size and modification time, so unchanged files need
/// not be read again just to learn they were landed already.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedHash {
    pub bytes: u64,
    pub modified_ns: i64,
    pub sha256: String,
}

/// `_state/<source>/<table>.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TableState {
    pub source: String,
    pub table: String,
    /// sha256 of every source file landed → the run that landed it.
    #[serde(default)]
    pub landed_files: BTreeMap<String, String>,
    /// Project-relative path → its last known checksum.
    #[serde(default)]
    pub file_hashes: BTreeMap<String, CachedHash>,
    #[serde(default)]
    pub watermark: Option<String>,
    #[serde(default)]
    pub schema: Vec<FieldInfo>,
    /// The last landed schema as an Arrow IPC message, hex: lets later files keep its types.
    #[serde(default)]
    pub schema_ipc: Option<String>,
    #[serde(default)]
    pub snapshot_hash: Option<String>,
    #[serde(default)]
    pub last_run_id: Option<String>,
}

impl TableState {
    pub fn arrow_schema(&self) -> Option<SchemaRef> {
        let bytes = hex::decode(self.schema_ipc.as_ref()?).ok()?;
        let reader =
            arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).ok()?;
        Some(reader.schema())
    }

    pub fn set_schema(&mut self, schema: &Schema) {
        self.schema = describe_schema(schema);
        self.schema_ipc = encode_schema(schema).map(hex::encode);
    }
}

fn encode_schema(schema: &Schema) -> Option<Vec<u8>> {
    let mut w = arrow::ipc::writer::StreamWriter::try_new(Vec::new(), schema).ok()?;
    w.finish().ok()?;
    w.into_inner().ok()
}
