//! Numbers as a person reads them: durations, sizes, counts and times, and metric figures in
//! their format (currency, percent, duration, integer, number).
//!
//! Metric figures follow one convention: [`value`] is the exact figure (`€1,234.50`,
//! `12.3%`, `32.5 min`, `1,234,567`); [`compact`] is the same up to 99,999 and abbreviated above
//! (`€123k`, `1.23M`), for the big KPI figures and axis labels where space is short.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use pulse_project::ValueFormat;

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

/// `-1,234.50`: fixed decimals, thousands separators, never `-0`.
pub fn fixed(v: f64, decimals: u8) -> String {
    let text = format!("{:.*}", usize::from(decimals), v.abs());
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text.as_str(), None),
    };
    let mut out = String::with_capacity(text.len() + int.len() / 3 + 1);
    let negative = v < 0.0 && text.bytes().any(|b| (b'1'..=b'9').contains(&b));
    if negative {
        out.push('-');
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// The sign of a currency code, or `None` for codes written out (`CHF 12.00`).
fn currency_symbol(code: &str) -> Option<&'static str> {
    match code.to_ascii_uppercase().as_str() {
        "EUR" => Some("€"),
        "USD" => Some("$"),
        "GBP" => Some("£"),
        "JPY" | "CNY" => Some("¥"),
        "INR" => Some("₹"),
        _ => None,
    }
}

/// The short form of a duration unit: `minutes` → `min`.
pub fn duration_unit(unit: &str) -> &str {
    match unit.to_ascii_lowercase().as_str() {
        "milliseconds" | "millisecond" | "ms" => "ms",
        "seconds" | "second" | "secs" | "sec" | "s" => "s",
        "minutes" | "minute" | "mins" | "min" | "m" => "min",
        "hours" | "hour" | "hrs" | "hr" | "h" => "h",
        "days" | "day" | "d" => "d",
        _ => unit,
    }
}

/// Digits after the point a format shows by default.
fn default_decimals(format: ValueFormat, unit: Option<&str>) -> u8 {
    match format {
        ValueFormat::Integer => 0,
        ValueFormat::Currency if unit.is_some_and(|u| u.eq_ignore_ascii_case("JPY")) => 0,
        ValueFormat::Currency | ValueFormat::Number => 2,
        ValueFormat::Duration | ValueFormat::Percent => 1,
    }
}

/// Puts the unit around an already formatted number.
fn with_unit(number: String, negative: bool, format: ValueFormat, unit: Option<&str>) -> String {
    match (format, unit) {
        (ValueFormat::Percent, _) => format!("{number}%"),
        (ValueFormat::Currency, Some(code)) => {
            let digits = number.trim_start_matches('-');
            let sign = if negative { "-" } else { "" };
            match currency_symbol(code) {
                Some(symbol) => format!("{sign}{symbol}{digits}"),
                None => format!("{sign}{} {digits}", code.to_ascii_uppercase()),
            }
        }
        (ValueFormat::Duration, Some(u)) => format!("{number} {}", duration_unit(u)),
        (ValueFormat::Number | ValueFormat::Integer, Some(u)) if !u.is_empty() => {
            format!("{number} {u}")
        }
        _ => number,
    }
}

