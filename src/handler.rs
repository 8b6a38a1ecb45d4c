//! One invocation, end to end: parse the request, decide, act on IVS on a task of its own, and
//! deliver exactly one answer to CloudFormation before the deadline, whatever happened on the
//! way (a panic included); then one metrics record.
//!
//! The handler takes its IVS client from outside, so the Lambda entry point, the local runner
//! and the tests run this same code against real IVS, the emulator or a fake.

use crate::actions::cancelled::{self, Awaited};
use crate::actions::create::CreateFlow;
use crate::actions::{delete, refusals, tagging, Acted};
use crate::answer::send::{self, AnswerSender, SendError};
use crate::answer::{self, Answer};
use crate::cloudformation::{CloudFormationApi, SdkCloudFormation};
pub use crate::config::HandlerConfig;
use crate::event::{EventError, Request, RequestKind};
use crate::ivs::Calls;
use crate::ivs::{IvsApi, SdkIvs};
use crate::lifecycle::{self, Action};
use crate::metrics::{InvocationMetrics, Outcome};
use crate::ownership::{Home, MARKER_TAG};
use crate::timing::deadline::Deadline;
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use thiserror::Error;
use tracing::{error, info, info_span, warn, Instrument};

/// What the runtime is told when the answer reached CloudFormation.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Delivered {
    /// SUCCESS or FAILED.
    pub status: &'static str,
    /// The PhysicalResourceId answered.
    pub physical_resource_id: String,
    /// The Reason answered.
    pub reason: String,
}

