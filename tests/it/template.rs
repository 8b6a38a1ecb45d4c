//! Checks of the provider template `template.yaml`, the consumer `examples/consumer.yaml`, the
//! README's deployment commands, and the sample events in `events/`.
//!
//! The templates are evaluated, not pattern-matched: `resolve` applies CloudFormation's
//! intrinsic functions (Ref, Fn::Sub, Fn::Join, Fn::Split, Fn::Select, Fn::If, conditions) for
//! given parameter values, so a check sees the policy CloudFormation would create for them. The
//! IAM checks run for every parameter set in `SCENARIOS`, on the real template (no problem
//! allowed) and on copies broken on purpose (each break must be reported), so that a check that
//! stopped checking fails too.

use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

const CUSTOM_TYPE: &str = "Custom::IvsRecordingConfiguration";
/// What consumer stacks import as ServiceToken.
const EXPORT_NAME: &str = "cfn-ivs-recording-function-arn";
/// The tag key every configuration the function creates carries (`REQUEST_MARKER_TAG`).
const MARKER: &str = "cfn-ivs-recording:request-id";

/// Every action the function needs, and nothing else: what the handler calls on IVS, what IVS
/// needs from the caller on CreateRecordingConfiguration (the native resource's handler
/// permissions), and writing its own logs.
const REQUIRED_ACTIONS: &[&str] = &[
    "ivs:CreateRecordingConfiguration",
    "ivs:GetRecordingConfiguration",
    "ivs:DeleteRecordingConfiguration",
    "ivs:ListRecordingConfigurations",
    "ivs:TagResource",
    "ivs:UntagResource",
    "ivs:ListTagsForResource",
    "ivs:ListChannels",
    "iam:CreateServiceLinkedRole",
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "s3:ListBucket",
    "s3:GetBucketLocation",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
];

/// Reads stay unconditioned: polling, reading tags, finding the function's own configurations
/// by marker with List, naming the channels that block a Delete.
const READ_ACTIONS: &[&str] = &[
    "ivs:GetRecordingConfiguration",
    "ivs:ListTagsForResource",
    "ivs:ListRecordingConfigurations",
    "ivs:ListChannels",
];

/// A way to deploy the provider, and the bucket ARNs its S3 statements must then name, exactly.
/// Different accounts and regions catch a hard-coded one.
struct Scenario {
    name: &'static str,
    region: &'static str,
    account: &'static str,
    params: &'static [(&'static str, &'static str)],
    buckets: &'static [&'static str],
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "defaults (sam deploy --guided)",
        region: "eu-west-1",
        account: "111122223333",
        params: &[],
        buckets: &["{DestinationBucket.Arn}"],
    },
    Scenario {
        name: "bucket names",
        region: "us-east-1",
        account: "123456789012",
        params: &[
            ("DeployExample", "false"),
            ("AllowedBucketNames", "rec-a,rec.b"),
        ],
        buckets: &["arn:aws:s3:::rec-a", "arn:aws:s3:::rec.b"],
    },
    Scenario {
        name: "example, a name and a prefix",
        region: "us-west-2",
        account: "123456789012",
        params: &[
            ("AllowedBucketNames", "rec-a"),
            ("AllowedBucketPrefix", "team-"),
        ],
        buckets: &[
            "{DestinationBucket.Arn}",
            "arn:aws:s3:::rec-a",
            "arn:aws:s3:::team-*",
        ],
    },
    Scenario {
        name: "every bucket, asked for explicitly",
        region: "us-east-1",
        account: "123456789012",
        params: &[("DeployExample", "false"), ("AllowedBucketNames", "*")],
        buckets: &["arn:aws:s3:::*"],
    },
    Scenario {
        name: "no bucket",
        region: "us-east-1",
        account: "123456789012",
        params: &[("DeployExample", "false")],
        buckets: &[],
    },
];

// ------------------------------------------------------------------------------------------------
// Loading and evaluating
// ------------------------------------------------------------------------------------------------

fn read(relative: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A template as JSON, CloudFormation's short-form tags in their long form (`!Ref X` →
/// `{"Ref": "X"}`, `!GetAtt A.B` → `{"Fn::GetAtt": ["A", "B"]}`, `!Name v` → `{"Fn::Name": v}`).
fn load(relative: &str) -> Value {
    fn convert(yaml: serde_yaml_ng::Value) -> Value {
        use serde_yaml_ng::Value as Y;
        match yaml {
            Y::Null => Value::Null,
            Y::Bool(b) => json!(b),
            Y::Number(n) => n.as_i64().map_or_else(|| json!(n.as_f64()), |i| json!(i)),
            Y::String(s) => json!(s),
            Y::Sequence(items) => Value::Array(items.into_iter().map(convert).collect()),
            Y::Mapping(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (k.as_str().expect("string keys").to_string(), convert(v)))
                    .collect(),
            ),
            Y::Tagged(tagged) => {
                let tag = tagged.tag.to_string();
                match (tag.trim_start_matches('!'), convert(tagged.value)) {
                    ("Ref", value) => json!({ "Ref": value }),
                    ("GetAtt", Value::String(s)) => {
                        let (id, attribute) = s.split_once('.').expect("!GetAtt Id.Attribute");
                        json!({"Fn::GetAtt": [id, attribute]})
                    }
                    (name, value) => json!({ format!("Fn::{name}"): value }),
                }
            }
        }
    }
    let yaml = serde_yaml_ng::from_str(&read(relative))
        .unwrap_or_else(|e| panic!("{relative} is not YAML: {e}"));
    convert(yaml)
}

fn provider() -> Value {
    load("template.yaml")
}

fn consumer() -> Value {
    load("examples/consumer.yaml")
}

/// Where a template is evaluated: the stack's parameter values and pseudo parameters. A
/// resource's Ref evaluates to `{Id}`, its attribute to `{Id.Attribute}`, an import to
/// `{import:Name}`: values only AWS knows.
struct Env<'t> {
    template: &'t Value,
    refs: BTreeMap<String, Value>,
}

/// An evaluated value; `None` is `AWS::NoValue` (the key or list item disappears).
type Eval = Result<Option<Value>, String>;

fn text(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!("{other} is not a string")),
    }
}

/// The argument of a one-key object `{key: argument}`.
fn single<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    value.as_object().filter(|m| m.len() == 1)?.get(key)
}

