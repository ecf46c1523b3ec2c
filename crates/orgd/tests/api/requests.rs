//! Request-level behaviour: routes, methods, bodies, headers, health and the TLS port.

use crate::helpers::{apperian_error, orgvue_error, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_in_the_dialect() {
    let app = TestApp::spawn().await;
    let (_org, _admin, token) = app.tenant_with_admin("ACME").await;
    let (s, c, b) = orgvue_error(app.get_bearer("/api/v1/ACME/nothing-here", &token).await).await;
    assert_eq!((s, c.as_str()), (404, "404000"));
    assert_eq!(b["errors"][0]["message"], "No route for /api/v1/ACME/nothing-here");
    let (s, c, _) = apperian_error(app.get("/v1/nothing").send().await.unwrap()).await;
    assert_eq!((s, c), (404, 404000));
    let r = app.request(reqwest::Method::DELETE, "/api/v1/tenants").bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.headers()["allow"], "GET,HEAD");
    let (s, c, _) = orgvue_error(r).await;
    assert_eq!((s, c.as_str()), (405, "405001"));
    // A route below a known one is still unknown.
    let (s, c, _) = orgvue_error(app.get_bearer("/api/v1/ACME/drafts/actions/x", &token).await).await;
    assert_eq!((s, c.as_str()), (404, "404000"));
}

