//! Writing a landing: Parquet parts and quarantined rows stream into a staging area first and are
//! moved into `raw/` only when the whole landing succeeded, each move refusing to replace an
//! existing object.

use crate::LakeError;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use futures::future::BoxFuture;
use object_store::ObjectStore;
use object_store::buffered::BufWriter;
use object_store::path::Path as StorePath;
use parquet::arrow::AsyncArrowWriter;
use parquet::arrow::async_writer::AsyncFileWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A new part starts after this many rows or bytes, so one file never gets unwieldy.
pub(crate) const MAX_PART_ROWS: u64 = 1_000_000;
pub(crate) const MAX_PART_BYTES: usize = 256 * 1024 * 1024;
const COPY_CHUNK: usize = 4 * 1024 * 1024;

/// Hashes and counts the bytes of a part as they are written, sparing a read-back.
struct HashingWriter {
    inner: BufWriter,
    hasher: Sha256,
    bytes: u64,
}

impl AsyncFileWriter for HashingWriter {
    fn write(&mut self, bs: Bytes) -> BoxFuture<'_, parquet::errors::Result<()>> {
        self.hasher.update(&bs);
        self.bytes += bs.len() as u64;
        AsyncFileWriter::write(&mut self.inner, bs)
    }

    fn complete(&mut self) -> BoxFuture<'_, parquet::errors::Result<()>> {
        AsyncFileWriter::complete(&mut self.inner)
    }
}

/// A finished part in the staging area.
#[derive(Debug, Clone)]
pub(crate) struct StagedPart {
    pub name: String,
    pub staging: StorePath,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
    pub schema: SchemaRef,
}

struct OpenPart {
    writer: AsyncArrowWriter<HashingWriter>,
    name: String,
    staging: StorePath,
    rows: u64,
    schema: SchemaRef,
}

fn properties() -> WriterProperties {
    // A constant created_by keeps the bytes identical for identical input across versions.
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_created_by("pulse".to_string())
        .build()
}

pub(crate) struct PartWriter {
    store: Arc<dyn ObjectStore>,
    staging_dir: StorePath,
    label: String,
    current: Option<OpenPart>,
    pub parts: Vec<StagedPart>,
}

impl PartWriter {
    pub fn new(store: Arc<dyn ObjectStore>, staging_dir: StorePath, label: &str) -> Self {
        PartWriter {
            store,
            staging_dir,
            label: label.to_string(),
            current: None,
            parts: Vec::new(),
        }
    }

    fn parquet_err(&self, path: &StorePath, e: parquet::errors::ParquetError) -> LakeError {
        LakeError::Parquet {
            table: self.label.clone(),
            path: path.to_string(),
            source: Box::new(e),
        }
    }

