//! The resource's properties: parsed from the event's `ResourceProperties` and validated with the
//! ranges, patterns and enums of the IVS API model before anything is sent to IVS.
//!
//! The shape mirrors the native `AWS::IVS::RecordingConfiguration`. CloudFormation sends every
//! scalar as a string, hand-written events send JSON numbers: both are accepted. `Tags` come as
//! the native list of `{Key, Value}` or as a `{key: value}` map.

mod error;
mod json;

pub use error::PropertyError;

use crate::ownership::MARKER_TAG;
use aws_sdk_ivs::types::{
    RecordingMode, RenditionConfigurationRendition, RenditionConfigurationRenditionSelection,
    ThumbnailConfigurationResolution, ThumbnailConfigurationStorage,
};
use json::{
    check_text, enum_list, excerpt, integer, join, object, one_of, optional, require, scalar,
    string,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// IVS allows 50 tags per resource; one of them is the request marker.
pub const MAX_USER_TAGS: usize = 49;

/// Allowed values of `ThumbnailConfiguration.RecordingMode`.
pub const RECORDING_MODES: &[&str] = &["INTERVAL", "DISABLED"];
/// Allowed values of `ThumbnailConfiguration.Resolution`.
pub const RESOLUTIONS: &[&str] = &["FULL_HD", "HD", "SD", "LOWEST_RESOLUTION"];
/// Allowed entries of `ThumbnailConfiguration.Storage`.
pub const STORAGES: &[&str] = &["SEQUENTIAL", "LATEST"];
/// Allowed values of `RenditionConfiguration.RenditionSelection`.
pub const RENDITION_SELECTIONS: &[&str] = &["ALL", "NONE", "CUSTOM"];
/// Allowed entries of `RenditionConfiguration.Renditions`.
pub const RENDITIONS: &[&str] = &["FULL_HD", "HD", "SD", "LOWEST_RESOLUTION"];

/// Keys CloudFormation adds to `ResourceProperties` that are not properties of the resource.
const IGNORED_TOP_LEVEL: &[&str] = &["ServiceToken", "ServiceTimeout"];
const TOP_LEVEL: &[&str] = &[
    "DestinationConfiguration",
    "Name",
    "RecordingReconnectWindowSeconds",
    "Tags",
    "ThumbnailConfiguration",
    "RenditionConfiguration",
];
const DESTINATION: &[&str] = &["S3"];
const S3: &[&str] = &["BucketName"];
const THUMBNAIL: &[&str] = &[
    "RecordingMode",
    "TargetIntervalSeconds",
    "Resolution",
    "Storage",
];
const RENDITION: &[&str] = &["RenditionSelection", "Renditions"];
const TAG_ENTRY: &[&str] = &["Key", "Value"];

/// A validated recording configuration, as the user asked for it. `None` means "not given":
/// IVS then applies its own default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordingSpec {
    /// The S3 bucket recordings are written to (`DestinationConfiguration.S3.BucketName`).
    pub bucket_name: String,
    /// The configuration's optional display name in IVS.
    pub name: Option<String>,
    /// How long, 0 to 300 s, a broadcast may drop out and still continue the same recording.
    pub recording_reconnect_window_seconds: Option<i32>,
    /// How thumbnails are recorded (`ThumbnailConfiguration`).
    pub thumbnail: Option<ThumbnailSpec>,
    /// Which renditions are recorded (`RenditionConfiguration`).
    pub rendition: Option<RenditionSpec>,
    /// The user's tags, without the request marker; changing them needs no replacement.
    pub tags: BTreeMap<String, String>,
}

/// The validated `ThumbnailConfiguration`: how IVS records thumbnails alongside the video.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThumbnailSpec {
    /// Whether thumbnails are taken at intervals or not at all; one of [`RECORDING_MODES`].
    pub recording_mode: Option<RecordingMode>,
    /// Seconds, 1 to 60, between thumbnails; only with the INTERVAL mode.
    pub target_interval_seconds: Option<i64>,
    /// The thumbnails' resolution; one of [`RESOLUTIONS`].
    pub resolution: Option<ThumbnailConfigurationResolution>,
    /// Whether every thumbnail is kept, only the latest, or both; entries of [`STORAGES`].
    pub storage: Option<Vec<ThumbnailConfigurationStorage>>,
}