/// A metric figure in full: `€1,234.50`, `12.3%` (from 0.123), `32.5 min`, `1,234,567`,
/// `1,234.57`. `decimals` overrides the format's default; integers are rounded.
pub fn value(v: f64, format: ValueFormat, unit: Option<&str>, decimals: Option<u8>) -> String {
    if !v.is_finite() {
        return "—".to_owned();
    }
    let shown = if format == ValueFormat::Percent {
        v * 100.0
    } else {
        v
    };
    let d = decimals.unwrap_or_else(|| default_decimals(format, unit));
    let number = if format == ValueFormat::Number && decimals.is_none() {
        trim_zeros(fixed(shown, d))
    } else {
        fixed(shown, d)
    };
    let negative = number.starts_with('-');
    with_unit(number, negative, format, unit)
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// Up to 99,999 as [`value`]; above, three significant digits and a suffix: `€123k`, `1.23M`,
/// `4.5B`. Percentages are always in full.
pub fn compact(v: f64, format: ValueFormat, unit: Option<&str>, decimals: Option<u8>) -> String {
    if !v.is_finite() {
        return "—".to_owned();
    }
    if format == ValueFormat::Percent || v.abs() < 100_000.0 {
        return value(v, format, unit, decimals);
    }
    let (scaled, suffix) = abbreviate(v);
    let number = format!("{}{suffix}", significant(scaled));
    let negative = v < 0.0;
    with_unit(number, negative, format, unit)
}

fn abbreviate(v: f64) -> (f64, &'static str) {
    let a = v.abs();
    if a >= 1e12 {
        (v / 1e12, "T")
    } else if a >= 1e9 {
        (v / 1e9, "B")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else {
        (v / 1e3, "k")
    }
}

/// Three significant digits, trailing zeros dropped: `1.23`, `12.3`, `123`, `1.2`.
fn significant(v: f64) -> String {
    let d = match v.abs() {
        a if a >= 99.95 => 0,
        a if a >= 9.995 => 1,
        _ => 2,
    };
    trim_zeros(fixed(v, d))
}

/// An axis label: as few decimals as the distance between ticks needs, `compact` above 99,999.
pub fn tick(v: f64, step: f64, format: ValueFormat, unit: Option<&str>) -> String {
    let scale = if format == ValueFormat::Percent {
        100.0
    } else {
        1.0
    };
    let step = (step * scale).abs();
    let decimals = if step > 0.0 && step < 1.0 {
        (-step.log10().floor()).clamp(0.0, 6.0) as u8
    } else {
        0
    };
    let decimals = if step > 0.0 && (step * 10f64.powi(i32::from(decimals))).fract() > 1e-6 {
        decimals + 1
    } else {
        decimals
    };
    if v.abs() >= 100_000.0 && format != ValueFormat::Percent {
        return compact(v, format, unit, None);
    }
    value(v, format, unit, Some(decimals))
}

/// A change against the previous period, from a share: `+12.3%`, `-4.0%`, `0.0%`.
pub fn change(v: f64) -> String {
    if !v.is_finite() {
        return "—".to_owned();
    }
    let text = value(v, ValueFormat::Percent, None, Some(1));
    if v > 0.0 && text != "0.0%" {
        format!("+{text}")
    } else {
        text
    }
}

/// The unit a reader needs beside an axis or a legend: the currency code, the duration unit,
/// `%`, or a number's own unit.
pub fn unit_label(format: ValueFormat, unit: Option<&str>) -> Option<String> {
    match (format, unit) {
        (ValueFormat::Percent, _) => Some("%".to_owned()),
        (ValueFormat::Currency | ValueFormat::Duration, Some(u)) => Some(u.to_owned()),
        (ValueFormat::Number | ValueFormat::Integer, Some(u)) if !u.is_empty() => {
            Some(u.to_owned())
        }
        _ => None,
    }
}

/// `5 Jan 2026`.
pub fn day(d: NaiveDate) -> String {
    d.format("%-d %b %Y").to_string()
}

/// `1 – 28 Jan 2026`, `28 Dec 2025 – 3 Jan 2026`, or one day.
pub fn date_range(from: NaiveDate, to: NaiveDate) -> String {
    use chrono::Datelike;
    if from == to {
        day(from)
    } else if from.year() == to.year() && from.month() == to.month() {
        format!("{} – {}", from.format("%-d"), day(to))
    } else if from.year() == to.year() {
        format!("{} – {}", from.format("%-d %b"), day(to))
    } else {
        format!("{} – {}", day(from), day(to))
    }
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

    #[test]
    fn fixed_groups_thousands_and_never_shows_minus_zero() {
        assert_eq!(fixed(1_234_567.0, 0), "1,234,567");
        assert_eq!(fixed(-1_234.5, 2), "-1,234.50");
        assert_eq!(fixed(-0.001, 1), "0.0");
        assert_eq!(fixed(999.96, 1), "1,000.0");
        assert_eq!(fixed(12.0, 0), "12");
    }

    #[test]
    fn metric_values_follow_their_format() {
        use ValueFormat::*;
        assert_eq!(value(1_234.5, Currency, Some("EUR"), None), "€1,234.50");
        assert_eq!(value(-3.0, Currency, Some("USD"), None), "-$3.00");
        assert_eq!(value(12.0, Currency, Some("chf"), None), "CHF 12.00");
        assert_eq!(value(1_500.0, Currency, Some("JPY"), None), "¥1,500");
        assert_eq!(value(0.1234, Percent, None, None), "12.3%");
        assert_eq!(value(0.5, Percent, None, Some(0)), "50%");
        assert_eq!(value(32.5, Duration, Some("minutes"), None), "32.5 min");
        assert_eq!(value(4.0, Duration, Some("seconds"), None), "4.0 s");
        assert_eq!(value(1.25, Duration, Some("hours"), Some(2)), "1.25 h");
        assert_eq!(value(1_234_567.0, Integer, None, None), "1,234,567");
        assert_eq!(value(41.6, Integer, None, None), "42");
        assert_eq!(value(1_234.567, Number, None, None), "1,234.57");
        assert_eq!(value(3.0, Number, None, None), "3");
        assert_eq!(value(4.25, Number, Some("stars"), Some(1)), "4.2 stars");
        assert_eq!(value(f64::NAN, Number, None, None), "—");
    }

    #[test]
    fn compact_values_abbreviate_only_large_figures() {
        use ValueFormat::*;
        assert_eq!(compact(12_345.0, Integer, None, None), "12,345");
        assert_eq!(compact(1_234_567.0, Integer, None, None), "1.23M");
        assert_eq!(compact(123_456.0, Currency, Some("EUR"), None), "€123k");
        assert_eq!(compact(2_000_000.0, Currency, Some("EUR"), None), "€2M");
        assert_eq!(compact(-4_500_000_000.0, Number, None, None), "-4.5B");
        assert_eq!(compact(0.25, Percent, None, None), "25.0%");
        assert_eq!(
            compact(150_000.0, Duration, Some("minutes"), None),
            "150k min"
        );
    }

    #[test]
    fn ticks_show_the_decimals_the_step_needs() {
        use ValueFormat::*;
        assert_eq!(tick(2_500.0, 500.0, Currency, Some("EUR")), "€2,500");
        assert_eq!(tick(0.05, 0.05, Percent, None), "5%");
        assert_eq!(tick(0.025, 0.025, Percent, None), "2.5%");
        assert_eq!(tick(0.5, 0.5, Number, None), "0.5");
        assert_eq!(tick(0.25, 0.25, Number, None), "0.25");
        assert_eq!(tick(200_000.0, 50_000.0, Integer, None), "200k");
        assert_eq!(tick(30.0, 10.0, Duration, Some("minutes")), "30 min");
    }

    #[test]
    fn changes_carry_a_sign() {
        assert_eq!(change(0.123), "+12.3%");
        assert_eq!(change(-0.04), "-4.0%");
        assert_eq!(change(0.0), "0.0%");
        assert_eq!(change(0.00001), "0.0%");
        assert_eq!(change(f64::INFINITY), "—");
    }

    #[test]
    fn date_ranges_say_the_year_once() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("a valid date");
        assert_eq!(date_range(d(2026, 1, 1), d(2026, 1, 28)), "1 – 28 Jan 2026");
        assert_eq!(
            date_range(d(2026, 1, 20), d(2026, 2, 16)),
            "20 Jan – 16 Feb 2026"
        );
        assert_eq!(
            date_range(d(2025, 12, 28), d(2026, 1, 3)),
            "28 Dec 2025 – 3 Jan 2026"
        );
        assert_eq!(date_range(d(2026, 1, 5), d(2026, 1, 5)), "5 Jan 2026");
    }
}
