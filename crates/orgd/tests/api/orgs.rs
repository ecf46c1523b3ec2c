//! The organization tree, the organization object and its settings, child orgs.

use crate::helpers::{apperian_error, TestApp};
use orgd_core::cases::tokens::NewToken;
use orgd_core::model::Role;
use orgd_core::store::Store;
use reqwest::Method;
use serde_json::{json, Value};

const SEED_KEYS: &[&str] = &[
    "id",
    "parent_id",
    "admin_branded",
    "app_installation_path",
    "apple_push_cert",
    "auth_type",
    "banner_image_enabled",
    "email_from_address",
    "email_from_name",
    "email_reply_to_address",
    "invite_subject_for_affiliated",
    "invite_subject_for_user",
    "invite_template_for_affiliated",
    "invite_template_for_user",
    "javascript_protection_policy_enabled",
    "kryptowire_settings",
    "name",
    "no_auth_app_delivery_enabled",
    "no_auth_policies_enabled",
    "policies_frequency_evaluation_in_hours",
    "remember_me_timeout_in_minutes",
    "reviews_default_value",
    "session_timeout_in_minutes",
    "support_email",
    "vanity_subdomain",
    "winphone_cert",
    "cors_domain_whitelist",
    "auth_settings",
    "password_complexity",
    "user_custom_metadata_template",
    "application_custom_metadata_template",
];

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn the_tree_follows_the_seed_shape_and_visibility() {
    let app = TestApp::spawn().await;
    let root = app.org("ROOT", None).await;
    let west = app.org("WEST", Some(&root)).await;
    let _east = app.org("EAST", Some(&root)).await;
    let north = app.org("NORTH", Some(&west)).await;
    let root_admin = app.user(&root, "boss", Role::Administrator).await;
    let west_admin = app.user(&west, "lead", Role::Administrator).await;
    let west_user = app.user(&west, "worker", Role::User).await;
    let t_root = app.token(&root_admin, NewToken::default()).await;
    let t_west = app.token(&west_admin, NewToken::default()).await;
    let t_user = app.token(&west_user, NewToken::default()).await;

    let r = app.call(Method::GET, "/v1/organizations/", &t_root, None).await;
    let text = r.text().await.unwrap();
    let tree: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(keys(&tree), ["parent_id", "name", "id", "sub_orgs"]);
    assert_eq!(keys(&tree["sub_orgs"][0]), ["sub_orgs", "parent_id", "name", "id"]);
    let names: Vec<&str> = tree["sub_orgs"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["EAST org", "WEST org"]);

    // A child administrator sees its parent as the root, holding only its own subtree.
    let tree: Value = app.call(Method::GET, "/v1/organizations", &t_west, None).await.json().await.unwrap();
    assert_eq!(tree["id"], root.org_id.as_str());
    assert_eq!(tree["sub_orgs"].as_array().unwrap().len(), 1);
    assert_eq!(tree["sub_orgs"][0]["id"], west.org_id.as_str());
    assert_eq!(tree["sub_orgs"][0]["sub_orgs"][0]["id"], north.org_id.as_str());
    assert_eq!(tree["sub_orgs"][0]["sub_orgs"][0]["sub_orgs"], json!([]));
    // Other roles see their org alone, with its real parent.
    let tree: Value = app.call(Method::GET, "/v1/organizations", &t_user, None).await.json().await.unwrap();
    assert_eq!(
        tree,
        json!({"parent_id": root.org_id.as_str(), "name": "WEST org", "id": west.org_id.as_str(), "sub_orgs": []})
    );
    // Listing the parent grants no access to it.
    let (s, c, _) =
        apperian_error(app.call(Method::GET, &format!("/v3/organizations/{}", root.org_id), &t_west, None).await).await;
    assert_eq!((s, c), (404, 40401));
}

