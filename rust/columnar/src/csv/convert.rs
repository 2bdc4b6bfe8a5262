//! Stage 3: field text -> Arrow arrays, straight into Arrow buffers (values `Vec<T>` / offsets +
//! bytes, a validity bitmap only when a null shows up).
//!
//! A block is converted a group of rows at a time (a few thousand): all columns of one group
//! are appended to persistent [`ColumnBuilder`]s while the group's field spans are still in the
//! CPU cache, then the next group is tokenized. A failed group can be rolled back
//! ([`ColumnBuilder::truncate`]) to drop bad rows.

use std::sync::Arc;

use std::ops::Range;

use arrow_array::types::*;
use arrow_array::{
    ArrayRef, ArrowPrimitiveType, BooleanArray, GenericBinaryArray, GenericStringArray, NullArray,
    OffsetSizeTrait, PrimitiveArray,
};
use arrow_buffer::{
    ArrowNativeType, BooleanBufferBuilder, Buffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer,
};
use arrow_schema::{DataType, TimeUnit};
use minide_common::{Error, Result};

use super::parse::{
    TsKind, parse_bool, parse_date, parse_f32, parse_f64, parse_i64, parse_timestamp, parse_u64,
};

/// Decides which field texts are nulls (the `null_values` option).
#[derive(Clone, Debug)]
pub struct NullMatcher {
    empty: bool,
    others: Vec<Vec<u8>>,
    max_len: usize,
}

impl NullMatcher {
    pub fn new(values: &[Vec<u8>]) -> Self {
        let others: Vec<Vec<u8>> = values.iter().filter(|v| !v.is_empty()).cloned().collect();
        NullMatcher {
            empty: values.iter().any(|v| v.is_empty()),
            max_len: others.iter().map(Vec::len).max().unwrap_or(0),
            others,
        }
    }

    #[inline]
    pub fn is_null(&self, v: &[u8]) -> bool {
        if v.is_empty() {
            return self.empty;
        }
        v.len() <= self.max_len && self.others.iter().any(|o| o.as_slice() == v)
    }
}

/// Tokenized fields of one block, seen column by column.
pub(crate) struct View<'a> {
    pub data: &'a [u8],
    pub spans: &'a [u32],
    pub ncols: usize,
    pub nrows: usize,
}

impl View<'_> {
    #[inline]
    pub fn field(&self, r: usize, c: usize) -> &[u8] {
        let k = 2 * (r * self.ncols + c);
        &self.data[self.spans[k] as usize..self.spans[k + 1] as usize]
    }
}

/// Why a column did not convert.
#[derive(Debug)]
pub(crate) enum ConvError {
    /// The value in this row does not parse as the column's type.
    Value(usize),
    Other(Error),
}

/// What to do with a value that does not parse.
pub(crate) enum OnFail<'a> {
    /// Stop at the first one.
    Stop,
    /// Record its row, store a null, go on.
    Collect(&'a mut Vec<u32>),
}

/// The types an explicit schema may ask for.
pub fn is_supported(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Null
            | DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float32
            | DataType::Float64
            | DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::Date32
            | DataType::Timestamp(_, _)
    )
}

/// Values of one column under construction.
enum Values {
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bool(BooleanBufferBuilder),
    Bytes32 { offsets: Vec<i32>, data: Vec<u8> },
    Bytes64 { offsets: Vec<i64>, data: Vec<u8> },
    Null(usize),
}

fn first_offset<O: Default>(capacity: usize) -> Vec<O> {
    let mut offsets = Vec::with_capacity(capacity + 1);
    offsets.push(O::default());
    offsets
}

/// One output column being built from field text, group after group.
pub(crate) struct ColumnBuilder {
    data_type: DataType,
    valid: NullBufferBuilder,
    values: Values,
}

