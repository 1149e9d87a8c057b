//! An ordered map kept as one sorted `Vec` of pairs, for the engine's small maps.
//!
//! Why not `BTreeMap`: each `BTreeMap<K, V>` the module uses is compiled once per key and
//! value type, and its node code (search, split, merge, steal, drop) costs 5–6 KB of
//! WebAssembly per instantiation; the engine had fifteen of them, a tenth of the module.
//! A sorted list does the same job for the maps the engine keeps (a handful to a few
//! thousand entries: subscriptions, server keys, reorder buffers, stamps) with a binary
//! search and one contiguous move, in a fraction of the code.
//!
//! Keys mostly arrive in ascending order (frame seqs, request seqs, subscription ids), so
//! an insert past the last key is a `push`. An insert or removal elsewhere, the lowest key
//! included (`pop_first`: bounded stamp tables), moves the entries after it: fine at these
//! sizes (a reorder buffer takes its run of ready entries out in one move, `drain_first`),
//! but not a map for hundreds of thousands of random keys.
//!
//! Why a `Vec` and not a `VecDeque`, whose `pop_front` is O(1): a deque's middle insert,
//! removal and search (`wrap_copy`, its two-slice binary search) are compiled once per
//! entry type too, and were 10 KB gzip of the RocketRide module.

use std::borrow::Borrow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An ordered map from `K` to `V`, iterated in key order.
///
/// ```
/// use runwatch::core::sorted_map::SortedMap;
///
/// let mut map = SortedMap::new();
/// map.insert("b".to_string(), 2);
/// map.insert("a".to_string(), 1);
/// assert_eq!(map.get("a"), Some(&1));
/// assert_eq!(map.insert("a".to_string(), 10), Some(1));
/// assert_eq!(map.keys().map(String::as_str).collect::<Vec<_>>(), ["a", "b"]);
/// assert_eq!(map.pop_first(), Some(("a".to_string(), 10)));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SortedMap<K, V> {
    items: Vec<(K, V)>,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap { items: Vec::new() }
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for SortedMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K, V> SortedMap<K, V> {
    /// An empty map.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries are held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        self.items.clear();
    }

    /// The entries, in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + ExactSizeIterator {
        self.items.iter().map(|(k, v)| (k, v))
    }

    /// The entries in key order, values writable.
    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = (&K, &mut V)> + ExactSizeIterator {
        self.items.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// The keys, ascending.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.items.iter().map(|(k, _)| k)
    }

    /// The values, in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.items.iter().map(|(_, v)| v)
    }

    /// The values in key order, writable.
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> + ExactSizeIterator {
        self.items.iter_mut().map(|(_, v)| v)
    }

    /// Takes the entry with the lowest key out of the map.
    pub fn pop_first(&mut self) -> Option<(K, V)> {
        (!self.items.is_empty()).then(|| self.items.remove(0))
    }

    /// Takes the `count` entries with the lowest keys out of the map, in key order, in one
    /// move of the rest.
    ///
    /// # Panics
    /// When fewer than `count` entries are held.
    pub fn drain_first(&mut self, count: usize) -> std::vec::Drain<'_, (K, V)> {
        self.items.drain(..count)
    }

    /// Keeps the first `len` entries (the lowest keys) and drops the rest.
    pub fn truncate(&mut self, len: usize) {
        self.items.truncate(len);
    }

    /// Keeps only the entries `keep` says yes to (visited in key order).
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.items.retain_mut(|(k, v)| keep(k, v));
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    /// Where `key` is (`Ok`) or would go (`Err`).
    fn slot<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.items.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value under `key`.
    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.slot(key).ok().map(|at| &self.items[at].1)
    }

    /// The value under `key`, writable.
    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.slot(key).ok().map(|at| &mut self.items[at].1)
    }

    /// Whether `key` is held.
    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.slot(key).is_ok()
    }

    /// The entries in key order, from the first key not below `start`.
    pub fn range_from<Q: Ord + ?Sized>(&self, start: &Q) -> impl Iterator<Item = (&K, &V)>
    where
        K: Borrow<Q>,
    {
        let at = self.slot(start).unwrap_or_else(|at| at);
        self.items[at..].iter().map(|(k, v)| (k, v))
    }

    /// Puts `value` under `key`; returns the value it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        // Ascending keys (the usual case) append without a search.
        if self.items.last().is_none_or(|(last, _)| *last < key) {
            self.items.push((key, value));
            return None;
        }
        match self.slot(&key) {
            Ok(at) => Some(std::mem::replace(&mut self.items[at].1, value)),
            Err(at) => {
                self.items.insert(at, (key, value));
                None
            }
        }
    }

    /// The value under `key`, inserting `make()` first when there is none.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let at = match self.slot(&key) {
            Ok(at) => at,
            Err(at) => {
                self.items.insert(at, (key, make()));
                at
            }
        };
        &mut self.items[at].1
    }

    /// Takes the value under `key` out of the map.
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let at = self.slot(key).ok()?;
        Some(self.items.remove(at).1)
    }
}

impl<K: Ord + Borrow<Q>, Q: Ord + ?Sized, V> std::ops::Index<&Q> for SortedMap<K, V> {
    type Output = V;

    /// # Panics
    /// When `key` is not held (a caller's bug, as with `BTreeMap`).
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("SortedMap: no entry for the key")
    }
}

