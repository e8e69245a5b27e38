//! The catalog's tests, on the real example project (`examples/food-delivery`).

mod column_lineage;
mod freshness;
mod lineage;
mod openlineage;
mod search;
mod service;
mod sql;
mod store;

use pulse_catalog::Catalog;
use pulse_project::Project;
use std::path::PathBuf;

pub fn example_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/food-delivery")
}

pub fn project() -> Project {
    Project::load(&example_dir()).expect("the example project loads")
}

pub fn catalog() -> Catalog {
    Catalog::from_project(&project())
}

pub fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    text.parse().expect("an RFC 3339 time")
}
