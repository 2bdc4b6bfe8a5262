//! Stage 2: split records into fields (RFC 4180), without allocating per field.
//!
//! Output is a flat `Vec<u32>` of `(start, end)` pairs, row-major, pointing into the block's
//! bytes. A field that is exactly `"..."` without doubled quotes points inside the quotes (no
//! copy). Only fields that need unescaping (`""` inside, or text after the closing quote) are
//! copied, into an "extras" area appended after the raw bytes, so the raw bytes stay untouched
//! (error messages count newlines in them).
//!
//! ```text
//!            delimiter / end            quote
//!  ┌──────► FIELD_START ────────────────────────► QUOTED ◄──────┐
//!  │            │ other byte                       │  │ quote   │ quote ("" = literal ")
//!  │            ▼                                  │  ▼         │
//!  │        UNQUOTED ── quote is literal here      │ QUOTE_IN_QUOTED
//!  │            │ delimiter                        │  │ other byte: text after the
//!  └────────────┘                                  │  ▼ closing quote is kept (lenient)
//!                                          newline │ UNQUOTED
//!                                  stays in field  ┘
//! ```
//! Records were already cut by the chunker (a `\n` outside quotes), so here a newline inside a
//! quoted field is plain data and the record end is known in advance.

use memchr::{memchr, memchr_iter};

use super::chunker::{Block, RowSpan};

/// Fields of the kept rows of one block.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    /// `(start, end)` pairs, `ncols` pairs per row.
    pub spans: Vec<u32>,
    /// Raw start offset of each kept row (for line numbers in errors).
    pub row_starts: Vec<u32>,
}

impl Fields {
    pub fn nrows(&self) -> usize {
        self.row_starts.len()
    }
}

/// A row whose field count differs from the header's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BadRow {
    pub row_start: u32,
    pub found: usize,
}

/// Fields of a group of records tokenized ahead (by inference), with the rows that were bad.
#[derive(Debug, Default)]
pub(crate) struct Pretokenized {
    pub fields: Fields,
    pub bad: Vec<BadRow>,
    /// How many records of the block this group covers (kept and bad).
    pub rows: usize,
}

/// Split every row of `block` into `ncols` fields. Rows with another field count are dropped and
/// reported through `on_bad` (which decides whether to go on: `false` stops with that row).
pub(crate) fn tokenize_block(
    block: &mut Block,
    rows: &[RowSpan],
    ncols: usize,
    delimiter: u8,
    quote: u8,
    mut on_bad: impl FnMut(BadRow) -> bool,
) -> Fields {
    // Unescaped copies go after everything already in the buffer (raw bytes, and copies made
    // for earlier groups whose spans may still be in use).
    let base = block.data.len();
    let data = &block.data[..];
    let mut extras: Vec<u8> = Vec::new();
    let mut f = Fields {
        spans: Vec::with_capacity(rows.len() * ncols * 2),
        row_starts: Vec::with_capacity(rows.len()),
    };
    for row in rows {
        let mark = f.spans.len();
        let extras_mark = extras.len();
        let found = if row.quoted {
            split_quoted(
                data,
                row,
                ncols,
                delimiter,
                quote,
                base,
                &mut extras,
                &mut f.spans,
            )
        } else {
            split_plain(data, row, ncols, delimiter, &mut f.spans)
        };
        if found == ncols {
            f.row_starts.push(row.start);
        } else {
            f.spans.truncate(mark);
            extras.truncate(extras_mark);
            if !on_bad(BadRow {
                row_start: row.start,
                found,
            }) {
                break;
            }
        }
    }
    block.data.extend_from_slice(&extras);
    f
}