impl<K, V> IntoIterator for SortedMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    /// The entries in key order.
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<K: Serialize, V: Serialize> Serialize for SortedMap<K, V> {
    /// As a map (a JSON object), in key order.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>> Deserialize<'de> for SortedMap<K, V> {
    /// From a map (a JSON object); a repeated key keeps its last value, as in `BTreeMap`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Pairs<K, V>(PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>> Visitor<'de> for Pairs<K, V> {
            type Value = SortedMap<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut pairs: A) -> Result<Self::Value, A::Error> {
                let mut map = SortedMap::new();
                while let Some((k, v)) = pairs.next_entry()? {
                    map.insert(k, v);
                }
                Ok(map)
            }
        }
        deserializer.deserialize_map(Pairs(PhantomData))
    }
}

/// An ordered set: a [`SortedMap`] with no values.
///
/// ```
/// use runwatch::core::sorted_map::SortedSet;
///
/// let mut set = SortedSet::default();
/// assert!(set.insert(3));
/// assert!(!set.insert(3));
/// assert!(set.contains(&3));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SortedSet<K> {
    map: SortedMap<K, ()>,
}

impl<K: Ord> SortedSet<K> {
    /// Adds `key`; false when it was already there.
    pub fn insert(&mut self, key: K) -> bool {
        self.map.insert(key, ()).is_none()
    }

    /// Whether `key` is held.
    pub fn contains<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.map.contains_key(key)
    }

    /// Takes `key` out; false when it was not there.
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.map.remove(key).is_some()
    }

    /// How many keys are held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Forgets every key.
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// The keys, ascending.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.map.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u16),
        GetOrInsert(u8, u16),
        Remove(u8),
        PopFirst,
        DrainFirst(u8),
        Retain(u8),
        Truncate(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Op::Insert(k, v)),
            1 => (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Op::GetOrInsert(k, v)),
            2 => any::<u8>().prop_map(Op::Remove),
            1 => Just(Op::PopFirst),
            1 => any::<u8>().prop_map(Op::DrainFirst),
            1 => any::<u8>().prop_map(Op::Retain),
            1 => any::<u8>().prop_map(Op::Truncate),
        ]
    }

    proptest! {
        /// Any sequence of operations reads as a `BTreeMap` given the same, whether keys
        /// ascend (the fast path) or come in any order.
        #[test]
        fn behaves_as_a_btree_map(ops in prop::collection::vec(op(), 0..300), ascending in any::<bool>()) {
            let (mut map, mut model) = (SortedMap::new(), BTreeMap::new());
            let mut next = 0u16;
            for op in ops {
                let mut key = |k: u8| if ascending { next += u16::from(k % 3); next } else { u16::from(k) };
                match op {
                    Op::Insert(k, v) => { let k = key(k); prop_assert_eq!(map.insert(k, v), model.insert(k, v)); }
                    Op::GetOrInsert(k, v) => {
                        let k = key(k);
                        let (a, b) = (map.get_or_insert_with(k, || v), model.entry(k).or_insert(v));
                        prop_assert_eq!(*a, *b);
                        (*a, *b) = (a.wrapping_add(1), b.wrapping_add(1));
                    }
                    Op::Remove(k) => { let k = u16::from(k); prop_assert_eq!(map.remove(&k), model.remove(&k)); }
                    Op::PopFirst => prop_assert_eq!(map.pop_first(), model.pop_first()),
                    Op::Retain(m) => {
                        let m = u16::from(m.max(1));
                        map.retain(|k, _| k % m != 0);
                        model.retain(|k, _| k % m != 0);
                    }
                    Op::Truncate(n) => {
                        // Mostly a no-op (n beyond the length), sometimes a real cut.
                        let n = usize::from(n);
                        map.truncate(n);
                        let cut = model.keys().nth(n).copied();
                        if let Some(cut) = cut {
                            model.split_off(&cut);
                        }
                    }
                    Op::DrainFirst(n) => {
                        let n = usize::from(n % 4).min(map.len());
                        let want: Vec<(u16, u16)> = (0..n).filter_map(|_| model.pop_first()).collect();
                        prop_assert_eq!(map.drain_first(n).collect::<Vec<_>>(), want);
                    }
                }
                prop_assert_eq!(map.len(), model.len());
                prop_assert!(map.iter().eq(model.iter()));
                for k in [0u16, 1, 7, 100, 255, next] {
                    prop_assert_eq!(map.get(&k), model.get(&k));
                    prop_assert_eq!(map.contains_key(&k), model.contains_key(&k));
                    prop_assert!(map.range_from(&k).eq(model.range(k..)));
                }
            }
            prop_assert!(map.into_iter().eq(model));
        }
    }

    #[test]
    fn serde_reads_and_writes_a_json_object_in_key_order() {
        let map: SortedMap<String, Vec<String>> = serde_json::from_str(r#"{"1":["b"],"0":["a"],"1":["c"]}"#).unwrap();
        assert_eq!(map.get("1"), Some(&vec!["c".to_string()]), "the last of a repeated key wins");
        assert_eq!(serde_json::to_string(&map).unwrap(), r#"{"0":["a"],"1":["c"]}"#);
        assert!(serde_json::from_str::<SortedMap<String, u8>>("[1]").is_err());
    }

    #[test]
    fn string_keys_are_looked_up_by_str() {
        let mut map = SortedMap::new();
        map.insert("task-b".to_string(), 2);
        map.insert("task-a".to_string(), 1);
        assert_eq!(map.get("task-a"), Some(&1));
        assert_eq!(map.remove("task-b"), Some(2));
        assert!(!map.contains_key("task-b"));
        let mut set = SortedSet::default();
        set.insert("x".to_string());
        assert!(set.contains("x") && !set.remove("y") && set.remove("x") && set.is_empty());
    }
}
