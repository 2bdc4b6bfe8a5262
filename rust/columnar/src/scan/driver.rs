//! The row-group scan driver: units of work are (file, row group); each is pruned (statistics,
//! Bloom, dictionary), narrowed by the page index, decoded with late materialization and
//! shaped into the output schema (hint types, partition constants, dataset widening). Units run
//! in morsels of `2 * threads` spread over a thread pool; batches come out in order.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions, new_null_array};
use arrow_schema::{DataType, SchemaRef};
use minide_common::{Error, Result};
use rayon::prelude::*;

use super::convert::{constant, convert};
use super::predicate::Predicate;
use super::prune::{Verdict, prune_row_group, select_pages};
use super::stats::Scalar;
use crate::parquet::reader::{Decimals, ParquetFile, ScanOptions};

/// What to scan: projection, predicate, limit and how.
#[derive(Clone, Debug)]
pub struct ScanSpec {
    /// Output columns in order (None: all).
    pub columns: Option<Vec<String>>,
    /// Row groups to read, in this order (None: all). Single files only.
    pub row_groups: Option<Vec<usize>>,
    /// Rows to keep (typed literals; bound to the source's schema by the scan).
    pub predicate: Option<Predicate>,
    /// Stop after this many rows.
    pub limit: Option<usize>,
    pub threads: usize,
    /// Largest batch yielded (None: one batch per row group).
    pub batch_size: Option<usize>,
    /// Keep exactly the matching rows. False: a row group where most rows match may come whole
    /// (a superset; for callers that evaluate the predicate again, like the SQL engine).
    pub exact: bool,
    /// INT32/INT64-backed decimals as Float64, types as stored (no `ARROW:schema` hint).
    pub decimals_as_f64: bool,
    /// Types as stored in the file, exact decimals included (no `ARROW:schema` hint): the SQL
    /// engine's catalog takes the file's string layout as is, where a hinted string view would
    /// be copied back.
    pub file_types: bool,
    /// Narrow row groups to the pages the page index keeps (exact filtering of those rows).
    pub use_page_index: bool,
}

impl ScanSpec {
    /// Whether the file's `ARROW:schema` hint shapes the output types.
    pub fn applies_hint(&self) -> bool {
        !(self.decimals_as_f64 || self.file_types)
    }

    /// How a single file's INT32/INT64-backed decimals are decoded: Float64 under
    /// `decimals_as_f64`; as stored (`decimal64`, p <= 18) under `file_types`; else
    /// `decimal128` (pyarrow's type).
    pub fn decimals(&self) -> Decimals {
        if self.decimals_as_f64 {
            Decimals::Float64
        } else if self.file_types {
            Decimals::Decimal64
        } else {
            Decimals::Decimal128
        }
    }
}

impl Default for ScanSpec {
    fn default() -> Self {
        ScanSpec {
            columns: None,
            row_groups: None,
            predicate: None,
            limit: None,
            threads: 1,
            batch_size: Some(65_536),
            exact: true,
            decimals_as_f64: false,
            file_types: false,
            use_page_index: true,
        }
    }
}

/// What a scan did (complete once the iterator is exhausted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanCounters {
    pub files_total: usize,
    /// Files skipped by their partition values (never opened for data).
    pub files_pruned: usize,
    pub row_groups_total: usize,
    pub row_groups_pruned_stats: usize,
    pub row_groups_pruned_bloom: usize,
    pub row_groups_pruned_dict: usize,
    /// Data pages left unread because the page index excluded them (summed over columns).
    pub pages_pruned: usize,
    /// Rows decoded for the predicate (rows of the row groups / page ranges read).
    pub rows_decoded: usize,
    /// Rows yielded.
    pub rows_matched: usize,
    /// Key sets of hash joins in the predicate (runtime join filters; set by the SQL engine).
    pub join_filters: usize,
}

impl ScanCounters {
    pub fn row_groups_pruned(&self) -> usize {
        self.row_groups_pruned_stats + self.row_groups_pruned_bloom + self.row_groups_pruned_dict
    }

