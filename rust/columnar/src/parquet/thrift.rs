//! Thrift compact protocol: the encoding of Parquet's footer and page headers.
//!
//! Only what parquet.thrift uses is implemented: structs, lists, i8/i16/i32/i64, binary/string,
//! bool and double. Layout of one struct field:
//!
//! ```text
//!  field header:  [delta:4 | type:4]              if 0 < id - last_id <= 15
//!                 [0:4 | type:4] zigzag-varint(id)  otherwise
//!  bool fields carry their value in the type nibble (1 = true, 2 = false), no payload
//!  i16/i32/i64:   zigzag varint        binary: varint length + bytes
//!  list header:   [size:4 | elem:4] if size < 15, else [0xF | elem] varint(size)
//!  struct end:    0x00
//! ```
//!
//! The reader never trusts a size: binary lengths and list sizes are checked against the bytes
//! left (every element takes at least one byte) and caps, recursion depth is limited, and unknown
//! fields are skipped with the same checks.

use minide_common::varint::{get_uvarint, put_uvarint, zigzag_decode, zigzag_encode};
use minide_common::{Error, Result};

pub const T_STOP: u8 = 0;
pub const T_TRUE: u8 = 1;
pub const T_FALSE: u8 = 2;
pub const T_BYTE: u8 = 3;
pub const T_I16: u8 = 4;
pub const T_I32: u8 = 5;
pub const T_I64: u8 = 6;
pub const T_DOUBLE: u8 = 7;
pub const T_BINARY: u8 = 8;
pub const T_LIST: u8 = 9;
pub const T_SET: u8 = 10;
pub const T_MAP: u8 = 11;
pub const T_STRUCT: u8 = 12;

/// Deepest nesting of structs/lists accepted (parquet.thrift needs < 10).
pub const MAX_DEPTH: usize = 64;
/// Largest single string/binary value accepted (statistics of huge values, key-value metadata).
pub const MAX_BINARY: usize = 256 << 20;
/// Largest list accepted (schema elements, row groups, column chunks, page locations).
pub const MAX_LIST: usize = 64 << 20;

// ------------------------------------------------------------------------------------------------
// writer
// ------------------------------------------------------------------------------------------------

