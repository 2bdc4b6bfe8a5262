//! Checkpoint and restore of a window operator.
//!
//! The bytes are the stream envelope ([`crate::checkpoint`]: magic, version, kind 6, length,
//! CRC32C) around this payload (little-endian; `str` = u64 length + UTF-8):
//!
//! ```text
//!  u8   payload version (1)
//!  config    u8 kind (1 tumbling, 2 hopping, 3 session), i64 size|gap ns, i64 slide ns,
//!            i64 allowed lateness ns, u64 n + n × str key column, str time column,
//!            u64 n + n × (str output, u8 function, u8 has column [, str column])
//!  counters  u64 rows_in, u64 late_rows, u64 windows_emitted
//!  u8   bound (0: no batch seen yet, end of payload)
//!  i64  ns per tick, str time column type (Arrow type as text)
//!  u8   key representation (0 none, 1 integer, 2 hashed)
//!  u64 n + n × (u8 key class, str output type)        key columns
//!  u64 n + n × u8 class (1 integer, 2 float)          aggregated value columns
//!  opt_i64 max event time seen (the watermark)
//!  u64 n keys, each: integer: u8 null, u64 value | hashed: u64 × 2 hash, then per key column
//!                    u8 valid + value (i64 | f64 | u8 | bytes) | none: nothing
//!  u64 n windows, each: u64 key index, i64 lo (window number or session start),
//!                    i128 end, u64 row count, then each accumulator (8 bytes; 16 for integer sums)
//! ```
//!
//! The layout is independent of the thread count: restore deals keys to its own shards.
//! Restore checks every count against the bytes left, every key index, that fixed windows have
//! the end their number implies, and that a key's sessions do not overlap; anything else is a
//! `Corrupt` error saying what was wrong, never a wrong state.

use std::str::FromStr;

use arrow_schema::DataType;
use minide_common::{Error, Result};

use super::aggs::{Acc, AggFn, AggSpec, NumClass};
use super::assign::{self, Assigner};
use super::keys::{self, KeyRepr, KeyValue};
use super::shard::{Shard, ShardKey};
use super::{Store, WindowConfig, WindowKind, WindowOperator};
use crate::checkpoint::{self, Kind, Reader, Writer};
use crate::dedup::exact::fmix64;
use crate::keyhash::KeyClass;
use crate::watermark::Unit;

const PAYLOAD_VERSION: u8 = 1;

impl WindowOperator {
    /// Serialize everything that affects future output (config, counters, watermark, windows).
    pub fn checkpoint(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(PAYLOAD_VERSION);
        write_config(&mut w, &self.config);
        w.u64(self.rows_in);
        w.u64(self.late_rows);
        w.u64(self.windows_emitted);
        match &self.bound {
            None => w.u8(0),
            Some(b) => {
                w.u8(1);
                w.i64(b.unit.nanos_per_tick);
                w.str(&b.time_type.to_string());
                w.u8(b.repr as u8);
                w.u64(b.key_classes.len() as u64);
                for (c, t) in b.key_classes.iter().zip(&b.key_types) {
                    w.u8(*c as u8);
                    w.str(&t.to_string());
                }
                w.u64(b.value_classes.len() as u64);
                for c in &b.value_classes {
                    w.u8(*c as u8);
                }
                w.opt_i64(b.watermark.max_seen);
                match &b.store {
                    Store::Int(s) => write_store(&mut w, s, b.repr),
                    Store::Hashed(s) => write_store(&mut w, s, b.repr),
                }
            }
        }
        checkpoint::seal(Kind::Window, &w.buf)
    }

