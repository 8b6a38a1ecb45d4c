//! Property tests of the parsers and the answer body against hostile and broken input: arbitrary
//! JSON never panics the property or event parser and every refusal names a property path;
//! every valid property set parses to exactly what it says; every single invalid field is
//! refused naming that field; and the answer body stays valid JSON within CloudFormation's
//! 4096 bytes for every identity the event parser lets through.

use aws_sdk_ivs::types::{
    RecordingMode, RenditionConfigurationRendition, RenditionConfigurationRenditionSelection,
    ThumbnailConfigurationResolution, ThumbnailConfigurationStorage,
};
use cfn_ivs_recording::answer::{self, Answer, AnswerStatus, MAX_BODY};
use cfn_ivs_recording::event::{
    self, Request, RequestKind, MAX_LOGICAL_ID, MAX_PHYSICAL_ID, MAX_REQUEST_ID, MAX_STACK_ID,
};
use cfn_ivs_recording::ownership::MARKER_TAG;
use cfn_ivs_recording::properties::{
    self, RecordingSpec, RenditionSpec, ThumbnailSpec, MAX_USER_TAGS, RECORDING_MODES, RENDITIONS,
    RENDITION_SELECTIONS, RESOLUTIONS, STORAGES,
};
use cfn_ivs_recording::{event::Identity, lifecycle};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const CASES: u32 = 256;

fn config() -> ProptestConfig {
    ProptestConfig {
        // A failing case of kilobyte strings would otherwise shrink for minutes on every run.
        max_shrink_iters: 1024,
        ..ProptestConfig::with_cases(CASES)
    }
}

/// Answer bodies are costly to shrink (each step serializes kilobytes many times over); the
/// report shows sizes, so a rough shrink is enough.
/// Fewer cases than the property tests: each one generates kilobytes of hostile text per field,
/// which takes most of a second in a debug build; the worst cases are spelled out in unit tests.
fn body_config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        max_shrink_iters: 64,
        ..config()
    }
}

// ---------------------------------------------------------------------------------------------
// Arbitrary JSON
// ---------------------------------------------------------------------------------------------

/// Every name the property parser knows, at any level, plus what CloudFormation adds.
const PROPERTY_NAMES: &[&str] = &[
    "DestinationConfiguration",
    "S3",
    "BucketName",
    "Name",
    "RecordingReconnectWindowSeconds",
    "Tags",
    "Key",
    "Value",
    "ThumbnailConfiguration",
    "RecordingMode",
    "TargetIntervalSeconds",
    "Resolution",
    "Storage",
    "RenditionConfiguration",
    "RenditionSelection",
    "Renditions",
    "ServiceToken",
    "ServiceTimeout",
];

/// The full paths an error may start with (longest first, so the most specific one matches).
const PROPERTY_PATHS: &[&str] = &[
    "DestinationConfiguration.S3.BucketName",
    "DestinationConfiguration.S3",
    "DestinationConfiguration",
    "Name",
    "RecordingReconnectWindowSeconds",
    "ThumbnailConfiguration.RecordingMode",
    "ThumbnailConfiguration.TargetIntervalSeconds",
    "ThumbnailConfiguration.Resolution",
    "ThumbnailConfiguration.Storage",
    "ThumbnailConfiguration",
    "RenditionConfiguration.RenditionSelection",
    "RenditionConfiguration.Renditions",
    "RenditionConfiguration",
    "Tags",
];

const EVENT_FIELDS: &[&str] = &[
    "RequestType",
    "ServiceToken",
    "ResponseURL",
    "StackId",
    "RequestId",
    "ResourceType",
    "LogicalResourceId",
    "PhysicalResourceId",
    "ResourceProperties",
    "OldResourceProperties",
];

/// Strings a parser may treat specially: enum values, numbers, the reserved tag prefixes.
const INTERESTING_STRINGS: &[&str] = &[
    "",
    " ",
    "INTERVAL",
    "DISABLED",
    "interval",
    "FULL_HD",
    "HD",
    "SD",
    "LOWEST_RESOLUTION",
    "SEQUENTIAL",
    "LATEST",
    "ALL",
    "NONE",
    "CUSTOM",
    "0",
    "1",
    "30",
    "60",
    "61",
    "300",
    "301",
    "-1",
    " 30 ",
    "+30",
    "1.5",
    "1e2",
    "0x10",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "NaN",
    "aws:x",
    "AWS:x",
    MARKER_TAG,
    "my-bucket",
    "b",
    "\u{0}",
    "\"",
    "\\",
    "é",
    "😀",
    "\u{202e}",
];

