//! The keyed state store of open windows: one [`Shard`] per slice of the key space.
//!
//! ```text
//!   key ──keys──► key id ──(fixed windows) windows: (key id, k) ──► slot
//!                   │    ──(sessions)     sessions[key id]: [slot, ...] sorted by start
//!                   ▼
//!   slots (struct of arrays): key id │ lo (k or session start) │ end │ stamp │ count │ accs...
//!   due:  BTreeMap<end → [(slot, stamp)]>       the emission index, ordered by window end
//! ```
//!
//! - A key id is allocated when a key is first seen and freed when its last open window is
//!   emitted, so the state holds only keys with open windows. Hashed keys copy their values into
//!   the [`KeyStore`] at that moment (the only per-key copy).
//! - Fixed windows: each key id has a tiny direct-mapped cache `k → slot` (2 ways for tumbling
//!   windows, up to 8 for hopping ones) in front of the `windows` map, so rows arriving in time
//!   order find their window without hashing; a cache entry is trusted only if the slot still
//!   belongs to that key id and window number.
//! - Sessions: a row joins (and merges) the overlapping sessions of its key. Rows of a batch are
//!   assigned first and aggregated afterwards, so a slot merged away mid-batch forwards to its
//!   survivor (`parent`) until the aggregation pass has run; only then is it freed.
//! - Emission pops the `due` index up to the watermark. Every live slot has exactly one entry,
//!   made under its end at creation; a session whose end grew since is moved to its new end
//!   instead of emitted, and entries of freed slots are recognised by their stamp (bumped when a slot is freed).

use std::collections::BTreeMap;
use std::hash::Hash;

use hashbrown::HashMap;

use super::aggs::{Acc, Values};
use super::assign::{self, Assigner};
use super::keys::{KeyStore, KeyValue};

/// A key in the state: `u64` (integer column or no key) or `[u64; 2]` (xxh3-128).
pub trait ShardKey: Copy + Eq + Hash + Send + Sync + std::fmt::Debug + 'static {}
impl ShardKey for u64 {}
impl ShardKey for [u64; 2] {}

const FREE: u32 = u32::MAX;

/// One batch's inputs, shared read-only by every shard.
pub struct BatchView<'a, F> {
    pub assigner: Assigner,
    pub times: &'a [i64],
    /// The row's key; None for a null integer key.
    pub key_at: F,
    /// Key columns, read for keys seen for the first time (hashed keys only).
    pub key_columns: &'a [arrow_array::ArrayRef],
    pub values: &'a [Values],
    /// For each accumulator, its value column (index into `values`).
    pub acc_columns: &'a [usize],
}

#[derive(Debug)]
struct KeyMeta<K> {
    /// The key (None: the null integer key).
    key: Option<K>,
    /// Open windows of this key.
    open: u32,
    /// Session slots, sorted by start.
    sessions: Vec<u32>,
}

/// Open windows, struct of arrays indexed by slot.
#[derive(Debug, Default)]
pub struct Slots {
    pub key: Vec<u32>,
    pub lo: Vec<i64>,
    pub end: Vec<i128>,
    pub stamp: Vec<u32>,
    parent: Vec<u32>,
    pub count: Vec<u64>,
    pub accs: Vec<Acc>,
    free: Vec<u32>,
    pub live: usize,
}

#[derive(Debug)]
pub struct Shard<K: ShardKey> {
    keys: HashMap<K, u32>,
    null_key: Option<u32>,
    meta: Vec<KeyMeta<K>>,
    free_keys: Vec<u32>,
    live_keys: usize,
    /// Values of hashed keys, by key id.
    pub store: Option<KeyStore>,
    /// Session windows (slots listed per key) rather than fixed ones (slots in `windows`).
    session: bool,
    ways: usize,
    cache: Vec<(i64, u32)>,
    windows: HashMap<(u32, i64), u32>,
    pub slots: Slots,
    due: BTreeMap<i128, Vec<(u32, u32)>>,
    merged: Vec<u32>,
    rows_buf: Vec<u32>,
    slots_buf: Vec<u32>,
}

/// Sizes reported by `describe()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShardStats {
    pub keys: usize,
    pub open_windows: usize,
    pub heap_bytes: usize,
}

