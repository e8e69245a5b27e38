//! One landing of one source table: read what is new, stage it, then commit it into `raw/`
//! with the manifest last and the state after it.

use crate::state::{
    CachedHash, LandingMode, Manifest, OriginalInfo, PartInfo, TableState, describe_schema,
};
use crate::write::{PartWriter, Quarantine, copy_file};
use crate::{Lake, LakeError, LandProgress, LandingReport, RunContext};
use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use pulse_ingest::csv::CsvOptions;
use pulse_ingest::sqlite::SqliteSource;
use pulse_ingest::{DEFAULT_BATCH_ROWS, IngestError, Malformed, Sink};
use pulse_project::{ConnectorKind, Project, Source, SourceTableConfig};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

enum Msg {
    Batch(RecordBatch),
    Malformed(Malformed),
    Progress(u64),
}

/// The reader side of a landing: readers run on a blocking thread and hand their output to the
/// async writer through a small channel, which bounds memory to a few batches.
pub(crate) struct ChannelSink {
    tx: mpsc::Sender<Msg>,
    /// Bytes of earlier inputs of the same job, so progress adds up across files.
    base: u64,
}

impl ChannelSink {
    fn send(&self, msg: Msg) -> Result<(), IngestError> {
        self.tx
            .blocking_send(msg)
            .map_err(|_| IngestError::Stopped("the lake stopped writing".to_string()))
    }
}

impl Sink for ChannelSink {
    fn batch(&mut self, batch: RecordBatch) -> Result<(), IngestError> {
        self.send(Msg::Batch(batch))
    }

    fn malformed(&mut self, record: Malformed) -> Result<(), IngestError> {
        self.send(Msg::Malformed(record))
    }

    fn progress(&mut self, bytes_read: u64) {
        // Progress is advisory: when the channel is full the next report will do.
        let _ = self.tx.try_send(Msg::Progress(self.base + bytes_read));
    }
}

fn state_path(source: &str, table: &str) -> StorePath {
    StorePath::from_iter(["_state", source, &format!("{table}.json")])
}

pub(crate) async fn load_state(
    lake: &Lake,
    source: &str,
    table: &str,
) -> Result<Option<TableState>, LakeError> {
    let label = format!("{source}.{table}");
    let path = state_path(source, table);
    match lake.store.get(&path).await {
        Ok(r) => {
            let bytes = r
                .bytes()
                .await
                .map_err(|e| LakeError::store(&label, &path, e))?;
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| LakeError::Corrupt {
                    table: label,
                    path: path.to_string(),
                    message: e.to_string(),
                })
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(LakeError::store(&label, &path, e)),
    }
}

/// What a landing is about to commit, beyond its parts and originals.
pub(crate) struct Outcome {
    pub(crate) connector: ConnectorKind,
    pub(crate) mode: LandingMode,
    pub(crate) schema: Option<SchemaRef>,
    pub(crate) rows: u64,
    pub(crate) input_bytes: u64,
    pub(crate) watermark_before: Option<String>,
    pub(crate) watermark_after: Option<String>,
    pub(crate) files_seen: u64,
    pub(crate) files_skipped: u64,
}

pub(crate) struct Landing<'a> {
    lake: &'a Lake,
    pub(crate) label: String,
    source: String,
    table: String,
    run_id: String,
    ingest_date: String,
    staging: StorePath,
    landing: StorePath,
    parts: PartWriter,
    quarantine: Quarantine,
    originals: Vec<(StorePath, OriginalInfo)>,
    pub(crate) warnings: Vec<String>,
    progress: &'a (dyn Fn(LandProgress) + Send + Sync),
}

