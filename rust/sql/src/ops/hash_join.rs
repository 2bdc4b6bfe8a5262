//! Hash join. The right input is the build side (hashed once), the left input the probe side
//! (morsel-parallel). Output columns: left ++ right (inner/outer), left only (semi/anti), or
//! left ++ a boolean mark (mark join, for IN/EXISTS under OR).
//!
//! ```text
//!  build: right morsels ─► concat ─► key → first row; next[row] chains equal keys
//!  probe: left morsel ─► keys ─► candidate (left row, right row) pairs ─► residual filter
//!         ─► emit by join kind; right/full joins also OR together "build row matched" bits
//! ```
//! SQL equality never matches NULL keys (unless `null_equal`, used by INTERSECT/EXCEPT).

use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use hashbrown::HashMap;
use minide_common::{Error, Result};
use rayon::prelude::*;

use super::Ctx;
use crate::expr::{eval, eval_predicate};
use crate::kernels::{NO_ROW, concat_chunks, mask_indices, take, take_chunk};
use crate::keys::{self, Keys};
use crate::plan::{Expr, JoinKind};
use crate::types::{Chunk, DType};

pub struct JoinSpec<'a> {
    pub kind: JoinKind,
    pub left_keys: &'a [Expr],
    pub right_keys: &'a [Expr],
    pub residual: Option<&'a Expr>,
    pub null_equal: bool,
    pub single_match: bool,
    pub left_types: &'a [DType],
    pub right_types: &'a [DType],
}

enum Table {
    /// Integer keys spanning a small range (TPC-H's dense surrogate keys): `heads[key - min]` is
    /// the first build row with that key, so a probe is a bounds check and one load, and a
    /// probe key outside the build side's range (most of them when the build side is filtered,
    /// TPC-H Q17's 204 parts) is rejected without hashing.
    Dense {
        min: i64,
        heads: Vec<u32>,
    },
    /// Hashed integer keys, with a bit per value of the keys' range when that range is not too
    /// wide: probes test the bit before hashing (TPC-H Q4: 57K orders' keys against 3.8M
    /// lineitems, 96% of which miss).
    Int(HashMap<i64, u32>, Option<KeyBits>),
    Pair(HashMap<i128, u32>),
    Bytes(HashMap<Vec<u8>, u32>),
}

struct Build {
    chunk: Chunk,
    table: Table,
    /// Next build row with the same key (NO_ROW ends the chain).
    next: Vec<u32>,
    any_null_key: bool,
    /// Whether each build row's key has a NULL.
    key_null: Vec<bool>,
}

fn build(right: Vec<Chunk>, spec: &JoinSpec<'_>) -> Result<Build> {
    build_from(right, spec.right_keys, spec.right_types, spec.null_equal)
}

fn build_from(
    input: Vec<Chunk>,
    key_exprs: &[Expr],
    types: &[DType],
    null_equal: bool,
) -> Result<Build> {
    let chunk = concat_chunks(&input, types)?;
    let key_cols = key_exprs
        .iter()
        .map(|e| eval(e, &chunk))
        .collect::<Result<Vec<_>>>()?;
    let k = keys::encode(&key_cols, chunk.len, null_equal || key_cols.is_empty())?;
    let key_null: Vec<bool> = (0..chunk.len).map(|i| k.has_null(i)).collect();
    let n = chunk.len;
    let mut next = vec![NO_ROW; n];
    let mut any_null_key = false;
    // Insert in reverse so chains list build rows in input order.
    let table = match &k {
        Keys::Int(vals, valid) if dense_range(vals, valid).is_some() => {
            let (min, span) = dense_range(vals, valid).unwrap_or((0, 0));
            let mut heads = vec![NO_ROW; span];
            for i in (0..n).rev() {
                if !valid[i] {
                    any_null_key = true;
                    continue;
                }
                let slot = &mut heads[(vals[i] - min) as usize];
                next[i] = *slot;
                *slot = i as u32;
            }
            Table::Dense { min, heads }
        }
        Keys::Int(vals, valid) => {
            let mut map: HashMap<i64, u32> = HashMap::with_capacity(n);
            for i in (0..n).rev() {
                if !valid[i] {
                    any_null_key = true;
                    continue;
                }
                let slot = map.entry(vals[i]).or_insert(NO_ROW);
                next[i] = *slot;
                *slot = i as u32;
            }
            Table::Int(map, KeyBits::new(vals, valid))
        }
        Keys::Pair(vals, valid) => {
            let mut map: HashMap<i128, u32> = HashMap::with_capacity(n);
            for i in (0..n).rev() {
                if !valid[i] {
                    any_null_key = true;
                    continue;
                }
                let slot = map.entry(vals[i]).or_insert(NO_ROW);
                next[i] = *slot;
                *slot = i as u32;
            }
            Table::Pair(map)
        }
        Keys::Bytes { .. } => {
            let mut map: HashMap<Vec<u8>, u32> = HashMap::with_capacity(n);
            for i in (0..n).rev() {
                if k.has_null(i) {
                    any_null_key = true;
                    if !null_equal {
                        continue;
                    }
                }
                let b = k.bytes(i);
                let slot = match map.get_mut(b) {
                    Some(s) => s,
                    None => map.entry(b.to_vec()).or_insert(NO_ROW),
                };
                next[i] = *slot;
                *slot = i as u32;
            }
            Table::Bytes(map)
        }
    };
    Ok(Build {
        chunk,
        table,
        next,
        any_null_key,
        key_null,
    })
}

