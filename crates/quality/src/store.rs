//! Results kept per run, so they can be read back (`pulse test --format json`, the data docs)
//! and so `volume_change` can compare a dataset with its trailing runs.

use crate::result::ValidationSummary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("quality results at {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("quality results file {}: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// Every dataset validated by one run (or one `pulse test`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityRun {
    pub run_id: String,
    /// RFC 3339.
    pub validated_at: String,
    /// `run` or `test`.
    pub command: String,
    pub success: bool,
    pub datasets: Vec<ValidationSummary>,
}

impl QualityRun {
    pub fn new(
        run_id: &str,
        validated_at: &str,
        command: &str,
        datasets: Vec<ValidationSummary>,
    ) -> Self {
        QualityRun {
            run_id: run_id.to_string(),
            validated_at: validated_at.to_string(),
            command: command.to_string(),
            success: datasets.iter().all(|d| d.success),
            datasets,
        }
    }
}

/// What earlier pipeline runs found, per dataset.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Row counts, oldest first.
    pub row_counts: BTreeMap<String, Vec<u64>>,
    /// The latest validation.
    pub latest: BTreeMap<String, ValidationSummary>,
}

/// A folder of `<run_id>.json` files; run ids sort in time order.
#[derive(Debug, Clone)]
pub struct ResultStore {
    dir: PathBuf,
}

impl ResultStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ResultStore { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the run's results; a reader never sees a half-written file.
    pub fn save(&self, run: &QualityRun) -> Result<PathBuf, StoreError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let path = self.dir.join(format!("{}.json", run.run_id));
        let tmp = self.dir.join(format!(".{}.json.tmp", run.run_id));
        let text = serde_json::to_vec_pretty(run).map_err(|source| StoreError::Json {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&tmp, text).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        Ok(path)
    }

    /// All runs, oldest first.
    pub fn runs(&self) -> Result<Vec<QualityRun>, StoreError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StoreError::Io {
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "json")
                    && !p
                        .file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with('.'))
            })
            .collect();
        files.sort();
        let mut runs = Vec::new();
        for path in files {
            let text = std::fs::read(&path).map_err(|source| StoreError::Io {
                path: path.clone(),
                source,
            })?;
            let run = serde_json::from_slice(&text).map_err(|source| StoreError::Json {
                path: path.clone(),
                source,
            })?;
            runs.push(run);
        }
        Ok(runs)
    }

    pub fn latest(&self) -> Result<Option<QualityRun>, StoreError> {
        Ok(self.runs()?.pop())
    }

    /// Each dataset's most recent validation by a pipeline run.
    pub fn latest_by_dataset(&self) -> Result<BTreeMap<String, ValidationSummary>, StoreError> {
        let mut out = BTreeMap::new();
        for run in self.runs()?.into_iter().filter(|r| r.command == "run") {
            for d in run.datasets {
                out.insert(d.dataset.clone(), d);
            }
        }
        Ok(out)
    }

    /// Row counts of each dataset in earlier pipeline runs, oldest first (for `volume_change`).
    pub fn previous_row_counts(&self) -> Result<BTreeMap<String, Vec<u64>>, StoreError> {
        Ok(self.history()?.row_counts)
    }

    /// [`ResultStore::previous_row_counts`] and [`ResultStore::latest_by_dataset`] from one
    /// reading of the results.
    pub fn history(&self) -> Result<History, StoreError> {
        let mut history = History::default();
        for run in self.runs()?.into_iter().filter(|r| r.command == "run") {
            for d in run.datasets {
                history
                    .row_counts
                    .entry(d.dataset.clone())
                    .or_default()
                    .push(d.row_count);
                history.latest.insert(d.dataset.clone(), d);
            }
        }
        Ok(history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_reads_back_in_order() {
        let dir = std::env::temp_dir().join(format!("pulse-quality-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = ResultStore::new(&dir);
        assert!(store.runs().expect("empty").is_empty());
        for (id, rows) in [("20260102T000000Z", 20), ("20260101T000000Z", 10)] {
            let d = ValidationSummary::new("orders.orders", rows, Vec::new(), 0);
            store
                .save(&QualityRun::new(id, "2026-01-01T00:00:00Z", "run", vec![d]))
                .expect("save");
        }
        store
            .save(&QualityRun::new(
                "20260103T000000Z",
                "x",
                "test",
                vec![ValidationSummary::new("orders.orders", 99, Vec::new(), 0)],
            ))
            .expect("save");
        let counts = store.previous_row_counts().expect("counts");
        assert_eq!(counts.get("orders.orders"), Some(&vec![10, 20]));
        assert_eq!(
            store.latest().expect("latest").map(|r| r.run_id),
            Some("20260103T000000Z".to_string())
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
