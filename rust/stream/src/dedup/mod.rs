//! The deduplicator: watermark + late side output + exact or approximate key state.
//!
//! `process(batch)` runs in three steps:
//! 1. read the time column and key columns ([`crate::watermark`], [`crate::keyhash`]);
//! 2. one sequential pass classifies rows in input order: null time or `t < watermark` → late;
//! 3. the remaining rows go to the store ([`exact`] sharded in parallel, or [`approx`]), which
//!    says which rows are first occurrences; then the watermark expires old state.
//!
//! The result is row indices (ascending) of the batch: first occurrences and late rows. The
//! Python facade takes them from the batch it already holds (no copy in Rust).

pub mod approx;
pub mod cuckoo;
pub mod exact;
pub mod flat_table;
pub mod semisort;
pub mod window_buckets;

use arrow_array::RecordBatch;
use minide_common::{Error, Result};

use crate::checkpoint::{self, Kind, Reader, Writer};
use crate::keyhash::{self, KeyClass, Keys};
use crate::watermark::{self, Unit, Watermark};
use approx::ShardedApprox;
use exact::{ExactStore, StoreKey, fmix64};
use window_buckets::Entry;

/// The parallel path of both stores: deal items to their shards (`assign` gives each item's
/// shard), run every shard's items on rayon (`run` returns the kept row indices), and merge the
/// kept rows back into ascending input order through a row mask.
pub(crate) fn run_sharded<S: Send>(
    shards: &mut [S],
    items: usize,
    assign: impl Iterator<Item = (usize, u32)>,
    run: impl Fn(&mut S, &[u32]) -> Vec<u32> + Sync,
) -> Vec<u32> {
    use rayon::prelude::*;
    let n = shards.len().max(1);
    let mut per_shard: Vec<Vec<u32>> = (0..n).map(|_| Vec::with_capacity(items / n + 64)).collect();
    for (shard, item) in assign {
        per_shard[shard].push(item);
    }
    let kept: Vec<Vec<u32>> = shards
        .par_iter_mut()
        .zip(per_shard.par_iter())
        .map(|(shard, items)| run(shard, items))
        .collect();
    let (Some(&lo), Some(&hi)) = (kept.iter().flatten().min(), kept.iter().flatten().max()) else {
        return Vec::new();
    };
    let mut mask = vec![false; (hi - lo) as usize + 1];
    for &i in kept.iter().flatten() {
        mask[(i - lo) as usize] = true;
    }
    mask.iter()
        .enumerate()
        .filter(|(_, m)| **m)
        .map(|(i, _)| i as u32 + lo)
        .collect()
}

/// Exact (hash table) or approximate (expiring cuckoo filters) state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Exact,
    Approx { false_positive_rate: f64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct DedupConfig {
    pub key_columns: Vec<String>,
    pub time_column: String,
    pub window_ns: i64,
    pub allowed_lateness_ns: i64,
    pub mode: Mode,
}

impl DedupConfig {
    fn validate(&self) -> Result<()> {
        if self.key_columns.is_empty() {
            return Err(Error::invalid("key must name at least one column"));
        }
        if self.window_ns <= 0 {
            return Err(Error::invalid(format!(
                "window must be positive, got {} ns",
                self.window_ns
            )));
        }
        if self.allowed_lateness_ns < 0 {
            return Err(Error::invalid(format!(
                "allowed_lateness must be >= 0, got {} ns",
                self.allowed_lateness_ns
            )));
        }
        if let Mode::Approx {
            false_positive_rate: p,
        } = self.mode
            && !(p > 0.0 && p < 0.5)
        {
            return Err(Error::invalid(format!(
                "false_positive_rate must be in (0, 0.5), got {p}"
            )));
        }
        Ok(())
    }
}

/// Counters and memory figures reported by `stats()`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    pub rows_in: u64,
    pub rows_out: u64,
    pub duplicates: u64,
    pub late: u64,
    /// Keys the state can still match (exact) or entries in the live filters (approx).
    pub live_keys: u64,
    pub state_bytes: u64,
}

/// Which rows of a batch to emit, and which went to the late side output.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub keep: Vec<u32>,
    pub late: Vec<u32>,
}

#[derive(Debug)]
enum Store {
    ExactInt(ExactStore<u64>),
    ExactHashed(ExactStore<[u64; 2]>),
    Approx(ShardedApprox),
}

/// State that exists once the first batch fixed the time unit and key classes.
#[derive(Debug)]
struct Bound {
    unit: Unit,
    classes: Vec<KeyClass>,
    watermark: Watermark,
    store: Store,
}

