//! Emission: closed windows → one Arrow RecordBatch.
//!
//! Columns: the key columns (their own types; see [`super::keys::output_type`]),
//! `window_start` and `window_end` in the time column's type (bounds clamped to the int64
//! range), then one column per aggregate in the order given. Rows are sorted by start, end, key.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use minide_common::{Error, Result};

use super::aggs::AggPlan;
use super::aggs::{self, AccRef};
use super::assign::{self, Assigner};
use super::keys::{self, KeyRepr, KeyValue};
use super::shard::{Shard, ShardKey};
use super::{Bound, Store, WindowConfig};

/// How a key sorts in the output and what values it shows.
trait EmitKey: ShardKey {
    fn sort_key(k: Option<Self>) -> u128;
    /// The value of an integer key (bits kept, so uint64 keys round-trip).
    fn as_int(self) -> i64;
}

impl EmitKey for u64 {
    fn as_int(self) -> i64 {
        self as i64
    }
    fn sort_key(k: Option<u64>) -> u128 {
        // null first, then by value as a signed integer
        k.map_or(0, |v| {
            (i128::from(v as i64) - i128::from(i64::MIN)) as u128 + 1
        })
    }
}

impl EmitKey for [u64; 2] {
    fn as_int(self) -> i64 {
        0 // hashed keys read their values from the key store
    }
    fn sort_key(k: Option<[u64; 2]>) -> u128 {
        k.map_or(0, |h| (u128::from(h[1]) << 64) | u128::from(h[0]))
    }
}

/// Build the output batch for the slots `due[shard]` (empty: a batch with the schema only).
pub(super) fn build(
    cfg: &WindowConfig,
    plan: &AggPlan,
    bound: &Bound,
    due: &[Vec<u32>],
) -> Result<RecordBatch> {
    match &bound.store {
        Store::Int(s) => build_from(cfg, plan, bound, s, due),
        Store::Hashed(s) => build_from(cfg, plan, bound, s, due),
    }
}

fn build_from<K: EmitKey>(
    cfg: &WindowConfig,
    plan: &AggPlan,
    bound: &Bound,
    shards: &[Shard<K>],
    due: &[Vec<u32>],
) -> Result<RecordBatch> {
    // (start, end, key order, shard, slot), sorted.
    let mut rows: Vec<(i128, i128, u128, u32, u32)> =
        Vec::with_capacity(due.iter().map(Vec::len).sum());
    for (si, (shard, slots)) in shards.iter().zip(due).enumerate() {
        let sl = &shard.slots;
        for &s in slots {
            let i = s as usize;
            let start = match bound.assigner {
                Assigner::Fixed { slide, .. } => assign::fixed_start(slide, sl.lo[i]),
                Assigner::Session { .. } => i128::from(sl.lo[i]),
            };
            let key = K::sort_key(shard.key_of(sl.key[i]));
            rows.push((start, sl.end[i], key, si as u32, s));
        }
    }
    rows.sort_unstable();

    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    // Key columns.
    match bound.repr {
        KeyRepr::None => {}
        KeyRepr::Int => {
            let vals: Vec<KeyValue> = rows
                .iter()
                .map(|r| {
                    let sh = &shards[r.3 as usize];
                    match sh.key_of(sh.slots.key[r.4 as usize]) {
                        Some(k) => KeyValue::Int(k.as_int()),
                        None => KeyValue::Null,
                    }
                })
                .collect();
            let refs: Vec<&KeyValue> = vals.iter().collect();
            columns.push(keys::key_array(&bound.key_types[0], &refs)?);
        }
        KeyRepr::Hashed => {
            for c in 0..cfg.key_columns.len() {
                let refs: Vec<&KeyValue> = rows
                    .iter()
                    .map(|r| {
                        let sh = &shards[r.3 as usize];
                        let kid = sh.slots.key[r.4 as usize] as usize;
                        match &sh.store {
                            Some(st) => st.get(c, kid),
                            None => &KeyValue::Null,
                        }
                    })
                    .collect();
                columns.push(keys::key_array(&bound.key_types[c], &refs)?);
            }
        }
    }
    for (name, col) in cfg.key_columns.iter().zip(&columns) {
        fields.push(Field::new(name, col.data_type().clone(), true));
    }
    // Window bounds.
    for (name, get) in [("window_start", 0usize), ("window_end", 1usize)] {
        let v = Int64Array::from_iter_values(
            rows.iter()
                .map(|r| assign::clamp(if get == 0 { r.0 } else { r.1 })),
        );
        let col = retype(Arc::new(v), &bound.time_type)?;
        fields.push(Field::new(name, bound.time_type.clone(), false));
        columns.push(col);
    }
    // Aggregates.
    let at: Vec<AccRef<'_>> = rows
        .iter()
        .map(|r| {
            let sl = &shards[r.3 as usize].slots;
            (&sl.accs[..], &sl.count[..], r.4)
        })
        .collect();
    for (i, spec) in cfg.aggs.iter().enumerate() {
        let class = plan
            .outputs
            .get(i)
            .and_then(|o| o.1.or(o.2))
            .map(|a| bound.value_classes[plan.accs[a].1]);
        let col = aggs::output_column(plan, spec, i, class, &at)?;
        fields.push(Field::new(&spec.output, col.data_type().clone(), true));
        columns.push(col);
    }
    let schema = Arc::new(Schema::new(fields));
    RecordBatch::try_new(schema, columns)
        .map_err(|e| Error::invalid(format!("window output batch: {e}")))
}

/// Give an int64 array the time column's type (timestamps keep their unit and time zone).
fn retype(a: ArrayRef, dt: &DataType) -> Result<ArrayRef> {
    if a.data_type() == dt {
        return Ok(a);
    }
    let data = a
        .to_data()
        .into_builder()
        .data_type(dt.clone())
        .build()
        .map_err(|e| Error::invalid(format!("window bounds of type {dt}: {e}")))?;
    Ok(arrow_array::make_array(data))
}
