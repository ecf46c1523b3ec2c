//! Usage plans at work (model §9): a token bucket per org, a concurrency cap, a daily quota. A request is
//! admitted only when all three allow it, and a refused request consumes nothing.
//!
//! On one node the counters live in memory. With several nodes the bucket and the daily count live in a
//! [`SharedUsage`] engine (Redis) so the plan holds for all nodes together; the concurrency cap stays per node.
//! When the shared engine cannot be reached, each node falls back to its own counters until it can again.

use crate::clock::seconds_to_utc_midnight;
use crate::error::{ApiError, ErrorCode};
use crate::ids::OrgId;
use crate::model::UsagePlan;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use time::{Date, OffsetDateTime};

#[derive(Debug)]
struct OrgUsage {
    /// The plan these counters were started under: a changed plan starts them afresh.
    plan: UsagePlan,
    tokens: f64,
    refilled_at: OffsetDateTime,
    day: Date,
    used_today: u64,
    in_flight: Arc<AtomicU32>,
}

/// What one atomic step of a shared engine decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Taken {
    /// Admitted; the org's count for the day now stands at `used_today`.
    Admitted {
        /// Requests admitted today (UTC), this one included.
        used_today: u64,
    },
    /// The bucket holds less than one token; `tokens` is what it holds.
    Throttled {
        /// Tokens left in the bucket (below 1).
        tokens: f64,
    },
    /// The daily quota is used up.
    OverQuota,
}

/// Counters shared by every node: one atomic step takes a token from an org's bucket (refilled at the
/// plan's rate, capped at its burst) and counts the request for the UTC day, or refuses and takes nothing.
#[async_trait::async_trait]
pub trait SharedUsage: Send + Sync {
    /// Take one request for `org` under `plan` at `now`.
    async fn take(&self, org: &OrgId, plan: &UsagePlan, now: OffsetDateTime) -> Result<Taken, String>;
    /// Forget every org's counters (the stand-in's reset).
    async fn clear(&self) -> Result<(), String>;
}

/// Usage counters for every org: this node's own, or a shared engine's with this node's as the fallback.
#[derive(Default)]
pub struct UsageLimiter {
    orgs: Mutex<HashMap<OrgId, OrgUsage>>,
    shared: Option<Arc<dyn SharedUsage>>,
    degraded: AtomicBool,
}

impl std::fmt::Debug for UsageLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageLimiter").field("shared", &self.shared.is_some()).finish_non_exhaustive()
    }
}

/// An admitted request: holds its concurrency slot until dropped, and tells the quota headers.
#[derive(Debug)]
pub struct Admission {
    in_flight: Arc<AtomicU32>,
    /// `RateLimit-Limit`: the daily quota (`None` = unlimited).
    pub limit: Option<u64>,
    /// `RateLimit-Remaining`.
    pub remaining: Option<u64>,
    /// `RateLimit-Reset`: seconds to UTC midnight.
    pub reset: u64,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    /// The `RateLimit-*` headers of a successful response.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match (self.limit, self.remaining) {
            (Some(limit), Some(remaining)) => vec![
                ("RateLimit-Limit", limit.to_string()),
                ("RateLimit-Remaining", remaining.to_string()),
                ("RateLimit-Reset", self.reset.to_string()),
            ],
            _ => vec![],
        }
    }
}

fn fresh(plan: &UsagePlan, now: OffsetDateTime) -> OrgUsage {
    OrgUsage {
        plan: plan.clone(),
        tokens: plan.burst as f64,
        refilled_at: now,
        day: now.date(),
        used_today: 0,
        in_flight: Arc::new(AtomicU32::new(0)),
    }
}

impl UsageLimiter {
    /// Counters kept in `shared` (several nodes), with this node's own as the fallback.
    pub fn shared(shared: Arc<dyn SharedUsage>) -> Self {
        UsageLimiter { shared: Some(shared), ..Default::default() }
    }

    /// Whether the shared engine was out of reach at the last request (this node counts alone meanwhile).
    pub fn degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// Forget every counter (the stand-in's reset).
    pub async fn clear(&self) {
        self.orgs.lock().clear();
        if let Some(shared) = &self.shared {
            if let Err(e) = shared.clear().await {
                tracing::warn!(error = %e, "could not clear the shared usage counters");
            }
        }
    }

