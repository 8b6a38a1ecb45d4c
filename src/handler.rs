//! One invocation, end to end: parse the request, decide, act on IVS, and deliver exactly one
//! answer to CloudFormation before the deadline, whatever happened on the way (a panic included).
//!
//! The handler takes its IVS client from outside, so the Lambda entry point, the local runner
//! and the tests run this same code against real IVS, the emulator or a fault.

use crate::backoff::BackoffPolicy;
use crate::deadline::Deadline;
use crate::event::{EventError, Request, RequestKind};
use crate::ivs::{Configuration, Ivs, IvsError, STATE_CREATE_FAILED};
use crate::lifecycle::{self, Action};
use crate::properties::{RecordingSpec, REQUEST_MARKER_TAG};
use crate::responder::{self, Responder, RetryPolicy, SendError};
use crate::response::{self, Answer};
use crate::stabilize::{self, StabilizeError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use thiserror::Error;
use tracing::{error, info, info_span, warn, Instrument};

#[derive(Clone, Debug)]
pub struct HandlerConfig {
    /// Kept back from Lambda's deadline for cleaning up and delivering the answer.
    pub safety_margin: Duration,
    pub poll: BackoffPolicy,
    /// Retries of a Delete refused because a channel still uses the configuration.
    pub conflict_retry: BackoffPolicy,
    pub send: RetryPolicy,
}

impl Default for HandlerConfig {
    fn default() -> Self {
        HandlerConfig {
            safety_margin: Duration::from_secs(5),
            poll: stabilize::DEFAULT_POLL,
            conflict_retry: BackoffPolicy {
                first: Duration::from_secs(1),
                max: Duration::from_secs(10),
                jitter: true,
            },
            send: responder::DEFAULT_RETRY,
        }
    }
}

/// What the runtime is told when the answer reached CloudFormation.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Delivered {
    pub status: &'static str,
    pub physical_resource_id: String,
    pub reason: String,
}

/// Returned to the Lambda runtime, so that Lambda retries the event (Create is idempotent).
#[derive(Debug, Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("no answer can be sent: {0}")]
    ResponseUrl(SendError),
    #[error("the {status} answer did not reach CloudFormation: {source}")]
    Send {
        status: &'static str,
        source: SendError,
    },
}

/// Why a create ended without a configuration to wait for.
enum CreateError {
    /// IVS refused, or the check before creating failed: nothing was made.
    NothingMade(IvsError),
    /// The create call failed in a way that leaves open whether IVS made the configuration.
    Unknown(IvsError),
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match error {
            HandlerError::Event(_) => "InvalidEvent",
            HandlerError::ResponseUrl(_) => "InvalidResponseURL",
            HandlerError::Send { .. } => "AnswerNotDelivered",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_string(),
            error_message: error.to_string(),
        }
    }
}

#[derive(Debug)]
pub struct Handler {
    ivs: Ivs,
    responder: Responder,
    config: HandlerConfig,
}

impl Handler {
    pub fn new(client: aws_sdk_ivs::Client, config: HandlerConfig) -> Arc<Self> {
        Arc::new(Handler {
            ivs: Ivs::new(client),
            responder: Responder::new(config.send),
            config,
        })
    }

    /// Handles one event; `lambda_deadline` is the invocation's deadline from the runtime.
    pub async fn handle(
        self: &Arc<Self>,
        event: serde_json::Value,
        lambda_deadline: SystemTime,
    ) -> Result<Delivered, HandlerError> {
        let request = Request::parse(event).inspect_err(|e| error!(error = %e, "refused event"))?;
        // An answer that can never be delivered must not be preceded by any change in IVS:
        // CloudFormation would not hear of it, and would not delete it.
        responder::check_url(&request.response_url).map_err(|e| {
            error!(error = %e, "refused event");
            HandlerError::ResponseUrl(e)
        })?;
        let deadline = Deadline::from_lambda(lambda_deadline, self.config.safety_margin);
        let span = info_span!(
            "request",
            request_type = request.request_type(),
            request_id = %request.identity.request_id,
            logical_id = %request.identity.logical_resource_id,
        );
        // Boxed: unboxed, the future's type is nested too deeply for the compiler's layout
        // query once callers wrap it in their own futures.
        Box::pin(self.answer_and_send(request, deadline).instrument(span)).await
    }

