//! Checks of the provider template `template.yaml`, the consumer `examples/consumer.yaml`, the
//! README's deployment commands, and the sample events in `events/`.
//!
//! The templates are evaluated, not pattern-matched: `resolve` applies the intrinsic functions
//! they use (Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Split, Fn::Select, Fn::If, Fn::ImportValue,
//! Fn::Equals / Fn::Not conditions) for given parameter values, so a check sees the policy
//! CloudFormation would create for them. The IAM checks run for every parameter set in
//! `SCENARIOS`, on the real template (no problem allowed) and on copies broken on purpose (each
//! break must be reported), so that a check that stopped checking fails too.

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
const REQUIRED_ACTIONS: &str = "ivs:CreateRecordingConfiguration ivs:GetRecordingConfiguration \
    ivs:DeleteRecordingConfiguration ivs:ListRecordingConfigurations ivs:TagResource \
    ivs:UntagResource ivs:ListTagsForResource ivs:ListChannels iam:CreateServiceLinkedRole \
    iam:PutRolePolicy iam:AttachRolePolicy s3:ListBucket s3:GetBucketLocation \
    logs:CreateLogStream logs:PutLogEvents";

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

#[rustfmt::skip]
const SCENARIOS: &[Scenario] = &[
    Scenario { name: "defaults (sam deploy --guided)", region: "eu-west-1", account: "111122223333",
        params: &[], buckets: &["{DestinationBucket.Arn}"] },
    Scenario { name: "bucket names", region: "us-east-1", account: "123456789012",
        params: &[("DeployExample", "false"), ("AllowedBucketNames", "rec-a,rec.b")],
        buckets: &["arn:aws:s3:::rec-a", "arn:aws:s3:::rec.b"] },
    Scenario { name: "example, a name and a prefix", region: "us-west-2", account: "123456789012",
        params: &[("AllowedBucketNames", "rec-a"), ("AllowedBucketPrefix", "team-")],
        buckets: &["{DestinationBucket.Arn}", "arn:aws:s3:::rec-a", "arn:aws:s3:::team-*"] },
    Scenario { name: "every bucket, asked for explicitly", region: "us-east-1", account: "123456789012",
        params: &[("DeployExample", "false"), ("AllowedBucketNames", "*")],
        buckets: &["arn:aws:s3:::*"] },
    Scenario { name: "no bucket", region: "us-east-1", account: "123456789012",
        params: &[("DeployExample", "false")], buckets: &[] },
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
            Y::Sequence(items) => items.into_iter().map(convert).collect(),
            Y::Mapping(map) => map
                .into_iter()
                .map(|(k, v)| (k.as_str().expect("string keys").to_string(), convert(v)))
                .collect(),
            Y::Tagged(tagged) => match (
                tagged.tag.to_string().trim_start_matches('!'),
                convert(tagged.value),
            ) {
                ("Ref", value) => json!({ "Ref": value }),
                ("GetAtt", Value::String(s)) => {
                    json!({"Fn::GetAtt": s.split_once('.').expect("!GetAtt Id.Attribute")})
                }
                (name, value) => json!({ format!("Fn::{name}"): value }),
            },
            scalar => serde_json::to_value(scalar).expect("a JSON scalar"),
        }
    }
    convert(serde_yaml_ng::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}")))
}

fn provider() -> Value {
    load("template.yaml")
}

fn consumer() -> Value {
    load("examples/consumer.yaml")
}

/// A string, number or boolean as text.
fn text(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(_) | Value::Bool(_) => Ok(value.to_string()),
        other => Err(format!("{other} is not a string")),
    }
}

