//! An HTTP(S) POST of the notification: the incident as JSON, or Slack's `{"text": …}`.

use super::{Notification, Notifier, resolve};
use crate::config::WebhookFormat;
use std::collections::BTreeMap;
use std::time::Duration;

pub struct Webhook {
    name: String,
    url: String,
    format: WebhookFormat,
    headers: BTreeMap<String, String>,
    agent: ureq::Agent,
}

impl Webhook {
    pub fn new(
        name: &str,
        url: &str,
        format: WebhookFormat,
        headers: &BTreeMap<String, String>,
        timeout: Duration,
    ) -> Webhook {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Webhook {
            name: name.to_string(),
            url: url.to_string(),
            format,
            headers: headers.clone(),
            agent,
        }
    }

    /// The request body for `n`.
    pub fn body(&self, n: &Notification) -> String {
        match self.format {
            WebhookFormat::Json => serde_json::to_string(n).unwrap_or_default(),
            WebhookFormat::Slack => {
                let emoji = if n.is_resolved() {
                    ":white_check_mark:"
                } else {
                    ":rotating_light:"
                };
                let mut text = format!("{emoji} *{}*", slack_escape(&n.title()));
                let rest = n.text();
                let detail: Vec<&str> = rest.lines().skip(2).collect();
                if !detail.is_empty() {
                    text.push('\n');
                    text.push_str(&slack_escape(&detail.join("\n")));
                }
                serde_json::json!({ "text": text }).to_string()
            }
        }
    }
}

/// Slack's three control characters in message text.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `https://hooks.example.com` of a URL: enough to say where, never the path (which often is
/// the secret).
fn origin(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or(host);
            format!("{scheme}://{host}")
        }
        None => "the webhook".to_string(),
    }
}

impl Notifier for Webhook {
    fn name(&self) -> &str {
        &self.name
    }

    fn send(&self, n: &Notification) -> Result<(), String> {
        let url = resolve(&self.url)?;
        let target = origin(url.expose());
        let mut req = self
            .agent
            .post(url.expose())
            .header("Content-Type", "application/json")
            .header("User-Agent", "pulse-monitor");
        for (k, v) in &self.headers {
            let v = resolve(v)?;
            req = req.header(k.as_str(), v.expose());
        }
        let body = self.body(n);
        let mut resp = req
            .send(body.as_bytes())
            .map_err(|e| url.redact(&format!("POST to {target} failed: {e}")))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let text = resp
            .body_mut()
            .with_config()
            .limit(2048)
            .read_to_string()
            .unwrap_or_default();
        let text: String = text.chars().take(200).collect();
        Err(url.redact(&format!(
            "POST to {target} answered HTTP {}: {}",
            status.as_u16(),
            text.trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_hide_paths_and_credentials() {
        assert_eq!(
            origin("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com"
        );
        assert_eq!(
            origin("http://u:p@127.0.0.1:8080/x"),
            "http://127.0.0.1:8080"
        );
    }
}
