//! Write-ahead log: one record per committed write batch.
//!
//! ```text
//! record  = length u32 LE | masked crc32c(length bytes) u32 LE | masked crc32c(payload) u32 LE
//!           | payload (length bytes)
//! payload = commit_ts u64 LE | op count uvarint
//!           | op count x ( seq uvarint | key len uvarint | key | value len uvarint | value )
//! ```
//! `value` is the stored value encoding of [`crate::mvcc`] (flags, valid time, bytes). The length
//! has its own checksum, so a bit flip in a length field is detected instead of being read as
//! "the log ends here".
//!
//! Recovery ([`read_log`]) accepts a *torn tail* (an incomplete header, a payload cut short by the
//! end of the file, a bad last record, or zeros to the end) and stops before it. Anything else that
//! fails a checksum while complete records follow is corruption: recovery refuses to skip a hole
//! unless the caller asked to stop there ([`Recovery::StopAtCorruption`]).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minide_common::crc::{crc32c, mask};
use minide_common::varint::{get_uvarint, put_uvarint};
use minide_common::{Error, Result};

pub const HEADER_LEN: usize = 12;

/// What to do when the log has a bad record in its middle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Refuse to open (CorruptFileError): the default; never silently lose a hole.
    Strict,
    /// Keep every record before the corruption and drop the rest.
    StopAtCorruption,
}

/// One replayed batch: commit ts and its ops as (seq, user key, stored value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedBatch {
    pub ts: u64,
    pub ops: Vec<(u16, Vec<u8>, Vec<u8>)>,
}

/// How a log ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    Clean,
    /// Incomplete last record starting at this offset (a crash during the append).
    Torn(u64),
    /// A bad record with data after it, at this offset (only under StopAtCorruption).
    Corrupt(u64),
}

#[derive(Debug)]
pub struct LogContents {
    pub batches: Vec<LoggedBatch>,
    /// Bytes of complete, valid records.
    pub valid_len: u64,
    pub tail: Tail,
}

pub fn encode_payload(ts: u64, ops: &[(u16, &[u8], &[u8])]) -> Vec<u8> {
    let mut p =
        Vec::with_capacity(16 + ops.iter().map(|o| o.1.len() + o.2.len() + 6).sum::<usize>());
    p.extend_from_slice(&ts.to_le_bytes());
    put_uvarint(&mut p, ops.len() as u64);
    for (seq, k, v) in ops {
        put_uvarint(&mut p, u64::from(*seq));
        put_uvarint(&mut p, k.len() as u64);
        p.extend_from_slice(k);
        put_uvarint(&mut p, v.len() as u64);
        p.extend_from_slice(v);
    }
    p
}

/// Start a record in place at the end of `out` (header reserved, then the payload's ts and op
/// count); append each op with [`push_op`], then call [`finish_record`] with the returned
/// start. Produces the same bytes as `frame(out, &encode_payload(ts, ops))`, without the
/// payload's own buffer.
pub fn begin_record(out: &mut Vec<u8>, ts: u64, count: usize) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0u8; HEADER_LEN]);
    out.extend_from_slice(&ts.to_le_bytes());
    put_uvarint(out, count as u64);
    start
}

/// Append one op of a record begun with [`begin_record`] (layout as in `encode_payload`).
pub fn push_op(out: &mut Vec<u8>, seq: u16, key: &[u8], value: &[u8]) {
    put_uvarint(out, u64::from(seq));
    put_uvarint(out, key.len() as u64);
    out.extend_from_slice(key);
    put_uvarint(out, value.len() as u64);
    out.extend_from_slice(value);
}

/// Fill in the header of the record begun at `start`: length and both CRCs.
pub fn finish_record(out: &mut [u8], start: usize) {
    let (head, payload) = out[start..].split_at_mut(HEADER_LEN);
    let len = (payload.len() as u32).to_le_bytes();
    head[..4].copy_from_slice(&len);
    head[4..8].copy_from_slice(&mask(crc32c(&len)).to_le_bytes());
    head[8..12].copy_from_slice(&mask(crc32c(payload)).to_le_bytes());
}

