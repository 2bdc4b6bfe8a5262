//! Page values: decode the non-null values of one data page with its encoding (PLAIN,
//! dictionary indices, DELTA_*, BYTE_STREAM_SPLIT, RLE booleans) into the chunk's page-local
//! buffer. Split from `column.rs`, which drives the pages, levels and the final Arrow array.

use super::*;

impl ChunkDecoder<'_> {
    /// A dictionary-index page starts with its bit width; the chunk must have had a dictionary.
    pub(super) fn dict_page_prologue(&self, data: &[u8]) -> Result<(usize, u8)> {
        let dict_len = self
            .dict
            .as_ref()
            .map(Dict::len)
            .ok_or_else(|| corrupt("dictionary-encoded page without a dictionary"))?;
        let bw = *data
            .first()
            .ok_or_else(|| corrupt("dictionary page data empty"))?;
        Ok((dict_len, bw))
    }

    pub(super) fn decode_page_values(&mut self, enc: i32, data: &[u8], n: usize) -> Result<()> {
        if let Some(keep) = self.keep {
            return self.decode_page_kept(keep, enc, data, n);
        }
        if self.keys.is_some() && self.page_keys(enc, data, n)? {
            return Ok(());
        }
        let k = self.present(n);
        let is_dict = enc == encoding::RLE_DICTIONARY || enc == encoding::PLAIN_DICTIONARY;
        let tail_from = match &self.dense {
            Dense::I64(v) => v.len(),
            _ => 0,
        };
        if is_dict {
            let (dict_len, bw) = self.dict_page_prologue(data)?;
            let s = &mut self.scratch;
            s.idx.clear();
            if k > 0 {
                rle::decode(&data[1..], bw, k, &mut s.idx)?;
            }
            if s.idx.iter().any(|&i| i as usize >= dict_len) {
                return Err(corrupt("dictionary index out of range"));
            }
        }
        let levels_owned = std::mem::take(&mut self.scratch.levels);
        let levels = (self.max_def > 0).then_some(&levels_owned[..]);
        let max = self.max_def;
        macro_rules! fixed {
            ($out:expr, $dict:path, $is32:expr, $t:ty) => {{
                // Without nulls, values decode straight into the column (no scatter copy).
                let direct = k == n;
                let mut vals: Vec<$t> = if direct {
                    std::mem::take($out)
                } else {
                    Vec::with_capacity(k)
                };
                let before = vals.len();
                match enc {
                    _ if is_dict => {
                        if let Some($dict(d)) = &self.dict {
                            vals.extend(self.scratch.idx.iter().map(|&i| d[i as usize]));
                        } else {
                            return Err(corrupt("dictionary of the wrong type"));
                        }
                    }
                    encoding::PLAIN => {
                        plain::decode_native::<$t>(data, k, &mut vals)?;
                    }
                    encoding::BYTE_STREAM_SPLIT => {
                        let raw = plain::decode_byte_stream_split(data, k, <$t>::SIZE)?;
                        plain::decode_native::<$t>(&raw, k, &mut vals)?;
                    }
                    encoding::DELTA_BINARY_PACKED if $is32.is_some() => {
                        let w = &mut self.scratch.wide;
                        w.clear();
                        delta::DeltaDecoder::new(data).decode($is32.unwrap_or(false), k, w)?;
                        if w.len() != k {
                            return Err(corrupt("delta page holds fewer values than its levels"));
                        }
                        vals.extend(w.iter().map(|&x| x as $t));
                    }
                    other => return Err(invalid_encoding(other, "values")),
                }
                if vals.len() - before != k {
                    return Err(corrupt("page holds fewer values than its levels"));
                }
                if direct {
                    *$out = vals;
                } else {
                    scatter(levels, max, &vals, $out)?;
                }
            }};
        }
        match &mut self.dense {
            Dense::I32(out) => fixed!(out, Dict::I32, Some(true), i32),
            Dense::I64(out) => fixed!(out, Dict::I64, Some(false), i64),
            Dense::F32(out) => fixed!(out, Dict::F32, None::<bool>, f32),
            Dense::F64(out) => fixed!(out, Dict::F64, None::<bool>, f64),
            Dense::Bool(out) => {
                let mut vals = Vec::with_capacity(k);
                match enc {
                    _ if is_dict => {
                        if let Some(Dict::Bool(d)) = &self.dict {
                            vals.extend(self.scratch.idx.iter().map(|&i| d[i as usize]));
                        }
                    }
                    encoding::PLAIN => {
                        plain::decode_bools(data, k, &mut vals)?;
                    }
                    encoding::RLE => {
                        let len = data
                            .get(..4)
                            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                            .ok_or_else(|| corrupt("RLE booleans truncated"))?;
                        let body = data
                            .get(4..4 + len)
                            .ok_or_else(|| corrupt("RLE booleans past the page end"))?;
                        let mut v = Vec::with_capacity(k);
                        rle::decode(body, 1, k, &mut v)?;
                        vals.extend(v.iter().map(|&x| x != 0));
                    }
                    other => return Err(invalid_encoding(other, "booleans")),
                }
                if vals.len() != k {
                    return Err(corrupt("boolean page holds too few values"));
                }
                scatter(levels, max, &vals, out)?;
            }
            Dense::Bytes { offsets, data: out } => {
                let s = &mut self.scratch;
                s.bytes_ends.clear();
                s.bytes_data.clear();
                // Without nulls the values go straight into the column: `ends` then holds
                // column offsets (no scatter copy). With nulls they go to scratch first.
                let direct = k == n;
                if let (
                    true,
                    true,
                    Some(Dict::Bytes {
                        ends: de,
                        data: dd,
                        longest,
                        shortest,
                    }),
                ) = (direct, is_dict, &self.dict)
                {
                    // Dictionary page without nulls: gather straight into the column's data
                    // and offsets (no per-page list of ends to copy over afterwards).
                    if s.idx.len() != k {
                        return Err(corrupt("byte array page holds too few values"));
                    }
                    offsets.reserve(k);
                    let start_of = |i: usize| if i == 0 { 0 } else { de[i - 1] };
                    if *longest == 1 && *shortest == 1 {
                        // one-byte entries (flags, codes): a byte table lookup per value, and
                        // offsets that count up by one (no lengths to read)
                        let base = out.len();
                        let entries = &dd[..de.len()];
                        out.reserve(k);
                        for &i in &s.idx {
                            out.push(
                                *entries
                                    .get(i as usize)
                                    .ok_or_else(|| corrupt("dictionary index out of range"))?,
                            );
                        }
                        offsets.extend((base + 1..=base + k).map(|p| p as i64));
                        self.scratch.levels = levels_owned;
                        return Ok(());
                    }
                    if *longest <= PAD {
                        // Entries of at most PAD bytes: copy a PAD-byte window (the
                        // dictionary is padded) and advance by the entry's length, into room
                        // for `k` of the longest entries, cut to size after.
                        let base = out.len();
                        out.resize(base + k * longest + PAD, 0);
                        let mut pos = base;
                        for &i in &s.idx {
                            let (a, b) = (start_of(i as usize), de[i as usize]);
                            out[pos..pos + PAD].copy_from_slice(&dd[a..a + PAD]);
                            pos += b - a;
                            offsets.push(pos as i64);
                        }
                        out.truncate(pos);
                        self.scratch.levels = levels_owned;
                        return Ok(());
                    }
                    for &i in &s.idx {
                        let i = i as usize;
                        let start = if i == 0 { 0 } else { de[i - 1] };
                        out.extend_from_slice(&dd[start..de[i]]);
                        offsets.push(out.len() as i64);
                    }
                    self.scratch.levels = levels_owned;
                    return Ok(());
                }
                let before = offsets.len();
                let (ends, buf): (&mut Vec<usize>, &mut Vec<u8>) = if direct {
                    (&mut s.bytes_ends, out)
                } else {
                    (&mut s.bytes_ends, &mut s.bytes_data)
                };
                let mut push = |v: &[u8]| {
                    buf.extend_from_slice(v);
                    ends.push(buf.len());
                };
                match enc {
                    _ if is_dict => {
                        if let Some(Dict::Bytes {
                            ends: de, data: dd, ..
                        }) = &self.dict
                        {
                            for &i in &s.idx {
                                let i = i as usize;
                                let start = if i == 0 { 0 } else { de[i - 1] };
                                push(&dd[start..de[i]]);
                            }
                        } else {
                            return Err(corrupt("dictionary of the wrong type"));
                        }
                    }
                    encoding::PLAIN => {
                        plain::decode_byte_arrays(data, k, &mut push)?;
                    }
                    encoding::DELTA_LENGTH_BYTE_ARRAY => {
                        delta::decode_length_byte_array(data, k, &mut push)?
                    }
                    encoding::DELTA_BYTE_ARRAY => delta::decode_byte_array(data, k, &mut push)?,
                    other => return Err(invalid_encoding(other, "byte arrays")),
                }
                if s.bytes_ends.len() != k {
                    return Err(corrupt("byte array page holds too few values"));
                }
                if direct {
                    debug_assert_eq!(offsets.len(), before);
                    offsets.extend(s.bytes_ends.iter().map(|&e| e as i64));
                    self.scratch.levels = levels_owned;
                    return Ok(());
                }
                let mut it = 0usize;
                let mut start = 0usize;
                let mut next = |out: &mut Vec<u8>| {
                    let end = s.bytes_ends[it];
                    out.extend_from_slice(&s.bytes_data[start..end]);
                    start = end;
                    it += 1;
                };
                match levels {
                    None => {
                        for _ in 0..k {
                            next(out);
                            offsets.push(out.len() as i64);
                        }
                    }
                    Some(ls) => {
                        for &l in ls {
                            if l == max {
                                next(out);
                            }
                            offsets.push(out.len() as i64);
                        }
                    }
                }
            }
            Dense::Fixed { width, data: out } => {
                let w = *width;
                let mut vals: Vec<u8> = Vec::with_capacity(k * w);
                match enc {
                    _ if is_dict => {
                        if let Some(Dict::Fixed { data: dd, .. }) = &self.dict {
                            for &i in &self.scratch.idx {
                                let i = i as usize;
                                vals.extend_from_slice(&dd[i * w..(i + 1) * w]);
                            }
                        } else {
                            return Err(corrupt("dictionary of the wrong type"));
                        }
                    }
                    encoding::PLAIN => vals.extend_from_slice(
                        data.get(..k * w)
                            .ok_or_else(|| corrupt("fixed-width page truncated"))?,
                    ),
                    encoding::BYTE_STREAM_SPLIT => {
                        vals = plain::decode_byte_stream_split(data, k, w)?;
                    }
                    encoding::DELTA_BYTE_ARRAY => {
                        let mut bad = false;
                        delta::decode_byte_array(data, k, |v| {
                            bad |= v.len() != w;
                            vals.extend_from_slice(v);
                        })?;
                        if bad {
                            return Err(corrupt("DELTA_BYTE_ARRAY value of the wrong width"));
                        }
                    }
                    other => return Err(invalid_encoding(other, "fixed-width values")),
                }
                match levels {
                    None => out.extend_from_slice(&vals),
                    Some(ls) => {
                        let mut src = vals.chunks_exact(w);
                        for &l in ls {
                            if l == max {
                                let v = src.next().ok_or_else(|| corrupt("too few values"))?;
                                out.extend_from_slice(v);
                            } else {
                                out.extend(std::iter::repeat_n(0u8, w));
                            }
                        }
                    }
                }
            }
        }
        if let (Some(div), false, Dense::I64(v)) = (self.f64_div, is_dict, &mut self.dense) {
            // Non-dictionary pages of an INT64 decimal: convert the values just appended.
            for x in &mut v[tail_from..] {
                *x = super::decimal_bits(*x, div);
            }
        }
        self.scratch.levels = levels_owned;
        Ok(())
    }
}

