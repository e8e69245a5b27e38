//! The company as it stands before the first generated day: cities, restaurants and their
//! menus, customers, couriers and marketing campaigns with their promo codes.

use crate::GenerateOptions;
use crate::time::midnight;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::collections::BTreeMap;

pub struct City {
    pub name: &'static str,
    pub country: &'static str,
    pub slug: &'static str,
    /// Share of demand.
    pub weight: f64,
    /// Kitchens and streets differ: multipliers on preparation and travel time.
    pub prep_factor: f64,
    pub travel_factor: f64,
    pub delivery_fee_cents: i64,
}

pub const CITIES: [City; 5] = [
    City {
        name: "Berlin",
        country: "Germany",
        slug: "berlin",
        weight: 0.32,
        prep_factor: 1.0,
        travel_factor: 1.15,
        delivery_fee_cents: 199,
    },
    City {
        name: "Hamburg",
        country: "Germany",
        slug: "hamburg",
        weight: 0.2,
        prep_factor: 0.95,
        travel_factor: 1.0,
        delivery_fee_cents: 199,
    },
    City {
        name: "Munich",
        country: "Germany",
        slug: "munich",
        weight: 0.2,
        prep_factor: 1.1,
        travel_factor: 0.9,
        delivery_fee_cents: 249,
    },
    City {
        name: "Cologne",
        country: "Germany",
        slug: "cologne",
        weight: 0.15,
        prep_factor: 0.9,
        travel_factor: 0.85,
        delivery_fee_cents: 149,
    },
    City {
        name: "Vienna",
        country: "Austria",
        slug: "vienna",
        weight: 0.13,
        prep_factor: 1.05,
        travel_factor: 1.05,
        delivery_fee_cents: 249,
    },
];

const CUISINES: [(&str, &[&str]); 8] = [
    (
        "pizza",
        &[
            "Margherita",
            "Diavola",
            "Funghi",
            "Quattro Formaggi",
            "Calzone",
            "Tiramisu",
        ],
    ),
    (
        "burger",
        &[
            "Cheeseburger",
            "Veggie Burger",
            "Bacon Burger",
            "Fries",
            "Onion Rings",
            "Milkshake",
        ],
    ),
    (
        "sushi",
        &[
            "Salmon Nigiri",
            "California Roll",
            "Maki Set",
            "Miso Soup",
            "Edamame",
            "Poke Bowl",
        ],
    ),
    (
        "indian",
        &[
            "Butter Chicken",
            "Palak Paneer",
            "Chicken Tikka",
            "Naan",
            "Dal",
            "Mango Lassi",
        ],
    ),
    (
        "vietnamese",
        &[
            "Pho Bo",
            "Banh Mi",
            "Summer Rolls",
            "Bun Cha",
            "Green Curry",
            "Iced Coffee",
        ],
    ),
    (
        "turkish",
        &[
            "Doner Kebab",
            "Lahmacun",
            "Falafel Plate",
            "Pide",
            "Ayran",
            "Baklava",
        ],
    ),
    (
        "salad",
        &[
            "Caesar Salad",
            "Greek Salad",
            "Quinoa Bowl",
            "Hummus Wrap",
            "Smoothie",
            "Soup of the Day",
        ],
    ),
    (
        "mexican",
        &[
            "Burrito",
            "Tacos",
            "Quesadilla",
            "Nachos",
            "Guacamole",
            "Churros",
        ],
    ),
];

const NAME_PARTS: [&str; 12] = [
    "Golden", "Little", "Casa", "Urban", "Happy", "Royal", "Green", "Corner", "Sunny", "Old Town",
    "Blue", "Lucky",
];

pub struct Restaurant {
    pub id: i64,
    pub city: usize,
    pub name: String,
    pub cuisine: &'static str,
    /// Median minutes from accepting an order to having it ready.
    pub prep_minutes: f64,
    pub popularity: f64,
    pub opened_at: i64,
    /// Indexes into [`World::items`].
    pub items: Vec<usize>,
}

pub struct MenuItem {
    pub id: i64,
    pub restaurant_id: i64,
    pub name: String,
    pub price_cents: i64,
    pub photo_file: String,
}

pub struct Customer {
    pub id: i64,
    pub city: usize,
    pub user_pseudo_id: String,
    pub signed_up_at: i64,
    pub email_domain: &'static str,
    /// Device the customer mostly uses.
    pub device: usize,
}