/// Returned to the Lambda runtime, so that Lambda retries the event (Create is idempotent).
#[derive(Debug, Error)]
pub enum HandlerError {
    /// The event is no custom-resource request.
    #[error(transparent)]
    Event(#[from] EventError),
    /// The event's ResponseURL cannot be answered.
    #[error("no answer can be sent: {0}")]
    ResponseUrl(SendError),
    /// The answer did not reach CloudFormation.
    #[error("the {status} answer did not reach CloudFormation: {source}")]
    Send {
        /// The answer's status.
        status: &'static str,
        /// Why it did not arrive.
        source: SendError,
    },
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

/// The custom resource's handler, shared by every invocation of a process.
#[derive(Debug)]
pub struct Handler<A = SdkIvs, C = SdkCloudFormation> {
    ivs: A,
    cloudformation: C,
    sender: AnswerSender,
    config: HandlerConfig,
}

/// One invocation's request and what bounds it.
struct Invocation {
    /// Shared rather than cloned with the task that acts on it: cloning its properties
    /// recurses as deep as they are nested.
    request: Arc<Request>,
    deadline: Deadline,
    /// Where the function runs, when the runtime said.
    home: Option<Home>,
}

/// What one invocation came to, with what its metrics report.
struct Invoked {
    request_type: Option<&'static str>,
    time_to_active: Option<Duration>,
    send_attempts: u32,
    result: Result<Delivered, HandlerError>,
}

impl Invoked {
    /// Refused before anything was done.
    fn refused(request_type: Option<&'static str>, error: HandlerError) -> Invoked {
        error!(error = %error, "refused event");
        Invoked {
            request_type,
            time_to_active: None,
            send_attempts: 0,
            result: Err(error),
        }
    }
}

impl<A: IvsApi, C: CloudFormationApi> Handler<A, C> {
    /// A handler calling IVS through `ivs`, and asking `cloudformation` whether it still waits
    /// for a new configuration's answer.
    pub fn new(ivs: A, cloudformation: C, config: HandlerConfig) -> Arc<Self> {
        Arc::new(Handler {
            ivs,
            cloudformation,
            sender: AnswerSender::new(config.send, config.allow_plain_http),
            config,
        })
    }

    /// Handles one event; `lambda_deadline` is the invocation's deadline from the runtime.
    pub async fn handle(
        self: &Arc<Self>,
        event: serde_json::Value,
        lambda_deadline: SystemTime,
    ) -> Result<Delivered, HandlerError> {
        self.handle_for(event, lambda_deadline, None).await
    }

    /// Handles one event for the function `function_arn` (the invoked function's ARN from the
    /// Lambda context): configurations outside its account, region and partition are refused.
    pub async fn handle_for(
        self: &Arc<Self>,
        event: serde_json::Value,
        lambda_deadline: SystemTime,
        function_arn: Option<&str>,
    ) -> Result<Delivered, HandlerError> {
        let started = Instant::now();
        let calls_before = self.ivs.call_count();
        let invoked = self.invoke(event, lambda_deadline, function_arn).await;
        if let Some(namespace) = &self.config.metrics_namespace {
            let outcome = match &invoked.result {
                Ok(delivered) if delivered.status == "SUCCESS" => Outcome::Success,
                Ok(_) => Outcome::Failed,
                Err(_) => Outcome::NotDelivered,
            };
            let metrics = InvocationMetrics {
                request_type: invoked.request_type.unwrap_or("Unknown"),
                outcome,
                duration: started.elapsed(),
                time_to_active: invoked.time_to_active,
                calls: self.ivs.call_count() - calls_before,
                delivery_attempts: invoked.send_attempts,
            };
            // Straight to stdout, beside the logs: CloudWatch reads EMF from the log stream.
            println!("{}", metrics.record(namespace));
        }
        invoked.result
    }

    async fn invoke(
        self: &Arc<Self>,
        event: serde_json::Value,
        lambda_deadline: SystemTime,
        function_arn: Option<&str>,
    ) -> Invoked {
        let request = match Request::parse(event) {
            Ok(request) => request,
            Err(e) => return Invoked::refused(None, HandlerError::Event(e)),
        };
        // An answer that can never be delivered must not be preceded by any change in IVS:
        // CloudFormation would not hear of it, and would not delete it.
        if let Err(e) = self.sender.check_url(&request.response_url) {
            let request_type = Some(request.request_type());
            return Invoked::refused(request_type, HandlerError::ResponseUrl(e));
        }
        if Deadline::is_relative(lambda_deadline) {
            warn!("the runtime's deadline is a timeout, not a time (a local Runtime API such as cargo lambda watch): counting it from now");
        }
        let span = info_span!(
            "request",
            request_type = request.request_type(),
            request_id = %request.identity.request_id,
            logical_id = %request.identity.logical_resource_id,
        );
        let invocation = Invocation {
            request: Arc::new(request),
            deadline: Deadline::from_lambda(lambda_deadline, self.config.safety_margin),
            home: function_arn.and_then(Home::from_function_arn),
        };
        // Boxed: unboxed, the future's type is nested too deeply for the compiler's layout
        // query once callers wrap it in their own futures.
        Box::pin(self.answer_and_send(invocation).instrument(span)).await
    }

    async fn answer_and_send(self: &Arc<Self>, invocation: Invocation) -> Invoked {
        let request = &invocation.request;
        info!(
            physical_id = request.physical_resource_id().unwrap_or(""),
            response_url = %send::redact_str(&request.response_url),
            work_left_ms = invocation.deadline.work_left().as_millis() as u64,
            "received"
        );
        let acted = self.act_guarded(&invocation).await;
        let answer = acted.answer;
        if self.config.allow_plain_http && send::is_unresolved(&answer.reason) {
            error!(
                hint = send::SAM_LOCAL_HINT,
                "a host does not resolve in the function's container"
            );
        }
        let body = answer::body(&request.identity, &answer);
        let status = answer.status.as_str();
        info!(
            status,
            physical_id = %answer.physical_resource_id,
            reason = %log_excerpt(&answer.reason),
            "answering"
        );
        let sent = self
            .sender
            .send(&request.response_url, body, invocation.deadline.send_by())
            .await;
        let result = match sent.result {
            Ok(_) => Ok(Delivered {
                status,
                physical_resource_id: answer.physical_resource_id,
                reason: answer.reason,
            }),
            Err(source) => {
                error!(status, error = %source, "answer not delivered; failing the invocation so Lambda retries it");
                Err(HandlerError::Send { status, source })
            }
        };
        Invoked {
            request_type: Some(request.request_type()),
            time_to_active: acted.time_to_active,
            send_attempts: sent.attempts,
            result,
        }
    }

    /// Decides and acts, on a task of its own so that a panic becomes a FAILED answer; a panic
    /// after a configuration was made deletes it first, found by the request's marker.
    async fn act_guarded(self: &Arc<Self>, invocation: &Invocation) -> Acted {
        let request = &invocation.request;
        let deadline = invocation.deadline;
        let fallback_id = lifecycle::fallback_physical_id(request);
        if deadline.work_expired() {
            return refusals::no_time_left(fallback_id, &deadline, self.config.safety_margin)
                .into();
        }
        let handler = Arc::clone(self);
        let owned = Arc::clone(request);
        let home = invocation.home.clone();
        let id = fallback_id.clone();
        let work = async move { handler.act(&owned, id, deadline, home.as_ref()).await };
        match catch_panic(work.in_current_span()).await {
            Ok(acted) => acted,
            Err(panic) => {
                error!(panic = %panic, "handler panicked");
                let cleaned = match request.kind {
                    RequestKind::Delete { .. } => String::new(),
                    _ => self.sweep_after_panic(request, &deadline).await,
                };
                Answer::failed(
                    fallback_id,
                    format!("Internal error in cfn-ivs-recording (it panicked: {panic}); see the function's logs.{cleaned}"),
                )
                .into()
            }
        }
    }

    /// `fallback_id` is the PhysicalResourceId of an answer that names no configuration.
    async fn act(
        &self,
        request: &Request,
        fallback_id: String,
        deadline: Deadline,
        home: Option<&Home>,
    ) -> Acted {
        let calls = Calls::new(&self.ivs, self.config.calls, deadline);
        let create = |spec, failure_id, replacing| CreateFlow {
            calls: &calls,
            cloudformation: &self.cloudformation,
            ask_within: self.config.ask_cloudformation_within,
            spec,
            identity: &request.identity,
            awaited: match request.kind {
                RequestKind::Create => Awaited::Create,
                _ => Awaited::Update,
            },
            failure_id,
            replacing,
            poll: self.config.poll,
        };
        match lifecycle::decide(request, home) {
            Action::Reject { error } => refusals::invalid_properties(fallback_id, &error).into(),
            Action::NothingToDelete => refusals::nothing_to_delete(fallback_id).into(),
            Action::DeleteCancelled { made_up_id } => cancelled::delete_cancelled(
                &calls,
                &self.cloudformation,
                &request.identity,
                &made_up_id,
                self.config.ask_cloudformation_within,
            )
            .await
            .into(),
            Action::Foreign { arn, mismatch } => match request.kind {
                RequestKind::Delete { .. } => refusals::foreign_delete(&arn, &mismatch).into(),
                _ => refusals::foreign_update(&arn, &mismatch).into(),
            },
            Action::Create { spec } => {
                let replacing = matches!(request.kind, RequestKind::Update { .. });
                create(&spec, fallback_id, replacing).run().await
            }
            Action::Replace { old_arn, spec } => create(&spec, old_arn, true).run().await,
            Action::UpdateTags { arn, tags } => {
                tagging::update_tags(&calls, &arn, &tags).await.into()
            }
            Action::Delete { arn } => delete::delete(&calls, &arn, self.config.conflict_retry)
                .await
                .into(),
        }
    }

    /// Deletes what this request created, found by its marker, so that a panic leaves nothing
    /// behind; returns what to add to the Reason.
    async fn sweep_after_panic(&self, request: &Request, deadline: &Deadline) -> String {
        let calls = Calls::new(&self.ivs, self.config.calls, deadline.for_cleanup());
        let request_id = &request.identity.request_id;
        let found = match calls.find_by_request(request_id).await {
            Ok(found) => found,
            Err(e) => {
                return format!(" Whether it had made a configuration could not be checked ({e}): look for one tagged {MARKER_TAG}={request_id}@…")
            }
        };
        let mut left = Vec::new();
        for made in found {
            let arn = made.configuration.arn;
            match calls.delete(&arn).await {
                Ok(()) => info!(arn, "deleted the configuration made before the panic"),
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    warn!(arn, error = %e, "could not delete the configuration made before the panic");
                    left.push(arn);
                }
            }
        }
        if left.is_empty() {
            " Nothing it made is left behind".to_string()
        } else {
            format!(" Delete by hand: {}", left.join(", "))
        }
    }
}

/// Runs `work` on its own task: a panic inside comes back as its message instead of silence.
pub async fn catch_panic<T: Send + 'static>(
    work: impl Future<Output = T> + Send + 'static,
) -> Result<T, String> {
    tokio::spawn(work).await.map_err(|e| {
        if e.is_panic() {
            let payload = e.into_panic();
            payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".to_string())
        } else {
            e.to_string()
        }
    })
}

