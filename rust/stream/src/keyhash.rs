//! Key columns of a batch → one fixed-size key per row, the unit the dedup state stores.
//!
//! Stream glue over the shared row-key encoder (`minide_common::rowkey`): resolving key columns
//! by name, checking their classes against the first batch, and choosing one of two
//! representations once per deduplicator:
//! - [`Keys::Int`]: a single integer or temporal column. The value itself (sign-extended to 64
//!   bits) is the key: exact, 8 bytes, no hashing. Null keys are reported separately.
//! - [`Keys::Hashed`]: anything else (strings, binary, floats, decimals, several columns): the
//!   shared xxh3-128 row hash, so two rows get the same key iff their values are equal (up to a
//!   2^-128 collision). Nulls are part of the key (a null is a distinct value).

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_buffer::{NullBuffer, ScalarBuffer};
use minide_common::rowkey;
use minide_common::{Error, Result};

pub use minide_common::rowkey::{KeyClass, class_of};

/// Keys of one batch, one per row.
#[derive(Debug)]
pub enum Keys {
    /// Single integer column: the value; `nulls` marks rows whose key is null.
    Int {
        values: ScalarBuffer<u64>,
        nulls: Option<NullBuffer>,
    },
    /// xxh3-128 of the canonical row encoding (nulls included), as two u64 halves.
    Hashed(Vec<[u64; 2]>),
}

/// Resolve the key columns of `batch` by name and check their classes against `expected`
/// (empty = first batch, anything goes). Returns the columns and their classes.
pub fn key_columns(
    batch: &RecordBatch,
    names: &[String],
    expected: &[KeyClass],
) -> Result<(Vec<ArrayRef>, Vec<KeyClass>)> {
    let mut cols = Vec::with_capacity(names.len());
    let mut classes = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let col = batch.column_by_name(name).ok_or_else(|| {
            Error::schema(format!(
                "key column {name:?} is not in the batch (columns: {})",
                column_list(batch)
            ))
        })?;
        let class = class_of(col.data_type()).ok_or_else(|| {
            Error::schema(format!(
                "key column {name:?} has type {} which cannot be a dedup key; use integers, \
                 floats, booleans, decimals, strings, binary or timestamps",
                col.data_type()
            ))
        })?;
        if let Some(&want) = expected.get(i)
            && want != class
        {
            return Err(Error::schema(format!(
                "key column {name:?} changed from {} to {} ({}) since the first batch",
                want.name(),
                class.name(),
                col.data_type()
            )));
        }
        cols.push(col.clone());
        classes.push(class);
    }
    Ok((cols, classes))
}

