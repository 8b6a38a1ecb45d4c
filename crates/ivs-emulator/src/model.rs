//! The official IVS service model (the recording-configuration part of API 2020-07-14, and
//! ListChannels) and CloudFormation's DescribeStackResource, embedded verbatim, and everything
//! the emulator derives from them: routing a request to its operation by the `http` traits,
//! binding URI labels, query strings, the JSON body or a query-protocol form into one input
//! document, validating that document against the input shape's constraints, and writing a
//! query-protocol answer from the output shape. Being driven by the models rather than by
//! hand-written checks keeps the emulator rejecting what the services reject.

use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

const MODEL_JSON: &str = include_str!("ivs-2020-07-14-recording-configuration.json");
/// ListChannels, extracted from botocore 1.44.8's `botocore/data/ivs/2020-07-14/service-2.json`:
/// the operation and every shape its input and output reach that the file above lacks, copied
/// verbatim. Its errors are the file above's shapes, which differ from botocore's only in their
/// documentation text. A separate file keeps the one above identical to the shared reference.
const LIST_CHANNELS_JSON: &str = include_str!("ivs-2020-07-14-list-channels.json");
/// DescribeStackResource, extracted from botocore 1.44.8's
/// `botocore/data/cloudformation/2010-05-15/service-2.json.gz` (its metadata says so): the
/// operation and every shape it reaches, copied verbatim. The operation models no errors.
const CLOUDFORMATION_JSON: &str =
    include_str!("cloudformation-2010-05-15-describe-stack-resource.json");

/// A pattern in the published model that the service itself does not enforce as written.
struct Erratum {
    shape: &'static str,
    published: &'static str,
    corrected: &'static str,
}

/// The published `ResourceArn` pattern allows a single character between the account and the
/// slash, so it matches no real ARN, anchored or not, yet IVS tags real ARNs such as
/// `...:recording-configuration/abc`. The correction restores the evidently intended `+`.
const ERRATA: &[Erratum] = &[Erratum {
    shape: "ResourceArn",
    published: "arn:aws:ivs:[a-z0-9-]+:[0-9]+:[a-z-]/[a-zA-Z0-9-]+",
    corrected: "arn:aws:ivs:[a-z0-9-]+:[0-9]+:[a-z-]+/[a-zA-Z0-9-]+",
}];

/// A constraint the service enforces that its published model does not state at all.
struct Addendum {
    shape: &'static str,
    /// As the service's messages quote it.
    pattern: &'static str,
}

/// CloudFormation refuses a StackName outside this pattern with "1 validation error detected:
/// Value '…' at 'stackName' failed to satisfy constraint: Member must satisfy regular expression
/// pattern: [a-zA-Z][-a-zA-Z0-9]*|arn:[-a-zA-Z0-9:/._+]*", as widely reported from DescribeStacks
/// and CreateStack, whose StackName is the same shape as DescribeStackResource's. It matches the
/// whole value (`instance_and_route53` is refused though a prefix fits), unlike the Smithy
/// patterns of the published models, which are searched.
const ADDENDA: &[Addendum] = &[Addendum {
    shape: "StackName",
    pattern: "[a-zA-Z][-a-zA-Z0-9]*|arn:[-a-zA-Z0-9:/._+]*",
}];

static EMBEDDED: LazyLock<Result<Model, ModelError>> =
    LazyLock::new(|| Model::parse(&[MODEL_JSON, LIST_CHANNELS_JSON]));

static CLOUDFORMATION: LazyLock<Result<Model, ModelError>> =
    LazyLock::new(|| Model::parse(&[CLOUDFORMATION_JSON]));

/// Timestamps in the documents the emulator validates are ISO 8601 date-times in UTC, as the
/// query protocol writes them.
static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$")
        .expect("a valid pattern")
});

#[derive(Debug, thiserror::Error)]
pub(super) enum ModelError {
    #[error("an embedded service model is not valid: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{name} is defined in more than one part of the model")]
    Duplicate { name: String },
    #[error("shape {shape} refers to the missing shape {target}")]
    MissingShape { shape: String, target: String },
    #[error("shape {shape} has the unsupported type {kind}")]
    UnsupportedType { shape: String, kind: String },
    #[error("member {member} of shape {shape} is bound to the unsupported location {location}")]
    UnsupportedLocation {
        shape: String,
        member: String,
        location: String,
    },
    #[error("the input of operation {operation} is not a structure")]
    InputNotStructure { operation: String },
    #[error("the pattern of shape {shape} does not compile: {source}")]
    Pattern { shape: String, source: regex::Error },
    #[error("the erratum for shape {shape} no longer matches the model; re-check it")]
    StaleErratum { shape: String },
    #[error("shape {shape} now publishes a pattern of its own; re-check its addendum")]
    StaleAddendum { shape: String },
}

/// Why a request's input is unacceptable; the emulator answers ValidationException with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(super) enum InputError {
    #[error("the request body is not a JSON object")]
    Body,
    #[error("'{0}' is not validly percent-encoded")]
    Encoding(String),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

/// Every constraint violation in one input, worded like the AWS services word them.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ValidationError(pub(super) Vec<Violation>);

impl std::error::Error for ValidationError {}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        let plural = if count == 1 { "" } else { "s" };
        write!(f, "{count} validation error{plural} detected: ")?;
        for (i, violation) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{violation}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Violation {
    /// Dotted member path from the input root, e.g. `destinationConfiguration.s3.bucketName`.
    pub(super) path: String,
    /// The offending value as quoted in the message; `None` for lists, maps and structures.
    pub(super) value: Option<String>,
    pub(super) constraint: Constraint,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "Value {value} at '{}'", self.path)?,
            None => write!(f, "Value at '{}'", self.path)?,
        }
        write!(f, " failed to satisfy constraint: {}", self.constraint)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Constraint {
    NotNull,
    Type(&'static str),
    MinLength(i64),
    MaxLength(i64),
    MinValue(i64),
    MaxValue(i64),
    Pattern(String),
    OneOf(Vec<String>),
    MapKey(Box<Constraint>),
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Constraint::NotNull => f.write_str("Member must not be null"),
            Constraint::Type(kind) => write!(f, "Member must be of type {kind}"),
            Constraint::MinLength(n) => {
                write!(f, "Member must have length greater than or equal to {n}")
            }
            Constraint::MaxLength(n) => {
                write!(f, "Member must have length less than or equal to {n}")
            }
            Constraint::MinValue(n) => {
                write!(f, "Member must have value greater than or equal to {n}")
            }
            Constraint::MaxValue(n) => {
                write!(f, "Member must have value less than or equal to {n}")
            }
            Constraint::Pattern(p) => {
                write!(f, "Member must satisfy regular expression pattern: {p}")
            }
            Constraint::OneOf(values) => {
                write!(
                    f,
                    "Member must satisfy enum value set: [{}]",
                    values.join(", ")
                )
            }
            Constraint::MapKey(inner) => write!(f, "Map keys must satisfy constraint: [{inner}]"),
        }
    }
}

