//! The store conformance suite: the same checks against SQLite and PostgreSQL.

use orgd_core::clock::parse_date_or_datetime;
use orgd_core::data::drafts::{Change, Draft, DraftItem};
use orgd_core::data::jobs::{ChunkOwner, Job, JobKind, JobStatus};
use orgd_core::data::row::{Row, Val};
use orgd_core::data::Dataset;
use orgd_core::events::{Event, EventQuery};
use orgd_core::ids::{DatasetId, DraftId, JobId, OrgId, TenantId, WebhookId};
use orgd_core::model::{Org, Role, TokenKind, TokenRecord, TokenUse, UsagePlan, User};
use orgd_core::net::CidrList;
use orgd_core::store::{Lookup, Store};
use orgd_core::webhooks::{Attempt, DeliveryState, Subscription};
use orgd_core::{org_settings, token, StoreError};
use orgd_store::testing::{fresh_postgres_database, postgres_server};
use orgd_store::SqlStore;
use time::OffsetDateTime;

fn t(s: &str) -> OffsetDateTime {
    parse_date_or_datetime(s).unwrap()
}

fn org(name: &str, tenant: &str, parent: Option<&Org>) -> Org {
    Org {
        org_id: OrgId::generate(),
        tenant_id: TenantId::parse(tenant).unwrap(),
        parent_id: parent.map(|p| p.org_id.clone()),
        name: name.into(),
        allowed_subnets: CidrList::parse_comma("10.0.0.0/8, 2001:db8::/32", "s").unwrap(),
        usage_plan: UsagePlan { daily_quota: None, ..UsagePlan::default() },
        settings: org_settings::defaults(),
        created_at: t("2024-05-01T09:30:00.123Z"),
    }
}

fn user(org: &Org, user_id: &str) -> User {
    User {
        psk: 0,
        org_id: org.org_id.clone(),
        user_id: user_id.into(),
        email: "jane@acme.test".into(),
        first_name: "Jane".into(),
        last_name: "Doe".into(),
        mobile_phone: Some("+1 555".into()),
        role: Role::UserManager,
        enabled: true,
        expires_at: Some(t("2030-01-01")),
        token_access: true,
        allowed_subnets: CidrList::parse_comma("127.0.0.0/8", "s").unwrap(),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$abc$def".into()),
        password_changed_at: Some(t("2024-05-01")),
        password_history: vec!["old".into()],
        custom_metadata: serde_json::json!({"cities": "1"}),
        failed_login_count: 2,
        last_failed_login_at: None,
        locked_until: None,
        locked_permanently: false,
        created_at: t("2024-05-01"),
        modified_at: t("2024-05-02"),
        last_login_at: None,
    }
}

fn token_record(user: &User, id: &str, kind: TokenKind) -> TokenRecord {
    TokenRecord {
        token_id: id.into(),
        kind,
        user_psk: user.psk,
        label: "ci".into(),
        starts_at: t("2024-05-01"),
        ends_at: Some(t("2025-05-01")),
        subnets: CidrList::parse_comma("203.0.113.0/24", "s").unwrap(),
        remember_me: false,
        created_at: t("2024-05-01T10:00:00Z"),
        last_used_at: None,
        last_used_ip: None,
        revoked_at: None,
    }
}

