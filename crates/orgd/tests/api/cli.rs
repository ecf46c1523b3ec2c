//! The `orgd` binary: admin commands, bad flags, configuration layering, the demo.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn orgd(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orgd"))
        .args(args)
        .env("ORGD_DATA_DIR", dir)
        .env_remove("ORGD_DATABASE")
        .output()
        .unwrap()
}

pub fn ok(out: &Output) -> String {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

pub fn first_err_line(out: &Output) -> String {
    assert!(!out.status.success(), "should have failed: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or_default().to_string()
}

#[test]
fn admin_creates_orgs_users_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = ok(&orgd(d, &["admin", "--json", "org", "create", "--tenant-id", "ACME", "--name", "Acme Ltd"]));
    let org: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(org["tenant_id"], "ACME");
    assert_eq!(org["org_id"].as_str().unwrap().len(), 22);
    let out = ok(&orgd(
        d,
        &["admin", "--json", "org", "create", "--name", "Acme EU", "--parent", "ACME", "--subnets", "10.0.0.0/8"],
    ));
    let child: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((&child["parent_id"], &child["parent_tenant_id"]), (&org["org_id"], &serde_json::json!("ACME")));
    let list = ok(&orgd(d, &["admin", "org", "list"]));
    assert!(list.contains("ACME_EU") && list.contains("10.0.0.0/8"), "{list}");
    // Deleting an org says what would go until --yes; an org with orgs below needs --cascade.
    ok(&orgd(d, &["admin", "org", "create", "--name", "Acme Paris", "--parent", "ACME_EU"]));
    let line = first_err_line(&orgd(d, &["admin", "org", "delete", "ACME_EU"]));
    assert!(line.contains("ACME_PARIS") && line.contains("--yes") && line.contains("--cascade"), "{line}");
    let line = first_err_line(&orgd(d, &["admin", "org", "delete", "ACME_EU", "--yes"]));
    assert!(line.contains("1 affiliated org(s) below it"), "{line}");
    let out = ok(&orgd(d, &["admin", "--json", "org", "delete", "ACME_EU", "--cascade", "--yes"]));
    let gone: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(gone["deleted_tenant_ids"], serde_json::json!(["ACME_PARIS", "ACME_EU"]));
    let list = ok(&orgd(d, &["admin", "org", "list"]));
    assert!(list.contains("ACME") && !list.contains("ACME_EU"), "{list}");

    ok(&orgd(
        d,
        &[
            "admin",
            "user",
            "create",
            "--tenant",
            "ACME",
            "--user-id",
            "alice@acme.test",
            "--role",
            "administrator",
            "--password",
            "Secr3t-pw",
        ],
    ));
    let out = ok(&orgd(d, &["admin", "--json", "user", "create", "--tenant", "ACME", "--user-id", "bob@acme.test"]));
    let bob: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(bob["email"], "bob@acme.test", "the e-mail defaults to a user id that is one, as --help says");
    let out = ok(&orgd(d, &["admin", "--json", "user", "create", "--tenant", "ACME", "--user-id", "carol"]));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["email"], "");
    let line = first_err_line(&orgd(d, &["admin", "token", "create", "--tenant", "ACME", "--user", "alice@acme.test"]));
    assert!(line.contains("TokenAccess"), "{line}");

    ok(&orgd(
        d,
        &["admin", "user", "update", "ACME", "alice@acme.test", "--token-access", "true", "--expires", "2099-12-31"],
    ));
    let secret = ok(&orgd(
        d,
        &[
            "admin",
            "token",
            "create",
            "--tenant",
            "ACME",
            "--user",
            "alice@acme.test",
            "--label",
            "ci",
            "--end",
            "2099-01-01",
            "--subnets",
            "127.0.0.0/8",
        ],
    ));
    let secret = secret.trim();
    assert_eq!(secret.lines().count(), 1, "the secret alone on stdout");
    let id = orgd_core::token::lookup_id(secret).expect("a well-formed token").to_string();

    let listed = ok(&orgd(d, &["admin", "--json", "token", "list", "--tenant", "ACME"]));
    assert!(!listed.contains(secret), "token list never shows secrets");
    let rows: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(rows[0]["token_id"], id.as_str());
    assert_eq!(rows[0]["subnets"], serde_json::json!(["127.0.0.0/8"]));
    assert_eq!(rows[0]["status"], "active");

    let users: serde_json::Value =
        serde_json::from_str(&ok(&orgd(d, &["admin", "--json", "user", "list", "--tenant", "ACME"]))).unwrap();
    assert_eq!(users[0]["token_access"], true);
    assert_eq!(users[0]["expires_at"], "2099-12-31T00:00:00.000Z");
    assert!(!users.to_string().contains("argon2"), "password hashes never leave the store");

    ok(&orgd(d, &["admin", "token", "revoke", &id]));
    let line = first_err_line(&orgd(d, &["admin", "token", "revoke", &id]));
    assert!(line.contains(&id), "{line}");
    ok(&orgd(
        d,
        &[
            "admin",
            "org",
            "update",
            "ACME",
            "--rate",
            "5",
            "--burst",
            "10",
            "--concurrency",
            "3",
            "--daily-quota",
            "unlimited",
            "--api-enabled",
            "false",
        ],
    ));
    let orgs: serde_json::Value = serde_json::from_str(&ok(&orgd(d, &["admin", "--json", "org", "list"]))).unwrap();
    assert_eq!(
        orgs[0]["api_usage_plan"],
        serde_json::json!({"enabled": false, "rate_per_second": 5, "burst": 10, "max_concurrent": 3, "daily_quota": null})
    );
}

