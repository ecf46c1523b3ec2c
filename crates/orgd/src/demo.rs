//! `orgd demo`: a seeded server for a newcomer's first minute.

use crate::cli::DemoArgs;
use anyhow::Context;
use orgd_core::clock::{Clock, SystemClock};
use orgd_core::model::{Role, UsagePlan};
use orgd_core::ops::{self, NewOrg, NewToken, UserFields};
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
    let root = ops::create_org(store, org("DEMO", "Demo Holding", None), &plan, now).await.map_err(fail)?;
    ops::create_org(store, org("DEMO_EU", "Demo EU", Some("DEMO")), &plan, now).await.map_err(fail)?;
    ops::create_org(store, org("DEMO_US", "Demo US", Some("DEMO")), &plan, now).await.map_err(fail)?;
    ops::create_org(store, org("DEMO_EU_NORTH", "Demo EU North", Some("DEMO_EU")), &plan, now).await.map_err(fail)?;
    for ((user_id, password), role) in [(ADMIN, Role::Administrator), (USER, Role::User)] {
        let fields = UserFields {
            role: Some(role),
            password: Some(password.into()),
            token_access: Some(true),
            first_name: Some("Demo".into()),
            last_name: Some(role.as_str().into()),
            ..UserFields::default()
        };
        ops::create_user(store, &root, user_id, fields, now).await.map_err(fail)?;
    }
    Ok(())
}

/// Seed (once), mint a fresh token, serve, print how to call it.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let mut config = ServerConfig::for_data_dir(&args.dir);
    config.listen = args.listen;
    config.region = "demo".into();
    let store = SqlStore::open(&config.database_url).await.context("cannot open the demo database")?;
    seed(&store).await?;
    let root = ops::load_org(&store, "DEMO").await.map_err(|e| anyhow::anyhow!(e.orgvue_message()))?;
    let admin = ops::find_user(&store, &root, ADMIN.0).await.map_err(|e| anyhow::anyhow!(e.orgvue_message()))?;
    let now = SystemClock::default().now();
    let input = NewToken { label: Some("demo".into()), ..NewToken::default() };
    let (token, _) =
        ops::create_api_token(&store, &admin, input, now).await.map_err(|e| anyhow::anyhow!(e.orgvue_message()))?;
    let server = start(config, Arc::new(store)).await.with_context(|| {
        format!("cannot start the demo on {} (is another orgd running? try --listen 127.0.0.1:9443)", args.listen)
    })?;
    let url = &server.public_url;
    let ca = server.cert_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    println!(
        "\norgd demo is running.\n\n  base URL        {url}\n  CA certificate  {ca}\n  API token       {token}\n  \
         administrator   {} / {}\n  plain user      {} / {}\n  tenants         DEMO > DEMO_EU > DEMO_EU_NORTH, DEMO > DEMO_US\n\n\
         Try these:\n\n  curl --cacert {ca} -H \"Authorization: Bearer {token}\" {url}/api/v1/tenants\n  \
         curl --cacert {ca} -H \"Authorization: Bearer {token}\" {url}/api/v1/DEMO_EU/datasets\n  \
         curl --cacert {ca} -H \"X-TOKEN: {token}\" {url}/v1/tokens\n\nPress Ctrl-C to stop.\n",
        ADMIN.0, ADMIN.1, USER.0, USER.1
    );
    server.run_until(crate::shutdown_signal()).await;
    Ok(())
}
