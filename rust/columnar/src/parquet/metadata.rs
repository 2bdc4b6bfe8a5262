//! The structs of parquet.thrift that minide reads and writes, with their Thrift field ids.
//!
//! Each struct has `write(&self, &mut thrift::Writer)` and `read(&mut thrift::Reader)`. Readers
//! skip unknown fields (newer writers add some) and check required ones.

use super::thrift::{Reader, T_BINARY, T_I32, T_STRUCT, Writer};
use minide_common::{Error, Result};

fn corrupt(what: impl Into<String>) -> Error {
    Error::corrupt(what.into())
}

mod codes;
pub use codes::*;

/// One node of the flattened schema tree (depth-first; groups carry `num_children`).
#[derive(Clone, Debug, Default)]
pub struct SchemaElement {
    pub type_: Option<i32>,
    pub type_length: Option<i32>,
    pub repetition_type: Option<i32>,
    pub name: String,
    pub num_children: Option<i32>,
    pub converted_type: Option<i32>,
    pub scale: Option<i32>,
    pub precision: Option<i32>,
    pub field_id: Option<i32>,
    pub logical_type: Option<LogicalType>,
}

impl SchemaElement {
    pub fn write(&self, w: &mut Writer) {
        w.begin();
        if let Some(t) = self.type_ {
            w.i32(1, t);
        }
        if let Some(t) = self.type_length {
            w.i32(2, t);
        }
        if let Some(t) = self.repetition_type {
            w.i32(3, t);
        }
        w.binary(4, self.name.as_bytes());
        if let Some(t) = self.num_children {
            w.i32(5, t);
        }
        if let Some(t) = self.converted_type {
            w.i32(6, t);
        }
        if let Some(t) = self.scale {
            w.i32(7, t);
        }
        if let Some(t) = self.precision {
            w.i32(8, t);
        }
        if let Some(t) = self.field_id {
            w.i32(9, t);
        }
        if let Some(lt) = &self.logical_type {
            w.struct_field_raw(10, |w| lt.write(w));
        }
        w.end();
    }

    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        let mut s = SchemaElement::default();
        let mut has_name = false;
        while let Some((id, ty)) = r.field()? {
            match id {
                1 => s.type_ = Some(r.i32_of(ty)?),
                2 => s.type_length = Some(r.i32_of(ty)?),
                3 => s.repetition_type = Some(r.i32_of(ty)?),
                4 => {
                    s.name = r.string_of(ty)?;
                    has_name = true;
                }
                5 => s.num_children = Some(r.i32_of(ty)?),
                6 => s.converted_type = Some(r.i32_of(ty)?),
                7 => s.scale = Some(r.i32_of(ty)?),
                8 => s.precision = Some(r.i32_of(ty)?),
                9 => s.field_id = Some(r.i32_of(ty)?),
                10 => {
                    r.struct_of(ty)?;
                    s.logical_type = Some(LogicalType::read(r)?);
                }
                _ => r.skip(ty)?,
            }
        }
        if !has_name {
            return Err(corrupt("schema element without a name"));
        }
        Ok(s)
    }
}

/// `Statistics`: min/max as PLAIN-encoded values (without length prefix for byte arrays).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Statistics {
    pub null_count: Option<i64>,
    pub distinct_count: Option<i64>,
    pub max_value: Option<Vec<u8>>,
    pub min_value: Option<Vec<u8>>,
    /// Deprecated `max`/`min` (fields 1/2, signed order); read only as a fallback for display.
    pub legacy_max: Option<Vec<u8>>,
    pub legacy_min: Option<Vec<u8>>,
}