pub struct Courier {
    pub id: i64,
    pub city: usize,
    pub vehicle: &'static str,
    pub speed_factor: f64,
    pub joined_at: i64,
}

pub struct Campaign {
    pub id: i64,
    pub name: &'static str,
    pub utm_campaign: &'static str,
    pub source: &'static str,
    pub medium: &'static str,
    /// Share of all sessions that arrive through this campaign.
    pub session_share: f64,
    /// Multiplier on the funnel's step conversion rates.
    pub conversion: f64,
    pub promo_code: &'static str,
    pub discount_pct: i64,
    pub budget_cents: i64,
}

pub const CAMPAIGNS: [Campaign; 6] = [
    Campaign {
        id: 1,
        name: "Black Friday 2026",
        utm_campaign: "black_friday_2026",
        source: "instagram",
        medium: "paid_social",
        session_share: 0.12,
        conversion: 1.25,
        promo_code: "BLACKFRIDAY26",
        discount_pct: 25,
        budget_cents: 5_000_000,
    },
    Campaign {
        id: 2,
        name: "Lunch Deals",
        utm_campaign: "lunch_deals",
        source: "google",
        medium: "cpc",
        session_share: 0.14,
        conversion: 1.05,
        promo_code: "LUNCH10",
        discount_pct: 10,
        budget_cents: 3_000_000,
    },
    Campaign {
        id: 3,
        name: "New Customer Welcome",
        utm_campaign: "welcome_new",
        source: "facebook",
        medium: "paid_social",
        session_share: 0.08,
        conversion: 0.8,
        promo_code: "WELCOME15",
        discount_pct: 15,
        budget_cents: 2_500_000,
    },
    Campaign {
        id: 4,
        name: "Weekly Newsletter",
        utm_campaign: "newsletter_weekly",
        source: "newsletter",
        medium: "email",
        session_share: 0.1,
        conversion: 1.15,
        promo_code: "NEWS5",
        discount_pct: 5,
        budget_cents: 400_000,
    },
    Campaign {
        id: 5,
        name: "Rainy Day Push",
        utm_campaign: "rainy_day_push",
        source: "app",
        medium: "push",
        session_share: 0.06,
        conversion: 1.35,
        promo_code: "RAINY20",
        discount_pct: 20,
        budget_cents: 800_000,
    },
    Campaign {
        id: 6,
        name: "Influencer Food Week",
        utm_campaign: "influencer_food_week",
        source: "tiktok",
        medium: "influencer",
        session_share: 0.07,
        conversion: 0.6,
        promo_code: "FOODWEEK",
        discount_pct: 12,
        budget_cents: 1_500_000,
    },
];

pub const DEVICES: [(&str, &str); 4] = [
    ("mobile", "Android"),
    ("mobile", "iOS"),
    ("desktop", "Windows"),
    ("desktop", "Macintosh"),
];

const EMAIL_DOMAINS: [&str; 4] = [
    "example.com",
    "mail.example",
    "post.example",
    "inbox.example",
];
const VEHICLES: [(&str, f64); 3] = [("bicycle", 1.0), ("e-bike", 0.85), ("scooter", 0.75)];

pub struct World {
    pub restaurants: Vec<Restaurant>,
    pub items: Vec<MenuItem>,
    pub customers: Vec<Customer>,
    pub couriers: Vec<Courier>,
    /// Restaurant, customer and courier indexes per city.
    pub restaurants_by_city: Vec<Vec<usize>>,
    pub customers_by_city: Vec<Vec<usize>>,
    pub couriers_by_city: Vec<Vec<usize>>,
    /// The period's first second and the campaign calendar.
    pub start: i64,
    pub campaign_start: i64,
    pub campaign_end: i64,
}

