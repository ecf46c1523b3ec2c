//! Users of an org through the Apperian dialect.

use crate::helpers::{apperian_error, TestApp};
use orgd_core::cases::tokens::NewToken;
use orgd_core::model::Role;
use orgd_core::store::Store;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn administrators_manage_users() {
    let app = TestApp::spawn().await;
    let (org, admin, token) = app.tenant_with_admin("ACME").await;
    let r = app
        .call(Method::POST, "/v1/users", &token, Some(json!({"user_id": "jane@acme.test", "password": "Jane-pass-1",
            "first_name": "Jane", "last_name": "Doe", "email": "jane@acme.test", "role": "user_manager", "phone": "+1 555",
            "token_access": true, "allowed_subnets": ["127.0.0.0/8"], "until_date": "2099-01-01", "send_invite": true})))
        .await;
    assert_eq!(r.status(), 200);
    let created: Value = r.json().await.unwrap();
    let psk = created["user_psk"].as_i64().unwrap();
    assert_eq!(created["user"]["mobile_phone"], "+1 555");
    assert_eq!(created["user"]["until_date"], "2099-01-01T00:00:00.000Z");
    // The keys the Apperian Python client documents.
    let u = &created["user"];
    assert_eq!(
        (&u["deleted"], &u["disabled_reason"], &u["last_login_from_catalog"]),
        (&json!(false), &json!(null), &json!(null))
    );
    let list: Value = app.call(Method::GET, "/users/", &token, None).await.json().await.unwrap();
    let psks: Vec<i64> = list["users"].as_array().unwrap().iter().map(|u| u["psk"].as_i64().unwrap()).collect();
    assert_eq!(psks, [admin.psk, psk]);
    let r: Value = app
        .call(Method::PUT, &format!("/users/{psk}"), &token, Some(json!({"last_name": "Smith", "disabled": true})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["update_user_success"], true);
    assert_eq!(r["user"]["last_name"], "Smith");
    assert_eq!(r["user"]["disabled"], true);
    assert_eq!(r["user"]["disabled_reason"], "disabled by an administrator");
    let (s, c, _) =
        apperian_error(app.call(Method::POST, "/v1/users", &token, Some(json!({"user_id": "JANE@acme.test"}))).await)
            .await;
    assert_eq!((s, c), (409, 409001), "user ids are unique per org, case-insensitively");
    let r: Value = app.call(Method::DELETE, &format!("/v1/users/{psk}"), &token, None).await.json().await.unwrap();
    assert_eq!(r, json!({"delete_user_response": true}));
    assert_eq!(apperian_error(app.call(Method::GET, &format!("/v1/users/{psk}"), &token, None).await).await.1, 404004);
    assert_eq!(apperian_error(app.call(Method::GET, "/v1/users/abc", &token, None).await).await.1, 404004);
    // The last enabled administrator cannot go.
    let (s, c, _) = apperian_error(
        app.call(Method::PUT, &format!("/v1/users/{}", admin.psk), &token, Some(json!({"role": "user"}))).await,
    )
    .await;
    assert_eq!((s, c), (409, 409001));
    let _ = org;
}

#[tokio::test]
async fn roles_limit_user_management() {
    let app = TestApp::spawn().await;
    let (org, admin, _) = app.tenant_with_admin("ACME").await;
    let manager = app.user(&org, "manager", Role::UserManager).await;
    let reader = app.user(&org, "reader", Role::User).await;
    let t_manager = app.token(&manager, NewToken::default()).await;
    let t_reader = app.token(&reader, NewToken::default()).await;
    let (s, c, _) = apperian_error(
        app.call(
            Method::POST,
            "/v1/users",
            &t_manager,
            Some(json!({"user_id": "x", "role": "administrator", "email": "x@a.bc"})),
        )
        .await,
    )
    .await;
    assert_eq!((s, c), (403, 40331));
    assert_eq!(
        app.call(Method::POST, "/v1/users", &t_manager, Some(json!({"user_id": "y", "password": "Y-pass-12"})))
            .await
            .status(),
        200
    );
    assert_eq!(
        apperian_error(
            app.call(Method::PUT, &format!("/v1/users/{}", admin.psk), &t_manager, Some(json!({"first_name": "A"})))
                .await
        )
        .await
        .1,
        40331
    );
    assert_eq!(apperian_error(app.call(Method::GET, "/v1/users", &t_reader, None).await).await.1, 40331);
    assert_eq!(
        apperian_error(app.call(Method::GET, &format!("/v1/users/{}", admin.psk), &t_reader, None).await).await.1,
        40331
    );
    let me: Value = app.call(Method::GET, "/v2/users/info", &t_reader, None).await.json().await.unwrap();
    assert_eq!(me["user"]["psk"], reader.psk);
    assert_eq!(app.call(Method::GET, &format!("/v1/users/{}", reader.psk), &t_reader, None).await.status(), 200);
    // A user changes its own names, and its own password only with the current one.
    let own = format!("/v1/users/{}", reader.psk);
    assert_eq!(app.call(Method::PUT, &own, &t_reader, Some(json!({"first_name": "Rita"}))).await.status(), 200);
    assert_eq!(
        apperian_error(app.call(Method::PUT, &own, &t_reader, Some(json!({"role": "administrator"}))).await).await.1,
        40331
    );
    let (_, c, b) =
        apperian_error(app.call(Method::PUT, &own, &t_reader, Some(json!({"password": "New-pass-99"}))).await).await;
    assert_eq!((c, b["error"]["details"][0]["field"].as_str()), (400802, Some("current_password")));
    let r = app
        .call(Method::PUT, &own, &t_reader, Some(json!({"password": "New-pass-99", "current_password": "Passw0rd!"})))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.login("reader", "New-pass-99", json!({})).await.status(), 200);
}

