//! Dictionary keys instead of values. A flat, required byte-array column whose data pages are
//! dictionary-encoded decodes to its dictionary's indices and the dictionary itself (an Arrow
//! `DictionaryArray<UInt32>`): a filter then compares each distinct string once, and the scan
//! gathers the strings of only the rows it keeps (`reader::scan`). A chunk that falls back to
//! PLAIN pages part way materializes the keys decoded so far and goes on decoding values.

use std::sync::Arc;

use arrow_array::types::UInt32Type;
use arrow_array::{DictionaryArray, StringArray, UInt32Array};
use arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};

use super::*;

impl ChunkDecoder<'_> {
    /// Decode dictionary keys (see the module docs). A no-op for columns it does not apply
    /// to (not byte arrays, nullable, nested, or rows already being kept): they decode values.
    pub fn dictionary_keys(mut self) -> Self {
        if self.physical == ptype::BYTE_ARRAY
            && self.max_def == 0
            && !self.keep_levels
            && self.keep.is_none()
        {
            self.keys = Some(Vec::with_capacity(self.rows));
        }
        self
    }

    /// Append a dictionary-encoded page's indices to the keys (range-checked). Returns false,
    /// having materialized the keys so far, for a page of another encoding: the caller then
    /// decodes it as values.
    pub(super) fn page_keys(&mut self, enc: i32, data: &[u8], n: usize) -> Result<bool> {
        if enc != encoding::RLE_DICTIONARY && enc != encoding::PLAIN_DICTIONARY {
            self.materialize_keys()?;
            return Ok(false);
        }
        let (dict_len, bw) = self.dict_page_prologue(data)?;
        let Some(keys) = self.keys.as_mut() else {
            return Ok(false);
        };
        let before = keys.len();
        if n > 0 {
            rle::decode(&data[1..], bw, n, keys)?;
        }
        if keys.len() - before != n {
            return Err(corrupt("page holds fewer values than its levels"));
        }
        if keys[before..].iter().any(|&i| i as usize >= dict_len) {
            return Err(corrupt("dictionary index out of range"));
        }
        Ok(true)
    }

    /// Turn the keys decoded so far into values (the chunk continues as values).
    fn materialize_keys(&mut self) -> Result<()> {
        let Some(keys) = self.keys.take() else {
            return Ok(());
        };
        if keys.is_empty() {
            return Ok(());
        }
        match (&mut self.dense, &self.dict) {
            (Dense::Bytes { offsets, data }, Some(Dict::Bytes { ends, data: dd, .. })) => {
                gather_bytes(ends, dd, &keys, offsets, data);
                Ok(())
            }
            _ => Err(corrupt("dictionary of the wrong type")),
        }
    }

    /// The chunk as keys into its dictionary (Utf8 output only; other types materialize).
    pub(super) fn finish_keys(
        mut self,
        dt: &DataType,
        decoded: &[(usize, usize)],
    ) -> Result<ArrayRef> {
        if *dt != DataType::Utf8 {
            self.materialize_keys()?;
            return self.finish(dt, decoded);
        }
        let keys = self.keys.take().unwrap_or_default();
        if keys.len() != self.rows {
            return Err(corrupt(format!(
                "column decoded {} values for {} rows",
                keys.len(),
                self.rows
            )));
        }
        let Some(Dict::Bytes { ends, mut data, .. }) = self.dict else {
            return Err(corrupt("dictionary keys without a byte-array dictionary"));
        };
        let mut offsets = Vec::with_capacity(ends.len() + 1);
        offsets.push(0i32);
        for &e in &ends {
            offsets.push(
                i32::try_from(e).map_err(|_| corrupt("dictionary page over 2 GiB of strings"))?,
            );
        }
        data.truncate(ends.last().copied().unwrap_or(0));
        let values = StringArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Buffer::from_vec(data),
            None,
        )
        .map_err(|e| corrupt(format!("dictionary strings: {e}")))?;
        let keys = UInt32Array::new(ScalarBuffer::from(keys), None);
        let dict = DictionaryArray::<UInt32Type>::try_new(keys, Arc::new(values))
            .map_err(|e| corrupt(format!("dictionary keys: {e}")))?;
        Ok(Arc::new(dict))
    }
}

/// Append dictionary entries `idx` (range-checked by the caller) to a byte-array column.
pub(super) fn gather_bytes(
    ends: &[usize],
    dd: &[u8],
    idx: &[u32],
    offsets: &mut Vec<i64>,
    out: &mut Vec<u8>,
) {
    offsets.reserve(idx.len());
    for &i in idx {
        let i = i as usize;
        let start = if i == 0 { 0 } else { ends[i - 1] };
        out.extend_from_slice(&dd[start..ends[i]]);
        offsets.push(out.len() as i64);
    }
}
