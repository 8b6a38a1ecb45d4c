//! Checks of `template.yaml` (least-privilege IAM, the function's settings, the example of use)
//! and of the sample events in `events/`.
//!
//! Every check is a function from the parsed template to a list of problems. Each test runs its
//! checks on the real template (no problems allowed) and on copies broken on purpose (each break
//! must be reported), so that a check that stopped checking fails too.

use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;

const CUSTOM_TYPE: &str = "Custom::IvsRecordingConfiguration";
const BINARY: &str = "cfn-ivs-recording";
/// The handler keeps this much of the Lambda deadline for answering (`HandlerConfig`).
const SAFETY_MARGIN_SECS: i64 = 5;

/// The only IVS resources the function may touch: recording configurations of the stack's own
/// account and region. A narrower ARN (one configuration) would also pass.
const IVS_RECORDING_PREFIX: &str =
    "arn:${AWS::Partition}:ivs:${AWS::Region}:${AWS::AccountId}:recording-configuration/";
/// IVS's service-linked role for recording to S3, the only IAM resource allowed.
const IVS_RECORDING_SLR: &str = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/ivs.amazonaws.com/AWSServiceRoleForIVSRecordToS3*";

/// Every action the function needs, and nothing else: what the handler calls on IVS, and what
/// IVS needs from the caller on CreateRecordingConfiguration (the native resource's handler
/// permissions), plus writing its own logs.
const REQUIRED_ACTIONS: &[&str] = &[
    "ivs:CreateRecordingConfiguration",
    "ivs:GetRecordingConfiguration",
    "ivs:DeleteRecordingConfiguration",
    "ivs:ListRecordingConfigurations",
    "ivs:TagResource",
    "ivs:UntagResource",
    "ivs:ListTagsForResource",
    "iam:CreateServiceLinkedRole",
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "s3:ListBucket",
    "s3:GetBucketLocation",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
];

/// Actions that AWS does not let a policy scope to a resource, the only ones allowed in a
/// statement whose Resource is "*". None of the function's actions is such an action:
/// ivs:ListRecordingConfigurations, the List action one would expect here, is listed in the
/// Service Authorization Reference ("Actions, resources, and condition keys for Amazon
/// Interactive Video Service") with the required resource type Recording-Configuration, so it is
/// scoped to recording-configuration/* like the other IVS actions. Add an action here only with
/// the reference's word that it has no resource type.
const UNSCOPABLE_ACTIONS: &[&str] = &[];

// ------------------------------------------------------------------------------------------------
// Loading
// ------------------------------------------------------------------------------------------------

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The template as JSON, with CloudFormation's short-form tags in their long form
/// (`!Ref X` → `{"Ref": "X"}`, `!GetAtt A.B` → `{"Fn::GetAtt": ["A", "B"]}`, `!Sub s` →
/// `{"Fn::Sub": "s"}`, any other `!Name v` → `{"Fn::Name": v}`).
fn load_template() -> Value {
    let path = root().join("template.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_template(&text)
}

fn parse_template(text: &str) -> Value {
    let yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("template.yaml is not YAML: {e}"));
    yaml_to_json(yaml)
}

fn yaml_to_json(yaml: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                json!(n.as_f64())
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    other => serde_yaml_ng::to_string(&other)
                        .expect("a YAML key serializes")
                        .trim()
                        .to_string(),
                };
                out.insert(key, yaml_to_json(v));
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let value = yaml_to_json(tagged.value);
            match name {
                "Ref" | "Condition" => json!({ name: value }),
                "GetAtt" => match value {
                    Value::String(s) => {
                        let (resource, attribute) = s
                            .split_once('.')
                            .unwrap_or_else(|| panic!("!GetAtt {s} has no attribute"));
                        json!({"Fn::GetAtt": [resource, attribute]})
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                other => json!({ format!("Fn::{other}"): value }),
            }
        }
    }
}

fn resources(template: &Value) -> &Map<String, Value> {
    template["Resources"]
        .as_object()
        .expect("the template has a Resources section")
}

fn resources_of_type<'a>(
    template: &'a Value,
    type_name: &'a str,
) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
    resources(template)
        .iter()
        .filter(move |(_, r)| r["Type"] == type_name)
}

/// The logical id that `{"Ref": id}` or `{"Fn::GetAtt": [id, attribute]}` names.
fn ref_target(value: &Value) -> Option<&str> {
    value["Ref"].as_str()
}

fn get_att(value: &Value, attribute: &str) -> Option<String> {
    let parts = value["Fn::GetAtt"].as_array()?;
    match parts.as_slice() {
        [Value::String(id), Value::String(a)] if a == attribute => Some(id.clone()),
        _ => None,
    }
}