impl<K: ShardKey> Shard<K> {
    /// `accs` are empty accumulators (one per planned accumulator); `ways` the per-key cache
    /// size (rounded up to a power of two); `store` keeps the values of hashed keys.
    pub fn new(accs: Vec<Acc>, session: bool, ways: usize, store: Option<KeyStore>) -> Self {
        Shard {
            keys: HashMap::new(),
            null_key: None,
            meta: Vec::new(),
            free_keys: Vec::new(),
            live_keys: 0,
            store,
            session,
            ways: ways.next_power_of_two(),
            cache: Vec::new(),
            windows: HashMap::new(),
            slots: Slots {
                accs,
                ..Slots::default()
            },
            due: BTreeMap::new(),
            merged: Vec::new(),
            rows_buf: Vec::new(),
            slots_buf: Vec::new(),
        }
    }

    pub fn stats(&self) -> ShardStats {
        let s = &self.slots;
        let slot_bytes = s.key.capacity() * 4
            + s.lo.capacity() * 8
            + s.end.capacity() * 16
            + s.stamp.capacity() * 4
            + s.parent.capacity() * 4
            + s.count.capacity() * 8
            + s.accs.iter().map(Acc::heap_bytes).sum::<usize>()
            + s.free.capacity() * 4;
        let key_bytes = self.keys.capacity() * (std::mem::size_of::<(K, u32)>() + 1)
            + self.meta.capacity() * std::mem::size_of::<KeyMeta<K>>()
            + self
                .meta
                .iter()
                .map(|m| m.sessions.capacity() * 4)
                .sum::<usize>()
            + self.cache.capacity() * 16
            + self.store.as_ref().map_or(0, KeyStore::heap_bytes);
        let index_bytes = self.windows.capacity() * (16 + 4 + 1)
            + self
                .due
                .values()
                .map(|v| v.capacity() * 8 + 48)
                .sum::<usize>();
        ShardStats {
            keys: self.live_keys,
            open_windows: s.live,
            heap_bytes: slot_bytes + key_bytes + index_bytes,
        }
    }

    /// The key id of `key`, allocating it (and copying its values from `row`) if new.
    #[inline]
    fn key_id<F>(&mut self, key: Option<K>, view: &BatchView<'_, F>, row: usize) -> u32 {
        let found = match key {
            Some(k) => self.keys.get(&k).copied(),
            None => self.null_key,
        };
        if let Some(id) = found {
            return id;
        }
        let id = self.alloc_key(key);
        if let Some(store) = &mut self.store {
            let cols = view.key_columns;
            store.set(
                id as usize,
                cols.iter()
                    .map(|c| super::keys::read_value(c.as_ref(), row)),
            );
        }
        id
    }

    /// A fresh key id for `key` (values, if any, are set by the caller).
    pub fn alloc_key(&mut self, key: Option<K>) -> u32 {
        let meta = KeyMeta {
            key,
            open: 0,
            sessions: Vec::new(),
        };
        let id = match self.free_keys.pop() {
            Some(id) => {
                self.meta[id as usize] = meta;
                id
            }
            None => {
                self.meta.push(meta);
                self.cache
                    .extend(std::iter::repeat_n((i64::MIN, FREE), self.ways));
                (self.meta.len() - 1) as u32
            }
        };
        let base = id as usize * self.ways;
        self.cache[base..base + self.ways].fill((i64::MIN, FREE));
        match key {
            Some(k) => {
                self.keys.insert(k, id);
            }
            None => self.null_key = Some(id),
        }
        self.live_keys += 1;
        id
    }

    /// Whether `key` has open windows here.
    pub fn has_key(&self, key: Option<K>) -> bool {
        match key {
            Some(k) => self.keys.contains_key(&k),
            None => self.null_key.is_some(),
        }
    }

    /// Set the stored values of key `id` (checkpoint restore).
    pub fn set_key_values(&mut self, id: u32, values: Vec<KeyValue>) {
        if let Some(store) = &mut self.store {
            store.set(id as usize, values.into_iter());
        }
    }

    fn free_key(&mut self, id: u32) {
        match self.meta[id as usize].key {
            Some(k) => {
                self.keys.remove(&k);
            }
            None => self.null_key = None,
        }
        self.meta[id as usize].sessions = Vec::new();
        if let Some(store) = &mut self.store {
            store.clear(id as usize);
        }
        self.free_keys.push(id);
        self.live_keys -= 1;
    }