    /// Rebuild an operator from [`WindowOperator::checkpoint`] bytes, on `threads` threads.
    pub fn restore(bytes: &[u8], threads: usize) -> Result<Self> {
        if !bytes.starts_with(checkpoint::MAGIC) {
            return Err(Error::corrupt(
                "not a window checkpoint (bad magic); minide before 0.2 kept window state as \
                 msgpack in Python and it cannot be converted: rebuild it by replaying the source",
            )
            .at_offset(0));
        }
        let payload = checkpoint::open(bytes, Kind::Window)?;
        let mut r = Reader::new(payload, "window checkpoint");
        let v = r.u8()?;
        if v != PAYLOAD_VERSION {
            return Err(Error::corrupt(format!(
                "window checkpoint payload version {v}; this minide reads version {PAYLOAD_VERSION}"
            )));
        }
        let config = read_config(&mut r)?;
        let mut op = WindowOperator::new(config, threads).map_err(|e| {
            Error::corrupt(format!("window checkpoint holds a bad configuration: {e}"))
        })?;
        op.rows_in = r.u64()?;
        op.late_rows = r.u64()?;
        op.windows_emitted = r.u64()?;
        match r.u8()? {
            0 => {}
            1 => {
                let nanos = r.i64()?;
                if nanos <= 0 {
                    return Err(Error::corrupt(format!("time unit of {nanos} ns")));
                }
                let unit = Unit {
                    nanos_per_tick: nanos,
                };
                let time_type = parse_type(&r.str()?)?;
                if !matches!(time_type, DataType::Int64 | DataType::Timestamp(_, _)) {
                    return Err(Error::corrupt(format!("time column type {time_type}")));
                }
                let repr = KeyRepr::from_code(r.u8()?)?;
                let nk = r.len(9)?;
                if nk != op.config.key_columns.len() {
                    return Err(Error::corrupt(format!(
                        "{nk} key column types for {} key columns",
                        op.config.key_columns.len()
                    )));
                }
                let mut classes = Vec::with_capacity(nk);
                let mut types = Vec::with_capacity(nk);
                for _ in 0..nk {
                    classes.push(KeyClass::from_code(r.u8()?)?);
                    types.push(parse_type(&r.str()?)?);
                }
                let nv = r.len(1)?;
                if nv != op.plan.columns.len() {
                    return Err(Error::corrupt(format!(
                        "{nv} value column classes for {} aggregated columns",
                        op.plan.columns.len()
                    )));
                }
                let values = (0..nv)
                    .map(|_| NumClass::from_code(r.u8()?))
                    .collect::<Result<Vec<_>>>()?;
                let max_seen = r.opt_i64()?;
                let mut b = op.bind(unit, time_type, classes, types, values);
                if b.repr != repr {
                    return Err(Error::corrupt(format!(
                        "key representation {repr:?} does not match the key column classes"
                    )));
                }
                b.watermark.max_seen = max_seen;
                let (assigner, classes) = (b.assigner, b.key_classes.clone());
                match &mut b.store {
                    Store::Int(s) => read_store(&mut r, s, repr, &classes, assigner)?,
                    Store::Hashed(s) => read_store(&mut r, s, repr, &classes, assigner)?,
                }
                op.bound = Some(b);
            }
            x => return Err(Error::corrupt(format!("bound flag {x}"))),
        }
        r.finish()?;
        Ok(op)
    }
}

fn parse_type(s: &str) -> Result<DataType> {
    DataType::from_str(s).map_err(|e| Error::corrupt(format!("column type {s:?}: {e}")))
}

fn write_config(w: &mut Writer, c: &WindowConfig) {
    let (kind, a, b) = match c.kind {
        WindowKind::Tumbling { size_ns } => (1, size_ns, 0),
        WindowKind::Hopping { size_ns, slide_ns } => (2, size_ns, slide_ns),
        WindowKind::Session { gap_ns } => (3, gap_ns, 0),
    };
    w.u8(kind);
    w.i64(a);
    w.i64(b);
    w.i64(c.allowed_lateness_ns);
    w.u64(c.key_columns.len() as u64);
    for k in &c.key_columns {
        w.str(k);
    }
    w.str(&c.time_column);
    w.u64(c.aggs.len() as u64);
    for a in &c.aggs {
        w.str(&a.output);
        w.u8(a.func.code());
        match &a.column {
            Some(col) => {
                w.u8(1);
                w.str(col);
            }
            None => w.u8(0),
        }
    }
}

