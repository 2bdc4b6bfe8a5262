//! Typed statistics: the min/max bytes of a column chunk, a page (ColumnIndex) or a dictionary
//! entry (all PLAIN-encoded, byte arrays without their length prefix) decoded into values the
//! predicate compares with its literals (`predicate::Val`), by the column's Arrow type.

use arrow_schema::DataType;

use super::predicate::Val;
use crate::parquet::metadata::ptype;

/// An owned statistics value.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    Int(i128),
    Float(f64),
    Dec(i128, i8),
    Bytes(Vec<u8>),
    Bool(bool),
}

impl Scalar {
    pub fn val(&self) -> Val<'_> {
        match self {
            Scalar::Int(i) => Val::Int(*i),
            Scalar::Float(f) => Val::Float(*f),
            Scalar::Dec(u, s) => Val::Dec(*u, *s),
            Scalar::Bytes(b) => Val::Str(b),
            Scalar::Bool(b) => Val::Bool(*b),
        }
    }
}

/// Decode `raw` of physical type `physical` for a column read as `file_type`; `out_type` is
/// the type the scan outputs (Float64 for decimals read as floats). `None` when the bytes do
/// not fit or the type is not one statistics are kept for (then nothing is pruned).
pub fn decode(
    raw: &[u8],
    physical: i32,
    file_type: &DataType,
    out_type: &DataType,
) -> Option<Scalar> {
    let v = decode_as(raw, physical, file_type)?;
    Some(match (v, out_type) {
        (Scalar::Dec(u, s), DataType::Float64) => {
            Scalar::Float(u as f64 / 10f64.powi(i32::from(s)))
        }
        (v, _) => v,
    })
}

fn le<const N: usize>(raw: &[u8]) -> Option<[u8; N]> {
    raw.get(..N)?.try_into().ok().filter(|_| raw.len() == N)
}

fn decode_as(raw: &[u8], physical: i32, t: &DataType) -> Option<Scalar> {
    let unsigned = t.is_unsigned_integer();
    Some(match t {
        DataType::Boolean => Scalar::Bool(*raw.first()? != 0),
        DataType::Decimal128(_, s) => {
            let u = match physical {
                ptype::INT32 => i128::from(i32::from_le_bytes(le::<4>(raw)?)),
                ptype::INT64 => i128::from(i64::from_le_bytes(le::<8>(raw)?)),
                ptype::FIXED_LEN_BYTE_ARRAY | ptype::BYTE_ARRAY => be_signed(raw)?,
                _ => return None,
            };
            Scalar::Dec(u, *s)
        }
        DataType::Float32 if physical == ptype::FLOAT => {
            Scalar::Float(f64::from(f32::from_le_bytes(le::<4>(raw)?)))
        }
        DataType::Float64 if physical == ptype::DOUBLE => {
            Scalar::Float(f64::from_le_bytes(le::<8>(raw)?))
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary
            if physical == ptype::BYTE_ARRAY =>
        {
            Scalar::Bytes(raw.to_vec())
        }
        DataType::FixedSizeBinary(_) if physical == ptype::FIXED_LEN_BYTE_ARRAY => {
            Scalar::Bytes(raw.to_vec())
        }
        _ if physical == ptype::INT32 => {
            let b = le::<4>(raw)?;
            if !int_like(t) {
                return None;
            }
            Scalar::Int(if unsigned {
                i128::from(u32::from_le_bytes(b))
            } else {
                i128::from(i32::from_le_bytes(b))
            })
        }
        _ if physical == ptype::INT64 => {
            let b = le::<8>(raw)?;
            if !int_like(t) {
                return None;
            }
            Scalar::Int(if unsigned {
                i128::from(u64::from_le_bytes(b))
            } else {
                i128::from(i64::from_le_bytes(b))
            })
        }
        _ => return None,
    })
}

/// Types whose values `filter::value_at` reads as integers.
fn int_like(t: &DataType) -> bool {
    t.is_integer()
        || matches!(
            t,
            DataType::Date32 | DataType::Time32(_) | DataType::Time64(_) | DataType::Timestamp(..)
        )
}

fn be_signed(raw: &[u8]) -> Option<i128> {
    if raw.is_empty() || raw.len() > 16 {
        return None;
    }
    let fill = if raw[0] & 0x80 != 0 { 0xFF } else { 0 };
    let mut b = [fill; 16];
    b[16 - raw.len()..].copy_from_slice(raw);
    Some(i128::from_be_bytes(b))
}