impl<'a> Landing<'a> {
    pub(crate) fn new(
        lake: &'a Lake,
        source: &str,
        table: &str,
        ctx: &RunContext,
        progress: &'a (dyn Fn(LandProgress) + Send + Sync),
    ) -> Self {
        let label = format!("{source}.{table}");
        let ingest_date = ctx.ingest_date.format("%Y-%m-%d").to_string();
        let staging = StorePath::from_iter(["_staging", ctx.run_id.as_str(), source, table]);
        let landing = StorePath::from_iter([
            "raw",
            source,
            table,
            ingest_date.as_str(),
            ctx.run_id.as_str(),
        ]);
        Landing {
            lake,
            parts: PartWriter::new(lake.store.clone(), staging.clone(), &label),
            quarantine: Quarantine::new(
                lake.store.clone(),
                staging.clone().join("malformed.jsonl"),
                &label,
            ),
            label,
            source: source.to_string(),
            table: table.to_string(),
            run_id: ctx.run_id.clone(),
            ingest_date,
            staging,
            landing,
            originals: Vec::new(),
            warnings: Vec::new(),
            progress,
        }
    }

    /// Runs a reader on a blocking thread while writing what it produces.
    pub(crate) async fn drive<T, F>(&mut self, total: u64, job: F) -> Result<T, LakeError>
    where
        F: FnOnce(&mut ChannelSink) -> Result<T, IngestError> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, mut rx) = mpsc::channel::<Msg>(4);
        let handle = tokio::task::spawn_blocking(move || {
            let mut sink = ChannelSink { tx, base: 0 };
            job(&mut sink)
        });
        let mut failure = None;
        while let Some(msg) = rx.recv().await {
            let result = match msg {
                Msg::Batch(b) => self.parts.write(b).await,
                Msg::Malformed(m) => self.quarantine.write(&m).await,
                Msg::Progress(done) => {
                    (self.progress)(LandProgress::Bytes { done, total });
                    Ok(())
                }
            };
            if let Err(e) = result {
                failure = Some(e);
                break;
            }
        }
        // Closing the channel stops the reader at its next send.
        drop(rx);
        let joined = handle.await;
        if let Some(e) = failure {
            self.parts.abandon();
            return Err(e);
        }
        match joined {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.parts.abandon();
                Err(LakeError::ingest(&self.label, e))
            }
            Err(e) => Err(LakeError::Config {
                table: self.label.clone(),
                message: format!("the reader failed: {e}"),
            }),
        }
    }

    /// Removes whatever this landing staged; best effort, since it is invisible to readers.
    pub(crate) async fn cleanup(&mut self) {
        self.parts.abandon();
        let objects: Vec<_> = self
            .lake
            .store
            .list(Some(&self.staging))
            .try_collect()
            .await
            .unwrap_or_default();
        for o in objects {
            let _ = self.lake.store.delete(&o.location).await;
        }
    }

    fn report(&self, o: &Outcome, landed: bool) -> LandingReport {
        LandingReport {
            source: self.source.clone(),
            table: self.table.clone(),
            files_seen: o.files_seen,
            files_skipped: o.files_skipped,
            rows: if landed { o.rows } else { 0 },
            input_bytes: o.input_bytes,
            output_bytes: 0,
            malformed_rows: 0,
            malformed_path: None,
            watermark: o.watermark_after.clone(),
            seconds: 0.0,
            landed,
            warnings: self.warnings.clone(),
        }
    }

    pub(crate) async fn nothing_new(&mut self, o: &Outcome) -> LandingReport {
        self.cleanup().await;
        self.report(o, false)
    }

    async fn move_into_place(
        &self,
        from: &StorePath,
        to: &StorePath,
        moved: &mut Vec<StorePath>,
    ) -> Result<(), LakeError> {
        // rename_if_not_exists: an existing object is an error, never replaced.
        self.lake
            .store
            .rename_if_not_exists(from, to)
            .await
            .map_err(|e| LakeError::store(&self.label, to, e))?;
        moved.push(to.clone());
        Ok(())
    }

    pub(crate) async fn commit(
        &mut self,
        o: Outcome,
        mut state: TableState,
    ) -> Result<LandingReport, LakeError> {
        let mut moved = Vec::new();
        let result = self.commit_inner(&o, &mut state, &mut moved).await;
        match result {
            Ok(report) => Ok(report),
            Err(e) => {
                // Without a manifest the landing is ignored anyway; removing what was moved keeps
                // the folder from confusing a person looking at it.
                for p in moved {
                    let _ = self.lake.store.delete(&p).await;
                }
                self.cleanup().await;
                Err(e)
            }
        }
    }

    async fn commit_inner(
        &mut self,
        o: &Outcome,
        state: &mut TableState,
        moved: &mut Vec<StorePath>,
    ) -> Result<LandingReport, LakeError> {
        self.parts.finish(o.schema.clone()).await?;
        let has_quarantine = self.quarantine.finish().await?;
        let mut parts = Vec::new();
        for p in self.parts.parts.clone() {
            let to = self.landing.clone().join(p.name.as_str());
            self.move_into_place(&p.staging, &to, moved).await?;
            parts.push(PartInfo {
                path: to.to_string(),
                rows: p.rows,
                bytes: p.bytes,
                sha256: p.sha256,
            });
        }
        let mut originals = Vec::new();
        for (from, info) in self.originals.clone() {
            let to = StorePath::from(info.path.as_str());
            self.move_into_place(&from, &to, moved).await?;
            originals.push(info);
        }
        let quarantine = if has_quarantine {
            let to = StorePath::from_iter([
                "quarantine",
                self.source.as_str(),
                self.table.as_str(),
                self.run_id.as_str(),
                "malformed.jsonl",
            ]);
            self.move_into_place(&self.quarantine.staging.clone(), &to, moved)
                .await?;
            Some(to.to_string())
        } else {
            None
        };
        let rows: u64 = parts.iter().map(|p| p.rows).sum();
        let output_bytes: u64 = parts.iter().map(|p| p.bytes).sum();
        let schema = o
            .schema
            .clone()
            .or_else(|| self.parts.parts.first().map(|p| p.schema.clone()));
        let manifest = Manifest {
            source: self.source.clone(),
            table: self.table.clone(),
            connector: o.connector.as_str().to_string(),
            mode: o.mode,
            run_id: self.run_id.clone(),
            ingest_date: self.ingest_date.clone(),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            schema: schema.as_deref().map(describe_schema).unwrap_or_default(),
            parts,
            originals,
            rows,
            input_bytes: o.input_bytes,
            output_bytes,
            watermark_before: o.watermark_before.clone(),
            watermark_after: o.watermark_after.clone(),
            malformed_rows: self.quarantine.rows,
            quarantine: quarantine.clone(),
            warnings: self.warnings.clone(),
        };
        let manifest_path = self.landing.clone().join("_manifest.json");
        let body = serde_json::to_vec_pretty(&manifest).map_err(|e| LakeError::Corrupt {
            table: self.label.clone(),
            path: manifest_path.to_string(),
            message: e.to_string(),
        })?;
        self.lake
            .store
            .put_opts(
                &manifest_path,
                PutPayload::from(body),
                PutOptions::from(PutMode::Create),
            )
            .await
            .map_err(|e| LakeError::store(&self.label, &manifest_path, e))?;
        moved.clear();

        if let Some(s) = schema.as_deref()
            && !s.fields().is_empty()
        {
            state.set_schema(s);
        }
        state.last_run_id = Some(self.run_id.clone());
        // The landing is committed; a state that fails to save only means the next run
        // re-reads, so report it as an error but leave the landing in place.
        write_state(self.lake, &self.label, state).await?;
        self.cleanup().await;

        let mut report = self.report(o, true);
        report.rows = rows;
        report.output_bytes = output_bytes;
        report.malformed_rows = self.quarantine.rows;
        report.malformed_path = quarantine.map(|q| self.lake.local_path(&q).display().to_string());
        Ok(report)
    }
}

