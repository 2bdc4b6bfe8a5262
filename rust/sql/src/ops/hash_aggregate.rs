//! Hash aggregate, partition-parallel: the morsels are split into one run per thread, each thread
//! builds a partial (group index + accumulators), and the partials are merged group by group.
//!
//! ```text
//!   morsels ──► thread 0: keys → group ids → acc.update ─┐
//!           └─► thread 1: keys → group ids → acc.update ─┴─► merge ─► decode keys + finish accs
//! ```

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, BooleanArray};
use arrow_buffer::BooleanBuffer;
use hashbrown::HashMap;
use minide_common::Result;
use rayon::prelude::*;

use super::Ctx;
use super::agg_state::Acc;
use crate::expr::{eval, eval_memo, eval_predicate};
use crate::kernels::filter_chunk;
use crate::keys::{self, Keys, decode_ints};
use crate::plan::{AggCall, Expr};
use crate::types::{Chunk, DType};

/// Maps group keys to dense group ids.
enum GroupIndex {
    /// No GROUP BY: one group, present even over empty input.
    Single,
    Int {
        map: HashMap<i64, u32>,
        null_gid: Option<u32>,
        keys: Vec<Option<i64>>,
    },
    Bytes {
        map: HashMap<Vec<u8>, u32>,
        keys: Vec<Vec<u8>>,
    },
    /// Two integer-like keys: packed into an i128 when both are non-NULL.
    Pair {
        map: HashMap<i128, u32>,
        with_null: HashMap<(Option<i64>, Option<i64>), u32>,
        keys: Vec<(Option<i64>, Option<i64>)>,
    },
}