impl ColumnBuilder {
    pub fn new(t: &DataType, capacity: usize) -> Result<Self> {
        let values = match t {
            DataType::Int8 => Values::I8(Vec::with_capacity(capacity)),
            DataType::Int16 => Values::I16(Vec::with_capacity(capacity)),
            DataType::Int32 | DataType::Date32 => Values::I32(Vec::with_capacity(capacity)),
            DataType::Int64 | DataType::Timestamp(_, _) => {
                Values::I64(Vec::with_capacity(capacity))
            }
            DataType::UInt8 => Values::U8(Vec::with_capacity(capacity)),
            DataType::UInt16 => Values::U16(Vec::with_capacity(capacity)),
            DataType::UInt32 => Values::U32(Vec::with_capacity(capacity)),
            DataType::UInt64 => Values::U64(Vec::with_capacity(capacity)),
            DataType::Float32 => Values::F32(Vec::with_capacity(capacity)),
            DataType::Float64 => Values::F64(Vec::with_capacity(capacity)),
            DataType::Boolean => Values::Bool(BooleanBufferBuilder::new(capacity)),
            DataType::Utf8 | DataType::Binary => Values::Bytes32 {
                offsets: first_offset(capacity),
                data: Vec::new(),
            },
            DataType::LargeUtf8 | DataType::LargeBinary => Values::Bytes64 {
                offsets: first_offset(capacity),
                data: Vec::new(),
            },
            DataType::Null => Values::Null(0),
            other => {
                return Err(Error::unsupported(format!("CSV columns of type {other}")));
            }
        };
        Ok(ColumnBuilder {
            data_type: t.clone(),
            valid: NullBufferBuilder::new(capacity),
            values,
        })
    }

    pub fn len(&self) -> usize {
        self.valid.len()
    }

    /// Drop everything after the first `len` values (to redo a group without its bad rows).
    pub fn truncate(&mut self, len: usize) {
        self.valid.truncate(len);
        match &mut self.values {
            Values::I8(v) => v.truncate(len),
            Values::I16(v) => v.truncate(len),
            Values::I32(v) => v.truncate(len),
            Values::I64(v) => v.truncate(len),
            Values::U8(v) => v.truncate(len),
            Values::U16(v) => v.truncate(len),
            Values::U32(v) => v.truncate(len),
            Values::U64(v) => v.truncate(len),
            Values::F32(v) => v.truncate(len),
            Values::F64(v) => v.truncate(len),
            Values::Bool(b) => b.truncate(len),
            Values::Bytes32 { offsets, data } => {
                offsets.truncate(len + 1);
                data.truncate(offsets.last().map_or(0, |o| *o as usize));
            }
            Values::Bytes64 { offsets, data } => {
                offsets.truncate(len + 1);
                data.truncate(offsets.last().map_or(0, |o| *o as usize));
            }
            Values::Null(n) => *n = (*n).min(len),
        }
    }

