use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    BinaryArray, BooleanArray, Date32Array, Decimal128Array, DictionaryArray, Float32Array,
    Float64Array, Int8Array, Int32Array, Int64Array, LargeStringArray, ListArray, StringArray,
    StringViewArray, TimestampNanosecondArray, UInt16Array,
};
use proptest::prelude::*;

use super::*;

fn enc_rows(cols: &[ArrayRef]) -> Vec<Vec<u8>> {
    let e = RowEncoder::new(cols, cols[0].len())
        .expect("encoder")
        .encode_all();
    (0..e.has_null.len())
        .map(|i| e.data[e.offsets[i]..e.offsets[i + 1]].to_vec())
        .collect()
}

#[test]
fn golden_bytes_of_each_class() {
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(vec![Some(-2), None])),
        Arc::new(Float64Array::from(vec![Some(-0.0), Some(f64::NAN)])),
        Arc::new(BooleanArray::from(vec![Some(true), None])),
        Arc::new(StringArray::from(vec![Some("ab"), Some("")])),
        Arc::new(
            Decimal128Array::from(vec![Some(-5_i128), None])
                .with_precision_and_scale(20, 2)
                .expect("decimal"),
        ),
    ];
    let rows = enc_rows(&cols);
    let mut want0 = vec![1];
    want0.extend_from_slice(&(-2i64).to_le_bytes());
    want0.push(1);
    want0.extend_from_slice(&0u64.to_le_bytes());
    want0.extend_from_slice(&[1, 1]);
    want0.extend_from_slice(&[1, 2, 0, 0, 0, b'a', b'b']);
    want0.push(1);
    want0.extend_from_slice(&(-5i128).to_le_bytes());
    assert_eq!(rows[0], want0);
    let mut want1 = vec![0, 1];
    want1.extend_from_slice(&f64::NAN.to_bits().to_le_bytes());
    want1.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0]);
    assert_eq!(rows[1], want1);
    let e = RowEncoder::new(&cols, 2).expect("encoder").encode_all();
    assert_eq!(e.has_null, vec![false, true]);
}

#[test]
fn physical_variants_encode_alike() {
    let ints: Vec<ArrayRef> = vec![
        Arc::new(Int8Array::from(vec![Some(7), None, Some(-1)])),
        Arc::new(Int32Array::from(vec![Some(7), None, Some(-1)])),
        Arc::new(Int64Array::from(vec![Some(7), None, Some(-1)])),
        Arc::new(
            vec![Some(7i64), None, Some(-1)]
                .into_iter()
                .collect::<Int64Array>()
                .slice(0, 3),
        ),
    ];
    let want = enc_rows(&ints[..1]);
    for c in &ints[1..] {
        assert_eq!(enc_rows(std::slice::from_ref(c)), want, "{}", c.data_type());
    }
    let strs = vec![Some("x"), None, Some(""), Some("x\0y")];
    let variants: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(strs.clone())),
        Arc::new(LargeStringArray::from(strs.clone())),
        Arc::new(StringViewArray::from(strs.clone())),
        Arc::new(BinaryArray::from(
            strs.iter()
                .map(|s| s.map(str::as_bytes))
                .collect::<Vec<_>>(),
        )),
        Arc::new(strs.iter().copied().collect::<DictionaryArray<Int32Type>>()),
    ];
    let want = enc_rows(&variants[..1]);
    for c in &variants[1..] {
        assert_eq!(enc_rows(std::slice::from_ref(c)), want, "{}", c.data_type());
        assert_eq!(
            hash_rows128(std::slice::from_ref(c)).expect("hash"),
            hash_rows128(&variants[..1]).expect("hash"),
            "{}",
            c.data_type()
        );
    }
}

#[test]
fn single_bytes_column_hashes_raw_values_and_null_key() {
    // Stream dedup checkpoints hold these hashes: they must not change.
    let c: Vec<ArrayRef> = vec![Arc::new(StringArray::from(vec![Some("abc"), None]))];
    let h = hash_rows128(&c).expect("hash");
    assert_eq!(h[0], split(xxh3_128(b"abc")));
    assert_eq!(h[1], NULL_KEY);
    // Several columns hash the canonical encoding.
    let two: Vec<ArrayRef> = vec![c[0].clone(), Arc::new(Int64Array::from(vec![1, 2]))];
    let h = hash_rows128(&two).expect("hash");
    let rows = enc_rows(&two);
    assert_eq!(h[0], split(xxh3_128(&rows[0])));
    assert_eq!(h[1], split(xxh3_128(&rows[1])));
}

