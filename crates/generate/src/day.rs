//! One day of the company: sessions in the app and on the web, the orders they turn into, the
//! deliveries, payments, refunds and support tickets that follow, and the defects real systems
//! let through.

use crate::ga4::{Event, EventKind, Ga4Writer};
use crate::time::{compact_date, date_key, midnight, write_timestamp};
use crate::truth::{Defects, FunnelCounts};
use crate::world::{CAMPAIGNS, CITIES, Campaign, DEVICES, World};
use crate::{GenerateOptions, Result, io_err};
use chrono::{Datelike, Days, NaiveDate, Weekday};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Relative demand per hour of day: lunch and dinner peaks, quiet nights. Nothing starts at 23h
/// so that every session and order of a day stays on that day.
const HOURLY: [f64; 24] = [
    0.25, 0.1, 0.05, 0.04, 0.04, 0.08, 0.25, 0.5, 0.7, 0.8, 1.0, 2.1, 3.3, 2.6, 1.3, 1.0, 1.1, 1.7,
    2.9, 3.5, 2.7, 1.6, 0.8, 0.0,
];

/// Share of orders placed without analytics consent: they never appear in the GA4 export.
const UNTRACKED_SHARE: f64 = 0.1;
/// The funnel's base step rates; campaigns multiply the ones that depend on the offer.
const P_VIEW_ITEM: f64 = 0.72;
const P_ADD_TO_CART: f64 = 0.5;
const P_BEGIN_CHECKOUT: f64 = 0.75;
const P_PURCHASE: f64 = 0.8;
const BASE_CONVERSION: f64 = P_VIEW_ITEM * P_ADD_TO_CART * P_BEGIN_CHECKOUT * P_PURCHASE;

const PAYMENT_METHODS: [(&str, f64); 4] = [
    ("card", 0.55),
    ("paypal", 0.25),
    ("apple_pay", 0.15),
    ("google_pay", 0.05),
];
const TICKET_CATEGORIES: [&str; 5] = [
    "missing_item",
    "wrong_item",
    "food_quality",
    "payment",
    "other",
];

pub struct OrderRow {
    pub order_id: i64,
    pub customer_id: i64,
    pub restaurant_id: i64,
    pub city: usize,
    pub placed_at: i64,
    pub promised_at: i64,
    pub status: &'static str,
    pub subtotal_cents: i64,
    pub discount_cents: i64,
    pub delivery_fee_cents: i64,
    pub total_cents: i64,
    pub promo_code: Option<String>,
    pub ga_session_id: Option<i64>,
    pub updated_at: i64,
}

pub struct OrderItemRow {
    pub order_item_id: i64,
    pub order_id: i64,
    pub item_id: i64,
    pub quantity: i64,
    pub unit_price_cents: i64,
    pub updated_at: i64,
}

pub struct DeliveryRow {
    pub delivery_id: i64,
    pub order_id: i64,
    pub courier_id: i64,
    pub city: usize,
    pub status: &'static str,
    pub distance_m: i64,
    pub accepted_at: Option<i64>,
    pub ready_at: Option<i64>,
    pub picked_up_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub cancelled_at: Option<i64>,
    pub updated_at: i64,
}

