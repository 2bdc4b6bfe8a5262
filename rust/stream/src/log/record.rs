//! Log records: framing (length + CRC) and the columnar row encoding inside.
//!
//! ```text
//!  frame   = len u32 LE | masked crc32c(payload) u32 LE | payload (len bytes)
//!  payload = base_offset u64 | append_ms i64 | rows u32 | cols u16 | column × cols
//!  column  = name_len u16 | name | type u8 [| unit u8 | tz_len u16 | tz   (timestamps)]
//!            | has_nulls u8 [| validity bitmap, ceil(rows/8) bytes, LSB first, 1 = valid]
//!            | values: fixed width → rows × width bytes LE; bool → bitmap;
//!                      strings/binary → rows × u32 length, then the bytes
//! ```
//!
//! One record holds the rows of one `append` call that went to one partition, so offsets
//! `base_offset .. base_offset + rows` belong to it. The encoding is self-describing: a reader
//! needs no schema registry.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, make_array};
use arrow_buffer::{BooleanBufferBuilder, Buffer, MutableBuffer};
use arrow_data::ArrayDataBuilder;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use minide_common::crc::{crc32c, mask, unmask};
use minide_common::{Error, Result};

use crate::checkpoint::Reader;

pub const FRAME_HEADER: usize = 8;

/// Frame `payload` as `len | crc | payload`.
pub fn frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&mask(crc32c(payload)).to_le_bytes());
    out.extend_from_slice(payload);
}

/// What a frame header says and whether the CRC matches.
pub fn check_frame(header: &[u8; FRAME_HEADER], payload: &[u8]) -> bool {
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    unmask(crc) == crc32c(payload)
}

pub fn frame_len(header: &[u8; FRAME_HEADER]) -> u32 {
    u32::from_le_bytes([header[0], header[1], header[2], header[3]])
}

/// Column type codes of the encoding.
fn type_code(dt: &DataType) -> Result<u8> {
    use DataType as D;
    Ok(match dt {
        D::Boolean => 1,
        D::Int8 => 2,
        D::Int16 => 3,
        D::Int32 => 4,
        D::Int64 => 5,
        D::UInt8 => 6,
        D::UInt16 => 7,
        D::UInt32 => 8,
        D::UInt64 => 9,
        D::Float32 => 10,
        D::Float64 => 11,
        D::Utf8 | D::LargeUtf8 | D::Utf8View => 12,
        D::Binary | D::LargeBinary | D::BinaryView => 13,
        D::Timestamp(_, _) => 14,
        D::Date32 => 15,
        D::Date64 => 16,
        other => {
            return Err(Error::unsupported(format!(
                "the log stores bool, integer, float, string, binary, timestamp and date columns, not {other}"
            )));
        }
    })
}

fn type_of(code: u8, r: &mut Reader<'_>) -> Result<DataType> {
    use DataType as D;
    Ok(match code {
        1 => D::Boolean,
        2 => D::Int8,
        3 => D::Int16,
        4 => D::Int32,
        5 => D::Int64,
        6 => D::UInt8,
        7 => D::UInt16,
        8 => D::UInt32,
        9 => D::UInt64,
        10 => D::Float32,
        11 => D::Float64,
        12 => D::Utf8,
        13 => D::Binary,
        14 => {
            let unit = match r.u8()? {
                0 => TimeUnit::Second,
                1 => TimeUnit::Millisecond,
                2 => TimeUnit::Microsecond,
                3 => TimeUnit::Nanosecond,
                u => return Err(Error::corrupt(format!("unknown time unit {u}"))),
            };
            let tz_len = u16_of(r)? as usize;
            let tz = std::str::from_utf8(r.take(tz_len)?)
                .map_err(|_| Error::corrupt("time zone is not UTF-8"))?
                .to_string();
            D::Timestamp(unit, if tz.is_empty() { None } else { Some(tz.into()) })
        }
        15 => D::Date32,
        16 => D::Date64,
        c => return Err(Error::corrupt(format!("unknown column type code {c}"))),
    })
}

fn u16_of(r: &mut Reader<'_>) -> Result<u16> {
    let b = r.take(2)?;
    Ok(u16::from_le_bytes([b[0], b[1]]))
}