    /// Admit one request for `org` under `plan` at `now`, or refuse with 42901/42902.
    pub async fn admit(&self, org: &OrgId, plan: &UsagePlan, now: OffsetDateTime) -> Result<Admission, ApiError> {
        let Some(shared) = &self.shared else { return self.admit_here(org, plan, now) };
        let in_flight = self.orgs.lock().entry(org.clone()).or_insert_with(|| fresh(plan, now)).in_flight.clone();
        let reset = seconds_to_utc_midnight(now);
        let slot = Admission { in_flight, limit: plan.daily_quota, remaining: None, reset };
        if slot.in_flight.fetch_add(1, Ordering::AcqRel) >= plan.max_concurrent {
            return Err(throttled(1, plan.burst));
        }
        match shared.take(org, plan, now).await {
            Ok(taken) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!("the shared usage counters are reachable again");
                }
                match taken {
                    Taken::Admitted { used_today } => {
                        let mut admitted = slot;
                        admitted.remaining = plan.daily_quota.map(|q| q.saturating_sub(used_today));
                        Ok(admitted)
                    }
                    Taken::Throttled { tokens } => Err(throttled(wait_for_token(plan, tokens, now), plan.burst)),
                    Taken::OverQuota => Err(over_quota(plan.daily_quota.unwrap_or(0), reset)),
                }
            }
            Err(e) => {
                if !self.degraded.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "the shared usage counters are out of reach; this node counts alone");
                }
                drop(slot);
                self.admit_here(org, plan, now)
            }
        }
    }

    fn admit_here(&self, org: &OrgId, plan: &UsagePlan, now: OffsetDateTime) -> Result<Admission, ApiError> {
        let mut orgs = self.orgs.lock();
        let u = orgs.entry(org.clone()).or_insert_with(|| fresh(plan, now));
        // A changed plan (an administrator's edit, read from the org) starts a new bucket and a new day's
        // count; the requests in flight stay counted.
        if u.plan != *plan {
            let in_flight = u.in_flight.clone();
            *u = OrgUsage { in_flight, ..fresh(plan, now) };
        }
        // Concurrent requests arrive with their own `now`, not always in order: the refill clock only moves
        // forward, or the time between an earlier and a later stamp would be refilled twice.
        if now > u.refilled_at {
            let elapsed = (now - u.refilled_at).as_seconds_f64();
            u.tokens = (u.tokens + elapsed * plan.rate_per_second as f64).min(plan.burst as f64);
            u.refilled_at = now;
        }
        if u.day != now.date() {
            u.day = now.date();
            u.used_today = 0;
        }
        if u.tokens < 1.0 {
            return Err(throttled(wait_for_token(plan, u.tokens, now), plan.burst));
        }
        if u.in_flight.load(Ordering::Acquire) >= plan.max_concurrent {
            return Err(throttled(1, plan.burst));
        }
        let reset = seconds_to_utc_midnight(now);
        if let Some(quota) = plan.daily_quota {
            if u.used_today >= quota {
                return Err(over_quota(quota, reset));
            }
        }
        u.tokens -= 1.0;
        u.used_today += 1;
        u.in_flight.fetch_add(1, Ordering::AcqRel);
        Ok(Admission {
            in_flight: u.in_flight.clone(),
            limit: plan.daily_quota,
            remaining: plan.daily_quota.map(|q| q.saturating_sub(u.used_today)),
            reset,
        })
    }
}

/// Seconds until a bucket holding `tokens` (< 1) holds one again.
fn wait_for_token(plan: &UsagePlan, tokens: f64, now: OffsetDateTime) -> u64 {
    if plan.rate_per_second == 0 {
        seconds_to_utc_midnight(now)
    } else {
        ((1.0 - tokens) / plan.rate_per_second as f64).ceil().max(1.0) as u64
    }
}

fn over_quota(quota: u64, reset: u64) -> ApiError {
    let mut e = ApiError::new(ErrorCode::QuotaExceeded);
    e.retry_after = Some(reset);
    e.headers = vec![
        ("RateLimit-Limit", quota.to_string()),
        ("RateLimit-Remaining", "0".into()),
        ("RateLimit-Reset", reset.to_string()),
    ];
    e
}

