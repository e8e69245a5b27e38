//! Lineage, table-level and column-level.
//!
//! Table-level edges follow from the project: a source table lands in the raw zone, its raw
//! landing feeds the models that `source()` it (and its quarantine, when an expectation sets rows
//! aside), models feed the models that `ref()` them and the metrics that read them, combined
//! metrics read their components, and dashboard tiles show metrics.
//!
//! Column-level edges come from two places: per model, the caller supplies which input columns
//! each output column is computed from (the CLI reads them off the DataFusion logical plan); a
//! metric's value reads the model columns named in its `expr` (and, indirectly, its `filter` and
//! `time_column`), and each of its dimensions the columns of the dimension's expression. A raw
//! landing has the columns of its source table, a quarantine those of the dataset it guards.
//!
//! Every edge points downstream: `from` is read to compute `to`.

use crate::error::{CatalogError, Result};
use crate::model::DatasetKind;
use crate::sql::referenced_columns;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// What a lineage node is: a dataset of some kind, or a dashboard tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    SourceTable,
    RawLanding,
    Quarantine,
    Model,
    Metric,
    Tile,
    Dashboard,
}

impl NodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::SourceTable => "source_table",
            NodeKind::RawLanding => "raw_landing",
            NodeKind::Quarantine => "quarantine",
            NodeKind::Model => "model",
            NodeKind::Metric => "metric",
            NodeKind::Tile => "tile",
            NodeKind::Dashboard => "dashboard",
        }
    }

    pub fn dataset_kind(self) -> Option<DatasetKind> {
        Some(match self {
            NodeKind::SourceTable => DatasetKind::SourceTable,
            NodeKind::RawLanding => DatasetKind::RawLanding,
            NodeKind::Quarantine => DatasetKind::Quarantine,
            NodeKind::Model => DatasetKind::Model,
            NodeKind::Metric => DatasetKind::Metric,
            NodeKind::Dashboard => DatasetKind::Dashboard,
            NodeKind::Tile => return None,
        })
    }
}

impl From<DatasetKind> for NodeKind {
    fn from(k: DatasetKind) -> Self {
        match k {
            DatasetKind::SourceTable => NodeKind::SourceTable,
            DatasetKind::RawLanding => NodeKind::RawLanding,
            DatasetKind::Quarantine => NodeKind::Quarantine,
            DatasetKind::Model => NodeKind::Model,
            DatasetKind::Metric => NodeKind::Metric,
            DatasetKind::Dashboard => NodeKind::Dashboard,
        }
    }
}

/// One input column of a model's output column, as the caller reads it off the plan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ColumnInput {
    /// The dataset as the SQL names it: a model, or `source.table` for a source table's
    /// landing (ids such as `raw:source.table` are accepted too).
    pub dataset: String,
    pub column: String,
    /// Read to filter, join, group or order rather than to compute the value (OpenLineage's
    /// INDIRECT transformations).
    #[serde(default, skip_serializing_if = "is_false")]
    pub indirect: bool,
}

impl ColumnInput {
    pub fn direct(dataset: &str, column: &str) -> Self {
        ColumnInput {
            dataset: dataset.to_string(),
            column: column.to_string(),
            indirect: false,
        }
    }

