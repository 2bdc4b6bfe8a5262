//! Nested columns (struct, list, large_list, map): the Parquet schema subtree and the Dremel
//! definition/repetition levels of every leaf.
//!
//! Lists use the 3-level layout (`<opt> group name (LIST) { repeated group list { <opt>
//! element } }`), maps `<opt> group name (MAP) { repeated group key_value { required key;
//! <opt> value } }`, as pyarrow writes them. Each row is walked top-down; at every leaf a
//! (repetition, definition) pair is emitted, plus a value when the leaf is defined. A null or
//! empty ancestor emits one pair for each leaf below it and no value.

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_schema::{DataType, Field};

use super::schema::{LeafSpec, leaf_for};
use super::values::{ColumnData, Values, empty_values, gather};
use crate::parquet::metadata::{LogicalType, SchemaElement, converted, repetition};
use minide_common::{Error, Result};

/// The shape of a nested column, mirroring its Arrow type.
pub enum Node {
    Leaf {
        nullable: bool,
        leaf: usize,
    },
    Struct {
        nullable: bool,
        children: Vec<Node>,
    },
    List {
        nullable: bool,
        rep: u32,
        child: Box<Node>,
    },
    Map {
        nullable: bool,
        rep: u32,
        key: Box<Node>,
        value: Box<Node>,
    },
}

impl Node {
    fn nullable(&self) -> bool {
        match self {
            Node::Leaf { nullable, .. }
            | Node::Struct { nullable, .. }
            | Node::List { nullable, .. }
            | Node::Map { nullable, .. } => *nullable,
        }
    }

    fn leaves(&self, out: &mut Vec<usize>) {
        match self {
            Node::Leaf { leaf, .. } => out.push(*leaf),
            Node::Struct { children, .. } => children.iter().for_each(|c| c.leaves(out)),
            Node::List { child, .. } => child.leaves(out),
            Node::Map { key, value, .. } => {
                key.leaves(out);
                value.leaves(out);
            }
        }
    }
}

/// Schema subtree and leaves of one top-level nested column.
pub struct NestedSpec {
    pub elements: Vec<SchemaElement>,
    pub leaves: Vec<LeafSpec>,
    pub root: Node,
}

pub fn is_nested(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Struct(_) | DataType::List(_) | DataType::LargeList(_) | DataType::Map(..)
    )
}

fn group(name: &str, nullable: bool, children: usize) -> SchemaElement {
    SchemaElement {
        name: name.to_string(),
        repetition_type: Some(if nullable {
            repetition::OPTIONAL
        } else {
            repetition::REQUIRED
        }),
        num_children: Some(children as i32),
        ..Default::default()
    }
}

fn repeated_group(name: &str, children: usize) -> SchemaElement {
    SchemaElement {
        name: name.to_string(),
        repetition_type: Some(repetition::REPEATED),
        num_children: Some(children as i32),
        ..Default::default()
    }
}

struct Builder {
    elements: Vec<SchemaElement>,
    leaves: Vec<LeafSpec>,
}

impl Builder {
    fn build(
        &mut self,
        field: &Field,
        name: &str,
        def: u32,
        rep: u32,
        path: &[String],
        depth: usize,
    ) -> Result<Node> {
        if depth > 32 {
            return Err(Error::unsupported("nesting deeper than 32 levels"));
        }
        let nullable = field.is_nullable();
        let d = def + u32::from(nullable);
        let mut path = path.to_vec();
        path.push(name.to_string());
        match field.data_type() {
            DataType::Struct(fields) => {
                if fields.is_empty() {
                    return Err(Error::unsupported(format!("empty struct column {name:?}")));
                }
                self.elements.push(group(name, nullable, fields.len()));
                let children = fields
                    .iter()
                    .map(|f| self.build(f, f.name(), d, rep, &path, depth + 1))
                    .collect::<Result<Vec<_>>>()?;
                Ok(Node::Struct { nullable, children })
            }
            DataType::List(child) | DataType::LargeList(child) => {
                let mut g = group(name, nullable, 1);
                g.converted_type = Some(converted::LIST);
                g.logical_type = Some(LogicalType::List);
                self.elements.push(g);
                self.elements.push(repeated_group("list", 1));
                path.push("list".into());
                let child = self.build(child, "element", d + 1, rep + 1, &path, depth + 1)?;
                Ok(Node::List {
                    nullable,
                    rep: rep + 1,
                    child: Box::new(child),
                })
            }
            DataType::Map(entries, _) => {
                let DataType::Struct(kv) = entries.data_type() else {
                    return Err(Error::schema("map entries are not a struct"));
                };
                let (Some(k), Some(v)) = (kv.first(), kv.get(1)) else {
                    return Err(Error::schema("map entries need a key and a value"));
                };
                let mut g = group(name, nullable, 1);
                g.converted_type = Some(converted::MAP);
                g.logical_type = Some(LogicalType::Map);
                self.elements.push(g);
                self.elements.push(repeated_group("key_value", 2));
                path.push("key_value".into());
                let key_field = k.as_ref().clone().with_nullable(false);
                let key = self.build(&key_field, "key", d + 1, rep + 1, &path, depth + 1)?;
                let value = self.build(v, "value", d + 1, rep + 1, &path, depth + 1)?;
                Ok(Node::Map {
                    nullable,
                    rep: rep + 1,
                    key: Box::new(key),
                    value: Box::new(value),
                })
            }
            _ => {
                let mut spec = leaf_for(&field.clone().with_name(name))?;
                spec.path = path;
                spec.max_def = d;
                spec.max_rep = rep;
                self.elements.push(spec.element.clone());
                let leaf = self.leaves.len();
                self.leaves.push(spec);
                Ok(Node::Leaf { nullable, leaf })
            }
        }
    }
}