/// Which values in `[min, min + span)` some build key has.
struct KeyBits {
    min: i64,
    span: u64,
    bits: Vec<u64>,
}

/// Widest key range a bit filter covers: 64M values (8 MB).
const KEY_BITS_MAX_SPAN: u64 = 1 << 26;

impl KeyBits {
    fn new(vals: &[i64], valid: &[bool]) -> Option<KeyBits> {
        let (lo, hi) = key_range(vals, valid)?;
        let span = hi as i128 - lo as i128 + 1;
        if span > KEY_BITS_MAX_SPAN as i128 {
            return None;
        }
        let span = span as u64;
        let mut bits = vec![0u64; span.div_ceil(64) as usize];
        for (v, ok) in vals.iter().zip(valid) {
            if *ok {
                let off = v.wrapping_sub(lo) as u64;
                bits[(off >> 6) as usize] |= 1 << (off & 63);
            }
        }
        Some(KeyBits {
            min: lo,
            span,
            bits,
        })
    }

    #[inline(always)]
    fn may_contain(&self, v: i64) -> bool {
        // v >= min, so the wrapping difference read as u64 is the exact offset
        let off = v.wrapping_sub(self.min) as u64;
        v >= self.min && off < self.span && (self.bits[(off >> 6) as usize] >> (off & 63)) & 1 == 1
    }
}

fn key_range(vals: &[i64], valid: &[bool]) -> Option<(i64, i64)> {
    let mut lo = i64::MAX;
    let mut hi = i64::MIN;
    for (v, ok) in vals.iter().zip(valid) {
        if *ok {
            lo = lo.min(*v);
            hi = hi.max(*v);
        }
    }
    (lo <= hi).then_some((lo, hi))
}

/// Largest key range a dense table may cover: 32M slots (128 MB of row numbers).
const DENSE_MAX_SPAN: u64 = 1 << 25;

/// `(min, span)` of the valid keys when a dense table is worth it: the range is at most four
/// slots per build row (or 1M slots, 4 MB, whatever the build size).
fn dense_range(vals: &[i64], valid: &[bool]) -> Option<(i64, usize)> {
    let (lo, hi) = key_range(vals, valid)?;
    let span = (hi as i128 - lo as i128 + 1) as u128;
    let budget = (4 * vals.len() as u64).clamp(1 << 20, DENSE_MAX_SPAN);
    (span <= budget as u128).then_some((lo, span as usize))
}

