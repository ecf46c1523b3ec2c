//! Sign-in attempts per client IP (model §5): a one-minute window, refused with 42901 past the limit.

use crate::error::{ApiError, ErrorCode};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use time::OffsetDateTime;

/// Login attempts allowed per client IP per minute.
pub const ATTEMPTS_PER_MINUTE: u32 = 20;

/// Counts login attempts per client IP in one-minute windows.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    windows: Mutex<HashMap<Option<IpAddr>, (i64, u32)>>,
}

impl LoginLimiter {
    /// Forget every window (the stand-in's reset).
    pub fn clear(&self) {
        self.windows.lock().clear();
    }

    /// Count one attempt; 42901 past the limit.
    pub fn attempt(&self, ip: Option<IpAddr>, now: OffsetDateTime) -> Result<(), ApiError> {
        let minute = now.unix_timestamp().div_euclid(60);
        let mut w = self.windows.lock();
        if w.len() > 100_000 {
            w.retain(|_, (m, _)| *m == minute);
        }
        let e = w.entry(ip).or_insert((minute, 0));
        if e.0 != minute {
            *e = (minute, 0);
        }
        if e.1 >= ATTEMPTS_PER_MINUTE {
            let mut err = ApiError::new(ErrorCode::Throttled).with_message("Too many login attempts; wait a minute.");
            err.retry_after = Some((60 - now.unix_timestamp().rem_euclid(60)).max(1) as u64);
            return Err(err);
        }
        e.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[test]
    fn login_attempts_are_limited_per_ip_per_minute() {
        let l = LoginLimiter::default();
        let ip = Some("127.0.0.1".parse().unwrap());
        let now = OffsetDateTime::UNIX_EPOCH + Duration::seconds(30);
        for _ in 0..ATTEMPTS_PER_MINUTE {
            l.attempt(ip, now).unwrap();
        }
        assert_eq!(l.attempt(ip, now).unwrap_err().retry_after, Some(30));
        assert!(l.attempt(Some("10.0.0.1".parse().unwrap()), now).is_ok());
        assert!(l.attempt(ip, now + Duration::seconds(31)).is_ok());
    }
}
