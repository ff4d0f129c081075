//! The retry policy, pure: how a response is classified and how long to wait before the next
//! attempt (spec `webhooks.md` §1.5 and §2.2, Svix's schedule, jitter and `limit_retry_delay`).

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};

/// The jitter applied to every scheduled delay: ±20 % (Svix's `JITTER_DELTA`).
pub const JITTER_DELTA: f64 = 0.2;

/// What a response means for the delivery.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Class {
    /// Any 2xx: delivered.
    Success,
    /// 410 Gone: fail the delivery and disable the subscriber webhook.
    Gone,
    /// Everything else (no response, 1xx, 3xx — redirects are never followed — 4xx, 5xx):
    /// retry while attempts remain.
    Failure,
}

/// Classifies an attempt by its response status (`None`: no response at all).
pub fn classify(status: Option<u16>) -> Class {
    match status {
        Some(200..=299) => Class::Success,
        Some(410) => Class::Gone,
        _ => Class::Failure,
    }
}

/// Parses a `Retry-After` value: delta-seconds (`120`) or an HTTP-date (IMF-fixdate
/// `Sun, 06 Nov 1994 08:49:37 GMT`, or the obsolete RFC 850 and asctime forms). A date in the
/// past is a zero delay; anything else unparseable is `None`.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // Saturate absurdly long numbers instead of refusing them.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = parse_http_date(value)?;
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

fn parse_http_date(value: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc2822(value) {
        return Some(at.with_timezone(&Utc));
    }
    // RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
    let collapsed = value.split_whitespace().collect::<Vec<_>>().join(" ");
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(&collapsed, format).ok())
        .map(|naive| naive.and_utc())
}