pub struct PaymentRow {
    pub payment_id: i64,
    pub order_id: Option<i64>,
    pub method: &'static str,
    pub status: &'static str,
    pub failure_reason: Option<&'static str>,
    pub amount_cents: i64,
    pub provider_ref: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub struct RefundRow {
    pub refund_id: i64,
    pub payment_id: i64,
    pub order_id: i64,
    pub amount_cents: i64,
    pub reason: &'static str,
    pub created_at: i64,
}

pub struct DayOutput {
    pub date: NaiveDate,
    pub ga4_path: PathBuf,
    /// Export lines of this day's events that arrive a day late, for the next day's file.
    pub late_events: Vec<u8>,
    pub orders: Vec<OrderRow>,
    pub order_items: Vec<OrderItemRow>,
    pub deliveries: Vec<DeliveryRow>,
    pub payments: Vec<PaymentRow>,
    pub refunds: Vec<RefundRow>,
    pub ga4_events: u64,
    pub tickets: u64,
    pub funnel: BTreeMap<String, FunnelCounts>,
    pub gmv_cents: i64,
    /// End-to-end minutes of delivered orders, per city index.
    pub delivery_minutes: Vec<Vec<f64>>,
    pub defects: Defects,
    pub file_bytes: u64,
    pub files: u64,
}

impl DayOutput {
    pub fn count_rows(&self, rows: &mut BTreeMap<String, u64>) {
        let mut add = |k: &str, n: u64| *rows.entry(k.to_string()).or_insert(0) += n;
        add("orders.orders", self.orders.len() as u64);
        add("orders.order_items", self.order_items.len() as u64);
        add("logistics.deliveries", self.deliveries.len() as u64);
        add("payments.payments", self.payments.len() as u64);
        add("payments.refunds", self.refunds.len() as u64);
        add("ga4.events", self.ga4_events);
        add("support.tickets", self.tickets);
    }
}

struct Ids {
    base: i64,
    next: i64,
}

impl Ids {
    fn new(date: NaiveDate) -> Self {
        Self {
            base: date_key(date) * 1_000_000,
            next: 0,
        }
    }
    fn take(&mut self) -> i64 {
        self.next += 1;
        self.base + self.next
    }
}

fn normal(rng: &mut Pcg64Mcg) -> f64 {
    let u1: f64 = rng.random_range(1e-12..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn lognormal(rng: &mut Pcg64Mcg, sigma: f64) -> f64 {
    (sigma * normal(rng)).exp()
}

fn weekday_factor(date: NaiveDate) -> f64 {
    match date.weekday() {
        Weekday::Mon => 0.85,
        Weekday::Tue => 0.88,
        Weekday::Wed => 0.93,
        Weekday::Thu => 1.0,
        Weekday::Fri => 1.15,
        Weekday::Sat => 1.2,
        Weekday::Sun => 1.1,
    }
}

fn is_peak(secs_of_day: i64) -> bool {
    let h = secs_of_day / 3600;
    (11..=13).contains(&h) || (18..=20).contains(&h)
}

fn pick_weighted(rng: &mut Pcg64Mcg, cumulative: &[f64]) -> usize {
    let total = cumulative.last().copied().unwrap_or(0.0);
    let x = rng.random_range(0.0..total.max(f64::MIN_POSITIVE));
    cumulative
        .partition_point(|&c| c <= x)
        .min(cumulative.len().saturating_sub(1))
}

fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut acc = 0.0;
    weights
        .map(|w| {
            acc += w;
            acc
        })
        .collect()
}

/// A second of the day drawn from the hourly demand curve.
fn second_of_day(rng: &mut Pcg64Mcg, hourly: &[f64]) -> i64 {
    let h = pick_weighted(rng, hourly) as i64;
    h * 3600 + rng.random_range(0..3600)
}

fn round_count(rng: &mut Pcg64Mcg, x: f64) -> usize {
    let base = x.floor();
    let extra = if rng.random::<f64>() < x - base {
        1.0
    } else {
        0.0
    };
    (base + extra).max(0.0) as usize
}

struct Sim<'a> {
    world: &'a World,
    opts: &'a GenerateOptions,
    rng: Pcg64Mcg,
    restaurant_weights: Vec<Vec<f64>>,
    out: DayOutput,
    order_ids: Ids,
    item_ids: Ids,
    payment_ids: Ids,
    refund_ids: Ids,
    ticket_ids: Ids,
    tickets_csv: Vec<u8>,
    is_last_day: bool,
}

/// Makes day number `d` of the period and writes its export files; database rows are returned
/// for the caller to store in order.
pub fn simulate(
    world: &World,
    opts: &GenerateOptions,
    d: u32,
    data_dir: &Path,
) -> Result<DayOutput> {
    let date = opts
        .start_date
        .checked_add_days(Days::new(u64::from(d)))
        .unwrap_or(opts.start_date);
    let seed = opts.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (u64::from(d) + 1);
    let rng = Pcg64Mcg::seed_from_u64(seed);
    let ga4_path = data_dir
        .join("ga4")
        .join(format!("events_{}.jsonl", compact_date(date)));
    let restaurant_weights = world
        .restaurants_by_city
        .iter()
        .map(|idx| cumulative(idx.iter().map(|&i| world.restaurants[i].popularity)))
        .collect();
    let mut sim = Sim {
        world,
        opts,
        rng,
        restaurant_weights,
        out: DayOutput {
            date,
            ga4_path: ga4_path.clone(),
            late_events: Vec::new(),
            orders: Vec::new(),
            order_items: Vec::new(),
            deliveries: Vec::new(),
            payments: Vec::new(),
            refunds: Vec::new(),
            ga4_events: 0,
            tickets: 0,
            funnel: BTreeMap::new(),
            gmv_cents: 0,
            delivery_minutes: vec![Vec::new(); CITIES.len()],
            defects: Defects::default(),
            file_bytes: 0,
            files: 0,
        },
        order_ids: Ids::new(date),
        item_ids: Ids::new(date),
        payment_ids: Ids::new(date),
        refund_ids: Ids::new(date),
        ticket_ids: Ids::new(date),
        tickets_csv: Vec::new(),
        is_last_day: d + 1 == opts.days,
    };
    sim.tickets_csv.extend_from_slice(
        b"ticket_id,order_id,customer_id,created_at,first_response_at,solved_at,category,channel,priority,satisfaction_score\n",
    );

    let file = std::fs::File::create(&ga4_path).map_err(io_err(&ga4_path))?;
    let mut ga4 = Ga4Writer::new(std::io::BufWriter::with_capacity(1 << 22, file), date);
    sim.run(&mut ga4).map_err(io_err(&ga4_path))?;
    let (bytes, counts) = ga4.finish().map_err(io_err(&ga4_path))?;
    sim.out.ga4_events = counts.events;
    sim.out.late_events = counts.late;
    sim.out.defects.late_arriving_events += counts.late_events;
    sim.out.defects.duplicate_rows += counts.duplicates;
    sim.out.defects.malformed_json_lines += counts.malformed;
    sim.out.file_bytes += bytes + sim.out.late_events.len() as u64;

    let tickets_path = data_dir
        .join("support")
        .join(format!("tickets_{}.csv", compact_date(date)));
    std::fs::write(&tickets_path, &sim.tickets_csv).map_err(io_err(&tickets_path))?;
    sim.out.file_bytes += sim.tickets_csv.len() as u64;
    sim.out.files = 2;
    Ok(sim.out)
}

impl Sim<'_> {
    fn run<W: Write>(&mut self, ga4: &mut Ga4Writer<W>) -> std::io::Result<()> {
        let day_start = midnight(self.out.date);
        let expected = f64::from(self.opts.orders_per_day)
            * weekday_factor(self.out.date)
            * self.rng.random_range(0.95..1.05);
        let sessions = round_count(
            &mut self.rng,
            expected * (1.0 - UNTRACKED_SHARE) / BASE_CONVERSION,
        );
        let untracked = round_count(&mut self.rng, expected * UNTRACKED_SHARE);
        let hourly = cumulative(HOURLY.iter().copied());

        let mut starts: Vec<i64> = (0..sessions + untracked)
            .map(|_| day_start + second_of_day(&mut self.rng, &hourly))
            .collect();
        starts.sort_unstable();
        let mut is_tracked: Vec<bool> = (0..starts.len()).map(|i| i < sessions).collect();
        // Interleave tracked and untracked in time, deterministically.
        for i in (1..is_tracked.len()).rev() {
            let j = self.rng.random_range(0..=i);
            is_tracked.swap(i, j);
        }
        let mut session_keys: HashSet<(usize, i64)> = HashSet::new();
        for (start, tracked) in starts.into_iter().zip(is_tracked) {
            if tracked {
                self.session(ga4, start, &mut session_keys)?;
            } else {
                let city = crate::world::pick_city(&mut self.rng);
                let customer = self.pick_customer(city);
                let restaurant = self.pick_restaurant(city);
                let cart = self.cart(restaurant);
                self.order(start, customer, restaurant, &cart, None, None);
            }
        }
        Ok(())
    }