#[derive(Debug)]
pub struct Deduplicator {
    config: DedupConfig,
    bound: Option<Bound>,
    counts: Stats,
}

/// Store kind of the approximate store in checkpoints. Kind 3 was the time-sliced Bloom store,
/// kind 4 the cuckoo store with unsorted 15-bit slots and kind 5 one unsharded cuckoo store
/// with semi-sorted buckets; all are refused with a message rather than misread.
const APPROX_STORE_KIND: u8 = 6;

/// The null integer key in approximate mode (hashed keys encode null themselves).
const APPROX_NULL: [u64; 2] = [0x6e75_6c6c_6b65_7931, 0x2f0a_c3d1_99e4_5b27];

impl Deduplicator {
    pub fn new(config: DedupConfig) -> Result<Self> {
        config.validate()?;
        Ok(Deduplicator {
            config,
            bound: None,
            counts: Stats::default(),
        })
    }

    pub fn config(&self) -> &DedupConfig {
        &self.config
    }

    fn bind(&self, unit: Unit, classes: Vec<KeyClass>) -> Bound {
        let window = unit.ticks(self.config.window_ns).max(1);
        let lateness = unit.ticks(self.config.allowed_lateness_ns);
        let store = match self.config.mode {
            Mode::Approx {
                false_positive_rate,
            } => Store::Approx(ShardedApprox::new(window, lateness, false_positive_rate)),
            Mode::Exact if keyhash::is_int_key(&classes) => {
                Store::ExactInt(ExactStore::new(window, lateness))
            }
            Mode::Exact => Store::ExactHashed(ExactStore::new(window, lateness)),
        };
        Bound {
            unit,
            classes,
            watermark: Watermark::new(lateness),
            store,
        }
    }

    /// Deduplicate one batch; see the module docs.
    pub fn process(&mut self, batch: &RecordBatch) -> Result<Outcome> {
        let n = batch.num_rows();
        if n > u32::MAX as usize {
            return Err(Error::invalid(format!(
                "batch of {n} rows; split batches above {} rows",
                u32::MAX
            )));
        }
        let times = watermark::read_times(batch, &self.config.time_column)?;
        let expected = self.bound.as_ref().map_or(&[][..], |b| &b.classes[..]);
        let (cols, classes) = keyhash::key_columns(batch, &self.config.key_columns, expected)?;
        if self.bound.is_none() {
            self.bound = Some(self.bind(times.unit, classes));
        }
        let Some(bound) = self.bound.as_mut() else {
            unreachable!("bound just above")
        };
        if times.unit != bound.unit {
            return Err(Error::schema(format!(
                "time column {:?} changed unit ({} ns per tick, was {}) since the first batch",
                self.config.time_column, times.unit.nanos_per_tick, bound.unit.nanos_per_tick
            )));
        }
        let int_repr = keyhash::is_int_key(&bound.classes);
        let keys = keyhash::compute_keys(&cols, int_repr)?;
        let tv = &times.values;
        let time_null = |i: usize| times.nulls.as_ref().is_some_and(|nb| nb.is_null(i));
        let mut out = Outcome::default();

        match &mut bound.store {
            Store::Approx(store) => {
                // The store needs each row's watermark (sweeps due by then run before its
                // lookup, whatever the batch split), so the sequential pass records it.
                let mut rows = Vec::with_capacity(n);
                let mut wms = Vec::with_capacity(n);
                for (i, &t) in tv.iter().enumerate() {
                    if time_null(i) || bound.watermark.observe(t) {
                        out.late.push(i as u32);
                    } else {
                        rows.push(i as u32);
                        wms.push(bound.watermark.current().unwrap_or(i64::MIN));
                    }
                }
                out.keep = match &keys {
                    Keys::Int { values, nulls } => {
                        let key = |i: usize| {
                            if nulls.as_ref().is_some_and(|nb| nb.is_null(i)) {
                                APPROX_NULL
                            } else {
                                [fmix64(values[i]), fmix64(values[i] ^ 0x5851_f42d_4c95_7f2d)]
                            }
                        };
                        store.process(key, tv, &rows, &wms)
                    }
                    Keys::Hashed(h) => store.process(|i| h[i], tv, &rows, &wms),
                };
            }
            store => {
                let mut rows = Vec::with_capacity(n);
                let mut null_rows = Vec::new();
                let key_null = match &keys {
                    Keys::Int { nulls, .. } => nulls.as_ref(),
                    Keys::Hashed(_) => None,
                };
                for (i, &t) in tv.iter().enumerate() {
                    if time_null(i) || bound.watermark.observe(t) {
                        out.late.push(i as u32);
                    } else if key_null.is_some_and(|nb| nb.is_null(i)) {
                        null_rows.push(i as u32);
                    } else {
                        rows.push(i as u32);
                    }
                }
                let mut keep = match (store, &keys) {
                    (Store::ExactInt(s), Keys::Int { values, .. }) => {
                        let mut k = s.process(values, tv, &rows);
                        let nulls: Vec<u32> = null_rows
                            .iter()
                            .copied()
                            .filter(|&i| s.observe_null(tv[i as usize]))
                            .collect();
                        if !nulls.is_empty() {
                            k.extend(nulls);
                            k.sort_unstable();
                        }
                        k
                    }
                    (Store::ExactHashed(s), Keys::Hashed(h)) => s.process(h, tv, &rows),
                    _ => {
                        return Err(Error::schema(
                            "key representation changed between batches".to_string(),
                        ));
                    }
                };
                out.keep.append(&mut keep);
            }
        }
        if let Some(wm) = bound.watermark.current() {
            match &mut bound.store {
                Store::ExactInt(s) => s.expire(wm),
                Store::ExactHashed(s) => s.expire(wm),
                Store::Approx(s) => s.expire(wm),
            }
        }
        let c = &mut self.counts;
        c.rows_in += n as u64;
        c.rows_out += out.keep.len() as u64;
        c.late += out.late.len() as u64;
        c.duplicates += (n - out.keep.len() - out.late.len()) as u64;
        Ok(out)
    }