    fn open(&mut self, schema: SchemaRef) -> Result<(), LakeError> {
        let name = format!("part-{:05}.parquet", self.parts.len());
        let staging = self.staging_dir.clone().join(name.as_str());
        let inner = BufWriter::new(self.store.clone(), staging.clone());
        let sink = HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        };
        let writer = AsyncArrowWriter::try_new(sink, schema.clone(), Some(properties()))
            .map_err(|e| self.parquet_err(&staging, e))?;
        self.current = Some(OpenPart {
            writer,
            name,
            staging,
            rows: 0,
            schema,
        });
        Ok(())
    }

    async fn close_current(&mut self) -> Result<(), LakeError> {
        let Some(mut part) = self.current.take() else {
            return Ok(());
        };
        if let Err(e) = part.writer.finish().await {
            return Err(self.parquet_err(&part.staging, e));
        }
        let sink = part.writer.into_inner();
        self.parts.push(StagedPart {
            name: part.name,
            staging: part.staging,
            rows: part.rows,
            bytes: sink.bytes,
            sha256: hex::encode(sink.hasher.finalize()),
            schema: part.schema,
        });
        Ok(())
    }

    pub async fn write(&mut self, batch: RecordBatch) -> Result<(), LakeError> {
        // A batch without columns (e.g. JSON lines of `{}`) has nothing Parquet can hold.
        if batch.num_rows() == 0 || batch.num_columns() == 0 {
            return Ok(());
        }
        // Parts hold one schema each; files of one landing may differ (CSV, Parquet).
        if let Some(cur) = &self.current
            && *cur.schema != *batch.schema()
        {
            self.close_current().await?;
        }
        if self.current.is_none() {
            self.open(batch.schema())?;
        }
        let full = match self.current.as_mut() {
            Some(cur) => {
                let result = cur.writer.write(&batch).await;
                if let Err(e) = result {
                    let path = cur.staging.clone();
                    return Err(self.parquet_err(&path, e));
                }
                cur.rows += batch.num_rows() as u64;
                cur.rows >= MAX_PART_ROWS
                    || cur.writer.bytes_written() + cur.writer.in_progress_size() >= MAX_PART_BYTES
            }
            None => false,
        };
        if full {
            self.close_current().await?;
        }
        Ok(())
    }

    /// Closes the open part. With no rows at all and a known `schema`, writes one empty part so
    /// the table still exists for readers with its columns.
    pub async fn finish(&mut self, schema: Option<SchemaRef>) -> Result<(), LakeError> {
        self.close_current().await?;
        if self.parts.is_empty()
            && let Some(schema) = schema
            && !schema.fields().is_empty()
        {
            self.open(schema)?;
            self.close_current().await?;
        }
        Ok(())
    }

    pub fn abandon(&mut self) {
        // Dropping the writer drops its upload; staging cleanup removes what reached the store.
        self.current = None;
    }
}

/// Malformed rows as JSON lines, streamed to staging.
pub(crate) struct Quarantine {
    store: Arc<dyn ObjectStore>,
    pub staging: StorePath,
    label: String,
    writer: Option<BufWriter>,
    pub rows: u64,
}

impl Quarantine {
    pub fn new(store: Arc<dyn ObjectStore>, staging: StorePath, label: &str) -> Self {
        Quarantine {
            store,
            staging,
            label: label.to_string(),
            writer: None,
            rows: 0,
        }
    }

    pub async fn write(&mut self, record: &pulse_ingest::Malformed) -> Result<(), LakeError> {
        let mut line = serde_json::to_vec(record).map_err(|e| LakeError::Corrupt {
            table: self.label.clone(),
            path: self.staging.to_string(),
            message: e.to_string(),
        })?;
        line.push(b'\n');
        let writer = self
            .writer
            .get_or_insert_with(|| BufWriter::new(self.store.clone(), self.staging.clone()));
        writer
            .put(Bytes::from(line))
            .await
            .map_err(|e| LakeError::store(&self.label, &self.staging, e))?;
        self.rows += 1;
        Ok(())
    }

    /// Completes the file; true if there was anything to keep.
    pub async fn finish(&mut self) -> Result<bool, LakeError> {
        match self.writer.take() {
            Some(mut w) => {
                w.shutdown().await.map_err(|e| LakeError::Io {
                    table: self.label.clone(),
                    path: self.staging.to_string(),
                    source: e,
                })?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// Copies a local file byte for byte into the store, returning its sha256 and length.
pub(crate) async fn copy_file(
    store: Arc<dyn ObjectStore>,
    from: &std::path::Path,
    display: &str,
    to: &StorePath,
    label: &str,
) -> Result<(String, u64), LakeError> {
    let io_err = |e: std::io::Error| LakeError::Io {
        table: label.to_string(),
        path: display.to_string(),
        source: e,
    };
    let mut file = tokio::fs::File::open(from).await.map_err(io_err)?;
    let mut writer = BufWriter::new(store, to.clone());
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; COPY_CHUNK];
    loop {
        let n = file.read(&mut buf).await.map_err(io_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
        writer
            .put(Bytes::copy_from_slice(&buf[..n]))
            .await
            .map_err(|e| LakeError::store(label, to, e))?;
    }
    writer.shutdown().await.map_err(|e| LakeError::Io {
        table: label.to_string(),
        path: to.to_string(),
        source: e,
    })?;
    Ok((hex::encode(hasher.finalize()), total))
}
