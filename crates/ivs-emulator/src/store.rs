//! The recording configurations and channels, and the semantics of each operation on them: the
//! defaults IVS fills in on create, ARNs, tags, pagination, not-found and in-use errors, the lag
//! before reads see a new configuration, and how each configuration's `state` evolves under its
//! [`Stabilization`]. Inputs arrive already validated against the model.

use super::{EmulatorOptions, Operation, Stabilization, StoredConfiguration};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;
use tokio::time::Instant;

const ACTIVE: &str = "ACTIVE";
const CREATING: &str = "CREATING";
const CREATE_FAILED: &str = "CREATE_FAILED";
const DEFAULT_PAGE_SIZE: usize = 50;
/// ListChannels' own default, from the model's documentation of its `maxResults`.
const DEFAULT_CHANNEL_PAGE_SIZE: usize = 100;
const MAX_TAGS_PER_RESOURCE: usize = 50;
/// The ListChannels filters (the model's `filterBy*` members), with the summary member each
/// matches. IVS accepts at most one per call.
const CHANNEL_FILTERS: [(&str, &str); 5] = [
    ("filterByName", "name"),
    (
        "filterByRecordingConfigurationArn",
        "recordingConfigurationArn",
    ),
    (
        "filterByPlaybackRestrictionPolicyArn",
        "playbackRestrictionPolicyArn",
    ),
    ("filterByAdConfigurationArn", "adConfigurationArn"),
    (
        "filterByFailoverSlateConfigurationArn",
        "failoverSlateConfigurationArn",
    ),
];

/// An IVS error answer: the code names the model's error shape, which gives the status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub(super) struct ApiError {
    pub(super) code: &'static str,
    pub(super) message: String,
}

impl ApiError {
    pub(super) fn validation(message: impl Into<String>) -> Self {
        ApiError {
            code: "ValidationException",
            message: message.into(),
        }
    }

    fn not_found(arn: &str) -> Self {
        ApiError {
            code: "ResourceNotFoundException",
            message: format!("Resource {arn} not found"),
        }
    }

    fn conflict(message: String) -> Self {
        ApiError {
            code: "ConflictException",
            message,
        }
    }
}

pub(super) struct Store {
    arn_prefix: String,
    channel_prefix: String,
    stabilization: Stabilization,
    read_lag: Duration,
    ids: Ids,
    /// Keyed by ARN; all ARNs share the prefix, so this is also the order of their ids.
    configurations: BTreeMap<String, Record>,
    /// Keyed by ARN, like the configurations.
    channels: BTreeMap<String, Channel>,
}

struct Channel {
    name: String,
    recording_configuration_arn: String,
}

impl Channel {
    /// The ChannelSummary ListChannels answers: a STANDARD, LOW-latency channel with the
    /// defaults IVS documents, recording with its configuration. No `preset`: the documented ""
    /// for STANDARD channels is not in the model's enum, so the member is left out.
    fn summary(&self, arn: &str) -> Value {
        json!({
            "arn": arn,
            "name": self.name,
            "latencyMode": "LOW",
            "authorized": false,
            "recordingConfigurationArn": self.recording_configuration_arn,
            "tags": {},
            "insecureIngest": false,
            "type": "STANDARD",
            "playbackRestrictionPolicyArn": "",
        })
    }
}

struct Record {
    /// Every member of the configuration except `state` and `tags`, which change over time.
    settings: Map<String, Value>,
    tags: BTreeMap<String, String>,
    created: Instant,
    stabilization: Stabilization,
}

impl Stabilization {
    /// The state `elapsed` after the create; `None` once the configuration has vanished.
    fn state_after(&self, elapsed: Duration) -> Option<&'static str> {
        let after = |delay, then| if elapsed >= delay { then } else { CREATING };
        match self {
            Stabilization::Immediate => Some(ACTIVE),
            Stabilization::ActiveAfter(delay) => Some(after(*delay, ACTIVE)),
            Stabilization::CreateFailedAfter(delay) => Some(after(*delay, CREATE_FAILED)),
            Stabilization::CreatingForever => Some(CREATING),
            Stabilization::VanishAfter(delay) => (elapsed < *delay).then_some(CREATING),
        }
    }
}

