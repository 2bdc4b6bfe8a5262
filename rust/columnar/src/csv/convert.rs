//! Stage 3: field text -> Arrow arrays, one column at a time, straight into Arrow buffers
//! (values `Vec<T>` / offsets + bytes, a validity bitmap only when a null shows up).

use std::sync::Arc;

use arrow_array::types::*;
use arrow_array::{
    ArrayRef, ArrowPrimitiveType, BooleanArray, GenericBinaryArray, GenericStringArray, NullArray,
    OffsetSizeTrait, PrimitiveArray,
};
use arrow_buffer::{BooleanBufferBuilder, Buffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer};
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

fn unit_nanos(u: &TimeUnit) -> u32 {
    match u {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

/// Convert column `c` of `v` to type `t`.
pub(crate) fn convert_column(
    v: &View,
    c: usize,
    t: &DataType,
    nulls: &NullMatcher,
    fail: &mut OnFail,
) -> Result<ArrayRef, ConvError> {
    macro_rules! int {
        ($arrow:ty, $native:ty) => {
            primitive::<$arrow>(v, c, t, nulls, fail, |b| {
                parse_i64(b).and_then(|x| <$native>::try_from(x).ok())
            })
        };
    }
    macro_rules! uint {
        ($arrow:ty, $native:ty) => {
            primitive::<$arrow>(v, c, t, nulls, fail, |b| {
                parse_u64(b).and_then(|x| <$native>::try_from(x).ok())
            })
        };
    }
    match t {
        DataType::Int64 => primitive::<Int64Type>(v, c, t, nulls, fail, parse_i64),
        DataType::Int32 => int!(Int32Type, i32),
        DataType::Int16 => int!(Int16Type, i16),
        DataType::Int8 => int!(Int8Type, i8),
        DataType::UInt64 => primitive::<UInt64Type>(v, c, t, nulls, fail, parse_u64),
        DataType::UInt32 => uint!(UInt32Type, u32),
        DataType::UInt16 => uint!(UInt16Type, u16),
        DataType::UInt8 => uint!(UInt8Type, u8),
        DataType::Float64 => primitive::<Float64Type>(v, c, t, nulls, fail, parse_f64),
        DataType::Float32 => primitive::<Float32Type>(v, c, t, nulls, fail, parse_f32),
        DataType::Date32 => primitive::<Date32Type>(v, c, t, nulls, fail, parse_date),
        DataType::Timestamp(unit, tz) => {
            let per = unit_nanos(unit);
            let zoned_ok = tz.is_some();
            let parse = move |b: &[u8]| {
                let ts = parse_timestamp(b)?;
                if ts.kind == TsKind::Zoned && !zoned_ok {
                    return None;
                }
                ts.in_units(per)
            };
            match unit {
                TimeUnit::Second => primitive::<TimestampSecondType>(v, c, t, nulls, fail, parse),
                TimeUnit::Millisecond => {
                    primitive::<TimestampMillisecondType>(v, c, t, nulls, fail, parse)
                }
                TimeUnit::Microsecond => {
                    primitive::<TimestampMicrosecondType>(v, c, t, nulls, fail, parse)
                }
                TimeUnit::Nanosecond => {
                    primitive::<TimestampNanosecondType>(v, c, t, nulls, fail, parse)
                }
            }
        }
        DataType::Boolean => booleans(v, c, nulls, fail),
        DataType::Utf8 => bytes::<i32>(v, c, nulls).map(|(o, b, n)| {
            // SAFETY: offsets are monotonic and end at b.len(); every field is a slice of a block
            // validated as UTF-8, cut at ASCII delimiter/quote/newline bytes (never inside a
            // multi-byte character), so each value and their concatenation are valid UTF-8.
            Arc::new(unsafe { GenericStringArray::<i32>::new_unchecked(o, b, n) }) as ArrayRef
        }),
        DataType::LargeUtf8 => bytes::<i64>(v, c, nulls).map(|(o, b, n)| {
            // SAFETY: as for Utf8 above.
            Arc::new(unsafe { GenericStringArray::<i64>::new_unchecked(o, b, n) }) as ArrayRef
        }),
        DataType::Binary => bytes::<i32>(v, c, nulls)
            .map(|(o, b, n)| Arc::new(GenericBinaryArray::<i32>::new(o, b, n)) as ArrayRef),
        DataType::LargeBinary => bytes::<i64>(v, c, nulls)
            .map(|(o, b, n)| Arc::new(GenericBinaryArray::<i64>::new(o, b, n)) as ArrayRef),
        DataType::Null => {
            for r in 0..v.nrows {
                if !nulls.is_null(v.field(r, c)) {
                    match fail {
                        OnFail::Stop => return Err(ConvError::Value(r)),
                        OnFail::Collect(bad) => bad.push(r as u32),
                    }
                }
            }
            Ok(Arc::new(NullArray::new(v.nrows)))
        }
        other => Err(ConvError::Other(Error::unsupported(format!(
            "CSV columns of type {other}"
        )))),
    }
}

#[inline]
fn primitive<T: ArrowPrimitiveType>(
    v: &View,
    c: usize,
    t: &DataType,
    nulls: &NullMatcher,
    fail: &mut OnFail,
    parse: impl Fn(&[u8]) -> Option<T::Native>,
) -> Result<ArrayRef, ConvError> {
    let n = v.nrows;
    let mut values: Vec<T::Native> = Vec::with_capacity(n);
    let mut valid = NullBufferBuilder::new(n);
    for r in 0..n {
        let f = v.field(r, c);
        if nulls.is_null(f) {
            values.push(T::Native::default());
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
                    values.push(T::Native::default());
                    valid.append_null();
                }
            },
        }
    }
    let array = PrimitiveArray::<T>::new(ScalarBuffer::from(values), valid.finish())
        .with_data_type(t.clone());
    Ok(Arc::new(array))
}