impl Env<'_> {
    fn condition(&self, name: &str) -> Result<bool, String> {
        self.truth(&self.template["Conditions"][name])
    }

    fn truth(&self, e: &Value) -> Result<bool, String> {
        match (
            single(e, "Condition"),
            single(e, "Fn::Equals"),
            single(e, "Fn::Not"),
        ) {
            (Some(Value::String(name)), ..) => self.condition(name),
            (_, Some(Value::Array(a)), _) if a.len() == 2 => {
                Ok(self.eval(&a[0])? == self.eval(&a[1])?)
            }
            (.., Some(Value::Array(a))) if a.len() == 1 => Ok(!self.truth(&a[0])?),
            _ => Err(format!("cannot evaluate the condition {e}")),
        }
    }

    /// Whether the stack creates this resource (its Condition holds).
    fn created(&self, id: &str) -> Result<bool, String> {
        match &self.template["Resources"][id] {
            Value::Null => Err(format!("no resource {id}")),
            resource => resource["Condition"]
                .as_str()
                .map_or(Ok(true), |c| self.condition(c)),
        }
    }

    fn eval(&self, value: &Value) -> Eval {
        match value {
            Value::Object(map) => {
                if let Some((f, arg)) = map.iter().next().filter(|_| map.len() == 1) {
                    if f == "Ref" || f.starts_with("Fn::") {
                        return self.intrinsic(f, arg);
                    }
                }
                let mut out = Map::new();
                for (key, item) in map {
                    if let Some(v) = self.eval(item)? {
                        out.insert(key.clone(), v);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            Value::Array(items) => {
                let mut out = Vec::new();
                for item in items {
                    out.extend(self.eval(item)?);
                }
                Ok(Some(Value::Array(out)))
            }
            other => Ok(Some(other.clone())),
        }
    }

    fn string(&self, value: &Value) -> Result<String, String> {
        text(
            &self
                .eval(value)?
                .ok_or("AWS::NoValue where a string is needed")?,
        )
    }

    fn list(&self, value: &Value) -> Result<Vec<Value>, String> {
        match self.eval(value)? {
            Some(Value::Array(items)) => Ok(items),
            other => Err(format!("{other:?} is not a list")),
        }
    }

    fn intrinsic(&self, f: &str, arg: &Value) -> Eval {
        let args = arg.as_array().map(Vec::as_slice).unwrap_or_default();
        let value = match (f, args) {
            ("Ref", _) => return self.reference(arg.as_str().ok_or("Ref of a non-string")?),
            ("Fn::GetAtt", [Value::String(id), Value::String(attribute)]) => {
                self.attribute(id, attribute)?
            }
            ("Fn::Sub", _) => json!(self.sub(arg)?),
            ("Fn::Join", [Value::String(separator), list]) => {
                let parts: Result<Vec<String>, String> =
                    self.list(list)?.iter().map(text).collect();
                json!(parts?.join(separator))
            }
            ("Fn::Split", [Value::String(separator), s]) => {
                json!(self
                    .string(s)?
                    .split(separator.as_str())
                    .collect::<Vec<_>>())
            }
            ("Fn::Select", [index, list]) => {
                let i: usize = self.string(index)?.parse().map_err(|e| format!("{e}"))?;
                self.list(list)?
                    .get(i)
                    .cloned()
                    .ok_or(format!("Fn::Select {i}: too few items"))?
            }
            ("Fn::If", [Value::String(condition), yes, no]) => {
                return self.eval(if self.condition(condition)? { yes } else { no });
            }
            ("Fn::ImportValue", _) => json!(format!("{{import:{}}}", self.string(arg)?)),
            _ => return Err(format!("cannot evaluate {f} {arg}")),
        };
        Ok(Some(value))
    }

    fn reference(&self, name: &str) -> Eval {
        if name == "AWS::NoValue" {
            return Ok(None);
        }
        if let Some(value) = self.refs.get(name) {
            return Ok(Some(value.clone()));
        }
        match self.created(name)? {
            true => Ok(Some(json!(format!("{{{name}}}")))),
            false => Err(format!(
                "Ref to {name}, which these parameters do not create"
            )),
        }
    }

    fn attribute(&self, id: &str, attribute: &str) -> Result<Value, String> {
        match self.created(id)? {
            true => Ok(json!(format!("{{{id}.{attribute}}}"))),
            false => Err(format!(
                "{id}.{attribute}: these parameters do not create {id}"
            )),
        }
    }

    fn sub(&self, arg: &Value) -> Result<String, String> {
        let (template, vars) = match arg {
            Value::String(s) => (s.as_str(), None),
            Value::Array(a) => match a.as_slice() {
                [Value::String(s), Value::Object(vars)] => (s.as_str(), Some(vars)),
                _ => return Err(format!("Fn::Sub {arg}")),
            },
            _ => return Err(format!("Fn::Sub {arg}")),
        };
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let (name, after) = rest[start + 2..].split_once('}').ok_or("unclosed ${")?;
            let value = match (vars.and_then(|v| v.get(name)), name.split_once('.')) {
                _ if name.starts_with('!') => format!("${{{}}}", &name[1..]),
                (Some(value), _) => self.string(value)?,
                (None, Some((id, attribute))) => text(&self.attribute(id, attribute)?)?,
                (None, None) => text(&self.reference(name)?.ok_or("AWS::NoValue in Fn::Sub")?)?,
            };
            out.push_str(&value);
            rest = after;
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// The template as CloudFormation would create it in this region and account with these
/// parameter values (the others at their Default): resources and outputs whose Condition is
/// false left out, every intrinsic function applied.
fn resolve(
    template: &Value,
    region: &str,
    account: &str,
    params: &[(&str, &str)],
) -> Result<Value, String> {
    let declared = template["Parameters"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if let Some((name, _)) = params.iter().find(|(n, _)| !declared.contains_key(*n)) {
        return Err(format!("the template has no parameter {name}"));
    }
    let stack_id = format!(
        "arn:aws:cloudformation:{region}:{account}:stack/demo/5b1f8e10-3f5a-11ef-9c2a-0a1b2c3d4e5f"
    );
    let mut refs: BTreeMap<String, Value> = [
        ("AWS::Partition", "aws"),
        ("AWS::Region", region),
        ("AWS::AccountId", account),
        ("AWS::StackName", "demo"),
        ("AWS::StackId", &stack_id),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), json!(v)))
    .collect();
    for (name, declaration) in &declared {
        let value = match params.iter().find(|(n, _)| n == name) {
            Some((_, v)) => v.to_string(),
            None => text(&declaration["Default"]).map_err(|e| format!("parameter {name}: {e}"))?,
        };
        let value = match declaration["Type"].as_str() {
            Some("CommaDelimitedList") => json!(value.split(',').collect::<Vec<_>>()),
            _ => json!(value),
        };
        refs.insert(name.clone(), value);
    }
    let env = Env { template, refs };
    let mut out = json!({"Resources": {}, "Outputs": {}});
    for section in ["Resources", "Outputs"] {
        for (id, item) in template[section].as_object().into_iter().flatten() {
            let created = item["Condition"]
                .as_str()
                .map_or(Ok(true), |c| env.condition(c))?;
            if created {
                let value = env.eval(item).map_err(|e| format!("{section}.{id}: {e}"))?;
                out[section][id.as_str()] = value.unwrap_or_default();
            }
        }
    }
    Ok(out)
}

/// `resolve` in us-east-1 / 123456789012, failing the test when the template cannot be evaluated.
fn evaluate(template: &Value, params: &[(&str, &str)]) -> Value {
    resolve(template, "us-east-1", "123456789012", params)
        .unwrap_or_else(|e| panic!("cannot evaluate the template with {params:?}: {e}"))
}

fn resources_of_type<'a>(
    template: &'a Value,
    kind: &'a str,
) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
    template["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(move |(_, r)| r["Type"] == kind)
}

fn the_one<'a>(template: &'a Value, kind: &'a str) -> (&'a String, &'a Value) {
    match resources_of_type(template, kind)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [one] => *one,
        other => panic!("expected one {kind}, found {}", other.len()),
    }
}