fn one_or_many(value: &Value) -> Vec<&Value> {
    match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// The items of a string-or-list field as text.
fn strings(value: &Value) -> Vec<String> {
    one_or_many(value)
        .into_iter()
        .map(|v| text(v).unwrap_or_else(|e| e))
        .collect()
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

impl Env<'_> {
    fn condition(&self, name: &str) -> Result<bool, String> {
        self.truth(&self.template["Conditions"][name])
    }

    fn truth(&self, e: &Value) -> Result<bool, String> {
        let call = e
            .as_object()
            .filter(|m| m.len() == 1)
            .and_then(|m| m.iter().next());
        match call.map(|(f, a)| (f.as_str(), a.as_array().map(Vec::as_slice))) {
            Some(("Fn::Equals", Some([x, y]))) => Ok(self.eval(x)? == self.eval(y)?),
            Some(("Fn::Not", Some([x]))) => Ok(!self.truth(x)?),
            _ => Err(format!("cannot evaluate the condition {e}")),
        }
    }

    /// Whether the stack creates this resource or output (its Condition holds).
    fn created(&self, item: &Value) -> Result<bool, String> {
        item["Condition"]
            .as_str()
            .map_or(Ok(true), |c| self.condition(c))
    }

    fn eval(&self, value: &Value) -> Eval {
        Ok(Some(match value {
            Value::Object(map) => match map.iter().next() {
                Some((f, arg)) if map.len() == 1 && (f == "Ref" || f.starts_with("Fn::")) => {
                    return self.intrinsic(f, arg)
                }
                _ => {
                    let mut out = Map::new();
                    for (key, item) in map {
                        out.extend(self.eval(item)?.map(|v| (key.clone(), v)));
                    }
                    Value::Object(out)
                }
            },
            Value::Array(items) => {
                let items: Result<Vec<_>, _> = items.iter().map(|i| self.eval(i)).collect();
                Value::Array(items?.into_iter().flatten().collect())
            }
            other => other.clone(),
        }))
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

    /// A parameter, a pseudo parameter, a resource (`Id`) or its attribute (`Id.Attribute`).
    fn reference(&self, name: &str) -> Eval {
        if name == "AWS::NoValue" {
            return Ok(None);
        }
        if let Some(value) = self.refs.get(name) {
            return Ok(Some(value.clone()));
        }
        let id = name.split('.').next().unwrap_or_default();
        match &self.template["Resources"][id] {
            Value::Null => Err(format!("no resource {id}")),
            r if self.created(r)? => Ok(Some(json!(format!("{{{name}}}")))),
            _ => Err(format!("{name}: these parameters do not create {id}")),
        }
    }

    fn intrinsic(&self, f: &str, arg: &Value) -> Eval {
        let args = arg.as_array().map(Vec::as_slice).unwrap_or_default();
        Ok(Some(match (f, args) {
            ("Ref", _) => return self.reference(arg.as_str().ok_or("Ref of a non-string")?),
            ("Fn::GetAtt", [Value::String(id), Value::String(attribute)]) => {
                return self.reference(&format!("{id}.{attribute}"))
            }
            ("Fn::Sub", _) => {
                let (mut rest, vars) = match (arg, args) {
                    (Value::String(s), _) => (s.as_str(), None),
                    (_, [Value::String(s), Value::Object(vars)]) => (s.as_str(), Some(vars)),
                    _ => return Err(format!("Fn::Sub {arg}")),
                };
                let mut out = String::new();
                while let Some(start) = rest.find("${") {
                    let (name, after) = rest[start + 2..].split_once('}').ok_or("unclosed ${")?;
                    let value = match vars.and_then(|v| v.get(name)) {
                        Some(value) => self.eval(value)?,
                        None => self.reference(name)?,
                    };
                    out += &rest[..start];
                    out += &text(&value.ok_or("AWS::NoValue in Fn::Sub")?)?;
                    rest = after;
                }
                json!(out + rest)
            }
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
                let items = self.list(list)?;
                items
                    .get(i)
                    .cloned()
                    .ok_or(format!("Fn::Select {i}: too few items"))?
            }
            ("Fn::If", [Value::String(condition), yes, no]) => {
                return self.eval(if self.condition(condition)? { yes } else { no });
            }
            ("Fn::ImportValue", _) => json!(format!("{{import:{}}}", self.string(arg)?)),
            _ => return Err(format!("cannot evaluate {f} {arg}")),
        }))
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
    let pseudo = [
        ("AWS::Partition", "aws"),
        ("AWS::Region", region),
        ("AWS::AccountId", account),
        ("AWS::StackName", "demo"),
        ("AWS::StackId", &stack_id),
    ];
    let mut refs: BTreeMap<String, Value> = pseudo
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
            if env.created(item)? {
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
    let resources = template["Resources"].as_object().into_iter().flatten();
    resources.filter(move |(_, r)| r["Type"] == kind)
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

// ------------------------------------------------------------------------------------------------
// The role's policy
// ------------------------------------------------------------------------------------------------

struct Statement<'a> {
    place: String,
    body: &'a Value,
}

impl Statement<'_> {
    /// The items of a field (`Action`, `Resource`) as text.
    fn list(&self, key: &str) -> Vec<String> {
        strings(&self.body[key])
    }

    /// The values of one condition key under one operator (booleans as "true" / "false").
    fn condition(&self, operator: &str, key: &str) -> Vec<String> {
        strings(&self.body["Condition"][operator][key])
    }
}

/// Every permission statement of an evaluated template (trust policies are not permissions),
/// and a problem for each policy these checks cannot read (a managed policy, a SAM policy).
fn statements(template: &Value) -> (Vec<Statement<'_>>, Vec<String>) {
    let (mut found, mut problems) = (Vec::new(), Vec::new());
    for (id, resource) in template["Resources"].as_object().into_iter().flatten() {
        let props = &resource["Properties"];
        let documents: Vec<&Value> = match resource["Type"].as_str().unwrap_or("") {
            "AWS::IAM::Role" | "AWS::IAM::User" | "AWS::IAM::Group" => {
                if !one_or_many(&props["ManagedPolicyArns"]).is_empty() {
                    problems.push(format!("{id}: ManagedPolicyArns cannot be checked (AWSLambdaBasicExecutionRole allows logs on every resource)"));
                }
                let policies = one_or_many(&props["Policies"]).into_iter();
                policies.map(|p| &p["PolicyDocument"]).collect()
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
        let bodies = documents
            .into_iter()
            .flat_map(|d| one_or_many(&d["Statement"]));
        for (i, body) in bodies.enumerate() {
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
        let not = s.body.get("NotAction").is_some() || s.body.get("NotResource").is_some();
        if s.body["Effect"] != "Allow" || not {
            problems.push(format!(
                "{}: only Allow statements with Action and Resource",
                s.place
            ));
        }
        granted.extend(s.list("Action"));
    }
    // With no bucket allowed there is no S3 statement (an empty Resource is invalid).
    let required: BTreeSet<String> = REQUIRED_ACTIONS
        .split_whitespace()
        .filter(|a| !(scenario.buckets.is_empty() && a.starts_with("s3:")))
        .map(String::from)
        .collect();
    let missing = required
        .difference(&granted)
        .map(|a| format!("{a} is needed but not granted"));
    let extra = granted
        .difference(&required)
        .map(|a| format!("{a} is granted but not needed"));
    problems.extend(missing.chain(extra));
    problems
}

/// Resources: each action only on what it needs. IVS on this account's and region's recording
/// configurations (ListChannels: channels), IAM on IVS's recording service-linked role, logs on
/// the function's own log group, S3 on exactly the buckets the parameters name. Hence no `*`
/// (but the explicit every-bucket choice), no other account or region, no objects.
fn check_resources(scenario: &Scenario, template: &Value) -> Vec<String> {
    let (_, function) = the_one(template, "AWS::Serverless::Function");
    let log_group = symbol(&function["Properties"]["LoggingConfig"]["LogGroup"]).unwrap_or("?");
    let log_group = format!("{{{log_group}.Arn}}");
    let ivs = format!("arn:aws:ivs:{}:{}:", scenario.region, scenario.account);
    let role = format!(
        "arn:aws:iam::{}:role/aws-service-role/ivs.amazonaws.com/AWSServiceRoleForIVSRecordToS3*",
        scenario.account
    );
    let (mut problems, mut buckets) = (Vec::new(), BTreeSet::new());
    for s in &statements(template).0 {
        let resources = s.list("Resource");
        if resources.is_empty() {
            problems.push(format!("{}: no Resource", s.place));
        }
        for action in s.list("Action") {
            for r in &resources {
                let allowed = match action.split(':').next().unwrap_or("") {
                    "ivs" => {
                        let kind = match action.as_str() {
                            "ivs:ListChannels" => "channel/",
                            _ => "recording-configuration/",
                        };
                        let id = r
                            .strip_prefix(&ivs)
                            .and_then(|rest| rest.strip_prefix(kind));
                        id.is_some_and(|id| !id.is_empty())
                    }
                    "iam" => *r == role,
                    "logs" => *r == log_group,
                    "s3" => {
                        buckets.insert(r.clone());
                        scenario.buckets.contains(&r.as_str())
                    }
                    _ => false,
                };
                if !allowed {
                    problems.push(format!("{}: {action} on {r}", s.place));
                }
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
    let on_resource = format!("aws:ResourceTag/{MARKER}");
    let in_request = format!("aws:RequestTag/{MARKER}");
    let (mut problems, mut tags_at_create) = (Vec::new(), false);
    for s in &statements(template).0 {
        let owned = s.condition("Null", &on_resource) == ["false"];
        let marked = s.condition("Null", &in_request) == ["false"];
        let untags = s.condition("ForAllValues:StringNotEquals", "aws:TagKeys");
        let keeps_marker = untags.iter().any(|k| k == MARKER);
        for action in s.list("Action") {
            let (ok, needs) = match action.as_str() {
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
        let found = resolve(template, scenario.region, scenario.account, scenario.params)
            .map_or_else(
                |e| vec![format!("cannot evaluate: {e}")],
                |t| check(scenario, &t),
            );
        problems.extend(
            found
                .into_iter()
                .map(|p| format!("[{}] {p}", scenario.name)),
        );
    }
    problems
}

/// A copy of a template (or of an event) broken on purpose: what it breaks, and how.
type Mutation<'a> = (&'a str, &'a dyn Fn(&mut Value));

fn role_statements(template: &mut Value) -> &mut Vec<Value> {
    let role = &mut template["Resources"]["FunctionRole"]["Properties"];
    let statements = role["Policies"][0]["PolicyDocument"]["Statement"].as_array_mut();
    statements.expect("FunctionRole's first policy has statements")
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

fn drop_statement(template: &mut Value, sid: &str) {
    role_statements(template).retain(|s| s["Sid"] != sid);
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
    let managed = json!(["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]);
    let extra = json!({"Type": "AWS::IAM::Policy", "Properties": {
        "PolicyName": "extra", "Roles": [{"Ref": "FunctionRole"}], "PolicyDocument": {"Statement":
        [{"Effect": "Allow", "Action": "ivs:CreateChannel", "Resource": "*"}]}}});
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
                drop_statement(t, "IvsChannelsUsingConfiguration")
            }),
            ("NotAction", &|t| {
                let s = statement(t, "OwnLogGroup");
                s["NotAction"] = s["Action"].take();
            }),
            ("managed policy on the role", &|t| {
                t["Resources"]["FunctionRole"]["Properties"]["ManagedPolicyArns"] = managed.clone()
            }),
            ("policies on the function", &|t| {
                t["Resources"]["Function"]["Properties"]["Policies"] =
                    json!(["AWSLambdaBasicExecutionRole"])
            }),
            ("a separate AWS::IAM::Policy", &|t| {
                t["Resources"]["Extra"] = extra.clone()
            }),
        ],
    );
}

#[test]
fn policy_resources_are_this_account_and_region_and_the_named_buckets() {
    let arn = |sid: &str, resource: &str| {
        let (sid, resource) = (sid.to_string(), sub(resource));
        move |t: &mut Value| statement(t, &sid)["Resource"] = resource.clone()
    };
    assert_check(
        "check_resources",
        check_resources,
        &[
            ("reads on *", &|t| statement(t, "IvsReadRecordingConfigurations")["Resource"] = json!("*")),
            ("every region", &arn("IvsChangeOwnConfigurations", "arn:${AWS::Partition}:ivs:*:${AWS::AccountId}:recording-configuration/*")),
            ("a hard-coded region", &arn("IvsCreateWithMarker", "arn:${AWS::Partition}:ivs:us-east-1:${AWS::AccountId}:recording-configuration/*")),
            ("ListChannels on recording configurations", &arn("IvsChannelsUsingConfiguration", "arn:${AWS::Partition}:ivs:${AWS::Region}:${AWS::AccountId}:recording-configuration/*")),
            ("every role", &arn("IvsRecordingServiceLinkedRolePolicies", "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*")),
            ("logs on * (as AWSLambdaBasicExecutionRole)", &|t| statement(t, "OwnLogGroup")["Resource"] = json!(["*"])),
            ("no Resource", &|t| remove(t, "OwnLogGroup", "Resource")),
            ("the example bucket's objects", &arn("ExampleBucket", "${DestinationBucket.Arn}/*")),
            ("the prefix without its wildcard", &arn("AllowedBucketPrefix", "arn:${AWS::Partition}:s3:::${AllowedBucketPrefix}")),
            ("every bucket whatever the names", &arn("AllowedBuckets", "arn:aws:s3:::*")),
            ("only the first name", &|t| {
                let first = json!({"Fn::Select": [0, {"Ref": "AllowedBucketNames"}]});
                statement(t, "AllowedBuckets")["Resource"] = json!({"Fn::Sub": ["arn:aws:s3:::${N}", {"N": first}]})
            }),
            ("the example bucket whether deployed or not", &|t| {
                let list = role_statements(t);
                let i = list.iter().position(|s| s["Fn::If"][1]["Sid"] == "ExampleBucket").unwrap();
                list[i] = list[i]["Fn::If"][1].take();
            }),
        ],
    );
}

#[test]
fn only_configurations_carrying_the_marker_can_be_deleted_or_retagged() {
    let condition = |sid: &str, key: &str, value: &str| {
        let (sid, condition) = (sid.to_string(), json!({"Null": {key: value}}));
        move |t: &mut Value| statement(t, &sid)["Condition"] = condition.clone()
    };
    let owned = format!("aws:ResourceTag/{MARKER}");
    assert_check(
        "check_conditions",
        check_conditions,
        &[
            ("Delete and Tag unconditioned", &|t| {
                remove(t, "IvsChangeOwnConfigurations", "Condition")
            }),
            (
                "the marker absent instead of present",
                &condition("IvsChangeOwnConfigurations", &owned, "true"),
            ),
            (
                "another tag key",
                &condition(
                    "IvsChangeOwnConfigurations",
                    "aws:ResourceTag/team",
                    "false",
                ),
            ),
            ("Create without the marker", &|t| {
                remove(t, "IvsCreateWithMarker", "Condition")
            }),
            ("no TagResource for create-time tags", &|t| {
                drop_statement(t, "IvsTagAtCreate")
            }),
            ("create-time TagResource that deletes too", &|t| {
                push_action(t, "IvsTagAtCreate", "ivs:DeleteRecordingConfiguration")
            }),
            ("the marker untagged alongside another key", &|t| {
                let c = statement(t, "IvsUntagOwnButNotMarker")["Condition"]
                    .as_object_mut()
                    .unwrap();
                let keys = c.remove("ForAllValues:StringNotEquals").unwrap();
                c.insert("ForAnyValue:StringNotEquals".into(), keys);
            }),
            ("Delete among the reads", &|t| {
                push_action(
                    t,
                    "IvsReadRecordingConfigurations",
                    "ivs:DeleteRecordingConfiguration",
                )
            }),
            (
                "List only of marked configurations",
                &condition("IvsReadRecordingConfigurations", &owned, "false"),
            ),
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

/// The `Key=Value` pairs after `--parameter-overrides` in the command line of `section` (its
/// continuation lines joined) that starts with `prefix` and mentions `mentions`.
fn readme_overrides<'s>(section: &'s str, prefix: &str, mentions: &str) -> Vec<(&'s str, &'s str)> {
    let command = section
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with(prefix) && line.contains(mentions))
        .unwrap_or_else(|| panic!("README's Deploying section has no `{prefix} ... {mentions}`"));
    let words = command
        .split_whitespace()
        .skip_while(|t| *t != "--parameter-overrides");
    let pairs = words
        .skip(1)
        .take_while(|t| !t.starts_with("--") && !t.starts_with('#'));
    pairs
        .map(|t| {
            let (key, value) = t
                .split_once('=')
                .unwrap_or_else(|| panic!("README: {t} is not Key=Value"));
            (key, value.trim_matches(['"', '\'']))
        })
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
        .filter(|s| s.list("Action").iter().any(|a| a.starts_with("s3:")));
    s3.flat_map(|s| s.list("Resource")).collect()
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
    let section = deploying_section().replace("\\\n", " ");
    let consumer_params = readme_overrides(
        &section,
        "aws cloudformation deploy",
        "examples/consumer.yaml",
    );
    let c = resolve(&consumer(), region, account, &consumer_params).unwrap();
    let (bucket_id, bucket) = the_one(&c, "AWS::S3::Bucket");
    let name = bucket["Properties"]["BucketName"]
        .as_str()
        .expect("the consumer names its bucket");
    let valid = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    assert!(valid, "{name:?} is not a valid S3 bucket name");
    for (id, custom) in resources_of_type(&c, CUSTOM_TYPE) {
        let destination = &custom["Properties"]["DestinationConfiguration"]["S3"]["BucketName"];
        assert_eq!(
            symbol(destination),
            Some(bucket_id.as_str()),
            "{id} records into the bucket"
        );
    }

    let arn = format!("arn:aws:s3:::{name}");
    let provider_params = readme_overrides(&section, "sam deploy", "--parameter-overrides");
    let allowed = s3_resources(&resolve(&provider(), region, account, &provider_params).unwrap());
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
    let buckets: Vec<_> = resources_of_type(template, "AWS::S3::Bucket").collect();
    let mut problems = Vec::new();
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
        let policy = &mut t["Resources"]["DestinationBucketPolicy"]["Properties"];
        &mut policy["PolicyDocument"]["Statement"][0]
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
            let bucket = &mut t["Resources"]["DestinationBucket"]["Properties"];
            bucket["VersioningConfiguration"]["Status"] = json!("Suspended")
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
    let metrics = alarm["Metrics"]
        .as_array()
        .expect("the alarm uses metric math");
    let (sums, counts): (Vec<&Value>, Vec<&Value>) =
        metrics.iter().partition(|m| m.get("Expression").is_some());
    assert_eq!(sums.len(), 1, "one expression returns the alarm's value");
    assert_eq!(sums[0]["ReturnData"], true, "{}", sums[0]);
    let sum = text(&sums[0]["Expression"]).unwrap().replace(' ', "");
    let mut outcomes = Vec::new();
    for m in counts {
        assert_eq!(
            m["ReturnData"], false,
            "only the sum is the alarm's value: {m}"
        );
        // A count of invocations (not their duration) per Outcome, in the function's namespace.
        let outcome = &m["MetricStat"]["Metric"]["Dimensions"][0]["Value"];
        let metric = json!({"Namespace": namespace, "MetricName": "Duration",
            "Dimensions": [{"Name": "Outcome", "Value": outcome}]});
        let count = json!({"Metric": metric, "Period": 300, "Stat": "SampleCount"});
        assert_eq!(m["MetricStat"], count);
        let id = text(&m["Id"]).unwrap();
        assert!(
            sum.contains(&format!("FILL({id},0)")),
            "{sum} lacks FILL({id}, 0)"
        );
        outcomes.push(text(outcome).unwrap());
    }
    outcomes.sort();
    assert_eq!(outcomes, ["FAILED", "NOT_DELIVERED"]);
    // No invocation is no failure (TreatMissingData).
    for (key, want) in [
        ("Threshold", json!(1)),
        ("ComparisonOperator", json!("GreaterThanOrEqualToThreshold")),
        ("EvaluationPeriods", json!(1)),
        ("TreatMissingData", json!("notBreaching")),
    ] {
        assert_eq!(alarm[key], want, "{key}");
    }
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
    let params = [("AlarmTopicArn", topic), ("MetricsNamespace", "Team/Video")];
    let notifying = evaluate(&provider(), &params);
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
    for (pointer, want) in [
        ("/Properties/Runtime", json!("provided.al2023")),
        ("/Properties/Architectures", json!(["arm64"])),
        ("/Properties/Handler", json!("bootstrap")),
        ("/Properties/MemorySize", json!(128)),
        ("/Properties/LoggingConfig/LogFormat", json!("JSON")),
        ("/Metadata/BuildMethod", json!("rust-cargolambda")),
        (
            "/Metadata/BuildProperties/Binary",
            json!("cfn-ivs-recording"),
        ),
    ] {
        assert_eq!(function.pointer(pointer), Some(&want), "Function{pointer}");
    }
    let p = &function["Properties"];
    let log_group = &t["Resources"][symbol(&p["LoggingConfig"]["LogGroup"]).expect("a log group")];
    assert_eq!(log_group["Type"], "AWS::Logs::LogGroup");
    let retention = log_group["Properties"]["RetentionInDays"].as_i64();
    assert!(retention.is_some_and(|d| d > 0), "logs kept forever");

    // An explicit role (SAM's generated one would carry AWSLambdaBasicExecutionRole: logs on
    // "*"; check_actions refuses Policies on the function), assumed by Lambda only.
    let role = &t["Resources"][symbol(&p["Role"]).expect("an explicit role")];
    assert_eq!(role["Type"], "AWS::IAM::Role");
    let trust = one_or_many(&role["Properties"]["AssumeRolePolicyDocument"]["Statement"]);
    let principals: Vec<&Value> = trust
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
        .expect("max age");
    // An event Lambda starts as late as it may must still be answered before CloudFormation
    // stops waiting, in the example and in the consumer.
    for (name, template) in [
        ("template.yaml", t.clone()),
        ("consumer", evaluate(&consumer(), &[])),
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

/// Where a property leaf is not a string, as CloudFormation would never send it.
fn non_string_leaves(value: &Value, path: String) -> Vec<String> {
    match value {
        Value::String(_) => vec![],
        Value::Array(items) => {
            let items = items.iter().enumerate();
            items
                .flat_map(|(i, item)| non_string_leaves(item, format!("{path}[{i}]")))
                .collect()
        }
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| non_string_leaves(v, format!("{path}.{k}")))
            .collect(),
        other => vec![format!("{path} is {other}, CloudFormation sends a string")],
    }
}

/// What is wrong with an event, measured against the requests CloudFormation sends.
fn check_event(name: &str, event: &Value) -> Vec<String> {
    let field = |key: &str| event[key].as_str().unwrap_or("");
    let (request_type, request_id, url) = (
        field("RequestType"),
        field("RequestId"),
        field("ResponseURL"),
    );
    let uuid = request_id.len() == 36
        && request_id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    let physical = event.get("PhysicalResourceId");
    let mut checks: Vec<(bool, String)> = vec![
        (
            ["Create", "Update", "Delete"].contains(&request_type),
            format!(
                "RequestType {} is not Create, Update or Delete",
                event["RequestType"]
            ),
        ),
        (
            field("ServiceToken").starts_with("arn:aws:lambda:"),
            "no ServiceToken (a Lambda ARN)".into(),
        ),
        (
            event["ResourceType"] == CUSTOM_TYPE,
            format!(
                "ResourceType must be {CUSTOM_TYPE}, got {}",
                event["ResourceType"]
            ),
        ),
        (
            event["LogicalResourceId"] == "Recording",
            "LogicalResourceId must be Recording".into(),
        ),
        (
            field("StackId").starts_with("arn:aws:cloudformation:us-east-1:123456789012:stack/"),
            "StackId is not a stack ARN of us-east-1 / 123456789012".into(),
        ),
        (uuid, format!("RequestId {request_id:?} is not a UUID")),
        (
            url.starts_with(
                "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/",
            ) && url.contains(&format!("%7CRecording%7C{request_id}?"))
                && url.contains("X-Amz-Signature="),
            "ResponseURL is not a pre-signed URL for this request".into(),
        ),
        (
            match request_type {
                "Create" => physical.is_none(),
                _ => physical
                    .and_then(Value::as_str)
                    .is_some_and(|id| !id.is_empty()),
            },
            "PhysicalResourceId: none on a Create, a non-empty string otherwise".into(),
        ),
        (
            (request_type == "Update") == event.get("OldResourceProperties").is_some(),
            "OldResourceProperties belongs to Update, and only to Update".into(),
        ),
        (
            event.get("ResourceProperties").is_some(),
            "no ResourceProperties".into(),
        ),
    ];
    for key in ["ResourceProperties", "OldResourceProperties"] {
        if let Some(props) = event.get(key) {
            checks.push((props.is_object(), format!("{key} is not an object")));
            let token = props["ServiceToken"] == event["ServiceToken"];
            checks.push((
                token,
                format!("{key}.ServiceToken must be the ServiceToken"),
            ));
            checks.extend(
                non_string_leaves(props, key.into())
                    .into_iter()
                    .map(|p| (false, p)),
            );
        }
    }
    checks
        .into_iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, p)| format!("{name}: {p}"))
        .collect()
}

#[test]
fn events_are_shaped_like_cloudformation_requests() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        // Not an event: the environment `sam local invoke --env-vars` takes.
        .filter(|n| n.ends_with(".json") && n != "sam-local-env.json")
        .collect();
    names.sort();
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

    let (mut problems, mut request_ids, mut events) = (Vec::new(), BTreeSet::new(), Vec::new());
    for name in &names {
        let event: Value = match serde_json::from_str(&read(&format!("events/{name}"))) {
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
