//! Connection strings with secrets: `${NAME}` references to environment variables are resolved
//! only when a source is read, and the password is cut out of everything shown to a person.

use std::fmt;

/// A connection string as written in a source file, and its resolved form.
#[derive(Clone)]
pub struct ConnectionString {
    resolved: String,
    display: String,
    secrets: Vec<String>,
}

impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ConnectionString")
            .field(&self.display)
            .finish()
    }
}

impl fmt::Display for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl ConnectionString {
    /// Resolves `${NAME}` from the process environment. The error names the variable (never its
    /// value).
    pub fn resolve(written: &str) -> Result<ConnectionString, String> {
        Self::resolve_with(written, |name| std::env::var(name).ok())
    }

    pub fn resolve_with(
        written: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<ConnectionString, String> {
        let mut resolved = String::with_capacity(written.len());
        let mut secrets = Vec::new();
        let mut rest = written;
        while let Some(start) = rest.find("${") {
            resolved.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| "an unclosed `${` in the connection string".to_string())?;
            // `${NAME:-default}`: the default when NAME is unset (defaults are written in the
            // file, so they are not secrets of their own).
            let (name, default) = match after[..end].split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (&after[..end], None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "`${{{name}}}` is not an environment variable reference"
                ));
            }
            let value = match (lookup(name), default) {
                (Some(v), _) => {
                    if !v.is_empty() {
                        secrets.push(v.clone());
                    }
                    v
                }
                (None, Some(d)) => d.to_string(),
                (None, None) => {
                    return Err(format!(
                        "the environment variable {name} (used in the connection string) is not set"
                    ));
                }
            };
            resolved.push_str(&value);
            rest = &after[end + 1..];
        }
        resolved.push_str(rest);
        if let Some(p) = url_password(&resolved)
            && !p.is_empty()
        {
            secrets.push(p.to_string());
            if let Some(decoded) = percent_decode(p) {
                secrets.push(decoded);
            }
        }
        // Longest first, so a secret that contains another is cut out whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        let display = redact_url(&resolved);
        let mut cs = ConnectionString {
            resolved,
            display: String::new(),
            secrets,
        };
        cs.display = cs.redact(&display);
        Ok(cs)
    }

    /// The string to connect with. Never print it.
    pub fn expose(&self) -> &str {
        &self.resolved
    }

    /// The password, if the URL has one (percent-decoded).
    pub fn password(&self) -> Option<String> {
        url_password(&self.resolved).and_then(percent_decode)
    }

    /// Any text (an error from a driver, a log line) with every secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = redact_url(text);
        for s in &self.secrets {
            // Very short values would blank out ordinary words; they are still cut from URLs.
            if s.len() >= 3 {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }
}

/// The password part of `scheme://user:password@host…`, as written.
fn url_password(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let at = authority.rfind('@')?;
    let userinfo = &authority[..at];
    let (_, password) = userinfo.split_once(':')?;
    Some(password)
}

/// Every `scheme://user:password@` in `text` becomes `scheme://user:***@`, and every
/// `password=value` (key/value connection strings) becomes `password=***`.
pub fn redact_url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.split_once(':') {
                    Some((user, _)) => {
                        out.push_str(user);
                        out.push_str(":***");
                        out.push_str(&authority[at..]);
                    }
                    None => out.push_str(authority),
                }
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    redact_key_values(&out)
}

fn redact_key_values(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let found = ["password=", "pwd="]
            .iter()
            .filter_map(|k| lower[i..].find(k).map(|p| (p + i, k.len())))
            .min();
        let Some((p, klen)) = found else {
            out.push_str(&text[i..]);
            break;
        };
        out.push_str(&text[i..p + klen]);
        let value_end = text[p + klen..]
            .find(|c: char| c.is_whitespace() || c == '&' || c == ';')
            .map_or(text.len(), |e| p + klen + e);
        if value_end > p + klen {
            out.push_str("***");
        }
        i = value_end;
    }
    out
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_references_resolve_and_stay_hidden() {
        let cs = ConnectionString::resolve_with(
            "postgres://app:${PG_PW}@db.internal:5432/orders",
            |n| (n == "PG_PW").then(|| "s3cr%21t".to_string()),
        )
        .expect("resolves");
        assert_eq!(
            cs.expose(),
            "postgres://app:s3cr%21t@db.internal:5432/orders"
        );
        assert_eq!(cs.to_string(), "postgres://app:***@db.internal:5432/orders");
        assert_eq!(
            format!("{cs:?}"),
            "ConnectionString(\"postgres://app:***@db.internal:5432/orders\")"
        );
        assert_eq!(cs.password().as_deref(), Some("s3cr!t"));
        assert_eq!(
            cs.redact("auth failed for s3cr!t and s3cr%21t"),
            "auth failed for *** and ***"
        );
        let cs = ConnectionString::resolve_with("${DB_URL:-mysql://root@127.0.0.1/test}", |_| None)
            .expect("default");
        assert_eq!(cs.expose(), "mysql://root@127.0.0.1/test");
        let cs = ConnectionString::resolve_with("${DB_URL:-mysql://root@127.0.0.1/test}", |_| {
            Some("mysql://app:pw123@db/x".into())
        })
        .expect("set");
        assert_eq!(cs.to_string(), "mysql://app:***@db/x");
        let err =
            ConnectionString::resolve_with("mysql://u:${NOPE}@h/d", |_| None).expect_err("unset");
        assert!(err.contains("NOPE") && err.contains("not set"), "{err}");
    }

    #[test]
    fn redacts_urls_and_key_values() {
        assert_eq!(
            redact_url("x postgres://u:p@h/db y mysql://root@h z"),
            "x postgres://u:***@h/db y mysql://root@h z"
        );
        assert_eq!(
            redact_url("host=h password=hunter2 user=u"),
            "host=h password=*** user=u"
        );
        assert_eq!(redact_url("no secrets here"), "no secrets here");
    }
}