/// The parts of an HTTP request that the model can bind input members to.
pub(super) struct HttpInput<'a, H> {
    pub(super) query: Option<&'a str>,
    /// Looks a header up by name, case-insensitively.
    pub(super) header: H,
    pub(super) body: &'a [u8],
}

/// The operation a request was routed to, with its raw (still percent-encoded) URI labels.
pub(super) struct Route<'m> {
    pub(super) operation: &'m OperationDef,
    labels: BTreeMap<&'m str, String>,
}

pub(super) struct OperationDef {
    pub(super) name: String,
    pub(super) response_code: u16,
    method: String,
    path: Vec<Segment>,
    input: Option<Input>,
    output: Option<Output>,
}

/// An operation's output structure and, in the query protocol, the element wrapping it.
struct Output {
    shape: ShapeId,
    result_wrapper: Option<String>,
}

/// An operation's input structure, with the members the request is bound to.
struct Input {
    shape: ShapeId,
    members: BTreeMap<String, Member>,
}

enum Segment {
    Literal(String),
    Label(String),
}

#[derive(Clone, Copy)]
struct ShapeId(usize);

struct Shape {
    kind: ShapeKind,
    error_status: Option<u16>,
}

struct Bounds {
    min: Option<i64>,
    max: Option<i64>,
}

enum ShapeKind {
    Structure {
        members: BTreeMap<String, Member>,
        required: Vec<String>,
    },
    List {
        member: ShapeId,
        length: Bounds,
    },
    Map {
        key: ShapeId,
        value: ShapeId,
        length: Bounds,
    },
    String {
        length: Bounds,
        pattern: Option<(String, Regex)>,
        allowed: Option<Vec<String>>,
    },
    Integer {
        range: Bounds,
        type_name: &'static str,
        representable: (i64, i64),
    },
    Boolean,
    Timestamp,
}

#[derive(Clone)]
struct Member {
    shape: ShapeId,
    binding: Binding,
}

#[derive(Clone)]
enum Binding {
    Body,
    Label(String),
    Query(String),
    Header(String),
}

pub(super) struct Model {
    operations: Vec<OperationDef>,
    names: BTreeMap<String, ShapeId>,
    shapes: Vec<Shape>,
    /// The query protocol's XML namespace, from the metadata.
    xml_namespace: Option<String>,
}

impl Model {
    /// The embedded model, parsed once per process.
    pub(super) fn embedded() -> Result<&'static Model, &'static ModelError> {
        EMBEDDED.as_ref()
    }

    /// The embedded CloudFormation model (DescribeStackResource), parsed once per process.
    pub(super) fn cloudformation() -> Result<&'static Model, &'static ModelError> {
        CLOUDFORMATION.as_ref()
    }

    /// Parses a model given in parts, which must not define an operation or shape twice.
    fn parse(parts: &[&str]) -> Result<Model, ModelError> {
        let mut raw = RawModel::default();
        for part in parts {
            let part: RawModel = serde_json::from_str(part)?;
            raw.metadata.xml_namespace = raw.metadata.xml_namespace.or(part.metadata.xml_namespace);
            for (name, operation) in part.operations {
                if raw.operations.insert(name.clone(), operation).is_some() {
                    return Err(ModelError::Duplicate { name });
                }
            }
            for (name, shape) in part.shapes {
                if raw.shapes.insert(name.clone(), shape).is_some() {
                    return Err(ModelError::Duplicate { name });
                }
            }
        }
        let names: BTreeMap<String, ShapeId> = raw
            .shapes
            .keys()
            .enumerate()
            .map(|(i, name)| (name.clone(), ShapeId(i)))
            .collect();
        let resolve = |shape: &str, target: &str| {
            names
                .get(target)
                .copied()
                .ok_or_else(|| ModelError::MissingShape {
                    shape: shape.to_owned(),
                    target: target.to_owned(),
                })
        };
        let mut shapes = Vec::with_capacity(raw.shapes.len());
        for (name, shape) in &raw.shapes {
            shapes.push(Shape {
                kind: compile_shape(name, shape, &resolve)?,
                error_status: shape.error.as_ref().map(|e| e.http_status_code),
            });
        }
        let operations = raw
            .operations
            .into_iter()
            .map(|(name, op)| {
                let input = match op.input {
                    None => None,
                    Some(input) => {
                        let shape = resolve(&name, &input.shape)?;
                        let ShapeKind::Structure { members, .. } = &shapes[shape.0].kind else {
                            return Err(ModelError::InputNotStructure { operation: name });
                        };
                        Some(Input {
                            shape,
                            members: members.clone(),
                        })
                    }
                };
                let output = match op.output {
                    None => None,
                    Some(output) => Some(Output {
                        shape: resolve(&name, &output.shape)?,
                        result_wrapper: output.result_wrapper,
                    }),
                };
                Ok(OperationDef {
                    path: parse_path(&op.http.request_uri),
                    method: op.http.method,
                    // botocore's default when an operation does not state its success code.
                    response_code: op.http.response_code.unwrap_or(200),
                    input,
                    output,
                    name,
                })
            })
            .collect::<Result<_, ModelError>>()?;
        Ok(Model {
            operations,
            names,
            shapes,
            xml_namespace: raw.metadata.xml_namespace,
        })
    }

    #[cfg(test)]
    pub(super) fn operation_names(&self) -> impl Iterator<Item = &str> {
        self.operations.iter().map(|op| op.name.as_str())
    }

