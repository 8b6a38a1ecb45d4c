//! The emulator's copy of the official IVS model is the judge of `properties`, both ways:
//! whatever the validator accepts becomes a CreateRecordingConfiguration request the model
//! accepts, and whatever value the model refuses for a constrained member, the validator refuses
//! for the corresponding property, naming it. The validator may be stricter than the model (it
//! keeps a tag slot for the marker, anchors patterns, forbids `aws:` keys); it may never be
//! more lenient, or a stack would only learn of a bad property from IVS, after the fact.

use crate::properties_proptest::{enum_typo, set_pointer, valid_model, NumberStyle, ValidModel};
use bytes::Bytes;
use cfn_ivs_recording::event::{Identity, MAX_LOGICAL_ID};
use cfn_ivs_recording::ivs::{IvsApi, SdkIvs};
use cfn_ivs_recording::ownership::{Marker, Owner, MARKER_TAG};
use cfn_ivs_recording::properties::{
    self, RECORDING_MODES, RENDITIONS, RENDITION_SELECTIONS, RESOLUTIONS, STORAGES,
};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use ivs_emulator::{EmulatorOptions, IvsEmulator, Operation};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestError, TestRunner};
use serde_json::{json, Map, Number, Value};
use std::cell::Cell;
use std::time::Instant;
use tokio::runtime::Runtime;

/// Each case is a real SDK call through the emulator; 64 keep the test within a few seconds.
const VALID_CASES: u32 = 64;
/// Each case is one HTTP request; 48 per constrained member, about 500 in all.
const PROBE_CASES: u32 = 48;

fn config(cases: u32) -> Config {
    Config {
        cases,
        // Every shrink step is a request to the emulator: enough to find a small case, no more.
        max_shrink_iters: 256,
        // The runner is driven by hand, not by `proptest!`, so it knows no source file to keep
        // regressions beside; a failure prints its minimal case instead.
        failure_persistence: None,
        ..Config::default()
    }
}

/// One current-thread runtime for the whole test: the emulator's server task runs whenever a
/// case is blocked on, so a single emulator serves every case.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Quotas off: hundreds of creates a second are the test's pace, not a real account's, and a
/// throttle would hide the model's answer.
fn start_emulator(rt: &Runtime) -> IvsEmulator {
    rt.block_on(IvsEmulator::start(EmulatorOptions {
        quotas: None,
        ..Default::default()
    }))
    .expect("the emulator starts")
}

/// The CreateRecordingConfiguration body that `SdkIvs::create` sends for a valid property set:
/// its fields under their wire names, with the marker tag beside the user's tags. Test 1 checks
/// it against what the SDK really sends, so test 2 can vary one member of it and know the rest
/// of the request is exactly the function's.
fn request_body(model: &ValidModel, marker: &str) -> Value {
    let mut body = Map::new();
    body.insert(
        "destinationConfiguration".into(),
        json!({"s3": {"bucketName": model.bucket}}),
    );
    if let Some(name) = &model.name {
        body.insert("name".into(), json!(name));
    }
    if let Some(window) = model.window {
        body.insert("recordingReconnectWindowSeconds".into(), json!(window));
    }
    if let Some((mode, interval, resolution, storage)) = &model.thumbnail {
        let mut t = Map::new();
        if let Some(m) = mode {
            t.insert("recordingMode".into(), json!(RECORDING_MODES[*m]));
        }
        if let Some(seconds) = interval {
            t.insert("targetIntervalSeconds".into(), json!(seconds));
        }
        if let Some(r) = resolution {
            t.insert("resolution".into(), json!(RESOLUTIONS[*r]));
        }
        if let Some(s) = storage {
            let s: Vec<_> = s.iter().map(|i| STORAGES[*i]).collect();
            t.insert("storage".into(), json!(s));
        }
        body.insert("thumbnailConfiguration".into(), Value::Object(t));
    }
    if let Some((selection, renditions)) = &model.rendition {
        let mut r = Map::new();
        if let Some(s) = selection {
            r.insert("renditionSelection".into(), json!(RENDITION_SELECTIONS[*s]));
        }
        if let Some(list) = renditions {
            let list: Vec<_> = list.iter().map(|i| RENDITIONS[*i]).collect();
            r.insert("renditions".into(), json!(list));
        }
        body.insert("renditionConfiguration".into(), Value::Object(r));
    }
    let mut tags = model.tags.clone();
    tags.insert(MARKER_TAG.into(), marker.into());
    body.insert("tags".into(), json!(tags));
    Value::Object(body)
}