/// Append one framed record for `payload` to `out`.
pub fn frame(out: &mut Vec<u8>, payload: &[u8]) {
    let len = (payload.len() as u32).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&mask(crc32c(&len)).to_le_bytes());
    out.extend_from_slice(&mask(crc32c(payload)).to_le_bytes());
    out.extend_from_slice(payload);
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
    if buf.len() < n {
        return Err(Error::corrupt(
            "WAL record payload is shorter than its fields",
        ));
    }
    let (a, b) = buf.split_at(n);
    *buf = b;
    Ok(a)
}

fn varint(buf: &mut &[u8]) -> Result<u64> {
    let (v, n) = get_uvarint(buf)?;
    *buf = &buf[n..];
    Ok(v)
}

pub fn decode_payload(mut p: &[u8]) -> Result<LoggedBatch> {
    let ts_bytes = take(&mut p, 8)?;
    let mut ts = [0u8; 8];
    ts.copy_from_slice(ts_bytes);
    let ts = u64::from_le_bytes(ts);
    let count = varint(&mut p)?;
    let mut ops = Vec::with_capacity(count.min(1 << 16) as usize);
    for _ in 0..count {
        let seq = u16::try_from(varint(&mut p)?)
            .map_err(|_| Error::corrupt("WAL op sequence number out of range"))?;
        let klen = varint(&mut p)? as usize;
        let key = take(&mut p, klen)?.to_vec();
        let vlen = varint(&mut p)? as usize;
        let value = take(&mut p, vlen)?.to_vec();
        crate::mvcc::decode_value(&value)?;
        ops.push((seq, key, value));
    }
    if !p.is_empty() {
        return Err(Error::corrupt("trailing bytes in a WAL record"));
    }
    Ok(LoggedBatch { ts, ops })
}

fn u32_at(data: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&data[at..at + 4]);
    u32::from_le_bytes(b)
}

/// Parse a whole log file's bytes.
pub fn parse_log(data: &[u8], recovery: Recovery, path: &Path) -> Result<LogContents> {
    let mut pos = 0usize;
    let mut batches = Vec::new();
    let corrupt = |at: usize, what: &str| -> Result<LogContents> {
        Err(Error::corrupt(format!(
            "WAL {what}; complete records follow it, so this is not a torn write. \
             Open with recovery=\"stop_at_corruption\" to keep only the records before it"
        ))
        .at_path(path)
        .at_offset(at as u64))
    };
    let tail = loop {
        let rest = &data[pos..];
        if rest.is_empty() {
            break Tail::Clean;
        }
        if rest.len() < HEADER_LEN || rest.iter().all(|&b| b == 0) {
            break Tail::Torn(pos as u64);
        }
        let len = u32_at(data, pos);
        if mask(crc32c(&data[pos..pos + 4])) != u32_at(data, pos + 4) {
            if recovery == Recovery::StopAtCorruption {
                break Tail::Corrupt(pos as u64);
            }
            return corrupt(pos, "record header checksum mismatch");
        }
        let end = pos + HEADER_LEN + len as usize;
        if end > data.len() {
            break Tail::Torn(pos as u64);
        }
        let payload = &data[pos + HEADER_LEN..end];
        let ok = mask(crc32c(payload)) == u32_at(data, pos + 8);
        let decoded = if ok {
            decode_payload(payload).ok()
        } else {
            None
        };
        match decoded {
            Some(b) => batches.push(b),
            None if end == data.len() => break Tail::Torn(pos as u64),
            None if recovery == Recovery::StopAtCorruption => break Tail::Corrupt(pos as u64),
            None => return corrupt(pos, "record payload checksum mismatch"),
        }
        pos = end;
    };
    let valid_len = match tail {
        Tail::Clean => data.len() as u64,
        Tail::Torn(at) | Tail::Corrupt(at) => at,
    };
    Ok(LogContents {
        batches,
        valid_len,
        tail,
    })
}

pub fn read_log(path: &Path, recovery: Recovery) -> Result<LogContents> {
    let data = std::fs::read(path).map_err(|e| Error::io(e, path))?;
    parse_log(&data, recovery, path)
}