    async fn answer_and_send(
        self: &Arc<Self>,
        request: Request,
        deadline: Deadline,
    ) -> Result<Delivered, HandlerError> {
        // Shared rather than cloned with the task that acts on it: cloning its properties
        // recurses as deep as they are nested.
        let request = Arc::new(request);
        info!(
            physical_id = request.physical_resource_id().unwrap_or(""),
            response_url = %responder::redact_str(&request.response_url),
            work_left_ms = deadline.work_left().as_millis() as u64,
            "received"
        );
        let answer = self.answer(&request, deadline).await;
        let body = response::body(&request.identity, &answer);
        let status = answer.status.as_str();
        info!(
            status,
            physical_id = %answer.physical_resource_id,
            reason = %log_excerpt(&answer.reason),
            "answering"
        );
        self.responder
            .send(&request.response_url, body, deadline.send_by())
            .await
            .map_err(|source| {
                error!(status, error = %source, "answer not delivered; failing the invocation so Lambda retries it");
                HandlerError::Send { status, source }
            })?;
        Ok(Delivered {
            status,
            physical_resource_id: answer.physical_resource_id,
            reason: answer.reason,
        })
    }

    /// Decides and acts, on a task of its own so that a panic becomes a FAILED answer.
    async fn answer(self: &Arc<Self>, request: &Arc<Request>, deadline: Deadline) -> Answer {
        let fallback_id = lifecycle::fallback_physical_id(request);
        if deadline.work_expired() {
            return Answer::failed(
                fallback_id,
                format!(
                    "timed out before starting: the invocation arrived with {:.1?} left, less than the {:?} safety margin kept for answering; nothing was changed. Raise the function's timeout",
                    deadline.hard_left(),
                    self.config.safety_margin
                ),
            );
        }
        let handler = Arc::clone(self);
        let owned = Arc::clone(request);
        let id = fallback_id.clone();
        answer_or_failed(
            async move { handler.act(&owned, id, &deadline).await }.in_current_span(),
            fallback_id,
        )
        .await
    }

    /// `fallback_id` is the PhysicalResourceId of an answer that names no configuration.
    async fn act(&self, request: &Request, fallback_id: String, deadline: &Deadline) -> Answer {
        match lifecycle::decide(request) {
            Action::Reject { error } => {
                Answer::failed(fallback_id, format!("Invalid properties: {error}"))
            }
            Action::NothingToDelete => Answer::success(
                fallback_id.clone(),
                format!("Nothing to delete: {fallback_id} names no recording configuration (its Create failed)"),
                BTreeMap::new(),
            ),
            Action::Create { spec } => {
                let replacing = matches!(request.kind, RequestKind::Update { .. });
                self.create(request, &spec, fallback_id, replacing, deadline)
                    .await
            }
            Action::Replace { old_arn, spec } => {
                self.create(request, &spec, old_arn, true, deadline).await
            }
            Action::UpdateTags { arn, tags } => self.update_tags(&arn, &tags, deadline).await,
            Action::Delete { arn } => self.delete(&arn, deadline).await,
        }
    }

