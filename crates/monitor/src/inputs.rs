//! What the caller knows and the metadata store does not: datasets' last updates and windows,
//! expectation results, owners, schedules, and lineage beyond the task graph. The CLI builds
//! this from the project and the catalog before each evaluation or scrape.

use chrono::{DateTime, Utc};
use pulse_orchestrate::{TaskInstance, TaskKind};
use pulse_project::ScheduleConfig;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// One dataset's freshness facts (catalog ids: `orders.orders`, `raw:orders.orders`,
/// `fct_orders`, `dashboard:executive`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetStatus {
    pub id: String,
    /// None: never built.
    pub last_updated: Option<DateTime<Utc>>,
    /// The age it may reach (its schedule's interval plus SLA); a freshness rule's `max_age`
    /// overrides it.
    pub max_age: Option<std::time::Duration>,
}

/// The outcome of one validation of a dataset: how many expectations passed and failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityResult {
    pub dataset: String,
    pub run_id: String,
    pub at: DateTime<Utc>,
    pub passed: u32,
    pub failed: u32,
}

#[derive(Debug, Clone, Default)]
pub struct MonitorInputs {
    pub datasets: Vec<DatasetStatus>,
    pub quality: Vec<QualityResult>,
    /// The project's `[[schedules]]`: SLAs, and the fire times scheduler lag is measured
    /// against.
    pub schedules: Vec<ScheduleConfig>,
    /// Dataset id (or task id) -> owner. A task's owner is its dataset's; a landing's is its
    /// source's (the id `orders`, or failing that any `orders.<table>`).
    pub owners: BTreeMap<String, String>,
    /// Dataset id -> the dataset ids it reads directly (the catalog's lineage: models, metrics,
    /// dashboards). The task graph recorded with each run is added to it.
    pub upstream: BTreeMap<String, Vec<String>>,
}

/// The lineage incidents are judged by: nodes are task ids and dataset ids; an edge points from
/// a node to one it reads.
#[derive(Debug, Clone, Default)]
pub struct Lineage {
    upstream: HashMap<String, BTreeSet<String>>,
    tasks: BTreeSet<String>,
    owners: BTreeMap<String, String>,
    default_owner: Option<String>,
}

/// The dataset a task writes: `model:x` -> `x`, `validate:s.t` -> `s.t`, `land:s` -> `s`.
pub fn dataset_of_task(task_id: &str) -> &str {
    task_id.split_once(':').map_or(task_id, |(_, rest)| rest)
}

impl Lineage {
    /// The task graph of the newest instance of each task, plus the caller's map.
    pub fn new<'a>(
        tasks: impl IntoIterator<Item = &'a TaskInstance>,
        inputs: &MonitorInputs,
        default_owner: Option<String>,
    ) -> Lineage {
        let mut l = Lineage {
            owners: inputs.owners.clone(),
            default_owner,
            ..Default::default()
        };
        for t in tasks {
            if l.tasks.insert(t.task_id.clone()) {
                l.upstream
                    .entry(t.task_id.clone())
                    .or_default()
                    .extend(t.upstream.iter().cloned());
            }
        }
        for (d, ups) in &inputs.upstream {
            l.upstream
                .entry(d.clone())
                .or_default()
                .extend(ups.iter().cloned());
        }
        l
    }

    /// The task that writes `dataset`, if the graph has one.
    pub fn producer_of(&self, dataset: &str) -> Option<String> {
        let has = |id: &String| self.tasks.contains(id).then(|| id.clone());
        if self.tasks.contains(dataset) {
            return None;
        }
        if let Some(t) = has(&format!("model:{dataset}")) {
            return Some(t);
        }
        if let Some(rest) = dataset.strip_prefix("raw:") {
            let source = rest.split('.').next().unwrap_or(rest);
            return has(&format!("land:{source}"));
        }
        if let Some(rest) = dataset.strip_prefix("quarantine:") {
            return has(&format!("validate:{rest}")).or_else(|| has(&format!("model:{rest}")));
        }
        if let Some(t) = has(&format!("validate:{dataset}")) {
            return Some(t);
        }
        let source = dataset.split('.').next().unwrap_or(dataset);
        has(&format!("land:{source}"))
    }

    fn direct_upstream(&self, node: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .upstream
            .get(node)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        if let Some(p) = self.producer_of(node)
            && !out.contains(&p)
        {
            out.push(p);
        }
        out
    }

    /// Every node `node` reads, directly or through others (without `node` itself).
    pub fn all_upstream(&self, node: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut queue: VecDeque<String> = self.direct_upstream(node).into();
        while let Some(n) = queue.pop_front() {
            if n == node || !seen.insert(n.clone()) {
                continue;
            }
            queue.extend(self.direct_upstream(&n));
        }
        seen
    }

    /// Whether `a` reads `b`, directly or through others; never for `a == b`.
    pub fn downstream_of(&self, a: &str, b: &str) -> bool {
        a != b && self.all_upstream(a).contains(b)
    }

    /// The owner of a task's or dataset's incidents.
    pub fn owner_of(&self, node: &str) -> Option<String> {
        if let Some(o) = self.owners.get(node) {
            return Some(o.clone());
        }
        if self.tasks.contains(node) {
            let dataset = dataset_of_task(node);
            if let Some(o) = self.owners.get(dataset) {
                return Some(o.clone());
            }
            if node.starts_with("land:") {
                let prefix = format!("{dataset}.");
                if let Some((_, o)) = self.owners.iter().find(|(k, _)| k.starts_with(&prefix)) {
                    return Some(o.clone());
                }
            }
        } else if let Some(p) = self.producer_of(node)
            && let Some(o) = self.owners.get(dataset_of_task(&p))
        {
            return Some(o.clone());
        }
        self.default_owner.clone()
    }

    pub fn is_task(&self, id: &str) -> bool {
        self.tasks.contains(id)
    }
}

