//! Timestamps as the upstream systems write them, formatted without allocation-heavy machinery
//! because the generator writes hundreds of millions of them.

use chrono::{Datelike, NaiveDate};
use std::io::Write;

/// Seconds since the Unix epoch of midnight UTC at the start of `date`.
pub fn midnight(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp())
        .unwrap_or_default()
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DD HH:MM:SS`, the way the application databases store times.
pub fn write_timestamp(out: &mut Vec<u8>, secs: i64) {
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        (s / 60) % 60,
        s % 60
    );
}

pub fn timestamp(secs: i64) -> String {
    let mut v = Vec::with_capacity(19);
    write_timestamp(&mut v, secs);
    String::from_utf8(v).unwrap_or_default()
}

/// `YYYYMMDD`, GA4's `event_date` and the export's file suffix.
pub fn compact_date(date: NaiveDate) -> String {
    format!("{:04}{:02}{:02}", date.year(), date.month(), date.day())
}

pub fn date_key(date: NaiveDate) -> i64 {
    i64::from(date.year()) * 10_000 + i64::from(date.month()) * 100 + i64::from(date.day())
}

/// The UTC date of an epoch second.
pub fn date_of(secs: i64) -> NaiveDate {
    let (y, m, d) = civil(secs.div_euclid(86_400));
    NaiveDate::from_ymd_opt(y as i32, m, d).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_chrono() {
        for secs in [
            0_i64,
            951_782_400,
            1_793_491_199,
            1_793_491_200,
            4_102_444_800,
        ] {
            let want = chrono::DateTime::from_timestamp(secs, 0)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default();
            assert_eq!(timestamp(secs), want);
            assert_eq!(
                date_of(secs),
                chrono::DateTime::from_timestamp(secs, 0)
                    .map(|t| t.date_naive())
                    .unwrap_or_default()
            );
        }
    }
}
