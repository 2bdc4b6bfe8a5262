//! Streaming scans: a [`Scanner`] owns one merged iterator over the sources of a captured
//! [`SuperVersion`] and hands out the visible rows in chunks, packed into one buffer per chunk.
//!
//! The iterator is positioned once and only ever moves on, so a full scan is one pass over every
//! block, and memory stays at one chunk however long the range. Forward scans walk internal keys
//! in order: per user key, the first version at or below the read timestamp whose valid interval
//! holds `valid_at` is the visible one. Reverse scans walk backwards, where a key's versions come
//! oldest first: the last qualifying version seen before the user key changes is the visible one.

use std::sync::Arc;

use minide_common::Result;

use crate::db::{Db, Inner, Snapshot, SuperVersion};
use crate::iterators::InternalIterator;
use crate::iterators::merge::MergeIter;
use crate::mvcc;

/// Rows of one chunk: row `i` is `bytes[spans[i].0..spans[i].1]` (key) followed by
/// `bytes[spans[i].1..spans[i].2]` (value).
#[derive(Debug, Default)]
pub struct Rows {
    pub bytes: Vec<u8>,
    pub spans: Vec<(usize, usize, usize)>,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn row(&self, i: usize) -> (&[u8], &[u8]) {
        let (a, b, c) = self.spans[i];
        (&self.bytes[a..b], &self.bytes[b..c])
    }
}

/// First chunk size: small, so `next(iter(db.scan()))` is quick; later chunks grow 4x up to
/// the caller's limit.
const FIRST_CHUNK: usize = 64;

pub struct Scanner {
    inner: Arc<Inner>,
    it: MergeIter,
    _sv: Arc<SuperVersion>,
    read_ts: u64,
    valid_at: Option<i64>,
    /// Escaped user keys: forward scans stop at `hi` (exclusive), reverse scans at `lo`.
    lo: Option<Vec<u8>>,
    hi: Option<Vec<u8>>,
    reverse: bool,
    started: bool,
    done: bool,
    chunk: usize,
    user: Vec<u8>,
    pin: Option<Snapshot>,
}

/// Append the user key an escaped key stands for (plain copy when it has no zero bytes).
fn push_user_key(out: &mut Vec<u8>, escaped: &[u8]) -> Result<()> {
    match escaped.split_last_chunk::<2>() {
        Some((body, [0, 0])) if !body.contains(&0) => out.extend_from_slice(body),
        _ => out.extend_from_slice(&mvcc::decode_user(escaped)?),
    }
    Ok(())
}

impl Scanner {
    /// A scan of `lo <= key < hi` at (read_ts, valid_at); `pin` (if any) is held until the scan
    /// ends or is dropped, so compaction keeps what it reads.
    pub fn new(
        db: &Db,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        read_ts: u64,
        valid_at: Option<i64>,
        reverse: bool,
        pin: Option<Snapshot>,
    ) -> Result<Scanner> {
        db.check_open()?;
        let sv = db.inner.current();
        let it = db.merged(&sv);
        Ok(Scanner {
            inner: Arc::clone(&db.inner),
            it,
            _sv: sv,
            read_ts,
            valid_at,
            lo: lo.map(mvcc::user_prefix),
            hi: hi.map(mvcc::user_prefix),
            reverse,
            started: false,
            done: false,
            chunk: FIRST_CHUNK,
            user: Vec::new(),
            pin,
        })
    }

    fn start(&mut self) -> Result<()> {
        self.started = true;
        if self.reverse {
            match &self.hi {
                // Last entry below hi: every version of keys < hi sorts before (hi, max ts).
                Some(hi) => self.it.seek_before(&mvcc::seek_key(hi, u64::MAX)),
                None => self.it.seek_to_last(),
            }
        } else {
            match &self.lo {
                Some(lo) => self.it.seek(&mvcc::seek_key(lo, u64::MAX)),
                None => self.it.seek_to_first(),
            }
        }
    }

    fn finish(&mut self) {
        self.done = true;
        if let Some(p) = self.pin.take() {
            p.release();
        }
    }

    /// The next rows (at most `limit`; none once the scan is over).
    pub fn next_chunk(&mut self, limit: usize) -> Result<Rows> {
        let mut rows = Rows::default();
        if self.done {
            return Ok(rows);
        }
        self.inner.check_open()?;
        if !self.started {
            self.start()?;
        }
        let limit = limit.clamp(1, self.chunk);
        self.chunk = self.chunk.saturating_mul(4);
        rows.bytes.reserve(limit * 64);
        rows.spans.reserve(limit);
        let r = if self.reverse {
            self.fill_backward(&mut rows, limit)
        } else {
            self.fill_forward(&mut rows, limit)
        };
        if let Err(e) = r {
            self.finish();
            return Err(e);
        }
        if rows.len() < limit {
            self.finish();
        }
        Ok(rows)
    }

    fn fill_forward(&mut self, rows: &mut Rows, limit: usize) -> Result<()> {
        let it = &mut self.it;
        while it.valid() && rows.len() < limit {
            self.user.clear();
            self.user.extend_from_slice(mvcc::user_part(it.key()));
            if self
                .hi
                .as_deref()
                .is_some_and(|e| self.user.as_slice() >= e)
            {
                break;
            }
            let mut found = false;
            while it.valid() && mvcc::user_part(it.key()) == self.user.as_slice() {
                if !found {
                    let (_, ts, _) = mvcc::split(it.key())?;
                    if ts <= self.read_ts {
                        let (meta, val) = mvcc::decode_value(it.value())?;
                        if meta.valid_at(self.valid_at) {
                            found = true;
                            if !meta.tombstone {
                                let a = rows.bytes.len();
                                push_user_key(&mut rows.bytes, &self.user)?;
                                let b = rows.bytes.len();
                                rows.bytes.extend_from_slice(val);
                                rows.spans.push((a, b, rows.bytes.len()));
                            }
                        }
                    }
                }
                it.next()?;
            }
        }
        Ok(())
    }

    fn fill_backward(&mut self, rows: &mut Rows, limit: usize) -> Result<()> {
        let it = &mut self.it;
        let mut value = Vec::new();
        while it.valid() && rows.len() < limit {
            self.user.clear();
            self.user.extend_from_slice(mvcc::user_part(it.key()));
            if self.lo.as_deref().is_some_and(|s| self.user.as_slice() < s) {
                break;
            }
            // Versions arrive oldest first: the last qualifying one is the visible one.
            let mut visible: Option<bool> = None; // Some(is_tombstone)
            while it.valid() && mvcc::user_part(it.key()) == self.user.as_slice() {
                let (_, ts, _) = mvcc::split(it.key())?;
                if ts <= self.read_ts {
                    let (meta, val) = mvcc::decode_value(it.value())?;
                    if meta.valid_at(self.valid_at) {
                        visible = Some(meta.tombstone);
                        value.clear();
                        value.extend_from_slice(val);
                    }
                }
                it.prev()?;
            }
            if visible == Some(false) {
                let a = rows.bytes.len();
                push_user_key(&mut rows.bytes, &self.user)?;
                let b = rows.bytes.len();
                rows.bytes.extend_from_slice(&value);
                rows.spans.push((a, b, rows.bytes.len()));
            }
        }
        Ok(())
    }
}