    fn add(&mut self, o: &ScanCounters) {
        self.files_total += o.files_total;
        self.files_pruned += o.files_pruned;
        self.row_groups_total += o.row_groups_total;
        self.row_groups_pruned_stats += o.row_groups_pruned_stats;
        self.row_groups_pruned_bloom += o.row_groups_pruned_bloom;
        self.row_groups_pruned_dict += o.row_groups_pruned_dict;
        self.pages_pruned += o.pages_pruned;
        self.rows_decoded += o.rows_decoded;
        self.rows_matched += o.rows_matched;
    }
}

/// How one output column of a file is made.
#[derive(Clone, Debug)]
pub(crate) enum Output {
    /// Column `index` of the decoded batch, converted through `steps` (hint type, widening).
    Column { index: usize, steps: Vec<DataType> },
    /// A partition value (None: null partition).
    Constant(Option<Scalar>),
    /// A column this file lacks.
    Nulls,
}

/// One file of a scan, prepared.
pub(crate) struct Part {
    pub pf: Arc<ParquetFile>,
    /// Bound to the file's decoded types; None: every row.
    pub pred: Option<Predicate>,
    /// File columns decoded, in the order `Output::Column::index` refers to.
    pub projection: Vec<usize>,
    pub outputs: Vec<Output>,
    /// How this file's INT32/INT64-backed decimals are decoded.
    pub decimals: Decimals,
}

/// A running scan: an iterator of batches of [`Scan::schema`], then [`Scan::counters`].
pub struct Scan {
    schema: SchemaRef,
    parts: Vec<Arc<Part>>,
    units: Vec<(usize, usize)>,
    next_unit: usize,
    ready: VecDeque<RecordBatch>,
    spec: ScanSpec,
    counters: ScanCounters,
    emitted: usize,
    failed: bool,
}

impl Scan {
    pub(crate) fn new(
        schema: SchemaRef,
        parts: Vec<Part>,
        spec: ScanSpec,
        mut counters: ScanCounters,
    ) -> Self {
        let parts: Vec<Arc<Part>> = parts.into_iter().map(Arc::new).collect();
        let mut units = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            match &spec.row_groups {
                Some(gs) => units.extend(gs.iter().map(|&g| (i, g))),
                None => units.extend((0..p.pf.metadata.row_groups.len()).map(|g| (i, g))),
            }
        }
        counters.row_groups_total = units.len();
        Scan {
            schema,
            parts,
            units,
            next_unit: 0,
            ready: VecDeque::new(),
            spec,
            counters,
            emitted: 0,
            failed: false,
        }
    }

    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The counters so far (final once the iterator returned None).
    pub fn counters(&self) -> ScanCounters {
        self.counters
    }

    /// Drain the scan: its batches and final counters.
    pub fn collect_all(mut self) -> Result<(Vec<RecordBatch>, ScanCounters)> {
        let mut out = Vec::new();
        for b in self.by_ref() {
            out.push(b?);
        }
        Ok((out, self.counters))
    }

    fn limit_reached(&self) -> bool {
        self.spec.limit.is_some_and(|l| self.emitted >= l)
    }

    /// Run the next morsel of units; false when none is left.
    fn fill(&mut self) -> Result<bool> {
        if self.next_unit >= self.units.len() || self.limit_reached() {
            return Ok(false);
        }
        let threads = self.spec.threads.max(1);
        let n = (2 * threads).min(self.units.len() - self.next_unit);
        let morsel: Vec<(usize, usize)> = self.units[self.next_unit..self.next_unit + n].to_vec();
        self.next_unit += n;
        let parts = &self.parts;
        let spec = &self.spec;
        let schema = &self.schema;
        let results: Vec<Result<(Option<RecordBatch>, ScanCounters)>> = if n == 1 || threads == 1 {
            // One unit: its columns may use the threads instead.
            let inner = if n == 1 { threads } else { 1 };
            morsel
                .iter()
                .map(|&(p, g)| run_unit(&parts[p], g, spec, schema, inner))
                .collect()
        } else {
            crate::parquet::writer::with_pool(threads, || {
                morsel
                    .par_iter()
                    .map(|&(p, g)| run_unit(&parts[p], g, spec, schema, 1))
                    .collect()
            })?
        };
        for r in results {
            let (batch, c) = r?;
            self.counters.add(&c);
            if let Some(b) = batch
                && b.num_rows() > 0
            {
                self.push(b);
            }
        }
        Ok(true)
    }

    fn push(&mut self, b: RecordBatch) {
        let size = self.spec.batch_size.unwrap_or(usize::MAX).max(1);
        let mut off = 0;
        while off < b.num_rows() {
            let len = size.min(b.num_rows() - off);
            self.ready.push_back(if off == 0 && len == b.num_rows() {
                b.clone()
            } else {
                b.slice(off, len)
            });
            off += len;
        }
    }
}

