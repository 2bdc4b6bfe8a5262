//! The store: open/recover, the write path with group commit, background work, close.
//!
//! Write path (one batch = one commit):
//! 1. [`Db::write`] queues the batch; the writer at the head of the queue becomes the *leader*
//!    and takes every batch queued behind it (group commit).
//! 2. The leader rotates the memtable if it is full (new WAL file, old memtable becomes immutable
//!    and is flushed by the background thread).
//! 3. It gives each batch a commit timestamp from the HLC, appends one WAL record per batch with
//!    one `write`, and fsyncs once for the group under `sync="always"`.
//! 4. It inserts the entries in the memtable and only then publishes the last timestamp as
//!    visible, so a read never sees half a batch.
//!
//! Read path and scans are in [`crate::read`]; flush and compaction in [`crate::compaction`].

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use minide_common::{Error, Result};
use parking_lot::{Condvar, Mutex, RwLock};

use crate::cache::BlockCache;
use crate::hlc::Hlc;
use crate::manifest::{self, Manifest};
use crate::memtable::MemTable;
use crate::mvcc::{self, Op};
use crate::options::{Options, SyncMode};
use crate::sst::table::Table;
use crate::version::{NUM_LEVELS, Version};
use crate::wal::{self, LogWriter, Recovery, Tail};

mod open;

/// At most this many immutable memtables wait for flushing before writers stall.
const MAX_IMMUTABLE: usize = 2;
const MAX_GROUP_BYTES: usize = 4 << 20;

/// What a read sees: the memtables and the table set, captured together.
#[derive(Debug)]
pub struct SuperVersion {
    pub mem: Arc<MemTable>,
    /// Immutable memtables, newest first.
    pub imm: Vec<Arc<MemTable>>,
    pub version: Arc<Version>,
}

#[derive(Debug)]
struct Pending {
    /// The leader takes the ops out (moving their buffers into the memtable).
    ops: Mutex<Vec<Op>>,
    count: usize,
    rotate: bool,
    bytes: usize,
    result: Mutex<Option<Result<u64>>>,
}

#[derive(Debug)]
pub(crate) struct State {
    pub next_file: u64,
    pub log_number: u64,
    pub shutdown: bool,
    /// Per level: the largest user key compacted last, so compaction walks the key space.
    pub compact_pointer: Vec<Vec<u8>>,
}

#[derive(Debug, Default)]
pub struct Counters {
    pub commits: AtomicU64,
    pub wal_bytes: AtomicU64,
    pub wal_syncs: AtomicU64,
    pub flushes: AtomicU64,
    pub compactions: AtomicU64,
    pub compaction_bytes_in: AtomicU64,
    pub compaction_bytes_out: AtomicU64,
    pub versions_dropped: AtomicU64,
    pub recovered_batches: AtomicU64,
}

#[derive(Debug)]
pub struct Inner {
    pub dir: PathBuf,
    pub opts: Options,
    pub hlc: Hlc,
    queue: Mutex<VecDeque<Arc<Pending>>>,
    queue_cv: Condvar,
    wal: Mutex<LogWriter>,
    wal_dirty: AtomicBool,
    pub visible: AtomicU64,
    pub sv: RwLock<Arc<SuperVersion>>,
    pub(crate) state: Mutex<State>,
    pub(crate) state_cv: Condvar,
    pub(crate) compaction_lock: Mutex<()>,
    pub snapshots: Mutex<BTreeMap<u64, usize>>,
    pub cache: Arc<BlockCache>,
    closed: AtomicBool,
    pub(crate) bg_error: Mutex<Option<String>>,
    /// Set with `bg_error`, so `check_open` (on every read) takes no lock while all is well.
    failed: AtomicBool,
    pub counters: Counters,
}

/// An open store. Cheap to share across threads (`&Db` is enough for every operation).
#[derive(Debug)]
pub struct Db {
    pub(crate) inner: Arc<Inner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// `LOCK`, held with an exclusive `flock` while open: one writer per directory.
    lock: Mutex<Option<std::fs::File>>,
}

/// Take the directory's exclusive lock (released by `close` or when the process dies).
fn lock_dir(dir: &Path) -> Result<std::fs::File> {
    let path = dir.join("LOCK");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(e, &path))?;
    fs2::FileExt::try_lock_exclusive(&f).map_err(|e| {
        Error::invalid(format!(
            "kv store {} is already open (in this or another process): {e}",
            dir.display()
        ))
    })?;
    Ok(f)
}

