//! msgpack objects → one Arrow batch by a declared schema, in one pass without per-row
//! allocation (strings are validated and copied straight into the column buffers); the rules
//! are in [`super::columns`].

use arrow_array::BinaryArray;
use arrow_schema::SchemaRef;
use minide_common::Result;

use super::columns::{self, Decoded, ObjectParser, Value};

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

const TRUNCATED: &str = "not valid msgpack: truncated";

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], &'static str> {
        let end = self.pos.checked_add(n).ok_or(TRUNCATED)?;
        let s = self.buf.get(self.pos..end).ok_or(TRUNCATED)?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> std::result::Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }
    fn be<const N: usize>(&mut self) -> std::result::Result<[u8; N], &'static str> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn len(&mut self, bytes: usize) -> std::result::Result<usize, &'static str> {
        Ok(match bytes {
            1 => self.u8()? as usize,
            2 => u16::from_be_bytes(self.be()?) as usize,
            _ => u32::from_be_bytes(self.be()?) as usize,
        })
    }

    /// One value; arrays, maps and extensions are skipped whole and reported as `Nested`.
    fn value(&mut self, depth: u32) -> std::result::Result<Value<'a>, &'static str> {
        if depth > 64 {
            return Err("not valid msgpack: nested too deeply");
        }
        let b = self.u8()?;
        Ok(match b {
            0x00..=0x7f => Value::Int(i64::from(b)),
            0xe0..=0xff => Value::Int(i64::from(b as i8)),
            0xa0..=0xbf => Value::Str(self.take((b & 0x1f) as usize)?),
            0xc0 => Value::Nil,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xcc => Value::UInt(u64::from(self.u8()?)),
            0xcd => Value::UInt(u64::from(u16::from_be_bytes(self.be()?))),
            0xce => Value::UInt(u64::from(u32::from_be_bytes(self.be()?))),
            0xcf => Value::UInt(u64::from_be_bytes(self.be()?)),
            0xd0 => Value::Int(i64::from(self.u8()? as i8)),
            0xd1 => Value::Int(i64::from(i16::from_be_bytes(self.be()?))),
            0xd2 => Value::Int(i64::from(i32::from_be_bytes(self.be()?))),
            0xd3 => Value::Int(i64::from_be_bytes(self.be()?)),
            0xca => Value::Float(f64::from(f32::from_be_bytes(self.be()?))),
            0xcb => Value::Float(f64::from_be_bytes(self.be()?)),
            0xd9..=0xdb => {
                let n = self.len(1 << (b - 0xd9))?;
                Value::Str(self.take(n)?)
            }
            0xc4..=0xc6 => {
                let n = self.len(1 << (b - 0xc4))?;
                Value::Bin(self.take(n)?)
            }
            0x90..=0x9f | 0xdc | 0xdd => {
                let n = match b {
                    0xdc => self.len(2)?,
                    0xdd => self.len(4)?,
                    _ => (b & 0x0f) as usize,
                };
                for _ in 0..n {
                    self.value(depth + 1)?;
                }
                Value::Nested
            }
            0x80..=0x8f | 0xde | 0xdf => {
                let n = self.map_len(b)?;
                for _ in 0..2 * n {
                    self.value(depth + 1)?;
                }
                Value::Nested
            }
            0xd4..=0xd8 => {
                self.take(1 + (1usize << (b - 0xd4)))?;
                Value::Nested
            }
            0xc7..=0xc9 => {
                let n = self.len(1 << (b - 0xc7))?;
                self.take(1 + n)?;
                Value::Nested
            }
            _ => return Err("not valid msgpack: reserved byte 0xc1"),
        })
    }

    fn map_len(&mut self, b: u8) -> std::result::Result<usize, &'static str> {
        match b {
            0x80..=0x8f => Ok((b & 0x0f) as usize),
            0xde => self.len(2),
            0xdf => self.len(4),
            _ => Err("expected an object (msgpack map)"),
        }
    }
}

/// The msgpack format.
pub struct Msgpack;

impl ObjectParser for Msgpack {
    fn parse<'a>(
        payload: &'a [u8],
        names: &[&[u8]],
        slots: &mut [Value<'a>],
        _scratch: &mut Vec<u8>,
    ) -> std::result::Result<(), String> {
        let mut cur = Cursor {
            buf: payload,
            pos: 0,
        };
        let n = cur.u8().and_then(|b| cur.map_len(b))?;
        for _ in 0..n {
            let k = cur.value(0)?;
            let v = cur.value(0)?;
            if let Value::Str(k) = k
                && let Some(i) = names.iter().position(|n| *n == k)
            {
                slots[i] = v;
            }
        }
        if cur.pos != cur.buf.len() {
            return Err("not valid msgpack: extra data after the object".into());
        }
        Ok(())
    }
}

/// Decode msgpack payloads into a batch of `schema`.
pub fn decode(payloads: &BinaryArray, schema: &SchemaRef) -> Result<Decoded> {
    columns::decode::<Msgpack>(payloads, schema)
}
