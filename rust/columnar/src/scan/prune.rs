//! Pruning: can any row of a row group (or of a page range, or of a file) satisfy the
//! predicate? Decided from evidence in the file without decoding data pages:
//!
//! 1. min/max statistics and null counts of the column chunks ([`Summary`]);
//! 2. Bloom filters, for `=` and `IN` leaves;
//! 3. dictionaries: a chunk whose data pages are all dictionary-encoded holds only values of
//!    its dictionary, so a leaf no dictionary value satisfies is false for every row;
//! 4. the page index (ColumnIndex/OffsetIndex): the same summaries per page, giving the row
//!    ranges worth decoding ([`select_pages`]).
//!
//! Three-valued logic makes `NOT` safe: every node yields the outcomes it may take over the
//! rows ([`Maybe`]: true, false, unknown), so `NOT a` may be true exactly where `a` may be false.

use std::collections::HashMap;

use arrow_schema::DataType;
use minide_common::Result;

use super::dictionary::dictionary_values;
use super::predicate::{CmpOp, Literal, Predicate, Val, compare};
use super::stats::{Scalar, decode};
use crate::parquet::reader::ParquetFile;

/// The outcomes a predicate may take over a set of rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Maybe {
    pub t: bool,
    pub f: bool,
    pub n: bool,
}

const ANY: Maybe = Maybe {
    t: true,
    f: true,
    n: true,
};

/// What is known of one column over a set of rows.
#[derive(Clone, Debug)]
pub struct Summary {
    pub min: Option<Scalar>,
    pub max: Option<Scalar>,
    pub nulls: Option<u64>,
    pub rows: u64,
    /// Float columns: NaN is left out of min/max, so any comparison may be unknown.
    pub float: bool,
}

/// Value-level evidence for a leaf (from a Bloom filter or a dictionary): whether some
/// non-null value may make it true / false. `None`: no evidence.
pub type Probe<'a> = dyn FnMut(&Predicate) -> Option<(bool, bool)> + 'a;

/// The outcomes `p` may take given per-column summaries and probes.
pub fn possible(
    p: &Predicate,
    summary: &dyn Fn(&str) -> Option<Summary>,
    probe: &mut Probe<'_>,
) -> Maybe {
    match p {
        Predicate::And(a, b) => {
            let (x, y) = (possible(a, summary, probe), possible(b, summary, probe));
            Maybe {
                t: x.t && y.t,
                f: x.f || y.f,
                n: x.n || y.n,
            }
        }
        Predicate::Or(a, b) => {
            let (x, y) = (possible(a, summary, probe), possible(b, summary, probe));
            Maybe {
                t: x.t || y.t,
                f: x.f && y.f,
                n: x.n || y.n,
            }
        }
        Predicate::Not(a) => {
            let x = possible(a, summary, probe);
            Maybe {
                t: x.f,
                f: x.t,
                n: x.n,
            }
        }
        Predicate::Const(c) => Maybe {
            t: *c == Some(true),
            f: *c == Some(false),
            n: c.is_none(),
        },
        leaf => {
            let Some(s) = leaf.leaf_column().and_then(summary) else {
                return ANY;
            };
            leaf_possible(leaf, &s, probe)
        }
    }
}

fn leaf_possible(p: &Predicate, s: &Summary, probe: &mut Probe<'_>) -> Maybe {
    if let Predicate::IsNull { negated, .. } = p {
        let Some(k) = s.nulls else { return ANY };
        let (has_null, has_val) = (k > 0, k < s.rows);
        let (t, f) = if *negated {
            (has_val, has_null)
        } else {
            (has_null, has_val)
        };
        return Maybe { t, f, n: false };
    }
    if s.nulls == Some(s.rows) {
        // Only nulls: every comparison is unknown.
        return Maybe {
            t: false,
            f: false,
            n: s.rows > 0,
        };
    }
    let may_null = s.nulls != Some(0) || s.float;
    let (mut t, mut f, lit_null) = range_outcomes(p, s);
    if (t || f)
        && let Some((pt, pf)) = probe(p)
    {
        t &= pt;
        f &= pf;
    }
    Maybe {
        t,
        f,
        n: may_null || lit_null,
    }
}