impl World {
    pub fn new(opts: &GenerateOptions) -> Self {
        let mut rng = Pcg64Mcg::seed_from_u64(opts.seed ^ 0x005e_ed0f_0bad_cafe);
        let start = midnight(opts.start_date);
        let per_day = f64::from(opts.orders_per_day);
        let n_restaurants = ((per_day / 8.0) as usize).clamp(25, 20_000);
        let n_customers = ((per_day * 4.0) as usize).max(200);
        let n_couriers = ((per_day / 12.0) as usize).max(15);

        let mut restaurants = Vec::with_capacity(n_restaurants);
        let mut items = Vec::new();
        let mut restaurants_by_city = vec![Vec::new(); CITIES.len()];
        for i in 0..n_restaurants {
            let city = pick_city(&mut rng);
            let (cuisine, dishes) = CUISINES[rng.random_range(0..CUISINES.len())];
            let id = 1000 + i as i64;
            let name = format!(
                "{} {} {}",
                NAME_PARTS[rng.random_range(0..NAME_PARTS.len())],
                capitalize(cuisine),
                CITIES[city].name
            );
            let mut menu = Vec::new();
            let n_items = rng.random_range(4..=dishes.len());
            for (k, dish) in dishes.iter().take(n_items).enumerate() {
                let item_id = id * 100 + k as i64;
                menu.push(items.len());
                items.push(MenuItem {
                    id: item_id,
                    restaurant_id: id,
                    name: (*dish).to_string(),
                    price_cents: rng.random_range(350..2400) / 10 * 10 + 9,
                    photo_file: format!("item_{item_id}.jpg"),
                });
            }
            restaurants_by_city[city].push(restaurants.len());
            restaurants.push(Restaurant {
                id,
                city,
                name,
                cuisine,
                prep_minutes: rng.random_range(8.0..22.0),
                popularity: rng.random_range(0.2..3.0_f64).powi(2),
                opened_at: start - rng.random_range(60..2000) * 86_400,
                items: menu,
            });
        }

        let mut customers = Vec::with_capacity(n_customers);
        let mut customers_by_city = vec![Vec::new(); CITIES.len()];
        for i in 0..n_customers {
            let city = pick_city(&mut rng);
            let signed_up_at =
                start - rng.random_range(1..900) * 86_400 - rng.random_range(0..86_400);
            customers_by_city[city].push(customers.len());
            customers.push(Customer {
                id: 100_000 + i as i64,
                city,
                user_pseudo_id: format!(
                    "{}.{}",
                    rng.random_range(100_000_000..2_000_000_000_u64),
                    signed_up_at
                ),
                signed_up_at,
                email_domain: EMAIL_DOMAINS[rng.random_range(0..EMAIL_DOMAINS.len())],
                device: rng.random_range(0..DEVICES.len()),
            });
        }

        let mut couriers = Vec::with_capacity(n_couriers);
        let mut couriers_by_city = vec![Vec::new(); CITIES.len()];
        for i in 0..n_couriers {
            let city = if i < CITIES.len() {
                i
            } else {
                pick_city(&mut rng)
            };
            let (vehicle, speed) = VEHICLES[rng.random_range(0..VEHICLES.len())];
            couriers_by_city[city].push(couriers.len());
            couriers.push(Courier {
                id: 5000 + i as i64,
                city,
                vehicle,
                speed_factor: speed * rng.random_range(0.85..1.15),
                joined_at: start - rng.random_range(10..700) * 86_400,
            });
        }
        // Every city can be served: at least one restaurant and customer each.
        for city in 0..CITIES.len() {
            if restaurants_by_city[city].is_empty() {
                restaurants_by_city[city].push(city % restaurants.len());
            }
            if customers_by_city[city].is_empty() {
                customers_by_city[city].push(city % customers.len());
            }
        }
        let campaign_start = start - 3 * 86_400;
        let campaign_end = start + (i64::from(opts.days) + 7) * 86_400;
        Self {
            restaurants,
            items,
            customers,
            couriers,
            restaurants_by_city,
            customers_by_city,
            couriers_by_city,
            start,
            campaign_start,
            campaign_end,
        }
    }

    pub fn count_rows(&self, rows: &mut BTreeMap<String, u64>) {
        rows.insert("orders.restaurants".into(), self.restaurants.len() as u64);
        rows.insert("orders.menu_items".into(), self.items.len() as u64);
        rows.insert("orders.customers".into(), self.customers.len() as u64);
        rows.insert("logistics.couriers".into(), self.couriers.len() as u64);
        rows.insert("promotions.campaigns".into(), CAMPAIGNS.len() as u64);
        rows.insert("promotions.promo_codes".into(), CAMPAIGNS.len() as u64);
    }
}

pub fn pick_city(rng: &mut Pcg64Mcg) -> usize {
    let mut x: f64 = rng.random();
    for (i, c) in CITIES.iter().enumerate() {
        if x < c.weight {
            return i;
        }
        x -= c.weight;
    }
    CITIES.len() - 1
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