fn case_error(message: String) -> TestCaseError {
    TestCaseError::fail(message)
}

/// Fails the test with the runner's minimal failing case, shown by `show`.
fn check_run<V>(
    what: &str,
    result: Result<(), TestError<V>>,
    show: impl Fn(&V) -> String,
) -> Result<(), String> {
    match result {
        Ok(()) => Ok(()),
        Err(TestError::Fail(reason, case)) => {
            Err(format!("{what}: {reason}\n  minimal case: {}", show(&case)))
        }
        Err(TestError::Abort(reason)) => Err(format!("{what}: aborted: {reason}")),
    }
}

// ---------------------------------------------------------------------------------------------
// 1. What `properties` accepts, the model accepts
// ---------------------------------------------------------------------------------------------

#[test]
fn every_accepted_property_set_is_created_without_a_validation_error() {
    let started = Instant::now();
    let rt = runtime();
    let emulator = start_emulator(&rt);
    let sdk = ivs_emulator::sdk_config_for(&emulator.endpoint_url(), "us-east-1");
    let ivs = SdkIvs::new(&sdk);
    let case_number = Cell::new(0u32);

    let mut runner = TestRunner::new(config(VALID_CASES));
    let strategy = (valid_model(), any::<bool>());
    let result = runner.run(&strategy, |(model, as_strings)| {
        case_number.set(case_number.get() + 1);
        let style = if as_strings {
            NumberStyle::String
        } else {
            NumberStyle::Number
        };
        let input = model.to_json(style);
        // The generator's sets are valid by construction; a refusal here is `properties`
        // breaking, which the test must not mistake for the model agreeing.
        let spec = properties::parse(&input)
            .map_err(|e| case_error(format!("a valid property set was refused: {e}")))?;
        let marker = Marker::now(&format!("model-proves-validator-{}", case_number.get()));
        let before = emulator.requests().len();
        // The property under test: the model validates every request, so a spec it disagrees
        // with comes back as ValidationException here.
        let created = rt.block_on(ivs.create(&spec, &marker)).map_err(|e| {
            case_error(format!(
                "IVS refused what `properties` accepted: {e}\n  properties: {input}"
            ))
        })?;
        let requests = emulator.requests();
        // Exactly one attempt: a retried create would mean the first answer was not a 200.
        prop_assert_eq!(requests.len(), before + 1, "one request per create");
        let request = &requests[before];
        prop_assert_eq!(
            request.operation,
            Some(Operation::CreateRecordingConfiguration)
        );
        prop_assert_eq!(request.status, 200);
        // The SDK's body is the one test 2 builds by hand: this ties test 2's probes to what
        // the function really sends.
        let expected = request_body(&model, &marker.to_tag_value());
        prop_assert_eq!(&request.body, &expected);
        // Answered 200 is not enough: the configuration must exist, as asked.
        let stored = emulator
            .configurations()
            .into_iter()
            .find(|c| c.arn == created.arn)
            .ok_or_else(|| case_error(format!("{} was answered but not stored", created.arn)))?;
        prop_assert_eq!(&stored.bucket_name, &model.bucket);
        prop_assert_eq!(&stored.name, &model.name.clone().unwrap_or_default());
        let mut tags = model.tags.clone();
        tags.insert(MARKER_TAG.into(), marker.to_tag_value());
        prop_assert_eq!(&stored.tags, &tags);
        Ok(())
    });
    if let Err(failure) = check_run("valid property sets", result, |(model, as_strings)| {
        format!(
            "{} (numbers as strings: {as_strings})",
            model.to_json(NumberStyle::Number)
        )
    }) {
        panic!("{failure}");
    }
    // The runner ran every case: a strategy that rejected its way out would prove nothing.
    assert_eq!(case_number.get(), VALID_CASES);
    eprintln!(
        "model_proves_validator: {VALID_CASES} valid sets created in {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// 2. What the model refuses, `properties` refuses
// ---------------------------------------------------------------------------------------------

/// A constrained member of CreateRecordingConfiguration's input and the property it comes from.
struct Constrained {
    /// What the model constrains, for the report.
    what: &'static str,
    /// The member in the request body, as a JSON pointer.
    member: &'static str,
    /// The property in ResourceProperties, as a JSON pointer.
    property: &'static str,
    /// Pairs of (the member's value in the request, the property's value that would produce
    /// it). Mostly values the model refuses, a few it accepts, so the model decides which.
    values: BoxedStrategy<(Value, Value)>,
}

/// A pointer as the model's and the validator's messages spell the path.
fn dotted(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

/// The same value on both sides: a string, list or object means the same in the request and
/// in the template.
fn same(values: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<(Value, Value)> {
    values.prop_map(|v| (v.clone(), v)).boxed()
}

fn text(
    chars: impl Strategy<Value = char> + 'static,
    len: std::ops::RangeInclusive<usize>,
) -> BoxedStrategy<String> {
    prop::collection::vec(chars, len)
        .prop_map(|c| c.into_iter().collect())
        .boxed()
}

/// JSON that is no string at all.
fn not_a_string() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        Just(json!(true)),
        Just(json!(["x"])),
        Just(json!({"x": "y"})),
    ]
}

/// Characters the bucket pattern `[a-z0-9-.]+` admits, and characters it does not.
const BUCKET_CHARS: &[char] = &['a', 'q', 'z', '0', '9', '-', '.'];
const NOT_BUCKET_CHARS: &[char] = &['A', 'Z', '_', ' ', 'é', '/', ':', '\u{0}', '😀'];

fn bucket_values() -> BoxedStrategy<(Value, Value)> {
    let any_char = prop_oneof![select(BUCKET_CHARS), select(NOT_BUCKET_CHARS)];
    same(prop_oneof![
        // Too short, too long (multi-byte characters count once each, as in Smithy).
        text(any_char.clone(), 0..=2).prop_map(Value::from),
        text(any_char.clone(), 64..=90).prop_map(Value::from),
        // Of the right length but without a single character the (unanchored) pattern finds.
        text(select(NOT_BUCKET_CHARS), 3..=63).prop_map(Value::from),
        // Anything in between; the model accepts most of these, `properties` need not.
        text(any_char, 0..=70).prop_map(Value::from),
        not_a_string(),
        // The required member given as null is missing, in the model and in the template.
        Just(Value::Null),
    ])
}

fn name_values() -> BoxedStrategy<(Value, Value)> {
    let name_char = prop_oneof![
        prop::char::range('a', 'z'),
        prop::char::range('A', 'Z'),
        select(&['0', '9', '-', '_', ' ', '.', 'é', '😀', '/', '\u{0}'][..]),
    ];
    same(prop_oneof![
        text(name_char.clone(), 129..=200).prop_map(Value::from),
        text(name_char, 0..=140).prop_map(Value::from),
        not_a_string(),
    ])
}

/// JSON that the model refuses for an integer member bounded by `min..=max`, or accepts, and
/// the property written as a JSON number or, as CloudFormation writes it, a string. Strings and
/// null are not probed on the model's side: the template's strings are converted to numbers by
/// design, and null means absent in both.
fn number_values(min: i64, max: i64) -> BoxedStrategy<(Value, Value)> {
    let number = prop_oneof![
        // Around both bounds.
        (min - 20..=max + 20).prop_map(Value::from),
        (i64::MIN..min).prop_map(Value::from),
        (max + 1..=i64::MAX).prop_map(Value::from),
        // Just beyond a 32-bit integer, the model's type for some of these members.
        Just(json!(i64::from(i32::MAX) + 1)),
        Just(json!(i64::from(i32::MIN) - 1)),
        // Beyond a 64-bit integer.
        (i64::MAX as u64 + 1..=u64::MAX).prop_map(Value::from),
        // A whole number written as a float (30.0) is no integer to the model, nor should it
        // be to `properties`.
        (min..=max).prop_map(|n| json!(n as f64)),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
    ];
    prop_oneof![
        4 => (number, any::<bool>()).prop_map(|(n, as_string)| {
            let property = if as_string { json!(n.to_string()) } else { n.clone() };
            (n, property)
        }),
        1 => same(prop_oneof![Just(json!(true)), Just(json!([30])), Just(json!({"n": 30}))]),
    ]
    .boxed()
}

fn enum_values(allowed: &'static [&'static str]) -> BoxedStrategy<(Value, Value)> {
    same(prop_oneof![
        4 => enum_typo(allowed),
        1 => select(allowed).prop_map(Value::from),
    ])
}

/// A list of enum values: one wrong entry among valid ones, the right entry not in a list, or
/// valid lists (duplicates and all, which the model allows and `properties` may refuse).
fn enum_list_values(allowed: &'static [&'static str]) -> BoxedStrategy<(Value, Value)> {
    let valid = prop::collection::vec(select(allowed).prop_map(Value::from), 0..4);
    let wrong = prop_oneof![4 => enum_typo(allowed), 1 => Just(Value::Null)];
    same(prop_oneof![
        3 => (valid.clone(), any::<prop::sample::Index>(), wrong).prop_map(|(mut list, at, bad)| {
            list.insert(at.index(list.len() + 1), bad);
            Value::Array(list)
        }),
        1 => select(allowed).prop_map(Value::from),
        1 => not_a_string().prop_filter("a list", |v| !v.is_array()),
        1 => valid.prop_map(Value::Array),
    ])
}

