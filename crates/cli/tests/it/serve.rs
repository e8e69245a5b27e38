//! `pulse serve` as a person uses it: the runs page in a real headless Chromium, a run
//! triggered with the page's button, worked off by the server's own worker, and shown in the
//! grid with the states its tasks reached. Chromium is driven over the DevTools protocol.

use super::pulse;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(super) struct Killed(pub(super) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(super) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `pulse serve` on a free loopback port for five minutes, answering `/health`.
pub(super) fn start_serve(project: &str) -> (Killed, u16) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let server = Killed(
        Command::new(env!("CARGO_BIN_EXE_pulse"))
            .args(["serve", "--project", project, "--addr", &addr])
            .args(["--seconds", "300"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pulse serve"),
    );
    wait_until("pulse serve to answer", Duration::from_secs(60), || {
        http_get(port, "/health").filter(|b| b.contains("ok"))
    });
    (server, port)
}

pub(super) fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    // Not every server closes the connection when asked: read the body by its length.
    let mut reader = BufReader::new(s);
    let mut length = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = Vec::new();
    match length {
        Some(n) => {
            body.resize(n, 0);
            reader.read_exact(&mut body).ok()?;
        }
        None => {
            reader.read_to_end(&mut body).ok()?;
        }
    }
    String::from_utf8(body).ok()
}

pub(super) fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// One page of a headless Chromium, over the DevTools protocol's WebSocket.
pub(super) struct Browser {
    _process: Killed,
    _profile: tempfile::TempDir,
    socket: tungstenite::WebSocket<TcpStream>,
    next_id: u64,
}

impl Browser {
    pub(super) fn start() -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let chromium = ["chromium", "chromium-browser", "google-chrome"]
            .into_iter()
            .find(|c| {
                Command::new(c)
                    .arg("--version")
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .expect("Chromium is needed for this test: scripts/test.sh installs Debian's chromium");
        let mut child = Command::new(chromium)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-port=0",
                "about:blank",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        // Chromium says where its DevTools endpoint listens on stderr.
        let stderr = child.stderr.take().expect("stderr");
        let process = Killed(child);
        let mut lines = BufReader::new(stderr).lines();
        let ws_url = loop {
            let line = lines
                .next()
                .expect("chromium exited before listening")
                .expect("stderr line");
            if let Some(url) = line.strip_prefix("DevTools listening on ") {
                break url.trim().to_string();
            }
        };
        // Keep draining stderr so Chromium never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let port: u16 = ws_url
            .trim_start_matches("ws://")
            .split(['/', ':'])
            .nth(1)
            .and_then(|p| p.parse().ok())
            .expect("devtools port");
        let targets: Value = wait_until("the page target", Duration::from_secs(20), || {
            let body = http_get(port, "/json/list")?;
            let v: Value = serde_json::from_str(&body).ok()?;
            v.as_array()?
                .iter()
                .any(|t| t["type"] == "page")
                .then_some(v)
        });
        let page_ws = targets
            .as_array()
            .and_then(|a| a.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("page websocket")
            .to_string();
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect devtools");
        let (socket, _) = tungstenite::client(page_ws.as_str(), stream).expect("websocket");
        Browser {
            _process: process,
            _profile: profile,
            socket,
            next_id: 1,
        }
    }

    pub(super) fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        self.socket
            .send(tungstenite::Message::text(msg))
            .expect("send");
        loop {
            let m = self.socket.read().expect("read devtools");
            if let tungstenite::Message::Text(t) = m {
                let v: Value = serde_json::from_str(t.as_str()).expect("devtools json");
                if v["id"] == json!(id) {
                    assert!(v.get("error").is_none(), "{method}: {v}");
                    return v["result"].clone();
                }
            }
        }
    }

    pub(super) fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {r}");
        r["result"]["value"].clone()
    }

    pub(super) fn open(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url }));
        wait_until("the page to load", Duration::from_secs(20), || {
            (self.eval("document.readyState") == json!("complete")).then_some(())
        });
    }
}

