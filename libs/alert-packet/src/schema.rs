//! Avro schemas: a parsed, reference-resolved model, its Parsing Canonical Form and its JSON.
//!
//! A schema is an arena of [`Node`]s addressed by [`NodeId`]; named types (records, enums,
//! fixed) are defined once and referenced by id everywhere they are used, which is how the
//! alert schema uses `diaSource` both as the triggering source and as the items of
//! `prvDiaSources`. References to names defined in other files are resolved through a callback,
//! so [`crate::tree`] can load `lsst.v11_1.diaSource.avsc` when `lsst.v11_1.alert.avsc` names it,
//! the way fastavro's `load_schema` does.

use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// Index of a node in a [`Schema`].
pub type NodeId = usize;

/// One type in a schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Record(Record),
    Enum(Enum),
    Array(NodeId),
    Map(NodeId),
    Union(Vec<NodeId>),
    Fixed(Fixed),
}

impl Node {
    /// What the node is, for error messages: `long`, ``record `lsst.v11_1.diaSource` ``, ...
    pub fn describe(&self) -> String {
        match self {
            Node::Null => "null".into(),
            Node::Boolean => "boolean".into(),
            Node::Int => "int".into(),
            Node::Long => "long".into(),
            Node::Float => "float".into(),
            Node::Double => "double".into(),
            Node::Bytes => "bytes".into(),
            Node::String => "string".into(),
            Node::Record(r) => format!("record `{}`", r.name),
            Node::Enum(e) => format!("enum `{}`", e.name),
            Node::Array(_) => "array".into(),
            Node::Map(_) => "map".into(),
            Node::Union(_) => "union".into(),
            Node::Fixed(f) => format!("fixed `{}` ({} bytes)", f.name, f.size),
        }
    }
}

/// A record type.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Full name, e.g. `lsst.v11_1.diaSource`.
    pub name: String,
    /// Full names this record is also known by.
    pub aliases: Vec<String>,
    pub doc: Option<String>,
    pub fields: Vec<Field>,
}

/// A field of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub aliases: Vec<String>,
    pub doc: Option<String>,
    pub schema: NodeId,
    /// The default, as written in the schema (JSON encoding of the value).
    pub default: Option<Json>,
}

/// An enum type.
#[derive(Debug, Clone, PartialEq)]
pub struct Enum {
    pub name: String,
    pub aliases: Vec<String>,
    pub doc: Option<String>,
    pub symbols: Vec<String>,
    pub default: Option<String>,
}

/// A fixed-size bytes type.
#[derive(Debug, Clone, PartialEq)]
pub struct Fixed {
    pub name: String,
    pub aliases: Vec<String>,
    pub size: usize,
}

/// Why a schema could not be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SchemaError {
    #[error("invalid schema at {path}: {reason}")]
    Invalid { path: String, reason: String },
    #[error("unknown type `{name}` (referenced at {path})")]
    UnknownType { name: String, path: String },
    #[error("type `{name}` is defined twice")]
    Duplicate { name: String },
    #[error("{0}")]
    Resolver(String),
}

/// A parsed schema with every name resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    nodes: Vec<Node>,
    root: NodeId,
    logical_types: BTreeMap<NodeId, String>,
}