#[tokio::test]
async fn one_trailing_slash_is_ignored() {
    let app = TestApp::spawn().await;
    let (_org, _admin, token) = app.tenant_with_admin("ACME").await;
    assert_eq!(app.get_bearer("/api/v1/ACME/datasets/", &token).await.status(), 200);
    assert_eq!(app.get("/v1/session/").header("X-TOKEN", &token).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn bodies_of_the_wrong_type_size_or_shape_are_refused() {
    let app = TestApp::spawn().await;
    let (_org, _admin, token) = app.tenant_with_admin("ACME").await;
    let post = || app.request(reqwest::Method::POST, "/v1/tokens").header("X-TOKEN", &token);
    let r = post().header("content-type", "text/plain").body("label=x").send().await.unwrap();
    assert_eq!(apperian_error(r).await.1, 415001);
    let r = post()
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(apperian_error(r).await.1, 415001);
    let big = format!("{{\"label\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let r = post().header("content-type", "application/json").body(big).send().await.unwrap();
    let (s, c, _) = apperian_error(r).await;
    assert_eq!((s, c), (413, 413001));
    let r = post().header("content-type", "application/json").body("{not json").send().await.unwrap();
    let (_, c, b) = apperian_error(r).await;
    assert_eq!(c, 400801);
    let message = b["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Request body is not valid JSON: key must be a string at line 1 column 2"),
        "{message}"
    );
    let r = post().json(&serde_json::json!({"label": "x", "subnets": ["10.0.0.0/8", "nope"]})).send().await.unwrap();
    let (s, c, b) = apperian_error(r).await;
    assert_eq!((s, c), (400, 400802));
    assert_eq!(b["error"]["details"][0]["field"], "subnets[1]");
    let r = post().json(&serde_json::json!({"label": 5})).send().await.unwrap();
    let (_, c, b) = apperian_error(r).await;
    assert_eq!(c, 400802);
    assert_eq!(b["error"]["details"][0]["field"], "label");
    // Orgvue bodies: wrong content type and oversize on a route of that dialect.
    let r = app
        .request(reqwest::Method::GET, "/api/v1/ACME/datasets")
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body("a,b")
        .send()
        .await
        .unwrap();
    let (s, c, b) = orgvue_error(r).await;
    assert_eq!((s, c.as_str()), (415, "415001"));
    assert_eq!(
        b["errors"][0]["message"],
        "The content type header value you provided is not implemented, please use application/json instead."
    );
    let r = app
        .request(reqwest::Method::GET, "/api/v1/ACME/datasets")
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(vec![b' '; 6 * 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    let (s, c, _) = orgvue_error(r).await;
    assert_eq!((s, c.as_str()), (413, "413001"));
}

#[tokio::test]
async fn every_response_carries_a_trace_id() {
    let app = TestApp::spawn().await;
    for r in [
        app.get("/healthz").send().await.unwrap(),
        app.get("/api/v1/tenants").send().await.unwrap(),
        app.get("/v1/tokens").send().await.unwrap(),
        app.get("/nowhere").send().await.unwrap(),
    ] {
        let t = r.headers()["x-amzn-trace-id"].to_str().unwrap().to_string();
        let parts: Vec<&str> = t.strip_prefix("Root=1-").expect(&t).split('-').collect();
        assert_eq!((parts[0].len(), parts[1].len()), (8, 24), "{t}");
        assert!(parts.iter().all(|p| p.chars().all(|c| c.is_ascii_hexdigit())));
    }
}

#[tokio::test]
async fn health_readiness_info_and_metrics() {
    let app = TestApp::spawn().await;
    let r = app.get("/healthz").send().await.unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap(), serde_json::json!({"status":"ok"}));
    assert_eq!(app.get("/readyz").send().await.unwrap().status(), 200);
    let info: serde_json::Value = app.get("/info").send().await.unwrap().json().await.unwrap();
    assert_eq!(info["region"], "local");
    let _ = app.get("/api/v1/tenants").send().await.unwrap();
    let _ = app.get("/api/v1/tenants").bearer_auth("nope").send().await.unwrap();
    let text = app.get("/metrics").send().await.unwrap().text().await.unwrap();
    assert!(text.contains("orgd_requests_total{method=\"GET\",route=\"/api/v1/tenants\",status=\"401\"} 2"), "{text}");
    assert!(text.contains("orgd_access_refusals_total{code=\"40101\"} 1"));
    assert!(text.contains("orgd_access_refusals_total{code=\"40102\"} 1"));
    assert!(text.contains("orgd_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 1"));
    // Readiness follows the database.
    app.store.close().await;
    assert_eq!(app.get("/readyz").send().await.unwrap().status(), 503);
}

#[tokio::test]
async fn plain_http_on_the_tls_port_gets_a_readable_refusal() {
    let app = TestApp::spawn().await;
    let mut s = tokio::net::TcpStream::connect(app.server.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 400 Bad Request"), "{out}");
    assert!(out.contains("HTTPS"), "{out}");
    assert!(out.contains(&app.url), "{out}");
}

#[tokio::test]
async fn responses_are_gzipped_when_asked() {
    let app = TestApp::spawn().await;
    let (_org, _admin, token) = app.tenant_with_admin("ACME").await;
    let r = app.get("/api/v1/tenants").bearer_auth(&token).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-encoding"], "gzip");
}

/// A raw TLS connection to the test server, trusting its certificate.
async fn tls_stream(app: &TestApp) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let pem = std::fs::read(app.server.cert_path.as_ref().unwrap()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(app.server.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)).connect(name, tcp).await.unwrap()
}

#[tokio::test]
async fn a_body_refused_before_it_is_read_keeps_the_connection_for_the_next_request() {
    let app = TestApp::spawn().await;
    let body = format!("[{}]", vec!["{\"_action\":\"create\",\"k\":\"x\"}"; 8000].join(","));
    assert!(body.len() > 200_000 && body.len() < 1024 * 1024);
    let refused = format!(
        "PUT /api/v1/ACME/datasets/F97434FC-D1B0-701E-D310-A44CC4C84947/items HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer orgd_nope\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = tls_stream(&app).await;
    s.write_all(refused.as_bytes()).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    s.flush().await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut out)).await;
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("HTTP/1.1 401 Unauthorized"), "the refusal arrives: {out}");
    assert!(out.contains("40102"), "with its code: {out}");
    assert!(out.contains("HTTP/1.1 200 OK") && out.contains(r#"{"status":"ok"}"#), "and the next answer: {out}");
}

/// The answer to `head` sent raw over HTTP/1.1 (the connection closes after a refusal).
async fn raw_answer(app: &TestApp, head: &[u8]) -> String {
    let mut s = tls_stream(app).await;
    // A head past the connection's limit may be cut off while it is written: the answer still comes.
    let _ = s.write_all(head).await;
    let _ = s.flush().await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// The JSON body of a raw answer whose head says how long it is.
fn raw_body(answer: &str) -> serde_json::Value {
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head end: {answer:?}"));
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.trim().parse().unwrap()))
        .unwrap_or_else(|| panic!("no content-length: {head}"));
    assert_eq!(body.len(), length, "{answer}");
    assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{head}");
    serde_json::from_str(body).unwrap()
}

/// Heads the connection layer refuses before any route sees them (a header line without a colon, over
/// 100 header fields, over 1 MiB) are answered in the envelope of the request line's dialect, not bare.
#[tokio::test]
async fn heads_the_connection_layer_refuses_are_answered_in_the_dialect_envelope() {
    let app = TestApp::spawn().await;
    let answer = raw_answer(&app, b"GET /v1/users HTTP/1.1\r\nHost: localhost\r\nno colon here\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert_eq!(raw_body(&answer)["error"]["code"], 400001, "{answer}");
    let answer = raw_answer(&app, b"GET /api/v1/ACME/datasets HTTP/1.1\r\nHost: localhost\r\nno colon\r\n\r\n").await;
    assert_eq!(raw_body(&answer)["errors"][0]["code"], "400001", "{answer}");
    let many: String = (0..150).map(|i| format!("x-h{i}: 1\r\n")).collect();
    let head = format!("GET /api/v1/ACME/datasets HTTP/1.1\r\nHost: localhost\r\n{many}\r\n");
    let answer = raw_answer(&app, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    let body = raw_body(&answer);
    assert_eq!(body["errors"][0]["code"], "431001", "{answer}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("100 fields"), "{body}");
    let big = "b".repeat(1100 * 1024);
    let head = format!("GET /v3/organizations HTTP/1.1\r\nHost: localhost\r\nx-big: {big}\r\n\r\n");
    let answer = raw_answer(&app, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    assert_eq!(raw_body(&answer)["error"]["code"], 431001, "{answer}");
    assert_eq!(app.client_h1.get(format!("{}/healthz", app.url)).send().await.unwrap().status(), 200, "still served");
}

/// A path and query over 16 KiB is 414, headers over 64 KiB are 431, each in the dialect's envelope, over
/// HTTP/1.1 and HTTP/2 (the connection layer itself only refuses heads past 1 MiB).
#[tokio::test]
async fn long_uris_and_large_headers_are_refused_in_the_dialect_envelope() {
    let app = TestApp::spawn().await;
    let (_org, _admin, token) = app.tenant_with_admin("ACME").await;
    let long = "a".repeat(20_000);
    let big = "b".repeat(70_000);
    for (client, version) in [(&app.client, "HTTP/2"), (&app.client_h1, "HTTP/1.1")] {
        let r = client.get(format!("{}/api/v1/ACME/datasets?x={long}", app.url)).bearer_auth(&token).send().await;
        let (s, c, b) = orgvue_error(r.unwrap()).await;
        assert_eq!((s, c.as_str()), (414, "414001"), "{version}");
        assert!(b["errors"][0]["message"].as_str().unwrap().contains("at most 16384"), "{version}: {b}");
        let r = client.get(format!("{}/v1/users?x={long}", app.url)).header("X-TOKEN", &token).send().await;
        assert_eq!(apperian_error(r.unwrap()).await.1, 414001, "{version}");
        let r = client.get(format!("{}/api/v1/ACME/datasets", app.url)).bearer_auth(&token).header("x-big", &big);
        let (s, c, _) = orgvue_error(r.send().await.unwrap()).await;
        assert_eq!((s, c.as_str()), (431, "431001"), "{version}");
        let r = client.get(format!("{}/v1/users", app.url)).header("X-TOKEN", &token).header("x-big", &big);
        assert_eq!(apperian_error(r.send().await.unwrap()).await.1, 431001, "{version}");
        assert_eq!(app.get_bearer("/api/v1/ACME/datasets", &token).await.status(), 200, "{version}: still served");
    }
}
