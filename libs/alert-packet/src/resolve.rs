//! Re-encoding data written with one schema into another, by Avro schema resolution.
//!
//! A [`Resolution`] is planned once per (writer, reader) pair and then applied to any number
//! of bodies without building values: sub-trees whose encoding is the same in both schemas are
//! skipped over and copied as bytes, fields the reader lacks are skipped, fields the writer
//! lacks get the reader's default (encoded once, at planning time), and only what really
//! changes (promotions, union branches, enum symbols, reordered fields) is rewritten. When the
//! two schemas have the same canonical form the plan is the identity and a body is copied as
//! it is.
//!
//! Arrays and maps that need rewriting are written as one block per writer block (with
//! positive counts); writers that use a single block, as fastavro and this crate do, therefore
//! get exactly the bytes a decode + encode would give.

use crate::binary::{write_long, Cursor, DecodeError};
use crate::schema::{Node, NodeId, Schema};
use crate::value::{default_value, encode_node, skip_node};
use std::collections::HashMap;
use std::sync::Arc;

/// The two schemas cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot resolve writer schema into reader schema at {path}: {reason}")]
pub struct ResolveError {
    pub path: String,
    pub reason: String,
}

/// A body could not be re-encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReencodeError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("at {path}: the writer's union branch {branch} has no counterpart in the reader's schema ({reason})")]
    UnmatchedBranch {
        path: String,
        branch: usize,
        reason: String,
    },
    #[error("at {path}: enum symbol `{symbol}` is not in the reader's enum, which has no default")]
    UnknownSymbol { path: String, symbol: String },
}

type StepId = usize;

#[derive(Debug, Clone)]
enum Step {
    /// Same encoding on both sides: skip the writer value and copy its bytes.
    Copy(NodeId),
    /// int or long (a varint) to float.
    LongToFloat,
    /// int or long to double.
    LongToDouble,
    FloatToDouble,
    Record(RecordPlan),
    Array(StepId),
    Map(StepId),
    Enum {
        path: String,
        symbols: Vec<String>,
        to_reader: Vec<Option<u32>>,
        default: Option<u32>,
    },
    /// Writer union: per writer branch, the reader union index to write (if the reader is a
    /// union) and the step, or why that branch cannot be read.
    FromUnion {
        path: String,
        branches: Vec<Result<(Option<u32>, StepId), String>>,
    },
    /// Writer not a union, reader a union: write the branch index, then the step.
    ToUnion {
        index: u32,
        step: StepId,
    },
    /// Placeholder while a recursive type is being planned.
    Pending,
}

#[derive(Debug, Clone)]
enum RecordPlan {
    /// Kept fields are in the same relative order in both schemas: stream through.
    InOrder(Vec<Op>),
    /// Fields are reordered: re-encode each kept writer field into its own buffer, then emit
    /// in the reader's order.
    Reordered {
        writer_fields: Vec<WriterField>,
        output: Vec<Output>,
    },
}

#[derive(Debug, Clone)]
enum Op {
    /// Skip these writer fields and copy their bytes as one run.
    CopyRun(Vec<NodeId>),
    Skip(NodeId),
    Run(StepId),
    Emit(Vec<u8>),
}

#[derive(Debug, Clone)]
enum WriterField {
    Skip(NodeId),
    Keep(StepId),
}

#[derive(Debug, Clone)]
enum Output {
    WriterField(usize),
    Default(Vec<u8>),
}

/// A planned re-encoding from `writer` to `reader`.
#[derive(Debug, Clone)]
pub struct Resolution {
    writer: Arc<Schema>,
    reader: Arc<Schema>,
    steps: Vec<Step>,
    root: Option<StepId>,
}

impl Resolution {
    /// Plans the re-encoding, or names the field where the schemas cannot be resolved.
    pub fn new(writer: Arc<Schema>, reader: Arc<Schema>) -> Result<Resolution, ResolveError> {
        if writer.canonical_form() == reader.canonical_form() {
            return Ok(Resolution {
                writer,
                reader,
                steps: Vec::new(),
                root: None,
            });
        }
        let mut planner = Planner {
            w: &writer,
            r: &reader,
            steps: Vec::new(),
            memo: HashMap::new(),
        };
        let root = planner.plan(writer.root(), reader.root(), reader.name().unwrap_or("$"))?;
        let steps = planner.steps;
        Ok(Resolution {
            writer,
            reader,
            steps,
            root: Some(root),
        })
    }

