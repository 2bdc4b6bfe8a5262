//! Levels, the dictionary page and the finished array: decode a page's repetition and
//! definition levels, a dictionary page's entries, and turn the chunk's dense values into the
//! Arrow array (with nulls, decimals as floats where asked). Split from `column.rs`, which
//! drives the pages.

use super::*;

impl ChunkDecoder<'_> {
    pub(super) fn decode_rep(&mut self, data: &[u8], n: usize) -> Result<()> {
        let start = self.rep_levels.len();
        rle::decode(
            data,
            rle::bit_width(u64::from(self.max_rep)),
            n,
            &mut self.rep_levels,
        )?;
        let max = self.max_rep;
        if self.rep_levels[start..].iter().any(|&r| r > max) {
            return Err(corrupt(format!("repetition level above the maximum {max}")));
        }
        if n > 0 && self.rep_levels[start] != 0 {
            return Err(corrupt("page does not start at a row boundary"));
        }
        Ok(())
    }

    pub(super) fn decode_levels(&mut self, data: &[u8], n: usize) -> Result<()> {
        let s = &mut self.scratch;
        s.levels.clear();
        rle::decode(
            data,
            rle::bit_width(u64::from(self.max_def)),
            n,
            &mut s.levels,
        )?;
        if self.keep_levels {
            self.def_levels.extend_from_slice(&s.levels);
        }
        let validity = self
            .validity
            .as_mut()
            .ok_or_else(|| corrupt("levels without validity"))?;
        let max = self.max_def;
        // Whole-slice passes (vectorized) instead of one bit append per value.
        let top = s.levels.iter().copied().max().unwrap_or(0);
        if top > max {
            return Err(corrupt(format!(
                "definition level {top} above the maximum {max}"
            )));
        }
        let nulls = s.levels.iter().filter(|&&l| l != max).count();
        if nulls == 0 {
            validity.append_n(s.levels.len(), true);
        } else {
            let levels = &s.levels;
            let bits =
                arrow_buffer::BooleanBuffer::collect_bool(levels.len(), |i| levels[i] == max);
            validity.append_buffer(&bits);
        }
        self.null_count += nulls;
        Ok(())
    }

    pub(super) fn decode_dict(&mut self, raw: &[u8], n: usize) -> Result<Dict> {
        if n > raw.len().saturating_mul(8) + 8 {
            return Err(corrupt(
                "dictionary declares more values than its page holds",
            ));
        }
        Ok(match self.physical {
            ptype::BOOLEAN => {
                let mut v = Vec::new();
                plain::decode_bools(raw, n, &mut v)?;
                Dict::Bool(v)
            }
            ptype::INT32 => Dict::I32(native(raw, n)?),
            ptype::INT64 => Dict::I64(native(raw, n)?),
            ptype::FLOAT => Dict::F32(native(raw, n)?),
            ptype::DOUBLE => Dict::F64(native(raw, n)?),
            ptype::BYTE_ARRAY => {
                let (mut ends, mut data) = (Vec::with_capacity(n), Vec::with_capacity(raw.len()));
                let (mut longest, mut shortest) = (0, usize::MAX);
                plain::decode_byte_arrays(raw, n, |v| {
                    data.extend_from_slice(v);
                    ends.push(data.len());
                    longest = longest.max(v.len());
                    shortest = shortest.min(v.len());
                })?;
                data.resize(data.len() + PAD, 0);
                Dict::Bytes {
                    ends,
                    data,
                    longest,
                    shortest,
                }
            }
            _ => {
                let w = self.width;
                let data = raw
                    .get(..n.saturating_mul(w))
                    .ok_or_else(|| corrupt("fixed-width dictionary truncated"))?
                    .to_vec();
                Dict::Fixed { width: w, data }
            }
        })
    }

    /// Non-null values in this page (n rows).
    pub(super) fn present(&self, n: usize) -> usize {
        if self.max_def == 0 {
            n
        } else {
            let max = self.max_def;
            self.scratch.levels.iter().filter(|&&l| l == max).count()
        }
    }

    pub(super) fn finish(self, dt: &DataType, decoded: &[(usize, usize)]) -> Result<ArrayRef> {
        if self.keys.is_some() {
            return self.finish_keys(dt, decoded);
        }
        let nulls = match self.validity {
            Some(mut b) if self.null_count > 0 => Some(NullBuffer::new(b.finish())),
            _ => None,
        };
        let n: usize = match self.keep {
            Some(rows) => {
                if self.keep_pos != rows.len() {
                    return Err(corrupt("pages ended before the kept rows"));
                }
                rows.len()
            }
            None => decoded.iter().map(|&(s, e)| e - s).sum(),
        };
        if let (Some(_), Dense::I64(bits)) = (self.f64_div, &self.dense) {
            if bits.len() != n {
                return Err(corrupt(format!(
                    "column decoded {} values for {n} rows",
                    bits.len()
                )));
            }
            let Dense::I64(bits) = self.dense else {
                return Err(corrupt("decimal bits lost"));
            };
            let len = bits.len();
            let vals = arrow_buffer::ScalarBuffer::<f64>::new(
                arrow_buffer::Buffer::from_vec(bits),
                0,
                len,
            );
            return Ok(std::sync::Arc::new(arrow_array::Float64Array::new(
                vals, nulls,
            )));
        }
        if let (true, DataType::Decimal128(_, scale)) = (self.decimals_as_f64, dt)
            && matches!(self.dense, Dense::I32(_) | Dense::I64(_))
        {
            return super::super::arrays::decimal_to_f64(self.dense, nulls, *scale, n);
        }
        super::super::arrays::to_array(self.dense, nulls, dt, n)
    }
}
