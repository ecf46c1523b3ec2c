//! Usage counters shared by every node, kept in Redis (`--shared-limits`): one Lua script takes a token
//! from an org's bucket and counts the request for its UTC day, atomically, so a usage plan holds for all
//! nodes together. The rules (refusals, headers, fallback) stay in `orgd_core::usage`.

use async_trait::async_trait;
use orgd_core::ids::OrgId;
use orgd_core::model::UsagePlan;
use orgd_core::usage::{SharedUsage, Taken};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;
use time::OffsetDateTime;

/// A request waits at most this long for Redis before this node counts alone.
const ANSWER_WITHIN: Duration = Duration::from_millis(250);

/// `KEYS[1]` the bucket (hash `t` tokens, `at` ms), `KEYS[2]` the day's count;
/// `ARGV` now (ms), rate per second, burst, daily quota (-1 = none). Returns `{0, used_today}`,
/// `{1, milli-tokens left}` or `{2, used_today}`.
const TAKE: &str = r#"
local now, rate, burst, quota = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens, at = tonumber(b[1]), tonumber(b[2])
if tokens == nil or at == nil then tokens, at = burst, now end
if now > at then tokens = tokens + (now - at) * rate / 1000; at = now end
if tokens > burst then tokens = burst end
local function keep()
  redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(at))
  if rate > 0 then redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000) end
end
if tokens < 1 then keep(); return {1, math.floor(tokens * 1000)} end
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
if quota >= 0 and used >= quota then return {2, used} end
tokens = tokens - 1
keep()
used = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 172800)
return {0, used}
"#;

/// Shared usage counters in one Redis database.
pub struct RedisUsage {
    conn: ConnectionManager,
    take: redis::Script,
}

/// The key prefix of every counter; one Redis database per orgd deployment.
const PREFIX: &str = "orgd:usage:";

impl RedisUsage {
    /// Counters at `url` (`redis://host:port/db`). The connection is made on first use and remade after
    /// a failure, so orgd starts (counting alone) while Redis is down.
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("--shared-limits: {e} (expected redis://host:port/db)"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(ANSWER_WITHIN))
            .set_response_timeout(Some(ANSWER_WITHIN))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(RedisUsage { conn, take: redis::Script::new(TAKE) })
    }
}

#[async_trait]
impl SharedUsage for RedisUsage {
    async fn take(&self, org: &OrgId, plan: &UsagePlan, now: OffsetDateTime) -> Result<Taken, String> {
        let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
        let bucket = format!("{PREFIX}{{{org}}}:bucket");
        let day = format!("{PREFIX}{{{org}}}:day:{}", now.date());
        let quota = plan.daily_quota.map_or(-1, |q| q as i64);
        let mut conn = self.conn.clone();
        let mut call = self.take.key(bucket);
        call.key(day).arg(now_ms).arg(plan.rate_per_second).arg(plan.burst).arg(quota);
        let answer = tokio::time::timeout(ANSWER_WITHIN, call.invoke_async::<(i64, i64)>(&mut conn)).await;
        match answer {
            Ok(Ok((0, used))) => Ok(Taken::Admitted { used_today: used.max(0) as u64 }),
            Ok(Ok((1, milli))) => Ok(Taken::Throttled { tokens: milli as f64 / 1000.0 }),
            Ok(Ok((_, _))) => Ok(Taken::OverQuota),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("Redis did not answer within {} ms", ANSWER_WITHIN.as_millis())),
        }
    }

    async fn clear(&self) -> Result<(), String> {
        let mut conn = self.conn.clone();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{PREFIX}*"))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            if !keys.is_empty() {
                redis::cmd("DEL").arg(&keys).query_async::<()>(&mut conn).await.map_err(|e| e.to_string())?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}
