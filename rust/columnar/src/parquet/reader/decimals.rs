//! How INT32/INT64-backed decimal columns come out of the reader.

/// How INT32/INT64-backed DECIMAL columns (the integers hold the unscaled value) are decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Decimals {
    /// `decimal128(p, s)`, as pyarrow reads them.
    #[default]
    Decimal128,
    /// Float64 (value / 10^scale).
    Float64,
    /// `decimal64(p, s)` for precision <= 18: the stored integers as they are, no widening
    /// (the SQL engine's exact decimal layout; wider decimals stay `decimal128`).
    Decimal64,
}

impl Decimals {
    /// [`Decimals::Float64`] when `as_f64`, else [`Decimals::Decimal128`].
    pub fn float_if(as_f64: bool) -> Self {
        if as_f64 {
            Decimals::Float64
        } else {
            Decimals::Decimal128
        }
    }
}
