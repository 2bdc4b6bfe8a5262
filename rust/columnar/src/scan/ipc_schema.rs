//! The `ARROW:schema` footer key: base64 of an Arrow IPC `Schema` message (what pyarrow and
//! minide's writer store). A small bounds-checked flatbuffer reader for just the tables a schema
//! uses (Message, Schema, Field, DictionaryEncoding, the type tables, KeyValue); anything it
//! does not know yields `None` (the hint is then ignored for that field or file).

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, IntervalUnit, Schema, TimeUnit};

/// Decode the base64 text of an `ARROW:schema` value into a schema.
pub fn decode_hint(b64: &str) -> Option<Schema> {
    let bytes = base64(b64)?;
    let fb = match bytes.get(..4)? {
        [0xFF, 0xFF, 0xFF, 0xFF] => bytes.get(8..)?,
        _ => bytes.get(4..)?,
    };
    let buf = Buf(fb);
    let msg = buf.root()?;
    if buf.u8_field(msg, 1, 0)? != 1 {
        return None; // not a Schema message
    }
    let schema = buf.table_field(msg, 2)?;
    let fields = buf.fields(schema, 1)?;
    let meta = buf.metadata(schema, 2)?;
    Some(Schema::new_with_metadata(fields, meta))
}

fn base64(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        })
    };
    let clean: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c)? << (18 - 6 * i);
        }
        let n = match chunk.len() {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => return None,
        };
        out.extend_from_slice(&acc.to_be_bytes()[1..=n]);
    }
    Some(out)
}

struct Buf<'a>(&'a [u8]);