impl Record {
    /// Whether reads see the configuration yet: only `lag` after its create.
    fn readable(&self, now: Instant, lag: Duration) -> bool {
        now.saturating_duration_since(self.created) >= lag
    }

    fn state(&self, now: Instant) -> Option<&'static str> {
        self.stabilization
            .state_after(now.saturating_duration_since(self.created))
    }

    /// The configuration as Get answers it.
    fn view(&self, state: &str) -> Value {
        let mut body = self.settings.clone();
        body.insert("state".to_owned(), state.into());
        body.insert("tags".to_owned(), json!(self.tags));
        Value::Object(body)
    }

    fn summary(&self, state: &str) -> Value {
        let mut summary: Map<String, Value> = ["arn", "name", "destinationConfiguration"]
            .into_iter()
            .filter_map(|key| Some((key.to_owned(), self.settings.get(key)?.clone())))
            .collect();
        summary.insert("state".to_owned(), state.into());
        summary.insert("tags".to_owned(), json!(self.tags));
        Value::Object(summary)
    }
}

impl Store {
    pub(super) fn new(options: &EmulatorOptions) -> Self {
        let arn = |kind| {
            format!(
                "arn:aws:ivs:{}:{}:{kind}/",
                options.region, options.account_id
            )
        };
        Store {
            arn_prefix: arn("recording-configuration"),
            channel_prefix: arn("channel"),
            stabilization: options.stabilization.clone(),
            read_lag: options.read_lag,
            ids: Ids::default(),
            configurations: BTreeMap::new(),
            channels: BTreeMap::new(),
        }
    }

    pub(super) fn add_channel(&mut self, name: &str, recording_configuration_arn: &str) -> String {
        let arn = loop {
            let arn = format!("{}{}", self.channel_prefix, self.ids.resource_id());
            if !self.channels.contains_key(&arn) {
                break arn;
            }
        };
        let channel = Channel {
            name: name.to_owned(),
            recording_configuration_arn: recording_configuration_arn.to_owned(),
        };
        self.channels.insert(arn.clone(), channel);
        arn
    }

    pub(super) fn remove_channel(&mut self, arn: &str) -> bool {
        self.channels.remove(arn).is_some()
    }

    pub(super) fn set_stabilization(&mut self, stabilization: Stabilization) {
        self.stabilization = stabilization;
    }

    pub(super) fn request_id(&mut self) -> String {
        self.ids.request_id()
    }

    pub(super) fn configurations(&mut self, now: Instant) -> Vec<StoredConfiguration> {
        self.forget_vanished(now);
        self.visible(now)
            .map(|(arn, record, state)| {
                let bucket = &record.settings["destinationConfiguration"]["s3"]["bucketName"];
                StoredConfiguration {
                    arn: arn.clone(),
                    name: text(record.settings.get("name")).to_owned(),
                    state: state.to_owned(),
                    bucket_name: bucket.as_str().unwrap_or_default().to_owned(),
                    tags: record.tags.clone(),
                    body: record.view(state),
                }
            })
            .collect()
    }