    /// Creates (or finds, when this request already created it) a configuration and waits for
    /// it to be ACTIVE. `failure_id` is the PhysicalResourceId of a FAILED answer; `replacing`
    /// says CloudFormation already holds a resource under it, so nothing new may be left behind.
    async fn create(
        &self,
        request: &Request,
        spec: &RecordingSpec,
        failure_id: String,
        replacing: bool,
        deadline: &Deadline,
    ) -> Answer {
        let marker = &request.identity.request_id;
        let mut current = match self.create_once(spec, marker, deadline).await {
            Ok(created) => created,
            Err(CreateError::NothingMade(e)) => return Answer::failed(failure_id, e.to_string()),
            Err(CreateError::Unknown(e)) => {
                return self
                    .sweep(marker, e.to_string(), failure_id, replacing, deadline)
                    .await
            }
        };
        let mut settled = false;
        loop {
            let arn = current.arn.clone();
            match stabilize::wait_until_active(&self.ivs, current, self.config.poll, deadline).await
            {
                // A concurrent delivery may have created one after our first check: look once
                // more before answering, so that both answer with the same configuration.
                Ok(active) if !settled => {
                    settled = true;
                    current = self.settle(active, marker, deadline).await;
                }
                Ok(active) => {
                    info!(arn = %active.arn, state = %active.state, "active");
                    return Answer::success(
                        active.arn.clone(),
                        format!("Recording configuration {} is ACTIVE", active.arn),
                        data(&active),
                    );
                }
                Err(e) => {
                    let reason = match &e {
                        StabilizeError::CreateFailed(c) => create_failed_reason(c, spec),
                        StabilizeError::Vanished { arn } => format!("Recording configuration {arn} disappeared while waiting for it to become ACTIVE (deleted outside this stack?)"),
                        other => other.to_string(),
                    };
                    return self
                        .clean_up(&arn, reason, failure_id, replacing, deadline)
                        .await;
                }
            }
        }
    }

    /// The configuration this request created, creating it only if no earlier delivery of the
    /// same request did.
    async fn create_once(
        &self,
        spec: &RecordingSpec,
        marker: &str,
        deadline: &Deadline,
    ) -> Result<Configuration, CreateError> {
        let earlier = self
            .ivs
            .find_by_marker(marker, deadline)
            .await
            .map_err(CreateError::NothingMade)?;
        if let Some(earlier) = earlier.into_iter().next() {
            info!(arn = %earlier.arn, state = %earlier.state, "found the configuration an earlier delivery of this request created");
            return Ok(earlier);
        }
        let created = self.ivs.create(spec, marker, deadline).await.map_err(|e| {
            if e.is_refusal() {
                CreateError::NothingMade(e)
            } else {
                CreateError::Unknown(e)
            }
        })?;
        info!(arn = %created.arn, state = %created.state, "created");
        Ok(self.settle(created, marker, deadline).await)
    }

    /// Deliveries of one request that raced each other settle on the lowest ARN carrying its
    /// marker: returns the configuration to keep, having deleted `mine` if another one wins.
    async fn settle(
        &self,
        mine: Configuration,
        marker: &str,
        deadline: &Deadline,
    ) -> Configuration {
        let winner = match self.ivs.find_by_marker(marker, deadline).await {
            Ok(all) => all.into_iter().find(|c| c.state != STATE_CREATE_FAILED),
            Err(e) => {
                warn!(error = %e, "could not check for a concurrent delivery; keeping ours");
                None
            }
        };
        match winner {
            Some(winner) if winner.arn != mine.arn => {
                info!(arn = %mine.arn, kept = %winner.arn, "a concurrent delivery created one too; deleting ours");
                if let Err(e) = self.ivs.delete(&mine.arn, deadline).await {
                    warn!(arn = %mine.arn, error = %e, "could not delete the duplicate");
                }
                winner
            }
            _ => mine,
        }
    }

    /// After a create call whose outcome is unknown (a timeout, a server error): IVS may have
    /// made the configuration all the same, so look for it by the request marker and delete it.
    async fn sweep(
        &self,
        marker: &str,
        reason: String,
        failure_id: String,
        replacing: bool,
        deadline: &Deadline,
    ) -> Answer {
        match self.ivs.find_by_marker(marker, &deadline.for_cleanup()).await {
            Ok(found) => match found.first() {
                None => Answer::failed(failure_id, format!("{reason}. No configuration was made")),
                Some(made) => {
                    self.clean_up(&made.arn, reason, failure_id, replacing, deadline)
                        .await
                }
            },
            Err(e) => Answer::failed(
                failure_id,
                format!("{reason}. Whether IVS made the configuration anyway could not be checked ({e}): look for one tagged {REQUEST_MARKER_TAG}={marker}"),
            ),
        }
    }

