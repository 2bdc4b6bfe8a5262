//! Aggregates of a window: count, sum, min, max, mean, with nulls ignored as in SQL.
//!
//! An aggregate reads *accumulators*, one vector per (kind, value column), indexed by the slot
//! of an open window (struct of arrays, so one update loop per accumulator runs over the batch's
//! `(row, slot)` pairs with no per-row dispatch):
//!
//! | aggregate        | accumulators                 | output                                  |
//! |------------------|------------------------------|-----------------------------------------|
//! | `count` (no col) | the slot's row count         | int64                                   |
//! | `count(col)`     | non-null count of `col`      | int64                                   |
//! | `sum(col)`       | sum + non-null count         | int64 (integers) / float64, null if none|
//! | `mean(col)`      | sum + non-null count         | float64, null if no non-null value      |
//! | `min/max(col)`   | min or max + non-null count  | int64 / float64, null if none           |
//!
//! Accumulators are shared: `sum(v)` and `mean(v)` use the same sum. Integer columns (any width)
//! are summed in `i128` (exact; a window sum outside int64 is an error when it is emitted);
//! floats in `f64` in input order. For floats NaN sorts above every number (as in DuckDB and
//! PostgreSQL): `max` is NaN if any value is, `min` is NaN only if all are.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_buffer::{NullBuffer, ScalarBuffer};
use arrow_schema::DataType;
use minide_common::{Error, Result};
use std::sync::Arc;

use crate::keyhash::column_list;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFn {
    Count,
    Sum,
    Min,
    Max,
    Mean,
}

impl AggFn {
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "count" => AggFn::Count,
            "sum" => AggFn::Sum,
            "min" => AggFn::Min,
            "max" => AggFn::Max,
            "mean" => AggFn::Mean,
            other => {
                return Err(Error::invalid(format!(
                    "aggregate {other:?} is not one of count, sum, min, max, mean"
                )));
            }
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            AggFn::Count => "count",
            AggFn::Sum => "sum",
            AggFn::Min => "min",
            AggFn::Max => "max",
            AggFn::Mean => "mean",
        }
    }
    pub fn code(self) -> u8 {
        self as u8
    }
    pub fn from_code(c: u8) -> Result<Self> {
        Ok(match c {
            0 => AggFn::Count,
            1 => AggFn::Sum,
            2 => AggFn::Min,
            3 => AggFn::Max,
            4 => AggFn::Mean,
            _ => return Err(Error::corrupt(format!("unknown aggregate code {c}"))),
        })
    }
}

/// One output column: `output = func(column)`; `column` None only for `count` (rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggSpec {
    pub output: String,
    pub column: Option<String>,
    pub func: AggFn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccKind {
    NonNull,
    Sum,
    Min,
    Max,
}

/// Numeric class of a value column, fixed by the first batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumClass {
    Int = 1,
    Float = 2,
}

impl NumClass {
    pub fn from_code(c: u8) -> Result<Self> {
        match c {
            1 => Ok(NumClass::Int),
            2 => Ok(NumClass::Float),
            _ => Err(Error::corrupt(format!("unknown value column class {c}"))),
        }
    }
}

/// Which accumulators each aggregate reads (built once from the specs).
#[derive(Debug, Clone, PartialEq)]
pub struct AggPlan {
    /// Distinct value columns, in first-use order.
    pub columns: Vec<String>,
    /// Distinct accumulators: (kind, index into `columns`).
    pub accs: Vec<(AccKind, usize)>,
    /// Per aggregate: (func, value accumulator, non-null accumulator); both None for count(*).
    pub outputs: Vec<(AggFn, Option<usize>, Option<usize>)>,
}