fn read_config(r: &mut Reader<'_>) -> Result<WindowConfig> {
    let kind = r.u8()?;
    let (a, b) = (r.i64()?, r.i64()?);
    let kind = match kind {
        1 => WindowKind::Tumbling { size_ns: a },
        2 => WindowKind::Hopping {
            size_ns: a,
            slide_ns: b,
        },
        3 => WindowKind::Session { gap_ns: a },
        k => return Err(Error::corrupt(format!("unknown window kind {k}"))),
    };
    let allowed_lateness_ns = r.i64()?;
    let nk = r.len(8)?;
    let key_columns = (0..nk).map(|_| r.str()).collect::<Result<Vec<_>>>()?;
    let time_column = r.str()?;
    let na = r.len(10)?;
    let mut aggs = Vec::with_capacity(na);
    for _ in 0..na {
        let output = r.str()?;
        let func = AggFn::from_code(r.u8()?)?;
        let column = match r.u8()? {
            0 => None,
            1 => Some(r.str()?),
            x => return Err(Error::corrupt(format!("aggregate column flag {x}"))),
        };
        aggs.push(AggSpec {
            output,
            column,
            func,
        });
    }
    Ok(WindowConfig {
        kind,
        key_columns,
        time_column,
        allowed_lateness_ns,
        aggs,
    })
}