/// Fields of a record without quote bytes: cut at each delimiter. Returns the field count (it
/// stops counting exactly once it knows the row is bad).
fn split_plain(data: &[u8], row: &RowSpan, ncols: usize, delim: u8, out: &mut Vec<u32>) -> usize {
    let (start, end) = (row.start as usize, row.end as usize);
    let mut s = start;
    let mut n = 0usize;
    let mut on_delim = |p: usize, out: &mut Vec<u32>| -> bool {
        n += 1;
        if n >= ncols {
            return false;
        }
        out.push(s as u32);
        out.push(p as u32);
        s = p + 1;
        true
    };
    // Eight bytes at a time (SWAR): a bit per byte equal to the delimiter, exact (no carries).
    let pattern = u64::from_ne_bytes([delim; 8]);
    let mut i = start;
    while i + 8 <= end {
        let mut word = [0u8; 8];
        word.copy_from_slice(&data[i..i + 8]);
        let x = u64::from_le_bytes(word) ^ pattern;
        const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
        let mut hits = !(((x & LOW7) + LOW7) | x | LOW7);
        while hits != 0 {
            let p = i + (hits.trailing_zeros() / 8) as usize;
            if !on_delim(p, out) {
                return n + 1 + memchr_iter(delim, &data[p + 1..end]).count();
            }
            hits &= hits - 1;
        }
        i += 8;
    }
    for p in i..end {
        if data[p] == delim && !on_delim(p, out) {
            return n + 1 + memchr_iter(delim, &data[p + 1..end]).count();
        }
    }
    out.push(s as u32);
    out.push(end as u32);
    n + 1
}

/// Fields of a record with quote bytes: the state machine of the module docs.
#[allow(clippy::too_many_arguments)]
fn split_quoted(
    data: &[u8],
    row: &RowSpan,
    ncols: usize,
    delim: u8,
    quote: u8,
    base: usize,
    extras: &mut Vec<u8>,
    out: &mut Vec<u32>,
) -> usize {
    let end = row.end as usize;
    let mut i = row.start as usize;
    let mut n = 0usize;
    loop {
        n += 1;
        let next = if data.get(i) == Some(&quote) && i < end {
            quoted_field(data, i, end, delim, quote, base, extras, out)
        } else {
            let stop = memchr(delim, &data[i..end]).map_or(end, |k| i + k);
            out.push(i as u32);
            out.push(stop as u32);
            stop
        };
        if next >= end {
            return n;
        }
        // data[next] is a delimiter
        i = next + 1;
        if n > ncols + 1 {
            // Bad row for sure; count the rest cheaply (approximate for display only).
            return n + memchr_iter(delim, &data[i..end]).count() + 1;
        }
        if i == end {
            // trailing delimiter: one more, empty field
            out.push(end as u32);
            out.push(end as u32);
            return n + 1;
        }
    }
}

/// One quoted field starting at `data[i] == quote`; pushes its span, returns the position of the
/// delimiter after it (or `end`).
#[allow(clippy::too_many_arguments)]
fn quoted_field(
    data: &[u8],
    i: usize,
    end: usize,
    delim: u8,
    quote: u8,
    base: usize,
    extras: &mut Vec<u8>,
    out: &mut Vec<u32>,
) -> usize {
    let extras_start = extras.len();
    let mut copying = false;
    let mut seg = i + 1;
    let mut j = i + 1;
    let push_extras = |extras: &Vec<u8>, out: &mut Vec<u32>| {
        out.push((base + extras_start) as u32);
        out.push((base + extras.len()) as u32);
    };
    // The field's content ends at `stop`: a slice of the raw bytes, or the copy in `extras`.
    let finish = |extras: &mut Vec<u8>, out: &mut Vec<u32>, seg: usize, stop: usize, copy| {
        if copy {
            extras.extend_from_slice(&data[seg..stop]);
            push_extras(extras, out);
        } else {
            out.push(seg as u32);
            out.push(stop as u32);
        }
    };
    loop {
        let Some(k) = memchr(quote, &data[j..end]) else {
            // Unterminated inside the record (only at end of file): keep what is there.
            finish(extras, out, seg, end, copying);
            return end;
        };
        let q = j + k;
        if q + 1 < end && data[q + 1] == quote {
            copying = true;
            extras.extend_from_slice(&data[seg..=q]);
            j = q + 2;
            seg = j;
            continue;
        }
        let after = q + 1;
        if after == end || data[after] == delim {
            finish(extras, out, seg, q, copying);
            return after;
        }
        // Text after the closing quote: kept verbatim up to the next delimiter (quotes literal).
        extras.extend_from_slice(&data[seg..q]);
        let stop = memchr(delim, &data[after..end]).map_or(end, |k| after + k);
        extras.extend_from_slice(&data[after..stop]);
        push_extras(extras, out);
        return stop;
    }
}

