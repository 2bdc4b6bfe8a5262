//! Normalization: any supported Arrow column into the engine's layout on the way in
//! ([`normalize`], [`normalized_type`]), and results back to their output Arrow types on the way
//! out ([`to_output`]). Split from `types.rs`, which holds the types, scalars and chunks.

use super::*;

/// Convert any supported Arrow column to the engine's layout (see the module docs).
pub fn normalize(array: &ArrayRef) -> Result<ArrayRef> {
    fn ints<T: arrow_array::ArrowPrimitiveType>(a: &ArrayRef) -> ArrayRef
    where
        T::Native: Into<i64>,
    {
        let p = a.as_primitive::<T>();
        let v: Vec<i64> = p.values().iter().map(|x| (*x).into()).collect();
        Arc::new(Int64Array::new(v.into(), p.nulls().cloned()))
    }
    Ok(match array.data_type() {
        DataType::Boolean
        | DataType::Int64
        | DataType::Float64
        | DataType::Utf8
        | DataType::Date32
        | DataType::Timestamp(TimeUnit::Microsecond, None) => array.clone(),
        DataType::Int8 => ints::<Int8Type>(array),
        DataType::Int16 => ints::<Int16Type>(array),
        DataType::Int32 => ints::<Int32Type>(array),
        DataType::UInt8 => ints::<UInt8Type>(array),
        DataType::UInt16 => ints::<UInt16Type>(array),
        DataType::UInt32 => ints::<UInt32Type>(array),
        DataType::UInt64 => {
            let p = array.as_primitive::<UInt64Type>();
            let mut v = Vec::with_capacity(p.len());
            for x in p.values().iter() {
                v.push(i64::try_from(*x).map_err(|_| {
                    Error::Unsupported(format!("uint64 value {x} does not fit int64"))
                })?);
            }
            Arc::new(Int64Array::new(v.into(), p.nulls().cloned()))
        }
        DataType::Float32 => {
            let p = array.as_primitive::<Float32Type>();
            let v: Vec<f64> = p.values().iter().map(|x| f64::from(*x)).collect();
            Arc::new(Float64Array::new(v.into(), p.nulls().cloned()))
        }
        DataType::Decimal128(precision, scale) => {
            if *scale < 0 || *scale as u8 > *precision {
                return Err(Error::Unsupported(format!(
                    "decimal({precision}, {scale}): negative scales and scales above the precision"
                )));
            }
            let p = array.as_primitive::<Decimal128Type>();
            if *precision <= MAX_I64_PRECISION {
                // |value| < 10^18 by the precision; a value outside it is a corrupt input.
                let mut v = Vec::with_capacity(p.len());
                for (i, x) in p.values().iter().enumerate() {
                    match i64::try_from(*x) {
                        Ok(small) => v.push(small),
                        Err(_) if p.is_null(i) => v.push(0),
                        Err(_) => {
                            return Err(Error::InvalidArgument(format!(
                                "decimal value {x} does not fit decimal({precision}, {scale})"
                            )));
                        }
                    }
                }
                Arc::new(Int64Array::new(v.into(), p.nulls().cloned()))
            } else {
                Arc::new(PrimitiveArray::<Decimal128Type>::new(
                    p.values().clone(),
                    p.nulls().cloned(),
                ))
            }
        }
        DataType::Decimal64(precision, scale) if *precision <= MAX_I64_PRECISION => {
            if *scale < 0 || *scale as u8 > *precision {
                return Err(Error::Unsupported(format!(
                    "decimal({precision}, {scale}): negative scales and scales above the precision"
                )));
            }
            // already the engine's layout: the same i64 buffer, zero-copy
            let p = array.as_primitive::<arrow_array::types::Decimal64Type>();
            Arc::new(Int64Array::new(p.values().clone(), p.nulls().cloned()))
        }
        DataType::Decimal64(..) | DataType::Decimal32(..) => {
            let (precision, scale) = match array.data_type() {
                DataType::Decimal64(p, s) | DataType::Decimal32(p, s) => (*p, *s),
                _ => (18, 0),
            };
            let wide = arrow_cast_decimal(array)?;
            let as128: ArrayRef = Arc::new(
                PrimitiveArray::<Decimal128Type>::new(wide.into(), array.nulls().cloned())
                    .with_precision_and_scale(precision, scale)
                    .map_err(|e| Error::InvalidArgument(e.to_string()))?,
            );
            normalize(&as128)?
        }
        DataType::LargeUtf8 => {
            let s: StringArray = array.as_string::<i64>().iter().collect();
            Arc::new(s)
        }
        DataType::Utf8View => {
            let s: StringArray = array.as_string_view().iter().collect();
            Arc::new(s)
        }
        DataType::Date64 => {
            let p = array.as_primitive::<Date64Type>();
            let v: Vec<i32> = p
                .values()
                .iter()
                .map(|ms| ms.div_euclid(86_400_000) as i32)
                .collect();
            Arc::new(Date32Array::new(v.into(), p.nulls().cloned()))
        }
        DataType::Timestamp(unit, _) => {
            let (vals, nulls): (Vec<i64>, Option<NullBuffer>) = match unit {
                TimeUnit::Second => {
                    let p = array.as_primitive::<TimestampSecondType>();
                    (
                        p.values().iter().map(|x| x * 1_000_000).collect(),
                        p.nulls().cloned(),
                    )
                }
                TimeUnit::Millisecond => {
                    let p = array.as_primitive::<TimestampMillisecondType>();
                    (
                        p.values().iter().map(|x| x * 1_000).collect(),
                        p.nulls().cloned(),
                    )
                }
                TimeUnit::Microsecond => {
                    let p = array.as_primitive::<TimestampMicrosecondType>();
                    (p.values().to_vec(), p.nulls().cloned())
                }
                TimeUnit::Nanosecond => {
                    let p = array.as_primitive::<TimestampNanosecondType>();
                    (
                        p.values().iter().map(|x| x.div_euclid(1_000)).collect(),
                        p.nulls().cloned(),
                    )
                }
            };
            Arc::new(TimestampMicrosecondArray::new(vals.into(), nulls))
        }
        DataType::Dictionary(_, value)
            if value.as_ref() == &DataType::Utf8 || value.as_ref() == &DataType::LargeUtf8 =>
        {
            let d = array.as_any_dictionary();
            let values = normalize(d.values())?;
            let keys = d.normalized_keys();
            let strs = values.as_string::<i32>();
            let out: StringArray = (0..array.len())
                .map(|i| {
                    if array.is_null(i) {
                        None
                    } else {
                        keys.get(i).and_then(|k| {
                            if strs.is_null(*k) {
                                None
                            } else {
                                Some(strs.value(*k))
                            }
                        })
                    }
                })
                .collect();
            Arc::new(out)
        }
        DataType::Null => Arc::new(Int64Array::new(
            vec![0i64; array.len()].into(),
            Some(NullBuffer::new_null(array.len())),
        )),
        other => {
            return Err(Error::Unsupported(format!(
                "column type {other}; supported: booleans, integers, floats, decimals, strings, dates, timestamps"
            )));
        }
    })
}

