//! Webhook subscriptions (orgd extension), the same routes in both dialects: `/api/v1/{tenantId}/webhooks`
//! and `/v1/webhooks` (also below `/v1/org/{org_id}`), for administrators of the org or an org above it.
//! A new subscription's answer carries its signing secret, once.

use crate::extract::{Guarded, JsonBody, PathParams, QueryList};
use crate::policy::Administer;
use crate::render::{Failure, Secret};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use orgd_core::cases::webhooks;
use orgd_core::clock::{to_millis, Clock};
use serde_json::{json, Value};

/// The routes, below `base` (`/{tenantId}/webhooks` or `/webhooks`) in their dialect.
pub fn routes(base: &str) -> crate::route_table::Table {
    crate::route_table::Table::new()
        .route(
            base,
            &[
                (Method::GET, "List the org's webhook subscriptions (orgd extension)"),
                (Method::POST, "Subscribe an HTTPS endpoint to kinds of change (orgd extension)"),
            ],
            get(list).post(create),
        )
        .route(
            &format!("{base}/{{webhookId}}"),
            &[
                (Method::GET, "Read a webhook subscription (orgd extension)"),
                (Method::DELETE, "Delete a webhook subscription and its deliveries (orgd extension)"),
            ],
            get(read).delete(remove),
        )
        .route(
            &format!("{base}/{{webhookId}}/deliveries"),
            &[(Method::GET, "Read a webhook's deliveries, newest first (orgd extension)")],
            get(deliveries),
        )
        .route(
            &format!("{base}/{{webhookId}}/deliveries/{{deliveryId}}/redeliver"),
            &[(Method::POST, "Deliver a webhook delivery again, now (orgd extension)")],
            post(redeliver),
        )
}

async fn list(State(state): State<AppState>, acting: Guarded<Administer>) -> Result<Json<Value>, Failure> {
    let subs = state.store.list_webhooks(Some(&acting.target.org_id)).await?;
    Ok(Json(json!({"webhooks": subs.iter().map(webhooks::to_json).collect::<Vec<_>>()})))
}

async fn create(
    State(state): State<AppState>,
    acting: Guarded<Administer>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Secret<Response>, Failure> {
    let new = webhooks::parse_new(&body, state.config.outbound_rules())?;
    let now = to_millis(state.clock.now());
    let (sub, secret) = webhooks::create(
        state.store.as_ref(),
        &acting.target.org_id,
        new,
        &acting.user.user_id,
        now,
        &state.signing_key,
    )
    .await?;
    Ok(Secret((StatusCode::CREATED, Json(json!({"webhook": webhooks::created_json(&sub, &secret)}))).into_response()))
}

async fn read(
    State(state): State<AppState>,
    acting: Guarded<Administer>,
    params: PathParams,
) -> Result<Json<Value>, Failure> {
    let sub = webhooks::get(state.store.as_ref(), &acting.target.org_id, params.of("webhookId")).await?;
    Ok(Json(json!({"webhook": webhooks::to_json(&sub)})))
}

async fn remove(
    State(state): State<AppState>,
    acting: Guarded<Administer>,
    params: PathParams,
) -> Result<StatusCode, Failure> {
    webhooks::delete(state.store.as_ref(), &acting.target.org_id, params.of("webhookId")).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn deliveries(
    State(state): State<AppState>,
    acting: Guarded<Administer>,
    params: PathParams,
    query: QueryList,
) -> Result<Json<Value>, Failure> {
    let sub = webhooks::get(state.store.as_ref(), &acting.target.org_id, params.of("webhookId")).await?;
    let (page, next) = webhooks::deliveries(state.store.as_ref(), &sub, &query.0).await?;
    let list: Vec<Value> = page.iter().map(webhooks::delivery_json).collect();
    Ok(Json(json!({"deliveries": list, "nextCursor": next})))
}

async fn redeliver(
    State(state): State<AppState>,
    acting: Guarded<Administer>,
    params: PathParams,
) -> Result<Response, Failure> {
    let sub = webhooks::get(state.store.as_ref(), &acting.target.org_id, params.of("webhookId")).await?;
    let now = to_millis(state.clock.now());
    let d = webhooks::redeliver(state.store.as_ref(), &sub, params.of("deliveryId"), now).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"delivery": webhooks::delivery_json(&d)}))).into_response())
}