#[tokio::test]
async fn the_organization_object_has_every_seed_key_for_admins_and_fewer_for_others() {
    let app = TestApp::spawn().await;
    let (org, _admin, token) = app.tenant_with_admin("ACME").await;
    let reader = app.user(&org, "reader", Role::User).await;
    let t_reader = app.token(&reader, NewToken::default()).await;
    let path = format!("/v3/organizations/{}", org.org_id);
    let full: Value = app.call(Method::GET, &path, &token, None).await.json().await.unwrap();
    let got = keys(&full["organization"]);
    assert_eq!(&got[..SEED_KEYS.len()], SEED_KEYS, "seed keys in the seed's order");
    assert_eq!(full["organization"]["password_complexity"]["password_complexity_for_admins"]["min_length"], 5);
    let reduced: Value = app.call(Method::GET, &path, &t_reader, None).await.json().await.unwrap();
    assert_eq!(
        keys(&reduced["organization"]),
        [
            "id",
            "parent_id",
            "name",
            "remember_me_timeout_in_minutes",
            "session_timeout_in_minutes",
            "support_email",
            "password_complexity",
            "user_custom_metadata_template",
            "tenant_id"
        ]
    );
    assert_eq!(keys(&reduced["organization"]["password_complexity"]), ["password_complexity_for_users"]);
}