fn fixed_width(dt: &DataType) -> Option<usize> {
    use DataType as D;
    Some(match dt {
        D::Int8 | D::UInt8 => 1,
        D::Int16 | D::UInt16 => 2,
        D::Int32 | D::UInt32 | D::Float32 | D::Date32 => 4,
        D::Int64 | D::UInt64 | D::Float64 | D::Date64 | D::Timestamp(_, _) => 8,
        _ => return None,
    })
}

/// Check once per append that every column can be stored.
pub fn check_schema(schema: &Schema) -> Result<()> {
    for f in schema.fields() {
        type_code(f.data_type())
            .map_err(|e| Error::unsupported(format!("column {:?}: {e}", f.name())))?;
        if f.name().len() > u16::MAX as usize {
            return Err(Error::invalid("column names longer than 65535 bytes"));
        }
    }
    Ok(())
}

fn bytes_at(a: &dyn Array, i: usize) -> &[u8] {
    use DataType as D;
    match a.data_type() {
        D::Utf8 => a.as_string::<i32>().value(i).as_bytes(),
        D::LargeUtf8 => a.as_string::<i64>().value(i).as_bytes(),
        D::Utf8View => a.as_string_view().value(i).as_bytes(),
        D::Binary => a.as_binary::<i32>().value(i),
        D::LargeBinary => a.as_binary::<i64>().value(i),
        D::BinaryView => a.as_binary_view().value(i),
        _ => &[],
    }
}

/// Encode `rows` of `batch` as one record payload.
pub fn encode(
    batch: &RecordBatch,
    rows: &[u32],
    base_offset: u64,
    append_ms: i64,
) -> Result<Vec<u8>> {
    let n = rows.len();
    let mut out = Vec::with_capacity(32 + n * 16);
    out.extend_from_slice(&base_offset.to_le_bytes());
    out.extend_from_slice(&append_ms.to_le_bytes());
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out.extend_from_slice(&(batch.num_columns() as u16).to_le_bytes());
    let schema = batch.schema();
    for (field, col) in schema.fields().iter().zip(batch.columns()) {
        let dt = col.data_type();
        out.extend_from_slice(&(field.name().len() as u16).to_le_bytes());
        out.extend_from_slice(field.name().as_bytes());
        out.push(type_code(dt)?);
        if let DataType::Timestamp(unit, tz) = dt {
            out.push(match unit {
                TimeUnit::Second => 0,
                TimeUnit::Millisecond => 1,
                TimeUnit::Microsecond => 2,
                TimeUnit::Nanosecond => 3,
            });
            let tz = tz.as_deref().unwrap_or("");
            out.extend_from_slice(&(tz.len() as u16).to_le_bytes());
            out.extend_from_slice(tz.as_bytes());
        }
        let nulls = col
            .logical_nulls()
            .filter(|nb| nb.null_count() > 0 && rows.iter().any(|&i| nb.is_null(i as usize)));
        match &nulls {
            Some(nb) => {
                out.push(1);
                push_bits(&mut out, rows.iter().map(|&i| nb.is_valid(i as usize)));
            }
            None => out.push(0),
        }
        if let Some(w) = fixed_width(dt) {
            let data = col.to_data();
            let buf = data
                .buffers()
                .first()
                .ok_or_else(|| Error::invalid("fixed-width array without values"))?;
            let start = data.offset() * w;
            let bytes = buf
                .as_slice()
                .get(start..start + data.len() * w)
                .ok_or_else(|| Error::invalid("value buffer shorter than the array"))?;
            out.reserve(n * w);
            for &i in rows {
                let i = i as usize * w;
                out.extend_from_slice(&bytes[i..i + w]);
            }
        } else if let DataType::Boolean = dt {
            let b = col.as_boolean();
            push_bits(&mut out, rows.iter().map(|&i| b.value(i as usize)));
        } else {
            for &i in rows {
                let len = if col.is_null(i as usize) {
                    0
                } else {
                    bytes_at(col.as_ref(), i as usize).len()
                };
                out.extend_from_slice(&(len as u32).to_le_bytes());
            }
            for &i in rows {
                if !col.is_null(i as usize) {
                    out.extend_from_slice(bytes_at(col.as_ref(), i as usize));
                }
            }
        }
    }
    Ok(out)
}

