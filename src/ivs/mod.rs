//! IVS: the operations the resource needs, behind the small trait [`IvsApi`] so that the
//! decisions built on them are unit-tested with a fake ([`fake`], tests only), with errors
//! reduced to what a CloudFormation Reason must say: the operation, IVS's error code and its
//! `exceptionMessage`. [`sdk`] implements it over `aws-sdk-ivs`, one SDK operation per call with
//! the SDK's own retries inside; [`calls`] makes the calls as an invocation needs them, waiting
//! out throttling and IAM propagation within its deadline.

pub mod calls;
#[cfg(test)]
pub(crate) mod fake;
pub mod sdk;

pub use calls::{CallPolicy, Calls};
pub use sdk::SdkIvs;

use crate::ownership::Marker;
use crate::properties::RecordingSpec;
pub use aws_sdk_ivs::types::RecordingConfigurationState as State;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::time::Duration;
use thiserror::Error;

/// The IVS operations the handler calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// CreateRecordingConfiguration
    Create,
    /// GetRecordingConfiguration
    Get,
    /// DeleteRecordingConfiguration
    Delete,
    /// ListRecordingConfigurations
    List,
    /// ListTagsForResource
    ListTags,
    /// TagResource
    Tag,
    /// UntagResource
    Untag,
    /// ListChannels
    ListChannels,
}

impl Operation {
    /// The operation's name in the IVS API.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Create => "CreateRecordingConfiguration",
            Operation::Get => "GetRecordingConfiguration",
            Operation::Delete => "DeleteRecordingConfiguration",
            Operation::List => "ListRecordingConfigurations",
            Operation::ListTags => "ListTagsForResource",
            Operation::Tag => "TagResource",
            Operation::Untag => "UntagResource",
            Operation::ListChannels => "ListChannels",
        }
    }

    /// IVS's rate quota for the operation, in calls a second per account and region (IVS user
    /// guide, "Service Quotas"; not adjustable, shared by every caller).
    pub fn quota_per_second(self) -> u32 {
        match self {
            Operation::Create | Operation::Get | Operation::Delete | Operation::List => 3,
            Operation::ListTags | Operation::Tag | Operation::Untag => 10,
            Operation::ListChannels => 5,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the handler needs to know of a recording configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Configuration {
    /// Its ARN, the resource's PhysicalResourceId.
    pub arn: String,
    /// Its name, possibly empty.
    pub name: String,
    /// CREATING, ACTIVE or CREATE_FAILED.
    pub state: State,
}

/// A configuration found by its request marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marked {
    /// The configuration.
    pub configuration: Configuration,
    /// Its marker tag, read.
    pub marker: Marker,
}

/// A channel that records with a configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// The channel's name, possibly empty.
    pub name: String,
    /// The channel's ARN.
    pub arn: String,
}

/// Why an IVS call failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum IvsError {
    /// IVS answered with one of its error codes.
    #[error("IVS {operation} failed with {code}: {message}")]
    Service {
        /// The operation called.
        operation: Operation,
        /// IVS's error code, e.g. `ConflictException`.
        code: String,
        /// IVS's `exceptionMessage`.
        message: String,
    },
    /// No answer came before the invocation's work deadline.
    #[error("timed out waiting for IVS {operation}: no answer before the function's deadline")]
    Deadline {
        /// The operation called.
        operation: Operation,
    },
    /// IVS throttled the call until the work deadline.
    #[error("IVS {operation} was throttled until the function's deadline ({attempts} attempts, last: {message}). IVS allows {} {operation} calls a second per account and region, shared by every caller and not adjustable: retry when fewer stacks and tools call IVS at once", .operation.quota_per_second())]
    Throttled {
        /// The operation called.
        operation: Operation,
        /// Calls made, the SDK's own retries not counted.
        attempts: u32,
        /// The last throttling answer.
        message: String,
    },
    /// AccessDenied lasted past the grace period given to IAM propagation.
    #[error("IVS {operation} was denied (AccessDeniedException: {message}) for {waited:.0?}: the function's role may lack ivs:{operation}, or a role created with this stack may still be propagating; grant the action or retry in a few minutes")]
    AccessDenied {
        /// The operation called.
        operation: Operation,
        /// IVS's message.
        message: String,
        /// How long the denials went on.
        waited: Duration,
    },
    /// A failure without an IVS error code: a broken or foreign answer, a connection failure.
    #[error("IVS {operation} failed: {detail}")]
    Other {
        /// The operation called.
        operation: Operation,
        /// What the SDK saw, and what came back.
        detail: String,
        /// The HTTP status, when an answer came.
        status: Option<u16>,
    },
}

