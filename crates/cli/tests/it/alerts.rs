//! Monitoring through the binary: a staged failure of a landing pages a real webhook receiver
//! once, stays quiet while it goes on, and pages again when it resolves; silences; the incident
//! history; JSON log lines; and `pulse serve` evaluating on its own, exposing `/metrics` that
//! `promtool` accepts and the operator page, checked in headless Chromium.

use super::serve::{Browser, http_get, wait_until};
use super::{ok, pulse};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An HTTP server on loopback that records the body of every POST and answers 200.
struct Receiver {
    port: u16,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let port = listener.local_addr().expect("addr").port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_ok()
                    && let Ok(v) = serde_json::from_slice::<Value>(&body)
                {
                    seen.lock().expect("lock").push(v);
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                );
            }
        });
        Receiver { port, bodies }
    }

    fn received(&self) -> Vec<Value> {
        self.bodies.lock().expect("lock").clone()
    }
}

/// A small project whose one source has no data yet (its landing fails), with a task-failure
/// alert to a webhook and a cost budget.
fn project(root: &Path, hook_port: u16) -> String {
    std::fs::create_dir_all(root.join("sources")).expect("mkdir");
    std::fs::create_dir_all(root.join("models")).expect("mkdir");
    std::fs::create_dir_all(root.join("data")).expect("mkdir");
    std::fs::write(
        root.join("pulse.toml"),
        format!(
            "name = \"shop\"\n[orchestrator]\nretries = 0\n\n\
             [monitor]\ninterval = \"1s\"\n\n\
             [[alerts]]\nrule = \"task_failed\"\n\n\
             [[alerts]]\nrule = \"cost\"\nbudget = 100.0\nprice_per_core_hour = 0.05\n\n\
             [[notifiers]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{hook_port}/alerts\"\n"
        ),
    )
    .expect("write");
    std::fs::write(
        root.join("sources/shop.toml"),
        "connector = \"csv\"\nowner = \"shop-team@example.com\"\n\
         [[tables]]\nname = \"sales\"\npath = \"data/sales_*.csv\"\n",
    )
    .expect("write");
    std::fs::write(
        root.join("models/total.sql"),
        "select sum(amount) as total from {{ source('shop', 'sales') }}",
    )
    .expect("write");
    root.to_str().expect("utf8").to_string()
}

fn check(project: &str) -> (Option<i32>, Value) {
    let out = pulse(&["alerts", "check", "--project", project, "--format", "json"]);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    (out.status.code(), v)
}

#[test]
fn a_failed_landing_pages_once_stays_quiet_and_pages_its_resolution() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = Receiver::start();
    let project = &project(dir.path(), hook.port);

    // The landing fails (no files yet); its logs are JSON lines naming run and task.
    let out = Command::new(env!("CARGO_BIN_EXE_pulse"))
        .args(["run", "--project", project, "--log-format", "json"])
        .env("PULSE_LOG", "info")
        .output()
        .expect("pulse run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let task_lines: Vec<Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|v: &Value| v["task_id"] == "land:shop")
        .collect();
    assert!(
        task_lines
            .iter()
            .any(|v| v["level"] == "error" && v["run_id"].is_string()),
        "{stderr}"
    );

    let (code, first) = check(project);
    assert_eq!(code, Some(1), "open incidents exit 1: {first:#}");
    assert_eq!(
        first["opened"],
        json!(["task_failed:land:shop"]),
        "{first:#}"
    );
    let calls = hook.received();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0]["status"], "firing");
    assert_eq!(calls[0]["project"], "shop");
    assert_eq!(calls[0]["incident"]["key"], "task_failed:land:shop");
    assert_eq!(calls[0]["incident"]["owner"], "shop-team@example.com");
    assert_eq!(calls[0]["incident"]["severity"], "critical");
    assert!(
        calls[0]["incident"]["summary"]
            .as_str()
            .is_some_and(|s| s.contains("land:shop")),
        "{calls:#?}"
    );

    // Still failing: no second page.
    let (code, again) = check(project);
    assert_eq!(code, Some(1));
    assert_eq!(again["opened"], json!([]), "{again:#}");
    assert_eq!(hook.received().len(), 1);

    let listed: Value = serde_json::from_str(&ok(&[
        "alerts",
        "list",
        "--project",
        project,
        "--open",
        "--format",
        "json",
    ]))
    .expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed:#}");
    let table = ok(&["alerts", "list", "--project", project]);
    assert!(table.contains("task_failed:land:shop"), "{table}");

    // A silence is listed until it is ended.
    let said = ok(&[
        "alerts",
        "silence",
        "--project",
        project,
        "rule=task_failed",
        "--until",
        "2h",
        "--comment",
        "restoring the export",
    ]);
    let id = said
        .split_whitespace()
        .nth(1)
        .expect("silence id")
        .to_string();
    let silences = ok(&["alerts", "silences", "--project", project]);
    assert!(
        silences.contains("rule=task_failed") && silences.contains("restoring the export"),
        "{silences}"
    );
    ok(&["alerts", "expire", "--project", project, &id]);
    let silences = ok(&["alerts", "silences", "--project", project]);
    assert!(silences.contains("no silences"), "{silences}");
    let bad = pulse(&[
        "alerts",
        "silence",
        "--project",
        project,
        "x",
        "--until",
        "soon",
    ]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("soon"),
        "{bad:?}"
    );

    // The export arrives; the next run lands it and the incident resolves with one page.
    std::fs::write(
        Path::new(project).join("data/sales_1.csv"),
        "id,amount\n1,10\n2,20\n",
    )
    .expect("write");
    ok(&["run", "--project", project]);
    let (code, resolved) = check(project);
    assert_eq!(code, Some(0), "{resolved:#}");
    assert_eq!(resolved["resolved"], json!(["task_failed:land:shop"]));
    let calls = hook.received();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_eq!(calls[1]["status"], "resolved");
    assert_eq!(calls[1]["incident"]["key"], "task_failed:land:shop");

    let shown: Value = serde_json::from_str(&ok(&[
        "alerts",
        "show",
        "--project",
        project,
        "task_failed:land:shop",
        "--format",
        "json",
    ]))
    .expect("json");
    let events: Vec<&str> = shown["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    for e in ["opened", "notified", "resolved"] {
        assert!(events.contains(&e), "{e} missing: {events:?}");
    }
    let sent: Vec<(&str, &str)> = shown["notifications"]
        .as_array()
        .expect("notifications")
        .iter()
        .map(|n| {
            (
                n["event"].as_str().unwrap_or_default(),
                n["state"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        sent,
        [("firing", "sent"), ("resolved", "sent")],
        "{shown:#}"
    );
}

#[test]
fn a_mistake_in_the_alert_rules_names_pulse_toml_and_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = &project(dir.path(), 9);
    let toml = Path::new(project).join("pulse.toml");
    let text = std::fs::read_to_string(&toml).expect("read");
    std::fs::write(
        &toml,
        text.replace(
            "rule = \"task_failed\"",
            "rule = \"task_failed\"\nsevrity = \"warning\"",
        ),
    )
    .expect("write");
    let out = pulse(&["validate", "--project", project]);
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pulse.toml") && err.contains("sevrity") && err.contains("line "),
        "{err}"
    );
}