fn arrow_cast_decimal(array: &ArrayRef) -> Result<Vec<i128>> {
    use arrow_array::types::{Decimal32Type, Decimal64Type};
    Ok(match array.data_type() {
        DataType::Decimal64(..) => array
            .as_primitive::<Decimal64Type>()
            .values()
            .iter()
            .map(|x| i128::from(*x))
            .collect(),
        DataType::Decimal32(..) => array
            .as_primitive::<Decimal32Type>()
            .values()
            .iter()
            .map(|x| i128::from(*x))
            .collect(),
        other => return Err(Error::Unsupported(format!("decimal type {other}"))),
    })
}

/// The engine type an input column of Arrow type `dt` is normalized to.
pub fn normalized_type(dt: &DataType) -> Result<DType> {
    match dt {
        DataType::Decimal128(p, s) | DataType::Decimal64(p, s) | DataType::Decimal32(p, s)
            if *s >= 0 && (*s as u8) <= *p =>
        {
            return Ok(DType::Decimal(*p, *s as u8));
        }
        DataType::Int8 => return Ok(DType::Int8),
        DataType::Int16 => return Ok(DType::Int16),
        DataType::Int32 => return Ok(DType::Int32),
        DataType::Float32 => return Ok(DType::Float32),
        DataType::Timestamp(_, Some(_)) => return Ok(DType::TimestampTz),
        _ => {}
    }
    let empty = arrow_array::new_empty_array(dt);
    DType::of(normalize(&empty)?.data_type())
}

