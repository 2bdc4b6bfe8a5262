//! Arrow field -> Parquet schema element: physical type, logical type and the legacy converted
//! type (for old readers), and how the writer converts values (see `values.rs`).

use arrow_schema::{DataType, Field, TimeUnit as ATU};

use crate::parquet::metadata::{
    LogicalType, SchemaElement, TimeUnit, converted, ptype, repetition,
};
use minide_common::{Error, Result};

/// What the writer does with one flat Arrow column.
#[derive(Clone, Debug)]
pub struct LeafSpec {
    pub name: String,
    /// Names from the top-level column down to this leaf (`path_in_schema`).
    pub path: Vec<String>,
    pub max_def: u32,
    pub max_rep: u32,
    /// Arrow type of the values (dictionary value type for dictionary columns).
    pub arrow_type: DataType,
    pub nullable: bool,
    pub element: SchemaElement,
    pub physical: i32,
    /// Integers compared unsigned in statistics.
    pub unsigned: bool,
}

/// Smallest FIXED_LEN_BYTE_ARRAY width that holds a decimal of `precision` digits.
pub fn decimal_width(precision: u8) -> usize {
    (1..=16)
        .find(|&n| f64::from(precision) <= f64::from(8 * n as u32 - 1) * std::f64::consts::LOG10_2)
        .unwrap_or(16)
}

fn int(bits: i8, signed: bool) -> (Option<LogicalType>, Option<i32>) {
    let conv = match (bits, signed) {
        (8, true) => converted::INT_8,
        (16, true) => converted::INT_16,
        (32, true) => converted::INT_32,
        (64, true) => converted::INT_64,
        (8, false) => converted::UINT_8,
        (16, false) => converted::UINT_16,
        (32, false) => converted::UINT_32,
        _ => converted::UINT_64,
    };
    (Some(LogicalType::Integer { bits, signed }), Some(conv))
}

fn unit_of(u: ATU) -> TimeUnit {
    match u {
        ATU::Second | ATU::Millisecond => TimeUnit::Millis,
        ATU::Microsecond => TimeUnit::Micros,
        ATU::Nanosecond => TimeUnit::Nanos,
    }
}

/// Map one top-level Arrow field to a Parquet leaf. Nested types are not written yet.
pub fn leaf_for(field: &Field) -> Result<LeafSpec> {
    let dt = match field.data_type() {
        DataType::Dictionary(_, v) => v.as_ref(),
        other => other,
    };
    let mut el = SchemaElement {
        name: field.name().clone(),
        repetition_type: Some(if field.is_nullable() {
            repetition::OPTIONAL
        } else {
            repetition::REQUIRED
        }),
        ..Default::default()
    };
    let mut unsigned = false;
    let (physical, logical, conv): (i32, Option<LogicalType>, Option<i32>) = match dt {
        DataType::Boolean => (ptype::BOOLEAN, None, None),
        DataType::Int8 => (ptype::INT32, int(8, true).0, int(8, true).1),
        DataType::Int16 => (ptype::INT32, int(16, true).0, int(16, true).1),
        DataType::Int32 => (ptype::INT32, None, None),
        DataType::Int64 => (ptype::INT64, None, None),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => {
            unsigned = true;
            let bits = match dt {
                DataType::UInt8 => 8,
                DataType::UInt16 => 16,
                _ => 32,
            };
            let (l, c) = int(bits, false);
            (ptype::INT32, l, c)
        }
        DataType::UInt64 => {
            unsigned = true;
            let (l, c) = int(64, false);
            (ptype::INT64, l, c)
        }
        DataType::Float32 => (ptype::FLOAT, None, None),
        DataType::Float64 => (ptype::DOUBLE, None, None),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => (
            ptype::BYTE_ARRAY,
            Some(LogicalType::String),
            Some(converted::UTF8),
        ),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            (ptype::BYTE_ARRAY, None, None)
        }
        DataType::Date32 => (ptype::INT32, Some(LogicalType::Date), Some(converted::DATE)),
        DataType::Timestamp(u, tz) => {
            let unit = unit_of(*u);
            let conv = match unit {
                TimeUnit::Millis => Some(converted::TIMESTAMP_MILLIS),
                TimeUnit::Micros => Some(converted::TIMESTAMP_MICROS),
                TimeUnit::Nanos => None,
            };
            let utc = tz.is_some();
            // Converted types imply UTC-adjusted; only write them for UTC-adjusted columns.
            let conv = if utc { conv } else { None };
            (
                ptype::INT64,
                Some(LogicalType::Timestamp { utc, unit }),
                conv,
            )
        }
        DataType::Time32(u) => (
            ptype::INT32,
            Some(LogicalType::Time {
                utc: false,
                unit: TimeUnit::Millis,
            }),
            (*u == ATU::Millisecond || *u == ATU::Second).then_some(converted::TIME_MILLIS),
        ),
        DataType::Time64(u) => {
            let unit = unit_of(*u);
            (
                ptype::INT64,
                Some(LogicalType::Time { utc: false, unit }),
                (unit == TimeUnit::Micros).then_some(converted::TIME_MICROS),
            )
        }
        DataType::Decimal128(p, s) => {
            let width = decimal_width(*p);
            el.type_length = Some(width as i32);
            el.precision = Some(i32::from(*p));
            el.scale = Some(i32::from(*s));
            (
                ptype::FIXED_LEN_BYTE_ARRAY,
                Some(LogicalType::Decimal {
                    scale: i32::from(*s),
                    precision: i32::from(*p),
                }),
                Some(converted::DECIMAL),
            )
        }
        other => {
            return Err(Error::unsupported(format!(
                "writing column {:?} of Arrow type {other} to Parquet",
                field.name()
            )));
        }
    };
    el.type_ = Some(physical);
    el.logical_type = logical;
    el.converted_type = conv;
    Ok(LeafSpec {
        name: field.name().clone(),
        path: vec![field.name().clone()],
        max_def: u32::from(field.is_nullable()),
        max_rep: 0,
        arrow_type: dt.clone(),
        nullable: field.is_nullable(),
        element: el,
        physical,
        unsigned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_widths() {
        let want = [
            (1, 1),
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 3),
            (9, 4),
            (10, 5),
            (18, 8),
            (19, 9),
            (38, 16),
        ];
        for (p, w) in want {
            assert_eq!(decimal_width(p), w, "precision {p}");
        }
    }
}