/// The log file being appended to.
#[derive(Debug)]
pub struct LogWriter {
    pub number: u64,
    pub path: PathBuf,
    file: Arc<File>,
    pub len: u64,
}

impl LogWriter {
    pub fn create(path: PathBuf, number: u64) -> Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(e, &path))?;
        Ok(LogWriter {
            number,
            path,
            file: Arc::new(file),
            len: 0,
        })
    }

    /// Continue an existing, fully valid log (recovery found nothing to replay in it).
    pub fn open_append(path: PathBuf, number: u64) -> Result<Self> {
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(e, &path))?;
        let len = file.metadata().map_err(|e| Error::io(e, &path))?.len();
        Ok(LogWriter {
            number,
            path,
            file: Arc::new(file),
            len,
        })
    }

    /// Write framed records with one `write` call (the group of a group commit).
    pub fn append(&mut self, framed: &[u8]) -> Result<()> {
        (&*self.file)
            .write_all(framed)
            .map_err(|e| Error::io(e, &self.path))?;
        self.len += framed.len() as u64;
        Ok(())
    }

    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().map_err(|e| Error::io(e, &self.path))
    }

    /// A handle the background syncer can fsync without holding the writer.
    pub fn handle(&self) -> Arc<File> {
        Arc::clone(&self.file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(n: usize) -> (Vec<u8>, Vec<usize>) {
        let mut out = Vec::new();
        let mut ends = Vec::new();
        for i in 0..n {
            let k = format!("key{i}");
            let mut v = Vec::new();
            crate::mvcc::encode_value(&mut v, &crate::mvcc::Meta::default(), b"value");
            let p = encode_payload(i as u64 + 1, &[(0, k.as_bytes(), &v)]);
            frame(&mut out, &p);
            ends.push(out.len());
        }
        (out, ends)
    }

    #[test]
    fn in_place_records_match_framed_payloads() {
        let ops: Vec<(u16, Vec<u8>, Vec<u8>)> = (0..300u16)
            .map(|i| {
                // Values as the commit logs them: stored-value encoded (recovery checks that).
                let mut v = Vec::new();
                let raw = vec![i as u8; usize::from(i)];
                crate::mvcc::encode_value(&mut v, &crate::mvcc::Meta::default(), &raw);
                (i % 3, format!("k{i}").into_bytes(), v)
            })
            .collect();
        let refs: Vec<(u16, &[u8], &[u8])> =
            ops.iter().map(|(s, k, v)| (*s, &k[..], &v[..])).collect();
        let mut want = b"prefix".to_vec();
        frame(&mut want, &encode_payload(42, &refs));
        let mut got = b"prefix".to_vec();
        let start = begin_record(&mut got, 42, ops.len());
        for (s, k, v) in &refs {
            push_op(&mut got, *s, k, v);
        }
        finish_record(&mut got, start);
        assert_eq!(got, want);
        let parsed = parse_log(&got[6..], Recovery::Strict, Path::new("x")).expect("parse");
        assert_eq!(parsed.batches.len(), 1);
    }

    #[test]
    fn truncation_recovers_complete_records() {
        let (log, ends) = log_of(5);
        for cut in 0..=log.len() {
            let got = parse_log(&log[..cut], Recovery::Strict, Path::new("x")).expect("parse");
            let complete = ends.iter().filter(|&&e| e <= cut).count();
            assert_eq!(got.batches.len(), complete, "cut at {cut}");
        }
    }

    #[test]
    fn mid_log_corruption_is_an_error() {
        let (log, ends) = log_of(5);
        for at in 0..ends[3] {
            let mut bad = log.clone();
            bad[at] ^= 0x10;
            let r = parse_log(&bad, Recovery::Strict, Path::new("x"));
            assert!(r.is_err(), "flip at {at} not detected");
            let stop = parse_log(&bad, Recovery::StopAtCorruption, Path::new("x")).expect("stop");
            let first_bad = ends.iter().filter(|&&e| e <= at).count();
            assert_eq!(stop.batches.len(), first_bad);
        }
    }
}