fn one_or_many(value: &Value) -> Vec<&Value> {
    match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

// ------------------------------------------------------------------------------------------------
// Policy statements
// ------------------------------------------------------------------------------------------------

/// A permission statement, with where it was found.
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

    fn resources(&self) -> Vec<&Value> {
        one_or_many(&self.body["Resource"])
    }

    fn is_allow(&self) -> bool {
        self.body["Effect"] == "Allow"
    }
}

/// Every permission statement of the template (trust policies are not permissions), and a
/// problem for each policy that cannot be read here (a managed policy, a SAM policy template).
fn statements(template: &Value) -> (Vec<Statement<'_>>, Vec<String>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for (id, resource) in resources(template) {
        let props = &resource["Properties"];
        let mut documents: Vec<(String, &Value)> = Vec::new();
        match resource["Type"].as_str().unwrap_or("") {
            "AWS::IAM::Role" | "AWS::IAM::User" | "AWS::IAM::Group" => {
                for (i, policy) in one_or_many(&props["Policies"]).into_iter().enumerate() {
                    documents.push((format!("{id}.Policies[{i}]"), &policy["PolicyDocument"]));
                }
                if !one_or_many(&props["ManagedPolicyArns"]).is_empty() {
                    problems.push(format!(
                        "{id}: ManagedPolicyArns cannot be checked here (AWSLambdaBasicExecutionRole, for one, allows logs actions on every resource); use inline statements"
                    ));
                }
            }
            "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => {
                documents.push((format!("{id}.PolicyDocument"), &props["PolicyDocument"]));
            }
            "AWS::Serverless::Function" => {
                for (i, policy) in one_or_many(&props["Policies"]).into_iter().enumerate() {
                    if policy.get("Statement").is_some() {
                        documents.push((format!("{id}.Policies[{i}]"), policy));
                    } else {
                        problems.push(format!(
                            "{id}.Policies[{i}]: a managed policy or SAM policy template ({policy}) cannot be checked here; use inline statements on an explicit role"
                        ));
                    }
                }
            }
            _ => {}
        }
        for (place, document) in documents {
            for (i, body) in one_or_many(&document["Statement"]).into_iter().enumerate() {
                let sid = body["Sid"]
                    .as_str()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default();
                found.push(Statement {
                    place: format!("{place}.Statement[{i}]{sid}"),
                    body,
                });
            }
        }
    }
    (found, problems)
}

/// A resource ARN as text: a plain string, or the template of a `Fn::Sub` without variables of
/// its own. Anything else (`Fn::GetAtt`, `Fn::Join`, ...) gives `None`.
fn arn_text(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Object(_) => match &value["Fn::Sub"] {
            Value::String(s) => Some(s),
            Value::Array(parts) if parts.len() == 1 || parts.get(1) == Some(&json!({})) => {
                parts[0].as_str()
            }
            _ => None,
        },
        _ => None,
    }
}

fn is_star(value: &Value) -> bool {
    value.as_str() == Some("*")
}

fn service_of(action: &str) -> &str {
    action.split_once(':').map(|(s, _)| s).unwrap_or("")
}

// ------------------------------------------------------------------------------------------------
// Checks: each returns the problems it found
// ------------------------------------------------------------------------------------------------

/// No action is `*`, has a wildcard (`ivs:*`, `ivs:Create*`), or is granted through NotAction /
/// NotResource (which grant everything else); no policy is out of reach of these checks.
fn check_no_wildcard_actions(template: &Value) -> Vec<String> {
    let (statements, mut problems) = statements(template);
    if statements.is_empty() {
        problems.push("no IAM policy statement found".into());
    }
    for s in &statements {
        for key in ["NotAction", "NotResource"] {
            if s.body.get(key).is_some() {
                problems.push(format!(
                    "{}: {key} grants everything it does not list",
                    s.place
                ));
            }
        }
        if !s.is_allow() {
            problems.push(format!("{}: Effect must be Allow", s.place));
        }
        let actions = s.actions();
        if actions.is_empty() {
            problems.push(format!("{}: no Action", s.place));
        }
        for action in actions {
            if action == "*" || action.contains('*') || action.contains('?') {
                problems.push(format!("{}: wildcard action {action}", s.place));
            }
        }
    }
    problems
}