    /// Append column `c` of rows `rows` of `v`.
    pub fn append(
        &mut self,
        v: &View,
        c: usize,
        nulls: &NullMatcher,
        fail: &mut OnFail,
    ) -> Result<(), ConvError> {
        let rows = 0..v.nrows;
        let valid = &mut self.valid;
        macro_rules! int {
            ($vec:expr, $native:ty) => {
                append_values($vec, valid, v, c, rows, nulls, fail, |b| {
                    parse_i64(b).and_then(|x| <$native>::try_from(x).ok())
                })
            };
        }
        macro_rules! uint {
            ($vec:expr, $native:ty) => {
                append_values($vec, valid, v, c, rows, nulls, fail, |b| {
                    parse_u64(b).and_then(|x| <$native>::try_from(x).ok())
                })
            };
        }
        match (&mut self.values, &self.data_type) {
            (Values::I64(vec), DataType::Timestamp(unit, tz)) => {
                let per = minide_common::time::unit_nanos(*unit);
                let zoned_ok = tz.is_some();
                append_values(vec, valid, v, c, rows, nulls, fail, move |b: &[u8]| {
                    let ts = parse_timestamp(b)?;
                    if ts.kind == TsKind::Zoned && !zoned_ok {
                        return None;
                    }
                    ts.in_units(per)
                })
            }
            (Values::I64(vec), _) => append_values(vec, valid, v, c, rows, nulls, fail, parse_i64),
            (Values::I32(vec), DataType::Date32) => {
                append_values(vec, valid, v, c, rows, nulls, fail, parse_date)
            }
            (Values::I32(vec), _) => int!(vec, i32),
            (Values::I16(vec), _) => int!(vec, i16),
            (Values::I8(vec), _) => int!(vec, i8),
            (Values::U64(vec), _) => append_values(vec, valid, v, c, rows, nulls, fail, parse_u64),
            (Values::U32(vec), _) => uint!(vec, u32),
            (Values::U16(vec), _) => uint!(vec, u16),
            (Values::U8(vec), _) => uint!(vec, u8),
            (Values::F64(vec), _) => append_values(vec, valid, v, c, rows, nulls, fail, parse_f64),
            (Values::F32(vec), _) => append_values(vec, valid, v, c, rows, nulls, fail, parse_f32),
            (Values::Bool(b), _) => append_bools(b, valid, v, c, rows, nulls, fail),
            (Values::Bytes32 { offsets, data }, _) => {
                append_bytes(offsets, data, valid, v, c, rows, nulls)
            }
            (Values::Bytes64 { offsets, data }, _) => {
                append_bytes(offsets, data, valid, v, c, rows, nulls)
            }
            (Values::Null(n), _) => {
                for r in rows {
                    if !nulls.is_null(v.field(r, c)) {
                        match fail {
                            OnFail::Stop => return Err(ConvError::Value(r)),
                            OnFail::Collect(bad) => bad.push(r as u32),
                        }
                    }
                    valid.append_null();
                    *n += 1;
                }
                Ok(())
            }
        }
    }

    pub fn finish(mut self) -> Result<ArrayRef> {
        let nulls = self.valid.finish();
        let t = self.data_type;
        fn prim<T: ArrowPrimitiveType>(
            v: Vec<T::Native>,
            n: Option<arrow_buffer::NullBuffer>,
            t: DataType,
        ) -> ArrayRef {
            Arc::new(PrimitiveArray::<T>::new(ScalarBuffer::from(v), n).with_data_type(t))
        }
        Ok(match (self.values, &t) {
            (Values::I8(v), _) => prim::<Int8Type>(v, nulls, t),
            (Values::I16(v), _) => prim::<Int16Type>(v, nulls, t),
            (Values::I32(v), DataType::Date32) => prim::<Date32Type>(v, nulls, t),
            (Values::I32(v), _) => prim::<Int32Type>(v, nulls, t),
            (Values::I64(v), DataType::Timestamp(unit, _)) => match unit {
                TimeUnit::Second => prim::<TimestampSecondType>(v, nulls, t),
                TimeUnit::Millisecond => prim::<TimestampMillisecondType>(v, nulls, t),
                TimeUnit::Microsecond => prim::<TimestampMicrosecondType>(v, nulls, t),
                TimeUnit::Nanosecond => prim::<TimestampNanosecondType>(v, nulls, t),
            },
            (Values::I64(v), _) => prim::<Int64Type>(v, nulls, t),
            (Values::U8(v), _) => prim::<UInt8Type>(v, nulls, t),
            (Values::U16(v), _) => prim::<UInt16Type>(v, nulls, t),
            (Values::U32(v), _) => prim::<UInt32Type>(v, nulls, t),
            (Values::U64(v), _) => prim::<UInt64Type>(v, nulls, t),
            (Values::F32(v), _) => prim::<Float32Type>(v, nulls, t),
            (Values::F64(v), _) => prim::<Float64Type>(v, nulls, t),
            (Values::Bool(mut b), _) => Arc::new(BooleanArray::new(b.finish(), nulls)),
            (Values::Bytes32 { offsets, data }, _) => bytes_array(offsets, data, nulls, &t)?,
            (Values::Bytes64 { offsets, data }, _) => bytes_array(offsets, data, nulls, &t)?,
            (Values::Null(n), _) => Arc::new(NullArray::new(n)),
        })
    }
}