    /// Current watermark in the time column's unit; `None` before the first row.
    pub fn watermark(&self) -> Option<i64> {
        self.bound.as_ref().and_then(|b| b.watermark.current())
    }

    /// Nanoseconds per tick of the time column, once known.
    pub fn time_unit_nanos(&self) -> Option<i64> {
        self.bound.as_ref().map(|b| b.unit.nanos_per_tick)
    }

    pub fn stats(&self) -> Stats {
        let mut s = self.counts;
        if let Some(b) = &self.bound {
            let (live, bytes) = match &b.store {
                Store::ExactInt(x) => (x.live_keys() as u64, x.heap_bytes()),
                Store::ExactHashed(x) => (x.live_keys() as u64, x.heap_bytes()),
                Store::Approx(x) => (x.live_keys(), x.heap_bytes()),
            };
            s.live_keys = live;
            s.state_bytes = bytes as u64;
        }
        s
    }

    /// The exact store's layout (shards, table slots, buckets), or `None` before the first batch
    /// and in approximate mode.
    pub fn exact_layout(&self) -> Option<exact::ExactLayout> {
        match &self.bound.as_ref()?.store {
            Store::ExactInt(s) => Some(s.layout()),
            Store::ExactHashed(s) => Some(s.layout()),
            Store::Approx(_) => None,
        }
    }

    /// Serialize everything that affects future answers (config, counters, watermark, keys).
    pub fn checkpoint(&self) -> Vec<u8> {
        let mut w = Writer::default();
        let c = &self.config;
        w.u64(c.key_columns.len() as u64);
        for k in &c.key_columns {
            w.str(k);
        }
        w.str(&c.time_column);
        w.i64(c.window_ns);
        w.i64(c.allowed_lateness_ns);
        match c.mode {
            Mode::Exact => {
                w.u8(0);
                w.f64(0.0);
            }
            Mode::Approx {
                false_positive_rate,
            } => {
                w.u8(1);
                w.f64(false_positive_rate);
            }
        }
        for v in [
            self.counts.rows_in,
            self.counts.rows_out,
            self.counts.duplicates,
            self.counts.late,
        ] {
            w.u64(v);
        }
        match &self.bound {
            None => w.u8(0),
            Some(b) => {
                w.u8(1);
                w.i64(b.unit.nanos_per_tick);
                w.u64(b.classes.len() as u64);
                for c in &b.classes {
                    w.u8(*c as u8);
                }
                w.opt_i64(b.watermark.max_seen);
                match &b.store {
                    Store::ExactInt(s) => {
                        w.u8(1);
                        write_exact(&mut w, s);
                    }
                    Store::ExactHashed(s) => {
                        w.u8(2);
                        write_exact(&mut w, s);
                    }
                    Store::Approx(s) => {
                        w.u8(APPROX_STORE_KIND);
                        s.write(&mut w);
                    }
                }
            }
        }
        checkpoint::seal(Kind::Dedup, &w.buf)
    }