/// Whether `array` has the engine layout of type `ty` (see [`DType::physical`]).
pub fn has_layout(array: &ArrayRef, ty: DType) -> bool {
    match (array.data_type(), ty.physical()) {
        (DataType::Decimal128(..), DataType::Decimal128(..)) => true,
        (DataType::Timestamp(TimeUnit::Microsecond, _), DataType::Timestamp(..)) => true,
        (a, b) => *a == b,
    }
}

/// A result column in the Arrow type of `ty` ([`DType::arrow`]): decimals become
/// `decimal128(p, s)`, narrow integers and REAL their own widths (a value out of range is an
/// error, never a wrapped number); every other layout is already the output one.
pub fn to_output(array: &ArrayRef, ty: DType) -> Result<ArrayRef> {
    fn ints<T: arrow_array::ArrowPrimitiveType>(a: &ArrayRef, ty: DType) -> Result<ArrayRef>
    where
        T::Native: TryFrom<i64>,
    {
        let p = a.as_primitive_opt::<Int64Type>().ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{} result held as {}",
                ty.sql_name(),
                a.data_type()
            ))
        })?;
        let nulls = p.nulls();
        let mut v = Vec::with_capacity(p.len());
        for (i, x) in p.values().iter().enumerate() {
            match T::Native::try_from(*x) {
                Ok(n) => v.push(n),
                Err(_) if nulls.is_some_and(|n| n.is_null(i)) => v.push(T::Native::default()),
                Err(_) => {
                    return Err(Error::InvalidArgument(format!(
                        "value {x} is out of range for {}",
                        ty.sql_name()
                    )));
                }
            }
        }
        Ok(Arc::new(PrimitiveArray::<T>::new(v.into(), nulls.cloned())))
    }
    match ty {
        DType::Int8 => return ints::<Int8Type>(array, ty),
        DType::Int16 => return ints::<Int16Type>(array, ty),
        DType::Int32 => return ints::<Int32Type>(array, ty),
        DType::Float32 => {
            let p = array.as_primitive_opt::<Float64Type>().ok_or_else(|| {
                Error::InvalidArgument(format!("FLOAT result held as {}", array.data_type()))
            })?;
            let v: Vec<f32> = p.values().iter().map(|x| *x as f32).collect();
            return Ok(Arc::new(PrimitiveArray::<Float32Type>::new(
                v.into(),
                p.nulls().cloned(),
            )));
        }
        DType::TimestampTz => {
            let p = array
                .as_primitive_opt::<TimestampMicrosecondType>()
                .ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "TIMESTAMP WITH TIME ZONE result held as {}",
                        array.data_type()
                    ))
                })?;
            return Ok(Arc::new(p.clone().with_timezone("UTC")));
        }
        _ => {}
    }
    let DType::Decimal(p, s) = ty else {
        return Ok(array.clone());
    };
    let vals: arrow_buffer::ScalarBuffer<i128> = match array.data_type() {
        DataType::Int64 => array
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .map(|x| i128::from(*x))
            .collect(),
        DataType::Decimal128(..) => array.as_primitive::<Decimal128Type>().values().clone(),
        other => {
            return Err(Error::InvalidArgument(format!(
                "decimal({p},{s}) result held as {other}"
            )));
        }
    };
    Ok(Arc::new(
        PrimitiveArray::<Decimal128Type>::new(vals, array.logical_nulls())
            .with_precision_and_scale(p, s as i8)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?,
    ))
}