    /// The HTTP status of the error shape called `code`, if the model has such an error.
    pub(super) fn error_status(&self, code: &str) -> Option<u16> {
        self.names
            .get(code)
            .and_then(|id| self.shapes[id.0].error_status)
    }

    pub(super) fn route(&self, method: &str, path: &str) -> Option<Route<'_>> {
        let segments: Vec<&str> = path.split('/').collect();
        self.operations.iter().find_map(|operation| {
            if operation.method != method || operation.path.len() != segments.len() {
                return None;
            }
            let mut labels = BTreeMap::new();
            for (template, actual) in operation.path.iter().zip(&segments) {
                match template {
                    Segment::Literal(literal) if literal == actual => {}
                    Segment::Label(label) if !actual.is_empty() => {
                        labels.insert(label.as_str(), (*actual).to_owned());
                    }
                    _ => return None,
                }
            }
            Some(Route { operation, labels })
        })
    }

    /// Gathers the operation's input from wherever the model binds each member and validates it;
    /// members the model does not know are dropped, as the service ignores them.
    pub(super) fn bind_input<'h>(
        &self,
        route: &Route<'_>,
        request: &HttpInput<'_, impl Fn(&str) -> Option<&'h str>>,
    ) -> Result<Value, InputError> {
        let Some(input) = &route.operation.input else {
            return Ok(Value::Object(Map::new()));
        };
        let body = parse_body(request.body)?;
        let params = request
            .query
            .map(parse_query)
            .transpose()?
            .unwrap_or_default();
        let mut document = Map::new();
        for (name, member) in &input.members {
            let value = match &member.binding {
                Binding::Body => body.get(name).cloned(),
                Binding::Label(label) => route
                    .labels
                    .get(label.as_str())
                    .map(|raw| percent_decode(raw).map(|text| self.text_value(member.shape, text)))
                    .transpose()?,
                Binding::Query(key) => self.query_value(member.shape, key, &params),
                Binding::Header(header) => (request.header)(header)
                    .map(|text| self.text_value(member.shape, text.to_owned())),
            };
            if let Some(value) = value {
                document.insert(name.clone(), value);
            }
        }
        let document = Value::Object(document);
        self.validate(input.shape, &document)?;
        Ok(document)
    }

    /// The operation called `name`, for the query protocol, whose requests name their operation
    /// in the `Action` parameter rather than in the path.
    pub(super) fn operation(&self, name: &str) -> Option<&OperationDef> {
        self.operations
            .iter()
            .find(|operation| operation.name == name)
    }

    /// Binds a query-protocol form: each top-level scalar member from the parameter of its name,
    /// then validates. (The protocol's `A.B` and `A.member.N` forms for nested members are not
    /// needed by any emulated operation, so such members stay unbound, and are reported if
    /// required.) Violations name members in lower camel case (`stackName`), as the service's
    /// messages do.
    pub(super) fn bind_form(
        &self,
        operation: &OperationDef,
        params: &[(String, String)],
    ) -> Result<Value, ValidationError> {
        let Some(input) = &operation.input else {
            return Ok(Value::Object(Map::new()));
        };
        let mut document = Map::new();
        for (name, member) in &input.members {
            let nested = matches!(
                self.shapes[member.shape.0].kind,
                ShapeKind::Structure { .. } | ShapeKind::List { .. } | ShapeKind::Map { .. }
            );
            let value = params.iter().find(|(key, _)| key == name);
            if let Some((_, value)) = value.filter(|_| !nested) {
                document.insert(name.clone(), self.text_value(member.shape, value.clone()));
            }
        }
        let document = Value::Object(document);
        self.validate(input.shape, &document)
            .map_err(|ValidationError(violations)| {
                let renamed = violations.into_iter().map(|violation| Violation {
                    path: lower_camel(&violation.path),
                    ..violation
                });
                ValidationError(renamed.collect())
            })?;
        Ok(document)
    }

    /// The query protocol's answer to `operation`: `output`, a document of the operation's
    /// output shape, as XML inside the result wrapper, then the request id.
    pub(super) fn query_response(
        &self,
        operation: &OperationDef,
        output: &Value,
        request_id: &str,
    ) -> String {
        let name = &operation.name;
        let mut xml = format!("<{name}Response");
        if let Some(namespace) = &self.xml_namespace {
            xml.push_str(&format!(" xmlns=\"{}\"", escape_xml(namespace)));
        }
        xml.push('>');
        if let Some(result) = &operation.output {
            let wrapper = result.result_wrapper.as_deref();
            if let Some(wrapper) = wrapper {
                xml.push_str(&format!("<{wrapper}>"));
            }
            self.write_xml(result.shape, output, &mut xml);
            if let Some(wrapper) = wrapper {
                xml.push_str(&format!("</{wrapper}>"));
            }
        }
        xml.push_str(&format!(
            "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{name}Response>",
            escape_xml(request_id)
        ));
        xml
    }

    /// Writes `value`'s content as the query protocol does: a structure's members as elements
    /// named after them, in the model's order, lists as `member` elements, maps as `entry`
    /// elements. Members the shape does not have are left out.
    fn write_xml(&self, shape: ShapeId, value: &Value, xml: &mut String) {
        match &self.shapes[shape.0].kind {
            ShapeKind::Structure { members, .. } => {
                for (name, member) in members {
                    if let Some(member_value) = value.get(name).filter(|v| !v.is_null()) {
                        xml.push_str(&format!("<{name}>"));
                        self.write_xml(member.shape, member_value, xml);
                        xml.push_str(&format!("</{name}>"));
                    }
                }
            }
            ShapeKind::List { member, .. } => {
                for item in value.as_array().into_iter().flatten() {
                    xml.push_str("<member>");
                    self.write_xml(*member, item, xml);
                    xml.push_str("</member>");
                }
            }
            ShapeKind::Map {
                value: value_shape, ..
            } => {
                for (key, entry) in value.as_object().into_iter().flatten() {
                    xml.push_str(&format!("<entry><key>{}</key><value>", escape_xml(key)));
                    self.write_xml(*value_shape, entry, xml);
                    xml.push_str("</value></entry>");
                }
            }
            _ => match value {
                Value::String(text) => xml.push_str(&escape_xml(text)),
                other => xml.push_str(&escape_xml(&other.to_string())),
            },
        }
    }

    /// The allowed values of the enum shape called `shape`; empty if it has none.
    pub(super) fn enum_values(&self, shape: &str) -> &[String] {
        let kind = self.names.get(shape).map(|id| &self.shapes[id.0].kind);
        match kind {
            Some(ShapeKind::String {
                allowed: Some(allowed),
                ..
            }) => allowed,
            _ => &[],
        }
    }

    /// Validates `value` against the shape called `shape`, which must exist.
    #[cfg(test)]
    pub(super) fn validate_named(&self, shape: &str, value: &Value) -> Result<(), ValidationError> {
        self.validate(self.names[shape], value)
    }

    fn validate(&self, shape: ShapeId, value: &Value) -> Result<(), ValidationError> {
        let mut violations = Vec::new();
        self.check(shape, value, "", &mut violations);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ValidationError(violations))
        }
    }

    fn check(&self, shape: ShapeId, value: &Value, path: &str, out: &mut Vec<Violation>) {
        let mut violate = |constraint| {
            out.push(Violation {
                path: path.to_owned(),
                value: quote(value),
                constraint,
            })
        };
        match &self.shapes[shape.0].kind {
            ShapeKind::Structure { members, required } => {
                let Some(object) = value.as_object() else {
                    return violate(Constraint::Type("structure"));
                };
                for name in required {
                    if object.get(name).is_none_or(Value::is_null) {
                        out.push(Violation {
                            path: join(path, name),
                            value: Some("null".to_owned()),
                            constraint: Constraint::NotNull,
                        });
                    }
                }
                for (name, member) in members {
                    if let Some(member_value) = object.get(name).filter(|v| !v.is_null()) {
                        self.check(member.shape, member_value, &join(path, name), out);
                    }
                }
            }
            ShapeKind::List { member, length } => {
                let Some(items) = value.as_array() else {
                    return violate(Constraint::Type("list"));
                };
                check_length(length, items.len(), &mut violate);
                for (i, item) in items.iter().enumerate() {
                    self.check(*member, item, &format!("{path}[{i}]"), out);
                }
            }
            ShapeKind::Map {
                key,
                value: value_shape,
                length,
            } => {
                let Some(entries) = value.as_object() else {
                    return violate(Constraint::Type("map"));
                };
                check_length(length, entries.len(), &mut violate);
                for (entry_key, entry_value) in entries {
                    let mut key_violations = Vec::new();
                    let key_value = Value::String(entry_key.clone());
                    self.check(*key, &key_value, path, &mut key_violations);
                    out.extend(key_violations.into_iter().map(|v| Violation {
                        constraint: Constraint::MapKey(Box::new(v.constraint)),
                        ..v
                    }));
                    self.check(*value_shape, entry_value, &join(path, entry_key), out);
                }
            }
            ShapeKind::String {
                length,
                pattern,
                allowed,
            } => {
                let Some(text) = value.as_str() else {
                    return violate(Constraint::Type("string"));
                };
                // Smithy measures string length in Unicode code points, not bytes.
                check_length(length, text.chars().count(), &mut violate);
                if let Some((source, regex)) = pattern {
                    if !regex.is_match(text) {
                        violate(Constraint::Pattern(source.clone()));
                    }
                }
                if let Some(allowed) = allowed {
                    if !allowed.iter().any(|a| a == text) {
                        violate(Constraint::OneOf(allowed.clone()));
                    }
                }
            }
            ShapeKind::Integer {
                range,
                type_name,
                representable: (lowest, highest),
            } => match value.as_i64().filter(|n| (*lowest..=*highest).contains(n)) {
                None => violate(Constraint::Type(type_name)),
                Some(n) => {
                    if let Some(min) = range.min.filter(|min| n < *min) {
                        violate(Constraint::MinValue(min));
                    }
                    if let Some(max) = range.max.filter(|max| n > *max) {
                        violate(Constraint::MaxValue(max));
                    }
                }
            },
            ShapeKind::Boolean => {
                if !value.is_boolean() {
                    violate(Constraint::Type("boolean"));
                }
            }
            ShapeKind::Timestamp => {
                if !value.as_str().is_some_and(|text| TIMESTAMP.is_match(text)) {
                    violate(Constraint::Type("timestamp"));
                }
            }
        }
    }

    /// URI labels and query values arrive as text; numbers and booleans are converted so that the
    /// validator checks them like body members, and text that does not convert is kept so that it
    /// is reported as a type violation.
    fn text_value(&self, shape: ShapeId, text: String) -> Value {
        match &self.shapes[shape.0].kind {
            ShapeKind::Integer { .. } => {
                text.parse::<i64>().map_or(Value::String(text), Value::from)
            }
            ShapeKind::Boolean => text
                .parse::<bool>()
                .map_or(Value::String(text), Value::Bool),
            _ => Value::String(text),
        }
    }

    fn query_value(&self, shape: ShapeId, key: &str, params: &[(String, String)]) -> Option<Value> {
        let mut values = params
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone());
        match &self.shapes[shape.0].kind {
            ShapeKind::List { member, .. } => {
                let items: Vec<Value> = values.map(|v| self.text_value(*member, v)).collect();
                (!items.is_empty()).then_some(Value::Array(items))
            }
            _ => values.next().map(|v| self.text_value(shape, v)),
        }
    }
}