impl AggPlan {
    pub fn new(specs: &[AggSpec]) -> Result<Self> {
        let mut plan = AggPlan {
            columns: Vec::new(),
            accs: Vec::new(),
            outputs: Vec::new(),
        };
        for s in specs {
            let Some(col) = &s.column else {
                if s.func != AggFn::Count {
                    return Err(Error::invalid(format!(
                        "aggregate {:?}: {} needs a column",
                        s.output,
                        s.func.name()
                    )));
                }
                plan.outputs.push((AggFn::Count, None, None));
                continue;
            };
            let c = match plan.columns.iter().position(|x| x == col) {
                Some(c) => c,
                None => {
                    plan.columns.push(col.clone());
                    plan.columns.len() - 1
                }
            };
            let nn = plan.acc(AccKind::NonNull, c);
            let value = match s.func {
                AggFn::Count => None,
                AggFn::Sum | AggFn::Mean => Some(plan.acc(AccKind::Sum, c)),
                AggFn::Min => Some(plan.acc(AccKind::Min, c)),
                AggFn::Max => Some(plan.acc(AccKind::Max, c)),
            };
            plan.outputs.push((s.func, value, Some(nn)));
        }
        Ok(plan)
    }

    fn acc(&mut self, kind: AccKind, col: usize) -> usize {
        match self.accs.iter().position(|&a| a == (kind, col)) {
            Some(i) => i,
            None => {
                self.accs.push((kind, col));
                self.accs.len() - 1
            }
        }
    }
}

/// A value column of one batch, widened: integers to i64, floats to f64 (64-bit columns are
/// viewed in place).
#[derive(Debug)]
pub enum Values {
    Int(ScalarBuffer<i64>, Option<NullBuffer>),
    Float(ScalarBuffer<f64>, Option<NullBuffer>),
}

impl Values {
    pub fn class(&self) -> NumClass {
        match self {
            Values::Int(..) => NumClass::Int,
            Values::Float(..) => NumClass::Float,
        }
    }
}

/// The numeric class of an Arrow type, or None if it cannot be aggregated.
pub fn class_of(dt: &DataType) -> Option<NumClass> {
    use DataType as D;
    match dt {
        D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32 | D::UInt64 => {
            Some(NumClass::Int)
        }
        D::Float16 | D::Float32 | D::Float64 => Some(NumClass::Float),
        _ => None,
    }
}

/// Read the plan's value columns from `batch`, checking their classes against `expected`
/// (empty on the first batch).
pub fn read_values(
    batch: &RecordBatch,
    plan: &AggPlan,
    expected: &[NumClass],
) -> Result<Vec<Values>> {
    let mut out = Vec::with_capacity(plan.columns.len());
    for (i, name) in plan.columns.iter().enumerate() {
        let col = batch.column_by_name(name).ok_or_else(|| {
            Error::schema(format!(
                "aggregate column {name:?} is not in the batch (columns: {})",
                column_list(batch)
            ))
        })?;
        let v = read_one(name, col)?;
        if let Some(&want) = expected.get(i)
            && want != v.class()
        {
            return Err(Error::schema(format!(
                "aggregate column {name:?} changed from {} to {} since the first batch",
                if want == NumClass::Int {
                    "integer"
                } else {
                    "float"
                },
                col.data_type()
            )));
        }
        out.push(v);
    }
    Ok(out)
}

