//! The IVS operations the resource needs, over `aws-sdk-ivs`, with errors reduced to what a
//! CloudFormation Reason must say: the operation, IVS's error code and its `exceptionMessage`.
//!
//! Every call is bounded twice: by the client's own operation timeout (set where the client is
//! built) and by the invocation's work deadline, whichever comes first.

use crate::deadline::Deadline;
use crate::properties::{RecordingSpec, REQUEST_MARKER_TAG};
use aws_sdk_ivs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ivs::types::{
    DestinationConfiguration, RecordingConfiguration, RecordingMode, RenditionConfiguration,
    RenditionConfigurationRendition, RenditionConfigurationRenditionSelection,
    S3DestinationConfiguration, ThumbnailConfiguration, ThumbnailConfigurationResolution,
    ThumbnailConfigurationStorage,
};
use aws_sdk_ivs::Client;
use std::collections::BTreeMap;
use std::future::Future;
use thiserror::Error;

pub const STATE_ACTIVE: &str = "ACTIVE";
pub const STATE_CREATE_FAILED: &str = "CREATE_FAILED";

/// What the handler needs to know of a recording configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Configuration {
    pub arn: String,
    pub name: String,
    pub state: String,
}

impl Configuration {
    fn from_answer(
        operation: &'static str,
        answer: Option<&RecordingConfiguration>,
    ) -> Result<Configuration, IvsError> {
        let found = answer.ok_or(IvsError::Other {
            operation,
            detail: "the answer holds no recordingConfiguration".into(),
        })?;
        Ok(Configuration {
            arn: found.arn().to_string(),
            name: found.name().unwrap_or_default().to_string(),
            state: found.state().as_str().to_string(),
        })
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum IvsError {
    #[error("IVS {operation} failed with {code}: {message}")]
    Service {
        operation: &'static str,
        code: String,
        message: String,
    },
    #[error("timed out waiting for IVS {operation}: no answer before the function's deadline")]
    Deadline { operation: &'static str },
    #[error("IVS {operation} failed: {detail}")]
    Other {
        operation: &'static str,
        detail: String,
    },
}

impl IvsError {
    pub fn code(&self) -> Option<&str> {
        match self {
            IvsError::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.code() == Some("ResourceNotFoundException")
    }

    pub fn is_conflict(&self) -> bool {
        self.code() == Some("ConflictException")
    }

    /// Errors that asking again cannot fix: the request or the account is wrong.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self.code(),
            Some(
                "ValidationException"
                    | "AccessDeniedException"
                    | "PendingVerification"
                    | "ServiceQuotaExceededException"
            )
        )
    }

    /// Whether IVS said no for certain, so that the call cannot have changed anything. A
    /// throttle or server error after the SDK's retries, a timeout or a broken answer leave it
    /// open whether the change was made.
    pub fn is_refusal(&self) -> bool {
        self.is_permanent() || self.is_conflict() || self.is_not_found()
    }

    fn from_sdk<E>(operation: &'static str, err: SdkError<E>) -> IvsError
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
        if let Some(raw) = err.raw_response() {
            let body = raw.body().bytes().unwrap_or_default();
            let body: String = String::from_utf8_lossy(body).chars().take(200).collect();
            detail.push_str(&format!(" (HTTP {}, body {body:?})", raw.status().as_u16()));
        }
        IvsError::Other { operation, detail }
    }
}

/// The IVS client, as the handler uses it.
#[derive(Clone, Debug)]
pub struct Ivs {
    client: Client,
}

impl Ivs {
    pub fn new(client: Client) -> Self {
        Ivs { client }
    }

    /// Creates a configuration carrying `request_marker`, the id of the request that asked for it.
    pub async fn create(
        &self,
        spec: &RecordingSpec,
        request_marker: &str,
        deadline: &Deadline,
    ) -> Result<Configuration, IvsError> {
        let op = "CreateRecordingConfiguration";
        let mut tags: std::collections::HashMap<String, String> =
            spec.tags.clone().into_iter().collect();
        tags.insert(REQUEST_MARKER_TAG.to_string(), request_marker.to_string());
        let request = self
            .client
            .create_recording_configuration()
            .destination_configuration(destination(spec))
            .set_name(spec.name.clone())
            .set_recording_reconnect_window_seconds(spec.recording_reconnect_window_seconds)
            .set_thumbnail_configuration(thumbnail(spec))
            .set_rendition_configuration(rendition(spec))
            .set_tags(Some(tags));
        let output = bounded(op, deadline, request.send()).await?;
        Configuration::from_answer(op, output.recording_configuration())
    }

    pub async fn get(&self, arn: &str, deadline: &Deadline) -> Result<Configuration, IvsError> {
        let op = "GetRecordingConfiguration";
        let request = self.client.get_recording_configuration().arn(arn);
        let output = bounded(op, deadline, request.send()).await?;
        Configuration::from_answer(op, output.recording_configuration())
    }

    pub async fn delete(&self, arn: &str, deadline: &Deadline) -> Result<(), IvsError> {
        let request = self.client.delete_recording_configuration().arn(arn);
        bounded("DeleteRecordingConfiguration", deadline, request.send()).await?;
        Ok(())
    }

    /// Every configuration whose request marker is `request_marker`, sorted by ARN.
    pub async fn find_by_marker(
        &self,
        request_marker: &str,
        deadline: &Deadline,
    ) -> Result<Vec<Configuration>, IvsError> {
        let op = "ListRecordingConfigurations";
        let mut found = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let request = self
                .client
                .list_recording_configurations()
                .max_results(100)
                .set_next_token(next_token.take());
            let page = bounded(op, deadline, request.send()).await?;
            found.extend(
                page.recording_configurations()
                    .iter()
                    .filter(|summary| {
                        summary
                            .tags()
                            .and_then(|tags| tags.get(REQUEST_MARKER_TAG))
                            .is_some_and(|marker| marker == request_marker)
                    })
                    .map(|summary| Configuration {
                        arn: summary.arn().to_string(),
                        name: summary.name().unwrap_or_default().to_string(),
                        state: summary.state().as_str().to_string(),
                    }),
            );
            match page.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
                _ => break,
            }
        }
        found.sort_by(|a, b| a.arn.cmp(&b.arn));
        Ok(found)
    }

