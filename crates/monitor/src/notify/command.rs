//! A program run for each notification: no shell; the notification as JSON on standard input;
//! `PULSE_ALERT_STATUS`, `_KEY`, `_ID`, `_RULE`, `_KIND`, `_SUBJECT`, `_SEVERITY`, `_OWNER`,
//! `_SUMMARY` and `_TITLE` in its environment. Exit 0 is delivered; anything else (or running
//! past the timeout, when it is killed) is a failure that is retried.

use super::{Notification, Notifier, resolve};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

pub struct Command {
    name: String,
    argv: Vec<String>,
    env: BTreeMap<String, String>,
    timeout: Duration,
}

impl Command {
    pub fn new(
        name: &str,
        argv: &[String],
        env: &BTreeMap<String, String>,
        timeout: Duration,
    ) -> Command {
        Command {
            name: name.to_string(),
            argv: argv.to_vec(),
            env: env.clone(),
            timeout,
        }
    }
}

impl Notifier for Command {
    fn name(&self) -> &str {
        &self.name
    }

    fn send(&self, n: &Notification) -> Result<(), String> {
        let Some((program, args)) = self.argv.split_first() else {
            return Err("no command configured".into());
        };
        let i = &n.incident;
        let mut cmd = Process::new(program);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .env("PULSE_ALERT_STATUS", &n.status)
            .env("PULSE_ALERT_ID", i.id.to_string())
            .env("PULSE_ALERT_KEY", &i.key)
            .env("PULSE_ALERT_RULE", &i.rule)
            .env("PULSE_ALERT_KIND", &i.kind)
            .env("PULSE_ALERT_SUBJECT", &i.subject)
            .env("PULSE_ALERT_SEVERITY", i.severity.as_str())
            .env("PULSE_ALERT_OWNER", i.owner.as_deref().unwrap_or(""))
            .env("PULSE_ALERT_SUMMARY", &i.summary)
            .env("PULSE_ALERT_TITLE", n.title());
        for (k, v) in &self.env {
            cmd.env(k, resolve(v)?.expose());
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start `{program}`: {e}"))?;
        let payload = serde_json::to_vec(n).map_err(|e| e.to_string())?;
        if let Some(mut stdin) = child.stdin.take() {
            // A program that does not read its input is fine: a broken pipe is not a failure.
            let _ = stdin.write_all(&payload);
        }
        let mut stderr = child.stderr.take();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(e) = stderr.as_mut() {
                let _ = e.take(4096).read_to_string(&mut s);
            }
            s
        });
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() > self.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "`{program}` ran longer than {}s and was stopped",
                        self.timeout.as_secs()
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(format!("waiting for `{program}`: {e}")),
            }
        };
        let err = reader.join().unwrap_or_default();
        if status.success() {
            Ok(())
        } else {
            let err: String = err.trim().chars().take(300).collect();
            Err(format!("`{program}` exited with {status}: {err}"))
        }
    }
}
