//! Nested columns: schema groups -> a node tree, and Dremel reassembly of Arrow arrays from the
//! leaves' definition/repetition levels.
//!
//! Every node owns, per leaf below it, one level range per element ("slot"). A node's own
//! structure is the same in all its leaves, so the first leaf decides validity (definition
//! level below the node's own) and list lengths (a new element starts where the repetition
//! level equals the list's level); children get the sub-ranges. Accepts the 3-level list layout,
//! legacy 2-level lists, unannotated repeated fields and MAP / MAP_KEY_VALUE groups.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, ListArray, MapArray, StructArray, make_array};
use arrow_buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_data::transform::MutableArrayData;
use arrow_schema::{DataType, Field, Fields};

use super::schema::arrow_type;
use crate::parquet::metadata::{LogicalType, SchemaElement, converted, repetition};
use minide_common::{Error, Result};

fn corrupt(what: impl Into<String>) -> Error {
    Error::corrupt(what.into())
}

/// A node of a nested column. `def` is the definition level at which the node is non-null.
#[derive(Clone, Debug)]
pub enum RNode {
    Leaf {
        leaf: usize,
        def: u32,
        rep: u32,
        element: SchemaElement,
        field: Field,
    },
    Struct {
        def: u32,
        nullable: bool,
        children: Vec<RNode>,
        field: Field,
    },
    List {
        def: u32,
        nullable: bool,
        rep: u32,
        child: Box<RNode>,
        field: Field,
    },
    Map {
        def: u32,
        nullable: bool,
        rep: u32,
        key: Box<RNode>,
        value: Box<RNode>,
        field: Field,
    },
}

impl RNode {
    pub fn field(&self) -> &Field {
        match self {
            RNode::Leaf { field, .. }
            | RNode::Struct { field, .. }
            | RNode::List { field, .. }
            | RNode::Map { field, .. } => field,
        }
    }

    /// Global indexes of the leaves below, in order.
    pub fn leaves(&self, out: &mut Vec<usize>) {
        match self {
            RNode::Leaf { leaf, .. } => out.push(*leaf),
            RNode::Struct { children, .. } => children.iter().for_each(|c| c.leaves(out)),
            RNode::List { child, .. } => child.leaves(out),
            RNode::Map { key, value, .. } => {
                key.leaves(out);
                value.leaves(out);
            }
        }
    }

    fn first_leaf(&self) -> usize {
        let mut v = Vec::new();
        self.leaves(&mut v);
        v.first().copied().unwrap_or(0)
    }
}

/// Max levels of every leaf (by global leaf index): (element, max_def, max_rep).
pub fn leaf_levels(node: &RNode, out: &mut Vec<(usize, SchemaElement, u32, u32, DataType)>) {
    match node {
        RNode::Leaf {
            leaf,
            def,
            rep,
            element,
            field,
        } => out.push((
            *leaf,
            element.clone(),
            *def,
            *rep,
            field.data_type().clone(),
        )),
        RNode::Struct { children, .. } => children.iter().for_each(|c| leaf_levels(c, out)),
        RNode::List { child, .. } => leaf_levels(child, out),
        RNode::Map { key, value, .. } => {
            leaf_levels(key, out);
            leaf_levels(value, out);
        }
    }
}

fn is_list(el: &SchemaElement) -> bool {
    el.converted_type == Some(converted::LIST) || el.logical_type == Some(LogicalType::List)
}

fn is_map(el: &SchemaElement) -> bool {
    matches!(
        el.converted_type,
        Some(converted::MAP | converted::MAP_KEY_VALUE)
    ) || el.logical_type == Some(LogicalType::Map)
}

fn children_count(el: &SchemaElement) -> Result<usize> {
    usize::try_from(el.num_children.unwrap_or(0))
        .map_err(|_| corrupt("negative number of schema children"))
}

/// Parse the subtree at `*pos`. `leaf` counts leaves globally.
pub fn parse(
    els: &[SchemaElement],
    pos: &mut usize,
    def: u32,
    rep: u32,
    leaf: &mut usize,
    depth: usize,
) -> Result<RNode> {
    if depth > 64 {
        return Err(corrupt("schema nested too deeply"));
    }
    let el = els
        .get(*pos)
        .ok_or_else(|| corrupt("schema has fewer elements than declared"))?
        .clone();
    if el.name.contains('\0') {
        return Err(corrupt("schema name contains a NUL byte"));
    }
    let rt = el.repetition_type.unwrap_or(repetition::REQUIRED);
    if rt == repetition::REPEATED {
        // An unannotated repeated field: a required list of required elements.
        let child = parse_as(
            els,
            pos,
            def + 1,
            rep + 1,
            leaf,
            depth + 1,
            repetition::REQUIRED,
        )?;
        let field = Field::new(
            el.name.clone(),
            DataType::List(Arc::new(child.field().clone())),
            false,
        );
        return Ok(RNode::List {
            def,
            nullable: false,
            rep: rep + 1,
            child: Box::new(child),
            field,
        });
    }
    parse_as(els, pos, def, rep, leaf, depth, rt)
}