fn compile_shape(
    name: &str,
    raw: &RawShape,
    resolve: &impl Fn(&str, &str) -> Result<ShapeId, ModelError>,
) -> Result<ShapeKind, ModelError> {
    let bounds = Bounds {
        min: raw.min,
        max: raw.max,
    };
    let target = |reference: &Option<ShapeRef>, role: &str| match reference {
        Some(reference) => resolve(name, &reference.shape),
        None => resolve(name, &format!("<{role} of {name}>")),
    };
    Ok(match raw.kind.as_str() {
        "structure" => ShapeKind::Structure {
            members: raw
                .members
                .iter()
                .map(|(member_name, member)| {
                    Ok((
                        member_name.clone(),
                        Member {
                            shape: resolve(name, &member.shape)?,
                            binding: binding(name, member_name, member)?,
                        },
                    ))
                })
                .collect::<Result<_, ModelError>>()?,
            required: raw.required.clone(),
        },
        "list" => ShapeKind::List {
            member: target(&raw.member, "member")?,
            length: bounds,
        },
        "map" => ShapeKind::Map {
            key: target(&raw.key, "key")?,
            value: target(&raw.value, "value")?,
            length: bounds,
        },
        "string" => ShapeKind::String {
            length: bounds,
            pattern: pattern(name, raw.pattern.as_deref())?,
            allowed: raw.enum_values.clone(),
        },
        "integer" => ShapeKind::Integer {
            range: bounds,
            type_name: "integer",
            representable: (i32::MIN.into(), i32::MAX.into()),
        },
        "long" => ShapeKind::Integer {
            range: bounds,
            type_name: "long",
            representable: (i64::MIN, i64::MAX),
        },
        "boolean" => ShapeKind::Boolean,
        "timestamp" => ShapeKind::Timestamp,
        other => {
            return Err(ModelError::UnsupportedType {
                shape: name.to_owned(),
                kind: other.to_owned(),
            })
        }
    })
}

