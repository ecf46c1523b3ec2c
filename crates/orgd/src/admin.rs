//! `orgd admin …`: operator commands straight on the store.

use crate::cli::{fail, AdminArgs, AdminCommand, OrgCommand, TokenCommand, UserCommand, UserFieldArgs};
use crate::config::resolve_store;
use anyhow::{anyhow, Context};
use orgd_core::cases;
use orgd_core::cases::orgs::NewOrg;
use orgd_core::cases::orgs::OrgPatch;
use orgd_core::cases::tokens::NewToken;
use orgd_core::cases::users::UserFields;
use orgd_core::clock::{iso_millis, Clock, SystemClock};
use orgd_core::model::{Org, TokenRecord, UsagePlan, User};
use orgd_core::store::Store;
use orgd_core::tree::OrgIndex;
use orgd_store::SqlStore;
use serde_json::{json, Value};

/// Run an admin command.
pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let (url, default_plan) = resolve_store(&args.store)?;
    let store = SqlStore::open(&url).await.with_context(|| format!("cannot open the database {url}"))?;
    let now = SystemClock::default().now();
    let out = Output { json: args.json, default_plan };
    let needs_orgs = !matches!(args.command, AdminCommand::Org(OrgCommand::Create { .. }));
    let done = match args.command {
        AdminCommand::Org(cmd) => org(&store, cmd, now, &out).await,
        AdminCommand::User(cmd) => user(&store, cmd, now, &out).await,
        AdminCommand::Token(cmd) => token(&store, cmd, now, &out).await,
        AdminCommand::Dataset(cmd) => crate::datasets::run(&store, cmd, now, out.json).await,
        AdminCommand::Events(args) => events(&store, args, &out).await,
    };
    match done {
        Err(e) if needs_orgs && store.list_orgs().await.is_ok_and(|o| o.is_empty()) => {
            // A database without a single org is most often the wrong data folder.
            let which = match url.strip_prefix("sqlite://") {
                Some(path) => format!("the database {path}"),
                None => "the database given by --database".to_string(),
            };
            Err(anyhow!(
                "{}: {which} holds no orgs. Is it the one you meant? `orgd demo` keeps its data in ./orgd-demo, \
                 `orgd serve` in ./orgd-data unless told otherwise: point the CLI at yours with --data-dir \
                 (e.g. --data-dir ./orgd-demo).",
                e.to_string().trim_end_matches('.')
            ))
        }
        done => done,
    }
}

struct Output {
    json: bool,
    default_plan: UsagePlan,
}

impl Output {
    fn one(&self, v: Value, text: String) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(&v).expect("JSON values print"));
        } else {
            println!("{text}");
        }
    }

    fn table(&self, rows: Vec<Value>, headers: &[&str], cells: impl Fn(&Value) -> Vec<String>) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(&Value::Array(rows)).expect("JSON values print"));
            return;
        }
        let body: Vec<Vec<String>> = rows.iter().map(cells).collect();
        let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
        for r in &body {
            for (i, c) in r.iter().enumerate() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let line = |cols: Vec<String>| {
            cols.iter()
                .enumerate()
                .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        println!("{}", line(headers.iter().map(|h| h.to_string()).collect()));
        for r in body {
            println!("{}", line(r));
        }
        if rows.is_empty() {
            println!("(none)");
        }
    }
}

fn org_json(o: &Org, parent_tenant: Option<String>) -> Value {
    json!({
        "tenant_id": o.tenant_id.as_str(), "org_id": o.org_id.as_str(), "name": o.name,
        "parent_id": o.parent_id.as_ref().map(|p| p.as_str()), "parent_tenant_id": parent_tenant,
        "allowed_subnets": o.allowed_subnets.to_strings(), "api_usage_plan": o.usage_plan,
        "created_at": iso_millis(o.created_at),
    })
}

/// The tenant id of an org's parent, if it has one.
async fn parent_tenant(store: &SqlStore, o: &Org) -> anyhow::Result<Option<String>> {
    let Some(p) = &o.parent_id else { return Ok(None) };
    Ok(store.get_org(p).await?.map(|p| p.tenant_id.to_string()))
}

