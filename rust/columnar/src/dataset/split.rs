//! Dynamic partitioning: cut a record batch into one batch per distinct combination of the
//! partition columns' values. Rows keep their order inside each part.

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type,
    UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch, make_array};
use arrow_data::transform::MutableArrayData;
use arrow_schema::{DataType, SchemaRef};
use minide_common::{Error, Result};

use super::hive;

/// The rows of one partition: its directory (`k1=v1/k2=v2`, escaped) and the data columns.
#[derive(Debug)]
pub struct Part {
    pub dir: String,
    pub batch: RecordBatch,
}

/// Per-row codes of a column: equal values get equal codes (null is its own value). Codes are
/// dense from 0; the values' bytes are only hashed, never copied.
fn codes(arr: &dyn Array) -> Result<Vec<u32>> {
    let n = arr.len();
    let mut map: HashMap<Option<&[u8]>, u32> = HashMap::new();
    let mut out = Vec::with_capacity(n);
    macro_rules! push {
        ($key:expr) => {{
            let next = map.len() as u32;
            out.push(*map.entry($key).or_insert(next));
        }};
    }
    macro_rules! fixed {
        ($t:ty) => {{
            let a = arr.as_primitive::<$t>();
            let bytes = a.values().inner().as_slice();
            let w = std::mem::size_of::<<$t as arrow_array::ArrowPrimitiveType>::Native>();
            for i in 0..n {
                let key = (!a.is_null(i)).then(|| &bytes[i * w..(i + 1) * w]);
                push!(key);
            }
        }};
    }
    macro_rules! strings {
        ($a:expr) => {{
            let a = $a;
            for i in 0..n {
                let key = (!a.is_null(i)).then(|| a.value(i).as_bytes());
                push!(key);
            }
        }};
    }
    match arr.data_type() {
        DataType::Int8 => fixed!(Int8Type),
        DataType::Int16 => fixed!(Int16Type),
        DataType::Int32 => fixed!(Int32Type),
        DataType::Int64 => fixed!(Int64Type),
        DataType::UInt8 => fixed!(UInt8Type),
        DataType::UInt16 => fixed!(UInt16Type),
        DataType::UInt32 => fixed!(UInt32Type),
        DataType::UInt64 => fixed!(UInt64Type),
        DataType::Date32 => fixed!(Date32Type),
        DataType::Boolean => {
            let a = arr.as_boolean();
            for i in 0..n {
                let key: Option<&[u8]> =
                    (!a.is_null(i)).then_some(if a.value(i) { &[1] } else { &[0] });
                push!(key);
            }
        }
        DataType::Utf8 => strings!(arr.as_string::<i32>()),
        DataType::LargeUtf8 => strings!(arr.as_string::<i64>()),
        DataType::Utf8View => strings!(arr.as_string_view()),
        // Keys stand for values; equal values under different keys meet again by directory.
        DataType::Dictionary(_, _) => {
            let keys = codes(arr.as_any_dictionary().keys())?;
            let nulls = arr.logical_nulls();
            for (i, k) in keys.into_iter().enumerate() {
                let null = nulls.as_ref().is_some_and(|b| b.is_null(i));
                out.push(if null { u32::MAX } else { k });
            }
        }
        other => {
            return Err(Error::unsupported(format!(
                "partitioning by a column of type {other} (use integers, strings, booleans or dates)"
            )));
        }
    }
    Ok(out)
}

/// Copy `rows` (ascending) of `arr`: contiguous runs are copied in one extend each.
fn take_rows(arr: &ArrayRef, rows: &[u32]) -> Result<ArrayRef> {
    let data = arr.to_data();
    let mut m = MutableArrayData::new(vec![&data], false, rows.len());
    let mut i = 0;
    while i < rows.len() {
        let start = rows[i] as usize;
        let mut end = start + 1;
        i += 1;
        while i < rows.len() && rows[i] as usize == end {
            end += 1;
            i += 1;
        }
        m.try_extend(0, start, end)?;
    }
    Ok(make_array(m.freeze()))
}

