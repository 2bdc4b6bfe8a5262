//! JSON objects → one Arrow batch by a declared schema (rules in [`super::columns`]).
//!
//! An RFC 8259 parser for one object per message: strings without escapes are borrowed from the
//! payload, escaped ones are unescaped into a per-row scratch buffer; nested arrays and objects
//! are skipped (and do not fit any field). Like Python's `json`, it also reads the literals
//! `NaN`, `Infinity` and `-Infinity` as floats. Lone surrogates, integers beyond 64 bits and
//! non-UTF-8 payloads make the message a dead letter.

use arrow_array::BinaryArray;
use arrow_schema::SchemaRef;
use minide_common::Result;

use super::columns::{self, Decoded, ObjectParser, Value};

/// The JSON format.
pub struct Json;

type R<T> = std::result::Result<T, String>;

struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
}

fn bad(what: &str) -> String {
    format!("not valid json: {what}")
}

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.pos) {
            self.pos += 1;
        }
    }

    fn next(&mut self) -> R<u8> {
        let c = *self.b.get(self.pos).ok_or_else(|| bad("truncated"))?;
        self.pos += 1;
        Ok(c)
    }

    fn expect(&mut self, c: u8) -> R<()> {
        if self.next()? == c {
            Ok(())
        } else {
            Err(bad(&format!(
                "expected {:?} at byte {}",
                c as char,
                self.pos - 1
            )))
        }
    }

    fn literal(&mut self, word: &[u8], v: Value<'a>) -> R<Value<'a>> {
        if self.b.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(bad(&format!("unexpected byte at {}", self.pos)))
        }
    }

    fn hex4(&mut self) -> R<u32> {
        let h = self
            .b
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| bad("truncated \\u escape"))?;
        self.pos += 4;
        let s = std::str::from_utf8(h).map_err(|_| bad("bad \\u escape"))?;
        u32::from_str_radix(s, 16).map_err(|_| bad("bad \\u escape"))
    }

    /// A string (after its opening quote was seen by the caller).
    fn string(&mut self, scratch: &mut Vec<u8>) -> R<Value<'a>> {
        let start = self.pos;
        loop {
            match self.next()? {
                b'"' => return Ok(Value::Str(&self.b[start..self.pos - 1])),
                b'\\' => break,
                c if c < 0x20 => return Err(bad("control character in a string")),
                _ => {}
            }
        }
        // Escapes: unescape into scratch.
        let out = scratch.len();
        scratch.extend_from_slice(&self.b[start..self.pos - 1]);
        self.pos -= 1;
        loop {
            match self.next()? {
                b'"' => break,
                b'\\' => {
                    let c = match self.next()? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xd800..0xdc00).contains(&hi) {
                                if self.next()? != b'\\' || self.next()? != b'u' {
                                    return Err(bad("lone surrogate"));
                                }
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return Err(bad("lone surrogate"));
                                }
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            };
                            char::from_u32(cp).ok_or_else(|| bad("lone surrogate"))?
                        }
                        _ => return Err(bad("unknown escape")),
                    };
                    let mut buf = [0u8; 4];
                    scratch.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => return Err(bad("control character in a string")),
                c => scratch.push(c),
            }
        }
        Ok(Value::Unescaped(out as u32, (scratch.len() - out) as u32))
    }

    fn number(&mut self) -> R<Value<'a>> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let s = p.pos;
            while p.b.get(p.pos).is_some_and(u8::is_ascii_digit) {
                p.pos += 1;
            }
            p.pos - s
        };
        if self.b.get(self.pos) == Some(&b'-') {
            self.pos += 1;
            if self.b.get(self.pos) == Some(&b'I') {
                return self.literal(b"Infinity", Value::Float(f64::NEG_INFINITY));
            }
        }
        let int_start = self.pos;
        let n = digits(self);
        if n == 0 || (n > 1 && self.b[int_start] == b'0') {
            return Err(bad("malformed number"));
        }
        let mut float = false;
        if self.b.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            float = true;
            if digits(self) == 0 {
                return Err(bad("malformed number"));
            }
        }
        if let Some(b'e' | b'E') = self.b.get(self.pos) {
            self.pos += 1;
            float = true;
            if let Some(b'+' | b'-') = self.b.get(self.pos) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(bad("malformed number"));
            }
        }
        // ASCII by construction.
        let text = std::str::from_utf8(&self.b[start..self.pos]).unwrap_or_default();
        if float {
            let f: f64 = text.parse().map_err(|_| bad("malformed number"))?;
            if !f.is_finite() {
                return Err(bad("number out of range"));
            }
            Ok(Value::Float(f))
        } else if let Ok(i) = text.parse::<i64>() {
            Ok(Value::Int(i))
        } else {
            text.parse::<u64>()
                .map(Value::UInt)
                .map_err(|_| "integer beyond 64 bits".to_string())
        }
    }

    fn value(&mut self, scratch: &mut Vec<u8>, depth: u32) -> R<Value<'a>> {
        if depth > 64 {
            return Err(bad("nested too deeply"));
        }
        self.ws();
        match self.b.get(self.pos).copied() {
            Some(b'"') => {
                self.pos += 1;
                self.string(scratch)
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Nil),
            Some(b'N') => self.literal(b"NaN", Value::Float(f64::NAN)),
            Some(b'I') => self.literal(b"Infinity", Value::Float(f64::INFINITY)),
            Some(b'[') => {
                self.pos += 1;
                self.ws();
                if self.b.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    return Ok(Value::Nested);
                }
                let mark = scratch.len();
                loop {
                    self.value(scratch, depth + 1)?;
                    scratch.truncate(mark);
                    self.ws();
                    match self.next()? {
                        b',' => {}
                        b']' => return Ok(Value::Nested),
                        _ => return Err(bad("expected ',' or ']'")),
                    }
                }
            }
            Some(b'{') => {
                self.pos += 1;
                let mark = scratch.len();
                self.members(scratch, depth + 1, |_, _, _| {})?;
                scratch.truncate(mark);
                Ok(Value::Nested)
            }
            Some(_) => Err(bad(&format!("unexpected byte at {}", self.pos))),
            None => Err(bad("truncated")),
        }
    }

    /// The members of an object whose `{` was consumed; `each(key, value, scratch)`.
    fn members(
        &mut self,
        scratch: &mut Vec<u8>,
        depth: u32,
        mut each: impl FnMut(Value<'a>, Value<'a>, &[u8]),
    ) -> R<()> {
        self.ws();
        if self.b.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            self.expect(b'"')?;
            let key = self.string(scratch)?;
            self.ws();
            self.expect(b':')?;
            let v = self.value(scratch, depth)?;
            each(key, v, scratch);
            self.ws();
            match self.next()? {
                b',' => {}
                b'}' => return Ok(()),
                _ => return Err(bad("expected ',' or '}'")),
            }
        }
    }
}

