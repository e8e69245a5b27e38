//! The access token, the loopback rule and the server on a real socket.

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use pulse_web::{WebError, check_bind, serve, serve_listener};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::server;

const TOKEN: &str = "s3cret token";

fn with_header(uri: &str, name: header::HeaderName, value: &str) -> Request<Body> {
    Request::get(uri)
        .header(name, value)
        .body(Body::empty())
        .expect("a request")
}

#[tokio::test]
async fn every_request_but_health_needs_the_token() {
    let s = server::start(Some(TOKEN), 3).await;
    assert_eq!(s.get("/health").await.status, StatusCode::OK);
    for uri in [
        "/",
        "/runs",
        "/runs/x",
        "/api/runs",
        "/api/runs/x",
        "/nothing-here",
    ] {
        assert_eq!(s.get(uri).await.status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    let api = s.get("/api/runs").await;
    assert!(
        api.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("Bearer"))
    );
    assert!(s.get("/runs").await.body.contains("Access token needed"));

    let refused = s.post_json("/api/runs", "").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(s.store.count_runs().await.expect("count"), 0);

    let bearer = format!("Bearer {TOKEN}");
    let ok = s
        .send(with_header("/api/runs", header::AUTHORIZATION, &bearer))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let wrong = s
        .send(with_header(
            "/api/runs",
            header::AUTHORIZATION,
            "Bearer s3cret",
        ))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_sets_a_cookie_the_pages_accept() {
    let s = server::start(Some(TOKEN), 3).await;
    let wrong = s.get("/login?token=guess").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.headers.get(header::SET_COOKIE).is_none());

    let login = s.get("/login?token=s3cret%20token").await;
    assert!(login.status.is_redirection());
    let cookie = login.headers[header::SET_COOKIE]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().expect("name=value");
    assert!(pair.starts_with("pulse_token="));

    let page = s
        .send(with_header(
            "/runs",
            header::COOKIE,
            &format!("theme=dark; {pair}"),
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let bad = s
        .send(with_header("/runs", header::COOKIE, "pulse_token=guess"))
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn posts_from_other_sites_are_refused() {
    let s = server::start(None, 3).await;
    let from = |origin: &str| {
        Request::post("/runs")
            .header(header::HOST, "127.0.0.1:8080")
            .header(header::ORIGIN, origin)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("logical_date=2026-11-05"))
            .expect("a request")
    };
    assert_eq!(
        s.send(from("http://evil.example")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(s.send(from("null")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(s.store.count_runs().await.expect("count"), 0);
    assert_eq!(
        s.send(from("http://127.0.0.1:8080")).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(s.store.count_runs().await.expect("count"), 1);
}

#[test]
fn only_loopback_without_a_token() {
    let addr = |s: &str| s.parse::<SocketAddr>().expect("an address");
    assert!(check_bind(&addr("127.0.0.1:8080"), None).is_ok());
    assert!(check_bind(&addr("[::1]:8080"), None).is_ok());
    let err = check_bind(&addr("0.0.0.0:8080"), None).expect_err("refused");
    assert!(matches!(err, WebError::NonLoopbackWithoutToken { .. }));
    assert!(err.to_string().contains("access token"), "{err}");
    assert!(check_bind(&addr("0.0.0.0:8080"), Some("t")).is_ok());
    assert!(matches!(
        check_bind(&addr("0.0.0.0:8080"), Some("")),
        Err(WebError::EmptyToken)
    ));
}

#[tokio::test]
async fn serve_refuses_a_public_address_without_a_token_before_binding() {
    let s = server::start(None, 3).await;
    let addr: SocketAddr = "0.0.0.0:0".parse().expect("an address");
    let result = serve(addr, s.cfg.clone(), std::future::pending()).await;
    assert!(matches!(
        result,
        Err(WebError::NonLoopbackWithoutToken { .. })
    ));
}

/// One HTTP/1.1 exchange on a fresh connection; returns the status line and the body.
async fn http(addr: SocketAddr, request: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).await.expect("the server accepts");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("the request is sent");
    let mut raw = String::new();
    stream
        .read_to_string(&mut raw)
        .await
        .expect("the response is read");
    let status = raw.lines().next().unwrap_or_default().to_owned();
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn a_real_socket_serves_health_and_guards_the_api() {
    let s = server::start(Some(TOKEN), 3).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let addr = listener.local_addr().expect("its address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_listener(listener, s.cfg.clone(), async {
        let _ = stopped.await;
    }));

    let (status, body) = http(
        addr,
        "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(status.contains("200"), "{status}");
    assert!(body.contains(r#""status":"ok""#), "{body}");

    let (status, _) = http(
        addr,
        "GET /api/runs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(status.contains("401"), "{status}");

    let request = format!(
        "POST /api/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n\
         Content-Length: 32\r\nConnection: close\r\n\r\n{{\"logical_date\": \"2026-11-05\"}}  "
    );
    let (status, body) = http(addr, &request).await;
    assert!(status.contains("201"), "{status} {body}");
    assert!(body.contains(r#""logical_date":"2026-11-05""#), "{body}");

    stop.send(()).expect("the server is still running");
    let result = server.await.expect("the server task ends");
    assert!(result.is_ok(), "{result:?}");
}
