//! A dashboard with the reader's filters, resolved into one metric request per tile and run.

use crate::error::MetricsError;
type Result<T, E = MetricsError> = std::result::Result<T, E>;
use crate::request::MetricRequest;
use crate::result::MetricResult;
use crate::service::MetricsService;
use chrono::NaiveDate;
use pulse_project::{Dashboard, Tile, TileKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the reader chose: a date range and values per filter dimension. Empty means defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardFilters {
    #[serde(default)]
    pub from: Option<NaiveDate>,
    #[serde(default)]
    pub to: Option<NaiveDate>,
    #[serde(default)]
    pub values: BTreeMap<String, Vec<String>>,
}

fn shared<T: Serialize, S: serde::Serializer>(v: &Arc<T>, s: S) -> Result<S::Ok, S::Error> {
    v.as_ref().serialize(s)
}

fn shared_option<T: Serialize, S: serde::Serializer>(
    v: &Option<Arc<T>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    v.as_deref().serialize(s)
}

/// A filter as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FilterView {
    pub dimension: String,
    pub label: String,
    #[serde(serialize_with = "shared")]
    pub options: Arc<Vec<String>>,
    pub selected: Vec<String>,
}

/// One tile with its figures, or why it has none.
#[derive(Debug, Clone, Serialize)]
pub struct TileView {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub kind: TileKind,
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    pub request: MetricRequest,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "shared_option"
    )]
    pub result: Option<Arc<MetricResult>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Dashboard filters that do not apply: a metric of the tile may not be cut by them.
    pub filters_not_applied: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DashboardView {
    pub name: String,
    pub title: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub columns: u32,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// The newest day with data: where the default range ends.
    pub newest_date: Option<NaiveDate>,
    pub filters: Vec<FilterView>,
    pub tiles: Vec<TileView>,
    pub warehouse_version: String,
}

impl MetricsService {
    pub fn dashboards(&self) -> &[Dashboard] {
        &self.project().dashboards
    }

    pub fn dashboard(&self, name: &str) -> Result<&Dashboard> {
        self.project()
            .dashboard(name)
            .ok_or_else(|| MetricsError::UnknownDashboard(name.to_owned()))
    }

    /// The request a tile makes under the reader's filters, and the filters it cannot apply.
    pub fn tile_request(
        &self,
        dashboard: &Dashboard,
        tile: &Tile,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        filters: &DashboardFilters,
    ) -> (MetricRequest, Vec<String>) {
        let c = &tile.config;
        let mut applied = BTreeMap::new();
        let mut not_applied = Vec::new();
        for dimension in &dashboard.config.filters {
            let Some(values) = filters.values.get(dimension).filter(|v| !v.is_empty()) else {
                continue;
            };
            let allowed = c
                .metrics
                .iter()
                .all(|m| self.definitions().allowed_dimensions(m).contains(dimension));
            if allowed {
                applied.insert(dimension.clone(), values.clone());
            } else {
                not_applied.push(dimension.clone());
            }
        }
        let request = MetricRequest {
            metrics: c.metrics.clone(),
            dimensions: c.by.clone(),
            grain: c.grain,
            from,
            to,
            filters: applied,
            compare: c.kind == TileKind::Kpi,
            limit: c.limit,
        };
        (request, not_applied)
    }

    /// Runs every tile of a dashboard. A tile that fails shows its error; the others still show.
    pub async fn dashboard_view(
        &self,
        name: &str,
        filters: &DashboardFilters,
    ) -> Result<DashboardView> {
        let dashboard = self.dashboard(name)?;
        let (version, _) = self.layer().await?;
        let all_metrics: Vec<String> = dashboard
            .tiles
            .iter()
            .flat_map(|t| t.config.metrics.iter().cloned())
            .collect();
        let newest_date = self.newest_date(&all_metrics).await?;
        let to = filters.to.or(newest_date);
        let from = filters.from.or_else(|| {
            to.map(|t| t - chrono::Duration::days(i64::from(dashboard.config.default_days) - 1))
        });
        let mut filter_views = Vec::new();
        for dimension in &dashboard.config.filters {
            filter_views.push(FilterView {
                dimension: dimension.clone(),
                label: self.definitions().dimension_label(dimension),
                options: self.dimension_values(dimension).await?,
                selected: filters.values.get(dimension).cloned().unwrap_or_default(),
            });
        }
        let mut tiles = Vec::new();
        for tile in &dashboard.tiles {
            let (request, filters_not_applied) =
                self.tile_request(dashboard, tile, from, to, filters);
            let (result, error) = match self.query(&request).await {
                Ok(r) => (Some(r), None),
                Err(e) => (None, Some(e.to_string())),
            };
            let c = &tile.config;
            tiles.push(TileView {
                id: tile.id.clone(),
                title: c.title.clone(),
                description: c.description.clone(),
                kind: c.kind,
                x: c.x,
                y: c.y,
                w: c.w,
                h: c.h,
                request,
                result,
                error,
                filters_not_applied,
            });
        }
        Ok(DashboardView {
            name: dashboard.name.clone(),
            title: dashboard.config.title.clone(),
            description: dashboard.config.description.clone(),
            owner: dashboard.config.owner.clone(),
            columns: dashboard.config.columns,
            from,
            to,
            newest_date,
            filters: filter_views,
            tiles,
            warehouse_version: version,
        })
    }

    /// One tile's figures under the reader's filters (its CSV download).
    pub async fn tile_result(
        &self,
        name: &str,
        tile_id: &str,
        filters: &DashboardFilters,
    ) -> Result<Arc<MetricResult>> {
        let dashboard = self.dashboard(name)?;
        let tile = dashboard
            .tiles
            .iter()
            .find(|t| t.id == tile_id)
            .ok_or_else(|| {
                MetricsError::BadRequest(format!("dashboard `{name}` has no tile `{tile_id}`"))
            })?;
        let newest = self.newest_date(&tile.config.metrics).await?;
        let to = filters.to.or(newest);
        let from = filters.from.or_else(|| {
            to.map(|t| t - chrono::Duration::days(i64::from(dashboard.config.default_days) - 1))
        });
        let (request, _) = self.tile_request(dashboard, tile, from, to, filters);
        self.query(&request).await
    }
}