/// The validated `RenditionConfiguration`: which of the stream's renditions IVS records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenditionSpec {
    /// Record all renditions, none, or those listed; one of [`RENDITION_SELECTIONS`].
    pub selection: Option<RenditionConfigurationRenditionSelection>,
    /// The renditions to record with the CUSTOM selection; entries of [`RENDITIONS`].
    pub renditions: Option<Vec<RenditionConfigurationRendition>>,
}

impl RecordingSpec {
    /// True when `other` differs from `self` in anything but `Tags`: IVS has no update API, so
    /// such a change means a new configuration.
    ///
    /// `ThumbnailConfiguration.Storage` and `RenditionConfiguration.Renditions` compare as sets,
    /// as the native resource's schema declares them (`insertionOrder: false`): reordering them
    /// changes nothing.
    pub fn needs_replacement(&self, other: &RecordingSpec) -> bool {
        let compared = |s: &RecordingSpec| {
            let mut s = RecordingSpec {
                tags: BTreeMap::new(),
                ..s.clone()
            };
            if let Some(storage) = s.thumbnail.as_mut().and_then(|t| t.storage.as_mut()) {
                storage.sort();
            }
            if let Some(renditions) = s.rendition.as_mut().and_then(|r| r.renditions.as_mut()) {
                renditions.sort();
            }
            s
        };
        compared(self) != compared(other)
    }
}

/// Parses and validates `ResourceProperties`.
pub fn parse(properties: &Value) -> Result<RecordingSpec, PropertyError> {
    let top = properties.as_object().ok_or(PropertyError::NotAnObject)?;
    let known: Vec<&str> = TOP_LEVEL.iter().chain(IGNORED_TOP_LEVEL).copied().collect();
    reject_unknown(top, "", &known)?;

    let destination = require(top, "", "DestinationConfiguration")?;
    let destination = object(destination, "DestinationConfiguration")?;
    reject_unknown(destination, "DestinationConfiguration", DESTINATION)?;
    let s3 = object(
        require(destination, "DestinationConfiguration", "S3")?,
        "DestinationConfiguration.S3",
    )?;
    reject_unknown(s3, "DestinationConfiguration.S3", S3)?;
    let bucket_path = "DestinationConfiguration.S3.BucketName";
    let bucket_name = string(
        require(s3, "DestinationConfiguration.S3", "BucketName")?,
        bucket_path,
    )?;
    check_text(
        &bucket_name,
        bucket_path,
        3,
        63,
        "lower-case letters, digits, '-' and '.'",
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.',
    )?;

    let name = optional(top, "Name", |v| {
        let name = string(v, "Name")?;
        check_text(&name, "Name", 0, 128, "letters, digits, '-' and '_'", |c| {
            c.is_ascii_alphanumeric() || c == '-' || c == '_'
        })?;
        Ok(name)
    })?;
    let recording_reconnect_window_seconds =
        optional(top, "RecordingReconnectWindowSeconds", |v| {
            integer(v, "RecordingReconnectWindowSeconds", 0, 300).map(|n| n as i32)
        })?;
    let thumbnail = optional(top, "ThumbnailConfiguration", thumbnail)?;
    let rendition = optional(top, "RenditionConfiguration", rendition)?;
    let tags = optional(top, "Tags", tags)?.unwrap_or_default();

    Ok(RecordingSpec {
        bucket_name,
        name,
        recording_reconnect_window_seconds,
        thumbnail,
        rendition,
        tags,
    })
}

fn thumbnail(value: &Value) -> Result<ThumbnailSpec, PropertyError> {
    let base = "ThumbnailConfiguration";
    let map = object(value, base)?;
    reject_unknown(map, base, THUMBNAIL)?;
    let recording_mode = optional(map, "RecordingMode", |v| {
        one_of(v, "ThumbnailConfiguration.RecordingMode", RECORDING_MODES)
    })?;
    let target_interval_seconds = optional(map, "TargetIntervalSeconds", |v| {
        integer(v, "ThumbnailConfiguration.TargetIntervalSeconds", 1, 60)
    })?;
    if recording_mode == Some("DISABLED") && target_interval_seconds.is_some() {
        return Err(PropertyError::IntervalWithDisabled);
    }
    let resolution = optional(map, "Resolution", |v| {
        one_of(v, "ThumbnailConfiguration.Resolution", RESOLUTIONS)
    })?;
    let storage = optional(map, "Storage", |v| {
        enum_list(v, "ThumbnailConfiguration.Storage", STORAGES, true)
    })?;
    Ok(ThumbnailSpec {
        recording_mode: recording_mode.map(RecordingMode::from),
        target_interval_seconds,
        resolution: resolution.map(ThumbnailConfigurationResolution::from),
        storage: storage.map(|s| {
            s.into_iter()
                .map(ThumbnailConfigurationStorage::from)
                .collect()
        }),
    })
}