/// Candidate pairs (left row, right row) of one probe morsel with equal, non-NULL keys.
fn candidates(b: &Build, k: &Keys, null_equal: bool) -> (Vec<u32>, Vec<u32>) {
    let (mut li, mut ri) = (Vec::new(), Vec::new());
    let mut emit = |i: usize, head: u32| {
        let mut r = head;
        while r != NO_ROW {
            li.push(i as u32);
            ri.push(r);
            r = b.next[r as usize];
        }
    };
    // One loop per table/key layout: the layout is decided once per morsel, not per row.
    match (&b.table, k) {
        (Table::Dense { min, heads }, Keys::Int(vals, valid)) => {
            let span = heads.len() as u64;
            for (i, (v, ok)) in vals.iter().zip(valid).enumerate() {
                // v >= min, so the wrapping difference read as u64 is the exact offset
                let off = v.wrapping_sub(*min) as u64;
                if *ok && *v >= *min && off < span {
                    emit(i, heads[off as usize]);
                }
            }
        }
        (Table::Int(m, None), Keys::Int(vals, valid)) => {
            for (i, (v, ok)) in vals.iter().zip(valid).enumerate() {
                if *ok && let Some(h) = m.get(v) {
                    emit(i, *h);
                }
            }
        }
        (Table::Int(m, Some(bits)), Keys::Int(vals, valid)) => {
            for (i, (v, ok)) in vals.iter().zip(valid).enumerate() {
                if *ok
                    && bits.may_contain(*v)
                    && let Some(h) = m.get(v)
                {
                    emit(i, *h);
                }
            }
        }
        (Table::Pair(m), Keys::Pair(vals, valid)) => {
            for (i, (v, ok)) in vals.iter().zip(valid).enumerate() {
                if *ok && let Some(h) = m.get(v) {
                    emit(i, *h);
                }
            }
        }
        (Table::Bytes(m), _) => {
            for i in 0..k.len() {
                if k.has_null(i) && !null_equal {
                    continue;
                }
                if let Some(h) = m.get(k.bytes(i)) {
                    emit(i, *h);
                }
            }
        }
        _ => {}
    }
    (li, ri)
}

/// The joined rows with only the columns `used` materialized (others are all-NULL stand-ins):
/// enough to evaluate a residual predicate without gathering every column of every pair.
fn joined_for(left: &Chunk, li: &[u32], right: &Chunk, ri: &[u32], used: &[bool]) -> Result<Chunk> {
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(left.cols.len() + right.cols.len());
    for (k, c) in left.cols.iter().chain(right.cols.iter()).enumerate() {
        let from_left = k < left.cols.len();
        if used.get(k).copied().unwrap_or(true) {
            cols.push(if from_left {
                take(c, li)?
            } else {
                take(c, ri)?
            });
        } else {
            cols.push(arrow_array::new_null_array(c.data_type(), li.len()));
        }
    }
    Ok(Chunk::new(cols, li.len()))
}

/// Which input positions (left ++ right) an expression reads.
pub fn used_columns(e: &Expr, width: usize) -> Vec<bool> {
    fn walk(e: &Expr, out: &mut [bool]) {
        match e {
            Expr::Col(i) => {
                if let Some(x) = out.get_mut(*i) {
                    *x = true;
                }
            }
            Expr::Lit { .. } => {}
            Expr::Binary { l, r, .. } => {
                walk(l, out);
                walk(r, out);
            }
            Expr::Not(x) | Expr::Neg(x) | Expr::IsNull(x) | Expr::IsNotNull(x) => walk(x, out),
            Expr::Case {
                whens, otherwise, ..
            } => {
                for (c, v) in whens {
                    walk(c, out);
                    walk(v, out);
                }
                if let Some(o) = otherwise {
                    walk(o, out);
                }
            }
            Expr::Cast { expr, .. } | Expr::Like { expr, .. } | Expr::InList { expr, .. } => {
                walk(expr, out)
            }
            Expr::Func { args, .. } => args.iter().for_each(|a| walk(a, out)),
        }
    }
    let mut out = vec![false; width];
    walk(e, &mut out);
    out
}

fn joined(left: &Chunk, li: &[u32], right: &Chunk, ri: &[u32]) -> Result<Chunk> {
    let mut cols: Vec<ArrayRef> = left
        .cols
        .iter()
        .map(|c| take(c, li))
        .collect::<Result<_>>()?;
    for c in &right.cols {
        cols.push(take(c, ri)?);
    }
    Ok(Chunk::new(cols, li.len()))
}

