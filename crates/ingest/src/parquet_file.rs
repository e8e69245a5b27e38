//! Parquet files, read batch by batch.

use crate::error::open_file;
use crate::{FileRead, IngestError, Sink};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::Path;

fn parquet_error(display: &str, e: parquet::errors::ParquetError) -> IngestError {
    IngestError::Parquet {
        path: display.to_string(),
        source: Box::new(e),
    }
}

/// Pushes every batch of the file; a file that does not decode is an error (Parquet has no
/// lines to set aside).
pub fn read_parquet(
    path: &Path,
    display: &str,
    batch_rows: usize,
    sink: &mut dyn Sink,
) -> Result<FileRead, IngestError> {
    let file = open_file(path, display)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| parquet_error(display, e))?;
    let schema = builder.schema().clone();
    let total_rows = builder.metadata().file_metadata().num_rows().max(1) as u64;
    let reader = builder
        .with_batch_size(batch_rows.max(1))
        .build()
        .map_err(|e| parquet_error(display, e))?;
    let mut rows = 0;
    for batch in reader {
        let batch = batch.map_err(|e| IngestError::arrow(display, e))?;
        rows += batch.num_rows() as u64;
        sink.batch(batch)?;
        // Compressed bytes are not tracked per batch; rows read is a fair proxy.
        sink.progress(size.saturating_mul(rows) / total_rows);
    }
    Ok(FileRead {
        schema,
        rows,
        malformed: 0,
        bytes_read: size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Collect;
    use arrow::array::{Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.parquet");
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from(vec![1, 2, 3]))],
        )
        .expect("batch");
        let file = std::fs::File::create(&path).expect("create");
        let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, None).expect("writer");
        w.write(&batch).expect("write");
        w.close().expect("close");
        let mut sink = Collect::default();
        let read = read_parquet(&path, "x.parquet", 2, &mut sink).expect("read");
        assert_eq!(read.rows, 3);
        assert_eq!(sink.batches.len(), 2);

        std::fs::write(&path, b"not parquet").expect("write");
        let err =
            read_parquet(&path, "data/x.parquet", 2, &mut Collect::default()).expect_err("corrupt");
        assert!(err.to_string().starts_with("data/x.parquet: "), "{err}");
    }
}