fn rendition(value: &Value) -> Result<RenditionSpec, PropertyError> {
    let base = "RenditionConfiguration";
    let map = object(value, base)?;
    reject_unknown(map, base, RENDITION)?;
    let selection = optional(map, "RenditionSelection", |v| {
        one_of(
            v,
            "RenditionConfiguration.RenditionSelection",
            RENDITION_SELECTIONS,
        )
    })?;
    let renditions = optional(map, "Renditions", |v| {
        enum_list(v, "RenditionConfiguration.Renditions", RENDITIONS, true)
    })?;
    let listed = renditions.as_ref().is_some_and(|r| !r.is_empty());
    if selection == Some("CUSTOM") && !listed {
        return Err(PropertyError::CustomWithoutRenditions);
    }
    Ok(RenditionSpec {
        selection: selection.map(RenditionConfigurationRenditionSelection::from),
        renditions: renditions.map(|r| {
            r.into_iter()
                .map(RenditionConfigurationRendition::from)
                .collect()
        }),
    })
}

fn tags(value: &Value) -> Result<BTreeMap<String, String>, PropertyError> {
    let pairs: Vec<(String, String)> = match value {
        Value::Array(entries) => entries
            .iter()
            .enumerate()
            .map(|(i, entry)| tag_entry(entry, i))
            .collect::<Result<_, _>>()?,
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| Ok((k.clone(), scalar(v, &format!("Tags.{}", excerpt(k)))?)))
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(PropertyError::WrongType {
                path: "Tags".into(),
                expected: "a list of {Key, Value} or a map of key to value",
            })
        }
    };
    if pairs.len() > MAX_USER_TAGS {
        return Err(PropertyError::TooManyTags { count: pairs.len() });
    }
    let mut tags = BTreeMap::new();
    for (key, value) in pairs {
        check_tag(&key, &value)?;
        if tags.insert(key.clone(), value).is_some() {
            return Err(PropertyError::Duplicate {
                path: "Tags".into(),
                value: format!("the key {:?}", excerpt(&key)),
            });
        }
    }
    Ok(tags)
}

fn tag_entry(entry: &Value, index: usize) -> Result<(String, String), PropertyError> {
    let path = format!("Tags[{index}]");
    let map = entry.as_object().ok_or_else(|| PropertyError::WrongType {
        path: path.clone(),
        expected: "an object {Key, Value}",
    })?;
    reject_unknown(map, &path, TAG_ENTRY)?;
    let key = string(require(map, &path, "Key")?, &format!("{path}.Key"))?;
    let value = scalar(require(map, &path, "Value")?, &format!("{path}.Value"))?;
    Ok((key, value))
}

fn check_tag(key: &str, value: &str) -> Result<(), PropertyError> {
    let allowed = "letters, digits, spaces and _ . : / = + - @";
    // AWS's tag pattern, [\p{L}\p{Z}\p{N}_.:/=+\-@]: letters, separators (not tabs or line
    // breaks, which are controls) and numbers by general category; std's is_alphanumeric also
    // takes combining marks and circled letters, which IVS refuses.
    let tag_char = |c: char| {
        matches!(
            c.general_category_group(),
            GeneralCategoryGroup::Letter
                | GeneralCategoryGroup::Number
                | GeneralCategoryGroup::Separator
        ) || "_.:/=+-@".contains(c)
    };
    if key.to_ascii_lowercase().starts_with("aws:") || key == MARKER_TAG {
        return Err(PropertyError::ReservedTagKey { key: excerpt(key) });
    }
    check_text(key, "Tags key", 1, 128, allowed, tag_char)?;
    check_text(
        value,
        &format!("Tags value of {:?}", excerpt(key)),
        0,
        256,
        allowed,
        tag_char,
    )
}

fn reject_unknown(
    map: &Map<String, Value>,
    base: &str,
    known: &[&str],
) -> Result<(), PropertyError> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some(key) => Err(PropertyError::Unknown {
            path: join(base, &excerpt(key)),
            suggestion: nearest(key, known).map(|s| join(base, s)),
        }),
    }
}

