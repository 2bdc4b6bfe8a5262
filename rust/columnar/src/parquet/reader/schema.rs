//! Parquet schema (flattened tree of `SchemaElement`s) -> top-level columns and Arrow types.
//!
//! Flat columns (a primitive directly under the root, REQUIRED or OPTIONAL) take the fast path;
//! nested groups and repeated fields become a node tree (`nested.rs`).

use arrow_schema::{DataType, Field, TimeUnit as ATU};

use crate::parquet::metadata::{
    LogicalType, SchemaElement, TimeUnit, converted, ptype, repetition,
};
use minide_common::{Error, Result};

/// One top-level column of the file.
#[derive(Clone, Debug)]
pub struct TopColumn {
    pub name: String,
    /// Index of its first leaf among all leaves (= column chunk index in a row group).
    pub first_leaf: usize,
    pub num_leaves: usize,
    /// The primitive element for flat columns; `None` for nested groups.
    pub element: Option<SchemaElement>,
    pub max_def: u32,
    /// Arrow field of the column.
    pub field: Field,
    /// The node tree of a nested column.
    pub node: Option<super::nested::RNode>,
}

/// Walk the flattened tree; returns the top-level columns and the total number of leaves.
pub fn parse(elements: &[SchemaElement]) -> Result<(Vec<TopColumn>, usize)> {
    let root = elements
        .first()
        .ok_or_else(|| Error::corrupt("schema is empty"))?;
    let n_top = usize::try_from(root.num_children.unwrap_or(0))
        .map_err(|_| Error::corrupt("negative number of schema children"))?;
    let mut pos = 1;
    let mut leaves = 0;
    let mut cols = Vec::with_capacity(n_top.min(elements.len()));
    for _ in 0..n_top {
        let el = elements
            .get(pos)
            .ok_or_else(|| Error::corrupt("schema has fewer elements than declared"))?;
        let first_leaf = leaves;
        let rep = el.repetition_type.unwrap_or(repetition::REQUIRED);
        let flat = el.num_children.unwrap_or(0) == 0 && rep != repetition::REPEATED;
        let (field, node) = if flat {
            skip_subtree(elements, &mut pos, &mut leaves, 0)?;
            let f = Field::new(
                el.name.clone(),
                arrow_type(el)?,
                rep == repetition::OPTIONAL,
            );
            (f, None)
        } else {
            let node = super::nested::parse(elements, &mut pos, 0, 0, &mut leaves, 0)?;
            (node.field().clone(), Some(node))
        };
        cols.push(TopColumn {
            name: el.name.clone(),
            first_leaf,
            num_leaves: leaves - first_leaf,
            element: flat.then(|| el.clone()),
            max_def: u32::from(rep == repetition::OPTIONAL),
            field,
            node,
        });
    }
    if pos != elements.len() {
        return Err(Error::corrupt(
            "schema has more elements than its tree declares",
        ));
    }
    Ok((cols, leaves))
}

fn skip_subtree(
    els: &[SchemaElement],
    pos: &mut usize,
    leaves: &mut usize,
    depth: usize,
) -> Result<()> {
    if depth > 64 {
        return Err(Error::corrupt("schema nested too deeply"));
    }
    let el = els
        .get(*pos)
        .ok_or_else(|| Error::corrupt("schema has fewer elements than declared"))?;
    *pos += 1;
    if el.name.contains('\0') {
        return Err(Error::corrupt("schema name contains a NUL byte"));
    }
    let n = usize::try_from(el.num_children.unwrap_or(0))
        .map_err(|_| Error::corrupt("negative number of schema children"))?;
    if n == 0 {
        if el.type_.is_none() {
            return Err(Error::corrupt(format!(
                "schema leaf {:?} has no type",
                el.name
            )));
        }
        *leaves += 1;
        return Ok(());
    }
    if n > els.len() {
        return Err(Error::corrupt("schema group declares too many children"));
    }
    for _ in 0..n {
        skip_subtree(els, pos, leaves, depth + 1)?;
    }
    Ok(())
}

fn atu(u: TimeUnit) -> ATU {
    match u {
        TimeUnit::Millis => ATU::Millisecond,
        TimeUnit::Micros => ATU::Microsecond,
        TimeUnit::Nanos => ATU::Nanosecond,
    }
}

fn decimal(el: &SchemaElement, precision: i32, scale: i32) -> Result<DataType> {
    let p = u8::try_from(precision)
        .ok()
        .filter(|p| (1..=38).contains(p))
        .ok_or_else(|| {
            Error::unsupported(format!("decimal precision {precision} of {:?}", el.name))
        })?;
    let s = i8::try_from(scale).map_err(|_| Error::corrupt("decimal scale out of range"))?;
    Ok(DataType::Decimal128(p, s))
}

