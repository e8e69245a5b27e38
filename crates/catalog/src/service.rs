//! The catalog a long-running server holds: the catalog of the project with the store's records
//! applied, and its search index, as one immutable [`CatalogSnapshot`] behind an `Arc`. Handlers
//! call [`CatalogService::snapshot`]: when the store changed since the snapshot was read (its
//! [`StoreStamp`] differs) the catalog and index are rebuilt and swapped in, otherwise the same
//! snapshot is handed out again. Readers never wait for each other; one rebuild runs at a time.

use crate::catalog::Catalog;
use crate::error::Result;
use crate::model::Dataset;
use crate::search::{SearchHit, SearchIndex, SearchQuery};
use crate::store::{CatalogStore, SchemaChange, StoreStamp};
use chrono::{DateTime, Utc};
use pulse_project::Project;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

/// One consistent view of the catalog: the datasets, their search index and their schema
/// histories, all from the same read of the store.
#[derive(Debug)]
pub struct CatalogSnapshot {
    catalog: Catalog,
    index: SearchIndex,
    histories: BTreeMap<String, Vec<SchemaChange>>,
    stamp: StoreStamp,
    loaded_at: DateTime<Utc>,
}

impl CatalogSnapshot {
    /// The catalog of `base` with every record of `store` applied, indexed.
    fn read(base: &Catalog, store: &CatalogStore) -> Result<CatalogSnapshot> {
        // The stamp first: a write that lands while the records are read shows as a newer stamp
        // next time, so it is never missed (at worst read twice).
        let stamp = store.stamp()?;
        let records = store.records()?;
        let mut catalog = base.clone();
        let mut histories = BTreeMap::new();
        for record in &records {
            catalog.apply(record);
            if !record.schema_history.is_empty() {
                histories.insert(record.id.clone(), record.schema_history.clone());
            }
        }
        let index = catalog.search_index()?;
        Ok(CatalogSnapshot {
            catalog,
            index,
            histories,
            stamp,
            loaded_at: Utc::now(),
        })
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn index(&self) -> &SearchIndex {
        &self.index
    }

    /// [`SearchIndex::search`] on this snapshot's index.
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        self.index.search(query)
    }

    /// [`Catalog::get`]: a dataset by id or by the name a user types.
    pub fn dataset(&self, name: &str) -> Result<&Dataset> {
        self.catalog.get(name)
    }

    /// The schema changes of a dataset, oldest first (empty until a run recorded its schema).
    pub fn schema_history(&self, id: &str) -> &[SchemaChange] {
        self.histories.get(id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The store's stamp when this snapshot was read.
    pub fn stamp(&self) -> StoreStamp {
        self.stamp
    }

    pub fn loaded_at(&self) -> DateTime<Utc> {
        self.loaded_at
    }
}

#[derive(Debug, Default)]
struct ReloadState {
    /// The stamp whose reload failed, so that a broken store is not re-read on every request
    /// (it is tried again once the store changes again), and why.
    failed: Option<(StoreStamp, String)>,
}

/// The catalog of a project kept current with its store; share it as `Arc<CatalogService>`.
#[derive(Debug)]
pub struct CatalogService {
    store: CatalogStore,
    /// What the project files say; the project does not change while the server runs, so each
    /// reload starts from a copy of it.
    base: Catalog,
    current: RwLock<Arc<CatalogSnapshot>>,
    reload: Mutex<ReloadState>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The state is a plain value, valid whatever a panicking holder did with it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl CatalogService {
    /// The catalog of `project` with what `store` holds; fails if the store cannot be read.
    pub fn new(project: &Project, store: CatalogStore) -> Result<CatalogService> {
        let base = Catalog::from_project(project);
        let first = CatalogSnapshot::read(&base, &store)?;
        Ok(CatalogService {
            store,
            base,
            current: RwLock::new(Arc::new(first)),
            reload: Mutex::new(ReloadState::default()),
        })
    }

    pub fn store(&self) -> &CatalogStore {
        &self.store
    }

    /// The snapshot in hand, without looking at the store.
    pub fn current(&self) -> Arc<CatalogSnapshot> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The current snapshot, rebuilt first if the store changed since it was read. A store
    /// that cannot be read keeps the last good snapshot in service ([`CatalogService::last_error`]
    /// says why).
    pub fn snapshot(&self) -> Arc<CatalogSnapshot> {
        let current = self.current();
        match self.store.stamp() {
            Ok(stamp) if stamp == current.stamp => current,
            Ok(stamp) => {
                let state = lock(&self.reload);
                if state.failed.as_ref().is_some_and(|(s, _)| *s == stamp) {
                    return self.current();
                }
                self.reload_locked(state).unwrap_or(current)
            }
            Err(e) => {
                lock(&self.reload).failed = Some((StoreStamp::default(), e.to_string()));
                current
            }
        }
    }

    /// Rebuilds the snapshot now, whether or not the store changed.
    pub fn reload(&self) -> Result<Arc<CatalogSnapshot>> {
        let mut state = lock(&self.reload);
        match CatalogSnapshot::read(&self.base, &self.store) {
            Ok(snapshot) => {
                state.failed = None;
                Ok(self.swap(snapshot))
            }
            Err(e) => {
                let stamp = self.store.stamp().unwrap_or_default();
                state.failed = Some((stamp, e.to_string()));
                Err(e)
            }
        }
    }

    /// Under the reload lock: another request may have reloaded while this one waited.
    fn reload_locked(
        &self,
        mut state: MutexGuard<'_, ReloadState>,
    ) -> Option<Arc<CatalogSnapshot>> {
        let current = self.current();
        let stamp = self.store.stamp().ok()?;
        if stamp == current.stamp {
            return Some(current);
        }
        match CatalogSnapshot::read(&self.base, &self.store) {
            Ok(snapshot) => {
                state.failed = None;
                Some(self.swap(snapshot))
            }
            Err(e) => {
                state.failed = Some((stamp, e.to_string()));
                None
            }
        }
    }

    fn swap(&self, snapshot: CatalogSnapshot) -> Arc<CatalogSnapshot> {
        let snapshot = Arc::new(snapshot);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = snapshot.clone();
        snapshot
    }

    /// Why the last reload (or look at the store) failed; cleared by the next reload that works.
    pub fn last_error(&self) -> Option<String> {
        lock(&self.reload).failed.as_ref().map(|(_, e)| e.clone())
    }
}