/// A known name, or a typo of one: a character dropped, doubled or replaced, case changed.
fn key() -> impl Strategy<Value = String> {
    let typo = (
        select(PROPERTY_NAMES),
        0..5u8,
        any::<prop::sample::Index>(),
        any::<char>(),
    )
        .prop_map(|(name, op, at, c)| {
            let mut chars: Vec<char> = name.chars().collect();
            let i = at.index(chars.len());
            match op {
                0 => {
                    chars.remove(i);
                }
                1 => chars.insert(i, chars[i]),
                2 => chars[i] = c,
                3 => return name.to_lowercase(),
                _ => chars[i] = chars[i].to_ascii_lowercase(),
            }
            chars.into_iter().collect()
        });
    prop_oneof![
        4 => select(PROPERTY_NAMES).prop_map(str::to_string),
        2 => select(EVENT_FIELDS).prop_map(str::to_string),
        3 => typo,
        1 => any::<String>(),
    ]
}

fn json_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-5i64..400).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        json_number(),
        select(INTERESTING_STRINGS).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// A properties object shaped like the real one, each field valid, arbitrary or absent, so that
/// arbitrary values reach the deeper parsers.
fn property_shaped() -> impl Strategy<Value = Value> {
    let field = |valid: Value| {
        prop_oneof![
            2 => Just(None),
            2 => Just(Some(valid)),
            3 => json_value().prop_map(Some),
        ]
    };
    (
        field(json!({"S3": {"BucketName": "my-bucket"}})),
        field(json!("rec")),
        field(json!("30")),
        field(json!({"RecordingMode": "INTERVAL", "TargetIntervalSeconds": "20", "Resolution": "HD", "Storage": ["LATEST"]})),
        field(json!({"RenditionSelection": "CUSTOM", "Renditions": ["HD"]})),
        field(json!([{"Key": "k", "Value": "v"}])),
        prop::collection::vec((key(), json_value()), 0..2),
    )
        .prop_map(|(dest, name, window, thumb, rend, tags, extra)| {
            let mut map = Map::new();
            for (k, v) in [
                ("DestinationConfiguration", dest),
                ("Name", name),
                ("RecordingReconnectWindowSeconds", window),
                ("ThumbnailConfiguration", thumb),
                ("RenditionConfiguration", rend),
                ("Tags", tags),
            ] {
                if let Some(v) = v {
                    map.insert(k.to_string(), v);
                }
            }
            map.extend(extra);
            Value::Object(map)
        })
}

/// Whether a refusal names where the problem is: the whole object, a known property path, or
/// the unknown key exactly as the input spelled it.
fn names_a_property_path(message: &str, input: &Value) -> bool {
    if message == "ResourceProperties must be a JSON object" {
        return input.as_object().is_none();
    }
    let known = PROPERTY_PATHS.iter().any(|path| {
        message
            .strip_prefix(path)
            .is_some_and(|rest| rest.starts_with([' ', '.', '[']))
    });
    let unknown_top_level = input.as_object().is_some_and(|map| {
        map.keys().any(|k| {
            message.starts_with(&format!(
                "{k} is not a property of Custom::IvsRecordingConfiguration"
            ))
        })
    });
    known || unknown_top_level
}