impl ObjectParser for Json {
    fn parse<'a>(
        payload: &'a [u8],
        names: &[&[u8]],
        slots: &mut [Value<'a>],
        scratch: &mut Vec<u8>,
    ) -> R<()> {
        if std::str::from_utf8(payload).is_err() {
            return Err(bad("not UTF-8"));
        }
        let mut p = Parser { b: payload, pos: 0 };
        p.ws();
        if p.b.get(p.pos) != Some(&b'{') {
            // Valid JSON that is not an object, or not JSON at all: say which.
            p.value(scratch, 1)?;
            p.ws();
            if p.pos != p.b.len() {
                return Err(bad("extra data after the value"));
            }
            return Err("expected an object".to_string());
        }
        p.pos += 1;
        p.members(scratch, 1, |key, v, scratch| {
            if let Some(k) = key.text(scratch)
                && let Some(i) = names.iter().position(|n| *n == k)
            {
                slots[i] = v;
            }
        })?;
        p.ws();
        if p.pos != p.b.len() {
            return Err(bad("extra data after the object"));
        }
        Ok(())
    }
}

/// Decode JSON payloads into a batch of `schema`.
pub fn decode(payloads: &BinaryArray, schema: &SchemaRef) -> Result<Decoded> {
    columns::decode::<Json>(payloads, schema)
}