    fn pick_customer(&mut self, city: usize) -> usize {
        let list = &self.world.customers_by_city[city];
        list[self.rng.random_range(0..list.len())]
    }

    fn pick_restaurant(&mut self, city: usize) -> usize {
        let k = pick_weighted(&mut self.rng, &self.restaurant_weights[city]);
        self.world.restaurants_by_city[city][k]
    }

    /// Menu item indexes and quantities.
    fn cart(&mut self, restaurant: usize) -> Vec<(usize, i64)> {
        let menu = &self.world.restaurants[restaurant].items;
        let n = self.rng.random_range(1..=menu.len().min(4));
        let first = self.rng.random_range(0..menu.len());
        (0..n)
            .map(|k| {
                (
                    menu[(first + k) % menu.len()],
                    if self.rng.random::<f64>() < 0.2 { 2 } else { 1 },
                )
            })
            .collect()
    }

    fn session<W: Write>(
        &mut self,
        ga4: &mut Ga4Writer<W>,
        start: i64,
        keys: &mut HashSet<(usize, i64)>,
    ) -> std::io::Result<()> {
        let city = crate::world::pick_city(&mut self.rng);
        let customer = self.pick_customer(city);
        // GA4 identifies a session by the user and the second it started: keep those unique.
        let mut session_id = start;
        while !keys.insert((customer, session_id)) {
            session_id += 1;
        }
        let mut x: f64 = self.rng.random();
        let mut campaign: Option<&'static Campaign> = None;
        for c in &CAMPAIGNS {
            if x < c.session_share {
                campaign = Some(c);
                break;
            }
            x -= c.session_share;
        }
        let conv = campaign.map_or(1.0, |c| c.conversion);
        let reach_view = self.rng.random::<f64>() < P_VIEW_ITEM;
        let reach_cart = reach_view && self.rng.random::<f64>() < (P_ADD_TO_CART * conv).min(0.97);
        let reach_checkout = reach_cart && self.rng.random::<f64>() < P_BEGIN_CHECKOUT;
        let reach_purchase =
            reach_checkout && self.rng.random::<f64>() < (P_PURCHASE * conv.sqrt()).min(0.97);
        let funnel = self
            .out
            .funnel
            .entry(campaign.map_or("(direct)", |c| c.utm_campaign).to_string())
            .or_default();
        funnel.session_start += 1;
        funnel.page_view += 1;
        funnel.view_item += u64::from(reach_view);
        funnel.add_to_cart += u64::from(reach_cart);
        funnel.begin_checkout += u64::from(reach_checkout);
        funnel.purchase += u64::from(reach_purchase);

        let world = self.world;
        let c = &world.customers[customer];
        let logged_in = reach_purchase || self.rng.random::<f64>() < 0.7;
        let restaurant = self.pick_restaurant(city);
        let session_number = 1 + (start - c.signed_up_at).max(0) / (86_400 * 9);
        let mut ev = Event {
            ts: start * 1_000_000 + self.rng.random_range(0..1_000_000),
            kind: EventKind::SessionStart,
            session_id,
            session_number,
            user_id: if logged_in { Some(c.id) } else { None },
            user_pseudo_id: &c.user_pseudo_id,
            device: DEVICES[c.device],
            city: CITIES[city].name,
            country: CITIES[city].country,
            city_slug: CITIES[city].slug,
            restaurant_id: world.restaurants[restaurant].id,
            campaign,
            items: Vec::new(),
            transaction: None,
            engagement_msec: 0,
        };
        let (late_p, dup_p, bad_p) = self.event_defect_rates();
        let is_last_day = self.is_last_day;
        let emit = |ev: &Event, rng: &mut Pcg64Mcg, ga4: &mut Ga4Writer<W>| {
            let late = !is_last_day && rng.random::<f64>() < late_p;
            let dup = rng.random::<f64>() < dup_p;
            let bad = rng.random::<f64>() < bad_p;
            let cut = rng.random_range(0.2..0.9);
            ga4.write(ev, late, dup, bad.then_some(cut))
        };
        emit(&ev, &mut self.rng, ga4)?;
        ev.kind = EventKind::PageView;
        let pages = self.rng.random_range(1..=3);
        for _ in 0..pages {
            ev.ts += self.rng.random_range(3_000_000..60_000_000);
            ev.engagement_msec = self.rng.random_range(800..40_000);
            emit(&ev, &mut self.rng, ga4)?;
        }
        if !reach_view {
            return Ok(());
        }
        let cart = self.cart(restaurant);
        ev.kind = EventKind::ViewItem;
        for &(item, _) in &cart {
            ev.ts += self.rng.random_range(5_000_000..90_000_000);
            ev.items = vec![self.item_of(item, 1)];
            emit(&ev, &mut self.rng, ga4)?;
        }
        if !reach_cart {
            return Ok(());
        }
        let items: Vec<_> = cart.iter().map(|&(i, q)| self.item_of(i, q)).collect();
        ev.items = items;
        ev.kind = EventKind::AddToCart;
        ev.ts += self.rng.random_range(5_000_000..60_000_000);
        emit(&ev, &mut self.rng, ga4)?;
        if !reach_checkout {
            return Ok(());
        }
        ev.kind = EventKind::BeginCheckout;
        ev.ts += self.rng.random_range(10_000_000..120_000_000);
        emit(&ev, &mut self.rng, ga4)?;
        if !reach_purchase {
            return Ok(());
        }
        ev.ts += self.rng.random_range(15_000_000..180_000_000);
        let placed_at = ev.ts / 1_000_000;
        let order_id = self.order(
            placed_at,
            customer,
            restaurant,
            &cart,
            campaign,
            Some(session_id),
        );
        let total = self.out.orders.last().map_or(0, |o| o.total_cents);
        ev.kind = EventKind::Purchase;
        ev.transaction = Some((order_id, total));
        emit(&ev, &mut self.rng, ga4)?;
        Ok(())
    }

