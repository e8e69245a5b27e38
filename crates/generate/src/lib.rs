//! The food-delivery example's source data: what the company's upstream systems would hand over.
//!
//! One run writes, under a `data/` folder, the application databases (`orders`, `logistics`,
//! `payments`, `promotions` as SQLite files), a Google Analytics 4 style export (JSON lines with
//! the BigQuery export's field names), a support-desk export (CSV) and photos (JPEG menu items,
//! PNG proofs of delivery). Alongside it writes `truth.json`: figures counted while generating,
//! so tests check the pipeline's numbers against an account that does not share its code.
//!
//! Everything is deterministic from the seed: each day draws from its own generator seeded by
//! `(seed, day)`, so days can be made in parallel and the output is byte-identical run to run.

mod day;
mod ga4;
mod photos;
mod servers;
mod sqlite;
mod time;
mod truth;
mod world;

pub use servers::{LiveOptions, LiveReport, ServerReport, ServerTargets, live, load_servers};
pub use truth::{Defects, FunnelCounts, Truth};

use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    pub seed: u64,
    pub days: u32,
    pub start_date: NaiveDate,
    /// Orders on an average day; weekdays and weekends vary around it.
    pub orders_per_day: u32,
    /// Share of records that get a documented data-quality defect (0.0 to 0.5).
    pub defect_rate: f64,
    /// At most this many photo files of each kind.
    pub photos: u32,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            seed: 42,
            days: 7,
            start_date: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default(),
            orders_per_day: 400,
            defect_rate: 0.01,
            photos: 40,
        }
    }
}

/// Raw bytes the generator writes per order, all sources together (measured at the defaults:
/// the GA4 export dominates, as it does in real companies).
const BYTES_PER_ORDER: f64 = 24_700.0;

/// Orders per day that make about `scale` GB of raw data over `days` days.
pub fn orders_per_day_for_scale(scale: f64, days: u32) -> u32 {
    let orders = scale.max(0.0) * 1e9 / BYTES_PER_ORDER / f64::from(days.max(1));
    (orders.round() as u32).max(10)
}

#[derive(Debug, Clone, Copy)]
pub enum Progress {
    Day { done: u32, total: u32, bytes: u64 },
}

#[derive(Debug)]
pub struct GenerateReport {
    /// Bytes of every file written.
    pub bytes: u64,
    pub files: u64,
    /// Rows per `source.table`.
    pub rows: BTreeMap<String, u64>,
    pub seconds: f64,
    pub truth: Truth,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{path}: cannot encode the image: {message}")]
    Image { path: PathBuf, message: String },
    #[error("invalid generator options: {0}")]
    Options(String),
    /// A database server refused the load; `target` carries no password.
    #[error("{target}: {message}")]
    Server { target: String, message: String },
    #[error("a generator thread failed: {0}")]
    Thread(String),
}

pub type Result<T> = std::result::Result<T, GenerateError>;

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> GenerateError + '_ {
    move |source| GenerateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The files of a previous run, removed first so a new run never mixes with an old one.
const OUTPUTS: [&str; 9] = [
    "orders.sqlite",
    "logistics.sqlite",
    "payments.sqlite",
    "promotions.sqlite",
    "ga4",
    "support",
    "photos",
    "truth.json",
    "README.md",
];

fn check(opts: &GenerateOptions) -> Result<()> {
    if opts.days == 0 {
        return Err(GenerateError::Options("--days must be at least 1".into()));
    }
    if opts.orders_per_day == 0 {
        return Err(GenerateError::Options(
            "orders per day must be at least 1".into(),
        ));
    }
    if !(0.0..=0.5).contains(&opts.defect_rate) {
        return Err(GenerateError::Options(format!(
            "--defect-rate must be between 0 and 0.5, not {}",
            opts.defect_rate
        )));
    }
    if opts.orders_per_day > 900_000 {
        return Err(GenerateError::Options(format!(
            "at most 900000 orders per day (ids reserve 6 digits per day), not {}",
            opts.orders_per_day
        )));
    }
    Ok(())
}

