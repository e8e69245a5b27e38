//! The dashboard pages from a hand-made `DashboardView` (every tile kind, an error tile, a tile
//! some filters do not apply to), the routes without a metrics service, and the query strings.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::{StatusCode, header};
use chrono::NaiveDate;
use pulse_metrics::{
    ColumnRole, DashboardView, FilterView, MetricRequest, MetricResult, ResultColumn, TileView,
};
use pulse_project::{Grain, TileKind, ValueFormat};
use pulse_web::dashboards::{self, DashboardSummary};
use pulse_web::params;
use serde_json::{Value, json};

use crate::server;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, d).expect("a valid date")
}

fn col(name: &str, label: &str, role: ColumnRole, format: ValueFormat) -> ResultColumn {
    ResultColumn {
        name: name.to_owned(),
        label: label.to_owned(),
        role,
        metric: match role {
            ColumnRole::Period | ColumnRole::Dimension => None,
            _ => Some(name.split("__").next().unwrap_or(name).to_owned()),
        },
        format,
        unit: None,
        decimals: None,
    }
}

fn unit(mut c: ResultColumn, unit: &str) -> ResultColumn {
    c.unit = Some(unit.to_owned());
    c
}

fn decimals(mut c: ResultColumn, d: u8) -> ResultColumn {
    c.decimals = Some(d);
    c
}

fn result(req: MetricRequest, columns: Vec<ResultColumn>, rows: Vec<Vec<Value>>) -> MetricResult {
    MetricResult {
        previous_range: req.compare.then(|| {
            (
                day(1) - chrono::Duration::days(28),
                day(1) - chrono::Duration::days(1),
            )
        }),
        request: req,
        columns,
        rows,
        sql: "select 1".to_owned(),
        warehouse_version: "v1".to_owned(),
        query_ms: 1.5,
    }
}

fn request(metrics: &[&str], by: &[&str], grain: Option<Grain>, compare: bool) -> MetricRequest {
    MetricRequest {
        metrics: metrics.iter().map(|s| (*s).to_owned()).collect(),
        dimensions: by.iter().map(|s| (*s).to_owned()).collect(),
        grain,
        from: Some(day(1)),
        to: Some(day(28)),
        filters: BTreeMap::new(),
        compare,
        limit: None,
    }
}

struct TileSpec {
    id: &'static str,
    title: &'static str,
    kind: TileKind,
    pos: (u32, u32, u32, u32),
}

fn tile(spec: TileSpec, r: Option<MetricResult>, error: Option<&str>) -> TileView {
    let (x, y, w, h) = spec.pos;
    TileView {
        id: spec.id.to_owned(),
        title: spec.title.to_owned(),
        description: None,
        kind: spec.kind,
        x,
        y,
        w,
        h,
        request: r.as_ref().map(|r| r.request.clone()).unwrap_or_default(),
        result: r.map(Arc::new),
        error: error.map(str::to_owned),
        filters_not_applied: Vec::new(),
    }
}

/// A city name with every character HTML treats specially.
const NASTY: &str = r#"<b>Köln & "Süd"</b>"#;

