//! Scans of one Parquet file: the output schema (decoded types, then the `ARROW:schema`
//! hint's) and the prepared [`Part`].

use std::sync::Arc;

use arrow_schema::{Field, Schema, SchemaRef};
use minide_common::{Error, Result};

use super::bind::bind;
use super::driver::{Output, Part, Scan, ScanCounters, ScanSpec};
use super::hint;
use super::predicate::Predicate;
use super::prune::{Verdict, prune_row_group, select_pages};
use crate::parquet::reader::{Decimals, ParquetFile};

/// The file's columns as the scan decodes them (before the hint): the schema predicates bind to.
pub fn decoded_schema(pf: &ParquetFile, decimals: Decimals) -> Schema {
    Schema::new(
        (0..pf.columns.len())
            .map(|c| pf.output_field(c, decimals))
            .collect::<Vec<Field>>(),
    )
}

/// Output fields of `projection` and, per field, the hint's type when the hint applies.
fn output_fields(
    pf: &ParquetFile,
    projection: &[usize],
    spec: &ScanSpec,
) -> (Vec<Field>, Vec<Output>) {
    let hinted = if spec.applies_hint() {
        hint::of_file(pf)
    } else {
        None
    };
    let mut fields = Vec::with_capacity(projection.len());
    let mut outputs = Vec::with_capacity(projection.len());
    for (i, &c) in projection.iter().enumerate() {
        let raw = pf.output_field(c, spec.decimals());
        let field = match &hinted {
            Some(h) => hint::target_field(&raw, h),
            None => raw.clone(),
        };
        let steps = if field.data_type() == raw.data_type() {
            Vec::new()
        } else {
            vec![field.data_type().clone()]
        };
        outputs.push(Output::Column { index: i, steps });
        fields.push(field);
    }
    (fields, outputs)
}

/// The schema [`scan_file`] yields for `spec`'s columns.
pub fn file_output_schema(pf: &ParquetFile, spec: &ScanSpec) -> Result<SchemaRef> {
    let projection = pf.projection(spec.columns.as_deref())?;
    let (fields, _) = output_fields(pf, &projection, spec);
    Ok(Arc::new(with_hint_metadata(pf, spec, fields)))
}

fn with_hint_metadata(pf: &ParquetFile, spec: &ScanSpec, fields: Vec<Field>) -> Schema {
    let meta = if spec.applies_hint() {
        hint::of_file(pf).map(|h| h.metadata().clone())
    } else {
        None
    };
    match meta {
        Some(m) => Schema::new_with_metadata(fields, m),
        None => Schema::new(fields),
    }
}

/// Scan one open file.
pub fn scan_file(pf: Arc<ParquetFile>, spec: ScanSpec) -> Result<Scan> {
    let n = pf.metadata.row_groups.len();
    if let Some(g) = spec.row_groups.iter().flatten().find(|&&g| g >= n) {
        return Err(Error::invalid(format!(
            "row group {g} does not exist (file has {n})"
        )));
    }
    let projection = pf.projection(spec.columns.as_deref())?;
    let pred = match &spec.predicate {
        Some(p) => Some(bind(p, &decoded_schema(&pf, spec.decimals()))?),
        None => None,
    };
    let (fields, outputs) = output_fields(&pf, &projection, &spec);
    let schema = Arc::new(with_hint_metadata(&pf, &spec, fields));
    let counters = ScanCounters {
        files_total: 1,
        ..ScanCounters::default()
    };
    let part = Part {
        pf,
        pred,
        projection,
        outputs,
        decimals: spec.decimals(),
    };
    Ok(Scan::new(schema, vec![part], spec, counters))
}

/// Whether the page index rules out some pages of a row group that statistics, Bloom filters
/// and dictionaries keep (then a scan decodes only part of that row group).
pub fn pages_prunable(pf: &ParquetFile, predicate: &Predicate) -> Result<bool> {
    let pred = bind(predicate, &decoded_schema(pf, Decimals::Decimal128))?;
    let out_type = |c: usize| pf.output_field(c, Decimals::Decimal128).data_type().clone();
    for rg in 0..pf.metadata.row_groups.len() {
        if prune_row_group(pf, rg, &pred, &out_type)? != Verdict::Keep {
            continue;
        }
        let rows = pf.metadata.row_groups[rg].num_rows as usize;
        if let Some(sel) = select_pages(pf, rg, &pred, &out_type)?
            && sel != [(0, rows)]
        {
            return Ok(true);
        }
    }
    Ok(false)
}