impl IvsError {
    /// IVS's error code, when it gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            IvsError::Service { code, .. } => Some(code),
            IvsError::AccessDenied { .. } => Some("AccessDeniedException"),
            IvsError::Throttled { .. } => Some("ThrottlingException"),
            _ => None,
        }
    }

    /// The configuration (or channel) does not exist, or IVS does not show it yet.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some("ResourceNotFoundException")
    }

    /// A channel still uses the configuration.
    pub fn is_conflict(&self) -> bool {
        self.code() == Some("ConflictException")
    }

    /// Over IVS's rate quota: asking again later will do.
    pub fn is_throttle(&self) -> bool {
        matches!(
            self,
            IvsError::Other {
                status: Some(429),
                ..
            }
        ) || self.code() == Some("ThrottlingException")
    }

    /// IAM said no: a missing permission, or one still propagating.
    pub fn is_access_denied(&self) -> bool {
        self.code() == Some("AccessDeniedException")
    }

    /// Errors that asking again soon cannot fix: the request or the account is wrong.
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
    /// throttle or server error after the retries, a timeout or a broken answer leave it open
    /// whether the change was made.
    pub fn is_refusal(&self) -> bool {
        self.is_permanent() || self.is_conflict() || self.is_not_found()
    }
}

/// HTTP attempts made and throttled, the SDK's own retries included.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallCount {
    /// Every HTTP attempt.
    pub attempts: u32,
    /// Attempts IVS answered with 429.
    pub throttled: u32,
}

impl std::ops::Sub for CallCount {
    type Output = CallCount;

    fn sub(self, earlier: CallCount) -> CallCount {
        CallCount {
            attempts: self.attempts.saturating_sub(earlier.attempts),
            throttled: self.throttled.saturating_sub(earlier.throttled),
        }
    }
}

/// One IVS operation per method, each a single SDK call (with the SDK's own retries).
pub trait IvsApi: Send + Sync + 'static {
    /// Creates a configuration carrying `marker`.
    fn create(
        &self,
        spec: &RecordingSpec,
        marker: &Marker,
    ) -> impl Future<Output = Result<Configuration, IvsError>> + Send;
    /// Reads a configuration.
    fn get(&self, arn: &str) -> impl Future<Output = Result<Configuration, IvsError>> + Send;
    /// Deletes a configuration.
    fn delete(&self, arn: &str) -> impl Future<Output = Result<(), IvsError>> + Send;
    /// Every configuration that carries a marker tag, all pages.
    fn list_marked(&self) -> impl Future<Output = Result<Vec<Marked>, IvsError>> + Send;
    /// A configuration's tags.
    fn tags(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, String>, IvsError>> + Send;
    /// Adds or overwrites tags.
    fn tag(
        &self,
        arn: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), IvsError>> + Send;
    /// Removes tags.
    fn untag(
        &self,
        arn: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<(), IvsError>> + Send;
    /// Up to `max` channels that record with configuration `arn`.
    fn channels_using(
        &self,
        arn: &str,
        max: i32,
    ) -> impl Future<Output = Result<Vec<Channel>, IvsError>> + Send;
    /// Attempts made so far by this client.
    fn call_count(&self) -> CallCount;
}