fn view() -> DashboardView {
    use ColumnRole::*;
    use ValueFormat::*;
    let gmv = |name: &str, label: &str, role| unit(col(name, label, role, Currency), "EUR");
    let minutes = |name: &str, label: &str| unit(col(name, label, Metric, Duration), "minutes");

    let kpi_gmv = result(
        request(&["gmv"], &[], None, true),
        vec![
            gmv("gmv", "GMV", Metric),
            gmv("gmv__previous", "GMV (previous period)", Previous),
            decimals(col("gmv__change", "GMV change", Change, Percent), 1),
        ],
        vec![vec![json!(123456.78), json!(100000.0), json!(0.2345678)]],
    );
    let kpi_orders = result(
        request(&["orders"], &[], None, true),
        vec![
            col("orders", "Orders", Metric, Integer),
            col(
                "orders__previous",
                "Orders (previous period)",
                Previous,
                Integer,
            ),
            decimals(col("orders__change", "Orders change", Change, Percent), 1),
        ],
        vec![vec![json!(1234.0), json!(1300.0), json!(-0.05076923)]],
    );
    let series = result(
        request(&["orders"], &["city"], Some(Grain::Day), false),
        vec![
            col("period", "Day", Period, Number),
            col("city", "City", Dimension, Number),
            col("orders", "Orders", Metric, Integer),
        ],
        vec![
            vec![json!("2026-01-01"), json!("Berlin"), json!(1200.0)],
            vec![json!("2026-01-01"), json!(NASTY), json!(310.0)],
            vec![json!("2026-01-02"), json!("Berlin"), json!(1350.0)],
            vec![json!("2026-01-02"), json!(NASTY), Value::Null],
            vec![json!("2026-01-03"), json!("Berlin"), json!(1298.0)],
            vec![json!("2026-01-03"), json!(NASTY), json!(287.0)],
        ],
    );
    let bars = result(
        request(&["gmv"], &["city"], None, false),
        vec![
            col("city", "City", Dimension, Number),
            gmv("gmv", "GMV", Metric),
        ],
        vec![
            vec![json!("Berlin"), json!(54321.5)],
            vec![json!("München"), json!(43210.25)],
            vec![json!(NASTY), json!(9876.0)],
        ],
    );
    let stages = result(
        request(&["accept_time", "drive_time"], &["vehicle"], None, false),
        vec![
            col("vehicle", "Vehicle", Dimension, Number),
            minutes("accept_time", "Accept time"),
            minutes("drive_time", "Drive time"),
        ],
        vec![
            vec![json!("bike"), json!(2.5), json!(14.25)],
            vec![json!("car"), json!(3.0), json!(18.0)],
        ],
    );
    let funnel = result(
        request(&["campaign_funnel"], &[], None, false),
        vec![
            col("campaign_funnel__sessions", "Sessions", Step, Integer),
            col("campaign_funnel__carts", "Added to cart", Step, Integer),
            decimals(
                col(
                    "campaign_funnel__carts__conversion",
                    "Added to cart conversion",
                    Conversion,
                    Percent,
                ),
                1,
            ),
            col("campaign_funnel__purchases", "Purchased", Step, Integer),
            decimals(
                col(
                    "campaign_funnel__purchases__conversion",
                    "Purchased conversion",
                    Conversion,
                    Percent,
                ),
                1,
            ),
        ],
        vec![vec![
            json!(20000.0),
            json!(5000.0),
            json!(0.25),
            json!(1234.0),
            json!(0.2468),
        ]],
    );
    let funnel_by = result(
        request(&["campaign_funnel"], &["channel"], None, false),
        vec![
            col("channel", "Channel", Dimension, Number),
            col("campaign_funnel__sessions", "Sessions", Step, Integer),
            col("campaign_funnel__carts", "Added to cart", Step, Integer),
            decimals(
                col(
                    "campaign_funnel__carts__conversion",
                    "Added to cart conversion",
                    Conversion,
                    Percent,
                ),
                1,
            ),
        ],
        vec![
            vec![json!("cpc"), json!(12000.0), json!(3000.0), json!(0.25)],
            vec![json!("email"), json!(8000.0), json!(2400.0), json!(0.3)],
        ],
    );
    let table = result(
        request(
            &["orders", "gmv", "cancellation_rate", "delivery_time_p50"],
            &["city"],
            None,
            false,
        ),
        vec![
            col("city", "City", Dimension, Number),
            col("orders", "Orders", Metric, Integer),
            gmv("gmv", "GMV", Metric),
            col("cancellation_rate", "Cancellation rate", Metric, Percent),
            minutes("delivery_time_p50", "Delivery time (median)"),
        ],
        vec![
            vec![
                json!("Berlin"),
                json!(1234567.0),
                json!(1234.5),
                json!(0.123),
                json!(32.5),
            ],
            vec![
                json!(NASTY),
                json!(987.0),
                json!(12.0),
                json!(0.05),
                Value::Null,
            ],
        ],
    );
    let heat = result(
        request(&["orders"], &["weekday", "order_hour"], None, false),
        vec![
            col("weekday", "Weekday", Dimension, Number),
            col("order_hour", "Order hour", Dimension, Number),
            col("orders", "Orders", Metric, Integer),
        ],
        vec![
            vec![json!("1 Mon"), json!(11.0), json!(40.0)],
            vec![json!("1 Mon"), json!(12.0), json!(95.0)],
            vec![json!("2 Tue"), json!(9.0), json!(12.0)],
            vec![json!("2 Tue"), json!(12.0), json!(120.0)],
        ],
    );
    let spec = |id, title, kind, pos| TileSpec {
        id,
        title,
        kind,
        pos,
    };
    let mut tiles = vec![
        tile(
            spec("gmv", "GMV", TileKind::Kpi, (0, 0, 3, 1)),
            Some(kpi_gmv),
            None,
        ),
        tile(
            spec("orders", "Orders", TileKind::Kpi, (3, 0, 3, 1)),
            Some(kpi_orders),
            None,
        ),
        tile(
            spec("broken", "Broken tile", TileKind::Kpi, (6, 0, 6, 1)),
            None,
            Some("the warehouse failed the query: table fct_orders not found\n  query: select <1>"),
        ),
        tile(
            spec(
                "orders-per-day",
                "Orders per day",
                TileKind::TimeSeries,
                (0, 1, 6, 2),
            ),
            Some(series),
            None,
        ),
        tile(
            spec("gmv-by-city", "GMV by city", TileKind::Bar, (6, 1, 6, 2)),
            Some(bars),
            None,
        ),
        tile(
            spec("stages", "Where the time goes", TileKind::Bar, (0, 3, 4, 2)),
            Some(stages),
            None,
        ),
        tile(
            spec("funnel", "Campaign funnel", TileKind::Funnel, (4, 3, 4, 2)),
            Some(funnel),
            None,
        ),
        tile(
            spec(
                "funnel-by-channel",
                "Funnel by channel",
                TileKind::Funnel,
                (8, 3, 4, 2),
            ),
            Some(funnel_by),
            None,
        ),
        tile(
            spec("cities", "Cities", TileKind::Table, (0, 5, 12, 2)),
            Some(table),
            None,
        ),
        tile(
            spec(
                "orders-by-hour",
                "When customers order",
                TileKind::Heatmap,
                (0, 7, 12, 2),
            ),
            Some(heat),
            None,
        ),
    ];
    tiles[6].filters_not_applied = vec!["city".to_owned()];
    tiles[6].description = Some("Sessions reaching each step.".to_owned());
    DashboardView {
        name: "executive".to_owned(),
        title: "Executive overview".to_owned(),
        description: Some("Orders & money at a glance.".to_owned()),
        owner: Some("analytics@fooddash.example".to_owned()),
        columns: 12,
        from: Some(day(1)),
        to: Some(day(28)),
        newest_date: Some(day(28)),
        filters: vec![FilterView {
            dimension: "city".to_owned(),
            label: "City".to_owned(),
            options: Arc::new(vec![
                "Berlin".to_owned(),
                "München".to_owned(),
                NASTY.to_owned(),
            ]),
            selected: vec!["Berlin".to_owned(), NASTY.to_owned()],
        }],
        tiles,
        warehouse_version: "v1".to_owned(),
    }
}