/// The delay before the next attempt, after `attempts_made` attempts (≥ 1; 0 counts as 1).
///
/// * base = `schedule[min(attempts_made - 1, len - 1)]` seconds (the last value repeats);
/// * without `retry_after`: base × (1 + 0.2 × `jitter`), `jitter` being the caller's uniform
///   randomness in [-1, 1] (clamped; NaN counts as 0);
/// * with `retry_after` (the receiver's `Retry-After`): that value clamped to
///   [base, 2 × base], replacing the jittered one (Svix's `limit_retry_delay`), so a receiver
///   can slow retries down but neither speed them up nor push them out indefinitely.
///
/// An empty schedule means no retries at all: the caller fails the delivery after its first
/// attempt (whatever `retry_count` says) and does not call this function, which returns zero
/// for it.
pub fn next_delay(
    schedule: &[u64],
    attempts_made: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Duration {
    let Some(last) = schedule.len().checked_sub(1) else {
        return Duration::ZERO;
    };
    let index = usize::try_from(attempts_made.saturating_sub(1))
        .unwrap_or(usize::MAX)
        .min(last);
    let base = Duration::from_secs(schedule[index]);
    match retry_after {
        Some(wanted) => wanted.clamp(base, base.saturating_mul(2)),
        None => {
            let jitter = if jitter.is_nan() {
                0.0
            } else {
                jitter.clamp(-1.0, 1.0)
            };
            // Saturates instead of panicking on a schedule value near u64::MAX seconds.
            Duration::try_from_secs_f64(base.as_secs_f64() * (1.0 + JITTER_DELTA * jitter))
                .unwrap_or(Duration::MAX)
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    const SCHEDULE: [u64; 7] = [5, 300, 1800, 7200, 18000, 36000, 36000];

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(1994, 11, 6, 8, 49, 0).unwrap()
    }

    #[test]
    fn classification() {
        assert_eq!(classify(Some(200)), Class::Success);
        assert_eq!(classify(Some(204)), Class::Success);
        assert_eq!(classify(Some(299)), Class::Success);
        assert_eq!(classify(Some(410)), Class::Gone);
        for status in [100, 301, 302, 304, 307, 308, 400, 404, 429, 500, 502, 503] {
            assert_eq!(classify(Some(status)), Class::Failure, "{status}");
        }
        assert_eq!(classify(None), Class::Failure);
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(
            parse_retry_after("120", now()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now()), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now()),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(parse_retry_after("-5", now()), None);
        assert_eq!(parse_retry_after("1.5", now()), None);
        assert_eq!(parse_retry_after("", now()), None);
        assert_eq!(parse_retry_after("soon", now()), None);
    }

    #[test]
    fn retry_after_http_dates() {
        let in_37 = Some(Duration::from_secs(37));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now()),
            in_37
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now()),
            in_37
        );
        assert_eq!(parse_retry_after("Sun Nov  6 08:49:37 1994", now()), in_37);
        // In the past: retry now (and the caller's clamp raises it to the base delay).
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now()),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn schedule_steps_and_repeats() {
        let at = |n| next_delay(&SCHEDULE, n, None, 0.0);
        assert_eq!(at(0), Duration::from_secs(5));
        assert_eq!(at(1), Duration::from_secs(5));
        assert_eq!(at(2), Duration::from_secs(300));
        assert_eq!(at(7), Duration::from_secs(36000));
        assert_eq!(at(50), Duration::from_secs(36000));
        assert_eq!(at(u32::MAX), Duration::from_secs(36000));
    }

    #[test]
    fn jitter_extremes() {
        assert_eq!(next_delay(&[100], 1, None, 1.0), Duration::from_secs(120));
        assert_eq!(next_delay(&[100], 1, None, -1.0), Duration::from_secs(80));
        assert_eq!(next_delay(&[100], 1, None, 7.0), Duration::from_secs(120));
        assert_eq!(
            next_delay(&[100], 1, None, f64::NAN),
            Duration::from_secs(100)
        );
    }

    #[test]
    fn retry_after_is_clamped() {
        let d = |s| Some(Duration::from_secs(s));
        assert_eq!(next_delay(&[300], 1, d(1), 1.0), Duration::from_secs(300));
        assert_eq!(
            next_delay(&[300], 1, d(450), -1.0),
            Duration::from_secs(450)
        );
        assert_eq!(
            next_delay(&[300], 1, d(86400), 0.0),
            Duration::from_secs(600)
        );
    }

    #[test]
    fn empty_schedule_means_no_delay() {
        assert_eq!(next_delay(&[], 3, None, 0.5), Duration::ZERO);
        assert_eq!(next_delay(&[0], 3, None, 0.5), Duration::ZERO);
    }

    proptest! {
        #[test]
        fn delay_within_jitter_bounds(
            schedule in prop::collection::vec(0u64..10_000_000, 1..12),
            attempts in 0u32..40,
            jitter in -1.0f64..=1.0,
        ) {
            let delay = next_delay(&schedule, attempts, None, jitter);
            let index = (attempts.max(1) as usize - 1).min(schedule.len() - 1);
            let base = Duration::from_secs(schedule[index]);
            prop_assert!(delay >= base.mul_f64(0.8).saturating_sub(Duration::from_millis(1)));
            prop_assert!(delay <= base.mul_f64(1.2) + Duration::from_millis(1));
        }

        #[test]
        fn retry_after_within_clamp(
            schedule in prop::collection::vec(0u64..10_000_000, 1..12),
            attempts in 0u32..40,
            wanted in 0u64..100_000_000,
            jitter in any::<f64>(),
        ) {
            let delay = next_delay(&schedule, attempts, Some(Duration::from_secs(wanted)), jitter);
            let index = (attempts.max(1) as usize - 1).min(schedule.len() - 1);
            let base = Duration::from_secs(schedule[index]);
            prop_assert!(delay >= base && delay <= base * 2);
            if (base..=base * 2).contains(&Duration::from_secs(wanted)) {
                prop_assert_eq!(delay, Duration::from_secs(wanted));
            }
        }

        #[test]
        fn any_jitter_never_panics(base in any::<u64>(), jitter in any::<f64>()) {
            let _ = next_delay(&[base], 1, None, jitter);
            let _ = next_delay(&[base], 1, Some(Duration::MAX), jitter);
        }
    }
}