/// (may be true, may be false, a null literal makes some row unknown) for a comparison or IN
/// over values in [min, max].
fn range_outcomes(p: &Predicate, s: &Summary) -> (bool, bool, bool) {
    let (Some(lo), Some(hi)) = (&s.min, &s.max) else {
        return (true, true, true);
    };
    let (lo, hi) = (lo.val(), hi.val());
    let bounds = |lit: &Literal| -> Option<(std::cmp::Ordering, std::cmp::Ordering)> {
        Some((compare(&lo, lit)?, compare(&hi, lit)?))
    };
    use std::cmp::Ordering::*;
    match p {
        Predicate::Cmp { op, value, .. } => {
            if *value == Literal::Null {
                return (false, false, true);
            }
            let Some((l, h)) = bounds(value) else {
                return (true, true, true);
            };
            let all_eq = l == Equal && h == Equal;
            let straddles = l != Greater && h != Less;
            match op {
                CmpOp::Eq => (straddles, !all_eq, false),
                CmpOp::Ne => (!all_eq, straddles, false),
                CmpOp::Lt => (l == Less, h != Less, false),
                CmpOp::Le => (l != Greater, h == Greater, false),
                CmpOp::Gt => (h == Greater, l != Greater, false),
                CmpOp::Ge => (h != Less, l == Less, false),
            }
        }
        Predicate::In {
            values, negated, ..
        } => {
            let has_null = values.contains(&Literal::Null);
            let (mut hit, mut single) = (false, false);
            for v in values.iter().filter(|v| **v != Literal::Null) {
                match bounds(v) {
                    None => return (true, true, true),
                    Some((l, h)) => {
                        hit |= l != Greater && h != Less;
                        single |= l == Equal && h == Equal;
                    }
                }
            }
            // IN: true on a hit; false on a miss without a null in the list, else unknown.
            let miss = !single;
            if *negated {
                (miss && !has_null, hit, has_null)
            } else {
                (hit, miss && !has_null, has_null)
            }
        }
        // a join's keys: true only if one lies in [min, max] (bits of the range, no hashing)
        Predicate::InSet { set, .. } => match (lo, hi) {
            (Val::Int(l), Val::Int(h)) => (set.any_in(l, h), true, false),
            _ => (true, true, false),
        },
        _ => (true, true, true),
    }
}

/// Whether a non-null value makes a leaf true / false / unknown.
pub fn leaf_value(p: &Predicate, v: &Val<'_>) -> Option<bool> {
    match p {
        Predicate::Cmp { op, value, .. } => compare(v, value).map(|o| op.holds(o)),
        Predicate::InSet { set, .. } => match v {
            Val::Int(x) => Some(i64::try_from(*x).is_ok_and(|x| set.contains(x))),
            _ => None,
        },
        Predicate::In {
            values, negated, ..
        } => {
            let hit = values
                .iter()
                .any(|l| compare(v, l) == Some(std::cmp::Ordering::Equal));
            if hit {
                Some(!negated)
            } else if values.contains(&Literal::Null) {
                None
            } else {
                Some(*negated)
            }
        }
        _ => None,
    }
}

/// Why a row group was skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    Statistics,
    Bloom,
    Dictionary,
}

/// Column index and output type of a predicate column in `pf`, for flat columns.
fn flat_column(pf: &ParquetFile, name: &str) -> Option<usize> {
    pf.columns
        .iter()
        .position(|c| c.name == name && c.element.is_some())
}

/// The statistics summary of column `col` in row group `rg`.
fn chunk_summary(pf: &ParquetFile, rg: usize, col: usize, out_type: &DataType) -> Option<Summary> {
    let top = &pf.columns[col];
    let el = top.element.as_ref()?;
    let group = pf.metadata.row_groups.get(rg)?;
    let meta = group.columns.get(top.first_leaf)?.meta_data.as_ref()?;
    let st = meta.statistics.as_ref()?;
    let phys = el.type_?;
    let ft = top.field.data_type();
    let dec = |b: &Option<Vec<u8>>| b.as_deref().and_then(|b| decode(b, phys, ft, out_type));
    Some(Summary {
        min: dec(&st.min_value),
        max: dec(&st.max_value),
        nulls: st.null_count.and_then(|n| u64::try_from(n).ok()),
        rows: u64::try_from(group.num_rows).ok()?,
        float: matches!(
            ft,
            DataType::Float16 | DataType::Float32 | DataType::Float64
        ),
    })
}

/// The smallest and largest value of column `col` over the whole file, as numbers (decimals in
/// units, dates in days), from the row groups' statistics: what a query optimizer estimates
/// range selectivities with. None when a row group lacks statistics or the column is not numeric.
pub fn column_bounds(pf: &ParquetFile, col: usize) -> Option<(f64, f64)> {
    let out_type = pf
        .output_field(col, crate::parquet::reader::Decimals::Decimal128)
        .data_type()
        .clone();
    let num = |s: &Scalar| match s {
        Scalar::Int(i) => Some(*i as f64),
        Scalar::Float(f) if f.is_finite() => Some(*f),
        Scalar::Dec(u, s) => Some(*u as f64 / 10f64.powi(i32::from(*s))),
        _ => None,
    };
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for rg in 0..pf.metadata.row_groups.len() {
        let s = chunk_summary(pf, rg, col, &out_type)?;
        lo = lo.min(num(s.min.as_ref()?)?);
        hi = hi.max(num(s.max.as_ref()?)?);
    }
    (lo <= hi).then_some((lo, hi))
}

