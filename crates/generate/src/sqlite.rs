//! The application databases, as SQLite files with the keys, foreign keys and indexes the real
//! applications would declare. Times are stored as `YYYY-MM-DD HH:MM:SS` text in columns declared
//! `TIMESTAMP`, the way SQLite applications commonly do.

use crate::day::DayOutput;
use crate::time::timestamp;
use crate::world::{CAMPAIGNS, CITIES, World};
use crate::{GenerateError, Result};
use rusqlite::{Connection, params};
use std::path::{Path, PathBuf};

pub(crate) const ORDERS_SCHEMA: &str = "
CREATE TABLE customers (
  customer_id INTEGER PRIMARY KEY,
  email TEXT NOT NULL,
  city TEXT NOT NULL,
  user_pseudo_id TEXT NOT NULL,
  signed_up_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE TABLE restaurants (
  restaurant_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  city TEXT NOT NULL,
  cuisine TEXT NOT NULL,
  opened_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE TABLE menu_items (
  item_id INTEGER PRIMARY KEY,
  restaurant_id INTEGER NOT NULL REFERENCES restaurants(restaurant_id),
  name TEXT NOT NULL,
  price_cents INTEGER NOT NULL,
  photo_path TEXT,
  updated_at TIMESTAMP NOT NULL
);
CREATE TABLE orders (
  order_id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(customer_id),
  restaurant_id INTEGER NOT NULL REFERENCES restaurants(restaurant_id),
  city TEXT NOT NULL,
  placed_at TIMESTAMP NOT NULL,
  promised_at TIMESTAMP NOT NULL,
  status TEXT NOT NULL,
  subtotal_cents INTEGER NOT NULL,
  discount_cents INTEGER NOT NULL,
  delivery_fee_cents INTEGER NOT NULL,
  total_cents INTEGER NOT NULL,
  promo_code TEXT,
  ga_session_id INTEGER,
  updated_at TIMESTAMP NOT NULL
);
CREATE INDEX orders_updated_at ON orders(updated_at);
CREATE INDEX orders_customer ON orders(customer_id);
CREATE TABLE order_items (
  order_item_id INTEGER PRIMARY KEY,
  order_id INTEGER NOT NULL REFERENCES orders(order_id),
  item_id INTEGER NOT NULL REFERENCES menu_items(item_id),
  quantity INTEGER NOT NULL,
  unit_price_cents INTEGER NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE INDEX order_items_updated_at ON order_items(updated_at);
";

pub(crate) const LOGISTICS_SCHEMA: &str = "
CREATE TABLE couriers (
  courier_id INTEGER PRIMARY KEY,
  city TEXT NOT NULL,
  vehicle TEXT NOT NULL,
  joined_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE TABLE deliveries (
  delivery_id INTEGER PRIMARY KEY,
  order_id INTEGER NOT NULL,
  courier_id INTEGER NOT NULL REFERENCES couriers(courier_id),
  city TEXT NOT NULL,
  status TEXT NOT NULL,
  distance_m INTEGER NOT NULL,
  accepted_at TIMESTAMP,
  ready_at TIMESTAMP,
  picked_up_at TIMESTAMP,
  delivered_at TIMESTAMP,
  cancelled_at TIMESTAMP,
  updated_at TIMESTAMP NOT NULL
);
CREATE INDEX deliveries_updated_at ON deliveries(updated_at);
CREATE INDEX deliveries_order ON deliveries(order_id);
";

pub(crate) const PAYMENTS_SCHEMA: &str = "
CREATE TABLE payments (
  payment_id INTEGER PRIMARY KEY,
  order_id INTEGER,
  method TEXT NOT NULL,
  status TEXT NOT NULL,
  failure_reason TEXT,
  amount_cents INTEGER NOT NULL,
  currency TEXT NOT NULL,
  provider_ref TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE INDEX payments_updated_at ON payments(updated_at);
CREATE INDEX payments_order ON payments(order_id);
CREATE TABLE refunds (
  refund_id INTEGER PRIMARY KEY,
  payment_id INTEGER NOT NULL REFERENCES payments(payment_id),
  order_id INTEGER NOT NULL,
  amount_cents INTEGER NOT NULL,
  reason TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE INDEX refunds_updated_at ON refunds(updated_at);
";

pub(crate) const PROMOTIONS_SCHEMA: &str = "
CREATE TABLE campaigns (
  campaign_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  utm_campaign TEXT NOT NULL UNIQUE,
  source TEXT NOT NULL,
  medium TEXT NOT NULL,
  starts_at TIMESTAMP NOT NULL,
  ends_at TIMESTAMP NOT NULL,
  budget_cents INTEGER NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE TABLE promo_codes (
  code TEXT PRIMARY KEY,
  campaign_id INTEGER NOT NULL REFERENCES campaigns(campaign_id),
  discount_pct INTEGER NOT NULL,
  valid_from TIMESTAMP NOT NULL,
  valid_to TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
";

struct Db {
    path: PathBuf,
    conn: Connection,
}

impl Db {
    fn create(path: PathBuf, schema: &str) -> Result<Self> {
        let conn = Connection::open(&path).map_err(|source| GenerateError::Sqlite {
            path: path.clone(),
            source,
        })?;
        // A bulk load of a fresh file: no journal, no fsync; a crash just means generating again.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE;\n{schema}"
        ))
        .map_err(|source| GenerateError::Sqlite {
            path: path.clone(),
            source,
        })?;
        Ok(Self { path, conn })
    }
}

pub struct Databases {
    orders: Db,
    logistics: Db,
    payments: Db,
    promotions: Db,
}

impl Databases {
    pub fn create(data_dir: &Path) -> Result<Self> {
        Ok(Self {
            orders: Db::create(data_dir.join("orders.sqlite"), ORDERS_SCHEMA)?,
            logistics: Db::create(data_dir.join("logistics.sqlite"), LOGISTICS_SCHEMA)?,
            payments: Db::create(data_dir.join("payments.sqlite"), PAYMENTS_SCHEMA)?,
            promotions: Db::create(data_dir.join("promotions.sqlite"), PROMOTIONS_SCHEMA)?,
        })
    }

    pub fn insert_world(&mut self, world: &World) -> Result<()> {
        let loaded_at = timestamp(world.start - 86_400);
        {
            let db = &mut self.orders;
            let e = |source| GenerateError::Sqlite {
                path: db.path.clone(),
                source,
            };
            let tx = db.conn.transaction().map_err(e)?;
            {
                let mut st = tx
                    .prepare("INSERT INTO customers VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                    .map_err(e)?;
                for c in &world.customers {
                    st.execute(params![
                        c.id,
                        format!("customer{}@{}", c.id, c.email_domain),
                        CITIES[c.city].name,
                        c.user_pseudo_id,
                        timestamp(c.signed_up_at),
                        timestamp(c.signed_up_at),
                    ])
                    .map_err(e)?;
                }
                let mut st = tx
                    .prepare("INSERT INTO restaurants VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                    .map_err(e)?;
                for r in &world.restaurants {
                    st.execute(params![
                        r.id,
                        r.name,
                        CITIES[r.city].name,
                        r.cuisine,
                        timestamp(r.opened_at),
                        loaded_at,
                    ])
                    .map_err(e)?;
                }
                let mut st = tx
                    .prepare("INSERT INTO menu_items VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                    .map_err(e)?;
                for i in &world.items {
                    st.execute(params![
                        i.id,
                        i.restaurant_id,
                        i.name,
                        i.price_cents,
                        format!("photos/menu/{}", i.photo_file),
                        loaded_at,
                    ])
                    .map_err(e)?;
                }
            }
            tx.commit().map_err(e)?;
        }
        {
            let db = &mut self.logistics;
            let e = |source| GenerateError::Sqlite {
                path: db.path.clone(),
                source,
            };
            let tx = db.conn.transaction().map_err(e)?;
            {
                let mut st = tx
                    .prepare("INSERT INTO couriers VALUES (?1, ?2, ?3, ?4, ?5)")
                    .map_err(e)?;
                for c in &world.couriers {
                    st.execute(params![
                        c.id,
                        CITIES[c.city].name,
                        c.vehicle,
                        timestamp(c.joined_at),
                        timestamp(c.joined_at),
                    ])
                    .map_err(e)?;
                }
            }
            tx.commit().map_err(e)?;
        }
        {
            let db = &mut self.promotions;
            let e = |source| GenerateError::Sqlite {
                path: db.path.clone(),
                source,
            };
            let tx = db.conn.transaction().map_err(e)?;
            {
                let mut campaigns = tx
                    .prepare("INSERT INTO campaigns VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
                    .map_err(e)?;
                let mut codes = tx
                    .prepare("INSERT INTO promo_codes VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                    .map_err(e)?;
                let (from, to) = (
                    timestamp(world.campaign_start),
                    timestamp(world.campaign_end),
                );
                for c in &CAMPAIGNS {
                    campaigns
                        .execute(params![
                            c.id,
                            c.name,
                            c.utm_campaign,
                            c.source,
                            c.medium,
                            from,
                            to,
                            c.budget_cents,
                            loaded_at,
                        ])
                        .map_err(e)?;
                    codes
                        .execute(params![
                            c.promo_code,
                            c.id,
                            c.discount_pct,
                            from,
                            to,
                            loaded_at
                        ])
                        .map_err(e)?;
                }
            }
            tx.commit().map_err(e)?;
        }
        Ok(())
    }

    pub fn insert_day(&mut self, out: &DayOutput) -> Result<()> {
        let ts = |t: i64| timestamp(t);
        let opt_ts = |t: Option<i64>| t.map(timestamp);
        {
            let db = &mut self.orders;
            let e = |source| GenerateError::Sqlite {
                path: db.path.clone(),
                source,
            };
            let tx = db.conn.transaction().map_err(e)?;
            {
                let mut st = tx
                    .prepare_cached(
                        "INSERT INTO orders VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                    )
                    .map_err(e)?;
                for o in &out.orders {
                    st.execute(params![
                        o.order_id,
                        o.customer_id,
                        o.restaurant_id,
                        CITIES[o.city].name,
                        ts(o.placed_at),
                        ts(o.promised_at),
                        o.status,
                        o.subtotal_cents,
                        o.discount_cents,
                        o.delivery_fee_cents,
                        o.total_cents,
                        o.promo_code,
                        o.ga_session_id,
                        ts(o.updated_at),
                    ])
                    .map_err(e)?;
                }
                let mut st = tx
                    .prepare_cached("INSERT INTO order_items VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                    .map_err(e)?;
                for i in &out.order_items {
                    st.execute(params![
                        i.order_item_id,
                        i.order_id,
                        i.item_id,
                        i.quantity,
                        i.unit_price_cents,
                        ts(i.updated_at),
                    ])
                    .map_err(e)?;
                }
            }
            tx.commit().map_err(e)?;
        }
        {
            let db = &mut self.logistics;
            let e = |source| GenerateError::Sqlite {
                path: db.path.clone(),
                source,
            };
            let tx = db.conn.transaction().map_err(e)?;
            {
                let mut st = tx
                    .prepare_cached(
                        "INSERT INTO deliveries VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                    )
                    .map_err(e)?;
                for d in &out.deliveries {
                    st.execute(params![
                        d.delivery_id,
                        d.order_id,
                        d.courier_id,
                        CITIES[d.city].name,
                        d.status,
                        d.distance_m,
                        opt_ts(d.accepted_at),
                        opt_ts(d.ready_at),
                        opt_ts(d.picked_up_at),
                        opt_ts(d.delivered_at),
                        opt_ts(d.cancelled_at),
                        ts(d.updated_at),
                    ])
                    .map_err(e)?;
                }
            }
            tx.commit().map_err(e)?;
        }
        {
            let db = &mut self.payments;
            let e = |source| GenerateError::Sqlite {
                path: db.path.clone(),
                source,
            };
            let tx = db.conn.transaction().map_err(e)?;
            {
                let mut st = tx
                    .prepare_cached(
                        "INSERT INTO payments VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'EUR', ?7, ?8, ?9)",
                    )
                    .map_err(e)?;
                for p in &out.payments {
                    st.execute(params![
                        p.payment_id,
                        p.order_id,
                        p.method,
                        p.status,
                        p.failure_reason,
                        p.amount_cents,
                        p.provider_ref,
                        ts(p.created_at),
                        ts(p.updated_at),
                    ])
                    .map_err(e)?;
                }
                let mut st = tx
                    .prepare_cached("INSERT INTO refunds VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                    .map_err(e)?;
                for r in &out.refunds {
                    st.execute(params![
                        r.refund_id,
                        r.payment_id,
                        r.order_id,
                        r.amount_cents,
                        r.reason,
                        ts(r.created_at),
                        ts(r.created_at),
                    ])
                    .map_err(e)?;
                }
            }
            tx.commit().map_err(e)?;
        }
        Ok(())
    }

    /// Closes the files; returns their total size.
    pub fn finish(self) -> Result<u64> {
        let mut bytes = 0;
        for db in [self.orders, self.logistics, self.payments, self.promotions] {
            let path = db.path.clone();
            db.conn
                .close()
                .map_err(|(_, source)| GenerateError::Sqlite {
                    path: path.clone(),
                    source,
                })?;
            bytes += std::fs::metadata(&path)
                .map_err(crate::io_err(&path))?
                .len();
        }
        Ok(bytes)
    }
}
