//! What runs report, kept in a folder (by default `<warehouse>/_catalog/`): one JSON file per
//! dataset under `datasets/`, replaced atomically (written to a temporary file, synced, renamed)
//! so that a reader never sees half a record. A dataset's schema history lives in its own record:
//! the schema and the change that led to it are written in the same rename, so a crash cannot
//! record one without the other. Read-modify-write cycles of concurrent workers are serialised
//! by an exclusive lock on `<folder>/.lock`. Every change also bumps a counter in
//! `<folder>/version`, so a long-lived reader (the web server's catalog) can tell cheaply whether
//! anything changed ([`CatalogStore::stamp`]).

use crate::error::{CatalogError, Result};
use crate::lineage::ColumnMap;
use crate::model::{Column, ColumnProfile, Profile, QualitySummary, Stats};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// A column whose type changed between two schemas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retyped {
    pub column: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// One change of a dataset's schema, as the run that saw it reported. The first schema a
/// dataset has is recorded as a change that adds every column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaChange {
    pub run_id: String,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<Column>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<Column>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retyped: Vec<Retyped>,
    /// The whole schema after the change.
    pub columns: Vec<Column>,
}

impl SchemaChange {
    /// The change from `before` (none: the first schema) to `after`; none if they have the same
    /// columns with the same types (nullability and order are not changes).
    pub fn between(
        before: Option<&[Column]>,
        after: &[Column],
        run_id: &str,
        at: DateTime<Utc>,
    ) -> Option<SchemaChange> {
        let before = before.unwrap_or(&[]);
        let find = |cols: &[Column], name: &str| cols.iter().find(|c| c.name == name).cloned();
        let added: Vec<Column> = after
            .iter()
            .filter(|c| find(before, &c.name).is_none())
            .cloned()
            .collect();
        let removed: Vec<Column> = before
            .iter()
            .filter(|c| find(after, &c.name).is_none())
            .cloned()
            .collect();
        let retyped: Vec<Retyped> = after
            .iter()
            .filter_map(|c| {
                let old = find(before, &c.name)?;
                (old.data_type != c.data_type).then(|| Retyped {
                    column: c.name.clone(),
                    from: old.data_type,
                    to: c.data_type.clone(),
                })
            })
            .collect();
        if added.is_empty() && removed.is_empty() && retyped.is_empty() {
            return None;
        }
        Some(SchemaChange {
            run_id: run_id.to_string(),
            at,
            added,
            removed,
            retyped,
            columns: after.to_vec(),
        })
    }
}

/// A model's column lineage as the last run read it off the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedColumnLineage {
    pub run_id: String,
    pub at: DateTime<Utc>,
    pub columns: ColumnMap,
}

/// Everything runs reported about one dataset.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DatasetRecord {
    /// The catalog id (`fct_orders`, `raw:orders.orders`, …).
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
    /// The schema the last build saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Vec<Column>>,
    /// Every change of the schema, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema_history: Vec<SchemaChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<QualitySummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_lineage: Option<RecordedColumnLineage>,
}

/// What a reader compares to tell whether the store changed since it last read it: the counter
/// every write bumps, and the modification time of the records' folder (which also catches
/// records added or removed by hand). Two stat calls and a read of a few bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStamp {
    pub version: u64,
    pub modified: Option<SystemTime>,
}

/// The catalog's folder of run reports.
#[derive(Debug, Clone)]
pub struct CatalogStore {
    dir: PathBuf,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A file name for an id: letters, digits, `_`, `-` and inner `.` as they are, every other byte
/// as `%XX` (ids hold `:`, which some file systems refuse).
fn file_name(id: &str) -> String {
    let mut out = String::new();
    for (i, b) in id.bytes().enumerate() {
        let plain = b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0);
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push_str(".json");
    out
}

impl CatalogStore {
    /// Opens (creating it if needed) the store in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        let datasets = dir.join("datasets");
        std::fs::create_dir_all(&datasets).map_err(|e| CatalogError::io(&datasets, e))?;
        Ok(Self { dir })
    }

