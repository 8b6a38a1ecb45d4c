//! Checks of the provider template `template.yaml`, the consumer `examples/consumer.yaml`, the
//! README's deployment commands, and the sample events in `events/`.
//!
//! The templates are evaluated, not pattern-matched: `resolve` applies the intrinsic functions
//! they use (Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Split, Fn::Select, Fn::If, Fn::Equals,
//! Fn::Not, Fn::ImportValue, conditions) for given parameter values, so a check sees the policy
//! CloudFormation would create for them. The IAM checks run for every parameter set in
//! `SCENARIOS`, on the real template (no problem allowed) and on copies broken on purpose (each
//! break must be reported), so that a check that stopped checking fails too.

use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;

const CUSTOM_TYPE: &str = "Custom::IvsRecordingConfiguration";
/// What consumer stacks import as ServiceToken.
const EXPORT_NAME: &str = "cfn-ivs-recording-function-arn";
/// The tag key every configuration the function creates carries (`REQUEST_MARKER_TAG`).
const MARKER: &str = "cfn-ivs-recording:request-id";

/// Every action the function needs, and nothing else: what the handler calls on IVS, what IVS
/// needs from the caller on CreateRecordingConfiguration (the native resource's handler
/// permissions), writing its own logs, and asking CloudFormation whether it still waits.
const REQUIRED_ACTIONS: &str = "ivs:CreateRecordingConfiguration ivs:GetRecordingConfiguration \
    ivs:DeleteRecordingConfiguration ivs:ListRecordingConfigurations ivs:TagResource \
    ivs:UntagResource ivs:ListTagsForResource ivs:ListChannels iam:CreateServiceLinkedRole \
    iam:PutRolePolicy iam:AttachRolePolicy s3:ListBucket s3:GetBucketLocation \
    logs:CreateLogStream logs:PutLogEvents cloudformation:DescribeStackResource";

/// Reads stay unconditioned: polling, reading tags, finding the function's own configurations
/// by marker with List, naming the channels that block a Delete.
const READ_ACTIONS: &str = "ivs:GetRecordingConfiguration ivs:ListTagsForResource \
    ivs:ListRecordingConfigurations ivs:ListChannels";

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
    Scenario { name: "every bucket, asked for explicitly", region: "us-east-1",
        account: "123456789012", params: &[("DeployExample", "false"), ("AllowedBucketNames", "*")],
        buckets: &["arn:aws:s3:::*"] },
    Scenario { name: "no bucket", region: "us-east-1", account: "123456789012",
        params: &[("DeployExample", "false")], buckets: &[] },
];

// ---- Loading and evaluating --------------------------------------------------------------------

fn read(relative: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A template as JSON, short-form tags in their long form: `!Ref X` → `{"Ref": "X"}`,
/// `!GetAtt A.B` → `{"Fn::GetAtt": ["A", "B"]}`, `!Name v` → `{"Fn::Name": v}`.
fn load(relative: &str) -> Value {
    fn convert(yaml: serde_yaml_ng::Value) -> Value {
        use serde_yaml_ng::Value as Y;
        match yaml {
            Y::Sequence(items) => items.into_iter().map(convert).collect(),
            Y::Mapping(map) => {
                let key = |k: Y| k.as_str().expect("string keys").to_string();
                map.into_iter().map(|(k, v)| (key(k), convert(v))).collect()
            }
            Y::Tagged(tagged) => match (tagged.tag.to_string(), convert(tagged.value)) {
                (tag, value) if tag == "!Ref" => json!({ "Ref": value }),
                (tag, Value::String(s)) if tag == "!GetAtt" => {
                    json!({"Fn::GetAtt": s.split_once('.').expect("!GetAtt Id.Attribute")})
                }
                (tag, value) => json!({ format!("Fn::{}", &tag[1..]): value }),
            },
            scalar => serde_json::to_value(scalar).expect("a JSON scalar"),
        }
    }
    let yaml = serde_yaml_ng::from_str(&read(relative));
    convert(yaml.unwrap_or_else(|e| panic!("{relative} is not YAML: {e}")))
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

/// The items of a string-or-list field (`Action`, `Resource`, a condition's values) as text.
fn strings(value: &Value) -> Vec<String> {
    let items = one_or_many(value).into_iter();
    items.map(|v| text(v).unwrap_or_else(|e| e)).collect()
}

/// Where a template is evaluated: the stack's parameter values and pseudo parameters. A
/// resource's Ref evaluates to `{Id}`, its attribute to `{Id.Attribute}`, an import to
/// `{import:Name}`: values only AWS knows. `AWS::NoValue` evaluates to null, and a null key or
/// list item disappears (the templates hold no null of their own).
struct Env<'t> {
    template: &'t Value,
    refs: Value,
}

type Eval = Result<Value, String>;

impl Env<'_> {
    fn condition(&self, name: &str) -> Result<bool, String> {
        match self.eval(&self.template["Conditions"][name])? {
            Value::Bool(holds) => Ok(holds),
            other => Err(format!("condition {name} is {other}")),
        }
    }

    /// Whether the stack creates this resource or output (its Condition holds).
    fn creates(&self, item: &Value) -> Result<bool, String> {
        match item["Condition"].as_str() {
            Some(condition) => self.condition(condition),
            None => Ok(true),
        }
    }

    fn eval(&self, value: &Value) -> Eval {
        match value {
            Value::Object(map) => {
                let call = map.iter().next().filter(|_| map.len() == 1);
                if let Some((f, arg)) = call.filter(|(f, _)| *f == "Ref" || f.starts_with("Fn::")) {
                    return self.intrinsic(f, arg);
                }
                let mut out = Map::new();
                for (key, item) in map {
                    out.insert(key.clone(), self.eval(item)?);
                }
                out.retain(|_, v| !v.is_null());
                Ok(Value::Object(out))
            }
            Value::Array(items) => {
                let items: Result<Vec<_>, _> = items.iter().map(|i| self.eval(i)).collect();
                let mut items = items?;
                items.retain(|v| !v.is_null());
                Ok(Value::Array(items))
            }
            other => Ok(other.clone()),
        }
    }

    fn string(&self, value: &Value) -> Result<String, String> {
        text(&self.eval(value)?)
    }

    fn string_list(&self, value: &Value) -> Result<Vec<String>, String> {
        match self.eval(value)? {
            Value::Array(items) => items.iter().map(text).collect(),
            other => Err(format!("{other} is not a list")),
        }
    }

    /// A parameter, a pseudo parameter, a resource (`Id`) or its attribute (`Id.Attribute`).
    fn reference(&self, name: &str) -> Eval {
        if let Some(value) = self.refs.get(name) {
            return Ok(value.clone());
        }
        let id = name.split('.').next().unwrap_or_default();
        match &self.template["Resources"][id] {
            Value::Null => Err(format!("no resource {id}")),
            r if self.creates(r)? => Ok(json!(format!("{{{name}}}"))),
            _ => Err(format!("{name}: these parameters do not create {id}")),
        }
    }

    fn intrinsic(&self, f: &str, arg: &Value) -> Eval {
        let args = arg.as_array().map(Vec::as_slice).unwrap_or_default();
        Ok(match (f, args) {
            ("Ref", _) => self.reference(arg.as_str().ok_or("Ref of a non-string")?)?,
            ("Fn::GetAtt", _) => self.reference(&self.string_list(arg)?.join("."))?,
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
                        Some(value) => self.string(value)?,
                        None => text(&self.reference(name)?)?,
                    };
                    out = out + &rest[..start] + &value;
                    rest = after;
                }
                json!(out + rest)
            }
            ("Fn::Join", [Value::String(separator), list]) => {
                json!(self.string_list(list)?.join(separator))
            }
            ("Fn::Split", [Value::String(separator), s]) => {
                let s = self.string(s)?;
                json!(s.split(separator.as_str()).collect::<Vec<_>>())
            }
            ("Fn::Select", [index, list]) => {
                let i: usize = self.string(index)?.parse().map_err(|e| format!("{e}"))?;
                let item = self.string_list(list)?.get(i).cloned();
                json!(item.ok_or(format!("Fn::Select {i}: too few items"))?)
            }
            ("Fn::If", [Value::String(condition), yes, no]) => {
                self.eval(if self.condition(condition)? { yes } else { no })?
            }
            ("Fn::Equals", [a, b]) => json!(self.eval(a)? == self.eval(b)?),
            ("Fn::Not", [condition]) => match self.eval(condition)? {
                Value::Bool(holds) => json!(!holds),
                other => return Err(format!("Fn::Not of {other}")),
            },
            ("Fn::ImportValue", _) => json!(format!("{{import:{}}}", self.string(arg)?)),
            _ => return Err(format!("cannot evaluate {f} {arg}")),
        })
    }
}