    /// True when bodies are copied unchanged (same canonical form).
    pub fn is_identity(&self) -> bool {
        self.root.is_none()
    }

    pub fn writer(&self) -> &Arc<Schema> {
        &self.writer
    }

    pub fn reader(&self) -> &Arc<Schema> {
        &self.reader
    }

    /// Appends the reader-schema encoding of `body` (one writer datum, exactly) to `out`.
    pub fn reencode(&self, body: &[u8], out: &mut Vec<u8>) -> Result<(), ReencodeError> {
        let mut cursor = Cursor::new(body);
        match self.root {
            None => {
                // Identity still checks the body is one whole datum.
                skip_node(&self.writer, self.writer.root(), &mut cursor)?;
                cursor.finish()?;
                out.extend_from_slice(body);
            }
            Some(root) => {
                out.reserve(body.len());
                self.run(root, &mut cursor, out)?;
                cursor.finish()?;
            }
        }
        Ok(())
    }

    /// Like [`reencode`](Self::reencode) but trusting that an identity body is well formed:
    /// a plain copy, for bodies this process has already validated.
    pub fn reencode_trusted(&self, body: &[u8], out: &mut Vec<u8>) -> Result<(), ReencodeError> {
        if self.root.is_none() {
            out.extend_from_slice(body);
            return Ok(());
        }
        self.reencode(body, out)
    }

    fn run(
        &self,
        step: StepId,
        cursor: &mut Cursor<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), ReencodeError> {
        match &self.steps[step] {
            Step::Copy(node) => {
                let start = cursor.position();
                skip_node(&self.writer, *node, cursor)?;
                out.extend_from_slice(cursor.since(start));
            }
            Step::LongToFloat => {
                let v = cursor.long()?;
                out.extend_from_slice(&(v as f32).to_le_bytes());
            }
            Step::LongToDouble => {
                let v = cursor.long()?;
                out.extend_from_slice(&(v as f64).to_le_bytes());
            }
            Step::FloatToDouble => {
                let v = cursor.float()?;
                out.extend_from_slice(&f64::from(v).to_le_bytes());
            }
            Step::Record(RecordPlan::InOrder(ops)) => {
                for op in ops {
                    match op {
                        Op::CopyRun(nodes) => {
                            let start = cursor.position();
                            for node in nodes {
                                skip_node(&self.writer, *node, cursor)?;
                            }
                            out.extend_from_slice(cursor.since(start));
                        }
                        Op::Skip(node) => skip_node(&self.writer, *node, cursor)?,
                        Op::Run(step) => self.run(*step, cursor, out)?,
                        Op::Emit(bytes) => out.extend_from_slice(bytes),
                    }
                }
            }
            Step::Record(RecordPlan::Reordered {
                writer_fields,
                output,
            }) => {
                let mut buffers: Vec<Vec<u8>> = Vec::with_capacity(writer_fields.len());
                for field in writer_fields {
                    let mut buffer = Vec::new();
                    match field {
                        WriterField::Skip(node) => skip_node(&self.writer, *node, cursor)?,
                        WriterField::Keep(step) => self.run(*step, cursor, &mut buffer)?,
                    }
                    buffers.push(buffer);
                }
                for source in output {
                    match source {
                        Output::WriterField(i) => out.extend_from_slice(&buffers[*i]),
                        Output::Default(bytes) => out.extend_from_slice(bytes),
                    }
                }
            }
            Step::Array(items) | Step::Map(items) => {
                let is_map = matches!(self.steps[step], Step::Map(_));
                loop {
                    let (count, _) = cursor.block_count()?;
                    if count == 0 {
                        break;
                    }
                    write_long(out, count as i64);
                    for _ in 0..count {
                        if is_map {
                            let key = cursor.bytes()?;
                            crate::binary::write_bytes(out, key);
                        }
                        self.run(*items, cursor, out)?;
                    }
                }
                out.push(0);
            }
            Step::Enum {
                path,
                symbols,
                to_reader,
                default,
            } => {
                let at = cursor.position();
                let index = cursor.long()?;
                let mapped = usize::try_from(index)
                    .ok()
                    .and_then(|i| to_reader.get(i).copied());
                match mapped {
                    Some(Some(reader_index)) => write_long(out, i64::from(reader_index)),
                    Some(None) => match default {
                        Some(d) => write_long(out, i64::from(*d)),
                        None => {
                            return Err(ReencodeError::UnknownSymbol {
                                path: path.clone(),
                                symbol: symbols[index as usize].clone(),
                            })
                        }
                    },
                    None => {
                        return Err(DecodeError::EnumIndex {
                            at,
                            index,
                            symbols: to_reader.len(),
                            path: path.clone(),
                        }
                        .into())
                    }
                }
            }
            Step::FromUnion { path, branches } => {
                let at = cursor.position();
                let index = cursor.long()?;
                match usize::try_from(index).ok().and_then(|i| branches.get(i)) {
                    Some(Ok((reader_index, step))) => {
                        if let Some(reader_index) = reader_index {
                            write_long(out, i64::from(*reader_index));
                        }
                        self.run(*step, cursor, out)?;
                    }
                    Some(Err(reason)) => {
                        return Err(ReencodeError::UnmatchedBranch {
                            path: path.clone(),
                            branch: index as usize,
                            reason: reason.clone(),
                        })
                    }
                    None => {
                        return Err(DecodeError::UnionIndex {
                            at,
                            index,
                            branches: branches.len(),
                            path: path.clone(),
                        }
                        .into())
                    }
                }
            }
            Step::ToUnion { index, step } => {
                write_long(out, i64::from(*index));
                self.run(*step, cursor, out)?;
            }
            Step::Pending => unreachable!("planning completes every step"),
        }
        Ok(())
    }
}

