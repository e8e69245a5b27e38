//! The stylesheet and script, compiled into the binary so the server needs no files and no CDN.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("../assets/pulse.css");
const JS: &str = include_str!("../assets/pulse.js");

// Short caching: a new binary may bring a new stylesheet under the same path.
const CACHE: &str = "public, max-age=300";

pub async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        CSS,
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