struct ProbeOut {
    chunk: Chunk,
    /// Build rows matched by this morsel (right/full joins only).
    matched: Option<Vec<bool>>,
}

fn probe(b: &Build, left: &Chunk, spec: &JoinSpec<'_>) -> Result<ProbeOut> {
    let key_cols = spec
        .left_keys
        .iter()
        .map(|e| eval(e, left))
        .collect::<Result<Vec<_>>>()?;
    let force_bytes = spec.null_equal || key_cols.is_empty() || matches!(b.table, Table::Bytes(_));
    let k = keys::encode(&key_cols, left.len, force_bytes)?;
    let (mut li, mut ri) = candidates(b, &k, spec.null_equal);
    let mut pairs_chunk = None;
    if let Some(res) = spec.residual {
        let j = if matches!(spec.kind, JoinKind::Inner) {
            joined(left, &li, &b.chunk, &ri)?
        } else {
            let used = used_columns(res, left.cols.len() + b.chunk.cols.len());
            joined_for(left, &li, &b.chunk, &ri, &used)?
        };
        let mask = eval_predicate(res, &j)?;
        let keep = mask_indices(&mask);
        if keep.len() != li.len() {
            li = keep.iter().map(|k| li[*k as usize]).collect();
            ri = keep.iter().map(|k| ri[*k as usize]).collect();
            if matches!(spec.kind, JoinKind::Inner) {
                pairs_chunk = Some(take_chunk(&j, &keep)?);
            }
        } else if matches!(spec.kind, JoinKind::Inner) {
            pairs_chunk = Some(j);
        }
    }
    let n = left.len;
    let mut has_match = vec![false; n];
    for l in &li {
        if spec.single_match && has_match[*l as usize] {
            return Err(Error::InvalidArgument(
                "more than one row returned by a subquery used as an expression".into(),
            ));
        }
        has_match[*l as usize] = true;
    }
    let matched = if matches!(spec.kind, JoinKind::Right | JoinKind::Full) {
        let mut m = vec![false; b.chunk.len];
        for r in &ri {
            m[*r as usize] = true;
        }
        Some(m)
    } else {
        None
    };
    let chunk = match spec.kind {
        JoinKind::Inner => match pairs_chunk {
            Some(c) => c,
            None => joined(left, &li, &b.chunk, &ri)?,
        },
        JoinKind::Left | JoinKind::Full => {
            for (i, m) in has_match.iter().enumerate() {
                if !m {
                    li.push(i as u32);
                    ri.push(NO_ROW);
                }
            }
            joined(left, &li, &b.chunk, &ri)?
        }
        JoinKind::Right => joined(left, &li, &b.chunk, &ri)?,
        JoinKind::Semi => {
            let idx: Vec<u32> = (0..n as u32).filter(|i| has_match[*i as usize]).collect();
            take_chunk(left, &idx)?
        }
        JoinKind::Anti => {
            let idx: Vec<u32> = (0..n as u32).filter(|i| !has_match[*i as usize]).collect();
            take_chunk(left, &idx)?
        }
        JoinKind::NullAwareAnti => {
            let build_empty = b.chunk.len == 0;
            if !build_empty && b.any_null_key {
                take_chunk(left, &[])?
            } else {
                let idx: Vec<u32> = (0..n as u32)
                    .filter(|i| {
                        !has_match[*i as usize] && (build_empty || !k.has_null(*i as usize))
                    })
                    .collect();
                take_chunk(left, &idx)?
            }
        }
        JoinKind::Mark => {
            let build_empty = b.chunk.len == 0;
            let valid = BooleanBuffer::collect_bool(n, |i| {
                has_match[i] || build_empty || !(k.has_null(i) || b.any_null_key)
            });
            let mark = BooleanArray::new(
                BooleanBuffer::collect_bool(n, |i| has_match[i]),
                Some(NullBuffer::new(valid)),
            );
            let mut cols = left.cols.clone();
            cols.push(Arc::new(mark));
            Chunk::new(cols, n)
        }
    };
    Ok(ProbeOut { chunk, matched })
}

