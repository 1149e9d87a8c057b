//! A map from ids handed out in ascending order to values, kept as two sorted vectors.
//!
//! The task store looks a run up by id several times for every event. A `BTreeMap` of a
//! few hundred entries walks its nodes key by key for each lookup (it showed as the store's
//! main cost in the profiles); a binary search over one contiguous vector of ids does the
//! same in a handful of steps. Inserts only ever append (ids only grow) and removals are
//! rare (evictions), so keeping the vectors sorted costs nothing on the hot path. One event
//! looks the same run up again and again, so the slot of the last id found is tried first.

use std::cell::Cell;
use std::ops::Index;

/// A map from ascending `u64` ids to values, iterated in id order.
///
/// ```
/// use runwatch::core::id_map::IdMap;
///
/// let mut map = IdMap::default();
/// map.insert(3, "c");
/// map.insert(7, "g");
/// assert_eq!(map[&7], "g");
/// assert_eq!(map.remove(&3), Some("c"));
/// assert_eq!(map.get(&3), None);
/// assert_eq!(map.values().collect::<Vec<_>>(), [&"g"]);
/// ```
#[derive(Clone, Debug)]
pub struct IdMap<T> {
    ids: Vec<u64>,
    values: Vec<T>,
    /// Where the last lookup found its id: only a hint, checked before it is used (a
    /// removal may have moved that id).
    last: Cell<usize>,
}

impl<T> Default for IdMap<T> {
    fn default() -> Self {
        IdMap { ids: Vec::new(), values: Vec::new(), last: Cell::new(0) }
    }
}

impl<T> IdMap<T> {
    /// Adds `value` under `id`, which must be greater than every id held.
    ///
    /// # Panics
    /// When `id` is not greater than the last id held (a caller's bug: ids only grow).
    pub fn insert(&mut self, id: u64, value: T) {
        assert!(self.ids.last().is_none_or(|last| *last < id), "IdMap ids must ascend: {id} after {:?}", self.ids.last());
        self.ids.push(id);
        self.values.push(value);
    }

    /// The value under `id`.
    pub fn get(&self, id: &u64) -> Option<&T> {
        self.slot(*id).map(|at| &self.values[at])
    }

    /// The value under `id`, for writing.
    pub fn get_mut(&mut self, id: &u64) -> Option<&mut T> {
        self.slot(*id).map(|at| &mut self.values[at])
    }

    /// Takes the value under `id` out of the map.
    pub fn remove(&mut self, id: &u64) -> Option<T> {
        let at = self.slot(*id)?;
        self.ids.remove(at);
        Some(self.values.remove(at))
    }

    /// How many values are held.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The ids held, ascending.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &u64> {
        self.ids.iter()
    }

    /// The values held, in id order.
    pub fn values(&self) -> std::slice::Iter<'_, T> {
        self.values.iter()
    }

    fn slot(&self, id: u64) -> Option<usize> {
        let hint = self.last.get();
        if self.ids.get(hint) == Some(&id) {
            return Some(hint);
        }
        let at = self.ids.binary_search(&id).ok()?;
        self.last.set(at);
        Some(at)
    }
}

impl<T> Index<&u64> for IdMap<T> {
    type Output = T;

    /// # Panics
    /// When `id` is not held.
    fn index(&self, id: &u64) -> &T {
        self.get(id).unwrap_or_else(|| panic!("IdMap holds no id {id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    #[should_panic(expected = "must ascend")]
    fn an_id_that_does_not_ascend_is_refused() {
        let mut map = IdMap::default();
        map.insert(2, ());
        map.insert(2, ());
    }

    proptest! {
        /// Any mix of appends and removals reads as a `BTreeMap` given the same.
        #[test]
        fn behaves_as_a_btree_map(ops in prop::collection::vec((any::<bool>(), 0..40u64), 0..200)) {
            let (mut map, mut model, mut next) = (IdMap::default(), BTreeMap::new(), 0u64);
            for (add, n) in ops {
                if add {
                    next += 1 + n % 3;
                    map.insert(next, next * 10);
                    model.insert(next, next * 10);
                } else {
                    prop_assert_eq!(map.remove(&n), model.remove(&n));
                }
                prop_assert_eq!(map.len(), model.len());
                prop_assert_eq!(map.get(&n), model.get(&n));
                if let Some(v) = map.get_mut(&n) {
                    *v += 1;
                    *model.get_mut(&n).unwrap() += 1;
                }
                prop_assert!(map.keys().eq(model.keys()));
                prop_assert!(map.values().eq(model.values()));
            }
        }
    }
}
