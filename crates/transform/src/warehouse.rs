//! The warehouse zone: one Delta table per model, plus a small state file recording what each
//! table was last built from, so an unchanged model is not rebuilt.

use crate::error::{Result, TransformError};
use chrono::{DateTime, Utc};
use deltalake::DeltaTable;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use url::Url;

const STATE_FILE: &str = "_pulse_state.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BuildRecord {
    pub fingerprint: String,
    pub rows: u64,
    pub built_at: DateTime<Utc>,
    pub delta_version: Option<u64>,
}

/// What the warehouse remembers between runs: per model (and per model partition for incremental
/// runs, keyed `model@date`) the fingerprint of its last successful build.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WarehouseState {
    pub builds: BTreeMap<String, BuildRecord>,
}

pub struct Warehouse {
    url: Url,
    local_root: Option<std::path::PathBuf>,
}

impl Warehouse {
    pub fn open(configured: &str, project_root: &Path) -> Result<Self> {
        let err = |message: String| TransformError::Warehouse {
            url: configured.to_string(),
            message,
        };
        let url = if configured.contains("://") {
            Url::parse(configured).map_err(|e| err(e.to_string()))?
        } else {
            let path = project_root.join(configured);
            std::fs::create_dir_all(&path)
                .map_err(|e| err(format!("cannot create {}: {e}", path.display())))?;
            let path = path
                .canonicalize()
                .map_err(|e| err(format!("cannot resolve {}: {e}", path.display())))?;
            Url::from_directory_path(&path)
                .map_err(|_| err(format!("not an absolute path: {}", path.display())))?
        };
        if url.scheme() != "file" {
            return Err(err(format!(
                "the {} scheme is not supported for the warehouse yet; use a local folder",
                url.scheme()
            )));
        }
        let local_root = url.to_file_path().ok();
        Ok(Self { url, local_root })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn table_url(&self, name: &str) -> Result<Url> {
        self.url
            .join(&format!("{name}/"))
            .map_err(|e| TransformError::Warehouse {
                url: self.url.to_string(),
                message: e.to_string(),
            })
    }

    /// The Delta table of a model, if it has been created.
    pub async fn open_table(&self, name: &str) -> Result<Option<DeltaTable>> {
        let url = self.table_url(name)?;
        if let Some(root) = &self.local_root
            && !root.join(name).join("_delta_log").is_dir()
        {
            return Ok(None);
        }
        match deltalake::open_table(url).await {
            Ok(t) => Ok(Some(t)),
            Err(deltalake::DeltaTableError::NotATable(_)) => Ok(None),
            Err(source) => Err(TransformError::Delta {
                table: name.to_string(),
                source,
            }),
        }
    }

    /// A handle for writing, whether or not the table exists yet.
    pub async fn table_for_write(&self, name: &str) -> Result<DeltaTable> {
        let url = self.table_url(name)?;
        if let Some(root) = &self.local_root {
            std::fs::create_dir_all(root.join(name)).map_err(|e| TransformError::Warehouse {
                url: url.to_string(),
                message: e.to_string(),
            })?;
        }
        DeltaTable::try_from_url(url)
            .await
            .map_err(|source| TransformError::Delta {
                table: name.to_string(),
                source,
            })
    }

    /// The table loaded at its latest version when it exists, else a handle to create it.
    pub async fn open_or_create(&self, name: &str) -> Result<DeltaTable> {
        match self.open_table(name).await? {
            Some(t) => Ok(t),
            None => self.table_for_write(name).await,
        }
    }

    fn state_path(&self) -> Option<std::path::PathBuf> {
        self.local_root.as_ref().map(|r| r.join(STATE_FILE))
    }

    pub fn load_state(&self) -> Result<WarehouseState> {
        let Some(path) = self.state_path() else {
            return Ok(WarehouseState::default());
        };
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| TransformError::Warehouse {
                url: path.display().to_string(),
                message: format!("unreadable state file: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(WarehouseState::default()),
            Err(e) => Err(TransformError::Warehouse {
                url: path.display().to_string(),
                message: e.to_string(),
            }),
        }
    }

    /// Changes the state as one step against other processes sharing the warehouse (workers of
    /// `pulse serve`): an exclusive lock on a file beside it is held from reading to the rename.
    pub fn update_state(&self, change: impl FnOnce(&mut WarehouseState)) -> Result<()> {
        let Some(path) = self.state_path() else {
            return Ok(());
        };
        let err = |e: std::io::Error| TransformError::Warehouse {
            url: path.display().to_string(),
            message: format!("locking the state file: {e}"),
        };
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path.with_extension("lock"))
            .map_err(err)?;
        lock.lock().map_err(err)?;
        let mut state = self.load_state()?;
        change(&mut state);
        let saved = self.save_state(&state);
        // Closing the file releases the lock too; unlocking first says so.
        let _ = lock.unlock();
        saved
    }

    /// Writes the state through a temporary file and a rename, so a crash leaves the old state.
    pub fn save_state(&self, state: &WarehouseState) -> Result<()> {
        let Some(path) = self.state_path() else {
            return Ok(());
        };
        let err = |e: String| TransformError::Warehouse {
            url: path.display().to_string(),
            message: e,
        };
        // Per process, so two writers never share a half-written temporary file.
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| err(e.to_string()))?;
        std::fs::write(&tmp, bytes).map_err(|e| err(e.to_string()))?;
        std::fs::rename(&tmp, &path).map_err(|e| err(e.to_string()))
    }
}