#[tokio::test]
async fn updates_change_editable_fields_and_warn_about_the_rest() {
    let app = TestApp::spawn().await;
    let (org, _admin, token) = app.tenant_with_admin("ACME").await;
    let path = format!("/v3/organizations/{}", org.org_id);
    let r: Value = app
        .call(Method::PUT, &path, &token, Some(json!({"support_email": "support@my_company.com"})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["warnings"], json!([]));
    assert_eq!(r["organization"]["support_email"], "support@my_company.com");
    let r: Value = app
        .call(
            Method::PUT,
            &path,
            &token,
            Some(json!({"support_email": "help@acme.test", "name": "Other name", "colour": "red", "auth_type": 0})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        r["warnings"],
        json!([{"field": "name", "message": "name is not editable; the value was ignored"},
               {"field": "colour", "message": "unknown field; ignored"}])
    );
    // Submitting the whole object from GET is fine.
    let whole: Value = app.call(Method::GET, &path, &token, None).await.json().await.unwrap();
    let r = app.call(Method::PUT, &path, &token, Some(whole["organization"].clone())).await;
    assert_eq!(r.json::<Value>().await.unwrap()["warnings"], json!([]));
    // The seed's full template example is accepted.
    let template = json!({"cities_users": {"default": "1", "label": "Cities:", "type": "select",
        "options": [{"label": "Boston", "value": "0"}, {"label": "London", "value": "2"}, {"label": "Valladolid", "value": "1"}]},
        "restaurants": {"default": "0,2", "label": "Restaurants:", "type": "multiselect",
        "options": [{"label": "A", "value": "0"}, {"label": "B", "value": "1"}, {"label": "C", "value": "2"}]},
        "enabled": {"default": true, "label": "Enabled by default? ", "type": "checkbox"}});
    let r = app
        .call(
            Method::PUT,
            &path,
            &token,
            Some(json!({"user_custom_metadata_template": template, "cors_domain_whitelist": ["http://arxan.com"]})),
        )
        .await;
    assert_eq!(r.status(), 200);
    // The same update is visible from the Orgvue side too (one core).
    let o = orgd_core::cases::orgs::load(app.store.as_ref(), "ACME").await.unwrap();
    assert_eq!(o.settings["cors_domain_whitelist"], json!(["http://arxan.com"]));
}

#[tokio::test]
async fn every_bad_value_is_refused_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let (org, _admin, token) = app.tenant_with_admin("ACME").await;
    let path = format!("/v3/organizations/{}", org.org_id);
    let before: Value = app.call(Method::GET, &path, &token, None).await.json().await.unwrap();
    let wrong_types = [
        ("support_email", json!(5)),
        ("email_from_name", json!(false)),
        ("email_from_address", json!([])),
        ("email_reply_to_address", json!({})),
        ("invite_template_for_user", json!(1)),
        ("invite_subject_for_user", json!(null)),
        ("invite_template_for_affiliated", json!(true)),
        ("invite_subject_for_affiliated", json!(2.5)),
        ("session_timeout_in_minutes", json!("10")),
        ("remember_me_timeout_in_minutes", json!(1.5)),
        ("no_auth_app_delivery_enabled", json!("true")),
        ("password_complexity", json!([])),
        ("application_custom_metadata_template", json!("x")),
        ("user_custom_metadata_template", json!(3)),
        ("banner_image_enabled", json!(1)),
        ("no_auth_policies_enabled", json!(null)),
        ("cors_domain_whitelist", json!("http://a.b")),
        ("reviews_default_value", json!("no")),
        ("kryptowire_settings", json!(7)),
        ("admin_branded", json!("x")),
        ("notify_on_device_registration", json!(0)),
        ("policies_frequency_evaluation_in_hours", json!("1")),
        ("catalog_affiliated_org_access_enabled", json!([])),
    ];
    let bad_values = [
        ("session_timeout_in_minutes", json!(0)),
        ("session_timeout_in_minutes", json!(-5)),
        ("remember_me_timeout_in_minutes", json!(525_601)),
        ("session_timeout_in_minutes", json!(99_999_999_999i64)),
        ("support_email", json!("not-an-email")),
        ("email_from_address", json!("a@b")),
        ("cors_domain_whitelist", json!(["https://*.acme.test"])),
        ("cors_domain_whitelist", json!(["https://acme.test/app"])),
        (
            "user_custom_metadata_template",
            json!({"c": {"type": "select", "label": "C", "default": "9", "options": [{"label": "x", "value": "1"}]}}),
        ),
        ("user_custom_metadata_template", json!({"c": {"type": "colour", "label": "C"}})),
        ("password_complexity", json!({"password_complexity_for_users": {"min_length": -1}})),
    ];
    for (field, value) in wrong_types.iter().chain(bad_values.iter()) {
        let r = app.call(Method::PUT, &path, &token, Some(json!({ *field: value.clone() }))).await;
        let (s, c, b) = apperian_error(r).await;
        assert_eq!((s, c), (400, 400802), "{field} = {value}");
        let named =
            b["error"]["details"].as_array().unwrap().iter().any(|d| d["field"].as_str().unwrap().starts_with(field));
        assert!(named, "{field} = {value}: {b}");
    }
    // Several faults at once are all named, and a valid key beside them does not apply.
    let r = app
        .call(
            Method::PUT,
            &path,
            &token,
            Some(json!({"support_email": "x", "session_timeout_in_minutes": 0, "admin_branded": true})),
        )
        .await;
    let (_, _, b) = apperian_error(r).await;
    assert_eq!(b["error"]["details"].as_array().unwrap().len(), 2);
    let r = app
        .request(Method::PUT, &path)
        .header("X-TOKEN", &token)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(apperian_error(r).await.1, 400801);
    let after: Value = app.call(Method::GET, &path, &token, None).await.json().await.unwrap();
    assert_eq!(before, after, "nothing changed");
}

#[tokio::test]
async fn who_may_update_an_org() {
    let app = TestApp::spawn().await;
    let (parent, _padmin, t_parent) = app.tenant_with_admin("PARENT").await;
    let child = app.org("CHILD", Some(&parent)).await;
    let child_admin = app.user(&child, "lead", Role::Administrator).await;
    let child_user = app.user(&child, "worker", Role::User).await;
    let t_child = app.token(&child_admin, NewToken::default()).await;
    let t_user = app.token(&child_user, NewToken::default()).await;
    let body = json!({"support_email": "x@y.zz"});
    let r = app.call(Method::PUT, &format!("/v3/organizations/{}", child.org_id), &t_parent, Some(body.clone())).await;
    assert_eq!(r.status(), 200, "an ancestor's administrator may");
    let (s, c, _) = apperian_error(
        app.call(Method::PUT, &format!("/v3/organizations/{}", parent.org_id), &t_child, Some(body.clone())).await,
    )
    .await;
    assert_eq!((s, c), (404, 40401), "a child administrator may not touch its parent");
    let (s, c, _) = apperian_error(
        app.call(Method::PUT, &format!("/v3/organizations/{}", child.org_id), &t_user, Some(body.clone())).await,
    )
    .await;
    assert_eq!((s, c), (403, 40331), "a non-admin may not");
    let (s, c, _) =
        apperian_error(app.call(Method::GET, "/v3/organizations/not-an-org-id", &t_parent, None).await).await;
    assert_eq!((s, c), (404, 40401));
}

fn p12_like(len: usize) -> Vec<u8> {
    let mut v = vec![0x30, 0x84];
    v.extend((len as u32).to_be_bytes());
    v.extend(vec![0x05; len]);
    v
}

#[tokio::test]
async fn push_certificates_upload_and_removal_by_multipart() {
    let app = TestApp::spawn().await;
    let (org, _admin, token) = app.tenant_with_admin("ACME").await;
    let path = format!("{}/v3/organizations/{}", app.url, org.org_id);
    let form = reqwest::multipart::Form::new()
        .part("push_cert_file", reqwest::multipart::Part::bytes(p12_like(100)).file_name("MyPushCert.p12"))
        .text("data", r#"{"support_email": "support@my_company.com"}"#);
    let r = app.client.put(&path).header("X-TOKEN", &token).multipart(form).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["organization"]["apple_push_cert"], true);
    assert_eq!(body["organization"]["support_email"], "support@my_company.com");
    assert!(!body.to_string().contains("BQUF"), "certificate bytes never leave the server");

    let bad = reqwest::multipart::Form::new()
        .part("push_cert_file", reqwest::multipart::Part::bytes(b"-----BEGIN CERT".to_vec()));
    let (s, c, b) =
        apperian_error(app.client.put(&path).header("X-TOKEN", &token).multipart(bad).send().await.unwrap()).await;
    assert_eq!((s, c), (400, 400802));
    assert_eq!(b["error"]["details"][0]["field"], "push_cert_file");
    let big = reqwest::multipart::Form::new()
        .part("push_cert_file", reqwest::multipart::Part::bytes(p12_like(1024 * 1024 + 10)));
    let (s, c, _) =
        apperian_error(app.client.put(&path).header("X-TOKEN", &token).multipart(big).send().await.unwrap()).await;
    assert_eq!((s, c), (413, 413001));
    let empty = reqwest::multipart::Form::new().text("other", "x");
    let (s, c, b) =
        apperian_error(app.client.put(&path).header("X-TOKEN", &token).multipart(empty).send().await.unwrap()).await;
    assert_eq!((s, c), (400, 400802));
    assert_eq!(b["error"]["details"][0]["field"], "data");

    let still: Value =
        app.call(Method::GET, &format!("/v3/organizations/{}", org.org_id), &token, None).await.json().await.unwrap();
    assert_eq!(still["organization"]["apple_push_cert"], true, "refused uploads change nothing");
    assert_eq!(still["organization"]["support_email"], "support@my_company.com");
    let remove = reqwest::multipart::Form::new().text("data", r#"{"apple_push_cert": false}"#);
    let r: Value =
        app.client.put(&path).header("X-TOKEN", &token).multipart(remove).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["organization"]["apple_push_cert"], false);
}

#[tokio::test]
async fn administrators_create_child_orgs_reachable_from_both_dialects() {
    let app = TestApp::spawn().await;
    let (_org, _admin, token) = app.tenant_with_admin("ACME").await;
    let body = json!({"name": "Acme Nordics", "admin": {"user_id": "nora@acme.test", "email": "nora@acme.test",
        "first_name": "Nora", "last_name": "Berg", "password": "Nordic-pass-1"}});
    let r = app.call(Method::POST, "/v1/organizations/", &token, Some(body.clone())).await;
    assert_eq!(r.status(), 200);
    let created: Value = r.json().await.unwrap();
    let child_id = created["organization"]["id"].as_str().unwrap().to_string();
    assert_eq!(created["organization"]["tenant_id"], "ACME_NORDICS");
    assert_eq!(created["admin"]["role"], "administrator");
    assert_eq!(created["admin"]["token_access"], false);
    // The parent administrator reaches it through the prefix and on the Orgvue side.
    let users: Value =
        app.call(Method::GET, &format!("/v1/org/{child_id}/users"), &token, None).await.json().await.unwrap();
    assert_eq!(users["users"][0]["user_id"], "nora@acme.test");
    let info: Value =
        app.call(Method::GET, &format!("/v2/org/{child_id}/users/info"), &token, None).await.json().await.unwrap();
    assert_eq!(info["user"]["user_id"], "admin@acme", "routes about the caller still act on the caller");
    let (s, c, _) = apperian_error(
        app.call(Method::GET, &format!("/v3/org/{child_id}/organizations/{child_id}"), &token, None).await,
    )
    .await;
    assert_eq!((s, c), (404, 404000), "no prefix on /v3");
    assert_eq!(app.get_bearer("/api/v1/ACME_NORDICS/datasets", &token).await.status(), 200);
    // The new administrator signs in.
    assert_eq!(app.login("nora@acme.test", "Nordic-pass-1", json!({})).await.status(), 200);
    // Same name again: 409; missing admin: 400 naming it.
    let (s, c, _) = apperian_error(app.call(Method::POST, "/v1/organizations", &token, Some(body)).await).await;
    assert_eq!((s, c), (409, 409001));
    let (s, c, b) =
        apperian_error(app.call(Method::POST, "/v1/organizations", &token, Some(json!({"name": "X"}))).await).await;
    assert_eq!((s, c), (400, 400802));
    assert_eq!(b["error"]["details"][0]["field"], "admin");
    // A bad admin password leaves no org behind.
    let weak = json!({"name": "Weak", "admin": {"user_id": "w@acme.test", "email": "w@acme.test", "password": "a b"}});
    let (s, _, b) = apperian_error(app.call(Method::POST, "/v1/organizations", &token, Some(weak)).await).await;
    assert_eq!(s, 400);
    assert!(b["error"]["details"][0]["field"].as_str().unwrap().starts_with("admin."));
    assert!(orgd_core::cases::orgs::load(app.store.as_ref(), "WEAK").await.is_err());
}

/// The Apperian scripts delete affiliated orgs with `DELETE /organizations/{org_id}`: an administrator of
/// an org above deletes it with everything in it; its own org and orgs it may not act in are refused.
#[tokio::test]
async fn administrators_delete_affiliated_orgs_with_everything_in_them() {
    let app = TestApp::spawn().await;
    let (acme, _admin, token) = app.tenant_with_admin("ACME").await;
    let eu = app.org("ACME_EU", Some(&acme)).await;
    let paris = app.org("ACME_PARIS", Some(&eu)).await;
    let eu_admin = app.user(&eu, "eu@acme.test", Role::Administrator).await;
    let eu_token = app.token(&eu_admin, NewToken::default()).await;
    let paris_user = app.user(&paris, "p@acme.test", Role::User).await;
    let paris_token = app.token(&paris_user, NewToken::default()).await;
    let ds = json!({"name": "Teams", "type": "LOOKUP", "autoId": "k", "labelId": "k",
        "properties": [{"key": "k", "type": "text", "isRequired": true}]});
    let r = app.request(Method::POST, "/api/v1/ACME_PARIS/datasets").bearer_auth(&token).json(&ds).send().await;
    assert_eq!(r.unwrap().status(), 201);
    let (other, _, other_token) = app.tenant_with_admin("OTHER").await;

    // Its own org, another tenant's org, and an org above are refused; an org with orgs below needs cascade.
    let (s, c, _) =
        apperian_error(app.call(Method::DELETE, &format!("/v1/organizations/{}", eu.org_id), &eu_token, None).await)
            .await;
    assert_eq!((s, c), (409, 409001), "an org never deletes itself");
    let (s, _, _) =
        apperian_error(app.call(Method::DELETE, &format!("/organizations/{}", acme.org_id), &eu_token, None).await)
            .await;
    assert_eq!(s, 404, "an org above is out of reach");
    let (s, _, _) =
        apperian_error(app.call(Method::DELETE, &format!("/organizations/{}", eu.org_id), &other_token, None).await)
            .await;
    assert_eq!(s, 404, "another tenant's org does not exist for it");
    let (s, c, b) =
        apperian_error(app.call(Method::DELETE, &format!("/organizations/{}", eu.org_id), &token, None).await).await;
    assert_eq!((s, c), (409, 409001));
    assert!(b["error"]["message"].as_str().unwrap().contains("cascade=true"), "{b}");
    let (s, c, _) = apperian_error(
        app.call(Method::DELETE, &format!("/organizations/{}?cascade=yes", eu.org_id), &token, None).await,
    )
    .await;
    assert_eq!((s, c), (400, 400701));
    assert_eq!(app.get_bearer("/api/v1/ACME_PARIS/datasets", &paris_token).await.status(), 200, "nothing changed");

    let r = app.call(Method::DELETE, &format!("/organizations/{}?cascade=true", eu.org_id), &token, None).await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["deleted_organization"], true);
    assert_eq!(b["deleted_org_ids"], json!([paris.org_id.as_str(), eu.org_id.as_str()]), "deepest first");
    // Gone at once, with their users, tokens and datasets; the org above and other tenants stay.
    assert_eq!(app.get_bearer("/api/v1/ACME/datasets", &paris_token).await.status(), 401);
    assert_eq!(app.get_bearer("/api/v1/ACME/datasets", &eu_token).await.status(), 401);
    assert_eq!(app.get_bearer("/api/v1/ACME_PARIS/datasets", &token).await.status(), 404);
    assert!(app.store.list_datasets(&paris.org_id).await.unwrap().is_empty());
    assert!(app.store.find_users("p@acme.test", None).await.unwrap().is_empty());
    let tree: Value = app.call(Method::GET, "/v1/organizations/", &token, None).await.json().await.unwrap();
    assert_eq!(tree["sub_orgs"], json!([]), "{tree}");
    assert_eq!(app.get_bearer("/api/v1/OTHER/datasets", &other_token).await.status(), 200);
    let _ = other;
    // A leaf goes without cascade, through /v1 and /v3 too.
    for (i, path) in ["/v1/organizations", "/v3/organizations"].into_iter().enumerate() {
        let leaf = app.org(&format!("LEAF{i}"), Some(&acme)).await;
        let r = app.call(Method::DELETE, &format!("{path}/{}", leaf.org_id), &token, None).await;
        assert_eq!(r.json::<Value>().await.unwrap()["deleted_org_ids"], json!([leaf.org_id.as_str()]), "{path}");
    }
    // Unmatched paths under /organizations answer in the Apperian envelope.
    let (s, c, _) = apperian_error(app.call(Method::GET, "/organizations/x/y", &token, None).await).await;
    assert_eq!((s, c), (404, 404000));
}