impl Statistics {
    pub fn write(&self, w: &mut Writer) {
        w.begin();
        if let Some(n) = self.null_count {
            w.i64(3, n);
        }
        if let Some(n) = self.distinct_count {
            w.i64(4, n);
        }
        if let Some(v) = &self.max_value {
            w.binary(5, v);
        }
        if let Some(v) = &self.min_value {
            w.binary(6, v);
        }
        w.end();
    }

    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        let mut s = Statistics::default();
        while let Some((id, ty)) = r.field()? {
            match id {
                1 => s.legacy_max = Some(r.binary_of(ty)?.to_vec()),
                2 => s.legacy_min = Some(r.binary_of(ty)?.to_vec()),
                3 => s.null_count = Some(r.i64_of(ty)?),
                4 => s.distinct_count = Some(r.i64_of(ty)?),
                5 => s.max_value = Some(r.binary_of(ty)?.to_vec()),
                6 => s.min_value = Some(r.binary_of(ty)?.to_vec()),
                _ => r.skip(ty)?,
            }
        }
        Ok(s)
    }
}

#[derive(Clone, Debug, Default)]
pub struct ColumnMetaData {
    pub type_: i32,
    pub encodings: Vec<i32>,
    pub path_in_schema: Vec<String>,
    pub codec: i32,
    pub num_values: i64,
    pub total_uncompressed_size: i64,
    pub total_compressed_size: i64,
    pub data_page_offset: i64,
    pub index_page_offset: Option<i64>,
    pub dictionary_page_offset: Option<i64>,
    pub statistics: Option<Statistics>,
    pub bloom_filter_offset: Option<i64>,
    pub bloom_filter_length: Option<i32>,
}

impl ColumnMetaData {
    pub fn write(&self, w: &mut Writer) {
        w.begin();
        w.i32(1, self.type_);
        w.list_field(2, T_I32, self.encodings.len());
        for e in &self.encodings {
            w.raw_i32(*e);
        }
        w.list_field(3, T_BINARY, self.path_in_schema.len());
        for p in &self.path_in_schema {
            w.raw_binary(p.as_bytes());
        }
        w.i32(4, self.codec);
        w.i64(5, self.num_values);
        w.i64(6, self.total_uncompressed_size);
        w.i64(7, self.total_compressed_size);
        w.i64(9, self.data_page_offset);
        if let Some(v) = self.index_page_offset {
            w.i64(10, v);
        }
        if let Some(v) = self.dictionary_page_offset {
            w.i64(11, v);
        }
        if let Some(s) = &self.statistics {
            w.struct_field_raw(12, |w| s.write(w));
        }
        if let Some(v) = self.bloom_filter_offset {
            w.i64(14, v);
        }
        if let Some(v) = self.bloom_filter_length {
            w.i32(15, v);
        }
        w.end();
    }

    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        let mut m = ColumnMetaData::default();
        let mut seen = 0u32;
        while let Some((id, ty)) = r.field()? {
            match id {
                1 => {
                    m.type_ = r.i32_of(ty)?;
                    seen |= 1;
                }
                2 => {
                    let (_, n) = r.list_of(ty)?;
                    for _ in 0..n {
                        m.encodings.push(r.raw_i32()?);
                    }
                }
                3 => {
                    let (_, n) = r.list_of(ty)?;
                    for _ in 0..n {
                        let b = r.raw_binary()?;
                        m.path_in_schema
                            .push(String::from_utf8_lossy(b).into_owned());
                    }
                    seen |= 2;
                }
                4 => m.codec = r.i32_of(ty)?,
                5 => {
                    m.num_values = r.i64_of(ty)?;
                    seen |= 4;
                }
                6 => m.total_uncompressed_size = r.i64_of(ty)?,
                7 => {
                    m.total_compressed_size = r.i64_of(ty)?;
                    seen |= 8;
                }
                9 => {
                    m.data_page_offset = r.i64_of(ty)?;
                    seen |= 16;
                }
                10 => m.index_page_offset = Some(r.i64_of(ty)?),
                11 => m.dictionary_page_offset = Some(r.i64_of(ty)?),
                12 => {
                    r.struct_of(ty)?;
                    m.statistics = Some(Statistics::read(r)?);
                }
                14 => m.bloom_filter_offset = Some(r.i64_of(ty)?),
                15 => m.bloom_filter_length = Some(r.i32_of(ty)?),
                _ => r.skip(ty)?,
            }
        }
        if seen != 31 {
            return Err(corrupt("column metadata misses a required field"));
        }
        Ok(m)
    }
}

