//! A bounded FIFO queue with an explicit overflow policy and a drop counter.
//!
//! The delivery contract promises bounded memory: a slow app or a burst from the engine must
//! never grow a buffer without limit. Every queue in the SDK is one of these, so what happens
//! on overflow is a stated choice, and how much was lost is a number the app can read.

use std::collections::VecDeque;

/// What to throw away when a push finds the queue full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Evict the oldest queued item to make room; the newest data wins (live views).
    DropOldest,
    /// Refuse the incoming item; what is already queued wins (ordered work).
    DropNewest,
}

/// A FIFO queue that holds at most `capacity` items.
///
/// ```
/// use runwatch::core::queue::{BoundedQueue, Overflow};
///
/// let mut q = BoundedQueue::new(2, Overflow::DropOldest);
/// assert_eq!(q.push('a'), None);
/// assert_eq!(q.push('b'), None);
/// assert_eq!(q.push('c'), Some('a')); // evicted
/// assert_eq!(q.drain().collect::<String>(), "bc");
/// assert_eq!(q.dropped(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct BoundedQueue<T> {
    items: VecDeque<T>,
    capacity: usize,
    policy: Overflow,
    dropped: u64,
}

impl<T> BoundedQueue<T> {
    /// An empty queue holding at most `capacity` items; a capacity of 0 is raised to 1,
    /// because a queue that can hold nothing would silently drop everything.
    #[must_use]
    pub fn new(capacity: usize, policy: Overflow) -> Self {
        let capacity = capacity.max(1);
        Self {
            items: VecDeque::with_capacity(capacity),
            capacity,
            policy,
            dropped: 0,
        }
    }

    /// Appends `item`; if the queue was full, returns whichever item the policy dropped
    /// (the evicted oldest one, or `item` itself) and counts it in [`dropped`](Self::dropped).
    pub fn push(&mut self, item: T) -> Option<T> {
        if self.items.len() < self.capacity {
            self.items.push_back(item);
            return None;
        }
        self.dropped += 1;
        match self.policy {
            Overflow::DropNewest => Some(item),
            Overflow::DropOldest => {
                let evicted = self.items.pop_front();
                self.items.push_back(item);
                evicted
            }
        }
    }

    /// Removes and returns the oldest item.
    pub fn pop(&mut self) -> Option<T> {
        self.items.pop_front()
    }

    /// Removes all items, oldest first.
    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.items.drain(..)
    }

    /// Number of queued items.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is queued.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The most items the queue holds at once.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many items overflow has dropped since the queue was created.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(policy: Overflow) -> BoundedQueue<u32> {
        let mut q = BoundedQueue::new(3, policy);
        for i in 1..=3 {
            assert_eq!(q.push(i), None);
        }
        q
    }

    #[test]
    fn fifo_order() {
        let mut q = filled(Overflow::DropNewest);
        assert_eq!(q.pop(), Some(1));
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.pop(), Some(3));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn drop_oldest_evicts_front() {
        let mut q = filled(Overflow::DropOldest);
        assert_eq!(q.push(4), Some(1));
        assert_eq!(q.push(5), Some(2));
        assert_eq!(q.len(), 3);
        assert_eq!(q.drain().collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(q.dropped(), 2);
    }

    #[test]
    fn drop_newest_rejects_incoming() {
        let mut q = filled(Overflow::DropNewest);
        assert_eq!(q.push(4), Some(4));
        assert_eq!(q.push(5), Some(5));
        assert_eq!(q.drain().collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(q.dropped(), 2);
    }

    #[test]
    fn dropped_is_cumulative_across_drains() {
        let mut q = filled(Overflow::DropOldest);
        q.push(4);
        assert_eq!(q.drain().count(), 3);
        assert!(q.is_empty());
        for i in 0..4 {
            q.push(i);
        }
        assert_eq!(q.dropped(), 2);
    }

    #[test]
    fn room_after_pop_means_no_drop() {
        let mut q = filled(Overflow::DropNewest);
        q.pop();
        assert_eq!(q.push(9), None);
        assert_eq!(q.dropped(), 0);
    }

    #[test]
    fn zero_capacity_is_raised_to_one() {
        let mut q = BoundedQueue::new(0, Overflow::DropOldest);
        assert_eq!(q.capacity(), 1);
        assert_eq!(q.push("a"), None);
        assert_eq!(q.push("b"), Some("a"));
        assert_eq!(q.pop(), Some("b"));
    }
}
