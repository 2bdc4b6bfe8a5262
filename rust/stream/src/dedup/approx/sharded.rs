//! [`ShardedApprox`]: 16 approximate stores split by key hash, run in parallel; what the
//! deduplicator uses. Split from `approx.rs`, which holds one store ([`ApproxStore`]).

use super::*;

/// Shards of [`ShardedApprox`]; fixed, so checkpoints do not depend on the thread count.
pub const APPROX_SHARDS: usize = 16;
/// Below this many rows a batch is processed on the calling thread, row by row.
const PARALLEL_MIN_ROWS: usize = 32_768;
/// Rows a shard looks ahead when prefetching buckets: enough to cover a memory latency.
const PREFETCH_AHEAD: usize = 8;

/// Shard of a key: bits 40..44 of its first hash (the bucket index uses the top bits and the
/// fingerprint the second hash, so the shard is independent of both).
#[inline]
fn shard_of(key: &[u64; 2]) -> usize {
    ((key[0] >> 40) as usize) & (APPROX_SHARDS - 1)
}

/// The approximate store, split into [`APPROX_SHARDS`] independent [`ApproxStore`]s by key hash.
///
/// A key is only ever looked up in its own shard, and each shard keeps the sum of its tables'
/// rates within the full budget `p`, so a key not in the window matches with probability at
/// most `p` whatever shard it falls in. Shards never interact: each sees its own rows in input
/// order with the watermark of each row, so the answers are the ones one shard at a time would
/// give, and big batches run the shards in parallel (rayon).
#[derive(Debug)]
pub struct ShardedApprox {
    pub shards: Vec<ApproxStore>,
    /// Time of the first row the store decided, and whether the pooled sizing has run.
    pub start: Option<i64>,
    pub pooled: bool,
}

impl ShardedApprox {
    pub fn new(window: i64, lateness: i64, fpr: f64) -> Self {
        let shard = || {
            let mut s = ApproxStore::shard_of_n(window, lateness, fpr, APPROX_SHARDS as u64);
            s.defer_rate = true;
            s
        };
        ShardedApprox {
            shards: (0..APPROX_SHARDS).map(|_| shard()).collect(),
            start: None,
            pooled: false,
        }
    }

    /// The first row whose watermark plus lateness (the largest time seen) has moved
    /// `(window + lateness) / 48` past the first row's time: there the shards' first
    /// rate-sized tables are sized from the keys of all shards. A row of the stream, not of a
    /// batch, so any split of the stream gives the same tables.
    fn pool_row(&self, wms: &[i64]) -> Option<usize> {
        if self.pooled {
            return None;
        }
        let (start, s) = (self.start?, self.shards.first()?);
        let at = start.saturating_add((s.window.saturating_add(s.lateness) / 48).max(1));
        wms.iter().position(|&w| w.saturating_add(s.lateness) >= at)
    }

    /// Size every shard's first rate-sized table from the rate of all keys (16× the keys a
    /// shard has, so a quarter of its estimate's noise): each shard holds 1/16 of the hash
    /// space, so its steady state is the pooled one / 16 up to a ±0.2% Poisson spread (at
    /// ~400k keys per shard). A shard that already sized itself, or a stream too thin to
    /// measure yet, leaves the shards to size themselves.
    fn pool(&mut self) {
        self.pooled = true;
        let stats: Option<Vec<(u64, f64)>> = self
            .shards
            .iter()
            .map(|s| if s.rate_sized { None } else { s.rate() })
            .collect();
        for s in &mut self.shards {
            s.defer_rate = false;
        }
        let Some(stats) = stats else { return };
        let keys: u64 = stats.iter().map(|x| x.0).sum();
        if keys < RATE_KEYS {
            return;
        }
        let rate = stats.iter().map(|x| x.1).sum::<f64>() / self.shards.len() as f64;
        let margin = 1.0 + RATE_MARGIN / (keys as f64).sqrt();
        for s in &mut self.shards {
            let expected = s.live_for(rate) * margin;
            s.open_sized(expected);
        }
    }