/// Keys as they are written: how a shard key is encoded and decoded.
trait CkptKey: ShardKey {
    fn write(k: Option<Self>, repr: KeyRepr, w: &mut Writer);
    fn read(r: &mut Reader<'_>, repr: KeyRepr) -> Result<Option<Self>>;
    /// Shard of a key among `n` (a power of two), as the batch path routes it.
    fn shard(k: Option<Self>, n: usize) -> usize;
}

fn top_bits(h: u64, n: usize) -> usize {
    if n <= 1 {
        0
    } else {
        (h >> (64 - n.trailing_zeros())) as usize
    }
}

impl CkptKey for u64 {
    fn write(k: Option<u64>, repr: KeyRepr, w: &mut Writer) {
        if repr == KeyRepr::Int {
            match k {
                None => w.u8(0),
                Some(v) => {
                    w.u8(1);
                    w.u64(v);
                }
            }
        }
    }
    fn read(r: &mut Reader<'_>, repr: KeyRepr) -> Result<Option<u64>> {
        if repr != KeyRepr::Int {
            return Ok(Some(0));
        }
        Ok(match r.u8()? {
            0 => None,
            1 => Some(r.u64()?),
            x => return Err(Error::corrupt(format!("integer key null flag {x}"))),
        })
    }
    fn shard(k: Option<u64>, n: usize) -> usize {
        k.map_or(0, |v| top_bits(fmix64(v), n))
    }
}

impl CkptKey for [u64; 2] {
    fn write(k: Option<[u64; 2]>, _: KeyRepr, w: &mut Writer) {
        let h = k.unwrap_or([0, 0]);
        w.u64(h[0]);
        w.u64(h[1]);
    }
    fn read(r: &mut Reader<'_>, _: KeyRepr) -> Result<Option<[u64; 2]>> {
        Ok(Some([r.u64()?, r.u64()?]))
    }
    fn shard(k: Option<[u64; 2]>, n: usize) -> usize {
        k.map_or(0, |h| top_bits(h[0], n))
    }
}

fn write_store<K: CkptKey>(w: &mut Writer, shards: &[Shard<K>], repr: KeyRepr) {
    // Keys, numbered in shard order; windows refer to them by number.
    let mut index: Vec<Vec<u64>> = Vec::with_capacity(shards.len());
    let nkeys: usize = shards.iter().map(|s| s.live_keys().count()).sum();
    w.u64(nkeys as u64);
    let mut next = 0u64;
    for s in shards {
        let mut idx = Vec::new();
        for (kid, key) in s.live_keys() {
            if idx.len() <= kid as usize {
                idx.resize(kid as usize + 1, u64::MAX);
            }
            idx[kid as usize] = next;
            next += 1;
            K::write(key, repr, w);
            if let Some(store) = &s.store {
                for c in 0..store_columns(s) {
                    keys::write_value(w, store.get(c, kid as usize));
                }
            }
        }
        index.push(idx);
    }
    let nwin: usize = shards.iter().map(|s| s.slots.live).sum();
    w.u64(nwin as u64);
    for (s, idx) in shards.iter().zip(&index) {
        let sl = &s.slots;
        for slot in s.live_slots() {
            let i = slot as usize;
            w.u64(idx[sl.key[i] as usize]);
            w.i64(sl.lo[i]);
            w.buf.extend_from_slice(&sl.end[i].to_le_bytes());
            w.u64(sl.count[i]);
            for a in &sl.accs {
                a.write(i, &mut w.buf);
            }
        }
    }
}

fn store_columns<K: ShardKey>(s: &Shard<K>) -> usize {
    s.store.as_ref().map_or(0, |st| st.columns())
}

fn read_store<K: CkptKey>(
    r: &mut Reader<'_>,
    shards: &mut [Shard<K>],
    repr: KeyRepr,
    classes: &[KeyClass],
    assigner: Assigner,
) -> Result<()> {
    let n = shards.len();
    let nkeys = r.len(1)?;
    let mut placed: Vec<(usize, u32)> = Vec::with_capacity(nkeys);
    for _ in 0..nkeys {
        let key = K::read(r, repr)?;
        let values = if repr == KeyRepr::Hashed {
            classes
                .iter()
                .map(|&c| keys::read_value_ckpt(r, c))
                .collect::<Result<Vec<KeyValue>>>()?
        } else {
            Vec::new()
        };
        let si = K::shard(key, n);
        let shard = &mut shards[si];
        if shard.has_key(key) {
            return Err(Error::corrupt(
                "a key appears twice in the window checkpoint",
            ));
        }
        let kid = shard.alloc_key(key);
        shard.set_key_values(kid, values);
        placed.push((si, kid));
    }
    let width: usize = shards
        .first()
        .map_or(0, |s| s.slots.accs.iter().map(Acc::width).sum());
    let nwin = r.len(8 + 8 + 16 + 8 + width)?;
    for _ in 0..nwin {
        let ki = r.u64()?;
        let &(si, kid) = placed
            .get(ki as usize)
            .ok_or_else(|| Error::corrupt(format!("window refers to key {ki} of {nkeys}")))?;
        let lo = r.i64()?;
        let mut e16 = [0u8; 16];
        e16.copy_from_slice(r.take(16)?);
        let end = i128::from_le_bytes(e16);
        let count = r.u64()?;
        match assigner {
            Assigner::Fixed { size, slide } => {
                if end != assign::fixed_end(size, slide, lo) {
                    return Err(Error::corrupt(format!(
                        "window {lo} ends at {end}, not at its number's end"
                    )));
                }
            }
            Assigner::Session { gap } => {
                if end < i128::from(lo) + i128::from(gap) {
                    return Err(Error::corrupt(format!(
                        "session [{lo}, {end}) is shorter than the gap {gap}"
                    )));
                }
            }
        }
        let shard = &mut shards[si];
        let slot = shard.alloc_slot(kid, lo, end);
        shard.slots.count[slot as usize] = count;
        for a in 0..shard.slots.accs.len() {
            let w = shard.slots.accs[a].width();
            let bytes = r.take(w)?;
            shard.slots.accs[a].read(slot as usize, bytes)?;
        }
        match assigner {
            Assigner::Fixed { .. } => {
                if !shard.insert_fixed(kid, lo, slot) {
                    return Err(Error::corrupt(format!(
                        "window {lo} of a key appears twice"
                    )));
                }
            }
            Assigner::Session { .. } => shard.insert_session(kid, slot),
        }
    }
    for (si, kid) in placed {
        shards[si].drop_if_empty(kid);
    }
    if !shards.iter_mut().all(Shard::sort_sessions) {
        return Err(Error::corrupt("two sessions of one key overlap"));
    }
    Ok(())
}