#[tokio::test]
async fn password_rules_and_custom_metadata_are_enforced_on_users() {
    let app = TestApp::spawn().await;
    let (org, _admin, token) = app.tenant_with_admin("ACME").await;
    let settings = json!({
        "password_complexity": {"password_complexity_for_users": {"min_length": 10, "min_number": 1, "min_symbol": 1}},
        "user_custom_metadata_template": {"city": {"default": "1", "label": "City", "type": "select",
            "options": [{"label": "Boston", "value": "0"}, {"label": "Valladolid", "value": "1"}]},
            "pin": {"default": "0000", "label": "PIN", "type": "password"}}
    });
    assert_eq!(
        app.call(Method::PUT, &format!("/v3/organizations/{}", org.org_id), &token, Some(settings)).await.status(),
        200
    );
    let (s, c, b) = apperian_error(
        app.call(Method::POST, "/v1/users", &token, Some(json!({"user_id": "u1", "password": "short"}))).await,
    )
    .await;
    assert_eq!((s, c), (400, 400802));
    assert_eq!(b["error"]["details"].as_array().unwrap().len(), 3, "{b}");
    assert!(b["error"]["details"].as_array().unwrap().iter().all(|d| d["field"] == "password"));
    let (_, c, b) = apperian_error(
        app.call(Method::POST, "/v1/users", &token, Some(json!({"user_id": "u1", "custom_metadata": {"city": "9"}})))
            .await,
    )
    .await;
    assert_eq!(c, 400802);
    assert_eq!(b["error"]["details"][0]["field"], "custom_metadata.city");
    let r: Value = app
        .call(Method::POST, "/v1/users", &token, Some(json!({"user_id": "u1", "password": "Long-enough-1!"})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["user"]["custom_metadata"], json!({"city": "1", "pin": "0000"}));
    // A non-administrator reads password-type values masked.
    let u1 = app.store.get_user(r["user_psk"].as_i64().unwrap()).await.unwrap().unwrap();
    let fields = orgd_core::cases::users::UserFields { token_access: Some(true), ..Default::default() };
    let org2 = orgd_core::cases::orgs::load(app.store.as_ref(), "ACME").await.unwrap();
    let u1 = orgd_core::cases::users::save(app.store.as_ref(), &org2, u1, fields, app.now()).await.unwrap();
    let t = app.token(&u1, NewToken::default()).await;
    let me: Value = app.call(Method::GET, "/v2/users/info", &t, None).await.json().await.unwrap();
    assert_eq!(me["user"]["custom_metadata"]["pin"], "********");
}