    fn event_defect_rates(&self) -> (f64, f64, f64) {
        let r = self.opts.defect_rate;
        (r * 0.5, r * 0.3, r * 0.3)
    }

    fn item_of(&self, item: usize, quantity: i64) -> (i64, String, i64, i64) {
        let it = &self.world.items[item];
        (it.id, it.name.clone(), it.price_cents, quantity)
    }

    /// An order and everything that follows from it. Returns the order id.
    fn order(
        &mut self,
        placed_at: i64,
        customer: usize,
        restaurant: usize,
        cart: &[(usize, i64)],
        campaign: Option<&'static Campaign>,
        session_id: Option<i64>,
    ) -> i64 {
        let r = self.opts.defect_rate;
        let world = self.world;
        let rest = &world.restaurants[restaurant];
        let city = rest.city;
        let order_id = self.order_ids.take();
        let sod = placed_at.rem_euclid(86_400);
        let peak = is_peak(sod);
        let subtotal: i64 = cart
            .iter()
            .map(|&(i, q)| world.items[i].price_cents * q)
            .sum();
        let (promo_code, discount) = match campaign {
            Some(c) if self.rng.random::<f64>() < 0.55 => (
                Some(c.promo_code.to_string()),
                subtotal * c.discount_pct / 100,
            ),
            None if self.rng.random::<f64>() < 0.04 => {
                let c = &CAMPAIGNS[self.rng.random_range(0..CAMPAIGNS.len())];
                (
                    Some(c.promo_code.to_string()),
                    subtotal * c.discount_pct / 100,
                )
            }
            _ => (None, 0),
        };
        // A code the shop accepted as typed but promotions never issued: no discount applied.
        let (promo_code, discount) = if self.rng.random::<f64>() < r {
            self.out.defects.unknown_promo_codes += 1;
            let c = &CAMPAIGNS[self.rng.random_range(0..CAMPAIGNS.len())];
            (Some(format!("{}X", c.promo_code)), 0)
        } else {
            (promo_code, discount)
        };
        let fee = if subtotal >= 3000 {
            0
        } else {
            CITIES[city].delivery_fee_cents
        };
        let total = subtotal - discount + fee;
        let promised_at = placed_at
            + ((28.0 + rest.prep_minutes * 0.6 + if peak { 8.0 } else { 0.0 }) * 60.0) as i64;
        let cancel_p = if peak { 0.06 } else { 0.035 };
        let cancelled = self.rng.random::<f64>() < cancel_p;

        // Logistics: accept, cook, pick up, ride.
        let couriers = &world.couriers_by_city[city];
        let courier = &world.couriers[couriers[self.rng.random_range(0..couriers.len())]];
        let peak_f = if peak { 1.3 } else { 1.0 };
        let accepted_at = placed_at + self.rng.random_range(20..180);
        let prep =
            rest.prep_minutes * CITIES[city].prep_factor * peak_f * lognormal(&mut self.rng, 0.25);
        let ready_at = accepted_at + (prep * 60.0) as i64;
        let courier_arrives =
            accepted_at + (self.rng.random_range(4.0..15.0) * peak_f * 60.0) as i64;
        let picked_up_at = ready_at.max(courier_arrives) + self.rng.random_range(30..240);
        let distance_m = self.rng.random_range(600..6500);
        let ride = (distance_m as f64 / 1000.0
            * 3.2
            * CITIES[city].travel_factor
            * courier.speed_factor
            * peak_f.sqrt()
            * lognormal(&mut self.rng, 0.2)
            + 2.0)
            * 60.0;
        let delivered_at = picked_up_at + ride as i64;
        let cancelled_at = placed_at + self.rng.random_range(120..1500);

        let (status, updated_at) = if cancelled {
            ("cancelled", cancelled_at)
        } else {
            ("delivered", delivered_at)
        };
        let delivery = if cancelled {
            let accepted = (cancelled_at > accepted_at).then_some(accepted_at);
            DeliveryRow {
                delivery_id: order_id,
                order_id,
                courier_id: courier.id,
                city,
                status: "cancelled",
                distance_m,
                accepted_at: accepted,
                ready_at: None,
                picked_up_at: None,
                delivered_at: None,
                cancelled_at: Some(cancelled_at),
                updated_at: cancelled_at,
            }
        } else {
            // The courier app's clock runs ahead: the pickup is stamped after the drop-off.
            let picked = if self.rng.random::<f64>() < r {
                self.out.defects.delivered_before_picked_up += 1;
                delivered_at + self.rng.random_range(60..300)
            } else {
                picked_up_at
            };
            DeliveryRow {
                delivery_id: order_id,
                order_id,
                courier_id: courier.id,
                city,
                status: "delivered",
                distance_m,
                accepted_at: Some(accepted_at),
                ready_at: Some(ready_at),
                picked_up_at: Some(picked),
                delivered_at: Some(delivered_at),
                cancelled_at: None,
                updated_at: delivered_at.max(picked),
            }
        };
        self.out.deliveries.push(delivery);
        if !cancelled {
            self.out.gmv_cents += total;
            self.out.delivery_minutes[city].push((delivered_at - placed_at) as f64 / 60.0);
        }

        for &(i, q) in cart {
            let item = &world.items[i];
            let id = self.item_ids.take();
            self.out.order_items.push(OrderItemRow {
                order_item_id: id,
                order_id,
                item_id: item.id,
                quantity: q,
                unit_price_cents: item.price_cents,
                updated_at: placed_at,
            });
        }

        self.payments(
            order_id,
            placed_at,
            total,
            fee,
            cancelled.then_some(cancelled_at),
            (!cancelled).then_some((delivered_at, promised_at)),
        );
        self.ticket(
            order_id,
            world.customers[customer].id,
            if cancelled {
                cancelled_at
            } else {
                delivered_at
            },
            cancelled,
            delivered_at - promised_at,
        );

        self.out.orders.push(OrderRow {
            order_id,
            customer_id: world.customers[customer].id,
            restaurant_id: rest.id,
            city,
            placed_at,
            promised_at,
            status,
            subtotal_cents: subtotal,
            discount_cents: discount,
            delivery_fee_cents: fee,
            total_cents: total,
            promo_code,
            ga_session_id: session_id,
            updated_at,
        });
        order_id
    }

