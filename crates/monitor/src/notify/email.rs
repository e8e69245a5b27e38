//! A mail over SMTP with lettre: plain, STARTTLS or TLS, with optional login.

use super::{Notification, Notifier, resolve};
use crate::config::{NotifierConfig, SmtpTls};
use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Message, SmtpTransport, Transport};
use std::time::Duration;

/// `host:port` split; None when the port is missing or not a number.
pub fn split_host_port(s: &str) -> Option<(&str, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    Some((host, port.parse().ok()?))
}

pub struct Email {
    name: String,
    smtp: String,
    tls: SmtpTls,
    username: Option<String>,
    password: Option<String>,
    from: String,
    to: Vec<String>,
    to_owner: bool,
    timeout: Duration,
}

impl Email {
    /// From an `email` notifier's configuration (other kinds make a notifier that always fails).
    pub fn new(c: &NotifierConfig, timeout: Duration) -> Email {
        match c {
            NotifierConfig::Email {
                name,
                smtp,
                tls,
                username,
                password,
                from,
                to,
                to_owner,
            } => Email {
                name: name.clone(),
                smtp: smtp.clone(),
                tls: *tls,
                username: username.clone(),
                password: password.clone(),
                from: from.clone(),
                to: to.clone(),
                to_owner: *to_owner,
                timeout,
            },
            other => Email {
                name: other.name().to_string(),
                smtp: String::new(),
                tls: SmtpTls::None,
                username: None,
                password: None,
                from: String::new(),
                to: Vec::new(),
                to_owner: false,
                timeout,
            },
        }
    }

    /// The recipients of `n`: the configured ones, and its owner when asked and the owner is an
    /// address.
    pub fn recipients(&self, n: &Notification) -> Result<Vec<Mailbox>, String> {
        let mut out: Vec<Mailbox> = Vec::new();
        for a in &self.to {
            let a = resolve(a)?;
            let m: Mailbox = a
                .expose()
                .parse()
                .map_err(|e| format!("recipient `{a}`: {e}"))?;
            if !out.contains(&m) {
                out.push(m);
            }
        }
        if self.to_owner
            && let Some(owner) = &n.incident.owner
            && owner.contains('@')
            && let Ok(m) = owner.parse::<Mailbox>()
            && !out.contains(&m)
        {
            out.push(m);
        }
        Ok(out)
    }
}

impl Notifier for Email {
    fn name(&self) -> &str {
        &self.name
    }

    fn send(&self, n: &Notification) -> Result<(), String> {
        let smtp = resolve(&self.smtp)?;
        let (host, port) = split_host_port(smtp.expose())
            .ok_or_else(|| format!("smtp `{smtp}` is not host:port"))?;
        let from = resolve(&self.from)?;
        let from: Mailbox = from
            .expose()
            .parse()
            .map_err(|e| format!("from `{from}`: {e}"))?;
        let to = self.recipients(n)?;
        if to.is_empty() {
            return Err("no recipient (the owner is not an e-mail address)".into());
        }
        let mut msg = Message::builder().from(from).subject(n.title());
        for m in to {
            msg = msg.to(m);
        }
        let msg = msg
            .header(ContentType::TEXT_PLAIN)
            .body(n.text())
            .map_err(|e| format!("cannot build the mail: {e}"))?;
        let builder = match self.tls {
            SmtpTls::None => SmtpTransport::builder_dangerous(host),
            SmtpTls::Starttls => {
                SmtpTransport::starttls_relay(host).map_err(|e| format!("SMTP {host}: {e}"))?
            }
            SmtpTls::Tls => SmtpTransport::relay(host).map_err(|e| format!("SMTP {host}: {e}"))?,
        };
        let mut builder = builder.port(port).timeout(Some(self.timeout));
        let mut secret = None;
        if let Some(user) = &self.username {
            let user = resolve(user)?;
            let password = match &self.password {
                Some(p) => resolve(p)?,
                None => resolve("")?,
            };
            builder = builder.credentials(Credentials::new(
                user.expose().to_string(),
                password.expose().to_string(),
            ));
            secret = Some(password);
        }
        let transport = builder.build();
        transport.send(&msg).map(|_| ()).map_err(|e| {
            let text = format!("SMTP {host}:{port}: {e}");
            match &secret {
                Some(p) if !p.expose().is_empty() => text.replace(p.expose(), "***"),
                _ => text,
            }
        })
    }
}
