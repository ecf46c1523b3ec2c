//! `orgd demo`: a seeded server for a newcomer's first minute.

use crate::cli::DemoArgs;
use anyhow::Context;
use orgd_core::cases;
use orgd_core::cases::orgs::NewOrg;
use orgd_core::cases::tokens::NewToken;
use orgd_core::cases::users::UserFields;
use orgd_core::clock::{Clock, SystemClock};
use orgd_core::model::{Role, UsagePlan};
use orgd_core::store::Store;
use orgd_server::{start, ServerConfig};
use orgd_store::SqlStore;
use std::sync::Arc;

/// The demo administrator's login.
pub const ADMIN: (&str, &str) = ("admin@demo.test", "Demo-Admin-2024!");
/// The demo plain user's login.
pub const USER: (&str, &str) = ("user@demo.test", "Demo-User-2024!");

async fn seed(store: &SqlStore) -> anyhow::Result<()> {
    if !store.list_orgs().await?.is_empty() {
        return Ok(());
    }
    let now = SystemClock::default().now();
    let plan = UsagePlan::default();
    let org = |tenant: &str, name: &str, parent: Option<&str>| NewOrg {
        tenant_id: Some(tenant.into()),
        name: name.into(),
        parent: parent.map(String::from),
        ..NewOrg::default()
    };
    let fail = |e: orgd_core::ApiError| anyhow::anyhow!(e.orgvue_message());
    let root = cases::orgs::create(store, org("DEMO", "Demo Holding", None), &plan, now).await.map_err(fail)?;
    cases::orgs::create(store, org("DEMO_EU", "Demo EU", Some("DEMO")), &plan, now).await.map_err(fail)?;
    cases::orgs::create(store, org("DEMO_US", "Demo US", Some("DEMO")), &plan, now).await.map_err(fail)?;
    cases::orgs::create(store, org("DEMO_EU_NORTH", "Demo EU North", Some("DEMO_EU")), &plan, now)
        .await
        .map_err(fail)?;
    for ((user_id, password), role) in [(ADMIN, Role::Administrator), (USER, Role::User)] {
        let fields = UserFields {
            role: Some(role),
            password: Some(password.into()),
            token_access: Some(true),
            first_name: Some("Demo".into()),
            last_name: Some(role.as_str().into()),
            ..UserFields::default()
        };
        cases::users::create(store, &root, user_id, fields, now).await.map_err(fail)?;
    }
    Ok(())
}

const FIRST: &[&str] = &[
    "Ana", "Bob", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivan", "Jon", "Kemi", "Lars", "Mia", "Noor",
    "Omar", "Pia",
];
const LAST: &[&str] =
    &["Lima", "Berg", "Okafor", "Novak", "Silva", "Tanaka", "Weber", "Haddad", "Kowalski", "Moreau", "Singh", "Dubois"];
const DEPARTMENTS: &[&str] = &["Finance", "Engineering", "Sales", "People", "Operations"];
const TITLES: &[&str] = &["Director", "Manager", "Analyst", "Engineer", "Associate"];

