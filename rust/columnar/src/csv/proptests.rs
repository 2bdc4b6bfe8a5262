//! Property tests: the chunker and the tokenizer agree with a byte-at-a-time reference of the
//! quoting rules, whatever the read sizes and block sizes; nothing panics on any input.

use proptest::prelude::*;

use super::chunker::{Block, Chunker};
use super::tokenizer::tokenize_block;
use super::{CsvOptions, OnBadLines, read_csv};

/// A reader that hands out at most `n` bytes per read.
struct Trickle<'a>(&'a [u8], usize);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.1.min(out.len()).min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

/// Records (start, end) and the start of an unterminated last record, one byte at a time.
fn reference_records(t: &[u8]) -> (Vec<(usize, usize)>, Option<usize>) {
    let (mut recs, mut start, mut inq, mut field_start) = (Vec::new(), 0, false, true);
    let mut i = 0;
    let push = |recs: &mut Vec<(usize, usize)>, s: usize, mut e: usize| {
        if e > s && t[e - 1] == b'\r' {
            e -= 1;
        }
        if e > s {
            recs.push((s, e));
        }
    };
    while i < t.len() {
        let c = t[i];
        if inq {
            if c == b'"' {
                if t.get(i + 1) == Some(&b'"') {
                    i += 2;
                    continue;
                }
                inq = false;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' if field_start => {
                inq = true;
                field_start = false;
            }
            b',' => field_start = true,
            b'\n' => {
                push(&mut recs, start, i);
                start = i + 1;
                field_start = true;
            }
            _ => field_start = false,
        }
        i += 1;
    }
    let mut unterminated = None;
    if start < t.len() {
        if inq {
            unterminated = Some(start);
        } else {
            push(&mut recs, start, t.len());
        }
    }
    (recs, unterminated)
}

fn reference_fields(rec: &[u8]) -> Vec<Vec<u8>> {
    let (mut fields, mut i) = (Vec::new(), 0);
    loop {
        let mut val = Vec::new();
        if rec.get(i) == Some(&b'"') {
            i += 1;
            while i < rec.len() {
                if rec[i] == b'"' {
                    if rec.get(i + 1) == Some(&b'"') {
                        val.push(b'"');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                val.push(rec[i]);
                i += 1;
            }
        }
        while i < rec.len() && rec[i] != b',' {
            val.push(rec[i]);
            i += 1;
        }
        fields.push(val);
        if i >= rec.len() {
            return fields;
        }
        i += 1;
        if i == rec.len() {
            fields.push(Vec::new());
            return fields;
        }
    }
}

fn csvish() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop::sample::select(vec![
            b'a', b'b', b',', b'"', b'\n', b'\r', b'1', b'a', b'b', b'c',
        ]),
        0..160,
    )
}

proptest! {
    #[test]
    fn chunker_and_tokenizer_match_reference(
        text in csvish(), read in 1usize..6, max_rows in 1usize..5
    ) {
        let (want, want_unterminated) = reference_records(&text);
        let mut c = Chunker::new(Trickle(&text, read), b',', b'"');
        let mut got = Vec::new();
        let mut unterminated = None;
        let mut offset = 0usize;
        let mut blocks: Vec<Block> = Vec::new();
        while let Some(b) = c.next_block(max_rows).unwrap() {
            prop_assert!(b.rows.len() <= max_rows);
            for r in &b.rows {
                got.push((offset + r.start as usize, offset + r.end as usize));
                // physical line = 1 + newlines before the record
                let line = 1 + text[..offset + r.start as usize].iter().filter(|&&x| x == b'\n').count();
                prop_assert_eq!(b.line_at(r.start as usize), line as u64);
            }
            if let Some(u) = b.unterminated {
                unterminated = Some(offset + u as usize);
            }
            offset += b.raw_len;
            blocks.push(b);
        }
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(unterminated, want_unterminated);
        for mut b in blocks {
            for r in b.rows.clone() {
                let rec = &b.data[r.start as usize..r.end as usize];
                let want_fields = reference_fields(rec);
                let n = want_fields.len();
                let f = tokenize_block(&mut b, &[r], n, b',', b'"', |_| panic!("field count"));
                let got_fields: Vec<Vec<u8>> = f.spans.chunks_exact(2)
                    .map(|p| b.data[p[0] as usize..p[1] as usize].to_vec()).collect();
                prop_assert_eq!(got_fields, want_fields);
            }
        }
    }

    #[test]
    fn any_bytes_read_without_panic(
        data in prop::collection::vec(any::<u8>(), 0..200), skip in any::<bool>(), header in any::<bool>()
    ) {
        let dir = std::env::temp_dir().join(format!("minide-csv-prop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.csv");
        std::fs::write(&path, &data).unwrap();
        let opts = CsvOptions {
            on_bad_lines: if skip { OnBadLines::Skip } else { OnBadLines::Error },
            header,
            batch_size: 3,
            infer_rows: 4,
            ..CsvOptions::default()
        };
        let _ = read_csv(&path, &opts);
    }
}