/// The logical id in an evaluated Ref (`{Id}`) or attribute (`{Id.Attribute}`).
fn symbol(value: &Value) -> Option<&str> {
    let inner = value.as_str()?.strip_prefix('{')?.strip_suffix('}')?;
    inner.split('.').next()
}

fn one_or_many(value: &Value) -> Vec<&Value> {
    match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

// ------------------------------------------------------------------------------------------------
// The role's policy
// ------------------------------------------------------------------------------------------------

struct Statement<'a> {
    place: String,
    body: &'a Value,
}

impl Statement<'_> {
    fn actions(&self) -> Vec<&str> {
        one_or_many(&self.body["Action"])
            .into_iter()
            .map(|a| a.as_str().unwrap_or("<not a string>"))
            .collect()
    }

    fn resources(&self) -> Vec<&str> {
        one_or_many(&self.body["Resource"])
            .into_iter()
            .map(|r| r.as_str().unwrap_or("<not a string>"))
            .collect()
    }

    /// The values of one condition key under one operator (booleans as "true" / "false").
    fn condition(&self, operator: &str, key: &str) -> Vec<String> {
        one_or_many(&self.body["Condition"][operator][key])
            .into_iter()
            .map(|v| {
                v.as_bool()
                    .map_or_else(|| text(v).unwrap_or_default(), |b| b.to_string())
            })
            .collect()
    }
}

/// Every permission statement of an evaluated template (trust policies are not permissions),
/// and a problem for each policy these checks cannot read (a managed policy, a SAM policy).
fn statements(template: &Value) -> (Vec<Statement<'_>>, Vec<String>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for (id, resource) in template["Resources"].as_object().into_iter().flatten() {
        let props = &resource["Properties"];
        let documents: Vec<&Value> = match resource["Type"].as_str().unwrap_or("") {
            "AWS::IAM::Role" | "AWS::IAM::User" | "AWS::IAM::Group" => {
                if !one_or_many(&props["ManagedPolicyArns"]).is_empty() {
                    problems.push(format!("{id}: ManagedPolicyArns cannot be checked (AWSLambdaBasicExecutionRole allows logs on every resource)"));
                }
                one_or_many(&props["Policies"])
                    .into_iter()
                    .map(|p| &p["PolicyDocument"])
                    .collect()
            }
            "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => vec![&props["PolicyDocument"]],
            "AWS::Serverless::Function" if props.get("Policies").is_some() => {
                problems.push(format!(
                    "{id}.Policies go to a role SAM generates, out of reach of these checks"
                ));
                vec![]
            }
            _ => vec![],
        };
        for (i, body) in documents
            .into_iter()
            .flat_map(|d| one_or_many(&d["Statement"]))
            .enumerate()
        {
            let place = format!(
                "{id} statement {i} ({})",
                body["Sid"].as_str().unwrap_or("")
            );
            found.push(Statement { place, body });
        }
    }
    (found, problems)
}

/// A check of an evaluated template: the problems it finds.
type Check = fn(&Scenario, &Value) -> Vec<String>;

/// Actions: exactly those the function needs (a wildcard, a missing or an extra action is
/// reported), in Allow statements with Action and Resource (NotAction and NotResource grant
/// everything they do not list), in policies these checks can read.
fn check_actions(scenario: &Scenario, template: &Value) -> Vec<String> {
    let (statements, mut problems) = statements(template);
    let mut granted = BTreeSet::new();
    for s in &statements {
        if s.body["Effect"] != "Allow"
            || s.body.get("NotAction").is_some()
            || s.body.get("NotResource").is_some()
        {
            problems.push(format!(
                "{}: only Allow statements with Action and Resource",
                s.place
            ));
        }
        granted.extend(s.actions());
    }
    // With no bucket allowed there is no S3 statement (an empty Resource is invalid).
    let required: BTreeSet<&str> = REQUIRED_ACTIONS
        .iter()
        .copied()
        .filter(|a| !(scenario.buckets.is_empty() && a.starts_with("s3:")))
        .collect();
    problems.extend(
        required
            .difference(&granted)
            .map(|a| format!("{a} is needed but not granted")),
    );
    problems.extend(
        granted
            .difference(&required)
            .map(|a| format!("{a} is granted but not needed")),
    );
    problems
}

/// Resources: each action only on what it needs. IVS on this account's and region's recording
/// configurations (ListChannels: channels), IAM on IVS's recording service-linked role, logs on
/// the function's own log group, S3 on exactly the buckets the parameters name. Hence no `*`
/// (but the explicit every-bucket choice), no other account or region, no objects.
fn check_resources(scenario: &Scenario, template: &Value) -> Vec<String> {
    let (statements, _) = statements(template);
    let (_, function) = the_one(template, "AWS::Serverless::Function");
    let log_group = symbol(&function["Properties"]["LoggingConfig"]["LogGroup"]).unwrap_or("?");
    let log_group = format!("{{{log_group}.Arn}}");
    let ivs = format!("arn:aws:ivs:{}:{}:", scenario.region, scenario.account);
    let role = format!(
        "arn:aws:iam::{}:role/aws-service-role/ivs.amazonaws.com/AWSServiceRoleForIVSRecordToS3*",
        scenario.account
    );
    let mut problems = Vec::new();
    let mut buckets = BTreeSet::new();
    for s in &statements {
        let resources = s.resources();
        if resources.is_empty() {
            problems.push(format!("{}: no Resource", s.place));
        }
        for (action, r) in s
            .actions()
            .into_iter()
            .flat_map(|a| resources.iter().map(move |r| (a, *r)))
        {
            let allowed = match action.split(':').next().unwrap_or("") {
                "ivs" => {
                    let kind = if action == "ivs:ListChannels" {
                        "channel/"
                    } else {
                        "recording-configuration/"
                    };
                    r.strip_prefix(&ivs)
                        .and_then(|rest| rest.strip_prefix(kind))
                        .is_some_and(|id| !id.is_empty())
                }
                "iam" => r == role,
                "logs" => r == log_group,
                "s3" => {
                    buckets.insert(r.to_string());
                    scenario.buckets.contains(&r)
                }
                _ => false,
            };
            if !allowed {
                problems.push(format!("{}: {action} on {r}", s.place));
            }
        }
    }
    let expected: BTreeSet<String> = scenario.buckets.iter().map(|b| b.to_string()).collect();
    if buckets != expected {
        problems.push(format!(
            "S3 on {buckets:?}, but the parameters name {expected:?}"
        ));
    }
    problems
}