    /// After a create went wrong: delete what was made, then say what is left.
    async fn clean_up(
        &self,
        arn: &str,
        reason: String,
        failure_id: String,
        replacing: bool,
        deadline: &Deadline,
    ) -> Answer {
        match self.ivs.delete(arn, &deadline.for_cleanup()).await {
            Ok(()) => {
                info!(arn, "deleted the configuration that did not become ACTIVE");
                Answer::failed(
                    failure_id,
                    format!("{reason}. It was deleted; nothing is left behind"),
                )
            }
            Err(e) if e.is_not_found() => Answer::failed(
                failure_id,
                format!("{reason}. It no longer exists; nothing is left behind"),
            ),
            Err(e) if replacing => Answer::failed(
                failure_id,
                format!("{reason}. Deleting it failed ({e}): delete recording configuration {arn} by hand"),
            ),
            // CloudFormation's rollback sends Delete for this id, which deletes it then.
            Err(e) => Answer::failed(
                arn,
                format!("{reason}. Deleting it failed ({e}); the stack's rollback will delete it"),
            ),
        }
    }

    async fn update_tags(
        &self,
        arn: &str,
        desired: &BTreeMap<String, String>,
        deadline: &Deadline,
    ) -> Answer {
        match self.set_tags(arn, desired, deadline).await {
            Ok((changes, current)) => {
                info!(arn, set = changes.set.len(), removed = changes.remove.len(), "tags updated in place");
                let summary = if changes.is_empty() {
                    "no change".to_string()
                } else {
                    format!(
                        "set {:?}, removed {:?}",
                        changes.set.keys().collect::<Vec<_>>(),
                        changes.remove
                    )
                };
                Answer::success(
                    arn,
                    format!("Updated tags of {arn} in place: {summary}"),
                    data(&current),
                )
            }
            Err(e) if e.is_not_found() => Answer::failed(
                arn,
                format!("Recording configuration {arn} no longer exists, so its tags cannot be updated ({e})"),
            ),
            Err(e) => Answer::failed(arn, e.to_string()),
        }
    }

    async fn set_tags(
        &self,
        arn: &str,
        desired: &BTreeMap<String, String>,
        deadline: &Deadline,
    ) -> Result<(lifecycle::TagChanges, Configuration), IvsError> {
        let current = self.ivs.tags(arn, deadline).await?;
        let changes = lifecycle::tag_changes(&current, desired);
        if !changes.remove.is_empty() {
            self.ivs.untag(arn, &changes.remove, deadline).await?;
        }
        if !changes.set.is_empty() {
            self.ivs.tag(arn, &changes.set, deadline).await?;
        }
        let configuration = self.ivs.get(arn, deadline).await?;
        Ok((changes, configuration))
    }