    /// A new open window of key `kid`: `lo` is its number (fixed) or start (session).
    pub fn alloc_slot(&mut self, kid: u32, lo: i64, end: i128) -> u32 {
        let s = &mut self.slots;
        let slot = match s.free.pop() {
            Some(x) => x,
            None => {
                s.key.push(FREE);
                s.lo.push(0);
                s.end.push(0);
                s.stamp.push(0);
                s.parent.push(0);
                s.count.push(0);
                (s.key.len() - 1) as u32
            }
        };
        let i = slot as usize;
        s.key[i] = kid;
        s.lo[i] = lo;
        s.end[i] = end;
        s.parent[i] = slot;
        s.count[i] = 0;
        for a in &mut s.accs {
            a.reset(i);
        }
        s.live += 1;
        self.meta[kid as usize].open += 1;
        self.due.entry(end).or_default().push((slot, s.stamp[i]));
        slot
    }

    fn free_slot(&mut self, slot: u32) {
        let s = &mut self.slots;
        let i = slot as usize;
        let kid = s.key[i];
        s.key[i] = FREE;
        s.stamp[i] = s.stamp[i].wrapping_add(1);
        s.free.push(slot);
        s.live -= 1;
        let m = &mut self.meta[kid as usize];
        m.open -= 1;
        if m.open == 0 {
            self.free_key(kid);
        }
    }

    /// Register an existing fixed window (restore); false if it already exists.
    pub fn insert_fixed(&mut self, kid: u32, k: i64, slot: u32) -> bool {
        self.windows.insert((kid, k), slot).is_none()
    }

    /// Register an existing session (restore); sessions are sorted by [`Shard::sort_sessions`].
    pub fn insert_session(&mut self, kid: u32, slot: u32) {
        self.meta[kid as usize].sessions.push(slot);
    }

    /// Sort every key's sessions by start; false if two sessions of a key overlap.
    pub fn sort_sessions(&mut self) -> bool {
        let (lo, end) = (&self.slots.lo, &self.slots.end);
        for m in &mut self.meta {
            m.sessions.sort_by_key(|&s| lo[s as usize]);
            if m.sessions
                .windows(2)
                .any(|w| end[w[0] as usize] > i128::from(lo[w[1] as usize]))
            {
                return false;
            }
        }
        true
    }

    #[inline]
    fn fixed_slot(&mut self, kid: u32, k: i64, size: i64, slide: i64) -> u32 {
        let w = kid as usize * self.ways + (k as usize & (self.ways - 1));
        let (ck, cs) = self.cache[w];
        if ck == k
            && cs != FREE
            && self.slots.key[cs as usize] == kid
            && self.slots.lo[cs as usize] == k
        {
            return cs;
        }
        let slot = match self.windows.get(&(kid, k)) {
            Some(&s) => s,
            None => {
                let s = self.alloc_slot(kid, k, assign::fixed_end(size, slide, k));
                self.windows.insert((kid, k), s);
                s
            }
        };
        self.cache[w] = (k, slot);
        slot
    }

    fn session_slot(&mut self, kid: u32, t: i64, gap: i64) -> u32 {
        let mut sessions = std::mem::take(&mut self.meta[kid as usize].sessions);
        let run = {
            let (lo, end) = (&self.slots.lo, &self.slots.end);
            assign::session_overlaps(
                sessions.len(),
                |i| (lo[sessions[i] as usize], end[sessions[i] as usize]),
                t,
                gap,
            )
        };
        let hi = assign::session_end(gap, t);
        let slot = if run.is_empty() {
            let s = self.alloc_slot(kid, t, hi);
            sessions.insert(run.start, s);
            s
        } else {
            let target = sessions[run.start];
            let ti = target as usize;
            let mut end = self.slots.end[ti].max(hi);
            self.slots.lo[ti] = self.slots.lo[ti].min(t);
            for &o in &sessions[run.start + 1..run.end] {
                let oi = o as usize;
                end = end.max(self.slots.end[oi]);
                self.slots.count[ti] += self.slots.count[oi];
                for a in &mut self.slots.accs {
                    a.merge(ti, oi);
                }
                self.slots.parent[oi] = target;
                self.merged.push(o);
            }
            self.slots.end[ti] = end;
            sessions.drain(run.start + 1..run.end);
            target
        };
        self.meta[kid as usize].sessions = sessions;
        slot
    }

    #[inline]
    fn find(&self, mut s: u32) -> u32 {
        while self.slots.parent[s as usize] != s {
            s = self.slots.parent[s as usize];
        }
        s
    }