/// The Arrow type minide reads a primitive column as (before the `ARROW:schema` hint).
pub fn arrow_type(el: &SchemaElement) -> Result<DataType> {
    let t = el
        .type_
        .ok_or_else(|| Error::corrupt("leaf without type"))?;
    let lt = el.logical_type.as_ref();
    let ct = el.converted_type;
    let legacy_decimal = || decimal(el, el.precision.unwrap_or(0), el.scale.unwrap_or(0));
    Ok(match t {
        ptype::BOOLEAN => DataType::Boolean,
        ptype::INT32 => match (lt, ct) {
            (Some(LogicalType::Integer { bits, signed }), _) => match (bits, signed) {
                (8, true) => DataType::Int8,
                (16, true) => DataType::Int16,
                (8, false) => DataType::UInt8,
                (16, false) => DataType::UInt16,
                (32, false) => DataType::UInt32,
                _ => DataType::Int32,
            },
            (Some(LogicalType::Date), _) => DataType::Date32,
            (Some(LogicalType::Decimal { scale, precision }), _) => {
                decimal(el, *precision, *scale)?
            }
            (Some(LogicalType::Time { .. }), _) => DataType::Time32(ATU::Millisecond),
            (None, Some(converted::INT_8)) => DataType::Int8,
            (None, Some(converted::INT_16)) => DataType::Int16,
            (None, Some(converted::UINT_8)) => DataType::UInt8,
            (None, Some(converted::UINT_16)) => DataType::UInt16,
            (None, Some(converted::UINT_32)) => DataType::UInt32,
            (None, Some(converted::DATE)) => DataType::Date32,
            (None, Some(converted::TIME_MILLIS)) => DataType::Time32(ATU::Millisecond),
            (None, Some(converted::DECIMAL)) => legacy_decimal()?,
            _ => DataType::Int32,
        },
        ptype::INT64 => match (lt, ct) {
            (Some(LogicalType::Integer { signed: false, .. }), _) => DataType::UInt64,
            (Some(LogicalType::Timestamp { utc, unit }), _) => {
                DataType::Timestamp(atu(*unit), utc.then(|| "UTC".into()))
            }
            (Some(LogicalType::Time { unit, .. }), _) => match unit {
                TimeUnit::Millis => DataType::Int64,
                u => DataType::Time64(atu(*u)),
            },
            (Some(LogicalType::Decimal { scale, precision }), _) => {
                decimal(el, *precision, *scale)?
            }
            (None, Some(converted::UINT_64)) => DataType::UInt64,
            (None, Some(converted::TIMESTAMP_MILLIS)) => {
                DataType::Timestamp(ATU::Millisecond, Some("UTC".into()))
            }
            (None, Some(converted::TIMESTAMP_MICROS)) => {
                DataType::Timestamp(ATU::Microsecond, Some("UTC".into()))
            }
            (None, Some(converted::TIME_MICROS)) => DataType::Time64(ATU::Microsecond),
            (None, Some(converted::DECIMAL)) => legacy_decimal()?,
            _ => DataType::Int64,
        },
        ptype::INT96 => DataType::Timestamp(ATU::Nanosecond, None),
        ptype::FLOAT => DataType::Float32,
        ptype::DOUBLE => DataType::Float64,
        ptype::BYTE_ARRAY => match (lt, ct) {
            (Some(LogicalType::String | LogicalType::Enum | LogicalType::Json), _) => {
                DataType::Utf8
            }
            (Some(LogicalType::Decimal { scale, precision }), _) => {
                decimal(el, *precision, *scale)?
            }
            (None, Some(converted::UTF8 | converted::JSON | 4)) => DataType::Utf8,
            (None, Some(converted::DECIMAL)) => legacy_decimal()?,
            _ => DataType::Binary,
        },
        ptype::FIXED_LEN_BYTE_ARRAY => {
            let w = el.type_length.unwrap_or(-1);
            if w <= 0 {
                return Err(Error::corrupt(format!(
                    "FIXED_LEN_BYTE_ARRAY column {:?} has no positive length",
                    el.name
                )));
            }
            match (lt, ct) {
                (Some(LogicalType::Decimal { scale, precision }), _) => {
                    decimal(el, *precision, *scale)?
                }
                (Some(LogicalType::Float16), _) if w == 2 => DataType::Float16,
                (None, Some(converted::DECIMAL)) => legacy_decimal()?,
                _ => DataType::FixedSizeBinary(w),
            }
        }
        other => return Err(Error::corrupt(format!("unknown physical type {other}"))),
    })
}
