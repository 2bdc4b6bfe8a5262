//! Operator tests against hand-computed answers: NULL semantics of joins, aggregates, sorts and
//! three-valued logic, plus Top-N = Sort + Limit (property test).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow_array::cast::AsArray;
use arrow_array::{ArrayRef, BooleanArray, Int64Array, StringArray};
use minide_sql::ops::{Ctx, execute};
use minide_sql::plan::{AggCall, AggFunc, BinOp, Expr, JoinKind, Node, Op, SortKey};
use minide_sql::types::Scalar;
use minide_sql::{Catalog, DType};
use proptest::prelude::*;

fn catalog() -> Catalog {
    let mut c = Catalog::default();
    let l: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![Some(1), Some(2), Some(3), None])),
        Arc::new(StringArray::from(vec![
            Some("a"),
            Some("b"),
            Some("c"),
            Some("n"),
        ])),
    ];
    let r: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![
            Some(1),
            Some(1),
            Some(3),
            Some(4),
            None,
        ])),
        Arc::new(Int64Array::from(vec![
            Some(10),
            Some(11),
            Some(30),
            Some(40),
            Some(0),
        ])),
    ];
    c.register("l", vec!["id".into(), "v".into()], vec![l], None)
        .expect("register l");
    c.register("r", vec!["id".into(), "w".into()], vec![r], None)
        .expect("register r");
    c
}

fn scan(id: u32, table: &str, types: Vec<DType>) -> Node {
    Node {
        id,
        types: types.clone(),
        op: Op::Scan {
            table: table.into(),
            columns: (0..types.len()).collect(),
            filter: None,
        },
    }
}

fn run(c: &Catalog, node: &Node) -> Vec<Vec<Scalar>> {
    let ctx = Ctx {
        catalog: c,
        threads: 2,
        metrics: Mutex::new(HashMap::new()),
        scans: Mutex::new(HashMap::new()),
        shared: Default::default(),
        join_filters: Default::default(),
    };
    let chunks = execute(node, &ctx).expect("execute");
    let mut rows = Vec::new();
    for ch in chunks {
        for i in 0..ch.len {
            rows.push(
                ch.cols
                    .iter()
                    .map(|a| minide_sql::types::scalar_at(a, i))
                    .collect(),
            );
        }
    }
    rows
}

fn sorted(mut rows: Vec<Vec<Scalar>>) -> Vec<String> {
    let mut out: Vec<String> = rows.drain(..).map(|r| format!("{r:?}")).collect();
    out.sort();
    out
}

fn join(kind: JoinKind, types: Vec<DType>) -> Node {
    Node {
        id: 3,
        types,
        op: Op::HashJoin {
            left: Box::new(scan(1, "l", vec![DType::Int64, DType::Utf8])),
            right: Box::new(scan(2, "r", vec![DType::Int64, DType::Int64])),
            kind,
            left_keys: vec![Expr::Col(0)],
            right_keys: vec![Expr::Col(0)],
            residual: None,
            null_equal: false,
            build_left: false,
            single_match: false,
        },
    }
}

#[test]
fn joins_never_match_null_keys() {
    let c = catalog();
    let all = vec![DType::Int64, DType::Utf8, DType::Int64, DType::Int64];
    assert_eq!(run(&c, &join(JoinKind::Inner, all.clone())).len(), 3);
    assert_eq!(run(&c, &join(JoinKind::Left, all.clone())).len(), 5);
    assert_eq!(run(&c, &join(JoinKind::Right, all.clone())).len(), 5);
    assert_eq!(run(&c, &join(JoinKind::Full, all)).len(), 7);
    let semi = run(&c, &join(JoinKind::Semi, vec![DType::Int64, DType::Utf8]));
    assert_eq!(sorted(semi).len(), 2);
    let anti = run(&c, &join(JoinKind::Anti, vec![DType::Int64, DType::Utf8]));
    assert_eq!(anti.len(), 2); // id 2 and the NULL id
    // NOT IN over a build side holding a NULL is empty.
    assert!(
        run(
            &c,
            &join(JoinKind::NullAwareAnti, vec![DType::Int64, DType::Utf8])
        )
        .is_empty()
    );
    let mark = run(
        &c,
        &join(JoinKind::Mark, vec![DType::Int64, DType::Utf8, DType::Bool]),
    );
    let marks: Vec<Scalar> = mark.into_iter().map(|r| r[2].clone()).collect();
    assert_eq!(
        marks.iter().filter(|m| **m == Scalar::Bool(true)).count(),
        2
    );
    assert_eq!(marks.iter().filter(|m| **m == Scalar::Null).count(), 2);
}