/// Conditions. The marker tag bounds what the function may change: Create only with the marker
/// in the request; Delete and TagResource only on configurations that carry it; UntagResource
/// only on those and never of the marker; a TagResource statement keyed on the request's marker
/// alone for the tags given at create time; reads unconditioned. And the service-linked role
/// only for IVS.
fn check_conditions(_: &Scenario, template: &Value) -> Vec<String> {
    let (statements, _) = statements(template);
    let (on_resource, in_request) = (
        format!("aws:ResourceTag/{MARKER}"),
        format!("aws:RequestTag/{MARKER}"),
    );
    let mut problems = Vec::new();
    let mut tags_at_create = false;
    for s in &statements {
        let owned = s.condition("Null", &on_resource) == ["false"];
        let marked = s.condition("Null", &in_request) == ["false"];
        let keeps_marker = s
            .condition("ForAllValues:StringNotEquals", "aws:TagKeys")
            .iter()
            .any(|k| k == MARKER);
        for action in s.actions() {
            let (ok, needs) = match action {
                "ivs:CreateRecordingConfiguration" => (marked, "the marker in the request"),
                "ivs:DeleteRecordingConfiguration" => (owned, "the marker on the configuration"),
                "ivs:UntagResource" => (owned && keeps_marker, "the marker on the configuration and ForAllValues:StringNotEquals aws:TagKeys marker"),
                "ivs:TagResource" => {
                    tags_at_create |= marked && !owned;
                    (owned || marked, "the marker on the configuration or in the request")
                }
                "iam:CreateServiceLinkedRole" => (
                    s.condition("StringEquals", "iam:AWSServiceName") == ["ivs.amazonaws.com"],
                    "StringEquals iam:AWSServiceName ivs.amazonaws.com",
                ),
                a if READ_ACTIONS.contains(&a) => (s.body.get("Condition").is_none(), "no Condition (List finds the function's own configurations by marker)"),
                _ => continue,
            };
            if !ok {
                problems.push(format!("{}: {action} needs {needs}", s.place));
            }
        }
    }
    if !tags_at_create {
        problems.push("no ivs:TagResource keyed on the request's marker alone: if IVS authorizes the tags given at create time as TagResource (on a configuration with no tags yet), every Create is denied".into());
    }
    problems
}

/// The problems `check` finds in `template` evaluated for every scenario.
fn problems_in(template: &Value, check: Check) -> Vec<String> {
    let mut problems = Vec::new();
    for scenario in SCENARIOS {
        match resolve(template, scenario.region, scenario.account, scenario.params) {
            Ok(t) => problems.extend(
                check(scenario, &t)
                    .into_iter()
                    .map(|p| format!("[{}] {p}", scenario.name)),
            ),
            Err(e) => problems.push(format!("[{}] cannot evaluate: {e}", scenario.name)),
        }
    }
    problems
}

/// A copy of a template (or of an event) broken on purpose: what it breaks, and how.
type Mutation<'a> = (&'a str, &'a dyn Fn(&mut Value));

fn role_statements(template: &mut Value) -> &mut Vec<Value> {
    let document =
        &mut template["Resources"]["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"];
    document["Statement"]
        .as_array_mut()
        .expect("FunctionRole's first policy has statements")
}

/// The role's statement with this Sid, also inside an `Fn::If`.
fn statement<'a>(template: &'a mut Value, sid: &str) -> &'a mut Value {
    let item = role_statements(template)
        .iter_mut()
        .find(|s| s["Sid"] == sid || s["Fn::If"][1]["Sid"] == sid)
        .unwrap_or_else(|| panic!("no statement {sid}"));
    if item.get("Fn::If").is_some() {
        &mut item["Fn::If"][1]
    } else {
        item
    }
}

fn push_action(template: &mut Value, sid: &str, action: &str) {
    let s = statement(template, sid);
    s["Action"] = json!([one_or_many(&s["Action"]), vec![&json!(action)]].concat());
}

fn remove(template: &mut Value, sid: &str, key: &str) {
    statement(template, sid)
        .as_object_mut()
        .unwrap()
        .remove(key);
}

fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}

/// Asserts that `check` passes on the real template and reports a problem on each mutation.
fn assert_check(name: &str, check: Check, mutations: &[Mutation]) {
    let template = provider();
    let problems = problems_in(&template, check);
    assert!(
        problems.is_empty(),
        "{name} on template.yaml:\n  {}",
        problems.join("\n  ")
    );
    for (what, mutate) in mutations {
        let mut broken = template.clone();
        mutate(&mut broken);
        assert_ne!(broken, template, "mutation {what:?} changed nothing");
        assert!(
            !problems_in(&broken, check).is_empty(),
            "{name} missed a regression: {what}"
        );
    }
}

