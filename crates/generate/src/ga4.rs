//! Google Analytics 4 events as its BigQuery export writes them, one JSON object per line.
//! Field names and nesting follow the export schema (`event_params` as a list of key/value
//! structs with typed value slots), because that is what real pipelines have to flatten.

use crate::world::Campaign;
use chrono::NaiveDate;
use std::io::Write;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    SessionStart,
    PageView,
    ViewItem,
    AddToCart,
    BeginCheckout,
    Purchase,
}

impl EventKind {
    fn name(self) -> &'static str {
        match self {
            EventKind::SessionStart => "session_start",
            EventKind::PageView => "page_view",
            EventKind::ViewItem => "view_item",
            EventKind::AddToCart => "add_to_cart",
            EventKind::BeginCheckout => "begin_checkout",
            EventKind::Purchase => "purchase",
        }
    }
}

pub struct Event<'a> {
    /// Microseconds since the epoch.
    pub ts: i64,
    pub kind: EventKind,
    pub session_id: i64,
    pub session_number: i64,
    pub user_id: Option<i64>,
    pub user_pseudo_id: &'a str,
    pub device: (&'static str, &'static str),
    pub city: &'static str,
    pub country: &'static str,
    pub city_slug: &'static str,
    pub restaurant_id: i64,
    pub campaign: Option<&'static Campaign>,
    /// (item id, name, price in cents, quantity)
    pub items: Vec<(i64, String, i64, i64)>,
    /// (order id, total in cents)
    pub transaction: Option<(i64, i64)>,
    pub engagement_msec: i64,
}

#[derive(Default)]
pub struct Counts {
    /// Distinct events written (a duplicate line is not a new event).
    pub events: u64,
    pub duplicates: u64,
    pub malformed: u64,
    pub late_events: u64,
    /// Lines held back for the next day's file.
    pub late: Vec<u8>,
}

pub struct Ga4Writer<W: Write> {
    out: W,
    event_date: String,
    line: Vec<u8>,
    bytes: u64,
    counts: Counts,
}

fn param_int(out: &mut Vec<u8>, key: &str, v: i64) {
    let _ = write!(
        out,
        r#"{{"key":"{key}","value":{{"string_value":null,"int_value":{v},"double_value":null}}}}"#
    );
}

fn param_str(out: &mut Vec<u8>, key: &str, v: &str) {
    let _ = write!(
        out,
        r#"{{"key":"{key}","value":{{"string_value":"{v}","int_value":null,"double_value":null}}}}"#
    );
}

fn param_double(out: &mut Vec<u8>, key: &str, v: f64) {
    let _ = write!(
        out,
        r#"{{"key":"{key}","value":{{"string_value":null,"int_value":null,"double_value":{v:.2}}}}}"#
    );
}

/// Writes `s` as a JSON string body; generated names are plain, but stay valid if they are not.
fn escaped(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0..=0x1f => {
                let _ = write!(out, "\\u{b:04x}");
            }
            _ => out.push(b),
        }
    }
}

impl<W: Write> Ga4Writer<W> {
    pub fn new(out: W, date: NaiveDate) -> Self {
        Self {
            out,
            event_date: crate::time::compact_date(date),
            line: Vec::with_capacity(2048),
            bytes: 0,
            counts: Counts::default(),
        }
    }

