//! [`IvsApi`] over `aws-sdk-ivs`: one SDK operation per call, with the SDK's own retries
//! (adaptive mode: backoff, jitter and client-side rate limiting) inside it.

use super::{CallCount, Channel, Configuration, IvsApi, IvsError, Marked, Operation};
use crate::https::{Https, CONNECT_TIMEOUT};
use crate::ownership::{Marker, MARKER_TAG};
use crate::properties::RecordingSpec;
use aws_sdk_ivs::config::interceptors::FinalizerInterceptorContextRef;
use aws_sdk_ivs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_ivs::error::{BoxError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ivs::types::{
    DestinationConfiguration, RecordingConfiguration, RenditionConfiguration,
    S3DestinationConfiguration, ThumbnailConfiguration,
};
use aws_sdk_ivs::Client;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// [`IvsApi`] over `aws-sdk-ivs`.
#[derive(Clone, Debug)]
pub struct SdkIvs {
    client: Client,
    counter: Arc<AttemptCounter>,
}

impl SdkIvs {
    /// The timeouts the client calls with, which choose its connector.
    #[cfg(test)]
    pub(crate) fn timeout_config(&self) -> Option<aws_smithy_types::timeout::TimeoutConfig> {
        self.client.config().timeout_config().cloned()
    }

    /// The client the function uses, from a loaded SDK configuration: the process's HTTPS stack,
    /// the SDK's adaptive retry mode, bounded timeouts, and a counter of its HTTP attempts.
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        let counter = Arc::new(AttemptCounter::default());
        let config = aws_sdk_ivs::config::Builder::from(sdk)
            .http_client(Https)
            .timeout_config(timeout_config())
            .retry_config(retry_config())
            .interceptor(CountingInterceptor(counter.clone()))
            .build();
        SdkIvs {
            client: Client::from_conf(config),
            counter,
        }
    }
}

/// The SDK retries passing failures (5xx, resets, throttles) itself, with full jitter from
/// 500 ms, and its adaptive mode slows this client down when IVS throttles it. IVS's quotas
/// refill a call every third of a second: quicker retries are throttled again, slower ones leave
/// the quota idle (`cargo bench --bench process`, the storm row, compares settings). Longer waits for throttling and IAM
/// propagation, up to the invocation's deadline, are [`crate::ivs::calls`]'s.
fn retry_config() -> aws_sdk_ivs::config::retry::RetryConfig {
    aws_sdk_ivs::config::retry::RetryConfig::adaptive()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(500))
        .with_max_backoff(Duration::from_secs(2))
}

/// Bounds for every SDK call; the work deadline may cut them shorter. An attempt that hangs is
/// abandoned and retried by the SDK within the operation's time.
fn timeout_config() -> aws_sdk_ivs::config::timeout::TimeoutConfig {
    aws_sdk_ivs::config::timeout::TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(30))
        .build()
}

#[derive(Debug, Default)]
struct AttemptCounter {
    attempts: AtomicU32,
    throttled: AtomicU32,
}

