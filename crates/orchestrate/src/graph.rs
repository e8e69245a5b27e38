//! The asset graph: one task per source landing, per validated source table and per model,
//! with edges from `source()` and `ref()`. Nobody writes a DAG: it follows from the project.

use crate::error::OrchestrateError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    Land,
    Validate,
    Model,
}

impl TaskKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Land => "land",
            TaskKind::Validate => "validate",
            TaskKind::Model => "model",
        }
    }

    pub fn parse(s: &str) -> Option<TaskKind> {
        match s {
            "land" => Some(TaskKind::Land),
            "validate" => Some(TaskKind::Validate),
            "model" => Some(TaskKind::Model),
            _ => None,
        }
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub id: String,
    pub kind: TaskKind,
    pub target: String,
    pub tags: Vec<String>,
    pub upstream: Vec<String>,
}

/// Tasks in topological order: every task comes after all of its upstream tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetGraph {
    pub tasks: Vec<TaskSpec>,
    /// Model task id -> its SQL file relative to the project, for `path:` selectors.
    paths: BTreeMap<String, String>,
    /// `source.table` for every declared source table (empty for graphs built from tasks).
    source_tables: BTreeSet<String>,
}

impl AssetGraph {
    pub fn from_project(project: &pulse_project::Project) -> Self {
        let mut tasks = Vec::new();
        let mut validated: BTreeSet<(String, String)> = BTreeSet::new();
        for source in &project.sources {
            let source_tags = source.config.tags.clone();
            tasks.push(TaskSpec {
                id: format!("land:{}", source.name),
                kind: TaskKind::Land,
                target: source.name.clone(),
                tags: source_tags.clone(),
                upstream: Vec::new(),
            });
            for table in &source.config.tables {
                let has_checks = source
                    .expectations
                    .get(&table.name)
                    .is_some_and(|e| !e.is_empty());
                if !has_checks {
                    continue;
                }
                validated.insert((source.name.clone(), table.name.clone()));
                let mut tags = source_tags.clone();
                for t in &table.tags {
                    if !tags.contains(t) {
                        tags.push(t.clone());
                    }
                }
                // `relationships` reads the table it points at: that source lands first.
                let mut upstream = vec![format!("land:{}", source.name)];
                for e in source.expectations.get(&table.name).into_iter().flatten() {
                    if let pulse_project::Check::ColumnMap {
                        map: pulse_project::expectations::ColumnMap::InRelation { to, .. },
                        ..
                    } = &e.check
                        && let Some((other, _)) = to.split_once('.')
                        && project.source(other).is_some()
                    {
                        let id = format!("land:{other}");
                        if !upstream.contains(&id) {
                            upstream.push(id);
                        }
                    }
                }
                tasks.push(TaskSpec {
                    id: format!("validate:{}.{}", source.name, table.name),
                    kind: TaskKind::Validate,
                    target: format!("{}.{}", source.name, table.name),
                    tags,
                    upstream,
                });
            }
        }
        let mut paths = BTreeMap::new();
        for model in &project.models {
            let mut upstream: Vec<String> = Vec::new();
            let mut add = |id: String| {
                if !upstream.contains(&id) {
                    upstream.push(id);
                }
            };
            for (s, t) in &model.depends_on.sources {
                if validated.contains(&(s.clone(), t.clone())) {
                    add(format!("validate:{s}.{t}"));
                } else {
                    add(format!("land:{s}"));
                }
            }
            for r in &model.depends_on.refs {
                add(format!("model:{r}"));
            }
            let id = format!("model:{}", model.name);
            let rel = model
                .sql_file
                .strip_prefix(&project.root)
                .unwrap_or(&model.sql_file)
                .to_string_lossy()
                .replace('\\', "/");
            paths.insert(id.clone(), rel);
            tasks.push(TaskSpec {
                id,
                kind: TaskKind::Model,
                target: model.name.clone(),
                tags: model.config.tags.clone(),
                upstream,
            });
        }
        // The project is validated on load (known refs, no cycles), so ordering cannot fail;
        // keep the declaration order if it ever did rather than lose tasks.
        let source_tables = project
            .sources
            .iter()
            .flat_map(|s| {
                s.config
                    .tables
                    .iter()
                    .map(move |t| format!("{}.{}", s.name, t.name))
            })
            .collect();
        let tasks = order(tasks.clone()).unwrap_or(tasks);
        let mut graph = AssetGraph {
            tasks,
            paths,
            source_tables,
        };
        // Level by level, alphabetical within a level: still upstream before downstream, and
        // the order a person scans the graph (and the grid's rows) in.
        let level: BTreeMap<String, usize> = graph
            .levels()
            .iter()
            .enumerate()
            .flat_map(|(l, tasks)| tasks.iter().map(move |t| (t.id.clone(), l)))
            .collect();
        graph
            .tasks
            .sort_by_cached_key(|t| (level.get(&t.id).copied().unwrap_or(0), t.kind, t.id.clone()));
        graph
    }

