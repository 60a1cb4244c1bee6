//! Bounded histories: a sandbox remembers only its most recent records, so
//! an embedded server that runs on sandboxes for months does not grow
//! without end (about 5 KB per lead before).

use std::collections::{HashMap, VecDeque};

/// How many records of each kind (drafts, sends, contacts, tasks, notes) a
/// sandbox keeps. Older ones are forgotten; the database keeps its own copy
/// of every draft and task. A retry that looks a forgotten record up (to
/// avoid repeating a side effect) would record it again, which in a
/// sandbox touches nothing outside the process.
pub const SANDBOX_HISTORY: usize = 5_000;

/// The last `cap` items pushed, oldest first.
#[derive(Debug)]
pub(crate) struct Recent<T> {
    items: VecDeque<T>,
    cap: usize,
}

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Self::with_capacity(SANDBOX_HISTORY)
    }
}

impl<T> Recent<T> {
    pub(crate) fn with_capacity(cap: usize) -> Self {
        Self {
            items: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    /// Adds `item`, forgetting the oldest one when full.
    pub(crate) fn push(&mut self, item: T) {
        if self.items.len() >= self.cap {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }

    /// Oldest first.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.items.iter()
    }

    /// Oldest first, to change in place.
    pub(crate) fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut T> {
        self.items.iter_mut()
    }

    pub(crate) fn to_vec(&self) -> Vec<T>
    where
        T: Clone,
    {
        self.items.iter().cloned().collect()
    }
}

/// A map that keeps the last `cap` keys inserted.
#[derive(Debug)]
pub(crate) struct RecentMap<V> {
    map: HashMap<String, V>,
    order: VecDeque<String>,
    cap: usize,
}

impl<V> Default for RecentMap<V> {
    fn default() -> Self {
        Self::with_capacity(SANDBOX_HISTORY)
    }
}

impl<V> RecentMap<V> {
    pub(crate) fn with_capacity(cap: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    /// Sets `key` to `value`; a new key forgets the oldest one when full.
    pub(crate) fn insert(&mut self, key: String, value: V) {
        if !self.map.contains_key(&key) {
            if self.order.len() >= self.cap
                && let Some(oldest) = self.order.pop_front()
            {
                self.map.remove(&oldest);
            }
            self.order.push_back(key.clone());
        }
        self.map.insert(key, value);
    }

    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        self.map.get(key)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_history_forgets_the_oldest() {
        let mut r = Recent::with_capacity(3);
        for i in 0..5 {
            r.push(i);
        }
        assert_eq!(r.to_vec(), [2, 3, 4]);
        assert_eq!(r.iter().next_back(), Some(&4));
    }

    #[test]
    fn a_full_map_forgets_the_oldest_key() {
        let mut m = RecentMap::with_capacity(2);
        m.insert("a".into(), 1);
        m.insert("b".into(), 2);
        // Updating a key neither grows the map nor renews the key.
        m.insert("a".into(), 10);
        assert_eq!(m.get("a"), Some(&10));
        m.insert("c".into(), 3);
        assert_eq!(m.get("a"), None);
        assert_eq!(m.get("b"), Some(&2));
        assert_eq!(m.get("c"), Some(&3));
        assert_eq!(m.values().count(), 2);
    }
}