/// Tags as the template may write them: the native list of `{Key, Value}` or a map.
fn template_tags(tags: &Map<String, Value>, as_list: bool) -> Value {
    if as_list {
        Value::Array(
            tags.iter()
                .map(|(k, v)| json!({"Key": k, "Value": v}))
                .collect(),
        )
    } else {
        Value::Object(tags.clone())
    }
}

/// User tags on the template's side; the same plus the marker in the request, as
/// `SdkIvs::create` sends them.
fn tag_values(
    tags: impl Strategy<Value = Map<String, Value>> + 'static,
) -> BoxedStrategy<(Value, Value)> {
    (tags, any::<bool>())
        .prop_map(|(tags, as_list)| {
            let mut sent = tags.clone();
            sent.insert(MARKER_TAG.into(), json!(marker_value()));
            (Value::Object(sent), template_tags(&tags, as_list))
        })
        .boxed()
}

/// The longest marker CloudFormation's values make: a UUID RequestId and the longest owner.
fn marker_value() -> String {
    let identity = Identity {
        stack_id: crate::util::STACK_ID.into(),
        request_id: "7d3e9a10-0000-11ef-9f0a-0a1b2c3d4e5f".into(),
        logical_resource_id: "R".repeat(MAX_LOGICAL_ID),
    };
    let marker = Marker {
        request_id: identity.request_id.clone(),
        created_ms: 1_700_000_000_000,
        owner: None,
        kept: true,
    }
    .owned_by(Owner::of(&identity));
    assert!(marker.owner.is_some());
    marker.to_tag_value()
}