async fn write_state(lake: &Lake, label: &str, state: &TableState) -> Result<(), LakeError> {
    let path = state_path(&state.source, &state.table);
    let body = serde_json::to_vec_pretty(state).map_err(|e| LakeError::Corrupt {
        table: label.to_string(),
        path: path.to_string(),
        message: e.to_string(),
    })?;
    lake.store
        .put(&path, PutPayload::from(body))
        .await
        .map_err(|e| LakeError::store(label, &path, e))?;
    Ok(())
}

pub(crate) async fn land_table(
    lake: &Lake,
    project: &Project,
    source: &Source,
    table: &SourceTableConfig,
    ctx: &RunContext,
    progress: &(dyn Fn(LandProgress) + Send + Sync),
) -> Result<LandingReport, LakeError> {
    let started = Instant::now();
    let state = load_state(lake, &source.name, &table.name)
        .await?
        .unwrap_or_else(|| TableState {
            source: source.name.clone(),
            table: table.name.clone(),
            ..TableState::default()
        });
    let mut landing = Landing::new(lake, &source.name, &table.name, ctx, progress);
    let result = match source.config.connector {
        ConnectorKind::Sqlite => land_sqlite(&mut landing, project, source, table, state).await,
        ConnectorKind::Postgres | ConnectorKind::Mysql => {
            crate::server::land_one(&mut landing, source, table, state).await
        }
        _ => land_files(&mut landing, project, source, table, state).await,
    };
    match result {
        Ok(mut report) => {
            report.seconds = started.elapsed().as_secs_f64();
            Ok(report)
        }
        Err(e) => {
            landing.cleanup().await;
            Err(e)
        }
    }
}

