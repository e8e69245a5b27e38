//! The identifier parser that finds the model columns a metric reads.

use proptest::prelude::*;
use pulse_catalog::sql::{identifiers, referenced_columns};
use std::collections::BTreeSet;

const COLUMNS: &[&str] = &[
    "placed_at",
    "status",
    "gmv_cents",
    "city",
    "order_date",
    "on_time",
    "total_cents",
];

#[test]
fn the_example_metrics_snippets() {
    let known: BTreeSet<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    assert_eq!(
        referenced_columns("to_char(placed_at, '%u %a')", &known),
        vec!["placed_at"]
    );
    assert_eq!(
        referenced_columns("status = 'delivered' and on_time", &known),
        vec!["status", "on_time"]
    );
    assert_eq!(
        referenced_columns("gmv_cents / 100.0", &known),
        vec!["gmv_cents"]
    );
    // A column name inside a string is a value, not a column.
    assert!(referenced_columns("'city' = 'status'", &known).is_empty());
    // Unknown words are dropped: `unknown_promo_code` is no column here.
    assert_eq!(
        referenced_columns("promo_code is not null and not unknown_promo_code", &known),
        Vec::<String>::new()
    );
}

/// An expression over the known columns, and the columns it reads outside string literals.
fn expression() -> impl Strategy<Value = (String, BTreeSet<String>)> {
    let leaf = prop_oneof![
        prop::sample::select(COLUMNS)
            .prop_map(|c| (c.to_string(), BTreeSet::from([c.to_string()]))),
        (0u32..10_000).prop_map(|n| (format!("{n}.5"), BTreeSet::new())),
        prop::sample::select(COLUMNS).prop_map(|c| (format!("'{c} it''s'"), BTreeSet::new())),
        prop::sample::select(COLUMNS)
            .prop_map(|c| (format!("\"{c}\""), BTreeSet::from([c.to_string()]))),
        Just(("null".to_string(), BTreeSet::new())),
    ];
    leaf.prop_recursive(4, 32, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(&["+", "-", "*", "/", "=", "<>", " and ", " or ", "||"][..]),
                inner.clone()
            )
                .prop_map(|((a, ca), op, (b, cb))| (format!("{a} {op} {b}"), &ca | &cb)),
            (
                prop::sample::select(&["coalesce", "date_part", "round", "nullif"][..]),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(f, (a, ca), (b, cb))| (format!("{f}({a}, {b})"), &ca | &cb)),
            (
                inner.clone(),
                prop::sample::select(&["bigint", "date", "timestamp", "varchar"][..])
            )
                .prop_map(|((a, ca), t)| (format!("cast({a} as {t})"), ca)),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(
                |((a, ca), (b, cb), (c, cc))| (
                    format!("case when {a} is not null then {b} else {c} end"),
                    &(&ca | &cb) | &cc
                )
            ),
            inner
                .clone()
                .prop_map(|(a, ca)| (format!("({a})::bigint -- {a}\n"), ca)),
            inner.prop_map(|(a, ca)| (format!("t.{a}"), ca)),
        ]
    })
}

proptest! {
    #[test]
    fn finds_exactly_the_columns_read((sql, columns) in expression()) {
        let known: BTreeSet<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
        let found: BTreeSet<String> = referenced_columns(&sql, &known).into_iter().collect();
        prop_assert_eq!(found, columns, "in {}", sql);
    }

    #[test]
    fn never_panics_and_finds_only_words_of_the_input(sql in "\\PC{0,80}") {
        let lower: String = sql.chars().flat_map(char::to_lowercase).collect();
        for word in identifiers(&sql) {
            // Unquoted words fold to lower case; quoted ones keep theirs, `""` read as `"`.
            prop_assert!(lower.contains(&word) || sql.contains(&word.replace('"', "\"\"")), "{word:?}");
        }
    }
}
