//! Hash aggregate, partition-parallel: the morsels are split into one run per thread, each thread
//! builds a partial (group index + accumulators), and the partials are merged group by group.
//!
//! ```text
//!   morsels ──► thread 0: keys → group ids → acc.update ─┐
//!           └─► thread 1: keys → group ids → acc.update ─┴─► merge ─► decode keys + finish accs
//! ```

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use hashbrown::HashMap;
use minide_common::Result;
use rayon::prelude::*;

use super::Ctx;
use super::agg_state::Acc;
use crate::expr::eval;
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
                for i in 0..n {
                    let g = self.id_int(valid[i].then_some(vals[i]));
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
fn small_dict_gids(
    cols: &[ArrayRef],
    n: usize,
    index: &mut GroupIndex,
) -> Result<Option<Vec<u32>>> {
    const MAX_DISTINCT: usize = 64;
    if cols.is_empty() || !matches!(index, GroupIndex::Bytes { .. }) {
        return Ok(None);
    }
    let mut codes: Vec<Vec<u16>> = Vec::with_capacity(cols.len());
    let mut radix: Vec<usize> = Vec::with_capacity(cols.len());
    for c in cols {
        let Some(s) = c.as_string_opt::<i32>() else {
            return Ok(None);
        };
        let mut dict: HashMap<Option<&str>, u16> = HashMap::new();
        let mut col_codes = Vec::with_capacity(n);
        for i in 0..n {
            let v = if s.is_null(i) { None } else { Some(s.value(i)) };
            let next = dict.len() as u16;
            let code = *dict.entry(v).or_insert(next);
            if dict.len() > MAX_DISTINCT {
                return Ok(None);
            }
            col_codes.push(code);
        }
        radix.push(dict.len().max(1));
        codes.push(col_codes);
    }
    let combos: usize = radix.iter().product();
    if combos > MAX_DISTINCT * MAX_DISTINCT {
        return Ok(None);
    }
    let mut table = vec![u32::MAX; combos];
    let mut gids = Vec::with_capacity(n);
    for i in 0..n {
        let mut code = 0usize;
        for (cc, r) in codes.iter().zip(&radix) {
            code = code * r + cc[i] as usize;
        }
        let g = match table[code] {
            u32::MAX => {
                let one: Vec<ArrayRef> = cols.iter().map(|c| c.slice(i, 1)).collect();
                let k = keys::encode(&one, 1, true)?;
                let g = index.id_bytes(k.bytes(0));
                table[code] = g;
                g
            }
            g => g,
        };
        gids.push(g);
    }
    Ok(Some(gids))
}

fn build_partial(
    chunks: &[Chunk],
    groups: &[Expr],
    group_types: &[DType],
    aggs: &[AggCall],
    arg_types: &[Option<DType>],
) -> Result<Partial> {
    let mut index = GroupIndex::new(group_types);
    let mut accs = aggs
        .iter()
        .zip(arg_types)
        .map(|(a, t)| Acc::new(a.func, *t))
        .collect::<Result<Vec<_>>>()?;
    let mut gids = Vec::new();
    for c in chunks {
        let key_cols = groups
            .iter()
            .map(|g| eval(g, c))
            .collect::<Result<Vec<_>>>()?;
        if matches!(index, GroupIndex::Pair { .. }) {
            index.assign_pair(&key_cols, c.len, &mut gids)?;
        } else if let Some(small) = small_dict_gids(&key_cols, c.len, &mut index)? {
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
        let n = index.len();
        for (acc, call) in accs.iter_mut().zip(aggs) {
            acc.resize(n);
            let arg = match &call.arg {
                Some(e) => Some(eval(e, c)?),
                None => None,
            };
            acc.update(&gids, arg.as_ref())?;
        }
    }
    let n = index.len();
    for acc in accs.iter_mut() {
        acc.resize(n);
    }
    Ok(Partial { index, accs })
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

pub fn aggregate(
    ctx: &Ctx<'_>,
    input: Vec<Chunk>,
    in_types: &[DType],
    groups: &[Expr],
    aggs: &[AggCall],
    out_types: &[DType],
) -> Result<Vec<Chunk>> {
    let group_types = &out_types[..groups.len().min(out_types.len())];
    let _ = in_types;
    let arg_types = arg_types(aggs);
    let per = input.len().div_ceil(ctx.threads.max(1)).max(1);
    let mut partials = input
        .par_chunks(per)
        .map(|run| build_partial(run, groups, group_types, aggs, &arg_types))
        .collect::<Result<Vec<_>>>()?;
    let mut total = match partials.pop() {
        Some(p) => p,
        None => build_partial(&[], groups, group_types, aggs, &arg_types)?,
    };
    for p in partials {
        merge(&mut total, p);
    }
    let n = total.index.len();
    let mut cols = total.index.decode(group_types)?;
    for ((acc, call), at) in total.accs.into_iter().zip(aggs).zip(&arg_types) {
        cols.push(acc.finish(call.func, *at, call.ty)?);
    }
    Ok(vec![Chunk::new(cols, n)])
}