#[inline]
#[allow(clippy::too_many_arguments)]
fn append_values<N: Default + Copy>(
    values: &mut Vec<N>,
    valid: &mut NullBufferBuilder,
    v: &View,
    c: usize,
    rows: Range<usize>,
    nulls: &NullMatcher,
    fail: &mut OnFail,
    parse: impl Fn(&[u8]) -> Option<N>,
) -> Result<(), ConvError> {
    values.reserve(rows.len());
    for r in rows {
        let f = v.field(r, c);
        if nulls.is_null(f) {
            values.push(N::default());
            valid.append_null();
            continue;
        }
        match parse(f) {
            Some(x) => {
                values.push(x);
                valid.append_non_null();
            }
            None => match fail {
                OnFail::Stop => return Err(ConvError::Value(r)),
                OnFail::Collect(bad) => {
                    bad.push(r as u32);
                    values.push(N::default());
                    valid.append_null();
                }
            },
        }
    }
    Ok(())
}

fn append_bools(
    values: &mut BooleanBufferBuilder,
    valid: &mut NullBufferBuilder,
    v: &View,
    c: usize,
    rows: Range<usize>,
    nulls: &NullMatcher,
    fail: &mut OnFail,
) -> Result<(), ConvError> {
    for r in rows {
        let f = v.field(r, c);
        let parsed = if nulls.is_null(f) {
            None
        } else {
            match parse_bool(f) {
                Some(b) => Some(b),
                None => match fail {
                    OnFail::Stop => return Err(ConvError::Value(r)),
                    OnFail::Collect(bad) => {
                        bad.push(r as u32);
                        None
                    }
                },
            }
        };
        values.append(parsed.unwrap_or(false));
        valid.append(parsed.is_some());
    }
    Ok(())
}

fn append_bytes<O: ArrowNativeType>(
    offsets: &mut Vec<O>,
    data: &mut Vec<u8>,
    valid: &mut NullBufferBuilder,
    v: &View,
    c: usize,
    rows: Range<usize>,
    nulls: &NullMatcher,
) -> Result<(), ConvError> {
    let total: usize = rows
        .clone()
        .map(|r| {
            let k = 2 * (r * v.ncols + c);
            (v.spans[k + 1] - v.spans[k]) as usize
        })
        .sum();
    // Short values (most of them) are copied as one fixed 16-byte move instead of a memcpy
    // call: the bytes past the value land in slack that the next value overwrites, and the
    // buffer is cut back to the real end below.
    const SHORT: usize = 16;
    let mut pos = data.len();
    data.resize(pos + total + SHORT, 0);
    offsets.reserve(rows.len());
    for r in rows {
        let k = 2 * (r * v.ncols + c);
        let (s, e) = (v.spans[k] as usize, v.spans[k + 1] as usize);
        let f = &v.data[s..e];
        if nulls.is_null(f) {
            valid.append_null();
        } else {
            let len = f.len();
            match v.data.get(s..s + SHORT) {
                Some(src) if len <= SHORT => data[pos..pos + SHORT].copy_from_slice(src),
                _ => data[pos..pos + len].copy_from_slice(f),
            }
            pos += len;
            valid.append_non_null();
        }
        offsets.push(O::usize_as(pos));
    }
    data.truncate(pos);
    if O::from_usize(data.len()).is_none() {
        return Err(ConvError::Other(Error::invalid(
            "a string column of one batch exceeds 2 GiB; lower batch_size or ask for large_string",
        )));
    }
    Ok(())
}