async fn conformance(store: &dyn Store) {
    store.ping().await.unwrap();
    let e0 = store.auth_epoch().await.unwrap();
    let l0 = store.local_changes();

    // Orgs: round trip, uniqueness of tenant id and of name (case-insensitive), epoch moves.
    let root = org("Acme Ltd", "ACME", None);
    store.insert_org(&root).await.unwrap();
    let child = org("Acme EU", "ACME_EU", Some(&root));
    store.insert_org(&child).await.unwrap();
    assert!(store.auth_epoch().await.unwrap() > e0);
    assert_eq!(store.get_org(&root.org_id).await.unwrap().as_ref(), Some(&root));
    assert_eq!(store.get_org_by_tenant(&root.tenant_id).await.unwrap().as_ref(), Some(&root));
    assert_eq!(store.get_org_by_tenant(&TenantId::parse("NOPE").unwrap()).await.unwrap(), None);
    assert!(matches!(store.insert_org(&org("Other", "ACME", None)).await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.insert_org(&org("ACME LTD", "OTHER", None)).await, Err(StoreError::Conflict(_))));
    let l = store.local_changes();
    assert_eq!((l.auth, l.data), (l0.auth + 2, l0.data), "each committed change is counted, refused ones not");
    let mut changed = child.clone();
    changed.usage_plan.enabled = false;
    changed.allowed_subnets = CidrList::any();
    store.update_org(&changed).await.unwrap();
    assert_eq!(store.get_org(&child.org_id).await.unwrap(), Some(changed));
    assert_eq!(store.list_orgs().await.unwrap().len(), 2);

    // Users: psk assigned, unique user_id per org case-insensitively, found across orgs.
    let u = store.insert_user(&user(&root, "Jane@Acme.test")).await.unwrap();
    assert!(u.psk > 0);
    assert_eq!(store.get_user(u.psk).await.unwrap().as_ref(), Some(&u));
    assert!(matches!(store.insert_user(&user(&root, "jane@acme.TEST")).await, Err(StoreError::Conflict(_))));
    let u2 = store.insert_user(&user(&child, "jane@acme.test")).await.unwrap();
    assert!(u2.psk > u.psk);
    assert_eq!(store.find_users("JANE@acme.test", None).await.unwrap().len(), 2);
    assert_eq!(store.find_users("jane@acme.test", Some(&child.org_id)).await.unwrap(), vec![u2.clone()]);
    let mut u_changed = u.clone();
    u_changed.enabled = false;
    u_changed.role = Role::Administrator;
    u_changed.expires_at = None;
    u_changed.locked_until = Some(t("2024-06-01T00:00:00.001Z"));
    store.update_user(&u_changed).await.unwrap();
    assert_eq!(store.get_user(u.psk).await.unwrap(), Some(u_changed));
    assert_eq!(store.list_users(&root.org_id).await.unwrap().len(), 1);

    // Tokens: hash kept, revocation once, uses recorded without moving the epoch.
    let minted = token::mint();
    let rec = token_record(&u, &minted.token_id, TokenKind::Api);
    store.insert_token(&rec, &minted.hash).await.unwrap();
    let (got, hash) = store.get_token(&minted.token_id).await.unwrap().unwrap();
    assert_eq!(got, rec);
    assert!(token::verify(&minted.secret, &hash));
    let session = token_record(&u, "sessionsessionss", TokenKind::Session);
    store.insert_token(&session, &[7; 32]).await.unwrap();
    assert_eq!(store.list_tokens(&root.org_id, Some(u.psk)).await.unwrap().len(), 2);
    assert_eq!(store.list_tokens(&child.org_id, None).await.unwrap().len(), 0);
    let before = store.auth_epoch().await.unwrap();
    let local = store.local_changes();
    let at = t("2024-05-03T12:00:00.5Z");
    store
        .record_token_uses(&[TokenUse { token_id: rec.token_id.clone(), at, ip: Some("127.0.0.1".into()) }])
        .await
        .unwrap();
    assert_eq!(store.auth_epoch().await.unwrap(), before);
    assert_eq!(store.local_changes(), local, "nor the count of changes");
    let (used, _) = store.get_token(&rec.token_id).await.unwrap().unwrap();
    assert_eq!((used.last_used_at, used.last_used_ip.as_deref()), (Some(at), Some("127.0.0.1")));
    store.set_token_end("sessionsessionss", Some(t("2024-05-04"))).await.unwrap();
    store.revoke_sessions(u.psk, None, at).await.unwrap();
    assert!(store.get_token("sessionsessionss").await.unwrap().unwrap().0.revoked_at.is_some());
    assert_eq!(store.purge_sessions(t("2024-05-03")).await.unwrap(), 0, "ended and revoked later than the cut");
    assert_eq!(store.purge_sessions(t("2024-05-05")).await.unwrap(), 1, "API tokens are never purged");
    assert!(store.get_token("sessionsessionss").await.unwrap().is_none());
    assert!(store.revoke_token(&rec.token_id, at).await.unwrap());
    assert!(!store.revoke_token(&rec.token_id, at).await.unwrap());
    assert!(!store.revoke_token("unknownunknownu", at).await.unwrap());
    assert!(store.auth_epoch().await.unwrap() > before);

    // Deletion: a user takes its tokens; an org with children refuses unless its descendants go too; a
    // leaf goes with its users.
    assert!(store.delete_user(u.psk).await.unwrap());
    assert!(store.get_token(&rec.token_id).await.unwrap().is_none());
    assert!(matches!(store.delete_org(&root.org_id, false).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.delete_org(&child.org_id, false).await.unwrap(), std::slice::from_ref(&child.org_id));
    assert!(store.get_user(u2.psk).await.unwrap().is_none());
    assert_eq!(store.delete_org(&root.org_id, false).await.unwrap(), std::slice::from_ref(&root.org_id));
    assert!(store.list_orgs().await.unwrap().is_empty());
    assert!(store.delete_org(&root.org_id, true).await.unwrap().is_empty(), "an unknown org deletes nothing");

    datasets(store, &root_again(store).await).await;

    // psk values are never reused.
    let again = org("Again", "AGAIN", None);
    store.insert_org(&again).await.unwrap();
    let u3 = store.insert_user(&user(&again, "x")).await.unwrap();
    assert!(u3.psk > u2.psk);
}

async fn root_again(store: &dyn Store) -> Org {
    let o = org("Data Org", "DATA", None);
    store.insert_org(&o).await.unwrap();
    o
}

/// An item id of these checks: a UUID (as the core makes them, upper-case) that spells `tag` in its last group.
fn uid(tag: &str) -> String {
    let hex: String = tag.bytes().map(|b| format!("{b:02X}")).collect();
    format!("00000000-0000-0000-0000-{hex:0>12}")
}

fn row(id: &str, seq: i64, name: &str, grade: Option<f64>, active: Option<bool>) -> Row {
    Row {
        id: id.into(),
        seq,
        created_at: 1,
        modified_at: 2,
        cells: vec![Some(Val::Text(name.into())), grade.map(Val::Number), active.map(Val::Bool), None],
    }
}

/// The PEOPLE dataset of these checks: `name` (autoId, treeId), `grade`, `active`, `boss` (treeParentId).
fn people(o: &Org) -> Dataset {
    let def = serde_json::json!({"name": "People", "type": "PEOPLE", "autoId": "name", "labelId": "name",
        "treeId": "name", "treeParentId": "boss",
        "properties": [{"key": "name", "type": "text", "isRequired": true}, {"key": "grade", "type": "number"},
            {"key": "active", "type": "boolean"}, {"key": "boss", "type": "text"}]});
    let n = orgd_core::data::schema::parse_new(&def).unwrap();
    Dataset {
        id: DatasetId::generate(),
        org_id: o.org_id.clone(),
        name: n.name,
        ty: n.ty,
        auto_id: n.auto_id,
        label_id: n.label_id,
        tree_id: n.tree_id,
        tree_parent_id: n.tree_parent_id,
        tags: vec!["t".into()],
        properties: n.properties,
        from_dataset: None,
        to_dataset: None,
        cache_key: "k0".into(),
        item_count: 0,
        created_at: 10,
        modified_at: 10,
        grants: Default::default(),
        rows: None,
        view: None,
    }
}

/// The event of an import that gives the dataset cache key `key`.
fn imported(ds: &Dataset, key: &str) -> Event {
    Event::new(&ds.org_id, "dataset", ds.id.as_str(), "items.imported").detail(serde_json::json!({"key": key}))
}

/// The cache keys named by the import events of `o`, oldest first.
async fn imports(store: &dyn Store, o: &Org) -> Vec<String> {
    let q = EventQuery {
        org_id: Some(o.org_id.clone()),
        kind: Some("items.imported".into()),
        limit: 100,
        ..Default::default()
    };
    let mut keys: Vec<String> = store
        .list_events(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.detail["key"].as_str().unwrap().to_string())
        .collect();
    keys.reverse();
    keys
}

async fn datasets(store: &dyn Store, o: &Org) {
    let ds = people(o);
    let local = store.local_changes();
    store.insert_dataset(&ds).await.unwrap();
    assert_eq!(store.get_dataset(&ds.id).await.unwrap(), Some(ds.clone()));
    let dup = Dataset { id: DatasetId::generate(), name: "PEOPLE".into(), ..ds.clone() };
    assert!(matches!(store.insert_dataset(&dup).await, Err(StoreError::Conflict(_))));
    let l = store.local_changes();
    assert_eq!((l.auth, l.data), (local.auth, local.data + 1), "a dataset made is a change of the lists only");
    assert_eq!(store.list_datasets(&o.org_id).await.unwrap().len(), 1);

    // A write that is not committed leaves nothing behind.
    let mut w = store.begin_items(&ds).await.unwrap();
    w.write(vec![row(&uid("A"), 1, "a", None, None)], vec![], vec![]).await.unwrap();
    w.finish(1, "k1", 20, &imported(&ds, "k1")).await.unwrap();
    drop(w);
    assert!(store.item_page(&ds, 0, 10).await.unwrap().is_empty());
    assert_eq!(store.get_dataset(&ds.id).await.unwrap().unwrap().cache_key, "k0");
    assert!(imports(store, o).await.is_empty(), "the event of a write that is not committed goes with it");

    store.index_items(&ds, &[1, 2]).await.unwrap();
    store.index_items(&ds, &[1, 2]).await.expect("asking again is fine");
    // Asking for an index that is there does not wait for a write in progress (PostgreSQL's
    // `CREATE INDEX IF NOT EXISTS` would wait for the writer's lock on the table).
    let mut w = store.begin_items(&ds).await.unwrap();
    w.write(vec![row(&uid("W"), 1, "w", None, None)], vec![], vec![]).await.unwrap();
    w.last_seq().await.unwrap();
    let asked = tokio::time::timeout(std::time::Duration::from_secs(3), store.index_items(&ds, &[1, 2])).await;
    assert!(asked.is_ok(), "an index known to exist is not asked for again while a write holds the table");
    drop(w);
    let mut w = store.begin_items(&ds).await.unwrap();
    assert_eq!(w.last_seq().await.unwrap(), 0);
    let mut rows: Vec<Row> = (1..=5)
        .map(|i| row(&uid(&format!("I{i}")), i, &format!("n{i}"), Some(i as f64 * 1.5), Some(i % 2 == 0)))
        .collect();
    rows[1].cells[3] = Some(Val::Text("n1".into()));
    rows[2].cells[0] = Some(Val::Text("tab\there \\ new\nline é".into()));
    w.write(rows.clone(), vec![], vec![]).await.unwrap();
    assert_eq!(w.last_seq().await.unwrap(), 5, "the import sees its own writes");
    let found = w.find(&ds, Lookup::Ids(&[uid("I2"), uid("I9")])).await.unwrap();
    assert_eq!(found, vec![rows[1].clone()], "all values come back typed");
    let keys = vec![
        vec![Val::Text("n4".into())],
        vec![Val::Text("tab\there \\ new\nline é".into())],
        vec![Val::Text("zz".into())],
    ];
    let mut found = w.find(&ds, Lookup::Values { props: &[0], keys: &keys }).await.unwrap();
    found.sort_by_key(|r| r.seq);
    assert_eq!(found.iter().map(|r| r.seq).collect::<Vec<_>>(), [3, 4]);
    let tuple = vec![vec![Val::Number(6.0), Val::Bool(true)], vec![Val::Number(6.0), Val::Bool(false)]];
    let found = w.find(&ds, Lookup::Values { props: &[1, 2], keys: &tuple }).await.unwrap();
    assert_eq!(found.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [uid("I4")], "a tuple matches every column");
    w.finish(5, "k2", 30, &imported(&ds, "k2")).await.unwrap();
    w.commit().await.unwrap();

    let mut w = store.begin_items(&ds).await.unwrap();
    let mut changed = rows[1].clone();
    changed.cells = vec![Some(Val::Text("changed".into())), None, None, None];
    changed.modified_at = 40;
    w.write(vec![], vec![changed.clone()], vec![3]).await.unwrap();
    w.mark_seen(vec![1, 2]).await.unwrap();
    w.mark_seen(vec![2, 5]).await.unwrap();
    assert_eq!(w.unseen(0, 10).await.unwrap(), vec![(4, uid("I4"))], "deleted items are not listed");
    assert!(w.unseen(4, 10).await.unwrap().is_empty());
    w.finish(-1, "k3", 40, &imported(&ds, "k3")).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(imports(store, o).await, ["k2", "k3"], "each committed write keeps its event");
    let page = store.item_page(&ds, 0, 2).await.unwrap();
    assert_eq!(page.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), [uid("I1"), uid("I2")]);
    assert_eq!(page[1].values, changed.to_item(&ds).values);
    assert_eq!(page[0].values["grade"], 1.5);
    assert_eq!(page[0].values["active"], false);
    let rest = store.item_page(&ds, 2, 10).await.unwrap();
    assert_eq!(rest.iter().map(|i| i.seq).collect::<Vec<_>>(), [4, 5]);
    assert_eq!(store.get_item(&ds, &uid("I4")).await.unwrap().unwrap().values["name"], "n4");
    assert!(store.get_item(&ds, &uid("I3")).await.unwrap().is_none());
    assert!(store.get_item(&ds, "I4").await.unwrap().is_none(), "an id that is no UUID names no item");
    let after = store.get_dataset(&ds.id).await.unwrap().unwrap();
    assert_eq!((after.item_count, after.cache_key.as_str(), after.modified_at), (4, "k3", 40));
    let mut w = store.begin_items(&ds).await.unwrap();
    assert!(w.unseen(0, 10).await.unwrap().len() == 4, "what an earlier import marked is forgotten");
    drop(w);

    // A scan reads one snapshot, every pass alike, whatever commits meanwhile.
    let mut scan = store.scan(&ds, &[3, 0], 2).await.unwrap();
    let mut w = store.begin_items(&ds).await.unwrap();
    w.write(vec![row(&uid("I6"), 6, "n6", None, None)], vec![], vec![]).await.unwrap();
    w.commit().await.unwrap();
    let mut seen = Vec::new();
    while let Some((pass, rows)) = scan.next().await.unwrap() {
        for r in rows {
            seen.push((pass, r.seq, r.cells.clone()));
        }
    }
    assert_eq!(seen.len(), 8, "4 items twice, not the one added meanwhile: {seen:?}");
    assert_eq!(seen[1], (0, 2, vec![None, Some(Val::Text("changed".into()))]), "cells in the order asked for");
    assert_eq!(seen[4].0, 1);
    let links = store.tree_links(&ds).await.unwrap();
    assert_eq!(links, vec![(1, None, false), (2, None, false), (4, None, false), (5, None, false), (6, None, false)]);

    assert!(store.delete_dataset(&ds.id).await.unwrap());
    assert!(store.get_dataset(&ds.id).await.unwrap().is_none());
    store.insert_dataset(&ds).await.unwrap();
    assert!(store.item_page(&ds, 0, 10).await.unwrap().is_empty(), "a dataset made again starts empty");

    // A bulk load into the empty dataset drops its indexes and builds them again; finding still works
    // meanwhile, and a rolled-back bulk load leaves the indexes as they were.
    for commit in [false, true] {
        let mut w = store.begin_items(&ds).await.unwrap();
        assert!(w.begin_bulk().await.unwrap(), "the dataset is empty");
        // New rows of several writes stream in one go (PostgreSQL: one COPY) until something reads.
        for part in [1..=2, 3..=3] {
            w.write(
                part.map(|i| row(&uid(&format!("B{i}")), i, &format!("b{i}"), None, None)).collect(),
                vec![],
                vec![],
            )
            .await
            .unwrap();
        }
        let keys = vec![vec![Val::Text("b2".into())]];
        assert_eq!(w.find(&ds, Lookup::Values { props: &[0], keys: &keys }).await.unwrap().len(), 1);
        assert_eq!(w.find(&ds, Lookup::Ids(&[uid("B3")])).await.unwrap().len(), 1);
        w.end_bulk().await.unwrap();
        w.finish(3, "kb", 50, &imported(&ds, "kb")).await.unwrap();
        if commit {
            w.commit().await.unwrap();
        }
    }
    let mut w = store.begin_items(&ds).await.unwrap();
    assert!(!w.begin_bulk().await.unwrap(), "not on a dataset with items");
    let keys = vec![vec![Val::Text("b1".into())]];
    assert_eq!(w.find(&ds, Lookup::Values { props: &[0], keys: &keys }).await.unwrap().len(), 1);
    drop(w);
    store.index_items(&ds, &[0]).await.expect("the index of the unique key is there again");

    // Outside any write, items are found as a write finds them.
    let keys = vec![vec![Val::Text("b3".into())]];
    let found = store.find_items(&ds, Lookup::Values { props: &[0], keys: &keys }).await.unwrap();
    assert_eq!(found.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), [uid("B3")]);
    assert_eq!(store.find_items(&ds, Lookup::Ids(&[uid("B1"), uid("Z")])).await.unwrap().len(), 1);
    drafts(store, &ds).await;

    // Schema changes: a column dropped with its index and values, and its number given to a later
    // property, which starts empty and gets an index of its own.
    store.index_items(&ds, &[1]).await.unwrap();
    let removed =
        Dataset { properties: ds.properties.iter().filter(|p| p.key != "grade").cloned().collect(), ..ds.clone() };
    let local = store.local_changes();
    assert!(store.evolve_dataset(&ds, &removed).await.unwrap());
    assert_eq!(store.local_changes().data, local.data + 1, "a schema change moves the lists' epoch");
    let mut added = Dataset { cache_key: "ks".into(), modified_at: 60, ..removed.clone() };
    let site = orgd_core::data::Property {
        key: "site".into(),
        name: "Site".into(),
        ty: orgd_core::data::PropertyType::Text,
        required: false,
        read_only: false,
        column: 1,
    };
    added.properties.push(site);
    assert!(store.evolve_dataset(&removed, &added).await.unwrap());
    let got = store.get_dataset(&ds.id).await.unwrap().unwrap();
    assert_eq!((&got.properties, got.cache_key.as_str(), got.modified_at), (&added.properties, "ks", 60));
    let page = store.item_page(&got, 0, 10).await.unwrap();
    assert_eq!(page.len(), 3);
    assert!(page.iter().all(|i| !i.values.contains_key("site") && !i.values.contains_key("grade")), "{page:?}");
    store.index_items(&got, &[3]).await.unwrap();
    let mut w = store.begin_items(&got).await.unwrap();
    let mut lyon = row(&uid("S1"), 4, "s1", None, None);
    lyon.cells = vec![Some(Val::Text("s1".into())), Some(Val::Bool(true)), None, Some(Val::Text("Lyon".into()))];
    w.write(vec![lyon.clone()], vec![], vec![]).await.unwrap();
    w.commit().await.unwrap();
    let keys = vec![vec![Val::Text("Lyon".into())]];
    assert_eq!(store.find_items(&got, Lookup::Values { props: &[3], keys: &keys }).await.unwrap(), vec![lyon]);
    assert!(store.delete_dataset(&ds.id).await.unwrap());
    assert!(store.list_drafts(&o.org_id).await.unwrap().is_empty(), "a dataset's drafts go with it");
}