pub fn column_list(batch: &RecordBatch) -> String {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether these key columns use the exact 8-byte integer representation.
pub fn is_int_key(classes: &[KeyClass]) -> bool {
    classes == [KeyClass::Int]
}

/// Compute the per-row keys. `int_repr` selects [`Keys::Int`] (requires a single Int column).
pub fn compute_keys(cols: &[ArrayRef], int_repr: bool) -> Result<Keys> {
    if int_repr {
        let col = cols
            .first()
            .ok_or_else(|| Error::invalid("no key column"))?;
        return Ok(Keys::Int {
            values: rowkey::int_values(col.as_ref())?,
            nulls: col.logical_nulls(),
        });
    }
    Ok(Keys::Hashed(rowkey::hash_rows128(cols)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::Int32Type;
    use arrow_array::{DictionaryArray, Int32Array, Int64Array, LargeStringArray, StringArray};
    use std::sync::Arc;

    fn hashed(cols: Vec<ArrayRef>) -> Vec<[u64; 2]> {
        match compute_keys(&cols, false).unwrap() {
            Keys::Hashed(h) => h,
            Keys::Int { .. } => unreachable!(),
        }
    }

    #[test]
    fn string_kinds_agree_and_null_is_distinct() {
        let a: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None, Some("")]));
        let b: ArrayRef = Arc::new(LargeStringArray::from(vec![Some("a"), None, Some("")]));
        let d: ArrayRef = Arc::new(
            vec![Some("a"), None, Some("")]
                .into_iter()
                .collect::<DictionaryArray<Int32Type>>(),
        );
        let (ha, hb, hd) = (hashed(vec![a]), hashed(vec![b]), hashed(vec![d]));
        assert_eq!(ha, hb);
        assert_eq!(ha, hd);
        assert_ne!(ha[1], ha[2]);
    }

    #[test]
    fn multi_column_is_unambiguous() {
        // ("ab","c") vs ("a","bc") must differ: the length prefix separates them.
        let x: ArrayRef = Arc::new(StringArray::from(vec!["ab", "a"]));
        let y: ArrayRef = Arc::new(StringArray::from(vec!["c", "bc"]));
        let h = hashed(vec![x, y]);
        assert_ne!(h[0], h[1]);
    }

    use proptest::prelude::*;

    fn key_rows(k: Keys) -> Vec<(u64, u64, bool)> {
        match k {
            Keys::Int { values, nulls } => values
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let null = nulls.as_ref().is_some_and(|n| n.is_null(i));
                    (if null { 0 } else { v }, 0, null)
                })
                .collect(),
            Keys::Hashed(h) => h.into_iter().map(|[a, b]| (a, b, false)).collect(),
        }
    }

    fn col(kind: u8, vals: &[Option<i8>]) -> ArrayRef {
        use arrow_array::{BooleanArray, Float64Array, Int8Array, TimestampMillisecondArray};
        match kind {
            0 => Arc::new(vals.iter().copied().collect::<Int8Array>()),
            1 => Arc::new(
                vals.iter()
                    .map(|v| v.map(i64::from))
                    .collect::<Int64Array>(),
            ),
            2 => Arc::new(
                vals.iter()
                    .map(|v| v.map(i64::from))
                    .collect::<TimestampMillisecondArray>(),
            ),
            3 => Arc::new(
                vals.iter()
                    .map(|v| v.map(|x| if x % 3 == 0 { -0.0 } else { f64::from(x) / 7.0 }))
                    .collect::<Float64Array>(),
            ),
            4 => Arc::new(
                vals.iter()
                    .map(|v| v.map(|x| format!("k{x}")))
                    .collect::<StringArray>(),
            ),
            5 => Arc::new(
                vals.iter()
                    .map(|v| v.map(|x| ["k0", "k1", "k2", "k3"][x.rem_euclid(4) as usize]))
                    .collect::<DictionaryArray<Int32Type>>(),
            ),
            _ => Arc::new(
                vals.iter()
                    .map(|v| v.map(|x| x > 0))
                    .collect::<BooleanArray>(),
            ),
        }
    }

    proptest! {
        /// Equal key rows ⇔ equal keys, nulls distinct from values, in both representations.
        #[test]
        fn equal_rows_iff_equal_keys(
            kinds in proptest::collection::vec(0u8..7, 1..4),
            vals in proptest::collection::vec(proptest::option::of(-20i8..20), 0..40),
        ) {
            let cols: Vec<ArrayRef> = kinds.iter().map(|&k| col(k, &vals)).collect();
            let int_repr = cols.len() == 1 && kinds[0] <= 2;
            let keys = key_rows(compute_keys(&cols, int_repr).expect("keys"));
            // The model: the i8 per column, with -0.0 and 0.0 one value (kind 3), and k mod 4
            // for the dictionary (kind 5), bools by sign (kind 6).
            let model = |i: usize| -> Vec<Option<i8>> {
                kinds
                    .iter()
                    .map(|&k| {
                        vals[i].map(|x| match k {
                            3 if x % 3 == 0 => 0,
                            5 => x.rem_euclid(4),
                            6 => i8::from(x > 0),
                            _ => x,
                        })
                    })
                    .collect()
            };
            for i in 0..vals.len() {
                for j in 0..vals.len() {
                    prop_assert_eq!(model(i) == model(j), keys[i] == keys[j], "rows {} {}", i, j);
                }
            }
        }
    }

    #[test]
    fn hashed_keys_are_the_documented_xxh3_of_the_row_encoding() {
        // Dedup checkpoints store these keys: pin the exact bytes that are hashed.
        use minide_common::rowkey::NULL_KEY;
        use xxhash_rust::xxh3::xxh3_128;
        let split = |h: u128| (h as u64, (h >> 64) as u64, false);
        let s: ArrayRef = Arc::new(StringArray::from(vec![Some("ab"), None]));
        assert_eq!(
            key_rows(compute_keys(std::slice::from_ref(&s), false).unwrap()),
            vec![split(xxh3_128(b"ab")), (NULL_KEY[0], NULL_KEY[1], false)]
        );
        let i: ArrayRef = Arc::new(Int32Array::from(vec![Some(-1), Some(2)]));
        let k = key_rows(compute_keys(&[s, i], false).unwrap());
        let mut row0 = vec![1, 2, 0, 0, 0, b'a', b'b', 1];
        row0.extend_from_slice(&(-1i64).to_le_bytes());
        let mut row1 = vec![0, 1];
        row1.extend_from_slice(&2i64.to_le_bytes());
        assert_eq!(k, vec![split(xxh3_128(&row0)), split(xxh3_128(&row1))]);
    }

    #[test]
    fn int_widths_agree() {
        let a: ArrayRef = Arc::new(Int32Array::from(vec![-5, 7]));
        let b: ArrayRef = Arc::new(Int64Array::from(vec![-5, 7]));
        let ka = compute_keys(&[a], true).unwrap();
        let kb = compute_keys(&[b], true).unwrap();
        match (ka, kb) {
            (Keys::Int { values: va, .. }, Keys::Int { values: vb, .. }) => assert_eq!(va, vb),
            _ => unreachable!(),
        }
    }
}
