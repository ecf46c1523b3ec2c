//! Hostile and malformed input (the correctness issue): undecodable paths, NUL characters, slow and
//! oversized bodies, failed uploads. Each test failed before its fix.

use crate::helpers::{apperian_error, orgvue_error, TestApp};
use orgd_core::store::Store;
use reqwest::Method;
use serde_json::{json, Value};

/// A path segment that is not UTF-8 once decoded is refused with the parameter named; it never falls
/// back to the caller's own org.
#[tokio::test]
async fn an_undecodable_path_segment_is_refused_never_retargeted() {
    let app = TestApp::spawn().await;
    let (parent, _admin, token) = app.tenant_with_admin("ACME").await;
    let child = app.org("CHILD", Some(&parent)).await;

    let r = app
        .call(
            Method::PUT,
            &format!("/v3/organizations/{}%FF", child.org_id),
            &token,
            Some(json!({"support_email": "x@evil.test"})),
        )
        .await;
    let (s, _, b) = apperian_error(r).await;
    assert_eq!(s, 400, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("org_id"), "{b}");
    let unchanged = app.store.get_org(&parent.org_id).await.unwrap().unwrap();
    assert_ne!(unchanged.settings["support_email"], "x@evil.test", "the caller's org was not changed");

    let body = json!({"name": "Stolen", "type": "LOOKUP", "autoId": "k", "labelId": "k",
        "properties": [{"key": "k", "type": "text", "isRequired": true}]});
    let r =
        app.request(Method::POST, "/api/v1/CHILD%FF/datasets").bearer_auth(&token).json(&body).send().await.unwrap();
    let (s, c, b) = orgvue_error(r).await;
    assert_eq!((s, c.as_str()), (400, "400601"), "{b}");
    assert_eq!(b["errors"][0]["pathParameter"], "{tenantId}");
    assert!(app.store.list_datasets(&parent.org_id).await.unwrap().is_empty(), "nothing was created in ACME");

    for path in ["/api/v1/BE%FFTA/datasets", "/api/v1/ACME/datasets/AB%FF", "/api/v1/ACME/jobs/%FF%FE"] {
        let (s, c, b) = orgvue_error(app.get_bearer(path, &token).await).await;
        assert_eq!((s, c.as_str()), (400, "400601"), "{path}: {b}");
    }
    for path in [format!("/v1/org/{}%FF/users", child.org_id), "/v1/users/1%FF".to_string(), "/v1/tokens/%C3".into()] {
        let method = if path.starts_with("/v1/tokens") { Method::DELETE } else { Method::GET };
        let (s, _, b) = apperian_error(app.call(method, &path, &token, None).await).await;
        assert_eq!(s, 400, "{path}: {b}");
    }
}

/// NUL cannot be stored by PostgreSQL: every name and identifier refuses it with a 400 naming the field,
/// on both engines alike, and item text values refuse it as an invalid value.
#[tokio::test]
async fn nul_characters_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let (_org, admin, token) = app.tenant_with_admin("ACME").await;
    let r = app.login("a\u{0}", "whatever", json!({})).await;
    let (s, _, b) = apperian_error(r).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["details"][0]["field"], "user_id", "{b}");

    let cases = [
        (
            Method::POST,
            "/v1/users".to_string(),
            json!({"user_id": "nul\u{0}@acme.test", "password": "Passw0rd!"}),
            "user_id",
        ),
        (Method::POST, "/v1/users".into(), json!({"user_id": "n@acme.test", "first_name": "A\u{0}"}), "first_name"),
        (Method::PUT, format!("/v1/users/{}", admin.psk), json!({"last_name": "B\u{0}"}), "last_name"),
        (Method::PUT, format!("/v1/users/{}", admin.psk), json!({"email": "b\u{0}@acme.test"}), "email"),
        (Method::POST, "/v1/tokens".into(), json!({"label": "l\u{0}"}), "label"),
        (
            Method::POST,
            "/v1/organizations/".into(),
            json!({"name": "Child\u{0}", "admin": {"user_id": "c@acme.test",
            "email": "c@acme.test", "password": "Child-Pass-2024!"}}),
            "name",
        ),
    ];
    for (method, path, body, field) in cases {
        let (s, _, b) = apperian_error(app.call(method.clone(), &path, &token, Some(body)).await).await;
        assert_eq!(s, 400, "{method} {path}: {b}");
        let fields: Vec<&str> =
            b["error"]["details"].as_array().unwrap().iter().filter_map(|d| d["field"].as_str()).collect();
        assert!(fields.contains(&field), "{method} {path} names {field}: {b}");
    }
    let ds = json!({"name": "N\u{0}", "type": "LOOKUP", "autoId": "k", "labelId": "k",
        "properties": [{"key": "k", "type": "text", "isRequired": true}]});
    let r = app.request(Method::POST, "/api/v1/ACME/datasets").bearer_auth(&token).json(&ds).send().await.unwrap();
    let (s, c, b) = orgvue_error(r).await;
    assert_eq!((s, c.as_str(), b["errors"][0]["path"].as_str()), (400, "400802", Some("name")), "{b}");

    let ds = json!({"name": "Teams", "type": "LOOKUP", "autoId": "k", "labelId": "k",
        "properties": [{"key": "k", "type": "text", "isRequired": true}]});
    let r = app.request(Method::POST, "/api/v1/ACME/datasets").bearer_auth(&token).json(&ds).send().await.unwrap();
    let id = r.json::<Value>().await.unwrap()["datasetId"].as_str().unwrap().to_string();
    let r = app
        .request(Method::PUT, &format!("/api/v1/ACME/datasets/{id}/items?autoId=true"))
        .bearer_auth(&token)
        .json(&json!([{"_action": "create", "k": "a\u{0}b"}]))
        .send()
        .await
        .unwrap();
    let (s, _, b) = orgvue_error(r).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(
        (b["errors"][0]["path"].as_str(), b["errors"][0]["reason"].as_str()),
        (Some("[0].k"), Some("invalidValue"))
    );
    assert_eq!(
        app.store.get_dataset(&orgd_core::ids::DatasetId::parse(&id).unwrap()).await.unwrap().unwrap().item_count,
        0
    );
}