#[test]
fn large_single_columns_hash_in_parallel_like_small_ones() {
    let n = PARALLEL_HASH_ROWS * 2 + 3;
    let s: ArrayRef = Arc::new(StringArray::from_iter(
        (0..n).map(|i| (i % 5 != 0).then(|| format!("k{}", i % 1000))),
    ));
    let big = hash_rows128(std::slice::from_ref(&s)).expect("hash");
    for i in [0, 1, n / 2, n - 1] {
        let one = hash_rows128(&[s.slice(i, 1)]).expect("hash");
        assert_eq!(big[i], one[0], "row {i}");
    }
}

#[test]
fn int_values_view_widen_and_refuse() {
    let a = Int64Array::from(vec![1, -2, 3]).slice(1, 2);
    assert_eq!(int_values(&a).expect("i64").to_vec(), vec![-2i64 as u64, 3]);
    let d = Date32Array::from(vec![-1, 5]);
    assert_eq!(int_values(&d).expect("date").to_vec(), vec![u64::MAX, 5]);
    let t = TimestampNanosecondArray::from(vec![9]);
    assert_eq!(int_values(&t).expect("ts").to_vec(), vec![9]);
    let u = UInt16Array::from(vec![65535]);
    assert_eq!(int_values(&u).expect("u16").to_vec(), vec![65535]);
    let dict: DictionaryArray<Int32Type> = DictionaryArray::new(
        Int32Array::from(vec![1, 0, 1]),
        Arc::new(Int32Array::from(vec![10, -20])),
    );
    assert_eq!(
        int_values(&dict).expect("dict").to_vec(),
        vec![-20i64 as u64, 10, -20i64 as u64]
    );
    let err = int_values(&StringArray::from(vec!["x"])).expect_err("not ints");
    assert!(err.to_string().contains("not an integer key"), "{err}");
}

#[test]
fn unsupported_types_are_schema_errors_naming_the_type() {
    let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
        Some(vec![Some(1)]),
    ]));
    let err = RowEncoder::new(std::slice::from_ref(&list), 1)
        .err()
        .expect("list key");
    assert!(matches!(err, Error::Schema(_)), "{err:?}");
    assert!(err.to_string().contains("List"), "{err}");
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(vec![1, 2])),
        Arc::new(Int32Array::from(vec![1])),
    ];
    assert!(RowEncoder::new(&cols, 2).is_err());
    let none = RowEncoder::new(&[], 3).expect("no columns").encode_all();
    assert_eq!((none.offsets, none.has_null), (vec![0; 4], vec![false; 3]));
    assert_eq!(class_of(list.data_type()), None);
    for c in [1u8, 2, 3, 4, 5] {
        assert_eq!(KeyClass::from_code(c).expect("code") as u8, c);
    }
    assert!(KeyClass::from_code(9).is_err());
}

#[test]
fn empty_dictionary_of_nulls() {
    let d: DictionaryArray<Int32Type> = vec![None::<&str>, None].into_iter().collect();
    let c: Vec<ArrayRef> = vec![Arc::new(d)];
    assert_eq!(enc_rows(&c), vec![vec![0], vec![0]]);
    assert_eq!(hash_rows128(&c).expect("hash"), vec![NULL_KEY, NULL_KEY]);
}

/// A key value of the model: SQL GROUP BY equality (NULL = NULL, -0.0 = 0.0, NaN = NaN).
#[derive(Debug, Clone)]
enum V {
    I(Option<i32>),
    F(Option<f32>),
    S(Option<String>),
    B(Option<bool>),
}

fn canon(v: &V) -> (u8, Option<Vec<u8>>) {
    match v {
        V::I(x) => (0, x.map(|x| x.to_le_bytes().to_vec())),
        V::F(x) => (
            1,
            x.map(|x| {
                let x = if x == 0.0 {
                    0.0
                } else if x.is_nan() {
                    f32::NAN
                } else {
                    x
                };
                x.to_bits().to_le_bytes().to_vec()
            }),
        ),
        V::S(x) => (2, x.as_ref().map(|s| s.as_bytes().to_vec())),
        V::B(x) => (3, x.map(|b| vec![u8::from(b)])),
    }
}