fn push_bits(out: &mut Vec<u8>, bits: impl Iterator<Item = bool>) {
    let mut byte = 0u8;
    let mut k = 0;
    for b in bits {
        if b {
            byte |= 1 << k;
        }
        k += 1;
        if k == 8 {
            out.push(byte);
            byte = 0;
            k = 0;
        }
    }
    if k > 0 {
        out.push(byte);
    }
}

#[inline]
fn bit(bytes: &[u8], i: usize) -> bool {
    bytes.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
}

/// Decoded header of a record payload.
#[derive(Debug, Clone, Copy)]
pub struct RecordHead {
    pub base_offset: u64,
    pub append_ms: i64,
    pub rows: u32,
}

pub fn head(payload: &[u8]) -> Result<RecordHead> {
    let mut r = Reader::new(payload, "log record");
    Ok(RecordHead {
        base_offset: r.u64()?,
        append_ms: r.i64()?,
        rows: r.u32()?,
    })
}

/// Accumulates decoded rows of records that share one schema.
#[derive(Debug)]
pub struct Collector {
    schema: SchemaRef,
    cols: Vec<ColAcc>,
    pub rows: usize,
}

#[derive(Debug)]
struct ColAcc {
    dt: DataType,
    validity: BooleanBufferBuilder,
    has_nulls: bool,
    values: MutableBuffer,
    bools: BooleanBufferBuilder,
    offsets: Vec<i32>,
}

