//! The recent past, read from the metadata store through its public API: runs newest first and
//! their task instances, indexed by task.

use crate::error::Result;
use chrono::{DateTime, Utc};
use pulse_orchestrate::{Page, RunRecord, Store, TaskInstance};
use std::collections::{BTreeMap, HashMap};

const PAGE: u32 = 200;
const TASK_CHUNK: usize = 100;

#[derive(Debug, Clone, Default)]
pub struct History {
    /// Newest first.
    pub runs: Vec<RunRecord>,
    tasks: HashMap<String, Vec<TaskInstance>>,
    /// Task id -> (run index, task index), newest run first.
    by_task: BTreeMap<String, Vec<(usize, usize)>>,
}

impl History {
    /// At least the newest `max_runs` runs, and every run created since `since` (with a day's
    /// margin: a run created before may have tasks that ended after).
    pub async fn load(
        store: &Store,
        max_runs: usize,
        since: Option<DateTime<Utc>>,
    ) -> Result<History> {
        let since = since.map(|s| s - chrono::Duration::days(1));
        let mut runs: Vec<RunRecord> = Vec::new();
        let mut before: Option<String> = None;
        'pages: loop {
            let page = store
                .list_runs(&Page {
                    limit: PAGE,
                    before: before.clone(),
                })
                .await?;
            let full = page.len() == PAGE as usize;
            for r in page {
                let enough = runs.len() >= max_runs && since.is_none_or(|s| r.created_at < s);
                if enough {
                    break 'pages;
                }
                runs.push(r);
            }
            if !full {
                break;
            }
            before = runs.last().map(|r| r.run_id.clone());
        }
        let mut tasks: HashMap<String, Vec<TaskInstance>> = HashMap::new();
        let ids: Vec<String> = runs.iter().map(|r| r.run_id.clone()).collect();
        for chunk in ids.chunks(TASK_CHUNK) {
            for t in store.tasks_for_runs(chunk).await? {
                tasks.entry(t.run_id.clone()).or_default().push(t);
            }
        }
        Ok(History::from_parts(runs, tasks))
    }

    /// Runs newest first and their tasks by run id.
    pub fn from_parts(runs: Vec<RunRecord>, tasks: HashMap<String, Vec<TaskInstance>>) -> History {
        let mut by_task: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
        for (ri, r) in runs.iter().enumerate() {
            for (ti, t) in tasks.get(&r.run_id).into_iter().flatten().enumerate() {
                by_task.entry(t.task_id.clone()).or_default().push((ri, ti));
            }
        }
        History {
            runs,
            tasks,
            by_task,
        }
    }

    pub fn tasks_of(&self, run_id: &str) -> &[TaskInstance] {
        self.tasks
            .get(run_id)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Every task id seen.
    pub fn task_ids(&self) -> impl Iterator<Item = &str> {
        self.by_task.keys().map(String::as_str)
    }

    /// The instances of one task with their runs, newest run first.
    pub fn instances<'a>(
        &'a self,
        task_id: &str,
    ) -> impl Iterator<Item = (&'a RunRecord, &'a TaskInstance)> + 'a {
        self.by_task
            .get(task_id)
            .into_iter()
            .flatten()
            .filter_map(move |(ri, ti)| {
                let run = self.runs.get(*ri)?;
                let task = self.tasks.get(&run.run_id)?.get(*ti)?;
                Some((run, task))
            })
    }

    /// The newest instance of every task.
    pub fn latest_instances(&self) -> impl Iterator<Item = &TaskInstance> {
        self.by_task
            .keys()
            .filter_map(|id| self.instances(id).next().map(|(_, t)| t))
    }

    /// Every task instance, newest run first.
    pub fn all_tasks(&self) -> impl Iterator<Item = (&RunRecord, &TaskInstance)> {
        self.runs
            .iter()
            .flat_map(|r| self.tasks_of(&r.run_id).iter().map(move |t| (r, t)))
    }
}
