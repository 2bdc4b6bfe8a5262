//! In-memory tables of a connection: normalized Arrow columns cut into morsels, plus the
//! statistics the optimizer costs joins with (row count, per-column distinct estimate, min, max).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type};
use arrow_schema::DataType;
use hashbrown::HashSet;
use minide_common::{Error, Result};
use rayon::prelude::*;

use crate::keys;
use crate::types::{Chunk, DType, MORSEL_ROWS, has_layout, normalize, pow10};

#[derive(Debug, Clone)]
pub struct ColumnStats {
    /// Estimated number of distinct non-NULL values.
    pub ndv: f64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub nulls: u64,
}

#[derive(Debug)]
pub struct Table {
    pub names: Vec<String>,
    pub types: Vec<DType>,
    pub chunks: Vec<Chunk>,
    pub rows: u64,
}

#[derive(Debug, Default)]
pub struct Catalog {
    tables: HashMap<String, Arc<Table>>,
}

impl Catalog {
    pub fn get(&self, name: &str) -> Option<&Arc<Table>> {
        self.tables.get(name)
    }

    pub fn drop_table(&mut self, name: &str) -> bool {
        self.tables.remove(name).is_some()
    }

    /// Register (or replace) a table from batches of raw Arrow columns.
    pub fn register(
        &mut self,
        name: &str,
        names: Vec<String>,
        batches: Vec<Vec<ArrayRef>>,
        types: Option<Vec<DType>>,
    ) -> Result<Arc<Table>> {
        let mut chunks = Vec::new();
        let mut out_types = types.unwrap_or_default();
        for batch in &batches {
            if batch.len() != names.len() {
                return Err(Error::Schema(format!(
                    "batch has {} columns, table {name} has {}",
                    batch.len(),
                    names.len()
                )));
            }
        }
        // Normalizing (decimal -> float64, string views -> strings, ...) is the bulk of the
        // work for file scans: spread it over the pool.
        let normalized = batches
            .par_iter()
            .map(|b| b.par_iter().map(normalize).collect::<Result<Vec<_>>>())
            .collect::<Result<Vec<_>>>()?;
        for cols in normalized {
            let len = cols.first().map(|c| c.len()).unwrap_or(0);
            if out_types.is_empty() && !cols.is_empty() {
                out_types = cols
                    .iter()
                    .map(|c| DType::of(c.data_type()))
                    .collect::<Result<_>>()?;
            }
            for (i, c) in cols.iter().enumerate() {
                if !out_types.get(i).is_some_and(|t| has_layout(c, *t)) {
                    return Err(Error::Schema(format!(
                        "column {} of {name} changes type between batches",
                        names[i]
                    )));
                }
            }
            let mut off = 0;
            while off < len {
                let n = MORSEL_ROWS.min(len - off);
                chunks.push(Chunk::new(
                    cols.iter().map(|c| c.slice(off, n)).collect(),
                    n,
                ));
                off += n;
            }
        }
        if out_types.len() != names.len() {
            return Err(Error::Schema(format!(
                "table {name}: cannot tell column types of an empty input"
            )));
        }
        let rows = chunks.iter().map(|c| c.len as u64).sum();
        let t = Arc::new(Table {
            names,
            types: out_types,
            chunks,
            rows,
        });
        self.tables.insert(name.to_string(), t.clone());
        Ok(t)
    }

    /// Append rows (INSERT INTO): new morsels at the end.
    pub fn append(&mut self, name: &str, batches: Vec<Vec<ArrayRef>>) -> Result<Arc<Table>> {
        let old = self
            .tables
            .get(name)
            .cloned()
            .ok_or_else(|| Error::InvalidArgument(format!("no table {name}")))?;
        let mut all: Vec<Vec<ArrayRef>> = old.chunks.iter().map(|c| c.cols.clone()).collect();
        all.extend(batches);
        self.register(name, old.names.clone(), all, Some(old.types.clone()))
    }
}

const SAMPLE: usize = 16 * 1024;

/// Statistics of each column (distinct counts from a sample of up to 4 morsels, scaled up).
pub fn stats(t: &Table) -> Result<Vec<ColumnStats>> {
    let mut out = Vec::with_capacity(t.types.len());
    for (ci, ty) in t.types.iter().enumerate() {
        let mut seen: HashSet<u64> = HashSet::new();
        let hasher = hashbrown::DefaultHashBuilder::default();
        let mut sampled = 0usize;
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        let mut nulls = 0u64;
        for (k, c) in t.chunks.iter().enumerate() {
            let a = c.col(ci)?;
            nulls += a.null_count() as u64;
            if let Some((lo, hi)) = min_max(a) {
                min = min.min(lo);
                max = max.max(hi);
            }
            // Sample the first SAMPLE rows of up to 4 morsels spread over the table.
            let stride = (t.chunks.len() / 4).max(1);
            if k % stride == 0 && k / stride < 4 {
                let n = a.len().min(SAMPLE);
                let part = a.slice(0, n);
                let keys = keys::encode(std::slice::from_ref(&part), n, true)?;
                for i in 0..n {
                    if !keys.has_null(i) {
                        seen.insert(hasher.hash_one(keys.bytes(i)));
                    }
                }
                sampled += n - part.null_count();
            }
        }
        let non_null = (t.rows - nulls) as f64;
        let d = seen.len() as f64;
        // If nearly every sampled value was new, assume the column is (close to) unique.
        let ndv = if sampled == 0 {
            0.0
        } else if d >= 0.9 * sampled as f64 {
            non_null * d / sampled as f64
        } else {
            d.max(1.0)
        };
        let numeric = matches!(
            ty,
            DType::Int64 | DType::Float64 | DType::Date32 | DType::Decimal(..)
        );
        if let DType::Decimal(_, s) = ty {
            // statistics are in units, like the planner's constants
            let unit = pow10(*s) as f64;
            min /= unit;
            max /= unit;
        }
        out.push(ColumnStats {
            ndv,
            min: (numeric && min.is_finite()).then_some(min),
            max: (numeric && max.is_finite()).then_some(max),
            nulls,
        });
    }
    Ok(out)
}

fn min_max(a: &ArrayRef) -> Option<(f64, f64)> {
    let fold = |it: &mut dyn Iterator<Item = f64>| {
        it.fold(None, |acc: Option<(f64, f64)>, x| {
            Some(acc.map_or((x, x), |(l, h)| (l.min(x), h.max(x))))
        })
    };
    match a.data_type() {
        DataType::Int64 => fold(
            &mut a
                .as_primitive::<Int64Type>()
                .iter()
                .flatten()
                .map(|x| x as f64),
        ),
        DataType::Float64 => fold(&mut a.as_primitive::<Float64Type>().iter().flatten()),
        DataType::Decimal128(..) => fold(
            &mut a
                .as_primitive::<arrow_array::types::Decimal128Type>()
                .iter()
                .flatten()
                .map(|x| x as f64),
        ),
        DataType::Date32 => fold(
            &mut a
                .as_primitive::<Date32Type>()
                .iter()
                .flatten()
                .map(f64::from),
        ),
        _ => None,
    }
}