pub(crate) fn join_error(label: &str, e: tokio::task::JoinError) -> LakeError {
    LakeError::Config {
        table: label.to_string(),
        message: format!("the reader failed: {e}"),
    }
}

async fn land_sqlite(
    landing: &mut Landing<'_>,
    project: &Project,
    source: &Source,
    table: &SourceTableConfig,
    mut state: TableState,
) -> Result<LandingReport, LakeError> {
    let label = landing.label.clone();
    let db = source
        .config
        .path
        .clone()
        .ok_or_else(|| LakeError::Config {
            table: label.clone(),
            message: "a sqlite source needs `path`, the database file".to_string(),
        })?;
    let abs = project.resolve(&db);
    let total = std::fs::metadata(&abs).map(|m| m.len()).unwrap_or(0);
    let name = table.name.clone();
    let cursor = table.cursor.clone();
    let mut outcome = Outcome {
        connector: ConnectorKind::Sqlite,
        mode: if cursor.is_some() {
            LandingMode::Append
        } else {
            LandingMode::Snapshot
        },
        schema: None,
        rows: 0,
        input_bytes: 0,
        watermark_before: state.watermark.clone(),
        watermark_after: state.watermark.clone(),
        files_seen: 0,
        files_skipped: 0,
    };

    // A snapshot table is hashed first (a cheap pass without Arrow or Parquet) so an unchanged
    // table costs no writes. If it changes between the two passes, the next run simply lands
    // it once more.
    let snapshot_hash = if cursor.is_none() {
        let (abs, db, name) = (abs.clone(), db.clone(), name.clone());
        let hash =
            tokio::task::spawn_blocking(move || SqliteSource::open(&abs, &db)?.fingerprint(&name))
                .await
                .map_err(|e| join_error(&label, e))?
                .map_err(|e| LakeError::ingest(&label, e))?;
        if state.snapshot_hash.as_deref() == Some(hash.as_str()) {
            return Ok(landing.nothing_new(&outcome).await);
        }
        Some(hash)
    } else {
        None
    };

    let after = if cursor.is_some() {
        state.watermark.clone()
    } else {
        None
    };
    let job_cursor = cursor.clone();
    let (schema, read) = landing
        .drive(total, move |sink| {
            let src = SqliteSource::open(&abs, &db)?;
            let schema = src.schema(&name)?;
            let read = src.read_table(
                &name,
                job_cursor.as_deref(),
                after.as_deref(),
                DEFAULT_BATCH_ROWS,
                sink,
            )?;
            Ok((schema, read))
        })
        .await?;
    outcome.input_bytes = read.bytes_read;
    outcome.rows = read.rows;
    outcome.schema = Some(schema);
    if cursor.is_some() {
        // A table that has landed before and has no rows past the watermark: nothing to do.
        // The very first landing goes ahead even when empty, so the table exists for readers.
        if read.rows == 0 && state.last_run_id.is_some() {
            return Ok(landing.nothing_new(&outcome).await);
        }
        outcome.watermark_after = read.max_cursor.clone().or(state.watermark.clone());
        state.watermark = outcome.watermark_after.clone();
    }
    state.snapshot_hash = snapshot_hash;
    landing.commit(outcome, state).await
}

