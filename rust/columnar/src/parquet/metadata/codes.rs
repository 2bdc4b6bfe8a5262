//! The enumerations of parquet.thrift (physical types, repetitions, converted types, encodings,
//! codecs, page types) as integer constants, and the `LogicalType` union with its time units.
//! Split from `metadata.rs`, which holds the structs that use them.

use super::corrupt;
use crate::parquet::thrift::{Reader, Writer};
use minide_common::Result;

/// Physical types (`Type` in parquet.thrift).
pub mod ptype {
    pub const BOOLEAN: i32 = 0;
    pub const INT32: i32 = 1;
    pub const INT64: i32 = 2;
    pub const INT96: i32 = 3;
    pub const FLOAT: i32 = 4;
    pub const DOUBLE: i32 = 5;
    pub const BYTE_ARRAY: i32 = 6;
    pub const FIXED_LEN_BYTE_ARRAY: i32 = 7;
    pub fn name(t: i32) -> &'static str {
        match t {
            0 => "BOOLEAN",
            1 => "INT32",
            2 => "INT64",
            3 => "INT96",
            4 => "FLOAT",
            5 => "DOUBLE",
            6 => "BYTE_ARRAY",
            7 => "FIXED_LEN_BYTE_ARRAY",
            _ => "?",
        }
    }
}

pub mod repetition {
    pub const REQUIRED: i32 = 0;
    pub const OPTIONAL: i32 = 1;
    pub const REPEATED: i32 = 2;
}

/// `ConvertedType`: the legacy annotations, still written for old readers.
pub mod converted {
    pub const UTF8: i32 = 0;
    pub const MAP: i32 = 1;
    pub const MAP_KEY_VALUE: i32 = 2;
    pub const LIST: i32 = 3;
    pub const DECIMAL: i32 = 5;
    pub const DATE: i32 = 6;
    pub const TIME_MILLIS: i32 = 7;
    pub const TIME_MICROS: i32 = 8;
    pub const TIMESTAMP_MILLIS: i32 = 9;
    pub const TIMESTAMP_MICROS: i32 = 10;
    pub const UINT_8: i32 = 11;
    pub const UINT_16: i32 = 12;
    pub const UINT_32: i32 = 13;
    pub const UINT_64: i32 = 14;
    pub const INT_8: i32 = 15;
    pub const INT_16: i32 = 16;
    pub const INT_32: i32 = 17;
    pub const INT_64: i32 = 18;
    pub const JSON: i32 = 19;
}

pub mod encoding {
    pub const PLAIN: i32 = 0;
    pub const PLAIN_DICTIONARY: i32 = 2;
    pub const RLE: i32 = 3;
    pub const BIT_PACKED: i32 = 4;
    pub const DELTA_BINARY_PACKED: i32 = 5;
    pub const DELTA_LENGTH_BYTE_ARRAY: i32 = 6;
    pub const DELTA_BYTE_ARRAY: i32 = 7;
    pub const RLE_DICTIONARY: i32 = 8;
    pub const BYTE_STREAM_SPLIT: i32 = 9;
    pub fn name(e: i32) -> &'static str {
        match e {
            0 => "PLAIN",
            2 => "PLAIN_DICTIONARY",
            3 => "RLE",
            4 => "BIT_PACKED",
            5 => "DELTA_BINARY_PACKED",
            6 => "DELTA_LENGTH_BYTE_ARRAY",
            7 => "DELTA_BYTE_ARRAY",
            8 => "RLE_DICTIONARY",
            9 => "BYTE_STREAM_SPLIT",
            _ => "?",
        }
    }
}

pub mod codec {
    pub const UNCOMPRESSED: i32 = 0;
    pub const SNAPPY: i32 = 1;
    pub const GZIP: i32 = 2;
    pub const LZO: i32 = 3;
    pub const BROTLI: i32 = 4;
    pub const LZ4: i32 = 5;
    pub const ZSTD: i32 = 6;
    pub const LZ4_RAW: i32 = 7;
    pub fn name(c: i32) -> &'static str {
        match c {
            0 => "UNCOMPRESSED",
            1 => "SNAPPY",
            2 => "GZIP",
            3 => "LZO",
            4 => "BROTLI",
            5 => "LZ4",
            6 => "ZSTD",
            7 => "LZ4_RAW",
            _ => "?",
        }
    }
}

pub mod page_type {
    pub const DATA_PAGE: i32 = 0;
    pub const INDEX_PAGE: i32 = 1;
    pub const DICTIONARY_PAGE: i32 = 2;
    pub const DATA_PAGE_V2: i32 = 3;
    pub fn name(t: i32) -> &'static str {
        match t {
            0 => "DATA_PAGE",
            1 => "INDEX_PAGE",
            2 => "DICTIONARY_PAGE",
            3 => "DATA_PAGE_V2",
            _ => "?",
        }
    }
}

