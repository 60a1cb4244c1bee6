//! A per-client token bucket for the webhook route, in a bounded map.

use std::net::IpAddr;
use std::time::Instant;

use super::bounded::{BoundedMap, client_key};

/// Clients remembered at most; beyond it the oldest is forgotten.
pub const MAX_CLIENTS: usize = 100_000;

/// `rate` requests per second per client, with a burst of `rate`.
#[derive(Debug)]
pub struct IpRateLimiter {
    rate: f64,
    buckets: BoundedMap<IpAddr, (f64, Instant)>,
}

impl IpRateLimiter {
    pub fn new(rate_per_sec: u32) -> Self {
        Self::with_capacity(rate_per_sec, MAX_CLIENTS)
    }

    pub fn with_capacity(rate_per_sec: u32, clients: usize) -> Self {
        Self {
            rate: f64::from(rate_per_sec.max(1)),
            buckets: BoundedMap::new(clients),
        }
    }

    /// Takes a token for `ip`; `Err(seconds)` says when to retry.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.check_at(ip, Instant::now())
    }

    /// Clients remembered now.
    pub fn clients(&self) -> usize {
        self.buckets.len()
    }

    fn check_at(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let rate = self.rate;
        self.buckets.with(
            &client_key(ip),
            || (rate, now),
            |(tokens, at)| {
                *tokens =
                    (*tokens + now.saturating_duration_since(*at).as_secs_f64() * rate).min(rate);
                *at = now;
                if *tokens >= 1.0 {
                    *tokens -= 1.0;
                    Ok(())
                } else {
                    Err(((1.0 - *tokens) / rate).ceil().max(1.0) as u64)
                }
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn allows_the_rate_then_refuses_until_refilled() {
        let l = IpRateLimiter::new(3);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let t = Instant::now();
        assert!((0..3).all(|_| l.check_at(ip, t).is_ok()));
        assert_eq!(l.check_at(ip, t), Err(1));
        assert!(l.check_at(other, t).is_ok(), "per IP");
        assert!(l.check_at(ip, t + Duration::from_millis(400)).is_ok());
    }

    #[test]
    fn memory_is_bounded_however_many_clients_come() {
        let l = IpRateLimiter::with_capacity(1, 1_024);
        let t = Instant::now();
        for i in 0..50_000u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0A00_0000 + i));
            assert!(l.check_at(ip, t).is_ok());
        }
        assert!(l.clients() <= 1_024, "{}", l.clients());
        // A client evicted long ago starts over; a recent one is still limited.
        let recent = IpAddr::V4(std::net::Ipv4Addr::from(0x0A00_0000 + 49_999));
        assert_eq!(l.check_at(recent, t), Err(1));
        let first = IpAddr::V4(std::net::Ipv4Addr::from(0x0A00_0000));
        assert!(l.check_at(first, t).is_ok(), "evicted, so a fresh bucket");
    }
}
