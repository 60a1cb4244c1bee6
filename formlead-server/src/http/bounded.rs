//! A bounded, sharded map for per-client state (rate limits, login
//! throttling): memory stays fixed however many addresses show up, and no
//! operation scans the map. When a shard is full, the entry created first
//! is forgotten (for a limiter, that client starts over with a fresh
//! budget, the mildest possible mistake).

use std::collections::hash_map::{DefaultHasher, Entry};
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Mutex;

const SHARDS: usize = 16;

/// At most `capacity` entries (rounded up to a multiple of the shard
/// count), oldest-created evicted first.
#[derive(Debug)]
pub struct BoundedMap<K, V> {
    shards: Vec<Mutex<Shard<K, V>>>,
}

#[derive(Debug)]
struct Shard<K, V> {
    map: HashMap<K, V>,
    /// Keys in creation order; the same keys as `map`.
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    pub fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        Self {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        map: HashMap::with_capacity(per_shard.min(1024)),
                        order: VecDeque::new(),
                        capacity: per_shard,
                    })
                })
                .collect(),
        }
    }

    /// The shard holding `key`, locked.
    fn shard(&self, key: &K) -> std::sync::MutexGuard<'_, Shard<K, V>> {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        let index = usize::try_from(hasher.finish() % SHARDS as u64).unwrap_or(0);
        self.shards[index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on the entry for `key`, creating it with `init` first.
    pub fn with<R>(&self, key: &K, init: impl FnOnce() -> V, f: impl FnOnce(&mut V) -> R) -> R {
        let mut shard = self.shard(key);
        let shard = &mut *shard;
        if !shard.map.contains_key(key) && shard.map.len() >= shard.capacity {
            while let Some(oldest) = shard.order.pop_front() {
                if shard.map.remove(&oldest).is_some() {
                    break;
                }
            }
        }
        match shard.map.entry(key.clone()) {
            Entry::Occupied(mut e) => f(e.get_mut()),
            Entry::Vacant(e) => {
                shard.order.push_back(key.clone());
                f(e.insert(init()))
            }
        }
    }

    /// Forgets `key`.
    pub fn remove(&self, key: &K) {
        let mut shard = self.shard(key);
        if shard.map.remove(key).is_some() {
            shard.order.retain(|k| k != key);
        }
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .map
                    .len()
            })
            .sum()
    }
}

/// The key of a client address: IPv4 as is, IPv6 by its /64 (one
/// subscriber's network; a single host can use any address in it).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match crate::config::canonical_ip(ip) {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_holds_more_than_its_capacity_and_forgets_the_oldest() {
        let m: BoundedMap<u32, u32> = BoundedMap::new(64);
        for k in 0..10_000u32 {
            m.with(&k, || 0, |v| *v += 1);
        }
        assert!(m.len() <= 64, "{}", m.len());
        // The most recent keys are still there, the first ones are gone.
        assert_eq!(m.with(&9_999, || 100, |v| *v), 1);
        assert_eq!(m.with(&0, || 100, |v| *v), 100);
        m.remove(&0);
        assert_eq!(m.with(&0, || 7, |v| *v), 7);
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let v4: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(client_key(v4), v4);
        assert_eq!(client_key("::ffff:10.1.2.3".parse().unwrap()), v4);
    }
}