impl GroupIndex {
    fn new(types: &[DType]) -> GroupIndex {
        if types.is_empty() {
            GroupIndex::Single
        } else if keys::int_mode(types) {
            GroupIndex::Int {
                map: HashMap::new(),
                null_gid: None,
                keys: Vec::new(),
            }
        } else if types.len() == 2
            && types
                .iter()
                .all(|t| keys::int_mode(std::slice::from_ref(t)))
        {
            GroupIndex::Pair {
                map: HashMap::new(),
                with_null: HashMap::new(),
                keys: Vec::new(),
            }
        } else {
            GroupIndex::Bytes {
                map: HashMap::new(),
                keys: Vec::new(),
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            GroupIndex::Single => 1,
            GroupIndex::Int { keys, .. } => keys.len(),
            GroupIndex::Bytes { keys, .. } => keys.len(),
            GroupIndex::Pair { keys, .. } => keys.len(),
        }
    }

    fn id_int(&mut self, k: Option<i64>) -> u32 {
        let GroupIndex::Int {
            map,
            null_gid,
            keys,
        } = self
        else {
            return 0;
        };
        match k {
            None => *null_gid.get_or_insert_with(|| {
                keys.push(None);
                (keys.len() - 1) as u32
            }),
            Some(v) => *map.entry(v).or_insert_with(|| {
                keys.push(Some(v));
                (keys.len() - 1) as u32
            }),
        }
    }

    fn id_pair(&mut self, k: (Option<i64>, Option<i64>)) -> u32 {
        let GroupIndex::Pair {
            map,
            with_null,
            keys,
        } = self
        else {
            return 0;
        };
        let next = keys.len() as u32;
        let g = match k {
            (Some(a), Some(b)) => *map
                .entry((i128::from(a) << 64) | i128::from(b as u64))
                .or_insert(next),
            _ => *with_null.entry(k).or_insert(next),
        };
        if g == next {
            keys.push(k);
        }
        g
    }

    /// Group ids of a morsel's two integer key columns.
    fn assign_pair(&mut self, cols: &[ArrayRef], n: usize, out: &mut Vec<u32>) -> Result<()> {
        out.clear();
        let (a, b) = (keys::ints_of(&cols[0])?, keys::ints_of(&cols[1])?);
        let (na, nb) = (cols[0].logical_nulls(), cols[1].logical_nulls());
        for i in 0..n {
            let x = (!na.as_ref().is_some_and(|m| m.is_null(i))).then_some(a[i]);
            let y = (!nb.as_ref().is_some_and(|m| m.is_null(i))).then_some(b[i]);
            out.push(self.id_pair((x, y)));
        }
        Ok(())
    }

    fn id_bytes(&mut self, b: &[u8]) -> u32 {
        let GroupIndex::Bytes { map, keys } = self else {
            return 0;
        };
        if let Some(g) = map.get(b) {
            return *g;
        }
        let g = keys.len() as u32;
        keys.push(b.to_vec());
        map.insert(b.to_vec(), g);
        g
    }

    fn assign(&mut self, k: Option<&Keys>, n: usize, out: &mut Vec<u32>) {
        out.clear();
        match (k, &*self) {
            (None, _) | (_, GroupIndex::Single) => out.resize(n, 0),
            (Some(Keys::Int(vals, valid)), GroupIndex::Int { .. }) => {
                // Runs of equal keys (a table sorted or clustered by the key, as lineitem is
                // by l_orderkey) skip the hash lookup.
                let mut prev: Option<(Option<i64>, u32)> = None;
                for i in 0..n {
                    let k = valid[i].then_some(vals[i]);
                    let g = match prev {
                        Some((pk, pg)) if pk == k => pg,
                        _ => self.id_int(k),
                    };
                    prev = Some((k, g));
                    out.push(g);
                }
            }
            (Some(k), _) => {
                // Runs of equal keys (common in sorted or clustered data) skip the hash lookup.
                let mut prev: Option<(&[u8], u32)> = None;
                for i in 0..n {
                    let b = k.bytes(i);
                    let g = match prev {
                        Some((pb, pg)) if pb == b => pg,
                        _ => self.id_bytes(b),
                    };
                    prev = Some((b, g));
                    out.push(g);
                }
            }
        }
    }

    /// Key columns of all groups, in group-id order.
    fn decode(&self, types: &[DType]) -> Result<Vec<ArrayRef>> {
        match self {
            GroupIndex::Single => Ok(Vec::new()),
            GroupIndex::Int { keys, .. } => Ok(vec![decode_ints(keys, types[0])]),
            GroupIndex::Pair { keys, .. } => {
                let first: Vec<Option<i64>> = keys.iter().map(|k| k.0).collect();
                let second: Vec<Option<i64>> = keys.iter().map(|k| k.1).collect();
                Ok(vec![
                    decode_ints(&first, types[0]),
                    decode_ints(&second, types[1]),
                ])
            }
            GroupIndex::Bytes { keys, .. } => {
                let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
                keys::decode(&refs, types)
            }
        }
    }
}

struct Partial {
    index: GroupIndex,
    accs: Vec<Acc>,
}

fn arg_types(aggs: &[AggCall]) -> Vec<Option<DType>> {
    aggs.iter().map(|a| a.arg_ty).collect()
}

/// Group ids of one morsel when every key column is a string (or bool) column with few distinct
/// values in this morsel (TPC-H Q1's flags): each column is coded through a tiny per-morsel
/// dictionary, the codes are combined, and only one key per distinct combination goes through
/// the group index. Returns None when the keys do not qualify.
/// With `keep`, rows not kept get group id `u32::MAX` and never enter the group index.
fn small_dict_gids(
    cols: &[ArrayRef],
    n: usize,
    index: &mut GroupIndex,
    keep: Option<&BooleanBuffer>,
) -> Result<Option<Vec<u32>>> {
    const MAX_DISTINCT: usize = 64;
    if cols.is_empty() || !matches!(index, GroupIndex::Bytes { .. }) {
        return Ok(None);
    }
    if let Some(gids) = one_byte_gids(cols, n, index, keep)? {
        return Ok(Some(gids));
    }
    let mut codes: Vec<Vec<u16>> = Vec::with_capacity(cols.len());
    let mut radix: Vec<usize> = Vec::with_capacity(cols.len());
    for c in cols {
        let Some(s) = c.as_string_opt::<i32>() else {
            return Ok(None);
        };
        let Some(col_codes) = small_codes(s, n, MAX_DISTINCT) else {
            return Ok(None);
        };
        radix.push(col_codes.1.max(1));
        codes.push(col_codes.0);
    }
    let combos: usize = radix.iter().product();
    if combos > MAX_DISTINCT * MAX_DISTINCT {
        return Ok(None);
    }
    let mut table = vec![u32::MAX; combos];
    let mut gids = Vec::with_capacity(n);
    for i in 0..n {
        if keep.is_some_and(|k| !k.value(i)) {
            gids.push(u32::MAX);
            continue;
        }
        let mut code = 0usize;
        for (cc, r) in codes.iter().zip(&radix) {
            code = code * r + cc[i] as usize;
        }
        let g = match table[code] {
            u32::MAX => {
                let g = group_of_row(cols, i, index)?;
                table[code] = g;
                g
            }
            g => g,
        };
        gids.push(g);
    }
    Ok(Some(gids))
}

/// Per-row codes of a string column with at most `max` distinct values (None if more), and the
/// number of codes. One-byte strings (flags like TPC-H's) are coded through a 256-entry table,
/// the rest by a linear search of the few values seen so far.
/// [`small_dict_gids`] when every key is one or two string columns of one-byte values without
/// nulls (Q1's `l_returnflag`, `l_linestatus`): one pass over the raw bytes, each row's group
/// id looked up in a 64K-entry table indexed by the bytes themselves (no per-column codes).
fn one_byte_gids(
    cols: &[ArrayRef],
    n: usize,
    index: &mut GroupIndex,
    keep: Option<&BooleanBuffer>,
) -> Result<Option<Vec<u32>>> {
    let mut bytes: Vec<&[u8]> = Vec::with_capacity(2);
    for c in cols {
        let Some(s) = c.as_string_opt::<i32>() else {
            return Ok(None);
        };
        let offs = s.value_offsets();
        let (lo, hi) = (offs[0] as usize, offs[offs.len() - 1] as usize);
        if cols.len() > 2 || s.null_count() > 0 || s.len() != n || hi - lo != n {
            return Ok(None);
        }
        bytes.push(&s.value_data()[lo..hi]); // n values, n bytes: one byte each
    }
    let second: &[u8] = bytes.get(1).copied().unwrap_or(&[]);
    let code =
        |i: usize| usize::from(bytes[0][i]) << 8 | second.get(i).map_or(0, |b| usize::from(*b));
    let mut table = vec![u32::MAX; 1 << 16];
    let mut gids = Vec::with_capacity(n);
    for i in 0..n {
        let c = code(i);
        let g = match table[c] {
            u32::MAX if keep.is_some_and(|k| !k.value(i)) => u32::MAX,
            u32::MAX => {
                let g = group_of_row(cols, i, index)?;
                table[c] = g;
                g
            }
            g => g,
        };
        gids.push(g);
    }
    Ok(Some(gids))
}

/// The group id of row `i`'s key (entered in the group index on first sight): what the
/// per-morsel code tables above hold, looked up once per distinct code.
fn group_of_row(cols: &[ArrayRef], i: usize, index: &mut GroupIndex) -> Result<u32> {
    let one: Vec<ArrayRef> = cols.iter().map(|c| c.slice(i, 1)).collect();
    let k = keys::encode(&one, 1, true)?;
    Ok(index.id_bytes(k.bytes(0)))
}

fn small_codes(s: &arrow_array::StringArray, n: usize, max: usize) -> Option<(Vec<u16>, usize)> {
    const UNSET: u16 = u16::MAX;
    let offsets = s.value_offsets();
    let data = s.value_data();
    let nulls = s.nulls();
    let mut by_byte = [UNSET; 256];
    let mut others: Vec<(Option<&[u8]>, u16)> = Vec::new();
    let mut next: u16 = 0;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let code = if nulls.is_some_and(|m| m.is_null(i)) {
            match others.iter().find(|(v, _)| v.is_none()) {
                Some((_, c)) => *c,
                None => {
                    others.push((None, next));
                    next += 1;
                    next - 1
                }
            }
        } else {
            let (a, b) = (offsets[i] as usize, offsets[i + 1] as usize);
            if b == a + 1 {
                let slot = &mut by_byte[data[a] as usize];
                if *slot == UNSET {
                    *slot = next;
                    next += 1;
                }
                *slot
            } else {
                let v = &data[a..b];
                match others.iter().find(|(o, _)| *o == Some(v)) {
                    Some((_, c)) => *c,
                    None => {
                        others.push((Some(v), next));
                        next += 1;
                        next - 1
                    }
                }
            }
        };
        if next as usize > max {
            return None;
        }
        out.push(code);
    }
    Some((out, next as usize))
}

