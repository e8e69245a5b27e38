//! The catalog's pages and API on the real example project (`examples/food-delivery`) with a
//! real catalog store in a temporary folder: the pages rendered as pure functions (snapshots of
//! the search results, a dataset page and a metric page), every route through the router,
//! reloading after the store changes, and escaping of what users write.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use pulse_catalog::{
    CatalogService, CatalogStore, ColumnProfile, FailedExpectation, QualitySummary, SearchQuery,
    TopValue,
};
use pulse_project::Project;
use pulse_web::catalog::{self, DatasetView};
use pulse_web::params;
use tempfile::TempDir;

use crate::server::{self, TestServer};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 time")
}

/// The clock of the rendered pages: four hours after the last build.
fn now() -> DateTime<Utc> {
    at("2026-03-02T06:30:00Z")
}

fn project() -> Project {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/food-delivery");
    Project::load(&dir).expect("the example project loads")
}

fn schema(fields: &[(&str, DataType, bool)]) -> Schema {
    Schema::new(
        fields
            .iter()
            .map(|(n, t, nullable)| Field::new(*n, t.clone(), *nullable))
            .collect::<Vec<_>>(),
    )
}

fn profile(column: &str, null_share: f64, distinct: u64, range: (&str, &str)) -> ColumnProfile {
    ColumnProfile {
        column: column.to_owned(),
        null_share,
        distinct_count: distinct,
        min: Some(range.0.to_owned()),
        max: Some(range.1.to_owned()),
        top_values: Vec::new(),
    }
}

/// A catalog store with what two daily runs reported: landings, builds of `fct_orders` (the
/// second adding a column and retyping one), its profile and its validation.
fn filled_store(dir: &TempDir) -> CatalogStore {
    let store = CatalogStore::open(dir.path().join("_catalog")).expect("the store opens");
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let orders_v1 = schema(&[
        ("order_id", DataType::Int64, false),
        ("order_date", DataType::Date32, false),
        ("placed_at", ts.clone(), false),
        ("city", DataType::Utf8, true),
        ("status", DataType::Utf8, false),
        ("gmv_cents", DataType::Int32, false),
    ]);
    let orders_v2 = schema(&[
        ("order_id", DataType::Int64, false),
        ("order_date", DataType::Date32, false),
        ("placed_at", ts, false),
        ("city", DataType::Utf8, true),
        ("status", DataType::Utf8, false),
        ("gmv_cents", DataType::Int64, false),
        ("end_to_end_minutes", DataType::Float64, true),
    ]);
    let landed = schema(&[
        ("order_id", DataType::Int64, false),
        ("customer_id", DataType::Int64, false),
        ("status", DataType::Utf8, false),
    ]);
    store
        .record_build(
            "raw:orders.orders",
            &landed,
            1_310,
            2_450_000,
            "run-1",
            at("2026-03-01T02:05:00Z"),
        )
        .expect("landing 1");
    store
        .record_build(
            "fct_orders",
            &orders_v1,
            1_298,
            3_900_000,
            "run-1",
            at("2026-03-01T02:30:00Z"),
        )
        .expect("build 1");
    store
        .record_build(
            "raw:orders.orders",
            &landed,
            1_402,
            2_610_000,
            "run-2",
            at("2026-03-02T02:05:00Z"),
        )
        .expect("landing 2");
    store
        .record_build(
            "fct_orders",
            &orders_v2,
            1_391,
            4_120_000,
            "run-2",
            at("2026-03-02T02:30:00Z"),
        )
        .expect("build 2");
    store
        .record_profile(
            "fct_orders",
            "run-2",
            at("2026-03-02T02:31:00Z"),
            1_391,
            vec![
                profile("order_id", 0.0, 1_391, ("1", "1391")),
                ColumnProfile {
                    top_values: vec![
                        TopValue {
                            value: "Berlin".into(),
                            count: 612,
                        },
                        TopValue {
                            value: "Hamburg".into(),
                            count: 401,
                        },
                        TopValue {
                            value: "München".into(),
                            count: 378,
                        },
                    ],
                    ..profile("city", 0.0, 3, ("Berlin", "München"))
                },
                profile("end_to_end_minutes", 0.082, 702, ("11.5", "96.25")),
            ],
        )
        .expect("profile");
    store
        .record_quality(
            "fct_orders",
            QualitySummary {
                run_id: "run-2".into(),
                at: at("2026-03-02T02:32:00Z"),
                passed: 4,
                failed: 1,
                quarantined_rows: 0,
                failures: vec![FailedExpectation {
                    expectation: "volume_change".into(),
                    severity: "warn".into(),
                    unexpected_count: None,
                }],
            },
        )
        .expect("quality");
    store
}