fn read_one(name: &str, col: &ArrayRef) -> Result<Values> {
    use DataType as D;
    let nulls = col.logical_nulls();
    fn widen<T: ArrowPrimitiveType>(a: &dyn Array, f: impl Fn(T::Native) -> i64) -> Vec<i64> {
        a.as_primitive::<T>()
            .values()
            .iter()
            .map(|&v| f(v))
            .collect()
    }
    Ok(match col.data_type() {
        D::Int64 => Values::Int(col.as_primitive::<Int64Type>().values().clone(), nulls),
        D::Float64 => Values::Float(col.as_primitive::<Float64Type>().values().clone(), nulls),
        D::Int8 => Values::Int(widen::<Int8Type>(col, i64::from).into(), nulls),
        D::Int16 => Values::Int(widen::<Int16Type>(col, i64::from).into(), nulls),
        D::Int32 => Values::Int(widen::<Int32Type>(col, i64::from).into(), nulls),
        D::UInt8 => Values::Int(widen::<UInt8Type>(col, i64::from).into(), nulls),
        D::UInt16 => Values::Int(widen::<UInt16Type>(col, i64::from).into(), nulls),
        D::UInt32 => Values::Int(widen::<UInt32Type>(col, i64::from).into(), nulls),
        D::UInt64 => {
            let a = col.as_primitive::<UInt64Type>();
            let big = (0..a.len()).find(|&i| a.is_valid(i) && a.value(i) > i64::MAX as u64);
            if let Some(i) = big {
                return Err(Error::unsupported(format!(
                    "aggregate column {name:?}: uint64 value {} at row {i} is above 2^63 - 1",
                    a.value(i)
                )));
            }
            Values::Int(widen::<UInt64Type>(col, |v| v as i64).into(), nulls)
        }
        D::Float32 => Values::Float(
            a_f64(col.as_primitive::<Float32Type>().values(), f64::from),
            nulls,
        ),
        D::Float16 => Values::Float(
            a_f64(col.as_primitive::<Float16Type>().values(), |v| v.to_f64()),
            nulls,
        ),
        other => {
            return Err(Error::schema(format!(
                "aggregate column {name:?} has type {other}; count, sum, min, max and mean take \
                 integer or float columns"
            )));
        }
    })
}

fn a_f64<T: Copy>(v: &[T], f: impl Fn(T) -> f64) -> ScalarBuffer<f64> {
    v.iter().map(|&x| f(x)).collect::<Vec<_>>().into()
}

/// `a` sorts before `b` with NaN above every number.
#[inline]
fn less(a: f64, b: f64) -> bool {
    !a.is_nan() && (b.is_nan() || a < b)
}

/// One accumulator vector, indexed by slot.
#[derive(Debug, Clone, PartialEq)]
pub enum Acc {
    NonNull(Vec<u64>),
    SumI(Vec<i128>),
    SumF(Vec<f64>),
    MinI(Vec<i64>),
    MinF(Vec<f64>),
    MaxI(Vec<i64>),
    MaxF(Vec<f64>),
}

macro_rules! each_acc {
    ($acc:expr, $v:ident => $body:expr) => {
        match $acc {
            Acc::NonNull($v) => $body,
            Acc::SumI($v) => $body,
            Acc::SumF($v) => $body,
            Acc::MinI($v) => $body,
            Acc::MinF($v) => $body,
            Acc::MaxI($v) => $body,
            Acc::MaxF($v) => $body,
        }
    };
}

impl Acc {
    pub fn new(kind: AccKind, class: NumClass) -> Acc {
        match (kind, class) {
            (AccKind::NonNull, _) => Acc::NonNull(Vec::new()),
            (AccKind::Sum, NumClass::Int) => Acc::SumI(Vec::new()),
            (AccKind::Sum, NumClass::Float) => Acc::SumF(Vec::new()),
            (AccKind::Min, NumClass::Int) => Acc::MinI(Vec::new()),
            (AccKind::Min, NumClass::Float) => Acc::MinF(Vec::new()),
            (AccKind::Max, NumClass::Int) => Acc::MaxI(Vec::new()),
            (AccKind::Max, NumClass::Float) => Acc::MaxF(Vec::new()),
        }
    }

    /// Set slot `s` to the empty state (growing the vector if `s` is new).
    #[inline]
    pub fn reset(&mut self, s: usize) {
        fn put<T: Copy>(v: &mut Vec<T>, s: usize, x: T) {
            if s == v.len() {
                v.push(x);
            } else {
                v[s] = x;
            }
        }
        match self {
            Acc::NonNull(v) => put(v, s, 0),
            Acc::SumI(v) => put(v, s, 0),
            Acc::SumF(v) => put(v, s, 0.0),
            Acc::MinI(v) => put(v, s, i64::MAX),
            Acc::MinF(v) => put(v, s, f64::NAN),
            Acc::MaxI(v) => put(v, s, i64::MIN),
            Acc::MaxF(v) => put(v, s, f64::NEG_INFINITY),
        }
    }

