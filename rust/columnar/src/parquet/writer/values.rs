//! Arrow arrays -> the writer's physical values and definition levels.
//!
//! A column chunk may span several record batches; their non-null values are gathered into one
//! typed vector per physical type (byte arrays as borrowed slices, no copy of the bytes), and
//! every row's definition level (1 = value, 0 = null) is recorded for nullable columns.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrowPrimitiveType};
use arrow_schema::{DataType, TimeUnit as ATU};

use super::schema::LeafSpec;
use minide_common::{Error, Result};

/// Non-null values of one column chunk in physical form.
pub enum Values<'a> {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(Vec<&'a [u8]>),
    Decimal { values: Vec<i128>, width: usize },
}

impl<'a> Values<'a> {
    pub fn len(&self) -> usize {
        match self {
            Values::Bool(v) => v.len(),
            Values::I32(v) => v.len(),
            Values::I64(v) => v.len(),
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::Bytes(v) => v.len(),
            Values::Decimal { values, .. } => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values at `idx` (dictionary entries used by a page).
    pub fn select(&self, idx: &[u32]) -> Values<'a> {
        fn pick<T: Copy>(v: &[T], idx: &[u32]) -> Vec<T> {
            idx.iter().map(|&i| v[i as usize]).collect()
        }
        match self {
            Values::Bool(v) => Values::Bool(pick(v, idx)),
            Values::I32(v) => Values::I32(pick(v, idx)),
            Values::I64(v) => Values::I64(pick(v, idx)),
            Values::F32(v) => Values::F32(pick(v, idx)),
            Values::F64(v) => Values::F64(pick(v, idx)),
            Values::Bytes(v) => Values::Bytes(pick(v, idx)),
            Values::Decimal { values, width } => Values::Decimal {
                values: pick(values, idx),
                width: *width,
            },
        }
    }
}

/// One column chunk ready to encode.
pub struct ColumnData<'a> {
    pub values: Values<'a>,
    /// Definition level per row or, for nested columns, per level slot (None for REQUIRED flat
    /// columns: every row has a value).
    pub def: Option<Vec<u32>>,
    /// Repetition levels (nested columns under a list or map only).
    pub rep: Option<Vec<u32>>,
    pub max_def: u32,
    pub max_rep: u32,
    pub num_rows: usize,
}

pub fn empty_values(dt: &DataType, width: usize) -> Result<Values<'static>> {
    Ok(match dt {
        DataType::Boolean => Values::Bool(Vec::new()),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::Date32
        | DataType::Time32(_) => Values::I32(Vec::new()),
        DataType::Int64 | DataType::UInt64 | DataType::Timestamp(..) | DataType::Time64(_) => {
            Values::I64(Vec::new())
        }
        DataType::Float32 => Values::F32(Vec::new()),
        DataType::Float64 => Values::F64(Vec::new()),
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::Utf8View
        | DataType::BinaryView => Values::Bytes(Vec::new()),
        DataType::Decimal128(..) => Values::Decimal {
            values: Vec::new(),
            width,
        },
        other => return Err(Error::unsupported(format!("writing Arrow type {other}"))),
    })
}

fn prim<T, U>(
    a: &dyn Array,
    idx: impl Iterator<Item = usize>,
    out: &mut Vec<U>,
    f: impl Fn(T::Native) -> U,
) where
    T: ArrowPrimitiveType,
{
    let v = a.as_primitive::<T>().values();
    out.extend(idx.map(|i| f(v[i])));
}

