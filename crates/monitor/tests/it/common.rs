//! Real receivers on loopback (an HTTP server that records webhook calls, Python's aiosmtpd
//! recording mail, a shell command appending its input to a file), a real SQLite metadata store
//! with runs staged through its API, and a monitor wired to all four notifiers.

use chrono::{DateTime, NaiveDate, Utc};
use pulse_monitor::{Monitor, MonitorConfig, MonitorInputs, TickReport};
use pulse_orchestrate::store::Outcome;
use pulse_orchestrate::{NewRun, RunRecord, Store, TaskKind, TaskSpec};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// The webhook receiver.

#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    pub body: Value,
}

/// Records every POST; answers 503 to the first `fail_next` requests, 200 after.
pub struct WebhookServer {
    pub port: u16,
    calls: Arc<Mutex<Vec<Call>>>,
    /// Requests refused, including those answered 503.
    refused: Arc<AtomicU32>,
    fail_next: Arc<AtomicU32>,
}

fn handle(
    mut s: TcpStream,
    calls: &Mutex<Vec<Call>>,
    refused: &AtomicU32,
    fail_next: &AtomicU32,
) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(s.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let failing = fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if failing {
        refused.fetch_add(1, Ordering::SeqCst);
        "503 Service Unavailable"
    } else {
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        calls.lock().expect("lock").push(Call { path, body });
        "200 OK"
    };
    let answer = if failing {
        "down for maintenance"
    } else {
        "ok"
    };
    write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    )?;
    s.flush()
}

impl WebhookServer {
    pub fn start() -> WebhookServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("addr").port();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(AtomicU32::new(0));
        let fail_next = Arc::new(AtomicU32::new(0));
        let (c, r, f) = (calls.clone(), refused.clone(), fail_next.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (c, r, f) = (c.clone(), r.clone(), f.clone());
                std::thread::spawn(move || {
                    let _ = handle(stream, &c, &r, &f);
                });
            }
        });
        WebhookServer {
            port,
            calls,
            refused,
            fail_next,
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("lock").clone()
    }

    pub fn refused(&self) -> u32 {
        self.refused.load(Ordering::SeqCst)
    }

    /// The next `n` requests are answered 503.
    pub fn fail_next(&self, n: u32) {
        self.fail_next.store(n, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------------------------
// The SMTP receiver: aiosmtpd, started on a free port.

const SMTP_SERVER: &str = r#"
import json, socket, sys
from email import message_from_bytes
from email.policy import default
from aiosmtpd.controller import Controller

out = sys.argv[1]

class Recorder:
    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content, policy=default)
        part = msg.get_body(preferencelist=("plain",))
        record = {
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "subject": str(msg["subject"]),
            "body": part.get_content() if part is not None else "",
        }
        with open(out, "a") as f:
            f.write(json.dumps(record) + "\n")
        return "250 Message accepted"

s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
controller = Controller(Recorder(), hostname="127.0.0.1", port=port)
controller.start()
print(port, flush=True)
sys.stdin.read()
controller.stop()
"#;

/// A Python that has aiosmtpd, or a panic that says what to install.
fn python_with_aiosmtpd() -> String {
    for python in ["python3", "/usr/bin/python3"] {
        let ok = Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return python.to_string();
        }
    }
    panic!(
        "these tests need Python's aiosmtpd to receive mail and neither `python3` nor /usr/bin/python3 has it: \
         install it with `apt-get install -y python3-aiosmtpd` (or `python3 -m pip install aiosmtpd`); \
         scripts/test.sh installs it"
    );
}

pub struct SmtpServer {
    pub port: u16,
    child: Child,
    file: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

impl SmtpServer {
    pub fn start(dir: &Path) -> SmtpServer {
        let python = python_with_aiosmtpd();
        let file = dir.join("mail.jsonl");
        let script = dir.join("smtp_server.py");
        std::fs::write(&script, SMTP_SERVER).expect("write the SMTP server script");
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(&file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the SMTP server");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the SMTP server's port");
        let port: u16 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the SMTP server did not start (said `{line}`)"));
        SmtpServer { port, child, file }
    }