fn parse_as(
    els: &[SchemaElement],
    pos: &mut usize,
    def: u32,
    rep: u32,
    leaf: &mut usize,
    depth: usize,
    rt: i32,
) -> Result<RNode> {
    let el = els
        .get(*pos)
        .ok_or_else(|| corrupt("schema has fewer elements than declared"))?
        .clone();
    *pos += 1;
    let nullable = rt == repetition::OPTIONAL;
    let d = def + u32::from(nullable);
    let n = children_count(&el)?;
    if n == 0 {
        if el.type_.is_none() {
            return Err(corrupt(format!("schema leaf {:?} has no type", el.name)));
        }
        let field = Field::new(el.name.clone(), arrow_type(&el)?, nullable);
        let l = *leaf;
        *leaf += 1;
        return Ok(RNode::Leaf {
            leaf: l,
            def: d,
            rep,
            element: el,
            field,
        });
    }
    if n > els.len() {
        return Err(corrupt("schema group declares too many children"));
    }
    if (is_list(&el) || is_map(&el)) && n == 1 {
        let rep_el = els
            .get(*pos)
            .ok_or_else(|| corrupt("list group without its repeated child"))?
            .clone();
        if rep_el.repetition_type != Some(repetition::REPEATED) {
            return Err(corrupt(format!(
                "list/map {:?} child is not repeated",
                el.name
            )));
        }
        let rep_children = children_count(&rep_el)?;
        if is_map(&el) && rep_children == 2 {
            *pos += 1;
            let key = parse(els, pos, d + 1, rep + 1, leaf, depth + 1)?;
            let value = parse(els, pos, d + 1, rep + 1, leaf, depth + 1)?;
            let entries = Field::new(
                rep_el.name.clone(),
                DataType::Struct(Fields::from(vec![
                    key.field().clone().with_nullable(false),
                    value.field().clone(),
                ])),
                false,
            );
            let field = Field::new(
                el.name.clone(),
                DataType::Map(Arc::new(entries), false),
                nullable,
            );
            return Ok(RNode::Map {
                def: d,
                nullable,
                rep: rep + 1,
                key: Box::new(key),
                value: Box::new(value),
                field,
            });
        }
        let three_level = rep_children == 1
            && rep_el.name != "array"
            && rep_el.name != format!("{}_tuple", el.name);
        let child = if three_level {
            *pos += 1;
            parse(els, pos, d + 1, rep + 1, leaf, depth + 1)?
        } else {
            // Legacy 2-level list: the repeated field itself is the (required) element.
            parse_as(
                els,
                pos,
                d + 1,
                rep + 1,
                leaf,
                depth + 1,
                repetition::REQUIRED,
            )?
        };
        let field = Field::new(
            el.name.clone(),
            DataType::List(Arc::new(child.field().clone())),
            nullable,
        );
        return Ok(RNode::List {
            def: d,
            nullable,
            rep: rep + 1,
            child: Box::new(child),
            field,
        });
    }
    let mut children = Vec::with_capacity(n);
    for _ in 0..n {
        children.push(parse(els, pos, d, rep, leaf, depth + 1)?);
    }
    let fields: Vec<Field> = children.iter().map(|c| c.field().clone()).collect();
    let field = Field::new(
        el.name.clone(),
        DataType::Struct(Fields::from(fields)),
        nullable,
    );
    Ok(RNode::Struct {
        def: d,
        nullable,
        children,
        field,
    })
}

/// One decoded leaf: values with one slot per level, and the levels.
pub struct LeafData {
    pub values: ArrayRef,
    pub def: Vec<u32>,
    pub rep: Vec<u32>,
}

/// Slots of a node: for every leaf below it (global index), one level range per element.
type Slots = std::collections::HashMap<usize, Vec<(usize, usize)>>;