struct Planner<'s> {
    w: &'s Schema,
    r: &'s Schema,
    steps: Vec<Step>,
    memo: HashMap<(NodeId, NodeId), StepId>,
}

fn unqualified(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// Reader name (and aliases) match the writer name, ignoring namespaces: alert schema versions
/// differ in namespace (`lsst.v10_0` → `lsst.v11_1`) but describe the same types.
fn names_match(writer: &str, reader: &str, reader_aliases: &[String]) -> bool {
    unqualified(writer) == unqualified(reader)
        || reader_aliases
            .iter()
            .any(|a| a == writer || unqualified(a) == unqualified(writer))
}

impl Planner<'_> {
    fn push(&mut self, step: Step) -> StepId {
        self.steps.push(step);
        self.steps.len() - 1
    }

    /// Same encoding and trivial resolution: the bytes can be copied.
    fn equivalent(&self, w: NodeId, r: NodeId, depth: usize) -> bool {
        if depth > 64 {
            return false;
        }
        match (self.w.node(w), self.r.node(r)) {
            (Node::Null, Node::Null)
            | (Node::Boolean, Node::Boolean)
            | (Node::Int, Node::Int)
            | (Node::Long, Node::Long)
            | (Node::Float, Node::Float)
            | (Node::Double, Node::Double)
            | (Node::Bytes | Node::String, Node::Bytes | Node::String)
            | (Node::Int, Node::Long) => true,
            (Node::Fixed(a), Node::Fixed(b)) => {
                a.size == b.size && names_match(&a.name, &b.name, &b.aliases)
            }
            (Node::Enum(a), Node::Enum(b)) => {
                a.symbols == b.symbols && names_match(&a.name, &b.name, &b.aliases)
            }
            (Node::Array(a), Node::Array(b)) | (Node::Map(a), Node::Map(b)) => {
                self.equivalent(*a, *b, depth + 1)
            }
            (Node::Union(a), Node::Union(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|(x, y)| self.equivalent(*x, *y, depth + 1))
            }
            (Node::Record(a), Node::Record(b)) => {
                names_match(&a.name, &b.name, &b.aliases)
                    && a.fields.len() == b.fields.len()
                    && a.fields.iter().zip(&b.fields).all(|(x, y)| {
                        x.name == y.name && self.equivalent(x.schema, y.schema, depth + 1)
                    })
            }
            _ => false,
        }
    }

    /// Whether the writer type can be read as the reader type, for choosing a union branch:
    /// 2 = same kind (and name), 1 = by promotion, 0 = no.
    fn affinity(&self, w: NodeId, r: NodeId) -> u8 {
        match (self.w.node(w), self.r.node(r)) {
            (Node::Null, Node::Null)
            | (Node::Boolean, Node::Boolean)
            | (Node::Int, Node::Int)
            | (Node::Long, Node::Long)
            | (Node::Float, Node::Float)
            | (Node::Double, Node::Double)
            | (Node::Bytes, Node::Bytes)
            | (Node::String, Node::String)
            | (Node::Array(_), Node::Array(_))
            | (Node::Map(_), Node::Map(_)) => 2,
            (Node::Record(a), Node::Record(b)) if names_match(&a.name, &b.name, &b.aliases) => 2,
            (Node::Enum(a), Node::Enum(b)) if names_match(&a.name, &b.name, &b.aliases) => 2,
            (Node::Fixed(a), Node::Fixed(b))
                if names_match(&a.name, &b.name, &b.aliases) && a.size == b.size =>
            {
                2
            }
            (Node::Int, Node::Long | Node::Float | Node::Double)
            | (Node::Long, Node::Float | Node::Double)
            | (Node::Float, Node::Double)
            | (Node::String, Node::Bytes)
            | (Node::Bytes, Node::String) => 1,
            _ => 0,
        }
    }

    fn best_branch(&self, w: NodeId, reader_branches: &[NodeId]) -> Option<usize> {
        let exact = reader_branches
            .iter()
            .position(|b| self.affinity(w, *b) == 2);
        exact.or_else(|| {
            reader_branches
                .iter()
                .position(|b| self.affinity(w, *b) == 1)
        })
    }

    fn plan(&mut self, w: NodeId, r: NodeId, path: &str) -> Result<StepId, ResolveError> {
        if let Some(step) = self.memo.get(&(w, r)) {
            return Ok(*step);
        }
        if self.equivalent(w, r, 0) {
            let step = self.push(Step::Copy(w));
            self.memo.insert((w, r), step);
            return Ok(step);
        }
        let id = self.push(Step::Pending);
        self.memo.insert((w, r), id);
        let fail = |reason: String| ResolveError {
            path: path.to_owned(),
            reason,
        };
        let step = match (self.w.node(w), self.r.node(r)) {
            (Node::Union(writer_branches), reader) => {
                let writer_branches = writer_branches.clone();
                let reader_branches = match reader {
                    Node::Union(b) => Some(b.clone()),
                    _ => None,
                };
                let mut branches = Vec::with_capacity(writer_branches.len());
                for wb in writer_branches {
                    let planned = match &reader_branches {
                        Some(rbs) => match self.best_branch(wb, rbs) {
                            Some(i) => self.plan(wb, rbs[i], path).map(|s| (Some(i as u32), s)),
                            None => Err(fail(format!(
                                "no branch of the reader's union accepts the writer's {}",
                                self.w.node(wb).describe()
                            ))),
                        },
                        None => self.plan(wb, r, path).map(|s| (None, s)),
                    };
                    // A branch that cannot be read is an error only if data uses it.
                    branches.push(planned.map_err(|e| e.reason));
                }
                if branches.iter().all(Result::is_err) {
                    return Err(fail(format!(
                        "no branch of the writer's union can be read as the reader's {}",
                        self.r.node(r).describe()
                    )));
                }
                Step::FromUnion {
                    path: path.to_owned(),
                    branches,
                }
            }
            (_, Node::Union(reader_branches)) => {
                let reader_branches = reader_branches.clone();
                let index = self.best_branch(w, &reader_branches).ok_or_else(|| {
                    fail(format!(
                        "the reader's union has no branch for the writer's {}",
                        self.w.node(w).describe()
                    ))
                })?;
                let step = self.plan(w, reader_branches[index], path)?;
                Step::ToUnion {
                    index: index as u32,
                    step,
                }
            }
            (Node::Int | Node::Long, Node::Float) => Step::LongToFloat,
            (Node::Int | Node::Long, Node::Double) => Step::LongToDouble,
            (Node::Float, Node::Double) => Step::FloatToDouble,
            (Node::Array(wi), Node::Array(ri)) => {
                let (wi, ri) = (*wi, *ri);
                Step::Array(self.plan(wi, ri, &format!("{path}[]"))?)
            }
            (Node::Map(wv), Node::Map(rv)) => {
                let (wv, rv) = (*wv, *rv);
                Step::Map(self.plan(wv, rv, &format!("{path}{{}}"))?)
            }
            (Node::Enum(we), Node::Enum(re)) => {
                if !names_match(&we.name, &re.name, &re.aliases) {
                    return Err(fail(format!(
                        "enum names differ: writer `{}`, reader `{}`",
                        we.name, re.name
                    )));
                }
                let to_reader = we
                    .symbols
                    .iter()
                    .map(|s| re.symbols.iter().position(|x| x == s).map(|i| i as u32))
                    .collect();
                let default = re
                    .default
                    .as_ref()
                    .and_then(|d| re.symbols.iter().position(|x| x == d))
                    .map(|i| i as u32);
                Step::Enum {
                    path: path.to_owned(),
                    symbols: we.symbols.clone(),
                    to_reader,
                    default,
                }
            }
            (Node::Record(wr), Node::Record(rr)) => {
                if !names_match(&wr.name, &rr.name, &rr.aliases) {
                    return Err(fail(format!(
                        "record names differ: writer `{}`, reader `{}`",
                        wr.name, rr.name
                    )));
                }
                let (wr, rr) = (wr.clone(), rr.clone());
                Step::Record(self.plan_record(&wr, &rr, path)?)
            }
            _ => {
                return Err(fail(format!(
                    "the writer's {} cannot be read as the reader's {}",
                    self.w.node(w).describe(),
                    self.r.node(r).describe()
                )))
            }
        };
        self.steps[id] = step;
        Ok(id)
    }

    fn plan_record(
        &mut self,
        wr: &crate::schema::Record,
        rr: &crate::schema::Record,
        path: &str,
    ) -> Result<RecordPlan, ResolveError> {
        // For each reader field, the writer field it reads (by name, then by the reader's aliases).
        let mut source: Vec<Option<usize>> = Vec::with_capacity(rr.fields.len());
        for rf in &rr.fields {
            let found = wr
                .fields
                .iter()
                .position(|wf| wf.name == rf.name)
                .or_else(|| {
                    wr.fields
                        .iter()
                        .position(|wf| rf.aliases.contains(&wf.name))
                });
            source.push(found);
        }
        // Defaults for reader fields the writer lacks.
        let mut defaults: Vec<Option<Vec<u8>>> = vec![None; rr.fields.len()];
        for (i, rf) in rr.fields.iter().enumerate() {
            if source[i].is_none() {
                let field_path = format!("{path}.{}", rf.name);
                let default = rf.default.as_ref().ok_or_else(|| ResolveError {
                    path: field_path.clone(),
                    reason: format!(
                        "the reader's field `{}` has no default and the writer has no such field",
                        rf.name
                    ),
                })?;
                let value =
                    default_value(self.r, rf.schema, default).map_err(|e| ResolveError {
                        path: field_path.clone(),
                        reason: format!("invalid default: {e}"),
                    })?;
                let mut bytes = Vec::new();
                encode_node(self.r, rf.schema, &value, &mut bytes).map_err(|e| ResolveError {
                    path: field_path,
                    reason: format!("invalid default: {e}"),
                })?;
                defaults[i] = Some(bytes);
            }
        }
        // Steps for kept fields.
        let mut steps: Vec<Option<StepId>> = vec![None; wr.fields.len()];
        for (ri, rf) in rr.fields.iter().enumerate() {
            if let Some(wi) = source[ri] {
                steps[wi] = Some(self.plan(
                    wr.fields[wi].schema,
                    rf.schema,
                    &format!("{path}.{}", rf.name),
                )?);
            }
        }
        let kept: Vec<usize> = source.iter().flatten().copied().collect();
        let in_order = kept.windows(2).all(|w| w[0] < w[1]);
        if !in_order {
            let writer_fields = wr
                .fields
                .iter()
                .enumerate()
                .map(|(wi, wf)| match steps[wi] {
                    Some(step) => WriterField::Keep(step),
                    None => WriterField::Skip(wf.schema),
                })
                .collect();
            let output = (0..rr.fields.len())
                .map(|ri| match source[ri] {
                    Some(wi) => Output::WriterField(wi),
                    None => Output::Default(defaults[ri].clone().unwrap_or_default()),
                })
                .collect();
            return Ok(RecordPlan::Reordered {
                writer_fields,
                output,
            });
        }
        // Stream: walk reader fields in order, consuming writer fields up to each source.
        let mut ops: Vec<Op> = Vec::new();
        let mut next_writer = 0;
        let push = |ops: &mut Vec<Op>, op: Op| {
            if let (Some(Op::CopyRun(run)), Op::CopyRun(more)) = (ops.last_mut(), &op) {
                run.extend_from_slice(more);
                return;
            }
            ops.push(op);
        };
        for ri in 0..rr.fields.len() {
            match source[ri] {
                None => push(&mut ops, Op::Emit(defaults[ri].clone().unwrap_or_default())),
                Some(wi) => {
                    while next_writer < wi {
                        push(&mut ops, Op::Skip(wr.fields[next_writer].schema));
                        next_writer += 1;
                    }
                    let step = steps[wi].unwrap_or_default();
                    match self.steps[step] {
                        Step::Copy(node) => push(&mut ops, Op::CopyRun(vec![node])),
                        _ => push(&mut ops, Op::Run(step)),
                    }
                    next_writer = wi + 1;
                }
            }
        }
        while next_writer < wr.fields.len() {
            push(&mut ops, Op::Skip(wr.fields[next_writer].schema));
            next_writer += 1;
        }
        Ok(RecordPlan::InOrder(ops))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{decode, encode, Value};
    use serde_json::json;

    fn schema(json: serde_json::Value) -> Arc<Schema> {
        Arc::new(Schema::parse(&json).unwrap())
    }

    fn reencode(writer: &Arc<Schema>, reader: &Arc<Schema>, value: &Value) -> Value {
        let resolution = Resolution::new(writer.clone(), reader.clone()).unwrap();
        let mut out = Vec::new();
        resolution
            .reencode(&encode(writer, value).unwrap(), &mut out)
            .unwrap();
        decode(reader, &out).unwrap()
    }

    #[test]
    fn identical_schemas_are_the_identity() {
        let s = schema(
            json!({"type": "record", "name": "r", "fields": [{"name": "a", "type": "long"}]}),
        );
        let resolution = Resolution::new(s.clone(), s.clone()).unwrap();
        assert!(resolution.is_identity());
        let mut out = Vec::new();
        resolution.reencode(&[0x02], &mut out).unwrap();
        assert_eq!(out, [0x02]);
        assert!(
            resolution.reencode(&[0x02, 0x00], &mut Vec::new()).is_err(),
            "trailing bytes are refused"
        );
    }

    #[test]
    fn added_removed_renamed_and_promoted_fields() {
        let writer = schema(
            json!({"type": "record", "name": "alert", "namespace": "lsst.v1_0", "fields": [
                {"name": "id", "type": "long"},
                {"name": "gone", "type": "string"},
                {"name": "oldName", "type": "int"},
                {"name": "flux", "type": "float"},
                {"name": "maybe", "type": ["null", "int"]}
            ]}),
        );
        let reader = schema(
            json!({"type": "record", "name": "alert", "namespace": "lsst.v2_0", "fields": [
                {"name": "id", "type": "long"},
                {"name": "added", "type": ["null", "string"], "default": null},
                {"name": "newName", "aliases": ["oldName"], "type": "long"},
                {"name": "flux", "type": "double"},
                {"name": "maybe", "type": ["null", "long", "string"]},
                {"name": "withDefault", "type": "int", "default": 42}
            ]}),
        );
        let value = Value::Record(vec![
            Value::Long(7),
            Value::String("bye".into()),
            Value::Int(-3),
            Value::Float(2.5),
            Value::Union(1, Box::new(Value::Int(9))),
        ]);
        assert_eq!(
            reencode(&writer, &reader, &value),
            Value::Record(vec![
                Value::Long(7),
                Value::Null,
                Value::Long(-3),
                Value::Double(2.5),
                Value::Long(9),
                Value::Int(42),
            ])
        );
    }

    #[test]
    fn reordered_fields() {
        let writer = schema(json!({"type": "record", "name": "r", "fields": [
            {"name": "a", "type": "int"}, {"name": "b", "type": "string"}, {"name": "c", "type": "double"}]}));
        let reader = schema(json!({"type": "record", "name": "r", "fields": [
            {"name": "c", "type": "double"}, {"name": "a", "type": "long"}]}));
        let value = Value::Record(vec![
            Value::Int(1),
            Value::String("x".into()),
            Value::Double(0.5),
        ]);
        assert_eq!(
            reencode(&writer, &reader, &value),
            Value::Record(vec![Value::Double(0.5), Value::Long(1)])
        );
    }

    #[test]
    fn arrays_of_changed_records_and_union_to_plain() {
        let writer = schema(json!({"type": "record", "name": "r", "fields": [
            {"name": "h", "type": ["null", {"type": "array", "items": {"type": "record", "name": "s", "fields": [
                {"name": "x", "type": "int"}]}}]},
            {"name": "u", "type": ["null", "string"]}]}));
        let reader = schema(json!({"type": "record", "name": "r", "fields": [
            {"name": "h", "type": ["null", {"type": "array", "items": {"type": "record", "name": "s", "fields": [
                {"name": "x", "type": "double"}, {"name": "y", "type": "boolean", "default": true}]}}]},
            {"name": "u", "type": "string"}]}));
        let value = Value::Record(vec![
            Value::Union(
                1,
                Box::new(Value::Array(vec![
                    Value::Record(vec![Value::Int(1)]),
                    Value::Record(vec![Value::Int(2)]),
                ])),
            ),
            Value::Union(1, Box::new(Value::String("s".into()))),
        ]);
        assert_eq!(
            reencode(&writer, &reader, &value),
            Value::Record(vec![
                Value::Array(vec![
                    Value::Record(vec![Value::Double(1.0), Value::Boolean(true)]),
                    Value::Record(vec![Value::Double(2.0), Value::Boolean(true)]),
                ]),
                Value::String("s".into()),
            ])
        );
        // The null branch of `u` cannot be read as a plain string: an error at run time only.
        let null_u = Value::Record(vec![
            Value::Union(0, Box::new(Value::Null)),
            Value::Union(0, Box::new(Value::Null)),
        ]);
        let resolution = Resolution::new(writer.clone(), reader.clone()).unwrap();
        let err = resolution
            .reencode(&encode(&writer, &null_u).unwrap(), &mut Vec::new())
            .unwrap_err();
        assert!(
            matches!(err, ReencodeError::UnmatchedBranch { .. }),
            "{err}"
        );
    }

    #[test]
    fn enums_map_symbols_and_fall_back_to_the_default() {
        let writer = schema(json!({"type": "enum", "name": "b", "symbols": ["u", "g", "y"]}));
        let reader = schema(
            json!({"type": "enum", "name": "b", "symbols": ["g", "u", "other"], "default": "other"}),
        );
        assert_eq!(reencode(&writer, &reader, &Value::Enum(0)), Value::Enum(1));
        assert_eq!(reencode(&writer, &reader, &Value::Enum(2)), Value::Enum(2));
    }

    #[test]
    fn impossible_resolutions_name_the_field() {
        let writer = schema(
            json!({"type": "record", "name": "alert", "fields": [{"name": "id", "type": "long"}]}),
        );
        let reader = schema(json!({"type": "record", "name": "alert", "fields": [
            {"name": "id", "type": "long"}, {"name": "required", "type": "string"}]}));
        let err = Resolution::new(writer.clone(), reader).unwrap_err();
        assert_eq!(err.path, "alert.required");
        let narrowing = schema(
            json!({"type": "record", "name": "alert", "fields": [{"name": "id", "type": "int"}]}),
        );
        let err = Resolution::new(writer, narrowing).unwrap_err();
        assert_eq!(err.path, "alert.id");
        assert!(
            err.reason.contains("long") && err.reason.contains("int"),
            "{err}"
        );
    }
}