/// A pinned read timestamp: compaction keeps every version it can see until it is released.
#[derive(Debug)]
pub struct Snapshot {
    inner: Arc<Inner>,
    pub ts: u64,
    released: AtomicBool,
}

impl Snapshot {
    pub fn release(&self) {
        if !self.released.swap(true, Ordering::SeqCst) {
            let mut s = self.inner.snapshots.lock();
            if let Some(c) = s.get_mut(&self.ts) {
                *c -= 1;
                if *c == 0 {
                    s.remove(&self.ts);
                }
            }
        }
    }

    pub fn is_released(&self) -> bool {
        self.released.load(Ordering::SeqCst)
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        self.release();
    }
}

/// A copy of an error for the other members of a failed commit group.
pub(crate) fn copy_err(e: &Error) -> Error {
    match e {
        Error::Corrupt { what, path, offset } => Error::Corrupt {
            what: what.clone(),
            path: path.clone(),
            offset: *offset,
        },
        Error::Schema(m) => Error::Schema(m.clone()),
        Error::InvalidArgument(m) => Error::InvalidArgument(m.clone()),
        Error::Unsupported(m) => Error::Unsupported(m.clone()),
        Error::Closed(m) => Error::Closed(m.clone()),
        Error::Io { source, path } => Error::Io {
            source: std::io::Error::new(source.kind(), source.to_string()),
            path: path.clone(),
        },
    }
}

fn validate_ops(ops: &[Op]) -> Result<()> {
    for op in ops {
        if let (Some(f), Some(t)) = (op.valid_from, op.valid_to)
            && f >= t
        {
            return Err(Error::invalid(format!(
                "valid_from ({f}) must be before valid_to ({t}): valid intervals are half-open \
                 [valid_from, valid_to)"
            )));
        }
        if op.key.len() > (1 << 20) {
            return Err(Error::invalid("keys are limited to 1 MiB"));
        }
    }
    Ok(())
}

impl Db {
    pub fn path(&self) -> &Path {
        &self.inner.dir
    }

    pub fn check_open(&self) -> Result<()> {
        self.inner.check_open()
    }

    /// Commit `ops` atomically with one timestamp; returns it.
    pub fn write(&self, ops: Vec<Op>) -> Result<u64> {
        self.check_open()?;
        validate_ops(&ops)?;
        if ops.is_empty() {
            return Ok(self.inner.visible.load(Ordering::Acquire));
        }
        self.inner.commit(ops, false)
    }

    pub fn put(&self, key: &[u8], value: &[u8], vf: Option<i64>, vt: Option<i64>) -> Result<u64> {
        self.write(vec![Op::put(key, value, vf, vt)])
    }

    pub fn delete(&self, key: &[u8], vf: Option<i64>, vt: Option<i64>) -> Result<u64> {
        self.write(vec![Op::delete(key, vf, vt)])
    }

    /// The newest committed timestamp (what a read without `as_of` sees).
    pub fn last_ts(&self) -> u64 {
        self.inner.visible.load(Ordering::Acquire)
    }

    pub fn snapshot(&self) -> Result<Snapshot> {
        self.check_open()?;
        Ok(self.inner.pin(self.last_ts()))
    }

    /// Pin an older timestamp (scans pin the as-of time they read at).
    pub fn pin(&self, ts: u64) -> Result<Snapshot> {
        self.check_open()?;
        Ok(self.inner.pin(ts.min(self.last_ts())))
    }

    /// Make the memtable a table: rotate it and wait until the background thread flushed it.
    pub fn flush(&self) -> Result<()> {
        self.check_open()?;
        self.inner.commit(Vec::new(), true)?;
        let mut st = self.inner.state.lock();
        while !self.inner.sv.read().imm.is_empty() {
            if let Some(e) = self.inner.bg_error.lock().clone() {
                return Err(Error::corrupt(format!("background flush failed: {e}")));
            }
            self.inner
                .state_cv
                .wait_for(&mut st, Duration::from_millis(50));
        }
        Ok(())
    }

    /// Flush, then merge every table into one sorted run, dropping versions retention allows.
    pub fn compact(&self) -> Result<()> {
        self.flush()?;
        self.inner.compact_all()
    }