#[test]
fn serve_alerts_on_its_own_and_shows_operators_metrics_and_the_operations_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = Receiver::start();
    let project = &project(dir.path(), hook.port);
    let failed = pulse(&["run", "--project", project]);
    assert_eq!(failed.status.code(), Some(1));

    let (_server, port) = super::serve::start_serve(project);
    let addr = format!("127.0.0.1:{port}");
    // The server's own evaluation (every second here) pages the receiver, once.
    wait_until("the page from pulse serve", Duration::from_secs(30), || {
        (!hook.received().is_empty()).then_some(())
    });
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(hook.received().len(), 1, "{:#?}", hook.received());

    // /metrics passes promtool's linter.
    let metrics = http_get(port, "/metrics").expect("GET /metrics");
    assert!(
        metrics.contains("pulse_task_failures_total{task=\"land:shop\",kind=\"land\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("pulse_alerts_open{"), "{metrics}");
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is needed: scripts/test.sh installs Debian's prometheus package");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(metrics.as_bytes())
        .expect("write metrics");
    let checked = promtool.wait_with_output().expect("promtool");
    assert!(
        checked.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    let overview: Value =
        serde_json::from_str(&http_get(port, "/api/operations").expect("GET /api/operations"))
            .expect("json");
    assert_eq!(overview["open_alerts"][0]["key"], "task_failed:land:shop");
    assert_eq!(overview["runs"][0]["state"], "failed");
    assert_eq!(overview["cost"][0]["budget"], 100.0);

    let mut browser = Browser::start();
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
    );
    browser.open(&format!("http://{addr}/operations"));
    let seen = browser.eval(
        "({health: document.getElementById('ops-health').dataset.health,
           verdict: document.querySelector('#ops-health .ops-value').textContent,
           alerts: Array.from(document.querySelectorAll('#open-alerts tr[data-key]')).map(r => r.dataset.key),
           runs: Array.from(document.querySelectorAll('#last-runs tr[data-state]')).map(r => r.dataset.state),
           cost: document.getElementById('ops-cost').dataset.budget,
           nav: document.querySelector('header.top nav a.active').textContent})",
    );
    assert_eq!(seen["health"], "bad", "{seen:#}");
    assert_eq!(seen["verdict"], "Action needed", "{seen:#}");
    assert_eq!(seen["alerts"], json!(["task_failed:land:shop"]), "{seen:#}");
    assert_eq!(seen["runs"], json!(["failed"]), "{seen:#}");
    assert_eq!(seen["cost"], "100.00", "{seen:#}");
    assert_eq!(seen["nav"], "Operations", "{seen:#}");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("operations");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let shot = browser.call(
        "Page.captureScreenshot",
        json!({"format": "png", "captureBeyondViewport": true}),
    );
    let png = super::dashboards::base64_decode(shot["data"].as_str().expect("screenshot data"));
    assert!(png.starts_with(b"\x89PNG"));
    std::fs::write(shots.join("operations.png"), png).expect("write screenshot");
}