#[test]
fn an_admin_command_on_an_empty_database_says_which_it_read() {
    let dir = tempfile::tempdir().unwrap();
    let line = first_err_line(&orgd(dir.path(), &["admin", "user", "list", "--tenant", "DEMO"]));
    assert!(line.contains("No org 'DEMO'") && line.contains("orgd.db holds no orgs"), "{line}");
    assert!(line.contains("--data-dir ./orgd-demo"), "{line}");
}

#[test]
fn bad_flags_and_values_exit_non_zero_naming_the_fault() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: &[(&[&str], &str)] = &[
        (&["admin", "org", "create", "--name", "X", "--subnets", "10.0.0.0/33"], "--subnets"),
        (&["admin", "org", "create", "--name", "X", "--api-enabled", "maybe"], "--api-enabled"),
        (&["admin", "org", "create", "--tenant-id", "acme", "--name", "X"], "tenant_id"),
        (&["admin", "user", "create", "--tenant", "ACME", "--user-id", "a", "--role", "boss"], "role"),
        (&["admin", "token", "create", "--tenant", "ACME", "--user", "a", "--end", "31/12/2026"], "--end"),
        (&["admin", "org", "update", "NOPE", "--rate", "5"], "NOPE"),
        (&["serve", "--listen", "nonsense"], "--listen"),
        (&["serve", "--tls-cert", "x.pem"], "--tls-key"),
        (&["frobnicate"], "frobnicate"),
        (&["admin", "dataset", "import", "--tenant", "ACME", "--dataset", "people", "--file", "x.csv"], "--dataset"),
        (&["admin", "dataset", "export", "--tenant", "ACME", "--dataset", "people"], "--dataset"),
    ];
    for (args, needle) in cases {
        let line = first_err_line(&orgd(d, args));
        assert!(line.starts_with("error:"), "{args:?}: {line}");
        assert!(line.contains(needle), "{args:?} should name {needle}: {line}");
    }
}

#[test]
fn help_teaches_with_examples() {
    let dir = tempfile::tempdir().unwrap();
    let top = ok(&orgd(dir.path(), &["--help"]));
    assert!(top.contains("orgd demo") && top.contains("Orgvue") && top.contains("Apperian"), "{top}");
    for args in
        [&["serve", "--help"][..], &["admin", "token", "create", "--help"], &["admin", "user", "create", "--help"]]
    {
        let text = ok(&orgd(dir.path(), args));
        assert!(text.contains("Example"), "{args:?}: {text}");
    }
}

#[test]
fn insecure_http_refuses_public_addresses_without_a_trusted_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let line = first_err_line(&orgd(dir.path(), &["serve", "--insecure-http", "--listen", "0.0.0.0:0"]));
    assert!(line.contains("--trusted-proxy"), "{line}");
}