    /// Assign and aggregate this shard's (non-late) rows of a batch, in input order.
    pub fn ingest<F: Fn(usize) -> Option<K>>(&mut self, view: &BatchView<'_, F>, rows: &[u32]) {
        let mut rbuf = std::mem::take(&mut self.rows_buf);
        let mut sbuf = std::mem::take(&mut self.slots_buf);
        rbuf.clear();
        sbuf.clear();
        match view.assigner {
            Assigner::Fixed { size, slide } if size == slide => {
                for &r in rows {
                    let t = view.times[r as usize];
                    let kid = self.key_id((view.key_at)(r as usize), view, r as usize);
                    let k = t.div_euclid(slide);
                    rbuf.push(r);
                    sbuf.push(self.fixed_slot(kid, k, size, slide));
                }
            }
            Assigner::Fixed { size, slide } => {
                for &r in rows {
                    let t = view.times[r as usize];
                    let kid = self.key_id((view.key_at)(r as usize), view, r as usize);
                    let (lo, hi) = assign::fixed_range(size, slide, t);
                    for k in lo..=hi {
                        rbuf.push(r);
                        sbuf.push(self.fixed_slot(kid, k, size, slide));
                    }
                }
            }
            Assigner::Session { gap } => {
                for &r in rows {
                    let t = view.times[r as usize];
                    let kid = self.key_id((view.key_at)(r as usize), view, r as usize);
                    rbuf.push(r);
                    sbuf.push(self.session_slot(kid, t, gap));
                }
                if !self.merged.is_empty() {
                    for s in sbuf.iter_mut() {
                        *s = self.find(*s);
                    }
                }
            }
        }
        let counts = &mut self.slots.count;
        for &s in &sbuf {
            counts[s as usize] += 1;
        }
        for (acc, &c) in self.slots.accs.iter_mut().zip(view.acc_columns) {
            acc.update(&view.values[c], &rbuf, &sbuf);
        }
        for o in std::mem::take(&mut self.merged) {
            self.free_slot(o);
        }
        self.rows_buf = rbuf;
        self.slots_buf = sbuf;
    }

    /// Slots of the windows to emit: every window with `end <= wm` (all of them if `wm` is
    /// None). They stay allocated until [`Shard::release`].
    pub fn take_due(&mut self, wm: Option<i64>) -> Vec<u32> {
        let limit = wm.map(i128::from);
        let mut out = Vec::new();
        while let Some(entry) = self.due.first_entry() {
            let e = *entry.key();
            if limit.is_some_and(|l| e > l) {
                break;
            }
            for (slot, stamp) in entry.remove() {
                let i = slot as usize;
                if self.slots.stamp[i] != stamp || self.slots.key[i] == FREE {
                    continue; // freed since (merged session or emitted)
                }
                let now = self.slots.end[i];
                if limit.is_none_or(|l| now <= l) {
                    out.push(slot);
                } else {
                    self.due.entry(now).or_default().push((slot, stamp));
                }
            }
        }
        out
    }

    /// Put slots taken by [`Shard::take_due`] back in the due index (their emission failed).
    pub fn requeue(&mut self, slots: &[u32]) {
        for &slot in slots {
            let i = slot as usize;
            self.due
                .entry(self.slots.end[i])
                .or_default()
                .push((slot, self.slots.stamp[i]));
        }
    }

    /// Free emitted slots (and keys left without open windows).
    pub fn release(&mut self, emitted: &[u32]) {
        for &slot in emitted {
            let i = slot as usize;
            let kid = self.slots.key[i];
            if self.session {
                let sessions = &mut self.meta[kid as usize].sessions;
                if let Some(p) = sessions.iter().position(|&x| x == slot) {
                    sessions.remove(p);
                }
            } else {
                self.windows.remove(&(kid, self.slots.lo[i]));
            }
            self.free_slot(slot);
        }
    }

    /// The key of key id `kid` (None: the null integer key).
    pub fn key_of(&self, kid: u32) -> Option<K> {
        self.meta[kid as usize].key
    }

    /// Every live slot (checkpoint), in slot order.
    pub fn live_slots(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.slots.key.len() as u32).filter(|&s| self.slots.key[s as usize] != FREE)
    }

    /// Every live key id with its key (checkpoint).
    pub fn live_keys(&self) -> impl Iterator<Item = (u32, Option<K>)> + '_ {
        self.meta
            .iter()
            .enumerate()
            .filter(|(_, m)| m.open > 0)
            .map(|(i, m)| (i as u32, m.key))
    }

    /// Drop a key id that got no window (restore of a key with no windows).
    pub fn drop_if_empty(&mut self, kid: u32) {
        if self.meta[kid as usize].open == 0 {
            self.free_key(kid);
        }
    }
}