    /// Decide the non-late `rows` (ascending) of a batch: `key(i)` is row i's key (two
    /// independent 64-bit hashes), `times[i]` its time and `wms[j]` the watermark at row
    /// `rows[j]`. Returns the emitted rows, ascending.
    pub fn process<F>(&mut self, key: F, times: &[i64], rows: &[u32], wms: &[i64]) -> Vec<u32>
    where
        F: Fn(usize) -> [u64; 2] + Sync,
    {
        debug_assert_eq!(rows.len(), wms.len());
        if let (None, Some(&i)) = (self.start, rows.first()) {
            self.start = Some(times[i as usize]);
        }
        if let Some(j) = self.pool_row(wms) {
            let mut out = self.run(&key, times, &rows[..j], &wms[..j]);
            self.pool();
            out.extend(self.run(&key, times, &rows[j..], &wms[j..]));
            return out;
        }
        self.run(&key, times, rows, wms)
    }

    fn run<F>(&mut self, key: &F, times: &[i64], rows: &[u32], wms: &[i64]) -> Vec<u32>
    where
        F: Fn(usize) -> [u64; 2] + Sync,
    {
        if rows.is_empty() {
            return Vec::new();
        }
        if rows.len() < PARALLEL_MIN_ROWS {
            let mut out = Vec::with_capacity(rows.len());
            let all: Vec<u32> = (0..rows.len() as u32).collect();
            observe_rows(
                &mut self.shards,
                shard_of,
                key,
                times,
                rows,
                wms,
                &all,
                &mut out,
            );
            return out;
        }
        crate::dedup::run_sharded(
            &mut self.shards,
            rows.len(),
            rows.iter()
                .enumerate()
                .map(|(j, &i)| (shard_of(&key(i as usize)), j as u32)),
            |shard, seq| {
                let mut out = Vec::with_capacity(seq.len());
                let one = std::slice::from_mut(shard);
                observe_rows(one, |_| 0, key, times, rows, wms, seq, &mut out);
                out
            },
        )
    }

    /// Run the sweeps due at `watermark` in every shard (in parallel when there is much state).
    pub fn expire(&mut self, watermark: i64) {
        if self.live_keys() >= PARALLEL_MIN_ROWS as u64 {
            self.shards.par_iter_mut().for_each(|s| s.expire(watermark));
        } else {
            self.shards.iter_mut().for_each(|s| s.expire(watermark));
        }
    }

    pub fn live_keys(&self) -> u64 {
        self.shards.iter().map(ApproxStore::live_keys).sum()
    }

    pub fn heap_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(ApproxStore::heap_bytes)
            .sum::<usize>()
            + self.shards.capacity() * std::mem::size_of::<ApproxStore>()
    }

    /// Current false-positive rate of a lookup: the worst shard's (a key tests one shard).
    pub fn false_positive_rate(&self) -> f64 {
        self.shards
            .iter()
            .map(ApproxStore::false_positive_rate)
            .fold(0.0, f64::max)
    }

    pub fn write(&self, w: &mut Writer) {
        w.opt_i64(self.start);
        w.u8(u8::from(self.pooled));
        w.u64(self.shards.len() as u64);
        for s in &self.shards {
            s.write(w);
        }
    }

    pub fn read(&mut self, r: &mut Reader<'_>) -> Result<()> {
        self.start = r.opt_i64()?;
        self.pooled = r.u8()? != 0;
        let n = r.u64()?;
        if n != self.shards.len() as u64 {
            return Err(Error::corrupt(format!(
                "approximate store of {n} shards; this version has {APPROX_SHARDS}"
            )));
        }
        for s in &mut self.shards {
            s.read(r)?;
            s.defer_rate = !self.pooled;
        }
        Ok(())
    }
}

/// `observe` over the rows `rows[j]` for `j` in `seq` (ascending), pushing the emitted ones to
/// `out`; `pick` maps a key to its store in `shards`. The buckets of the row `PREFETCH_AHEAD`
/// places ahead are requested before each row, so the random-access misses overlap.
#[allow(clippy::too_many_arguments)]
fn observe_rows<F: Fn(usize) -> [u64; 2]>(
    shards: &mut [ApproxStore],
    pick: impl Fn(&[u64; 2]) -> usize,
    key: &F,
    times: &[i64],
    rows: &[u32],
    wms: &[i64],
    seq: &[u32],
    out: &mut Vec<u32>,
) {
    for (n, &j) in seq.iter().enumerate() {
        if let Some(&a) = seq.get(n + PREFETCH_AHEAD) {
            let k = key(rows[a as usize] as usize);
            shards[pick(&k)].prefetch(k);
        }
        let i = rows[j as usize];
        let k = key(i as usize);
        if shards[pick(&k)].observe(k, times[i as usize], wms[j as usize]) {
            out.push(i);
        }
    }
}
