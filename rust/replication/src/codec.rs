//! The small binary codec every replication value uses for `to_bytes` / `from_bytes`.
//!
//! Layout of an encoded value: one tag byte naming the type (so a counter's bytes are never read
//! as a clock), then fields as LEB128 varints and length-prefixed byte strings. Maps are written
//! in key order, so equal values always have equal bytes (Merkle digests rely on this).
//! Decoding never panics: truncation, bad tags and impossible lengths are `Error::Corrupt`.

use minide_common::varint::{get_uvarint, put_uvarint};
use minide_common::{Error, Result};

pub(crate) const TAG_CLOCK: u8 = 0xC1;
pub(crate) const TAG_OBJECT: u8 = 0xC2;
pub(crate) const TAG_GCOUNTER: u8 = 0xC3;
pub(crate) const TAG_PNCOUNTER: u8 = 0xC4;
pub(crate) const TAG_ORSET: u8 = 0xC5;
pub(crate) const TAG_LWW: u8 = 0xC6;

pub(crate) fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    put_uvarint(buf, b.len() as u64);
    buf.extend_from_slice(b);
}

/// A cursor over bytes from outside; every read is bounds-checked.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// Start reading a value of type `what`, checking its tag byte.
    pub(crate) fn new(buf: &'a [u8], tag: u8, what: &'static str) -> Result<Self> {
        match buf.first() {
            Some(&t) if t == tag => Ok(Reader { buf, pos: 1, what }),
            Some(&t) => Err(Error::corrupt(format!(
                "not an encoded {what}: tag byte 0x{t:02x}, expected 0x{tag:02x}"
            ))
            .at_offset(0)),
            None => Err(Error::corrupt(format!("empty bytes for a {what}"))),
        }
    }

    fn err(&self, msg: &str) -> Error {
        Error::corrupt(format!("{} {msg}", self.what)).at_offset(self.pos as u64)
    }

    pub(crate) fn uvarint(&mut self) -> Result<u64> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let (v, n) = get_uvarint(rest).map_err(|e| self.err(&format!("field: {e}")))?;
        self.pos += n;
        Ok(v)
    }

    /// A count of items that each take at least one byte, so it cannot exceed what is left.
    pub(crate) fn count(&mut self) -> Result<usize> {
        let n = self.uvarint()?;
        let left = (self.buf.len() - self.pos) as u64;
        if n > left {
            return Err(self.err(&format!("claims {n} items but only {left} bytes remain")));
        }
        Ok(n as usize)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| self.err("is truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.uvarint()?;
        let start = self.pos;
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| start.checked_add(n))
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.err(&format!("byte string of {n} bytes runs past the end")))?;
        self.pos = end;
        Ok(&self.buf[start..end])
    }

    /// A UTF-8 string, borrowed from the input.
    pub(crate) fn str(&mut self) -> Result<&'a str> {
        let b = self.bytes()?;
        std::str::from_utf8(b).map_err(|_| self.err("has an actor name that is not UTF-8"))
    }

    pub(crate) fn string(&mut self) -> Result<String> {
        self.str().map(str::to_string)
    }

    /// All bytes must have been consumed: trailing garbage means a framing bug upstream.
    pub(crate) fn finish(self) -> Result<()> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(self.err(&format!("has {} trailing bytes", self.buf.len() - self.pos)))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{GCounter, LwwRegister, Object, OrSet, PNCounter, VectorClock};
    use proptest::prelude::*;

    proptest! {
        /// Bytes from outside never panic a decoder; what decodes re-encodes to the same bytes.
        #[test]
        fn decoders_never_panic(tag in 0xC1u8..0xC7, rest in proptest::collection::vec(any::<u8>(), 0..48)) {
            let mut b = vec![tag];
            b.extend(rest);
            if let Ok(v) = VectorClock::from_bytes(&b) { prop_assert_eq!(v.to_bytes(), b.clone()); }
            if let Ok(v) = Object::from_bytes(&b) { prop_assert_eq!(v.to_bytes(), b.clone()); }
            let _ = GCounter::from_bytes(&b);
            let _ = PNCounter::from_bytes(&b);
            let _ = OrSet::from_bytes(&b);
            let _ = LwwRegister::from_bytes(&b);
        }
    }
}