    /// Runs a validated operation; `None` means a success without a body.
    pub(super) fn execute(
        &mut self,
        operation: Operation,
        input: &Value,
        now: Instant,
    ) -> Result<Option<Value>, ApiError> {
        self.forget_vanished(now);
        let arn = text(input.get("arn"));
        let resource_arn = text(input.get("resourceArn"));
        match operation {
            Operation::CreateRecordingConfiguration => {
                let configuration = self.create(input, now)?;
                Ok(Some(json!({ "recordingConfiguration": configuration })))
            }
            Operation::GetRecordingConfiguration => {
                let (record, state) = self.find(arn, now)?;
                Ok(Some(
                    json!({ "recordingConfiguration": record.view(state) }),
                ))
            }
            // A delete is a write, and writes see their own creates at once: only reads lag.
            Operation::DeleteRecordingConfiguration => {
                if !self.configurations.contains_key(arn) {
                    return Err(ApiError::not_found(arn));
                }
                if self
                    .channels
                    .values()
                    .any(|channel| channel.recording_configuration_arn == arn)
                {
                    return Err(ApiError::conflict(format!(
                        "Unable to perform: ivs:DeleteRecordingConfiguration on resource: {arn}; \
                         resource is in use by a channel"
                    )));
                }
                self.configurations.remove(arn);
                Ok(None)
            }
            Operation::ListRecordingConfigurations => Ok(Some(self.list(input, now))),
            Operation::ListChannels => self.list_channels(input).map(Some),
            Operation::TagResource => {
                let record = self.find_mut(resource_arn, now)?;
                let mut tags = record.tags.clone();
                tags.extend(string_map(input.get("tags")));
                if tags.len() > MAX_TAGS_PER_RESOURCE {
                    return Err(ApiError::validation(format!(
                        "A resource can have at most {MAX_TAGS_PER_RESOURCE} tags"
                    )));
                }
                record.tags = tags;
                Ok(Some(json!({})))
            }
            Operation::UntagResource => {
                let record = self.find_mut(resource_arn, now)?;
                for key in input["tagKeys"].as_array().into_iter().flatten() {
                    record.tags.remove(key.as_str().unwrap_or_default());
                }
                Ok(Some(json!({})))
            }
            Operation::ListTagsForResource => {
                let (record, _) = self.find(resource_arn, now)?;
                Ok(Some(json!({ "tags": record.tags })))
            }
            // Routed to the stacks; no IVS route leads here.
            Operation::DescribeStackResource => Err(ApiError {
                code: "UnknownOperationException",
                message: format!("{operation} is not an IVS operation"),
            }),
        }
    }

    fn create(&mut self, input: &Value, now: Instant) -> Result<Value, ApiError> {
        let destination = input
            .get("destinationConfiguration")
            .cloned()
            .unwrap_or_default();
        // The model leaves every destination optional, but IVS needs exactly one to record to.
        if destination.get("s3").is_none() {
            return Err(ApiError::validation(
                "destinationConfiguration must specify a destination: s3",
            ));
        }
        let arn = loop {
            let arn = format!("{}{}", self.arn_prefix, self.ids.resource_id());
            if !self.configurations.contains_key(&arn) {
                break arn;
            }
        };
        let mut rendition = object(input, "renditionConfiguration");
        rendition
            .entry("renditionSelection")
            .or_insert_with(|| "ALL".into());
        let mut thumbnail = object(input, "thumbnailConfiguration");
        thumbnail
            .entry("recordingMode")
            .or_insert_with(|| "INTERVAL".into());
        thumbnail
            .entry("targetIntervalSeconds")
            .or_insert_with(|| 60.into());
        thumbnail
            .entry("storage")
            .or_insert_with(|| json!(["SEQUENTIAL"]));
        let reconnect_window = input
            .get("recordingReconnectWindowSeconds")
            .cloned()
            .unwrap_or_else(|| 0.into());
        let settings = [
            ("arn", Value::from(arn.clone())),
            ("name", text(input.get("name")).into()),
            ("destinationConfiguration", destination),
            ("recordingReconnectWindowSeconds", reconnect_window),
            ("renditionConfiguration", rendition.into()),
            ("thumbnailConfiguration", thumbnail.into()),
        ];
        let record = Record {
            settings: settings
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect(),
            tags: string_map(input.get("tags")),
            created: now,
            stabilization: self.stabilization.clone(),
        };
        // Even one that vanishes at once was still being created when Create answered.
        let view = record.view(record.state(now).unwrap_or(CREATING));
        self.configurations.insert(arn, record);
        Ok(view)
    }

    fn list(&self, input: &Value, now: Instant) -> Value {
        let summaries = self
            .visible(now)
            .filter(|(_, record, _)| record.readable(now, self.read_lag))
            .map(|(arn, record, state)| (arn, record.summary(state)));
        let page = Page {
            prefix: &self.arn_prefix,
            default_size: DEFAULT_PAGE_SIZE,
            member: "recordingConfigurations",
        };
        page.of(summaries, input)
    }