    pub fn mails(&self) -> Vec<Mail> {
        let text = std::fs::read_to_string(&self.file).unwrap_or_default();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("a recorded mail");
                Mail {
                    to: v["to"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                    subject: v["subject"].as_str().unwrap_or("").to_string(),
                    body: v["body"].as_str().unwrap_or("").to_string(),
                }
            })
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Staging runs in a real metadata store.

pub fn spec(id: &str, up: &[&str]) -> TaskSpec {
    let (kind, target) = id.split_once(':').expect("kind:target");
    TaskSpec {
        id: id.to_string(),
        kind: TaskKind::parse(kind).expect("kind"),
        target: target.to_string(),
        tags: Vec::new(),
        upstream: up.iter().map(|s| s.to_string()).collect(),
    }
}

/// land:orders -> validate:orders.orders -> model:stg_orders -> model:fct_orders.
pub fn pipeline() -> Vec<TaskSpec> {
    vec![
        spec("land:orders", &[]),
        spec("validate:orders.orders", &["land:orders"]),
        spec("model:stg_orders", &["validate:orders.orders"]),
        spec("model:fct_orders", &["model:stg_orders"]),
    ]
}

#[derive(Debug, Clone)]
pub enum Do {
    Ok(u64),
    Fail(&'static str),
    /// Claimed and left running.
    Hold,
    /// Works this long, then succeeds with these rows.
    Work(Duration, u64),
}

pub async fn create_run(store: &Store, schedule: Option<&str>, max_attempts: u32) -> RunRecord {
    store
        .create_run(NewRun {
            logical_date: NaiveDate::from_ymd_opt(2025, 6, 1).expect("date"),
            trigger: if schedule.is_some() {
                "schedule"
            } else {
                "cli"
            }
            .to_string(),
            schedule: schedule.map(str::to_string),
            tasks: pipeline(),
            max_attempts,
        })
        .await
        .expect("create a run")
}

/// Claims and settles the run's tasks as `what` says (per task id and attempt) until nothing is
/// ready; a failure's retry is due at once.
pub async fn drive(store: &Store, run_id: &str, what: impl Fn(&str, u32) -> Do) -> RunRecord {
    loop {
        let claimed = store
            .claim_tasks(Some(run_id), "test-worker", 100, Duration::from_secs(3600))
            .await
            .expect("claim");
        if claimed.is_empty() {
            break;
        }
        let mut finished = 0;
        for t in claimed {
            let outcome = match what(&t.task_id, t.attempt) {
                Do::Hold => continue,
                Do::Ok(rows) => Outcome::Succeeded {
                    rows,
                    bytes: rows * 10,
                    skipped: false,
                },
                Do::Work(d, rows) => {
                    tokio::time::sleep(d).await;
                    Outcome::Succeeded {
                        rows,
                        bytes: rows * 10,
                        skipped: false,
                    }
                }
                Do::Fail(e) => Outcome::Failed {
                    error: e.to_string(),
                    retry_at: Utc::now() - chrono::Duration::seconds(1),
                },
            };
            store
                .finish_task(run_id, &t.task_id, "test-worker", t.attempt, outcome)
                .await
                .expect("finish");
            finished += 1;
        }
        if finished == 0 {
            break;
        }
    }
    store.finalize_run(run_id).await.expect("finalize")
}

/// A whole run where every task succeeds with `rows`.
pub async fn good_run(store: &Store, schedule: Option<&str>, rows: u64) -> RunRecord {
    let run = create_run(store, schedule, 1).await;
    drive(store, &run.run_id, |_, _| Do::Ok(rows)).await
}

// ---------------------------------------------------------------------------------------------
// The monitor with every kind of notifier.

pub const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A PostgreSQL schema of its own, dropped at the end; the synchronous client runs on threads of
/// its own (it may not run inside the test's runtime).
pub struct PgSchema {
    pub name: String,
    pub url: String,
}

impl PgSchema {
    pub fn create() -> PgSchema {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        let name = format!("pulse_monitor_test_{:012x}", h.finish() & 0xffff_ffff_ffff);
        let sql = format!("CREATE SCHEMA {name}");
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(PG_URL, postgres::NoTls).unwrap_or_else(|e| {
                panic!(
                    "this test needs the PostgreSQL server at {PG_URL} (trust auth, database `test`) and it is not reachable: {e}; \
                     scripts/services.sh starts or installs it"
                )
            });
            c.batch_execute(&sql).expect("create the test schema");
        })
        .join()
        .expect("the schema is created");
        let url = format!("{PG_URL}?options=-csearch_path%3D{name}");
        PgSchema { name, url }
    }

