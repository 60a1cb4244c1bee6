//! When to retry a failed workflow.

use std::time::Duration;

/// Up to `max_attempts` attempts in all; the delay before attempt `n + 1`
/// is `base × 2^(n-1)`, or the vendor's retry-after when that is larger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
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

impl RetryPolicy {
    /// Whether a transient failure of attempt `attempt` (1-based) gets another try.
    pub fn allows_another(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }

    /// Delay after failed attempt `attempt` (1-based).
    pub fn delay_after(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = attempt.saturating_sub(1).min(20);
        let backoff = self.base.saturating_mul(1u32 << exp).min(MAX_DELAY);
        retry_after.map_or(backoff, |ra| ra.min(MAX_DELAY).max(backoff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_with_vendor_override() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay_after(1, None), Duration::from_secs(60));
        assert_eq!(p.delay_after(2, None), Duration::from_secs(120));
        assert_eq!(p.delay_after(3, None), Duration::from_secs(240));
        assert_eq!(
            p.delay_after(1, Some(Duration::from_secs(10))),
            Duration::from_secs(60)
        );
        assert_eq!(
            p.delay_after(1, Some(Duration::from_secs(600))),
            Duration::from_secs(600)
        );
        assert_eq!(p.delay_after(u32::MAX, None), MAX_DELAY);
        assert!(p.allows_another(1) && p.allows_another(2) && !p.allows_another(3));
    }
}
