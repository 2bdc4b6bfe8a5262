//! Window functions: for each call, sort row positions by (PARTITION BY, ORDER BY), walk each
//! partition in order and compute ranks, offsets (LAG/LEAD) or aggregates over the default frame
//! (the whole partition without ORDER BY; rows up to the current row and its peers with it).

use std::cmp::Ordering;

use arrow_array::{Array, ArrayRef};
use minide_common::{Error, Result};

use super::sort::compare_rows;
use crate::expr::decimal::overflow;
use crate::expr::eval;
use crate::kernels::concat_chunks;
use crate::plan::{Expr, Frame, FrameBound, SortKey, WinFunc, WindowCall};
use crate::types::{Chunk, DType, Scalar, array_from_scalars, scalar_at};

fn cmp_scalar(a: &Scalar, b: &Scalar) -> Ordering {
    match (a, b) {
        (Scalar::Int(x), Scalar::Int(y)) => x.cmp(y),
        (Scalar::Big(x), Scalar::Big(y)) => x.cmp(y),
        (Scalar::Int(x), Scalar::Big(y)) => i128::from(*x).cmp(y),
        (Scalar::Big(x), Scalar::Int(y)) => x.cmp(&i128::from(*y)),
        (Scalar::Float(x), Scalar::Float(y)) => crate::types::cmp_f64(*x, *y),
        (Scalar::Str(x), Scalar::Str(y)) => x.cmp(y),
        (Scalar::Bool(x), Scalar::Bool(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

/// Running aggregate state over the rows added so far.
struct Running {
    func: WinFunc,
    count: i64,
    /// exact sum of integers and decimals (scaled integers)
    sum_w: i128,
    sum_f: f64,
    best: Scalar,
}

impl Running {
    fn new(func: WinFunc) -> Running {
        Running {
            func,
            count: 0,
            sum_w: 0,
            sum_f: 0.0,
            best: Scalar::Null,
        }
    }

    fn add(&mut self, v: Scalar) {
        if self.func == WinFunc::CountStar {
            self.count += 1;
            return;
        }
        if matches!(v, Scalar::Null) {
            return;
        }
        self.count += 1;
        match &v {
            Scalar::Int(x) => {
                self.sum_w = self.sum_w.saturating_add(i128::from(*x));
                self.sum_f += *x as f64;
            }
            Scalar::Big(x) => {
                self.sum_w = self.sum_w.saturating_add(*x);
                self.sum_f += *x as f64;
            }
            Scalar::Float(x) => self.sum_f += *x,
            _ => {}
        }
        let better = match (&self.best, self.func) {
            (Scalar::Null, _) => true,
            (b, WinFunc::Min) => cmp_scalar(&v, b) == Ordering::Less,
            (b, WinFunc::Max) => cmp_scalar(&v, b) == Ordering::Greater,
            _ => false,
        };
        if better {
            self.best = v;
        }
    }

    /// The aggregate so far; a BIGINT sum outside BIGINT's range is an error (never wraps).
    fn value(&self, ty: DType) -> Result<Scalar> {
        Ok(match self.func {
            WinFunc::Count | WinFunc::CountStar => Scalar::Int(self.count),
            _ if self.count == 0 => Scalar::Null,
            WinFunc::Sum if ty == DType::Int64 => {
                Scalar::Int(i64::try_from(self.sum_w).map_err(|_| overflow("SUM", ty, self.sum_w))?)
            }
            WinFunc::Sum if matches!(ty, DType::Decimal(..)) => Scalar::Big(self.sum_w),
            WinFunc::Sum => Scalar::Float(self.sum_f),
            WinFunc::Avg => Scalar::Float(self.sum_f / self.count as f64),
            _ => self.best.clone(),
        })
    }
}

fn literal_int(e: Option<&Expr>, default: i64) -> Result<i64> {
    match e {
        None => Ok(default),
        Some(Expr::Lit {
            value: Scalar::Int(v),
            ..
        }) => Ok(*v),
        Some(_) => Err(Error::Unsupported(
            "LAG/LEAD offsets must be integer constants".into(),
        )),
    }
}

fn compute(all: &Chunk, call: &WindowCall) -> Result<ArrayRef> {
    let n = all.len;
    let part_cols = call
        .partition
        .iter()
        .map(|e| eval(e, all))
        .collect::<Result<Vec<_>>>()?;
    let order_cols = call
        .order
        .iter()
        .map(|k| eval(&k.expr, all))
        .collect::<Result<Vec<_>>>()?;
    let pkeys: Vec<SortKey> = call
        .partition
        .iter()
        .map(|e| SortKey {
            expr: e.clone(),
            desc: false,
            nulls_first: true,
        })
        .collect();
    let mut all_cols = part_cols.clone();
    all_cols.extend(order_cols.iter().cloned());
    let mut all_keys = pkeys.clone();
    all_keys.extend(call.order.iter().cloned());
    let full = compare_rows(&all_cols, &all_keys)?;
    let same_part = compare_rows(&part_cols, &pkeys)?;
    let peers = compare_rows(&order_cols, &call.order)?;
    let mut idx: Vec<u32> = (0..n as u32).collect();
    idx.sort_by(|a, b| full(*a as usize, *b as usize));
    let arg = match call.args.first() {
        Some(e) if !matches!(call.func, WinFunc::CountStar) => Some(eval(e, all)?),
        _ => None,
    };
    let value_at = |row: usize| -> Scalar {
        arg.as_ref()
            .map(|a| scalar_at(a, row))
            .unwrap_or(Scalar::Null)
    };
    let mut out = vec![Scalar::Null; n];
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && same_part(idx[start] as usize, idx[end] as usize) == Ordering::Equal {
            end += 1;
        }
        let part = &idx[start..end];
        match call.func {
            WinFunc::RowNumber | WinFunc::Rank | WinFunc::DenseRank => {
                let (mut rank, mut dense) = (0i64, 0i64);
                for (k, &r) in part.iter().enumerate() {
                    let new_peer_group =
                        k == 0 || peers(part[k - 1] as usize, r as usize) != Ordering::Equal;
                    if new_peer_group {
                        rank = k as i64 + 1;
                        dense += 1;
                    }
                    out[r as usize] = Scalar::Int(match call.func {
                        WinFunc::RowNumber => k as i64 + 1,
                        WinFunc::Rank => rank,
                        _ => dense,
                    });
                }
            }
            WinFunc::Lag | WinFunc::Lead => {
                let off = literal_int(call.args.get(1), 1)?;
                let default = match call.args.get(2) {
                    Some(Expr::Lit { value, .. }) => value.clone(),
                    Some(_) => {
                        return Err(Error::Unsupported(
                            "LAG/LEAD defaults must be constants".into(),
                        ));
                    }
                    None => Scalar::Null,
                };
                for (k, &r) in part.iter().enumerate() {
                    let j = if call.func == WinFunc::Lag {
                        k as i64 - off
                    } else {
                        k as i64 + off
                    };
                    out[r as usize] = if j >= 0 && (j as usize) < part.len() {
                        value_at(part[j as usize] as usize)
                    } else {
                        default.clone()
                    };
                }
            }
            _ if call.frame.is_some() => {
                let frame = call.frame.unwrap_or(Frame {
                    rows: false,
                    start: FrameBound::UnboundedPreceding,
                    end: FrameBound::CurrentRow,
                });
                framed(part, frame, &peers, call, &value_at, &mut out)?;
            }
            _ => {
                let mut acc = Running::new(call.func);
                if call.order.is_empty() {
                    part.iter().for_each(|&r| acc.add(value_at(r as usize)));
                    let v = acc.value(call.ty)?;
                    part.iter().for_each(|&r| out[r as usize] = v.clone());
                } else {
                    let mut g = 0;
                    while g < part.len() {
                        let mut h = g + 1;
                        while h < part.len()
                            && peers(part[g] as usize, part[h] as usize) == Ordering::Equal
                        {
                            h += 1;
                        }
                        part[g..h]
                            .iter()
                            .for_each(|&r| acc.add(value_at(r as usize)));
                        let v = acc.value(call.ty)?;
                        part[g..h].iter().for_each(|&r| out[r as usize] = v.clone());
                        g = h;
                    }
                }
            }
        }
        start = end;
    }
    let _ = arg.as_ref().map(|a| a.len());
    array_from_scalars(call.ty, &out)
}

/// Aggregates over an explicit frame, for the rows `part` of one partition (in window order).
/// Frame ends only move forward, so a frame starting at UNBOUNDED PRECEDING is accumulated
/// incrementally, one ending at UNBOUNDED FOLLOWING likewise from the back; other frames are
/// summed row by row (O(rows x frame width)).
fn framed(
    part: &[u32],
    frame: Frame,
    peers: &dyn Fn(usize, usize) -> Ordering,
    call: &WindowCall,
    value_at: &dyn Fn(usize) -> Scalar,
    out: &mut [Scalar],
) -> Result<()> {
    let len = part.len();
    // peer group [start, end) of each position (RANGE CURRENT ROW)
    let mut group_start = vec![0usize; len];
    let mut group_end = vec![len; len];
    if !frame.rows {
        let mut g = 0;
        while g < len {
            let mut h = g + 1;
            while h < len && peers(part[g] as usize, part[h] as usize) == Ordering::Equal {
                h += 1;
            }
            for k in g..h {
                group_start[k] = g;
                group_end[k] = h;
            }
            g = h;
        }
    }
    let off = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    let lo_of = |k: usize| -> usize {
        match frame.start {
            FrameBound::UnboundedPreceding => 0,
            FrameBound::Preceding(p) => k.saturating_sub(off(p)),
            FrameBound::CurrentRow if frame.rows => k,
            FrameBound::CurrentRow => group_start[k],
            FrameBound::Following(f) => k.saturating_add(off(f)).min(len),
            FrameBound::UnboundedFollowing => len,
        }
    };
    let hi_of = |k: usize| -> usize {
        match frame.end {
            FrameBound::UnboundedPreceding => 0,
            FrameBound::Preceding(p) => (k + 1).saturating_sub(off(p)),
            FrameBound::CurrentRow if frame.rows => k + 1,
            FrameBound::CurrentRow => group_end[k],
            FrameBound::Following(f) => k.saturating_add(off(f)).saturating_add(1).min(len),
            FrameBound::UnboundedFollowing => len,
        }
    };
    let row = |i: usize| part[i] as usize;
    if frame.start == FrameBound::UnboundedPreceding {
        let mut acc = Running::new(call.func);
        let mut added = 0;
        for k in 0..len {
            let hi = hi_of(k);
            while added < hi {
                acc.add(value_at(row(added)));
                added += 1;
            }
            out[row(k)] = acc.value(call.ty)?;
        }
    } else if frame.end == FrameBound::UnboundedFollowing {
        let mut acc = Running::new(call.func);
        let mut from = len;
        for k in (0..len).rev() {
            let lo = lo_of(k);
            while from > lo {
                from -= 1;
                acc.add(value_at(row(from)));
            }
            out[row(k)] = acc.value(call.ty)?;
        }
    } else {
        for k in 0..len {
            let mut acc = Running::new(call.func);
            for i in lo_of(k)..hi_of(k).max(lo_of(k)) {
                acc.add(value_at(row(i)));
            }
            out[row(k)] = acc.value(call.ty)?;
        }
    }
    Ok(())
}

pub fn window(input: Vec<Chunk>, calls: &[WindowCall], in_types: &[DType]) -> Result<Vec<Chunk>> {
    let all = concat_chunks(&input, in_types)?;
    drop(input);
    let mut cols = all.cols.clone();
    for call in calls {
        cols.push(compute(&all, call)?);
    }
    Ok(vec![Chunk::new(cols, all.len)])
}
