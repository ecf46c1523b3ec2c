//! The webhook deliverer: every node takes due deliveries from the store's outbox (each taken by one node
//! at a time), signs and sends them, and records each attempt. Receivers get no redirects followed, a
//! timeout, and no way in to loopback or private addresses unless the operator allows them.

use crate::state::AppState;
use orgd_core::clock::{to_millis, Clock};
use orgd_core::net::is_internal;
use orgd_core::webhooks::{self, Attempt, Due};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Deliveries one node takes at a time (sends at once, and records in one transaction).
const BATCH: i64 = 128;

/// A resolver that drops loopback, private and link-local addresses (unless allowed), so that a name
/// cannot lead a delivery into the server's own network.
struct PublicOnly {
    allow_internal: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow_internal;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found.into_iter().filter(|a| allow || !is_internal(a.ip())).collect();
            if kept.is_empty() {
                return Err(format!(
                    "{host} resolves only to loopback, private or link-local addresses, which deliveries may not reach"
                )
                .into());
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// The client deliveries go out with.
pub fn client(timeout: Duration, allow_internal: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .dns_resolver(Arc::new(PublicOnly { allow_internal }))
        .user_agent(concat!("orgd-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the webhook client builds with static settings")
}

/// Deliver until `stop`: take what is due, send it, record the attempts, look again at once while there was
/// work, else wait a poll interval.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let client = client(state.config.webhook_timeout, state.config.outbound_allow_internal);
    loop {
        let now = to_millis(state.clock.now());
        match state.store.claim_deliveries(now, now + webhooks::CLAIM_MS, BATCH).await {
            Ok(due) if !due.is_empty() => {
                let attempts = futures_util::future::join_all(due.into_iter().map(|d| send(&state, &client, d))).await;
                if let Err(e) = state.store.finish_deliveries(&attempts).await {
                    tracing::warn!(error = %e, deliveries = attempts.len(), "cannot record webhook delivery attempts");
                }
                if *stop.borrow() {
                    return;
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot take webhook deliveries"),
        }
        tokio::select! {
            _ = tokio::time::sleep(state.config.webhook_poll) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Why a request failed, with its causes.
fn why(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    let mut text = String::from("could not be reached");
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// One attempt of one delivery: its id and how it went.
async fn send(state: &AppState, client: &reqwest::Client, due: Due) -> (i64, Attempt) {
    let d = &due.delivery;
    let now = to_millis(state.clock.now());
    let attempts = d.attempts + 1;
    let fail = |status: Option<i64>, error: String| webhooks::failed(now, d.created_at, attempts, status, error);
    let attempt = match &due.event {
        Err(why) => {
            Attempt { at: now, status: None, error: Some(format!("{why}, so it cannot be delivered")), retry_at: None }
        }
        Ok(event) => match webhooks::check_target(&due.url, state.config.outbound_rules()) {
            Err(why) => fail(None, format!("the URL {why}")),
            Ok(_) => post(state, client, &due, event, now, attempts).await,
        },
    };
    if attempt.error.is_some() {
        tracing::warn!(delivery = d.id, webhook = %d.webhook_id, attempts, error = ?attempt.error, "webhook delivery failed");
    }
    (d.id, attempt)
}

/// Send `event` for `due`, signed; how the attempt went.
async fn post(
    state: &AppState,
    client: &reqwest::Client,
    due: &Due,
    event: &orgd_core::events::Event,
    now: i64,
    attempts: i64,
) -> Attempt {
    let d = &due.delivery;
    let fail = |status: Option<i64>, error: String| webhooks::failed(now, d.created_at, attempts, status, error);
    let body = serde_json::to_vec(&webhooks::payload(event)).expect("events serialize");
    let timestamp = now.div_euclid(1000);
    let secret = webhooks::secret(&state.signing_key, &d.webhook_id);
    let Some(signature) = webhooks::signature(&secret, &event.id, timestamp, &body) else {
        return fail(None, "the subscription's signing secret does not read".into());
    };
    let sent = client
        .post(&due.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &event.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .header("orgd-delivery-id", d.id.to_string())
        .header("orgd-delivery-attempt", attempts.to_string())
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => {
            Attempt { at: now, status: Some(r.status().as_u16().into()), error: None, retry_at: None }
        }
        Ok(r) if r.status().is_redirection() => {
            let to = r.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("?");
            let code = r.status().as_u16();
            fail(Some(code.into()), format!("answered {code}, a redirect to {to}; deliveries do not follow redirects"))
        }
        Ok(r) => {
            let code = r.status().as_u16();
            fail(Some(code.into()), format!("answered {code}"))
        }
        Err(e) => fail(None, why(&e, state.config.webhook_timeout)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_of_internal_addresses_do_not_resolve_unless_allowed() {
        let name: Name = "localhost".parse().unwrap();
        let refused = PublicOnly { allow_internal: false }.resolve(name).await;
        assert!(refused.err().unwrap().to_string().contains("loopback"));
        let name: Name = "localhost".parse().unwrap();
        let allowed = PublicOnly { allow_internal: true }.resolve(name).await.unwrap();
        assert!(allowed.into_iter().all(|a| a.ip().is_loopback()));
    }
}