    pub fn heap_bytes(&self) -> usize {
        each_acc!(self, v => v.capacity() * std::mem::size_of_val(&v.first().copied().unwrap_or_default()))
    }

    /// Fold the batch rows `rows[i]` into slots `slots[i]`.
    pub fn update(&mut self, values: &Values, rows: &[u32], slots: &[u32]) {
        let nulls = match values {
            Values::Int(_, n) | Values::Float(_, n) => n.as_ref().filter(|n| n.null_count() > 0),
        };
        macro_rules! fold {
            ($acc:expr, $vals:expr, |$a:ident, $x:ident| $f:expr) => {{
                let (acc, vals) = ($acc, $vals);
                match nulls {
                    None => {
                        for (&r, &s) in rows.iter().zip(slots) {
                            let ($a, $x) = (&mut acc[s as usize], vals[r as usize]);
                            $f
                        }
                    }
                    Some(nb) => {
                        for (&r, &s) in rows.iter().zip(slots) {
                            if nb.is_valid(r as usize) {
                                let ($a, $x) = (&mut acc[s as usize], vals[r as usize]);
                                $f
                            }
                        }
                    }
                }
            }};
        }
        match (self, values) {
            (Acc::NonNull(acc), _) => match nulls {
                None => slots.iter().for_each(|&s| acc[s as usize] += 1),
                Some(nb) => {
                    for (&r, &s) in rows.iter().zip(slots) {
                        acc[s as usize] += u64::from(nb.is_valid(r as usize));
                    }
                }
            },
            (Acc::SumI(acc), Values::Int(v, _)) => fold!(acc, v, |a, x| *a += i128::from(x)),
            (Acc::SumF(acc), Values::Float(v, _)) => fold!(acc, v, |a, x| *a += x),
            (Acc::MinI(acc), Values::Int(v, _)) => fold!(acc, v, |a, x| *a = (*a).min(x)),
            (Acc::MaxI(acc), Values::Int(v, _)) => fold!(acc, v, |a, x| *a = (*a).max(x)),
            (Acc::MinF(acc), Values::Float(v, _)) => fold!(acc, v, |a, x| if less(x, *a) {
                *a = x
            }),
            (Acc::MaxF(acc), Values::Float(v, _)) => fold!(acc, v, |a, x| if less(*a, x) {
                *a = x
            }),
            // Classes are checked against the bound ones before any update.
            _ => {}
        }
    }

    /// Fold slot `src` into slot `dst` (session merges).
    pub fn merge(&mut self, dst: usize, src: usize) {
        match self {
            Acc::NonNull(v) => v[dst] += v[src],
            Acc::SumI(v) => v[dst] += v[src],
            Acc::SumF(v) => v[dst] += v[src],
            Acc::MinI(v) => v[dst] = v[dst].min(v[src]),
            Acc::MaxI(v) => v[dst] = v[dst].max(v[src]),
            Acc::MinF(v) => {
                if less(v[src], v[dst]) {
                    v[dst] = v[src];
                }
            }
            Acc::MaxF(v) => {
                if less(v[dst], v[src]) {
                    v[dst] = v[src];
                }
            }
        }
    }

    /// Checkpoint encoding of slot `s` (fixed width per kind).
    pub fn write(&self, s: usize, out: &mut Vec<u8>) {
        match self {
            Acc::NonNull(v) => out.extend_from_slice(&v[s].to_le_bytes()),
            Acc::SumI(v) => out.extend_from_slice(&v[s].to_le_bytes()),
            Acc::SumF(v) | Acc::MinF(v) | Acc::MaxF(v) => {
                out.extend_from_slice(&v[s].to_le_bytes())
            }
            Acc::MinI(v) | Acc::MaxI(v) => out.extend_from_slice(&v[s].to_le_bytes()),
        }
    }

    /// Bytes per slot in the checkpoint.
    pub fn width(&self) -> usize {
        match self {
            Acc::SumI(_) => 16,
            _ => 8,
        }
    }