pub fn spec_for(field: &Field) -> Result<NestedSpec> {
    let mut b = Builder {
        elements: Vec::new(),
        leaves: Vec::new(),
    };
    let root = b.build(field, field.name(), 0, 0, &[], 0)?;
    Ok(NestedSpec {
        elements: b.elements,
        leaves: b.leaves,
        root,
    })
}

/// Levels and value positions of one leaf while walking a batch.
struct LeafOut<'a> {
    def: Vec<u32>,
    rep: Vec<u32>,
    array: Option<&'a dyn Array>,
    idx: Vec<usize>,
}

fn push_nulls(node: &Node, rep: u32, def: u32, outs: &mut [LeafOut<'_>]) {
    let mut ls = Vec::new();
    node.leaves(&mut ls);
    for l in ls {
        outs[l].def.push(def);
        outs[l].rep.push(rep);
    }
}

fn walk<'a>(
    node: &Node,
    arr: &'a dyn Array,
    i: usize,
    rep: u32,
    def: u32,
    outs: &mut [LeafOut<'a>],
) -> Result<()> {
    let mut def = def;
    if node.nullable() {
        if arr.is_null(i) {
            push_nulls(node, rep, def, outs);
            return Ok(());
        }
        def += 1;
    } else if arr.is_null(i) {
        return Err(Error::schema("a non-nullable nested field holds nulls"));
    }
    match node {
        Node::Leaf { leaf, .. } => {
            let o = &mut outs[*leaf];
            o.def.push(def);
            o.rep.push(rep);
            o.array = Some(arr);
            o.idx.push(i);
        }
        Node::Struct { children, .. } => {
            let s = arr.as_struct();
            for (c, child) in children.iter().enumerate() {
                walk(child, s.column(c).as_ref(), i, rep, def, outs)?;
            }
        }
        Node::List { rep: r, child, .. } => {
            let (start, end, values): (usize, usize, &'a dyn Array) = match arr.data_type() {
                DataType::List(_) => {
                    let l = arr.as_list::<i32>();
                    let o = l.value_offsets();
                    (o[i] as usize, o[i + 1] as usize, l.values().as_ref())
                }
                _ => {
                    let l = arr.as_list::<i64>();
                    let o = l.value_offsets();
                    (o[i] as usize, o[i + 1] as usize, l.values().as_ref())
                }
            };
            if start == end {
                push_nulls(child, rep, def, outs);
            }
            for (k, j) in (start..end).enumerate() {
                walk(
                    child,
                    values,
                    j,
                    if k == 0 { rep } else { *r },
                    def + 1,
                    outs,
                )?;
            }
        }
        Node::Map {
            rep: r, key, value, ..
        } => {
            let m = arr.as_map();
            let o = m.value_offsets();
            let (start, end) = (o[i] as usize, o[i + 1] as usize);
            let entries = m.entries();
            if start == end {
                push_nulls(key, rep, def, outs);
                push_nulls(value, rep, def, outs);
            }
            for (k, j) in (start..end).enumerate() {
                let rr = if k == 0 { rep } else { *r };
                walk(key, entries.column(0).as_ref(), j, rr, def + 1, outs)?;
                walk(value, entries.column(1).as_ref(), j, rr, def + 1, outs)?;
            }
        }
    }
    Ok(())
}

/// Gather the leaves of a nested column over the arrays of one row group.
pub fn collect<'a>(arrays: &[&'a dyn Array], spec: &NestedSpec) -> Result<Vec<ColumnData<'a>>> {
    let mut outs: Vec<LeafOut<'a>> = spec
        .leaves
        .iter()
        .map(|_| LeafOut {
            def: Vec::new(),
            rep: Vec::new(),
            array: None,
            idx: Vec::new(),
        })
        .collect();
    let mut values: Vec<Values<'a>> = Vec::with_capacity(spec.leaves.len());
    for l in &spec.leaves {
        let dt = leaf_value_type(l);
        values.push(empty_values(
            &dt,
            l.element.type_length.unwrap_or(16).max(1) as usize,
        )?);
    }
    let mut rows = 0;
    for &a in arrays {
        for i in 0..a.len() {
            walk(&spec.root, a, i, 0, 0, &mut outs)?;
        }
        rows += a.len();
        for (o, v) in outs.iter_mut().zip(values.iter_mut()) {
            if let Some(arr) = o.array.take() {
                match arr.as_any_dictionary_opt() {
                    Some(d) if !d.values().is_empty() => {
                        let keys = d.normalized_keys();
                        gather(d.values().as_ref(), o.idx.iter().map(|&i| keys[i]), v)?;
                    }
                    Some(_) => {}
                    None => gather(arr, o.idx.iter().copied(), v)?,
                }
            }
            o.idx.clear();
        }
    }
    Ok(outs
        .into_iter()
        .zip(values)
        .zip(&spec.leaves)
        .map(|((o, values), l)| ColumnData {
            values,
            def: (l.max_def > 0).then_some(o.def),
            rep: (l.max_rep > 0).then_some(o.rep),
            max_def: l.max_def,
            max_rep: l.max_rep,
            num_rows: rows,
        })
        .collect())
}

/// The Arrow value type a leaf's values are gathered as (from its schema element).
fn leaf_value_type(l: &LeafSpec) -> DataType {
    l.arrow_type.clone()
}