/// A statement on Resource "*" may only hold actions that cannot be scoped (`unscopable`).
fn check_star_resources(template: &Value, unscopable: &[&str]) -> Vec<String> {
    let (statements, _) = statements(template);
    let mut problems = Vec::new();
    for s in &statements {
        let resources = s.resources();
        if resources.is_empty() {
            problems.push(format!("{}: no Resource", s.place));
        }
        if resources.iter().any(|r| is_star(r)) {
            for action in s.actions() {
                if !unscopable.contains(&action) {
                    problems.push(format!(
                        "{}: {action} on Resource \"*\"; it can be scoped, give its ARN",
                        s.place
                    ));
                }
            }
        }
    }
    problems
}

/// IVS actions only on recording configurations of the stack's account and region.
fn check_ivs_resources(template: &Value) -> Vec<String> {
    let (statements, _) = statements(template);
    let mut problems = Vec::new();
    for s in statements
        .iter()
        .filter(|s| s.actions().iter().any(|a| service_of(a) == "ivs"))
    {
        if s.actions().iter().any(|a| service_of(a) != "ivs") {
            problems.push(format!(
                "{}: IVS actions share a statement with others",
                s.place
            ));
        }
        for r in s.resources() {
            let ok = arn_text(r).is_some_and(|arn| {
                arn.strip_prefix(IVS_RECORDING_PREFIX)
                    .is_some_and(|rest| !rest.is_empty() && !rest.contains('$'))
            });
            if !ok {
                problems.push(format!(
                    "{}: IVS resource {r} is not within {IVS_RECORDING_PREFIX}*",
                    s.place
                ));
            }
        }
    }
    problems
}

/// IAM actions only on IVS's recording service-linked role; CreateServiceLinkedRole only for
/// the IVS service.
fn check_iam_resources(template: &Value) -> Vec<String> {
    let (statements, _) = statements(template);
    let mut problems = Vec::new();
    for s in statements
        .iter()
        .filter(|s| s.actions().iter().any(|a| service_of(a) == "iam"))
    {
        if s.actions().iter().any(|a| service_of(a) != "iam") {
            problems.push(format!(
                "{}: IAM actions share a statement with others",
                s.place
            ));
        }
        for r in s.resources() {
            if arn_text(r) != Some(IVS_RECORDING_SLR) {
                problems.push(format!(
                    "{}: IAM resource {r} is not IVS's service-linked role {IVS_RECORDING_SLR}",
                    s.place
                ));
            }
        }
        if s.actions().contains(&"iam:CreateServiceLinkedRole")
            && s.body["Condition"]["StringEquals"]["iam:AWSServiceName"] != "ivs.amazonaws.com"
        {
            problems.push(format!(
                "{}: iam:CreateServiceLinkedRole needs the condition StringEquals iam:AWSServiceName: ivs.amazonaws.com",
                s.place
            ));
        }
    }
    problems
}

/// The ARNs that name the destination bucket of the example's recording configuration(s).
fn destination_bucket_arns(template: &Value) -> (Vec<Value>, Vec<String>) {
    let mut arns = Vec::new();
    let mut problems = Vec::new();
    let customs: Vec<_> = resources_of_type(template, CUSTOM_TYPE).collect();
    if customs.is_empty() {
        problems.push(format!(
            "no {CUSTOM_TYPE} resource names a destination bucket"
        ));
    }
    for (id, custom) in customs {
        let bucket = &custom["Properties"]["DestinationConfiguration"]["S3"]["BucketName"];
        let Some(target) = ref_target(bucket) else {
            problems.push(format!(
                "{id}: DestinationConfiguration.S3.BucketName should be a Ref to the bucket or its parameter, got {bucket}"
            ));
            continue;
        };
        if resources(template).get(target).map(|r| &r["Type"]) == Some(&json!("AWS::S3::Bucket")) {
            arns.push(json!({"Fn::GetAtt": [target, "Arn"]}));
        } else if template["Parameters"].get(target).is_none() {
            problems.push(format!(
                "{id}: BucketName refers to {target}, neither a bucket nor a parameter"
            ));
        }
        arns.push(json!({ "Fn::Sub": format!("arn:${{AWS::Partition}}:s3:::${{{target}}}") }));
    }
    (arns, problems)
}

/// S3 actions only on the destination bucket (not its objects, not other buckets).
fn check_s3_resources(template: &Value) -> Vec<String> {
    let (statements, _) = statements(template);
    let (allowed, mut problems) = destination_bucket_arns(template);
    for s in statements
        .iter()
        .filter(|s| s.actions().iter().any(|a| service_of(a) == "s3"))
    {
        if s.actions().iter().any(|a| service_of(a) != "s3") {
            problems.push(format!(
                "{}: S3 actions share a statement with others",
                s.place
            ));
        }
        for r in s.resources() {
            if !allowed.contains(r) {
                problems.push(format!(
                    "{}: S3 resource {r} is not the destination bucket ({})",
                    s.place,
                    allowed
                        .iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join(" or ")
                ));
            }
        }
    }
    problems
}

