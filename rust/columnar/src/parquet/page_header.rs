//! Page headers (`PageHeader` and its data/dictionary/v2 parts in parquet.thrift): the Thrift
//! struct in front of every page, written by `writer/column.rs` and parsed by
//! `reader/column.rs` with the bounded reader.

use super::thrift::{Reader, Writer};
use minide_common::{Error, Result};

fn corrupt(what: impl Into<String>) -> Error {
    Error::corrupt(what.into())
}

#[derive(Clone, Debug, Default)]
pub struct DataPageHeader {
    pub num_values: i32,
    pub encoding: i32,
    pub definition_level_encoding: i32,
    pub repetition_level_encoding: i32,
}

#[derive(Clone, Debug, Default)]
pub struct DataPageHeaderV2 {
    pub num_values: i32,
    pub num_nulls: i32,
    pub num_rows: i32,
    pub encoding: i32,
    pub definition_levels_byte_length: i32,
    pub repetition_levels_byte_length: i32,
    pub is_compressed: bool,
}

#[derive(Clone, Debug, Default)]
pub struct DictionaryPageHeader {
    pub num_values: i32,
    pub encoding: i32,
}

#[derive(Clone, Debug, Default)]
pub struct PageHeader {
    pub type_: i32,
    pub uncompressed_page_size: i32,
    pub compressed_page_size: i32,
    pub crc: Option<i32>,
    pub data_page: Option<DataPageHeader>,
    pub dictionary_page: Option<DictionaryPageHeader>,
    pub data_page_v2: Option<DataPageHeaderV2>,
}

impl PageHeader {
    pub fn write(&self, w: &mut Writer) {
        w.begin();
        w.i32(1, self.type_);
        w.i32(2, self.uncompressed_page_size);
        w.i32(3, self.compressed_page_size);
        if let Some(c) = self.crc {
            w.i32(4, c);
        }
        if let Some(d) = &self.data_page {
            w.struct_field(5);
            w.i32(1, d.num_values);
            w.i32(2, d.encoding);
            w.i32(3, d.definition_level_encoding);
            w.i32(4, d.repetition_level_encoding);
            w.end();
        }
        if let Some(d) = &self.dictionary_page {
            w.struct_field(7);
            w.i32(1, d.num_values);
            w.i32(2, d.encoding);
            w.end();
        }
        if let Some(d) = &self.data_page_v2 {
            w.struct_field(8);
            w.i32(1, d.num_values);
            w.i32(2, d.num_nulls);
            w.i32(3, d.num_rows);
            w.i32(4, d.encoding);
            w.i32(5, d.definition_levels_byte_length);
            w.i32(6, d.repetition_levels_byte_length);
            w.bool(7, d.is_compressed);
            w.end();
        }
        w.end();
    }

    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        let mut h = PageHeader::default();
        let mut seen = 0u32;
        r.begin()?;
        while let Some((id, ty)) = r.field()? {
            match id {
                1 => {
                    h.type_ = r.i32_of(ty)?;
                    seen |= 1;
                }
                2 => {
                    h.uncompressed_page_size = r.i32_of(ty)?;
                    seen |= 2;
                }
                3 => {
                    h.compressed_page_size = r.i32_of(ty)?;
                    seen |= 4;
                }
                4 => h.crc = Some(r.i32_of(ty)?),
                5 => {
                    r.struct_of(ty)?;
                    let mut d = DataPageHeader::default();
                    while let Some((fid, t)) = r.field()? {
                        match fid {
                            1 => d.num_values = r.i32_of(t)?,
                            2 => d.encoding = r.i32_of(t)?,
                            3 => d.definition_level_encoding = r.i32_of(t)?,
                            4 => d.repetition_level_encoding = r.i32_of(t)?,
                            _ => r.skip(t)?,
                        }
                    }
                    h.data_page = Some(d);
                }
                7 => {
                    r.struct_of(ty)?;
                    let mut d = DictionaryPageHeader::default();
                    while let Some((fid, t)) = r.field()? {
                        match fid {
                            1 => d.num_values = r.i32_of(t)?,
                            2 => d.encoding = r.i32_of(t)?,
                            _ => r.skip(t)?,
                        }
                    }
                    h.dictionary_page = Some(d);
                }
                8 => {
                    r.struct_of(ty)?;
                    let mut d = DataPageHeaderV2 {
                        is_compressed: true,
                        ..Default::default()
                    };
                    while let Some((fid, t)) = r.field()? {
                        match fid {
                            1 => d.num_values = r.i32_of(t)?,
                            2 => d.num_nulls = r.i32_of(t)?,
                            3 => d.num_rows = r.i32_of(t)?,
                            4 => d.encoding = r.i32_of(t)?,
                            5 => d.definition_levels_byte_length = r.i32_of(t)?,
                            6 => d.repetition_levels_byte_length = r.i32_of(t)?,
                            7 => d.is_compressed = r.bool_of(t)?,
                            _ => r.skip(t)?,
                        }
                    }
                    h.data_page_v2 = Some(d);
                }
                _ => r.skip(ty)?,
            }
        }
        if seen != 7 {
            return Err(corrupt("page header misses a required field"));
        }
        if h.compressed_page_size < 0 || h.uncompressed_page_size < 0 {
            return Err(corrupt("page header has a negative size"));
        }
        Ok(h)
    }
}
