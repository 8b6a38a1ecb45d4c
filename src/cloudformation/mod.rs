//! CloudFormation: what it says of a stack resource, behind the small trait
//! [`CloudFormationApi`] (one call: DescribeStackResource) so that the decisions built on it are
//! unit-tested with a fake ([`fake`], tests only); [`sdk`] implements it over
//! `aws-sdk-cloudformation`.
//!
//! The function asks only to learn whether CloudFormation still waits for its answer; the
//! decisions are [`crate::actions::cancelled`]'s.

#[cfg(test)]
pub(crate) mod fake;
pub mod sdk;

pub use sdk::SdkCloudFormation;

use std::future::Future;
use thiserror::Error;

/// A stack resource as DescribeStackResource shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackResource {
    /// Its `ResourceStatus`, e.g. `CREATE_IN_PROGRESS`.
    pub status: String,
    /// The PhysicalResourceId CloudFormation holds for it, if any.
    pub physical_id: Option<String>,
}

/// Why CloudFormation could not be asked.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("CloudFormation DescribeStackResource failed: {0}")]
pub struct CloudFormationError(pub String);

/// The CloudFormation call the handler makes.
pub trait CloudFormationApi: Send + Sync + 'static {
    /// DescribeStackResource for `logical_id` in the stack `stack_id` (its ARN, which also
    /// names a deleted stack).
    fn stack_resource(
        &self,
        stack_id: &str,
        logical_id: &str,
    ) -> impl Future<Output = Result<StackResource, CloudFormationError>> + Send;
}
