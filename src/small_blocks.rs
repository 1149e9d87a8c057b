//! Small blocks kept for reuse in front of the module's allocator.
//!
//! Decoding an event allocates a handful of small blocks (its ids and names, a list's
//! buffer, the shared event itself) and the app's side frees as many once the batch is
//! handed over. talc, the module's allocator, looks each one up in its bins and joins each
//! freed one with its neighbours: about a tenth of the task store's time per event
//! (`node --cpu-prof` on `bench/feed.mjs`). [`SmallBlocks`] keeps freed blocks of up to
//! [`LARGEST`] bytes on one free list per 16-byte size class, and hands them out again
//! first, so the usual allocation or free is a push or a pop. Everything else goes to the
//! allocator underneath, unchanged.
//!
//! A class keeps at most [`KEPT_BYTES`] in blocks (2,048 of 16 bytes, 51 of 640): enough
//! for the blocks of a batch of events freed together, while a burst of small frees (a large
//! seed, a log replay) leaves at most 1.25 MB held here; the rest go back to the allocator.
//!
//! Blocks of up to 640 bytes are kept: a status event's shared snapshot (`Arc<TaskStatus>`,
//! over 512 bytes) is one of them. With 256, `node bench/counts.mjs` counted 0.35 of talc's
//! allocations and frees per event in C; with 640, 0.07.
//!
//! ```
//! use std::alloc::{GlobalAlloc, Layout, System};
//! use runwatch::small_blocks::SmallBlocks;
//!
//! let blocks = SmallBlocks::new(System);
//! let layout = Layout::from_size_align(24, 8).unwrap();
//! unsafe {
//!     let a = blocks.alloc(layout);
//!     blocks.dealloc(a, layout);
//!     // The freed block is the next one of its class handed out.
//!     assert_eq!(blocks.alloc(layout), a);
//!     blocks.dealloc(a, layout);
//! }
//! ```
use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::ptr;

/// The size classes' step: a block of class `c` holds `(c + 1) * STEP` bytes.
const STEP: usize = 16;
/// The largest block kept for reuse.
pub const LARGEST: usize = 640;
/// The most bytes one class keeps in free blocks.
pub const KEPT_BYTES: usize = 32 * 1024;
const CLASSES: usize = LARGEST / STEP;
/// The alignment every kept block has (enough for any Rust value but over-aligned ones,
/// which go to the allocator underneath).
const ALIGN: usize = 8;

/// A [`GlobalAlloc`] that serves small blocks from per-class free lists, falling back to
/// `A`. Not thread-safe: the wasm module it serves has one thread (see `lib.rs`).
pub struct SmallBlocks<A> {
    inner: A,
    lists: UnsafeCell<[List; CLASSES]>,
}

/// A free list: its first block, and how many it holds. Each free block's first word
/// points to the next.
#[derive(Clone, Copy)]
struct List {
    head: *mut u8,
    len: u32,
}

impl<A> SmallBlocks<A> {
    /// Small blocks in front of `inner`, with nothing kept yet.
    pub const fn new(inner: A) -> Self {
        SmallBlocks { inner, lists: UnsafeCell::new([List { head: ptr::null_mut(), len: 0 }; CLASSES]) }
    }

    /// The class of a layout that is kept, and the block size it is allocated with.
    #[inline(always)]
    fn class(layout: Layout) -> Option<(usize, Layout)> {
        let size = layout.size();
        if size == 0 || size > LARGEST || layout.align() > ALIGN {
            return None;
        }
        let class = (size - 1) / STEP;
        // SAFETY: at most LARGEST bytes at ALIGN, a power of two.
        Some((class, unsafe { Layout::from_size_align_unchecked((class + 1) * STEP, ALIGN) }))
    }

    /// The free list of `class`.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)] // one thread, and no caller holds two lists at once
    unsafe fn list(&self, class: usize) -> &mut List {
        &mut (*self.lists.get())[class]
    }
}