async fn drafts(store: &dyn Store, ds: &Dataset) {
    let d = Draft {
        id: DraftId::generate(),
        org_id: ds.org_id.clone(),
        dataset_id: ds.id.clone(),
        name: "Reorg".into(),
        created_by: "jane".into(),
        created_at: 10,
        modified_at: 10,
        version: 0,
        added: 0,
        updated: 0,
        removed: 0,
    };
    store.insert_draft(&d).await.unwrap();
    assert_eq!(store.get_draft(&d.id).await.unwrap(), Some(d.clone()));
    assert_eq!(store.list_drafts(&ds.org_id).await.unwrap(), vec![d.clone()]);
    let item = |seq: i64, change: Change, values: Option<&str>| DraftItem {
        seq,
        item_id: uid(&format!("D{seq}")),
        change,
        base_modified_at: (change != Change::Added).then_some(7),
        created_at: 11,
        modified_at: 12,
        values: values.map(String::from),
    };
    let saved = Draft { version: 1, added: 1, removed: 1, modified_at: 12, ..d.clone() };
    let items = vec![item(1, Change::Removed, None), item(1 << 50, Change::Added, Some(r#"{"name":"é\t"}"#))];
    assert!(store.save_draft(&saved, 0, &items, &[]).await.unwrap());
    assert!(!store.save_draft(&saved, 0, &items, &[]).await.unwrap(), "a stale version saves nothing");
    assert_eq!(store.draft_items(&d.id).await.unwrap(), items);
    let next = Draft { version: 2, added: 0, updated: 1, ..saved.clone() };
    let changed = vec![item(1, Change::Updated, Some(r#"{"name":"x"}"#))];
    assert!(store.save_draft(&next, 1, &changed, &[1 << 50]).await.unwrap());
    assert_eq!(store.draft_items(&d.id).await.unwrap(), changed, "replaced by seq, dropped ones gone");
    assert_eq!(store.get_draft(&d.id).await.unwrap(), Some(next));
    assert!(store.clear_draft(&d.id, 77, 20).await.unwrap());
    let cleared = store.get_draft(&d.id).await.unwrap().unwrap();
    assert_eq!((cleared.version, cleared.updated, cleared.modified_at), (77, 0, 20));
    assert!(store.draft_items(&d.id).await.unwrap().is_empty());
    assert!(store.delete_draft(&d.id).await.unwrap());
    assert!(!store.delete_draft(&d.id).await.unwrap());
    assert!(!store.clear_draft(&d.id, 78, 21).await.unwrap());
    store.insert_draft(&d).await.unwrap();
    assert!(store.save_draft(&saved, 0, &items, &[]).await.unwrap());
}

#[tokio::test]
async fn sqlite_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/nested/orgd.db", dir.path().display());
    let store = SqlStore::open(&url).await.unwrap();
    conformance(&store).await;
    store.close().await;
    // Reopening applies no migration twice and keeps the data.
    let store = SqlStore::open(&url).await.unwrap();
    assert_eq!(store.list_orgs().await.unwrap().len(), 2);
}

#[tokio::test]
async fn postgres_store_conforms() {
    let Some(server) = postgres_server("the PostgreSQL store conformance") else { return };
    let url = fresh_postgres_database(&server).await;
    let store = SqlStore::open(&url).await.unwrap();
    conformance(&store).await;
    store.close().await;
    let store = SqlStore::open(&url).await.unwrap();
    assert_eq!(store.list_orgs().await.unwrap().len(), 2);
}

/// A fresh PostgreSQL database (its URL), its store, and the [`people`] dataset in it.
async fn postgres_people(server: &str) -> (String, SqlStore, Dataset) {
    let url = fresh_postgres_database(server).await;
    let store = SqlStore::open(&url).await.unwrap();
    let o = root_again(&store).await;
    let ds = people(&o);
    store.insert_dataset(&ds).await.unwrap();
    (url, store, ds)
}

/// The PostgreSQL table that holds `ds`'s items.
fn item_table(ds: &Dataset) -> String {
    format!("items_{}", ds.id.as_str().replace('-', "").to_lowercase())
}

/// PostgreSQL keeps typed columns: a value its column cannot hold fails the write (SQLite would keep it),
/// nothing of it is kept, and the store's connections go on working.
#[tokio::test]
async fn postgres_refuses_a_value_its_column_cannot_hold_and_stays_usable() {
    let Some(server) = postgres_server("the PostgreSQL store conformance") else { return };
    let (_, store, ds) = postgres_people(&server).await;
    for _ in 0..20 {
        let mut w = store.begin_items(&ds).await.unwrap();
        let mut bad = row(&uid("X"), 1, "x", None, None);
        bad.cells[1] = Some(Val::Text("not a number".into()));
        w.write(vec![bad], vec![], vec![]).await.unwrap();
        assert!(w.last_seq().await.is_err(), "the write fails when the COPY ends");
        drop(w);
        let mut w = store.begin_items(&ds).await.unwrap();
        assert_eq!(w.last_seq().await.unwrap(), 0, "nothing was kept and the connection works");
        drop(w);
    }
    let mut w = store.begin_items(&ds).await.unwrap();
    w.write(vec![row(&uid("A"), 1, "a", Some(2.0), None)], vec![], vec![]).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(store.item_page(&ds, 0, 10).await.unwrap().len(), 1);
    store.close().await;
}

/// The first typed tables of PostgreSQL kept item ids as text; opening such a database makes them `uuid`,
/// every item, id, value and the dataset's cache key kept.
#[tokio::test]
async fn postgres_text_item_ids_of_the_previous_release_become_uuids() {
    use sqlx::{Connection, Executor};
    let Some(server) = postgres_server("the PostgreSQL store conformance") else { return };
    let (url, store, ds) = postgres_people(&server).await;
    let rows: Vec<Row> =
        (1..=3).map(|i| row(&uid(&format!("U{i}")), i, &format!("u{i}"), Some(i as f64), Some(i == 2))).collect();
    let mut w = store.begin_items(&ds).await.unwrap();
    w.write(rows.clone(), vec![], vec![]).await.unwrap();
    w.finish(3, "ku", 60, &imported(&ds, "ku")).await.unwrap();
    w.commit().await.unwrap();
    let before = store.item_page(&ds, 0, 10).await.unwrap();
    store.close().await;

    let table = item_table(&ds);
    let column_type =
        "SELECT data_type::text FROM information_schema.columns WHERE table_name = $1 AND column_name = 'item_id'";
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
    c.execute(format!("ALTER TABLE {table} ALTER COLUMN item_id TYPE text").as_str()).await.unwrap();
    c.execute(format!("UPDATE {table} SET item_id = upper(item_id)").as_str()).await.unwrap();
    let (ty,): (String,) = sqlx::query_as(column_type).bind(&table).fetch_one(&mut c).await.unwrap();
    assert_eq!(ty, "text", "the previous release's layout");

    let store = SqlStore::open(&url).await.unwrap();
    let (ty,): (String,) = sqlx::query_as(column_type).bind(&table).fetch_one(&mut c).await.unwrap();
    assert_eq!(ty, "uuid");
    c.close().await.unwrap();
    assert_eq!(store.item_page(&ds, 0, 10).await.unwrap(), before);
    assert_eq!(before.iter().map(|i| i.id.clone()).collect::<Vec<_>>(), [uid("U1"), uid("U2"), uid("U3")]);
    assert_eq!(store.get_item(&ds, &uid("U2")).await.unwrap().unwrap().values["active"], true);
    assert_eq!(store.get_dataset(&ds.id).await.unwrap().unwrap().cache_key, "ku");
    let mut w = store.begin_items(&ds).await.unwrap();
    assert_eq!(w.find(&ds, Lookup::Ids(&[uid("U3")])).await.unwrap(), vec![rows[2].clone()]);
    drop(w);
    store.close().await;
}

#[tokio::test]
async fn unsupported_urls_are_refused_with_a_hint() {
    let err = SqlStore::open("mysql://x").await.unwrap_err().to_string();
    assert!(err.contains("sqlite://"), "{err}");
}

/// The stand-in's reset: token deletion, and a wipe that empties everything but the server secrets and
/// restarts user numbering.
async fn wiping(store: &dyn Store) {
    let secret = store.secret("presign").await.unwrap();
    let root = org("Acme Ltd", "ACME", None);
    store.insert_org(&root).await.unwrap();
    store.insert_org(&org("Acme EU", "ACME_EU", Some(&root))).await.unwrap();
    let u = store.insert_user(&user(&root, "jane@acme.test")).await.unwrap();
    let e = store.auth_epoch().await.unwrap();
    let local = store.local_changes();
    let mut signed_in = u.clone();
    signed_in.failed_login_count = 0;
    signed_in.locked_until = Some(t("2024-06-01T00:00:00Z"));
    signed_in.last_login_at = Some(t("2024-05-02T08:00:00.5Z"));
    store.record_login(&signed_in).await.unwrap();
    assert_eq!(store.get_user(u.psk).await.unwrap(), Some(signed_in), "sign-in bookkeeping is saved");
    store.insert_token(&token_record(&u, "sessionsessionss", TokenKind::Session), &[1; 32]).await.unwrap();
    assert_eq!(store.auth_epoch().await.unwrap(), e, "sign-ins and their sessions do not flush auth caches");
    assert_eq!(store.local_changes(), local, "in this process either");
    let minted = token::mint();
    store.insert_token(&token_record(&u, &minted.token_id, TokenKind::Api), &minted.hash).await.unwrap();
    let e = store.auth_epoch().await.unwrap();
    assert!(store.delete_token(&minted.token_id).await.unwrap());
    assert!(!store.delete_token(&minted.token_id).await.unwrap());
    assert!(store.get_token(&minted.token_id).await.unwrap().is_none());
    assert!(store.auth_epoch().await.unwrap() > e);
    let data = root_again(store).await;
    datasets(store, &data).await;
    // An org deleted with its descendants takes theirs too: users, tokens, datasets with their items.
    let branch = org("Branch", "BRANCH", Some(&data));
    store.insert_org(&branch).await.unwrap();
    let leaf = org("Leaf", "LEAF", Some(&branch));
    store.insert_org(&leaf).await.unwrap();
    let leaf_user = store.insert_user(&user(&leaf, "leaf@acme.test")).await.unwrap();
    let minted = token::mint();
    store.insert_token(&token_record(&leaf_user, &minted.token_id, TokenKind::Api), &minted.hash).await.unwrap();
    assert!(matches!(store.delete_org(&data.org_id, false).await, Err(StoreError::Conflict(_))));
    let local = store.local_changes();
    let gone = store.delete_org(&data.org_id, true).await.unwrap();
    let l = store.local_changes();
    assert_eq!((l.auth, l.data), (local.auth + 1, local.data + 1), "an org's deletion changes dataset lists too");
    assert_eq!(gone, [leaf.org_id.clone(), branch.org_id.clone(), data.org_id.clone()], "deepest first");
    assert!(store.get_user(leaf_user.psk).await.unwrap().is_none());
    assert!(store.get_token(&minted.token_id).await.unwrap().is_none());
    assert!(store.list_datasets(&data.org_id).await.unwrap().is_empty());
    assert!(store.get_org(&root.org_id).await.unwrap().is_some(), "other orgs stay");
    let (e, local) = (store.auth_epoch().await.unwrap(), store.local_changes());
    store.wipe().await.unwrap();
    assert!(store.auth_epoch().await.unwrap() > e);
    let l = store.local_changes();
    assert!(l.auth > local.auth && l.data > local.data, "a wipe is counted as both");
    assert!(store.list_orgs().await.unwrap().is_empty());
    assert!(store.find_users("jane@acme.test", None).await.unwrap().is_empty());
    assert_eq!(store.secret("presign").await.unwrap(), secret, "server secrets survive a wipe");
    store.insert_org(&root).await.unwrap();
    let first = store.insert_user(&user(&root, "jane@acme.test")).await.unwrap();
    assert_eq!(first.psk, 1, "numbering restarts");
}

#[tokio::test]
async fn sqlite_store_wipes() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open(&format!("sqlite://{}/orgd.db", dir.path().display())).await.unwrap();
    wiping(&store).await;
}

#[tokio::test]
async fn postgres_store_wipes() {
    let Some(server) = postgres_server("the PostgreSQL store conformance") else { return };
    let store = SqlStore::open(&fresh_postgres_database(&server).await).await.unwrap();
    wiping(&store).await;
}

fn job(id: &JobId, org: &Org, ds: &DatasetId, created_at: i64) -> Job {
    Job {
        id: id.clone(),
        org_id: org.org_id.clone(),
        dataset_id: ds.clone(),
        kind: JobKind::Import,
        status: JobStatus::Created,
        created_by: "jane@acme.test".into(),
        created_by_psk: 1,
        trace_id: "Root=1-0-0".into(),
        request: serde_json::json!({"body": {}}),
        result_type: None,
        result_kept: false,
        errors: None,
        error_count: 0,
        created_at,
        modified_at: created_at,
        finished_at: None,
    }
}

/// Jobs are taken once however many workers ask at the same time; a job whose node went silent is queued
/// again (its partial result dropped) up to a limit, then failed; an import job's outcome is kept only
/// with the transaction that applies it, and purged with the job.
async fn job_queue(store: &dyn Store) {
    let root = org("Jobs Ltd", "JOBS", None);
    store.insert_org(&root).await.unwrap();
    let (j1, j2, d1) = (JobId::generate(), JobId::generate(), DatasetId::generate());
    store.insert_job(&job(&j1, &root, &d1, 100)).await.unwrap();
    let (a, b) = tokio::join!(store.claim_job(200, 5), store.claim_job(200, 5));
    let taken: Vec<Job> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(taken.len(), 1, "one of two simultaneous workers takes the job");
    assert_eq!(taken[0].status, JobStatus::Running);
    assert!(store.claim_job(210, 5).await.unwrap().is_none(), "nothing else is queued");

    store.put_chunk(&ChunkOwner::Job(j1.to_string()), 0, b"partial").await.unwrap();
    store.touch_job(&j1, 300).await.unwrap();
    assert_eq!(store.requeue_stale_jobs(300, 400, 3, "[]").await.unwrap(), (0, 0), "a heartbeat at 300 is fresh");
    assert_eq!(store.requeue_stale_jobs(301, 400, 3, "[]").await.unwrap(), (1, 0), "silent since 300: queued again");
    let again = store.get_job(&j1).await.unwrap().unwrap();
    assert_eq!((again.status, again.modified_at), (JobStatus::Created, 400));
    assert!(store.chunks(&ChunkOwner::Job(j1.to_string()), 0, 10).await.unwrap().is_empty(), "partial result dropped");
    for attempt in 2..=3 {
        assert!(store.claim_job(500, 5).await.unwrap().is_some(), "attempt {attempt}");
        let expected = if attempt < 3 { (1, 0) } else { (0, 1) };
        assert_eq!(store.requeue_stale_jobs(600, 600, 3, r#"[{"code":"500001"}]"#).await.unwrap(), expected);
    }
    let q =
        EventQuery { object: Some(j1.to_string()), kind: Some("job.failed".into()), limit: 10, ..Default::default() };
    let failed = store.list_events(&q).await.unwrap();
    assert_eq!(failed.len(), 1, "a job the sweep gives up leaves its job.failed");
    assert_eq!(failed[0].1.actor.id, "orgd");
    store.insert_job(&job(&j2, &root, &d1, 700)).await.unwrap();
    assert_eq!(store.claim_job(700, 5).await.unwrap().map(|j| j.id), Some(j2.clone()));
    store.put_chunk(&ChunkOwner::Job(j2.to_string()), 0, b"partial").await.unwrap();
    assert!(store.release_job(&j2, 710).await.unwrap(), "a node shutting down gives the job back");
    assert!(!store.release_job(&j2, 710).await.unwrap(), "only a running job");
    assert!(store.chunks(&ChunkOwner::Job(j2.to_string()), 0, 10).await.unwrap().is_empty());
    for attempt in 1..=3 {
        assert!(store.claim_job(800, 5).await.unwrap().is_some(), "released attempts do not count: {attempt}");
        store.release_job(&j2, 800).await.unwrap();
    }
    store.claim_job(900, 5).await.unwrap().unwrap();
    assert_eq!(store.requeue_stale_jobs(901, 901, 2, "[]").await.unwrap(), (1, 0), "one attempt counted, not four");
    let failed = store.get_job(&j1).await.unwrap().unwrap();
    assert_eq!((failed.status, failed.error_count, failed.finished_at), (JobStatus::Failed, 1, Some(600)));

    let def = serde_json::json!({"name": "Rows", "type": "PEOPLE", "autoId": "k", "labelId": "k",
        "properties": [{"key": "k", "type": "text", "isRequired": true}]});
    let n = orgd_core::data::schema::parse_new(&def).unwrap();
    let ds = Dataset {
        id: DatasetId::generate(),
        org_id: root.org_id.clone(),
        name: n.name,
        ty: n.ty,
        auto_id: n.auto_id,
        label_id: n.label_id,
        tree_id: None,
        tree_parent_id: None,
        tags: vec![],
        properties: n.properties,
        from_dataset: None,
        to_dataset: None,
        cache_key: "k0".into(),
        item_count: 0,
        created_at: 10,
        modified_at: 10,
        grants: Default::default(),
        rows: None,
        view: None,
    };
    store.insert_dataset(&ds).await.unwrap();
    let mut w = store.begin_items(&ds).await.unwrap();
    w.put_result_chunk(&j1, 0, b"[1]".to_vec()).await.unwrap();
    w.keep_job_outcome(&j1, "[1]").await.unwrap();
    drop(w);
    let owner = ChunkOwner::Job(j1.to_string());
    assert!(store.chunks(&owner, 0, 5).await.unwrap().is_empty(), "a dropped import keeps no result chunk");
    let mut w = store.begin_items(&ds).await.unwrap();
    assert_eq!(w.job_outcome(&j1).await.unwrap(), None, "a rolled-back outcome is not kept");
    w.put_result_chunk(&j1, 0, b"[ke".to_vec()).await.unwrap();
    w.put_result_chunk(&j1, 1, b"pt]".to_vec()).await.unwrap();
    w.keep_job_outcome(&j1, r#"{"chunks":2}"#).await.unwrap();
    w.put_result_chunk(&j1, 1, b"pt!]".to_vec()).await.unwrap();
    w.commit().await.unwrap();
    let mut w = store.begin_items(&ds).await.unwrap();
    assert_eq!(w.job_outcome(&j1).await.unwrap().as_deref(), Some(r#"{"chunks":2}"#));
    drop(w);
    let kept = store.chunks(&owner, 0, 5).await.unwrap();
    assert_eq!(kept, vec![(0, b"[ke".to_vec()), (1, b"pt!]".to_vec())], "every chunk put is kept at the commit");
    store.purge_jobs(601).await.unwrap();
    assert!(store.get_job(&j1).await.unwrap().is_none());
    let mut w = store.begin_items(&ds).await.unwrap();
    assert_eq!(w.job_outcome(&j1).await.unwrap(), None, "purged with its job");
}

#[tokio::test]
async fn sqlite_job_queue_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open(&format!("sqlite://{}/orgd.db", dir.path().display())).await.unwrap();
    job_queue(&store).await;
}

#[tokio::test]
async fn postgres_job_queue_conforms() {
    let Some(server) = postgres_server("the PostgreSQL store conformance") else { return };
    let store = SqlStore::open(&fresh_postgres_database(&server).await).await.unwrap();
    job_queue(&store).await;
}

/// The sequential and index scans PostgreSQL counted on `table`.
async fn scans(c: &mut sqlx::PgConnection, table: &str) -> (i64, i64) {
    sqlx::query("SELECT pg_stat_clear_snapshot()").execute(&mut *c).await.unwrap();
    sqlx::query_as("SELECT seq_scan, coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE relname = $1")
        .bind(table)
        .fetch_one(&mut *c)
        .await
        .unwrap()
}

/// [`scans`] once they moved past `before` and then held for half a second (a closed session's counts
/// arrive as it exits).
async fn settled_scans(c: &mut sqlx::PgConnection, table: &str, before: (i64, i64)) -> (i64, i64) {
    let mut last = scans(c, table).await;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let now = scans(c, table).await;
        if now == last && now != before {
            break;
        }
        last = now;
    }
    last
}

/// A lookup by key values probes the key's index once per key, even on a table that has no statistics yet
/// (right after a load): planned from default estimates, `key = ANY(100 keys)` read every row, and the
/// plan's cost then also had PostgreSQL compile it (JIT) for 100–300 ms per request.
#[tokio::test]
async fn postgres_key_lookups_use_the_index_before_statistics_exist() {
    use sqlx::Connection;
    let Some(server) = postgres_server("the PostgreSQL store conformance") else { return };
    let (url, store, ds) = postgres_people(&server).await;
    store.index_items(&ds, &[0]).await.unwrap();
    let table = item_table(&ds);
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
    // Nothing gathers statistics meanwhile.
    sqlx::query(&format!("ALTER TABLE {table} SET (autovacuum_enabled = false)")).execute(&mut c).await.unwrap();
    let rows: Vec<Row> = (1..=20_000)
        .map(|i| row(&format!("00000000-0000-0000-0000-{i:012}"), i, &format!("p{i}"), None, None))
        .collect();
    let mut w = store.begin_items(&ds).await.unwrap();
    w.write(rows, vec![], vec![]).await.unwrap();
    w.commit().await.unwrap();
    let (analyzed,): (Option<i64>,) = sqlx::query_as(
        "SELECT extract(epoch FROM coalesce(last_analyze, last_autoanalyze))::bigint FROM pg_stat_user_tables \
         WHERE relname = $1",
    )
    .bind(&table)
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(analyzed, None, "the table has no statistics");
    // A session's counts reach the shared counters when it ends at the latest: the store's sessions end
    // before each reading.
    store.close().await;
    let before = settled_scans(&mut c, &table, (0, 0)).await;
    let store = SqlStore::open(&url).await.unwrap();
    let keys: Vec<Vec<Val>> = (1..=100).map(|i| vec![Val::Text(format!("p{}", i * 197))]).collect();
    let mut w = store.begin_items(&ds).await.unwrap();
    let found = w.find(&ds, Lookup::Values { props: &[0], keys: &keys }).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(found.len(), 100);
    store.close().await;
    let after = settled_scans(&mut c, &table, before).await;
    assert!(after.1 > before.1, "the lookup used an index ({before:?} → {after:?})");
    assert_eq!(after.0, before.0, "the lookup read no table from end to end ({before:?} → {after:?})");
    c.close().await.unwrap();
}

fn subscription(o: &Org, kinds: &[&str], include_descendants: bool) -> Subscription {
    Subscription {
        id: WebhookId::generate(),
        org_id: o.org_id.clone(),
        url: "https://hooks.example.com/orgd".into(),
        kinds: kinds.iter().map(|k| k.to_string()).collect(),
        include_descendants,
        description: "ci".into(),
        created_at: 1,
        created_by: "admin".into(),
        consecutive_failures: 0,
        last_attempt_at: None,
    }
}

/// What `claim_deliveries` gives at `now`: (webhook, kind, object) in order.
async fn claim(store: &dyn Store, now: i64) -> Vec<(WebhookId, String, String, i64)> {
    let due = store.claim_deliveries(now, now + 60_000, 100).await.unwrap();
    due.into_iter()
        .map(|d| {
            let e = d.event.expect("the event is kept and reads");
            assert_eq!(e.kind, d.delivery.kind);
            (d.delivery.webhook_id, d.delivery.kind, d.delivery.object_id, d.delivery.id)
        })
        .collect()
}

async fn webhook_outbox(store: &dyn Store) {
    let root = org("Hooks Ltd", "HOOKS", None);
    let child = org("Hooks EU", "HOOKS_EU", Some(&root));
    store.insert_org(&root).await.unwrap();
    store.insert_org(&child).await.unwrap();
    let users_below = subscription(&root, &["user.*"], true);
    let orgs_here = subscription(&root, &["org.updated"], false);
    let users_here = subscription(&root, &["user.created", "user.*"], false);
    let everything = subscription(&child, &["*"], false);
    for s in [&users_below, &orgs_here, &users_here, &everything] {
        store.insert_webhook(s).await.unwrap();
    }
    assert_eq!(store.get_webhook(&users_here.id).await.unwrap().as_ref(), Some(&users_here));
    assert_eq!(store.list_webhooks(Some(&root.org_id)).await.unwrap().len(), 3);
    assert_eq!(store.list_webhooks(None).await.unwrap().len(), 4);

    // A user of the child and two changes of it: the child's own subscription and the root's one that
    // includes descendants queue each (once, though two patterns match); the others nothing.
    let mut u = store.insert_user(&user(&child, "hooked")).await.unwrap();
    for name in ["Janet", "Jan"] {
        u.first_name = name.into();
        store.update_user(&u).await.unwrap();
    }
    let now = i64::MAX / 4;
    let first = claim(store, now).await;
    let mut kinds: Vec<(&str, &WebhookId)> = first.iter().map(|(w, k, _, _)| (k.as_str(), w)).collect();
    kinds.sort();
    let mut want =
        vec![("webhook.created", &everything.id), ("user.created", &users_below.id), ("user.created", &everything.id)];
    want.sort();
    assert_eq!(kinds, want, "one object's deliveries go one at a time, in order");
    assert!(first.windows(2).all(|w| w[0].3 < w[1].3), "oldest first");
    let find = |w: &WebhookId, k: &str| first.iter().find(|(x, y, _, _)| x == w && y == k).unwrap().3;
    let (below_1, every_user_1, every_hook) = (
        find(&users_below.id, "user.created"),
        find(&everything.id, "user.created"),
        find(&everything.id, "webhook.created"),
    );
    assert!(claim(store, now).await.is_empty(), "what a node took is not taken again while its claim runs");
    assert_eq!(claim(store, now + 60_000).await.len(), 3, "an expired claim is taken again");

    // Delivered: the next of the same object comes up. Failed with a retry: it waits for it.
    let ok = Attempt { at: 10, status: Some(204), error: None, retry_at: None };
    store.finish_deliveries(&[(below_1, ok.clone()), (every_hook, ok)]).await.unwrap();
    let retry =
        Attempt { at: 11, status: Some(500), error: Some("answered 500".into()), retry_at: Some(now + 10_000_000) };
    store.finish_deliveries(&[(every_user_1, retry)]).await.unwrap();
    let next = claim(store, now + 120_000).await;
    assert_eq!(next.iter().map(|(_, k, _, _)| k.as_str()).collect::<Vec<_>>(), vec!["user.updated"]);
    assert_eq!(next[0].0, users_below.id);
    let failing = store.get_webhook(&everything.id).await.unwrap().unwrap();
    assert_eq!((failing.consecutive_failures, failing.status()), (1, "failing"));
    let d = store.get_delivery(&everything.id, every_user_1).await.unwrap().unwrap();
    assert_eq!(
        (d.state, d.attempts, d.last_status, d.next_at),
        (DeliveryState::Pending, 1, Some(500), now + 10_000_000)
    );
    assert_eq!(d.last_error.as_deref(), Some("answered 500"));

    // Given up: the next one of that object goes on.
    let give_up = Attempt { at: 12, status: None, error: Some("timed out".into()), retry_at: None };
    store.finish_deliveries(&[(every_user_1, give_up)]).await.unwrap();
    let still = store.get_webhook(&everything.id).await.unwrap().unwrap();
    assert_eq!((still.consecutive_failures, still.last_attempt_at), (2, Some(12)), "failures add up across batches");
    let after = claim(store, now + 180_000).await;
    assert!(after.iter().any(|(w, k, _, _)| w == &everything.id && k == "user.updated"), "{after:?}");
    let failed = store.list_deliveries(&everything.id, Some(DeliveryState::Failed), None, 10).await.unwrap();
    assert_eq!(failed.iter().map(|d| d.id).collect::<Vec<_>>(), vec![every_user_1]);
    let all = store.list_deliveries(&everything.id, None, None, 10).await.unwrap();
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let older = store.list_deliveries(&everything.id, None, Some(all[0].id), 10).await.unwrap();
    assert_eq!(older.len(), all.len() - 1);

    // Redelivered: pending again, now.
    assert!(store.redeliver(&everything.id, every_user_1, 99).await.unwrap());
    assert!(!store.redeliver(&users_here.id, every_user_1, 99).await.unwrap(), "not a delivery of that webhook");
    let again = store.get_delivery(&everything.id, every_user_1).await.unwrap().unwrap();
    assert_eq!((again.state, again.next_at, again.attempts), (DeliveryState::Pending, 99, 2));

    // Unsubscribed: its deliveries go, and so does it, with an event.
    assert!(store.delete_webhook(&everything.id).await.unwrap());
    assert!(!store.delete_webhook(&everything.id).await.unwrap());
    assert!(store.list_deliveries(&everything.id, None, None, 10).await.unwrap().is_empty());
    let q = EventQuery {
        org_id: Some(child.org_id.clone()),
        kind: Some("webhook".into()),
        limit: 10,
        ..Default::default()
    };
    let kinds: Vec<String> = store.list_events(&q).await.unwrap().into_iter().map(|(_, e)| e.kind).collect();
    assert_eq!(kinds, vec!["webhook.deleted", "webhook.redelivered", "webhook.created"]);

    // An org deleted takes its subscriptions.
    store.delete_org(&root.org_id, true).await.unwrap();
    assert!(store.list_webhooks(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn sqlite_webhook_outbox_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open(&format!("sqlite://{}/orgd.db", dir.path().display())).await.unwrap();
    webhook_outbox(&store).await;
}

#[tokio::test]
async fn postgres_webhook_outbox_conforms() {
    let Some(server) = postgres_server("the PostgreSQL store conformance") else { return };
    let store = SqlStore::open(&fresh_postgres_database(&server).await).await.unwrap();
    webhook_outbox(&store).await;
}