/// Characters of AWS's tag pattern `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
const TAG_CHARS: &[char] = &[
    'a', 'Z', '0', ' ', '_', '.', ':', '/', '=', '+', '-', '@', 'é', 'Ж', '中', '٣', 'Ⅻ', '²',
    '\u{a0}', '\u{2028}', '\u{3000}',
];
/// Characters outside it: ASCII punctuation and controls, symbols, emoji, format characters.
const NOT_TAG_CHARS: &[char] = &[
    ';', '#', '*', '"', '<', '!', '?', ',', '~', '\t', '\n', '\u{0}', '😀', '©', '€', '\u{200b}',
];
/// Outside it as well, but alphabetic to Unicode (`char::is_alphabetic`, Other_Alphabetic)
/// without being letters (`\p{L}`): combining marks and circled or squared letters. They are
/// where a check built on `char::is_alphanumeric` and the model's pattern part.
const ALPHABETIC_NOT_LETTERS: &[char] =
    &['\u{345}', '\u{5b0}', '\u{903}', '\u{a51}', 'Ⓐ', 'ⓩ', '🄰'];

fn tag_key_values() -> BoxedStrategy<(Value, Value)> {
    let any_char = prop_oneof![
        select(TAG_CHARS),
        select(NOT_TAG_CHARS),
        select(ALPHABETIC_NOT_LETTERS)
    ];
    let key = prop_oneof![
        Just(String::new()),
        text(select(TAG_CHARS), 129..=160),
        // Only characters the (unanchored) pattern cannot find.
        text(select(NOT_TAG_CHARS), 1..=6),
        text(select(ALPHABETIC_NOT_LETTERS), 1..=3),
        text(any_char, 1..=130),
        any::<String>(),
    ];
    tag_values(key.prop_map(|k| Map::from_iter([(k, json!("v"))])))
}

fn tag_value_values() -> BoxedStrategy<(Value, Value)> {
    let any_char = prop_oneof![
        select(TAG_CHARS),
        select(NOT_TAG_CHARS),
        select(ALPHABETIC_NOT_LETTERS)
    ];
    // Numbers and booleans are left out: the template's are turned into text by design.
    let value = prop_oneof![
        text(any_char.clone(), 257..=300).prop_map(Value::from),
        text(any_char, 0..=260).prop_map(Value::from),
        Just(Value::Null),
        Just(json!(["v"])),
        Just(json!({"v": "w"})),
    ];
    tag_values(value.prop_map(|v| Map::from_iter([("k".to_string(), v)])))
}

