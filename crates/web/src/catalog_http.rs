//! The catalog's pages and JSON API: each request takes the catalog service's current snapshot
//! (rebuilt first if the store changed), so a page and the API show the same data.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use maud::Markup;
use pulse_catalog::{
    CatalogService, CatalogSnapshot, Dataset, DatasetKind, Direction, Freshness, SchemaChange,
    SearchHit,
};
use serde::Serialize;

use crate::api::ApiError;
use crate::catalog::{self as view, DatasetView, dataset_url, lineage_api_url};
use crate::pages::{OrPage, PageError};
use crate::{App, WebError, params};

fn service(app: &App) -> Result<&CatalogService, WebError> {
    app.catalog.as_deref().ok_or(WebError::NoCatalog)
}

fn snapshot(app: &App) -> Result<Arc<CatalogSnapshot>, WebError> {
    Ok(service(app)?.snapshot())
}

/// `GET /catalog`.
pub async fn home(State(app): State<App>) -> Markup {
    match app.catalog.as_deref() {
        None => view::no_catalog_page(&app.project_name),
        Some(c) => view::home_page(&app.project_name, c.snapshot().catalog(), Utc::now()),
    }
}

/// `GET /catalog/search?q=&kind=&tag=`.
pub async fn search(State(app): State<App>, uri: Uri) -> Result<Markup, PageError> {
    let Some(c) = app.catalog.as_deref() else {
        return Ok(view::no_catalog_page(&app.project_name));
    };
    let query = params::catalog_search(uri.query()).or_catalog(&app)?;
    let snap = c.snapshot();
    let results = view::search(snap.catalog(), snap.index(), &query).or_catalog(&app)?;
    Ok(view::search_page(
        &app.project_name,
        snap.catalog(),
        &results,
    ))
}

/// `GET /catalog/datasets/{id}[?column=]`: a name that is not the id (`gmv`, `executive`) is
/// sent on to the id's page.
pub async fn dataset(
    State(app): State<App>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, PageError> {
    let snap = snapshot(&app).or_catalog(&app)?;
    let ds = snap.dataset(&id).or_catalog(&app)?;
    let column = params::lineage_column(uri.query());
    if ds.id != id {
        let mut to = dataset_url(&ds.id);
        if let Some(q) = uri.query() {
            to.push('?');
            to.push_str(q);
        }
        return Ok(Redirect::to(&to).into_response());
    }
    Ok(view::dataset_page(
        &app.project_name,
        &DatasetView {
            catalog: snap.catalog(),
            dataset: ds,
            history: snap.schema_history(&ds.id),
            column: column.as_deref(),
            depth: params::lineage_depth(uri.query()),
            now: Utc::now(),
        },
    )
    .into_response())
}

type ApiResult<T> = Result<T, ApiError>;

fn api_snapshot(app: &App) -> ApiResult<Arc<CatalogSnapshot>> {
    snapshot(app).map_err(ApiError)
}

#[derive(Serialize)]
struct HitJson<'a> {
    #[serde(flatten)]
    hit: &'a SearchHit,
    owner: Option<&'a str>,
    tags: &'a [String],
    url: String,
}

/// `GET /api/catalog/search?q=&kind=&tag=&limit=`.
pub async fn search_json(State(app): State<App>, uri: Uri) -> ApiResult<Json<serde_json::Value>> {
    let query = params::catalog_search(uri.query())?;
    let snap = api_snapshot(&app)?;
    let r = view::search(snap.catalog(), snap.index(), &query).map_err(WebError::from)?;
    let hits: Vec<HitJson<'_>> = r
        .hits
        .iter()
        .map(|h| {
            let ds = snap.catalog().dataset(&h.id);
            HitJson {
                hit: h,
                owner: ds.and_then(|d| d.owner.as_deref()),
                tags: ds.map(|d| d.tags.as_slice()).unwrap_or(&[]),
                url: dataset_url(&h.id),
            }
        })
        .collect();
    let tags: serde_json::Map<String, serde_json::Value> = r
        .tags
        .iter()
        .map(|(t, n)| (t.clone(), (*n).into()))
        .collect();
    Ok(Json(serde_json::json!({
        "query": r.query,
        "total": r.total,
        "hits": hits,
        "facets": { "kinds": r.kinds, "tags": tags },
    })))
}

