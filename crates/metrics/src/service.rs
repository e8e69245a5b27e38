//! The semantic layer as a service: it runs compiled requests on a warehouse, caches results per
//! warehouse version, checks definitions against the models' schemas, and answers for
//! dashboards. The warehouse is a trait so this crate stays free of the query engine; the
//! binary implements it with DataFusion (and later PostgreSQL).

use crate::compile::SemanticLayer;
use crate::error::{MetricsError, Result};
use crate::request::MetricRequest;
use crate::result::{MetricResult, rows_of};
use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use async_trait::async_trait;
use chrono::NaiveDate;
use pulse_project::{Grain, Metric, Project};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Where the models live, as the semantic layer needs it.
#[async_trait]
pub trait WarehouseReader: Send + Sync {
    /// Changes whenever any model is rebuilt; cached results are kept per version.
    async fn version(&self) -> Result<String, String>;
    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, String>;
    /// Plans the query without running it: unknown tables and columns fail here.
    async fn check(&self, sql: &str) -> Result<(), String>;
    /// A model's table schema, `None` when it is not built yet.
    async fn schema(&self, table: &str) -> Result<Option<SchemaRef>, String>;
}

/// Results kept at most; a dashboard has a dozen tiles, a few filter combinations are common.
const CACHE_ENTRIES: usize = 1024;

#[derive(Default)]
struct Cache {
    version: String,
    layer: Option<Arc<SemanticLayer>>,
    results: HashMap<MetricRequest, Arc<MetricResult>>,
    newest: HashMap<(String, String), Option<NaiveDate>>,
    values: HashMap<String, Arc<Vec<String>>>,
}

pub struct MetricsService {
    layer: SemanticLayer,
    project: Arc<Project>,
    reader: Arc<dyn WarehouseReader>,
    cache: Mutex<Cache>,
}

impl MetricsService {
    pub fn new(project: Arc<Project>, reader: Arc<dyn WarehouseReader>) -> Self {
        Self {
            layer: SemanticLayer::new(&project),
            project,
            reader,
            cache: Mutex::new(Cache::default()),
        }
    }

    pub fn project(&self) -> &Project {
        &self.project
    }

    /// The definitions as loaded (date columns are marked per warehouse version in [`Self::layer`]).
    pub fn definitions(&self) -> &SemanticLayer {
        &self.layer
    }

    /// The current warehouse version, and the layer prepared for it; a new version empties the
    /// cache.
    pub async fn layer(&self) -> Result<(String, Arc<SemanticLayer>)> {
        let version = self
            .reader
            .version()
            .await
            .map_err(MetricsError::Warehouse)?;
        if let Ok(cache) = self.cache.lock()
            && cache.version == version
            && let Some(layer) = &cache.layer
        {
            return Ok((version, layer.clone()));
        }
        let mut layer = self.layer.clone();
        let mut seen = BTreeMap::new();
        for m in self.layer.metrics() {
            let (Some(model), Some(time)) = (&m.config.model, &m.config.time_column) else {
                continue;
            };
            if !seen.contains_key(model) {
                let schema = self.reader.schema(model).await.unwrap_or(None);
                seen.insert(model.clone(), schema);
            }
            if let Some(Some(schema)) = seen.get(model)
                && let Ok(field) = schema.field_with_name(time)
                && *field.data_type() == DataType::Date32
            {
                layer.mark_date_column(model, time);
            }
        }
        let layer = Arc::new(layer);
        if let Ok(mut cache) = self.cache.lock() {
            *cache = Cache {
                version: version.clone(),
                layer: Some(layer.clone()),
                ..Cache::default()
            };
        }
        Ok((version, layer))
    }

    /// Runs a request, from the cache when the warehouse has not changed since.
    pub async fn query(&self, req: &MetricRequest) -> Result<Arc<MetricResult>> {
        let (version, layer) = self.layer().await?;
        if let Ok(cache) = self.cache.lock()
            && let Some(hit) = cache.results.get(req)
        {
            return Ok(hit.clone());
        }
        let compiled = layer.compile(req)?;
        let started = Instant::now();
        let batches =
            self.reader
                .query(&compiled.sql)
                .await
                .map_err(|message| MetricsError::Query {
                    sql: compiled.sql.clone(),
                    message,
                })?;
        let rows = rows_of(&batches).map_err(|message| MetricsError::Query {
            sql: compiled.sql.clone(),
            message,
        })?;
        let result = Arc::new(MetricResult {
            request: req.clone(),
            columns: compiled.columns,
            rows,
            sql: compiled.sql,
            previous_range: if req.compare {
                req.previous_range()
            } else {
                None
            },
            warehouse_version: version.clone(),
            query_ms: started.elapsed().as_secs_f64() * 1000.0,
        });
        if let Ok(mut cache) = self.cache.lock()
            && cache.version == version
        {
            if cache.results.len() >= CACHE_ENTRIES {
                cache.results.clear();
            }
            cache.results.insert(req.clone(), result.clone());
        }
        Ok(result)
    }