const PRIMITIVES: [&str; 8] = [
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

impl Schema {
    /// Parses a schema that is complete in itself.
    pub fn parse(json: &Json) -> Result<Schema, SchemaError> {
        Self::parse_with(json, |_| Ok(None))
    }

    /// Parses a schema from text.
    pub fn parse_str(text: &str) -> Result<Schema, SchemaError> {
        let json: Json = serde_json::from_str(text).map_err(|e| SchemaError::Invalid {
            path: "$".into(),
            reason: format!("not JSON: {e}"),
        })?;
        Self::parse(&json)
    }

    /// Parses a schema whose unknown names are looked up with `resolve(fullname)`, which
    /// returns the JSON definition of that name (or `None` when there is none).
    pub fn parse_with(
        json: &Json,
        mut resolve: impl FnMut(&str) -> Result<Option<Json>, SchemaError>,
    ) -> Result<Schema, SchemaError> {
        let mut parser = Parser {
            nodes: Vec::new(),
            names: HashMap::new(),
            logical_types: BTreeMap::new(),
            resolve: &mut resolve,
        };
        let root = parser.parse(json, "", "$")?;
        Ok(Schema {
            nodes: parser.nodes,
            root,
            logical_types: parser.logical_types,
        })
    }

    pub fn root(&self) -> NodeId {
        self.root
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The logical type annotating a node (`timestamp-micros`, ...), if any.
    pub fn logical_type(&self, id: NodeId) -> Option<&str> {
        self.logical_types.get(&id).map(String::as_str)
    }

    /// The root record, when the schema is a record.
    pub fn root_record(&self) -> Option<&Record> {
        match self.node(self.root) {
            Node::Record(record) => Some(record),
            _ => None,
        }
    }

    /// Full name of the root type, for named roots.
    pub fn name(&self) -> Option<&str> {
        match self.node(self.root) {
            Node::Record(r) => Some(&r.name),
            Node::Enum(e) => Some(&e.name),
            Node::Fixed(f) => Some(&f.name),
            _ => None,
        }
    }

    /// Avro's Parsing Canonical Form: what two schemas must share to read each other's bytes
    /// without resolution, and what the Confluent registry compares.
    pub fn canonical_form(&self) -> String {
        let mut out = String::new();
        let mut seen = vec![false; self.nodes.len()];
        self.write_canonical(self.root, &mut out, &mut seen);
        out
    }

    fn write_canonical(&self, id: NodeId, out: &mut String, seen: &mut [bool]) {
        let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
        match &self.nodes[id] {
            Node::Null => out.push_str("\"null\""),
            Node::Boolean => out.push_str("\"boolean\""),
            Node::Int => out.push_str("\"int\""),
            Node::Long => out.push_str("\"long\""),
            Node::Float => out.push_str("\"float\""),
            Node::Double => out.push_str("\"double\""),
            Node::Bytes => out.push_str("\"bytes\""),
            Node::String => out.push_str("\"string\""),
            Node::Array(items) => {
                out.push_str("{\"type\":\"array\",\"items\":");
                self.write_canonical(*items, out, seen);
                out.push('}');
            }
            Node::Map(values) => {
                out.push_str("{\"type\":\"map\",\"values\":");
                self.write_canonical(*values, out, seen);
                out.push('}');
            }
            Node::Union(branches) => {
                out.push('[');
                for (i, branch) in branches.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.write_canonical(*branch, out, seen);
                }
                out.push(']');
            }
            Node::Record(record) => {
                if std::mem::replace(&mut seen[id], true) {
                    out.push_str(&quote(&record.name));
                    return;
                }
                let _ = write!(
                    out,
                    "{{\"name\":{},\"type\":\"record\",\"fields\":[",
                    quote(&record.name)
                );
                for (i, field) in record.fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{{\"name\":{},\"type\":", quote(&field.name));
                    self.write_canonical(field.schema, out, seen);
                    out.push('}');
                }
                out.push_str("]}");
            }
            Node::Enum(e) => {
                if std::mem::replace(&mut seen[id], true) {
                    out.push_str(&quote(&e.name));
                    return;
                }
                let symbols: Vec<String> = e.symbols.iter().map(|s| quote(s)).collect();
                let _ = write!(
                    out,
                    "{{\"name\":{},\"type\":\"enum\",\"symbols\":[{}]}}",
                    quote(&e.name),
                    symbols.join(",")
                );
            }
            Node::Fixed(f) => {
                if std::mem::replace(&mut seen[id], true) {
                    out.push_str(&quote(&f.name));
                    return;
                }
                let _ = write!(
                    out,
                    "{{\"name\":{},\"type\":\"fixed\",\"size\":{}}}",
                    quote(&f.name),
                    f.size
                );
            }
        }
    }

    /// The whole schema as one JSON document: every named type defined at its first use (with
    /// its full name) and referenced by name afterwards; docs, defaults, aliases and logical
    /// types kept. This is what a schema registry stores and what readers need for defaults.
    pub fn to_json(&self) -> Json {
        let mut seen = vec![false; self.nodes.len()];
        self.node_json(self.root, &mut seen)
    }

    fn node_json(&self, id: NodeId, seen: &mut [bool]) -> Json {
        let primitive = |name: &str| -> Json {
            match self.logical_type(id) {
                Some(logical) => serde_json::json!({"type": name, "logicalType": logical}),
                None => Json::String(name.to_owned()),
            }
        };
        let named = |kind: &str, name: &str, aliases: &[String], doc: &Option<String>| {
            let mut object = Map::new();
            object.insert("type".into(), Json::String(kind.into()));
            object.insert("name".into(), Json::String(name.into()));
            if let Some(doc) = doc {
                object.insert("doc".into(), Json::String(doc.clone()));
            }
            if !aliases.is_empty() {
                object.insert("aliases".into(), serde_json::json!(aliases));
            }
            object
        };
        match &self.nodes[id] {
            Node::Null => primitive("null"),
            Node::Boolean => primitive("boolean"),
            Node::Int => primitive("int"),
            Node::Long => primitive("long"),
            Node::Float => primitive("float"),
            Node::Double => primitive("double"),
            Node::Bytes => primitive("bytes"),
            Node::String => primitive("string"),
            Node::Array(items) => {
                serde_json::json!({"type": "array", "items": self.node_json(*items, seen)})
            }
            Node::Map(values) => {
                serde_json::json!({"type": "map", "values": self.node_json(*values, seen)})
            }
            Node::Union(branches) => {
                Json::Array(branches.iter().map(|b| self.node_json(*b, seen)).collect())
            }
            Node::Record(record) => {
                if std::mem::replace(&mut seen[id], true) {
                    return Json::String(record.name.clone());
                }
                let mut object = named("record", &record.name, &record.aliases, &record.doc);
                let fields: Vec<Json> = record
                    .fields
                    .iter()
                    .map(|field| {
                        let mut f = Map::new();
                        f.insert("name".into(), Json::String(field.name.clone()));
                        f.insert("type".into(), self.node_json(field.schema, seen));
                        if let Some(doc) = &field.doc {
                            f.insert("doc".into(), Json::String(doc.clone()));
                        }
                        if let Some(default) = &field.default {
                            f.insert("default".into(), default.clone());
                        }
                        if !field.aliases.is_empty() {
                            f.insert("aliases".into(), serde_json::json!(field.aliases));
                        }
                        Json::Object(f)
                    })
                    .collect();
                object.insert("fields".into(), Json::Array(fields));
                Json::Object(object)
            }
            Node::Enum(e) => {
                if std::mem::replace(&mut seen[id], true) {
                    return Json::String(e.name.clone());
                }
                let mut object = named("enum", &e.name, &e.aliases, &e.doc);
                object.insert("symbols".into(), serde_json::json!(e.symbols));
                if let Some(default) = &e.default {
                    object.insert("default".into(), Json::String(default.clone()));
                }
                Json::Object(object)
            }
            Node::Fixed(f) => {
                if std::mem::replace(&mut seen[id], true) {
                    return Json::String(f.name.clone());
                }
                let mut object = named("fixed", &f.name, &f.aliases, &None);
                object.insert("size".into(), Json::from(f.size));
                Json::Object(object)
            }
        }
    }
}

struct Parser<'r> {
    nodes: Vec<Node>,
    names: HashMap<String, NodeId>,
    logical_types: BTreeMap<NodeId, String>,
    resolve: &'r mut dyn FnMut(&str) -> Result<Option<Json>, SchemaError>,
}