/// The one function of the template: (logical id, resource).
fn the_function(template: &Value) -> Result<(&String, &Value), String> {
    let functions: Vec<_> = resources_of_type(template, "AWS::Serverless::Function").collect();
    match functions.as_slice() {
        [one] => Ok(*one),
        other => Err(format!(
            "expected one AWS::Serverless::Function, found {}",
            other.len()
        )),
    }
}

/// Logs actions only to write into the function's own log group.
fn check_logs_resources(template: &Value) -> Vec<String> {
    let (statements, _) = statements(template);
    let mut problems = Vec::new();
    let log_group = the_function(template)
        .ok()
        .and_then(|(_, f)| ref_target(&f["Properties"]["LoggingConfig"]["LogGroup"]))
        .map(str::to_string);
    let Some(log_group) = log_group else {
        return vec!["the function's LoggingConfig.LogGroup is not a Ref to a log group".into()];
    };
    let allowed = [
        json!({"Fn::GetAtt": [log_group, "Arn"]}),
        json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:${{{log_group}}}:*")}),
    ];
    for s in statements
        .iter()
        .filter(|s| s.actions().iter().any(|a| service_of(a) == "logs"))
    {
        for action in s.actions() {
            if !["logs:CreateLogStream", "logs:PutLogEvents"].contains(&action) {
                problems.push(format!("{}: {action} is more than writing logs", s.place));
            }
        }
        for r in s.resources() {
            if !allowed.contains(r) {
                problems.push(format!(
                    "{}: logs resource {r} is not the function's log group {log_group}",
                    s.place
                ));
            }
        }
    }
    problems
}

/// The policy grants exactly what the function needs: a missing action breaks it, an extra one
/// is more than least privilege. Statements granting the same action twice are reported too.
fn check_exact_actions(template: &Value) -> Vec<String> {
    let (statements, _) = statements(template);
    let mut problems = Vec::new();
    let mut granted = BTreeSet::new();
    for s in &statements {
        for action in s.actions() {
            if !granted.insert(action.to_string()) {
                problems.push(format!("{}: {action} is granted twice", s.place));
            }
        }
    }
    let required: BTreeSet<String> = REQUIRED_ACTIONS.iter().map(|a| a.to_string()).collect();
    for missing in required.difference(&granted) {
        problems.push(format!(
            "{missing} is needed by the function but not granted"
        ));
    }
    for extra in granted.difference(&required) {
        problems.push(format!(
            "{extra} is granted but the function does not need it"
        ));
    }
    problems
}