fn binding(shape: &str, member_name: &str, member: &RawMember) -> Result<Binding, ModelError> {
    let wire_name = || {
        member
            .location_name
            .clone()
            .unwrap_or_else(|| member_name.to_owned())
    };
    match member.location.as_deref() {
        None => Ok(Binding::Body),
        Some("uri") => Ok(Binding::Label(wire_name())),
        Some("querystring") => Ok(Binding::Query(wire_name())),
        Some("header") => Ok(Binding::Header(wire_name())),
        Some(location) => Err(ModelError::UnsupportedLocation {
            shape: shape.to_owned(),
            member: member_name.to_owned(),
            location: location.to_owned(),
        }),
    }
}

/// The pattern a string shape is checked against: the published one (or its erratum), else its
/// addendum's, anchored because the service matches the whole value.
fn pattern(shape: &str, published: Option<&str>) -> Result<Option<(String, Regex)>, ModelError> {
    let addendum = ADDENDA.iter().find(|a| a.shape == shape);
    match (published, addendum) {
        (Some(_), Some(_)) => Err(ModelError::StaleAddendum {
            shape: shape.to_owned(),
        }),
        (Some(published), None) => compile_pattern(shape, published).map(Some),
        (None, Some(addendum)) => {
            let whole = format!("^(?:{})$", addendum.pattern);
            let regex = Regex::new(&whole).map_err(|source| ModelError::Pattern {
                shape: shape.to_owned(),
                source,
            })?;
            Ok(Some((addendum.pattern.to_owned(), regex)))
        }
        (None, None) => Ok(None),
    }
}

fn compile_pattern(shape: &str, published: &str) -> Result<(String, Regex), ModelError> {
    let source = match ERRATA.iter().find(|e| e.shape == shape) {
        Some(erratum) if erratum.published == published => erratum.corrected,
        Some(_) => {
            return Err(ModelError::StaleErratum {
                shape: shape.to_owned(),
            })
        }
        None => published,
    };
    // Smithy patterns are not implicitly anchored, so `is_match` (a search) is the right test.
    let regex = Regex::new(source).map_err(|source| ModelError::Pattern {
        shape: shape.to_owned(),
        source,
    })?;
    Ok((source.to_owned(), regex))
}

fn check_length(bounds: &Bounds, length: usize, violate: &mut impl FnMut(Constraint)) {
    let length = i64::try_from(length).unwrap_or(i64::MAX);
    if let Some(min) = bounds.min.filter(|min| length < *min) {
        violate(Constraint::MinLength(min));
    }
    if let Some(max) = bounds.max.filter(|max| length > *max) {
        violate(Constraint::MaxLength(max));
    }
}

/// `StackName.Value` → `stackName.value`: how the query-protocol services name members in
/// their validation messages.
fn lower_camel(path: &str) -> String {
    path.split('.')
        .map(|segment| {
            let mut chars = segment.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Escapes text for an element or a double-quoted attribute; apostrophes stay as they are, as in
/// the services' own messages.
pub(super) fn escape_xml(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            c => escaped.push(c),
        }
    }
    escaped
}

fn join(path: &str, member: &str) -> String {
    if path.is_empty() {
        member.to_owned()
    } else {
        format!("{path}.{member}")
    }
}

fn quote(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(format!("'{text}'")),
        Value::Number(_) | Value::Bool(_) => Some(format!("'{value}'")),
        Value::Null => Some("null".to_owned()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

fn parse_path(request_uri: &str) -> Vec<Segment> {
    request_uri
        .split('/')
        .map(|segment| {
            match segment
                .strip_prefix('{')
                .and_then(|rest| rest.strip_suffix('}'))
            {
                Some(label) => Segment::Label(label.to_owned()),
                None => Segment::Literal(segment.to_owned()),
            }
        })
        .collect()
}

fn parse_body(body: &[u8]) -> Result<Map<String, Value>, InputError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(InputError::Body),
    }
}

fn parse_query(query: &str) -> Result<Vec<(String, String)>, InputError> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(key)?, percent_decode(value)?))
        })
        .collect()
}

/// Decodes an `application/x-www-form-urlencoded` body, the query protocol's request: `+` is a
/// space there, unlike in a URI.
pub(super) fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, InputError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| InputError::Encoding(String::from_utf8_lossy(body).into_owned()))?;
    parse_query(&text.replace('+', " "))
}

/// Decodes `%XX` escapes (the SDK escapes `:` and `/` inside ARN labels, for one).
fn percent_decode(text: &str) -> Result<String, InputError> {
    let invalid = || InputError::Encoding(text.to_owned());
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or_else(invalid)?;
            decoded.push(u8::from_str_radix(hex, 16).map_err(|_| invalid())?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).map_err(|_| invalid())
}