/// A background `orgd` process, killed on drop.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn wait_for_line(reader: &mut impl BufRead, needle: &str, lines: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).unwrap();
        assert!(n > 0 && Instant::now() < deadline, "no '{needle}' in output: {lines:?}");
        lines.push(line.trim_end().to_string());
        if line.contains(needle) {
            return;
        }
    }
}

pub fn client(cert: &std::path::Path) -> reqwest::Client {
    let pem = std::fs::read(cert).unwrap();
    reqwest::Client::builder().add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap()).build().unwrap()
}

#[tokio::test]
async fn the_demo_prints_commands_that_work() {
    let dir = tempfile::tempdir().unwrap();
    let demo_dir = dir.path().join("demo");
    let mut child = Command::new(env!("CARGO_BIN_EXE_orgd"))
        .args(["demo", "--listen", "127.0.0.1:0", "--dir"])
        .arg(&demo_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let _running = Running(child);
    let mut lines = Vec::new();
    wait_for_line(&mut out, "Press Ctrl-C", &mut lines);
    let field =
        |name: &str| lines.iter().find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string())).unwrap();
    let (url, ca, token) = (field("base URL"), field("CA certificate"), field("API token"));
    let http = client(std::path::Path::new(&ca));
    let curls: Vec<&String> = lines.iter().filter(|l| l.trim().starts_with("curl ")).collect();
    assert_eq!(curls.len(), 4, "{lines:?}");
    for curl in curls {
        let target = curl.split_whitespace().last().unwrap();
        assert!(target.starts_with(&url));
        let (name, value) = if curl.contains("X-TOKEN") {
            ("X-TOKEN", token.clone())
        } else {
            ("Authorization", format!("Bearer {token}"))
        };
        let r = http.get(target).header(name, value).send().await.unwrap();
        assert_eq!(r.status(), 200, "{curl}");
        if target.ends_with("/export/csv") {
            let csv = r.text().await.unwrap();
            assert_eq!(csv.lines().count(), 1001, "a header and 1,000 generated people");
        }
    }
    let datasets: Vec<serde_json::Value> =
        http.get(format!("{url}/api/v1/DEMO/datasets")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let names: Vec<&str> = datasets.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Assignments", "People", "Positions"]);
    let tenants: Vec<serde_json::Value> =
        http.get(format!("{url}/api/v1/tenants")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let ids: Vec<&str> = tenants.iter().map(|t| t["tenantId"].as_str().unwrap()).collect();
    assert_eq!(ids, ["DEMO", "DEMO_EU", "DEMO_EU_NORTH", "DEMO_US"]);

    // The organizations document's requests, replayed against the demo with a signed-in session.
    let login: serde_json::Value = http
        .post(format!("{url}/users/authenticate"))
        .json(&serde_json::json!({"user_id": "admin@demo.test", "password": "Demo-Admin-2024!"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = login["token"].as_str().unwrap().to_string();
    let tree: serde_json::Value = http
        .get(format!("{url}/v1/organizations/"))
        .header("X-TOKEN", &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tree["name"], "Demo Holding");
    assert_eq!(tree["sub_orgs"].as_array().unwrap().len(), 2);
    let id = tree["id"].as_str().unwrap();
    let org: serde_json::Value = http
        .get(format!("{url}/v3/organizations/{id}"))
        .header("X-TOKEN", &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(org["organization"]["app_installation_path"], "Enterprise Apps");
    let put: serde_json::Value = http
        .put(format!("{url}/v3/organizations/{id}"))
        .header("X-TOKEN", &session)
        .header("Content-Type", "application/json")
        .body(r#"{"support_email": "support@my_company.com"}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(put["warnings"], serde_json::json!([]));
    assert_eq!(put["organization"]["support_email"], "support@my_company.com");
    let cert = reqwest::multipart::Part::bytes(vec![0x30, 0x03, 0x02, 0x01, 0x03]).file_name("MyPushCert.p12");
    let form = reqwest::multipart::Form::new()
        .part("push_cert_file", cert)
        .text("data", r#"{"support_email": "support@my_company.com"}"#);
    let put: serde_json::Value = http
        .put(format!("{url}/v3/organizations/{id}"))
        .header("X-TOKEN", &session)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(put["organization"]["apple_push_cert"], true);
    let form = reqwest::multipart::Form::new().text("data", r#"{"apple_push_cert": false}"#);
    let put: serde_json::Value = http
        .put(format!("{url}/v3/organizations/{id}"))
        .header("X-TOKEN", &session)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(put["organization"]["apple_push_cert"], false);
}

#[tokio::test]
async fn serve_layers_flags_over_environment_over_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("orgd.toml");
    std::fs::write(&cfg, "listen = \"127.0.0.1:0\"\nregion = \"from-file\"\npublic_url = \"https://file.example\"\n")
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_orgd"))
        .args(["serve", "--config"])
        .arg(&cfg)
        .args(["--public-url", "https://flag.example"])
        .env("ORGD_DATA_DIR", dir.path())
        .env("ORGD_REGION", "from-env")
        .env("ORGD_PUBLIC_URL", "https://env.example")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut running = Running(child);
    let mut lines = Vec::new();
    wait_for_line(&mut err, "orgd is listening", &mut lines);
    let line = lines.last().unwrap();
    let addr = line.split("addr=").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    assert!(dir.path().join("tls/cert.pem").exists());
    assert!(dir.path().join("orgd.db").exists());
    let http = client(&dir.path().join("tls/cert.pem"));
    let port = addr.rsplit(':').next().unwrap();
    let info: serde_json::Value =
        http.get(format!("https://localhost:{port}/info")).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["region"], "from-env");
    assert_eq!(info["publicUrl"], "https://flag.example");
    // SIGTERM shuts the server down gracefully and the process exits cleanly.
    let pid = running.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = running.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "orgd did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn operators_import_and_export_dataset_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&orgd(d, &["admin", "org", "create", "--tenant-id", "ACME", "--name", "Acme"]));
    let store = orgd_store::SqlStore::open(&format!("sqlite://{}/orgd.db", d.display())).await.unwrap();
    let org = orgd_core::cases::orgs::load(&store, "ACME").await.unwrap();
    let schema = serde_json::json!({"name": "People", "type": "PEOPLE", "autoId": "Employee ID", "labelId": "Full Name",
        "properties": [{"key": "Employee ID", "type": "number", "isRequired": true}, {"key": "Full Name", "type": "text", "isRequired": true},
        {"key": "Start Date", "type": "date"}]});
    let ds = orgd_core::data::ops::create(&store, &org.org_id, &schema, 0).await.unwrap();
    store.close().await;
    let csv = d.join("people.csv");
    std::fs::write(
        &csv,
        "_action,Employee ID,Full Name,Start Date\ncreate,1,\"Lima, Ana\",01/03/2020\ncreate,2,Bob,\n",
    )
    .unwrap();
    let out = ok(&orgd(
        d,
        &[
            "admin",
            "dataset",
            "import",
            "--tenant",
            "ACME",
            "--dataset",
            ds.id.as_str(),
            "--file",
            csv.to_str().unwrap(),
            "--auto-id",
            "--date-format",
            "DD/MM/YYYY",
        ],
    ));
    assert!(out.contains("2 succeeded, 0 failed"), "{out}");
    let exported = ok(&orgd(
        d,
        &["admin", "dataset", "export", "--tenant", "ACME", "--dataset", ds.id.as_str(), "--format", "csv", "--unix"],
    ));
    assert_eq!(exported, "Employee ID,Full Name,Start Date\n1,\"Lima, Ana\",2020-03-01T00:00:00.000Z\n2,Bob,\n");
    // A failing file applies nothing and says why.
    let bad = d.join("bad.json");
    std::fs::write(&bad, r#"[{"_action":"update","Employee ID":1,"Full Name":"X"},{"_action":"create","Employee ID":1,"Full Name":"Dup"}]"#).unwrap();
    let out = orgd(
        d,
        &[
            "admin",
            "dataset",
            "import",
            "--tenant",
            "ACME",
            "--dataset",
            ds.id.as_str(),
            "--file",
            bad.to_str().unwrap(),
            "--auto-id",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success());
    assert!(stderr.contains("action 1") && stderr.contains("nothing was applied"), "{stderr}");
    let again = ok(&orgd(
        d,
        &["admin", "dataset", "export", "--tenant", "ACME", "--dataset", ds.id.as_str(), "--format", "csv", "--unix"],
    ));
    assert_eq!(again, exported);
    let listed = ok(&orgd(d, &["admin", "dataset", "list", "--tenant", "ACME"]));
    assert!(listed.contains(ds.id.as_str()) && listed.contains("People"), "{listed}");
    // Properties: added, changed, removed; a core one is refused by name.
    let prop = |cmd: &str, extra: &[&str]| {
        let mut args = vec!["admin", "dataset", cmd, "--tenant", "ACME", "--dataset", ds.id.as_str()];
        args.extend_from_slice(extra);
        orgd(d, &args)
    };
    let out = ok(&prop("add-property", &["--key", "Site", "--type", "text"]));
    assert!(out.contains("Site") && out.contains("text"), "{out}");
    let out = ok(&prop("change-property", &["--key", "Site", "--name", "Office site"]));
    assert!(out.contains("Office site"), "{out}");
    let out = ok(&prop("remove-property", &["--key", "Site"]));
    assert!(!out.contains("Site"), "{out}");
    let line = first_err_line(&prop("remove-property", &["--key", "Employee ID"]));
    assert!(line.contains("autoId"), "{line}");
    let line = first_err_line(&prop("add-property", &["--key", "X", "--type", "money"]));
    assert!(line.contains("type"), "{line}");

    // Permissions: shown, changed by merging, refused by name.
    ok(&orgd(d, &["admin", "user", "create", "--tenant", "ACME", "--user-id", "ana@acme.test", "--role", "user"]));
    let perms = |extra: &[&str]| {
        let mut args =
            vec!["admin", "--json", "dataset", "permissions", "--tenant", "ACME", "--dataset", ds.id.as_str()];
        args.extend_from_slice(extra);
        orgd(d, &args)
    };
    let shown: serde_json::Value = serde_json::from_str(&ok(&perms(&[]))).unwrap();
    assert_eq!(shown["roles"]["user"], "read");
    ok(&perms(&["--role", "user=none"]));
    let shown: serde_json::Value = serde_json::from_str(&ok(&perms(&["--user", "ana@acme.test=update"]))).unwrap();
    assert_eq!(
        (&shown["roles"]["user"], &shown["users"]["ana@acme.test"]),
        (&serde_json::json!("none"), &serde_json::json!("update"))
    );
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&perms(&["--restrict", "Start Date=user_manager,ana@acme.test"]))).unwrap();
    assert_eq!(
        shown["properties"]["Start Date"],
        serde_json::json!({"roles": ["user_manager"], "users": ["ana@acme.test"]})
    );
    let shown: serde_json::Value = serde_json::from_str(&ok(&perms(&["--unrestrict", "Start Date"]))).unwrap();
    assert_eq!(shown["properties"], serde_json::json!({}));
    let line = first_err_line(&perms(&["--restrict", "Employee ID="]));
    assert!(line.contains("properties.Employee ID"), "{line}");
    let line = first_err_line(&perms(&["--user", "bob@acme.test=read"]));
    assert!(line.contains("users.bob@acme.test"), "{line}");
    let line = first_err_line(&perms(&["--role", "user"]));
    assert!(line.contains("NAME=LEVEL"), "{line}");
    let rule = r#"ana@acme.test={"Start Date":{"$gte":"2020-01-01"}}"#;
    let shown: serde_json::Value = serde_json::from_str(&ok(&perms(&["--rows", rule]))).unwrap();
    assert_eq!(shown["rows"]["users"]["ana@acme.test"], serde_json::json!({"Start Date":{"$gte":"2020-01-01"}}));
    let shown: serde_json::Value = serde_json::from_str(&ok(&perms(&["--all-rows", "ana@acme.test"]))).unwrap();
    assert!(shown.get("rows").is_none(), "no rule left: {shown}");
    let line = first_err_line(&perms(&["--rows", "user={Department"]));
    assert!(line.contains("not JSON"), "{line}");
    let line = first_err_line(&perms(&["--rows", r#"user={"Nope":1}"#]));
    assert!(line.contains("rows.roles.user.Nope"), "{line}");
}

#[test]
fn serve_on_a_taken_address_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = orgd(dir.path(), &["serve", "--listen", &addr]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert!(err.contains("orgd demo") && err.contains("--listen"), "the error says what to do: {err}");
}

#[test]
fn admin_events_show_who_changed_what_in_each_format() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&orgd(d, &["admin", "org", "create", "--tenant-id", "EVC", "--name", "Events Ltd"]));
    ok(&orgd(d, &["admin", "user", "create", "--tenant", "EVC", "--user-id", "ann@evc.test"]));
    ok(&orgd(d, &["admin", "user", "update", "EVC", "ann@evc.test", "--token-access", "true"]));
    let os_user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());

    let out = ok(&orgd(d, &["admin", "--json", "events", "--tenant", "EVC", "--kind", "user"]));
    let page: serde_json::Value = serde_json::from_str(&out).unwrap();
    let kinds: Vec<&str> = page["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["user.updated", "user.created"], "newest first");
    let e = &page["events"][0];
    assert_eq!((e["actor"]["kind"].as_str(), e["actor"]["id"].as_str()), (Some("admin"), Some(os_user.as_str())));
    assert_eq!(e["changes"], serde_json::json!([{"field": "token_access", "before": false, "after": true}]));

    let table = ok(&orgd(d, &["admin", "events", "--tenant", "EVC", "--limit", "1"]));
    assert!(
        table.starts_with("TIME") && table.contains("user.updated") && table.contains("token_access: false -> true")
    );
    let cursor = table.lines().last().unwrap().strip_prefix("more: --cursor ").expect("a full page says how to go on");
    let older = ok(&orgd(d, &["admin", "events", "--tenant", "EVC", "--limit", "1", "--cursor", cursor]));
    assert!(older.contains("user.created"), "{older}");
    let csv = ok(&orgd(d, &["admin", "events", "--tenant", "EVC", "--csv"]));
    assert_eq!(csv.lines().count(), 4, "a header, two user events and the org's creation: {csv}");

    let line =
        first_err_line(&orgd(d, &["admin", "events", "--tenant", "EVC", "--from", "2026-03-02", "--to", "2026-03-01"]));
    assert!(line.contains("--to"), "{line}");
    let line = first_err_line(&orgd(d, &["admin", "events", "--tenant", "EVC", "--cursor", "nope"]));
    assert!(line.contains("--cursor"), "{line}");
}

/// The subcommands `orgd admin <group> --help` lists (or the groups, for `orgd admin --help`).
fn subcommands(args: &[&str]) -> Vec<String> {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    all.push("--help");
    let help = ok(&orgd(std::path::Path::new("."), &all));
    let section = help.split("Commands:\n").nth(1).expect("a Commands section");
    section
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect()
}

#[tokio::test]
async fn every_admin_command_that_changes_something_leaves_exactly_one_event_on_either_engine() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let database = match std::env::var("ORGD_TEST_DB").as_deref() {
        Ok("postgres") => {
            let server = orgd_store::testing::postgres_server("the CLI walk on PostgreSQL").unwrap();
            orgd_store::testing::fresh_postgres_database(&server).await
        }
        _ => format!("sqlite://{}/orgd.db", d.display()),
    };
    let run = |args: &[&str]| {
        let mut all = vec!["admin", "--database", database.as_str()];
        all.extend_from_slice(args);
        orgd(d, &all)
    };
    ok(&run(&["org", "create", "--tenant-id", "WALK", "--name", "Walk Ltd"]));
    let store = orgd_store::SqlStore::open(&database).await.unwrap();
    let org = orgd_core::cases::orgs::load(&store, "WALK").await.unwrap();
    let schema = serde_json::json!({"name": "People", "type": "PEOPLE", "autoId": "Employee ID", "labelId": "Name",
        "properties": [{"key": "Employee ID", "type": "number", "isRequired": true}, {"key": "Name", "type": "text", "isRequired": true}]});
    let ds = orgd_core::data::ops::create(&store, &org.org_id, &schema, 0).await.unwrap();
    let ds = ds.id.to_string();
    let csv = d.join("people.csv");
    std::fs::write(&csv, "_action,Employee ID,Name\ncreate,1,Ana\ncreate,2,Ben\n").unwrap();
    let events = || -> Vec<serde_json::Value> {
        let out = ok(&run(&["--json", "events", "--tenant", "WALK", "--limit", "1000"]));
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["events"].as_array().unwrap().clone()
    };
    let os_user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    let on_ds = |cmd: &str, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["dataset", cmd, "--tenant", "WALK", "--dataset", &ds].map(String::from).to_vec();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let csv_path = csv.to_str().unwrap().to_string();
    let mut steps: Vec<(Vec<String>, Option<&str>)> = vec![
        (
            vec!["org", "create", "--tenant-id", "WALK_KID", "--name", "Walk Kid", "--parent", "WALK"],
            Some("org.created"),
        ),
        (vec!["org", "update", "WALK", "--rate", "50"], Some("org.updated")),
        (vec!["org", "list"], None),
        (
            vec!["user", "create", "--tenant", "WALK", "--user-id", "ann@walk.test", "--role", "user"],
            Some("user.created"),
        ),
        (vec!["user", "update", "WALK", "ann@walk.test", "--token-access", "true"], Some("user.updated")),
        (vec!["user", "list", "--tenant", "WALK"], None),
        (vec!["token", "create", "--tenant", "WALK", "--user", "ann@walk.test"], Some("token.created")),
        (vec!["token", "list", "--tenant", "WALK"], None),
        (vec!["dataset", "list", "--tenant", "WALK"], None),
        (vec!["events", "--tenant", "WALK"], None),
    ]
    .into_iter()
    .map(|(a, k)| (a.into_iter().map(String::from).collect(), k))
    .collect();
    steps.extend([
        (on_ds("import", &["--file", &csv_path, "--auto-id"]), Some("items.imported")),
        (on_ds("export", &["--format", "csv"]), None),
        (on_ds("add-property", &["--key", "Site", "--type", "text"]), Some("dataset.schema_changed")),
        (on_ds("change-property", &["--key", "Site", "--type", "number", "--dry-run"]), None),
        (on_ds("change-property", &["--key", "Site", "--name", "Office"]), Some("dataset.schema_changed")),
        (on_ds("permissions", &["--role", "user=none"]), Some("dataset.updated")),
        (on_ds("remove-property", &["--key", "Site"]), Some("dataset.schema_changed")),
    ]);
    let mut visited = std::collections::BTreeSet::new();
    for (args, kind) in &steps {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let before = events().len();
        ok(&run(&args));
        let after = events();
        let new = &after[..after.len() - before];
        let kinds: Vec<&str> = new.iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, kind.iter().copied().collect::<Vec<_>>(), "orgd admin {}", args.join(" "));
        for e in new {
            assert_eq!(
                (e["actor"]["kind"].as_str(), e["actor"]["id"].as_str()),
                (Some("admin"), Some(os_user.as_str()))
            );
        }
        visited.insert(args[..if args[0] == "events" { 1 } else { 2 }].join(" "));
    }
    // The revocation and the deletion, last: they need what the walk made.
    let tokens = ok(&run(&["--json", "token", "list", "--tenant", "WALK", "--user", "ann@walk.test"]));
    let tokens: serde_json::Value = serde_json::from_str(&tokens).unwrap();
    let token_id =
        tokens.as_array().or(tokens["tokens"].as_array()).unwrap()[0]["token_id"].as_str().unwrap().to_string();
    for (args, kind) in [
        (vec!["token", "revoke", token_id.as_str()], "token.revoked"),
        (vec!["org", "delete", "WALK_KID", "--yes"], "org.deleted"),
    ] {
        let before = events().len();
        ok(&run(&args));
        let after = events();
        let kinds: Vec<&str> = after[..after.len() - before].iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, [kind], "orgd admin {}", args.join(" "));
        visited.insert(args[..2].join(" "));
    }
    // Every command of `orgd admin` was walked.
    for group in subcommands(&[]) {
        if group == "events" {
            assert!(visited.contains("events"));
            continue;
        }
        for sub in subcommands(&[&group]) {
            assert!(visited.contains(&format!("{group} {sub}")), "the walk misses orgd admin {group} {sub}");
        }
    }
}