fn invalid(path: &str, reason: impl Into<String>) -> SchemaError {
    SchemaError::Invalid {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Splits `name` given the enclosing namespace into (full name, namespace of that name).
fn full_name(name: &str, explicit_namespace: Option<&str>, enclosing: &str) -> (String, String) {
    if let Some((namespace, _)) = name.rsplit_once('.') {
        return (name.to_owned(), namespace.to_owned());
    }
    let namespace = explicit_namespace.unwrap_or(enclosing);
    if namespace.is_empty() {
        (name.to_owned(), String::new())
    } else {
        (format!("{namespace}.{name}"), namespace.to_owned())
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Parser<'_> {
    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn primitive(name: &str) -> Option<Node> {
        Some(match name {
            "null" => Node::Null,
            "boolean" => Node::Boolean,
            "int" => Node::Int,
            "long" => Node::Long,
            "float" => Node::Float,
            "double" => Node::Double,
            "bytes" => Node::Bytes,
            "string" => Node::String,
            _ => return None,
        })
    }

    fn reference(
        &mut self,
        name: &str,
        namespace: &str,
        path: &str,
    ) -> Result<NodeId, SchemaError> {
        let (full, _) = full_name(name, None, namespace);
        if let Some(id) = self.names.get(&full).or_else(|| self.names.get(name)) {
            return Ok(*id);
        }
        let definition = (self.resolve)(&full)?;
        if let Some(definition) = definition {
            let id = self.parse(&definition, namespace, &format!("{path}<{full}>"))?;
            if let Some(id) = self.names.get(&full) {
                return Ok(*id);
            }
            return Err(invalid(
                path,
                format!("the definition found for `{full}` defines another type (node {id})"),
            ));
        }
        Err(SchemaError::UnknownType {
            name: full,
            path: path.to_owned(),
        })
    }

    fn register(&mut self, name: &str, id: NodeId) -> Result<(), SchemaError> {
        if self.names.insert(name.to_owned(), id).is_some() {
            return Err(SchemaError::Duplicate {
                name: name.to_owned(),
            });
        }
        Ok(())
    }

    fn aliases(
        object: &Map<String, Json>,
        namespace: &str,
        path: &str,
    ) -> Result<Vec<String>, SchemaError> {
        match object.get("aliases") {
            None => Ok(Vec::new()),
            Some(Json::Array(items)) => items
                .iter()
                .map(|a| {
                    a.as_str()
                        .map(|a| full_name(a, None, namespace).0)
                        .ok_or_else(|| invalid(path, "aliases must be strings"))
                })
                .collect(),
            Some(_) => Err(invalid(path, "aliases must be an array")),
        }
    }

    fn parse(&mut self, json: &Json, namespace: &str, path: &str) -> Result<NodeId, SchemaError> {
        match json {
            Json::String(name) => match Self::primitive(name) {
                Some(node) => Ok(self.push(node)),
                None => self.reference(name, namespace, path),
            },
            Json::Array(branches) => {
                let mut ids = Vec::with_capacity(branches.len());
                for (i, branch) in branches.iter().enumerate() {
                    if branch.is_array() {
                        return Err(invalid(path, "a union may not contain a union"));
                    }
                    ids.push(self.parse(branch, namespace, &format!("{path}[{i}]"))?);
                }
                Ok(self.push(Node::Union(ids)))
            }
            Json::Object(object) => self.parse_object(object, namespace, path),
            other => Err(invalid(path, format!("expected a type, found {other}"))),
        }
    }

    fn parse_object(
        &mut self,
        object: &Map<String, Json>,
        namespace: &str,
        path: &str,
    ) -> Result<NodeId, SchemaError> {
        let kind = match object.get("type") {
            Some(Json::String(kind)) => kind.as_str(),
            Some(nested @ (Json::Object(_) | Json::Array(_))) => {
                return self.parse(nested, namespace, &format!("{path}.type"))
            }
            Some(other) => {
                return Err(invalid(
                    path,
                    format!("`type` must be a string, found {other}"),
                ))
            }
            None => return Err(invalid(path, "missing `type`")),
        };
        if let Some(node) = Self::primitive(kind) {
            let id = self.push(node);
            if let Some(Json::String(logical)) = object.get("logicalType") {
                self.logical_types.insert(id, logical.clone());
            }
            return Ok(id);
        }
        let name_of = |object: &Map<String, Json>| -> Result<(String, String), SchemaError> {
            let name = object
                .get("name")
                .and_then(Json::as_str)
                .ok_or_else(|| invalid(path, format!("a {kind} needs a `name`")))?;
            let short = name.rsplit('.').next().unwrap_or(name);
            if !valid_name(short) {
                return Err(invalid(path, format!("`{name}` is not a valid name")));
            }
            Ok(full_name(
                name,
                object.get("namespace").and_then(Json::as_str),
                namespace,
            ))
        };
        let doc = object.get("doc").and_then(Json::as_str).map(str::to_owned);
        match kind {
            "record" | "error" => {
                let (name, own_namespace) = name_of(object)?;
                let aliases = Self::aliases(object, &own_namespace, path)?;
                // Reserve the id first so fields may refer to the record itself.
                let id = self.push(Node::Null);
                self.register(&name, id)?;
                let Some(Json::Array(fields_json)) = object.get("fields") else {
                    return Err(invalid(
                        path,
                        format!("record `{name}` needs a `fields` array"),
                    ));
                };
                let mut fields = Vec::with_capacity(fields_json.len());
                for (i, field) in fields_json.iter().enumerate() {
                    let field_path = format!("{path}.fields[{i}]");
                    let Json::Object(field) = field else {
                        return Err(invalid(&field_path, "a field must be an object"));
                    };
                    let field_name = field
                        .get("name")
                        .and_then(Json::as_str)
                        .ok_or_else(|| invalid(&field_path, "a field needs a `name`"))?;
                    if !valid_name(field_name) {
                        return Err(invalid(
                            &field_path,
                            format!("`{field_name}` is not a valid field name"),
                        ));
                    }
                    if fields.iter().any(|f: &Field| f.name == field_name) {
                        return Err(invalid(
                            &field_path,
                            format!("field `{field_name}` appears twice"),
                        ));
                    }
                    let field_type = field.get("type").ok_or_else(|| {
                        invalid(&field_path, format!("field `{field_name}` needs a `type`"))
                    })?;
                    let schema =
                        self.parse(field_type, &own_namespace, &format!("{path}.{field_name}"))?;
                    let aliases = match field.get("aliases") {
                        Some(Json::Array(a)) => a
                            .iter()
                            .filter_map(Json::as_str)
                            .map(str::to_owned)
                            .collect(),
                        _ => Vec::new(),
                    };
                    fields.push(Field {
                        name: field_name.to_owned(),
                        aliases,
                        doc: field.get("doc").and_then(Json::as_str).map(str::to_owned),
                        schema,
                        default: field.get("default").cloned(),
                    });
                }
                self.nodes[id] = Node::Record(Record {
                    name,
                    aliases,
                    doc,
                    fields,
                });
                Ok(id)
            }
            "enum" => {
                let (name, own_namespace) = name_of(object)?;
                let aliases = Self::aliases(object, &own_namespace, path)?;
                let symbols: Vec<String> = match object.get("symbols") {
                    Some(Json::Array(symbols)) => symbols
                        .iter()
                        .map(|s| {
                            s.as_str()
                                .filter(|s| valid_name(s))
                                .map(str::to_owned)
                                .ok_or_else(|| {
                                    invalid(
                                        path,
                                        format!("enum `{name}` has an invalid symbol {s}"),
                                    )
                                })
                        })
                        .collect::<Result<_, _>>()?,
                    _ => {
                        return Err(invalid(
                            path,
                            format!("enum `{name}` needs a `symbols` array"),
                        ))
                    }
                };
                let default = object
                    .get("default")
                    .and_then(Json::as_str)
                    .map(str::to_owned);
                let id = self.push(Node::Enum(Enum {
                    name: name.clone(),
                    aliases,
                    doc,
                    symbols,
                    default,
                }));
                self.register(&name, id)?;
                Ok(id)
            }
            "fixed" => {
                let (name, own_namespace) = name_of(object)?;
                let aliases = Self::aliases(object, &own_namespace, path)?;
                let size = object.get("size").and_then(Json::as_u64).ok_or_else(|| {
                    invalid(path, format!("fixed `{name}` needs a non-negative `size`"))
                })?;
                let id = self.push(Node::Fixed(Fixed {
                    name: name.clone(),
                    aliases,
                    size: usize::try_from(size)
                        .map_err(|_| invalid(path, "fixed size too large"))?,
                }));
                self.register(&name, id)?;
                if let Some(Json::String(logical)) = object.get("logicalType") {
                    self.logical_types.insert(id, logical.clone());
                }
                Ok(id)
            }
            "array" => {
                let items = object
                    .get("items")
                    .ok_or_else(|| invalid(path, "an array needs `items`"))?;
                let items = self.parse(items, namespace, &format!("{path}.items"))?;
                Ok(self.push(Node::Array(items)))
            }
            "map" => {
                let values = object
                    .get("values")
                    .ok_or_else(|| invalid(path, "a map needs `values`"))?;
                let values = self.parse(values, namespace, &format!("{path}.values"))?;
                Ok(self.push(Node::Map(values)))
            }
            other if PRIMITIVES.contains(&other) => unreachable!("primitives handled above"),
            other => self.reference(other, namespace, path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_form_follows_the_specification() {
        let schema = Schema::parse(&json!({
            "type": "record", "name": "alert", "namespace": "lsst.v1_0", "doc": "dropped",
            "fields": [
                {"name": "id", "type": "long", "doc": "dropped"},
                {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-micros"}},
                {"name": "src", "type": {"type": "record", "name": "src", "fields": [{"name": "x", "type": "double"}]}},
                {"name": "prv", "type": ["null", {"type": "array", "items": "src"}], "default": null},
                {"name": "band", "type": {"type": "enum", "name": "Band", "symbols": ["u", "g"]}},
                {"name": "m", "type": {"type": "map", "values": {"type": "fixed", "name": "f4", "size": 4}}}
            ]
        }))
        .unwrap();
        assert_eq!(
            schema.canonical_form(),
            concat!(
                r#"{"name":"lsst.v1_0.alert","type":"record","fields":["#,
                r#"{"name":"id","type":"long"},{"name":"ts","type":"long"},"#,
                r#"{"name":"src","type":{"name":"lsst.v1_0.src","type":"record","fields":[{"name":"x","type":"double"}]}},"#,
                r#"{"name":"prv","type":["null",{"type":"array","items":"lsst.v1_0.src"}]},"#,
                r#"{"name":"band","type":{"name":"lsst.v1_0.Band","type":"enum","symbols":["u","g"]}},"#,
                r#"{"name":"m","type":{"type":"map","values":{"name":"lsst.v1_0.f4","type":"fixed","size":4}}}]}"#
            )
        );
    }

    #[test]
    fn to_json_round_trips_through_the_parser() {
        let original = json!({
            "type": "record", "name": "a.b.r", "doc": "d",
            "fields": [
                {"name": "x", "type": ["null", "string"], "default": null, "doc": "x doc"},
                {"name": "y", "type": {"type": "array", "items": {"type": "record", "name": "s", "fields": [{"name": "z", "type": "int"}]}}},
                {"name": "w", "type": "s"}
            ]
        });
        let schema = Schema::parse(&original).unwrap();
        let again = Schema::parse(&schema.to_json()).unwrap();
        assert_eq!(schema.canonical_form(), again.canonical_form());
        assert_eq!(again.to_json(), schema.to_json());
        assert_eq!(schema.to_json()["fields"][2]["type"], "a.b.s");
    }

    #[test]
    fn unknown_names_are_reported_with_their_place() {
        let err = Schema::parse(&json!({"type": "record", "name": "r", "namespace": "n",
            "fields": [{"name": "f", "type": "missing"}]}))
        .unwrap_err();
        assert_eq!(
            err,
            SchemaError::UnknownType {
                name: "n.missing".into(),
                path: "$.f".into()
            }
        );
    }

    #[test]
    fn references_are_resolved_through_the_callback() {
        let mut asked = Vec::new();
        let schema = Schema::parse_with(
            &json!({"type": "record", "name": "alert", "namespace": "ns",
                "fields": [{"name": "s", "type": "ns.src"}, {"name": "p", "type": {"type": "array", "items": "ns.src"}}]}),
            |name| {
                asked.push(name.to_owned());
                Ok(Some(json!({"type": "record", "name": "src", "namespace": "ns", "fields": [{"name": "v", "type": "float"}]})))
            },
        )
        .unwrap();
        assert_eq!(asked, vec!["ns.src"], "each name is loaded once");
        let Node::Record(alert) = schema.node(schema.root()) else {
            panic!()
        };
        let Node::Array(items) = schema.node(alert.fields[1].schema) else {
            panic!()
        };
        assert_eq!(*items, alert.fields[0].schema);
    }

    #[test]
    fn malformed_schemas_are_errors() {
        for bad in [
            json!({"type": "record", "name": "r"}),
            json!({"type": "record", "fields": []}),
            json!({"type": "record", "name": "1r", "fields": []}),
            json!({"type": "enum", "name": "e", "symbols": [1]}),
            json!({"type": "fixed", "name": "f", "size": -1}),
            json!({"type": "array"}),
            json!(["null", ["int"]]),
            json!(42),
            json!({"type": "record", "name": "r", "fields": [{"name": "a", "type": "int"}, {"name": "a", "type": "int"}]}),
            json!({"type": "record", "name": "r", "fields": [{"name": "a", "type": {"type": "record", "name": "r", "fields": []}}]}),
        ] {
            assert!(Schema::parse(&bad).is_err(), "{bad}");
        }
    }
}