    pub async fn tags(
        &self,
        arn: &str,
        deadline: &Deadline,
    ) -> Result<BTreeMap<String, String>, IvsError> {
        let request = self.client.list_tags_for_resource().resource_arn(arn);
        let output = bounded("ListTagsForResource", deadline, request.send()).await?;
        Ok(output
            .tags()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    pub async fn tag(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
        deadline: &Deadline,
    ) -> Result<(), IvsError> {
        let request = self
            .client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags.clone().into_iter().collect()));
        bounded("TagResource", deadline, request.send()).await?;
        Ok(())
    }

    pub async fn untag(
        &self,
        arn: &str,
        keys: &[String],
        deadline: &Deadline,
    ) -> Result<(), IvsError> {
        let request = self
            .client
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(keys.to_vec()));
        bounded("UntagResource", deadline, request.send()).await?;
        Ok(())
    }
}

/// Runs one SDK call, stopping it at the work deadline.
async fn bounded<T, E>(
    operation: &'static str,
    deadline: &Deadline,
    call: impl Future<Output = Result<T, SdkError<E>>>,
) -> Result<T, IvsError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(deadline.work_left(), call).await {
        Ok(result) => result.map_err(|e| IvsError::from_sdk(operation, e)),
        Err(_) => Err(IvsError::Deadline { operation }),
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
            .set_recording_mode(t.recording_mode.map(RecordingMode::from))
            .set_target_interval_seconds(t.target_interval_seconds)
            .set_resolution(t.resolution.map(ThumbnailConfigurationResolution::from))
            .set_storage(t.storage.as_ref().map(|s| {
                s.iter()
                    .map(|v| ThumbnailConfigurationStorage::from(*v))
                    .collect()
            }))
            .build(),
    )
}

fn rendition(spec: &RecordingSpec) -> Option<RenditionConfiguration> {
    let r = spec.rendition.as_ref()?;
    Some(
        RenditionConfiguration::builder()
            .set_rendition_selection(
                r.selection
                    .map(RenditionConfigurationRenditionSelection::from),
            )
            .set_renditions(r.renditions.as_ref().map(|list| {
                list.iter()
                    .map(|v| RenditionConfigurationRendition::from(*v))
                    .collect()
            }))
            .build(),
    )
}

/// Bounds for every SDK call; the work deadline may cut them shorter. An attempt that hangs is
/// abandoned and retried by the SDK's standard retry policy within the operation's time.
pub fn timeout_config() -> aws_sdk_ivs::config::timeout::TimeoutConfig {
    aws_sdk_ivs::config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .operation_attempt_timeout(std::time::Duration::from_secs(10))
        .operation_timeout(std::time::Duration::from_secs(30))
        .build()
}

/// The IVS client the handler uses, from a loaded SDK configuration.
pub fn client(sdk: &aws_config::SdkConfig) -> Client {
    let config = aws_sdk_ivs::config::Builder::from(sdk)
        .timeout_config(timeout_config())
        .build();
    Client::from_conf(config)
}