fn value(kind: u8) -> BoxedStrategy<V> {
    match kind {
        0 => proptest::option::of(-3i32..3).prop_map(V::I).boxed(),
        1 => proptest::option::of(prop_oneof![
            Just(0.0f32),
            Just(-0.0f32),
            Just(f32::NAN),
            Just(-f32::NAN),
            Just(1.5f32),
            Just(f32::INFINITY),
        ])
        .prop_map(V::F)
        .boxed(),
        2 => proptest::option::of("[ab\\x00]{0,3}")
            .prop_map(V::S)
            .boxed(),
        _ => proptest::option::of(any::<bool>()).prop_map(V::B).boxed(),
    }
}

fn column(vals: &[V], physical: u8) -> ArrayRef {
    match &vals[0] {
        V::I(_) => {
            let it = vals.iter().map(|v| if let V::I(x) = v { *x } else { None });
            if physical.is_multiple_of(2) {
                Arc::new(it.collect::<Int32Array>())
            } else {
                Arc::new(it.map(|x| x.map(i64::from)).collect::<Int64Array>())
            }
        }
        V::F(_) => {
            let it = vals.iter().map(|v| if let V::F(x) = v { *x } else { None });
            if physical.is_multiple_of(2) {
                Arc::new(it.collect::<Float32Array>())
            } else {
                Arc::new(it.map(|x| x.map(f64::from)).collect::<Float64Array>())
            }
        }
        V::S(_) => {
            let it: Vec<Option<&str>> = vals
                .iter()
                .map(|v| if let V::S(x) = v { x.as_deref() } else { None })
                .collect();
            match physical % 3 {
                0 => Arc::new(StringArray::from(it)),
                1 => Arc::new(LargeStringArray::from(it)),
                _ => Arc::new(it.into_iter().collect::<DictionaryArray<Int32Type>>()),
            }
        }
        V::B(_) => Arc::new(
            vals.iter()
                .map(|v| if let V::B(x) = v { *x } else { None })
                .collect::<BooleanArray>(),
        ),
    }
}

fn table() -> impl Strategy<Value = (Vec<Vec<V>>, Vec<u8>)> {
    (proptest::collection::vec(0u8..4, 1..4), 1usize..40).prop_flat_map(|(kinds, rows)| {
        let cols: Vec<_> = kinds
            .iter()
            .map(|&k| proptest::collection::vec(value(k), rows))
            .collect();
        (cols, proptest::collection::vec(any::<u8>(), kinds.len()))
    })
}

proptest! {
    /// Equal keys ⇔ equal encodings ⇔ equal hashes, nulls distinct from every value, whatever
    /// the physical Arrow type of each column.
    #[test]
    fn equal_keys_iff_equal_encodings((cols, physical) in table()) {
        let arrays: Vec<ArrayRef> =
            cols.iter().zip(&physical).map(|(c, &p)| column(c, p)).collect();
        let other: Vec<ArrayRef> =
            cols.iter().zip(&physical).map(|(c, &p)| column(c, p.wrapping_add(1))).collect();
        let rows = enc_rows(&arrays);
        prop_assert_eq!(&rows, &enc_rows(&other));
        let hashes = hash_rows128(&arrays).expect("hash");
        let e = RowEncoder::new(&arrays, cols[0].len()).expect("enc").encode_all();
        let n = cols[0].len();
        let model: Vec<Vec<(u8, Option<Vec<u8>>)>> =
            (0..n).map(|i| cols.iter().map(|c| canon(&c[i])).collect()).collect();
        for i in 0..n {
            prop_assert_eq!(e.has_null[i], model[i].iter().any(|(_, v)| v.is_none()));
            for j in 0..n {
                prop_assert_eq!(model[i] == model[j], rows[i] == rows[j], "rows {} {}", i, j);
                prop_assert_eq!(model[i] == model[j], hashes[i] == hashes[j], "rows {} {}", i, j);
            }
        }
    }
}