proptest! {
    #![proptest_config(config())]

    /// (a) Never a panic; every refusal names a property path.
    #[test]
    fn arbitrary_json_never_panics_and_every_refusal_names_a_path(
        input in prop_oneof![json_value(), property_shaped()]
    ) {
        match properties::parse(&input) {
            Ok(spec) => {
                // Accepted: then it really was an object with a valid bucket.
                prop_assert!(input.is_object());
                prop_assert!((3..=63).contains(&spec.bucket_name.len()), "{spec:?}");
                prop_assert!(spec.tags.len() <= MAX_USER_TAGS);
            }
            Err(error) => {
                let message = error.to_string();
                prop_assert!(
                    names_a_property_path(&message, &input),
                    "refusal names no property path: {message:?} for {input}"
                );
            }
        }
    }

    /// (e) The event parser: never a panic, and what it accepts is what the answer can echo.
    #[test]
    fn event_parse_never_panics_on_arbitrary_json(input in prop_oneof![json_value(), event_shaped()]) {
        let given = input.clone();
        match Request::parse(input) {
            Ok(request) => {
                let id = &request.identity;
                prop_assert_eq!(Some(id.stack_id.as_str()), given["StackId"].as_str());
                prop_assert_eq!(Some(id.request_id.as_str()), given["RequestId"].as_str());
                prop_assert_eq!(Some(id.logical_resource_id.as_str()), given["LogicalResourceId"].as_str());
                prop_assert_eq!(Some(request.response_url.as_str()), given["ResponseURL"].as_str());
                prop_assert_eq!(Some(request.request_type()), given["RequestType"].as_str());
                prop_assert!(!id.stack_id.is_empty() && id.stack_id.len() <= 1024);
                prop_assert!(!id.request_id.is_empty() && id.request_id.len() <= 256);
                prop_assert!(!id.logical_resource_id.is_empty() && id.logical_resource_id.len() <= 255);
                prop_assert!(!request.response_url.is_empty());
                if let Some(physical) = request.physical_resource_id() {
                    prop_assert!(physical.len() <= 1024);
                    prop_assert_eq!(Some(physical), given["PhysicalResourceId"].as_str());
                }
                if let RequestKind::Update { old_properties, .. } = &request.kind {
                    prop_assert_eq!(old_properties, &given["OldResourceProperties"]);
                }
                // The id a FAILED answer would carry is never empty.
                prop_assert!(!lifecycle::fallback_physical_id(&request).is_empty());
            }
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }
}

/// An event with each field well-formed, arbitrary or missing.
fn event_shaped() -> impl Strategy<Value = Value> {
    let text = || {
        prop_oneof![
            3 => Just(Some(json!("x"))),
            1 => Just(None),
            1 => Just(Some(json!(""))),
            2 => any::<String>().prop_map(|s| Some(json!(s))),
            1 => json_leaf().prop_map(Some),
            1 => (1000usize..1100).prop_map(|n| Some(json!("s".repeat(n)))),
        ]
    };
    (
        prop_oneof![
            select(&["Create", "Update", "Delete", "create", "Destroy", ""][..])
                .prop_map(Value::from),
            json_leaf()
        ],
        text(),
        text(),
        text(),
        text(),
        text(),
        prop_oneof![
            Just(Some(json!(
                "arn:aws:ivs:us-east-1:123456789012:recording-configuration/AbC1"
            ))),
            text()
        ],
        prop_oneof![property_shaped(), json_value()],
        prop_oneof![
            Just(None),
            property_shaped().prop_map(Some),
            json_value().prop_map(Some)
        ],
    )
        .prop_map(
            |(kind, url, stack, request, resource_type, logical, physical, props, old)| {
                let mut map = Map::new();
                map.insert("RequestType".into(), kind);
                for (k, v) in [
                    ("ResponseURL", url),
                    ("StackId", stack),
                    ("RequestId", request),
                    ("ResourceType", resource_type),
                    ("LogicalResourceId", logical),
                    ("PhysicalResourceId", physical),
                    ("OldResourceProperties", old),
                ] {
                    if let Some(v) = v {
                        map.insert(k.into(), v);
                    }
                }
                map.insert("ResourceProperties".into(), props);
                Value::Object(map)
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Valid property sets, and single invalid fields
// ---------------------------------------------------------------------------------------------

/// How a number is written: CloudFormation sends strings, hand-written events send numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NumberStyle {
    Number,
    String,
}

/// RecordingMode, TargetIntervalSeconds, Resolution, Storage; enum values as indices.
pub(crate) type ThumbnailModel = (
    Option<usize>,
    Option<i64>,
    Option<usize>,
    Option<Vec<usize>>,
);

#[derive(Clone, Debug)]
pub(crate) struct ValidModel {
    pub(crate) bucket: String,
    pub(crate) name: Option<String>,
    pub(crate) window: Option<i64>,
    pub(crate) thumbnail: Option<ThumbnailModel>,
    pub(crate) rendition: Option<(Option<usize>, Option<Vec<usize>>)>,
    pub(crate) tags: BTreeMap<String, String>,
    tags_as_list: bool,
    service_keys: bool,
    /// Absent optional fields written as `null` instead of left out.
    nulls: bool,
}

/// Tag text: letters (any script), digits, spaces and `_ . : / = + - @`.
const TAG_CHARS: &[char] = &[
    'a', 'b', 'z', 'A', 'Z', '0', '9', ' ', '_', '.', ':', '/', '=', '+', '-', '@', 'é', 'ß', 'Ж',
    '中',
];

/// Text of `min..=max` characters, cheap to generate at any length: a short random stretch
/// repeated, as often as not up to the maximum.
fn tag_text(min: usize, max: usize) -> impl Strategy<Value = String> {
    let unit = prop::collection::vec(select(TAG_CHARS), 1..=12);
    (unit, prop_oneof![Just(max), min..=max])
        .prop_map(move |(unit, len)| unit.into_iter().cycle().take(len).collect::<String>())
}

fn tag_key() -> impl Strategy<Value = String> {
    tag_text(1, 128).prop_filter("reserved tag key", |k: &String| {
        !k.to_ascii_lowercase().starts_with("aws:") && k != MARKER_TAG
    })
}

pub(crate) fn valid_model() -> impl Strategy<Value = ValidModel> {
    let thumbnail = (
        prop::option::of(0..RECORDING_MODES.len()),
        prop::option::of(1i64..=60),
        prop::option::of(0..RESOLUTIONS.len()),
        prop::option::of(
            prop::sample::subsequence((0..STORAGES.len()).collect::<Vec<_>>(), 0..=STORAGES.len())
                .prop_shuffle(),
        ),
    )
        .prop_map(|(mode, interval, resolution, storage)| {
            // TargetIntervalSeconds only goes with INTERVAL (or no mode).
            let interval = if mode.map(|m| RECORDING_MODES[m]) == Some("DISABLED") {
                None
            } else {
                interval
            };
            (mode, interval, resolution, storage)
        });
    let rendition = (
        prop::option::of(0..RENDITION_SELECTIONS.len()),
        // Renditions are unique, as the native schema declares them (uniqueItems), in any order.
        prop::option::of(
            prop::sample::subsequence(
                (0..RENDITIONS.len()).collect::<Vec<_>>(),
                0..=RENDITIONS.len(),
            )
            .prop_shuffle(),
        ),
    )
        .prop_map(|(selection, renditions)| {
            let renditions = match (selection.map(|s| RENDITION_SELECTIONS[s]), renditions) {
                (Some("CUSTOM"), None) => Some(vec![0]),
                (Some("CUSTOM"), Some(r)) if r.is_empty() => Some(vec![1]),
                (_, r) => r,
            };
            (selection, renditions)
        });
    (
        "[a-z0-9.-]{3,63}",
        prop::option::of("[A-Za-z0-9_-]{0,128}"),
        prop::option::of(0i64..=300),
        prop::option::of(thumbnail),
        prop::option::of(rendition),
        // A few tags mostly; now and then up to the most allowed.
        prop_oneof![
            3 => prop::collection::btree_map(tag_key(), tag_text(0, 256), 0..=4),
            1 => prop::collection::btree_map(tag_key(), tag_text(0, 256), 40..=MAX_USER_TAGS),
        ],
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                bucket,
                name,
                window,
                thumbnail,
                rendition,
                tags,
                tags_as_list,
                service_keys,
                nulls,
            )| ValidModel {
                bucket,
                name,
                window,
                thumbnail,
                rendition,
                tags,
                tags_as_list,
                service_keys,
                nulls,
            },
        )
}

impl ValidModel {
    pub(crate) fn to_json(&self, style: NumberStyle) -> Value {
        let number = |n: i64| match style {
            NumberStyle::Number => json!(n),
            NumberStyle::String => json!(n.to_string()),
        };
        let mut map = Map::new();
        let put = |map: &mut Map<String, Value>, key: &str, value: Option<Value>| match value {
            Some(v) => {
                map.insert(key.into(), v);
            }
            None if self.nulls => {
                map.insert(key.into(), Value::Null);
            }
            None => {}
        };
        if self.service_keys {
            map.insert(
                "ServiceToken".into(),
                json!("arn:aws:lambda:us-east-1:123456789012:function:f"),
            );
            map.insert("ServiceTimeout".into(), json!("720"));
        }
        map.insert(
            "DestinationConfiguration".into(),
            json!({"S3": {"BucketName": self.bucket}}),
        );
        put(&mut map, "Name", self.name.clone().map(Value::from));
        put(
            &mut map,
            "RecordingReconnectWindowSeconds",
            self.window.map(number),
        );
        let thumbnail = self
            .thumbnail
            .as_ref()
            .map(|(mode, interval, resolution, storage)| {
                let mut t = Map::new();
                put(
                    &mut t,
                    "RecordingMode",
                    mode.map(|m| json!(RECORDING_MODES[m])),
                );
                put(&mut t, "TargetIntervalSeconds", interval.map(number));
                put(
                    &mut t,
                    "Resolution",
                    resolution.map(|r| json!(RESOLUTIONS[r])),
                );
                put(
                    &mut t,
                    "Storage",
                    storage
                        .as_ref()
                        .map(|s| json!(s.iter().map(|i| STORAGES[*i]).collect::<Vec<_>>())),
                );
                Value::Object(t)
            });
        put(&mut map, "ThumbnailConfiguration", thumbnail);
        let rendition = self.rendition.as_ref().map(|(selection, renditions)| {
            let mut r = Map::new();
            put(
                &mut r,
                "RenditionSelection",
                selection.map(|s| json!(RENDITION_SELECTIONS[s])),
            );
            put(
                &mut r,
                "Renditions",
                renditions
                    .as_ref()
                    .map(|l| json!(l.iter().map(|i| RENDITIONS[*i]).collect::<Vec<_>>())),
            );
            Value::Object(r)
        });
        put(&mut map, "RenditionConfiguration", rendition);
        let tags = if self.tags_as_list {
            json!(self
                .tags
                .iter()
                .rev()
                .map(|(k, v)| json!({"Key": k, "Value": v}))
                .collect::<Vec<_>>())
        } else {
            json!(self.tags)
        };
        if !self.tags.is_empty() || self.tags_as_list {
            map.insert("Tags".into(), tags);
        }
        Value::Object(map)
    }

    fn expected(&self) -> RecordingSpec {
        RecordingSpec {
            bucket_name: self.bucket.clone(),
            name: self.name.clone(),
            recording_reconnect_window_seconds: self.window.map(|n| n as i32),
            thumbnail: self
                .thumbnail
                .as_ref()
                .map(|(mode, interval, resolution, storage)| ThumbnailSpec {
                    recording_mode: mode.map(|m| RecordingMode::from(RECORDING_MODES[m])),
                    target_interval_seconds: *interval,
                    resolution: resolution
                        .map(|r| ThumbnailConfigurationResolution::from(RESOLUTIONS[r])),
                    storage: storage.as_ref().map(|s| {
                        s.iter()
                            .map(|i| ThumbnailConfigurationStorage::from(STORAGES[*i]))
                            .collect()
                    }),
                }),
            rendition: self
                .rendition
                .as_ref()
                .map(|(selection, renditions)| RenditionSpec {
                    selection: selection.map(|s| {
                        RenditionConfigurationRenditionSelection::from(RENDITION_SELECTIONS[s])
                    }),
                    renditions: renditions.as_ref().map(|l| {
                        l.iter()
                            .map(|i| RenditionConfigurationRendition::from(RENDITIONS[*i]))
                            .collect()
                    }),
                }),
            tags: self.tags.clone(),
        }
    }
}

/// One field made invalid: where it is (a JSON pointer), its new value, and the property path
/// the refusal must name.
#[derive(Clone, Debug)]
struct Mutation {
    pointer: &'static str,
    value: Value,
    path: &'static str,
}

fn with_char_inserted(base: &str, at: prop::sample::Index, bad: char) -> String {
    let mut chars: Vec<char> = base.chars().collect();
    chars.insert(at.index(chars.len() + 1), bad);
    chars.into_iter().collect()
}

pub(crate) fn enum_typo(allowed: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop_oneof![
        select(allowed).prop_map(|v| json!(v.to_lowercase())),
        select(allowed).prop_map(|v| json!(format!("{v} "))),
        "[A-Z_]{0,20}"
            .prop_filter("a valid value", move |s| !allowed.contains(&s.as_str()))
            .prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(json!(true)),
        Just(json!({})),
    ]
}

fn out_of_range(min: i64, max: i64) -> impl Strategy<Value = Value> {
    prop_oneof![
        (i64::MIN..min).prop_map(Value::from),
        (max + 1..=i64::MAX).prop_map(Value::from),
        (max + 1..=i64::MAX).prop_map(|n| json!(n.to_string())),
        (i64::MIN..min).prop_map(|n| json!(n.to_string())),
        Just(json!(u64::MAX)),
        Just(json!(1.5)),
        Just(json!("thirty")),
        Just(json!("")),
        Just(json!([])),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let m = |pointer: &'static str, path: &'static str, values: BoxedStrategy<Value>| {
        values.prop_map(move |value| Mutation {
            pointer,
            value,
            path,
        })
    };
    let bad_name_char = prop_oneof![
        Just(' '),
        Just('.'),
        Just('é'),
        Just(':'),
        Just('/'),
        Just('\u{0}'),
        Just('"')
    ];
    let bad_bucket_char = prop_oneof![
        Just('A'),
        Just('_'),
        Just(' '),
        Just('é'),
        Just('/'),
        Just('\u{0}')
    ];
    let bad_tag_char = prop_oneof![
        Just(';'),
        Just('"'),
        Just('<'),
        Just('*'),
        Just('\u{0}'),
        Just('#')
    ];
    prop_oneof![
        m(
            "/DestinationConfiguration/S3/BucketName",
            "DestinationConfiguration.S3.BucketName",
            prop_oneof![
                "[a-z]{0,2}".prop_map(Value::from),
                "[a-z]{64,200}".prop_map(Value::from),
                (
                    "[a-z0-9.-]{3,62}",
                    any::<prop::sample::Index>(),
                    bad_bucket_char
                )
                    .prop_map(|(b, at, c)| json!(with_char_inserted(&b, at, c))),
                Just(json!(123)),
            ]
            .boxed()
        ),
        m(
            "/DestinationConfiguration/S3",
            "DestinationConfiguration.S3",
            prop_oneof![
                Just(json!({})),
                Just(json!("my-bucket")),
                Just(json!({"BucketName": "my-bucket", "Region": "us-east-1"})),
            ]
            .boxed()
        ),
        m(
            "/Name",
            "Name",
            prop_oneof![
                "[a-z]{129,300}".prop_map(Value::from),
                (
                    "[A-Za-z0-9_-]{0,100}",
                    any::<prop::sample::Index>(),
                    bad_name_char
                )
                    .prop_map(|(n, at, c)| json!(with_char_inserted(&n, at, c))),
                Just(json!(["demo"])),
            ]
            .boxed()
        ),
        m(
            "/RecordingReconnectWindowSeconds",
            "RecordingReconnectWindowSeconds",
            out_of_range(0, 300).boxed()
        ),
        m(
            "/ThumbnailConfiguration/TargetIntervalSeconds",
            "ThumbnailConfiguration.TargetIntervalSeconds",
            out_of_range(1, 60).boxed()
        ),
        m(
            "/ThumbnailConfiguration/RecordingMode",
            "ThumbnailConfiguration.RecordingMode",
            enum_typo(RECORDING_MODES).boxed()
        ),
        m(
            "/ThumbnailConfiguration/Resolution",
            "ThumbnailConfiguration.Resolution",
            enum_typo(RESOLUTIONS).boxed()
        ),
        m(
            "/ThumbnailConfiguration/Storage",
            "ThumbnailConfiguration.Storage",
            prop_oneof![
                enum_typo(STORAGES).prop_map(|bad| json!(["LATEST", bad])),
                select(STORAGES).prop_map(|s| json!([s, s])),
                Just(json!(["SEQUENTIAL", "LATEST", "LATEST"])),
                Just(json!("LATEST")),
            ]
            .boxed()
        ),
        m(
            "/RenditionConfiguration/RenditionSelection",
            "RenditionConfiguration.RenditionSelection",
            enum_typo(RENDITION_SELECTIONS).boxed()
        ),
        m(
            "/RenditionConfiguration/Renditions",
            "RenditionConfiguration.Renditions",
            prop_oneof![
                enum_typo(RENDITIONS).prop_map(|bad| json!([bad])),
                Just(json!("HD")),
                select(RENDITIONS).prop_map(|r| json!([r, r])),
                Just(json!(["HD", "SD", "HD"])),
            ]
            .boxed()
        ),
        m(
            "/Tags",
            "Tags",
            prop_oneof![
                "[a-z]{129,200}".prop_map(|k| json!({k: "v"})),
                "[a-z]{257,400}".prop_map(|v| json!([{"Key": "k", "Value": v}])),
                (
                    "[a-z]{1,20}",
                    any::<prop::sample::Index>(),
                    bad_tag_char.clone()
                )
                    .prop_map(|(k, at, c)| json!({with_char_inserted(&k, at, c): "v"})),
                ("[a-z]{0,20}", any::<prop::sample::Index>(), bad_tag_char).prop_map(
                    |(v, at, c)| json!([{"Key": "k", "Value": with_char_inserted(&v, at, c)}])
                ),
                (any::<[bool; 3]>(), "[a-z]{0,10}").prop_map(|(upper, rest)| {
                    let prefix: String = "aws"
                        .chars()
                        .zip(upper)
                        .map(|(c, up)| if up { c.to_ascii_uppercase() } else { c })
                        .collect();
                    json!({format!("{prefix}:{rest}"): "v"})
                }),
                Just(json!({MARKER_TAG: "v"})),
                (MAX_USER_TAGS + 1..MAX_USER_TAGS + 30).prop_map(|n| json!((0..n)
                    .map(|i| (format!("k{i}"), "v".to_string()))
                    .collect::<BTreeMap<_, _>>())),
                Just(json!([{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}])),
                Just(json!([{"Key": "a"}])),
                Just(json!([{"Key": "a", "Value": "1", "Extra": "x"}])),
                Just(json!("team=video")),
            ]
            .boxed()
        ),
    ]
}

/// Sets `pointer` in `value`, creating the objects on the way.
pub(crate) fn set_pointer(value: &mut Value, pointer: &str, new: Value) {
    let mut at = value;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        if !at.is_object() {
            *at = json!({});
        }
        let map = at.as_object_mut().unwrap();
        if i + 1 == parts.len() {
            map.insert(part.to_string(), new);
            return;
        }
        at = map.entry(part.to_string()).or_insert_with(|| json!({}));
    }
}

proptest! {
    #![proptest_config(config())]

    /// (b) Valid sets parse to what they say, whether numbers come as numbers or as strings.
    #[test]
    fn valid_property_sets_parse_and_round_trip(model in valid_model()) {
        let as_numbers = properties::parse(&model.to_json(NumberStyle::Number));
        let as_strings = properties::parse(&model.to_json(NumberStyle::String));
        prop_assert_eq!(&as_numbers, &Ok(model.expected()), "{}", model.to_json(NumberStyle::Number));
        prop_assert_eq!(&as_strings, &as_numbers);
    }

    /// (c) One invalid field in an otherwise valid set: refused, naming that field.
    #[test]
    fn a_single_invalid_field_is_refused_naming_it(model in valid_model(), mutation in mutation()) {
        let mut input = model.to_json(NumberStyle::String);
        set_pointer(&mut input, mutation.pointer, mutation.value.clone());
        match properties::parse(&input) {
            Ok(spec) => prop_assert!(false, "{} = {} was accepted: {spec:?}", mutation.pointer, mutation.value),
            Err(error) => {
                let message = error.to_string();
                prop_assert!(
                    message.contains(mutation.path),
                    "the refusal of {} = {} does not name {}: {message}",
                    mutation.pointer, mutation.value, mutation.path
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The answer body
// ---------------------------------------------------------------------------------------------

/// Mostly characters that JSON must escape (to 2 or 6 bytes) or that are multi-byte in UTF-8.
fn hostile_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::char::range('\u{0}', '\u{1f}'),
        2 => prop_oneof![Just('"'), Just('\\'), Just('\u{7f}'), Just('\u{2028}'), Just('\u{feff}'), Just('é'), Just('😀')],
        2 => any::<char>(),
        2 => prop::char::range('a', 'z'),
    ]
}

/// A string of at most `max` bytes: short, or as long as the limit allows.
fn hostile_text(min_bytes: usize, max_bytes: usize) -> impl Strategy<Value = String> {
    let chars = prop_oneof![
        prop::collection::vec(hostile_char(), 0..16),
        prop::collection::vec(hostile_char(), max_bytes..=max_bytes),
    ];
    chars.prop_map(move |chars| {
        let mut s = String::new();
        for c in chars {
            if s.len() + c.len_utf8() > max_bytes {
                break;
            }
            s.push(c);
        }
        while s.len() < min_bytes {
            s.push('x');
        }
        s
    })
}

/// Up to 100 KB: a hostile stretch repeated.
fn long_reason() -> impl Strategy<Value = String> {
    let times = prop_oneof![3 => 1usize..8, 1 => 1usize..2000];
    (prop::collection::vec(hostile_char(), 0..64), times).prop_map(|(chars, times)| {
        let unit: String = chars.into_iter().collect();
        let mut reason = unit.repeat(times);
        let mut end = reason.len().min(100 * 1024);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        reason
    })
}

/// The longest start of `text` whose JSON form (quotes aside) is at most `max` bytes, as the
/// event parser's limits count: a control character takes six bytes there, a quote two.
fn fit_json(text: String, max: usize) -> String {
    let mut fitted = String::new();
    let mut len = 0;
    for c in text.chars() {
        len += event::json_len(c.encode_utf8(&mut [0; 4]));
        if len > max {
            break;
        }
        fitted.push(c);
    }
    fitted
}

fn identity() -> impl Strategy<Value = Identity> {
    (
        hostile_text(1, MAX_STACK_ID),
        hostile_text(1, MAX_REQUEST_ID),
        hostile_text(1, MAX_LOGICAL_ID),
    )
        .prop_map(|(stack_id, request_id, logical_resource_id)| Identity {
            stack_id: fit_json(stack_id, MAX_STACK_ID),
            request_id: fit_json(request_id, MAX_REQUEST_ID),
            logical_resource_id: fit_json(logical_resource_id, MAX_LOGICAL_ID),
        })
        .prop_filter("echoed fields are never empty", |id| {
            !id.stack_id.is_empty()
                && !id.request_id.is_empty()
                && !id.logical_resource_id.is_empty()
        })
}

fn answer() -> impl Strategy<Value = Answer> {
    (
        any::<bool>(),
        hostile_text(1, 1024),
        long_reason(),
        prop::collection::btree_map(hostile_text(0, 64), hostile_text(0, 512), 0..8),
    )
        .prop_map(|(failed, physical_resource_id, reason, data)| Answer {
            status: if failed {
                AnswerStatus::Failed
            } else {
                AnswerStatus::Success
            },
            reason,
            physical_resource_id: fit_json(physical_resource_id, MAX_PHYSICAL_ID),
            data,
        })
        .prop_filter("a PhysicalResourceId is never empty", |a| {
            !a.physical_resource_id.is_empty()
        })
}

/// An identity and an answer, shown by sizes and beginnings: a failure report of the kilobyte
/// strings themselves would be unreadable.
#[derive(Clone)]
struct BodyCase {
    identity: Identity,
    answer: Answer,
}

fn body_case() -> impl Strategy<Value = BodyCase> {
    (identity(), answer()).prop_map(|(identity, answer)| BodyCase { identity, answer })
}

struct Text<'a>(&'a str);

impl std::fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let escaped = serde_json::to_string(self.0).unwrap().len() - 2;
        if self.0.chars().count() <= 24 {
            write!(f, "{:?}", self.0)
        } else {
            let start: String = self.0.chars().take(24).collect();
            write!(
                f,
                "{start:?}… ({} bytes, {escaped} JSON-escaped)",
                self.0.len()
            )
        }
    }
}

impl std::fmt::Debug for BodyCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (id, answer) = (&self.identity, &self.answer);
        f.debug_struct("BodyCase")
            .field("stack_id", &Text(&id.stack_id))
            .field("request_id", &Text(&id.request_id))
            .field("logical_resource_id", &Text(&id.logical_resource_id))
            .field("status", &answer.status)
            .field("physical_resource_id", &Text(&answer.physical_resource_id))
            .field("reason", &Text(&answer.reason))
            .field("data_entries", &answer.data.len())
            .finish()
    }
}

