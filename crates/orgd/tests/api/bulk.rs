//! Imports at scale (the datasets-at-scale issue): large CSV files through the CLI, faults far into a
//! file, duplicate keys in rows far apart, damaged and oversized gzip uploads, a kill halfway, and the
//! upgrade of a database written by the previous release. Each runs on SQLite, and on PostgreSQL when
//! the suite runs there (`ORGD_TEST_DB=postgres`).

use crate::helpers::{orgvue_error, TestApp};
use orgd_core::cases;
use orgd_core::cases::orgs::NewOrg;
use orgd_core::cases::tokens::NewToken;
use orgd_core::cases::users::UserFields;
use orgd_core::clock::{Clock, SystemClock};
use orgd_core::data::Dataset;
use orgd_core::model::{Org, Role, UsagePlan};
use orgd_core::store::Store;
use orgd_store::testing::{fresh_postgres_database, postgres_server};
use orgd_store::SqlStore;
use reqwest::Method;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

const PEOPLE: &str = r#"{"name": "People", "type": "PEOPLE", "autoId": "Id", "labelId": "Name", "treeId": "Id",
    "treeParentId": "Manager", "properties": [{"key": "Id", "type": "number", "isRequired": true},
    {"key": "Manager", "type": "number"}, {"key": "Name", "type": "text", "isRequired": true},
    {"key": "Department", "type": "text"}, {"key": "Start", "type": "date"}, {"key": "Active", "type": "boolean"}]}"#;

/// A database for one test: SQLite in `dir`, or a fresh PostgreSQL database when the suite runs there.
async fn database(dir: &std::path::Path) -> String {
    match std::env::var("ORGD_TEST_DB").as_deref() {
        Ok("postgres") => {
            fresh_postgres_database(&postgres_server("the bulk tests on PostgreSQL").expect("a PostgreSQL server"))
                .await
        }
        _ => format!("sqlite://{}/orgd.db", dir.display()),
    }
}

/// An org with an administrator and an empty PEOPLE dataset (optional manager: roots have none).
async fn people(store: &SqlStore, tenant: &str) -> (Org, Dataset, String) {
    let now = SystemClock::default().now();
    let new = NewOrg { tenant_id: Some(tenant.into()), name: tenant.into(), ..NewOrg::default() };
    let org = cases::orgs::create(store, new, &UsagePlan::default(), now).await.unwrap();
    let email = format!("admin@{}.test", tenant.to_ascii_lowercase());
    let fields = UserFields {
        role: Some(Role::Administrator),
        token_access: Some(true),
        email: Some(email.clone()),
        ..Default::default()
    };
    let admin = cases::users::create(store, &org, &email, fields, now).await.unwrap();
    let (token, _) = cases::tokens::create_api(store, &admin, NewToken::default(), now).await.unwrap();
    let def: Value = serde_json::from_str(PEOPLE).unwrap();
    let ds = orgd_core::data::ops::create(store, &org.org_id, &def, 0).await.unwrap();
    (org, ds, token)
}

/// `rows` create actions as CSV; row `bad` (1-based), when given, has a number that is not one.
fn csv(rows: usize, bad: Option<usize>) -> String {
    let mut s = String::from("_action,Id,Manager,Name,Department,Start,Active\n");
    for i in 1..=rows {
        let manager = if i == 1 { String::new() } else { ((i - 2) / 8 + 1).to_string() };
        let id = if bad == Some(i) { "12x".to_string() } else { i.to_string() };
        s.push_str(&format!(
            "create,{id},{manager},\"Person {i}, Jr\",Dept {},2020-01-{:02},{}\n",
            i % 7,
            i % 28 + 1,
            i % 2 == 0
        ));
    }
    s
}

/// `orgd admin …` against `database`.
fn admin(database: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_orgd"))
        .args(["admin", "--database", database])
        .args(args)
        .env("ORGD_LOG", "warn")
        .output()
        .unwrap()
}

