//! Time: the clock the core reads, and the timestamp formats of the contracts.

use std::sync::atomic::{AtomicI64, Ordering};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, Time};

/// The source of "now" for every rule that depends on time (token windows, sessions, quotas).
pub trait Clock: Send + Sync + 'static {
    /// The current instant, UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The real clock, which a test harness (the stand-in's `/_orgd/clock`) may shift by an offset or freeze
/// at one instant.
#[derive(Debug)]
pub struct SystemClock {
    offset_ms: AtomicI64,
    frozen_at_ms: AtomicI64,
}

const NOT_FROZEN: i64 = i64::MIN;

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock { offset_ms: AtomicI64::new(0), frozen_at_ms: AtomicI64::new(NOT_FROZEN) }
    }
}

/// What the clock is doing, for the control API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockState {
    /// The clock's current instant.
    pub now: OffsetDateTime,
    /// Milliseconds from real time (0 = real time).
    pub offset_ms: i64,
    /// Whether the clock stands still.
    pub frozen: bool,
}

impl SystemClock {
    /// Shift the clock by `offset_ms` milliseconds from real time (and let it run).
    pub fn set_offset_ms(&self, offset_ms: i64) {
        self.frozen_at_ms.store(NOT_FROZEN, Ordering::Relaxed);
        self.offset_ms.store(offset_ms, Ordering::Relaxed);
    }

    /// Make `now` the current instant; the clock runs on from there unless `frozen`.
    pub fn set_now(&self, now: OffsetDateTime, frozen: bool) {
        let ms = to_millis(now);
        self.offset_ms.store(ms - to_millis(OffsetDateTime::now_utc()), Ordering::Relaxed);
        self.frozen_at_ms.store(if frozen { ms } else { NOT_FROZEN }, Ordering::Relaxed);
    }

    /// Back to real time.
    pub fn reset(&self) {
        self.set_offset_ms(0);
    }

    /// The current instant, offset and whether it is frozen.
    pub fn state(&self) -> ClockState {
        let frozen = self.frozen_at_ms.load(Ordering::Relaxed) != NOT_FROZEN;
        let now = self.now();
        ClockState { now, offset_ms: to_millis(now) - to_millis(OffsetDateTime::now_utc()), frozen }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        match self.frozen_at_ms.load(Ordering::Relaxed) {
            NOT_FROZEN => {
                OffsetDateTime::now_utc() + time::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
            }
            ms => from_millis(ms),
        }
    }
}

/// Milliseconds since the Unix epoch (how instants are stored).
pub fn to_millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The instant of a millisecond count.
pub fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// ISO 8601 UTC with milliseconds: `2024-05-01T09:30:00.000Z` (written by hand: imports and exports
/// print a date per row).
pub fn iso_millis(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let mut out = String::with_capacity(24);
    let mut digits = |n: u32, width: usize, sep: char| {
        let mut buf = [b'0'; 4];
        let mut n = n;
        for i in (0..width).rev() {
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        out.push_str(std::str::from_utf8(&buf[..width]).unwrap_or("0000"));
        out.push(sep);
    };
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            year,
            t.month() as u8,
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        );
    }
    digits(year as u32, 4, '-');
    digits(t.month() as u32, 2, '-');
    digits(t.day() as u32, 2, 'T');
    digits(t.hour() as u32, 2, ':');
    digits(t.minute() as u32, 2, ':');
    digits(t.second() as u32, 2, '.');
    digits(t.millisecond() as u32, 3, 'Z');
    out
}

/// Parse a DATE as the CLI and APIs accept it: `YYYY-MM-DD` (midnight UTC) or RFC 3339.
pub fn parse_date_or_datetime(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.to_offset(time::UtcOffset::UTC));
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, &fmt).ok().map(|d| d.with_time(Time::MIDNIGHT).assume_utc())
}

/// Seconds from `now` to the next UTC midnight (at least 1).
pub fn seconds_to_utc_midnight(now: OffsetDateTime) -> u64 {
    let next = (now.date() + time::Duration::days(1)).with_time(Time::MIDNIGHT).assume_utc();
    ((next - now).whole_seconds()).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_dates() {
        let t = parse_date_or_datetime("2024-05-01").unwrap();
        assert_eq!(iso_millis(t), "2024-05-01T00:00:00.000Z");
        let t = parse_date_or_datetime("2024-05-01T11:30:00.250+02:00").unwrap();
        assert_eq!(iso_millis(t), "2024-05-01T09:30:00.250Z");
        assert!(parse_date_or_datetime("01/05/2024").is_none());
        assert!(parse_date_or_datetime("2024-13-01").is_none());
        assert_eq!(from_millis(to_millis(t)), t);
    }

    #[test]
    fn the_clock_can_be_moved_frozen_and_reset() {
        let c = SystemClock::default();
        let real = OffsetDateTime::now_utc();
        c.set_offset_ms(3_600_000);
        assert!((c.now() - real).whole_minutes() >= 59);
        let at = parse_date_or_datetime("2030-01-01T00:00:00Z").unwrap();
        c.set_now(at, true);
        assert_eq!(c.now(), at);
        assert!(c.state().frozen);
        c.set_now(at, false);
        assert!(c.now() >= at && c.now() - at < time::Duration::seconds(5));
        assert!(!c.state().frozen);
        c.reset();
        assert!((c.now() - OffsetDateTime::now_utc()).abs() < time::Duration::seconds(5));
        assert!(c.state().offset_ms.abs() < 5000);
    }

    #[test]
    fn midnight_is_counted_in_seconds() {
        let t = parse_date_or_datetime("2024-05-01T23:59:30Z").unwrap();
        assert_eq!(seconds_to_utc_midnight(t), 30);
    }
}