/// The function: provided.al2023 on arm64, `bootstrap` built by cargo lambda from the binary
/// `cfn-ivs-recording`, JSON logs into a log group of its own with a retention, an explicit
/// role (SAM's generated one carries AWSLambdaBasicExecutionRole), and a timeout the custom
/// resource waits for.
fn check_function(template: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let (id, function) = match the_function(template) {
        Ok(f) => f,
        Err(e) => return vec![e],
    };
    let props = &function["Properties"];
    let mut expect = |what: &str, actual: &Value, expected: Value| {
        if *actual != expected {
            problems.push(format!("{id}: {what} must be {expected}, got {actual}"));
        }
    };
    expect("Runtime", &props["Runtime"], json!("provided.al2023"));
    expect("Architectures", &props["Architectures"], json!(["arm64"]));
    expect("Handler", &props["Handler"], json!("bootstrap"));
    expect("MemorySize", &props["MemorySize"], json!(128));
    expect(
        "Metadata.BuildMethod",
        &function["Metadata"]["BuildMethod"],
        json!("rust-cargolambda"),
    );
    expect(
        "Metadata.BuildProperties.Binary",
        &function["Metadata"]["BuildProperties"]["Binary"],
        json!(BINARY),
    );
    expect(
        "LoggingConfig.LogFormat",
        &props["LoggingConfig"]["LogFormat"],
        json!("JSON"),
    );

    match ref_target(&props["LoggingConfig"]["LogGroup"]) {
        None => problems.push(format!(
            "{id}: LoggingConfig.LogGroup must be a Ref to an AWS::Logs::LogGroup of the template"
        )),
        Some(lg) => match resources(template).get(lg) {
            Some(r) if r["Type"] == "AWS::Logs::LogGroup" => {
                if r["Properties"]["RetentionInDays"]
                    .as_i64()
                    .is_none_or(|d| d <= 0)
                {
                    problems.push(format!("{lg}: the log group needs RetentionInDays"));
                }
            }
            _ => problems.push(format!(
                "{id}: LoggingConfig.LogGroup {lg} is not an AWS::Logs::LogGroup"
            )),
        },
    }

    if props.get("Policies").is_some() {
        problems.push(format!(
            "{id}: Policies would go to a role SAM generates; put them on the explicit role"
        ));
    }
    match get_att(&props["Role"], "Arn") {
        None => problems.push(format!(
            "{id}: Role must be !GetAtt <role>.Arn of an explicit AWS::IAM::Role (SAM's generated role carries AWSLambdaBasicExecutionRole: logs on \"*\")"
        )),
        Some(role) => match resources(template).get(&role) {
            Some(r) if r["Type"] == "AWS::IAM::Role" => {
                let trust = &r["Properties"]["AssumeRolePolicyDocument"]["Statement"];
                let principals: Vec<&Value> = one_or_many(trust)
                    .into_iter()
                    .flat_map(|s| one_or_many(&s["Principal"]["Service"]))
                    .collect();
                if principals != [&json!("lambda.amazonaws.com")] {
                    problems.push(format!("{role}: only lambda.amazonaws.com may assume the function's role, got {principals:?}"));
                }
            }
            _ => problems.push(format!("{id}: Role {role} is not an AWS::IAM::Role of the template")),
        },
    }

    match props["Timeout"].as_i64() {
        Some(t) if t > SAFETY_MARGIN_SECS + 10 && t <= 900 => {
            for (rid, custom) in resources_of_type(template, CUSTOM_TYPE) {
                let service_timeout = &custom["Properties"]["ServiceTimeout"];
                let st = service_timeout
                    .as_i64()
                    .or_else(|| service_timeout.as_str().and_then(|s| s.parse().ok()));
                if st.is_none_or(|st| st < t) {
                    problems.push(format!(
                        "{rid}: ServiceTimeout ({service_timeout}) must be at least the function's Timeout ({t}), or CloudFormation gives up before the answer"
                    ));
                }
            }
        }
        _ => problems.push(format!(
            "{id}: Timeout must be a number of seconds above the {SAFETY_MARGIN_SECS} s safety margin plus some work time, at most 900, got {}",
            props["Timeout"]
        )),
    }
    problems
}

/// The example: a custom resource served by this function, and outputs of its Ref, Arn and State.
fn check_example(template: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Ok((function_id, _)) = the_function(template) else {
        return vec!["no function".into()];
    };
    let customs: Vec<_> = resources_of_type(template, CUSTOM_TYPE).collect();
    if customs.is_empty() {
        problems.push(format!("no {CUSTOM_TYPE} resource"));
    }
    let outputs: Vec<&Value> = template["Outputs"]
        .as_object()
        .map(|o| o.values().map(|v| &v["Value"]).collect())
        .unwrap_or_default();
    for (id, custom) in customs {
        let props = &custom["Properties"];
        if get_att(&props["ServiceToken"], "Arn").as_ref() != Some(function_id) {
            problems.push(format!(
                "{id}: ServiceToken must be !GetAtt {function_id}.Arn"
            ));
        }
        for key in [
            "Name",
            "RecordingReconnectWindowSeconds",
            "ThumbnailConfiguration",
            "RenditionConfiguration",
            "Tags",
        ] {
            if props.get(key).is_none() {
                problems.push(format!("{id}: the example should show {key}"));
            }
        }
        if !props["Tags"].is_array() {
            problems.push(format!(
                "{id}: the example's Tags should be a list of Key/Value"
            ));
        }
        for expected in [
            json!({"Ref": id}),
            json!({"Fn::GetAtt": [id, "Arn"]}),
            json!({"Fn::GetAtt": [id, "State"]}),
        ] {
            if !outputs.contains(&&expected) {
                problems.push(format!("no output with the value {expected}"));
            }
        }
    }
    problems
}

// ------------------------------------------------------------------------------------------------
// Mutations: a copy of the template broken on purpose
// ------------------------------------------------------------------------------------------------

fn statement_mut<'a>(template: &'a mut Value, sid: &str) -> &'a mut Value {
    let policies = template["Resources"]["FunctionRole"]["Properties"]["Policies"]
        .as_array_mut()
        .expect("FunctionRole has Policies");
    policies
        .iter_mut()
        .flat_map(|p| {
            p["PolicyDocument"]["Statement"]
                .as_array_mut()
                .expect("a policy has statements")
                .iter_mut()
        })
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("no statement {sid}"))
}