pub fn hash_join(
    ctx: &Ctx<'_>,
    left: Vec<Chunk>,
    right: Vec<Chunk>,
    spec: &JoinSpec<'_>,
) -> Result<Vec<Chunk>> {
    let _ = ctx;
    let b = build(right, spec)?;
    let outs = left
        .par_iter()
        .map(|c| probe(&b, c, spec))
        .collect::<Result<Vec<_>>>()?;
    let mut matched_all: Option<Vec<bool>> = None;
    let mut chunks = Vec::with_capacity(outs.len() + 1);
    for o in outs {
        if let Some(m) = o.matched {
            match &mut matched_all {
                None => matched_all = Some(m),
                Some(acc) => acc.iter_mut().zip(m).for_each(|(a, x)| *a |= x),
            }
        }
        if o.chunk.len > 0 {
            chunks.push(o.chunk);
        }
    }
    if matches!(spec.kind, JoinKind::Right | JoinKind::Full) {
        let matched = matched_all.unwrap_or_else(|| vec![false; b.chunk.len]);
        let ri: Vec<u32> = (0..b.chunk.len as u32)
            .filter(|r| !matched[*r as usize])
            .collect();
        if !ri.is_empty() {
            let li = vec![NO_ROW; ri.len()];
            let mut cols: Vec<ArrayRef> = spec
                .left_types
                .iter()
                .map(|t| crate::types::null_array(*t, ri.len()))
                .collect();
            let _ = &li;
            for c in &b.chunk.cols {
                cols.push(take(c, &ri)?);
            }
            chunks.push(Chunk::new(cols, ri.len()));
        }
    }
    Ok(chunks)
}

/// Semi/anti join that hashes the LEFT input and streams the right one, marking the left rows
/// that find a match; used when the left input is much smaller (TPC-H Q4: 5K orders against
/// 380K lineitems).
pub fn hash_join_build_left(
    left: Vec<Chunk>,
    right: Vec<Chunk>,
    spec: &JoinSpec<'_>,
) -> Result<Vec<Chunk>> {
    let b = build_from(left, spec.left_keys, spec.left_types, spec.null_equal)?;
    let n = b.chunk.len;
    struct Part {
        matched: Vec<bool>,
        rows: usize,
        any_null: bool,
    }
    let parts = right
        .par_iter()
        .map(|rc| {
            let key_cols = spec
                .right_keys
                .iter()
                .map(|e| eval(e, rc))
                .collect::<Result<Vec<_>>>()?;
            let force_bytes =
                spec.null_equal || key_cols.is_empty() || matches!(b.table, Table::Bytes(_));
            let k = keys::encode(&key_cols, rc.len, force_bytes)?;
            let any_null = (0..rc.len).any(|i| k.has_null(i));
            let (mut ri, mut li) = candidates(&b, &k, spec.null_equal);
            if let Some(res) = spec.residual {
                let used = used_columns(res, b.chunk.cols.len() + rc.cols.len());
                let j = joined_for(&b.chunk, &li, rc, &ri, &used)?;
                let keep = mask_indices(&eval_predicate(res, &j)?);
                li = keep.iter().map(|x| li[*x as usize]).collect();
                ri = keep.iter().map(|x| ri[*x as usize]).collect();
            }
            let _ = ri;
            let mut matched = vec![false; n];
            for l in li {
                matched[l as usize] = true;
            }
            Ok(Part {
                matched,
                rows: rc.len,
                any_null,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut matched = vec![false; n];
    let mut right_rows = 0;
    let mut right_null = false;
    for p in parts {
        matched.iter_mut().zip(p.matched).for_each(|(a, x)| *a |= x);
        right_rows += p.rows;
        right_null |= p.any_null;
    }
    let idx: Vec<u32> = match spec.kind {
        JoinKind::Semi => (0..n as u32).filter(|i| matched[*i as usize]).collect(),
        JoinKind::NullAwareAnti => {
            if right_rows > 0 && right_null {
                Vec::new()
            } else {
                (0..n as u32)
                    .filter(|i| {
                        !matched[*i as usize] && (right_rows == 0 || !b.key_null[*i as usize])
                    })
                    .collect()
            }
        }
        _ => (0..n as u32).filter(|i| !matched[*i as usize]).collect(),
    };
    Ok(vec![take_chunk(&b.chunk, &idx)?])
}
