//! When to retry a failed workflow.

use std::time::Duration;

/// Up to `max_attempts` attempts in all; the delay before attempt `n + 1`
/// is `base × 2^(n-1)`, or the vendor's retry-after when that is larger,
/// plus a jitter of up to `JITTER` (20 %) of it, so workflows that failed
/// together (an outage) do not all come back in the same instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before a workflow is dead-lettered.
    pub max_attempts: u32,
    /// Delay before the first retry; it doubles with each one.
    pub base: Duration,
}

impl Default for RetryPolicy {
    /// `FORMLEAD_MAX_ATTEMPTS=3`, `FORMLEAD_RETRY_BASE_MS=60000`.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base: Duration::from_secs(60),
        }
    }
}

/// Longest delay ever scheduled (a day), whatever the settings say.
const MAX_DELAY: Duration = Duration::from_secs(24 * 3600);

/// Largest jitter added to a retry delay, as a share of it.
pub const JITTER: f64 = 0.2;

/// A well-spread number in `[0, 1)` from `key` (SplitMix64): the jitter is
/// different for every workflow and attempt, and reproducible.
pub fn spread(key: u64) -> f64 {
    let mut z = key.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

impl RetryPolicy {
    /// Whether a transient failure of attempt `attempt` (1-based) gets another try.
    pub fn allows_another(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }

    /// Delay after failed attempt `attempt` (1-based) of the workflow
    /// whose jitter key is `key` (see `spread`).
    pub fn delay_after(&self, attempt: u32, retry_after: Option<Duration>, key: u64) -> Duration {
        let exp = attempt.saturating_sub(1).min(20);
        let backoff = self.base.saturating_mul(1u32 << exp).min(MAX_DELAY);
        let delay = retry_after.map_or(backoff, |ra| ra.min(MAX_DELAY).max(backoff));
        let jitter = delay.mul_f64(JITTER * spread(key ^ u64::from(attempt).rotate_left(32)));
        (delay + jitter).min(MAX_DELAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `delay` is `base` plus at most 20 %.
    fn within(delay: Duration, base: u64) -> bool {
        let base = Duration::from_secs(base);
        delay >= base && delay <= base.mul_f64(1.0 + JITTER)
    }

    #[test]
    fn exponential_with_vendor_override() {
        let p = RetryPolicy::default();
        assert!(within(p.delay_after(1, None, 7), 60));
        assert!(within(p.delay_after(2, None, 7), 120));
        assert!(within(p.delay_after(3, None, 7), 240));
        assert!(within(
            p.delay_after(1, Some(Duration::from_secs(10)), 7),
            60
        ));
        assert!(within(
            p.delay_after(1, Some(Duration::from_secs(600)), 7),
            600
        ));
        assert_eq!(p.delay_after(u32::MAX, None, 7), MAX_DELAY);
        assert!(p.allows_another(1) && p.allows_another(2) && !p.allows_another(3));
    }

    #[test]
    fn workflows_that_failed_together_come_back_spread_out() {
        let p = RetryPolicy::default();
        let mut delays: Vec<Duration> = (0..1_000u64).map(|k| p.delay_after(1, None, k)).collect();
        assert!(delays.iter().all(|d| within(*d, 60)));
        delays.sort();
        delays.dedup();
        assert!(delays.len() > 900, "{} distinct delays", delays.len());
        let spread_s = (delays[delays.len() - 1] - delays[0]).as_secs_f64();
        assert!(spread_s > 10.0, "spread over {spread_s} s of the 12 s");
        assert_eq!(
            p.delay_after(1, None, 42),
            p.delay_after(1, None, 42),
            "reproducible"
        );
        assert_ne!(p.delay_after(1, None, 42), p.delay_after(2, None, 42) / 2);
    }
}