/// A path as the user would write it: relative to the project root, with `/`.
fn display_path(project: &Project, p: &std::path::Path) -> String {
    match p.strip_prefix(&project.root) {
        Ok(rel) => rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => p.display().to_string(),
    }
}

fn modified_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .unwrap_or(0)
}

struct NewFile {
    abs: PathBuf,
    display: String,
    sha256: String,
    bytes: u64,
}

#[derive(Default)]
struct JobOut {
    schema: Option<SchemaRef>,
}

async fn land_files(
    landing: &mut Landing<'_>,
    project: &Project,
    source: &Source,
    table: &SourceTableConfig,
    mut state: TableState,
) -> Result<LandingReport, LakeError> {
    let label = landing.label.clone();
    let connector = source.config.connector;
    let pattern = table.path.clone().ok_or_else(|| LakeError::Config {
        table: label.clone(),
        message: format!("a {} source table needs `path`", connector.as_str()),
    })?;
    let full = if std::path::Path::new(&pattern).is_absolute() {
        pattern.clone()
    } else {
        // The root is literal text, not a pattern, even if it contains `[` or `*`.
        format!(
            "{}/{}",
            glob::Pattern::escape(&project.root.to_string_lossy()),
            pattern
        )
    };
    let entries = glob::glob(&full).map_err(|e| LakeError::Config {
        table: label.clone(),
        message: format!("invalid path glob {pattern}: {e}"),
    })?;
    let mut files: Vec<(PathBuf, String)> = entries
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .map(|p| {
            let d = display_path(project, &p);
            (p, d)
        })
        .collect();
    files.sort_by(|a, b| a.1.cmp(&b.1));
    if files.is_empty() {
        return Err(LakeError::NoFiles {
            table: label,
            glob: pattern,
        });
    }

    let before = state.clone();
    let mut new_files = Vec::new();
    let mut skipped = 0u64;
    let mut seen = BTreeSet::new();
    for (abs, display) in &files {
        let meta = std::fs::metadata(abs).map_err(|e| LakeError::Io {
            table: label.clone(),
            path: display.clone(),
            source: e,
        })?;
        let modified = modified_ns(&meta);
        let cached = before
            .file_hashes
            .get(display)
            .filter(|c| modified != 0 && c.bytes == meta.len() && c.modified_ns == modified)
            .map(|c| c.sha256.clone());
        let sha = match cached {
            Some(s) => s,
            None => {
                let (abs, display) = (abs.clone(), display.clone());
                tokio::task::spawn_blocking(move || {
                    pulse_ingest::files::sha256_file(&abs, &display)
                })
                .await
                .map_err(|e| join_error(&label, e))?
                .map_err(|e| LakeError::ingest(&label, e))?
                .0
            }
        };
        state.file_hashes.insert(
            display.clone(),
            CachedHash {
                bytes: meta.len(),
                modified_ns: modified,
                sha256: sha.clone(),
            },
        );
        // Identical content under two names lands once.
        if before.landed_files.contains_key(&sha) || !seen.insert(sha.clone()) {
            skipped += 1;
            continue;
        }
        new_files.push(NewFile {
            abs: abs.clone(),
            display: display.clone(),
            sha256: sha,
            bytes: meta.len(),
        });
    }
    let input_bytes: u64 = new_files.iter().map(|f| f.bytes).sum();
    let mut outcome = Outcome {
        connector,
        mode: LandingMode::Append,
        schema: None,
        rows: 0,
        input_bytes,
        watermark_before: None,
        watermark_after: None,
        files_seen: files.len() as u64,
        files_skipped: skipped,
    };
    if new_files.is_empty() {
        // Only the checksum cache may have changed (files touched but not modified).
        if state != before {
            write_state(landing.lake, &label, &state).await?;
        }
        return Ok(landing.nothing_new(&outcome).await);
    }

    // Originals first: the landing keeps exactly the bytes it read.
    let mut names = BTreeSet::new();
    for f in &new_files {
        let file_name = f
            .abs
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| f.display.clone());
        let name = if names.insert(file_name.clone()) {
            file_name
        } else {
            // Two files of one landing share a name (different folders): keep both.
            let alt = f.display.replace('/', "__");
            names.insert(alt.clone());
            alt
        };
        let staging = landing.staging.clone().join("original").join(name.as_str());
        let (sha, bytes) = copy_file(
            landing.lake.store.clone(),
            &f.abs,
            &f.display,
            &staging,
            &label,
        )
        .await?;
        let path = landing
            .landing
            .clone()
            .join("original")
            .join(name.as_str())
            .to_string();
        landing.originals.push((
            staging,
            OriginalInfo {
                name,
                path,
                source_path: f.display.clone(),
                bytes,
                sha256: sha,
            },
        ));
    }

    let inputs: Vec<(PathBuf, String, u64)> = new_files
        .iter()
        .map(|f| (f.abs.clone(), f.display.clone(), f.bytes))
        .collect();
    let file_column = table.file_column.clone();
    // The file column is ours, not the files': inference must not look for it in them.
    let known = state
        .arrow_schema()
        .map(|s| without_column(&s, file_column.as_deref()));
    let csv_opts = CsvOptions::from_config(table).map_err(|e| LakeError::ingest(&label, e))?;
    let out = landing
        .drive(input_bytes, move |sink| {
            let mut out = read_inputs(
                connector,
                &inputs,
                known,
                csv_opts,
                &mut FileColumnSink {
                    inner: sink,
                    column: file_column.clone(),
                    file: String::new(),
                },
            )?;
            if let Some(column) = &file_column {
                out.schema = out.schema.map(|s| with_file_column(&s, column));
            }
            Ok(out)
        })
        .await?;
    outcome.schema = out.schema;
    for f in &new_files {
        state
            .landed_files
            .insert(f.sha256.clone(), landing.run_id.clone());
    }
    landing.commit(outcome, state).await
}