fn function_props(template: &mut Value) -> &mut Value {
    &mut template["Resources"]["Function"]["Properties"]
}

/// A copy of the template (or of an event) broken on purpose: what it breaks, and how.
type Mutation<'a> = (&'a str, &'a dyn Fn(&mut Value));

/// Asserts that `check` passes on the real template and reports a problem on each mutation.
fn assert_check(name: &str, check: impl Fn(&Value) -> Vec<String>, mutations: &[Mutation]) {
    let template = load_template();
    let problems = check(&template);
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
            !check(&broken).is_empty(),
            "{name} missed a regression: {what}"
        );
    }
}

fn push_action(template: &mut Value, sid: &str, action: &str) {
    statement_mut(template, sid)["Action"]
        .as_array_mut()
        .expect("Action is a list")
        .push(json!(action));
}

fn set_resource(template: &mut Value, sid: &str, resource: Value) {
    statement_mut(template, sid)["Resource"] = resource;
}

fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}

// ------------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------------

#[test]
fn short_form_tags_are_read_as_intrinsic_functions() {
    let t = parse_template(
        "A: !Ref X\nB: !GetAtt R.Arn\nC: !Sub 'arn:${AWS::Partition}:s3:::${X}'\nD: !Join [',', [a, b]]\nE: !GetAtt [R, State]\n",
    );
    assert_eq!(t["A"], json!({"Ref": "X"}));
    assert_eq!(t["B"], json!({"Fn::GetAtt": ["R", "Arn"]}));
    assert_eq!(
        t["C"],
        json!({"Fn::Sub": "arn:${AWS::Partition}:s3:::${X}"})
    );
    assert_eq!(t["D"], json!({"Fn::Join": [",", ["a", "b"]]}));
    assert_eq!(t["E"], json!({"Fn::GetAtt": ["R", "State"]}));
}

#[test]
fn no_wildcard_actions() {
    assert_check(
        "check_no_wildcard_actions",
        check_no_wildcard_actions,
        &[
            ("ivs:*", &|t| {
                push_action(t, "IvsRecordingConfigurations", "ivs:*")
            }),
            ("*", &|t| push_action(t, "DestinationBucket", "*")),
            ("ivs:Create*", &|t| {
                push_action(t, "IvsRecordingConfigurations", "ivs:Create*")
            }),
            ("s3:Get?ucketLocation", &|t| {
                push_action(t, "DestinationBucket", "s3:Get?ucketLocation")
            }),
            ("NotAction", &|t| {
                let s = statement_mut(t, "OwnLogGroup");
                s["NotAction"] = s["Action"].take();
                s.as_object_mut().unwrap().remove("Action");
            }),
            ("managed policy on the role", &|t| {
                t["Resources"]["FunctionRole"]["Properties"]["ManagedPolicyArns"] =
                    json!(["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]);
            }),
            ("SAM policy template on the function", &|t| {
                function_props(t)["Policies"] = json!([{"S3CrudPolicy": {"BucketName": "x"}}]);
            }),
            ("a separate AWS::IAM::Policy with ivs:*", &|t| {
                t["Resources"]["Extra"] = json!({
                    "Type": "AWS::IAM::Policy",
                    "Properties": {
                        "PolicyName": "extra",
                        "Roles": [{"Ref": "FunctionRole"}],
                        "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                            {"Effect": "Allow", "Action": "ivs:*", "Resource": sub(&format!("{IVS_RECORDING_PREFIX}*"))}
                        ]}
                    }
                });
            }),
        ],
    );
}

#[test]
fn no_star_resource_except_unscopable_actions() {
    let check = |t: &Value| check_star_resources(t, UNSCOPABLE_ACTIONS);
    assert_check(
        "check_star_resources",
        check,
        &[
            ("IVS statement on *", &|t| {
                set_resource(t, "IvsRecordingConfigurations", json!("*"))
            }),
            ("List on *", &|t| {
                set_resource(t, "IvsFindByMarkerTag", json!("*"))
            }),
            ("logs on * (as in AWSLambdaBasicExecutionRole)", &|t| {
                set_resource(t, "OwnLogGroup", json!(["*"]))
            }),
            ("S3 on the bucket and *", &|t| {
                set_resource(
                    t,
                    "DestinationBucket",
                    json!([{"Fn::GetAtt": ["DestinationBucket", "Arn"]}, "*"]),
                )
            }),
            ("statement without Resource", &|t| {
                statement_mut(t, "DestinationBucket")
                    .as_object_mut()
                    .unwrap()
                    .remove("Resource");
            }),
        ],
    );
    // An allow-listed action may stand on "*" in a statement of its own, and only there.
    let mut t = load_template();
    set_resource(&mut t, "IvsFindByMarkerTag", json!("*"));
    assert!(check_star_resources(&t, &["ivs:ListRecordingConfigurations"]).is_empty());
    push_action(
        &mut t,
        "IvsFindByMarkerTag",
        "ivs:GetRecordingConfiguration",
    );
    assert!(!check_star_resources(&t, &["ivs:ListRecordingConfigurations"]).is_empty());
}