/// The template as CloudFormation would create it in this region and account with these
/// parameter values (the others at their Default): resources and outputs whose Condition is
/// false left out, every intrinsic function applied.
fn resolve(template: &Value, region: &str, account: &str, params: &[(&str, &str)]) -> Eval {
    let declared = template["Parameters"].as_object().expect("Parameters");
    if let Some((name, _)) = params.iter().find(|(n, _)| !declared.contains_key(*n)) {
        return Err(format!("the template has no parameter {name}"));
    }
    let stack = "stack/demo/5b1f8e10-3f5a-11ef-9c2a-0a1b2c3d4e5f";
    let stack_id = format!("arn:aws:cloudformation:{region}:{account}:{stack}");
    let mut refs = json!({"AWS::Partition": "aws", "AWS::Region": region, "AWS::AccountId": account,
        "AWS::StackName": "demo", "AWS::StackId": stack_id, "AWS::NoValue": null});
    for (name, declaration) in declared {
        let value = match params.iter().find(|(n, _)| n == name) {
            Some((_, v)) => v.to_string(),
            None => text(&declaration["Default"]).map_err(|e| format!("parameter {name}: {e}"))?,
        };
        refs[name] = match declaration["Type"].as_str() {
            Some("CommaDelimitedList") => json!(value.split(',').collect::<Vec<_>>()),
            _ => json!(value),
        };
    }
    let env = Env { template, refs };
    let mut out = json!({"Resources": {}, "Outputs": {}});
    for section in ["Resources", "Outputs"] {
        for (id, item) in template[section].as_object().into_iter().flatten() {
            if env.creates(item)? {
                let value = env.eval(item).map_err(|e| format!("{section}.{id}: {e}"))?;
                out[section][id.as_str()] = value;
            }
        }
    }
    Ok(out)
}

/// `resolve` in us-east-1 / 123456789012, failing the test when the template cannot be evaluated.
fn evaluate(template: &Value, params: &[(&str, &str)]) -> Value {
    let resolved = resolve(template, "us-east-1", "123456789012", params);
    resolved.unwrap_or_else(|e| panic!("cannot evaluate the template with {params:?}: {e}"))
}

fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    let resources = template["Resources"].as_object().into_iter().flatten();
    resources.filter(|(_, r)| r["Type"] == kind).collect()
}

fn the_one<'a>(template: &'a Value, kind: &str) -> (&'a String, &'a Value) {
    match resources_of_type(template, kind)[..] {
        [one] => one,
        ref other => panic!("expected one {kind}, found {}", other.len()),
    }
}

/// The logical id in an evaluated Ref (`{Id}`) or attribute (`{Id.Attribute}`).
fn symbol(value: &Value) -> Option<&str> {
    let inner = value.as_str()?.strip_prefix('{')?.strip_suffix('}')?;
    inner.split('.').next()
}

/// A copy of a template (or of an event) broken on purpose: what it breaks, and how.
type Mutation<'a> = (&'a str, &'a dyn Fn(&mut Value));

/// Asserts that `check` finds nothing in `base` and something in each of its mutations.
fn assert_catches(
    name: &str,
    base: &Value,
    check: impl Fn(&Value) -> Vec<String>,
    mutations: &[Mutation],
) {
    let problems = check(base);
    assert!(problems.is_empty(), "{name}:\n  {}", problems.join("\n  "));
    for (what, mutate) in mutations {
        let mut broken = base.clone();
        mutate(&mut broken);
        assert_ne!(&broken, base, "mutation {what:?} changed nothing");
        assert!(!check(&broken).is_empty(), "{name} missed {what}");
    }
}

