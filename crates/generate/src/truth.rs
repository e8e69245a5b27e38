//! `truth.json`: figures counted while generating, independent of the pipeline's SQL, so an
//! end-to-end test can hold the warehouse to them.

use crate::GenerateOptions;
use crate::day::DayOutput;
use crate::world::CITIES;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DayTotals {
    /// Every order placed that day (UTC), cancelled ones included.
    pub orders: u64,
    pub cancelled: u64,
    /// Gross merchandise value: `total_cents` of delivered orders.
    pub gmv_cents: i64,
}

/// Distinct GA4 sessions (user_pseudo_id + ga_session_id) that reached each step.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct FunnelCounts {
    pub session_start: u64,
    pub page_view: u64,
    pub view_item: u64,
    pub add_to_cart: u64,
    pub begin_checkout: u64,
    pub purchase: u64,
}

/// Defects injected on purpose, by kind. See `data/README.md` for where each one lives.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Defects {
    pub null_keys: u64,
    pub duplicate_rows: u64,
    pub negative_amounts: u64,
    pub delivered_before_picked_up: u64,
    pub unknown_promo_codes: u64,
    pub malformed_json_lines: u64,
    pub late_arriving_events: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Truth {
    pub seed: u64,
    pub days: u32,
    pub start_date: String,
    pub orders_per_day: u32,
    pub defect_rate: f64,
    pub orders_by_day: BTreeMap<String, DayTotals>,
    /// Keyed by `utm_campaign`; sessions without one are `(direct)`.
    pub funnel_by_campaign: BTreeMap<String, FunnelCounts>,
    /// Median minutes from placing to delivering, delivered orders only.
    pub delivery_minutes_median_by_city: BTreeMap<String, f64>,
    pub defects: Defects,
    pub rows: BTreeMap<String, u64>,
    #[serde(skip)]
    delivery_minutes: Vec<Vec<f64>>,
    #[serde(skip)]
    last_day_late: u64,
}

impl Truth {
    pub fn new(opts: &GenerateOptions) -> Self {
        Self {
            seed: opts.seed,
            days: opts.days,
            start_date: opts.start_date.to_string(),
            orders_per_day: opts.orders_per_day,
            defect_rate: opts.defect_rate,
            orders_by_day: BTreeMap::new(),
            funnel_by_campaign: BTreeMap::new(),
            delivery_minutes_median_by_city: BTreeMap::new(),
            defects: Defects::default(),
            rows: BTreeMap::new(),
            delivery_minutes: vec![Vec::new(); CITIES.len()],
            last_day_late: 0,
        }
    }

    pub fn add_day(&mut self, out: &DayOutput) {
        for o in &out.orders {
            let day = crate::time::date_of(o.placed_at).to_string();
            let t = self.orders_by_day.entry(day).or_default();
            t.orders += 1;
            if o.status == "cancelled" {
                t.cancelled += 1;
            } else {
                t.gmv_cents += o.total_cents;
            }
        }
        for (campaign, f) in &out.funnel {
            let t = self.funnel_by_campaign.entry(campaign.clone()).or_default();
            t.session_start += f.session_start;
            t.page_view += f.page_view;
            t.view_item += f.view_item;
            t.add_to_cart += f.add_to_cart;
            t.begin_checkout += f.begin_checkout;
            t.purchase += f.purchase;
        }
        let d = &out.defects;
        let t = &mut self.defects;
        t.null_keys += d.null_keys;
        t.duplicate_rows += d.duplicate_rows;
        t.negative_amounts += d.negative_amounts;
        t.delivered_before_picked_up += d.delivered_before_picked_up;
        t.unknown_promo_codes += d.unknown_promo_codes;
        t.malformed_json_lines += d.malformed_json_lines;
        t.late_arriving_events += d.late_arriving_events;
        self.last_day_late = d.late_arriving_events;
        for (city, minutes) in out.delivery_minutes.iter().enumerate() {
            self.delivery_minutes[city].extend_from_slice(minutes);
        }
        for (city, minutes) in self.delivery_minutes.iter().enumerate() {
            if let Some(m) = median(minutes) {
                self.delivery_minutes_median_by_city
                    .insert(CITIES[city].name.to_string(), m);
            }
        }
    }

    /// The last day's late events had no later file to arrive in; they are not late after all.
    pub fn undo_last_day_late(&mut self) {
        self.defects.late_arriving_events -= self.last_day_late;
        self.last_day_late = 0;
    }
}

fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let m = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((m * 100.0).round() / 100.0)
}

pub const DATA_README: &str = "# Generated food-delivery source data

Made by `pulse generate`; deterministic from the seed recorded in `truth.json`.

| path | system | shape |
|------|--------|-------|
| orders.sqlite | ordering app | customers, restaurants, menu_items, orders, order_items |
| logistics.sqlite | courier dispatch | couriers, deliveries (accepted/ready/picked up/delivered/cancelled times) |
| payments.sqlite | payment provider | payments (attempts, failures), refunds |
| promotions.sqlite | marketing | campaigns (utm_campaign), promo_codes |
| ga4/events_YYYYMMDD.jsonl | Google Analytics 4 | BigQuery export rows, one JSON object per line |
| support/tickets_YYYYMMDD.csv | help desk | tickets about that day's orders |
| photos/menu/*.jpg, photos/delivery/*.png | media store | menu item photos, proofs of delivery |
| truth.json | the generator | exact figures for tests |

Injected defects (counted in `truth.json` under `defects`):

- null_keys: payments.order_id NULL (a capture naming no order); tickets with an empty order_id
- duplicate_rows: GA4 event lines written twice; ticket lines repeated in the export
- negative_amounts: payments with a negative amount_cents (a reversal booked as a payment)
- delivered_before_picked_up: deliveries whose picked_up_at is after delivered_at
- unknown_promo_codes: orders.promo_code values that promotions never issued
- malformed_json_lines: truncated extra lines in the GA4 export
- late_arriving_events: GA4 events that appear in the next day's export file
";
