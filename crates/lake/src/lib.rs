//! The raw zone of the lake: every landing of a source table is an immutable folder
//! `raw/<source>/<table>/<ingest_date>/<run_id>/` of Parquet parts, the originals of file sources,
//! and a `_manifest.json` written last as the commit marker. Rows that could not be read go to
//! `quarantine/`, and `_state/<source>/<table>.json` remembers what has landed (file checksums,
//! the cursor watermark, the last snapshot's hash) so that the next landing only adds what is new.
//!
//! All writes go through `object_store`, so the lake can move from a local folder to a bucket.

mod error;
mod land;
mod server;
mod state;
mod write;

pub use error::LakeError;
pub use state::{CachedHash, FieldInfo, LandingMode, Manifest, OriginalInfo, PartInfo, TableState};

use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One run of the pipeline: every landing it makes shares the run id and ingest date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunContext {
    pub run_id: String,
    pub ingest_date: chrono::NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LandProgress {
    /// Bytes of input read so far out of the total to read.
    Bytes { done: u64, total: u64 },
}

/// A Parquet part of a table, as readers should see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandedFile {
    /// Absolute `file://` URL.
    pub url: String,
    /// Relative to the lake root.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
    pub run_id: String,
    pub ingest_date: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LandingReport {
    pub source: String,
    pub table: String,
    pub files_seen: u64,
    pub files_skipped: u64,
    pub rows: u64,
    pub input_bytes: u64,
    pub output_bytes: u64,
    pub malformed_rows: u64,
    /// Absolute path of the quarantine file, if rows were set aside.
    pub malformed_path: Option<String>,
    pub watermark: Option<String>,
    pub seconds: f64,
    /// False when there was nothing new: nothing was written.
    pub landed: bool,
    /// Said about the landing without failing it (a column type landed as text, …).
    pub warnings: Vec<String>,
}

pub struct Lake {
    store: Arc<dyn ObjectStore>,
    /// Absolute, canonical folder of the lake.
    root: PathBuf,
}

impl std::fmt::Debug for Lake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lake").field("root", &self.root).finish()
    }
}

impl Lake {
    /// `url`: a folder relative to the project root ("lake"), an absolute path, or a `file://`
    /// URL. The folder is created if missing.
    pub fn open(url: &str, project_root: &Path) -> Result<Lake, LakeError> {
        let open_err = |message: String| LakeError::Open {
            url: url.to_string(),
            message,
        };
        let root = if let Some(rest) = url.strip_prefix("file://") {
            let parsed = url::Url::parse(url).map_err(|e| open_err(e.to_string()))?;
            parsed
                .to_file_path()
                .map_err(|_| open_err(format!("not a local path: {rest}")))?
        } else if url.contains("://") {
            return Err(open_err(
                "only local folders and file:// URLs are supported".to_string(),
            ));
        } else if Path::new(url).is_absolute() {
            PathBuf::from(url)
        } else {
            project_root.join(url)
        };
        // object_store's local store needs an existing folder to root itself in.
        std::fs::create_dir_all(&root).map_err(|e| open_err(e.to_string()))?;
        let root = std::fs::canonicalize(&root).map_err(|e| open_err(e.to_string()))?;
        let store = LocalFileSystem::new_with_prefix(&root)
            .map_err(|e| open_err(e.to_string()))?
            // Staging files are deleted after commit; their folders should not linger.
            .with_automatic_cleanup(true);
        Ok(Lake {
            store: Arc::new(store),
            root,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute filesystem path of a lake-relative path.
    pub fn local_path(&self, path: &str) -> PathBuf {
        path.split('/')
            .filter(|s| !s.is_empty())
            .fold(self.root.clone(), |p, s| p.join(s))
    }

    fn file_url(&self, path: &str) -> String {
        let local = self.local_path(path);
        url::Url::from_file_path(&local)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| format!("file://{}", local.display()))
    }

    /// Lands what is new in one source table: see the crate docs for the layout.
    pub async fn land_table(
        &self,
        project: &pulse_project::Project,
        source: &pulse_project::Source,
        table: &pulse_project::SourceTableConfig,
        ctx: &RunContext,
        progress: &(dyn Fn(LandProgress) + Send + Sync),
    ) -> Result<LandingReport, LakeError> {
        land::land_table(self, project, source, table, ctx, progress).await
    }

    /// Lands every table of a source. Database servers are read in one session: one snapshot
    /// for all tables, a bounded number of connections. A table that fails does not stop the
    /// others; the results come in the source's table order.
    pub async fn land_source(
        &self,
        project: &pulse_project::Project,
        source: &pulse_project::Source,
        ctx: &RunContext,
        progress: &(dyn Fn(&str, LandProgress) + Send + Sync),
    ) -> Vec<(String, Result<LandingReport, LakeError>)> {
        server::land_source(self, project, source, ctx, progress).await
    }

    /// The complete landings of a table (those with a manifest), oldest first by ingest date
    /// and run id.
    pub async fn manifests(&self, source: &str, table: &str) -> Result<Vec<Manifest>, LakeError> {
        let label = format!("{source}.{table}");
        let prefix = StorePath::from_iter(["raw", source, table]);
        let objects: Vec<_> = self
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| LakeError::store(&label, &prefix, e))?;
        let mut manifests = Vec::new();
        for meta in objects {
            if meta.location.filename() != Some("_manifest.json") {
                continue;
            }
            let bytes = self
                .store
                .get(&meta.location)
                .await
                .map_err(|e| LakeError::store(&label, &meta.location, e))?
                .bytes()
                .await
                .map_err(|e| LakeError::store(&label, &meta.location, e))?;
            let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| LakeError::Corrupt {
                table: label.clone(),
                path: meta.location.to_string(),
                message: e.to_string(),
            })?;
            manifests.push(m);
        }
        manifests.sort_by(|a, b| {
            (&a.ingest_date, &a.run_id, &a.created_at).cmp(&(
                &b.ingest_date,
                &b.run_id,
                &b.created_at,
            ))
        });
        Ok(manifests)
    }

    /// The Parquet files that make up the table now, as absolute `file://` URLs. A snapshot
    /// landing replaces everything before it; append landings add up.
    pub async fn landed_files(
        &self,
        source: &str,
        table: &str,
    ) -> Result<Vec<LandedFile>, LakeError> {
        let manifests = self.manifests(source, table).await?;
        // "Before" is by creation time: a backfill for an older ingest date landed today is
        // still the newest snapshot.
        let latest_snapshot = manifests
            .iter()
            .filter(|m| m.mode == LandingMode::Snapshot)
            .max_by(|a, b| (&a.created_at, &a.run_id).cmp(&(&b.created_at, &b.run_id)))
            .map(|m| (m.created_at.clone(), m.run_id.clone()));
        let mut files = Vec::new();
        for m in &manifests {
            if let Some(cut) = &latest_snapshot
                && (&m.created_at, &m.run_id) < (&cut.0, &cut.1)
            {
                continue;
            }
            for p in &m.parts {
                files.push(LandedFile {
                    url: self.file_url(&p.path),
                    path: p.path.clone(),
                    rows: p.rows,
                    bytes: p.bytes,
                    sha256: p.sha256.clone(),
                    run_id: m.run_id.clone(),
                    ingest_date: m.ingest_date.clone(),
                });
            }
        }
        Ok(files)
    }

    /// What the lake remembers about a table, if it has landed before.
    pub async fn state(&self, source: &str, table: &str) -> Result<Option<TableState>, LakeError> {
        land::load_state(self, source, table).await
    }
}
