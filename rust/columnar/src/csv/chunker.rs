//! Stage 1: cut the byte stream into blocks of whole records, aware of quotes.
//!
//! The chunker reads the file in pieces (never the whole file) and finds where each record ends:
//! a `\n` outside quotes. It only looks at quote and newline bytes (`memchr2`), so it runs at
//! memory speed, and it hands out [`Block`]s of exactly `max_rows` records that later stages decode
//! independently (and in parallel). Because it sees every newline, it also knows the physical
//! line number each block starts on, so errors can name lines without any per-row bookkeeping.
//!
//! Quote rule (shared with the tokenizer, see `tokenizer.rs`): a quote opens a quoted field only
//! at the start of a field (first byte of the record or right after a delimiter); inside quotes a
//! doubled quote is a literal quote and a single quote closes. Anywhere else a quote is literal.

use std::io::Read;

use memchr::memchr2;
use minide_common::{Error, Result};

/// One record inside a block: `data[start..end]`, without its `\n` / `\r\n` terminator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RowSpan {
    pub start: u32,
    pub end: u32,
    /// The record contains a quote byte, so it needs the full state machine.
    pub quoted: bool,
}

/// Whole records, plus where they are in the file.
#[derive(Debug, Default)]
pub(crate) struct Block {
    /// Raw bytes; the tokenizer may append unescaped field copies after `raw_len`.
    pub data: Vec<u8>,
    pub raw_len: usize,
    pub rows: Vec<RowSpan>,
    /// 1-based physical line number of `data[0]`.
    pub first_line: u64,
    /// A last record whose quote never closes before the end of the file (offset of its start).
    pub unterminated: Option<u32>,
    /// Groups of the first records already tokenized by type inference, reused by the decoder.
    pub pretokenized: Vec<super::tokenizer::Pretokenized>,
}

impl Block {
    /// Physical line number of the byte at `offset` in the raw data.
    pub fn line_at(&self, offset: usize) -> u64 {
        let upto = offset.min(self.raw_len);
        self.first_line + memchr::memchr_iter(b'\n', &self.data[..upto]).count() as u64
    }
}

/// Bytes asked of the source per read.
const READ_BYTES: usize = 1 << 20;

/// Records larger than this are refused (offsets inside a block are `u32`).
/// Also the most a broken file (a quote that never closes) can make the reader hold.
const MAX_BLOCK_BYTES: usize = 1 << 30;

pub(crate) struct Chunker<R> {
    src: R,
    buf: Vec<u8>,
    /// Next byte to examine.
    scan: usize,
    /// Start of the record being scanned.
    row_start: usize,
    in_quotes: bool,
    row_quoted: bool,
    rows: Vec<RowSpan>,
    /// Newlines in `buf[..scan]`.
    newlines: u64,
    /// Line number of `buf[0]`.
    line: u64,
    eof: bool,
    started: bool,
    delimiter: u8,
    quote: u8,
    /// Bytes asked of the source per read (`READ_BYTES`; tests use tiny ones).
    read_bytes: usize,
    /// Capacity to reserve for the next block's buffer.
    expected: usize,
    /// Buffers of decoded blocks, reused to avoid page faults on fresh memory.
    spare: Vec<Vec<u8>>,
    /// Bytes read from the source so far (for progress reporting).
    bytes_read: u64,
}

impl<R: Read> Chunker<R> {
    pub fn new(src: R, delimiter: u8, quote: u8) -> Self {
        Chunker {
            src,
            buf: Vec::new(),
            scan: 0,
            row_start: 0,
            in_quotes: false,
            row_quoted: false,
            rows: Vec::new(),
            newlines: 0,
            line: 1,
            eof: false,
            started: false,
            delimiter,
            quote,
            read_bytes: READ_BYTES,
            expected: READ_BYTES,
            spare: Vec::new(),
            bytes_read: 0,
        }
    }

    /// The source is about `bytes` long: a file smaller than one block then needs no regrowth.
    pub fn size_hint(&mut self, bytes: u64) {
        let cap = (bytes as usize)
            .saturating_add(1)
            .clamp(READ_BYTES, 64 << 20);
        if self.buf.is_empty() {
            self.buf.reserve(cap);
        }
    }