    /// The newest day with data among the models the metrics read, for ranges that end "now".
    pub async fn newest_date(&self, metrics: &[String]) -> Result<Option<NaiveDate>> {
        let (version, layer) = self.layer().await?;
        let mut newest: Option<NaiveDate> = None;
        for name in metrics {
            for base in layer.base_metrics(name) {
                let (Some(model), Some(time)) = (&base.config.model, &base.config.time_column)
                else {
                    continue;
                };
                let key = (model.clone(), time.clone());
                let cached = self
                    .cache
                    .lock()
                    .ok()
                    .and_then(|c| c.newest.get(&key).copied());
                let day = match cached {
                    Some(day) => day,
                    None => {
                        let sql = format!(
                            "select max(cast({} as date)) from {}",
                            crate::compile::quote_ident(time),
                            crate::compile::quote_ident(model)
                        );
                        let day = self.first_date(&sql).await?;
                        if let Ok(mut cache) = self.cache.lock()
                            && cache.version == version
                        {
                            cache.newest.insert(key, day);
                        }
                        day
                    }
                };
                newest = newest.max(day);
            }
        }
        Ok(newest)
    }

    async fn first_date(&self, sql: &str) -> Result<Option<NaiveDate>> {
        let batches = self
            .reader
            .query(sql)
            .await
            .map_err(|message| MetricsError::Query {
                sql: sql.to_owned(),
                message,
            })?;
        let rows = rows_of(&batches).map_err(MetricsError::Warehouse)?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .and_then(|v| v.as_str())
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()))
    }

    /// The values a dimension takes (for filter pickers), from the first metric that allows it.
    pub async fn dimension_values(&self, dimension: &str) -> Result<Arc<Vec<String>>> {
        let (version, layer) = self.layer().await?;
        if let Ok(cache) = self.cache.lock()
            && let Some(values) = cache.values.get(dimension)
        {
            return Ok(values.clone());
        }
        let Some(metric) = layer
            .metrics()
            .filter(|m| m.config.measure.reads_model())
            .find(|m| m.config.dimensions.iter().any(|d| d == dimension))
        else {
            return Err(MetricsError::BadRequest(format!(
                "no metric may be cut by `{dimension}`"
            )));
        };
        let expr = match metric.named_dimensions.get(dimension) {
            Some(d) => format!("({})", d.expr),
            None => crate::compile::quote_ident(dimension),
        };
        let sql = format!(
            "select distinct cast({expr} as varchar) as v from {} where {expr} is not null order by 1 limit 500",
            crate::compile::quote_ident(metric.config.model.as_deref().unwrap_or_default())
        );
        let batches = self
            .reader
            .query(&sql)
            .await
            .map_err(|message| MetricsError::Query {
                sql: sql.clone(),
                message,
            })?;
        let values: Vec<String> = rows_of(&batches)
            .map_err(MetricsError::Warehouse)?
            .into_iter()
            .filter_map(|r| r.into_iter().next())
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let values = Arc::new(values);
        if let Ok(mut cache) = self.cache.lock()
            && cache.version == version
        {
            cache.values.insert(dimension.to_owned(), values.clone());
        }
        Ok(values)
    }

    /// Every definition checked against the warehouse: the model is built, the time column and
    /// the dimensions exist, and the expressions and filters plan. Each problem names the file
    /// and line of the metric.
    pub async fn check_definitions(&self) -> Vec<MetricsError> {
        let mut problems = Vec::new();
        for m in self.layer.metrics() {
            if !m.config.measure.reads_model() {
                continue;
            }
            if let Err(message) = self.check_metric(m).await {
                problems.push(MetricsError::Definition {
                    file: m.file.clone(),
                    line: m.line,
                    metric: m.name().to_owned(),
                    message,
                });
            }
        }
        problems
    }

    async fn check_metric(&self, m: &Metric) -> Result<(), String> {
        let model = m.config.model.as_deref().unwrap_or_default();
        let schema =
            self.reader.schema(model).await?.ok_or_else(|| {
                format!("model `{model}` is not built yet; `pulse run` builds it")
            })?;
        let time = m.config.time_column.as_deref().unwrap_or_default();
        match schema.field_with_name(time) {
            Err(_) => {
                return Err(format!(
                    "time_column `{time}` is no column of `{model}` (it has: {})",
                    column_list(&schema)
                ));
            }
            Ok(f) if !is_temporal(f.data_type()) => {
                return Err(format!(
                    "time_column `{time}` of `{model}` is {}, not a date or timestamp",
                    f.data_type()
                ));
            }
            Ok(_) => {}
        }
        for d in &m.config.dimensions {
            if !m.named_dimensions.contains_key(d) && schema.field_with_name(d).is_err() {
                return Err(format!(
                    "dimension `{d}` is no column of `{model}` and no named dimension of {} (columns: {})",
                    m.file.display(),
                    column_list(&schema)
                ));
            }
        }
        let req = MetricRequest {
            metrics: vec![m.name().to_owned()],
            dimensions: m.config.dimensions.clone(),
            grain: Some(Grain::Day),
            ..MetricRequest::default()
        };
        let compiled = self.layer.compile(&req).map_err(|e| e.to_string())?;
        self.reader
            .check(&compiled.sql)
            .await
            .map_err(|e| format!("its expressions do not fit `{model}`: {e}"))
    }
}

fn is_temporal(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _)
    )
}

fn column_list(schema: &SchemaRef) -> String {
    schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