fn plan_text(p: &UsagePlan) -> String {
    format!(
        "{} {}/s burst {} conc {} quota {}",
        if p.enabled { "on" } else { "OFF" },
        p.rate_per_second,
        p.burst,
        p.max_concurrent,
        p.daily_quota.map(|q| q.to_string()).unwrap_or_else(|| "unlimited".into())
    )
}

async fn org(store: &SqlStore, cmd: OrgCommand, now: time::OffsetDateTime, out: &Output) -> anyhow::Result<()> {
    match cmd {
        OrgCommand::Create { tenant_id, name, parent, api_enabled, subnets } => {
            let input = NewOrg { tenant_id, name, parent, api_enabled, allowed_subnets: subnets, org_id: None };
            let o = cases::orgs::create(store, input, &out.default_plan, now).await.map_err(fail)?;
            out.one(
                org_json(&o, parent_tenant(store, &o).await?),
                format!("created org {} ({}) with org_id {}", o.tenant_id, o.name, o.org_id),
            );
        }
        OrgCommand::Update { org, api_enabled, subnets, rate, burst, concurrency, daily_quota } => {
            let patch = OrgPatch {
                api_enabled,
                allowed_subnets: subnets,
                rate_per_second: rate,
                burst,
                max_concurrent: concurrency,
                daily_quota: daily_quota.map(|q| q.0),
            };
            let o = cases::orgs::update(store, &org, patch).await.map_err(fail)?;
            out.one(
                org_json(&o, parent_tenant(store, &o).await?),
                format!("updated org {}: plan {}", o.tenant_id, plan_text(&o.usage_plan)),
            );
        }
        OrgCommand::Delete { org, cascade, yes } => {
            let idx = OrgIndex::new(store.list_orgs().await?);
            let target = cases::orgs::find(&idx, &org).ok_or_else(|| anyhow!("No org '{org}'."))?.clone();
            let below: Vec<String> =
                idx.subtree(&target.org_id).iter().skip(1).map(|o| o.tenant_id.to_string()).collect();
            if !yes {
                let with = if below.is_empty() {
                    String::new()
                } else {
                    format!(" and the orgs below it: {}", below.join(", "))
                };
                anyhow::bail!(
                    "This would delete {} ({}){with}, with their users, tokens, datasets, jobs and files. Run again \
                     with --yes to delete{}.",
                    target.tenant_id,
                    target.name,
                    if below.is_empty() || cascade { "" } else { " (and --cascade, for the orgs below it)" }
                );
            }
            let gone = cases::orgs::delete(store, &idx, None, &target, cascade).await.map_err(fail)?;
            let tenants: Vec<String> =
                gone.iter().filter_map(|id| idx.get(id)).map(|o| o.tenant_id.to_string()).collect();
            out.one(
                json!({"deleted_org_ids": gone.iter().map(|id| id.as_str()).collect::<Vec<_>>(), "deleted_tenant_ids": tenants}),
                format!("deleted {}", tenants.join(", ")),
            );
        }
        OrgCommand::List => {
            let idx = OrgIndex::new(store.list_orgs().await?);
            let parent = |o: &Org| o.parent_id.as_ref().and_then(|p| idx.get(p)).map(|p| p.tenant_id.to_string());
            let rows: Vec<Value> = idx.all().iter().map(|o| org_json(o, parent(o))).collect();
            out.table(rows, &["TENANT_ID", "ORG_ID", "NAME", "PARENT", "SUBNETS", "PLAN"], |r| {
                let plan: UsagePlan = serde_json::from_value(r["api_usage_plan"].clone()).unwrap_or_default();
                vec![
                    s(&r["tenant_id"]),
                    s(&r["org_id"]),
                    s(&r["name"]),
                    s(&r["parent_tenant_id"]),
                    list(&r["allowed_subnets"]),
                    plan_text(&plan),
                ]
            });
        }
    }
    Ok(())
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn list(v: &Value) -> String {
    let items: Vec<String> = v.as_array().map(|a| a.iter().map(s).collect()).unwrap_or_default();
    if items.is_empty() {
        "any".into()
    } else {
        items.join(",")
    }
}

fn user_json(u: &User, now: time::OffsetDateTime) -> Value {
    let locked = u.locked_permanently || u.locked_until.is_some_and(|t| t > now);
    json!({
        "psk": u.psk, "user_id": u.user_id, "org_id": u.org_id.as_str(), "role": u.role.as_str(),
        "email": u.email, "first_name": u.first_name, "last_name": u.last_name,
        "enabled": u.enabled, "expires_at": u.expires_at.map(iso_millis), "token_access": u.token_access,
        "allowed_subnets": u.allowed_subnets.to_strings(), "locked": locked,
        "has_password": u.password_hash.is_some(), "created_at": iso_millis(u.created_at),
        "last_login_at": u.last_login_at.map(iso_millis),
    })
}

fn read_password_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

fn fields(a: UserFieldArgs, enabled: Option<bool>) -> anyhow::Result<UserFields> {
    let password = if a.password_stdin { Some(read_password_stdin()?) } else { a.password };
    Ok(UserFields {
        role: a.role,
        password,
        token_access: a.token_access,
        allowed_subnets: a.subnets,
        expires_at: a.expires.map(|e| e.0),
        enabled,
        email: a.email,
        first_name: a.first_name,
        last_name: a.last_name,
        ..UserFields::default()
    })
}

async fn user(store: &SqlStore, cmd: UserCommand, now: time::OffsetDateTime, out: &Output) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create { tenant, user_id, fields: f, disabled } => {
            let org = cases::orgs::load(store, &tenant).await.map_err(fail)?;
            let mut f = fields(f, disabled.then_some(false))?;
            f.role = f.role.or(Some(orgd_core::model::Role::User));
            let u = cases::users::create(store, &org, &user_id, f, now).await.map_err(fail)?;
            out.one(
                user_json(&u, now),
                format!("created {} {} in {} (psk {})", u.role.as_str(), u.user_id, org.tenant_id, u.psk),
            );
        }
        UserCommand::Update { tenant, user_id, fields: f, disabled, enabled } => {
            let org = cases::orgs::load(store, &tenant).await.map_err(fail)?;
            let u = cases::users::find(store, &org, &user_id).await.map_err(fail)?;
            let state = if disabled {
                Some(false)
            } else if enabled {
                Some(true)
            } else {
                None
            };
            let u = cases::users::save(store, &org, u, fields(f, state)?, now).await.map_err(fail)?;
            out.one(user_json(&u, now), format!("updated {} in {}", u.user_id, org.tenant_id));
        }
        UserCommand::List { tenant } => {
            let org = cases::orgs::load(store, &tenant).await.map_err(fail)?;
            let rows: Vec<Value> = store.list_users(&org.org_id).await?.iter().map(|u| user_json(u, now)).collect();
            out.table(rows, &["PSK", "USER_ID", "ROLE", "STATUS", "EXPIRES", "TOKEN_ACCESS", "SUBNETS"], |r| {
                let status = if r["locked"] == true {
                    "locked"
                } else if r["enabled"] == true {
                    "enabled"
                } else {
                    "disabled"
                };
                vec![
                    s(&r["psk"]),
                    s(&r["user_id"]),
                    s(&r["role"]),
                    status.into(),
                    s(&r["expires_at"]),
                    s(&r["token_access"]),
                    list(&r["allowed_subnets"]),
                ]
            });
        }
    }
    Ok(())
}