/// Split each leaf's levels into rows (a row starts at repetition level 0).
pub fn top_slots(node: &RNode, leaves: &[Option<LeafData>], rows: usize) -> Result<Slots> {
    let mut ids = Vec::new();
    node.leaves(&mut ids);
    let mut slots = Slots::new();
    for id in ids {
        let d = leaves
            .get(id)
            .and_then(|l| l.as_ref())
            .ok_or_else(|| corrupt("missing leaf"))?;
        let n = d.def.len();
        let mut ranges = Vec::with_capacity(rows);
        let mut start = 0;
        for p in 1..=n {
            if p == n || d.rep.get(p).copied().unwrap_or(0) == 0 {
                ranges.push((start, p));
                start = p;
            }
        }
        if ranges.len() != rows {
            return Err(corrupt(format!(
                "nested leaf holds {} rows, the row group {rows}",
                ranges.len()
            )));
        }
        slots.insert(id, ranges);
    }
    Ok(slots)
}

fn leaf_of(leaves: &[Option<LeafData>], id: usize) -> Result<&LeafData> {
    leaves
        .get(id)
        .and_then(|l| l.as_ref())
        .ok_or_else(|| corrupt("missing leaf"))
}

fn validity(
    node_def: u32,
    nullable: bool,
    first: &LeafData,
    ranges: &[(usize, usize)],
) -> Option<NullBuffer> {
    if !nullable {
        return None;
    }
    let valid: Vec<bool> = ranges
        .iter()
        .map(|&(s, _)| first.def.get(s).copied().unwrap_or(0) >= node_def)
        .collect();
    let nb = NullBuffer::from(valid);
    (nb.null_count() > 0).then_some(nb)
}

/// Reassemble the Arrow array of `node` over `slots`.
pub fn build(node: &RNode, slots: &Slots, leaves: &[Option<LeafData>]) -> Result<ArrayRef> {
    let first_id = node.first_leaf();
    let first = leaf_of(leaves, first_id)?;
    let ranges = slots
        .get(&first_id)
        .ok_or_else(|| corrupt("missing slots"))?;
    match node {
        RNode::Leaf { leaf, .. } => {
            let d = leaf_of(leaves, *leaf)?;
            let n = d.values.len();
            let identity = ranges.len() == n
                && ranges
                    .iter()
                    .enumerate()
                    .all(|(i, &(s, e))| s == i && e == i + 1);
            if identity {
                return Ok(d.values.clone());
            }
            let data = d.values.to_data();
            let mut m = MutableArrayData::new(vec![&data], true, ranges.len());
            let mut run: Option<(usize, usize)> = None;
            for &(s, e) in ranges {
                if e != s + 1 || s >= n {
                    return Err(corrupt("leaf slot spans several levels"));
                }
                run = match run {
                    Some((a, b)) if b == s => Some((a, s + 1)),
                    Some((a, b)) => {
                        m.try_extend(0, a, b)
                            .map_err(|e| corrupt(format!("leaf: {e}")))?;
                        Some((s, s + 1))
                    }
                    None => Some((s, s + 1)),
                };
            }
            if let Some((a, b)) = run {
                m.try_extend(0, a, b)
                    .map_err(|e| corrupt(format!("leaf: {e}")))?;
            }
            Ok(make_array(m.freeze()))
        }
        RNode::Struct {
            def,
            nullable,
            children,
            field,
        } => {
            let DataType::Struct(fields) = field.data_type() else {
                return Err(corrupt("struct node without struct type"));
            };
            let arrays = children
                .iter()
                .map(|c| build(c, slots, leaves))
                .collect::<Result<Vec<_>>>()?;
            let nulls = validity(*def, *nullable, first, ranges);
            Ok(Arc::new(
                StructArray::try_new(fields.clone(), arrays, nulls)
                    .map_err(|e| corrupt(format!("struct {:?}: {e}", field.name())))?,
            ))
        }
        RNode::List {
            def,
            nullable,
            rep,
            child,
            field,
        } => {
            let (offsets, child_slots) = split_elements(*def, *rep, node, slots, leaves)?;
            let DataType::List(item) = field.data_type() else {
                return Err(corrupt("list node without list type"));
            };
            let values = build(child, &child_slots, leaves)?;
            let nulls = validity(*def, *nullable, first, ranges);
            Ok(Arc::new(
                ListArray::try_new(item.clone(), offsets, values, nulls)
                    .map_err(|e| corrupt(format!("list {:?}: {e}", field.name())))?,
            ))
        }
        RNode::Map {
            def,
            nullable,
            rep,
            key,
            value,
            field,
        } => {
            let (offsets, child_slots) = split_elements(*def, *rep, node, slots, leaves)?;
            let DataType::Map(entries_field, _) = field.data_type() else {
                return Err(corrupt("map node without map type"));
            };
            let DataType::Struct(kv) = entries_field.data_type() else {
                return Err(corrupt("map entries without struct type"));
            };
            let k = build(key, &child_slots, leaves)?;
            let v = build(value, &child_slots, leaves)?;
            if k.null_count() > 0 {
                return Err(corrupt("map key is null"));
            }
            let entries = StructArray::try_new(kv.clone(), vec![k, v], None)
                .map_err(|e| corrupt(format!("map {:?}: {e}", field.name())))?;
            let nulls = validity(*def, *nullable, first, ranges);
            Ok(Arc::new(
                MapArray::try_new(entries_field.clone(), offsets, entries, nulls, false)
                    .map_err(|e| corrupt(format!("map {:?}: {e}", field.name())))?,
            ))
        }
    }
}

