//! `pulse init`: a new project, empty or from an example shipped inside the binary.

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use include_dir::{Dir, include_dir};
use std::path::Path;

static FOOD_DELIVERY: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../examples/food-delivery");
/// Written over the food-delivery example: its database sources on PostgreSQL and MariaDB.
static FOOD_DELIVERY_SERVERS: Dir<'_> =
    include_dir!("$CARGO_MANIFEST_DIR/../../examples/food-delivery-servers");

#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
pub enum Example {
    /// Orders, logistics, payments, promotions, GA4 events, support tickets and photos.
    FoodDelivery,
    /// The same, with orders, payments and promotions on PostgreSQL and logistics on MariaDB.
    FoodDeliveryServers,
}

const EMPTY_PULSE_TOML: &str = r#"name = "my_project"
description = "Describe what this project is for."

[lake]
url = "lake"

[warehouse]
url = "warehouse"
"#;

pub fn init(dir: &Path, example: Option<Example>) -> Result<()> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} is not empty: choose a new folder (nothing was written)",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    match example {
        Some(Example::FoodDelivery) => write_dir(&FOOD_DELIVERY, dir),
        Some(Example::FoodDeliveryServers) => {
            write_dir(&FOOD_DELIVERY, dir)?;
            write_dir(&FOOD_DELIVERY_SERVERS, dir)
        }
        None => {
            for sub in [
                "sources",
                "models/staging",
                "models/marts",
                "metrics",
                "dashboards",
            ] {
                std::fs::create_dir_all(dir.join(sub))?;
            }
            std::fs::write(dir.join("pulse.toml"), EMPTY_PULSE_TOML)?;
            std::fs::write(
                dir.join(".gitignore"),
                "lake/\nwarehouse/\ndata/\n.pulse/\n",
            )?;
            Ok(())
        }
    }
}

fn write_dir(src: &Dir<'_>, dest: &Path) -> Result<()> {
    for file in src.files() {
        let target = dest.join(file.path());
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, file.contents())
            .with_context(|| format!("writing {}", target.display()))?;
    }
    for sub in src.dirs() {
        write_dir(sub, dest)?;
    }
    Ok(())
}