    async fn delete(&self, arn: &str, deadline: &Deadline) -> Answer {
        let mut backoff = self.config.conflict_retry.start();
        let mut attempts = 0;
        let mut conflict: Option<IvsError> = None;
        loop {
            attempts += 1;
            let started = Instant::now();
            let error = match self.ivs.delete(arn, deadline).await {
                Ok(()) => {
                    info!(arn, "deleted");
                    return Answer::success(
                        arn,
                        format!("Deleted recording configuration {arn}"),
                        BTreeMap::new(),
                    );
                }
                Err(e) if e.is_not_found() => {
                    info!(arn, "already gone");
                    return Answer::success(
                        arn,
                        format!("Recording configuration {arn} was already gone"),
                        BTreeMap::new(),
                    );
                }
                Err(e) if e.is_conflict() => e,
                // A retry cut short by the deadline still failed for the conflict before it.
                Err(IvsError::Deadline { .. }) if conflict.is_some() => break,
                Err(e) => return Answer::failed(arn, e.to_string()),
            };
            conflict = Some(error);
            // Room for the wait and one more call as long as the last one took.
            let delay = backoff.next_delay();
            if deadline.work_left() <= delay + started.elapsed() {
                break;
            }
            warn!(
                arn,
                attempts, "a channel still uses the configuration; retrying"
            );
            tokio::time::sleep(delay).await;
        }
        let conflict = conflict.map(|e| e.to_string()).unwrap_or_default();
        Answer::failed(arn, format!(
            "A channel still references recording configuration {arn}: {conflict}. Gave up after {attempts} attempts before the function's deadline. Remove it from the channel (recordingConfigurationArn) or delete the channel, then retry"
        ))
    }
}

/// Runs `work` on its own task: a panic inside becomes a FAILED answer instead of silence.
pub async fn answer_or_failed(
    work: impl Future<Output = Answer> + Send + 'static,
    fallback_id: String,
) -> Answer {
    match tokio::spawn(work).await {
        Ok(answer) => answer,
        Err(e) => {
            let detail = if e.is_panic() {
                let payload = e.into_panic();
                payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".to_string())
            } else {
                e.to_string()
            };
            error!(panic = %detail, "handler panicked");
            Answer::failed(
                fallback_id,
                format!("Internal error in cfn-ivs-recording (it panicked: {detail}); see the function's logs"),
            )
        }
    }
}

/// A Reason as the logs show it: CloudWatch caps a log event at 256 KB, and the answer itself
/// holds at most 4 KB of it anyway.
fn log_excerpt(reason: &str) -> &str {
    match reason.char_indices().nth(1024) {
        None => reason,
        Some((end, _)) => &reason[..end],
    }
}

fn data(configuration: &Configuration) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("Arn".to_string(), configuration.arn.clone()),
        ("State".to_string(), configuration.state.clone()),
        ("Name".to_string(), configuration.name.clone()),
    ])
}

fn create_failed_reason(configuration: &Configuration, spec: &RecordingSpec) -> String {
    let region = lifecycle::arn_region(&configuration.arn).unwrap_or("its region");
    format!(
        "Recording configuration {} went to CREATE_FAILED. The likely cause (a known IVS issue): S3 bucket {} is not in {region}, the configuration's region; use a bucket in {region}",
        configuration.arn, spec.bucket_name
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::Status;

    #[tokio::test]
    async fn a_panic_becomes_a_failed_answer_naming_it() {
        let answer =
            answer_or_failed(async { panic!("boom at step 3") }, "fallback-id".into()).await;
        assert_eq!(answer.status, Status::Failed);
        assert_eq!(answer.physical_resource_id, "fallback-id");
        assert!(
            answer.reason.contains("panicked: boom at step 3"),
            "{}",
            answer.reason
        );
    }

    #[tokio::test]
    async fn a_normal_answer_passes_through() {
        let answer = answer_or_failed(
            async { Answer::success("arn", "ok", BTreeMap::new()) },
            "f".into(),
        )
        .await;
        assert_eq!(answer, Answer::success("arn", "ok", BTreeMap::new()));
    }

    #[test]
    fn create_failed_reason_names_bucket_and_region() {
        let c = Configuration {
            arn: "arn:aws:ivs:us-east-1:123456789012:recording-configuration/abc".into(),
            name: String::new(),
            state: "CREATE_FAILED".into(),
        };
        let spec = RecordingSpec {
            bucket_name: "eu-bucket".into(),
            ..Default::default()
        };
        let r = create_failed_reason(&c, &spec);
        assert!(
            r.contains("CREATE_FAILED") && r.contains("eu-bucket") && r.contains("us-east-1"),
            "{r}"
        );
    }
}