/// Writes the whole data set into `data_dir`, replacing what an earlier run wrote there.
pub fn generate(
    opts: &GenerateOptions,
    data_dir: &Path,
    progress: &dyn Fn(Progress),
) -> Result<GenerateReport> {
    check(opts)?;
    let started = Instant::now();
    std::fs::create_dir_all(data_dir).map_err(io_err(data_dir))?;
    for name in OUTPUTS {
        let p = data_dir.join(name);
        if p.is_dir() {
            std::fs::remove_dir_all(&p).map_err(io_err(&p))?;
        } else if p.exists() {
            std::fs::remove_file(&p).map_err(io_err(&p))?;
        }
    }
    for sub in ["ga4", "support", "photos/menu", "photos/delivery"] {
        let p = data_dir.join(sub);
        std::fs::create_dir_all(&p).map_err(io_err(&p))?;
    }

    let world = world::World::new(opts);
    let mut dbs = sqlite::Databases::create(data_dir)?;
    dbs.insert_world(&world)?;
    let mut truth = Truth::new(opts);
    let mut rows: BTreeMap<String, u64> = BTreeMap::new();
    world.count_rows(&mut rows);

    // Days are independent draws; workers make them in parallel and the main thread stores them
    // in day order, so the databases come out byte-identical whatever the scheduling.
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let next_day = AtomicU32::new(0);
    let ready: Mutex<BTreeMap<u32, Result<day::DayOutput>>> = Mutex::new(BTreeMap::new());
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let mut bytes: u64 = 0;
    let mut files: u64 = 0;
    let mut failure: Option<GenerateError> = None;
    let mut delivered_ids: Vec<i64> = Vec::new();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (world, next_day, ready) = (&world, &next_day, &ready);
            scope.spawn(move || {
                loop {
                    let d = next_day.fetch_add(1, Ordering::SeqCst);
                    if d >= opts.days {
                        break;
                    }
                    let out = day::simulate(world, opts, d, data_dir);
                    let failed = out.is_err();
                    if let Ok(mut r) = ready.lock() {
                        r.insert(d, out);
                    }
                    let _ = tx.send(());
                    if failed {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending_late: Option<(PathBuf, Vec<u8>)> = None;
        let mut d = 0;
        while d < opts.days {
            let out = ready.lock().ok().and_then(|mut r| r.remove(&d));
            let Some(out) = out else {
                if rx.recv().is_err() {
                    // Every worker stopped before this day was made: one of them failed.
                    if failure.is_none() {
                        failure = Some(GenerateError::Thread(format!(
                            "day {d} was never generated"
                        )));
                    }
                    break;
                }
                continue;
            };
            let result = out.and_then(|out| {
                // Events that arrive late land in the next day's export file.
                if let Some((_, late)) = pending_late.take() {
                    append(&out.ga4_path, &late)?;
                }
                dbs.insert_day(&out)?;
                truth.add_day(&out);
                delivered_ids.extend(
                    out.deliveries
                        .iter()
                        .filter(|d| d.delivered_at.is_some())
                        .map(|d| d.delivery_id)
                        .take((opts.photos as usize).saturating_sub(delivered_ids.len())),
                );
                out.count_rows(&mut rows);
                bytes += out.file_bytes;
                files += out.files;
                pending_late = Some((out.ga4_path.clone(), out.late_events.clone()));
                Ok(())
            });
            if let Err(e) = result {
                failure = Some(e);
                next_day.store(opts.days, Ordering::SeqCst);
                break;
            }
            d += 1;
            progress(Progress::Day {
                done: d,
                total: opts.days,
                bytes,
            });
        }
        // The last day's late events have no later export: they stay in their own day's file.
        if failure.is_none()
            && let Some((path, late)) = pending_late.take()
            && let Err(e) = append(&path, &late)
        {
            failure = Some(e);
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    truth.undo_last_day_late();

    let photo_stats = photos::write_all(&world, &delivered_ids, opts, data_dir)?;
    bytes += photo_stats.bytes;
    files += photo_stats.files;
    rows.insert("photos.menu_photos".into(), photo_stats.menu);
    rows.insert("photos.delivery_photos".into(), photo_stats.delivery);

    let db_bytes = dbs.finish()?;
    bytes += db_bytes;
    files += 4;

    truth.rows = rows.clone();
    let truth_path = data_dir.join("truth.json");
    let text = serde_json::to_vec_pretty(&truth).map_err(|e| GenerateError::Io {
        path: truth_path.clone(),
        source: std::io::Error::other(e),
    })?;
    std::fs::write(&truth_path, &text).map_err(io_err(&truth_path))?;
    let readme = data_dir.join("README.md");
    std::fs::write(&readme, truth::DATA_README).map_err(io_err(&readme))?;
    bytes += text.len() as u64 + truth::DATA_README.len() as u64;
    files += 2;

    Ok(GenerateReport {
        bytes,
        files,
        rows,
        seconds: started.elapsed().as_secs_f64(),
        truth,
    })
}

fn append(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    if bytes.is_empty() {
        return Ok(());
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))
}
