//! A read-only memory map of a whole SSTable file.
//!
//! Tables are immutable once installed (written, fsynced, then only ever deleted), so mapping
//! them is safe in practice: the mapping outlives an unlink, and nothing of ours truncates or
//! rewrites a live table. Data blocks are read straight from the map (no copy, no read syscall);
//! each one is checksum-verified the first time it is used (see `table.rs`). Like LMDB, an
//! outside process truncating a live table would fault the reader; the OS page cache, not the
//! process heap, holds the hot data.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use minide_common::{Error, Result};

#[derive(Debug)]
pub struct Mmap {
    ptr: *const u8,
    len: usize,
}

// SAFETY: the mapping is read-only and never remapped; `&[u8]` views of it are shareable.
unsafe impl Send for Mmap {}
// SAFETY: as above: only shared reads of immutable memory.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// Map `len` bytes of `file` (read-only, shared). `len` must be > 0.
    pub fn map(file: &File, len: u64, path: &Path) -> Result<Mmap> {
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l > 0)
            .ok_or_else(|| Error::corrupt(format!("SST of {len} bytes cannot be mapped")))?;
        // SAFETY: a fresh read-only mapping of a file we hold open; checked for MAP_FAILED.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(Error::io(std::io::Error::last_os_error(), path));
        }
        Ok(Mmap {
            ptr: ptr.cast::<u8>().cast_const(),
            len,
        })
    }

    #[inline]
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr..ptr+len` is a live read-only mapping for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the region `map` created; no views outlive `self`.
        unsafe {
            libc::munmap(self.ptr.cast_mut().cast::<libc::c_void>(), self.len);
        }
    }
}
