//! Running exact counts per key (the `count_by` pipeline step).
//!
//! One hash map per key class: integer columns (any width, nulls apart) count by their 64-bit
//! value; string and binary columns count by their bytes, hashed with xxh3 straight from the
//! Arrow buffers; a key's bytes are copied once, when it is first seen. The counts come back as
//! two Arrow arrays (keys, counts) for checkpoints and for Python.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{
    Array, ArrayRef, BinaryArray, Int64Array, StringArray, UInt64Array,
    builder::{BinaryBuilder, StringBuilder},
};
use arrow_schema::DataType;
use hashbrown::HashMap;
use minide_common::{Error, Result};

/// xxh3-64 as the maps' hasher (keys are bytes or integers).
#[derive(Default, Clone, Copy)]
pub struct Xxh3Build;

pub struct Xxh3Hasher(xxhash_rust::xxh3::Xxh3Default);

impl BuildHasher for Xxh3Build {
    type Hasher = Xxh3Hasher;
    fn build_hasher(&self) -> Xxh3Hasher {
        Xxh3Hasher(xxhash_rust::xxh3::Xxh3Default::new())
    }
}

impl Hasher for Xxh3Hasher {
    fn finish(&self) -> u64 {
        self.0.digest()
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn write_u64(&mut self, v: u64) {
        self.0.update(&v.to_le_bytes());
    }
}

/// Which keys the counter holds; fixed by the first non-empty column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountKind {
    Int,
    Str,
    Bin,
}

/// Counts per key of one column, exact.
#[derive(Default)]
pub struct KeyedCounts {
    kind: Option<CountKind>,
    ints: HashMap<i64, u64>,
    bytes: HashMap<Box<[u8]>, u64, Xxh3Build>,
    nulls: u64,
}

/// The class of a column this counter supports, or None.
pub fn kind_of(t: &DataType) -> Option<CountKind> {
    use DataType as D;
    Some(match t {
        D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32 | D::UInt64 => {
            CountKind::Int
        }
        D::Utf8 | D::LargeUtf8 | D::Utf8View => CountKind::Str,
        D::Binary | D::LargeBinary | D::BinaryView => CountKind::Bin,
        _ => return None,
    })
}

impl KeyedCounts {
    pub fn new() -> Self {
        Self::default()
    }

    fn bind(&mut self, t: &DataType) -> Result<CountKind> {
        let k = kind_of(t).ok_or_else(|| {
            Error::unsupported(format!(
                "keyed counts of {t} columns (integers, strings, binary)"
            ))
        })?;
        match self.kind {
            None => self.kind = Some(k),
            Some(have) if have != k => {
                return Err(Error::schema(format!(
                    "count key column changed type to {t} (was {have:?})"
                )));
            }
            _ => {}
        }
        Ok(k)
    }