// ---- The role's policy -------------------------------------------------------------------------

/// Every permission statement of an evaluated template, with where it is (trust policies are not
/// permissions), and a problem for each policy these checks cannot read (a managed policy, a SAM
/// policy).
fn statements(template: &Value) -> (Vec<(String, &Value)>, Vec<String>) {
    let (mut found, mut problems) = (Vec::new(), Vec::new());
    for (id, resource) in template["Resources"].as_object().into_iter().flatten() {
        let props = &resource["Properties"];
        let documents: Vec<&Value> = match resource["Type"].as_str().unwrap_or("") {
            "AWS::IAM::Role" | "AWS::IAM::User" | "AWS::IAM::Group" => {
                if !one_or_many(&props["ManagedPolicyArns"]).is_empty() {
                    problems.push(format!(
                        "{id}: ManagedPolicyArns cannot be checked \
                         (AWSLambdaBasicExecutionRole allows logs on every resource)"
                    ));
                }
                let policies = one_or_many(&props["Policies"]).into_iter();
                policies.map(|p| &p["PolicyDocument"]).collect()
            }
            "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => vec![&props["PolicyDocument"]],
            "AWS::Serverless::Function" if props.get("Policies").is_some() => {
                problems.push(format!("{id}: Policies go to a role SAM generates"));
                vec![]
            }
            _ => vec![],
        };
        let bodies = documents.iter().flat_map(|d| one_or_many(&d["Statement"]));
        for (i, body) in bodies.enumerate() {
            let sid = body["Sid"].as_str().unwrap_or("");
            found.push((format!("{id} statement {i} ({sid})"), body));
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
    for (place, s) in statements {
        let not = s.get("NotAction").is_some() || s.get("NotResource").is_some();
        if s["Effect"] != "Allow" || not {
            problems.push(format!("{place}: Allow with Action and Resource only"));
        }
        granted.extend(strings(&s["Action"]));
    }
    // With no bucket allowed there is no S3 statement (an empty Resource is invalid).
    let needed = |a: &&str| !(scenario.buckets.is_empty() && a.starts_with("s3:"));
    let required = REQUIRED_ACTIONS.split_whitespace().filter(needed);
    let required: BTreeSet<String> = required.map(String::from).collect();
    for a in required.difference(&granted) {
        problems.push(format!("{a} is needed but not granted"));
    }
    for a in granted.difference(&required) {
        problems.push(format!("{a} is granted but not needed"));
    }
    problems
}

/// Resources: each action only on what it needs. IVS on this account's and region's recording
/// configurations (ListChannels: channels), IAM on IVS's recording service-linked role, logs on
/// the function's own log group, CloudFormation on this account's and region's stacks, S3 on
/// exactly the buckets the parameters name. Hence no `*`
/// (but the explicit every-bucket choice), no other account or region, no objects.
fn check_resources(scenario: &Scenario, template: &Value) -> Vec<String> {
    let (_, function) = the_one(template, "AWS::Serverless::Function");
    let log_group = symbol(&function["Properties"]["LoggingConfig"]["LogGroup"]);
    let log_group = format!("{{{}.Arn}}", log_group.unwrap_or("?"));
    let (region, account) = (scenario.region, scenario.account);
    let role = "role/aws-service-role/ivs.amazonaws.com/AWSServiceRoleForIVSRecordToS3*";
    let role = format!("arn:aws:iam::{account}:{role}");
    let mut problems = Vec::new();
    for (place, s) in statements(template).0 {
        let resources = strings(&s["Resource"]);
        if resources.is_empty() {
            problems.push(format!("{place}: no Resource"));
        }
        for action in strings(&s["Action"]) {
            let kind = match action.as_str() {
                "ivs:ListChannels" => "channel",
                _ => "recording-configuration",
            };
            let ivs = format!("arn:aws:ivs:{region}:{account}:{kind}/");
            for r in &resources {
                let allowed = match action.split(':').next().unwrap_or("") {
                    "ivs" => r.strip_prefix(&ivs).is_some_and(|id| !id.is_empty()),
                    "iam" => *r == role,
                    "logs" => *r == log_group,
                    "cloudformation" => {
                        *r == format!("arn:aws:cloudformation:{region}:{account}:stack/*/*")
                    }
                    "s3" => scenario.buckets.contains(&r.as_str()),
                    _ => false,
                };
                if !allowed {
                    problems.push(format!("{place}: {action} on {r}"));
                }
            }
        }
    }
    // S3 on the named buckets, all of them.
    let buckets = s3_resources(template);
    let expected: BTreeSet<String> = scenario.buckets.iter().map(|b| b.to_string()).collect();
    if buckets != expected {
        problems.push(format!("S3 on {buckets:?}, not {expected:?}"));
    }
    problems
}

/// Conditions. The marker tag bounds what the function may change: Create only with the marker
/// in the request; Delete and TagResource only on configurations that carry it; UntagResource
/// only on those and never of the marker; a TagResource statement keyed on the request's marker
/// alone for the tags given at create time; reads unconditioned. And the service-linked role
/// only for IVS.
fn check_conditions(_: &Scenario, template: &Value) -> Vec<String> {
    let (mut problems, mut tags_at_create) = (Vec::new(), false);
    for (place, s) in statements(template).0 {
        let condition = |operator: &str, key: &str| strings(&s["Condition"][operator][key]);
        let owned = condition("Null", &format!("aws:ResourceTag/{MARKER}")) == ["false"];
        let marked = condition("Null", &format!("aws:RequestTag/{MARKER}")) == ["false"];
        let untags = condition("ForAllValues:StringNotEquals", "aws:TagKeys");
        let keeps_marker = untags.iter().any(|k| k == MARKER);
        let for_ivs = condition("StringEquals", "iam:AWSServiceName") == ["ivs.amazonaws.com"];
        let unconditioned = s.get("Condition").is_none();
        for action in strings(&s["Action"]) {
            #[rustfmt::skip]
            let (ok, needs) = match action.as_str() {
                "ivs:CreateRecordingConfiguration" => (marked, "the marker in the request"),
                "ivs:DeleteRecordingConfiguration" => (owned, "the marker on the configuration"),
                "ivs:UntagResource" => (owned && keeps_marker,
                    "the marker on it and ForAllValues:StringNotEquals aws:TagKeys marker"),
                "ivs:TagResource" => (owned || marked, "the marker on it or in the request"),
                "iam:CreateServiceLinkedRole" => (for_ivs, "iam:AWSServiceName ivs.amazonaws.com"),
                a if READ_ACTIONS.split_whitespace().any(|r| r == a) => (unconditioned,
                    "no Condition (List finds the function's own configurations by marker)"),
                _ => continue,
            };
            tags_at_create |= action == "ivs:TagResource" && marked && !owned;
            if !ok {
                problems.push(format!("{place}: {action} needs {needs}"));
            }
        }
    }
    if !tags_at_create {
        problems.push(
            "no ivs:TagResource keyed on the request's marker alone: if IVS authorizes the tags \
             given at create time as TagResource (on a configuration with no tags yet), every \
             Create is denied"
                .into(),
        );
    }
    problems
}

/// Asserts that `check` passes on the real template in every scenario, and that it reports a
/// problem in some scenario on each mutation.
fn assert_check(name: &str, check: Check, mutations: &[Mutation]) {
    let in_every_scenario = |template: &Value| {
        let mut problems = Vec::new();
        for s in SCENARIOS {
            let found = match resolve(template, s.region, s.account, s.params) {
                Ok(t) => check(s, &t),
                Err(e) => vec![format!("cannot evaluate: {e}")],
            };
            problems.extend(found.into_iter().map(|p| format!("[{}] {p}", s.name)));
        }
        problems
    };
    assert_catches(name, &provider(), in_every_scenario, mutations);
}

fn role_statements(template: &mut Value) -> &mut Vec<Value> {
    let role = &mut template["Resources"]["FunctionRole"]["Properties"];
    let statements = role["Policies"][0]["PolicyDocument"]["Statement"].as_array_mut();
    statements.expect("FunctionRole's first policy has statements")
}

/// The role's statement with this Sid, also inside an `Fn::If`.
fn statement<'a>(template: &'a mut Value, sid: &str) -> &'a mut Value {
    let mut list = role_statements(template).iter_mut();
    let item = list.find(|s| s["Sid"] == sid || s["Fn::If"][1]["Sid"] == sid);
    let item = item.unwrap_or_else(|| panic!("no statement {sid}"));
    if item.get("Fn::If").is_some() {
        &mut item["Fn::If"][1]
    } else {
        item
    }
}

