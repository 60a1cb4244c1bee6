//! Failed dashboard logins, per client: after [`MAX_FAILURES`] in a
//! minute, logins from that client get 429 until the minute is over.

use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::bounded::{BoundedMap, client_key};

pub const MAX_FAILURES: u32 = 5;
pub const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct LoginThrottle {
    failures: BoundedMap<IpAddr, (u32, Instant)>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            failures: BoundedMap::new(10_000),
        }
    }
}

impl LoginThrottle {
    /// `Err(seconds)` while `ip` is locked out.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        let now = Instant::now();
        self.failures.with(
            &client_key(ip),
            || (0, now),
            |(count, since)| {
                let elapsed = now.saturating_duration_since(*since);
                if *count >= MAX_FAILURES && elapsed < WINDOW {
                    Err((WINDOW - elapsed).as_secs().max(1))
                } else {
                    Ok(())
                }
            },
        )
    }

    /// Counts a failed login.
    pub fn failed(&self, ip: IpAddr) {
        let now = Instant::now();
        self.failures.with(
            &client_key(ip),
            || (0, now),
            |(count, since)| {
                if now.saturating_duration_since(*since) >= WINDOW {
                    *count = 0;
                    *since = now;
                }
                *count += 1;
            },
        );
    }

    /// A successful login clears the count.
    pub fn succeeded(&self, ip: IpAddr) {
        self.failures.remove(&client_key(ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn five_failures_a_minute_lock_the_client_out() {
        let t = LoginThrottle::default();
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        let other: IpAddr = "203.0.113.6".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(t.check(ip).is_ok());
            t.failed(ip);
        }
        assert!(t.check(ip).is_err(), "locked out");
        assert!(t.check(other).is_ok(), "per client");
        tokio::time::advance(WINDOW).await;
        assert!(t.check(ip).is_ok(), "a minute later");
        t.failed(ip);
        t.succeeded(ip);
        assert!(t.check(ip).is_ok());
    }
}
