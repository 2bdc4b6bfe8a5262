use super::*;

fn narrow(v: &[Option<i64>]) -> ArrayRef {
    Arc::new(v.iter().copied().collect::<Int64Array>())
}

fn vals(a: &ArrayRef) -> Vec<Option<i128>> {
    let d = dec_values(a).unwrap();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| d.get(i)))
        .collect()
}

#[test]
fn rescale_rounds_half_away_from_zero() {
    let a = narrow(&[Some(-2345), Some(2345), Some(2344), None, Some(-2355)]);
    let out = cast_decimal(&a, DType::Decimal(10, 3), DType::Decimal(4, 2)).unwrap();
    assert_eq!(
        vals(&out),
        vec![Some(-235), Some(235), Some(234), None, Some(-236)]
    );
    let up = cast_decimal(&a, DType::Decimal(10, 3), DType::Decimal(20, 5)).unwrap();
    assert!(matches!(up.data_type(), DataType::Decimal128(..)));
    assert_eq!(vals(&up)[0], Some(-234500));
}

#[test]
fn cast_overflow_is_an_error_but_null_rows_are_not() {
    let a = narrow(&[Some(1000)]);
    let e = cast_decimal(&a, DType::Decimal(4, 0), DType::Decimal(3, 0)).unwrap_err();
    assert!(e.to_string().contains("CAST"), "{e}");
    let b = Arc::new(Int64Array::new(
        vec![1000i64].into(),
        Some(NullBuffer::new_null(1)),
    )) as ArrayRef;
    assert!(cast_decimal(&b, DType::Decimal(4, 0), DType::Decimal(3, 0)).is_ok());
}

#[test]
fn multiplication_overflow_names_the_operation() {
    let a = narrow(&[Some(999_999_999_999)]);
    let r = arith(
        BinOp::Mul,
        &Operand::Col(a.clone()),
        &Operand::Col(a),
        DType::Decimal(18, 4),
        1,
        None,
    )
    .unwrap_err();
    assert!(r.to_string().contains("multiplication"), "{r}");
}

#[test]
fn wide_addition_checks_precision_38() {
    let big = pow10(38) - 1;
    let a: ArrayRef = Arc::new(PrimitiveArray::<Decimal128Type>::new(
        vec![big].into(),
        None,
    ));
    let e = arith(
        BinOp::Add,
        &Operand::Col(a.clone()),
        &Operand::Lit(crate::types::Scalar::Int(1)),
        DType::Decimal(38, 0),
        1,
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("addition"), "{e}");
    let ok = arith(
        BinOp::Sub,
        &Operand::Col(a),
        &Operand::Lit(crate::types::Scalar::Int(1)),
        DType::Decimal(38, 0),
        1,
        None,
    )
    .unwrap();
    assert_eq!(vals(&ok), vec![Some(big - 1)]);
}

#[test]
fn normalize_keeps_decimals_exact_and_narrow_ones_as_i64() {
    use crate::types::{normalize, normalized_type, to_output};
    let narrow: ArrayRef = Arc::new(
        PrimitiveArray::<Decimal128Type>::from(vec![Some(125), None, Some(-250)])
            .with_precision_and_scale(15, 2)
            .unwrap(),
    );
    let n = normalize(&narrow).unwrap();
    assert_eq!(n.data_type(), &DataType::Int64);
    assert_eq!(vals(&n), vec![Some(125), None, Some(-250)]);
    assert_eq!(
        normalized_type(narrow.data_type()).unwrap(),
        DType::Decimal(15, 2)
    );
    let back = to_output(&n, DType::Decimal(15, 2)).unwrap();
    assert_eq!(back.data_type(), &DataType::Decimal128(15, 2));
    let d64: ArrayRef = Arc::new(
        PrimitiveArray::<arrow_array::types::Decimal64Type>::from(vec![Some(7), None])
            .with_precision_and_scale(10, 1)
            .unwrap(),
    );
    assert_eq!(vals(&normalize(&d64).unwrap()), vec![Some(7), None]);
    let wide: ArrayRef = Arc::new(
        PrimitiveArray::<Decimal128Type>::from(vec![Some(pow10(30))])
            .with_precision_and_scale(38, 4)
            .unwrap(),
    );
    assert_eq!(vals(&normalize(&wide).unwrap()), vec![Some(pow10(30))]);
    // a value outside its declared precision that does not fit i64 is an error, not a wrap
    let bad: ArrayRef = Arc::new(
        PrimitiveArray::<Decimal128Type>::from(vec![Some(pow10(20))])
            .with_precision_and_scale(18, 0)
            .unwrap(),
    );
    assert!(normalize(&bad).is_err());
}

#[test]
fn parse_and_format_round_trip() {
    assert_eq!(parse_decimal("-2.345", 2), Some(-235));
    assert_eq!(parse_decimal(" 12 ", 1), Some(120));
    assert_eq!(parse_decimal(".5", 0), Some(1));
    assert_eq!(parse_decimal("1e5", 0), None);
    assert_eq!(format_decimal(-5, 2), "-0.05");
    assert_eq!(format_decimal(1250, 2), "12.50");
    assert_eq!(format_decimal(7, 0), "7");
}

#[test]
fn floor_and_ceil_of_negatives() {
    let a = narrow(&[Some(-25), Some(25), Some(20)]);
    let f = floor_ceil(&a, 1, false, DType::Decimal(3, 0)).unwrap();
    let c = floor_ceil(&a, 1, true, DType::Decimal(3, 0)).unwrap();
    assert_eq!(vals(&f), vec![Some(-3), Some(2), Some(2)]);
    assert_eq!(vals(&c), vec![Some(-2), Some(3), Some(2)]);
}