    /// Rebuild a deduplicator from [`Deduplicator::checkpoint`] bytes.
    pub fn restore(bytes: &[u8]) -> Result<Self> {
        let payload = checkpoint::open(bytes, Kind::Dedup)?;
        let mut r = Reader::new(payload, "dedup checkpoint");
        let nk = r.len(8)?;
        let key_columns = (0..nk).map(|_| r.str()).collect::<Result<Vec<_>>>()?;
        let time_column = r.str()?;
        let window_ns = r.i64()?;
        let allowed_lateness_ns = r.i64()?;
        let mode = match (r.u8()?, r.f64()?) {
            (0, _) => Mode::Exact,
            (1, p) => Mode::Approx {
                false_positive_rate: p,
            },
            (m, _) => return Err(Error::corrupt(format!("unknown dedup mode {m}"))),
        };
        let config = DedupConfig {
            key_columns,
            time_column,
            window_ns,
            allowed_lateness_ns,
            mode,
        };
        let mut d = Deduplicator::new(config).map_err(|e| Error::corrupt(e.to_string()))?;
        d.counts.rows_in = r.u64()?;
        d.counts.rows_out = r.u64()?;
        d.counts.duplicates = r.u64()?;
        d.counts.late = r.u64()?;
        if r.u8()? == 1 {
            let nanos = r.i64()?;
            if nanos <= 0 {
                return Err(Error::corrupt(format!("time unit of {nanos} ns")));
            }
            let unit = Unit {
                nanos_per_tick: nanos,
            };
            let nc = r.len(1)?;
            let classes = (0..nc)
                .map(|_| KeyClass::from_code(r.u8()?))
                .collect::<Result<Vec<_>>>()?;
            let max_seen = r.opt_i64()?;
            let mut b = d.bind(unit, classes);
            b.watermark.max_seen = max_seen;
            let kind = r.u8()?;
            match (&mut b.store, kind) {
                (Store::ExactInt(s), 1) => read_exact(&mut r, s)?,
                (Store::ExactHashed(s), 2) => read_exact(&mut r, s)?,
                (Store::Approx(s), APPROX_STORE_KIND) => s.read(&mut r)?,
                (Store::Approx(_), 3) => {
                    return Err(Error::corrupt(
                        "approximate-mode checkpoint from an older minide (time-sliced Bloom \
                         filters, store kind 3); this version stores expiring cuckoo filters \
                         with semi-sorted buckets in 16 shards (kind 6) and cannot convert it: \
                         rebuild the state by replaying the source",
                    ));
                }
                (Store::Approx(_), 4) => {
                    return Err(Error::corrupt(
                        "approximate-mode checkpoint from an older minide (cuckoo filters with \
                         unsorted buckets, store kind 4); this version stores semi-sorted \
                         buckets in 16 shards (kind 6) and cannot convert it: rebuild the state \
                         by replaying the source",
                    ));
                }
                (Store::Approx(_), 5) => {
                    return Err(Error::corrupt(
                        "approximate-mode checkpoint from an older minide (one unsharded \
                         cuckoo store, store kind 5); this version splits the keys into 16 \
                         shards with their own filters (kind 6) and cannot convert it: rebuild \
                         the state by replaying the source",
                    ));
                }
                (_, k) => {
                    return Err(Error::corrupt(format!(
                        "store kind {k} does not match the checkpoint's mode and key columns"
                    )));
                }
            }
            d.bound = Some(b);
        }
        r.finish()?;
        Ok(d)
    }
}

fn write_exact<K: StoreKey>(w: &mut Writer, s: &ExactStore<K>) {
    let (entries, null_time) = s.live_entries();
    w.opt_i64(null_time);
    w.u64(entries.len() as u64);
    for e in &entries {
        e.key.write(&mut w.buf);
        w.i64(e.time);
    }
}

fn read_exact<K: StoreKey>(r: &mut Reader<'_>, s: &mut ExactStore<K>) -> Result<()> {
    let null_time = r.opt_i64()?;
    let n = r.len(K::BYTES + 8)?;
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        let key = K::read(r.take(K::BYTES)?).ok_or_else(|| Error::corrupt("short key"))?;
        let time = r.i64()?;
        entries.push(Entry { key, time });
    }
    s.load(&entries, null_time);
    Ok(())
}

#[cfg(test)]
mod tests;