#[tokio::test]
async fn a_large_csv_with_a_bad_last_row_applies_nothing_and_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path()).await;
    let store = SqlStore::open(&db).await.unwrap();
    let (_org, ds, _token) = people(&store, "BULK").await;
    let rows = 1_000_000;
    let file = dir.path().join("people.csv");
    std::fs::write(&file, csv(rows, Some(rows))).unwrap();
    let f = file.to_str().unwrap();
    let out =
        admin(&db, &["dataset", "import", "--tenant", "BULK", "--dataset", ds.id.as_str(), "--file", f, "--auto-id"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&format!("line {}: '12x' is not a number ([{}].Id)", rows + 1, rows - 1)), "{err}");
    assert!(err.contains("1 action(s) failed; nothing was applied"), "{err}");
    assert_eq!(store.get_dataset(&ds.id).await.unwrap().unwrap().item_count, 0, "nothing was applied");
    assert!(store.item_page(&ds, 0, 1).await.unwrap().is_empty());
    store.close().await;
}

#[tokio::test]
async fn a_csv_import_reports_every_row_and_a_full_refresh_deletes_what_it_does_not_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path()).await;
    let store = SqlStore::open(&db).await.unwrap();
    let (_org, ds, _token) = people(&store, "BULK").await;
    let rows = 100_000;
    let file = dir.path().join("people.csv");
    let f = file.to_str().unwrap();
    std::fs::write(&file, csv(rows, None)).unwrap();
    let out = admin(
        &db,
        &["--json", "dataset", "import", "--tenant", "BULK", "--dataset", ds.id.as_str(), "--file", f, "--auto-id"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["succeeded"].as_u64(), report["failed"].as_u64()), (Some(rows as u64), Some(0)));
    assert_eq!(report["results"].as_array().unwrap().len(), rows, "one result per row, spooled and streamed out");
    assert_eq!(store.get_dataset(&ds.id).await.unwrap().unwrap().item_count, rows as i64);

    // A full refresh of every row but the first 10: the rest stays, the 10 go, all in one transaction.
    let refresh: String = csv(rows, None)
        .lines()
        .enumerate()
        .filter(|(i, _)| *i == 0 || *i > 10)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    std::fs::write(&file, refresh.replace("create,", "createOrUpdate,")).unwrap();
    let out = admin(
        &db,
        &[
            "dataset",
            "import",
            "--tenant",
            "BULK",
            "--dataset",
            ds.id.as_str(),
            "--file",
            f,
            "--auto-id",
            "--implicit-delete",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{} succeeded, 0 failed, 10 deleted", rows - 10)));
    let after = store.get_dataset(&ds.id).await.unwrap().unwrap();
    assert_eq!(after.item_count, rows as i64 - 10);
    let first = store.item_page(&after, 0, 1).await.unwrap();
    assert_eq!(first[0].values["Id"], 11, "the items not named are gone");
    store.close().await;
}

#[tokio::test]
async fn duplicate_keys_in_rows_far_apart_are_found() {
    let app = TestApp::spawn().await;
    let (_org, _admin, token) = app.tenant_with_admin("DUP").await;
    let r = app
        .request(Method::POST, "/api/v1/DUP/datasets")
        .bearer_auth(&token)
        .json(&serde_json::from_str::<Value>(PEOPLE).unwrap());
    let id = r.send().await.unwrap().json::<Value>().await.unwrap()["datasetId"].as_str().unwrap().to_string();
    let mut actions: Vec<Value> =
        (1..=9000).map(|i| json!({"_action": "create", "Id": i, "Name": format!("P{i}")})).collect();
    actions.push(json!({"_action": "create", "Id": 3, "Name": "again"}));
    actions.push(json!({"_action": "update", "Id": 7, "Manager": 9001}));
    actions.push(json!({"_action": "create", "Id": 9001, "Name": "last"}));
    let path = format!("/api/v1/DUP/datasets/{id}/items?autoId=true");
    let r = app.request(Method::PUT, &path).bearer_auth(&token).json(&actions).send().await.unwrap();
    let (s, c, b) = orgvue_error(r).await;
    assert_eq!((s, c.as_str()), (409, "409001"), "{b}");
    assert_eq!(b["errors"].as_array().unwrap().len(), 1, "{b}");
    assert_eq!(
        (b["errors"][0]["actionIndex"].as_u64(), b["errors"][0]["reason"].as_str()),
        (Some(9000), Some("itemAlreadyExists"))
    );
    let r =
        app.request(Method::PUT, &format!("{path}&onActionValidationFailure=skip")).bearer_auth(&token).json(&actions);
    let results: Value = r.send().await.unwrap().json().await.unwrap();
    assert_eq!(results.as_array().unwrap().len(), 9003);
    assert_eq!(results[9000]["_status"], "failed");
    assert_eq!(results[9001]["_status"], "success", "a later batch sees the earlier batches' items");
    assert_eq!(results[9002]["_status"], "success");
    let ds = app.store.get_dataset(&orgd_core::ids::DatasetId::parse(&id).unwrap()).await.unwrap().unwrap();
    assert_eq!(ds.item_count, 9001);
    // Duplicates within one batch, and a treeId taken by an item of an earlier batch.
    let again =
        json!([{"_action": "createOrUpdate", "Id": 9002, "Name": "x"}, {"_action": "create", "Id": 9002, "Name": "y"}]);
    let r = app.request(Method::PUT, &path).bearer_auth(&token).json(&again).send().await.unwrap();
    assert_eq!(orgvue_error(r).await.2["errors"][0]["actionIndex"], 1);
}

#[tokio::test]
async fn many_failures_are_listed_up_to_a_thousand_then_counted() {
    let app = TestApp::spawn().await;
    let (_org, _admin, token) = app.tenant_with_admin("MANY").await;
    let r = app
        .request(Method::POST, "/api/v1/MANY/datasets")
        .bearer_auth(&token)
        .json(&serde_json::from_str::<Value>(PEOPLE).unwrap());
    let id = r.send().await.unwrap().json::<Value>().await.unwrap()["datasetId"].as_str().unwrap().to_string();
    let actions: Vec<Value> = (1..=2500).map(|i| json!({"_action": "create", "Id": i, "Nmae": "typo"})).collect();
    let r = app
        .request(Method::PUT, &format!("/api/v1/MANY/datasets/{id}/items?autoId=true"))
        .bearer_auth(&token)
        .json(&actions);
    let (s, c, b) = orgvue_error(r.send().await.unwrap()).await;
    assert_eq!((s, c.as_str()), (400, "400802"));
    let errors = b["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1001, "1,000 listed and one that counts them all");
    assert_eq!(errors[999]["actionIndex"], 999);
    assert_eq!((errors[1000]["errorCount"].as_u64(), errors[1000]["listed"].as_u64()), (Some(2500), Some(1000)));
}

/// Upload `bytes` to a fresh `files/generate` URL and import it asynchronously; the finished ticket.
async fn import_upload(app: &TestApp, token: &str, dataset: &str, kind: &str, encoding: &str, bytes: Vec<u8>) -> Value {
    let file = app.generate_file("GZ", token, kind, encoding).await;
    let put = file["_links"]["put"]["url"].as_str().unwrap().to_string();
    assert_eq!(app.client.put(&put).body(bytes).send().await.unwrap().status(), 200);
    let body = json!({"importLocation": {"method": "GET", "url": file["_links"]["get"]["url"]}});
    let r =
        app.request(Method::PUT, &format!("/api/v1/GZ/datasets/{dataset}/items/import?autoId=true")).bearer_auth(token);
    let ticket: Value = r.json(&body).send().await.unwrap().json().await.unwrap();
    let job = ticket["jobId"].as_str().unwrap().to_string();
    for _ in 0..600 {
        let t: Value = app.get_bearer(&format!("/api/v1/GZ/jobs/{job}"), token).await.json().await.unwrap();
        if t["jobStatus"] == "completed" || t["jobStatus"] == "failed" {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the job did not end");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

#[tokio::test]
async fn gzip_uploads_that_are_cut_short_or_unpack_too_far_fail_their_job_by_name() {
    let app = TestApp::builder().gzip_expanded_limit(64 << 20).spawn().await;
    let (_org, _admin, token) = app.tenant_with_admin("GZ").await;
    let r = app
        .request(Method::POST, "/api/v1/GZ/datasets")
        .bearer_auth(&token)
        .json(&serde_json::from_str::<Value>(PEOPLE).unwrap());
    let id = r.send().await.unwrap().json::<Value>().await.unwrap()["datasetId"].as_str().unwrap().to_string();

    let good = gzip(csv(30_000, None).as_bytes());
    let t = import_upload(&app, &token, &id, "csv", "gzip", good.clone()).await;
    assert_eq!(t["jobStatus"], "completed", "{t}");
    assert_eq!(
        app.store.get_dataset(&orgd_core::ids::DatasetId::parse(&id).unwrap()).await.unwrap().unwrap().item_count,
        30_000
    );

    let t = import_upload(&app, &token, &id, "csv", "gzip", good[..good.len() / 2].to_vec()).await;
    assert_eq!(t["jobStatus"], "failed");
    assert!(t["errors"][0]["message"].as_str().unwrap().contains("ends early"), "{t}");

    let t = import_upload(&app, &token, &id, "csv", "identity", b"_action,Id,Salary\ncreate,1,10\n".to_vec()).await;
    assert!(t["errors"][0]["message"].as_str().unwrap().contains("column 'Salary' is not a property"), "{t}");

    // A bomb: a header, then 1,024 gzip members of 1 MiB of zeros each (gzip files may hold several
    // members): 1 GiB unpacked from about a megabyte.
    let mut bomb = gzip(b"_action,Id,Name\ncreate,1,\"");
    let member = gzip(&vec![b'0'; 1 << 20]);
    for _ in 0..1024 {
        bomb.extend_from_slice(&member);
    }
    assert!(bomb.len() < 4 << 20, "{}", bomb.len());
    let before = rss_kb();
    let t = import_upload(&app, &token, &id, "csv", "gzip", bomb).await;
    assert_eq!(t["jobStatus"], "failed");
    let message = t["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("unpacks to more than 67108864 bytes"), "{t}");
    assert_eq!(t["errors"][0]["code"], "413001");
    let grown = rss_kb().saturating_sub(before);
    assert!(grown < 200 * 1024, "the bomb was read as a stream, never held whole: {grown} KB more");
    assert_eq!(
        app.store.get_dataset(&orgd_core::ids::DatasetId::parse(&id).unwrap()).await.unwrap().unwrap().item_count,
        30_000,
        "nothing changed"
    );
}

/// This process's resident memory (the test server runs inside it).
fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap()
}

#[tokio::test]
async fn a_cli_import_killed_halfway_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path()).await;
    let store = SqlStore::open(&db).await.unwrap();
    let (_org, ds, _token) = people(&store, "KILL").await;
    let file = dir.path().join("people.csv");
    std::fs::write(&file, csv(600_000, None)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_orgd"))
        .args([
            "admin",
            "--database",
            &db,
            "dataset",
            "import",
            "--tenant",
            "KILL",
            "--dataset",
            ds.id.as_str(),
            "--auto-id",
        ])
        .arg("--file")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until rows are being written (the transaction's writes show in the database's files or
    // locks), then kill.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(child.try_wait().unwrap().is_none(), "the import still runs when it is killed");
    child.kill().unwrap();
    child.wait().unwrap();
    let store = SqlStore::open(&db).await.unwrap();
    let after = store.get_dataset(&ds.id).await.unwrap().unwrap();
    assert_eq!(after.item_count, 0);
    assert!(store.item_page(&after, 0, 1).await.unwrap().is_empty(), "all or nothing: nothing");
    let out = admin(
        &db,
        &[
            "dataset",
            "import",
            "--tenant",
            "KILL",
            "--dataset",
            ds.id.as_str(),
            "--auto-id",
            "--file",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "the store is usable after the kill: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(store.get_dataset(&ds.id).await.unwrap().unwrap().item_count, 600_000);
}

/// A database as the previous release left it (every item a JSON row of one shared `items` table) is
/// upgraded in place at start: every item, `seq`, timestamp and the dataset's cache key are kept.
#[tokio::test]
async fn a_database_of_the_previous_release_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path()).await;
    sqlx::any::install_default_drivers();
    let url = if db.starts_with("sqlite://") { format!("{db}?mode=rwc") } else { db.clone() };
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let migrator = if db.starts_with("sqlite://") {
        sqlx::migrate!("../orgd-store/migrations/sqlite")
    } else {
        sqlx::migrate!("../orgd-store/migrations/postgres")
    };
    migrator.run(&pool).await.unwrap();
    let org_id = orgd_core::ids::OrgId::generate();
    sqlx::query(
        "INSERT INTO orgs (org_id, tenant_id, parent_id, name, name_key, allowed_subnets, usage_plan, settings, created_at) \
         VALUES ($1, 'OLD', NULL, 'Old', 'old', '[]', $2, $3, 0)",
    )
    .bind(org_id.as_str())
    .bind(serde_json::to_string(&UsagePlan::default()).unwrap())
    .bind(orgd_core::org_settings::defaults().to_string())
    .execute(&pool)
    .await
    .unwrap();
    let n = orgd_core::data::schema::parse_new(&serde_json::from_str(PEOPLE).unwrap()).unwrap();
    let ds = Dataset {
        id: orgd_core::ids::DatasetId::generate(),
        org_id: org_id.clone(),
        name: n.name,
        ty: n.ty,
        auto_id: n.auto_id,
        label_id: n.label_id,
        tree_id: n.tree_id,
        tree_parent_id: n.tree_parent_id,
        tags: vec![],
        properties: n.properties,
        from_dataset: None,
        to_dataset: None,
        cache_key: "0f0e0d0c0b0a09080706050403020100".into(),
        item_count: 3,
        created_at: 1_700_000_000_000,
        modified_at: 1_700_000_500_000,
        grants: Default::default(),
        rows: None,
        view: None,
    };
    sqlx::query(
        "INSERT INTO datasets (dataset_id, org_id, name, name_key, type, definition, cache_key, item_count, created_at, modified_at) \
         VALUES ($1, $2, 'People', 'people', 'PEOPLE', $3, $4, 3, $5, $6)",
    )
    .bind(ds.id.as_str())
    .bind(org_id.as_str())
    .bind(ds.definition_json().to_string())
    .bind(&ds.cache_key)
    .bind(ds.created_at)
    .bind(ds.modified_at)
    .execute(&pool)
    .await
    .unwrap();
    let items = [
        (
            "11111111-1111-4111-8111-111111111111",
            3,
            json!({"Id": 1, "Name": "Ana \"A\"\tLima", "Start": "2020-03-01T00:00:00.000Z", "Active": true}),
        ),
        ("22222222-2222-4222-8222-222222222222", 7, json!({"Id": 2.5, "Manager": 1, "Name": "Bo", "Active": false})),
        ("33333333-3333-4333-8333-333333333333", 9, json!({"Id": 3, "Name": "Cy", "Department": "Ops"})),
    ];
    for (id, seq, values) in &items {
        sqlx::query("INSERT INTO items (dataset_id, item_id, seq, data, created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(ds.id.as_str())
            .bind(*id)
            .bind(*seq as i64)
            .bind(values.to_string())
            .bind(1_000 + *seq as i64)
            .bind(2_000 + *seq as i64)
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;

    let store = SqlStore::open(&db).await.unwrap();
    let after = store.get_dataset(&ds.id).await.unwrap().unwrap();
    assert_eq!(
        (after.cache_key.as_str(), after.item_count, after.modified_at),
        (ds.cache_key.as_str(), 3, ds.modified_at)
    );
    let page = store.item_page(&after, 0, 10).await.unwrap();
    assert_eq!(page.len(), 3);
    for (item, (id, seq, values)) in page.iter().zip(&items) {
        assert_eq!((item.id.as_str(), item.seq), (*id, *seq as i64));
        assert_eq!((item.created_at, item.modified_at), (1_000 + *seq as i64, 2_000 + *seq as i64));
        assert_eq!(&Value::Object(item.values.clone()), values);
    }
    // The upgraded dataset works: an import finds its items by autoId, and the old table is gone.
    let opts = orgd_core::data::ops::import_options(&after, &[("autoId".into(), "true".into())]).unwrap();
    let actions = vec![
        json!({"_action": "update", "Id": 2.5, "Department": "HR"}),
        json!({"_action": "create", "Id": 4, "Name": "Di"}),
    ];
    orgd_core::data::ops::import(&store, &after, actions, &opts, 5_000).await.unwrap();
    let after = store.get_dataset(&ds.id).await.unwrap().unwrap();
    assert_eq!(after.item_count, 4);
    assert_eq!(store.get_item(&after, items[1].0).await.unwrap().unwrap().values["Department"], "HR");
    assert_eq!(store.item_page(&after, 9, 10).await.unwrap()[0].seq, 10, "new items follow the old ones");
    store.close().await;
    let store = SqlStore::open(&db).await.unwrap();
    assert_eq!(store.get_dataset(&ds.id).await.unwrap().unwrap().item_count, 4, "opening again changes nothing");
    store.close().await;
}

/// An HR file leaves the top person's manager empty: the manager property may be optional; an empty
/// parent is a root, a parent that names no item an orphan.
#[tokio::test]
async fn a_hierarchy_with_empty_parents_has_roots_and_orphans() {
    let app = TestApp::spawn().await;
    let (_org, _admin, token) = app.tenant_with_admin("TREE").await;
    let r = app
        .request(Method::POST, "/api/v1/TREE/datasets")
        .bearer_auth(&token)
        .json(&serde_json::from_str::<Value>(PEOPLE).unwrap());
    let created: Value = r.send().await.unwrap().json().await.unwrap();
    assert_eq!(created["properties"][1]["isRequired"], false);
    assert_eq!(created["properties"][1]["isTreeParentId"], true);
    let id = created["datasetId"].as_str().unwrap().to_string();
    let actions = json!([{"_action": "create", "Id": 1, "Name": "Top"}, {"_action": "create", "Id": 2, "Manager": 1, "Name": "Mid"},
        {"_action": "create", "Id": 3, "Manager": 2, "Name": "Low"}, {"_action": "create", "Id": 4, "Manager": 99, "Name": "Lost"}]);
    let r = app
        .request(Method::PUT, &format!("/api/v1/TREE/datasets/{id}/items?autoId=true"))
        .bearer_auth(&token)
        .json(&actions);
    assert_eq!(r.send().await.unwrap().status(), 200);
    let body = json!({"query": {"output": {"projection": {"Id": 1, "_depth": 1, "_is_orphan": 1, "_descendants": 1}}}});
    let r = app
        .request(Method::POST, &format!("/api/v1/TREE/datasets/{id}/export/jsonColumns"))
        .bearer_auth(&token)
        .json(&body);
    let cols: Value = r.send().await.unwrap().json().await.unwrap();
    assert_eq!(cols["columns"], json!([[1, 2, 3, 4], [1, 2, 3, 1], [false, false, false, true], [2, 1, 0, 0]]));
}