/// The known name closest to a misspelt one, when it is close enough to be a likely typo.
fn nearest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    // Far longer than any property name: no typo of one, and not worth a quadratic comparison.
    if key.len() > 2 * MAX_NAME_LEN {
        return None;
    }
    let key = key.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (strsim::levenshtein(&key, &k.to_ascii_lowercase()), *k))
        .min()
        .filter(|(distance, k)| *distance <= (k.len() / 3).max(2))
        .map(|(_, k)| k)
}

/// The longest name of a property; anything much longer is no typo of one.
const MAX_NAME_LEN: usize = "RecordingReconnectWindowSeconds".len();
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> Value {
        json!({"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f",
               "DestinationConfiguration": {"S3": {"BucketName": "my-bucket"}}})
    }

    fn with(key: &str, value: Value) -> Value {
        let mut v = minimal();
        v[key] = value;
        v
    }

    fn error_of(v: Value) -> String {
        parse(&v).unwrap_err().to_string()
    }

    #[test]
    fn minimal_properties_parse_and_service_token_is_ignored() {
        let spec = parse(&minimal()).unwrap();
        assert_eq!(spec.bucket_name, "my-bucket");
        assert_eq!(
            spec,
            RecordingSpec {
                bucket_name: "my-bucket".into(),
                ..Default::default()
            }
        );
    }

    #[test]
    fn all_properties_parse_from_cloudformation_strings() {
        let v = json!({
            "DestinationConfiguration": {"S3": {"BucketName": "b.u-c"}},
            "Name": "rec_1-a",
            "RecordingReconnectWindowSeconds": "30",
            "ThumbnailConfiguration": {"RecordingMode": "INTERVAL", "TargetIntervalSeconds": "20",
                                        "Resolution": "HD", "Storage": ["SEQUENTIAL", "LATEST"]},
            "RenditionConfiguration": {"RenditionSelection": "CUSTOM", "Renditions": ["HD", "SD"]},
            "Tags": [{"Key": "team", "Value": "video"}, {"Key": "env", "Value": "prod"}]
        });
        let spec = parse(&v).unwrap();
        assert_eq!(spec.name.as_deref(), Some("rec_1-a"));
        assert_eq!(spec.recording_reconnect_window_seconds, Some(30));
        let t = spec.thumbnail.unwrap();
        assert_eq!(t.target_interval_seconds, Some(20));
        assert_eq!(t.resolution, Some(ThumbnailConfigurationResolution::Hd));
        assert_eq!(
            t.storage,
            Some(vec![
                ThumbnailConfigurationStorage::Sequential,
                ThumbnailConfigurationStorage::Latest
            ])
        );
        assert_eq!(
            spec.rendition.unwrap().renditions,
            Some(vec![
                RenditionConfigurationRendition::Hd,
                RenditionConfigurationRendition::Sd
            ])
        );
        assert_eq!(spec.tags.get("team").map(String::as_str), Some("video"));
        assert_eq!(spec.tags.len(), 2);
    }

    #[test]
    fn numbers_as_json_numbers_equal_numbers_as_strings() {
        let a = parse(&with("RecordingReconnectWindowSeconds", json!(45))).unwrap();
        let b = parse(&with("RecordingReconnectWindowSeconds", json!("45"))).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.recording_reconnect_window_seconds, Some(45));
    }

    #[test]
    fn tags_as_map_equal_tags_as_list() {
        let a = parse(&with("Tags", json!({"a": "1", "b": "2"}))).unwrap();
        let b = parse(&with(
            "Tags",
            json!([{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}]),
        ))
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.tags.len(), 2);
    }

    #[test]
    fn missing_bucket_names_the_property() {
        let e = error_of(json!({"DestinationConfiguration": {"S3": {}}}));
        assert_eq!(e, "DestinationConfiguration.S3.BucketName is required");
        let e = error_of(json!({"Name": "x"}));
        assert_eq!(e, "DestinationConfiguration is required");
    }

    #[test]
    fn bad_bucket_name_says_what_is_allowed() {
        let e = error_of(json!({"DestinationConfiguration": {"S3": {"BucketName": "My_Bucket"}}}));
        assert!(
            e.contains(
                "DestinationConfiguration.S3.BucketName may contain only lower-case letters"
            ),
            "{e}"
        );
        let e = error_of(json!({"DestinationConfiguration": {"S3": {"BucketName": "ab"}}}));
        assert!(e.contains("must be 3 to 63 characters long, got 2"), "{e}");
    }

    #[test]
    fn numbers_out_of_range_or_not_numbers_are_refused() {
        let e = error_of(with("RecordingReconnectWindowSeconds", json!("301")));
        assert_eq!(
            e,
            "RecordingReconnectWindowSeconds must be between 0 and 300, got 301"
        );
        let e = error_of(with("RecordingReconnectWindowSeconds", json!("thirty")));
        assert!(
            e.starts_with("RecordingReconnectWindowSeconds must be a whole number"),
            "{e}"
        );
        let e = error_of(with("RecordingReconnectWindowSeconds", json!(1.5)));
        assert!(e.contains("whole number"), "{e}");
        let e = error_of(with(
            "ThumbnailConfiguration",
            json!({"TargetIntervalSeconds": 0}),
        ));
        assert_eq!(
            e,
            "ThumbnailConfiguration.TargetIntervalSeconds must be between 1 and 60, got 0"
        );
    }

    #[test]
    fn wrong_enum_lists_the_allowed_values() {
        let e = error_of(with("ThumbnailConfiguration", json!({"Resolution": "4K"})));
        assert_eq!(
            e,
            "ThumbnailConfiguration.Resolution must be one of FULL_HD | HD | SD | LOWEST_RESOLUTION, got \"4K\""
        );
        let e = error_of(with(
            "ThumbnailConfiguration",
            json!({"Storage": ["LATEST", "NEWEST"]}),
        ));
        assert!(
            e.starts_with("ThumbnailConfiguration.Storage[1] must be one of SEQUENTIAL | LATEST"),
            "{e}"
        );
    }

    #[test]
    fn tag_characters_follow_the_unicode_categories_of_the_aws_pattern() {
        for ok in [
            "team",
            "équipe",
            "チーム",
            "a b",
            "k\u{2028}v",
            "x_.:/=+-@1",
            "٣",
        ] {
            assert!(check_tag(ok, "v").is_ok(), "{ok:?}");
        }
        for bad in ["\u{345}", "a\u{0903}", "Ⓐ", "🄰", "a\tb", "a\nb", "a#b"] {
            assert!(
                matches!(check_tag(bad, "v"), Err(PropertyError::Pattern { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn interval_with_disabled_recording_mode_is_refused() {
        let e = error_of(with(
            "ThumbnailConfiguration",
            json!({"RecordingMode": "DISABLED", "TargetIntervalSeconds": "10"}),
        ));
        assert!(
            e.contains("TargetIntervalSeconds is allowed only with RecordingMode INTERVAL"),
            "{e}"
        );
        assert!(parse(&with(
            "ThumbnailConfiguration",
            json!({"RecordingMode": "DISABLED"})
        ))
        .is_ok());
    }

    #[test]
    fn custom_renditions_need_a_list() {
        for renditions in [json!(null), json!([])] {
            let e = error_of(with(
                "RenditionConfiguration",
                json!({"RenditionSelection": "CUSTOM", "Renditions": renditions}),
            ));
            assert!(
                e.contains("must list at least one of FULL_HD | HD | SD | LOWEST_RESOLUTION"),
                "{e}"
            );
        }
    }

    #[test]
    fn duplicate_storage_is_refused() {
        let e = error_of(with(
            "ThumbnailConfiguration",
            json!({"Storage": ["LATEST", "LATEST"]}),
        ));
        assert_eq!(
            e,
            "ThumbnailConfiguration.Storage lists LATEST more than once"
        );
    }

    #[test]
    fn too_many_tags_are_refused() {
        let tags: Map<String, Value> = (0..50).map(|i| (format!("k{i}"), json!("v"))).collect();
        let e = error_of(with("Tags", Value::Object(tags)));
        assert!(e.starts_with("Tags may hold at most 49 tags"), "{e}");
        let tags: Map<String, Value> = (0..49).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert!(parse(&with("Tags", Value::Object(tags))).is_ok());
    }

    #[test]
    fn reserved_and_malformed_tags_are_refused() {
        let e = error_of(with("Tags", json!({"aws:cloudformation:stack-name": "x"})));
        assert!(e.contains("is reserved"), "{e}");
        let e = error_of(with("Tags", json!({MARKER_TAG: "x"})));
        assert!(e.contains("is reserved"), "{e}");
        let e = error_of(with("Tags", json!([{"Key": "", "Value": "x"}])));
        assert!(
            e.contains("Tags key must be 1 to 128 characters long"),
            "{e}"
        );
        let e = error_of(with(
            "Tags",
            json!([{"Key": "a", "Value": "x"}, {"Key": "a", "Value": "y"}]),
        ));
        assert!(e.contains("more than once"), "{e}");
        let e = error_of(with("Tags", json!([{"Key": "a"}])));
        assert_eq!(e, "Tags[0].Value is required");
        let e = error_of(with("Tags", json!({"a": "tab\there"})));
        assert!(
            e.contains("may contain only letters, digits, spaces"),
            "{e}"
        );
        let separators = json!({"no-break\u{a0}space": "ideographic\u{3000}space"});
        assert!(parse(&with("Tags", separators)).is_ok());
        let e = error_of(with("Tags", json!({"a": "semi;colon"})));
        assert!(
            e.contains("may contain only letters, digits, spaces"),
            "{e}"
        );
    }

    #[test]
    fn unknown_property_names_the_nearest_known_one() {
        let e = error_of(with("RecordingReconectWindowSeconds", json!("30")));
        assert_eq!(
            e,
            "RecordingReconectWindowSeconds is not a property of Custom::IvsRecordingConfiguration; did you mean RecordingReconnectWindowSeconds?"
        );
        let e = error_of(json!({"DestinationConfiguration": {"S3": {"bucketName": "abc"}}}));
        assert!(
            e.ends_with("did you mean DestinationConfiguration.S3.BucketName?"),
            "{e}"
        );
        let e = error_of(with("Colour", json!("red")));
        assert_eq!(
            e,
            "Colour is not a property of Custom::IvsRecordingConfiguration"
        );
    }

    #[test]
    fn huge_refused_values_are_quoted_by_their_start_only() {
        let e = error_of(with("Name", json!("x".repeat(1_000_000))));
        assert!(
            e.starts_with("Name must be 0 to 128 characters long"),
            "{}",
            &e[..100]
        );
        let e = error_of(with(
            "RecordingReconnectWindowSeconds",
            json!("9".repeat(1_000_000)),
        ));
        assert!(
            e.len() < 200 && e.contains("\"9999") && e.contains('…'),
            "{e}"
        );
        let e = error_of(with("RecordingReconnectWindowSeconds", json!([[1]])));
        assert_eq!(
            e,
            "RecordingReconnectWindowSeconds must be a whole number, got a list"
        );
        let e = error_of(with(&"Typo".repeat(100_000), json!(1)));
        assert!(e.len() < 200 && !e.contains("did you mean"), "{e}");
    }

    #[test]
    fn replacement_ignores_tags_only() {
        let a = parse(&with("Tags", json!({"a": "1"}))).unwrap();
        let b = parse(&with("Tags", json!({"a": "2"}))).unwrap();
        assert!(!a.needs_replacement(&b));
        let c = parse(&with("Name", json!("other"))).unwrap();
        assert!(a.needs_replacement(&c));
    }

    #[test]
    fn reordered_storage_and_renditions_are_no_change() {
        let spec = |storage: Value, renditions: Value| {
            let mut props = with(
                "ThumbnailConfiguration",
                json!({"RecordingMode": "INTERVAL", "Storage": storage}),
            );
            props["RenditionConfiguration"] =
                json!({"RenditionSelection": "CUSTOM", "Renditions": renditions});
            parse(&props).unwrap()
        };
        let a = spec(
            json!(["SEQUENTIAL", "LATEST"]),
            json!(["HD", "SD", "FULL_HD"]),
        );
        let b = spec(
            json!(["LATEST", "SEQUENTIAL"]),
            json!(["FULL_HD", "SD", "HD"]),
        );
        assert!(!a.needs_replacement(&b));
        let fewer = spec(json!(["LATEST"]), json!(["FULL_HD", "SD", "HD"]));
        assert!(a.needs_replacement(&fewer));
        let other = spec(
            json!(["SEQUENTIAL", "LATEST"]),
            json!(["HD", "SD", "LOWEST_RESOLUTION"]),
        );
        assert!(a.needs_replacement(&other));
    }

    #[test]
    fn duplicate_renditions_are_refused() {
        let e = parse(&with(
            "RenditionConfiguration",
            json!({"RenditionSelection": "CUSTOM", "Renditions": ["HD", "SD", "HD"]}),
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("RenditionConfiguration.Renditions lists HD more than once"),
            "{e}"
        );
    }
}
