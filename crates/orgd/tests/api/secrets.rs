//! Secrets never leak: a real `orgd serve` process at debug log level is driven through sign-ins, token
//! creation and use, refused credentials and a push-certificate upload; then its whole log, `/metrics` and
//! every error body are searched for the passwords, token secrets and certificate bytes it saw.

use crate::cli::client;
use base64::Engine;
use serde_json::{json, Value};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "Leak-Check-Pw-2024!";
const WRONG: &str = "Wrong-Guess-Pw-2024!";
const SEEDED: &str = "orgd_leakcheckseedxxx_SSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSS";
const UNKNOWN: &str = "orgd_leakcheckunknown_UUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUU";

#[tokio::test]
async fn secrets_never_reach_logs_metrics_error_bodies_or_the_change_history() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.yaml");
    std::fs::write(
        &seed,
        format!(
            "orgs:\n  - tenant_id: LEAK\n    name: Leak Check\n    users:\n      - user_id: admin@leak.test\n        \
             password: {PASSWORD}\n        role: administrator\n        token_access: true\n        tokens:\n          \
             - secret: {SEEDED}\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_orgd"))
        .args(["serve", "--ephemeral", "--listen", "127.0.0.1:0", "--seed"])
        .arg(&seed)
        .env("ORGD_LOG", "debug")
        .env("NO_COLOR", "1")
        .env_remove("ORGD_DATA_DIR")
        .env_remove("ORGD_DATABASE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = stderr.read_to_string(&mut all);
        all
    });
    let ready: Value = serde_json::from_str(&line).unwrap();
    let url = ready["url"].as_str().unwrap().to_string();
    let http = client(Path::new(ready["caCert"].as_str().unwrap()));
    let port = url.rsplit(':').next().unwrap();
    let at = |p: &str| format!("https://localhost:{port}{p}");
    let mut bodies = Vec::new();

    let r = http
        .post(at("/users/authenticate"))
        .json(&json!({"user_id": "admin@leak.test", "password": WRONG}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    bodies.push(r.text().await.unwrap());
    let r = http
        .post(at("/users/authenticate"))
        .json(&json!({"user_id": "admin@leak.test", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let session = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let r =
        http.post(at("/v1/tokens")).header("X-TOKEN", &session).json(&json!({"label": "leak"})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let minted = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    for token in [&minted, &session, &SEEDED.to_string()] {
        assert_eq!(http.get(at("/api/v1/LEAK/datasets")).bearer_auth(token).send().await.unwrap().status(), 200);
    }
    for bad in [UNKNOWN.to_string(), format!("{SEEDED}x"), format!("Basic {PASSWORD}")] {
        let r = http
            .get(at("/api/v1/LEAK/datasets"))
            .header("authorization", format!("Bearer {bad}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        bodies.push(r.text().await.unwrap());
        let r = http.get(at("/v1/organizations/")).header("X-TOKEN", &bad).send().await.unwrap();
        bodies.push(r.text().await.unwrap());
    }
    let org: Value =
        http.get(at("/v1/organizations/")).header("X-TOKEN", &minted).send().await.unwrap().json().await.unwrap();
    let org_id = org["id"].as_str().unwrap().to_string();
    let mut cert = vec![0x30, 0x82, 0x01, 0x00];
    cert.extend((0..256u32).map(|i| (i * 7 + 3) as u8));
    let form = reqwest::multipart::Form::new()
        .part("push_cert_file", reqwest::multipart::Part::bytes(cert.clone()).file_name("push.p12"))
        .text("data", "{}");
    let r = http
        .put(at(&format!("/v3/organizations/{org_id}")))
        .header("X-TOKEN", &minted)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    bodies.push(r.text().await.unwrap());
    let form =
        reqwest::multipart::Form::new().part("push_cert_file", reqwest::multipart::Part::bytes(cert[4..].to_vec()));
    let r = http
        .put(at(&format!("/v3/organizations/{org_id}")))
        .header("X-TOKEN", &minted)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    bodies.push(r.text().await.unwrap());
    let metrics = http.get(at("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("orgd_requests_total"));
    // The change history of all of it, as CSV and JSON.
    let csv = http.get(at("/v1/events?format=csv&limit=1000")).header("X-TOKEN", &minted).send().await.unwrap();
    let trail = csv.text().await.unwrap();
    assert!(trail.contains("settings.push_cert_p12") && trail.contains("user.signed_in"), "{trail}");
    let json = http.get(at("/v1/events?limit=1000")).header("X-TOKEN", &minted).send().await.unwrap();
    bodies.push(json.text().await.unwrap());
    bodies.push(trail);

    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "orgd did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = log.join().unwrap();
    assert!(log.contains("request") && log.contains("LEAK"), "the log was captured: {}", &log[..log.len().min(500)]);

    assert!(log.contains("leakcheckseedxxx"), "token ids are logged (so their secrets would be found if they were)");
    let b64 = base64::engine::general_purpose::STANDARD;
    // The secret is the last 43 characters; base64url may itself hold '_', so it is not split on one.
    let secret_part = |t: &str| t[t.len() - 43..].to_string();
    let needles = [
        PASSWORD.to_string(),
        WRONG.to_string(),
        secret_part(&session),
        secret_part(&minted),
        secret_part(SEEDED),
        secret_part(UNKNOWN),
        b64.encode(&cert),
        b64.encode(&cert[4..40]),
        hex_of(&cert[4..40]),
    ];
    for (name, text) in
        [("the log", &log), ("/metrics", &metrics)].into_iter().chain(bodies.iter().map(|b| ("an answer", b)))
    {
        for n in &needles {
            assert!(!text.contains(n.as_str()), "{name} holds a secret ({n}):\n{}", &text[..text.len().min(2000)]);
        }
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
