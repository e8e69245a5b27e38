//! The stylesheet and script, compiled into the binary so the server needs no files and no CDN.

use std::fmt::Write;
use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use pulse_catalog::kind_colour;

use crate::catalog::NODE_KINDS;
use crate::charts::PALETTE;
use crate::dashboards::{MAX_GRID_COLUMNS, MAX_GRID_ROWS};

const BASE_CSS: &str = include_str!("../assets/pulse.css");
const DASHBOARD_CSS: &str = include_str!("../assets/dashboards.css");
const CATALOG_CSS: &str = include_str!("../assets/catalog.css");
const OPS_CSS: &str = include_str!("../assets/ops.css");
const JS: &str = include_str!("../assets/pulse.js");

/// The stylesheet: the site's, the dashboards', the catalog's, and the classes that place tiles
/// on the grid and colour legends and lineage kinds (generated, since the pages may carry no
/// `style` attributes).
static CSS: LazyLock<String> = LazyLock::new(|| {
    let mut css = format!(
        "{BASE_CSS}\n{DASHBOARD_CSS}\n{CATALOG_CSS}\n{OPS_CSS}\n/* generated: grid placement */\n"
    );
    for n in 1..=MAX_GRID_COLUMNS {
        let _ = writeln!(
            css,
            ".cols-{n} {{ grid-template-columns: repeat({n}, minmax(0, 1fr)); }} \
             .gx-{n} {{ grid-column-start: {n}; }} .gw-{n} {{ grid-column-end: span {n}; }}"
        );
    }
    for n in 1..=MAX_GRID_ROWS {
        let _ = writeln!(css, ".gy-{n} {{ grid-row-start: {n}; }}");
    }
    for n in 1..=12 {
        let _ = writeln!(css, ".gh-{n} {{ grid-row-end: span {n}; }}");
    }
    css.push_str("/* generated: series colours */\n");
    for (i, colour) in PALETTE.iter().enumerate() {
        let _ = writeln!(css, ".sw.p{i} {{ background: {colour}; }}");
    }
    css.push_str("/* generated: catalog kinds */\n");
    for kind in NODE_KINDS {
        let (k, colour) = (kind.as_str(), kind_colour(kind));
        let _ = writeln!(
            css,
            ".kind-badge.k-{k}, .lineage-legend .k-{k} {{ background: {colour}; }} \
             svg.lineage-graph .k-{k} rect {{ fill: {colour}; }}"
        );
    }
    css
});

// Short caching: a new binary may bring a new stylesheet under the same path.
const CACHE: &str = "public, max-age=300";

pub async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        CSS.as_str(),
    )
        .into_response()
}

pub async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        JS,
    )
        .into_response()
}

/// Everything the pages load comes from this server, so the browser may refuse anything else;
/// a same-origin referrer policy keeps a `/login?token=` address from leaking to other sites
/// (not `no-referrer`: under it browsers send `Origin: null` with our own form posts, which the
/// same-origin check must then refuse).
pub async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}
