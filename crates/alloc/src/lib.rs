//! Switchboard's process allocator: mimalloc, with each request sent to
//! the entry point that serves it cheapest.
//!
//! The `mimalloc` crate's `GlobalAlloc` passes every request to
//! `mi_malloc_aligned`, alignment 8 or 16 included. In mimalloc 3 that
//! call takes the plain small-object path only for a block of at most
//! 1 KiB whose free slot happens to be aligned already; every larger
//! request (hyper's read buffer, boxed request futures, response bodies)
//! went to the generic aligned path, which over-allocates by the alignment
//! and frees through the unaligning slow path. On the built-in call path
//! that was 15 of a call's 96 allocations, at about 190 instructions each
//! (callgrind, docs/benchmarks.md "Instructions per call").
//!
//! [`MiMalloc`] asks for alignment only when it is more than plain `malloc`
//! promises: like the standard library's `System` allocator on Unix, an
//! alignment of at most 16 bytes that is no larger than the size goes to
//! `mi_malloc`, `mi_zalloc` and `mi_realloc`, whose blocks of 16 bytes or
//! more are 16-aligned, and of less are 8-aligned; anything else goes to
//! the `_aligned` variants. Memory from either side is freed by `mi_free`.

#![deny(missing_docs)]

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment every `mi_malloc` block of at least this size has
/// (`MI_MAX_ALIGN_SIZE`, as `malloc`'s `alignof(max_align_t)` on x86-64
/// and aarch64).
const PLAIN_ALIGN: usize = 16;

/// mimalloc as a `#[global_allocator]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MiMalloc;

/// Whether plain `mi_malloc(size)` already returns memory aligned for
/// `align`: blocks are 8-aligned, and 16-aligned from 16 bytes up.
#[inline]
fn plain(size: usize, align: usize) -> bool {
    align <= PLAIN_ALIGN && align <= size
}

// SAFETY: every pointer returned comes from mimalloc for at least
// `layout.size()` bytes aligned to `layout.align()` (or is null on
// failure); `dealloc` and `realloc` pass back only pointers mimalloc
// returned, which `mi_free` and `mi_realloc*` accept whichever entry point
// made them.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let (size, align) = (layout.size(), layout.align());
        // SAFETY: plain C allocation calls; any size and power-of-two
        // alignment is accepted.
        unsafe {
            if plain(size, align) {
                mi::mi_malloc(size).cast()
            } else {
                mi::mi_malloc_aligned(size, align).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let (size, align) = (layout.size(), layout.align());
        // SAFETY: as in `alloc`.
        unsafe {
            if plain(size, align) {
                mi::mi_zalloc(size).cast()
            } else {
                mi::mi_zalloc_aligned(size, align).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator (the caller's contract),
        // so from mimalloc.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        let ptr = ptr.cast::<c_void>();
        // SAFETY: `ptr` came from mimalloc (the caller's contract); the
        // new block keeps `align` by the same rule as `alloc`.
        unsafe {
            if plain(new_size, align) {
                mi::mi_realloc(ptr, new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr, new_size, align).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every combination of sizes around the bins' edges and alignments up
    /// to a page: the block is aligned, holds what was written, survives a
    /// grow and a shrink with its contents, and is freed.
    #[test]
    fn blocks_are_aligned_and_hold_their_bytes() {
        let a = MiMalloc;
        let sizes = [
            1, 2, 7, 8, 9, 15, 16, 17, 24, 40, 48, 100, 1000, 1024, 1025, 4000, 70_000,
        ];
        for align in [1, 2, 4, 8, 16, 32, 64, 128, 4096] {
            for size in sizes {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: non-zero sizes; every pointer is checked, used
                // within its size and freed with its layout.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    for i in 0..size {
                        p.add(i).write(i as u8);
                    }
                    let grown = size * 3 + 5;
                    let q = a.realloc(p, layout, grown);
                    assert!(!q.is_null());
                    assert_eq!(q as usize % align, 0, "grown {grown} align {align}");
                    for i in 0..size {
                        assert_eq!(q.add(i).read(), i as u8);
                    }
                    let small = size.div_ceil(2);
                    let grown_layout = Layout::from_size_align(grown, align).unwrap();
                    let r = a.realloc(q, grown_layout, small);
                    assert!(!r.is_null());
                    assert_eq!(r as usize % align, 0, "shrunk {small} align {align}");
                    for i in 0..small {
                        assert_eq!(r.add(i).read(), i as u8);
                    }
                    a.dealloc(r, Layout::from_size_align(small, align).unwrap());

                    let z = a.alloc_zeroed(layout);
                    assert!(!z.is_null());
                    assert_eq!(z as usize % align, 0);
                    assert!((0..size).all(|i| z.add(i).read() == 0));
                    a.dealloc(z, layout);
                }
            }
        }
    }

    #[test]
    fn plain_only_where_malloc_promises_the_alignment() {
        assert!(plain(16, 16) && plain(1, 1) && plain(8, 8) && plain(4096, 16));
        assert!(!plain(8, 16), "an 8-byte block is only 8-aligned");
        assert!(!plain(128, 32) && !plain(4096, 128));
    }
}