/// A Reason as the logs show it: CloudWatch caps a log event at 256 KB, and the answer itself
/// holds at most 4 KB of it anyway.
fn log_excerpt(reason: &str) -> &str {
    match reason.char_indices().nth(1024) {
        None => reason,
        Some((end, _)) => &reason[..end],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::AnswerStatus;
    use crate::cloudformation::fake::FakeCloudFormation;
    use crate::config::fast::{deadline, fast_calls, fast_poll};
    use crate::ivs::fake::{FakeIvs, Step};
    use crate::ivs::{Operation, State};
    use serde_json::json;

    fn handler(ivs: FakeIvs) -> Arc<Handler<FakeIvs, FakeCloudFormation>> {
        Handler::new(
            ivs,
            FakeCloudFormation::unknown_stack(),
            HandlerConfig {
                poll: fast_poll(),
                calls: fast_calls(),
                ..HandlerConfig::default()
            },
        )
    }

    fn invocation(request: Arc<Request>, home: Option<Home>) -> Invocation {
        Invocation {
            request,
            deadline: deadline(2_000),
            home,
        }
    }

    fn create_request() -> Arc<Request> {
        let event = json!({
            "RequestType": "Create",
            "ResponseURL": "https://bucket.s3.amazonaws.com/x?sig=1",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/guid",
            "RequestId": "req-1",
            "ResourceType": "Custom::IvsRecordingConfiguration",
            "LogicalResourceId": "Recording",
            "ResourceProperties": {"DestinationConfiguration": {"S3": {"BucketName": "b-1"}}}
        });
        Arc::new(Request::parse(event).unwrap())
    }

    #[tokio::test]
    async fn a_panic_after_the_create_deletes_what_was_made_and_answers_failed() {
        let ivs = FakeIvs::new().stabilizing(1, State::Active);
        ivs.script(Operation::Get, Step::Panic);
        let h = handler(ivs);
        let answer = h
            .act_guarded(&invocation(create_request(), None))
            .await
            .answer;
        assert_eq!(answer.status, AnswerStatus::Failed);
        assert!(
            answer
                .reason
                .contains("panicked: scripted panic in GetRecordingConfiguration")
                && answer.reason.ends_with("Nothing it made is left behind"),
            "{}",
            answer.reason
        );
        assert_eq!(
            answer.physical_resource_id,
            "demo-Recording-failed-create-req-1"
        );
        assert_eq!(h.ivs.count(Operation::Create), 1);
        assert!(h.ivs.arns().is_empty());
    }

    #[tokio::test]
    async fn a_configuration_of_another_account_is_never_sent_to_ivs() {
        let h = handler(FakeIvs::new());
        let home = Home::from_function_arn("arn:aws:lambda:us-east-1:123456789012:function:f");
        let foreign = "arn:aws:ivs:us-east-1:999999999999:recording-configuration/AbCd";
        let mut event = json!({
            "RequestType": "Delete",
            "ResponseURL": "https://bucket.s3.amazonaws.com/x?sig=1",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/guid",
            "RequestId": "req-2",
            "ResourceType": "Custom::IvsRecordingConfiguration",
            "LogicalResourceId": "Recording",
            "PhysicalResourceId": foreign,
            "ResourceProperties": {}
        });
        let delete = Arc::new(Request::parse(event.clone()).unwrap());
        let answer = h
            .act_guarded(&invocation(delete, home.clone()))
            .await
            .answer;
        assert_eq!(answer.status, AnswerStatus::Success);
        assert_eq!(answer.physical_resource_id, foreign);
        assert!(
            answer
                .reason
                .starts_with("Nothing of this resource's to delete")
                && answer.reason.contains("its account is 999999999999"),
            "{}",
            answer.reason
        );
        event["RequestType"] = json!("Update");
        event["OldResourceProperties"] = json!({});
        let update = Arc::new(Request::parse(event).unwrap());
        let answer = h.act_guarded(&invocation(update, home)).await.answer;
        assert_eq!(answer.status, AnswerStatus::Failed);
        assert!(
            answer.reason.contains("manages only its own"),
            "{}",
            answer.reason
        );
        assert_eq!(h.ivs.call_count().attempts, 0, "a foreign ARN reached IVS");
    }

    #[tokio::test]
    async fn a_normal_answer_passes_through_catch_panic() {
        assert_eq!(catch_panic(async { 7 }).await, Ok(7));
        assert_eq!(
            catch_panic(async { panic!("boom at step 3") }).await,
            Err::<(), _>("boom at step 3".to_string())
        );
    }
}
