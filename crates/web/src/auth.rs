//! The access token: a bearer header for scripts, a cookie for browsers.

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::App;
use crate::render;

pub const COOKIE: &str = "pulse_token";

/// Compares through SHA-256 digests so that neither the contents nor the length of the
/// expected token shows in how long a wrong guess takes.
pub fn token_matches(presented: &str, expected: &str) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = String> + '_ {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE).then(|| percent_decode(value))
        })
}

fn authorized(headers: &HeaderMap, expected: &str) -> bool {
    bearer(headers).is_some_and(|t| token_matches(t, expected))
        || cookies(headers).any(|t| token_matches(&t, expected))
}

pub async fn require_token(State(app): State<App>, req: Request, next: Next) -> Response {
    let Some(expected) = app.access_token.as_deref() else {
        return next.run(req).await;
    };
    if authorized(req.headers(), expected) {
        return next.run(req).await;
    }
    if req.uri().path().starts_with("/api/") {
        let body = axum::Json(serde_json::json!({
            "error": "this server needs its access token: send `Authorization: Bearer <token>`"
        }));
        let mut resp = (StatusCode::UNAUTHORIZED, body).into_response();
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        resp
    } else {
        (StatusCode::UNAUTHORIZED, render::login_page(false)).into_response()
    }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    token: Option<String>,
}

/// `/login?token=…` checks the token and keeps it in a cookie for the pages.
pub async fn login(State(app): State<App>, Query(q): Query<LoginQuery>) -> Response {
    let Some(expected) = app.access_token.as_deref() else {
        return Redirect::to("/runs").into_response();
    };
    match q.token {
        Some(t) if token_matches(&t, expected) => {
            // Strict same-site keeps other sites' forms from riding on the cookie; HttpOnly keeps
            // it from scripts.
            let cookie = format!(
                "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
                percent_encode(&t)
            );
            let mut resp = Redirect::to("/runs").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                resp.headers_mut().insert(header::SET_COOKIE, v);
            }
            resp
        }
        Some(_) => (StatusCode::UNAUTHORIZED, render::login_page(true)).into_response(),
        None => (StatusCode::UNAUTHORIZED, render::login_page(false)).into_response(),
    }
}

/// Refuses writes sent by pages of other origins: without a token the server trusts whoever
/// reaches it on loopback, and any web page a local browser opens could otherwise post a form to
/// it. Browsers always send `Origin` with such a POST; scripts like curl send none.
pub async fn same_origin_writes(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let headers = req.headers();
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let same = match (origin.to_str().ok(), host) {
            (Some(o), Some(h)) => o
                .strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"))
                .is_some_and(|rest| rest.eq_ignore_ascii_case(h)),
            _ => false,
        };
        if !same {
            return (
                StatusCode::FORBIDDEN,
                axum::Json(serde_json::json!({
                    "error": "cross-origin request refused: the request came from another site's page"
                })),
            )
                .into_response();
        }
    }
    next.run(req).await
}

fn percent_encode(s: &str) -> String {
    render::path_segment(s)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_content() {
        assert!(token_matches("s3cret", "s3cret"));
        assert!(!token_matches("s3cret", "s3cre"));
        assert!(!token_matches("", "s3cret"));
    }

    #[test]
    fn cookie_values_round_trip() {
        for t in ["plain", "with space;semi=colon", "ünï/+"] {
            assert_eq!(percent_decode(&percent_encode(t)), t);
        }
    }
}