/// Rows where a predicate is TRUE (not FALSE, not NULL).
fn true_bits(mask: &BooleanArray) -> BooleanBuffer {
    match mask.nulls() {
        None => mask.values().clone(),
        Some(n) => mask.values() & n.inner(),
    }
}

struct PartialOut {
    partial: Partial,
    /// rows that passed the fused scan filter
    kept: u64,
}

fn build_partial(
    chunks: &[Chunk],
    pre_filter: Option<&Expr>,
    groups: &[Expr],
    group_types: &[DType],
    aggs: &[AggCall],
    arg_types: &[Option<DType>],
) -> Result<PartialOut> {
    let mut index = GroupIndex::new(group_types);
    let mut accs = aggs
        .iter()
        .zip(arg_types)
        .map(|(a, t)| Acc::new(a.func, *t))
        .collect::<Result<Vec<_>>>()?;
    let mut gids = Vec::new();
    let mut kept = 0u64;
    for c in chunks {
        // A fused scan filter: mostly-TRUE morsels are aggregated in place with the other rows
        // sent to a scratch group (no copy of every column); sparse ones are compacted first.
        let mut owned = None;
        let compacted;
        let mut drop_rows = None;
        if let Some(pred) = pre_filter {
            let bits = true_bits(&eval_predicate(pred, c)?);
            let sel = bits.count_set_bits();
            kept += sel as u64;
            if sel == 0 {
                continue;
            }
            if sel < c.len {
                if sel * 4 >= c.len * 3 {
                    drop_rows = Some(bits);
                } else {
                    owned = Some(filter_chunk(c, &BooleanArray::new(bits, None))?);
                }
            }
        } else {
            kept += c.len as u64;
        }
        let mut c = owned.as_ref().unwrap_or(c);
        let mut key_cols = groups
            .iter()
            .map(|g| eval(g, c))
            .collect::<Result<Vec<_>>>()?;
        // Rows failing the filter must not create groups: in-place aggregation needs a key path
        // that can skip them (no GROUP BY, or the small-dictionary codes); else compact.
        let mut assigned = false;
        if let Some(bits) = &drop_rows {
            if matches!(index, GroupIndex::Single) {
                gids.clear();
                gids.resize(c.len, 0);
                assigned = true;
            } else if let Some(small) = small_dict_gids(&key_cols, c.len, &mut index, Some(bits))? {
                gids = small;
                assigned = true;
            } else {
                let mask = BooleanArray::new(bits.clone(), None);
                compacted = Some(filter_chunk(c, &mask)?);
                c = compacted.as_ref().unwrap_or(c);
                key_cols = groups
                    .iter()
                    .map(|g| eval(g, c))
                    .collect::<Result<Vec<_>>>()?;
                drop_rows = None;
            }
        }
        if !assigned && matches!(index, GroupIndex::Pair { .. }) {
            index.assign_pair(&key_cols, c.len, &mut gids)?;
        } else if assigned {
            // group ids already set (in-place filtered path)
        } else if let Some(small) = small_dict_gids(&key_cols, c.len, &mut index, None)? {
            gids = small;
        } else {
            let k = if key_cols.is_empty() {
                None
            } else {
                Some(keys::encode(
                    &key_cols,
                    c.len,
                    !keys::int_mode(group_types),
                )?)
            };
            index.assign(k.as_ref(), c.len, &mut gids);
        }
        let mut n = index.len();
        if let Some(bits) = &drop_rows {
            // group n is scratch for this morsel only: truncated away below
            for (g, keep) in gids.iter_mut().zip(bits.iter()) {
                if !keep {
                    *g = n as u32;
                }
            }
            n += 1;
        }
        let mut memo = Vec::new();
        for (acc, call) in accs.iter_mut().zip(aggs) {
            acc.resize(n);
            let arg = match &call.arg {
                Some(e) => Some(eval_memo(e, c, &mut memo)?),
                None => None,
            };
            acc.update(&gids, arg.as_ref())?;
        }
        if drop_rows.is_some() {
            for acc in accs.iter_mut() {
                acc.resize(n - 1);
            }
        }
    }
    let n = index.len();
    for acc in accs.iter_mut() {
        acc.resize(n);
    }
    Ok(PartialOut {
        partial: Partial { index, accs },
        kept,
    })
}

