//! Plain files (photos, documents): one metadata row per file. The bytes themselves are kept by
//! the caller (the lake copies originals); here they are only hashed and, for images, measured.

use crate::error::open_file;
use crate::{IngestError, Sink};
use arrow::array::{
    ArrayRef, Int32Builder, Int64Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// Image headers sit at the start, after at most a large EXIF segment (up to 64 KiB).
const HEADER_BYTES: usize = 256 * 1024;
const READ_CHUNK: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Relative to the project root, with `/` separators.
    pub path: String,
    pub file_name: String,
    /// Lower case, without the dot; empty if none.
    pub extension: String,
    pub bytes: u64,
    pub sha256: String,
    pub content_type: String,
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// Microseconds since the epoch, UTC.
    pub modified_at: Option<i64>,
}

pub fn content_type(extension: &str) -> &'static str {
    match extension.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}

/// The sha256 (hex) and length of a file, read in large chunks.
pub fn sha256_file(path: &Path, display: &str) -> Result<(String, u64), IngestError> {
    let mut file = open_file(path, display)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; READ_CHUNK];
    let mut total = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| IngestError::io(display, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// Reads a file once: hash, size, image dimensions, modification time.
pub fn describe(path: &Path, display: &str) -> Result<FileInfo, IngestError> {
    let mut file = open_file(path, display)?;
    let modified_at = file
        .metadata()
        .ok()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_micros()).ok());
    let mut hasher = Sha256::new();
    let mut head = Vec::new();
    let mut buf = vec![0u8; READ_CHUNK];
    let mut total = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| IngestError::io(display, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        if head.len() < HEADER_BYTES {
            let take = n.min(HEADER_BYTES - head.len());
            head.extend_from_slice(&buf[..take]);
        }
        total += n as u64;
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let dims = crate::image::dimensions(&head);
    Ok(FileInfo {
        path: display.to_string(),
        file_name,
        content_type: content_type(&extension).to_string(),
        extension,
        bytes: total,
        sha256: hex::encode(hasher.finalize()),
        width: dims.and_then(|(w, _)| i32::try_from(w).ok()),
        height: dims.and_then(|(_, h)| i32::try_from(h).ok()),
        modified_at,
    })
}

pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("path", DataType::Utf8, true),
        Field::new("file_name", DataType::Utf8, true),
        Field::new("extension", DataType::Utf8, true),
        Field::new("bytes", DataType::Int64, true),
        Field::new("sha256", DataType::Utf8, true),
        Field::new("content_type", DataType::Utf8, true),
        Field::new("width", DataType::Int32, true),
        Field::new("height", DataType::Int32, true),
        Field::new(
            "modified_at",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            true,
        ),
    ]))
}

pub fn to_batch(infos: &[FileInfo]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let mut path = StringBuilder::new();
    let mut file_name = StringBuilder::new();
    let mut extension = StringBuilder::new();
    let mut bytes = Int64Builder::new();
    let mut sha = StringBuilder::new();
    let mut ctype = StringBuilder::new();
    let mut width = Int32Builder::new();
    let mut height = Int32Builder::new();
    let mut modified = TimestampMicrosecondBuilder::new();
    for i in infos {
        path.append_value(&i.path);
        file_name.append_value(&i.file_name);
        extension.append_value(&i.extension);
        bytes.append_value(i64::try_from(i.bytes).unwrap_or(i64::MAX));
        sha.append_value(&i.sha256);
        ctype.append_value(&i.content_type);
        width.append_option(i.width);
        height.append_option(i.height);
        modified.append_option(i.modified_at);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(path.finish()),
        Arc::new(file_name.finish()),
        Arc::new(extension.finish()),
        Arc::new(bytes.finish()),
        Arc::new(sha.finish()),
        Arc::new(ctype.finish()),
        Arc::new(width.finish()),
        Arc::new(height.finish()),
        Arc::new(modified.finish()),
    ];
    RecordBatch::try_new(schema(), columns)
}

/// Describes each file (absolute path, display path) and pushes the rows in batches.
pub fn read_files(
    files: &[(std::path::PathBuf, String)],
    batch_rows: usize,
    sink: &mut dyn Sink,
) -> Result<u64, IngestError> {
    let mut pending = Vec::new();
    let mut bytes_read = 0u64;
    let mut rows = 0u64;
    for (abs, display) in files {
        let info = describe(abs, display)?;
        bytes_read += info.bytes;
        pending.push(info);
        if pending.len() >= batch_rows.max(1) {
            rows += flush(&mut pending, sink)?;
        }
        sink.progress(bytes_read);
    }
    rows += flush(&mut pending, sink)?;
    Ok(rows)
}

fn flush(pending: &mut Vec<FileInfo>, sink: &mut dyn Sink) -> Result<u64, IngestError> {
    if pending.is_empty() {
        return Ok(0);
    }
    let batch = to_batch(pending).map_err(|e| IngestError::arrow("files", e))?;
    pending.clear();
    let n = batch.num_rows() as u64;
    sink.batch(batch)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Collect;

    #[test]
    fn describes_a_png() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("Photo.PNG");
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&3u32.to_be_bytes());
        png.extend_from_slice(&2u32.to_be_bytes());
        png.extend_from_slice(&[8, 2, 0, 0, 0]);
        std::fs::write(&path, &png).expect("write");
        let info = describe(&path, "data/photos/Photo.PNG").expect("describe");
        assert_eq!(info.extension, "png");
        assert_eq!(info.content_type, "image/png");
        assert_eq!((info.width, info.height), (Some(3), Some(2)));
        assert_eq!(info.bytes, png.len() as u64);
        assert_eq!(info.sha256, sha256_file(&path, "x").expect("sha").0);
        assert!(info.modified_at.is_some());

        let other = dir.path().join("notes.txt");
        std::fs::write(&other, "hi").expect("write");
        let mut sink = Collect::default();
        let rows =
            read_files(&[(path, "a".into()), (other, "b".into())], 1, &mut sink).expect("read");
        assert_eq!(rows, 2);
        assert_eq!(sink.batches.len(), 2);
        assert_eq!(sink.batches[1].column(6).null_count(), 1);
    }
}