/// Seed the demo tenant's datasets once: a hierarchical PEOPLE dataset of 1,000 people, a POSITIONS
/// dataset, and a LINKS dataset assigning people to positions.
async fn seed_datasets(store: &SqlStore, org: &orgd_core::model::Org) -> anyhow::Result<()> {
    use orgd_core::data::ops as data;
    use serde_json::json;
    if !store.list_datasets(&org.org_id).await?.is_empty() {
        return Ok(());
    }
    let fail = |e: orgd_core::ApiError| anyhow::anyhow!(e.orgvue_message());
    let now = orgd_core::clock::to_millis(SystemClock::default().now());
    let people = data::create(
        store,
        &org.org_id,
        &json!({"name": "People", "type": "PEOPLE", "autoId": "Employee ID",
        "labelId": "Full Name", "treeId": "Employee ID", "treeParentId": "Manager ID", "tags": ["demo"],
        "properties": [{"key": "Employee ID", "type": "number", "isRequired": true},
            {"key": "Manager ID", "type": "number", "isRequired": true},
            {"key": "Full Name", "type": "text", "isRequired": true},
            {"key": "Department", "type": "text"}, {"key": "Start Date", "type": "date"},
            {"key": "Salary", "type": "number"}, {"key": "Full Time", "type": "boolean"}]}),
        now,
    )
    .await
    .map_err(fail)?;
    let actions: Vec<serde_json::Value> = (1..=1000u32)
        .map(|i| {
            let manager = if i == 1 { serde_json::Value::Null } else { json!((i - 2) / 5 + 1) };
            json!({"_action": "create", "Employee ID": i, "Manager ID": manager,
                "Full Name": format!("{} {}", FIRST[i as usize % FIRST.len()], LAST[(i as usize * 7) % LAST.len()]),
                "Department": DEPARTMENTS[i as usize % DEPARTMENTS.len()],
                "Start Date": format!("{}-{:02}-{:02}", 2010 + i % 14, 1 + i % 12, 1 + i % 28),
                "Salary": 40_000 + (i * 37) % 90_000, "Full Time": i % 9 != 0})
        })
        .collect();
    let auto = orgd_core::data::actions::Options {
        identify: Some(orgd_core::data::actions::Identify::AutoId),
        ..Default::default()
    };
    data::import(store, &people, actions, &auto, now).await.map_err(fail)?;
    let positions = data::create(
        store,
        &org.org_id,
        &json!({"name": "Positions", "type": "POSITIONS", "autoId": "Position ID",
        "labelId": "Title", "properties": [{"key": "Position ID", "type": "text", "isRequired": true},
            {"key": "Title", "type": "text", "isRequired": true}, {"key": "Department", "type": "text"}]}),
        now,
    )
    .await
    .map_err(fail)?;
    let actions: Vec<serde_json::Value> = (1..=200u32)
        .map(|i| {
            json!({"_action": "create", "Position ID": format!("P{i:04}"),
            "Title": format!("{} {}", DEPARTMENTS[i as usize % DEPARTMENTS.len()], TITLES[i as usize % TITLES.len()]),
            "Department": DEPARTMENTS[i as usize % DEPARTMENTS.len()]})
        })
        .collect();
    data::import(store, &positions, actions, &auto, now).await.map_err(fail)?;
    let links = data::create(
        store,
        &org.org_id,
        &json!({"name": "Assignments", "type": "LINKS", "fromDatasetId": people.id,
        "toDatasetId": positions.id, "properties": [{"key": "Since", "type": "date"}]}),
        now,
    )
    .await
    .map_err(fail)?;
    let actions: Vec<serde_json::Value> = (1..=200u32)
        .map(|i| json!({"_action": "create", "from_id": i, "to_id": format!("P{i:04}"), "Since": "2024-01-01"}))
        .collect();
    data::import(store, &links, actions, &Default::default(), now).await.map_err(fail)?;
    Ok(())
}

/// Seed (once), mint a fresh token, serve, print how to call it.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let mut config = ServerConfig::for_data_dir(&args.dir);
    config.listen = args.listen;
    config.region = "demo".into();
    let store = SqlStore::open(&config.database_url).await.context("cannot open the demo database")?;
    seed(&store).await?;
    let root = cases::orgs::load(&store, "DEMO").await.map_err(|e| anyhow::anyhow!(e.orgvue_message()))?;
    seed_datasets(&store, &root).await?;
    let people = store
        .list_datasets(&root.org_id)
        .await?
        .into_iter()
        .find(|d| d.name == "People")
        .map(|d| d.id)
        .context("the demo's People dataset was not made")?;
    let admin = cases::users::find(&store, &root, ADMIN.0).await.map_err(|e| anyhow::anyhow!(e.orgvue_message()))?;
    let now = SystemClock::default().now();
    let input = NewToken { label: Some("demo".into()), ..NewToken::default() };
    let (token, _) =
        cases::tokens::create_api(&store, &admin, input, now).await.map_err(|e| anyhow::anyhow!(e.orgvue_message()))?;
    let server = start(config, Arc::new(store)).await.with_context(|| {
        format!("cannot start the demo on {} (is another orgd running? try --listen 127.0.0.1:9443)", args.listen)
    })?;
    let url = &server.public_url;
    let ca = server.cert_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    println!(
        "\norgd demo is running.\n\n  base URL        {url}\n  web console     {url}/login (trust the CA certificate in your browser, or accept the warning)\n  CA certificate  {ca}\n  API token       {token}\n  \
         administrator   {} / {}\n  plain user      {} / {}\n  tenants         DEMO > DEMO_EU > DEMO_EU_NORTH, DEMO > DEMO_US\n\n\
         Try these:\n\n  curl --cacert {ca} -H \"Authorization: Bearer {token}\" {url}/api/v1/tenants\n  \
         curl --cacert {ca} -H \"Authorization: Bearer {token}\" {url}/api/v1/DEMO/datasets\n  \
         curl --cacert {ca} -H \"Authorization: Bearer {token}\" {url}/api/v1/DEMO/datasets/{people}/export/csv\n  \
         curl --cacert {ca} -H \"X-TOKEN: {token}\" {url}/v1/organizations/\n\nPress Ctrl-C to stop.\n",
        ADMIN.0, ADMIN.1, USER.0, USER.1
    );
    server.run_until(crate::shutdown_signal()).await;
    Ok(())
}
