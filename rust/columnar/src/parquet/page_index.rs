//! The page index (PageIndex.md): OffsetIndex (where each page starts, its size, its first row)
//! and ColumnIndex (each page's min/max/null count), read to skip pages during filtered reads.
//! The writer side lives in `writer/mod.rs` (`column_index_bytes`, `offset_index_bytes`).

use super::thrift::Reader;
use minide_common::{Error, Result};

fn corrupt(what: impl Into<String>) -> Error {
    Error::corrupt(what.into())
}

/// One page's entry of the page index: ColumnIndex (min/max/nulls) joined with OffsetIndex
/// (location and first row).
#[derive(Clone, Debug, Default)]
pub struct PageIndexEntry {
    pub offset: i64,
    pub compressed_size: i32,
    pub first_row: i64,
    pub null_page: bool,
    pub min: Vec<u8>,
    pub max: Vec<u8>,
    pub null_count: Option<i64>,
}

/// Parse an OffsetIndex: the page locations.
pub fn read_offset_index(r: &mut Reader<'_>) -> Result<Vec<PageIndexEntry>> {
    let mut out = Vec::new();
    r.begin()?;
    while let Some((id, ty)) = r.field()? {
        match id {
            1 => {
                let (_, n) = r.list_of(ty)?;
                for _ in 0..n {
                    r.begin()?;
                    let mut e = PageIndexEntry::default();
                    while let Some((fid, t)) = r.field()? {
                        match fid {
                            1 => e.offset = r.i64_of(t)?,
                            2 => e.compressed_size = r.i32_of(t)?,
                            3 => e.first_row = r.i64_of(t)?,
                            _ => r.skip(t)?,
                        }
                    }
                    out.push(e);
                }
            }
            _ => r.skip(ty)?,
        }
    }
    Ok(out)
}

/// Parse a ColumnIndex into `entries` (which the OffsetIndex created, one per page).
pub fn read_column_index(r: &mut Reader<'_>, entries: &mut [PageIndexEntry]) -> Result<()> {
    let n = entries.len();
    let check = |len: usize| {
        if len == n {
            Ok(())
        } else {
            Err(corrupt(
                "column index and offset index disagree on the page count",
            ))
        }
    };
    r.begin()?;
    while let Some((id, ty)) = r.field()? {
        match id {
            1 => {
                let (_, len) = r.list_of(ty)?;
                check(len)?;
                for e in entries.iter_mut() {
                    e.null_page = r.raw_bool()?;
                }
            }
            2 | 3 => {
                let (_, len) = r.list_of(ty)?;
                check(len)?;
                for e in entries.iter_mut() {
                    let b = r.raw_binary()?.to_vec();
                    if id == 2 {
                        e.min = b;
                    } else {
                        e.max = b;
                    }
                }
            }
            5 => {
                let (_, len) = r.list_of(ty)?;
                check(len)?;
                for e in entries.iter_mut() {
                    e.null_count = Some(r.raw_i64()?);
                }
            }
            _ => r.skip(ty)?,
        }
    }
    Ok(())
}
