//! The `ARROW:schema` hint applied in Rust, so the crate and the Python package read the same
//! types from a file: pyarrow's rules — the hint's type for each column when the decoded values
//! convert to it (`convert::can_convert`), except timestamps keep the unit stored in the file
//! (pyarrow reads `timestamp[s]` back as `timestamp[ms]` too) and take the hint's time zone.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema};

use super::convert::can_convert;
use super::ipc_schema::decode_hint;
use crate::parquet::reader::ParquetFile;

pub const KEY: &str = "ARROW:schema";

/// The hint stored in the file's footer (None when absent or unreadable: a foreign or damaged
/// hint falls back to the Parquet types).
pub fn of_file(pf: &ParquetFile) -> Option<Arc<Schema>> {
    let (_, v) = pf
        .metadata
        .key_value_metadata
        .iter()
        .find(|(k, _)| k == KEY)?;
    decode_hint(v.as_deref()?).map(Arc::new)
}

/// The field a decoded column `raw` is presented as under `hint`.
pub fn target_field(raw: &Field, hint: &Schema) -> Field {
    let Ok(h) = hint.field_with_name(raw.name()) else {
        return raw.clone();
    };
    let target = merge(raw.data_type(), h.data_type());
    if !can_convert(raw.data_type(), &target) {
        return raw.clone();
    }
    Field::new(raw.name(), target, raw.is_nullable()).with_metadata(h.metadata().clone())
}

/// The hint's type shaped by the decoded one: timestamps keep the file's unit, nested types keep
/// the file's child names (pyarrow reads `list<item>` back as `list<element>`) and take the
/// hint's kinds (list vs large list) and leaf types.
fn merge(raw: &DataType, hint: &DataType) -> DataType {
    use DataType::*;
    let child = |r: &Arc<Field>, h: &Arc<Field>| {
        Arc::new(Field::new(
            r.name(),
            merge(r.data_type(), h.data_type()),
            r.is_nullable(),
        ))
    };
    match (raw, hint) {
        (Timestamp(u, _), Timestamp(_, tz)) => Timestamp(*u, tz.clone()),
        (List(r) | LargeList(r), List(h)) => List(child(r, h)),
        (List(r) | LargeList(r), LargeList(h)) => LargeList(child(r, h)),
        (Map(r, sorted), Map(h, _)) => Map(child(r, h), *sorted),
        (Struct(rs), Struct(hs)) => Struct(
            rs.iter()
                .map(|r| match hs.iter().find(|h| h.name() == r.name()) {
                    Some(h) => child(r, h),
                    None => r.clone(),
                })
                .collect(),
        ),
        (_, t) => t.clone(),
    }
}