    pub fn indirect(dataset: &str, column: &str) -> Self {
        ColumnInput {
            indirect: true,
            ..ColumnInput::direct(dataset, column)
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A model's column lineage: output column -> the input columns it is computed from.
pub type ColumnMap = BTreeMap<String, Vec<ColumnInput>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Upstream,
    Downstream,
    Both,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageNode {
    /// The dataset id, or `dataset#column` in a column-level graph.
    pub id: String,
    pub dataset: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub kind: NodeKind,
    /// A human label: the dataset's name, label or title (`dataset.column` for columns).
    pub label: String,
    /// Hops from the node the graph was asked for.
    pub distance: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LineageEdge {
    pub from: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub indirect: bool,
}

/// A lineage answer: the nodes reached and the edges between them, up to the roots (upstream)
/// or the leaves (downstream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageGraph {
    /// The node asked about.
    pub start: String,
    pub direction: Direction,
    pub column_level: bool,
    pub nodes: Vec<LineageNode>,
    pub edges: Vec<LineageEdge>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct NodeInfo {
    kind: NodeKind,
    label: String,
}

/// A metric as column lineage sees it.
#[derive(Debug, Clone, PartialEq, Default)]
struct MetricColumns {
    name: String,
    /// The model id, for metrics that read one.
    model: Option<String>,
    /// Snippets its value reads: (SQL, indirect).
    value: Vec<(String, bool)>,
    /// Dimension -> its SQL expression on the model.
    dimensions: BTreeMap<String, String>,
    /// Combined metrics: component metric names.
    components: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct TileColumns {
    metrics: Vec<String>,
    by: Vec<String>,
}

/// Columns the quarantine adds to each row it keeps (`pulse-quality` names them; this crate
/// does not depend on it).
pub(crate) const QUARANTINE_COLUMNS: &[&str] = &["_pulse_expectation", "_pulse_reason"];

type Key = (String, Option<String>);

/// The lineage of a project: the table-level graph plus what is needed to answer column-level
/// questions.
#[derive(Debug, Clone, Default)]
pub struct Lineage {
    nodes: BTreeMap<String, NodeInfo>,
    edges: BTreeSet<(String, String)>,
    column_maps: BTreeMap<String, ColumnMap>,
    known_columns: BTreeMap<String, BTreeSet<String>>,
    metrics: BTreeMap<String, MetricColumns>,
    tiles: BTreeMap<String, TileColumns>,
    /// Raw landing id -> the column naming each row's file (it has no upstream column).
    file_columns: BTreeMap<String, String>,
    /// Quarantine id -> the dataset it guards.
    quarantine_of: BTreeMap<String, String>,
}

impl Lineage {
    pub(crate) fn add_node(&mut self, id: &str, kind: NodeKind, label: &str) {
        self.nodes.insert(
            id.to_string(),
            NodeInfo {
                kind,
                label: label.to_string(),
            },
        );
    }

    pub(crate) fn add_edge(&mut self, from: &str, to: &str) {
        self.edges.insert((from.to_string(), to.to_string()));
    }

    pub(crate) fn set_file_column(&mut self, raw_id: &str, column: &str) {
        self.file_columns
            .insert(raw_id.to_string(), column.to_string());
    }

    pub(crate) fn set_quarantine(&mut self, quarantine_id: &str, of: &str) {
        self.quarantine_of
            .insert(quarantine_id.to_string(), of.to_string());
    }

    pub(crate) fn add_known_columns<'a>(
        &mut self,
        dataset: &str,
        columns: impl IntoIterator<Item = &'a str>,
    ) {
        let set = self.known_columns.entry(dataset.to_string()).or_default();
        set.extend(columns.into_iter().map(str::to_string));
    }

    pub(crate) fn add_metric(
        &mut self,
        metric: &pulse_project::Metric,
        model_id: Option<String>,
        components: Vec<String>,
    ) {
        let c = &metric.config;
        let mut value = Vec::new();
        if let Some(e) = &c.expr {
            value.push((e.clone(), false));
        }
        if let Some(f) = &c.filter {
            value.push((f.clone(), true));
        }
        if let Some(t) = &c.time_column {
            value.push((t.clone(), true));
        }
        let dimensions = c
            .dimensions
            .iter()
            .map(|d| {
                let expr = metric
                    .named_dimensions
                    .get(d)
                    .map(|n| n.expr.clone())
                    .unwrap_or_else(|| d.clone());
                (d.clone(), expr)
            })
            .collect();
        self.metrics.insert(
            DatasetKind::Metric.id(metric.name()),
            MetricColumns {
                name: metric.name().to_string(),
                model: model_id,
                value,
                dimensions,
                components,
            },
        );
    }

    pub(crate) fn add_tile(&mut self, tile_id: &str, metrics: &[String], by: &[String]) {
        self.tiles.insert(
            tile_id.to_string(),
            TileColumns {
                metrics: metrics.to_vec(),
                by: by.to_vec(),
            },
        );
    }

    /// Every node id with its kind.
    pub fn nodes(&self) -> impl Iterator<Item = (&str, NodeKind)> {
        self.nodes.iter().map(|(id, n)| (id.as_str(), n.kind))
    }

    /// Every table-level edge, `(from, to)`.
    pub fn edges(&self) -> impl Iterator<Item = (&str, &str)> {
        self.edges.iter().map(|(a, b)| (a.as_str(), b.as_str()))
    }

    pub fn kind(&self, id: &str) -> Option<NodeKind> {
        self.nodes.get(id).map(|n| n.kind)
    }

    /// The nodes `id` reads directly.
    pub fn parents(&self, id: &str) -> Vec<&str> {
        self.edges
            .iter()
            .filter(|(_, to)| to == id)
            .map(|(from, _)| from.as_str())
            .collect()
    }

    /// The nodes that read `id` directly.
    pub fn children(&self, id: &str) -> Vec<&str> {
        self.edges
            .iter()
            .filter(|(from, _)| from == id)
            .map(|(_, to)| to.as_str())
            .collect()
    }

    /// The model's column lineage as stored (inputs resolved to ids).
    pub fn column_map(&self, model: &str) -> Option<&ColumnMap> {
        self.column_maps.get(model)
    }

    /// The columns known for a dataset: documented, seen by a run, or in its column lineage.
    pub fn known_columns(&self, dataset: &str) -> BTreeSet<String> {
        let mut out = self.known_columns.get(dataset).cloned().unwrap_or_default();
        if let Some(map) = self.column_maps.get(dataset) {
            out.extend(map.keys().cloned());
        }
        // Columns other datasets are known to read from it (a source table's through its
        // landing).
        let raw = DatasetKind::RawLanding.id(dataset);
        let as_input = if self.kind(dataset) == Some(NodeKind::SourceTable) {
            raw.as_str()
        } else {
            dataset
        };
        for map in self.column_maps.values() {
            for inputs in map.values() {
                out.extend(
                    inputs
                        .iter()
                        .filter(|i| i.dataset == as_input)
                        .map(|i| i.column.clone()),
                );
            }
        }
        if let Some(m) = self.metrics.get(dataset) {
            out.insert(m.name.clone());
            out.extend(m.dimensions.keys().cloned());
        }
        if let Some(t) = self.tiles.get(dataset) {
            out.extend(t.metrics.iter().cloned());
            out.extend(t.by.iter().cloned());
        }
        out
    }

    /// The id an input of a column map names: `source.table` reads the table's raw landing.
    fn resolve_input(&self, name: &str) -> Option<String> {
        match self.nodes.get(name).map(|n| n.kind) {
            Some(NodeKind::SourceTable) => Some(DatasetKind::RawLanding.id(name)),
            Some(NodeKind::Tile | NodeKind::Dashboard) | None => None,
            Some(_) => Some(name.to_string()),
        }
    }

    /// Stores a model's column lineage, replacing what was there. Inputs must be datasets of the
    /// project (models, source tables or their landings).
    pub fn set_column_map(&mut self, model: &str, map: &ColumnMap) -> Result<()> {
        if self.kind(model) != Some(NodeKind::Model) {
            return Err(CatalogError::ColumnLineage {
                dataset: model.to_string(),
                message: "not a model of the project".into(),
            });
        }
        let mut resolved = ColumnMap::new();
        let mut unknown = BTreeSet::new();
        for (out, inputs) in map {
            let mut list: Vec<ColumnInput> = Vec::new();
            for i in inputs {
                match self.resolve_input(&i.dataset) {
                    Some(dataset) => {
                        let input = ColumnInput {
                            dataset,
                            column: i.column.clone(),
                            indirect: i.indirect,
                        };
                        // Read both ways, it counts as direct.
                        if let Some(existing) = list
                            .iter_mut()
                            .find(|e| e.dataset == input.dataset && e.column == input.column)
                        {
                            existing.indirect &= input.indirect;
                        } else {
                            list.push(input);
                        }
                    }
                    None => {
                        unknown.insert(i.dataset.clone());
                    }
                }
            }
            list.sort();
            resolved.insert(out.clone(), list);
        }
        if !unknown.is_empty() {
            return Err(CatalogError::ColumnLineage {
                dataset: model.to_string(),
                message: format!(
                    "inputs that are no dataset of the project: {}",
                    unknown.into_iter().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        self.column_maps.insert(model.to_string(), resolved);
        Ok(())
    }

    fn label(&self, id: &str) -> String {
        self.nodes
            .get(id)
            .map(|n| n.label.clone())
            .unwrap_or_else(|| id.to_string())
    }

    fn node_kind(&self, id: &str) -> NodeKind {
        self.kind(id).unwrap_or(NodeKind::Model)
    }

    /// The column-level inputs of `dataset.column`: (dataset, column, indirect).
    fn column_inputs(&self, dataset: &str, column: &str) -> Vec<(Key, bool)> {
        let key = |d: &str, c: &str| (d.to_string(), Some(c.to_string()));
        match self.kind(dataset) {
            Some(NodeKind::RawLanding) => {
                if self.file_columns.get(dataset).is_some_and(|f| f == column) {
                    return Vec::new();
                }
                let table = dataset.trim_start_matches(DatasetKind::RawLanding.id_prefix());
                vec![(key(table, column), false)]
            }
            Some(NodeKind::Quarantine) => {
                if QUARANTINE_COLUMNS.contains(&column) {
                    return Vec::new();
                }
                match self.quarantine_of.get(dataset) {
                    Some(of) => vec![(key(of, column), false)],
                    None => Vec::new(),
                }
            }
            Some(NodeKind::Model) => self
                .column_maps
                .get(dataset)
                .and_then(|m| m.get(column))
                .map(|inputs| {
                    inputs
                        .iter()
                        .map(|i| (key(&i.dataset, &i.column), i.indirect))
                        .collect()
                })
                .unwrap_or_default(),
            Some(NodeKind::Metric) => self.metric_inputs(dataset, column),
            Some(NodeKind::Tile) => {
                let Some(t) = self.tiles.get(dataset) else {
                    return Vec::new();
                };
                if t.metrics.iter().any(|m| m == column) {
                    vec![(key(&DatasetKind::Metric.id(column), column), false)]
                } else if t.by.iter().any(|b| b == column) {
                    t.metrics
                        .iter()
                        .map(|m| (key(&DatasetKind::Metric.id(m), column), false))
                        .filter(|((d, _), _)| {
                            self.metrics
                                .get(d)
                                .is_some_and(|mc| self.metric_has_dimension(mc, column, 0))
                        })
                        .collect()
                } else {
                    Vec::new()
                }
            }
            Some(NodeKind::SourceTable | NodeKind::Dashboard) | None => Vec::new(),
        }
    }

    fn metric_has_dimension(&self, m: &MetricColumns, dimension: &str, depth: usize) -> bool {
        if m.model.is_some() || m.components.is_empty() {
            return m.dimensions.contains_key(dimension);
        }
        depth < 16
            && m.components.iter().all(|c| {
                self.metrics
                    .get(&DatasetKind::Metric.id(c))
                    .is_some_and(|cm| self.metric_has_dimension(cm, dimension, depth + 1))
            })
    }

    fn metric_inputs(&self, metric_id: &str, column: &str) -> Vec<(Key, bool)> {
        let Some(m) = self.metrics.get(metric_id) else {
            return Vec::new();
        };
        let key = |d: &str, c: &str| (d.to_string(), Some(c.to_string()));
        let is_value = column == m.name || column == "value";
        if !m.components.is_empty() {
            return m
                .components
                .iter()
                .map(|c| {
                    let cid = DatasetKind::Metric.id(c);
                    if is_value {
                        (key(&cid, c), false)
                    } else {
                        (key(&cid, column), false)
                    }
                })
                .filter(|((d, c), _)| {
                    is_value
                        || c.as_deref().is_some_and(|c| {
                            self.metrics
                                .get(d)
                                .is_some_and(|cm| self.metric_has_dimension(cm, c, 0))
                        })
                })
                .collect();
        }
        let Some(model) = &m.model else {
            return Vec::new();
        };
        let known = self.known_columns(model);
        let mut out: Vec<(Key, bool)> = Vec::new();
        let mut push = |c: String, indirect: bool| {
            let k = key(model, &c);
            match out.iter_mut().find(|(e, _)| *e == k) {
                Some((_, ind)) => *ind &= indirect,
                None => out.push((k, indirect)),
            }
        };
        if is_value {
            for (sql, indirect) in &m.value {
                for c in referenced_columns(sql, &known) {
                    push(c, *indirect);
                }
            }
        } else if let Some(expr) = m.dimensions.get(column) {
            for c in referenced_columns(expr, &known) {
                push(c, false);
            }
        }
        out
    }

    /// Every column node that has inputs, for the reverse (downstream) index.
    fn column_nodes(&self) -> Vec<Key> {
        let mut out = Vec::new();
        for (model, map) in &self.column_maps {
            for col in map.keys() {
                out.push((model.clone(), Some(col.clone())));
            }
        }
        for (id, m) in &self.metrics {
            out.push((id.clone(), Some(m.name.clone())));
            for d in m.dimensions.keys() {
                out.push((id.clone(), Some(d.clone())));
            }
            // Combined metrics may be cut by what their components allow.
            if m.model.is_none() {
                let mut dims: BTreeSet<String> = BTreeSet::new();
                for c in &m.components {
                    if let Some(cm) = self.metrics.get(&DatasetKind::Metric.id(c)) {
                        dims.extend(cm.dimensions.keys().cloned());
                    }
                }
                for d in dims {
                    if self.metric_has_dimension(m, &d, 0) {
                        out.push((id.clone(), Some(d)));
                    }
                }
            }
        }
        for (id, t) in &self.tiles {
            for c in t.metrics.iter().chain(&t.by) {
                out.push((id.clone(), Some(c.clone())));
            }
        }
        out
    }

    /// Checks that the dataset exists and, for column questions, that the column is known
    /// (datasets with no known columns accept any: a source table before its first landing).
    fn check(&self, dataset: &str, column: Option<&str>) -> Result<()> {
        if !self.nodes.contains_key(dataset) {
            return Err(CatalogError::UnknownDataset(dataset.to_string()));
        }
        if let Some(c) = column {
            let known = self.known_columns(dataset);
            let is_metric_value = self.kind(dataset) == Some(NodeKind::Metric) && c == "value";
            if !known.is_empty() && !known.contains(c) && !is_metric_value {
                return Err(CatalogError::UnknownColumn {
                    dataset: dataset.to_string(),
                    column: c.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Everything upstream of `dataset` (or of one of its columns), up to the roots.
    pub fn upstream(&self, dataset: &str, column: Option<&str>) -> Result<LineageGraph> {
        self.check(dataset, column)?;
        Ok(match column {
            None => self.walk(dataset, None, Direction::Upstream, |(d, _)| {
                self.parents(d)
                    .into_iter()
                    .map(|p| ((p.to_string(), None), false))
                    .collect()
            }),
            Some(c) => {
                let c = self.canonical_column(dataset, c);
                self.walk(dataset, Some(&c), Direction::Upstream, |(d, c)| {
                    c.as_deref()
                        .map(|c| self.column_inputs(d, c))
                        .unwrap_or_default()
                })
            }
        })
    }

    /// Everything downstream of `dataset` (or of one of its columns), down to the leaves.
    pub fn downstream(&self, dataset: &str, column: Option<&str>) -> Result<LineageGraph> {
        self.check(dataset, column)?;
        Ok(match column {
            None => self.walk(dataset, None, Direction::Downstream, |(d, _)| {
                self.children(d)
                    .into_iter()
                    .map(|p| ((p.to_string(), None), false))
                    .collect()
            }),
            Some(c) => {
                let c = self.canonical_column(dataset, c);
                let mut reverse: BTreeMap<Key, Vec<(Key, bool)>> = BTreeMap::new();
                for node in self.column_nodes() {
                    if let (d, Some(col)) = &node {
                        for (input, indirect) in self.column_inputs(d, col) {
                            reverse
                                .entry(input)
                                .or_default()
                                .push((node.clone(), indirect));
                        }
                    }
                }
                self.walk(dataset, Some(&c), Direction::Downstream, |key| {
                    let (d, col) = key;
                    let mut out = reverse.get(key).cloned().unwrap_or_default();
                    // Identity edges: a source table's columns land as they are; a quarantine
                    // keeps its dataset's columns.
                    if let Some(col) = col {
                        let mut identity = |to: String| {
                            let k = (to, Some(col.clone()));
                            if !out.iter().any(|(e, _)| *e == k) {
                                out.push((k, false));
                            }
                        };
                        if self.kind(d) == Some(NodeKind::SourceTable) {
                            let raw = DatasetKind::RawLanding.id(d);
                            if self.nodes.contains_key(&raw) {
                                identity(raw);
                            }
                        }
                        for (q, of) in &self.quarantine_of {
                            if of == d {
                                identity(q.clone());
                            }
                        }
                    }
                    out
                })
            }
        })
    }

    /// Both directions at once: the neighbourhood a dataset page draws.
    pub fn neighbourhood(&self, dataset: &str, column: Option<&str>) -> Result<LineageGraph> {
        let mut up = self.upstream(dataset, column)?;
        let down = self.downstream(dataset, column)?;
        for n in down.nodes {
            if !up.nodes.iter().any(|m| m.id == n.id) {
                up.nodes.push(n);
            }
        }
        for e in down.edges {
            if !up.edges.contains(&e) {
                up.edges.push(e);
            }
        }
        up.direction = Direction::Both;
        Ok(up)
    }

    /// The whole table-level graph of the project.
    pub fn graph(&self) -> LineageGraph {
        LineageGraph {
            start: String::new(),
            direction: Direction::Both,
            column_level: false,
            nodes: self
                .nodes
                .iter()
                .map(|(id, n)| LineageNode {
                    id: id.clone(),
                    dataset: id.clone(),
                    column: None,
                    kind: n.kind,
                    label: n.label.clone(),
                    distance: 0,
                })
                .collect(),
            edges: self
                .edges
                .iter()
                .map(|(a, b)| LineageEdge {
                    from: a.clone(),
                    to: b.clone(),
                    indirect: false,
                })
                .collect(),
        }
    }

    /// A metric's value column is called by the metric's name; `value` is accepted too.
    fn canonical_column(&self, dataset: &str, column: &str) -> String {
        match self.metrics.get(dataset) {
            Some(m) if column == "value" => m.name.clone(),
            _ => column.to_string(),
        }
    }

    fn walk(
        &self,
        dataset: &str,
        column: Option<&str>,
        direction: Direction,
        next: impl Fn(&Key) -> Vec<(Key, bool)>,
    ) -> LineageGraph {
        let start: Key = (dataset.to_string(), column.map(str::to_string));
        let mut seen: BTreeMap<Key, usize> = BTreeMap::new();
        let mut order: Vec<Key> = Vec::new();
        let mut edges: BTreeSet<LineageEdge> = BTreeSet::new();
        let mut queue = VecDeque::from([(start.clone(), 0usize)]);
        seen.insert(start.clone(), 0);
        order.push(start.clone());
        while let Some((key, distance)) = queue.pop_front() {
            for (other, indirect) in next(&key) {
                let (from, to) = match direction {
                    Direction::Downstream => (&key, &other),
                    _ => (&other, &key),
                };
                edges.insert(LineageEdge {
                    from: node_id(from),
                    to: node_id(to),
                    indirect,
                });
                if !seen.contains_key(&other) {
                    seen.insert(other.clone(), distance + 1);
                    order.push(other.clone());
                    queue.push_back((other, distance + 1));
                }
            }
        }
        // Read both ways, an edge is direct.
        let direct: BTreeSet<(String, String)> = edges
            .iter()
            .filter(|e| !e.indirect)
            .map(|e| (e.from.clone(), e.to.clone()))
            .collect();
        let edges = edges
            .into_iter()
            .filter(|e| !e.indirect || !direct.contains(&(e.from.clone(), e.to.clone())))
            .collect();
        LineageGraph {
            start: node_id(&start),
            direction,
            column_level: column.is_some(),
            nodes: order
                .iter()
                .map(|k| {
                    let (d, c) = k;
                    let label = match c {
                        Some(c) => format!("{}.{c}", self.label(d)),
                        None => self.label(d),
                    };
                    LineageNode {
                        id: node_id(k),
                        dataset: d.clone(),
                        column: c.clone(),
                        kind: self.node_kind(d),
                        label,
                        distance: seen.get(k).copied().unwrap_or(0),
                    }
                })
                .collect(),
            edges,
        }
    }
}

fn node_id((dataset, column): &Key) -> String {
    match column {
        Some(c) => format!("{dataset}#{c}"),
        None => dataset.clone(),
    }
}

impl LineageGraph {
    pub fn node(&self, id: &str) -> Option<&LineageNode> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Nodes nothing in the graph feeds: the sources of an upstream answer.
    pub fn roots(&self) -> Vec<&LineageNode> {
        self.nodes
            .iter()
            .filter(|n| !self.edges.iter().any(|e| e.to == n.id))
            .collect()
    }

    /// Nodes that feed nothing in the graph: the ends of a downstream answer.
    pub fn leaves(&self) -> Vec<&LineageNode> {
        self.nodes
            .iter()
            .filter(|n| !self.edges.iter().any(|e| e.from == n.id))
            .collect()
    }

    /// The graph without indirect edges (filters, joins, time columns), keeping only the nodes
    /// still connected to the start: "which columns is the value computed from".
    pub fn direct_only(&self) -> LineageGraph {
        let edges: Vec<LineageEdge> = self.edges.iter().filter(|e| !e.indirect).cloned().collect();
        let mut keep: BTreeSet<String> = BTreeSet::from([self.start.clone()]);
        let mut changed = true;
        while changed {
            changed = false;
            for e in &edges {
                let (near, far) = match self.direction {
                    Direction::Downstream => (&e.from, &e.to),
                    _ => (&e.to, &e.from),
                };
                if keep.contains(near) && !keep.contains(far) {
                    keep.insert(far.clone());
                    changed = true;
                }
            }
        }
        LineageGraph {
            start: self.start.clone(),
            direction: self.direction,
            column_level: self.column_level,
            nodes: self
                .nodes
                .iter()
                .filter(|n| keep.contains(&n.id))
                .cloned()
                .collect(),
            edges: edges
                .into_iter()
                .filter(|e| keep.contains(&e.from) && keep.contains(&e.to))
                .collect(),
        }
    }

    /// The graph without nodes of `kind`, each of their inputs linked to each of their outputs
    /// instead (e.g. tiles collapsed into metric -> dashboard edges for an overview). The start
    /// node is kept whatever its kind.
    pub fn collapse(&self, kind: NodeKind) -> LineageGraph {
        let gone: BTreeSet<&str> = self
            .nodes
            .iter()
            .filter(|n| n.kind == kind && n.id != self.start)
            .map(|n| n.id.as_str())
            .collect();
        let mut edges: BTreeSet<LineageEdge> = self
            .edges
            .iter()
            .filter(|e| !gone.contains(e.from.as_str()) && !gone.contains(e.to.as_str()))
            .cloned()
            .collect();
        for g in &gone {
            // Through chains of collapsed nodes too.
            let mut inputs: Vec<(String, bool)> = Vec::new();
            let mut stack = vec![(g.to_string(), false)];
            let mut seen = BTreeSet::new();
            while let Some((n, indirect)) = stack.pop() {
                for e in self.edges.iter().filter(|e| e.to == n) {
                    let ind = indirect || e.indirect;
                    if gone.contains(e.from.as_str()) {
                        if seen.insert(e.from.clone()) {
                            stack.push((e.from.clone(), ind));
                        }
                    } else {
                        inputs.push((e.from.clone(), ind));
                    }
                }
            }
            for out in self
                .edges
                .iter()
                .filter(|e| e.from == *g && !gone.contains(e.to.as_str()))
            {
                for (input, indirect) in &inputs {
                    edges.insert(LineageEdge {
                        from: input.clone(),
                        to: out.to.clone(),
                        indirect: *indirect || out.indirect,
                    });
                }
            }
        }
        let direct: BTreeSet<(String, String)> = edges
            .iter()
            .filter(|e| !e.indirect)
            .map(|e| (e.from.clone(), e.to.clone()))
            .collect();
        LineageGraph {
            start: self.start.clone(),
            direction: self.direction,
            column_level: self.column_level,
            nodes: self
                .nodes
                .iter()
                .filter(|n| !gone.contains(n.id.as_str()))
                .cloned()
                .collect(),
            edges: edges
                .into_iter()
                .filter(|e| !e.indirect || !direct.contains(&(e.from.clone(), e.to.clone())))
                .collect(),
        }
    }

    /// Graphviz DOT, left to right; indirect edges dashed.
    pub fn to_dot(&self) -> String {
        let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let mut out = String::from(
            "digraph lineage {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n",
        );
        for n in &self.nodes {
            let pen = if n.id == self.start {
                ", penwidth=2"
            } else {
                ""
            };
            out.push_str(&format!(
                "  {} [label={}, fillcolor={}{pen}];\n",
                q(&n.id),
                q(&n.label),
                q(kind_colour(n.kind))
            ));
        }
        for e in &self.edges {
            let style = if e.indirect { " [style=dashed]" } else { "" };
            out.push_str(&format!("  {} -> {}{style};\n", q(&e.from), q(&e.to)));
        }
        out.push_str("}\n");
        out
    }

    /// A layered layout: each node on the layer of the longest path to it from a root, left to
    /// right, ordered within its layer to keep edges short.
    pub fn layout(&self) -> crate::layout::Layout {
        crate::layout::layout(self)
    }
}

/// A fill colour per kind, for DOT and SVG.
pub fn kind_colour(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::SourceTable => "#e8eef9",
        NodeKind::RawLanding => "#eef1f4",
        NodeKind::Quarantine => "#fbe9e7",
        NodeKind::Model => "#e6f4ea",
        NodeKind::Metric => "#fff4d6",
        NodeKind::Tile => "#f3e8fd",
        NodeKind::Dashboard => "#ede7f6",
    }
}