fn without_column(schema: &Schema, column: Option<&str>) -> SchemaRef {
    match column {
        Some(c) => Arc::new(Schema::new_with_metadata(
            schema
                .fields()
                .iter()
                .filter(|f| f.name() != c)
                .cloned()
                .collect::<Vec<_>>(),
            schema.metadata().clone(),
        )),
        None => Arc::new(schema.clone()),
    }
}

fn with_file_column(schema: &Schema, column: &str) -> SchemaRef {
    let mut fields: Vec<arrow::datatypes::FieldRef> = schema
        .fields()
        .iter()
        .filter(|f| f.name() != column)
        .cloned()
        .collect();
    fields.push(Arc::new(arrow::datatypes::Field::new(
        column,
        arrow::datatypes::DataType::Utf8,
        false,
    )));
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// Adds the file column (when the table has one) to every batch read from the current file.
struct FileColumnSink<'a> {
    inner: &'a mut ChannelSink,
    column: Option<String>,
    /// The file being read, as shown to the user (relative to the project).
    file: String,
}

impl FileColumnSink<'_> {
    fn start_file(&mut self, display: &str, base: u64) {
        self.file = display.to_string();
        self.inner.base = base;
    }
}

impl Sink for FileColumnSink<'_> {
    fn batch(&mut self, batch: RecordBatch) -> Result<(), IngestError> {
        let Some(column) = &self.column else {
            return self.inner.batch(batch);
        };
        if batch.schema().column_with_name(column).is_some() {
            return Err(IngestError::Invalid {
                path: self.file.clone(),
                message: format!(
                    "the file has a column `{column}`, the name the table's `file_column` gives the file name; choose another `file_column`"
                ),
            });
        }
        let schema = with_file_column(&batch.schema(), column);
        let names = arrow::array::StringArray::from_iter_values(std::iter::repeat_n(
            self.file.as_str(),
            batch.num_rows(),
        ));
        let mut columns = batch.columns().to_vec();
        columns.push(Arc::new(names));
        let batch = RecordBatch::try_new(schema, columns).map_err(|e| IngestError::Invalid {
            path: self.file.clone(),
            message: format!("adding the file column: {e}"),
        })?;
        self.inner.batch(batch)
    }

    fn malformed(&mut self, record: Malformed) -> Result<(), IngestError> {
        self.inner.malformed(record)
    }

    fn progress(&mut self, bytes_read: u64) {
        self.inner.progress(bytes_read);
    }
}