    fn payments(
        &mut self,
        order_id: i64,
        placed_at: i64,
        total: i64,
        fee: i64,
        cancelled_at: Option<i64>,
        delivered: Option<(i64, i64)>,
    ) {
        let r = self.opts.defect_rate;
        let mut x: f64 = self.rng.random();
        let mut method = PAYMENT_METHODS[0].0;
        for (m, w) in PAYMENT_METHODS {
            if x < w {
                method = m;
                break;
            }
            x -= w;
        }
        let mut t = placed_at + self.rng.random_range(2..20);
        if self.rng.random::<f64>() < 0.06 {
            let id = self.payment_ids.take();
            let reason = if self.rng.random::<f64>() < 0.6 {
                "card_declined"
            } else {
                "insufficient_funds"
            };
            self.out.payments.push(PaymentRow {
                payment_id: id,
                order_id: Some(order_id),
                method,
                status: "failed",
                failure_reason: Some(reason),
                amount_cents: total,
                provider_ref: format!("psp_{:x}", id.wrapping_mul(2_654_435_761)),
                created_at: t,
                updated_at: t + 1,
            });
            t += self.rng.random_range(30..150);
        }
        let payment_id = self.payment_ids.take();
        let mut payment = PaymentRow {
            payment_id,
            order_id: Some(order_id),
            method,
            status: "succeeded",
            failure_reason: None,
            amount_cents: total,
            provider_ref: format!("psp_{:x}", payment_id.wrapping_mul(2_654_435_761)),
            created_at: t,
            updated_at: t + 2,
        };
        let refund = match (cancelled_at, delivered) {
            (Some(c), _) => Some((total, "order_cancelled", c + self.rng.random_range(60..600))),
            (None, Some((delivered_at, promised_at)))
                if delivered_at > promised_at + 20 * 60 && self.rng.random::<f64>() < 0.35 =>
            {
                let amount = if fee > 0 { fee } else { total * 15 / 100 };
                Some((
                    amount,
                    "late_delivery",
                    delivered_at + self.rng.random_range(900..7200),
                ))
            }
            _ => None,
        };
        if let Some((amount, reason, at)) = refund {
            payment.status = if amount == total {
                "refunded"
            } else {
                "partially_refunded"
            };
            payment.updated_at = at;
            self.out.refunds.push(RefundRow {
                refund_id: self.refund_ids.take(),
                payment_id,
                order_id,
                amount_cents: amount,
                reason,
                created_at: at,
            });
        }
        self.out.payments.push(payment);
        // Defects the payment provider's webhooks leave behind: a capture that names no order,
        // and a reversal booked as a negative payment instead of a refund.
        if self.rng.random::<f64>() < r {
            self.out.defects.null_keys += 1;
            let id = self.payment_ids.take();
            self.out.payments.push(PaymentRow {
                payment_id: id,
                order_id: None,
                method,
                status: "succeeded",
                failure_reason: None,
                amount_cents: total,
                provider_ref: format!("psp_{:x}", id.wrapping_mul(2_654_435_761)),
                created_at: t + 5,
                updated_at: t + 6,
            });
        }
        if self.rng.random::<f64>() < r {
            self.out.defects.negative_amounts += 1;
            let id = self.payment_ids.take();
            self.out.payments.push(PaymentRow {
                payment_id: id,
                order_id: Some(order_id),
                method,
                status: "succeeded",
                failure_reason: None,
                amount_cents: -total,
                provider_ref: format!("psp_{:x}", id.wrapping_mul(2_654_435_761)),
                created_at: t + 30,
                updated_at: t + 31,
            });
        }
    }

