//! Hive-partitioned datasets through the scan core: discovery (`key=value` directories,
//! unescaped with the writer's codec, `dataset::hive`), partition types inferred as pyarrow
//! does (int32 when every value is an integer that fits, else string), the files' schemas
//! unified (a missing column reads as null; int32 -> int64 and float32 -> float64 widen), and
//! scans that prune whole files by their partition values before any row group is looked at.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use minide_common::{Error, Result};

use super::bind::bind;
use super::cache::open_cached;
use super::driver::{Output, Part, Scan, ScanCounters, ScanSpec};
use super::file::{decoded_schema, file_output_schema};
use super::predicate::{Predicate, Val};
use super::prune::leaf_value;
use super::stats::Scalar;
use crate::dataset::hive::parse_segment;
use crate::parquet::reader::{Decimals, ParquetFile};

/// One data file of a dataset.
pub struct DatasetFile {
    pub path: PathBuf,
    /// Partition values as written in the path (unescaped), in key order; None = null.
    pub partition: Vec<Option<String>>,
    /// The same values typed by the partition schema.
    pub values: Vec<Option<Scalar>>,
    pub file: Arc<ParquetFile>,
    /// The file's own output schema (hint applied).
    pub schema: SchemaRef,
}

/// A directory of Parquet files, Hive-partitioned or not (or a single file).
pub struct Dataset {
    pub root: PathBuf,
    pub files: Vec<DatasetFile>,
    pub partition_schema: SchemaRef,
    /// The files' columns (unified) then the partition columns.
    pub schema: SchemaRef,
}

fn skipped(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_')
}

/// Data files under `root` in sorted order with their `key=value` segments.
type Segments = Vec<(String, Option<String>)>;