    fn render(&mut self, e: &Event) {
        let l = &mut self.line;
        l.clear();
        let _ = write!(
            l,
            r#"{{"event_date":"{}","event_timestamp":{},"event_name":"{}","event_params":["#,
            self.event_date,
            e.ts,
            e.kind.name()
        );
        param_int(l, "ga_session_id", e.session_id);
        l.push(b',');
        param_int(l, "ga_session_number", e.session_number);
        l.push(b',');
        let page = match e.kind {
            EventKind::SessionStart | EventKind::PageView => {
                format!("https://fooddash.example/{}/restaurants", e.city_slug)
            }
            EventKind::ViewItem | EventKind::AddToCart => format!(
                "https://fooddash.example/{}/r/{}",
                e.city_slug, e.restaurant_id
            ),
            EventKind::BeginCheckout | EventKind::Purchase => {
                "https://fooddash.example/checkout".to_string()
            }
        };
        param_str(l, "page_location", &page);
        l.push(b',');
        param_int(l, "engagement_time_msec", e.engagement_msec);
        if let Some((_, total)) = e.transaction {
            l.push(b',');
            param_double(l, "value", total as f64 / 100.0);
            l.push(b',');
            param_str(l, "currency", "EUR");
        }
        l.extend_from_slice(br#"],"user_id":"#);
        match e.user_id {
            Some(id) => {
                let _ = write!(l, r#""{id}""#);
            }
            None => l.extend_from_slice(b"null"),
        }
        let _ = write!(
            l,
            r#","user_pseudo_id":"{}","device":{{"category":"{}","operating_system":"{}","language":"de-de"}},"geo":{{"country":"{}","city":"{}"}},"#,
            e.user_pseudo_id, e.device.0, e.device.1, e.country, e.city
        );
        match e.campaign {
            Some(c) => {
                let _ = write!(
                    l,
                    r#""traffic_source":{{"name":"{0}","medium":"{1}","source":"{2}"}},"collected_traffic_source":{{"manual_campaign_name":"{0}","manual_source":"{2}","manual_medium":"{1}"}},"#,
                    c.utm_campaign, c.medium, c.source
                );
            }
            None => l.extend_from_slice(
                br#""traffic_source":{"name":"(direct)","medium":"(none)","source":"(direct)"},"collected_traffic_source":{"manual_campaign_name":null,"manual_source":null,"manual_medium":null},"#,
            ),
        }
        match e.transaction {
            Some((order_id, total)) => {
                let qty: i64 = e.items.iter().map(|i| i.3).sum();
                let _ = write!(
                    l,
                    r#""ecommerce":{{"transaction_id":"{order_id}","purchase_revenue":{:.2},"total_item_quantity":{qty}}},"#,
                    total as f64 / 100.0
                );
            }
            None => l.extend_from_slice(
                br#""ecommerce":{"transaction_id":null,"purchase_revenue":null,"total_item_quantity":null},"#,
            ),
        }
        l.extend_from_slice(br#""items":["#);
        for (k, (id, name, price, qty)) in e.items.iter().enumerate() {
            if k > 0 {
                l.push(b',');
            }
            let _ = write!(l, r#"{{"item_id":"{id}","item_name":""#);
            escaped(l, name);
            let _ = write!(
                l,
                r#"","price":{:.2},"quantity":{qty}}}"#,
                *price as f64 / 100.0
            );
        }
        l.extend_from_slice(b"]}\n");
    }

    /// Writes one event; `late` holds it back for the next day's file, `duplicate` writes it
    /// twice, and `truncate_at` adds a broken copy cut at that fraction of the line.
    pub fn write(
        &mut self,
        e: &Event,
        late: bool,
        duplicate: bool,
        truncate_at: Option<f64>,
    ) -> std::io::Result<()> {
        self.render(e);
        self.counts.events += 1;
        let copies = if duplicate { 2 } else { 1 };
        self.counts.duplicates += u64::from(duplicate);
        for _ in 0..copies {
            if late {
                self.counts.late.extend_from_slice(&self.line);
            } else {
                self.out.write_all(&self.line)?;
                self.bytes += self.line.len() as u64;
            }
        }
        self.counts.late_events += u64::from(late);
        if let Some(frac) = truncate_at {
            // A prefix of a JSON object without its closing brace never parses.
            let cut = ((self.line.len() as f64 * frac) as usize).clamp(1, self.line.len() - 2);
            self.out.write_all(&self.line[..cut])?;
            self.out.write_all(b"\n")?;
            self.bytes += cut as u64 + 1;
            self.counts.malformed += 1;
        }
        Ok(())
    }

    /// Flushes the file; returns its bytes and the counts.
    pub fn finish(mut self) -> std::io::Result<(u64, Counts)> {
        self.out.flush()?;
        Ok((self.bytes, self.counts))
    }
}