fn tag_count_values() -> BoxedStrategy<(Value, Value)> {
    // Around the model's 50, which the marker takes one of.
    tag_values((40usize..=60).prop_map(|n| {
        (0..n)
            .map(|i| (format!("k{i}"), json!(format!("v{i}"))))
            .collect()
    }))
}

/// Every constrained member of CreateRecordingConfigurationRequest in the model.
fn constrained_members() -> Vec<Constrained> {
    let c = |what, member, property, values| Constrained {
        what,
        member,
        property,
        values,
    };
    vec![
        c(
            "S3DestinationBucketName: length 3-63, pattern [a-z0-9-.]+, required",
            "/destinationConfiguration/s3/bucketName",
            "/DestinationConfiguration/S3/BucketName",
            bucket_values(),
        ),
        c(
            "RecordingConfigurationName: length 0-128, pattern [a-zA-Z0-9-_]*",
            "/name",
            "/Name",
            name_values(),
        ),
        c(
            "RecordingReconnectWindowSeconds: integer 0-300",
            "/recordingReconnectWindowSeconds",
            "/RecordingReconnectWindowSeconds",
            number_values(0, 300),
        ),
        c(
            "TargetIntervalSeconds: long 1-60",
            "/thumbnailConfiguration/targetIntervalSeconds",
            "/ThumbnailConfiguration/TargetIntervalSeconds",
            number_values(1, 60),
        ),
        c(
            "RecordingMode: enum",
            "/thumbnailConfiguration/recordingMode",
            "/ThumbnailConfiguration/RecordingMode",
            enum_values(RECORDING_MODES),
        ),
        c(
            "ThumbnailConfigurationResolution: enum",
            "/thumbnailConfiguration/resolution",
            "/ThumbnailConfiguration/Resolution",
            enum_values(RESOLUTIONS),
        ),
        c(
            "ThumbnailConfigurationStorageList: list of enum",
            "/thumbnailConfiguration/storage",
            "/ThumbnailConfiguration/Storage",
            enum_list_values(STORAGES),
        ),
        c(
            "RenditionConfigurationRenditionSelection: enum",
            "/renditionConfiguration/renditionSelection",
            "/RenditionConfiguration/RenditionSelection",
            enum_values(RENDITION_SELECTIONS),
        ),
        c(
            "RenditionConfigurationRenditionList: list of enum",
            "/renditionConfiguration/renditions",
            "/RenditionConfiguration/Renditions",
            enum_list_values(RENDITIONS),
        ),
        c(
            "Tags: at most 50 (the marker included)",
            "/tags",
            "/Tags",
            tag_count_values(),
        ),
        c(
            "TagKey: length 1-128, pattern [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+",
            "/tags",
            "/Tags",
            tag_key_values(),
        ),
        c(
            "TagValue: length 0-256, string",
            "/tags",
            "/Tags",
            tag_value_values(),
        ),
    ]
}