/// Append the values at positions `idx` of `a` (a non-dictionary array) to `out`.
pub fn gather<'a>(
    a: &'a dyn Array,
    idx: impl Iterator<Item = usize>,
    out: &mut Values<'a>,
) -> Result<()> {
    match (a.data_type(), out) {
        (DataType::Boolean, Values::Bool(o)) => {
            let b = a.as_boolean();
            o.extend(idx.map(|i| b.value(i)));
        }
        (DataType::Int8, Values::I32(o)) => prim::<Int8Type, _>(a, idx, o, i32::from),
        (DataType::Int16, Values::I32(o)) => prim::<Int16Type, _>(a, idx, o, i32::from),
        (DataType::Int32, Values::I32(o)) => prim::<Int32Type, _>(a, idx, o, |x| x),
        (DataType::UInt8, Values::I32(o)) => prim::<UInt8Type, _>(a, idx, o, i32::from),
        (DataType::UInt16, Values::I32(o)) => prim::<UInt16Type, _>(a, idx, o, i32::from),
        (DataType::UInt32, Values::I32(o)) => prim::<UInt32Type, _>(a, idx, o, |x| x as i32),
        (DataType::Date32, Values::I32(o)) => prim::<Date32Type, _>(a, idx, o, |x| x),
        (DataType::Time32(ATU::Second), Values::I32(o)) => {
            prim::<Time32SecondType, _>(a, idx, o, |x| x.wrapping_mul(1000))
        }
        (DataType::Time32(_), Values::I32(o)) => prim::<Time32MillisecondType, _>(a, idx, o, |x| x),
        (DataType::Int64, Values::I64(o)) => prim::<Int64Type, _>(a, idx, o, |x| x),
        (DataType::UInt64, Values::I64(o)) => prim::<UInt64Type, _>(a, idx, o, |x| x as i64),
        (DataType::Timestamp(u, _), Values::I64(o)) => match u {
            ATU::Second => prim::<TimestampSecondType, _>(a, idx, o, |x| x.wrapping_mul(1000)),
            ATU::Millisecond => prim::<TimestampMillisecondType, _>(a, idx, o, |x| x),
            ATU::Microsecond => prim::<TimestampMicrosecondType, _>(a, idx, o, |x| x),
            ATU::Nanosecond => prim::<TimestampNanosecondType, _>(a, idx, o, |x| x),
        },
        (DataType::Time64(ATU::Nanosecond), Values::I64(o)) => {
            prim::<Time64NanosecondType, _>(a, idx, o, |x| x)
        }
        (DataType::Time64(_), Values::I64(o)) => prim::<Time64MicrosecondType, _>(a, idx, o, |x| x),
        (DataType::Float32, Values::F32(o)) => prim::<Float32Type, _>(a, idx, o, |x| x),
        (DataType::Float64, Values::F64(o)) => prim::<Float64Type, _>(a, idx, o, |x| x),
        (DataType::Decimal128(..), Values::Decimal { values, .. }) => {
            prim::<Decimal128Type, _>(a, idx, values, |x| x)
        }
        (DataType::Utf8, Values::Bytes(o)) => {
            let s = a.as_string::<i32>();
            o.extend(idx.map(|i| s.value(i).as_bytes()));
        }
        (DataType::LargeUtf8, Values::Bytes(o)) => {
            let s = a.as_string::<i64>();
            o.extend(idx.map(|i| s.value(i).as_bytes()));
        }
        (DataType::Utf8View, Values::Bytes(o)) => {
            let s = a.as_string_view();
            o.extend(idx.map(|i| s.value(i).as_bytes()));
        }
        (DataType::Binary, Values::Bytes(o)) => {
            let s = a.as_binary::<i32>();
            o.extend(idx.map(|i| s.value(i)));
        }
        (DataType::LargeBinary, Values::Bytes(o)) => {
            let s = a.as_binary::<i64>();
            o.extend(idx.map(|i| s.value(i)));
        }
        (DataType::BinaryView, Values::Bytes(o)) => {
            let s = a.as_binary_view();
            o.extend(idx.map(|i| s.value(i)));
        }
        (dt, _) => {
            return Err(Error::schema(format!(
                "column changed type between batches (got {dt})"
            )));
        }
    }
    Ok(())
}

/// Gather one column of a row group (its arrays from consecutive batches).
pub fn collect<'a>(arrays: &[&'a dyn Array], leaf: &LeafSpec) -> Result<ColumnData<'a>> {
    let num_rows: usize = arrays.iter().map(|a| a.len()).sum();
    let width = leaf.element.type_length.unwrap_or(16).max(1) as usize;
    let value_type = match arrays.first().map(|a| a.data_type()) {
        Some(DataType::Dictionary(_, v)) => v.as_ref().clone(),
        Some(dt) => dt.clone(),
        None => return Err(Error::invalid("no arrays for a column chunk")),
    };
    let mut values = empty_values(&value_type, width)?;
    let mut def: Option<Vec<u32>> = leaf.nullable.then(|| Vec::with_capacity(num_rows));
    for &a in arrays {
        let nulls = a.logical_nulls();
        if let Some(n) = &nulls
            && n.null_count() > 0
            && !leaf.nullable
        {
            return Err(Error::schema(format!(
                "column {:?} is declared non-nullable but holds nulls",
                leaf.name
            )));
        }
        if let Some(d) = def.as_mut() {
            match &nulls {
                Some(n) if n.null_count() > 0 => d.extend(n.iter().map(u32::from)),
                _ => d.extend(std::iter::repeat_n(1, a.len())),
            }
        }
        let valid = |i: &usize| nulls.as_ref().is_none_or(|n| n.is_valid(*i));
        if let Some(dict) = a.as_any_dictionary_opt() {
            let dict_values = dict.values().as_ref();
            let present = a.len() - nulls.as_ref().map_or(0, |n| n.null_count());
            if dict_values.is_empty() {
                // Only all-null arrays may have an empty dictionary (normalized_keys needs one).
                if present > 0 {
                    return Err(Error::invalid("dictionary array with keys but no values"));
                }
                continue;
            }
            let keys = dict.normalized_keys();
            let idx = (0..a.len()).filter(valid).map(|i| keys[i]);
            gather(dict_values, idx, &mut values)?;
        } else if nulls.as_ref().is_some_and(|n| n.null_count() > 0) {
            gather(a, (0..a.len()).filter(valid), &mut values)?;
        } else {
            gather(a, 0..a.len(), &mut values)?;
        }
    }
    Ok(ColumnData {
        values,
        def,
        rep: None,
        max_def: u32::from(leaf.nullable),
        max_rep: 0,
        num_rows,
    })
}