impl Collector {
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Decode rows `skip .. skip + take` of `payload` into a new or this collector. Returns
    /// `Ok(false)` (and decodes nothing) if the record's schema differs from the collector's.
    pub fn add(
        this: &mut Option<Collector>,
        payload: &[u8],
        skip: usize,
        take: usize,
    ) -> Result<bool> {
        let mut r = Reader::new(payload, "log record");
        let _base = r.u64()?;
        let _ms = r.i64()?;
        let rows = r.u32()? as usize;
        let ncols = u16_of(&mut r)? as usize;
        if skip + take > rows {
            return Err(Error::corrupt(format!(
                "record has {rows} rows, asked for {}",
                skip + take
            )));
        }
        // First pass: the schema, to compare before touching any accumulator.
        let mut fields = Vec::with_capacity(ncols);
        let mut spans = Vec::with_capacity(ncols);
        for _ in 0..ncols {
            let nl = u16_of(&mut r)? as usize;
            let name = std::str::from_utf8(r.take(nl)?)
                .map_err(|_| Error::corrupt("column name is not UTF-8"))?
                .to_string();
            let code = r.u8()?;
            let dt = type_of(code, &mut r)?;
            let has_nulls = r.u8()? != 0;
            let validity = if has_nulls {
                Some(r.take(rows.div_ceil(8))?)
            } else {
                None
            };
            let values: (&[u8], &[u8]) = if let Some(w) = fixed_width(&dt) {
                (r.take(rows * w)?, &[])
            } else if dt == DataType::Boolean {
                (r.take(rows.div_ceil(8))?, &[])
            } else {
                let lens = r.take(rows * 4)?;
                let total: usize = lens
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize)
                    .sum();
                (lens, r.take(total)?)
            };
            fields.push(Field::new(name, dt, true));
            spans.push((has_nulls, validity, values));
        }
        r.finish()?;
        let schema = Arc::new(Schema::new(fields));
        let c = match this {
            Some(c) if c.schema != schema => return Ok(false),
            Some(c) => c,
            None => this.insert(Collector {
                cols: schema
                    .fields()
                    .iter()
                    .map(|f| ColAcc {
                        dt: f.data_type().clone(),
                        validity: BooleanBufferBuilder::new(0),
                        has_nulls: false,
                        values: MutableBuffer::new(0),
                        bools: BooleanBufferBuilder::new(0),
                        offsets: vec![0],
                    })
                    .collect(),
                schema,
                rows: 0,
            }),
        };
        for (acc, (has_nulls, validity, (values, data))) in c.cols.iter_mut().zip(spans) {
            // Validity: backfill "all valid" for earlier rows the first time a null shows up.
            if has_nulls && !acc.has_nulls {
                acc.has_nulls = true;
                acc.validity.append_n(c.rows, true);
            }
            if acc.has_nulls {
                for i in skip..skip + take {
                    acc.validity.append(validity.is_none_or(|v| bit(v, i)));
                }
            }
            if let Some(w) = fixed_width(&acc.dt) {
                acc.values
                    .extend_from_slice(&values[skip * w..(skip + take) * w]);
            } else if acc.dt == DataType::Boolean {
                for i in skip..skip + take {
                    acc.bools.append(bit(values, i));
                }
            } else {
                let lens: Vec<usize> = values
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize)
                    .collect();
                let from: usize = lens[..skip].iter().sum();
                let mut pos = from;
                let mut last = acc.offsets.last().copied().unwrap_or(0);
                for &len in &lens[skip..skip + take] {
                    acc.values.extend_from_slice(&data[pos..pos + len]);
                    pos += len;
                    last = i32::try_from(last as i64 + len as i64).map_err(|_| {
                        Error::unsupported(
                            "a log read of more than 2 GiB of strings; lower max_records",
                        )
                    })?;
                    acc.offsets.push(last);
                }
            }
        }
        c.rows += take;
        Ok(true)
    }

    /// The collected rows as a record batch.
    pub fn finish(self) -> Result<RecordBatch> {
        let n = self.rows;
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.cols.len());
        for mut acc in self.cols {
            let mut b = ArrayDataBuilder::new(acc.dt.clone()).len(n);
            if acc.has_nulls {
                b = b.null_bit_buffer(Some(acc.validity.finish().into_inner()));
            }
            b = if fixed_width(&acc.dt).is_some() {
                b.add_buffer(Buffer::from(acc.values))
            } else if acc.dt == DataType::Boolean {
                b.add_buffer(acc.bools.finish().into_inner())
            } else {
                b.add_buffer(Buffer::from_vec(acc.offsets))
                    .add_buffer(Buffer::from(acc.values))
            };
            let data = b.build().map_err(|e| {
                Error::corrupt(format!("log record decodes to an invalid array: {e}"))
            })?;
            arrays.push(make_array(data));
        }
        let opts = arrow_array::RecordBatchOptions::new().with_row_count(Some(n));
        Ok(RecordBatch::try_new_with_options(
            self.schema,
            arrays,
            &opts,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{BooleanArray, Int64Array, StringArray, TimestampMicrosecondArray};

    #[test]
    fn encode_decode_subset_and_skip() {
        let batch = RecordBatch::try_from_iter([
            (
                "i",
                Arc::new(Int64Array::from(vec![Some(1), None, Some(3), Some(4)])) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![
                    Some("a"),
                    Some("bb"),
                    None,
                    Some("dddd"),
                ])) as ArrayRef,
            ),
            (
                "b",
                Arc::new(BooleanArray::from(vec![true, false, true, true])) as ArrayRef,
            ),
            (
                "t",
                Arc::new(TimestampMicrosecondArray::from(vec![1, 2, 3, 4]).with_timezone("UTC"))
                    as ArrayRef,
            ),
        ])
        .unwrap();
        let p = encode(&batch, &[0, 1, 3], 10, 99).unwrap();
        let h = head(&p).unwrap();
        assert_eq!((h.base_offset, h.append_ms, h.rows), (10, 99, 3));
        let mut c = None;
        assert!(Collector::add(&mut c, &p, 1, 2).unwrap());
        assert!(Collector::add(&mut c, &p, 0, 1).unwrap());
        let out = c.unwrap().finish().unwrap();
        assert_eq!(out.num_rows(), 3);
        let i = out
            .column(0)
            .as_primitive::<arrow_array::types::Int64Type>();
        assert!(i.is_null(0));
        assert_eq!(i.value(1), 4);
        assert_eq!(i.value(2), 1);
        let s = out.column(1).as_string::<i32>();
        assert_eq!((s.value(0), s.value(1), s.value(2)), ("bb", "dddd", "a"));
        assert_eq!(
            out.schema().field(3).data_type(),
            batch.schema().field(3).data_type()
        );
    }

    #[test]
    fn truncated_payload_is_corrupt_not_a_panic() {
        let batch = RecordBatch::try_from_iter([(
            "s",
            Arc::new(StringArray::from(vec!["hello", "world"])) as ArrayRef,
        )])
        .unwrap();
        let p = encode(&batch, &[0, 1], 0, 0).unwrap();
        for n in 0..p.len() {
            let mut c = None;
            assert!(Collector::add(&mut c, &p[..n], 0, 2).is_err());
        }
    }
}