#[test]
fn a_run_triggered_on_the_runs_page_is_worked_off_and_shown_in_the_grid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project = &super::example_project(
        dir.path(),
        &["--days", "2", "--orders-per-day", "40", "--photos", "2"],
    );
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let server = Killed(
        Command::new(env!("CARGO_BIN_EXE_pulse"))
            .args(["serve", "--project", project, "--addr", &addr])
            .args(["--seconds", "600"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pulse serve"),
    );
    wait_until("pulse serve to answer", Duration::from_secs(60), || {
        http_get(port, "/health").filter(|b| b.contains("ok"))
    });

    let mut browser = Browser::start();
    browser.open(&format!("http://{addr}/runs"));
    // The example's daily schedule catches up its latest fire when the server starts.
    let runs_before = browser
        .eval("Array.from(document.querySelectorAll('th.run-head')).map(h => h.dataset.run)");
    let runs_before: Vec<String> = runs_before
        .as_array()
        .expect("run heads")
        .iter()
        .map(|r| r.as_str().expect("run id").to_string())
        .collect();
    browser.eval("document.getElementById('trigger-run').click()");
    let new_run = wait_until(
        "the triggered run in the grid",
        Duration::from_secs(20),
        || {
            let heads = browser.eval(
                "Array.from(document.querySelectorAll('th.run-head')).map(h => h.dataset.run)",
            );
            heads
                .as_array()?
                .iter()
                .filter_map(|r| r.as_str())
                .find(|r| !runs_before.iter().any(|b| b == r))
                .map(str::to_string)
        },
    );
    // The page refreshes itself while tasks run; wait until every cell has settled.
    let states = wait_until("the run to finish", Duration::from_secs(300), || {
        let cells = browser.eval(&format!(
            "Array.from(document.querySelectorAll('[data-run=\"{new_run}\"][data-task]'))\
             .filter(c => c.dataset.state !== 'none')\
             .map(c => [c.dataset.task, c.dataset.state])"
        ));
        let cells = cells.as_array()?.clone();
        let open = cells
            .iter()
            .any(|c| matches!(c[1].as_str(), Some("queued" | "running" | "up_for_retry")));
        if open || cells.is_empty() {
            browser.open(&format!("http://{addr}/runs"));
            return None;
        }
        Some(cells)
    });
    let state_of = |task: &str| {
        states
            .iter()
            .find(|c| c[0] == json!(task))
            .map(|c| c[1].as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|| panic!("{task} not in the grid: {states:?}"))
    };
    // The schedule's catch-up run may have landed the files first: then this run's landings
    // find nothing new and are skipped, which lets their dependants run.
    for task in [
        "land:orders",
        "validate:payments.payments",
        "model:fct_orders",
    ] {
        let state = state_of(task);
        assert!(
            state == "succeeded" || state == "skipped",
            "{task}: {state}"
        );
    }
    assert!(
        states
            .iter()
            .all(|c| c[1] == json!("succeeded") || c[1] == json!("skipped")),
        "{states:?}"
    );

    // The same run over the JSON API, and its warehouse answers queries.
    let run: Value =
        serde_json::from_str(&http_get(port, &format!("/api/runs/{new_run}")).expect("api run"))
            .expect("run json");
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["trigger"], "manual", "{run}");
    let runs: Value =
        serde_json::from_str(&http_get(port, "/api/runs").expect("api runs")).expect("runs json");
    assert!(
        runs["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .any(|r| r["trigger"] == "schedule"),
        "the daily schedule's catch-up run: {runs}"
    );
    drop(server);
    let out = pulse(&[
        "sql",
        "--project",
        project,
        "select count(*) as n from fct_orders",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{out:?}");
}

pub(super) fn http_post(port: u16, path: &str, body: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut out = String::new();
    // The server closes after answering a `Connection: close` request.
    let _ = s.read_to_string(&mut out);
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// Two processes work off one run from a shared PostgreSQL metadata store: `pulse serve` (web,
/// scheduler and a worker) and `pulse serve --worker`. Every task runs exactly once.
#[test]
fn two_worker_processes_share_a_run_through_postgresql() {
    let schema = format!("pulse_cli_workers_{}", std::process::id());
    let mut pg = postgres::Client::connect(
        "host=127.0.0.1 port=5432 user=postgres dbname=test",
        postgres::NoTls,
    )
    .expect("PostgreSQL on 127.0.0.1:5432 (scripts/services.sh starts it)");
    pg.batch_execute(&format!(
        "drop schema if exists {schema} cascade; create schema {schema}"
    ))
    .expect("schema");
    let dir = tempfile::tempdir().expect("tempdir");
    let project = &super::example_project(
        dir.path(),
        &["--days", "2", "--orders-per-day", "40", "--photos", "2"],
    );
    let root = std::path::Path::new(project);
    let toml = std::fs::read_to_string(root.join("pulse.toml")).expect("pulse.toml");
    let url = format!("postgres://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}");
    // Workers share the store; no schedule, so the only run is the one triggered here.
    let toml = toml
        .replace(
            "metadata = \"sqlite://.pulse/metadata.sqlite\"",
            &format!("metadata = \"{url}\""),
        )
        .split("[[schedules]]")
        .next()
        .expect("head")
        .to_string();
    std::fs::write(root.join("pulse.toml"), toml).expect("write");

    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let spawn = |args: &[&str]| {
        Killed(
            Command::new(env!("CARGO_BIN_EXE_pulse"))
                .args(["serve", "--project", project, "--seconds", "600"])
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start pulse serve"),
        )
    };
    let _web = spawn(&["--addr", &addr]);
    let _worker = spawn(&["--worker"]);
    wait_until("pulse serve to answer", Duration::from_secs(60), || {
        http_get(port, "/health").filter(|b| b.contains("ok"))
    });
    let created: Value =
        serde_json::from_str(&http_post(port, "/api/runs", "{}").expect("trigger"))
            .expect("run json");
    let run_id = created["run_id"].as_str().expect("run id").to_string();
    let run = wait_until("the run to finish", Duration::from_secs(300), || {
        let v: Value =
            serde_json::from_str(&http_get(port, &format!("/api/runs/{run_id}"))?).ok()?;
        matches!(v["state"].as_str(), Some("succeeded" | "failed")).then_some(v)
    });
    assert_eq!(run["state"], "succeeded", "{run:#}");
    let tasks = run["tasks"].as_array().expect("tasks");
    assert!(tasks.len() > 30, "{run:#}");
    for t in tasks {
        let log = || {
            let task = t["task_id"].as_str().unwrap_or_default();
            http_get(port, &format!("/api/runs/{run_id}/tasks/{task}/log")).unwrap_or_default()
        };
        // Claims are exclusive: no task's work succeeds twice. (A retry after a failed first
        // attempt is not a second claim: under load a model task can miss an upstream model
        // the other worker has just built — a known race, written down to be fixed.)
        let lines = log();
        assert_eq!(
            lines.matches("succeeded in").count(),
            1,
            "ran more than once: {t}\n{lines}"
        );
        if t["attempt"] != 1 {
            assert!(
                lines.contains("failed after"),
                "retried without a failure: {t}\n{lines}"
            );
        }
    }
    let workers: std::collections::BTreeSet<&str> =
        tasks.iter().filter_map(|t| t["worker"].as_str()).collect();
    assert_eq!(workers.len(), 2, "both processes worked: {workers:?}");
    pg.batch_execute(&format!("drop schema {schema} cascade"))
        .expect("drop schema");
}