#[derive(Clone, Debug, Default)]
pub struct ColumnChunk {
    pub file_path: Option<String>,
    pub file_offset: i64,
    pub meta_data: Option<ColumnMetaData>,
    pub offset_index_offset: Option<i64>,
    pub offset_index_length: Option<i32>,
    pub column_index_offset: Option<i64>,
    pub column_index_length: Option<i32>,
}

impl ColumnChunk {
    pub fn write(&self, w: &mut Writer) {
        w.begin();
        if let Some(p) = &self.file_path {
            w.binary(1, p.as_bytes());
        }
        w.i64(2, self.file_offset);
        if let Some(m) = &self.meta_data {
            w.struct_field_raw(3, |w| m.write(w));
        }
        if let Some(v) = self.offset_index_offset {
            w.i64(4, v);
        }
        if let Some(v) = self.offset_index_length {
            w.i32(5, v);
        }
        if let Some(v) = self.column_index_offset {
            w.i64(6, v);
        }
        if let Some(v) = self.column_index_length {
            w.i32(7, v);
        }
        w.end();
    }

    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        let mut c = ColumnChunk::default();
        while let Some((id, ty)) = r.field()? {
            match id {
                1 => c.file_path = Some(r.string_of(ty)?),
                2 => c.file_offset = r.i64_of(ty)?,
                3 => {
                    r.struct_of(ty)?;
                    c.meta_data = Some(ColumnMetaData::read(r)?);
                }
                4 => c.offset_index_offset = Some(r.i64_of(ty)?),
                5 => c.offset_index_length = Some(r.i32_of(ty)?),
                6 => c.column_index_offset = Some(r.i64_of(ty)?),
                7 => c.column_index_length = Some(r.i32_of(ty)?),
                _ => r.skip(ty)?,
            }
        }
        Ok(c)
    }
}

#[derive(Clone, Debug, Default)]
pub struct RowGroup {
    pub columns: Vec<ColumnChunk>,
    pub total_byte_size: i64,
    pub num_rows: i64,
    pub file_offset: Option<i64>,
    pub total_compressed_size: Option<i64>,
    pub ordinal: Option<i16>,
}

impl RowGroup {
    pub fn write(&self, w: &mut Writer) {
        w.begin();
        w.list_field(1, T_STRUCT, self.columns.len());
        for c in &self.columns {
            c.write(w);
        }
        w.i64(2, self.total_byte_size);
        w.i64(3, self.num_rows);
        if let Some(v) = self.file_offset {
            w.i64(5, v);
        }
        if let Some(v) = self.total_compressed_size {
            w.i64(6, v);
        }
        if let Some(v) = self.ordinal {
            w.i32(7, i32::from(v));
        }
        w.end();
    }

    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        let mut g = RowGroup::default();
        while let Some((id, ty)) = r.field()? {
            match id {
                1 => {
                    let (_, n) = r.list_of(ty)?;
                    for _ in 0..n {
                        r.begin()?;
                        g.columns.push(ColumnChunk::read(r)?);
                    }
                }
                2 => g.total_byte_size = r.i64_of(ty)?,
                3 => g.num_rows = r.i64_of(ty)?,
                5 => g.file_offset = Some(r.i64_of(ty)?),
                6 => g.total_compressed_size = Some(r.i64_of(ty)?),
                7 => g.ordinal = i16::try_from(r.i64_of(ty)?).ok(),
                _ => r.skip(ty)?,
            }
        }
        Ok(g)
    }
}

#[derive(Clone, Debug, Default)]
pub struct FileMetaData {
    pub version: i32,
    pub schema: Vec<SchemaElement>,
    pub num_rows: i64,
    pub row_groups: Vec<RowGroup>,
    pub key_value_metadata: Vec<(String, Option<String>)>,
    pub created_by: Option<String>,
    /// One `TypeDefinedOrder` per leaf column when written by minide.
    pub column_orders: Option<usize>,
}