    /// Tables of the schema.
    pub fn tables(&self) -> Vec<String> {
        let name = self.name.clone();
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(PG_URL, postgres::NoTls).expect("connect");
            c.query(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
                &[&name],
            )
            .expect("tables")
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect()
        })
        .join()
        .expect("tables")
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = postgres::Client::connect(PG_URL, postgres::NoTls) {
                let _ = c.batch_execute(&sql);
            }
        })
        .join();
    }
}

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub monitor: Monitor,
    pub hook: WebhookServer,
    pub slack: WebhookServer,
    pub smtp: SmtpServer,
    pub script_out: PathBuf,
    /// Last, so it is dropped after the monitor and the store (fields drop in order).
    pub pg: Option<PgSchema>,
}

/// What each receiver got, as counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub hook: usize,
    pub slack: usize,
    pub mail: usize,
    pub script: usize,
}

impl Harness {
    /// `sections`: `[[alerts]]` (and `[[routes]]`) tables; `monitor`: extra `[monitor]` lines.
    pub async fn new(monitor: &str, sections: &str) -> Harness {
        Harness::on(monitor, sections, None).await
    }

    /// The same on PostgreSQL: the runs and the incidents in one schema of their own.
    pub async fn on_postgres(monitor: &str, sections: &str) -> Harness {
        Harness::on(monitor, sections, Some(PgSchema::create())).await
    }

    async fn on(monitor: &str, sections: &str, pg: Option<PgSchema>) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let hook = WebhookServer::start();
        let slack = WebhookServer::start();
        let smtp = SmtpServer::start(dir.path());
        // One file per run of the command, named by incident, status and process id.
        let script_out = dir.path().join("script");
        std::fs::create_dir_all(&script_out).expect("a folder for the command's output");
        let toml = format!(
            r#"
[monitor]
default_owner = "data-platform@example.com"
{monitor}

[[notifiers]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:{hook}/alerts"

[[notifiers]]
name = "slack"
kind = "webhook"
format = "slack"
url = "http://127.0.0.1:{slack}/services/T000/B000/XXXX"

[[notifiers]]
name = "mail"
kind = "email"
smtp = "127.0.0.1:{smtp}"
tls = "none"
from = "Pulse <pulse@example.com>"
to = ["oncall@example.com"]
to_owner = true

[[notifiers]]
name = "script"
kind = "command"
command = ["sh", "-c", "cat > \"$PULSE_TEST_OUT/$PULSE_ALERT_ID-$PULSE_ALERT_STATUS-$$.json\""]
env = {{ PULSE_TEST_OUT = "{out}" }}

{sections}
"#,
            hook = hook.port,
            slack = slack.port,
            smtp = smtp.port,
            out = script_out.display(),
        );
        let config = MonitorConfig::from_toml(&toml).expect("the test configuration is valid");
        let url = pg
            .as_ref()
            .map_or("sqlite://.pulse/metadata.sqlite".to_string(), |p| {
                p.url.clone()
            });
        let store = Store::open(&url, dir.path()).await.expect("open the store");
        let monitor = Monitor::open(config, store.clone(), &url, dir.path())
            .await
            .expect("open the monitor")
            .with_project("shop");
        Harness {
            pg,
            dir,
            store,
            monitor,
            hook,
            slack,
            smtp,
            script_out,
        }
    }