#[test]
fn ivs_only_on_recording_configurations_of_the_account_and_region() {
    assert_check(
        "check_ivs_resources",
        check_ivs_resources,
        &[
            ("every IVS resource", &|t| {
                set_resource(
                    t,
                    "IvsRecordingConfigurations",
                    sub("arn:${AWS::Partition}:ivs:${AWS::Region}:${AWS::AccountId}:*"),
                )
            }),
            ("every region", &|t| {
                set_resource(
                    t,
                    "IvsRecordingConfigurations",
                    sub("arn:${AWS::Partition}:ivs:*:${AWS::AccountId}:recording-configuration/*"),
                )
            }),
            ("channels", &|t| {
                set_resource(
                    t,
                    "IvsFindByMarkerTag",
                    sub("arn:${AWS::Partition}:ivs:${AWS::Region}:${AWS::AccountId}:channel/*"),
                )
            }),
            ("*", &|t| set_resource(t, "IvsFindByMarkerTag", json!("*"))),
            ("a second, wider resource", &|t| {
                set_resource(
                    t,
                    "IvsRecordingConfigurations",
                    json!([
                        sub(&format!("{IVS_RECORDING_PREFIX}*")),
                        sub("arn:${AWS::Partition}:ivs:${AWS::Region}:${AWS::AccountId}:*"),
                    ]),
                )
            }),
            ("an IVS action in the S3 statement", &|t| {
                push_action(t, "DestinationBucket", "ivs:GetRecordingConfiguration")
            }),
        ],
    );
}

