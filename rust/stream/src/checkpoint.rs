//! Versioned, checksummed checkpoint envelope, plus the byte reader/writer used inside it.
//!
//! ```text
//!  offset  size  field
//!  0       8     magic  "MDSTREAM"
//!  8       2     format version (1)
//!  10      2     kind   (1 dedup, 2 group offsets, 3 segment index, 4 log meta, 5 pipeline,
//!                       6 window operator)
//!  12      8     payload length N (u64 LE)
//!  20      N     payload (kind-specific, little-endian fields)
//!  20+N    4     masked CRC32C of bytes [0, 20+N)
//! ```
//!
//! [`open`] checks magic, version, kind, length and CRC before a single payload byte is decoded,
//! so a torn or bit-flipped checkpoint is a `Corrupt` error, never a wrong state.
//! Checkpoints are written with [`minide_common::durable::write_atomic`] (temp file, fsync,
//! rename, fsync of the directory): a crash leaves either the old or the new file, never a mix.

use std::fs;
use std::path::Path;

use minide_common::crc::{crc32c, mask, unmask};
use minide_common::{Error, Result};

pub const MAGIC: &[u8; 8] = b"MDSTREAM";
pub const VERSION: u16 = 1;
const HEADER: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Kind {
    Dedup = 1,
    Offsets = 2,
    SegmentIndex = 3,
    LogMeta = 4,
    Pipeline = 5,
    Window = 6,
}

/// Wrap `payload` in the envelope.
pub fn seal(kind: Kind, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len() + 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(kind as u16).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    let crc = mask(crc32c(&out));
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Validate the envelope and return the payload.
pub fn open(bytes: &[u8], kind: Kind) -> Result<&[u8]> {
    let head = bytes.get(..HEADER).ok_or_else(|| {
        Error::corrupt(format!(
            "checkpoint is {} bytes, shorter than its header",
            bytes.len()
        ))
    })?;
    if &head[..8] != MAGIC {
        return Err(Error::corrupt("not a minide stream checkpoint (bad magic)").at_offset(0));
    }
    let version = u16::from_le_bytes([head[8], head[9]]);
    if version != VERSION {
        return Err(Error::corrupt(format!(
            "checkpoint format version {version}; this minide reads version {VERSION}"
        ))
        .at_offset(8));
    }
    let k = u16::from_le_bytes([head[10], head[11]]);
    if k != kind as u16 {
        return Err(Error::corrupt(format!(
            "checkpoint holds kind {k}, expected {} ({kind:?})",
            kind as u16
        ))
        .at_offset(10));
    }
    let mut len8 = [0u8; 8];
    len8.copy_from_slice(&head[12..20]);
    let len = u64::from_le_bytes(len8);
    let expected = (HEADER as u64)
        .checked_add(len)
        .and_then(|n| n.checked_add(4));
    if expected != Some(bytes.len() as u64) {
        return Err(Error::corrupt(format!(
            "checkpoint length field says {len} payload bytes but the checkpoint has {} bytes (torn write?)",
            bytes.len()
        ))
        .at_offset(12));
    }
    let body = HEADER + len as usize;
    let mut c4 = [0u8; 4];
    c4.copy_from_slice(&bytes[body..body + 4]);
    let stored = unmask(u32::from_le_bytes(c4));
    let actual = crc32c(&bytes[..body]);
    if stored != actual {
        return Err(Error::corrupt(format!(
            "checkpoint checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
        ))
        .at_offset(body as u64));
    }
    Ok(&bytes[HEADER..body])
}

/// Read and verify a pipeline checkpoint; `None` if the file does not exist.
pub fn read_pipeline(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(
            open(&bytes, Kind::Pipeline)
                .map_err(|e| e.at_path(path))?
                .to_vec(),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(e, path)),
    }
}

/// Little-endian field writer.
#[derive(Debug, Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn opt_i64(&mut self, v: Option<i64>) {
        match v {
            Some(x) => {
                self.u8(1);
                self.i64(x);
            }
            None => self.u8(0),
        }
    }
    pub fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.buf.extend_from_slice(b);
    }
    pub fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
}

/// Bounds-checked little-endian field reader: running off the end is a `Corrupt` error.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(Error::corrupt(format!(
                "{} truncated: wanted {n} bytes at payload offset {}, {} left",
                self.what,
                self.pos,
                self.buf.len() - self.pos
            ))),
        }
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.arr()?))
    }
    pub fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.arr()?))
    }
    pub fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.arr()?))
    }
    pub fn opt_i64(&mut self) -> Result<Option<i64>> {
        Ok(match self.u8()? {
            0 => None,
            _ => Some(self.i64()?),
        })
    }
    /// A length that must fit in the remaining bytes at `unit` bytes per element.
    pub fn len(&mut self, unit: usize) -> Result<usize> {
        let n = self.u64()?;
        let left = (self.buf.len() - self.pos) as u64;
        if n.saturating_mul(unit.max(1) as u64) > left {
            return Err(Error::corrupt(format!(
                "{}: count {n} does not fit in the {left} remaining bytes",
                self.what
            )));
        }
        Ok(n as usize)
    }
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.len(1)?;
        self.take(n)
    }
    pub fn str(&mut self) -> Result<String> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec())
            .map_err(|_| Error::corrupt(format!("{}: string is not UTF-8", self.what)))
    }
    pub fn finish(&self) -> Result<()> {
        if self.pos != self.buf.len() {
            return Err(Error::corrupt(format!(
                "{}: {} unexpected trailing bytes",
                self.what,
                self.buf.len() - self.pos
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_roundtrip_and_every_flip_is_caught() {
        let sealed = seal(Kind::Dedup, b"hello state");
        assert_eq!(open(&sealed, Kind::Dedup).unwrap(), b"hello state");
        assert!(open(&sealed, Kind::Offsets).is_err());
        for i in 0..sealed.len() {
            let mut b = sealed.clone();
            b[i] ^= 0x10;
            assert!(open(&b, Kind::Dedup).is_err(), "flip at {i} not caught");
        }
        for n in 0..sealed.len() {
            assert!(
                open(&sealed[..n], Kind::Dedup).is_err(),
                "truncation to {n} not caught"
            );
        }
    }

    #[test]
    fn reader_refuses_overruns() {
        let mut w = Writer::default();
        w.u64(1 << 40);
        let mut r = Reader::new(&w.buf, "test");
        assert!(r.len(8).is_err());
    }
}