/// The fields of the first record, as owned byte strings (header names; field counting).
pub(crate) fn first_row_fields(block: &mut Block, delimiter: u8, quote: u8) -> Vec<Vec<u8>> {
    let Some(row) = block.rows.first().copied() else {
        return Vec::new();
    };
    // A huge ncols: split every field, never stop early.
    let mut spans = Vec::new();
    let mut extras = Vec::new();
    let raw_len = block.raw_len;
    block.data.truncate(raw_len);
    if row.quoted {
        split_quoted(
            &block.data,
            &row,
            usize::MAX / 4,
            delimiter,
            quote,
            raw_len,
            &mut extras,
            &mut spans,
        );
    } else {
        split_plain(&block.data, &row, usize::MAX / 4, delimiter, &mut spans);
    }
    block.data.extend_from_slice(&extras);
    spans
        .chunks_exact(2)
        .map(|p| block.data[p[0] as usize..p[1] as usize].to_vec())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::chunker::Chunker;
    use super::*;

    fn split(text: &str, ncols: usize) -> (Vec<Vec<String>>, Vec<usize>) {
        let mut c = Chunker::new(text.as_bytes(), b',', b'"');
        let mut out = Vec::new();
        let mut bad = Vec::new();
        while let Some(mut b) = c.next_block(3).unwrap() {
            let rows = b.rows.clone();
            let f = tokenize_block(&mut b, &rows, ncols, b',', b'"', |r| {
                bad.push(r.found);
                true
            });
            for r in f.spans.chunks_exact(2 * ncols) {
                out.push(
                    r.chunks_exact(2)
                        .map(|p| {
                            String::from_utf8(b.data[p[0] as usize..p[1] as usize].to_vec())
                                .unwrap()
                        })
                        .collect(),
                );
            }
        }
        (out, bad)
    }

    #[test]
    fn rfc4180_fields() {
        let (rows, bad) = split(
            "a,b,c\n\"x,y\",\"he said \"\"hi\"\"\",\"multi\nline\"\n,,\n\"\",\"\"\"\",z\r\n",
            3,
        );
        assert!(bad.is_empty());
        assert_eq!(rows[0], ["a", "b", "c"]);
        assert_eq!(rows[1], ["x,y", "he said \"hi\"", "multi\nline"]);
        assert_eq!(rows[2], ["", "", ""]);
        assert_eq!(rows[3], ["", "\"", "z"]);
    }

    #[test]
    fn lenient_quotes_and_bad_rows() {
        let (rows, bad) = split("\"ab\"c,5'10\"\na,b,c\nd\n\"q\",\n", 2);
        assert_eq!(rows[0], ["abc", "5'10\""]);
        assert_eq!(rows[1], ["q", ""]);
        assert_eq!(bad, vec![3, 1]);
    }

    #[test]
    fn header_fields() {
        let mut c = Chunker::new(&b"\"a,1\",b,\"c\"\"\"\n1,2,3\n"[..], b',', b'"');
        let mut b = c.next_block(1).unwrap().unwrap();
        let names = first_row_fields(&mut b, b',', b'"');
        assert_eq!(names, vec![b"a,1".to_vec(), b"b".to_vec(), b"c\"".to_vec()]);
    }
}