/// Statistics, then Bloom filters, then dictionaries: the first that rules every row of row
/// group `rg` out. `out_type(col)` is the type the scan reads column `col` as.
pub fn prune_row_group(
    pf: &ParquetFile,
    rg: usize,
    pred: &Predicate,
    out_type: &dyn Fn(usize) -> DataType,
) -> Result<Verdict> {
    let summary = |name: &str| {
        let c = flat_column(pf, name)?;
        chunk_summary(pf, rg, c, &out_type(c))
    };
    if !possible(pred, &summary, &mut |_| None).t {
        return Ok(Verdict::Statistics);
    }
    let mut err = None;
    let mut bloom = |leaf: &Predicate| -> Option<(bool, bool)> {
        let values: Vec<Literal> = match leaf {
            Predicate::Cmp {
                op: CmpOp::Eq,
                value,
                ..
            } => vec![value.clone()],
            Predicate::In {
                values,
                negated: false,
                ..
            } => values.clone(),
            _ => return None,
        };
        let col = flat_column(pf, leaf.leaf_column()?)?;
        match pf.bloom_probe(rg, col, &values) {
            Ok(Some(false)) => Some((false, true)),
            Ok(_) => None,
            Err(e) => {
                err.get_or_insert(e);
                None
            }
        }
    };
    let t = possible(pred, &summary, &mut bloom).t;
    if let Some(e) = err {
        return Err(e);
    }
    if !t {
        return Ok(Verdict::Bloom);
    }
    let mut dicts: HashMap<usize, Option<Vec<Scalar>>> = HashMap::new();
    let mut err = None;
    let mut dict = |leaf: &Predicate| -> Option<(bool, bool)> {
        // not for a join's keys: decoding a key column's dictionary (a page as large as the
        // distinct keys) per row group costs more than the rare row group it rules out
        if !matches!(leaf, Predicate::Cmp { .. } | Predicate::In { .. }) {
            return None;
        }
        let col = flat_column(pf, leaf.leaf_column()?)?;
        let values = dicts
            .entry(col)
            .or_insert_with(|| {
                dictionary_values(pf, rg, col, &out_type(col)).unwrap_or_else(|e| {
                    err.get_or_insert(e);
                    None
                })
            })
            .as_ref()?;
        let (mut t, mut f) = (false, false);
        for v in values {
            match leaf_value(leaf, &v.val()) {
                Some(true) => t = true,
                Some(false) => f = true,
                None => {}
            }
        }
        Some((t, f))
    };
    let t = possible(pred, &summary, &mut dict).t;
    if let Some(e) = err {
        return Err(e);
    }
    Ok(if t {
        Verdict::Keep
    } else {
        Verdict::Dictionary
    })
}

/// (first row, end row, summary) of one page.
type PageSummary = (usize, usize, Summary);

/// The row ranges of row group `rg` whose pages (by the page index of the predicate's columns)
/// may hold a matching row, merged; `None` when no column has a page index (read it whole).
pub fn select_pages(
    pf: &ParquetFile,
    rg: usize,
    pred: &Predicate,
    out_type: &dyn Fn(usize) -> DataType,
) -> Result<Option<Vec<(usize, usize)>>> {
    let rows = pf.metadata.row_groups[rg].num_rows as usize;
    let mut names = Vec::new();
    pred.columns(&mut names);
    // per column: (start, end, summary) of each page
    let mut pages: Vec<(String, Vec<PageSummary>)> = Vec::new();
    for name in names {
        let Some(c) = flat_column(pf, &name) else {
            continue;
        };
        let Some(entries) = pf.page_index(rg, c)? else {
            continue;
        };
        let top = &pf.columns[c];
        let (ft, ot) = (top.field.data_type(), out_type(c));
        let phys = top.element.as_ref().and_then(|e| e.type_).unwrap_or(-1);
        let float = matches!(
            ft,
            DataType::Float16 | DataType::Float32 | DataType::Float64
        );
        let mut out = Vec::with_capacity(entries.len());
        for (k, e) in entries.iter().enumerate() {
            let start = e.first_row as usize;
            let end = entries.get(k + 1).map_or(rows, |n| n.first_row as usize);
            let n = (end - start) as u64;
            let s = if e.null_page {
                Summary {
                    min: None,
                    max: None,
                    nulls: Some(n),
                    rows: n,
                    float,
                }
            } else {
                Summary {
                    min: decode(&e.min, phys, ft, &ot),
                    max: decode(&e.max, phys, ft, &ot),
                    nulls: e.null_count.and_then(|x| u64::try_from(x).ok()),
                    rows: n,
                    float,
                }
            };
            out.push((start, end, s));
        }
        pages.push((name, out));
    }
    if pages.is_empty() {
        return Ok(None);
    }
    let mut cuts: Vec<usize> = vec![0, rows];
    for (_, ps) in &pages {
        cuts.extend(ps.iter().map(|p| p.0));
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut keep: Vec<(usize, usize)> = Vec::new();
    for w in cuts.windows(2) {
        let (s, e) = (w[0], w[1]);
        if s >= e {
            continue;
        }
        let summary = |name: &str| {
            let (_, ps) = pages.iter().find(|(n, _)| n == name)?;
            ps.iter().find(|p| p.0 <= s && s < p.1).map(|p| p.2.clone())
        };
        if possible(pred, &summary, &mut |_| None).t {
            match keep.last_mut() {
                Some(last) if last.1 == s => last.1 = e,
                _ => keep.push((s, e)),
            }
        }
    }
    Ok(Some(keep))
}