/// Split `batch` by the columns at `part_idx`; each part holds the columns at `data_idx`
/// (schema `data_schema`). Parts come in order of first appearance.
pub fn split(
    batch: &RecordBatch,
    names: &[String],
    part_idx: &[usize],
    data_idx: &[usize],
    data_schema: &SchemaRef,
) -> Result<Vec<Part>> {
    let n = batch.num_rows();
    let project = |rows: Option<&[u32]>| -> Result<RecordBatch> {
        let cols = data_idx
            .iter()
            .map(|&i| match rows {
                None => Ok(batch.column(i).clone()),
                Some(r) => take_rows(batch.column(i), r),
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        let opts = arrow_array::RecordBatchOptions::new()
            .with_row_count(Some(rows.map_or(n, <[u32]>::len)));
        RecordBatch::try_new_with_options(data_schema.clone(), cols, &opts).map_err(Error::from)
    };
    if n == 0 {
        return Ok(Vec::new());
    }
    // One group id per row, combining the columns' codes.
    let mut group: Vec<u32> = vec![0; n];
    let mut ngroups = 1usize;
    for &c in part_idx {
        let col = codes(batch.column(c).as_ref())?;
        let mut combine: HashMap<(u32, u32), u32> = HashMap::new();
        for (g, k) in group.iter_mut().zip(col) {
            let next = combine.len() as u32;
            *g = *combine.entry((*g, k)).or_insert(next);
        }
        ngroups = combine.len();
    }
    // Counting sort of row numbers by group (stable: rows stay ascending).
    let mut first = vec![usize::MAX; ngroups];
    let mut counts = vec![0usize; ngroups + 1];
    for (row, &g) in group.iter().enumerate() {
        let g = g as usize;
        if first[g] == usize::MAX {
            first[g] = row;
        }
        counts[g + 1] += 1;
    }
    for g in 0..ngroups {
        counts[g + 1] += counts[g];
    }
    let starts = counts.clone();
    let mut rows = vec![0u32; n];
    for (row, &g) in group.iter().enumerate() {
        let g = g as usize;
        rows[counts[g]] = row as u32;
        counts[g] += 1;
    }
    let mut order: Vec<usize> = (0..ngroups).collect();
    order.sort_by_key(|&g| first[g]);
    let mut parts = Vec::with_capacity(ngroups);
    for g in order {
        let mut segs = Vec::with_capacity(part_idx.len());
        for (&c, name) in part_idx.iter().zip(names) {
            let v = hive::format_value(batch.column(c), first[g])?;
            segs.push(hive::segment(name, v.as_deref()));
        }
        let batch = if ngroups == 1 {
            project(None)?
        } else {
            project(Some(&rows[starts[g]..starts[g + 1]]))?
        };
        parts.push(Part {
            dir: segs.join("/"),
            batch,
        });
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int32Array, StringArray};
    use arrow_schema::{Field, Schema};

    use super::*;

    #[test]
    fn splits_by_two_columns_keeping_row_order() -> Result<()> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("y", DataType::Int32, true),
            Field::new("v", DataType::Int32, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![
                    Some("a"),
                    Some("b"),
                    Some("a"),
                    None,
                    Some("a"),
                ])),
                Arc::new(Int32Array::from(vec![
                    Some(1),
                    Some(1),
                    Some(2),
                    Some(1),
                    Some(1),
                ])),
                Arc::new(Int32Array::from(vec![0, 1, 2, 3, 4])),
            ],
        )?;
        let data = Arc::new(Schema::new(vec![Field::new("v", DataType::Int32, false)]));
        let parts = split(&batch, &["k".into(), "y".into()], &[0, 1], &[2], &data)?;
        let got: Vec<(String, Vec<i32>)> = parts
            .iter()
            .map(|p| {
                let v = p
                    .batch
                    .column(0)
                    .as_primitive::<Int32Type>()
                    .values()
                    .to_vec();
                (p.dir.clone(), v)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("k=a/y=1".to_string(), vec![0, 4]),
                ("k=b/y=1".to_string(), vec![1]),
                ("k=a/y=2".to_string(), vec![2]),
                ("k=__HIVE_DEFAULT_PARTITION__/y=1".to_string(), vec![3]),
            ]
        );
        Ok(())
    }
}