#[tokio::test]
async fn the_cors_whitelist_decides_which_origins_get_headers() {
    let app = TestApp::spawn().await;
    let (org, _admin, token) = app.tenant_with_admin("ACME").await;
    let (_other, _, other_token) = app.tenant_with_admin("OTHER").await;
    let path = format!("/v3/organizations/{}", org.org_id);
    let body = json!({"cors_domain_whitelist": ["https://app.acme.test", "http://localhost:3000"]});
    assert_eq!(app.call(Method::PUT, &path, &token, Some(body)).await.status(), 200);
    let preflight = |origin: &'static str, p: String| {
        app.request(Method::OPTIONS, &p)
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "PUT")
            .header("Access-Control-Request-Headers", "X-TOKEN, Content-Type")
            .send()
    };
    let r = preflight("https://app.acme.test", path.clone()).await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["access-control-allow-origin"], "https://app.acme.test");
    assert_eq!(r.headers()["access-control-allow-methods"], "GET, POST, PUT, DELETE, OPTIONS");
    assert_eq!(r.headers()["access-control-max-age"], "600");
    let r = preflight("https://evil.test", path.clone()).await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // Actual requests: the org the path names decides; else the caller's home org.
    let r = app
        .request(Method::GET, &path)
        .header("X-TOKEN", &token)
        .header("Origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "http://localhost:3000");
    assert!(r.headers()["access-control-expose-headers"].to_str().unwrap().contains("X-Amzn-Trace-Id"));
    let r = app
        .request(Method::GET, "/v1/tokens")
        .header("X-TOKEN", &token)
        .header("Origin", "https://APP.acme.test:443")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "https://APP.acme.test:443");
    let r = app
        .request(Method::GET, "/v1/tokens")
        .header("X-TOKEN", &other_token)
        .header("Origin", "https://app.acme.test")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none(), "another org's whitelist does not apply");
}