impl<'a> ChunkDecoder<'a> {
    /// Late materialization (`keep`): append only the kept rows of this page. Dictionary pages
    /// gather the kept rows' entries from the unpacked indices; other encodings decode the page
    /// into a temporary buffer and pick from it.
    fn decode_page_kept(&mut self, keep: &'a [u32], enc: i32, data: &[u8], n: usize) -> Result<()> {
        let start = self.page_start;
        let lo = self.keep_pos;
        let hi = lo + keep[lo..].partition_point(|&r| (r as usize) < start + n);
        self.keep_pos = hi;
        let rows = &keep[lo..hi];
        let is_dict = enc == encoding::RLE_DICTIONARY || enc == encoding::PLAIN_DICTIONARY;
        if is_dict {
            let (dict_len, bw) = self.dict_page_prologue(data)?;
            // Sparse rows: only the picked indices are extracted (run headers are still walked
            // and checked); dense rows: unpack all, cheaper per value. Either way only the
            // indices used are range-checked: the others never reach the output.
            let idx = &mut self.scratch.idx;
            idx.clear();
            if rows.len() * 4 < n {
                rle::decode_picked(&data[1..], bw, n, rows, start, idx)?;
            } else if n > 0 {
                let mut all = std::mem::take(&mut self.scratch.wide_idx);
                all.clear();
                rle::decode(&data[1..], bw, n, &mut all)?;
                if all.len() != n {
                    return Err(corrupt("page holds fewer values than its levels"));
                }
                idx.extend(rows.iter().map(|&r| all[r as usize - start]));
                self.scratch.wide_idx = all;
            }
            if idx.len() != rows.len() {
                return Err(corrupt("page holds fewer values than its levels"));
            }
            if idx.iter().any(|&i| i as usize >= dict_len) {
                return Err(corrupt("dictionary index out of range"));
            }
            let idx = &self.scratch.idx;
            match (&mut self.dense, &self.dict) {
                (Dense::I32(o), Some(Dict::I32(d))) => o.extend(idx.iter().map(|&i| d[i as usize])),
                (Dense::I64(o), Some(Dict::I64(d))) => o.extend(idx.iter().map(|&i| d[i as usize])),
                (Dense::F32(o), Some(Dict::F32(d))) => o.extend(idx.iter().map(|&i| d[i as usize])),
                (Dense::F64(o), Some(Dict::F64(d))) => o.extend(idx.iter().map(|&i| d[i as usize])),
                (Dense::Bytes { offsets, data: o }, Some(Dict::Bytes { ends, data: dd, .. })) => {
                    super::keys::gather_bytes(ends, dd, idx, offsets, o)
                }
                _ => return Err(corrupt("dictionary of the wrong type")),
            }
            return Ok(());
        }
        let empty = match &self.dense {
            Dense::I32(_) => Dense::I32(Vec::with_capacity(n)),
            Dense::I64(_) => Dense::I64(Vec::with_capacity(n)),
            Dense::F32(_) => Dense::F32(Vec::with_capacity(n)),
            Dense::F64(_) => Dense::F64(Vec::with_capacity(n)),
            Dense::Bytes { .. } => Dense::Bytes {
                offsets: vec![0],
                data: Vec::new(),
            },
            _ => return Err(corrupt("row keeping on a column it does not handle")),
        };
        let column = std::mem::replace(&mut self.dense, empty);
        self.keep = None;
        let decoded = self.decode_page_values(enc, data, n);
        self.keep = Some(keep);
        let page = std::mem::replace(&mut self.dense, column);
        decoded?;
        fn pick<T: Copy>(page: &[T], rows: &[u32], start: usize, out: &mut Vec<T>) -> Result<()> {
            if rows
                .last()
                .is_some_and(|&r| r as usize - start >= page.len())
            {
                return Err(corrupt("page holds fewer values than its levels"));
            }
            out.extend(rows.iter().map(|&r| page[r as usize - start]));
            Ok(())
        }
        match (&mut self.dense, &page) {
            (Dense::I32(o), Dense::I32(p)) => pick(p, rows, start, o),
            (Dense::I64(o), Dense::I64(p)) => pick(p, rows, start, o),
            (Dense::F32(o), Dense::F32(p)) => pick(p, rows, start, o),
            (Dense::F64(o), Dense::F64(p)) => pick(p, rows, start, o),
            (
                Dense::Bytes { offsets, data: o },
                Dense::Bytes {
                    offsets: po,
                    data: pd,
                },
            ) => {
                if rows
                    .last()
                    .is_some_and(|&r| r as usize - start + 1 >= po.len())
                {
                    return Err(corrupt("page holds fewer values than its levels"));
                }
                for &r in rows {
                    let r = r as usize - start;
                    o.extend_from_slice(&pd[po[r] as usize..po[r + 1] as usize]);
                    offsets.push(o.len() as i64);
                }
                Ok(())
            }
            _ => Err(corrupt("row keeping on a column it does not handle")),
        }
    }
}