fn token_json(t: &TokenRecord, user_id: &str, now: time::OffsetDateTime) -> Value {
    json!({
        "token_id": t.token_id, "user_psk": t.user_psk, "user_id": user_id, "kind": t.kind.as_str(),
        "label": t.label, "starts_at": iso_millis(t.starts_at), "ends_at": t.ends_at.map(iso_millis),
        "subnets": t.subnets.to_strings(), "created_at": iso_millis(t.created_at),
        "last_used_at": t.last_used_at.map(iso_millis), "last_used_ip": t.last_used_ip,
        "status": t.status(now).as_str(),
    })
}

async fn token(store: &SqlStore, cmd: TokenCommand, now: time::OffsetDateTime, out: &Output) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create { tenant, user, start, end, subnets, label } => {
            let org = cases::orgs::load(store, &tenant).await.map_err(fail)?;
            let u = cases::users::find(store, &org, &user).await.map_err(fail)?;
            let input =
                NewToken { label, starts_at: start, ends_at: end, subnets: subnets.unwrap_or_default(), fixed: None };
            let (secret, rec) = cases::tokens::create_api(store, &u, input, now).await.map_err(fail)?;
            if out.json {
                let mut v = token_json(&rec, &u.user_id, now);
                v["token"] = json!(secret);
                out.one(v, String::new());
            } else {
                eprintln!("created token {} for {} (the secret below is shown only once)", rec.token_id, u.user_id);
                println!("{secret}");
            }
        }
        TokenCommand::List { tenant, user } => {
            let org = cases::orgs::load(store, &tenant).await.map_err(fail)?;
            let users = store.list_users(&org.org_id).await?;
            let psk = match &user {
                Some(uid) => Some(cases::users::find(store, &org, uid).await.map_err(fail)?.psk),
                None => None,
            };
            let name = |psk: i64| users.iter().find(|u| u.psk == psk).map(|u| u.user_id.clone()).unwrap_or_default();
            let rows: Vec<Value> = store
                .list_tokens(&org.org_id, psk)
                .await?
                .iter()
                .map(|t| token_json(t, &name(t.user_psk), now))
                .collect();
            out.table(
                rows,
                &["TOKEN_ID", "USER", "KIND", "LABEL", "STARTS", "ENDS", "SUBNETS", "LAST_USED", "STATUS"],
                |r| {
                    vec![
                        s(&r["token_id"]),
                        s(&r["user_id"]),
                        s(&r["kind"]),
                        s(&r["label"]),
                        s(&r["starts_at"]),
                        s(&r["ends_at"]),
                        list(&r["subnets"]),
                        match (&r["last_used_at"], &r["last_used_ip"]) {
                            (Value::Null, _) => "never".into(),
                            (t, ip) => format!("{} from {}", s(t), s(ip)),
                        },
                        s(&r["status"]),
                    ]
                },
            );
        }
        TokenCommand::Revoke { token_id } => {
            cases::tokens::revoke(store, &token_id, now).await.map_err(fail)?;
            out.one(json!({"token_id": token_id, "revoked": true}), format!("revoked token {token_id}"));
        }
    }
    Ok(())
}

