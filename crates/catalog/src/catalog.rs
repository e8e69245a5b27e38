//! The catalog of a project: every dataset with what the project files say
//! ([`Catalog::from_project`]), overlaid with what runs reported ([`Catalog::apply`],
//! [`Catalog::load`]).

use crate::error::{CatalogError, Result};
use crate::freshness::{Freshness, FreshnessStatus, cron_interval, freshness};
use crate::lineage::{ColumnMap, Lineage, LineageGraph, NodeKind};
use crate::model::{
    Column, Dataset, DatasetKind, Details, MetricDefinition, TileRef, TileSummary, UsedBy,
};
use crate::store::{CatalogStore, DatasetRecord};
use chrono::{DateTime, Duration, Utc};
use pulse_project::{Expectation, Measure, Project};
use std::collections::BTreeMap;
use std::path::Path;

/// A schedule of `pulse.toml`, as freshness needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleInfo {
    pub name: String,
    pub cron: String,
    pub sla: Option<Duration>,
    /// Runs the whole project (no `select`).
    pub whole_project: bool,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    project: String,
    datasets: BTreeMap<String, Dataset>,
    lineage: Lineage,
    schedules: Vec<ScheduleInfo>,
    /// Problems met applying run records (a record of a dataset the project no longer has, a
    /// column lineage naming a dropped model): reported, not fatal.
    warnings: Vec<String>,
}

fn relative(project: &Project, path: &Path) -> std::path::PathBuf {
    path.strip_prefix(&project.root)
        .unwrap_or(path)
        .to_path_buf()
}

fn quarantines(expectations: &[Expectation]) -> bool {
    expectations
        .iter()
        .any(|e| e.quarantine && e.is_row_level())
}

fn labels(expectations: &[Expectation]) -> Vec<String> {
    expectations.iter().map(Expectation::label).collect()
}

fn documented(columns: &[pulse_project::ColumnDoc]) -> Vec<Column> {
    columns
        .iter()
        .map(|c| Column {
            name: c.name.clone(),
            data_type: None,
            nullable: None,
            description: c.description.clone(),
            tags: c.tags.clone(),
        })
        .collect()
}