/// The value of `attr="…"` in `tag`, unescaped.
fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')?;
    Some(
        tag[start..start + end]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// Every opening tag of the page, with the tile it sits in.
fn tags_by_tile(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for piece in html.split('<').skip(1) {
        let tag = piece.split('>').next().unwrap_or("");
        if tag.starts_with("section ") && tag.contains("class=\"tile ") {
            current = attr(tag, "data-tile").expect("a tile has data-tile");
        }
        out.push((current.clone(), format!(" {tag}")));
    }
    out
}

fn html() -> String {
    dashboards::dashboard_page("food-delivery", &view()).into_string()
}

#[test]
fn dashboard_page_snapshot() {
    insta::assert_snapshot!(pretty(&html()));
}

#[test]
fn every_tile_renders_or_says_why_not() {
    let html = html();
    let v = view();
    for t in &v.tiles {
        let tag_start = html
            .find(&format!("data-tile=\"{}\"", t.id))
            .expect("every tile is on the page");
        let open = &html[html[..tag_start].rfind('<').expect("a tag")..];
        let open = &open[..open.find('>').expect("the tag ends")];
        assert!(open.contains("class=\"tile "), "{open}");
        assert!(
            open.contains(&format!("data-kind=\"{}\"", t.kind.as_str())),
            "{open}"
        );
        if t.id == "broken" {
            assert!(open.contains("data-error=\"true\""), "{open}");
            assert!(!open.contains("data-rendered"), "{open}");
        } else {
            assert!(open.contains("data-rendered=\"true\""), "{open}");
            assert!(!open.contains("data-error"), "{open}");
        }
    }
    // The error reads as a sentence, the SQL behind a disclosure; the page goes on after it.
    assert!(html.contains("Could not load this tile."));
    assert!(html.contains("table fct_orders not found"));
    assert!(html.contains("query: select &lt;1&gt;"));
    assert!(html.contains("Not filtered by city"));
    assert!(html.contains("data-not-filtered=\"city\""));
}

#[test]
fn every_figure_carries_its_raw_value() {
    let html = html();
    let v = view();
    let mut checked = 0;
    let mut per_tile: BTreeMap<String, usize> = BTreeMap::new();
    for (tile_id, tag) in tags_by_tile(&html) {
        let Some(metric) = attr(&tag, "data-metric") else {
            continue;
        };
        let t = v
            .tiles
            .iter()
            .find(|t| t.id == tile_id)
            .expect("figures sit in tiles");
        let r = t.result.as_ref().expect("a tile with figures has a result");
        let value = attr(&tag, "data-value").expect("a figure has data-value");
        let row: usize = attr(&tag, "data-row")
            .expect("a figure has data-row")
            .parse()
            .expect("data-row is an index");
        let c = r
            .column_index(&metric)
            .expect("data-metric names a result column");
        assert_eq!(
            value,
            r.rows[row][c].to_string(),
            "{tile_id} {metric} row {row}"
        );
        checked += 1;
        *per_tile.entry(tile_id).or_default() += 1;
    }
    assert!(checked > 50, "{checked}");
    for t in v.tiles.iter().filter(|t| t.result.is_some()) {
        assert!(
            per_tile.get(&t.id).copied().unwrap_or(0) > 0,
            "tile {} shows no figure",
            t.id
        );
    }
    // A missing value says so rather than drawing a zero.
    assert!(html.contains("data-metric=\"delivery_time_p50\" data-value=\"null\" data-row=\"1\""));
}

#[test]
fn figures_are_formatted_by_their_format() {
    let html = html();
    // KPI: big figure shortened above 99,999, exact in the tooltip; change with sign and arrow.
    assert!(html.contains(">€123k<"));
    assert!(html.contains("GMV: €123,456.78"));
    assert!(html.contains("+23.5%"));
    assert!(html.contains("kpi-change up"));
    assert!(html.contains("kpi-change down"));
    assert!(html.contains("-5.1%"));
    assert!(html.contains("vs €100k"));
    assert!(html.contains("vs 1,300"));
    // Table: integers with separators, money, percent, duration; numbers right-aligned.
    assert!(html.contains(">1,234,567<"));
    assert!(html.contains(">€1,234.50<"));
    assert!(html.contains(">12.3%<"));
    assert!(html.contains(">32.5 min<"));
    assert!(html.contains("<td class=\"num\" data-metric=\"orders\""));
    // Funnel: counts and step conversion.
    assert!(html.contains(">20,000<"));
    assert!(html.contains("25.0% of previous step"));
    assert!(html.contains("24.7% of previous step"));
    // Units in the axis titles.
    assert!(html.contains("GMV (EUR)"));
    assert!(html.contains("minutes"));
}

#[test]
fn charts_have_tooltips_axes_and_legends() {
    let html = html();
    assert!(html.matches("<svg").count() >= 6);
    assert!(html.matches("<title>").count() > 30);
    assert!(html.contains("<title>Berlin · 2 Jan 2026: 1,350</title>"));
    // The time axis shows dates; two cities make two lines and a legend.
    assert!(html.contains(">1 Jan<"));
    assert_eq!(html.matches("<polyline").count(), 2);
    assert!(html.contains("class=\"chart-legend\""));
    // The heatmap sorts hours numerically and shows the value in the tooltip.
    let nine = html.find(">9<").expect("hour 9 is a column");
    let twelve = html.find(">12<").expect("hour 12 is a column");
    assert!(nine < twelve);
    assert!(html.contains("Weekday 2 Tue · Order hour 12: Orders 120"));
    assert!(html.contains("Weekday 2 Tue · Order hour 11: no data"));
    // Tiles sit on the grid by class (no inline style: the CSP forbids it).
    assert!(html.contains("class=\"dash-grid cols-12\""));
    assert!(html.contains("tile kind-time_series gx-1 gw-6 gy-2 gh-2"));
    assert!(!html.contains("style="));
}

#[test]
fn special_characters_are_escaped_everywhere() {
    let html = html();
    assert!(!html.contains(NASTY));
    assert!(!html.contains("<b>"));
    assert!(html.contains("&lt;b&gt;Köln &amp; &quot;Süd&quot;&lt;/b&gt;"));
    // In the CSV links too, percent-encoded.
    assert!(html.contains("f.city=%3Cb%3EK%C3%B6ln+%26+%22S%C3%BCd%22%3C%2Fb%3E"));
}

#[test]
fn the_filter_form_keeps_the_choice() {
    let html = html();
    assert!(html.contains(
        r#"<form class="filters" id="filters" method="get" action="/dashboards/executive">"#
    ));
    assert!(html.contains(r#"name="from" value="2026-01-01""#));
    assert!(html.contains(r#"name="to" value="2026-01-28""#));
    assert!(html.contains(r#"name="f.city" multiple"#));
    assert!(html.contains(r#"<option value="Berlin" selected>Berlin</option>"#));
    assert!(html.contains(r#"<option value="München">München</option>"#));
    assert!(html.contains("data up to 28 Jan 2026"));
    assert!(html.contains("1 – 28 Jan 2026"));
    assert!(html.contains(
        r#"href="/dashboards/executive/tiles/gmv-by-city.csv?from=2026-01-01&amp;to=2026-01-28&amp;f.city=Berlin&amp;f.city="#
    ));
    // No CSV for a tile without figures.
    assert!(!html.contains("tiles/broken.csv"));
}

#[test]
fn empty_results_say_so() {
    let mut v = view();
    for t in &mut v.tiles {
        if let Some(r) = &t.result {
            let mut r = (**r).clone();
            r.rows.clear();
            t.result = Some(Arc::new(r));
        }
    }
    let html = dashboards::dashboard_page("food-delivery", &v).into_string();
    assert_eq!(
        html.matches("No data for this range and these filters.")
            .count(),
        9
    );
}

#[test]
fn dashboards_list_links_each_one() {
    let html = dashboards::dashboards_page(
        "food-delivery",
        &[
            DashboardSummary {
                name: "executive".to_owned(),
                title: "Executive overview".to_owned(),
                description: Some("At a glance.".to_owned()),
                owner: Some("analytics@fooddash.example".to_owned()),
                tiles: 11,
            },
            DashboardSummary {
                name: "a b".to_owned(),
                title: "Spaced".to_owned(),
                description: None,
                owner: None,
                tiles: 1,
            },
        ],
    )
    .into_string();
    assert!(html.contains(r#"href="/dashboards/executive""#));
    assert!(html.contains(r#"href="/dashboards/a%20b""#));
    assert!(html.contains("11 tiles · owner analytics@fooddash.example"));
    assert!(html.contains(">1 tile<"));
    assert!(html.contains(r#"<a href="/dashboards" class="active">Dashboards</a>"#));
}

// ---------------------------------------------------------------------------------------------
// Routes without a metrics service

#[tokio::test]
async fn without_metrics_the_pages_say_so() {
    let s = server::start(None, 3).await;
    let list = s.get("/dashboards").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("No metrics are configured"));
    assert!(list.body.contains(r#"href="/dashboards""#));

    let runs = s.get("/runs").await;
    assert!(
        runs.body
            .contains(r#"<a href="/dashboards">Dashboards</a>"#)
    );

    for uri in [
        "/dashboards/executive",
        "/dashboards/executive/tiles/gmv.csv?from=2026-01-01",
    ] {
        let reply = s.get(uri).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(reply.body.contains("no metrics are configured"), "{uri}");
        assert!(reply.body.contains("Back to the dashboards"), "{uri}");
    }
}

#[tokio::test]
async fn without_metrics_the_api_answers_404_in_json() {
    let s = server::start(None, 3).await;
    for uri in [
        "/api/metrics",
        "/api/metrics/query?metrics=orders",
        "/api/dashboards",
        "/api/dashboards/executive?f.city=Berlin",
    ] {
        let reply = s.get(uri).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        let error = reply.json()["error"].as_str().expect("an error").to_owned();
        assert!(
            error.contains("no metrics are configured"),
            "{uri}: {error}"
        );
    }
    let posted = s
        .post_json("/api/metrics/query", r#"{"metrics": ["orders"]}"#)
        .await;
    assert_eq!(posted.status, StatusCode::NOT_FOUND);
    assert!(posted.json()["error"].is_string());
}

#[tokio::test]
async fn the_stylesheet_places_tiles_and_colours_legends() {
    let s = server::start(None, 3).await;
    let css = s.get("/static/pulse.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(
        css.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("text/css; charset=utf-8")
    );
    assert!(
        css.body
            .contains(".cols-12 { grid-template-columns: repeat(12, minmax(0, 1fr)); }")
    );
    assert!(css.body.contains(".gx-1 { grid-column-start: 1; }"));
    assert!(css.body.contains(".gh-2 { grid-row-end: span 2; }"));
    assert!(css.body.contains(".sw.p0 { background: #0072B2; }"));
    assert!(css.body.contains(".tile-head"));
}

// ---------------------------------------------------------------------------------------------
// Query strings

#[test]
fn repeated_filter_params_gather_per_dimension() {
    let f = params::dashboard_filters(Some(
        "from=2026-01-01&to=&f.city=Berlin&f.city=K%C3%B6ln%2C+Nord&f.campaign=spring+sale&f.city=Berlin&f.device=&other=1",
    ))
    .expect("the query parses");
    assert_eq!(f.from, Some(day(1)));
    assert_eq!(f.to, None);
    assert_eq!(
        f.values.get("city"),
        Some(&vec!["Berlin".to_owned(), "Köln, Nord".to_owned()])
    );
    assert_eq!(
        f.values.get("campaign"),
        Some(&vec!["spring sale".to_owned()])
    );
    assert!(!f.values.contains_key("device"));
    assert_eq!(
        params::dashboard_filters(None).expect("empty").values.len(),
        0
    );

    let err = params::dashboard_filters(Some("from=01/02/2026")).expect_err("a bad date");
    assert!(err.to_string().contains("YYYY-MM-DD"), "{err}");
}

#[test]
fn filter_queries_round_trip() {
    let mut values = BTreeMap::new();
    values.insert(
        "city".to_owned(),
        vec!["Köln, Nord".to_owned(), "a&b=c+d%".to_owned()],
    );
    let q = params::filters_query(Some(day(1)), Some(day(28)), &values);
    assert_eq!(
        q,
        "from=2026-01-01&to=2026-01-28&f.city=K%C3%B6ln%2C+Nord&f.city=a%26b%3Dc%2Bd%25"
    );
    let back = params::dashboard_filters(Some(&q)).expect("it parses");
    assert_eq!(back.values, values);
    assert_eq!(back.from, Some(day(1)));
    assert_eq!(params::filters_query(None, None, &BTreeMap::new()), "");
}

#[test]
fn metric_requests_parse_from_the_query_string() {
    let req = params::metric_request(Some(
        "metrics=orders,gmv&by=city&grain=week&from=2026-01-01&to=2026-01-31&compare=true&limit=10&f.city=Berlin&f.city=M%C3%BCnchen",
    ))
    .expect("the query parses");
    assert_eq!(req.metrics, vec!["orders", "gmv"]);
    assert_eq!(req.dimensions, vec!["city"]);
    assert_eq!(req.grain, Some(Grain::Week));
    assert_eq!(req.from, Some(day(1)));
    assert_eq!(req.to, Some(day(31)));
    assert!(req.compare);
    assert_eq!(req.limit, Some(10));
    assert_eq!(
        req.filters.get("city"),
        Some(&vec!["Berlin".to_owned(), "München".to_owned()])
    );
    let repeated = params::metric_request(Some("metrics=orders&metrics=gmv&by=city&by=channel"))
        .expect("repeats parse");
    assert_eq!(repeated.metrics, vec!["orders", "gmv"]);
    assert_eq!(repeated.dimensions, vec!["city", "channel"]);

    for bad in [
        "grain=year",
        "limit=0",
        "limit=ten",
        "compare=maybe",
        "to=tomorrow",
        "metrcs=orders",
    ] {
        let err = params::metric_request(Some(bad)).expect_err(bad);
        assert!(
            matches!(err, pulse_web::WebError::BadRequest(_)),
            "{bad}: {err}"
        );
    }
}

/// One tag per line, so a snapshot diff points at the element that changed.
fn pretty(html: &str) -> String {
    html.replace("><", ">\n<")
}