/// Time units of `TimeType` / `TimestampType` (the `TimeUnit` union).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    Millis,
    Micros,
    Nanos,
}

/// The `LogicalType` union (only the members minide maps to Arrow; others read as `Other`).
#[derive(Clone, Debug, PartialEq)]
pub enum LogicalType {
    String,
    Map,
    List,
    Enum,
    Decimal { scale: i32, precision: i32 },
    Date,
    Time { utc: bool, unit: TimeUnit },
    Timestamp { utc: bool, unit: TimeUnit },
    Integer { bits: i8, signed: bool },
    Unknown,
    Json,
    Bson,
    Uuid,
    Float16,
    Other,
}

fn write_unit(w: &mut Writer, id: i16, unit: TimeUnit) {
    w.struct_field(id);
    w.empty_struct(match unit {
        TimeUnit::Millis => 1,
        TimeUnit::Micros => 2,
        TimeUnit::Nanos => 3,
    });
    w.end();
}

fn read_unit(r: &mut Reader<'_>, ty: u8) -> Result<TimeUnit> {
    r.struct_of(ty)?;
    let mut unit = None;
    while let Some((id, t)) = r.field()? {
        unit = match id {
            1 => Some(TimeUnit::Millis),
            2 => Some(TimeUnit::Micros),
            3 => Some(TimeUnit::Nanos),
            _ => unit,
        };
        r.skip(t)?;
    }
    unit.ok_or_else(|| corrupt("TimeUnit without a unit"))
}

impl LogicalType {
    pub fn write(&self, w: &mut Writer) {
        w.begin();
        match self {
            LogicalType::String => w.empty_struct(1),
            LogicalType::Map => w.empty_struct(2),
            LogicalType::List => w.empty_struct(3),
            LogicalType::Enum => w.empty_struct(4),
            LogicalType::Decimal { scale, precision } => {
                w.struct_field(5);
                w.i32(1, *scale);
                w.i32(2, *precision);
                w.end();
            }
            LogicalType::Date => w.empty_struct(6),
            LogicalType::Time { utc, unit } | LogicalType::Timestamp { utc, unit } => {
                let id = if matches!(self, LogicalType::Time { .. }) {
                    7
                } else {
                    8
                };
                w.struct_field(id);
                w.bool(1, *utc);
                write_unit(w, 2, *unit);
                w.end();
            }
            LogicalType::Integer { bits, signed } => {
                w.struct_field(10);
                w.i8(1, *bits);
                w.bool(2, *signed);
                w.end();
            }
            LogicalType::Unknown => w.empty_struct(11),
            LogicalType::Json => w.empty_struct(12),
            LogicalType::Bson => w.empty_struct(13),
            LogicalType::Uuid => w.empty_struct(14),
            LogicalType::Float16 => w.empty_struct(15),
            LogicalType::Other => {}
        }
        w.end();
    }

    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        let mut out = LogicalType::Other;
        while let Some((id, ty)) = r.field()? {
            out = match id {
                1 => LogicalType::String,
                2 => LogicalType::Map,
                3 => LogicalType::List,
                4 => LogicalType::Enum,
                5 => {
                    r.struct_of(ty)?;
                    let (mut scale, mut precision) = (0, 0);
                    while let Some((fid, t)) = r.field()? {
                        match fid {
                            1 => scale = r.i32_of(t)?,
                            2 => precision = r.i32_of(t)?,
                            _ => r.skip(t)?,
                        }
                    }
                    out = LogicalType::Decimal { scale, precision };
                    continue;
                }
                6 => LogicalType::Date,
                7 | 8 => {
                    r.struct_of(ty)?;
                    let (mut utc, mut unit) = (false, None);
                    while let Some((fid, t)) = r.field()? {
                        match fid {
                            1 => utc = r.bool_of(t)?,
                            2 => unit = Some(read_unit(r, t)?),
                            _ => r.skip(t)?,
                        }
                    }
                    let unit = unit.ok_or_else(|| corrupt("time type without unit"))?;
                    out = if id == 7 {
                        LogicalType::Time { utc, unit }
                    } else {
                        LogicalType::Timestamp { utc, unit }
                    };
                    continue;
                }
                10 => {
                    r.struct_of(ty)?;
                    let (mut bits, mut signed) = (0i8, true);
                    while let Some((fid, t)) = r.field()? {
                        match fid {
                            1 => {
                                bits = i8::try_from(r.i64_of(t)?)
                                    .map_err(|_| corrupt("bad integer bit width"))?
                            }
                            2 => signed = r.bool_of(t)?,
                            _ => r.skip(t)?,
                        }
                    }
                    out = LogicalType::Integer { bits, signed };
                    continue;
                }
                11 => LogicalType::Unknown,
                12 => LogicalType::Json,
                13 => LogicalType::Bson,
                14 => LogicalType::Uuid,
                15 => LogicalType::Float16,
                _ => LogicalType::Other,
            };
            r.skip(ty)?;
        }
        Ok(out)
    }
}