fn booleans(
    v: &View,
    c: usize,
    nulls: &NullMatcher,
    fail: &mut OnFail,
) -> Result<ArrayRef, ConvError> {
    let n = v.nrows;
    let mut values = BooleanBufferBuilder::new(n);
    let mut valid = NullBufferBuilder::new(n);
    for r in 0..n {
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
    Ok(Arc::new(BooleanArray::new(values.finish(), valid.finish())))
}

type Bytes<O> = (OffsetBuffer<O>, Buffer, Option<arrow_buffer::NullBuffer>);

fn bytes<O: OffsetSizeTrait>(
    v: &View,
    c: usize,
    nulls: &NullMatcher,
) -> Result<Bytes<O>, ConvError> {
    let n = v.nrows;
    let mut offsets: Vec<O> = Vec::with_capacity(n + 1);
    offsets.push(O::zero());
    let total: usize = (0..n)
        .map(|r| {
            let k = 2 * (r * v.ncols + c);
            (v.spans[k + 1] - v.spans[k]) as usize
        })
        .sum();
    let mut data: Vec<u8> = Vec::with_capacity(total);
    let mut valid = NullBufferBuilder::new(n);
    for r in 0..n {
        let f = v.field(r, c);
        if nulls.is_null(f) {
            valid.append_null();
        } else {
            data.extend_from_slice(f);
            valid.append_non_null();
        }
        offsets.push(O::usize_as(data.len()));
    }
    if O::from_usize(data.len()).is_none() {
        return Err(ConvError::Other(Error::invalid(
            "a string column of one batch exceeds 2 GiB; lower batch_size or ask for large_string",
        )));
    }
    // SAFETY: offsets start at 0 and never decrease (lengths are added), and the last one fits O
    // (checked above), so every earlier one does too.
    let offsets = unsafe { OffsetBuffer::new_unchecked(ScalarBuffer::from(offsets)) };
    Ok((offsets, Buffer::from_vec(data), valid.finish()))
}
