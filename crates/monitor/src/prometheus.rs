//! The Prometheus text exposition format (version 0.0.4), written by hand: each family once,
//! with HELP and TYPE; label values escaped; histograms as cumulative `_bucket` series ending
//! in `le="+Inf"`, then `_sum` and `_count`.

use std::fmt::Write;

/// The content type to serve it with.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) for durations from a second to a day.
pub const DURATION_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 21600.0,
    43200.0, 86400.0,
];

#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    bounds: Vec<f64>,
    /// Per bucket, not cumulative; the last is +Inf.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    pub fn new(bounds: &[f64]) -> Histogram {
        Histogram {
            bounds: bounds.to_vec(),
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    pub fn observe(&mut self, v: f64) {
        let i = self
            .bounds
            .iter()
            .position(|b| v <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[i] += 1;
        self.sum += v;
        self.count += 1;
    }

    pub fn merge(&mut self, other: &Histogram) {
        if self.bounds != other.bounds {
            return;
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.sum += other.sum;
        self.count += other.count;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }
}

/// `\` `"` and newlines escaped, as label values need.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value: integers without a fraction, non-finite values by their names.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Builds one exposition; families are written in the order they are started.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

fn labels_text(labels: &[(&str, &str)], extra: Option<(&str, &str)>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
        .collect();
    if let Some((k, v)) = extra {
        parts.push(format!("{k}=\"{}\"", escape_label(v)));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

impl Exposition {
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// HELP and TYPE of a family; its samples follow.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
    }

    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let _ = writeln!(
            self.out,
            "{name}{} {}",
            labels_text(labels, None),
            format_value(value)
        );
    }

    /// A family with a single unlabelled sample.
    pub fn single(&mut self, name: &str, kind: Kind, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let mut cumulative = 0u64;
        for (i, b) in h.bounds.iter().enumerate() {
            cumulative += h.counts[i];
            let le = format_value(*b);
            let _ = writeln!(
                self.out,
                "{name}_bucket{} {cumulative}",
                labels_text(labels, Some(("le", &le)))
            );
        }
        let _ = writeln!(
            self.out,
            "{name}_bucket{} {}",
            labels_text(labels, Some(("le", "+Inf"))),
            h.count
        );
        let l = labels_text(labels, None);
        let _ = writeln!(self.out, "{name}_sum{l} {}", format_value(h.sum));
        let _ = writeln!(self.out, "{name}_count{l} {}", h.count);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_histograms_cumulative() {
        let mut e = Exposition::new();
        e.family("x_total", Kind::Counter, "a \\ help\nline");
        e.sample("x_total", &[("task", "a\"b\\c\nd")], 3.0);
        let mut h = Histogram::new(&[1.0, 5.0]);
        for v in [0.5, 2.0, 7.0] {
            h.observe(v);
        }
        e.family("d_seconds", Kind::Histogram, "d");
        e.histogram("d_seconds", &[("kind", "land")], &h);
        let text = e.finish();
        assert!(
            text.contains("# HELP x_total a \\\\ help\\nline\n"),
            "{text}"
        );
        assert!(
            text.contains("x_total{task=\"a\\\"b\\\\c\\nd\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("d_seconds_bucket{kind=\"land\",le=\"1\"} 1\n"));
        assert!(text.contains("d_seconds_bucket{kind=\"land\",le=\"5\"} 2\n"));
        assert!(text.contains("d_seconds_bucket{kind=\"land\",le=\"+Inf\"} 3\n"));
        assert!(text.contains("d_seconds_sum{kind=\"land\"} 9.5\n"));
        assert!(text.contains("d_seconds_count{kind=\"land\"} 3\n"));
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(0.25), "0.25");
    }
}