fn throttled(wait: u64, burst: u32) -> ApiError {
    let mut e = ApiError::new(ErrorCode::Throttled);
    e.retry_after = Some(wait);
    e.headers = vec![
        ("RateLimit-Limit", burst.to_string()),
        ("RateLimit-Remaining", "0".into()),
        ("RateLimit-Reset", wait.to_string()),
    ];
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    fn plan(rate: u32, burst: u32, conc: u32, quota: Option<u64>) -> UsagePlan {
        UsagePlan { enabled: true, rate_per_second: rate, burst, max_concurrent: conc, daily_quota: quota }
    }

    #[test]
    fn a_changed_plan_starts_afresh_and_keeps_the_requests_in_flight() {
        let l = UsageLimiter::default();
        let org = OrgId::generate();
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
        let tight = plan(0, 1, 2, Some(1));
        let held = l.admit_here(&org, &tight, t0).unwrap();
        assert_eq!(l.admit_here(&org, &tight, t0).unwrap_err().code, ErrorCode::Throttled);
        let wider = plan(0, 2, 2, Some(5));
        let second = l.admit_here(&org, &wider, t0).unwrap();
        assert_eq!(second.remaining, Some(4), "the new plan's day starts at its first request");
        let e = l.admit_here(&org, &wider, t0).unwrap_err();
        assert_eq!(e.code, ErrorCode::Throttled, "two requests in flight, the first from before the change");
        drop(held);
        assert!(l.admit_here(&org, &wider, t0).is_ok());
    }

    #[test]
    fn bucket_allows_burst_then_refills_at_rate() {
        let l = UsageLimiter::default();
        let org = OrgId::generate();
        let p = plan(2, 3, 100, None);
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
        let held: Vec<_> = (0..3).map(|_| l.admit_here(&org, &p, t0).unwrap()).collect();
        let e = l.admit_here(&org, &p, t0).unwrap_err();
        assert_eq!(e.code, ErrorCode::Throttled);
        assert_eq!(e.retry_after, Some(1));
        drop(held);
        assert!(l.admit_here(&org, &p, t0 + Duration::milliseconds(500)).is_ok());
        assert!(l.admit_here(&org, &p, t0 + Duration::milliseconds(500)).is_err());
    }

    #[test]
    fn requests_stamped_out_of_order_never_refill_the_same_time_twice() {
        let l = UsageLimiter::default();
        let org = OrgId::generate();
        let p = plan(10, 100, 1000, None);
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
        let ms = |n: i64| t0 + Duration::milliseconds(n);
        let held: Vec<_> = (0..100).map(|_| l.admit_here(&org, &p, t0).unwrap()).collect();
        assert!(l.admit_here(&org, &p, t0).is_err(), "the burst is spent");
        // Stamps up to 1,000 ms, each later one seen before an earlier one; then take all that is left.
        let mut admitted = 0;
        for n in (1..=5).map(|k| k * 200) {
            admitted += usize::from(l.admit_here(&org, &p, ms(n)).is_ok());
            admitted += usize::from(l.admit_here(&org, &p, ms(n - 100)).is_ok());
        }
        while l.admit_here(&org, &p, ms(1_000)).is_ok() {
            admitted += 1;
        }
        assert_eq!(admitted, 10, "1 s at 10 tokens per second, however the stamps were ordered");
        drop(held);
    }

    #[test]
    fn concurrency_slots_are_released_on_drop() {
        let l = UsageLimiter::default();
        let org = OrgId::generate();
        let p = plan(1000, 1000, 2, None);
        let t = OffsetDateTime::UNIX_EPOCH;
        let a = l.admit_here(&org, &p, t).unwrap();
        let _b = l.admit_here(&org, &p, t).unwrap();
        assert_eq!(l.admit_here(&org, &p, t).unwrap_err().code, ErrorCode::Throttled);
        drop(a);
        assert!(l.admit_here(&org, &p, t).is_ok());
    }

    #[test]
    fn daily_quota_resets_at_midnight_and_refusals_cost_nothing() {
        let l = UsageLimiter::default();
        let org = OrgId::generate();
        let p = plan(1000, 1000, 100, Some(3));
        let t = crate::clock::parse_date_or_datetime("2024-05-01T23:59:00Z").unwrap();
        for left in [2, 1, 0] {
            assert_eq!(l.admit_here(&org, &p, t).unwrap().remaining, Some(left));
        }
        let e = l.admit_here(&org, &p, t).unwrap_err();
        assert_eq!(e.code, ErrorCode::QuotaExceeded);
        assert_eq!(e.retry_after, Some(60));
        assert!(l.admit_here(&org, &p, t + Duration::minutes(2)).is_ok());
    }
}