    /// Stop background work, fsync the WAL. Later calls raise `Error::Closed`.
    pub fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        // Let queued commits finish.
        {
            let mut q = self.inner.queue.lock();
            while !q.is_empty() {
                self.inner.queue_cv.wait(&mut q);
            }
        }
        {
            let mut st = self.inner.state.lock();
            st.shutdown = true;
            self.inner.state_cv.notify_all();
        }
        for t in self.threads.lock().drain(..) {
            let _ = t.join();
        }
        let synced = self.inner.wal.lock().sync();
        drop(self.lock.lock().take());
        synced
    }

    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }

    pub fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl Inner {
    /// Record a background failure: later reads and writes report it.
    fn set_failed(&self, what: String) {
        *self.bg_error.lock() = Some(what);
        self.failed.store(true, Ordering::Release);
    }

    pub fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::Closed(format!("kv store {}", self.dir.display())));
        }
        if !self.failed.load(Ordering::Acquire) {
            return Ok(());
        }
        if let Some(e) = self.bg_error.lock().as_ref() {
            return Err(Error::corrupt(format!(
                "kv store {} stopped after a failure: {e}; reopen it to recover from the WAL",
                self.dir.display()
            )));
        }
        Ok(())
    }

    pub fn pin(self: &Arc<Self>, ts: u64) -> Snapshot {
        *self.snapshots.lock().entry(ts).or_insert(0) += 1;
        Snapshot {
            inner: Arc::clone(self),
            ts,
            released: AtomicBool::new(false),
        }
    }

    pub fn current(&self) -> Arc<SuperVersion> {
        Arc::clone(&self.sv.read())
    }

    fn commit(&self, ops: Vec<Op>, rotate: bool) -> Result<u64> {
        let bytes = ops
            .iter()
            .map(|o| o.key.len() + o.value.as_ref().map_or(0, Vec::len) + 24)
            .sum();
        let me = Arc::new(Pending {
            count: ops.len(),
            ops: Mutex::new(ops),
            rotate,
            bytes,
            result: Mutex::new(None),
        });
        let mut q = self.queue.lock();
        q.push_back(Arc::clone(&me));
        loop {
            if let Some(r) = me.result.lock().take() {
                return r;
            }
            if q.front().is_some_and(|f| Arc::ptr_eq(f, &me)) {
                break;
            }
            self.queue_cv.wait(&mut q);
        }
        // Leader: take the group queued behind us.
        let mut group = Vec::new();
        let mut total = 0;
        for p in q.iter() {
            if !group.is_empty() && total + p.bytes > MAX_GROUP_BYTES {
                break;
            }
            total += p.bytes;
            group.push(Arc::clone(p));
        }
        drop(q);
        let outcome = self.write_group(&group);
        let mut q = self.queue.lock();
        for (i, p) in group.iter().enumerate() {
            let r = match &outcome {
                Ok(ts) => Ok(ts[i]),
                Err(e) => Err(copy_err(e)),
            };
            *p.result.lock() = Some(r);
            q.pop_front();
        }
        self.queue_cv.notify_all();
        drop(q);
        me.result
            .lock()
            .take()
            .unwrap_or_else(|| Err(Error::corrupt("commit lost its result")))
    }

    fn write_group(&self, group: &[Arc<Pending>]) -> Result<Vec<u64>> {
        if let Some(e) = self.bg_error.lock().as_ref() {
            return Err(Error::corrupt(format!(
                "kv store stopped after a failure: {e}"
            )));
        }
        let need_rotate = group.iter().any(|p| p.rotate)
            || self.current().mem.approximate_bytes() >= self.opts.memtable_size;
        if need_rotate {
            self.rotate()?;
        }
        let mem = self.current().mem.clone();
        let mut framed = Vec::with_capacity(group.iter().map(|p| p.bytes + 16).sum());
        let mut entries = Vec::with_capacity(group.iter().map(|p| p.count).sum());
        let mut stamps = Vec::with_capacity(group.len());
        let mut last = None;
        for p in group {
            if p.count == 0 {
                stamps.push(self.visible.load(Ordering::Acquire));
                continue;
            }
            let ops = std::mem::take(&mut *p.ops.lock());
            let seqs = mvcc::batch_seqs(&ops)?;
            let ts = self.hlc.next();
            stamps.push(ts);
            last = Some(ts);
            // The record is framed in place: payload straight into `framed`, header after.
            let record = wal::begin_record(&mut framed, ts, ops.len());
            for (op, seq) in ops.into_iter().zip(seqs) {
                let klen = op.key.len();
                // A key with a zero byte is escaped into a new buffer: keep the original.
                let escaped = op.key.contains(&0).then(|| op.key.clone());
                let (k, v) = op.into_entry(ts, seq);
                let user = escaped.as_deref().unwrap_or(&k[..klen]);
                wal::push_op(&mut framed, seq, user, &v);
                entries.push((k, v));
            }
            wal::finish_record(&mut framed, record);
        }
        let Some(last) = last else {
            return Ok(stamps);
        };
        {
            let mut w = self.wal.lock();
            let res = w.append(&framed).and_then(|_| {
                if self.opts.sync == SyncMode::Always {
                    self.counters.wal_syncs.fetch_add(1, Ordering::Relaxed);
                    w.sync()
                } else {
                    Ok(())
                }
            });
            if let Err(e) = res {
                // The log may now end in a partial record: stop taking writes.
                self.set_failed(e.to_string());
                return Err(e);
            }
        }
        if self.opts.sync == SyncMode::Batch {
            self.wal_dirty.store(true, Ordering::Release);
        }
        mem.insert_many(entries);
        self.counters
            .commits
            .fetch_add(group.len() as u64, Ordering::Relaxed);
        self.counters
            .wal_bytes
            .fetch_add(framed.len() as u64, Ordering::Relaxed);
        self.visible.store(last, Ordering::Release);
        Ok(stamps)
    }

    /// Leader only: start a new WAL + memtable; the old memtable becomes immutable.
    fn rotate(&self) -> Result<()> {
        let mut st = self.state.lock();
        while self.current().imm.len() >= MAX_IMMUTABLE {
            if let Some(e) = self.bg_error.lock().as_ref() {
                return Err(Error::corrupt(format!("background flush failed: {e}")));
            }
            self.state_cv.wait_for(&mut st, Duration::from_millis(50));
        }
        let cur = self.current();
        if cur.mem.is_empty() {
            return Ok(());
        }
        let number = st.next_file;
        st.next_file += 1;
        let writer = LogWriter::create(manifest::wal_path(&self.dir, number), number)?;
        minide_common::durable::sync_dir(&self.dir)?;
        {
            let mut w = self.wal.lock();
            // The old log must be complete on disk before anything lands in the new one.
            w.sync()?;
            *w = writer;
        }
        let mut imm = Vec::with_capacity(cur.imm.len() + 1);
        imm.push(Arc::clone(&cur.mem));
        imm.extend(cur.imm.iter().cloned());
        *self.sv.write() = Arc::new(SuperVersion {
            mem: Arc::new(MemTable::new(number)),
            imm,
            version: Arc::clone(&cur.version),
        });
        self.state_cv.notify_all();
        Ok(())
    }

    fn syncer_loop(&self) {
        let interval = Duration::from_millis(self.opts.batch_sync_interval_ms.max(1));
        loop {
            {
                let mut st = self.state.lock();
                if st.shutdown {
                    return;
                }
                self.state_cv.wait_for(&mut st, interval);
                if st.shutdown {
                    return;
                }
            }
            if self.wal_dirty.swap(false, Ordering::AcqRel) {
                let f = self.wal.lock().handle();
                self.counters.wal_syncs.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = f.sync_data() {
                    self.set_failed(format!("WAL fsync failed: {e}"));
                    return;
                }
            }
        }
    }

    fn background_loop(&self) {
        loop {
            let flush = {
                let mut st = self.state.lock();
                loop {
                    if !self.current().imm.is_empty() {
                        break true;
                    }
                    if st.shutdown {
                        return;
                    }
                    if self.needs_compaction() {
                        break false;
                    }
                    self.state_cv.wait_for(&mut st, Duration::from_millis(200));
                }
            };
            let r = if flush {
                self.flush_oldest()
            } else {
                self.compact_background()
            };
            if let Err(e) = r {
                self.set_failed(e.to_string());
                self.state_cv.notify_all();
                return;
            }
        }
    }

    /// Write the manifest for `version` (caller holds the state lock).
    pub(crate) fn store_manifest(&self, st: &State, version: &Version) -> Result<()> {
        Manifest {
            next_file: st.next_file,
            log_number: st.log_number,
            max_ts: self.hlc.last(),
            files: version.file_metas(),
        }
        .store(&self.dir)
    }

    pub fn live_snapshots(&self) -> Vec<u64> {
        self.snapshots.lock().keys().copied().collect()
    }
}