/// Counts every HTTP attempt, the SDK's own retries included, for the invocation's metrics.
#[derive(Debug)]
struct CountingInterceptor(Arc<AttemptCounter>);

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "CountingInterceptor"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.attempts.fetch_add(1, Ordering::Relaxed);
        if context
            .response()
            .is_some_and(|r| r.status().as_u16() == 429)
        {
            self.0.throttled.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

impl Configuration {
    fn from_answer(
        operation: Operation,
        answer: Option<&RecordingConfiguration>,
    ) -> Result<Configuration, IvsError> {
        let found = answer.ok_or(IvsError::Other {
            operation,
            detail: "the answer holds no recordingConfiguration".into(),
            status: None,
        })?;
        Ok(Configuration {
            arn: found.arn().to_string(),
            name: found.name().unwrap_or_default().to_string(),
            state: found.state().clone(),
        })
    }
}

impl IvsApi for SdkIvs {
    async fn create(
        &self,
        spec: &RecordingSpec,
        marker: &Marker,
    ) -> Result<Configuration, IvsError> {
        let op = Operation::Create;
        let mut tags: std::collections::HashMap<String, String> =
            spec.tags.clone().into_iter().collect();
        tags.insert(MARKER_TAG.to_string(), marker.to_tag_value());
        let output = self
            .client
            .create_recording_configuration()
            .destination_configuration(destination(spec))
            .set_name(spec.name.clone())
            .set_recording_reconnect_window_seconds(spec.recording_reconnect_window_seconds)
            .set_thumbnail_configuration(thumbnail(spec))
            .set_rendition_configuration(rendition(spec))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| IvsError::from_sdk(op, e))?;
        Configuration::from_answer(op, output.recording_configuration())
    }

    async fn get(&self, arn: &str) -> Result<Configuration, IvsError> {
        let op = Operation::Get;
        let output = self
            .client
            .get_recording_configuration()
            .arn(arn)
            .send()
            .await
            .map_err(|e| IvsError::from_sdk(op, e))?;
        Configuration::from_answer(op, output.recording_configuration())
    }

    async fn delete(&self, arn: &str) -> Result<(), IvsError> {
        self.client
            .delete_recording_configuration()
            .arn(arn)
            .send()
            .await
            .map_err(|e| IvsError::from_sdk(Operation::Delete, e))?;
        Ok(())
    }

    async fn list_marked(&self) -> Result<Vec<Marked>, IvsError> {
        let mut found = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_recording_configurations()
                .max_results(100)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|e| IvsError::from_sdk(Operation::List, e))?;
            found.extend(
                page.recording_configurations()
                    .iter()
                    .filter_map(|summary| {
                        let marker = Marker::parse(summary.tags()?.get(MARKER_TAG)?)?;
                        Some(Marked {
                            configuration: Configuration {
                                arn: summary.arn().to_string(),
                                name: summary.name().unwrap_or_default().to_string(),
                                state: summary.state().clone(),
                            },
                            marker,
                        })
                    }),
            );
            match page.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
                _ => return Ok(found),
            }
        }
    }

    async fn tags(&self, arn: &str) -> Result<BTreeMap<String, String>, IvsError> {
        let output = self
            .client
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| IvsError::from_sdk(Operation::ListTags, e))?;
        Ok(output
            .tags()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn tag(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<(), IvsError> {
        self.client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| IvsError::from_sdk(Operation::Tag, e))?;
        Ok(())
    }

    async fn untag(&self, arn: &str, keys: &[String]) -> Result<(), IvsError> {
        self.client
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await
            .map_err(|e| IvsError::from_sdk(Operation::Untag, e))?;
        Ok(())
    }

    async fn channels_using(&self, arn: &str, max: i32) -> Result<Vec<Channel>, IvsError> {
        let output = self
            .client
            .list_channels()
            .filter_by_recording_configuration_arn(arn)
            .max_results(max)
            .send()
            .await
            .map_err(|e| IvsError::from_sdk(Operation::ListChannels, e))?;
        Ok(output
            .channels()
            .iter()
            .map(|c| Channel {
                name: c.name().unwrap_or_default().to_string(),
                arn: c.arn().unwrap_or_default().to_string(),
            })
            .collect())
    }

    fn call_count(&self) -> CallCount {
        CallCount {
            attempts: self.counter.attempts.load(Ordering::Relaxed),
            throttled: self.counter.throttled.load(Ordering::Relaxed),
        }
    }
}

fn destination(spec: &RecordingSpec) -> DestinationConfiguration {
    let s3 = S3DestinationConfiguration::builder()
        .bucket_name(&spec.bucket_name)
        .build()
        .expect("bucket_name, the only required field, is set");
    DestinationConfiguration::builder().s3(s3).build()
}

fn thumbnail(spec: &RecordingSpec) -> Option<ThumbnailConfiguration> {
    let t = spec.thumbnail.as_ref()?;
    Some(
        ThumbnailConfiguration::builder()
            .set_recording_mode(t.recording_mode.clone())
            .set_target_interval_seconds(t.target_interval_seconds)
            .set_resolution(t.resolution.clone())
            .set_storage(t.storage.clone())
            .build(),
    )
}

fn rendition(spec: &RecordingSpec) -> Option<RenditionConfiguration> {
    let r = spec.rendition.as_ref()?;
    Some(
        RenditionConfiguration::builder()
            .set_rendition_selection(r.selection.clone())
            .set_renditions(r.renditions.clone())
            .build(),
    )
}

impl IvsError {
    pub(super) fn from_sdk<E>(operation: Operation, err: SdkError<E>) -> IvsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        if let SdkError::ServiceError(context) = &err {
            if let Some(code) = context.err().code() {
                // IVS puts its message in `exceptionMessage`, which the SDK's generic error
                // metadata does not read; the typed errors carry it per operation, the raw
                // body carries it for all of them.
                let message = context
                    .raw()
                    .body()
                    .bytes()
                    .and_then(|body| serde_json::from_slice::<serde_json::Value>(body).ok())
                    .and_then(|body| body["exceptionMessage"].as_str().map(str::to_string))
                    .or_else(|| context.err().message().map(str::to_string))
                    .unwrap_or_else(|| "(no message)".to_string());
                return IvsError::Service {
                    operation,
                    code: code.to_string(),
                    message,
                };
            }
        }
        // No IVS error code: a broken or foreign answer (a proxy's HTML page, a truncated
        // body), a timeout or a connection failure. Say what the SDK saw and what came back.
        let mut detail = DisplayErrorContext(&err).to_string();
        let mut status = None;
        if let Some(raw) = err.raw_response() {
            let body = raw.body().bytes().unwrap_or_default();
            let body: String = String::from_utf8_lossy(body).chars().take(200).collect();
            status = Some(raw.status().as_u16());
            detail.push_str(&format!(" (HTTP {}, body {body:?})", raw.status().as_u16()));
        }
        IvsError::Other {
            operation,
            detail,
            status,
        }
    }
}
