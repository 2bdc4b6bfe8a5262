//! The physical plan as it arrives from Python: one msgpack document per query, decoded with
//! serde + rmp-serde. Python (`python/minide/sql/physical.py`) produces exactly these shapes:
//! enums are externally tagged maps (`{"Filter": {...}}`), columns are positions in the input.

use serde::Deserialize;

use crate::types::{DType, Scalar};

#[derive(Debug, Clone, Deserialize)]
pub struct Node {
    /// Operator id, used to report EXPLAIN ANALYZE metrics back to the planner.
    pub id: u32,
    /// Output column types.
    pub types: Vec<DType>,
    pub op: Op,
}

impl Node {
    /// The operator's input nodes.
    pub fn inputs(&self) -> Vec<&Node> {
        match &self.op {
            Op::Scan { .. } | Op::Values { .. } => Vec::new(),
            Op::Filter { input, .. }
            | Op::Project { input, .. }
            | Op::Aggregate { input, .. }
            | Op::Sort { input, .. }
            | Op::TopN { input, .. }
            | Op::Limit { input, .. }
            | Op::Window { input, .. } => vec![input],
            Op::HashJoin { left, right, .. } => vec![left, right],
            Op::UnionAll { inputs } => inputs.iter().collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
    Semi,
    Anti,
    /// NOT IN: like Anti, but a NULL on either side makes the membership unknown (row dropped).
    NullAwareAnti,
    /// Appends a boolean column: TRUE if a match, NULL if unknown (NULLs involved), else FALSE.
    Mark,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SortKey {
    pub expr: Expr,
    pub desc: bool,
    pub nulls_first: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum AggFunc {
    Sum,
    Count,
    CountStar,
    Avg,
    Min,
    Max,
    CountDistinct,
    SumDistinct,
    AvgDistinct,
    BoolAnd,
    BoolOr,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AggCall {
    pub func: AggFunc,
    pub arg: Option<Expr>,
    /// Type of the argument (None for COUNT(*)).
    pub arg_ty: Option<DType>,
    /// Output type.
    pub ty: DType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum WinFunc {
    RowNumber,
    Rank,
    DenseRank,
    Lag,
    Lead,
    Sum,
    Count,
    CountStar,
    Avg,
    Min,
    Max,
}

/// One window function: `func(args) OVER (PARTITION BY partition ORDER BY order [frame])`.
/// Without `frame`: the default (whole partition without ORDER BY, else RANGE UNBOUNDED
/// PRECEDING .. CURRENT ROW, peers included). Ranking and LAG/LEAD ignore frames.
#[derive(Debug, Clone, Deserialize)]
pub struct WindowCall {
    pub func: WinFunc,
    pub args: Vec<Expr>,
    pub partition: Vec<Expr>,
    pub order: Vec<SortKey>,
    pub ty: DType,
    #[serde(default)]
    pub frame: Option<Frame>,
}

/// `ROWS|RANGE BETWEEN start AND end`. RANGE bounds are UNBOUNDED or CURRENT ROW (the peer
/// group of the current row); the planner rejects RANGE offsets.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Frame {
    pub rows: bool,
    pub start: FrameBound,
    pub end: FrameBound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum FrameBound {
    UnboundedPreceding,
    Preceding(u64),
    CurrentRow,
    Following(u64),
    UnboundedFollowing,
}

#[derive(Debug, Clone, Deserialize)]
pub enum Op {
    Scan {
        table: String,
        columns: Vec<usize>,
        filter: Option<Expr>,
    },
    Values {
        rows: Vec<Vec<Scalar>>,
    },
    Filter {
        input: Box<Node>,
        predicate: Expr,
    },
    Project {
        input: Box<Node>,
        exprs: Vec<Expr>,
    },
    Aggregate {
        input: Box<Node>,
        groups: Vec<Expr>,
        aggs: Vec<AggCall>,
    },
    HashJoin {
        /// The probe side (streamed, split across threads).
        left: Box<Node>,
        /// The build side (hashed).
        right: Box<Node>,
        kind: JoinKind,
        left_keys: Vec<Expr>,
        right_keys: Vec<Expr>,
        /// Extra condition over (left columns ++ right columns), checked on key matches.
        residual: Option<Expr>,
        /// INTERSECT/EXCEPT compare NULL keys as equal.
        null_equal: bool,
        /// Semi/anti joins only: hash the left input and stream the right one (chosen by the
        /// optimizer when the left input is the smaller one).
        #[serde(default)]
        build_left: bool,
        /// Scalar subqueries: a left row matching more than one right row is an error.
        #[serde(default)]
        single_match: bool,
    },
    Sort {
        input: Box<Node>,
        keys: Vec<SortKey>,
    },
    TopN {
        input: Box<Node>,
        keys: Vec<SortKey>,
        limit: u64,
        offset: u64,
    },
    Limit {
        input: Box<Node>,
        limit: Option<u64>,
        offset: u64,
    },
    UnionAll {
        inputs: Vec<Node>,
    },
    /// Appends one column per window call to its input's columns.
    Window {
        input: Box<Node>,
        calls: Vec<WindowCall>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
    Concat,
    /// NULL-safe equality (IS NOT DISTINCT FROM).
    IsNotDistinct,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub enum Expr {
    Col(usize),
    Lit {
        value: Scalar,
        ty: DType,
    },
    Binary {
        op: BinOp,
        l: Box<Expr>,
        r: Box<Expr>,
        /// Result type.
        ty: DType,
    },
    Not(Box<Expr>),
    Neg(Box<Expr>),
    IsNull(Box<Expr>),
    IsNotNull(Box<Expr>),
    Case {
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
        ty: DType,
    },
    Cast {
        expr: Box<Expr>,
        to: DType,
        /// The operand's type (needed for decimals, whose layout does not carry the scale).
        #[serde(default)]
        from: Option<DType>,
    },
    Like {
        expr: Box<Expr>,
        pattern: String,
        negated: bool,
        case_insensitive: bool,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Scalar>,
        negated: bool,
    },
    /// Scalar functions by name (`extract_year`, `substring`, `coalesce`, `abs`, `upper`, ...).
    Func {
        name: String,
        args: Vec<Expr>,
        ty: DType,
    },
}