impl Iterator for Scan {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            if self.limit_reached() {
                return None;
            }
            if let Some(b) = self.ready.pop_front() {
                let b = match self.spec.limit {
                    Some(l) if self.emitted + b.num_rows() > l => b.slice(0, l - self.emitted),
                    _ => b,
                };
                self.emitted += b.num_rows();
                return Some(Ok(b));
            }
            match self.fill() {
                Ok(true) => continue,
                Ok(false) => return None,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Prune, narrow, decode and shape row group `rg` of `part`.
fn run_unit(
    part: &Part,
    rg: usize,
    spec: &ScanSpec,
    schema: &SchemaRef,
    threads: usize,
) -> Result<(Option<RecordBatch>, ScanCounters)> {
    let pf = &part.pf;
    let dec = part.decimals;
    let mut c = ScanCounters::default();
    let rows = pf.metadata.row_groups[rg].num_rows as usize;
    let out_type = |col: usize| pf.output_field(col, dec).data_type().clone();
    let batch = match &part.pred {
        None => {
            c.rows_decoded = rows;
            pf.read_row_group_as(rg, &part.projection, threads, dec)?
        }
        Some(pred) => {
            match prune_row_group(pf, rg, pred, &out_type)? {
                Verdict::Keep => {}
                Verdict::Statistics => {
                    c.row_groups_pruned_stats = 1;
                    return Ok((None, c));
                }
                Verdict::Bloom => {
                    c.row_groups_pruned_bloom = 1;
                    return Ok((None, c));
                }
                Verdict::Dictionary => {
                    c.row_groups_pruned_dict = 1;
                    return Ok((None, c));
                }
            }
            let selection = if spec.use_page_index {
                select_pages(pf, rg, pred, &out_type)?
            } else {
                None
            };
            match selection {
                Some(sel) if sel != [(0, rows)] => {
                    // The page index rules pages out: decode only the kept ranges, exactly.
                    let (b, skipped) = pf.read_row_group_selected_as(
                        rg,
                        &part.projection,
                        &sel,
                        Some(pred),
                        threads,
                        dec,
                    )?;
                    c.pages_pruned = skipped;
                    c.rows_decoded = sel.iter().map(|(s, e)| e - s).sum();
                    b
                }
                _ => {
                    let opts = ScanOptions {
                        decimals: dec,
                        exact: spec.exact,
                        ..ScanOptions::default()
                    };
                    let mut g = pf.scan_row_groups(&[rg], &part.projection, Some(pred), 1, opts)?;
                    let g = g
                        .pop()
                        .ok_or_else(|| Error::invalid("scan returned no row group"))?;
                    c.rows_decoded = g.rows_read;
                    g.batch
                }
            }
        }
    };
    let n = batch.num_rows();
    c.rows_matched = n;
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(part.outputs.len());
    for (o, field) in part.outputs.iter().zip(schema.fields()) {
        arrays.push(match o {
            Output::Column { index, steps } => {
                let mut a = batch.column(*index).clone();
                for t in steps {
                    a = convert(&a, t)?;
                }
                a
            }
            Output::Constant(v) => constant(v.as_ref(), field.data_type(), n)?,
            Output::Nulls => new_null_array(field.data_type(), n),
        });
    }
    let out = RecordBatch::try_new_with_options(
        schema.clone(),
        arrays,
        &RecordBatchOptions::new().with_row_count(Some(n)),
    )
    .map_err(|e| Error::schema(format!("{}: {e}", pf.path.display())))?;
    Ok((Some(out), c))
}
