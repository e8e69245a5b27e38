//! Logs on standard error: readable lines by default, or JSON lines (`--log-format json`, or
//! `PULSE_LOG_FORMAT=json`) for log shippers — one object per event with its time, level,
//! target, message and fields; a task's lines carry `run_id`, `task_id` and `attempt`.

use serde_json::{Map, Value};
use std::fmt;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

#[derive(Copy, Clone, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// `--log-format`, else `PULSE_LOG_FORMAT`, else text.
    pub fn resolve(flag: Option<LogFormat>) -> LogFormat {
        flag.unwrap_or_else(|| match std::env::var("PULSE_LOG_FORMAT").as_deref() {
            Ok("json") => LogFormat::Json,
            _ => LogFormat::Text,
        })
    }
}

/// One JSON object per line.
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        writeln!(writer, "{}", Value::Object(event_object(event)))
    }
}

fn event_object(event: &Event<'_>) -> Map<String, Value> {
    let meta = event.metadata();
    let mut object = Map::new();
    object.insert(
        "ts".into(),
        Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    );
    object.insert(
        "level".into(),
        Value::String(meta.level().as_str().to_ascii_lowercase()),
    );
    object.insert("target".into(), Value::String(meta.target().to_string()));
    event.record(&mut Fields(&mut object));
    object
}

struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `message` is format_args!, whose Debug is its text.
        self.0.insert(
            field.name().to_string(),
            Value::String(format!("{value:?}")),
        );
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_string(), Value::String(value.to_string()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_task_line_is_one_json_object_with_its_run_and_task() {
        let buffer = Buffer::default();
        let out = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .event_format(JsonLines)
            .with_writer(move || out.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(run_id = %"run-1", task_id = %"land:orders", attempt = 2_u32, "3 rows \"quarantined\"");
            tracing::info!(done = true, "second");
        });
        let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf8");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["level"], "warn");
        assert_eq!(lines[0]["run_id"], "run-1");
        assert_eq!(lines[0]["task_id"], "land:orders");
        assert_eq!(lines[0]["attempt"], 2);
        assert_eq!(lines[0]["message"], "3 rows \"quarantined\"");
        assert!(lines[0]["ts"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert_eq!(lines[1]["done"], true);
    }
}