#[test]
fn policy_grants_exactly_the_actions_the_function_needs() {
    assert_check(
        "check_actions",
        check_actions,
        &[
            ("ivs:*", &|t| {
                push_action(t, "IvsReadRecordingConfigurations", "ivs:*")
            }),
            ("*", &|t| push_action(t, "OwnLogGroup", "*")),
            ("s3:GetObject in a conditional statement", &|t| {
                push_action(t, "AllowedBuckets", "s3:GetObject")
            }),
            ("ListChannels dropped", &|t| {
                role_statements(t).retain(|s| s["Sid"] != "IvsChannelsUsingConfiguration")
            }),
            ("NotAction", &|t| {
                let s = statement(t, "OwnLogGroup");
                s["NotAction"] = s["Action"].take();
            }),
            ("managed policy on the role", &|t| {
                t["Resources"]["FunctionRole"]["Properties"]["ManagedPolicyArns"] =
                    json!(["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"])
            }),
            ("policies on the function", &|t| {
                t["Resources"]["Function"]["Properties"]["Policies"] =
                    json!(["AWSLambdaBasicExecutionRole"])
            }),
            ("a separate AWS::IAM::Policy", &|t| {
                t["Resources"]["Extra"] = json!({"Type": "AWS::IAM::Policy", "Properties": {
                    "PolicyName": "extra", "Roles": [{"Ref": "FunctionRole"}],
                    "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "ivs:CreateChannel", "Resource": "*"}]}}})
            }),
        ],
    );
}

#[test]
fn policy_resources_are_this_account_and_region_and_the_named_buckets() {
    assert_check(
        "check_resources",
        check_resources,
        &[
            ("reads on *", &|t| {
                statement(t, "IvsReadRecordingConfigurations")["Resource"] = json!("*")
            }),
            ("every region", &|t| {
                statement(t, "IvsChangeOwnConfigurations")["Resource"] =
                    sub("arn:${AWS::Partition}:ivs:*:${AWS::AccountId}:recording-configuration/*")
            }),
            ("a hard-coded region", &|t| {
                statement(t, "IvsCreateWithMarker")["Resource"] =
                    sub("arn:${AWS::Partition}:ivs:us-east-1:${AWS::AccountId}:recording-configuration/*")
            }),
            ("ListChannels on recording configurations", &|t| {
                statement(t, "IvsChannelsUsingConfiguration")["Resource"] =
                    sub("arn:${AWS::Partition}:ivs:${AWS::Region}:${AWS::AccountId}:recording-configuration/*")
            }),
            ("every role", &|t| {
                statement(t, "IvsRecordingServiceLinkedRolePolicies")["Resource"] =
                    sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*")
            }),
            ("logs on * (as AWSLambdaBasicExecutionRole)", &|t| {
                statement(t, "OwnLogGroup")["Resource"] = json!(["*"])
            }),
            ("no Resource", &|t| remove(t, "OwnLogGroup", "Resource")),
            ("the example bucket's objects", &|t| {
                statement(t, "ExampleBucket")["Resource"] = sub("${DestinationBucket.Arn}/*")
            }),
            ("the prefix without its wildcard", &|t| {
                statement(t, "AllowedBucketPrefix")["Resource"] =
                    sub("arn:${AWS::Partition}:s3:::${AllowedBucketPrefix}")
            }),
            ("every bucket whatever the names", &|t| {
                statement(t, "AllowedBuckets")["Resource"] = json!("arn:aws:s3:::*")
            }),
            ("only the first name", &|t| {
                let first = json!({"Fn::Select": [0, {"Ref": "AllowedBucketNames"}]});
                statement(t, "AllowedBuckets")["Resource"] =
                    json!({"Fn::Sub": ["arn:aws:s3:::${N}", {"N": first}]})
            }),
            ("the example bucket whether deployed or not", &|t| {
                let list = role_statements(t);
                let i = list
                    .iter()
                    .position(|s| s["Fn::If"][1]["Sid"] == "ExampleBucket")
                    .unwrap();
                list[i] = list[i]["Fn::If"][1].take();
            }),
        ],
    );
}

#[test]
fn only_configurations_carrying_the_marker_can_be_deleted_or_retagged() {
    let null = |key: &str, value: &str| json!({"Null": {key: value}});
    assert_check(
        "check_conditions",
        check_conditions,
        &[
            ("Delete and Tag unconditioned", &|t| {
                remove(t, "IvsChangeOwnConfigurations", "Condition")
            }),
            ("the marker absent instead of present", &|t| {
                statement(t, "IvsChangeOwnConfigurations")["Condition"] =
                    null(&format!("aws:ResourceTag/{MARKER}"), "true")
            }),
            ("another tag key", &|t| {
                statement(t, "IvsChangeOwnConfigurations")["Condition"] =
                    null("aws:ResourceTag/team", "false")
            }),
            ("Create without the marker", &|t| {
                remove(t, "IvsCreateWithMarker", "Condition")
            }),
            ("no TagResource for create-time tags", &|t| {
                role_statements(t).retain(|s| s["Sid"] != "IvsTagAtCreate")
            }),
            ("create-time TagResource that deletes too", &|t| {
                push_action(t, "IvsTagAtCreate", "ivs:DeleteRecordingConfiguration")
            }),
            ("the marker untagged alongside another key", &|t| {
                let condition = &mut statement(t, "IvsUntagOwnButNotMarker")["Condition"];
                let keys = condition
                    .as_object_mut()
                    .unwrap()
                    .remove("ForAllValues:StringNotEquals");
                condition["ForAnyValue:StringNotEquals"] = keys.unwrap();
            }),
            ("Delete among the reads", &|t| {
                push_action(
                    t,
                    "IvsReadRecordingConfigurations",
                    "ivs:DeleteRecordingConfiguration",
                )
            }),
            ("List only of marked configurations", &|t| {
                statement(t, "IvsReadRecordingConfigurations")["Condition"] =
                    null(&format!("aws:ResourceTag/{MARKER}"), "false")
            }),
            ("a service-linked role for any service", &|t| {
                remove(t, "IvsRecordingServiceLinkedRole", "Condition")
            }),
        ],
    );
}

// ------------------------------------------------------------------------------------------------
// One provider, many stacks
// ------------------------------------------------------------------------------------------------

/// The README's "Deploying" section.
fn deploying_section() -> String {
    let readme = read("README.md");
    let start = readme
        .find("\n## Deploying\n")
        .expect("README has a Deploying section")
        + 1;
    let end = readme[start + 3..]
        .find("\n## ")
        .map_or(readme.len(), |i| start + 3 + i);
    readme[start..end].to_string()
}

/// The `Key=Value` pairs after `--parameter-overrides` in the Deploying section's command line
/// that starts with `prefix` and mentions `mentions` (continuation lines joined).
fn readme_overrides(prefix: &str, mentions: &str) -> Vec<(String, String)> {
    let section = deploying_section().replace("\\\n", " ");
    let command = section
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with(prefix) && line.contains(mentions))
        .unwrap_or_else(|| {
            panic!("README's Deploying section has no `{prefix} ... {mentions}` command")
        });
    command
        .split_whitespace()
        .skip_while(|t| *t != "--parameter-overrides")
        .skip(1)
        .take_while(|t| !t.starts_with("--") && !t.starts_with('#'))
        .map(|t| {
            let (key, value) = t
                .split_once('=')
                .unwrap_or_else(|| panic!("README: {t} is not Key=Value"));
            (key.to_string(), value.trim_matches(['"', '\'']).to_string())
        })
        .collect()
}

fn pairs(values: &[(String, String)]) -> Vec<(&str, &str)> {
    values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Whether `text` matches an IAM resource pattern (`*`: any run of characters).
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => text.strip_prefix(head).is_some_and(|rest| {
            (0..=rest.len()).any(|i| rest.is_char_boundary(i) && glob(tail, &rest[i..]))
        }),
    }
}

fn s3_resources(template: &Value) -> Vec<String> {
    let (statements, _) = statements(template);
    let s3 = statements
        .iter()
        .filter(|s| s.actions().iter().any(|a| a.starts_with("s3:")));
    s3.flat_map(|s| s.resources()).map(String::from).collect()
}

#[test]
fn export_matches_the_consumers_import_and_the_readme() {
    // Exported whether or not the example is deployed: it is what the provider is for.
    for params in [&[][..], &[("DeployExample", "false")][..]] {
        let t = evaluate(&provider(), params);
        let (function, _) = the_one(&t, "AWS::Serverless::Function");
        let outputs = t["Outputs"].as_object().unwrap().values();
        let exports: Vec<&Value> = outputs
            .filter(|o| o["Export"]["Name"] == EXPORT_NAME)
            .collect();
        assert_eq!(
            exports.len(),
            1,
            "one output exports {EXPORT_NAME} with {params:?}"
        );
        assert_eq!(exports[0]["Value"], json!(format!("{{{function}.Arn}}")));
    }
    let c = consumer();
    let customs: Vec<_> = resources_of_type(&c, CUSTOM_TYPE).collect();
    assert!(!customs.is_empty(), "the consumer has no {CUSTOM_TYPE}");
    for (id, custom) in customs {
        let token = &custom["Properties"]["ServiceToken"];
        assert_eq!(
            token,
            &json!({"Fn::ImportValue": EXPORT_NAME}),
            "consumer {id}"
        );
    }
    let example = format!("ServiceToken: !ImportValue {EXPORT_NAME}");
    assert!(
        deploying_section().contains(&example),
        "the README's example imports {EXPORT_NAME}"
    );
}

#[test]
fn consumer_bucket_is_allowed_when_deployed_as_the_readme_says() {
    // One of the longest region names, for the bucket name's length.
    let (region, account) = ("ap-southeast-2", "123456789012");
    let consumer_params = readme_overrides("aws cloudformation deploy", "examples/consumer.yaml");
    let c = resolve(&consumer(), region, account, &pairs(&consumer_params))
        .unwrap_or_else(|e| panic!("{e}"));
    let (bucket_id, bucket) = the_one(&c, "AWS::S3::Bucket");
    let name = bucket["Properties"]["BucketName"]
        .as_str()
        .expect("the consumer names its bucket");
    let valid = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    assert!(valid, "{name:?} is not a valid S3 bucket name");
    for (id, custom) in resources_of_type(&c, CUSTOM_TYPE) {
        let destination = &custom["Properties"]["DestinationConfiguration"]["S3"]["BucketName"];
        assert_eq!(
            symbol(destination),
            Some(bucket_id.as_str()),
            "{id} records into the consumer's bucket"
        );
    }

    let arn = format!("arn:aws:s3:::{name}");
    let provider_params = readme_overrides("sam deploy", "--parameter-overrides");
    let as_documented = resolve(&provider(), region, account, &pairs(&provider_params)).unwrap();
    let allowed = s3_resources(&as_documented);
    assert!(
        allowed.iter().any(|p| glob(p, &arn)),
        "deployed as the README says ({provider_params:?}), the provider allows {allowed:?}, not {arn}"
    );
    // The README's parameters are what makes it work: by default the provider allows only its
    // example bucket, and IVS would refuse the consumer's.
    let by_default = s3_resources(&resolve(&provider(), region, account, &[]).unwrap());
    assert!(!by_default.iter().any(|p| glob(p, &arn)), "{by_default:?}");
}

/// Every bucket: versioned, private, encrypted, owner-enforced, and a bucket policy that denies
/// any request without TLS, on the bucket and its objects.
fn check_buckets(template: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let buckets: Vec<_> = resources_of_type(template, "AWS::S3::Bucket").collect();
    if buckets.is_empty() {
        problems.push("no bucket".to_string());
    }
    for (id, bucket) in buckets {
        let p = &bucket["Properties"];
        let block = &p["PublicAccessBlockConfiguration"];
        let encryption = &p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
        let hardened = p["VersioningConfiguration"]["Status"] == "Enabled"
            && [
                "BlockPublicAcls",
                "BlockPublicPolicy",
                "IgnorePublicAcls",
                "RestrictPublicBuckets",
            ]
            .iter()
            .all(|key| block[key] == true)
            && p["OwnershipControls"]["Rules"][0]["ObjectOwnership"] == "BucketOwnerEnforced"
            && encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"].is_string();
        if !hardened {
            problems.push(format!(
                "{id}: not versioned, private, owner-enforced and encrypted: {p}"
            ));
        }
        let (arn, objects) = (
            json!(format!("{{{id}.Arn}}")),
            json!(format!("{{{id}.Arn}}/*")),
        );
        let denies_plain_http = resources_of_type(template, "AWS::S3::BucketPolicy")
            .filter(|(_, policy)| symbol(&policy["Properties"]["Bucket"]) == Some(id.as_str()))
            .flat_map(|(_, policy)| {
                one_or_many(&policy["Properties"]["PolicyDocument"]["Statement"])
            })
            .any(|s| {
                let resources = one_or_many(&s["Resource"]);
                let insecure = &s["Condition"]["Bool"]["aws:SecureTransport"];
                s["Effect"] == "Deny"
                    && (s["Principal"] == "*" || s["Principal"]["AWS"] == "*")
                    && one_or_many(&s["Action"]).contains(&&json!("s3:*"))
                    && resources.contains(&&arn)
                    && resources.contains(&&objects)
                    && (insecure == "false" || insecure == false)
            });
        if !denies_plain_http {
            problems.push(format!(
                "{id}: no bucket policy denies s3:* on it and its objects without TLS"
            ));
        }
    }
    problems
}

#[test]
fn buckets_refuse_plain_http_and_keep_versions() {
    for (name, template) in [
        ("template.yaml", provider()),
        ("examples/consumer.yaml", consumer()),
    ] {
        let problems = check_buckets(&evaluate(&template, &[]));
        assert!(problems.is_empty(), "{name}:\n  {}", problems.join("\n  "));
    }
    fn policy(t: &mut Value) -> &mut Value {
        &mut t["Resources"]["DestinationBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
            [0]
    }
    let broken: [Mutation; 4] = [
        ("Allow instead of Deny", &|t| {
            policy(t)["Effect"] = json!("Allow")
        }),
        ("denies TLS instead", &|t| {
            policy(t)["Condition"]["Bool"]["aws:SecureTransport"] = json!("true")
        }),
        ("objects only", &|t| {
            policy(t)["Resource"] = sub("${DestinationBucket.Arn}/*")
        }),
        ("versioning suspended", &|t| {
            t["Resources"]["DestinationBucket"]["Properties"]["VersioningConfiguration"]["Status"] =
                json!("Suspended")
        }),
    ];
    for (what, mutate) in broken {
        let mut t = provider();
        mutate(&mut t);
        assert!(
            !check_buckets(&evaluate(&t, &[])).is_empty(),
            "check_buckets missed: {what}"
        );
    }
}

// ------------------------------------------------------------------------------------------------
// The alarm and the function
// ------------------------------------------------------------------------------------------------

/// The alarm counts invocations that ended FAILED or NOT_DELIVERED: the SampleCount of Duration
/// (which every record carries) per Outcome, each FILLed with 0, summed; one in 5 minutes alarms.
fn assert_alarm_counts_failures(alarm: &Value, namespace: &str) {
    let mut outcomes = BTreeMap::new();
    let mut expressions = Vec::new();
    for m in alarm["Metrics"]
        .as_array()
        .expect("the alarm uses metric math")
    {
        if let Some(expression) = m["Expression"].as_str() {
            assert_eq!(m["ReturnData"], true, "{m}");
            expressions.push(expression.replace(' ', ""));
            continue;
        }
        assert_eq!(
            m["ReturnData"], false,
            "only the sum is the alarm's value: {m}"
        );
        let (stat, metric) = (&m["MetricStat"], &m["MetricStat"]["Metric"]);
        assert_eq!(
            metric["Namespace"], namespace,
            "the namespace the function writes to"
        );
        assert_eq!(metric["MetricName"], "Duration");
        assert_eq!(
            stat["Stat"], "SampleCount",
            "a count of invocations, not their duration"
        );
        assert_eq!(stat["Period"], 300);
        let dimensions = metric["Dimensions"].as_array().expect("dimensions");
        assert_eq!(
            dimensions.len(),
            1,
            "the [Outcome] dimension set: {dimensions:?}"
        );
        assert_eq!(dimensions[0]["Name"], "Outcome");
        outcomes.insert(
            text(&dimensions[0]["Value"]).unwrap(),
            text(&m["Id"]).unwrap(),
        );
    }
    assert_eq!(
        outcomes.keys().map(String::as_str).collect::<Vec<_>>(),
        ["FAILED", "NOT_DELIVERED"]
    );
    assert_eq!(
        expressions.len(),
        1,
        "one expression returns the alarm's value"
    );
    for id in outcomes.values() {
        assert!(
            expressions[0].contains(&format!("FILL({id},0)")),
            "{} lacks FILL({id}, 0)",
            expressions[0]
        );
    }
    assert_eq!(alarm["Threshold"], 1);
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanOrEqualToThreshold");
    assert_eq!(alarm["EvaluationPeriods"], 1);
    assert_eq!(
        alarm["TreatMissingData"], "notBreaching",
        "no invocation is no failure"
    );
}

#[test]
fn alarm_counts_failed_and_undelivered_invocations_and_notifies_the_optional_topic() {
    let quiet = evaluate(&provider(), &[]);
    let alarm = &the_one(&quiet, "AWS::CloudWatch::Alarm").1["Properties"];
    assert_alarm_counts_failures(alarm, "CfnIvsRecording");
    for actions in ["AlarmActions", "OKActions"] {
        assert!(
            alarm.get(actions).is_none(),
            "without AlarmTopicArn, no {actions}: {alarm}"
        );
    }

    let topic = "arn:aws:sns:us-east-1:123456789012:video-ops";
    let notifying = evaluate(
        &provider(),
        &[("AlarmTopicArn", topic), ("MetricsNamespace", "Team/Video")],
    );
    let alarm = &the_one(&notifying, "AWS::CloudWatch::Alarm").1["Properties"];
    assert_alarm_counts_failures(alarm, "Team/Video");
    assert_eq!(alarm["AlarmActions"], json!([topic]));
    assert_eq!(alarm["OKActions"], json!([topic]));
}

#[test]
fn function_environment_follows_the_parameters() {
    let variables = |params: &[(&str, &str)]| {
        let t = evaluate(&provider(), params);
        let function = the_one(&t, "AWS::Serverless::Function").1;
        let v = &function["Properties"]["Environment"]["Variables"];
        (
            v["CFN_IVS_METRICS_NAMESPACE"].clone(),
            v["CFN_IVS_ACCESS_DENIED_GRACE_SECONDS"].clone(),
        )
    };
    assert_eq!(variables(&[]), (json!("CfnIvsRecording"), json!("30")));
    let params = [
        ("MetricsNamespace", "Team/Video"),
        ("AccessDeniedGraceSeconds", "90"),
    ];
    assert_eq!(variables(&params), (json!("Team/Video"), json!("90")));
}

#[test]
fn function_settings() {
    let t = evaluate(&provider(), &[]);
    let (_, function) = the_one(&t, "AWS::Serverless::Function");
    let p = &function["Properties"];
    assert_eq!(p["Runtime"], "provided.al2023");
    assert_eq!(p["Architectures"], json!(["arm64"]));
    assert_eq!(p["Handler"], "bootstrap");
    assert_eq!(p["MemorySize"], 128);
    assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda");
    assert_eq!(
        function["Metadata"]["BuildProperties"]["Binary"],
        "cfn-ivs-recording"
    );
    assert_eq!(p["LoggingConfig"]["LogFormat"], "JSON");
    let log_group = &t["Resources"][symbol(&p["LoggingConfig"]["LogGroup"]).expect("a log group")];
    assert_eq!(log_group["Type"], "AWS::Logs::LogGroup");
    assert!(
        log_group["Properties"]["RetentionInDays"]
            .as_i64()
            .is_some_and(|d| d > 0),
        "logs kept forever"
    );

    // SAM's generated role would carry AWSLambdaBasicExecutionRole (logs on "*").
    assert!(
        p.get("Policies").is_none(),
        "Policies would go to a role SAM generates"
    );
    let role = &t["Resources"][symbol(&p["Role"]).expect("an explicit role")];
    assert_eq!(role["Type"], "AWS::IAM::Role");
    let trust = &role["Properties"]["AssumeRolePolicyDocument"]["Statement"];
    let principals: Vec<&Value> = one_or_many(trust)
        .into_iter()
        .flat_map(|s| one_or_many(&s["Principal"]["Service"]))
        .collect();
    assert_eq!(
        principals,
        [&json!("lambda.amazonaws.com")],
        "only Lambda assumes the role"
    );

    // A cap makes Lambda hold throttled asynchronous events and drop them after
    // MaximumEventAgeInSeconds: the stack would wait, unanswered, until ServiceTimeout.
    assert!(
        p.get("ReservedConcurrentExecutions").is_none(),
        "see the reasoning in template.yaml"
    );

    // Above the handler's 5 s answer margin plus some work time.
    let timeout = p["Timeout"]
        .as_i64()
        .expect("a Timeout (the default is 3 s)");
    assert!((15..=900).contains(&timeout), "Timeout {timeout}");
    let max_age = p["EventInvokeConfig"]["MaximumEventAgeInSeconds"]
        .as_i64()
        .expect("MaximumEventAgeInSeconds");
    // An event Lambda starts as late as it may must still be answered before CloudFormation
    // stops waiting, in the example and in the consumer.
    for (name, template) in [
        ("template.yaml", t.clone()),
        ("examples/consumer.yaml", evaluate(&consumer(), &[])),
    ] {
        let customs: Vec<_> = resources_of_type(&template, CUSTOM_TYPE).collect();
        assert!(!customs.is_empty(), "{name} has no {CUSTOM_TYPE}");
        for (id, custom) in customs {
            let service_timeout: i64 = text(&custom["Properties"]["ServiceTimeout"])
                .unwrap()
                .parse()
                .unwrap();
            assert!(
                service_timeout >= max_age + timeout,
                "{name} {id}: ServiceTimeout {service_timeout} < MaximumEventAgeInSeconds {max_age} + Timeout {timeout}"
            );
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Sample events
// ------------------------------------------------------------------------------------------------

fn event_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        // Not an event: the environment `sam local invoke --env-vars` takes.
        .filter(|p| !p.ends_with("sam-local-env.json"))
        .collect();
    files.sort();
    files
}

/// Where a property leaf is not a string, as CloudFormation would never send it.
fn non_string_leaves(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::String(_) => {}
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                non_string_leaves(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                non_string_leaves(v, &format!("{path}.{k}"), out);
            }
        }
        other => out.push(format!("{path} is {other}, CloudFormation sends a string")),
    }
}

/// What is wrong with an event, measured against the requests CloudFormation sends.
fn check_event(name: &str, event: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut fail = |p: String| problems.push(format!("{name}: {p}"));
    let request_type = event["RequestType"].as_str().unwrap_or("");
    if !["Create", "Update", "Delete"].contains(&request_type) {
        fail(format!(
            "RequestType {} is not Create, Update or Delete",
            event["RequestType"]
        ));
    }
    if !event["ServiceToken"]
        .as_str()
        .is_some_and(|t| t.starts_with("arn:aws:lambda:"))
    {
        fail("no ServiceToken (a Lambda ARN)".into());
    }
    if event["ResourceType"] != CUSTOM_TYPE {
        fail(format!(
            "ResourceType must be {CUSTOM_TYPE}, got {}",
            event["ResourceType"]
        ));
    }
    if event["LogicalResourceId"] != "Recording" {
        fail("LogicalResourceId must be Recording".into());
    }
    if !event["StackId"]
        .as_str()
        .is_some_and(|s| s.starts_with("arn:aws:cloudformation:us-east-1:123456789012:stack/"))
    {
        fail("StackId is not a stack ARN of us-east-1 / 123456789012".into());
    }
    let request_id = event["RequestId"].as_str().unwrap_or("");
    let uuid_shape = request_id.len() == 36
        && request_id.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    if !uuid_shape {
        fail(format!("RequestId {request_id:?} is not a UUID"));
    }
    let url = event["ResponseURL"].as_str().unwrap_or("");
    if !(url
        .starts_with("https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/")
        && url.contains(&format!("%7CRecording%7C{request_id}?"))
        && url.contains("X-Amz-Signature="))
    {
        fail("ResponseURL is not a pre-signed URL for this request".into());
    }
    match (request_type, event.get("PhysicalResourceId")) {
        ("Create", Some(_)) => fail("a Create carries no PhysicalResourceId".into()),
        ("Update" | "Delete", None) => fail("PhysicalResourceId missing".into()),
        (_, Some(id)) if id.as_str().is_none_or(str::is_empty) => {
            fail("PhysicalResourceId must be a non-empty string".into())
        }
        _ => {}
    }
    if (request_type == "Update") != event.get("OldResourceProperties").is_some() {
        fail("OldResourceProperties belongs to Update, and only to Update".into());
    }
    for key in ["ResourceProperties", "OldResourceProperties"] {
        let Some(props) = event.get(key) else {
            continue;
        };
        if !props.is_object() {
            fail(format!("{key} is not an object"));
            continue;
        }
        if props["ServiceToken"] != event["ServiceToken"] {
            fail(format!("{key}.ServiceToken must be the ServiceToken"));
        }
        let mut leaves = Vec::new();
        non_string_leaves(props, key, &mut leaves);
        leaves.into_iter().for_each(&mut fail);
    }
    if event.get("ResourceProperties").is_none() {
        fail("no ResourceProperties".into());
    }
    problems
}

#[test]
fn events_are_shaped_like_cloudformation_requests() {
    let files = event_files();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "create.json",
        "update-tags.json",
        "update.json",
        "delete.json",
        "create-invalid.json",
        "create-bad-interval.json",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "events/{expected} is missing"
        );
    }

    let mut problems = Vec::new();
    let mut request_ids = BTreeSet::new();
    let mut events = Vec::new();
    for (path, name) in files.iter().zip(&names) {
        let text = std::fs::read_to_string(path).expect("readable event");
        let event: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{name}: not JSON: {e}"));
                continue;
            }
        };
        problems.extend(check_event(name, &event));
        if !request_ids.insert(event["RequestId"].to_string()) {
            problems.push(format!(
                "{name}: RequestId {} used by another event",
                event["RequestId"]
            ));
        }
        events.push((name.as_str(), event));
    }
    assert!(problems.is_empty(), "events:\n  {}", problems.join("\n  "));

    // The README has a line for each event.
    let readme = read("events/README.md");
    for name in &names {
        assert!(
            readme.contains(name.as_str()),
            "events/README.md does not mention {name}"
        );
    }

    // The checks catch events that CloudFormation would never send.
    let (_, create) = events.iter().find(|(n, _)| *n == "create.json").unwrap();
    let broken: [Mutation; 6] = [
        ("a number", &|e| {
            e["ResourceProperties"]["RecordingReconnectWindowSeconds"] = json!(30)
        }),
        ("a nested number", &|e| {
            e["ResourceProperties"]["ThumbnailConfiguration"]["TargetIntervalSeconds"] = json!(30)
        }),
        ("a boolean in a list", &|e| {
            e["ResourceProperties"]["Tags"][0]["Value"] = json!(true)
        }),
        ("no ServiceToken", &|e| {
            e.as_object_mut().unwrap().remove("ServiceToken");
        }),
        ("another resource type", &|e| {
            e["ResourceType"] = json!("AWS::IVS::RecordingConfiguration")
        }),
        ("a Create with a PhysicalResourceId", &|e| {
            e["PhysicalResourceId"] = json!("x")
        }),
    ];
    for (what, mutate) in broken {
        let mut event = create.clone();
        mutate(&mut event);
        assert!(
            !check_event("create.json", &event).is_empty(),
            "check_event missed {what}"
        );
    }
}