/// The model's verdict on a request body, from the emulator itself over HTTP.
enum Verdict {
    Accepted,
    Refused(String),
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

async fn model_verdict(
    client: &HttpClient,
    endpoint: &str,
    body: &Value,
) -> Result<Verdict, TestCaseError> {
    let request = hyper::Request::post(format!("{endpoint}/CreateRecordingConfiguration"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid request");
    let response = client
        .request(request)
        .await
        .map_err(|e| case_error(format!("the emulator did not answer: {e}")))?;
    let status = response.status().as_u16();
    let code = response
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let answer = response
        .into_body()
        .collect()
        .await
        .map_err(|e| case_error(format!("the emulator's answer broke off: {e}")))?
        .to_bytes();
    let answer: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
    match (status, code.as_deref()) {
        (200, None) => Ok(Verdict::Accepted),
        (400, Some("ValidationException")) => Ok(Verdict::Refused(
            answer["exceptionMessage"].as_str().unwrap_or("").to_owned(),
        )),
        _ => Err(case_error(format!(
            "the emulator answered {status} {code:?} {answer}: neither acceptance nor refusal"
        ))),
    }
}

#[test]
fn every_value_the_model_refuses_is_refused_by_properties_naming_the_property() {
    let started = Instant::now();
    let rt = runtime();
    let emulator = start_emulator(&rt);
    let endpoint = emulator.endpoint_url();
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let marker = marker_value();
    let mut failures = Vec::new();
    let mut summary = Vec::new();

    for constrained in constrained_members() {
        let member_path = dotted(constrained.member);
        let property_path = dotted(constrained.property);
        let (refused, accepted) = (Cell::new(0u32), Cell::new(0u32));
        let strategy = (valid_model(), any::<bool>(), constrained.values.clone());
        let mut runner = TestRunner::new(config(PROBE_CASES));
        let result = runner.run(&strategy, |(base, as_strings, (sent, written))| {
            // A valid set (test 1 shows the model accepts its request) with one member changed
            // on both sides, so any refusal is about that member.
            let mut body = request_body(&base, &marker);
            set_pointer(&mut body, constrained.member, sent.clone());
            let style = if as_strings {
                NumberStyle::String
            } else {
                NumberStyle::Number
            };
            let mut input = base.to_json(style);
            set_pointer(&mut input, constrained.property, written.clone());
            let message = match rt.block_on(model_verdict(&client, &endpoint, &body))? {
                Verdict::Accepted => {
                    accepted.set(accepted.get() + 1);
                    // The validator may be stricter than the model: nothing to check.
                    return Ok(());
                }
                Verdict::Refused(message) => message,
            };
            refused.set(refused.get() + 1);
            // The refusal must be the model's, about this member: a refusal of the unchanged
            // rest would mean the base is wrong and the probe proves nothing.
            prop_assert!(
                message.contains("validation error")
                    && message.contains(&format!("at '{member_path}")),
                "the model refused something other than {member_path}: {message}"
            );
            match properties::parse(&input) {
                Ok(spec) => Err(case_error(format!(
                    "the model refuses {member_path} = {sent} ({message}), but `properties` \
                     accepts {property_path} = {written} as {spec:?}"
                ))),
                Err(error) => {
                    let error = error.to_string();
                    prop_assert!(
                        error
                            .strip_prefix(&property_path)
                            .is_some_and(|rest| rest.starts_with([' ', '.', '['])),
                        "`properties` refused {property_path} = {written} without naming it: \
                         {error}"
                    );
                    Ok(())
                }
            }
        });
        let outcome = check_run(constrained.what, result, |(_, _, (sent, written))| {
            format!("request {sent}, template {written}")
        });
        if let Err(failure) = outcome {
            failures.push(failure);
        } else if refused.get() < PROBE_CASES / 4 {
            // The generators aim at refusals: a member the model seldom refused was hardly
            // tested, and one it never refused not at all.
            failures.push(format!(
                "{}: the model refused only {} of {} probes; the generator misses the constraint",
                constrained.what,
                refused.get(),
                refused.get() + accepted.get()
            ));
        }
        summary.push(format!(
            "{}: {} refused, {} accepted",
            constrained.what,
            refused.get(),
            accepted.get()
        ));
    }
    eprintln!(
        "model_proves_validator: probes in {:?}\n  {}",
        started.elapsed(),
        summary.join("\n  ")
    );
    assert!(
        failures.is_empty(),
        "the model refuses what `properties` accepts:\n{}",
        failures.join("\n")
    );
}

/// The bridge between the two tests, spelled out: the body test 2 builds for the smallest valid
/// set is the model-valid request, and one refused member makes it a ValidationException.
#[test]
fn the_probe_body_is_judged_by_the_emulator() {
    let rt = runtime();
    let emulator = start_emulator(&rt);
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let endpoint = emulator.endpoint_url();
    let body = json!({
        "destinationConfiguration": {"s3": {"bucketName": "my-bucket"}},
        "tags": {MARKER_TAG: marker_value()},
    });
    let verdict = rt.block_on(model_verdict(&client, &endpoint, &body));
    assert!(matches!(verdict, Ok(Verdict::Accepted)));
    let mut refused = body.clone();
    set_pointer(&mut refused, "/recordingReconnectWindowSeconds", json!(301));
    match rt.block_on(model_verdict(&client, &endpoint, &refused)) {
        Ok(Verdict::Refused(message)) => assert!(
            message.contains("at 'recordingReconnectWindowSeconds'"),
            "{message}"
        ),
        _ => panic!("301 seconds must be refused by the model"),
    }
    assert_eq!(emulator.configurations().len(), 1);
}
