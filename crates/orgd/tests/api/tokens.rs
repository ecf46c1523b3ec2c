//! API tokens and sessions through the Apperian dialect.

use crate::helpers::{apperian_error, TestApp};
use orgd_core::cases::tokens::NewToken;
use orgd_core::cases::users::UserFields;
use orgd_core::model::Role;
use serde_json::{json, Value};

#[tokio::test]
async fn users_create_list_and_revoke_their_tokens() {
    let app = TestApp::spawn().await;
    let (_org, _admin, token) = app.tenant_with_admin("ACME").await;
    let r = app
        .request(reqwest::Method::POST, "/v1/tokens")
        .header("X-TOKEN", &token)
        .json(&json!({"label": "ci", "starts_at": "2024-01-01", "ends_at": "2099-01-01T00:00:00Z", "subnets": ["127.0.0.1"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let secret = body["token"].as_str().unwrap().to_string();
    assert_eq!(body["api_token"]["subnets"], json!(["127.0.0.1/32"]));
    assert_eq!(body["api_token"]["starts_at"], "2024-01-01T00:00:00.000Z");
    assert_eq!(app.get_bearer("/api/v1/ACME/datasets", &secret).await.status(), 200);
    let list: Value = app.get("/v1/tokens").header("X-TOKEN", &token).send().await.unwrap().json().await.unwrap();
    let tokens = list["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    assert!(!list.to_string().contains(&secret), "secrets never leave the server after creation");
    let id = body["api_token"]["token_id"].as_str().unwrap();
    let r = app
        .request(reqwest::Method::DELETE, &format!("/v1/tokens/{id}"))
        .header("X-TOKEN", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"token_revoked": true}));
    assert_eq!(app.get_bearer("/api/v1/ACME/datasets", &secret).await.status(), 401);
    let r = app
        .request(reqwest::Method::DELETE, &format!("/v1/tokens/{id}"))
        .header("X-TOKEN", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(apperian_error(r).await.1, 404006);
    let bad = json!({"label": "x", "starts_at": "2024-02-01", "ends_at": "2024-01-01"});
    let r = app.request(reqwest::Method::POST, "/v1/tokens").header("X-TOKEN", &token).json(&bad).send().await.unwrap();
    let (s, c, b) = apperian_error(r).await;
    assert_eq!((s, c), (400, 400802));
    assert_eq!(b["error"]["details"][0]["field"], "ends_at");
}

#[tokio::test]
async fn token_access_is_needed_to_create_tokens_and_others_tokens_stay_hidden() {
    let app = TestApp::spawn().await;
    let (org, admin, admin_token) = app.tenant_with_admin("ACME").await;
    let user = app.user(&org, "reader", Role::User).await;
    let user_token = app.token(&user, NewToken::default()).await;
    let (other, _, other_admin_token) = app.tenant_with_admin("OTHER").await;
    let _ = other;
    // Another tenant's administrator cannot see or revoke ACME's tokens.
    let id = orgd_core::token::lookup_id(&user_token).unwrap();
    let r = app
        .request(reqwest::Method::DELETE, &format!("/v1/tokens/{id}"))
        .header("X-TOKEN", &other_admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(apperian_error(r).await.1, 404006);
    let r = app
        .get(&format!("/v1/tokens?user_psk={}", user.psk))
        .header("X-TOKEN", &other_admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(apperian_error(r).await.1, 404004);
    let r = app.get(&format!("/v1/tokens?user_psk={}", user.psk)).header("X-TOKEN", &admin_token).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["tokens"].as_array().unwrap().len(), 1);
    let r = app.get("/v1/tokens?user_psk=1,2").header("X-TOKEN", &admin_token).send().await.unwrap();
    let (s, c, _) = apperian_error(r).await;
    assert_eq!((s, c), (400, 400701));
    // The administrator of the org revokes the user's token.
    let r = app
        .request(reqwest::Method::DELETE, &format!("/v1/tokens/{id}"))
        .header("X-TOKEN", &admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Without TokenAccess no new token can be made.
    app.update_user(&org, &admin, UserFields { token_access: Some(false), ..UserFields::default() }).await;
    let session = app.token(&user, NewToken::default()).await;
    app.update_user(&org, &user, UserFields { token_access: Some(false), ..UserFields::default() }).await;
    let r = app
        .request(reqwest::Method::POST, "/v1/tokens")
        .header("X-TOKEN", &session)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let (s, c, _) = apperian_error(r).await;
    assert_eq!((s, c), (403, 40326));
}

#[tokio::test]
async fn session_reports_and_revokes_the_presenting_token() {
    let app = TestApp::spawn().await;
    let (_org, _admin, token) = app.tenant_with_admin("ACME").await;
    let r: Value = app.get("/v1/session").header("X-TOKEN", &token).send().await.unwrap().json().await.unwrap();
    assert_eq!(r, json!({"expires_at": null, "ttl_in_seconds": null, "token_kind": "api"}));
    let r = app.request(reqwest::Method::PUT, "/v1/session").header("X-TOKEN", &token).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"ttl_in_seconds": null}));
    let r = app.request(reqwest::Method::DELETE, "/v1/session").header("X-TOKEN", &token).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"token_revoked": true}));
    let (s, c, b) = apperian_error(app.get("/v1/session").header("X-TOKEN", &token).send().await.unwrap()).await;
    assert_eq!((s, c), (401, 40102));
    assert_eq!(b["error"]["message"], "Missing token or session expired");
}

#[tokio::test]
async fn answers_with_secrets_are_never_cached_and_every_answer_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    let (_org, admin, token) = app.tenant_with_admin("ACME").await;
    let no_store = |r: &reqwest::Response| r.headers().get("cache-control").map(|v| v.to_str().unwrap().to_string());
    let sign_in = app.login(&admin.user_id, "Passw0rd!", json!({})).await;
    assert_eq!((sign_in.status().as_u16(), no_store(&sign_in).as_deref()), (200, Some("no-store")));
    let made = app
        .request(reqwest::Method::POST, "/v1/tokens")
        .header("X-TOKEN", &token)
        .json(&json!({"label": "ci"}))
        .send()
        .await
        .unwrap();
    assert_eq!((made.status().as_u16(), no_store(&made).as_deref()), (200, Some("no-store")));
    let file = app
        .request(reqwest::Method::POST, "/api/v1/ACME/files/generate")
        .bearer_auth(&token)
        .json(&json!({"targetType": "json", "targetEncoding": "identity"}))
        .send()
        .await
        .unwrap();
    assert_eq!((file.status().as_u16(), no_store(&file).as_deref()), (200, Some("no-store")), "presigned URLs");
    let list = app.get("/v1/tokens").header("X-TOKEN", &token).send().await.unwrap();
    assert_eq!(no_store(&list), None, "answers without a secret may be cached as usual");
    // Every answer, errors included, says nosniff; orgd serves TLS here, so every answer carries HSTS.
    for r in [list, app.get("/healthz").send().await.unwrap(), app.get("/api/v1/ACME/nowhere").send().await.unwrap()] {
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{}", r.url());
        assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000", "{}", r.url());
    }
}