/// Appends compact-protocol bytes to a buffer. Call `begin`/`end` around every struct.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
    last_ids: Vec<i16>,
    last: i16,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Start a struct (the top-level one, a field value or a list element).
    pub fn begin(&mut self) {
        self.last_ids.push(self.last);
        self.last = 0;
    }

    /// End a struct: the stop byte.
    pub fn end(&mut self) {
        self.buf.push(T_STOP);
        self.last = self.last_ids.pop().unwrap_or(0);
    }

    fn field_header(&mut self, id: i16, ty: u8) {
        let delta = i32::from(id) - i32::from(self.last);
        if delta > 0 && delta <= 15 {
            self.buf.push(((delta as u8) << 4) | ty);
        } else {
            self.buf.push(ty);
            put_uvarint(&mut self.buf, zigzag_encode(i64::from(id)));
        }
        self.last = id;
    }

    pub fn i32(&mut self, id: i16, v: i32) {
        self.field_header(id, T_I32);
        put_uvarint(&mut self.buf, zigzag_encode(i64::from(v)));
    }

    pub fn i64(&mut self, id: i16, v: i64) {
        self.field_header(id, T_I64);
        put_uvarint(&mut self.buf, zigzag_encode(v));
    }

    pub fn i8(&mut self, id: i16, v: i8) {
        self.field_header(id, T_BYTE);
        self.buf.push(v as u8);
    }

    pub fn bool(&mut self, id: i16, v: bool) {
        self.field_header(id, if v { T_TRUE } else { T_FALSE });
    }

    pub fn binary(&mut self, id: i16, v: &[u8]) {
        self.field_header(id, T_BINARY);
        self.raw_binary(v);
    }

    /// A struct-valued field whose value is written by `f`, which calls `begin`/`end` itself
    /// (the `write` methods of the metadata structs).
    pub fn struct_field_raw(&mut self, id: i16, f: impl FnOnce(&mut Writer)) {
        self.field_header(id, T_STRUCT);
        f(self);
    }

    /// Header of a struct-valued field; write its fields then call `end`.
    pub fn struct_field(&mut self, id: i16) {
        self.field_header(id, T_STRUCT);
        self.begin();
    }

    /// An empty struct field (union members such as `STRING` or `TypeDefinedOrder`).
    pub fn empty_struct(&mut self, id: i16) {
        self.struct_field(id);
        self.end();
    }

    /// Header of a list-valued field; then write `len` elements with `raw_*` or `begin`/`end`.
    pub fn list_field(&mut self, id: i16, elem: u8, len: usize) {
        self.field_header(id, T_LIST);
        self.list_header(elem, len);
    }

    pub fn list_header(&mut self, elem: u8, len: usize) {
        if len < 15 {
            self.buf.push(((len as u8) << 4) | elem);
        } else {
            self.buf.push(0xF0 | elem);
            put_uvarint(&mut self.buf, len as u64);
        }
    }

    pub fn raw_i32(&mut self, v: i32) {
        put_uvarint(&mut self.buf, zigzag_encode(i64::from(v)));
    }

    pub fn raw_i64(&mut self, v: i64) {
        put_uvarint(&mut self.buf, zigzag_encode(v));
    }

    pub fn raw_bool(&mut self, v: bool) {
        self.buf.push(if v { T_TRUE } else { T_FALSE });
    }

    pub fn raw_binary(&mut self, v: &[u8]) {
        put_uvarint(&mut self.buf, v.len() as u64);
        self.buf.extend_from_slice(v);
    }
}

// ------------------------------------------------------------------------------------------------
// reader
// ------------------------------------------------------------------------------------------------

/// Reads compact-protocol values from a byte slice, bounds-checked.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: usize,
    last_ids: Vec<i16>,
    last: i16,
    /// Value of the bool field whose header was just read (bools live in the header).
    pending_bool: Option<bool>,
}

