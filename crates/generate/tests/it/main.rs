//! The generator's promises: same seed, same bytes; `truth.json` agrees with what was written;
//! defects are where the data README says they are.

use pulse_generate::{GenerateOptions, generate};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn small() -> GenerateOptions {
    GenerateOptions {
        days: 3,
        orders_per_day: 60,
        defect_rate: 0.05,
        photos: 5,
        ..Default::default()
    }
}

fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).expect("prefix").to_path_buf(),
                    std::fs::read(&p).expect("read"),
                );
            }
        }
    }
    out
}

#[test]
fn same_seed_gives_identical_files_and_another_seed_does_not() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    let c = tempfile::tempdir().expect("tempdir");
    generate(&small(), a.path(), &|_| {}).expect("generate a");
    generate(&small(), b.path(), &|_| {}).expect("generate b");
    let other = GenerateOptions {
        seed: 43,
        ..small()
    };
    generate(&other, c.path(), &|_| {}).expect("generate c");
    let (fa, fb, fc) = (files(a.path()), files(b.path()), files(c.path()));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (p, bytes) in &fa {
        assert!(
            fb.get(p) == Some(bytes),
            "{} differs between runs",
            p.display()
        );
    }
    assert_ne!(
        fa.get(Path::new("truth.json")),
        fc.get(Path::new("truth.json"))
    );
}

#[test]
fn truth_matches_what_was_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = generate(&small(), dir.path(), &|_| {}).expect("generate");
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("truth.json")).expect("truth"))
            .expect("json");

    // Orders and GMV per day, straight from the orders database.
    let db = rusqlite::Connection::open(dir.path().join("orders.sqlite")).expect("open");
    let mut st = db
        .prepare(
            "select substr(placed_at, 1, 10), count(*), \
             sum(case when status = 'delivered' then total_cents else 0 end) \
             from orders group by 1 order by 1",
        )
        .expect("prepare");
    let rows: Vec<(String, i64, i64)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rows.len(), 3);
    for (day, orders, gmv) in rows {
        assert_eq!(truth["orders_by_day"][&day]["orders"], orders, "{day}");
        assert_eq!(truth["orders_by_day"][&day]["gmv_cents"], gmv, "{day}");
    }

    // Malformed lines: exactly the lines that are not JSON, over every export file.
    let mut malformed = 0;
    let mut purchases = std::collections::BTreeSet::new();
    for (path, bytes) in files(&dir.path().join("ga4")) {
        assert!(path.to_string_lossy().starts_with("events_"));
        for line in String::from_utf8(bytes).expect("utf8").lines() {
            match serde_json::from_str::<serde_json::Value>(line) {
                Err(_) => malformed += 1,
                Ok(v) => {
                    if v["event_name"] == "purchase" {
                        let sid = &v["event_params"][0]["value"]["int_value"];
                        purchases.insert((v["user_pseudo_id"].to_string(), sid.to_string()));
                    }
                }
            }
        }
    }
    assert!(malformed > 0);
    assert_eq!(truth["defects"]["malformed_json_lines"], malformed);
    let purchase_sessions: u64 = truth["funnel_by_campaign"]
        .as_object()
        .expect("funnel")
        .values()
        .map(|f| f["purchase"].as_u64().expect("count"))
        .sum();
    assert_eq!(purchases.len() as u64, purchase_sessions);

    // Defects the databases carry.
    let pay = rusqlite::Connection::open(dir.path().join("payments.sqlite")).expect("open");
    let negative: i64 = pay
        .query_row(
            "select count(*) from payments where amount_cents < 0",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(truth["defects"]["negative_amounts"], negative);
    let logi = rusqlite::Connection::open(dir.path().join("logistics.sqlite")).expect("open");
    let skewed: i64 = logi
        .query_row(
            "select count(*) from deliveries where picked_up_at > delivered_at",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(truth["defects"]["delivered_before_picked_up"], skewed);

    // Photos are real images.
    let menu = files(&dir.path().join("photos/menu"));
    assert_eq!(menu.len(), 5);
    assert!(menu.values().all(|b| b.starts_with(&[0xFF, 0xD8])));
    let proofs = files(&dir.path().join("photos/delivery"));
    assert!(proofs.values().all(|b| b.starts_with(b"\x89PNG")));
    assert_eq!(report.rows["orders.orders"], truth["rows"]["orders.orders"]);
}

#[test]
fn bad_options_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = generate(&GenerateOptions { days: 0, ..small() }, dir.path(), &|_| {})
        .expect_err("zero days");
    assert!(err.to_string().contains("--days"), "{err}");
    let err = generate(
        &GenerateOptions {
            defect_rate: 2.0,
            ..small()
        },
        dir.path(),
        &|_| {},
    )
    .expect_err("defect rate");
    assert!(err.to_string().contains("--defect-rate"), "{err}");
}
