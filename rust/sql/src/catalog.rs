//! The tables of a connection: in-memory tables (normalized Arrow columns cut into morsels) and
//! registered files ([`crate::files`]), with the statistics the optimizer costs joins with (row
//! count, per-column distinct estimate, min, max).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use arrow_array::ArrayRef;
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type};
use arrow_schema::DataType;
use hashbrown::HashSet;
use minide_common::{Error, Result};
use rayon::prelude::*;

use crate::files::FileTable;
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

/// Where a table's rows live.
#[derive(Debug, Clone)]
pub enum Source {
    /// Registered Arrow data, held as morsels.
    Memory(Arc<Table>),
    /// A Parquet/CSV file or a dataset directory, scanned per query.
    File(Arc<FileTable>),
}

/// One table of the catalog: its SQL column names and types, and where its rows are.
#[derive(Debug)]
pub struct Entry {
    pub names: Vec<String>,
    pub types: Vec<DType>,
    pub source: Source,
    /// Column statistics, computed on first use (the optimizer asks for them per query).
    stats: OnceLock<Vec<ColumnStats>>,
}

impl Entry {
    fn new(names: Vec<String>, types: Vec<DType>, source: Source) -> Arc<Entry> {
        Arc::new(Entry {
            names: names.iter().map(|n| sql_name(n)).collect(),
            types,
            source,
            stats: OnceLock::new(),
        })
    }

    pub fn rows(&self) -> u64 {
        match &self.source {
            Source::Memory(t) => t.rows,
            Source::File(f) => f.rows,
        }
    }

    /// Column statistics (cached).
    pub fn stats(&self) -> Result<&[ColumnStats]> {
        if let Some(s) = self.stats.get() {
            return Ok(s);
        }
        let s = match &self.source {
            Source::Memory(t) => stats(t)?,
            Source::File(f) => f.stats(&self.names)?,
        };
        Ok(self.stats.get_or_init(|| s))
    }
}

/// The SQL name of a column: identifiers are case-insensitive, so they are lower-cased
/// (`"L_ORDERKEY"` is `l_orderkey`); other names (spaces, punctuation) stay as written and are
/// quoted in queries.
pub fn sql_name(name: &str) -> String {
    let mut chars = name.chars();
    let ident = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_');
    if ident {
        name.to_lowercase()
    } else {
        name.to_string()
    }
}

/// The tables of one connection, by name: the one catalog the planner asks (through the
/// bindings) and the executor reads.
#[derive(Debug, Default)]
pub struct Catalog {
    tables: HashMap<String, Arc<Entry>>,
}

impl Catalog {
    /// An in-memory table.
    pub fn get(&self, name: &str) -> Option<&Arc<Table>> {
        match &self.tables.get(name)?.source {
            Source::Memory(t) => Some(t),
            Source::File(_) => None,
        }
    }

    pub fn entry(&self, name: &str) -> Option<&Arc<Entry>> {
        self.tables.get(name)
    }

    /// Table names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.tables.keys().cloned().collect();
        v.sort();
        v
    }

    pub fn drop_table(&mut self, name: &str) -> bool {
        self.tables.remove(name).is_some()
    }

    /// Register (or replace) table `name` as the file or dataset at `path`.
    pub fn register_file(&mut self, name: &str, path: &Path) -> Result<Arc<Entry>> {
        let f = FileTable::open(path)?;
        let e = Entry::new(
            f.file_names.clone(),
            f.types.clone(),
            Source::File(Arc::new(f)),
        );
        self.tables.insert(name.to_string(), e.clone());
        Ok(e)
    }

    /// Register (or replace) a table from batches of raw Arrow columns.
    pub fn register(
        &mut self,
        name: &str,
        names: Vec<String>,
        batches: Vec<Vec<ArrayRef>>,
        types: Option<Vec<DType>>,
    ) -> Result<Arc<Entry>> {
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
            names: names.clone(),
            types: out_types.clone(),
            chunks,
            rows,
        });
        let e = Entry::new(names, out_types, Source::Memory(t));
        self.tables.insert(name.to_string(), e.clone());
        Ok(e)
    }

    /// Append rows (INSERT INTO): new morsels at the end.
    pub fn append(&mut self, name: &str, batches: Vec<Vec<ArrayRef>>) -> Result<Arc<Entry>> {
        let old = self.get(name).cloned().ok_or_else(|| {
            Error::InvalidArgument(format!("no in-memory table {name} to append to"))
        })?;
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
            DType::Int64
                | DType::Int32
                | DType::Int16
                | DType::Int8
                | DType::Float64
                | DType::Float32
                | DType::Date32
                | DType::Decimal(..)
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