    pub fn script_calls(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.script_out)
            .expect("the command's folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(f).expect("read");
                serde_json::from_str(&text).expect("the command got JSON")
            })
            .collect()
    }

    pub fn counts(&self) -> Counts {
        Counts {
            hook: self.hook.calls().len(),
            slack: self.slack.calls().len(),
            mail: self.smtp.mails().len(),
            script: self.script_calls().len(),
        }
    }

    pub async fn tick(&self, inputs: &MonitorInputs, now: DateTime<Utc>) -> TickReport {
        self.monitor.tick(inputs, now).await.expect("tick")
    }

    /// Every receiver got exactly one `status` notification for `key`: the JSON webhook (with
    /// the incident), the Slack-compatible one (`text`), the mail, and the command (JSON on its
    /// standard input).
    pub fn assert_notified_once(&self, key: &str, status: &str) {
        let hooks: Vec<Call> = self
            .hook
            .calls()
            .into_iter()
            .filter(|c| c.body["incident"]["key"] == key && c.body["status"] == status)
            .collect();
        assert_eq!(
            hooks.len(),
            1,
            "JSON webhook calls for {key} {status}: {hooks:#?}"
        );
        assert_eq!(hooks[0].path, "/alerts");
        let marker = if status == "resolved" {
            "RESOLVED".to_string()
        } else {
            "FIRING".to_string()
        };
        let slack: Vec<Call> = self
            .slack
            .calls()
            .into_iter()
            .filter(|c| {
                let t = c.body["text"].as_str().unwrap_or("");
                t.contains(&format!("({key})")) && t.contains(&marker)
            })
            .collect();
        assert_eq!(
            slack.len(),
            1,
            "Slack calls for {key} {status}: {:#?}",
            self.slack.calls()
        );
        let mails: Vec<Mail> = self
            .smtp
            .mails()
            .into_iter()
            .filter(|m| m.body.contains(&format!("({key})")) && m.subject.contains(&marker))
            .collect();
        assert_eq!(
            mails.len(),
            1,
            "mails for {key} {status}: {:#?}",
            self.smtp.mails()
        );
        assert!(mails[0].to.contains(&"oncall@example.com".to_string()));
        let scripts: Vec<Value> = self
            .script_calls()
            .into_iter()
            .filter(|v| v["incident"]["key"] == key && v["status"] == status)
            .collect();
        assert_eq!(scripts.len(), 1, "command runs for {key} {status}");
    }

    /// One rule's whole life: `stage` made its condition hold at `t_fire`; it opens one incident
    /// under `key` and notifies each receiver once; evaluating again sends nothing; after `fix`
    /// it resolves at `t_fixed` with one notification each, and then stays quiet.
    pub async fn lifecycle<F, Fut>(
        &self,
        key: &str,
        inputs_firing: &MonitorInputs,
        t_fire: DateTime<Utc>,
        fix: F,
        inputs_fixed: &MonitorInputs,
        t_fixed: DateTime<Utc>,
    ) where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let before = self.counts();
        let r = self.tick(inputs_firing, t_fire).await;
        assert_eq!(r.reconcile.opened, vec![key.to_string()], "{r:#?}");
        assert_eq!(r.dispatch.sent(), 4, "{r:#?}");
        self.assert_notified_once(key, "firing");
        let after_first = self.counts();
        assert_eq!(after_first.hook, before.hook + 1);

        let r = self
            .tick(inputs_firing, t_fire + chrono::Duration::minutes(1))
            .await;
        assert!(
            r.reconcile.opened.is_empty() && r.reconcile.resolved.is_empty(),
            "{r:#?}"
        );
        assert_eq!(r.evaluation.alerts.len(), 1, "still firing: {r:#?}");
        assert_eq!(
            self.counts(),
            after_first,
            "a second evaluation notified again"
        );

        fix().await;
        let r = self.tick(inputs_fixed, t_fixed).await;
        assert_eq!(r.reconcile.resolved, vec![key.to_string()], "{r:#?}");
        self.assert_notified_once(key, "resolved");
        let resolved = self.counts();
        assert_eq!(resolved.hook, after_first.hook + 1);

        let r = self
            .tick(inputs_fixed, t_fixed + chrono::Duration::minutes(1))
            .await;
        assert!(
            r.reconcile.opened.is_empty() && r.reconcile.resolved.is_empty(),
            "{r:#?}"
        );
        assert_eq!(self.counts(), resolved, "quiet after resolving");

        let incident = self
            .monitor
            .alerts()
            .incident_by_key(key)
            .await
            .expect("read")
            .expect("the incident is recorded");
        assert_eq!(incident.status(), "resolved");
        let events: Vec<String> = self
            .monitor
            .alerts()
            .events(incident.id)
            .await
            .expect("events")
            .into_iter()
            .map(|e| e.event)
            .collect();
        assert_eq!(
            events.first().map(String::as_str),
            Some("opened"),
            "{events:?}"
        );
        assert_eq!(
            events.iter().filter(|e| *e == "notified").count(),
            8,
            "{events:?}"
        );
        assert!(events.contains(&"resolved".to_string()), "{events:?}");
    }
}
