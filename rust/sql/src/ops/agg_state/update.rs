//! `Acc::update`: fold one morsel into the accumulators, one tight loop per aggregate and
//! argument layout (no nulls: no per-row validity check). Split from `agg_state.rs`, which
//! holds the state, its merge across threads and the finished columns.

use super::*;

impl Acc {
    /// Fold one morsel: row `i` belongs to group `gids[i]`; `arg` is None for COUNT(*).
    pub fn update(&mut self, gids: &[u32], arg: Option<&ArrayRef>) -> Result<()> {
        let Some(a) = arg else {
            if let Acc::Count(c) = self {
                for g in gids {
                    c[*g as usize] += 1;
                }
            }
            return Ok(());
        };
        let nulls = a.logical_nulls();
        let valid = |i: usize| nulls.as_ref().is_none_or(|n| n.is_valid(i));
        match self {
            Acc::Count(c) => {
                if nulls.is_none() {
                    for g in gids {
                        c[*g as usize] += 1;
                    }
                } else {
                    for (i, g) in gids.iter().enumerate() {
                        if valid(i) {
                            c[*g as usize] += 1;
                        }
                    }
                }
            }
            Acc::SumI { sum, seen } => {
                let v = a.as_primitive::<Int64Type>().values();
                // No i128 sum of fewer than 2^64 BIGINTs overflows.
                if nulls.is_none() {
                    for (g, x) in gids.iter().zip(v.iter()) {
                        sum[*g as usize] += i128::from(*x);
                        seen[*g as usize] = true;
                    }
                    return Ok(());
                }
                for (i, g) in gids.iter().enumerate() {
                    if valid(i) {
                        let g = *g as usize;
                        sum[g] += i128::from(v[i]);
                        seen[g] = true;
                    }
                }
            }
            Acc::SumDec { sum, seen } => match dec_values(a)? {
                // Narrow values are below 10^18: no i128 sum of fewer than 10^20 rows overflows.
                Dec::N(v) if nulls.is_none() => {
                    for (g, x) in gids.iter().zip(v.iter()) {
                        sum[*g as usize] += i128::from(*x);
                        seen[*g as usize] = true;
                    }
                }
                Dec::N(v) => {
                    for (i, g) in gids.iter().enumerate() {
                        if valid(i) {
                            let g = *g as usize;
                            sum[g] += i128::from(v[i]);
                            seen[g] = true;
                        }
                    }
                }
                d => {
                    for (i, g) in gids.iter().enumerate() {
                        if valid(i) {
                            let g = *g as usize;
                            sum[g] = sum[g]
                                .checked_add(d.get(i))
                                .ok_or_else(|| overflow("SUM", DType::Decimal(38, 0), d.get(i)))?;
                            seen[g] = true;
                        }
                    }
                }
            },
            Acc::AvgDec { sum, cnt, .. } => {
                let d = dec_values(a)?;
                if let Dec::N(v) = d {
                    // narrow values: no i128 overflow below 10^20 rows
                    if nulls.is_none() {
                        for (g, x) in gids.iter().zip(v.iter()) {
                            sum[*g as usize] += i128::from(*x);
                            cnt[*g as usize] += 1;
                        }
                        return Ok(());
                    }
                    for (i, g) in gids.iter().enumerate() {
                        if valid(i) {
                            let g = *g as usize;
                            sum[g] += i128::from(v[i]);
                            cnt[g] += 1;
                        }
                    }
                    return Ok(());
                }
                for (i, g) in gids.iter().enumerate() {
                    if valid(i) {
                        let g = *g as usize;
                        sum[g] = sum[g]
                            .checked_add(d.get(i))
                            .ok_or_else(|| overflow("AVG", DType::Decimal(38, 0), d.get(i)))?;
                        cnt[g] += 1;
                    }
                }
            }
            Acc::MinMaxW { v, seen, max } => {
                let d = dec_values(a)?;
                for (i, g) in gids.iter().enumerate() {
                    if valid(i) {
                        let g = *g as usize;
                        let x = d.get(i);
                        if !seen[g] || (*max && x > v[g]) || (!*max && x < v[g]) {
                            v[g] = x;
                            seen[g] = true;
                        }
                    }
                }
            }
            Acc::SumF { sum, seen } => {
                let v = a.as_primitive::<Float64Type>().values();
                if nulls.is_none() {
                    for (g, x) in gids.iter().zip(v.iter()) {
                        sum[*g as usize] += x;
                        seen[*g as usize] = true;
                    }
                } else {
                    for (i, g) in gids.iter().enumerate() {
                        if valid(i) {
                            sum[*g as usize] += v[i];
                            seen[*g as usize] = true;
                        }
                    }
                }
            }
            Acc::Avg { sum, cnt } => {
                let f = cast(a, DType::Float64)?;
                let v = f.as_primitive::<Float64Type>().values();
                if nulls.is_none() {
                    for (g, x) in gids.iter().zip(v.iter()) {
                        sum[*g as usize] += x;
                        cnt[*g as usize] += 1;
                    }
                    return Ok(());
                }
                for (i, g) in gids.iter().enumerate() {
                    if valid(i) {
                        sum[*g as usize] += v[i];
                        cnt[*g as usize] += 1;
                    }
                }
            }
            Acc::MinMaxI { v, seen, max } => {
                let ints: Vec<i64> = match a.data_type() {
                    DataType::Int64 => a.as_primitive::<Int64Type>().values().to_vec(),
                    DataType::Date32 => a
                        .as_primitive::<Date32Type>()
                        .values()
                        .iter()
                        .map(|d| i64::from(*d))
                        .collect(),
                    DataType::Timestamp(_, _) => a
                        .as_primitive::<TimestampMicrosecondType>()
                        .values()
                        .to_vec(),
                    DataType::Boolean => {
                        let b = a.as_boolean();
                        (0..b.len()).map(|i| i64::from(b.value(i))).collect()
                    }
                    other => return Err(Error::InvalidArgument(format!("MIN/MAX over {other}"))),
                };
                for (i, g) in gids.iter().enumerate() {
                    if valid(i) {
                        let g = *g as usize;
                        let x = ints[i];
                        if !seen[g] || (*max && x > v[g]) || (!*max && x < v[g]) {
                            v[g] = x;
                            seen[g] = true;
                        }
                    }
                }
            }
            Acc::MinMaxF { v, seen, max } => {
                let vals = a.as_primitive::<Float64Type>().values();
                for (i, g) in gids.iter().enumerate() {
                    if valid(i) {
                        let g = *g as usize;
                        let x = vals[i];
                        let better = if *max {
                            crate::types::cmp_f64(x, v[g]).is_gt()
                        } else {
                            crate::types::cmp_f64(x, v[g]).is_lt()
                        };
                        if !seen[g] || better {
                            v[g] = x;
                            seen[g] = true;
                        }
                    }
                }
            }
            Acc::MinMaxS { v, max } => {
                let s = a.as_string::<i32>();
                for (i, g) in gids.iter().enumerate() {
                    if valid(i) {
                        let g = *g as usize;
                        let x = s.value(i);
                        let better = match &v[g] {
                            None => true,
                            Some(cur) => {
                                if *max {
                                    x > cur.as_str()
                                } else {
                                    x < cur.as_str()
                                }
                            }
                        };
                        if better {
                            v[g] = Some(x.to_string());
                        }
                    }
                }
            }
            Acc::CountDistinctI { sets } => {
                let mut add = |i: usize, g: u32, x: i64| {
                    if valid(i) {
                        sets[g as usize].insert(x);
                    }
                };
                if let Some(v) = a.as_primitive_opt::<Int64Type>() {
                    for (i, (g, x)) in gids.iter().zip(v.values()).enumerate() {
                        add(i, *g, *x);
                    }
                } else if let Some(v) = a.as_primitive_opt::<Date32Type>() {
                    for (i, (g, x)) in gids.iter().zip(v.values()).enumerate() {
                        add(i, *g, i64::from(*x));
                    }
                } else {
                    return Err(Error::InvalidArgument(format!(
                        "COUNT(DISTINCT) of integers over a {} column",
                        a.data_type()
                    )));
                }
            }
            Acc::Distinct { sets } => {
                let k = keys::encode(std::slice::from_ref(a), a.len(), true)?;
                for (i, g) in gids.iter().enumerate() {
                    if valid(i) {
                        let b = k.bytes(i);
                        let set = &mut sets[*g as usize];
                        if !set.contains(b) {
                            set.insert(b.to_vec());
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