    pub fn from_tasks(tasks: Vec<TaskSpec>) -> Result<Self, OrchestrateError> {
        Ok(AssetGraph {
            tasks: order(tasks)?,
            paths: BTreeMap::new(),
            source_tables: BTreeSet::new(),
        })
    }

    pub fn task(&self, id: &str) -> Option<&TaskSpec> {
        self.tasks.iter().find(|t| t.id == id)
    }

    /// The model file of a model task, relative to the project folder.
    pub fn path_of(&self, id: &str) -> Option<&str> {
        self.paths.get(id).map(String::as_str)
    }

    pub fn select(
        &self,
        selector: &str,
        exclude: Option<&str>,
    ) -> Result<BTreeSet<String>, OrchestrateError> {
        let mut chosen = crate::selector::Selector::parse(selector)?.evaluate(self)?;
        if let Some(ex) = exclude {
            let removed = crate::selector::Selector::parse(ex)?.evaluate(self)?;
            chosen.retain(|id| !removed.contains(id));
        }
        Ok(chosen)
    }

    /// The sub-graph of `ids`; edges to tasks left out are dropped, because a run of a
    /// selection treats what it does not contain as already there.
    pub fn restrict(&self, ids: &BTreeSet<String>) -> AssetGraph {
        let tasks = self
            .tasks
            .iter()
            .filter(|t| ids.contains(&t.id))
            .map(|t| TaskSpec {
                upstream: t
                    .upstream
                    .iter()
                    .filter(|u| ids.contains(*u))
                    .cloned()
                    .collect(),
                ..t.clone()
            })
            .collect();
        let paths = self
            .paths
            .iter()
            .filter(|(k, _)| ids.contains(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        AssetGraph {
            tasks,
            paths,
            source_tables: self.source_tables.clone(),
        }
    }

    /// Whether `source.table` is declared; graphs built from bare tasks know no tables and
    /// accept any table of a source that has a land task.
    pub(crate) fn has_source_table(&self, source: &str, table: &str) -> bool {
        self.source_tables.is_empty() || self.source_tables.contains(&format!("{source}.{table}"))
    }

    /// Everything that depends on `id`, directly or not; `id` itself excluded.
    pub fn downstream(&self, id: &str) -> BTreeSet<String> {
        self.walk(id, usize::MAX, Direction::Down)
    }

    /// Everything `id` depends on, directly or not; `id` itself excluded.
    pub fn upstream(&self, id: &str) -> BTreeSet<String> {
        self.walk(id, usize::MAX, Direction::Up)
    }

    pub(crate) fn walk(&self, id: &str, depth: usize, dir: Direction) -> BTreeSet<String> {
        let children = self.children();
        let mut out = BTreeSet::new();
        let mut frontier: VecDeque<(String, usize)> = VecDeque::from([(id.to_string(), 0)]);
        while let Some((n, d)) = frontier.pop_front() {
            if d >= depth {
                continue;
            }
            let next: Vec<String> = match dir {
                Direction::Up => self
                    .task(&n)
                    .map(|t| t.upstream.clone())
                    .unwrap_or_default(),
                Direction::Down => children.get(n.as_str()).cloned().unwrap_or_default(),
            };
            for m in next {
                if out.insert(m.clone()) {
                    frontier.push_back((m, d + 1));
                }
            }
        }
        out
    }

    fn children(&self) -> BTreeMap<&str, Vec<String>> {
        let mut out: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for t in &self.tasks {
            for u in &t.upstream {
                out.entry(u.as_str()).or_default().push(t.id.clone());
            }
        }
        out
    }

    /// Level of each task: 0 for tasks without upstream, else one more than its deepest upstream.
    pub fn levels(&self) -> Vec<Vec<&TaskSpec>> {
        let mut level: BTreeMap<&str, usize> = BTreeMap::new();
        let mut out: Vec<Vec<&TaskSpec>> = Vec::new();
        for t in &self.tasks {
            let l = t
                .upstream
                .iter()
                .filter_map(|u| level.get(u.as_str()))
                .map(|l| l + 1)
                .max()
                .unwrap_or(0);
            level.insert(&t.id, l);
            if out.len() <= l {
                out.resize_with(l + 1, Vec::new);
            }
            out[l].push(t);
        }
        out
    }

    /// Tasks by level, each with what it waits for: what `pulse graph` prints.
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        for (i, level) in self.levels().iter().enumerate() {
            s.push_str(&format!("level {i}\n"));
            for t in level {
                s.push_str("  ");
                s.push_str(&t.id);
                if !t.upstream.is_empty() {
                    s.push_str("  <- ");
                    s.push_str(&t.upstream.join(", "));
                }
                s.push('\n');
            }
        }
        s.push_str(&format!(
            "{} tasks: {} land, {} validate, {} model\n",
            self.tasks.len(),
            self.count(TaskKind::Land),
            self.count(TaskKind::Validate),
            self.count(TaskKind::Model)
        ));
        s
    }

    fn count(&self, kind: TaskKind) -> usize {
        self.tasks.iter().filter(|t| t.kind == kind).count()
    }

    /// Graphviz DOT, coloured by task kind.
    pub fn to_dot(&self) -> String {
        let mut s =
            String::from("digraph pulse {\n  rankdir=LR;\n  node [shape=box, style=filled];\n");
        for t in &self.tasks {
            let color = match t.kind {
                TaskKind::Land => "#cfe2ff",
                TaskKind::Validate => "#fff3cd",
                TaskKind::Model => "#d1e7dd",
            };
            s.push_str(&format!("  {} [fillcolor=\"{color}\"];\n", quote(&t.id)));
        }
        for t in &self.tasks {
            for u in &t.upstream {
                s.push_str(&format!("  {} -> {};\n", quote(u), quote(&t.id)));
            }
        }
        s.push_str("}\n");
        s
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Direction {
    Up,
    Down,
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Kahn's algorithm, keeping the given order among tasks that are ready at the same time so the
/// result is stable.
fn order(tasks: Vec<TaskSpec>) -> Result<Vec<TaskSpec>, OrchestrateError> {
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (i, t) in tasks.iter().enumerate() {
        if index.insert(t.id.clone(), i).is_some() {
            return Err(OrchestrateError::DuplicateTask(t.id.clone()));
        }
    }
    let mut indegree = vec![0usize; tasks.len()];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    for (i, t) in tasks.iter().enumerate() {
        let mut seen = BTreeSet::new();
        for u in &t.upstream {
            let Some(&j) = index.get(u) else {
                return Err(OrchestrateError::UnknownUpstream {
                    task: t.id.clone(),
                    upstream: u.clone(),
                });
            };
            if seen.insert(j) {
                indegree[i] += 1;
                children[j].push(i);
            }
        }
    }
    let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = indegree
        .iter()
        .enumerate()
        .filter(|(_, d)| **d == 0)
        .map(|(i, _)| std::cmp::Reverse(i))
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    while let Some(std::cmp::Reverse(i)) = ready.pop() {
        out.push(i);
        for &c in &children[i] {
            indegree[c] -= 1;
            if indegree[c] == 0 {
                ready.push(std::cmp::Reverse(c));
            }
        }
    }
    if out.len() < tasks.len() {
        let placed: BTreeSet<usize> = out.iter().copied().collect();
        let mut left: Vec<String> = (0..tasks.len())
            .filter(|i| !placed.contains(i))
            .map(|i| tasks[i].id.clone())
            .collect();
        left.sort();
        return Err(OrchestrateError::Cycle(left));
    }
    let mut slots: Vec<Option<TaskSpec>> = tasks.into_iter().map(Some).collect();
    Ok(out.into_iter().filter_map(|i| slots[i].take()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn spec(id: &str, up: &[&str]) -> TaskSpec {
        TaskSpec {
            id: id.to_string(),
            kind: TaskKind::Model,
            target: id.to_string(),
            tags: Vec::new(),
            upstream: up.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn orders_topologically_and_rejects_cycles_and_unknowns() {
        let g = AssetGraph::from_tasks(vec![spec("c", &["b"]), spec("b", &["a"]), spec("a", &[])])
            .expect("valid");
        let ids: Vec<&str> = g.tasks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        let e = AssetGraph::from_tasks(vec![spec("a", &["b"]), spec("b", &["a"]), spec("c", &[])])
            .expect_err("cycle");
        assert_eq!(e.to_string(), "tasks form a cycle: a -> b");
        let e = AssetGraph::from_tasks(vec![spec("a", &["zz"])]).expect_err("unknown");
        assert!(e.to_string().contains("zz"), "{e}");
        let e = AssetGraph::from_tasks(vec![spec("a", &[]), spec("a", &[])]).expect_err("dup");
        assert!(matches!(e, OrchestrateError::DuplicateTask(_)));
    }

    #[test]
    fn upstream_downstream_and_restrict() {
        let g = AssetGraph::from_tasks(vec![
            spec("a", &[]),
            spec("b", &["a"]),
            spec("c", &["b"]),
            spec("d", &["a"]),
        ])
        .expect("valid");
        assert_eq!(g.downstream("a"), ["b", "c", "d"].map(String::from).into());
        assert_eq!(g.upstream("c"), ["a", "b"].map(String::from).into());
        let r = g.restrict(&["a", "c"].map(String::from).into());
        assert_eq!(r.tasks.len(), 2);
        assert!(r.task("c").expect("kept").upstream.is_empty());
        let text = g.render_text();
        assert!(text.contains("level 2\n  c  <- b\n"), "{text}");
        assert!(g.to_dot().contains("\"a\" -> \"b\";"));
    }
}
