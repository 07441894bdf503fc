//! The answer cache: positive and negative answers per (name, type),
//! kept for their TTL and bounded in size.
//!
//! * Positive answers live for the smallest TTL along the answer (CNAME
//!   chain included).
//! * Negative answers (NXDOMAIN, NODATA) live for `min(SOA TTL, SOA
//!   MINIMUM)` of the SOA record in the authority section (RFC 2308 §5);
//!   without an SOA they are not cached.
//! * A TTL of 0 means "do not cache"; TTLs are capped at one day.
//! * When full, a random entry is evicted (O(1): keys live in a `Vec`
//!   beside the map and are `swap_remove`d).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// The longest an answer is kept, whatever its TTL.
const MAX_TTL: u32 = 86_400;

/// A cached answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cached {
    Addrs(Arc<[IpAddr]>),
    NxDomain(SocketAddr),
    NoData(SocketAddr),
}

type Key = (String, u16);

#[derive(Debug)]
struct Entry {
    value: Cached,
    expires: Instant,
    /// Position of the key in `Inner::keys`.
    slot: usize,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<Key, Entry>,
    keys: Vec<Key>,
    rng: u64,
}

/// A bounded TTL cache, shared by all lookups of one resolver.
#[derive(Debug)]
pub(crate) struct Cache {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl Cache {
    pub(crate) fn new(capacity: usize) -> Cache {
        Cache {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                rng: super::query::random_u64() | 1,
                ..Inner::default()
            }),
        }
    }

    /// The live answer for `name` (normalised) and `rtype`, if any.
    pub(crate) fn get(&self, name: &str, rtype: u16) -> Option<Cached> {
        let key = (name.to_owned(), rtype);
        let mut inner = self.inner.lock();
        let entry = inner.map.get(&key)?;
        if entry.expires > Instant::now() {
            return Some(entry.value.clone());
        }
        inner.remove(&key);
        None
    }

    /// Stores an answer for `ttl` seconds (0: not at all).
    pub(crate) fn insert(&self, name: &str, rtype: u16, value: Cached, ttl: u32) {
        if ttl == 0 {
            return;
        }
        let expires = Instant::now() + Duration::from_secs(u64::from(ttl.min(MAX_TTL)));
        let key = (name.to_owned(), rtype);
        let mut inner = self.inner.lock();
        if let Some(e) = inner.map.get_mut(&key) {
            e.value = value;
            e.expires = expires;
            return;
        }
        if inner.map.len() >= self.capacity {
            inner.evict_one();
        }
        let slot = inner.keys.len();
        inner.keys.push(key.clone());
        inner.map.insert(key, Entry { value, expires, slot });
    }

    /// Forgets everything.
    pub(crate) fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.map.clear();
        inner.keys.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.inner.lock().map.len()
    }
}

impl Inner {
    fn remove(&mut self, key: &Key) {
        let Some(entry) = self.map.remove(key) else {
            return;
        };
        self.keys.swap_remove(entry.slot);
        if let Some(moved) = self.keys.get(entry.slot) {
            if let Some(e) = self.map.get_mut(moved) {
                e.slot = entry.slot;
            }
        }
    }

    fn evict_one(&mut self) {
        if self.keys.is_empty() {
            return;
        }
        // xorshift64: eviction choice needs no quality, just spread.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let victim = self.keys[(self.rng % self.keys.len() as u64) as usize].clone();
        self.remove(&victim);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(s: &str) -> Cached {
        Cached::Addrs(vec![s.parse().unwrap()].into())
    }

    #[test]
    fn ttl_zero_not_cached_and_bounded() {
        let c = Cache::new(3);
        c.insert("a", 1, addrs("10.0.0.1"), 0);
        assert_eq!(c.get("a", 1), None);
        for i in 0..10 {
            c.insert(&format!("n{i}"), 1, addrs("10.0.0.1"), 60);
            assert!(c.len() <= 3);
        }
        assert_eq!(c.len(), 3);
        c.insert("n9", 1, addrs("10.0.0.2"), 60);
        assert_eq!(c.get("n9", 1), Some(addrs("10.0.0.2")));
        assert_eq!(c.get("n9", 28), None);
        let inner = c.inner.lock();
        for (k, e) in &inner.map {
            assert_eq!(&inner.keys[e.slot], k);
        }
    }
}