// Not inlined: with the fast path alone inside, the allocator's entry points would be
// inlined at every allocation in the module (3 KB gzip more, measured).
unsafe impl<A: GlobalAlloc> GlobalAlloc for SmallBlocks<A> {
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some((class, block)) = Self::class(layout) else {
            return self.inner.alloc(layout);
        };
        let list = self.list(class);
        if list.head.is_null() {
            return self.inner.alloc(block);
        }
        let taken = list.head;
        list.head = taken.cast::<*mut u8>().read();
        list.len -= 1;
        taken
    }

    #[inline(never)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some((class, block)) = Self::class(layout) else {
            return self.inner.dealloc(ptr, layout);
        };
        let list = self.list(class);
        if (list.len as usize + 1) * block.size() > KEPT_BYTES {
            return self.inner.dealloc(ptr, block);
        }
        ptr.cast::<*mut u8>().write(list.head);
        list.head = ptr;
        list.len += 1;
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size` with this alignment is a valid layout.
        let new = Layout::from_size_align_unchecked(new_size, layout.align());
        match (Self::class(layout), Self::class(new)) {
            // Neither end is a kept block: the allocator may grow it in place.
            (None, None) => self.inner.realloc(ptr, layout, new_size),
            // The block already has room.
            (Some((from, _)), Some((to, _))) if from == to => ptr,
            _ => {
                let moved = self.alloc(new);
                if !moved.is_null() {
                    ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                moved
            }
        }
    }
}

// SAFETY: the module is single-threaded (no `atomics` target feature), as talc's
// `AssumeUnlockable` lock that `lib.rs` uses underneath also assumes.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl<A: Sync> Sync for SmallBlocks<A> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::alloc::System;
    use std::collections::HashSet;

    /// One step of a random program against the allocator.
    #[derive(Debug, Clone)]
    enum Op {
        Alloc { size: usize, align: usize },
        Free(usize),
        Realloc(usize, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (1usize..1000, prop::sample::select(vec![1usize, 2, 4, 8, 16, 32])).prop_map(|(size, align)| Op::Alloc { size, align }),
            3 => any::<usize>().prop_map(Op::Free),
            2 => (any::<usize>(), 1usize..1000).prop_map(|(i, size)| Op::Realloc(i, size)),
        ]
    }

    /// A live block: where, its layout, and the byte it is filled with.
    #[derive(Clone, Copy)]
    struct Live {
        ptr: *mut u8,
        layout: Layout,
        fill: u8,
    }

    fn fill(live: &Live) {
        unsafe { ptr::write_bytes(live.ptr, live.fill, live.layout.size()) };
    }

    /// Every byte of the block still holds its fill: no other block overlapped it, and no
    /// free list link was written into it while it was live.
    fn intact(live: &Live) -> bool {
        unsafe { std::slice::from_raw_parts(live.ptr, live.layout.size()) }.iter().all(|&b| b == live.fill)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Any program of allocations, frees and reallocations: every block is aligned as
        /// asked, distinct from every other live one, keeps its contents until it is freed,
        /// and a reallocation keeps the contents it had.
        #[test]
        fn blocks_stay_apart_and_keep_their_contents(ops in prop::collection::vec(op(), 1..300)) {
            let blocks = SmallBlocks::new(System);
            let mut live: Vec<Live> = Vec::new();
            let mut next_fill = 1u8;
            for op in ops {
                match op {
                    Op::Alloc { size, align } => {
                        let layout = Layout::from_size_align(size, align).unwrap();
                        let ptr = unsafe { blocks.alloc(layout) };
                        prop_assert!(!ptr.is_null());
                        prop_assert_eq!(ptr as usize % align, 0);
                        let block = Live { ptr, layout, fill: next_fill };
                        next_fill = next_fill.wrapping_add(1).max(1);
                        fill(&block);
                        live.push(block);
                    }
                    Op::Free(i) if !live.is_empty() => {
                        let block = live.swap_remove(i % live.len());
                        prop_assert!(intact(&block));
                        unsafe { blocks.dealloc(block.ptr, block.layout) };
                    }
                    Op::Realloc(i, size) if !live.is_empty() => {
                        let i = i % live.len();
                        let Live { ptr: from, layout: old, fill: byte } = live[i];
                        prop_assert!(intact(&live[i]));
                        let ptr = unsafe { blocks.realloc(from, old, size) };
                        prop_assert!(!ptr.is_null());
                        prop_assert_eq!(ptr as usize % old.align(), 0);
                        let moved = unsafe { std::slice::from_raw_parts(ptr, old.size().min(size)) };
                        prop_assert!(moved.iter().all(|&b| b == byte));
                        let layout = Layout::from_size_align(size, old.align()).unwrap();
                        live[i] = Live { ptr, layout, fill: byte };
                        fill(&live[i]);
                    }
                    _ => {}
                }
                let starts: HashSet<usize> = live.iter().map(|b| b.ptr as usize).collect();
                prop_assert_eq!(starts.len(), live.len());
                for block in &live {
                    prop_assert!(intact(block));
                }
            }
            for block in live {
                unsafe { blocks.dealloc(block.ptr, block.layout) };
            }
        }
    }

    /// A freed small block is reused for any size of its class; other sizes get others.
    #[test]
    fn a_class_reuses_its_blocks() {
        let blocks = SmallBlocks::new(System);
        let l = |size| Layout::from_size_align(size, 8).unwrap();
        unsafe {
            let a = blocks.alloc(l(17));
            blocks.dealloc(a, l(17));
            assert_eq!(blocks.alloc(l(32)), a, "17 and 32 bytes are one class");
            let b = blocks.alloc(l(33));
            assert_ne!(b, a);
            blocks.dealloc(a, l(32));
            blocks.dealloc(b, l(33));
        }
    }

    /// A class keeps at most KEPT_BYTES in blocks; the rest go back to the allocator
    /// underneath.
    #[test]
    fn a_class_keeps_at_most_kept_bytes() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        struct Counting(AtomicUsize);
        unsafe impl GlobalAlloc for Counting {
            unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
                System.alloc(layout)
            }
            unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
                self.0.fetch_add(1, Ordering::Relaxed);
                System.dealloc(ptr, layout)
            }
        }
        let blocks = SmallBlocks::new(Counting(AtomicUsize::new(0)));
        let layout = Layout::from_size_align(40, 8).unwrap();
        let kept = KEPT_BYTES / 48;
        let n = kept + 10;
        let ptrs: Vec<_> = (0..n).map(|_| unsafe { blocks.alloc(layout) }).collect();
        for p in &ptrs {
            unsafe { blocks.dealloc(*p, layout) };
        }
        assert_eq!(blocks.inner.0.load(Ordering::Relaxed), 10);
        // Those kept are handed out again, none twice.
        let again: HashSet<_> = (0..kept).map(|_| unsafe { blocks.alloc(layout) } as usize).collect();
        assert_eq!(again.len(), kept);
        assert!(again.iter().all(|p| ptrs.contains(&(*p as *mut u8))));
    }
}
