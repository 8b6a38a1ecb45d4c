//! A [`CloudFormationApi`] for unit tests, with one answer.

use super::{CloudFormationApi, CloudFormationError, StackResource};

/// A [`CloudFormationApi`] that answers one way every time, counting the calls.
pub struct FakeCloudFormation {
    answer: Option<Result<StackResource, CloudFormationError>>,
    calls: std::sync::atomic::AtomicU32,
}

impl FakeCloudFormation {
    pub fn answering(resource: StackResource) -> Self {
        Self::with(Some(Ok(resource)))
    }

    /// As for a hand-written event's stack.
    pub fn unknown_stack() -> Self {
        Self::with(Some(Err(CloudFormationError(
            "ValidationError: Stack with id demo does not exist".into(),
        ))))
    }

    pub fn hanging() -> Self {
        Self::with(None)
    }

    fn with(answer: Option<Result<StackResource, CloudFormationError>>) -> Self {
        FakeCloudFormation {
            answer,
            calls: Default::default(),
        }
    }

    pub fn calls(&self) -> u32 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl CloudFormationApi for FakeCloudFormation {
    async fn stack_resource(
        &self,
        _stack_id: &str,
        _logical_id: &str,
    ) -> Result<StackResource, CloudFormationError> {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match &self.answer {
            Some(answer) => answer.clone(),
            None => std::future::pending().await,
        }
    }
}