fn bytes_array<O: OffsetSizeTrait>(
    offsets: Vec<O>,
    data: Vec<u8>,
    nulls: Option<arrow_buffer::NullBuffer>,
    t: &DataType,
) -> Result<ArrayRef> {
    // SAFETY: offsets start at 0 and never decrease (lengths are added), and the last one fits O
    // (checked in append_bytes, which fails the batch otherwise), so every earlier one does too.
    let offsets = unsafe { OffsetBuffer::new_unchecked(ScalarBuffer::from(offsets)) };
    let data = Buffer::from_vec(data);
    Ok(match t {
        // SAFETY: every value is a slice of a block validated as UTF-8, cut at ASCII delimiter,
        // quote or newline bytes (never inside a multi-byte character), so each is valid UTF-8.
        DataType::Utf8 | DataType::LargeUtf8 => {
            Arc::new(unsafe { GenericStringArray::<O>::new_unchecked(offsets, data, nulls) })
        }
        _ => Arc::new(GenericBinaryArray::<O>::try_new(offsets, data, nulls)?),
    })
}

#[cfg(test)]
mod tests {
    use arrow_array::{Array, Int64Array, StringArray};

    use super::super::chunker::Chunker;
    use super::super::tokenizer::tokenize_block;
    use super::*;

    /// Tokenize `text` (no header) and convert each column with its type and `null_values`.
    fn convert(text: &str, types: &[DataType], null_values: &[&str]) -> Vec<ArrayRef> {
        let nulls = NullMatcher::new(
            &null_values
                .iter()
                .map(|v| v.as_bytes().to_vec())
                .collect::<Vec<_>>(),
        );
        let mut chunker = Chunker::new(text.as_bytes(), b',', b'"');
        let mut block = chunker.next_block(1000).unwrap().unwrap();
        assert!(chunker.next_block(1000).unwrap().is_none());
        let rows = block.rows.clone();
        let fields = tokenize_block(&mut block, &rows, types.len(), b',', b'"', |_| {
            panic!("field count")
        });
        let view = View {
            data: &block.data,
            spans: &fields.spans,
            ncols: types.len(),
            nrows: fields.nrows(),
        };
        types
            .iter()
            .enumerate()
            .map(|(c, t)| {
                let mut b = ColumnBuilder::new(t, view.nrows).unwrap();
                assert!(b.append(&view, c, &nulls, &mut OnFail::Stop).is_ok());
                b.finish().unwrap()
            })
            .collect()
    }

    fn strings(a: &ArrayRef) -> Vec<Option<&str>> {
        a.as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .iter()
            .collect()
    }

    /// pyarrow's CSV writer quotes every string, so the texts pyarrow reads as null by default
    /// ("null", "NaN", "NA", ...) reach the reader quoted; unquoted they are the same text.
    /// Only the `null_values` texts are nulls, in string columns too: with the default `[""]`
    /// such words stay strings (found by Hypothesis: `"NaN"` in a string column).
    #[test]
    fn only_null_values_are_nulls_in_string_columns() {
        let text = "\"null\",1\nnull,2\n\"NaN\",3\nNA,4\n\"\",5\n,\n\"NULL\",\"\"\n";
        let types = [DataType::Utf8, DataType::Int64];
        let cols = convert(text, &types, &[""]);
        assert_eq!(
            strings(&cols[0]),
            [
                Some("null"),
                Some("null"),
                Some("NaN"),
                Some("NA"),
                None,
                None,
                Some("NULL")
            ]
        );
        let ints = cols[1].as_any().downcast_ref::<Int64Array>().unwrap();
        let want = [Some(1), Some(2), Some(3), Some(4), Some(5), None, None];
        assert_eq!(ints.iter().collect::<Vec<_>>(), want);

        // Opting in: the listed words are nulls in string columns, quoted or not; "" is
        // text when it is not listed.
        let cols = convert(text, &[DataType::Utf8, DataType::Utf8], &["null", "NaN"]);
        assert_eq!(
            strings(&cols[0]),
            [
                None,
                None,
                None,
                Some("NA"),
                Some(""),
                Some(""),
                Some("NULL")
            ]
        );
        assert_eq!(cols[0].null_count(), 3);
    }
}
