//! The client's address: the peer, or, when the peer is a trusted proxy
//! (`FORMLEAD_TRUSTED_PROXIES`), the nearest untrusted address it reports
//! in `X-Forwarded-For`. A client that is not a trusted proxy cannot name
//! itself anything else.

use std::net::IpAddr;

use axum::http::HeaderMap;

use crate::config::{TrustedProxies, canonical_ip};

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = canonical_ip(peer);
    if trusted.is_empty() || !trusted.trusts(peer) {
        return peer;
    }
    // Walk from the nearest hop outwards; every hop up to the first
    // untrusted one vouches for the next.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop
            .trim_start_matches('[')
            .split(']')
            .next()
            .unwrap_or(hop)
            .parse::<IpAddr>()
        else {
            break;
        };
        client = canonical_ip(ip);
        if !trusted.trusts(client) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn only_trusted_proxies_may_name_the_client() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let none = TrustedProxies::default();
        // An untrusted peer's header is ignored.
        assert_eq!(
            client_ip(ip("203.0.113.9"), &xff("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &xff("1.2.3.4"), &none),
            ip("10.0.0.2")
        );
        // A trusted proxy's is used: the nearest untrusted hop wins, so a
        // client cannot prepend a fake address.
        assert_eq!(
            client_ip(ip("10.0.0.2"), &xff("1.2.3.4"), &trusted),
            ip("1.2.3.4")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &xff("6.6.6.6, 1.2.3.4, 10.9.9.9"), &trusted),
            ip("1.2.3.4")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &HeaderMap::new(), &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &xff("garbage"), &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &xff("[2001:db8::1]"), &trusted),
            ip("2001:db8::1")
        );
    }
}