/// A raw HTTP/1.1 connection over TLS to the test server.
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

/// Start a request whose body never finishes: headers announce `length` bytes, a few are sent.
async fn trickle(
    app: &TestApp,
    path: &str,
    auth: &str,
    length: usize,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use tokio::io::AsyncWriteExt;
    let mut s = tls_stream(app).await;
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: localhost\r\n{auth}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n["
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.flush().await.unwrap();
    s
}

async fn read_answer(s: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> String {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(20), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// A body trickled in holds no usage-plan slot while it arrives, and is answered 408 in the dialect's
/// envelope when it takes longer than the body timeout.
#[tokio::test]
async fn slow_bodies_hold_no_slot_and_end_in_408() {
    let app = TestApp::builder().body_timeout(std::time::Duration::from_secs(2)).spawn().await;
    let (org, _admin, admin_token) = app.tenant_with_admin("ACME").await;
    app.update_org(&org, orgd_core::cases::orgs::OrgPatch { max_concurrent: Some(2), ..Default::default() }).await;
    let plain = app.user(&org, "plain@acme.test", orgd_core::model::Role::User).await;
    let plain_token = app.token(&plain, orgd_core::cases::tokens::NewToken::default()).await;
    let path = "/api/v1/ACME/datasets/F97434FC-D1B0-701E-D310-A44CC4C84947/items";
    let mut slow = Vec::new();
    for _ in 0..6 {
        slow.push(trickle(&app, path, &format!("Authorization: Bearer {plain_token}"), 10_000).await);
    }
    let mut apperian = trickle(&app, "/v1/users", &format!("X-TOKEN: {plain_token}"), 10_000).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for _ in 0..5 {
        let r = app.get_bearer("/api/v1/ACME/datasets", &admin_token).await;
        assert_eq!(r.status(), 200, "slow bodies hold none of the org's 2 slots: {}", r.text().await.unwrap());
    }
    for s in slow.iter_mut() {
        let out = read_answer(s).await;
        assert!(out.starts_with("HTTP/1.1 408"), "{out}");
        assert!(out.contains(r#""code":"408001""#), "in the Orgvue envelope: {out}");
    }
    let out = read_answer(&mut apperian).await;
    assert!(out.starts_with("HTTP/1.1 408"), "{out}");
    assert!(out.contains(r#"{"error":{"code":408001"#), "in the Apperian envelope: {out}");
}

/// `curl` (the client most people try an API with), sending `body` from a file when given: its status
/// code with HTTP version, and the answer's body.
fn curl(app: &TestApp, args: &[&str], body: Option<&[u8]>) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("body"), dir.path().join("answer"));
    let mut cmd = std::process::Command::new("curl");
    if let Some(body) = body {
        std::fs::write(&input, body).unwrap();
        cmd.args(["--data-binary", &format!("@{}", input.display())]);
    }
    let port = app.server.addr.port();
    let out = cmd
        .args(["-sS", "--cacert", app.server.cert_path.as_ref().unwrap().to_str().unwrap()])
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1"), "-o", output.to_str().unwrap()])
        .args(["-w", "%{http_code} %{http_version}"])
        .args(args)
        .output()
        .expect("curl runs");
    let status = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "curl {args:?} failed: {status} {}", String::from_utf8_lossy(&out.stderr));
    (status, std::fs::read_to_string(&output).unwrap_or_default())
}

/// An oversized body gets its 413 in the dialect's envelope over HTTP/1.1 and HTTP/2 (read and dropped
/// up to 64 MiB), whether its length is announced or not, and the connection serves the next request.
#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_get_their_413_on_http1_and_http2() {
    let app = TestApp::spawn().await;
    let (org, _admin, token) = app.tenant_with_admin("ACME").await;
    let ds = json!({"name": "Teams", "type": "LOOKUP", "autoId": "k", "labelId": "k",
        "properties": [{"key": "k", "type": "text", "isRequired": true}]});
    let r = app.request(Method::POST, "/api/v1/ACME/datasets").bearer_auth(&token).json(&ds).send().await.unwrap();
    let id = r.json::<Value>().await.unwrap()["datasetId"].as_str().unwrap().to_string();
    let big = format!(
        "[{}]",
        vec![r#"{"_action":"create","k":"0123456789012345678901234567890123456789"}"#; 120_000].join(",")
    );
    assert!(big.len() > 7_000_000);
    let url = format!("{}/api/v1/ACME/datasets/{id}/items?autoId=true", app.url);
    let bearer = format!("Authorization: Bearer {token}");
    let json_type = "Content-Type: application/json";
    for (protocol, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
        for expect in ["Expect: 100-continue", "Expect:"] {
            let args = [protocol, "-X", "PUT", "-H", &bearer, "-H", json_type, "-H", expect, &url];
            let (status, body) = tokio::task::block_in_place(|| curl(&app, &args, Some(big.as_bytes())));
            assert_eq!(status, format!("413 {version}"), "{protocol} {expect}: {body}");
            assert!(body.contains(r#""code":"413001""#), "{protocol} {expect}: {body}");
        }
        let cert = vec![7u8; 2_500_000];
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("push.p12"), &cert).unwrap();
        let file = format!("push_cert_file=@{}", dir.path().join("push.p12").display());
        let token_header = format!("X-TOKEN: {token}");
        let org_url = format!("{}/v3/organizations/{}", app.url, org.org_id);
        let args = [
            protocol,
            "-X",
            "PUT",
            "-H",
            &token_header,
            "-F",
            r#"data={"support_email": "s@acme.test"}"#,
            "-F",
            &file,
            &org_url,
        ];
        let (status, body) = tokio::task::block_in_place(|| curl(&app, &args, None));
        assert_eq!(status, format!("413 {version}"), "{protocol} multipart: {body}");
        assert!(body.contains(r#"{"error":{"code":413001"#), "{protocol} multipart: {body}");
    }
    for (client, version) in [(&app.client_h1, reqwest::Version::HTTP_11), (&app.client, reqwest::Version::HTTP_2)] {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            big.as_bytes().chunks(65536).map(|c| Ok(c.to_vec())).collect();
        let streamed = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
        let r = client.put(&url).bearer_auth(&token).header("content-type", "application/json").body(streamed);
        let r = r.send().await.unwrap_or_else(|e| panic!("{version:?}: the 413 reaches the client: {e:?}"));
        assert_eq!(r.version(), version);
        let (s, c, _) = orgvue_error(r).await;
        assert_eq!((s, c.as_str()), (413, "413001"), "{version:?}, length not announced");
        let r = client.get(format!("{}/api/v1/ACME/datasets", app.url)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200, "{version:?}: the client goes on");
    }
    assert_eq!(
        app.store.get_dataset(&orgd_core::ids::DatasetId::parse(&id).unwrap()).await.unwrap().unwrap().item_count,
        0
    );
}

/// A presigned upload that fails (broken off here; too large or too slow alike) keeps nothing and leaves
/// the file uploadable; the file never reads as uploaded while its upload runs or after it failed.
#[tokio::test]
async fn a_failed_upload_leaves_the_file_uploadable() {
    // A short body timeout, so that an upload the connection layer does not see end still ends (408)
    // within the wait below.
    let app = TestApp::builder().body_timeout(std::time::Duration::from_secs(2)).spawn().await;
    let (_org, _admin, token) = app.tenant_with_admin("ACME").await;
    for (client, transport) in [(&app.client_h1, "HTTP/1.1"), (&app.client, "HTTP/2")] {
        let f = app.generate_file("ACME", &token, "csv", "identity").await;
        let (put, get) = (f["_links"]["put"]["url"].as_str().unwrap(), f["_links"]["get"]["url"].as_str().unwrap());
        let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
            vec![Ok(vec![b'x'; 300_000]), Ok(vec![b'y'; 300_000]), Err(std::io::Error::other("the sender gave up"))];
        let broken = reqwest::Body::wrap_stream(futures_util::stream::iter(pieces));
        assert!(client.put(put).body(broken).send().await.is_err(), "{transport}: the client's upload breaks off");
        let csv = "_action,k\ncreate,a\n";
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let status = loop {
            let r = app.client.get(get).send().await.unwrap();
            let (s, c, _) = orgvue_error(r).await;
            assert_eq!((s, c.as_str()), (404, "404005"), "{transport}: nothing was kept of the failed upload");
            let status = app.client.put(put).body(csv).send().await.unwrap().status();
            // 409 only while the server has not yet seen the broken-off body end.
            if status != 409 || std::time::Instant::now() > deadline {
                break status;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!(status, 200, "{transport}: the file can be uploaded again");
        assert_eq!(app.client.get(get).send().await.unwrap().text().await.unwrap(), csv);
    }
}