impl FileMetaData {
    pub fn write(&self, w: &mut Writer) {
        w.begin();
        w.i32(1, self.version);
        w.list_field(2, T_STRUCT, self.schema.len());
        for s in &self.schema {
            s.write(w);
        }
        w.i64(3, self.num_rows);
        w.list_field(4, T_STRUCT, self.row_groups.len());
        for g in &self.row_groups {
            g.write(w);
        }
        if !self.key_value_metadata.is_empty() {
            w.list_field(5, T_STRUCT, self.key_value_metadata.len());
            for (k, v) in &self.key_value_metadata {
                w.begin();
                w.binary(1, k.as_bytes());
                if let Some(v) = v {
                    w.binary(2, v.as_bytes());
                }
                w.end();
            }
        }
        if let Some(c) = &self.created_by {
            w.binary(6, c.as_bytes());
        }
        if let Some(n) = self.column_orders {
            w.list_field(7, T_STRUCT, n);
            for _ in 0..n {
                w.begin();
                w.empty_struct(1); // TYPE_ORDER: TypeDefinedOrder
                w.end();
            }
        }
        w.end();
    }

    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        let mut m = FileMetaData::default();
        r.begin()?;
        while let Some((id, ty)) = r.field()? {
            match id {
                1 => m.version = r.i32_of(ty)?,
                2 => {
                    let (_, n) = r.list_of(ty)?;
                    for _ in 0..n {
                        r.begin()?;
                        m.schema.push(SchemaElement::read(r)?);
                    }
                }
                3 => m.num_rows = r.i64_of(ty)?,
                4 => {
                    let (_, n) = r.list_of(ty)?;
                    for _ in 0..n {
                        r.begin()?;
                        m.row_groups.push(RowGroup::read(r)?);
                    }
                }
                5 => {
                    let (_, n) = r.list_of(ty)?;
                    for _ in 0..n {
                        r.begin()?;
                        let (mut k, mut v) = (String::new(), None);
                        while let Some((fid, t)) = r.field()? {
                            match fid {
                                1 => k = String::from_utf8_lossy(r.binary_of(t)?).into_owned(),
                                2 => {
                                    v = Some(String::from_utf8_lossy(r.binary_of(t)?).into_owned())
                                }
                                _ => r.skip(t)?,
                            }
                        }
                        m.key_value_metadata.push((k, v));
                    }
                }
                6 => m.created_by = Some(String::from_utf8_lossy(r.binary_of(ty)?).into_owned()),
                7 => {
                    let (elem, n) = r.list_of(ty)?;
                    for _ in 0..n {
                        r.skip(elem)?;
                    }
                    m.column_orders = Some(n);
                }
                _ => r.skip(ty)?,
            }
        }
        Ok(m)
    }
}

pub use super::page_header::{DataPageHeader, DataPageHeaderV2, DictionaryPageHeader, PageHeader};
pub use super::page_index::{PageIndexEntry, read_column_index, read_offset_index};

/// Serialize any of the structs above into a standalone byte vector.
pub fn to_bytes(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::new();
    f(&mut w);
    w.into_bytes()
}

/// Key of the footer checksum minide adds to its files' key-value metadata: the CRC32 (8 hex
/// digits) of the serialized footer with this value set to [`FOOTER_CRC_PLACEHOLDER`]. Parquet
/// has no footer checksum; with it a flipped bit in the schema or a statistic is detected too.
pub const FOOTER_CRC_KEY: &str = "minide:footer_crc32";
pub const FOOTER_CRC_PLACEHOLDER: &[u8; 8] = b"00000000";

/// Byte range of the checksum value inside a serialized footer (key, then field 2 header
/// `0x18`, length `0x08`, 8 bytes).
pub fn footer_crc_range(footer: &[u8]) -> Option<std::ops::Range<usize>> {
    let key = FOOTER_CRC_KEY.as_bytes();
    let at = footer.windows(key.len()).position(|w| w == key)?;
    let v = at + key.len();
    (footer.get(v..v + 2) == Some(&[0x18, 0x08][..]) && footer.len() >= v + 10)
        .then(|| v + 2..v + 10)
}

/// CRC32 of a footer with the checksum value replaced by the placeholder.
pub fn footer_crc(footer: &[u8], range: std::ops::Range<usize>) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&footer[..range.start]);
    h.update(FOOTER_CRC_PLACEHOLDER);
    h.update(&footer[range.end..]);
    h.finalize()
}