#[derive(Deserialize, Default)]
struct RawModel {
    #[serde(default)]
    metadata: RawMetadata,
    operations: BTreeMap<String, RawOperation>,
    shapes: BTreeMap<String, RawShape>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawMetadata {
    xml_namespace: Option<String>,
}

#[derive(Deserialize)]
struct RawOperation {
    http: RawHttp,
    input: Option<ShapeRef>,
    output: Option<RawOutput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOutput {
    shape: String,
    result_wrapper: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawHttp {
    method: String,
    request_uri: String,
    response_code: Option<u16>,
}

#[derive(Deserialize)]
struct ShapeRef {
    shape: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawShape {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    members: BTreeMap<String, RawMember>,
    #[serde(default)]
    required: Vec<String>,
    member: Option<ShapeRef>,
    key: Option<ShapeRef>,
    value: Option<ShapeRef>,
    min: Option<i64>,
    max: Option<i64>,
    pattern: Option<String>,
    #[serde(rename = "enum")]
    enum_values: Option<Vec<String>>,
    error: Option<RawErrorTrait>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMember {
    shape: String,
    location: Option<String>,
    location_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawErrorTrait {
    http_status_code: u16,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Operation;
    use serde_json::json;
    use std::path::Path;

    fn model() -> &'static Model {
        Model::embedded().unwrap()
    }

    fn no_headers(_: &str) -> Option<&'static str> {
        None
    }

    fn bind(
        method: &str,
        path: &str,
        query: Option<&str>,
        body: Value,
    ) -> Result<Value, InputError> {
        let route = model().route(method, path).expect("a route");
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let request = HttpInput {
            query,
            header: no_headers,
            body: body.as_bytes(),
        };
        model().bind_input(&route, &request)
    }

    /// The input bound from a POST of `body` to `path`, which must be valid.
    fn posted(path: &str, body: Value) -> Value {
        bind("POST", path, None, body).expect("a valid input")
    }

    fn violations(shape: &str, value: Value) -> Vec<(String, Constraint)> {
        match model().validate_named(shape, &value) {
            Ok(()) => Vec::new(),
            Err(ValidationError(violations)) => violations
                .into_iter()
                .map(|v| (v.path, v.constraint))
                .collect(),
        }
    }

    fn one(path: &str, constraint: Constraint) -> Vec<(String, Constraint)> {
        vec![(path.to_owned(), constraint)]
    }

    fn create(overrides: Value) -> Value {
        let mut request =
            json!({ "destinationConfiguration": { "s3": { "bucketName": "bucket" } } });
        for (key, value) in overrides.as_object().unwrap() {
            request[key] = value.clone();
        }
        request
    }

    #[test]
    fn embedded_model_is_the_reference_copy() {
        // shared/ lies beside the workspace root, which is two levels above this crate.
        let reference = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/reference/ivs-2020-07-14-recording-configuration.json");
        if let Ok(text) = std::fs::read_to_string(&reference) {
            assert!(
                text == MODEL_JSON,
                "the embedded model differs from {}",
                reference.display()
            );
        }
    }

    #[test]
    fn model_covers_exactly_the_emulated_operations() {
        let cloudformation = Model::cloudformation().unwrap();
        let mut names: Vec<&str> = model()
            .operation_names()
            .chain(cloudformation.operation_names())
            .collect();
        names.sort_unstable();
        let mut expected: Vec<&str> = Operation::ALL.iter().map(Operation::name).collect();
        expected.sort_unstable();
        assert_eq!(names, expected);
    }

    #[test]
    fn error_statuses_come_from_the_error_shapes() {
        let statuses: Vec<_> = [
            "ValidationException",
            "AccessDeniedException",
            "PendingVerification",
            "ServiceQuotaExceededException",
            "ResourceNotFoundException",
            "ConflictException",
            "ThrottlingException",
            "InternalServerException",
            "NoSuchException",
            "String",
        ]
        .into_iter()
        .map(|code| model().error_status(code))
        .collect();
        assert_eq!(
            statuses,
            [
                Some(400),
                Some(403),
                Some(403),
                Some(402),
                Some(404),
                Some(409),
                Some(429),
                Some(500),
                None,
                None
            ]
        );
    }

    #[test]
    fn routes_by_method_and_path_template() {
        let name = |method, path| {
            model()
                .route(method, path)
                .map(|r| r.operation.name.clone())
        };
        assert_eq!(
            name("POST", "/CreateRecordingConfiguration").as_deref(),
            Some("CreateRecordingConfiguration")
        );
        assert_eq!(
            name("POST", "/tags/arn%3Aaws").as_deref(),
            Some("TagResource")
        );
        assert_eq!(
            name("DELETE", "/tags/arn%3Aaws").as_deref(),
            Some("UntagResource")
        );
        assert_eq!(
            name("GET", "/tags/arn%3Aaws").as_deref(),
            Some("ListTagsForResource")
        );
        assert_eq!(name("GET", "/CreateRecordingConfiguration"), None);
        assert_eq!(name("GET", "/tags/"), None);
        assert_eq!(name("GET", "/tags/a/b"), None);
        assert_eq!(name("POST", "/Nothing"), None);
    }

    #[test]
    fn binds_percent_encoded_labels_and_repeated_query_keys() {
        let arn = "arn:aws:ivs:us-east-1:123456789012:recording-configuration/AbCd1234EfGh";
        let input = bind(
            "DELETE",
            "/tags/arn%3Aaws%3Aivs%3Aus-east-1%3A123456789012%3Arecording-configuration%2FAbCd1234EfGh",
            Some("tagKeys=team&tagKeys=cost%20centre&ignored=1"),
            Value::Null,
        )
        .unwrap();
        assert_eq!(
            input,
            json!({ "resourceArn": arn, "tagKeys": ["team", "cost centre"] })
        );
    }

    #[test]
    fn a_required_query_list_that_is_absent_is_reported() {
        let error = bind(
            "DELETE",
            "/tags/arn%3Aaws%3Aivs%3Aus-east-1%3A1%3Ax%2Fy",
            None,
            Value::Null,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: \
             Member must not be null"
        );
    }

    #[test]
    fn rejects_bodies_that_are_not_objects_and_bad_escapes() {
        assert_eq!(
            bind("POST", "/GetRecordingConfiguration", None, json!([1])),
            Err(InputError::Body)
        );
        assert_eq!(
            bind("GET", "/tags/arn%zz", None, Value::Null),
            Err(InputError::Encoding("arn%zz".to_owned()))
        );
        assert_eq!(percent_decode("%E2%82%AC+").unwrap(), "€+");
        assert!(percent_decode("%+1").is_err());
        assert!(percent_decode("%E2%82").is_err());
    }

    #[test]
    fn drops_members_the_model_does_not_know() {
        let input = posted(
            "/GetRecordingConfiguration",
            json!({ "arn": "arn:aws:ivs:us-east-1:1:recording-configuration/x", "extra": 1 }),
        );
        assert_eq!(
            input,
            json!({ "arn": "arn:aws:ivs:us-east-1:1:recording-configuration/x" })
        );
    }

    #[test]
    fn required_members_are_checked_at_every_depth() {
        let request = "CreateRecordingConfigurationRequest";
        assert_eq!(
            violations(request, json!({})),
            one("destinationConfiguration", Constraint::NotNull)
        );
        assert_eq!(
            violations(request, json!({ "destinationConfiguration": { "s3": {} } })),
            one(
                "destinationConfiguration.s3.bucketName",
                Constraint::NotNull
            )
        );
        assert_eq!(
            violations(request, json!({ "destinationConfiguration": null })),
            one("destinationConfiguration", Constraint::NotNull)
        );
        assert!(violations(request, create(json!({}))).is_empty());
    }

    #[test]
    fn string_lengths_count_code_points() {
        let request = "CreateRecordingConfigurationRequest";
        let bucket =
            |name: &str| json!({ "destinationConfiguration": { "s3": { "bucketName": name } } });
        assert_eq!(
            violations(request, bucket("ab")),
            one(
                "destinationConfiguration.s3.bucketName",
                Constraint::MinLength(3)
            )
        );
        assert_eq!(
            violations(request, bucket(&"b".repeat(64))),
            one(
                "destinationConfiguration.s3.bucketName",
                Constraint::MaxLength(63)
            )
        );
        assert_eq!(
            violations(request, create(json!({ "name": "n".repeat(129) }))),
            one("name", Constraint::MaxLength(128))
        );
        assert!(
            violations(request, create(json!({ "tags": { "k": "é".repeat(256) } }))).is_empty()
        );
        assert_eq!(
            violations(request, create(json!({ "tags": { "k": "é".repeat(257) } }))),
            one("tags.k", Constraint::MaxLength(256))
        );
    }

    #[test]
    fn integer_and_long_ranges_and_types() {
        let request = "CreateRecordingConfigurationRequest";
        let interval = |seconds: Value| {
            create(json!({ "thumbnailConfiguration": { "targetIntervalSeconds": seconds } }))
        };
        let path = "thumbnailConfiguration.targetIntervalSeconds";
        assert_eq!(
            violations(request, interval(json!(0))),
            one(path, Constraint::MinValue(1))
        );
        assert_eq!(
            violations(request, interval(json!(61))),
            one(path, Constraint::MaxValue(60))
        );
        assert!(violations(request, interval(json!(60))).is_empty());
        assert_eq!(
            violations(request, interval(json!(1.5))),
            one(path, Constraint::Type("long"))
        );
        assert_eq!(
            violations(request, interval(json!("30"))),
            one(path, Constraint::Type("long"))
        );
        assert_eq!(
            violations(
                request,
                create(json!({ "recordingReconnectWindowSeconds": 301 }))
            ),
            one("recordingReconnectWindowSeconds", Constraint::MaxValue(300))
        );
        assert_eq!(
            violations(
                request,
                create(json!({ "recordingReconnectWindowSeconds": -1 }))
            ),
            one("recordingReconnectWindowSeconds", Constraint::MinValue(0))
        );
        // Beyond a 32-bit integer, the value cannot even be represented.
        assert_eq!(
            violations(
                request,
                create(json!({ "recordingReconnectWindowSeconds": 1_i64 << 40 }))
            ),
            one(
                "recordingReconnectWindowSeconds",
                Constraint::Type("integer")
            )
        );
    }

    #[test]
    fn enums_lists_and_maps() {
        let request = "CreateRecordingConfigurationRequest";
        let modes = || Constraint::OneOf(vec!["DISABLED".to_owned(), "INTERVAL".to_owned()]);
        assert_eq!(
            violations(
                request,
                create(json!({ "thumbnailConfiguration": { "recordingMode": "SOMETIMES" } }))
            ),
            one("thumbnailConfiguration.recordingMode", modes())
        );
        let storage = Constraint::OneOf(vec!["SEQUENTIAL".to_owned(), "LATEST".to_owned()]);
        assert_eq!(
            violations(
                request,
                create(json!({ "thumbnailConfiguration": { "storage": ["LATEST", "OLDEST"] } }))
            ),
            one("thumbnailConfiguration.storage[1]", storage)
        );
        assert_eq!(
            violations(
                request,
                create(json!({ "thumbnailConfiguration": { "storage": "LATEST" } }))
            ),
            one("thumbnailConfiguration.storage", Constraint::Type("list"))
        );
        let tags: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert_eq!(
            violations(request, create(json!({ "tags": tags }))),
            one("tags", Constraint::MaxLength(50))
        );
        assert_eq!(
            violations(request, create(json!({ "tags": { "": "v" } }))),
            vec![
                (
                    "tags".to_owned(),
                    Constraint::MapKey(Box::new(Constraint::MinLength(1)))
                ),
                (
                    "tags".to_owned(),
                    Constraint::MapKey(Box::new(Constraint::Pattern(
                        r"([\p{L}\p{Z}\p{N}_.:/=+\-@]+)".to_owned()
                    )))
                ),
            ]
        );
        assert_eq!(
            violations(request, create(json!({ "tags": { "k": 1 } }))),
            one("tags.k", Constraint::Type("string"))
        );
    }

    #[test]
    fn patterns_are_searched_not_anchored() {
        let request = "CreateRecordingConfigurationRequest";
        // An unanchored `[a-z0-9-.]+` is satisfied by any one allowed character.
        assert!(violations(
            request,
            json!({ "destinationConfiguration": { "s3": { "bucketName": "My_Bucket" } } })
        )
        .is_empty());
        assert_eq!(
            violations(
                request,
                json!({ "destinationConfiguration": { "s3": { "bucketName": "ABC" } } })
            ),
            one(
                "destinationConfiguration.s3.bucketName",
                Constraint::Pattern("[a-z0-9-.]+".to_owned())
            )
        );
        assert_eq!(
            violations(request, create(json!({ "tags": { "k": "\u{1F600}" } }))),
            vec![]
        );
        assert_eq!(
            violations("TagKey", json!("\u{1F600}")),
            one(
                "",
                Constraint::Pattern(r"([\p{L}\p{Z}\p{N}_.:/=+\-@]+)".to_owned())
            )
        );
        assert!(violations("TagKey", json!("ключ")).is_empty());
    }

    #[test]
    fn resource_arn_erratum_is_needed_and_accepts_real_arns() {
        let real = "arn:aws:ivs:us-east-1:123456789012:recording-configuration/AbCd1234EfGh";
        let published = Regex::new(ERRATA[0].published).unwrap();
        assert!(
            !published.is_match(real),
            "the published pattern now accepts real ARNs: drop the erratum"
        );
        assert!(violations("ResourceArn", json!(real)).is_empty());
        assert_eq!(
            violations("ResourceArn", json!("arn:aws:s3:::bucket")),
            one("", Constraint::Pattern(ERRATA[0].corrected.to_owned()))
        );
    }

    #[test]
    fn several_violations_are_reported_together() {
        let error = model()
            .validate_named(
                "CreateRecordingConfigurationRequest",
                &create(json!({ "name": "n".repeat(129), "recordingReconnectWindowSeconds": 301 })),
            )
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "2 validation errors detected: Value '{}' at 'name' failed to satisfy constraint: \
                 Member must have length less than or equal to 128; Value '301' at \
                 'recordingReconnectWindowSeconds' failed to satisfy constraint: Member must have \
                 value less than or equal to 300",
                "n".repeat(129)
            )
        );
    }

    /// The validator is driven by whatever model it is given, not by the IVS shapes.
    #[test]
    fn binds_and_validates_any_model_generically() {
        let model = Model::parse(&[&json!({
                "operations": { "GetThing": {
                    "http": { "method": "GET", "requestUri": "/things/{id}" },
                    "input": { "shape": "GetThingRequest" }
                } },
                "shapes": {
                    "GetThingRequest": { "type": "structure", "required": ["id", "verbose"], "members": {
                        "id": { "shape": "Id", "location": "uri", "locationName": "id" },
                        "limit": { "shape": "Limit", "location": "querystring", "locationName": "max-items" },
                        "verbose": { "shape": "Flag", "location": "header", "locationName": "x-verbose" }
                    } },
                    "Id": { "type": "string", "pattern": "^[0-9]+$" },
                    "Limit": { "type": "integer", "min": 1, "max": 10 },
                    "Flag": { "type": "boolean" }
                }
            })
            .to_string()])
        .unwrap();
        let route = model.route("GET", "/things/42").unwrap();
        assert_eq!(route.operation.response_code, 200);
        let header = |name: &str| (name == "x-verbose").then_some("true");
        let request = HttpInput {
            query: Some("max-items=7"),
            header,
            body: b"",
        };
        assert_eq!(
            model.bind_input(&route, &request).unwrap(),
            json!({ "id": "42", "limit": 7, "verbose": true })
        );
        let route = model.route("GET", "/things/x1").unwrap();
        let request = HttpInput {
            query: Some("max-items=many"),
            header: no_headers,
            body: b"",
        };
        let Err(InputError::Invalid(ValidationError(found))) = model.bind_input(&route, &request)
        else {
            panic!("expected violations");
        };
        let found: Vec<_> = found.into_iter().map(|v| (v.path, v.constraint)).collect();
        assert_eq!(
            found,
            [
                ("verbose".to_owned(), Constraint::NotNull),
                ("id".to_owned(), Constraint::Pattern("^[0-9]+$".to_owned())),
                ("limit".to_owned(), Constraint::Type("integer")),
            ]
        );
    }

    #[test]
    fn unusable_models_are_refused() {
        let parse = |shapes: Value| {
            Model::parse(&[&json!({ "operations": {}, "shapes": shapes }).to_string()]).err()
        };
        assert!(matches!(
            parse(json!({ "L": { "type": "list", "member": { "shape": "Gone" } } })),
            Some(ModelError::MissingShape { .. })
        ));
        assert!(matches!(
            parse(json!({ "T": { "type": "blob" } })),
            Some(ModelError::UnsupportedType { .. })
        ));
        assert!(matches!(
            parse(json!({ "ResourceArn": { "type": "string", "pattern": "^arn:.*$" } })),
            Some(ModelError::StaleErratum { .. })
        ));
        assert!(matches!(
            parse(json!({ "S": { "type": "string", "pattern": "(" } })),
            Some(ModelError::Pattern { .. })
        ));
        let operation = json!({ "Op": {
            "http": { "method": "GET", "requestUri": "/" },
            "input": { "shape": "S" }
        } });
        let model = json!({ "operations": operation, "shapes": { "S": { "type": "string" } } });
        assert!(matches!(
            Model::parse(&[&model.to_string()]).err(),
            Some(ModelError::InputNotStructure { .. })
        ));
    }

    #[test]
    fn parts_that_define_a_name_twice_are_refused() {
        let part = |shapes: Value| json!({ "operations": {}, "shapes": shapes }).to_string();
        let string = json!({ "S": { "type": "string" } });
        let other = json!({ "T": { "type": "string" } });
        assert!(Model::parse(&[&part(string.clone()), &part(other)]).is_ok());
        assert!(matches!(
            Model::parse(&[&part(string.clone()), &part(string)]).err(),
            Some(ModelError::Duplicate { name }) if name == "S"
        ));
    }

    #[test]
    fn list_channels_is_bound_and_validated_from_its_extract() {
        let input = posted(
            "/ListChannels",
            json!({ "filterByName": "stage", "maxResults": 100 }),
        );
        assert_eq!(input, json!({ "filterByName": "stage", "maxResults": 100 }));
        assert_eq!(
            violations("ListChannelsRequest", json!({ "maxResults": 101 })),
            one("maxResults", Constraint::MaxValue(100))
        );
        assert_eq!(
            violations(
                "ListChannelsRequest",
                json!({ "filterByRecordingConfigurationArn": "arn:aws:s3:::bucket" })
            ),
            one(
                "filterByRecordingConfigurationArn",
                Constraint::Pattern(
                    "^$|^arn:aws:ivs:[a-z0-9-]+:[0-9]+:recording-configuration/[a-zA-Z0-9-]+$"
                        .to_owned()
                )
            )
        );
    }
}