    /// Support tickets are far more likely after a late delivery or a cancellation.
    fn ticket(
        &mut self,
        order_id: i64,
        customer_id: i64,
        ended_at: i64,
        cancelled: bool,
        late_secs: i64,
    ) {
        let p = if cancelled {
            0.12
        } else {
            0.015
                + if late_secs > 10 * 60 { 0.22 } else { 0.0 }
                + if late_secs > 25 * 60 { 0.2 } else { 0.0 }
        };
        if self.rng.random::<f64>() >= p {
            return;
        }
        let category = if cancelled {
            "cancellation"
        } else if late_secs > 10 * 60 && self.rng.random::<f64>() < 0.8 {
            "late_delivery"
        } else {
            TICKET_CATEGORIES[self.rng.random_range(0..TICKET_CATEGORIES.len())]
        };
        let created = ended_at + self.rng.random_range(300..10_800);
        let night = !(8..22).contains(&(created.rem_euclid(86_400) / 3600));
        let first_response = created
            + self
                .rng
                .random_range(120..if night { 28_800 } else { 7_200 });
        let solved = (self.rng.random::<f64>() >= 0.08)
            .then(|| first_response + self.rng.random_range(600..90_000));
        let x: f64 = self.rng.random();
        let channel = if x < 0.6 {
            "chat"
        } else if x < 0.9 {
            "email"
        } else {
            "phone"
        };
        let priority = if category == "late_delivery" || category == "payment" {
            "high"
        } else {
            "normal"
        };
        let satisfaction = solved.map(|_| {
            let base: i64 = if category == "late_delivery" { 2 } else { 3 };
            (base + self.rng.random_range(-1..=2)).clamp(1, 5)
        });
        let ticket_id = self.ticket_ids.take();
        // A ticket the agent opened without linking the order.
        let order_ref = if self.rng.random::<f64>() < self.opts.defect_rate {
            self.out.defects.null_keys += 1;
            None
        } else {
            Some(order_id)
        };
        let mut line = Vec::with_capacity(160);
        let _ = write!(line, "{ticket_id},");
        if let Some(o) = order_ref {
            let _ = write!(line, "{o}");
        }
        let _ = write!(line, ",{customer_id},");
        write_timestamp(&mut line, created);
        line.push(b',');
        write_timestamp(&mut line, first_response);
        line.push(b',');
        if let Some(s) = solved {
            write_timestamp(&mut line, s);
        }
        let _ = write!(line, ",{category},{channel},{priority},");
        if let Some(s) = satisfaction {
            let _ = write!(line, "{s}");
        }
        line.push(b'\n');
        self.tickets_csv.extend_from_slice(&line);
        self.out.tickets += 1;
        // The help desk's export repeats a ticket that was edited during the export.
        if self.rng.random::<f64>() < self.opts.defect_rate {
            self.tickets_csv.extend_from_slice(&line);
            self.out.tickets += 1;
            self.out.defects.duplicate_rows += 1;
        }
    }
}
