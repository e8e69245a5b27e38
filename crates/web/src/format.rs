//! Numbers as a person reads them: durations, sizes, counts and times.

use chrono::{DateTime, TimeDelta, Utc};

/// `850 ms`, `4.2 s`, `42 s`, `3 m 05 s`, `1 h 02 m`, `2 d 3 h`.
pub fn duration(d: TimeDelta) -> String {
    let ms = d.num_milliseconds().max(0);
    if ms < 1_000 {
        return format!("{ms} ms");
    }
    if ms < 10_000 {
        return format!("{:.1} s", ms as f64 / 1_000.0);
    }
    let s = ms / 1_000;
    match s {
        ..60 => format!("{s} s"),
        60..3_600 => format!("{} m {:02} s", s / 60, s % 60),
        3_600..86_400 => format!("{} h {:02} m", s / 3_600, s % 3_600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3_600),
    }
}

/// The time between two instants, or from `start` until `now` while the work is still going.
pub fn elapsed(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<TimeDelta> {
    let start = start?;
    Some(end.unwrap_or(now) - start)
}

/// Decimal units, as disks and network links are sold: `0 B`, `512 B`, `1.5 kB`, `23 MB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["kB", "MB", "GB", "TB", "PB", "EB"];
    if n < 1_000 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1_000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1_000.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `2026-11-05 14:03:22 UTC`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `14:03:22.125`, for log lines, where the date is on the page already.
pub fn clock(t: DateTime<Utc>) -> String {
    t.format("%H:%M:%S%.3f").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(TimeDelta::milliseconds(850)), "850 ms");
        assert_eq!(duration(TimeDelta::milliseconds(4_240)), "4.2 s");
        assert_eq!(duration(TimeDelta::seconds(42)), "42 s");
        assert_eq!(duration(TimeDelta::seconds(185)), "3 m 05 s");
        assert_eq!(duration(TimeDelta::seconds(3_725)), "1 h 02 m");
        assert_eq!(
            duration(TimeDelta::seconds(2 * 86_400 + 3 * 3_600 + 5)),
            "2 d 3 h"
        );
        assert_eq!(duration(TimeDelta::seconds(-5)), "0 ms");
    }

    #[test]
    fn sizes_use_decimal_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_500), "1.5 kB");
        assert_eq!(bytes(23_400_000), "23 MB");
        assert_eq!(bytes(999_999), "1.0 MB");
        assert_eq!(bytes(1_100_000_000), "1.1 GB");
    }

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }
}