fn merge(into: &mut Partial, other: Partial) {
    let map: Vec<u32> = match &other.index {
        GroupIndex::Single => vec![0],
        GroupIndex::Int { keys, .. } => keys.iter().map(|k| into.index.id_int(*k)).collect(),
        GroupIndex::Bytes { keys, .. } => keys.iter().map(|k| into.index.id_bytes(k)).collect(),
        GroupIndex::Pair { keys, .. } => keys.iter().map(|k| into.index.id_pair(*k)).collect(),
    };
    let n = into.index.len();
    for (acc, o) in into.accs.iter_mut().zip(other.accs) {
        acc.resize(n);
        acc.merge(o, &map);
    }
}

/// Aggregate `input`; with `pre_filter` (a scan's predicate fused into the aggregate) only rows
/// where it is TRUE count. Returns the output and the number of input rows that passed.
pub fn aggregate(
    ctx: &Ctx<'_>,
    input: Vec<Chunk>,
    pre_filter: Option<&Expr>,
    groups: &[Expr],
    aggs: &[AggCall],
    out_types: &[DType],
) -> Result<(Vec<Chunk>, u64)> {
    let group_types = &out_types[..groups.len().min(out_types.len())];
    let arg_types = arg_types(aggs);
    let per = input.len().div_ceil(ctx.threads.max(1)).max(1);
    let outs = input
        .par_chunks(per)
        .map(|run| build_partial(run, pre_filter, groups, group_types, aggs, &arg_types))
        .collect::<Result<Vec<_>>>()?;
    let kept = outs.iter().map(|p| p.kept).sum();
    let mut partials: Vec<Partial> = outs.into_iter().map(|p| p.partial).collect();
    let mut total = match partials.pop() {
        Some(p) => p,
        None => build_partial(&[], None, groups, group_types, aggs, &arg_types)?.partial,
    };
    for p in partials {
        merge(&mut total, p);
    }
    let n = total.index.len();
    let mut cols = total.index.decode(group_types)?;
    for ((acc, call), at) in total.accs.into_iter().zip(aggs).zip(&arg_types) {
        cols.push(acc.finish(call.func, *at, call.ty)?);
    }
    Ok((vec![Chunk::new(cols, n)], kept))
}