impl Buf<'_> {
    fn u8_at(&self, p: usize) -> Option<u8> {
        self.0.get(p).copied()
    }
    fn u16_at(&self, p: usize) -> Option<u16> {
        Some(u16::from_le_bytes(self.0.get(p..p + 2)?.try_into().ok()?))
    }
    fn u32_at(&self, p: usize) -> Option<u32> {
        Some(u32::from_le_bytes(self.0.get(p..p + 4)?.try_into().ok()?))
    }
    fn i16_at(&self, p: usize) -> Option<i16> {
        self.u16_at(p).map(|v| v as i16)
    }
    fn i32_at(&self, p: usize) -> Option<i32> {
        self.u32_at(p).map(|v| v as i32)
    }

    fn root(&self) -> Option<usize> {
        Some(self.u32_at(0)? as usize)
    }

    /// Position of field `i` of the table at `t`, if present.
    fn field(&self, t: usize, i: usize) -> Option<usize> {
        let vt = (t as i64 - i64::from(self.i32_at(t)?)) as usize;
        let vt_size = usize::from(self.u16_at(vt)?);
        let slot = 4 + 2 * i;
        if slot + 2 > vt_size {
            return None;
        }
        let off = usize::from(self.u16_at(vt + slot)?);
        (off != 0).then_some(t + off)
    }

    fn deref(&self, p: usize) -> Option<usize> {
        let t = p.checked_add(self.u32_at(p)? as usize)?;
        (t < self.0.len()).then_some(t)
    }

    fn table_field(&self, t: usize, i: usize) -> Option<usize> {
        self.deref(self.field(t, i)?)
    }

    fn u8_field(&self, t: usize, i: usize, default: u8) -> Option<u8> {
        match self.field(t, i) {
            Some(p) => self.u8_at(p),
            None => Some(default),
        }
    }
    fn i16_field(&self, t: usize, i: usize, default: i16) -> Option<i16> {
        match self.field(t, i) {
            Some(p) => self.i16_at(p),
            None => Some(default),
        }
    }
    fn i32_field(&self, t: usize, i: usize, default: i32) -> Option<i32> {
        match self.field(t, i) {
            Some(p) => self.i32_at(p),
            None => Some(default),
        }
    }

    fn string_field(&self, t: usize, i: usize) -> Option<String> {
        let s = self.table_field(t, i)?;
        let n = self.u32_at(s)? as usize;
        let b = self.0.get(s + 4..s + 4 + n)?;
        String::from_utf8(b.to_vec()).ok()
    }

    /// Tables of the vector in field `i`.
    fn vector_field(&self, t: usize, i: usize) -> Option<Vec<usize>> {
        let Some(v) = self.table_field(t, i) else {
            return Some(Vec::new());
        };
        let n = self.u32_at(v)? as usize;
        if n > self.0.len() / 4 {
            return None;
        }
        (0..n).map(|k| self.deref(v + 4 + 4 * k)).collect()
    }

    fn metadata(&self, t: usize, i: usize) -> Option<HashMap<String, String>> {
        let mut out = HashMap::new();
        for kv in self.vector_field(t, i)? {
            let k = self.string_field(kv, 0).unwrap_or_default();
            let v = self.string_field(kv, 1).unwrap_or_default();
            out.insert(k, v);
        }
        Some(out)
    }

    fn fields(&self, t: usize, i: usize) -> Option<Fields> {
        let fs = self.vector_field(t, i)?;
        let fields: Option<Vec<Field>> = fs.into_iter().map(|f| self.field_of(f, 0)).collect();
        Some(Fields::from(fields?))
    }

    fn field_of(&self, f: usize, depth: usize) -> Option<Field> {
        if depth > 32 {
            return None;
        }
        let name = self.string_field(f, 0).unwrap_or_default();
        let nullable = self.u8_field(f, 1, 0)? != 0;
        let tag = self.u8_field(f, 2, 0)?;
        let ty = self.table_field(f, 3);
        let children: Vec<Field> = self
            .vector_field(f, 5)?
            .into_iter()
            .map(|c| self.field_of(c, depth + 1))
            .collect::<Option<_>>()?;
        let unit = |u: i16| match u {
            0 => Some(TimeUnit::Second),
            1 => Some(TimeUnit::Millisecond),
            2 => Some(TimeUnit::Microsecond),
            3 => Some(TimeUnit::Nanosecond),
            _ => None,
        };
        let mut dt = match tag {
            1 => DataType::Null,
            2 => int_type(self.i32_field(ty?, 0, 0)?, self.u8_field(ty?, 1, 0)? != 0)?,
            3 => match self.i16_field(ty?, 0, 0)? {
                0 => DataType::Float16,
                1 => DataType::Float32,
                2 => DataType::Float64,
                _ => return None,
            },
            4 => DataType::Binary,
            5 => DataType::Utf8,
            6 => DataType::Boolean,
            7 => {
                let t = ty?;
                let p = u8::try_from(self.i32_field(t, 0, 0)?).ok()?;
                let s = i8::try_from(self.i32_field(t, 1, 0)?).ok()?;
                match self.i32_field(t, 2, 128)? {
                    128 => DataType::Decimal128(p, s),
                    256 => DataType::Decimal256(p, s),
                    _ => return None,
                }
            }
            8 => match self.i16_field(ty?, 0, 1)? {
                0 => DataType::Date32,
                _ => DataType::Date64,
            },
            9 => {
                let t = ty?;
                let u = unit(self.i16_field(t, 0, 1)?)?;
                match self.i32_field(t, 1, 32)? {
                    32 => DataType::Time32(u),
                    _ => DataType::Time64(u),
                }
            }
            10 => {
                let t = ty?;
                let u = unit(self.i16_field(t, 0, 0)?)?;
                DataType::Timestamp(u, self.string_field(t, 1).map(Arc::from))
            }
            11 => match self.i16_field(ty?, 0, 0)? {
                0 => DataType::Interval(IntervalUnit::YearMonth),
                1 => DataType::Interval(IntervalUnit::DayTime),
                _ => DataType::Interval(IntervalUnit::MonthDayNano),
            },
            12 => DataType::List(Arc::new(children.first()?.clone())),
            13 => DataType::Struct(Fields::from(children.clone())),
            15 => DataType::FixedSizeBinary(self.i32_field(ty?, 0, 0)?),
            16 => DataType::FixedSizeList(
                Arc::new(children.first()?.clone()),
                self.i32_field(ty?, 0, 0)?,
            ),
            17 => DataType::Map(
                Arc::new(children.first()?.clone()),
                self.u8_field(ty?, 0, 0)? != 0,
            ),
            18 => DataType::Duration(unit(self.i16_field(ty?, 0, 1)?)?),
            19 => DataType::LargeBinary,
            20 => DataType::LargeUtf8,
            21 => DataType::LargeList(Arc::new(children.first()?.clone())),
            23 => DataType::BinaryView,
            24 => DataType::Utf8View,
            _ => return None,
        };
        if let Some(d) = self.table_field(f, 4) {
            let key = match self.table_field(d, 1) {
                Some(it) => int_type(self.i32_field(it, 0, 32)?, self.u8_field(it, 1, 0)? != 0)?,
                None => DataType::Int32,
            };
            dt = DataType::Dictionary(Box::new(key), Box::new(dt));
        }
        let meta = self.metadata(f, 6)?;
        Some(Field::new(name, dt, nullable).with_metadata(meta))
    }
}

fn int_type(bits: i32, signed: bool) -> Option<DataType> {
    Some(match (bits, signed) {
        (8, true) => DataType::Int8,
        (16, true) => DataType::Int16,
        (32, true) => DataType::Int32,
        (64, true) => DataType::Int64,
        (8, false) => DataType::UInt8,
        (16, false) => DataType::UInt16,
        (32, false) => DataType::UInt32,
        (64, false) => DataType::UInt64,
        _ => return None,
    })
}