fn corrupt(what: &str) -> Error {
    Error::corrupt(format!("thrift: {what}"))
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            pos: 0,
            depth: 0,
            last_ids: Vec::new(),
            last: 0,
            pending_bool: None,
        }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn byte(&mut self) -> Result<u8> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| corrupt("unexpected end of data"))?;
        self.pos += 1;
        Ok(b)
    }

    fn uvarint(&mut self) -> Result<u64> {
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        let (v, n) = get_uvarint(rest).map_err(|_| corrupt("bad or truncated varint"))?;
        self.pos += n;
        Ok(v)
    }

    /// Enter a struct (after its field header, or at the top level).
    pub fn begin(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(corrupt("structures nested too deeply"));
        }
        self.last_ids.push(self.last);
        self.last = 0;
        Ok(())
    }

    fn end(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        self.last = self.last_ids.pop().unwrap_or(0);
    }

    /// Next field header of the current struct: `None` at the stop byte (the struct is then left).
    pub fn field(&mut self) -> Result<Option<(i16, u8)>> {
        let b = self.byte()?;
        if b == T_STOP {
            self.end();
            return Ok(None);
        }
        let ty = b & 0x0F;
        let delta = b >> 4;
        let id = if delta == 0 {
            let v = zigzag_decode(self.uvarint()?);
            i16::try_from(v).map_err(|_| corrupt("field id out of range"))?
        } else {
            self.last
                .checked_add(i16::from(delta))
                .ok_or_else(|| corrupt("field id overflows"))?
        };
        self.last = id;
        self.pending_bool = match ty {
            T_TRUE => Some(true),
            T_FALSE => Some(false),
            _ => None,
        };
        Ok(Some((id, ty)))
    }

    fn expect(ty: u8, want: u8, what: &str) -> Result<()> {
        let ok = ty == want || (want == T_TRUE && ty == T_FALSE);
        if ok {
            Ok(())
        } else {
            Err(corrupt(&format!("{what}: unexpected type {ty}")))
        }
    }

    pub fn i64_of(&mut self, ty: u8) -> Result<i64> {
        match ty {
            T_I64 | T_I32 | T_I16 => Ok(zigzag_decode(self.uvarint()?)),
            T_BYTE => Ok(i64::from(self.byte()? as i8)),
            _ => Err(corrupt(&format!("integer field has type {ty}"))),
        }
    }

    pub fn i32_of(&mut self, ty: u8) -> Result<i32> {
        let v = self.i64_of(ty)?;
        i32::try_from(v).map_err(|_| corrupt("i32 value out of range"))
    }

    pub fn bool_of(&mut self, ty: u8) -> Result<bool> {
        Self::expect(ty, T_TRUE, "bool")?;
        self.pending_bool
            .take()
            .ok_or_else(|| corrupt("bool field without value"))
    }

    pub fn binary_of(&mut self, ty: u8) -> Result<&'a [u8]> {
        Self::expect(ty, T_BINARY, "binary")?;
        self.raw_binary()
    }

    pub fn string_of(&mut self, ty: u8) -> Result<String> {
        let b = self.binary_of(ty)?;
        String::from_utf8(b.to_vec()).map_err(|_| corrupt("string is not UTF-8"))
    }

    /// Enter a struct-valued field.
    pub fn struct_of(&mut self, ty: u8) -> Result<()> {
        Self::expect(ty, T_STRUCT, "struct")?;
        self.begin()
    }

    /// Read a list header of a list-valued field: (element type, length).
    pub fn list_of(&mut self, ty: u8) -> Result<(u8, usize)> {
        if ty != T_LIST && ty != T_SET {
            return Err(corrupt(&format!("list field has type {ty}")));
        }
        self.list_header()
    }

    pub fn list_header(&mut self) -> Result<(u8, usize)> {
        let b = self.byte()?;
        let elem = b & 0x0F;
        let mut len = usize::from(b >> 4);
        if len == 15 {
            len = usize::try_from(self.uvarint()?).map_err(|_| corrupt("list too long"))?;
        }
        // Every element takes at least one byte, so a list longer than the data left is corrupt.
        if len > MAX_LIST || len > self.remaining() {
            return Err(corrupt(&format!("list of {len} elements exceeds the data")));
        }
        Ok((elem, len))
    }

    pub fn raw_binary(&mut self) -> Result<&'a [u8]> {
        let len = usize::try_from(self.uvarint()?).map_err(|_| corrupt("binary too long"))?;
        if len > MAX_BINARY || len > self.remaining() {
            return Err(corrupt(&format!("binary of {len} bytes exceeds the data")));
        }
        let s = self
            .buf
            .get(self.pos..self.pos + len)
            .ok_or_else(|| corrupt("binary out of bounds"))?;
        self.pos += len;
        Ok(s)
    }

    pub fn raw_i64(&mut self) -> Result<i64> {
        Ok(zigzag_decode(self.uvarint()?))
    }

    pub fn raw_i32(&mut self) -> Result<i32> {
        i32::try_from(self.raw_i64()?).map_err(|_| corrupt("i32 value out of range"))
    }

    pub fn raw_bool(&mut self) -> Result<bool> {
        Ok(self.byte()? == T_TRUE)
    }

    /// Skip a value of type `ty` (an unknown field or list element).
    pub fn skip(&mut self, ty: u8) -> Result<()> {
        match ty {
            T_TRUE | T_FALSE => {
                // In a field header the value lives in the type nibble; as a list element it is
                // one byte. Fields call `skip` right after `field`, when `pending_bool` is set.
                if self.pending_bool.take().is_none() {
                    self.byte()?;
                }
                Ok(())
            }
            T_BYTE => self.byte().map(|_| ()),
            T_I16 | T_I32 | T_I64 => self.uvarint().map(|_| ()),
            T_DOUBLE => {
                if self.remaining() < 8 {
                    return Err(corrupt("truncated double"));
                }
                self.pos += 8;
                Ok(())
            }
            T_BINARY => self.raw_binary().map(|_| ()),
            T_LIST | T_SET => {
                let (elem, len) = self.list_header()?;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(corrupt("structures nested too deeply"));
                }
                for _ in 0..len {
                    self.pending_bool = None;
                    self.skip(elem)?;
                }
                self.depth -= 1;
                Ok(())
            }
            T_MAP => {
                let len = usize::try_from(self.uvarint()?).map_err(|_| corrupt("map too long"))?;
                if len == 0 {
                    return Ok(());
                }
                if len > MAX_LIST || len > self.remaining() {
                    return Err(corrupt("map exceeds the data"));
                }
                let kv = self.byte()?;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(corrupt("structures nested too deeply"));
                }
                for _ in 0..len {
                    self.pending_bool = None;
                    self.skip(kv >> 4)?;
                    self.pending_bool = None;
                    self.skip(kv & 0x0F)?;
                }
                self.depth -= 1;
                Ok(())
            }
            T_STRUCT => {
                self.begin()?;
                while let Some((_, t)) = self.field()? {
                    self.skip(t)?;
                }
                Ok(())
            }
            other => Err(corrupt(&format!("unknown type {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_fields_and_skip() {
        let mut w = Writer::new();
        w.begin();
        w.i32(1, -5);
        w.binary(2, b"hello");
        w.bool(3, true);
        w.i64(20, 1 << 40); // long delta
        w.list_field(21, T_I32, 20);
        for i in 0..20 {
            w.raw_i32(i);
        }
        w.struct_field(22);
        w.bool(1, false);
        w.end();
        w.i32(23, 7);
        w.end();
        let bytes = w.into_bytes();

        let mut r = Reader::new(&bytes);
        r.begin().unwrap();
        let mut seen = Vec::new();
        while let Some((id, ty)) = r.field().unwrap() {
            match id {
                1 => assert_eq!(r.i32_of(ty).unwrap(), -5),
                2 => assert_eq!(r.binary_of(ty).unwrap(), b"hello"),
                3 => assert!(r.bool_of(ty).unwrap()),
                20 => assert_eq!(r.i64_of(ty).unwrap(), 1 << 40),
                23 => assert_eq!(r.i32_of(ty).unwrap(), 7),
                _ => r.skip(ty).unwrap(),
            }
            seen.push(id);
        }
        assert_eq!(seen, vec![1, 2, 3, 20, 21, 22, 23]);
        assert_eq!(r.position(), bytes.len());
    }

    #[test]
    fn truncations_never_panic() {
        let mut w = Writer::new();
        w.begin();
        w.binary(1, b"abcdef");
        w.list_field(2, T_BINARY, 3);
        for s in [b"a", b"b", b"c"] {
            w.raw_binary(s);
        }
        w.end();
        let bytes = w.into_bytes();
        for cut in 0..bytes.len() {
            let mut r = Reader::new(&bytes[..cut]);
            r.begin().unwrap();
            let res = (|| -> Result<()> {
                while let Some((_, t)) = r.field()? {
                    r.skip(t)?;
                }
                Ok(())
            })();
            assert!(res.is_err(), "cut {cut}");
        }
    }

    #[test]
    fn huge_sizes_rejected_without_allocation() {
        // list header claiming 2^40 elements
        let mut bytes = vec![0x19, 0xF5];
        put_uvarint(&mut bytes, 1 << 40);
        let mut r = Reader::new(&bytes);
        r.begin().unwrap();
        let (_, t) = r.field().unwrap().unwrap();
        assert!(r.skip(t).is_err());
    }
}