/// `orgd admin events`: a page of an org's change history.
async fn events(store: &SqlStore, a: crate::cli::EventsArgs, out: &Output) -> anyhow::Result<()> {
    use orgd_core::cases::events;
    let org = cases::orgs::load(store, &a.tenant).await.map_err(fail)?;
    let mut params: Vec<(String, String)> = vec![("limit".into(), a.limit.to_string())];
    for (k, v) in [
        ("from", a.from),
        ("to", a.to),
        ("actor", a.actor),
        ("object", a.object),
        ("kind", a.kind),
        ("cursor", a.cursor),
    ] {
        params.extend(v.map(|v| (k.to_string(), v)));
    }
    let q = events::query(Some(&org.org_id), &params).map_err(|e| {
        let name = e.context.get("queryParameter").and_then(Value::as_str).unwrap_or_default().to_string();
        anyhow!("--{name}: {}", e.orgvue_message())
    })?;
    let page = events::list(store, &q).await.map_err(fail)?;
    if a.csv {
        print!("{}", events::CSV_HEADER.replace("\r\n", "\n"));
        for e in &page.events {
            print!("{}", events::csv_row(e).replace("\r\n", "\n"));
        }
        return Ok(());
    }
    if out.json {
        println!("{}", serde_json::to_string_pretty(&events::page_json(&page)).expect("JSON values print"));
        return Ok(());
    }
    let rows: Vec<Value> = page.events.iter().map(events::to_json).collect();
    out.table(rows, &["TIME", "KIND", "ACTOR", "IP", "OBJECT", "CHANGES"], |e| {
        let changes: Vec<String> = e["changes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| format!("{}: {} -> {}", c["field"].as_str().unwrap_or_default(), c["before"], c["after"]))
            .collect();
        vec![
            e["time"].as_str().unwrap_or_default().to_string(),
            e["kind"].as_str().unwrap_or_default().to_string(),
            format!(
                "{} {}",
                e["actor"]["kind"].as_str().unwrap_or_default(),
                e["actor"]["id"].as_str().unwrap_or_default()
            ),
            e["ip"].as_str().unwrap_or("-").to_string(),
            e["objectId"].as_str().unwrap_or_default().to_string(),
            changes.join("; "),
        ]
    });
    if let Some(c) = &page.next_cursor {
        println!("more: --cursor {c}");
    }
    Ok(())
}