#[test]
fn iam_only_on_the_ivs_recording_service_linked_role() {
    assert_check(
        "check_iam_resources",
        check_iam_resources,
        &[
            ("every role", &|t| {
                set_resource(
                    t,
                    "IvsRecordingServiceLinkedRolePolicies",
                    sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*"),
                )
            }),
            ("every service-linked role", &|t| {
                set_resource(
                    t,
                    "IvsRecordingServiceLinkedRole",
                    sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/*"),
                )
            }),
            ("no service condition", &|t| {
                statement_mut(t, "IvsRecordingServiceLinkedRole")
                    .as_object_mut()
                    .unwrap()
                    .remove("Condition");
            }),
            ("another service", &|t| {
                statement_mut(t, "IvsRecordingServiceLinkedRole")["Condition"]["StringEquals"]
                    ["iam:AWSServiceName"] = json!("ecs.amazonaws.com");
            }),
            ("iam:PassRole in the logs statement", &|t| {
                push_action(t, "OwnLogGroup", "iam:PassRole")
            }),
        ],
    );
}

#[test]
fn s3_only_on_the_destination_bucket() {
    assert_check(
        "check_s3_resources",
        check_s3_resources,
        &[
            ("every bucket", &|t| {
                set_resource(t, "DestinationBucket", sub("arn:${AWS::Partition}:s3:::*"))
            }),
            ("the bucket's objects", &|t| {
                set_resource(
                    t,
                    "DestinationBucket",
                    sub("arn:${AWS::Partition}:s3:::${DestinationBucket}/*"),
                )
            }),
            ("another bucket", &|t| {
                set_resource(
                    t,
                    "DestinationBucket",
                    json!("arn:aws:s3:::someone-elses-bucket"),
                )
            }),
            ("s3 action in the IVS statement", &|t| {
                push_action(t, "IvsRecordingConfigurations", "s3:ListBucket")
            }),
        ],
    );
}

#[test]
fn logs_only_into_the_functions_own_log_group() {
    assert_check(
        "check_logs_resources",
        check_logs_resources,
        &[
            ("every log group", &|t| {
                set_resource(t, "OwnLogGroup", json!("*"))
            }),
            ("another log group", &|t| {
                set_resource(t, "OwnLogGroup", sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/*"))
            }),
            ("creating log groups", &|t| {
                push_action(t, "OwnLogGroup", "logs:CreateLogGroup")
            }),
            ("reading logs", &|t| {
                push_action(t, "OwnLogGroup", "logs:GetLogEvents")
            }),
        ],
    );
}

#[test]
fn policy_grants_exactly_what_the_function_needs() {
    assert_check(
        "check_exact_actions",
        check_exact_actions,
        &[
            ("an extra IVS action", &|t| {
                push_action(t, "IvsRecordingConfigurations", "ivs:CreateChannel")
            }),
            ("ListRecordingConfigurations dropped", &|t| {
                statement_mut(t, "IvsFindByMarkerTag")["Action"] = json!([]);
            }),
            ("iam:PassRole", &|t| {
                push_action(t, "IvsRecordingServiceLinkedRolePolicies", "iam:PassRole")
            }),
            ("s3:GetObject", &|t| {
                push_action(t, "DestinationBucket", "s3:GetObject")
            }),
            ("an action granted twice", &|t| {
                push_action(t, "IvsFindByMarkerTag", "ivs:GetRecordingConfiguration")
            }),
        ],
    );
}

#[test]
fn function_settings() {
    assert_check(
        "check_function",
        check_function,
        &[
            ("runtime provided.al2", &|t| {
                function_props(t)["Runtime"] = json!("provided.al2")
            }),
            ("x86_64", &|t| {
                function_props(t)["Architectures"] = json!(["x86_64"])
            }),
            ("no architecture (x86_64 by default)", &|t| {
                function_props(t)
                    .as_object_mut()
                    .unwrap()
                    .remove("Architectures");
            }),
            ("handler main", &|t| {
                function_props(t)["Handler"] = json!("main")
            }),
            ("memory 1024", &|t| {
                function_props(t)["MemorySize"] = json!(1024)
            }),
            ("build method makefile", &|t| {
                t["Resources"]["Function"]["Metadata"]["BuildMethod"] = json!("makefile")
            }),
            ("binary cfn-ivs-local", &|t| {
                t["Resources"]["Function"]["Metadata"]["BuildProperties"]["Binary"] =
                    json!("cfn-ivs-local")
            }),
            ("text logs", &|t| {
                function_props(t)["LoggingConfig"]["LogFormat"] = json!("Text")
            }),
            ("default log group", &|t| {
                function_props(t)["LoggingConfig"]
                    .as_object_mut()
                    .unwrap()
                    .remove("LogGroup");
            }),
            ("logs kept forever", &|t| {
                t["Resources"]["LogGroup"]["Properties"]
                    .as_object_mut()
                    .unwrap()
                    .remove("RetentionInDays");
            }),
            ("SAM-generated role", &|t| {
                function_props(t).as_object_mut().unwrap().remove("Role");
            }),
            ("policies on the function", &|t| {
                function_props(t)["Policies"] = json!(["AWSLambdaBasicExecutionRole"]);
            }),
            ("role assumable by EC2 too", &|t| {
                t["Resources"]["FunctionRole"]["Properties"]["AssumeRolePolicyDocument"]
                    ["Statement"][0]["Principal"]["Service"] =
                    json!(["lambda.amazonaws.com", "ec2.amazonaws.com"]);
            }),
            ("timeout within the safety margin", &|t| {
                function_props(t)["Timeout"] = json!(5)
            }),
            ("no timeout (3 s default)", &|t| {
                function_props(t).as_object_mut().unwrap().remove("Timeout");
            }),
            ("ServiceTimeout shorter than the function's", &|t| {
                t["Resources"]["Recording"]["Properties"]["ServiceTimeout"] = json!(60)
            }),
            ("a second function", &|t| {
                t["Resources"]["Other"] = t["Resources"]["Function"].clone();
            }),
        ],
    );
}

#[test]
fn example_of_use() {
    assert_check(
        "check_example",
        check_example,
        &[
            ("ServiceToken of another function", &|t| {
                t["Resources"]["Recording"]["Properties"]["ServiceToken"] =
                    json!("arn:aws:lambda:us-east-1:123456789012:function:other")
            }),
            ("Tags as a map", &|t| {
                t["Resources"]["Recording"]["Properties"]["Tags"] = json!({"team": "video"})
            }),
            ("no State output", &|t| {
                t["Outputs"]
                    .as_object_mut()
                    .unwrap()
                    .remove("RecordingState");
            }),
            ("no RenditionConfiguration", &|t| {
                t["Resources"]["Recording"]["Properties"]
                    .as_object_mut()
                    .unwrap()
                    .remove("RenditionConfiguration");
            }),
        ],
    );
}

// ------------------------------------------------------------------------------------------------
// Sample events
// ------------------------------------------------------------------------------------------------

fn event_files() -> Vec<PathBuf> {
    let dir = root().join("events");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
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
    let readme =
        std::fs::read_to_string(root().join("events/README.md")).expect("events/README.md");
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