    /// Give back the buffer of a decoded block for reuse.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        if self.spare.len() < 4 && buf.capacity() >= READ_BYTES {
            self.spare.push(buf);
        }
    }

    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// The next block of at most `max_rows` records (fewer only at the end of the file).
    pub fn next_block(&mut self, max_rows: usize) -> Result<Option<Block>> {
        let max_rows = max_rows.max(1);
        loop {
            self.scan_rows(max_rows);
            if self.rows.len() >= max_rows {
                let cut = self.scan;
                return Ok(Some(self.cut(cut, None)));
            }
            if self.eof {
                let len = self.buf.len();
                let mut unterminated = None;
                if self.row_start < len {
                    if self.in_quotes {
                        unterminated = Some(self.row_start as u32);
                    } else {
                        self.push_row(self.row_start, len);
                    }
                }
                if self.rows.is_empty() && unterminated.is_none() {
                    self.buf.clear();
                    return Ok(None);
                }
                self.in_quotes = false;
                return Ok(Some(self.cut(len, unterminated)));
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> Result<()> {
        let old = self.buf.len();
        if old >= MAX_BLOCK_BYTES {
            return Err(Error::corrupt(format!(
                "line {}: a single CSV record or batch exceeds {} bytes (unbalanced quote?); \
                 lower batch_size or check the quoting",
                self.line + self.newlines,
                MAX_BLOCK_BYTES
            )));
        }
        // Small reads keep the tail copied at each cut small; capacity for a whole block is
        // reserved at the cut, so the buffer rarely reallocates.
        let want = self.read_bytes.min(MAX_BLOCK_BYTES - old + 1);
        self.buf.reserve(want);
        self.buf.resize(old + want, 0);
        let mut filled = old;
        // Fill the whole extension unless the source ends: fewer, larger scans.
        while filled < self.buf.len() {
            match self.src.read(&mut self.buf[filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.buf.truncate(filled);
        self.bytes_read += (filled - old) as u64;
        if !self.started && (self.buf.len() >= 3 || self.eof) {
            self.started = true;
            if self.buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.buf.drain(..3);
            }
        }
        Ok(())
    }

    fn push_row(&mut self, start: usize, end: usize) {
        let mut end = end;
        if end > start && self.buf.get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        // Blank lines carry no record (as in pyarrow and Python's csv module).
        if end > start {
            self.rows.push(RowSpan {
                start: start as u32,
                end: end as u32,
                quoted: self.row_quoted,
            });
        }
    }

    /// Scan `buf[scan..]` for record ends until `max_rows` records are complete or more bytes are
    /// needed. Leaves `scan` at the first byte not yet understood.
    fn scan_rows(&mut self, max_rows: usize) {
        // Until the BOM check has run, the first bytes may still move.
        if !self.started {
            return;
        }
        let len = self.buf.len();
        let q = self.quote;
        let mut i = self.scan;
        while i < len && self.rows.len() < max_rows {
            let Some(k) = memchr2(q, b'\n', &self.buf[i..]) else {
                i = len;
                break;
            };
            let p = i + k;
            if self.buf[p] == b'\n' {
                self.newlines += 1;
                i = p + 1;
                if !self.in_quotes {
                    self.push_row(self.row_start, p);
                    self.row_start = i;
                    self.row_quoted = false;
                }
            } else if self.in_quotes {
                if p + 1 < len {
                    if self.buf[p + 1] == q {
                        i = p + 2; // escaped quote
                    } else {
                        self.in_quotes = false;
                        i = p + 1;
                    }
                } else if self.eof {
                    self.in_quotes = false;
                    i = p + 1;
                } else {
                    i = p; // cannot tell `""` from `"` yet: read more first
                    break;
                }
            } else {
                self.row_quoted = true;
                if p == self.row_start || self.buf[p - 1] == self.delimiter {
                    self.in_quotes = true;
                }
                i = p + 1;
            }
        }
        self.scan = i;
    }

    /// Hand out `buf[..cut]` as a block; keep the rest for the next one.
    fn cut(&mut self, cut: usize, unterminated: Option<u32>) -> Block {
        // The next block is probably about as large as this one: reserve that (plus a read).
        self.expected = cut + cut / 8 + READ_BYTES;
        let mut rest = match self.spare.pop() {
            Some(mut v) => {
                v.clear();
                v
            }
            None => Vec::new(),
        };
        rest.reserve(self.expected.max(self.buf.len() - cut));
        rest.extend_from_slice(&self.buf[cut..]);
        let mut data = std::mem::replace(&mut self.buf, rest);
        data.truncate(cut);
        let block = Block {
            raw_len: data.len(),
            data,
            rows: std::mem::take(&mut self.rows),
            first_line: self.line,
            unterminated,
            pretokenized: Vec::new(),
        };
        self.line += self.newlines;
        self.newlines = 0;
        self.scan -= cut.min(self.scan);
        self.row_start -= cut.min(self.row_start);
        block
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `n` bytes per read.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(out.len()).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn blocks(text: &[u8], max_rows: usize, read_size: usize) -> Vec<Block> {
        let mut c = Chunker::new(Trickle(text, read_size), b',', b'"');
        c.read_bytes = read_size;
        let mut out = Vec::new();
        while let Some(b) = c.next_block(max_rows).unwrap() {
            out.push(b);
        }
        out
    }

    fn rows(text: &[u8], max_rows: usize, read_size: usize) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for b in blocks(text, max_rows, read_size) {
            for r in &b.rows {
                let s = String::from_utf8_lossy(&b.data[r.start as usize..r.end as usize]);
                out.push((s.into_owned(), b.line_at(r.start as usize)));
            }
        }
        out
    }

    #[test]
    fn splits_records_outside_quotes() {
        let text = b"a,b\r\n1,\"x\ny\"\n\n2,\"q\"\"\"\n3,z";
        for read_size in [1, 2, 3, 7, 1 << 20] {
            for max_rows in [1, 2, 10] {
                let got = rows(text, max_rows, read_size);
                let want = vec![
                    ("a,b".to_string(), 1),
                    ("1,\"x\ny\"".to_string(), 2),
                    ("2,\"q\"\"\"".to_string(), 5),
                    ("3,z".to_string(), 6),
                ];
                assert_eq!(got, want, "read_size={read_size} max_rows={max_rows}");
            }
        }
    }

    #[test]
    fn strips_bom_and_reports_unterminated_quote() {
        let text = b"\xEF\xBB\xBFa\n\"open\nnever closed";
        let bs = blocks(text, 10, 2);
        assert_eq!(bs.len(), 1);
        assert_eq!(&bs[0].data[..1], b"a");
        assert_eq!(bs[0].unterminated, Some(2));
        assert_eq!(bs[0].line_at(2), 2);
    }

    #[test]
    fn mid_field_quote_is_literal() {
        let got = rows(b"5'10\",x\ny\n", 10, 3);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "5'10\",x");
    }

    #[test]
    fn empty_input_gives_no_block() {
        assert!(blocks(b"", 10, 4).is_empty());
        assert!(blocks(b"\n\r\n", 10, 4).is_empty());
        assert!(blocks(b"\xEF\xBB\xBF", 10, 4).is_empty());
    }
}