// Mutations of the role's statement `sid`.

fn set(sid: &'static str, key: &'static str, value: Value) -> impl Fn(&mut Value) {
    move |t: &mut Value| statement(t, sid)[key] = value.clone()
}

fn unset(sid: &'static str, key: &'static str) -> impl Fn(&mut Value) {
    move |t: &mut Value| drop(statement(t, sid).as_object_mut().unwrap().remove(key))
}

fn add_action(sid: &'static str, action: &'static str) -> impl Fn(&mut Value) {
    move |t: &mut Value| {
        let s = statement(t, sid);
        s["Action"] = json!([one_or_many(&s["Action"]), vec![&json!(action)]].concat());
    }
}

fn without(sid: &'static str) -> impl Fn(&mut Value) {
    move |t: &mut Value| role_statements(t).retain(|s| s["Sid"] != sid)
}

/// `from` replaced by `to` in the statement's `Fn::Sub` Resource.
fn replace(sid: &'static str, from: &'static str, to: &'static str) -> impl Fn(&mut Value) {
    move |t: &mut Value| {
        let resource = &mut statement(t, sid)["Resource"]["Fn::Sub"];
        *resource = json!(text(resource).unwrap().replace(from, to));
    }
}

fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}

#[test]
fn policy_grants_exactly_the_actions_the_function_needs() {
    let managed = json!(["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]);
    let extra = json!({"Type": "AWS::IAM::Policy", "Properties": {
        "PolicyName": "extra", "Roles": [{"Ref": "FunctionRole"}], "PolicyDocument": {"Statement":
        [{"Effect": "Allow", "Action": "ivs:CreateChannel", "Resource": "*"}]}}});
    #[rustfmt::skip]
    let mutations: &[Mutation] = &[
        ("ivs:*", &add_action("IvsReadRecordingConfigurations", "ivs:*")),
        ("*", &add_action("OwnLogGroup", "*")),
        ("s3:GetObject in a conditional statement", &add_action("AllowedBuckets", "s3:GetObject")),
        ("ListChannels dropped", &without("IvsChannelsUsingConfiguration")),
        ("NotAction", &|t| {
            let s = statement(t, "OwnLogGroup");
            s["NotAction"] = s["Action"].take();
        }),
        ("managed policy on the role", &|t| {
            t["Resources"]["FunctionRole"]["Properties"]["ManagedPolicyArns"] = managed.clone()
        }),
        ("policies on the function", &|t| {
            let function = &mut t["Resources"]["Function"]["Properties"];
            function["Policies"] = json!(["AWSLambdaBasicExecutionRole"])
        }),
        ("a separate AWS::IAM::Policy", &|t| t["Resources"]["Extra"] = extra.clone()),
    ];
    assert_check("check_actions", check_actions, mutations);
}

#[test]
fn policy_resources_are_this_account_and_region_and_the_named_buckets() {
    let first = json!({"Fn::Select": [0, {"Ref": "AllowedBucketNames"}]});
    let first = json!({"Fn::Sub": ["arn:aws:s3:::${N}", {"N": first}]});
    let every_role = sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*");
    #[rustfmt::skip]
    let mutations: &[Mutation] = &[
        ("reads on *", &set("IvsReadRecordingConfigurations", "Resource", json!("*"))),
        ("every region", &replace("IvsChangeOwnConfigurations", "${AWS::Region}", "*")),
        ("a hard-coded region", &replace("IvsCreateWithMarker", "${AWS::Region}", "us-east-1")),
        ("ListChannels on recording configurations",
            &replace("IvsChannelsUsingConfiguration", "channel/", "recording-configuration/")),
        ("every role", &set("IvsRecordingServiceLinkedRolePolicies", "Resource", every_role)),
        ("logs on * (as AWSLambdaBasicExecutionRole)",
            &set("OwnLogGroup", "Resource", json!(["*"]))),
        ("no Resource", &unset("OwnLogGroup", "Resource")),
        ("the example bucket's objects",
            &set("ExampleBucket", "Resource", sub("${DestinationBucket.Arn}/*"))),
        ("the prefix without its wildcard", &replace("AllowedBucketPrefix", "}*", "}")),
        ("every bucket whatever the names",
            &set("AllowedBuckets", "Resource", json!("arn:aws:s3:::*"))),
        ("only the first name", &set("AllowedBuckets", "Resource", first)),
        ("the example bucket whether deployed or not", &|t| {
            let list = role_statements(t);
            let i = list.iter().position(|s| s["Fn::If"][1]["Sid"] == "ExampleBucket").unwrap();
            list[i] = list[i]["Fn::If"][1].take();
        }),
    ];
    assert_check("check_resources", check_resources, mutations);
}

#[test]
fn only_configurations_carrying_the_marker_can_be_deleted_or_retagged() {
    let null = |key: &str, value: &str| json!({"Null": {key: value}});
    let owned = format!("aws:ResourceTag/{MARKER}");
    let delete = "ivs:DeleteRecordingConfiguration";
    #[rustfmt::skip]
    let mutations: &[Mutation] = &[
        ("Delete and Tag unconditioned", &unset("IvsChangeOwnConfigurations", "Condition")),
        ("the marker absent instead of present",
            &set("IvsChangeOwnConfigurations", "Condition", null(&owned, "true"))),
        ("another tag key",
            &set("IvsChangeOwnConfigurations", "Condition", null("aws:ResourceTag/team", "false"))),
        ("Create without the marker", &unset("IvsCreateWithMarker", "Condition")),
        ("no TagResource for create-time tags", &without("IvsTagAtCreate")),
        ("create-time TagResource that deletes too", &add_action("IvsTagAtCreate", delete)),
        ("the marker untagged alongside another key", &|t| {
            let c = statement(t, "IvsUntagOwnButNotMarker")["Condition"].as_object_mut().unwrap();
            let keys = c.remove("ForAllValues:StringNotEquals").unwrap();
            c.insert("ForAnyValue:StringNotEquals".into(), keys);
        }),
        ("Delete among the reads", &add_action("IvsReadRecordingConfigurations", delete)),
        ("List only of marked configurations",
            &set("IvsReadRecordingConfigurations", "Condition", null(&owned, "false"))),
        ("a service-linked role for any service",
            &unset("IvsRecordingServiceLinkedRole", "Condition")),
    ];
    assert_check("check_conditions", check_conditions, mutations);
}

// ---- One provider, many stacks -----------------------------------------------------------------

/// The README's "Deploying" section, continuation lines joined.
fn deploying_section() -> String {
    let readme = read("README.md");
    let section = readme.split("\n## ").find(|s| s.starts_with("Deploying\n"));
    section
        .expect("README: no Deploying section")
        .replace("\\\n", " ")
}

/// The `Key=Value` pairs after `--parameter-overrides` in the command line of `section` that
/// starts with `prefix` and mentions `mentions`.
fn overrides<'s>(section: &'s str, prefix: &str, mentions: &str) -> Vec<(&'s str, &'s str)> {
    let mut lines = section.lines().map(str::trim);
    let command = lines.find(|line| line.starts_with(prefix) && line.contains(mentions));
    let command = command.unwrap_or_else(|| panic!("README: no `{prefix} ... {mentions}`"));
    let (_, pairs) = command
        .split_once("--parameter-overrides")
        .unwrap_or_default();
    let pairs = pairs.split_whitespace();
    let pairs = pairs.take_while(|t| !t.starts_with("--") && !t.starts_with('#'));
    let pair = |t: &'s str| t.split_once('=').unwrap_or_else(|| panic!("README: {t}"));
    let pairs = pairs.map(pair);
    pairs
        .map(|(k, v)| (k, v.trim_matches(['"', '\''])))
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

/// The resources of the statements that grant S3 actions.
fn s3_resources(template: &Value) -> BTreeSet<String> {
    let statements = statements(template).0.into_iter().map(|(_, s)| s);
    let s3 = statements.filter(|s| strings(&s["Action"]).iter().any(|a| a.starts_with("s3:")));
    s3.flat_map(|s| strings(&s["Resource"])).collect()
}

/// Whether the provider deployed with these parameters lets IVS use the bucket named `arn`.
fn allows(region: &str, account: &str, params: &[(&str, &str)], arn: &str) -> bool {
    let provider = resolve(&provider(), region, account, params).unwrap();
    s3_resources(&provider).iter().any(|p| glob(p, arn))
}

#[test]
fn export_matches_the_consumers_import_and_the_readme() {
    // Exported whether or not the example is deployed: it is what the provider is for.
    for params in [&[][..], &[("DeployExample", "false")][..]] {
        let t = evaluate(&provider(), params);
        let (function, _) = the_one(&t, "AWS::Serverless::Function");
        let outputs = t["Outputs"].as_object().unwrap().values();
        let exports: Vec<_> = outputs
            .filter(|o| o["Export"]["Name"] == EXPORT_NAME)
            .collect();
        assert_eq!(exports.len(), 1, "exports of {EXPORT_NAME}, {params:?}");
        assert_eq!(exports[0]["Value"], json!(format!("{{{function}.Arn}}")));
    }
    let c = consumer();
    let customs = resources_of_type(&c, CUSTOM_TYPE);
    assert!(!customs.is_empty(), "the consumer has no {CUSTOM_TYPE}");
    for (_, custom) in customs {
        let import = json!({"Fn::ImportValue": EXPORT_NAME});
        assert_eq!(custom["Properties"]["ServiceToken"], import);
    }
    let example = format!("ServiceToken: !ImportValue {EXPORT_NAME}");
    assert!(deploying_section().contains(&example), "README: {example}");
}

#[test]
fn consumer_bucket_is_allowed_when_deployed_as_the_readme_says() {
    // One of the longest region names, for the bucket name's length.
    let (region, account) = ("ap-southeast-2", "123456789012");
    let section = deploying_section();
    let (deploy, file) = ("aws cloudformation deploy", "examples/consumer.yaml");
    let params = overrides(&section, deploy, file);
    let c = resolve(&consumer(), region, account, &params).unwrap();
    let (bucket_id, bucket) = the_one(&c, "AWS::S3::Bucket");
    let name = bucket["Properties"]["BucketName"].as_str().expect("a name");
    let allowed = |b: u8| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.');
    let valid = (3..=63).contains(&name.len())
        && name.bytes().all(allowed)
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    assert!(valid, "{name:?} is not a valid S3 bucket name");
    for (id, custom) in resources_of_type(&c, CUSTOM_TYPE) {
        let destination = &custom["Properties"]["DestinationConfiguration"]["S3"]["BucketName"];
        assert_eq!(symbol(destination), Some(bucket_id.as_str()), "{id}");
    }

    let arn = format!("arn:aws:s3:::{name}");
    let params = overrides(&section, "sam deploy", "--parameter-overrides");
    assert!(allows(region, account, &params, &arn), "{params:?}");
    // The README's parameters are what makes it work: by default the provider allows only its
    // example bucket, and IVS would refuse the consumer's.
    assert!(!allows(region, account, &[], &arn), "{arn} by default");
}

/// Every bucket: versioned, private, encrypted, owner-enforced, and a bucket policy that denies
/// any request without TLS, on the bucket and its objects.
fn check_buckets(template: &Value) -> Vec<String> {
    let buckets = resources_of_type(template, "AWS::S3::Bucket");
    let mut problems = Vec::new();
    if buckets.is_empty() {
        problems.push("no bucket".to_string());
    }
    let public = "BlockPublicAcls BlockPublicPolicy IgnorePublicAcls RestrictPublicBuckets";
    let policies = resources_of_type(template, "AWS::S3::BucketPolicy");
    for (id, bucket) in buckets {
        let p = &bucket["Properties"];
        let private = |key: &str| p["PublicAccessBlockConfiguration"][key] == true;
        let encryption = &p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
        let hardened = p["VersioningConfiguration"]["Status"] == "Enabled"
            && public.split(' ').all(private)
            && p["OwnershipControls"]["Rules"][0]["ObjectOwnership"] == "BucketOwnerEnforced"
            && encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"].is_string();
        if !hardened {
            problems.push(format!("{id} is not hardened: {p}"));
        }
        let arn = json!(format!("{{{id}.Arn}}"));
        let objects = json!(format!("{{{id}.Arn}}/*"));
        let own = |p: &&Value| symbol(&p["Bucket"]) == Some(id.as_str());
        let policies = policies.iter().map(|(_, p)| &p["Properties"]).filter(own);
        let mut statements = policies.flat_map(|p| one_or_many(&p["PolicyDocument"]["Statement"]));
        let denies_plain_http = statements.any(|s| {
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
            problems.push(format!("{id}: no policy denies plain HTTP"));
        }
    }
    problems
}

#[test]
fn buckets_refuse_plain_http_and_keep_versions() {
    let in_consumer = check_buckets(&evaluate(&consumer(), &[]));
    assert!(in_consumer.is_empty(), "consumer: {in_consumer:?}");
    fn policy(t: &mut Value) -> &mut Value {
        let policy = &mut t["Resources"]["DestinationBucketPolicy"]["Properties"];
        &mut policy["PolicyDocument"]["Statement"][0]
    }
    #[rustfmt::skip]
    let mutations: &[Mutation] = &[
        ("Allow instead of Deny", &|t| policy(t)["Effect"] = json!("Allow")),
        ("denies TLS instead",
            &|t| policy(t)["Condition"]["Bool"]["aws:SecureTransport"] = json!("true")),
        ("objects only", &|t| policy(t)["Resource"] = sub("${DestinationBucket.Arn}/*")),
        ("versioning suspended", &|t| {
            let bucket = &mut t["Resources"]["DestinationBucket"]["Properties"];
            bucket["VersioningConfiguration"]["Status"] = json!("Suspended")
        }),
    ];
    let check = |t: &Value| check_buckets(&evaluate(t, &[]));
    assert_catches("check_buckets", &provider(), check, mutations);
}

// ---- The alarm and the function ----------------------------------------------------------------

/// The alarm counts invocations that ended FAILED or NOT_DELIVERED: the SampleCount of Duration
/// (which every record carries) per Outcome, each FILLed with 0, summed; one in 5 minutes alarms,
/// no invocation is no failure.
fn assert_alarm_counts_failures(alarm: &Value, namespace: &str) {
    let metrics = alarm["Metrics"].as_array().expect("metric math");
    let (sums, counts): (Vec<&Value>, Vec<&Value>) =
        metrics.iter().partition(|m| m.get("Expression").is_some());
    assert_eq!(sums.len(), 1, "one expression returns the alarm's value");
    assert_eq!(sums[0]["ReturnData"], true, "{}", sums[0]);
    let sum = text(&sums[0]["Expression"]).unwrap().replace(' ', "");
    let mut outcomes = Vec::new();
    for m in counts {
        assert_eq!(m["ReturnData"], false, "only the sum is returned: {m}");
        // A count of invocations (not their duration) per Outcome, in the function's namespace.
        let outcome = &m["MetricStat"]["Metric"]["Dimensions"][0]["Value"];
        let dimensions = json!([{"Name": "Outcome", "Value": outcome}]);
        let metric = json!({"Namespace": namespace, "MetricName": "Duration",
            "Dimensions": dimensions});
        let count = json!({"Metric": metric, "Period": 300, "Stat": "SampleCount"});
        assert_eq!(m["MetricStat"], count);
        let fill = format!("FILL({},0)", text(&m["Id"]).unwrap());
        assert!(sum.contains(&fill), "{sum} lacks {fill}");
        outcomes.push(text(outcome).unwrap());
    }
    outcomes.sort();
    assert_eq!(outcomes, ["FAILED", "NOT_DELIVERED"]);
    let threshold = json!({"Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "EvaluationPeriods": 1, "TreatMissingData": "notBreaching"});
    for (key, want) in threshold.as_object().unwrap() {
        assert_eq!(&alarm[key], want, "{key}");
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
            "no AlarmTopicArn, {actions}: {alarm}"
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
        let grace = &v["CFN_IVS_ACCESS_DENIED_GRACE_SECONDS"];
        (v["CFN_IVS_METRICS_NAMESPACE"].clone(), grace.clone())
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
    #[rustfmt::skip]
    let settings = [
        ("/Properties/Runtime", json!("provided.al2023")),
        // Deployed on arm64 unless the Architecture parameter says otherwise (local builds).
        ("/Properties/Architectures", json!(["arm64"])),
        ("/Properties/Handler", json!("bootstrap")),
        ("/Properties/MemorySize", json!(128)),
        ("/Properties/LoggingConfig/LogFormat", json!("JSON")),
        ("/Metadata/BuildMethod", json!("rust-cargolambda")),
        ("/Metadata/BuildProperties/Binary", json!("cfn-ivs-recording")),
    ];
    for (pointer, want) in settings {
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
    let services = trust
        .iter()
        .flat_map(|s| strings(&s["Principal"]["Service"]));
    assert_eq!(services.collect::<Vec<_>>(), ["lambda.amazonaws.com"]);

    // A cap makes Lambda hold throttled asynchronous events and drop them after
    // MaximumEventAgeInSeconds: the stack would wait, unanswered, until ServiceTimeout.
    let reserved = p.get("ReservedConcurrentExecutions");
    assert!(reserved.is_none(), "see the reasoning in template.yaml");

    // Above the handler's 5 s answer margin plus some work time.
    let timeout = p["Timeout"].as_i64().expect("a Timeout (default 3 s)");
    assert!((15..=900).contains(&timeout), "Timeout {timeout}");
    let max_age = &p["EventInvokeConfig"]["MaximumEventAgeInSeconds"];
    let max_age = max_age.as_i64().expect("MaximumEventAgeInSeconds");
    // An event Lambda starts as late as it may must still be answered before CloudFormation
    // stops waiting, in the example and in the consumer.
    let c = evaluate(&consumer(), &[]);
    for (name, template) in [("template.yaml", &t), ("consumer", &c)] {
        let customs = resources_of_type(template, CUSTOM_TYPE);
        assert!(!customs.is_empty(), "{name}: no {CUSTOM_TYPE}");
        for (id, custom) in customs {
            let service_timeout = text(&custom["Properties"]["ServiceTimeout"]).unwrap();
            let service_timeout: i64 = service_timeout.parse().unwrap();
            assert!(
                service_timeout >= max_age + timeout,
                "{name} {id}: ServiceTimeout {service_timeout} < {max_age} \
                 (MaximumEventAgeInSeconds) + {timeout} (Timeout)"
            );
        }
    }
}

/// The function is arm64 as deployed; a local build (`sam build` for `sam local invoke`) picks
/// the machine's own architecture through the Architecture parameter, and nothing else.
#[test]
fn architecture_is_arm64_unless_a_local_build_asks_for_x86_64() {
    let template = provider();
    let parameter = &template["Parameters"]["Architecture"];
    assert_eq!(parameter["AllowedValues"], json!(["arm64", "x86_64"]));
    assert_eq!(parameter["Default"], "arm64");
    let architectures = |params: &[(&str, &str)]| {
        let t = evaluate(&template, params);
        the_one(&t, "AWS::Serverless::Function").1["Properties"]["Architectures"].clone()
    };
    assert_eq!(architectures(&[]), json!(["arm64"]));
    assert_eq!(
        architectures(&[("Architecture", "x86_64")]),
        json!(["x86_64"])
    );
}

/// The variables of a `sam local invoke --env-vars` section that SAM would drop: those the
/// function's Environment does not declare.
fn dropped_by_sam<'e>(set: &'e Map<String, Value>, declared: &Value) -> Vec<&'e str> {
    let names = set.keys().map(String::as_str);
    names.filter(|name| declared.get(name).is_none()).collect()
}

/// `sam local invoke --env-vars events/sam-local-env.json` sets only the variables the template
/// declares in the function's Environment and silently drops the others (the function would then
/// call the real endpoints of the user's account). So every variable the file sets is declared,
/// the file points both endpoints at `cfn-ivs-local serve` as the README starts it for SAM, and
/// the declared endpoints are empty as deployed (the SDK's own endpoints).
#[test]
fn sam_local_env_file_sets_only_declared_variables_and_endpoints_default_to_empty() {
    const ENDPOINTS: [&str; 2] = ["AWS_ENDPOINT_URL_IVS", "AWS_ENDPOINT_URL_CLOUDFORMATION"];
    const SERVE: &str = "http://host.docker.internal:9100";
    let env_file: Value = serde_json::from_str(&read("events/sam-local-env.json"))
        .expect("events/sam-local-env.json is JSON");
    let template = provider();
    let (id, _) = the_one(&template, "AWS::Serverless::Function");
    let sections: Vec<&String> = env_file.as_object().expect("sections").keys().collect();
    assert_eq!(
        sections,
        [id],
        "one section, named by the function's logical id"
    );
    let set = env_file[id].as_object().expect("NAME: value");
    assert!(
        set.values().all(Value::is_string),
        "SAM takes strings: {set:?}"
    );
    for endpoint in ENDPOINTS {
        assert_eq!(
            set.get(endpoint),
            Some(&json!(SERVE)),
            "the env file's {endpoint}"
        );
    }

    let local = [("Architecture", "x86_64"), ("DeployExample", "false")];
    for params in [&[][..], &local[..]] {
        let t = evaluate(&template, params);
        let function = the_one(&t, "AWS::Serverless::Function").1;
        let declared = &function["Properties"]["Environment"]["Variables"];
        let dropped = dropped_by_sam(set, declared);
        assert!(
            dropped.is_empty(),
            "SAM would drop {dropped:?} ({params:?})"
        );
        for endpoint in ENDPOINTS {
            assert_eq!(
                declared[endpoint], "",
                "{endpoint} as deployed ({params:?})"
            );
        }
        // Lambda reserves these: the template cannot declare them, so a file cannot set them.
        let mut reserved = set.clone();
        reserved.insert("AWS_REGION".into(), json!("us-east-1"));
        reserved.insert("AWS_ACCESS_KEY_ID".into(), json!("AKIDEMULATOR"));
        let dropped = dropped_by_sam(&reserved, declared);
        assert_eq!(
            dropped,
            ["AWS_ACCESS_KEY_ID", "AWS_REGION"],
            "the check checks"
        );
    }
}

// ---- Sample events -----------------------------------------------------------------------------

/// Where a property leaf is not a string, as CloudFormation would never send it.
fn non_string_leaves(value: &Value, path: String) -> Vec<String> {
    let children: Vec<(String, &Value)> = match value {
        Value::String(_) => vec![],
        Value::Array(a) => (0..).map(|i| format!("{path}[{i}]")).zip(a).collect(),
        Value::Object(m) => m.iter().map(|(k, v)| (format!("{path}.{k}"), v)).collect(),
        other => return vec![format!("{path} is {other}, CloudFormation sends a string")],
    };
    let leaves = children
        .into_iter()
        .map(|(path, v)| non_string_leaves(v, path));
    leaves.flatten().collect()
}

/// What is wrong with an event, measured against the requests CloudFormation sends.
fn check_event(name: &str, event: &Value) -> Vec<String> {
    let field = |key: &str| event[key].as_str().unwrap_or("");
    let (kind, id) = (field("RequestType"), field("RequestId"));
    let uuid = id.split('-').map(str::len).eq([8, 4, 4, 4, 12])
        && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    let physical = event.get("PhysicalResourceId");
    let named = physical
        .and_then(Value::as_str)
        .is_some_and(|p| !p.is_empty());
    let physical_ok = if kind == "Create" {
        physical.is_none()
    } else {
        named
    };
    let s3 = "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/";
    let url = field("ResponseURL");
    let presigned = url.starts_with(s3)
        && url.contains(&format!("%7CRecording%7C{id}?"))
        && url.contains("X-Amz-Signature=");
    let stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/";
    let (request_type, resource_type) = (&event["RequestType"], &event["ResourceType"]);
    #[rustfmt::skip]
    let mut checks: Vec<(bool, String)> = vec![
        (["Create", "Update", "Delete"].contains(&kind),
            format!("RequestType {request_type} is not Create, Update or Delete")),
        (field("ServiceToken").starts_with("arn:aws:lambda:"), "no Lambda ARN ServiceToken".into()),
        (resource_type == CUSTOM_TYPE, format!("ResourceType {resource_type}, not {CUSTOM_TYPE}")),
        (event["LogicalResourceId"] == "Recording", "LogicalResourceId must be Recording".into()),
        (field("StackId").starts_with(stack), format!("StackId is not a stack ARN like {stack}")),
        (uuid, format!("RequestId {id:?} is not a UUID")),
        (presigned, "ResponseURL is not a pre-signed URL for this request".into()),
        (physical_ok, "PhysicalResourceId: none on a Create, a non-empty string otherwise".into()),
        ((kind == "Update") == event.get("OldResourceProperties").is_some(),
            "OldResourceProperties belongs to Update, and only to Update".into()),
        (event.get("ResourceProperties").is_some(), "no ResourceProperties".into()),
    ];
    for key in ["ResourceProperties", "OldResourceProperties"] {
        if let Some(props) = event.get(key) {
            let token = props["ServiceToken"] == event["ServiceToken"];
            checks.push((props.is_object(), format!("{key} is not an object")));
            checks.push((token, format!("{key}.ServiceToken differs")));
            let leaves = non_string_leaves(props, key.into());
            checks.extend(leaves.into_iter().map(|p| (false, p)));
        }
    }
    let failed = checks.into_iter().filter(|(ok, _)| !ok);
    failed.map(|(_, p)| format!("{name}: {p}")).collect()
}

#[test]
fn events_are_shaped_like_cloudformation_requests() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let names = entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned());
    // Not an event: the environment `sam local invoke --env-vars` takes.
    let names = names.filter(|n| n.ends_with(".json") && n != "sam-local-env.json");
    let names: BTreeSet<String> = names.collect();
    let expected = "create.json update-tags.json update.json delete.json create-invalid.json \
        create-bad-interval.json";
    for expected in expected.split_whitespace() {
        assert!(names.contains(expected), "events/{expected} is missing");
    }

    let (mut problems, mut request_ids) = (Vec::new(), BTreeSet::new());
    let readme = read("events/README.md");
    for name in &names {
        let event = serde_json::from_str::<Value>(&read(&format!("events/{name}")));
        let event = event.unwrap_or_else(|e| panic!("events/{name} is not JSON: {e}"));
        problems.extend(check_event(name, &event));
        if !request_ids.insert(event["RequestId"].to_string()) {
            problems.push(format!("{name}: its RequestId is another's"));
        }
        // The README has a line for each event.
        if !readme.contains(name.as_str()) {
            problems.push(format!("events/README.md does not mention {name}"));
        }
    }
    assert!(problems.is_empty(), "events:\n  {}", problems.join("\n  "));

    // The checks catch events that CloudFormation would never send.
    let create: Value = serde_json::from_str(&read("events/create.json")).unwrap();
    #[rustfmt::skip]
    let mutations: &[Mutation] = &[
        ("a number", &|e| e["ResourceProperties"]["RecordingReconnectWindowSeconds"] = json!(30)),
        ("a nested number", &|e| {
            let thumbnails = &mut e["ResourceProperties"]["ThumbnailConfiguration"];
            thumbnails["TargetIntervalSeconds"] = json!(30)
        }),
        ("a boolean in a list", &|e| e["ResourceProperties"]["Tags"][0]["Value"] = json!(true)),
        ("no ServiceToken", &|e| drop(e.as_object_mut().unwrap().remove("ServiceToken"))),
        ("another resource type",
            &|e| e["ResourceType"] = json!("AWS::IVS::RecordingConfiguration")),
        ("a Create with a PhysicalResourceId", &|e| e["PhysicalResourceId"] = json!("x")),
    ];
    let check = |e: &Value| check_event("create.json", e);
    assert_catches("check_event", &create, check, mutations);
}