#[derive(Serialize)]
struct SummaryJson<'a> {
    id: &'a str,
    kind: DatasetKind,
    name: &'a str,
    title: &'a str,
    description: Option<&'a str>,
    owner: Option<&'a str>,
    tags: &'a [String],
    row_count: Option<u64>,
    size_bytes: Option<u64>,
    last_updated: Option<DateTime<Utc>>,
    freshness: Option<Freshness>,
    url: String,
}

fn summary<'a>(snap: &'a CatalogSnapshot, ds: &'a Dataset, now: DateTime<Utc>) -> SummaryJson<'a> {
    let c = snap.catalog();
    SummaryJson {
        id: &ds.id,
        kind: ds.kind,
        name: &ds.name,
        title: ds.title(),
        description: ds.description.as_deref(),
        owner: ds.owner.as_deref(),
        tags: &ds.tags,
        row_count: ds.stats.as_ref().map(|s| s.row_count),
        size_bytes: ds.stats.as_ref().map(|s| s.size_bytes),
        last_updated: c.last_updated(&ds.id),
        freshness: c.freshness(&ds.id, now).ok(),
        url: dataset_url(&ds.id),
    }
}

/// `GET /api/catalog/datasets[?kind=]`: every dataset, in id order.
pub async fn datasets_json(State(app): State<App>, uri: Uri) -> ApiResult<Json<serde_json::Value>> {
    let kinds = params::catalog_kinds(uri.query())?;
    let snap = api_snapshot(&app)?;
    let now = Utc::now();
    let list: Vec<SummaryJson<'_>> = snap
        .catalog()
        .datasets()
        .filter(|d| kinds.is_empty() || kinds.contains(&d.kind))
        .map(|d| summary(&snap, d, now))
        .collect();
    Ok(Json(serde_json::json!({
        "project": snap.catalog().project_name(),
        "count": list.len(),
        "datasets": list,
    })))
}

#[derive(Serialize)]
struct DatasetJson<'a> {
    #[serde(flatten)]
    dataset: &'a Dataset,
    title: &'a str,
    last_updated: Option<DateTime<Utc>>,
    freshness: Option<Freshness>,
    schema_history: &'a [SchemaChange],
    /// The dashboards it reaches, directly or through metrics that combine it.
    dashboards: Vec<String>,
    url: String,
    lineage_url: String,
}

/// `GET /api/catalog/datasets/{id}`: everything the catalog knows about one dataset (by id or
/// name).
pub async fn dataset_json(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let snap = api_snapshot(&app)?;
    let c = snap.catalog();
    let ds = c.get(&id).map_err(WebError::from)?;
    let body = DatasetJson {
        dataset: ds,
        title: ds.title(),
        last_updated: c.last_updated(&ds.id),
        freshness: c.freshness(&ds.id, Utc::now()).ok(),
        schema_history: snap.schema_history(&ds.id),
        dashboards: c.dashboards_showing(&ds.id).unwrap_or_default(),
        url: dataset_url(&ds.id),
        lineage_url: lineage_api_url(&ds.id, None),
    };
    Ok(Json(body).into_response())
}

/// `GET /api/lineage/{id}?direction=upstream|downstream|both&column=`: the lineage graph as
/// the catalog answers it (nodes, edges, distances).
pub async fn lineage_json(
    State(app): State<App>,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<Response> {
    let (direction, column) = params::lineage_query(uri.query())?;
    let snap = api_snapshot(&app)?;
    let c = snap.catalog();
    let column = column.as_deref();
    let graph = match direction {
        Direction::Upstream => c.upstream(&id, column),
        Direction::Downstream => c.downstream(&id, column),
        Direction::Both => c.neighbourhood(&id, column),
    }
    .map_err(WebError::from)?;
    Ok(Json(graph).into_response())
}