    /// The store of a warehouse folder: `<warehouse>/_catalog`.
    pub fn in_warehouse(warehouse: &Path) -> Result<Self> {
        Self::open(warehouse.join("_catalog"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, id: &str) -> PathBuf {
        self.dir.join("datasets").join(file_name(id))
    }

    /// How many changes the store has seen (0 for a new store).
    pub fn version(&self) -> Result<u64> {
        let path = self.dir.join("version");
        match std::fs::read_to_string(&path) {
            // A torn or hand-edited counter counts as 0: the folder's mtime still tells changes.
            Ok(text) => Ok(text.trim().parse().unwrap_or(0)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(CatalogError::io(&path, e)),
        }
    }

    /// The store's [`StoreStamp`]: read it before reading the records, and read them again
    /// when a later stamp differs.
    pub fn stamp(&self) -> Result<StoreStamp> {
        let version = self.version()?;
        let datasets = self.dir.join("datasets");
        let modified = std::fs::metadata(&datasets)
            .and_then(|m| m.modified())
            .map_err(|e| CatalogError::io(&datasets, e))?;
        Ok(StoreStamp {
            version,
            modified: Some(modified),
        })
    }

    /// The record of one dataset, if a run reported on it.
    pub fn record(&self, id: &str) -> Result<Option<DatasetRecord>> {
        read_record(&self.path_of(id))
    }

    /// Every record, in id order.
    pub fn records(&self) -> Result<Vec<DatasetRecord>> {
        let dir = self.dir.join("datasets");
        let entries = std::fs::read_dir(&dir).map_err(|e| CatalogError::io(&dir, e))?;
        let mut out = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| CatalogError::io(&dir, e))?.path();
            let is_record = path.extension().is_some_and(|e| e == "json")
                && !path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'));
            if is_record && let Some(r) = read_record(&path)? {
                out.push(r);
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// The schema changes of a dataset, oldest first.
    pub fn schema_history(&self, id: &str) -> Result<Vec<SchemaChange>> {
        Ok(self
            .record(id)?
            .map(|r| r.schema_history)
            .unwrap_or_default())
    }

    /// Reads, changes and atomically replaces one record under the store's lock; returns the
    /// record as written.
    pub fn update(
        &self,
        id: &str,
        change: impl FnOnce(&mut DatasetRecord),
    ) -> Result<DatasetRecord> {
        let lock_path = self.dir.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| CatalogError::io(&lock_path, e))?;
        lock.lock().map_err(|e| CatalogError::io(&lock_path, e))?;
        let path = self.path_of(id);
        let mut record = read_record(&path)?.unwrap_or_else(|| DatasetRecord {
            id: id.to_string(),
            ..DatasetRecord::default()
        });
        change(&mut record);
        let written = write_atomically(&path, &record).and_then(|()| {
            let next = self.version()?.wrapping_add(1);
            write_atomically(&self.dir.join("version"), &next)
        });
        // Dropping the file releases the lock too; unlocking first reports nothing useful.
        let _ = lock.unlock();
        written?;
        Ok(record)
    }

    /// A build (or landing) of `dataset`: its schema, rows and bytes. A schema that differs
    /// from the last one recorded is added to the schema history; that change is returned.
    pub fn record_build(
        &self,
        dataset: &str,
        schema: &arrow::datatypes::Schema,
        rows: u64,
        bytes: u64,
        run_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<SchemaChange>> {
        self.record_columns(
            dataset,
            &Column::from_arrow(schema),
            rows,
            bytes,
            run_id,
            at,
        )
    }

    /// As [`CatalogStore::record_build`], with the schema as catalog columns.
    pub fn record_columns(
        &self,
        dataset: &str,
        columns: &[Column],
        rows: u64,
        bytes: u64,
        run_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<SchemaChange>> {
        let mut change = None;
        self.update(dataset, |r| {
            change = SchemaChange::between(r.schema.as_deref(), columns, run_id, at);
            if let Some(c) = &change {
                r.schema_history.push(c.clone());
            }
            r.schema = Some(columns.to_vec());
            r.stats = Some(Stats {
                row_count: rows,
                size_bytes: bytes,
                last_updated: at,
                last_run_id: run_id.to_string(),
            });
        })?;
        Ok(change)
    }

    /// Column profiles a run computed; replaces the previous ones.
    pub fn record_profile(
        &self,
        dataset: &str,
        run_id: &str,
        at: DateTime<Utc>,
        rows: u64,
        columns: Vec<ColumnProfile>,
    ) -> Result<()> {
        self.update(dataset, |r| {
            r.profile = Some(Profile {
                run_id: run_id.to_string(),
                at,
                rows,
                columns,
            });
        })?;
        Ok(())
    }

    /// The latest validation of a dataset; replaces the previous one.
    pub fn record_quality(&self, dataset: &str, summary: QualitySummary) -> Result<()> {
        self.update(dataset, |r| r.quality = Some(summary))?;
        Ok(())
    }

    /// A model's column lineage as a run read it off the plan; replaces the previous one.
    /// Check it with [`crate::Catalog::set_column_lineage`] first.
    pub fn record_column_lineage(
        &self,
        model: &str,
        run_id: &str,
        at: DateTime<Utc>,
        columns: &ColumnMap,
    ) -> Result<()> {
        self.update(model, |r| {
            r.column_lineage = Some(RecordedColumnLineage {
                run_id: run_id.to_string(),
                at,
                columns: columns.clone(),
            });
        })?;
        Ok(())
    }
}

fn read_record(path: &Path) -> Result<Option<DatasetRecord>> {
    match std::fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| CatalogError::Corrupt {
                    path: path.to_path_buf(),
                    source,
                })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CatalogError::io(path, e)),
    }
}

/// Writes `value` as pretty JSON to a temporary file beside `path`, syncs it and renames it
/// over `path`: readers see the old record or the new one, never a mix.
pub(crate) fn write_atomically<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("record");
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let json = serde_json::to_vec_pretty(value).map_err(|source| CatalogError::Corrupt {
        path: path.to_path_buf(),
        source,
    })?;
    let result = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(&json)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(CatalogError::io(path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe() {
        assert_eq!(file_name("fct_orders"), "fct_orders.json");
        assert_eq!(file_name("raw:orders.orders"), "raw%3Aorders.orders.json");
        assert_eq!(file_name("../x"), "%2E.%2Fx.json");
    }
}
