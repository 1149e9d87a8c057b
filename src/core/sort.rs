//! One stable sort by a `u64` key for every list the engine orders (expired timers,
//! replayed and live events by `logSeq`).
//!
//! Why not `sort_by_key`: the standard library's stable sort is compiled once per element
//! type, about 4.5 KB of WebAssembly each. Here only `(key, index)` pairs are sorted, one
//! instantiation for every caller, and the items are then moved into that order. The lists
//! are short and sorted rarely (a timer firing, the end of a replay), so the extra pass
//! costs nothing that shows.

/// Sorts `items` by `key`, keeping the order of items with equal keys (as `sort_by_key`).
///
/// ```
/// use runwatch::core::sort::sort_by_u64;
///
/// let mut v = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd')];
/// sort_by_u64(&mut v, |(k, _)| *k);
/// assert_eq!(v, [(1, 'b'), (2, 'd'), (3, 'a'), (3, 'c')]);
/// ```
pub fn sort_by_u64<T>(items: &mut Vec<T>, key: impl Fn(&T) -> u64) {
    // Ties are broken by the original index, so an unstable sort of the pairs is stable.
    let mut order: Vec<(u64, usize)> = items.iter().map(key).zip(0..).collect();
    order.sort_unstable();
    let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
    items.extend(order.into_iter().filter_map(|(_, at)| slots[at].take()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The same order as the standard library's stable sort, ties included.
        #[test]
        fn matches_the_standard_stable_sort(keys in prop::collection::vec(0u64..8, 0..200)) {
            let items: Vec<(u64, usize)> = keys.into_iter().zip(0..).collect();
            let (mut ours, mut std) = (items.clone(), items);
            sort_by_u64(&mut ours, |(k, _)| *k);
            std.sort_by_key(|(k, _)| *k);
            prop_assert_eq!(ours, std);
        }
    }
}