struct Fixture {
    _dir: TempDir,
    service: Arc<CatalogService>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = filled_store(&dir);
    let service = CatalogService::new(&project(), store).expect("the catalog loads");
    Fixture {
        _dir: dir,
        service: Arc::new(service),
    }
}

async fn serve(f: &Fixture) -> TestServer {
    server::start_with_catalog(None, 3, Some(f.service.clone())).await
}

/// One tag per line, so a snapshot diff points at the element that changed.
fn pretty(html: &str) -> String {
    html.replace("><", ">\n<")
}

/// The `data-hit` ids of a results page, in page order.
fn hit_ids(html: &str) -> Vec<String> {
    html.split("data-hit=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

fn dataset_html(f: &Fixture, id: &str, column: Option<&str>) -> String {
    let snap = f.service.snapshot();
    let ds = snap.dataset(id).expect("the dataset is in the catalog");
    catalog::dataset_page(
        "food_delivery",
        &DatasetView {
            catalog: snap.catalog(),
            dataset: ds,
            history: snap.schema_history(&ds.id),
            column,
            depth: None,
            now: now(),
        },
    )
    .into_string()
}

// ---------------------------------------------------------------------------------------------
// Pages as pure functions of the catalog

#[test]
fn search_results_page() {
    let f = fixture();
    let snap = f.service.snapshot();
    let results = catalog::search(
        snap.catalog(),
        snap.index(),
        &SearchQuery::text("delivery time"),
    )
    .expect("a search");
    let html = catalog::search_page("food_delivery", snap.catalog(), &results).into_string();
    let ids = hit_ids(&html);
    assert_eq!(
        ids.first().map(String::as_str),
        Some("metric:delivery_time_p50")
    );
    let expected: Vec<&str> = results.hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids, expected, "hits in rank order");
    assert!(html.contains("<mark>"), "matched words are highlighted");
    assert!(
        html.contains(r#"value="delivery time""#),
        "the query stays in the box"
    );
    assert!(html.contains(r#"data-facet-kind="metric""#));
    insta::assert_snapshot!(pretty(&html));
}

#[test]
fn dataset_page() {
    let f = fixture();
    let html = dataset_html(&f, "fct_orders", None);
    for needle in [
        r#"data-dataset="fct_orders" data-kind="model""#,
        "models/marts/fct_orders.toml",
        r#"href="/runs/run-2""#,
        r#"data-rows="1391""#,
        "4.1 MB",
        r#"data-freshness="fresh""#,
        r#"data-column="end_to_end_minutes""#,
        "8.2%",
        "München",
        "volume_change",
        r#"data-node="fct_orders""#,
        r#"data-node="metric:gmv""#,
        r#"data-node="raw:orders.orders""#,
        r#"href="/catalog/datasets/metric%3Agmv""#,
        "first schema, 6 columns",
        "end_to_end_minutes</code>",
        "Int32 → Int64",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    // Tiles fold into their dashboards on a model's page.
    assert!(!html.contains(r#"data-node="tile:"#));
    insta::assert_snapshot!(pretty(&html));
}

#[test]
fn metric_page() {
    let f = fixture();
    let html = dataset_html(&f, "metric:gmv", None);
    for needle in [
        r#"data-dataset="metric:gmv" data-kind="metric""#,
        "Gross merchandise value",
        "finance@fooddash.example",
        r#"id="metric-measure">sum of <code id="metric-expr">gmv_cents / 100.0</code>"#,
        r#"href="/catalog/datasets/fct_orders""#,
        "gmv_cents / 100.0",
        "order_date",
        "currency (EUR)",
        r#"id="metric-sql""#,
        r#"href="/dashboards/executive""#,
        r#"data-node="metric:gmv""#,
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    let snap = f.service.snapshot();
    let sql = snap
        .dataset("metric:gmv")
        .ok()
        .and_then(|d| d.metric())
        .and_then(|m| m.sql.clone())
        .expect("gmv compiles");
    assert!(html.contains(&maud::html! { (sql) }.into_string()));
    insta::assert_snapshot!(pretty(&html));
}

#[test]
fn column_lineage_is_drawn_for_a_chosen_column() {
    let f = fixture();
    let html = dataset_html(&f, "metric:gmv", Some("gmv"));
    assert!(html.contains(r#"data-column-level="true""#));
    assert!(html.contains(r#"data-node="metric:gmv#gmv""#));
    assert!(html.contains(r#"data-node="fct_orders#gmv_cents""#));
    assert!(html.contains(r#"<option value="gmv" selected>gmv</option>"#));
    assert!(html.contains(r#"href="/catalog/datasets/fct_orders?column=gmv_cents#lineage""#));

    // An unknown column says so and draws the dataset's lineage.
    let html = dataset_html(&f, "fct_orders", Some("no_such_column"));
    assert!(html.contains(r#"id="lineage-problem""#));
    assert!(html.contains("no known column `no_such_column`"));
    assert!(html.contains(r#"data-column-level="false""#));
}

#[test]
fn home_page_groups_every_dataset() {
    let f = fixture();
    let snap = f.service.snapshot();
    let html = catalog::home_page("food_delivery", snap.catalog(), now()).into_string();
    let total = snap.catalog().datasets().count();
    assert_eq!(html.matches("<tr data-dataset=").count(), total);
    for group in [
        "group-source-tables",
        "group-raw-landings",
        "group-quarantines",
        "group-models-staging",
        "group-models-intermediate",
        "group-models-marts",
        "group-metrics",
        "group-dashboards",
    ] {
        assert!(html.contains(&format!(r#"id="{group}""#)), "{group}");
    }
    // Built datasets show rows and freshness; the rest say they were never built.
    assert!(html.contains("1,391"));
    assert!(html.contains(r#"data-freshness="fresh""#));
    assert!(html.contains("never built"));
    assert!(html.contains(r#"<a href="/catalog" class="active">Catalog</a>"#));
    // A day later, yesterday's build is stale.
    let later = catalog::home_page("food_delivery", snap.catalog(), at("2026-03-04T12:00:00Z"))
        .into_string();
    assert!(later.contains(r#"data-freshness="stale""#));
}

#[test]
fn user_text_is_escaped() {
    let mut project = project();
    let nasty = r#"<script>alert("x")</script> & <b>bold</b>"#;
    let model = project
        .models
        .iter_mut()
        .find(|m| m.name == "fct_orders")
        .expect("fct_orders");
    model.config.description = Some(nasty.to_owned());
    model.config.owner = Some("<i>owner</i>".to_owned());
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = CatalogStore::open(dir.path()).expect("store");
    let service = CatalogService::new(&project, store).expect("the catalog loads");
    let snap = service.snapshot();
    let ds = snap.dataset("fct_orders").expect("fct_orders");
    let html = catalog::dataset_page(
        "food_delivery",
        &DatasetView {
            catalog: snap.catalog(),
            dataset: ds,
            history: &[],
            column: None,
            depth: None,
            now: now(),
        },
    )
    .into_string();
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("<b>bold</b>"));
    assert!(!html.contains("<i>owner</i>"));
    assert!(html.contains(
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"
    ));

    let results = catalog::search(snap.catalog(), snap.index(), &SearchQuery::text("bold"))
        .expect("a search");
    assert_eq!(
        results.hits.first().map(|h| h.id.as_str()),
        Some("fct_orders")
    );
    let html = catalog::search_page("food_delivery", snap.catalog(), &results).into_string();
    assert!(!html.contains("<b>bold</b>"));
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("<mark>bold</mark>"));
}

// ---------------------------------------------------------------------------------------------
// Routes

#[tokio::test]
async fn the_search_box_is_on_every_page() {
    let f = fixture();
    let s = serve(&f).await;
    for uri in [
        "/runs",
        "/dashboards",
        "/catalog",
        "/catalog/datasets/fct_orders",
    ] {
        let page = s.get(uri).await;
        assert_eq!(page.status, StatusCode::OK, "{uri}");
        assert!(
            page.body
                .contains(r#"<form class="site-search" id="site-search" method="get" action="/catalog/search" role="search">"#),
            "{uri}"
        );
        assert!(page.body.contains(r#"href="/catalog""#), "{uri}: nav");
    }
}

#[tokio::test]
async fn a_metric_search_lands_on_its_definition() {
    let f = fixture();
    let s = serve(&f).await;
    for (q, want) in [
        ("gmv", "metric:gmv"),
        ("delivery+time+p90", "metric:delivery_time_p90"),
        ("cancellation+rate", "metric:cancellation_rate"),
    ] {
        let page = s.get(&format!("/catalog/search?q={q}")).await;
        assert_eq!(page.status, StatusCode::OK, "{q}");
        let ids = hit_ids(&page.body);
        assert_eq!(ids.first().map(String::as_str), Some(want), "{q}");
        let link = format!(r#"href="{}""#, catalog::dataset_url(want));
        assert!(page.body.contains(&link), "{q}");
        let metric = s.get(&catalog::dataset_url(want)).await;
        assert_eq!(metric.status, StatusCode::OK, "{want}");
        assert!(metric.body.contains(r#"id="metric-sql""#), "{want}");
    }
}

#[tokio::test]
async fn search_filters_by_kind_and_tag() {
    let f = fixture();
    let s = serve(&f).await;
    let page = s.get("/catalog/search?q=orders&kind=model").await;
    assert_eq!(page.status, StatusCode::OK);
    let ids = hit_ids(&page.body);
    assert!(!ids.is_empty());
    let snap = f.service.snapshot();
    for id in &ids {
        let kind = snap.dataset(id).map(|d| d.kind.as_str()).unwrap_or("?");
        assert_eq!(kind, "model", "{id}");
    }
    // The kind's facet is on and links back to all kinds.
    assert!(page.body.contains(
        r#"<a class="facet on" href="/catalog/search?q=orders" data-facet-kind="model" aria-pressed="true">"#
    ));

    let tagged = s.get("/catalog/search?tag=pii").await;
    let ids = hit_ids(&tagged.body);
    assert!(ids.iter().any(|id| id == "dim_customers"), "{ids:?}");
    for id in &ids {
        let tags = snap.dataset(id).map(|d| d.tags.clone()).unwrap_or_default();
        assert!(tags.iter().any(|t| t.eq_ignore_ascii_case("pii")), "{id}");
    }

    let all_metrics = s.get("/catalog/search?kind=metric&limit=500").await;
    let n = snap
        .catalog()
        .datasets()
        .filter(|d| d.kind.as_str() == "metric")
        .count();
    assert_eq!(hit_ids(&all_metrics.body).len(), n);

    let bad = s.get("/catalog/search?q=x&kind=table").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("kind must be one of"));
}

#[tokio::test]
async fn a_search_without_hits_says_so() {
    let f = fixture();
    let s = serve(&f).await;
    let page = s.get("/catalog/search?q=xylophone+zeppelin").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(hit_ids(&page.body).is_empty());
    assert!(page.body.contains(r#"id="no-hits""#));
    assert!(page.body.contains(r#"data-total="0""#));

    let api = s.get("/api/catalog/search?q=xylophone+zeppelin").await;
    assert_eq!(api.status, StatusCode::OK);
    assert_eq!(api.json()["total"], 0);
    assert_eq!(api.json()["hits"], serde_json::json!([]));
}

#[tokio::test]
async fn the_search_query_is_escaped() {
    let f = fixture();
    let s = serve(&f).await;
    let page = s
        .get("/catalog/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E+%22orders%22")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("<script>alert"));
    assert!(
        page.body
            .contains("&lt;script&gt;alert(1)&lt;/script&gt; &quot;orders&quot;")
    );
}

#[tokio::test]
async fn the_catalog_home_lists_every_dataset() {
    let f = fixture();
    let s = serve(&f).await;
    let page = s.get("/catalog").await;
    assert_eq!(page.status, StatusCode::OK);
    let total = f.service.snapshot().catalog().datasets().count();
    assert_eq!(page.body.matches("<tr data-dataset=").count(), total);
    assert!(page.body.contains(r#"<li data-kind="metric" data-count=""#));
}

#[tokio::test]
async fn dataset_pages_by_id_and_by_name() {
    let f = fixture();
    let s = serve(&f).await;
    for uri in [
        "/catalog/datasets/fct_orders",
        "/catalog/datasets/raw%3Aorders.orders",
        "/catalog/datasets/orders.orders",
        "/catalog/datasets/quarantine%3Apayments.payments",
        "/catalog/datasets/dashboard%3Aexecutive",
        "/catalog/datasets/metric%3Agmv?column=gmv",
    ] {
        let page = s.get(uri).await;
        assert_eq!(page.status, StatusCode::OK, "{uri}");
        assert!(page.body.contains(r#"id="lineage-graph""#), "{uri}");
    }
    let by_name = s.get("/catalog/datasets/gmv?column=gmv").await;
    assert!(by_name.status.is_redirection());
    assert_eq!(
        by_name.location(),
        "/catalog/datasets/metric%3Agmv?column=gmv"
    );

    // A source table shows what its last landing reported.
    let source = s.get("/catalog/datasets/orders.orders").await.body;
    assert!(source.contains(r#"data-rows="1402""#));
    assert!(source.contains("by its last landing"));

    // A depth keeps the graph to the nearest hops.
    let near = s.get("/catalog/datasets/fct_orders?depth=1").await.body;
    assert!(near.contains(r#"data-node="stg_orders__orders""#));
    assert!(near.contains(r#"data-node="metric:gmv""#));
    assert!(!near.contains(r#"data-node="orders.orders""#));
    assert!(!near.contains(r#"data-node="dashboard:executive""#));
    assert!(near.contains(r#"<option value="1" selected>1</option>"#));
    let all = s.get("/catalog/datasets/fct_orders").await.body;
    assert!(all.contains(r#"data-node="orders.orders""#));
    assert!(all.contains(r#"data-node="dashboard:executive""#));

    let missing = s.get("/catalog/datasets/no_such_table").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("no dataset `no_such_table`"));
    assert!(missing.body.contains("Back to the catalog"));
}

#[tokio::test]
async fn the_json_api() {
    let f = fixture();
    let s = serve(&f).await;

    let search = s.get("/api/catalog/search?q=gmv&limit=5").await;
    assert_eq!(search.status, StatusCode::OK);
    let body = search.json();
    assert_eq!(body["hits"][0]["id"], "metric:gmv");
    assert_eq!(body["hits"][0]["url"], "/catalog/datasets/metric%3Agmv");
    assert_eq!(body["hits"][0]["owner"], "finance@fooddash.example");
    assert!(body["hits"].as_array().is_some_and(|h| h.len() <= 5));
    assert!(
        body["facets"]["kinds"]["metric"]
            .as_u64()
            .is_some_and(|n| n >= 1)
    );

    let list = s.get("/api/catalog/datasets").await.json();
    let total = f.service.snapshot().catalog().datasets().count();
    assert_eq!(list["count"], total);
    let fct = list["datasets"]
        .as_array()
        .and_then(|l| l.iter().find(|d| d["id"] == "fct_orders"))
        .cloned()
        .expect("fct_orders is listed");
    assert_eq!(fct["row_count"], 1391);
    assert_eq!(fct["last_updated"], "2026-03-02T02:30:00Z");
    let metrics = s.get("/api/catalog/datasets?kind=metric").await.json();
    assert!(
        metrics["datasets"]
            .as_array()
            .is_some_and(|l| !l.is_empty() && l.iter().all(|d| d["kind"] == "metric"))
    );

    let one = s.get("/api/catalog/datasets/fct_orders").await;
    assert_eq!(one.status, StatusCode::OK);
    let one = one.json();
    assert_eq!(one["id"], "fct_orders");
    assert_eq!(one["stats"]["last_run_id"], "run-2");
    assert_eq!(one["schema_history"].as_array().map(Vec::len), Some(2));
    assert_eq!(one["details"]["type"], "model");
    let gmv = s.get("/api/catalog/datasets/gmv").await.json();
    assert_eq!(gmv["id"], "metric:gmv");
    assert!(gmv["details"]["sql"].is_string());
    assert!(
        gmv["dashboards"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "executive"))
    );

    let missing = s.get("/api/catalog/datasets/no_such_table").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.json()["error"].is_string());
}

fn node_ids(graph: &serde_json::Value) -> Vec<String> {
    graph["nodes"]
        .as_array()
        .map(|n| {
            n.iter()
                .filter_map(|x| x["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_lineage_api() {
    let f = fixture();
    let s = serve(&f).await;
    let up = s.get("/api/lineage/fct_orders?direction=upstream").await;
    assert_eq!(up.status, StatusCode::OK);
    let up = up.json();
    assert_eq!(up["start"], "fct_orders");
    assert_eq!(up["direction"], "upstream");
    let ids = node_ids(&up);
    assert!(ids.contains(&"orders.orders".to_owned()), "{ids:?}");
    assert!(ids.contains(&"raw:orders.orders".to_owned()));
    assert!(!ids.iter().any(|id| id.starts_with("metric:")));

    let down = s
        .get("/api/lineage/fct_orders?direction=downstream")
        .await
        .json();
    let ids = node_ids(&down);
    assert!(ids.contains(&"metric:gmv".to_owned()));
    assert!(ids.contains(&"dashboard:executive".to_owned()));
    assert!(!ids.contains(&"orders.orders".to_owned()));

    let both = s.get("/api/lineage/gmv").await.json();
    assert_eq!(both["direction"], "both");
    assert_eq!(both["start"], "metric:gmv");

    let column = s
        .get("/api/lineage/metric%3Agmv?direction=upstream&column=gmv")
        .await
        .json();
    assert_eq!(column["column_level"], true);
    assert!(node_ids(&column).contains(&"fct_orders#gmv_cents".to_owned()));

    for (uri, status) in [
        (
            "/api/lineage/fct_orders?direction=sideways",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/lineage/fct_orders?colum=x", StatusCode::BAD_REQUEST),
        (
            "/api/lineage/fct_orders?column=no_such_column",
            StatusCode::NOT_FOUND,
        ),
        ("/api/lineage/no_such_table", StatusCode::NOT_FOUND),
    ] {
        let reply = s.get(uri).await;
        assert_eq!(reply.status, status, "{uri}");
        assert!(reply.json()["error"].is_string(), "{uri}");
    }
}

#[tokio::test]
async fn pages_and_api_follow_the_store() {
    let f = fixture();
    let s = serve(&f).await;
    let before = s.get("/api/catalog/datasets/dim_customers").await.json();
    assert!(before["stats"].is_null());
    let page = s.get("/catalog/datasets/dim_customers").await.body;
    assert!(page.contains("no run has built it yet"));

    f.service
        .store()
        .record_build(
            "dim_customers",
            &schema(&[("customer_id", DataType::Int64, false)]),
            4_321,
            98_765,
            "run-3",
            at("2026-03-03T02:30:00Z"),
        )
        .expect("a build");
    let after = s.get("/api/catalog/datasets/dim_customers").await.json();
    assert_eq!(after["stats"]["row_count"], 4321);
    let page = s.get("/catalog/datasets/dim_customers").await.body;
    assert!(page.contains(r#"data-rows="4321""#));
    assert!(page.contains(r#"href="/runs/run-3""#));
}

#[tokio::test]
async fn without_a_catalog_the_pages_and_api_say_so() {
    let s = server::start(None, 3).await;
    for uri in ["/catalog", "/catalog/search?q=gmv"] {
        let page = s.get(uri).await;
        assert_eq!(page.status, StatusCode::OK, "{uri}");
        assert!(page.body.contains(r#"id="no-catalog""#), "{uri}");
    }
    let page = s.get("/catalog/datasets/fct_orders").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("no catalog is configured"));
    for uri in [
        "/api/catalog/search?q=gmv",
        "/api/catalog/datasets",
        "/api/catalog/datasets/fct_orders",
        "/api/lineage/fct_orders",
    ] {
        let reply = s.get(uri).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(
            reply.json()["error"]
                .as_str()
                .is_some_and(|e| e.contains("no catalog is configured")),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn the_stylesheet_colours_catalog_kinds() {
    let s = server::start(None, 3).await;
    let css = s.get("/static/pulse.css").await.body;
    assert!(css.contains("svg.lineage-graph .k-metric rect { fill: #fff4d6; }"));
    assert!(css.contains(".kind-badge.k-model"));
    assert!(css.contains("form.site-search"));
}

// ---------------------------------------------------------------------------------------------
// Query strings

#[test]
fn catalog_query_strings() {
    let q = params::catalog_search(Some(
        "q=delivery+time&kind=metric&kind=model%2Cmetric&tag=PII&tag=core&other=1",
    ))
    .expect("parses");
    assert_eq!(q.text, "delivery time");
    assert_eq!(
        q.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        ["metric", "model"]
    );
    assert_eq!(q.tags, ["pii", "core"]);
    assert!(params::catalog_search(Some("limit=0")).is_err());
    assert!(params::catalog_search(Some("kind=tables")).is_err());

    assert_eq!(
        catalog::search_url("delivery time", &q.kinds, &q.tags),
        "/catalog/search?q=delivery+time&kind=metric&kind=model&tag=pii&tag=core"
    );
    assert_eq!(
        params::lineage_column(Some("column=&x=1")),
        None,
        "an empty column is the whole dataset"
    );
    assert_eq!(
        params::lineage_column(Some("column=gmv_cents")).as_deref(),
        Some("gmv_cents")
    );
    let (direction, column) =
        params::lineage_query(Some("direction=downstream&column=city")).expect("parses");
    assert_eq!(direction, pulse_catalog::Direction::Downstream);
    assert_eq!(column.as_deref(), Some("city"));
}
