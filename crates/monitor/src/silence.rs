//! Silence matchers: `field=pattern` terms joined by commas, all of which must hold; a term
//! without `=` is a pattern for the incident key (`<rule>:<subject>`). Fields: `key`, `rule`,
//! `kind`, `subject`, `owner`, `severity`; patterns take `*` and `?`.
//!
//! `pulse alerts silence 'subject=marts.*' --until 2h --comment "rebuild"`,
//! `pulse alerts silence 'freshness:fct_orders'`, `pulse alerts silence 'owner=payments,severity=warning'`.

use crate::alerts::Incident;
use crate::error::{MonitorError, Result};
use crate::glob::glob_match;
use chrono::{DateTime, Utc};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Key,
    Rule,
    Kind,
    Subject,
    Owner,
    Severity,
}

impl Field {
    fn parse(s: &str) -> Option<Field> {
        Some(match s {
            "key" => Field::Key,
            "rule" => Field::Rule,
            "kind" => Field::Kind,
            "subject" => Field::Subject,
            "owner" => Field::Owner,
            "severity" => Field::Severity,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Field::Key => "key",
            Field::Rule => "rule",
            Field::Kind => "kind",
            Field::Subject => "subject",
            Field::Owner => "owner",
            Field::Severity => "severity",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    terms: Vec<(Field, String)>,
}

impl Matcher {
    pub fn parse(text: &str) -> Result<Matcher> {
        let err = |message: String| MonitorError::Matcher {
            matcher: text.to_string(),
            message,
        };
        let mut terms = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, pattern) = match part.split_once('=') {
                Some((f, p)) => {
                    let field = Field::parse(f.trim()).ok_or_else(|| {
                        err(format!(
                            "unknown field `{}` (key, rule, kind, subject, owner or severity)",
                            f.trim()
                        ))
                    })?;
                    (field, p.trim())
                }
                None => (Field::Key, part),
            };
            if pattern.is_empty() {
                return Err(err(format!("`{}` has no pattern", field.as_str())));
            }
            terms.push((field, pattern.to_string()));
        }
        if terms.is_empty() {
            return Err(err(
                "matches nothing: give a key pattern or field=pattern terms".into(),
            ));
        }
        Ok(Matcher { terms })
    }

    pub fn matches(&self, i: &Incident) -> bool {
        self.terms.iter().all(|(field, pattern)| {
            let value = match field {
                Field::Key => Some(i.key.as_str()),
                Field::Rule => Some(i.rule.as_str()),
                Field::Kind => Some(i.kind.as_str()),
                Field::Subject => Some(i.subject.as_str()),
                Field::Owner => i.owner.as_deref(),
                Field::Severity => Some(i.severity.as_str()),
            };
            value.is_some_and(|v| glob_match(pattern, v))
        })
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .terms
            .iter()
            .map(|(k, p)| format!("{}={p}", k.as_str()))
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_problem() {
        assert!(Matcher::parse("").is_err());
        let e = Matcher::parse("colour=red").expect_err("field");
        assert!(e.to_string().contains("unknown field `colour`"), "{e}");
        let m = Matcher::parse("freshness:*, owner = data*").expect("ok");
        assert_eq!(m.to_string(), "key=freshness:*,owner=data*");
    }
}

/// When a silence given as `--until` ends: a duration from `now` (`90m`, `2h`, `1d`) or an
/// RFC 3339 time (`2025-06-01T18:00:00Z`).
pub fn parse_until(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = pulse_project::ConfigDuration::parse(text).map_err(|e| MonitorError::Matcher {
        matcher: text.to_string(),
        message: format!("an end is a duration like `2h` or a time like 2025-06-01T18:00:00Z: {e}"),
    })?;
    let d = chrono::Duration::from_std(d.as_std()).map_err(|e| MonitorError::Matcher {
        matcher: text.to_string(),
        message: e.to_string(),
    })?;
    Ok(now + d)
}

#[cfg(test)]
mod until_tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        let now = DateTime::parse_from_rfc3339("2025-06-01T10:00:00Z")
            .expect("t")
            .with_timezone(&Utc);
        assert_eq!(
            parse_until("2h", now).expect("2h").to_rfc3339(),
            "2025-06-01T12:00:00+00:00"
        );
        assert_eq!(
            parse_until("2025-06-02T00:00:00+02:00", now)
                .expect("time")
                .to_rfc3339(),
            "2025-06-01T22:00:00+00:00"
        );
        assert!(parse_until("soon", now).is_err());
    }
}