/// For a list/map node: offsets (from the first leaf) and the element slots of every leaf.
fn split_elements(
    def: u32,
    rep: u32,
    node: &RNode,
    slots: &Slots,
    leaves: &[Option<LeafData>],
) -> Result<(OffsetBuffer<i32>, Slots)> {
    let mut ids = Vec::new();
    node.leaves(&mut ids);
    let mut child = Slots::new();
    let mut offsets: Option<Vec<i32>> = None;
    for id in ids {
        let d = leaf_of(leaves, id)?;
        let ranges = slots.get(&id).ok_or_else(|| corrupt("missing slots"))?;
        let mut out = Vec::with_capacity(ranges.len());
        let mut offs = Vec::with_capacity(ranges.len() + 1);
        offs.push(0i32);
        for &(s, e) in ranges {
            let present = d.def.get(s).copied().unwrap_or(0) > def;
            if present {
                let mut start = s;
                for p in s + 1..=e {
                    if p == e || d.rep.get(p).copied().unwrap_or(0) <= rep {
                        out.push((start, p));
                        start = p;
                    }
                }
            } else if e != s + 1 {
                return Err(corrupt("empty or null list spans several levels"));
            }
            let n = i32::try_from(out.len()).map_err(|_| corrupt("list too long"))?;
            offs.push(n);
        }
        match &offsets {
            None => offsets = Some(offs),
            Some(o) if *o != offs => {
                return Err(corrupt("leaves of a list disagree on its lengths"));
            }
            Some(_) => {}
        }
        child.insert(id, out);
    }
    let offs = offsets.ok_or_else(|| corrupt("list without leaves"))?;
    Ok((OffsetBuffer::new(ScalarBuffer::from(offs)), child))
}

impl super::ParquetFile {
    /// Decode a nested top-level column of row group `rg`: every leaf below `node` with its
    /// levels, then Dremel reassembly.
    pub(super) fn read_nested(&self, rg: usize, node: &RNode) -> Result<ArrayRef> {
        let group = &self.metadata.row_groups[rg];
        let mut specs = Vec::new();
        leaf_levels(node, &mut specs);
        let mut leaves: Vec<Option<LeafData>> = (0..self.num_leaves).map(|_| None).collect();
        for (leaf, el, max_def, max_rep, dt) in specs {
            let chunk = group
                .columns
                .get(leaf)
                .ok_or_else(|| Error::corrupt("missing column chunk"))?;
            let meta = chunk
                .meta_data
                .as_ref()
                .ok_or_else(|| Error::corrupt("column chunk without metadata"))?;
            if Some(meta.type_) != el.type_ {
                return Err(Error::corrupt("chunk type differs from the schema"));
            }
            let levels = usize::try_from(meta.num_values)
                .map_err(|_| Error::corrupt("negative value count"))?;
            let (start, len) = self.chunk_range(meta);
            let bytes = self.read_chunk_bytes(start, len)?;
            let dec = super::column::ChunkDecoder::new(&el, max_def, meta.codec, &bytes, levels)?
                .nested(max_rep);
            let (values, def, rep) = dec
                .decode_levels_and_values(&dt)
                .map_err(|e| e.at_offset(start as u64))?;
            let rep = if max_rep == 0 {
                vec![0; def.len()]
            } else {
                rep
            };
            if let Some(slot) = leaves.get_mut(leaf) {
                *slot = Some(LeafData { values, def, rep });
            }
        }
        let slots = top_slots(node, &leaves, group.num_rows as usize)?;
        build(node, &slots, &leaves)
    }
}