/// The reader job of a file landing, on the blocking thread.
fn read_inputs(
    connector: ConnectorKind,
    inputs: &[(PathBuf, String, u64)],
    known: Option<SchemaRef>,
    csv_opts: CsvOptions,
    sink: &mut FileColumnSink<'_>,
) -> Result<JobOut, IngestError> {
    use pulse_ingest::{csv, files, jsonl, parquet_file, schema::merge_schemas};
    let mut out = JobOut::default();
    match connector {
        ConnectorKind::Jsonl => {
            // One schema for the whole landing, wide enough for every file and for what landed
            // before, so all its parts agree.
            let mut schema = known.map(|s| s.as_ref().clone());
            for (abs, display, _) in inputs {
                schema = Some(jsonl::infer_schema(abs, display, schema.as_ref())?);
            }
            let schema = Arc::new(schema.unwrap_or_else(Schema::empty));
            let mut done = 0;
            for (abs, display, bytes) in inputs {
                sink.start_file(display, done);
                jsonl::read_jsonl(abs, display, schema.clone(), DEFAULT_BATCH_ROWS, sink)?;
                done += bytes;
            }
            out.schema = Some(schema);
        }
        ConnectorKind::Csv => {
            let mut merged: Option<Schema> = known.map(|s| s.as_ref().clone());
            let mut done = 0;
            for (abs, display, bytes) in inputs {
                sink.start_file(display, done);
                let schema = Arc::new(csv::infer_schema(abs, display, csv_opts, merged.as_ref())?);
                csv::read_csv(
                    abs,
                    display,
                    csv_opts,
                    schema.clone(),
                    DEFAULT_BATCH_ROWS,
                    sink,
                )?;
                done += bytes;
                merged = Some(match merged {
                    Some(m) => merge_schemas(&m, &schema),
                    None => schema.as_ref().clone(),
                });
            }
            out.schema = merged.map(Arc::new);
        }
        ConnectorKind::Parquet => {
            let mut done = 0;
            for (abs, display, bytes) in inputs {
                sink.start_file(display, done);
                let read = parquet_file::read_parquet(abs, display, DEFAULT_BATCH_ROWS, sink)?;
                done += bytes;
                out.schema.get_or_insert(read.schema);
            }
        }
        ConnectorKind::Files => {
            let pairs: Vec<(PathBuf, String)> = inputs
                .iter()
                .map(|(a, d, _)| (a.clone(), d.clone()))
                .collect();
            files::read_files(&pairs, DEFAULT_BATCH_ROWS, sink.inner)?;
            out.schema = Some(files::schema());
        }
        ConnectorKind::Sqlite | ConnectorKind::Postgres | ConnectorKind::Mysql => {
            return Err(IngestError::Invalid {
                path: String::new(),
                message: "a database source has no files".to_string(),
            });
        }
    }
    Ok(out)
}