    fn add_bytes<'a>(
        &mut self,
        n: usize,
        nulls: Option<&arrow_buffer::NullBuffer>,
        f: impl Fn(usize) -> &'a [u8],
        times: impl Fn(usize) -> u64,
    ) {
        for i in 0..n {
            if nulls.is_some_and(|nb| nb.is_null(i)) {
                self.nulls += times(i);
                continue;
            }
            let v = f(i);
            match self.bytes.get_mut(v) {
                Some(c) => *c += times(i),
                None => {
                    self.bytes.insert(v.into(), times(i));
                }
            }
        }
    }

    fn add_ints(&mut self, vals: impl Iterator<Item = Option<i64>>, times: impl Fn(usize) -> u64) {
        for (i, v) in vals.enumerate() {
            match v {
                Some(v) => *self.ints.entry(v).or_insert(0) += times(i),
                None => self.nulls += times(i),
            }
        }
    }

    /// Count every row of `col` (each row counts `weights[i]` if given, else 1).
    pub fn add(&mut self, col: &dyn Array, weights: Option<&UInt64Array>) -> Result<()> {
        if let Some(w) = weights
            && w.len() != col.len()
        {
            return Err(Error::invalid("weights and keys differ in length"));
        }
        let times = |i: usize| weights.map_or(1, |w| w.value(i));
        let kind = self.bind(col.data_type())?;
        let n = col.len();
        let nulls = col.logical_nulls();
        let nulls = nulls.as_ref();
        use DataType as D;
        macro_rules! ints {
            ($t:ty) => {
                self.add_ints(
                    col.as_primitive::<$t>().iter().map(|v| v.map(|x| x as i64)),
                    times,
                )
            };
        }
        match (kind, col.data_type()) {
            (CountKind::Int, D::UInt64) => {
                let a = col.as_primitive::<UInt64Type>();
                if a.iter().flatten().any(|v| v > i64::MAX as u64) {
                    return Err(Error::unsupported(
                        "keyed counts of uint64 keys above 2^63 - 1",
                    ));
                }
                ints!(UInt64Type)
            }
            (CountKind::Int, D::Int8) => ints!(Int8Type),
            (CountKind::Int, D::Int16) => ints!(Int16Type),
            (CountKind::Int, D::Int32) => ints!(Int32Type),
            (CountKind::Int, D::Int64) => ints!(Int64Type),
            (CountKind::Int, D::UInt8) => ints!(UInt8Type),
            (CountKind::Int, D::UInt16) => ints!(UInt16Type),
            (CountKind::Int, D::UInt32) => ints!(UInt32Type),
            (_, D::Utf8) => {
                let a = col.as_string::<i32>();
                self.add_bytes(n, nulls, |i| a.value(i).as_bytes(), times)
            }
            (_, D::LargeUtf8) => {
                let a = col.as_string::<i64>();
                self.add_bytes(n, nulls, |i| a.value(i).as_bytes(), times)
            }
            (_, D::Utf8View) => {
                let a = col.as_string_view();
                self.add_bytes(n, nulls, |i| a.value(i).as_bytes(), times)
            }
            (_, D::Binary) => {
                let a = col.as_binary::<i32>();
                self.add_bytes(n, nulls, |i| a.value(i), times)
            }
            (_, D::LargeBinary) => {
                let a = col.as_binary::<i64>();
                self.add_bytes(n, nulls, |i| a.value(i), times)
            }
            (_, D::BinaryView) => {
                let a = col.as_binary_view();
                self.add_bytes(n, nulls, |i| a.value(i), times)
            }
            (_, t) => return Err(Error::unsupported(format!("keyed counts of {t} columns"))),
        }
        Ok(())
    }

    /// Count the null key `n` times (checkpoint restore).
    pub fn add_nulls(&mut self, n: u64) {
        self.nulls += n;
    }

    /// Distinct keys counted (the null key included).
    pub fn len(&self) -> usize {
        self.ints.len() + self.bytes.len() + usize::from(self.nulls > 0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (keys, counts): int64, utf8 or binary keys (a null key last if nulls were counted).
    pub fn to_arrays(&self) -> (ArrayRef, UInt64Array) {
        let mut counts: Vec<u64> = Vec::with_capacity(self.len());
        let with_null = self.nulls > 0;
        let keys: ArrayRef = match self.kind {
            None | Some(CountKind::Int) => {
                let mut k: Vec<Option<i64>> = Vec::with_capacity(self.len());
                for (v, c) in &self.ints {
                    k.push(Some(*v));
                    counts.push(*c);
                }
                if with_null {
                    k.push(None);
                }
                Arc::new(Int64Array::from(k))
            }
            Some(CountKind::Str) => {
                let mut b = StringBuilder::new();
                for (v, c) in &self.bytes {
                    b.append_value(String::from_utf8_lossy(v));
                    counts.push(*c);
                }
                if with_null {
                    b.append_null();
                }
                Arc::new(b.finish()) as Arc<StringArray>
            }
            Some(CountKind::Bin) => {
                let mut b = BinaryBuilder::new();
                for (v, c) in &self.bytes {
                    b.append_value(v);
                    counts.push(*c);
                }
                if with_null {
                    b.append_null();
                }
                Arc::new(b.finish()) as Arc<BinaryArray>
            }
        };
        if with_null {
            counts.push(self.nulls);
        }
        (keys, UInt64Array::from(counts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_strings_ints_and_nulls() {
        let mut c = KeyedCounts::new();
        c.add(
            &StringArray::from(vec![Some("a"), None, Some("b"), Some("a")]),
            None,
        )
        .unwrap();
        c.add(
            &StringArray::from(vec![Some("a")]),
            Some(&UInt64Array::from(vec![5])),
        )
        .unwrap();
        let (k, n) = c.to_arrays();
        let k = k.as_string::<i32>();
        let mut got: Vec<(Option<String>, u64)> = (0..k.len())
            .map(|i| (k.is_valid(i).then(|| k.value(i).to_string()), n.value(i)))
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![(None, 1), (Some("a".into()), 7), (Some("b".into()), 1)]
        );
        assert!(c.add(&Int64Array::from(vec![1]), None).is_err());
        let mut i = KeyedCounts::new();
        i.add(&arrow_array::Int32Array::from(vec![3, 3, -1]), None)
            .unwrap();
        let (k, n) = i.to_arrays();
        let k = k.as_primitive::<Int64Type>();
        let mut got: Vec<(i64, u64)> = (0..k.len()).map(|j| (k.value(j), n.value(j))).collect();
        got.sort();
        assert_eq!(got, vec![(-1, 1), (3, 2)]);
    }
}