#[test]
fn aggregates_skip_nulls_and_group_nulls_together() {
    let c = catalog();
    let node = Node {
        id: 2,
        types: vec![DType::Int64, DType::Int64, DType::Int64, DType::Float64],
        op: Op::Aggregate {
            input: Box::new(scan(1, "r", vec![DType::Int64, DType::Int64])),
            groups: vec![Expr::Col(0)],
            aggs: vec![
                AggCall {
                    func: AggFunc::CountStar,
                    arg: None,
                    arg_ty: None,
                    ty: DType::Int64,
                },
                AggCall {
                    func: AggFunc::Sum,
                    arg: Some(Expr::Col(1)),
                    arg_ty: Some(DType::Int64),
                    ty: DType::Int64,
                },
                AggCall {
                    func: AggFunc::Avg,
                    arg: Some(Expr::Col(1)),
                    arg_ty: Some(DType::Int64),
                    ty: DType::Float64,
                },
            ],
        },
    };
    let rows = run(&c, &node);
    assert_eq!(rows.len(), 4);
    let one = rows
        .iter()
        .find(|r| r[0] == Scalar::Int(1))
        .expect("group 1");
    assert_eq!(
        one[1..],
        [Scalar::Int(2), Scalar::Int(21), Scalar::Float(10.5)]
    );
    assert!(
        rows.iter()
            .any(|r| r[0] == Scalar::Null && r[1] == Scalar::Int(1))
    );
}

#[test]
fn kleene_logic() {
    let c = catalog();
    // (id > 1) OR (v = 'a'), and its AND: NULL id rows give NULL or FALSE as SQL requires.
    let gt = Expr::Binary {
        op: BinOp::Gt,
        l: Box::new(Expr::Col(0)),
        r: Box::new(Expr::Lit {
            value: Scalar::Int(1),
            ty: DType::Int64,
        }),
        ty: DType::Bool,
    };
    let eq = Expr::Binary {
        op: BinOp::Eq,
        l: Box::new(Expr::Col(1)),
        r: Box::new(Expr::Lit {
            value: Scalar::Str("n".into()),
            ty: DType::Utf8,
        }),
        ty: DType::Bool,
    };
    let node = |op| Node {
        id: 2,
        types: vec![DType::Bool],
        op: Op::Project {
            input: Box::new(scan(1, "l", vec![DType::Int64, DType::Utf8])),
            exprs: vec![Expr::Binary {
                op,
                l: Box::new(gt.clone()),
                r: Box::new(eq.clone()),
                ty: DType::Bool,
            }],
        },
    };
    let or: Vec<Scalar> = run(&c, &node(BinOp::Or))
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(
        or,
        [
            Scalar::Bool(false),
            Scalar::Bool(true),
            Scalar::Bool(true),
            Scalar::Bool(true)
        ]
    );
    let and: Vec<Scalar> = run(&c, &node(BinOp::And))
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(
        and,
        [
            Scalar::Bool(false),
            Scalar::Bool(false),
            Scalar::Bool(false),
            Scalar::Null
        ]
    );
}

fn sort_node(top: Option<u64>, desc: bool, nulls_first: bool) -> Node {
    let keys = vec![SortKey {
        expr: Expr::Col(0),
        desc,
        nulls_first,
    }];
    let input = Box::new(scan(1, "t", vec![DType::Int64]));
    let op = match top {
        Some(limit) => Op::TopN {
            input,
            keys,
            limit,
            offset: 1,
        },
        None => Op::Limit {
            input: Box::new(Node {
                id: 2,
                types: vec![DType::Int64],
                op: Op::Sort { input, keys },
            }),
            limit: None,
            offset: 1,
        },
    };
    Node {
        id: 3,
        types: vec![DType::Int64],
        op,
    }
}

proptest! {
    #[test]
    fn topn_equals_sort_then_limit(values in proptest::collection::vec(proptest::option::of(-5i64..5), 0..200), n in 0u64..20, desc: bool, nulls_first: bool) {
        let mut c = Catalog::default();
        let col: ArrayRef = Arc::new(Int64Array::from(values));
        c.register("t", vec!["x".into()], vec![vec![col]], None).expect("register");
        let full = run(&c, &sort_node(None, desc, nulls_first));
        let top = run(&c, &sort_node(Some(n), desc, nulls_first));
        let expect: Vec<_> = full.into_iter().take(n as usize).collect();
        prop_assert_eq!(top, expect);
    }
}

#[test]
fn filter_keeps_only_true_rows() {
    let c = catalog();
    let mask: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)]));
    assert_eq!(
        minide_sql::kernels::mask_indices(mask.as_boolean()),
        vec![0]
    );
    let node = Node {
        id: 2,
        types: vec![DType::Int64, DType::Int64],
        op: Op::Filter {
            input: Box::new(scan(1, "r", vec![DType::Int64, DType::Int64])),
            predicate: Expr::IsNull(Box::new(Expr::Col(0))),
        },
    };
    let rows = run(&c, &node);
    assert_eq!(rows, vec![vec![Scalar::Null, Scalar::Int(0)]]);
}