    fn list_channels(&self, input: &Value) -> Result<Value, ApiError> {
        let filters: Vec<(&str, &str)> = CHANNEL_FILTERS
            .into_iter()
            .filter_map(|(filter, member)| {
                let value = text(input.get(filter));
                (!value.is_empty()).then_some((member, value))
            })
            .collect();
        // The model's documentation of ListChannels: filters are mutually exclusive, and using
        // two is a 409 ConflictException (not a ValidationException).
        if filters.len() > 1 {
            return Err(ApiError::conflict(
                "Filters are mutually exclusive and cannot be used together".to_owned(),
            ));
        }
        let summaries = self
            .channels
            .iter()
            .map(|(arn, channel)| (arn, channel.summary(arn)))
            .filter(|(_, summary)| {
                filters
                    .iter()
                    .all(|(member, value)| summary.get(member) == Some(&Value::from(*value)))
            });
        let page = Page {
            prefix: &self.channel_prefix,
            default_size: DEFAULT_CHANNEL_PAGE_SIZE,
            member: "channels",
        };
        Ok(page.of(summaries, input))
    }

    fn forget_vanished(&mut self, now: Instant) {
        self.configurations
            .retain(|_, record| record.state(now).is_some());
    }

    fn visible(&self, now: Instant) -> impl Iterator<Item = (&String, &Record, &'static str)> {
        self.configurations
            .iter()
            .filter_map(move |(arn, record)| Some((arn, record, record.state(now)?)))
    }

    /// A configuration as reads see it.
    fn find(&self, arn: &str, now: Instant) -> Result<(&Record, &'static str), ApiError> {
        self.configurations
            .get(arn)
            .filter(|record| record.readable(now, self.read_lag))
            .and_then(|record| Some((record, record.state(now)?)))
            .ok_or_else(|| ApiError::not_found(arn))
    }

    /// A configuration to tag or untag. Tagging is a write, but it lags like a read: IVS looks
    /// the resource up before it changes its tags.
    fn find_mut(&mut self, arn: &str, now: Instant) -> Result<&mut Record, ApiError> {
        let lag = self.read_lag;
        self.configurations
            .get_mut(arn)
            .filter(|record| record.readable(now, lag))
            .ok_or_else(|| ApiError::not_found(arn))
    }
}

/// How a List operation pages: the token is the id (the ARN after `prefix`) of the first item of
/// the next page, so a page resumes in the right place even when items were deleted in between.
struct Page<'a> {
    prefix: &'a str,
    default_size: usize,
    /// The response member that holds the page.
    member: &'a str,
}

impl Page<'_> {
    /// One page of `items`, which are (ARN, summary) pairs in ARN order.
    fn of<'i>(&self, items: impl Iterator<Item = (&'i String, Value)>, input: &Value) -> Value {
        let size = input
            .get("maxResults")
            .and_then(Value::as_u64)
            .map_or(self.default_size, |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            });
        let first = format!("{}{}", self.prefix, text(input.get("nextToken")));
        let mut remaining = items.filter(|(arn, _)| **arn >= first);
        let page: Vec<Value> = remaining.by_ref().take(size).map(|(_, s)| s).collect();
        let mut response = json!({ self.member: page });
        if let Some((next, _)) = remaining.next() {
            response["nextToken"] = next[self.prefix.len()..].into();
        }
        response
    }
}

fn text(value: Option<&Value>) -> &str {
    value.and_then(Value::as_str).unwrap_or_default()
}

fn object(input: &Value, key: &str) -> Map<String, Value> {
    input
        .get(key)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect()
}

/// Random-looking identifiers without a random-number crate: a counter hashed with the
/// process-randomized keys of std's `RandomState`.
#[derive(Default)]
struct Ids {
    keys: RandomState,
    counter: u64,
}

impl Ids {
    fn next(&mut self) -> u128 {
        self.counter += 1;
        let half = |salt: u8| u128::from(self.keys.hash_one((self.counter, salt)));
        (half(0) << 64) | half(1)
    }