/// What every answer must be, whatever went into it.
fn check_body(identity: &Identity, answer: &Answer, bytes: &[u8]) -> Result<(), TestCaseError> {
    prop_assert!(
        bytes.len() <= MAX_BODY,
        "the answer is {} bytes, more than {MAX_BODY}",
        bytes.len()
    );
    let body: Value = serde_json::from_slice(bytes)
        .map_err(|e| TestCaseError::fail(format!("not JSON ({e})")))?;
    prop_assert_eq!(body["Status"].as_str(), Some(answer.status.as_str()));
    prop_assert_eq!(body["StackId"].as_str(), Some(identity.stack_id.as_str()));
    prop_assert_eq!(
        body["RequestId"].as_str(),
        Some(identity.request_id.as_str())
    );
    prop_assert_eq!(
        body["LogicalResourceId"].as_str(),
        Some(identity.logical_resource_id.as_str())
    );
    prop_assert_eq!(
        body["PhysicalResourceId"].as_str(),
        Some(answer.physical_resource_id.as_str())
    );
    prop_assert!(!answer.physical_resource_id.is_empty());
    let reason = body["Reason"].as_str().unwrap_or_default();
    if answer.status == AnswerStatus::Failed {
        prop_assert!(!reason.is_empty(), "a FAILED answer without a Reason");
    }
    // The Reason is the one given, or its start with an ellipsis, or the status for none.
    let kept = reason.strip_suffix('…').unwrap_or(reason);
    prop_assert!(
        reason == answer.reason
            || answer.reason.starts_with(kept)
            || (answer.reason.is_empty() && reason == answer.status.as_str()),
        "Reason {reason:?} is not (a prefix of) the one given"
    );
    // Data is kept whole or dropped whole.
    let data: BTreeMap<String, String> =
        serde_json::from_value(body["Data"].clone()).unwrap_or_default();
    prop_assert!(
        data == answer.data || data.is_empty(),
        "Data altered: {data:?}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(body_config())]

    /// (d) Valid JSON within 4096 bytes, identity echoed verbatim, a Reason when FAILED — for
    /// every identity within the limits the event parser enforces.
    #[test]
    fn the_answer_body_is_valid_json_within_the_limit_for_any_identity(case in body_case()) {
        let bytes = answer::body(&case.identity, &case.answer);
        check_body(&case.identity, &case.answer, &bytes)?;
    }

    /// (d) The same through the real path: an event the parser accepts, refused for its
    /// properties, answered with the fallback PhysicalResourceId.
    #[test]
    fn a_refused_event_gets_a_valid_answer_for_any_accepted_identity(
        case in (identity(), prop::option::of(hostile_text(0, MAX_PHYSICAL_ID)))
            .prop_map(|(identity, physical)| BodyCase {
                identity,
                answer: Answer::failed(fit_json(physical.unwrap_or_default(), MAX_PHYSICAL_ID), ""),
            }),
        is_update in any::<bool>(),
    ) {
        let identity = &case.identity;
        let physical = is_update.then_some(&case.answer.physical_resource_id);
        let mut event = json!({
            "RequestType": if physical.is_some() { "Update" } else { "Create" },
            "ResponseURL": "https://cfn.s3.amazonaws.com/x?X-Amz-Signature=s",
            "StackId": identity.stack_id,
            "RequestId": identity.request_id,
            "ResourceType": "Custom::IvsRecordingConfiguration",
            "LogicalResourceId": identity.logical_resource_id,
            "ResourceProperties": {"Colour": "red"},
            "OldResourceProperties": {},
        });
        if let Some(physical) = &physical {
            event["PhysicalResourceId"] = json!(physical);
        }
        let request = Request::parse(event).expect("the identity is within the parser's limits");
        let reason = match lifecycle::decide(&request, None) {
            lifecycle::Action::Reject { error } => format!("Invalid properties: {error}"),
            other => return Err(TestCaseError::fail(format!("expected a rejection, got {other:?}"))),
        };
        let answer = Answer::failed(lifecycle::fallback_physical_id(&request), reason);
        let bytes = answer::body(&request.identity, &answer);
        check_body(&request.identity, &answer, &bytes)?;
    }
}

/// (d) The worst case, spelled out: every echoed field at its limit in JSON and made of a
/// character JSON writes as six bytes (`\u0001`). Each field is within the limits the event
/// parser enforces, so the answer must still fit.
#[test]
fn the_answer_fits_when_echoed_fields_are_at_their_limits_in_escaped_characters() {
    let identity = Identity {
        stack_id: "\u{1}".repeat(MAX_STACK_ID / 6),
        request_id: "\u{1}".repeat(MAX_REQUEST_ID / 6),
        logical_resource_id: "\u{1}".repeat(MAX_LOGICAL_ID / 6),
    };
    let answer = Answer::failed(
        "\u{1}".repeat(MAX_PHYSICAL_ID / 6),
        "Invalid properties: Colour is not a property",
    );
    let bytes = answer::body(&identity, &answer);
    assert!(
        bytes.len() <= MAX_BODY,
        "the answer is {} bytes, more than CloudFormation's {MAX_BODY}",
        bytes.len()
    );
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["StackId"], identity.stack_id.as_str());
    assert!(body["Reason"]
        .as_str()
        .unwrap()
        .starts_with("Invalid properties"));
}