/// The kind of a task id's task, from its prefix.
pub fn kind_of_task(task_id: &str) -> Option<TaskKind> {
    TaskKind::parse(task_id.split_once(':')?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, up: &[&str]) -> TaskInstance {
        TaskInstance {
            run_id: "r".into(),
            task_id: id.into(),
            kind: kind_of_task(id).unwrap_or(TaskKind::Model),
            target: dataset_of_task(id).into(),
            state: pulse_orchestrate::TaskState::Succeeded,
            attempt: 1,
            max_attempts: 1,
            upstream: up.iter().map(|s| s.to_string()).collect(),
            queued_at: Utc::now(),
            started_at: None,
            ended_at: None,
            next_try_at: None,
            worker: None,
            lease_until: None,
            rows: 0,
            bytes: 0,
            error: None,
        }
    }

    #[test]
    fn tasks_datasets_and_the_callers_map_form_one_graph() {
        let tasks = [
            task("land:orders", &[]),
            task("validate:orders.orders", &["land:orders"]),
            task("model:stg_orders", &["validate:orders.orders"]),
            task("model:fct_orders", &["model:stg_orders"]),
            task("land:support", &[]),
        ];
        let mut inputs = MonitorInputs::default();
        inputs
            .upstream
            .insert("metric:gmv".into(), vec!["fct_orders".into()]);
        inputs
            .upstream
            .insert("dashboard:executive".into(), vec!["metric:gmv".into()]);
        inputs
            .owners
            .insert("orders.orders".into(), "orders-team".into());
        inputs
            .owners
            .insert("fct_orders".into(), "analytics".into());
        let l = Lineage::new(&tasks, &inputs, Some("platform".into()));
        assert!(l.downstream_of("dashboard:executive", "land:orders"));
        assert!(l.downstream_of("fct_orders", "validate:orders.orders"));
        assert!(l.downstream_of("raw:orders.orders", "land:orders"));
        assert!(!l.downstream_of("land:orders", "fct_orders"));
        assert!(!l.downstream_of("fct_orders", "land:support"));
        assert!(!l.downstream_of("fct_orders", "fct_orders"));
        assert_eq!(l.owner_of("land:orders").as_deref(), Some("orders-team"));
        assert_eq!(l.owner_of("model:fct_orders").as_deref(), Some("analytics"));
        assert_eq!(l.owner_of("fct_orders").as_deref(), Some("analytics"));
        assert_eq!(l.owner_of("land:support").as_deref(), Some("platform"));
    }
}