fn push_unique(tags: &mut Vec<String>, more: &[String]) {
    for t in more {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
}

impl Catalog {
    /// Every dataset of the project with everything its files say: source tables, their raw
    /// landings and quarantines, models, metrics and dashboards, and the lineage between them.
    pub fn from_project(project: &Project) -> Catalog {
        let mut datasets: BTreeMap<String, Dataset> = BTreeMap::new();
        let mut lineage = Lineage::default();
        let whole_project_schedule = project
            .config
            .schedules
            .iter()
            .find(|s| s.select.is_none())
            .or(match project.config.schedules.as_slice() {
                [only] => Some(only),
                _ => None,
            })
            .map(|s| s.name.clone());
        let base = |id: String, kind: DatasetKind, name: &str, details: Details| Dataset {
            id,
            kind,
            name: name.to_string(),
            label: None,
            description: None,
            owner: None,
            tags: Vec::new(),
            file: None,
            line: None,
            columns: Vec::new(),
            stats: None,
            schedule: whole_project_schedule.clone(),
            profile: None,
            quality: None,
            used_by: UsedBy::default(),
            upstream: Vec::new(),
            details,
        };

        for source in &project.sources {
            for table in &source.config.tables {
                let name = format!("{}.{}", source.name, table.name);
                let expectations = source
                    .expectations
                    .get(&table.name)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                let mut tags = source.config.tags.clone();
                push_unique(&mut tags, &table.tags);
                let columns = documented(&table.columns);
                let mut ds = base(
                    name.clone(),
                    DatasetKind::SourceTable,
                    &name,
                    Details::SourceTable {
                        source: source.name.clone(),
                        table: table.name.clone(),
                        connector: source.config.connector.as_str().to_string(),
                        primary_key: table.primary_key.clone(),
                        cursor: table.cursor.clone(),
                        path: table.path.clone(),
                        file_column: table.file_column.clone(),
                        expectations: labels(expectations),
                    },
                );
                ds.description = table.description.clone();
                ds.owner = source.config.owner.clone();
                ds.tags = tags.clone();
                ds.file = Some(relative(project, &source.file));
                ds.columns = columns.clone();
                lineage.add_node(&name, NodeKind::SourceTable, &name);
                lineage.add_known_columns(&name, columns.iter().map(|c| c.name.as_str()));
                datasets.insert(name.clone(), ds);

                let raw_id = DatasetKind::RawLanding.id(&name);
                let mut raw = base(
                    raw_id.clone(),
                    DatasetKind::RawLanding,
                    &name,
                    Details::RawLanding {
                        source_table: name.clone(),
                        path: format!("raw/{}/{}/", source.name, table.name),
                    },
                );
                raw.description = Some(format!(
                    "The landings of {name} in the lake's raw zone: immutable Parquet under raw/{}/{}/<ingest date>/<run id>/, never overwritten.",
                    source.name, table.name
                ));
                raw.owner = source.config.owner.clone();
                raw.tags = tags.clone();
                raw.file = Some(relative(project, &source.file));
                raw.columns = columns.clone();
                if let Some(fc) = &table.file_column {
                    raw.columns.push(Column {
                        name: fc.clone(),
                        description: Some(
                            "The file the row came from, relative to the project.".into(),
                        ),
                        ..Column::default()
                    });
                    lineage.set_file_column(&raw_id, fc);
                }
                lineage.add_node(&raw_id, NodeKind::RawLanding, &format!("{name} (raw)"));
                lineage.add_known_columns(&raw_id, raw.columns.iter().map(|c| c.name.as_str()));
                lineage.add_edge(&name, &raw_id);
                datasets.insert(raw_id.clone(), raw);

                if quarantines(expectations) {
                    let q = quarantine(
                        &base,
                        &raw_id,
                        &name,
                        &format!("{}__{}__quarantine", source.name, table.name),
                        expectations,
                        source.config.owner.clone(),
                        &tags,
                    );
                    lineage.add_node(&q.id, NodeKind::Quarantine, &format!("{name} (quarantine)"));
                    lineage.set_quarantine(&q.id, &raw_id);
                    lineage.add_edge(&raw_id, &q.id);
                    datasets.insert(q.id.clone(), q);
                }
            }
        }

        for model in &project.models {
            let c = &model.config;
            let mut ds = base(
                model.name.clone(),
                DatasetKind::Model,
                &model.name,
                Details::Model {
                    layer: model.layer.clone(),
                    materialized: c.materialized.as_str().to_string(),
                    sql_file: relative(project, &model.sql_file)
                        .to_string_lossy()
                        .replace('\\', "/"),
                    unique_key: c.unique_key.clone(),
                    partition_by: c.partition_by.clone(),
                    expectations: labels(&model.expectations),
                },
            );
            ds.description = c.description.clone();
            ds.owner = c.owner.clone();
            ds.tags = c.tags.clone();
            ds.file = Some(relative(
                project,
                model.config_file.as_deref().unwrap_or(&model.sql_file),
            ));
            ds.columns = documented(&c.columns);
            lineage.add_node(&model.name, NodeKind::Model, &model.name);
            lineage.add_known_columns(&model.name, ds.columns.iter().map(|c| c.name.as_str()));
            for (s, t) in &model.depends_on.sources {
                lineage.add_edge(
                    &DatasetKind::RawLanding.id(&format!("{s}.{t}")),
                    &model.name,
                );
            }
            for r in &model.depends_on.refs {
                lineage.add_edge(r, &model.name);
            }
            if quarantines(&model.expectations) {
                let q = quarantine(
                    &base,
                    &model.name,
                    &model.name,
                    &format!("{}__quarantine", model.name),
                    &model.expectations,
                    c.owner.clone(),
                    &c.tags,
                );
                lineage.add_node(
                    &q.id,
                    NodeKind::Quarantine,
                    &format!("{} (quarantine)", model.name),
                );
                lineage.set_quarantine(&q.id, &model.name);
                lineage.add_edge(&model.name, &q.id);
                datasets.insert(q.id.clone(), q);
            }
            datasets.insert(model.name.clone(), ds);
        }

        let semantic = pulse_metrics::SemanticLayer::new(project);
        for metric in &project.metrics {
            let c = &metric.config;
            let id = DatasetKind::Metric.id(metric.name());
            let components: Vec<String> = metric
                .components()
                .into_iter()
                .map(str::to_string)
                .collect();
            let sql = semantic
                .compile(&pulse_metrics::MetricRequest {
                    metrics: vec![metric.name().to_string()],
                    ..Default::default()
                })
                .ok()
                .map(|q| q.sql);
            let allowed: Vec<String> = semantic
                .allowed_dimensions(metric.name())
                .into_iter()
                .collect();
            let definition = MetricDefinition {
                label: metric.label(),
                measure: measure_name(c.measure).to_string(),
                model: c.model.clone(),
                expr: c.expr.clone(),
                percentile: c.percentile,
                filter: c.filter.clone(),
                time_column: c.time_column.clone(),
                components: components.clone(),
                expression: c.expression.clone(),
                dimensions: allowed.clone(),
                format: c.format.as_str().to_string(),
                unit: c.unit.clone(),
                sql,
            };
            let mut ds = base(
                id.clone(),
                DatasetKind::Metric,
                metric.name(),
                Details::Metric(definition),
            );
            ds.label = Some(metric.label());
            ds.description = c.description.clone();
            ds.owner = c.owner.clone();
            ds.tags = c.tags.clone();
            ds.file = Some(relative(project, &metric.file));
            ds.line = Some(metric.line);
            let unit = c
                .unit
                .as_deref()
                .map(|u| format!(" in {u}"))
                .unwrap_or_default();
            ds.columns.push(Column {
                name: metric.name().to_string(),
                description: Some(format!("The metric's value ({}{unit}).", c.format.as_str())),
                ..Column::default()
            });
            for d in &allowed {
                ds.columns.push(Column {
                    name: d.clone(),
                    description: Some(match metric.named_dimensions.get(d) {
                        Some(n) => format!(
                            "Dimension {}: {}",
                            n.label.clone().unwrap_or_else(|| d.clone()),
                            n.expr
                        ),
                        None => format!("Dimension: the model's column {d}"),
                    }),
                    ..Column::default()
                });
            }
            lineage.add_node(&id, NodeKind::Metric, metric.name());
            if let Some(m) = &c.model {
                lineage.add_edge(m, &id);
            }
            for comp in &components {
                lineage.add_edge(&DatasetKind::Metric.id(comp), &id);
            }
            lineage.add_metric(metric, c.model.clone(), components);
            datasets.insert(id, ds);
        }

        for dashboard in &project.dashboards {
            let id = DatasetKind::Dashboard.id(&dashboard.name);
            let c = &dashboard.config;
            let tiles: Vec<TileSummary> = dashboard
                .tiles
                .iter()
                .map(|t| TileSummary {
                    id: t.id.clone(),
                    title: t.config.title.clone(),
                    kind: t.config.kind.as_str().to_string(),
                    metrics: t.config.metrics.clone(),
                })
                .collect();
            let mut ds = base(
                id.clone(),
                DatasetKind::Dashboard,
                &dashboard.name,
                Details::Dashboard {
                    title: c.title.clone(),
                    tiles,
                },
            );
            ds.label = Some(c.title.clone());
            ds.description = c.description.clone();
            ds.owner = c.owner.clone();
            ds.file = Some(relative(project, &dashboard.file));
            lineage.add_node(&id, NodeKind::Dashboard, &c.title);
            for t in &dashboard.tiles {
                let tile = TileRef {
                    dashboard: dashboard.name.clone(),
                    tile: t.id.clone(),
                    title: t.config.title.clone(),
                };
                let tid = tile.node_id();
                lineage.add_node(
                    &tid,
                    NodeKind::Tile,
                    &format!("{} › {}", c.title, t.config.title),
                );
                for m in &t.config.metrics {
                    lineage.add_edge(&DatasetKind::Metric.id(m), &tid);
                }
                lineage.add_edge(&tid, &id);
                lineage.add_tile(&tid, &t.config.metrics, &t.config.by);
            }
            datasets.insert(id, ds);
        }

        let schedules = project
            .config
            .schedules
            .iter()
            .map(|s| ScheduleInfo {
                name: s.name.clone(),
                cron: s.cron.clone(),
                sla: s.sla.and_then(|d| Duration::from_std(d.as_std()).ok()),
                whole_project: s.select.is_none(),
            })
            .collect();
        let mut catalog = Catalog {
            project: project.config.name.clone(),
            datasets,
            lineage,
            schedules,
            warnings: Vec::new(),
        };
        catalog.link_usage(project);
        catalog
    }

    /// [`Catalog::from_project`] with every record of the store applied.
    pub fn load(project: &Project, store: &CatalogStore) -> Result<Catalog> {
        let mut catalog = Catalog::from_project(project);
        for record in store.records()? {
            catalog.apply(&record);
        }
        Ok(catalog)
    }

    /// Fills `used_by` and `upstream` from the table-level lineage.
    fn link_usage(&mut self, project: &Project) {
        let tiles: BTreeMap<String, TileRef> = project
            .dashboards
            .iter()
            .flat_map(|d| {
                d.tiles.iter().map(|t| {
                    let r = TileRef {
                        dashboard: d.name.clone(),
                        tile: t.id.clone(),
                        title: t.config.title.clone(),
                    };
                    (r.node_id(), r)
                })
            })
            .collect();
        let ids: Vec<String> = self.datasets.keys().cloned().collect();
        for id in ids {
            let Some(kind) = self.datasets.get(&id).map(|d| d.kind) else {
                continue;
            };
            // A source table is used by what reads its landing.
            let via = if kind == DatasetKind::SourceTable {
                DatasetKind::RawLanding.id(&id)
            } else {
                id.clone()
            };
            let mut used = UsedBy::default();
            for child in self.lineage.children(&via) {
                match self.lineage.kind(child) {
                    Some(NodeKind::Model) => used.models.push(child.to_string()),
                    Some(NodeKind::Metric) => used.metrics.push(
                        child
                            .trim_start_matches(DatasetKind::Metric.id_prefix())
                            .to_string(),
                    ),
                    Some(NodeKind::Tile) => {
                        if let Some(t) = tiles.get(child) {
                            used.tiles.push(t.clone());
                        }
                    }
                    _ => {}
                }
            }
            used.tiles.sort();
            let upstream: Vec<String> = self
                .lineage
                .parents(&id)
                .into_iter()
                .flat_map(|p| match self.lineage.kind(p) {
                    // A dashboard reads metrics through its tiles.
                    Some(NodeKind::Tile) => self.lineage.parents(p),
                    _ => vec![p],
                })
                .map(str::to_string)
                .fold(Vec::new(), |mut acc, p| {
                    if !acc.contains(&p) {
                        acc.push(p);
                    }
                    acc
                });
            if let Some(d) = self.datasets.get_mut(&id) {
                d.used_by = used;
                d.upstream = upstream;
            }
        }
    }

    /// Overlays what runs reported about one dataset. A record of a dataset the project no
    /// longer has, or a column lineage that no longer fits, becomes a warning.
    pub fn apply(&mut self, record: &DatasetRecord) {
        let Some(ds) = self.datasets.get_mut(&record.id) else {
            self.warnings.push(format!(
                "the catalog store has a record of `{}`, which the project no longer has",
                record.id
            ));
            return;
        };
        if record.stats.is_some() {
            ds.stats = record.stats.clone();
        }
        if record.profile.is_some() {
            ds.profile = record.profile.clone();
        }
        if record.quality.is_some() {
            ds.quality = record.quality.clone();
        }
        if let Some(schema) = &record.schema {
            merge_schema(&mut ds.columns, schema);
            let names: Vec<String> = ds.columns.iter().map(|c| c.name.clone()).collect();
            self.lineage
                .add_known_columns(&record.id, names.iter().map(String::as_str));
            // A source table has the schema its landing saw.
            if let Some(table) = record
                .id
                .strip_prefix(DatasetKind::RawLanding.id_prefix())
                .map(str::to_string)
                && let Some(src) = self.datasets.get_mut(&table)
            {
                let file_column = match &src.details {
                    Details::SourceTable { file_column, .. } => file_column.clone(),
                    _ => None,
                };
                let landed: Vec<Column> = schema
                    .iter()
                    .filter(|c| Some(&c.name) != file_column.as_ref())
                    .cloned()
                    .collect();
                merge_schema(&mut src.columns, &landed);
                let names: Vec<String> = src.columns.iter().map(|c| c.name.clone()).collect();
                self.lineage
                    .add_known_columns(&table, names.iter().map(String::as_str));
            }
        }
        if let Some(cl) = &record.column_lineage
            && let Err(e) = self.set_column_lineage(&record.id, &cl.columns)
        {
            self.warnings.push(e.to_string());
        }
    }

    /// Stores a model's column lineage (output column -> input columns), checking that every
    /// input is a dataset of the project.
    pub fn set_column_lineage(&mut self, model: &str, columns: &ColumnMap) -> Result<()> {
        self.lineage.set_column_map(model, columns)
    }

    /// Judges a dataset's freshness by the schedule it is assigned to.
    pub fn set_schedule(&mut self, dataset: &str, schedule: Option<String>) -> Result<()> {
        let ds = self
            .datasets
            .get_mut(dataset)
            .ok_or_else(|| CatalogError::UnknownDataset(dataset.to_string()))?;
        ds.schedule = schedule;
        Ok(())
    }

    pub fn project_name(&self) -> &str {
        &self.project
    }

    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn schedules(&self) -> &[ScheduleInfo] {
        &self.schedules
    }

    /// Every dataset, in id order.
    pub fn datasets(&self) -> impl Iterator<Item = &Dataset> {
        self.datasets.values()
    }

    /// The dataset with this exact id.
    pub fn dataset(&self, id: &str) -> Option<&Dataset> {
        self.datasets.get(id)
    }

    /// A dataset by id or by the name a user types: `fct_orders`, `orders.orders`, `gmv` (a
    /// metric), `executive` (a dashboard), `raw:orders.orders`. An exact id wins; then models,
    /// source tables, metrics and dashboards of that name, in that order.
    pub fn resolve(&self, name: &str) -> Option<&Dataset> {
        if let Some(d) = self.datasets.get(name) {
            return Some(d);
        }
        [DatasetKind::Metric, DatasetKind::Dashboard]
            .into_iter()
            .find_map(|k| self.datasets.get(&k.id(name)))
    }

    /// [`Catalog::resolve`], or an error naming what was asked for.
    pub fn get(&self, name: &str) -> Result<&Dataset> {
        self.resolve(name)
            .ok_or_else(|| CatalogError::UnknownDataset(name.to_string()))
    }

    pub fn lineage(&self) -> &Lineage {
        &self.lineage
    }

    /// Everything upstream of a dataset (by name or id), or of one of its columns.
    pub fn upstream(&self, dataset: &str, column: Option<&str>) -> Result<LineageGraph> {
        let id = self.get(dataset)?.id.clone();
        self.lineage.upstream(&id, column)
    }

    /// Everything downstream of a dataset (by name or id), or of one of its columns.
    pub fn downstream(&self, dataset: &str, column: Option<&str>) -> Result<LineageGraph> {
        let id = self.get(dataset)?.id.clone();
        self.lineage.downstream(&id, column)
    }

    /// Both directions: what a dataset page draws.
    pub fn neighbourhood(&self, dataset: &str, column: Option<&str>) -> Result<LineageGraph> {
        let id = self.get(dataset)?.id.clone();
        self.lineage.neighbourhood(&id, column)
    }

    /// The dashboards a dataset reaches, directly or through metrics that combine it (the
    /// "shown on" list of a metric's page), by dashboard name.
    pub fn dashboards_showing(&self, dataset: &str) -> Result<Vec<String>> {
        let graph = self.downstream(dataset, None)?;
        let mut out: Vec<String> = graph
            .nodes
            .iter()
            .filter(|n| n.kind == NodeKind::Dashboard)
            .map(|n| {
                n.dataset
                    .trim_start_matches(DatasetKind::Dashboard.id_prefix())
                    .to_string()
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// When the data behind a dataset last changed: its own build; a source table's landing;
    /// for a metric the oldest of the models it reads; for a dashboard the oldest of its
    /// metrics'.
    pub fn last_updated(&self, id: &str) -> Option<DateTime<Utc>> {
        self.last_updated_at(id, 0)
    }

    fn last_updated_at(&self, id: &str, depth: usize) -> Option<DateTime<Utc>> {
        let ds = self.datasets.get(id)?;
        if depth > 32 {
            return None;
        }
        match ds.kind {
            DatasetKind::SourceTable => self
                .datasets
                .get(&DatasetKind::RawLanding.id(id))
                .and_then(|r| r.stats.as_ref())
                .map(|s| s.last_updated),
            DatasetKind::Metric | DatasetKind::Dashboard => {
                let mut oldest: Option<DateTime<Utc>> = None;
                let inputs = if ds.upstream.is_empty() {
                    return None;
                } else {
                    &ds.upstream
                };
                for up in inputs {
                    let t = self.last_updated_at(up, depth + 1)?;
                    oldest = Some(oldest.map_or(t, |o| o.min(t)));
                }
                oldest
            }
            _ => ds.stats.as_ref().map(|s| s.last_updated),
        }
    }

    /// A dataset's freshness at `now`, judged by its schedule's interval plus SLA; `Unknown`
    /// when it was never built or has no schedule.
    pub fn freshness(&self, dataset: &str, now: DateTime<Utc>) -> Result<Freshness> {
        let ds = self.get(dataset)?;
        let last = self.last_updated(&ds.id);
        let schedule = ds
            .schedule
            .as_ref()
            .and_then(|name| self.schedules.iter().find(|s| &s.name == name));
        let Some(schedule) = schedule else {
            return Ok(Freshness {
                status: FreshnessStatus::Unknown,
                lag_seconds: last.map(|t| (now - t).num_seconds().max(0)),
                max_age_seconds: 0,
                overdue_seconds: 0,
            });
        };
        let interval = cron_interval(&schedule.cron, last.unwrap_or(now))?;
        Ok(freshness(
            last,
            interval,
            schedule.sla.unwrap_or_else(Duration::zero),
            now,
        ))
    }
}

fn measure_name(m: Measure) -> &'static str {
    match m {
        Measure::Count => "count",
        Measure::CountDistinct => "count_distinct",
        Measure::Sum => "sum",
        Measure::Average => "average",
        Measure::Min => "min",
        Measure::Max => "max",
        Measure::Percentile => "percentile",
        Measure::Ratio => "ratio",
        Measure::Funnel => "funnel",
        Measure::Derived => "derived",
    }
}

/// Documented columns keep their place and text and take the recorded type; recorded columns
/// nobody documented follow in schema order.
fn merge_schema(columns: &mut Vec<Column>, recorded: &[Column]) {
    for r in recorded {
        match columns.iter_mut().find(|c| c.name == r.name) {
            Some(c) => {
                c.data_type = r.data_type.clone();
                c.nullable = r.nullable;
                if c.description.is_none() {
                    c.description = r.description.clone();
                }
            }
            None => columns.push(r.clone()),
        }
    }
}

fn quarantine(
    base: &impl Fn(String, DatasetKind, &str, Details) -> Dataset,
    of: &str,
    name: &str,
    table: &str,
    expectations: &[Expectation],
    owner: Option<String>,
    tags: &[String],
) -> Dataset {
    let id = DatasetKind::Quarantine.id(name);
    let mut q = base(
        id,
        DatasetKind::Quarantine,
        name,
        Details::Quarantine {
            of: of.to_string(),
            table: table.to_string(),
        },
    );
    let which: Vec<String> = expectations
        .iter()
        .filter(|e| e.quarantine && e.is_row_level())
        .map(Expectation::label)
        .collect();
    q.description = Some(format!(
        "Rows of {name} set aside by failing expectations ({}), each with the expectation and the reason; warehouse table {table}.",
        which.join(", ")
    ));
    q.owner = owner;
    q.tags = tags.to_vec();
    q.columns = crate::lineage::QUARANTINE_COLUMNS
        .iter()
        .zip(["The expectation the row failed.", "Why the row failed it."])
        .map(|(name, description)| Column {
            name: name.to_string(),
            description: Some(description.to_string()),
            ..Column::default()
        })
        .collect();
    q
}
