//! The example's dashboards in a real headless Chromium: every tile renders, every figure on the
//! page equals what the metric API returns for the tile's request, filters narrow the figures,
//! and each tile downloads as CSV. A screenshot of each dashboard is kept in the test's target
//! folder for a person to look at.

use super::serve::{Browser, Killed, free_port, http_get, http_post, wait_until};
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::Duration;

const DASHBOARDS: [&str; 4] = ["executive", "marketing", "logistics", "support"];

fn api(port: u16, path: &str) -> Value {
    let body = http_get(port, path).unwrap_or_else(|| panic!("GET {path}"));
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// Every figure element of the page: tile, column, row, value (none where it shows no value).
fn figures_on_page(browser: &mut Browser) -> Vec<(String, String, usize, Option<f64>)> {
    let v = browser.eval(
        "Array.from(document.querySelectorAll('.tile [data-metric][data-value]')).map(e => [\
            e.closest('.tile').dataset.tile, e.dataset.metric, Number(e.dataset.row || 0), \
            e.dataset.value === 'null' ? null : Number(e.dataset.value)])",
    );
    v.as_array()
        .expect("figures")
        .iter()
        .map(|f| {
            (
                f[0].as_str().expect("tile").to_string(),
                f[1].as_str().expect("metric").to_string(),
                f[2].as_u64().expect("row") as usize,
                f[3].as_f64(),
            )
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn every_dashboard_renders_every_tile_with_the_metric_apis_figures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = &super::example_project(
        dir.path(),
        &["--days", "6", "--orders-per-day", "50", "--photos", "2"],
    );
    assert_eq!(super::run_json(project, &[])["succeeded"], true);
    let port = free_port();
    let wire_port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _server = Killed(
        Command::new(env!("CARGO_BIN_EXE_pulse"))
            .args(["serve", "--project", project, "--addr", &addr])
            .args(["--wire", &format!("127.0.0.1:{wire_port}")])
            .args(["--seconds", "900"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pulse serve"),
    );
    wait_until("pulse serve to answer", Duration::from_secs(60), || {
        http_get(port, "/health").filter(|b| b.contains("ok"))
    });
    the_same_numbers_over_the_postgresql_endpoint(project, port, wire_port);
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboards");
    std::fs::create_dir_all(&shots).expect("screenshot folder");

    let mut browser = Browser::start();
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1440, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
    );
    for name in DASHBOARDS {
        let view = api(port, &format!("/api/dashboards/{name}"));
        let tiles = view["tiles"].as_array().expect("tiles").clone();
        assert!(tiles.len() >= 5, "{name}: {view}");
        browser.open(&format!("http://{addr}/dashboards/{name}"));
        let rendered = browser.eval(
            "Array.from(document.querySelectorAll('.tile')).map(t => [t.dataset.tile, t.dataset.rendered === 'true', t.dataset.error === 'true'])",
        );
        let rendered = rendered.as_array().expect("tiles on page").clone();
        assert_eq!(rendered.len(), tiles.len(), "{name}: {rendered:?}");
        for t in &rendered {
            assert_eq!(t[1], json!(true), "{name}: tile {} did not render", t[0]);
            assert_eq!(t[2], json!(false), "{name}: tile {} shows an error", t[0]);
        }

        // Each figure shown equals the metric API's answer to the tile's request.
        let figures = figures_on_page(&mut browser);
        for tile in &tiles {
            let id = tile["id"].as_str().expect("id");
            let answer: Value = serde_json::from_str(
                &http_post(port, "/api/metrics/query", &tile["request"].to_string())
                    .expect("metric api"),
            )
            .expect("metric api json");
            let columns: Vec<&str> = answer["columns"]
                .as_array()
                .expect("columns")
                .iter()
                .map(|c| c["name"].as_str().expect("name"))
                .collect();
            let shown: Vec<_> = figures.iter().filter(|f| f.0 == id).collect();
            assert!(!shown.is_empty(), "{name}/{id} shows no figure");
            for (_, metric, row, value) in shown {
                let col = columns
                    .iter()
                    .position(|c| c == metric)
                    .unwrap_or_else(|| panic!("{name}/{id}: {metric} not in {columns:?}"));
                let want = answer["rows"][*row][col].as_f64();
                let same = match (value, want) {
                    (Some(v), Some(w)) => close(*v, w),
                    (None, None) => true,
                    _ => false,
                };
                assert!(
                    same,
                    "{name}/{id}: {metric} row {row} shows {value:?}, the API says {want:?}"
                );
            }
        }

        let shot = browser.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        );
        let png = base64_decode(shot["data"].as_str().expect("screenshot data"));
        assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
        std::fs::write(shots.join(format!("{name}.png")), png).expect("write screenshot");
    }

    // A filter narrows the figures: the orders KPI of one city equals the API's for that city.
    let cities = api(port, "/api/metrics/query?metrics=orders&by=city");
    let city = cities["rows"][0][0].as_str().expect("a city").to_string();
    let city_orders = cities["rows"][0][1].as_f64().expect("orders");
    browser.open(&format!(
        "http://{addr}/dashboards/executive?from=2000-01-01&to=2100-01-01&f.city={}",
        city.replace(' ', "%20")
    ));
    let shown = browser.eval(
        "Number(document.querySelector('[data-tile=\"orders\"] [data-metric=\"orders\"]').dataset.value)",
    );
    assert_eq!(shown.as_f64(), Some(city_orders), "orders in {city}");
    assert!(city_orders > 0.0);

    // Each tile downloads as CSV.
    let csv = http_get(port, "/dashboards/executive/tiles/gmv-by-city.csv").expect("csv");
    assert!(csv.starts_with("city,gmv"), "{csv}");
    assert!(csv.lines().count() > 2, "{csv}");
}

/// Chromium returns screenshots as base64; a small decoder keeps the tests free of another crate.
pub(super) fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let Some(v) = value(c) else { continue };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// `pulse serve`'s PostgreSQL endpoint, read with the real `psql`: a mart and a metric's view
/// give what `pulse sql` and the metric API give.
fn the_same_numbers_over_the_postgresql_endpoint(project: &str, port: u16, wire_port: u16) {
    let psql = |sql: &str| -> String {
        let out = Command::new("psql")
            .args([
                "-X",
                "-A",
                "-t",
                "-h",
                "127.0.0.1",
                "-p",
                &wire_port.to_string(),
            ])
            .args(["-U", "analyst", "-d", "pulse", "-c", sql])
            .output()
            .expect("psql is needed: scripts/test.sh installs postgresql-client");
        assert!(out.status.success(), "{sql}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let orders = psql("select count(*) from fct_orders");
    let by_sql = super::sql_json(
        std::path::Path::new(project),
        "select count(*) as n from fct_orders",
    );
    assert_eq!(orders, by_sql[0]["n"].to_string());

    let gmv_days: Vec<(String, f64)> = psql("select period, gmv from metrics.gmv order by period")
        .lines()
        .map(|l| {
            let (day, v) = l.split_once('|').expect("two columns");
            (day.to_string(), v.parse().expect("a number"))
        })
        .collect();
    let api = api(port, "/api/metrics/query?metrics=gmv&grain=day");
    let by_day: std::collections::BTreeMap<String, f64> = api["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let day: String = r[0].as_str().expect("period").chars().take(10).collect();
            (day, r[1].as_f64().expect("gmv"))
        })
        .collect();
    assert_eq!(gmv_days.len(), by_day.len(), "{gmv_days:?} vs {api}");
    assert!(!gmv_days.is_empty());
    for (day, wire) in &gmv_days {
        let by_api = by_day.get(day.as_str()).copied().unwrap_or(f64::NAN);
        assert!(
            close(*wire, by_api),
            "{day}: {wire} over the wire vs {by_api}"
        );
    }
}