fn discover(root: &Path) -> Result<Vec<(PathBuf, Segments)>> {
    if root.is_file() {
        return Ok(vec![(root.to_path_buf(), Vec::new())]);
    }
    if !root.is_dir() {
        return Err(Error::invalid(format!(
            "{}: no such dataset (not a file or directory)",
            root.display()
        )));
    }
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), Vec::new())];
    while let Some((dir, parts)) = stack.pop() {
        let mut entries: Vec<(String, PathBuf, bool)> = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(|e| Error::io(e, &dir))? {
            let e = e.map_err(|e| Error::io(e, &dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if skipped(&name) {
                continue;
            }
            let is_dir = e.file_type().map_err(|x| Error::io(x, e.path()))?.is_dir();
            entries.push((name, e.path(), is_dir));
        }
        entries.sort();
        // Files of this directory first (sorted), then subdirectories (sorted), depth first.
        for (_, p, is_dir) in &entries {
            if !is_dir {
                out.push((p.clone(), parts.clone()));
            }
        }
        for (name, p, is_dir) in entries.iter().rev() {
            if *is_dir {
                let mut next: Vec<(String, Option<String>)> = parts.clone();
                if let Some(kv) = parse_segment(name) {
                    next.push(kv);
                }
                stack.push((p.clone(), next));
            }
        }
    }
    Ok(out)
}

/// pyarrow's Hive inference: int32 when every value is an integer that fits, else string.
fn infer(values: &[Option<&str>]) -> DataType {
    let present: Vec<&str> = values.iter().flatten().copied().collect();
    if !present.is_empty()
        && present.iter().all(|v| {
            v.trim()
                .parse::<i64>()
                .is_ok_and(|i| i32::try_from(i).is_ok())
        })
    {
        DataType::Int32
    } else {
        DataType::Utf8
    }
}

fn typed(v: &Option<String>, t: &DataType) -> Option<Scalar> {
    let v = v.as_ref()?;
    Some(match t {
        DataType::Int32 => Scalar::Int(i128::from(v.trim().parse::<i64>().ok()?)),
        _ => Scalar::Bytes(v.as_bytes().to_vec()),
    })
}

/// The type both `a` and `b` read as, or None if incompatible.
fn widen(a: &DataType, b: &DataType) -> Option<DataType> {
    if a == b {
        return Some(a.clone());
    }
    if *a == DataType::Null {
        return Some(b.clone());
    }
    if *b == DataType::Null {
        return Some(a.clone());
    }
    let same = |f: fn(&DataType) -> bool| f(a) && f(b);
    if same(DataType::is_signed_integer)
        || same(DataType::is_unsigned_integer)
        || same(DataType::is_floating)
    {
        let wa = a.primitive_width().unwrap_or(0);
        let wb = b.primitive_width().unwrap_or(0);
        return Some(if wa >= wb { a.clone() } else { b.clone() });
    }
    let strings = [DataType::Utf8, DataType::LargeUtf8];
    if strings.contains(a) && strings.contains(b) {
        return Some(DataType::LargeUtf8);
    }
    None
}

impl Dataset {
    /// Discover the files under `root`, type the partitions and unify the files' schemas.
    pub fn open(root: &Path) -> Result<Self> {
        let found = discover(root)?;
        let mut keys: Vec<String> = Vec::new();
        for (_, parts) in &found {
            for (k, _) in parts {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
        let mut rows: Vec<(PathBuf, Vec<Option<String>>)> = Vec::with_capacity(found.len());
        for (path, parts) in found {
            let mut vals = Vec::with_capacity(keys.len());
            for k in &keys {
                match parts.iter().find(|(pk, _)| pk == k) {
                    Some((_, v)) => vals.push(v.clone()),
                    None => {
                        return Err(Error::schema(format!(
                            "{}: not under a {k}=... directory like the other files \
                             (partition keys: {})",
                            path.display(),
                            keys.join(", ")
                        )));
                    }
                }
            }
            rows.push((path, vals));
        }
        let part_fields: Vec<Field> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let vs: Vec<Option<&str>> = rows.iter().map(|(_, v)| v[i].as_deref()).collect();
                Field::new(k, infer(&vs), true)
            })
            .collect();
        let partition_schema = Arc::new(Schema::new(part_fields));
        let mut unified: Vec<(Field, PathBuf)> = Vec::new();
        let mut files = Vec::with_capacity(rows.len());
        for (path, partition) in rows {
            let file = open_cached(&path)?;
            let schema = file_output_schema(&file, &ScanSpec::default())?;
            for f in schema.fields() {
                if keys.contains(f.name()) {
                    return Err(Error::schema(format!(
                        "{}: column '{}' is also a partition key of the dataset",
                        path.display(),
                        f.name()
                    )));
                }
                match unified.iter_mut().find(|(u, _)| u.name() == f.name()) {
                    None => unified.push((f.as_ref().clone(), path.clone())),
                    Some((u, first)) => {
                        let t = widen(u.data_type(), f.data_type()).ok_or_else(|| {
                            Error::schema(format!(
                                "{}: column '{}' is {}, incompatible with {} in {}",
                                path.display(),
                                f.name(),
                                f.data_type(),
                                u.data_type(),
                                first.display()
                            ))
                        })?;
                        if t != *u.data_type() {
                            *u = Field::new(f.name(), t, true);
                        }
                    }
                }
            }
            let values = partition
                .iter()
                .zip(partition_schema.fields())
                .map(|(v, f)| typed(v, f.data_type()))
                .collect();
            files.push(DatasetFile {
                path,
                partition,
                values,
                file,
                schema,
            });
        }
        let mut all: Vec<Field> = unified.into_iter().map(|(f, _)| f).collect();
        all.extend(partition_schema.fields().iter().map(|f| f.as_ref().clone()));
        Ok(Dataset {
            root: root.to_path_buf(),
            files,
            partition_schema,
            schema: Arc::new(Schema::new(all)),
        })
    }

    /// Scan the dataset: files whose partition values rule the predicate out are skipped
    /// unopened for data; the rest are scanned like single files, row groups in parallel.
    pub fn scan(&self, spec: ScanSpec) -> Result<Scan> {
        if spec.row_groups.is_some() {
            return Err(Error::invalid(
                "row_groups selects row groups of one file, not of a dataset",
            ));
        }
        let names: Vec<String> = match &spec.columns {
            Some(c) => c.clone(),
            None => self
                .schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
        };
        let mut fields = Vec::with_capacity(names.len());
        for n in &names {
            let f = self.schema.field_with_name(n).map_err(|_| {
                Error::schema(format!(
                    "column {n:?} is not in the dataset (columns: {})",
                    self.schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            fields.push(f.clone());
        }
        let schema = Arc::new(Schema::new(fields));
        let pred = match &spec.predicate {
            Some(p) => {
                let mut cols = Vec::new();
                p.columns(&mut cols);
                if let Some(c) = cols.iter().find(|c| self.schema.index_of(c).is_err()) {
                    return Err(Error::schema(format!(
                        "filter column {c:?} is not in the dataset (columns: {})",
                        self.schema
                            .fields()
                            .iter()
                            .map(|f| f.name().as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                Some(bind(p, &self.schema)?)
            }
            None => None,
        };
        // Datasets unify each file's columns into the dataset's types (decimal128 for decimals),
        // so their files decode decimals as pyarrow does, or as floats.
        let dec = Decimals::float_if(spec.decimals_as_f64);
        let mut counters = ScanCounters {
            files_total: self.files.len(),
            ..ScanCounters::default()
        };
        let mut parts = Vec::new();
        for f in &self.files {
            let constant = |name: &str| -> Option<Option<Scalar>> {
                if let Ok(i) = self.partition_schema.index_of(name) {
                    return Some(f.values[i].clone());
                }
                // A column this file lacks is null in every row.
                (f.schema.index_of(name).is_err()).then_some(None)
            };
            let file_pred = match &pred {
                None => None,
                Some(p) => match fold(p, &constant) {
                    Predicate::Const(Some(true)) => None,
                    Predicate::Const(_) => {
                        counters.files_pruned += 1;
                        continue;
                    }
                    rest => Some(bind(&rest, &decoded_schema(&f.file, dec))?),
                },
            };
            let mut projection = Vec::new();
            let mut outputs = Vec::with_capacity(schema.fields().len());
            for out in schema.fields() {
                let name = out.name();
                if let Ok(i) = self.partition_schema.index_of(name) {
                    outputs.push(Output::Constant(f.values[i].clone()));
                    continue;
                }
                let Ok(fi) = f.schema.index_of(name) else {
                    outputs.push(Output::Nulls);
                    continue;
                };
                let col = f.file.projection(Some(std::slice::from_ref(name)))?[0];
                let raw = f.file.output_field(col, dec);
                let hinted = f.schema.field(fi).data_type().clone();
                let mut steps = Vec::new();
                for t in [hinted, out.data_type().clone()] {
                    let last = steps.last().unwrap_or(raw.data_type());
                    if &t != last {
                        steps.push(t);
                    }
                }
                outputs.push(Output::Column {
                    index: projection.len(),
                    steps,
                });
                projection.push(col);
            }
            parts.push(Part {
                pf: f.file.clone(),
                pred: file_pred,
                projection,
                outputs,
                decimals: dec,
            });
        }
        Ok(Scan::new(schema, parts, spec, counters))
    }
}

/// `p` with the leaves on constant columns decided (`constant(name)`: Some(value) for a
/// constant column, None for a column of the file), folded with three-valued logic.
pub fn fold(p: &Predicate, constant: &dyn Fn(&str) -> Option<Option<Scalar>>) -> Predicate {
    match p {
        Predicate::And(a, b) => match (fold(a, constant), fold(b, constant)) {
            (Predicate::Const(Some(false)), _) | (_, Predicate::Const(Some(false))) => {
                Predicate::Const(Some(false))
            }
            (Predicate::Const(Some(true)), x) | (x, Predicate::Const(Some(true))) => x,
            (Predicate::Const(None), Predicate::Const(None)) => Predicate::Const(None),
            (x, y) => Predicate::and(x, y),
        },
        Predicate::Or(a, b) => match (fold(a, constant), fold(b, constant)) {
            (Predicate::Const(Some(true)), _) | (_, Predicate::Const(Some(true))) => {
                Predicate::Const(Some(true))
            }
            (Predicate::Const(Some(false)), x) | (x, Predicate::Const(Some(false))) => x,
            (Predicate::Const(None), Predicate::Const(None)) => Predicate::Const(None),
            (x, y) => Predicate::or(x, y),
        },
        Predicate::Not(a) => match fold(a, constant) {
            Predicate::Const(c) => Predicate::Const(c.map(|b| !b)),
            x => Predicate::negate(x),
        },
        Predicate::Const(c) => Predicate::Const(*c),
        leaf => {
            let Some(v) = leaf.leaf_column().and_then(constant) else {
                return leaf.clone();
            };
            Predicate::Const(match (leaf, v) {
                (Predicate::IsNull { negated, .. }, v) => Some(v.is_none() != *negated),
                (_, None) => None,
                (leaf, Some(v)) => leaf_value(leaf, &scalar_val(&v)),
            })
        }
    }
}

fn scalar_val(s: &Scalar) -> Val<'_> {
    s.val()
}