    /// Set slot `s` (already reset) from its checkpoint encoding (`width()` bytes).
    pub fn read(&mut self, s: usize, b: &[u8]) -> Result<()> {
        fn a8(b: &[u8]) -> Result<[u8; 8]> {
            b.try_into()
                .map_err(|_| Error::corrupt("accumulator field of the wrong width"))
        }
        match self {
            Acc::NonNull(v) => v[s] = u64::from_le_bytes(a8(b)?),
            Acc::SumI(v) => {
                let a: [u8; 16] = b
                    .try_into()
                    .map_err(|_| Error::corrupt("accumulator field of the wrong width"))?;
                v[s] = i128::from_le_bytes(a);
            }
            Acc::SumF(v) | Acc::MinF(v) | Acc::MaxF(v) => v[s] = f64::from_le_bytes(a8(b)?),
            Acc::MinI(v) | Acc::MaxI(v) => v[s] = i64::from_le_bytes(a8(b)?),
        }
        Ok(())
    }
}

/// Where an emitted window's accumulators are: a shard's accumulator set, slot counts, slot.
pub type AccRef<'a> = (&'a [Acc], &'a [u64], u32);

/// Build aggregate `i`'s output column for the windows `at`; `class` is its value column's
/// class (None for count(*) or before any batch).
pub fn output_column(
    plan: &AggPlan,
    spec: &AggSpec,
    i: usize,
    class: Option<NumClass>,
    at: &[AccRef<'_>],
) -> Result<ArrayRef> {
    let (func, value, nn) = plan.outputs[i];
    let nn_of = |a: &AccRef<'_>| -> u64 {
        match nn.map(|j| &a.0[j]) {
            Some(Acc::NonNull(v)) => v[a.2 as usize],
            _ => a.1[a.2 as usize],
        }
    };
    if func == AggFn::Count {
        return Ok(Arc::new(Int64Array::from_iter_values(
            at.iter().map(|a| nn_of(a) as i64),
        )));
    }
    let value = value
        .ok_or_else(|| Error::invalid(format!("aggregate {:?} has no column", spec.output)))?;
    if output_type(func, class) == DataType::Float64 {
        let mut out = Vec::with_capacity(at.len());
        for a in at {
            let n = nn_of(a);
            if n == 0 {
                out.push(None);
                continue;
            }
            let s = a.2 as usize;
            let x = match &a.0[value] {
                Acc::SumI(x) => x[s] as f64,
                Acc::SumF(x) | Acc::MinF(x) | Acc::MaxF(x) => x[s],
                Acc::MinI(x) | Acc::MaxI(x) => x[s] as f64,
                Acc::NonNull(x) => x[s] as f64,
            };
            out.push(Some(if func == AggFn::Mean { x / n as f64 } else { x }));
        }
        return Ok(Arc::new(Float64Array::from(out)));
    }
    let mut out = Vec::with_capacity(at.len());
    for a in at {
        if nn_of(a) == 0 {
            out.push(None);
            continue;
        }
        let s = a.2 as usize;
        out.push(Some(match &a.0[value] {
            Acc::SumI(x) => i64::try_from(x[s]).map_err(|_| {
                Error::invalid(format!(
                    "aggregate {:?}: a window's sum {} does not fit in int64",
                    spec.output, x[s]
                ))
            })?,
            Acc::MinI(x) | Acc::MaxI(x) => x[s],
            _ => {
                return Err(Error::invalid(format!(
                    "aggregate {:?}: float accumulator for an integer output",
                    spec.output
                )));
            }
        }));
    }
    Ok(Arc::new(Int64Array::from(out)))
}

/// The output type of an aggregate over a column of `class` (None: count(*), or no batch yet).
pub fn output_type(func: AggFn, class: Option<NumClass>) -> DataType {
    match (func, class) {
        (AggFn::Count, _) => DataType::Int64,
        (AggFn::Mean, _) => DataType::Float64,
        (_, Some(NumClass::Float)) => DataType::Float64,
        _ => DataType::Int64,
    }
}