    /// 12 alphanumerics, like the ids in IVS ARNs.
    fn resource_id(&mut self) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut n = self.next();
        (0..12)
            .map(|_| {
                let digit = ALPHABET[(n % 62) as usize];
                n /= 62;
                char::from(digit)
            })
            .collect()
    }

    /// UUID-shaped, like the `x-amzn-RequestId` AWS sends.
    fn request_id(&mut self) -> String {
        let n = self.next();
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            n >> 96,
            (n >> 80) & 0xffff,
            (n >> 64) & 0xffff,
            (n >> 48) & 0xffff,
            n & 0xffff_ffff_ffff
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Model;

    fn store(stabilization: Stabilization) -> Store {
        Store::new(&EmulatorOptions {
            stabilization,
            ..EmulatorOptions::default()
        })
    }

    fn create(store: &mut Store, now: Instant) -> String {
        let created = store
            .execute(
                Operation::CreateRecordingConfiguration,
                &json!({
                    "destinationConfiguration": { "s3": { "bucketName": "bucket" } },
                    "tags": { "team": "video" }
                }),
                now,
            )
            .unwrap()
            .unwrap();
        created["recordingConfiguration"]["arn"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn assert_conforms(shape: &str, response: &Value) {
        let model = Model::embedded().unwrap();
        if let Err(e) = model.validate_named(shape, response) {
            panic!("{shape} does not conform to the model: {e}\n{response:#}");
        }
    }

    #[test]
    fn responses_conform_to_the_model_output_shapes() {
        let mut store = store(Stabilization::Immediate);
        let now = Instant::now();
        let arn = create(&mut store, now);
        store.add_channel("stage", &arn);
        let by_arn = json!({ "arn": arn, "resourceArn": arn });
        for (operation, shape, request) in [
            (
                Operation::GetRecordingConfiguration,
                "GetRecordingConfigurationResponse",
                &by_arn,
            ),
            (
                Operation::ListRecordingConfigurations,
                "ListRecordingConfigurationsResponse",
                &json!({ "maxResults": 1 }),
            ),
            (
                Operation::ListTagsForResource,
                "ListTagsForResourceResponse",
                &by_arn,
            ),
            (
                Operation::ListChannels,
                "ListChannelsResponse",
                &json!({ "maxResults": 1 }),
            ),
        ] {
            let response = store.execute(operation, request, now).unwrap().unwrap();
            assert_conforms(shape, &response);
        }
        assert_conforms("RecordingConfigurationArn", &Value::String(arn.clone()));
        assert_conforms("ResourceArn", &Value::String(arn));
    }

    #[test]
    fn resource_ids_are_twelve_distinct_alphanumerics() {
        let mut ids = Ids::default();
        let generated: std::collections::BTreeSet<String> =
            (0..1000).map(|_| ids.resource_id()).collect();
        assert_eq!(generated.len(), 1000);
        assert!(generated
            .iter()
            .all(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_alphanumeric())));
    }

    #[test]
    fn states_follow_the_stabilization_chosen_at_create() {
        let start = Instant::now();
        let delay = Duration::from_secs(10);
        let mut store = store(Stabilization::ActiveAfter(delay));
        let active_later = create(&mut store, start);
        store.set_stabilization(Stabilization::CreateFailedAfter(delay));
        let failing = create(&mut store, start);
        store.set_stabilization(Stabilization::VanishAfter(delay));
        let vanishing = create(&mut store, start);
        store.set_stabilization(Stabilization::CreatingForever);
        let stuck = create(&mut store, start);

        let states = |store: &mut Store, at| -> BTreeMap<String, String> {
            store
                .configurations(at)
                .into_iter()
                .map(|c| (c.arn, c.state))
                .collect()
        };
        let before = states(&mut store, start + delay / 2);
        assert_eq!(before.len(), 4);
        assert!(before.values().all(|state| state == CREATING));

        let after = states(&mut store, start + delay);
        assert_eq!(after[&active_later], ACTIVE);
        assert_eq!(after[&failing], CREATE_FAILED);
        assert_eq!(after[&stuck], CREATING);
        assert!(!after.contains_key(&vanishing));
    }

    #[test]
    fn tag_resource_refuses_more_than_fifty_tags_in_total() {
        let mut store = store(Stabilization::Immediate);
        let now = Instant::now();
        let arn = create(&mut store, now);
        let tags: Map<String, Value> = (0..50).map(|i| (format!("k{i}"), json!("v"))).collect();
        let error = store
            .execute(
                Operation::TagResource,
                &json!({ "resourceArn": arn, "tags": tags }),
                now,
            )
            .unwrap_err();
        assert_eq!(error.code, "ValidationException");
        assert_eq!(store.configurations(now)[0].tags.len(), 1);
    }
}
