//! [`CloudFormationApi`] over `aws-sdk-cloudformation`.

use super::{CloudFormationApi, CloudFormationError, StackResource};
use crate::https::{Https, CONNECT_TIMEOUT};
use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudformation::types::ResourceStatus;
use aws_sdk_cloudformation::Client;
use std::time::Duration;

/// [`CloudFormationApi`] over `aws-sdk-cloudformation`.
#[derive(Clone, Debug)]
pub struct SdkCloudFormation {
    client: Client,
}

impl SdkCloudFormation {
    /// The timeouts the client calls with, which choose its connector.
    #[cfg(test)]
    pub(crate) fn timeout_config(&self) -> Option<aws_smithy_types::timeout::TimeoutConfig> {
        self.client.config().timeout_config().cloned()
    }

    /// The client the function uses, from a loaded SDK configuration: the process's HTTPS stack
    /// and one quick retry, since the question is asked within a second or two and an
    /// unanswered one is not an error.
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        let config = aws_sdk_cloudformation::config::Builder::from(sdk)
            .http_client(Https)
            .retry_config(
                aws_sdk_cloudformation::config::retry::RetryConfig::standard()
                    .with_max_attempts(2)
                    .with_initial_backoff(Duration::from_millis(100)),
            )
            .timeout_config(
                aws_sdk_cloudformation::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_timeout(Duration::from_secs(2))
                    .build(),
            )
            .build();
        SdkCloudFormation {
            client: Client::from_conf(config),
        }
    }
}

impl CloudFormationApi for SdkCloudFormation {
    async fn stack_resource(
        &self,
        stack_id: &str,
        logical_id: &str,
    ) -> Result<StackResource, CloudFormationError> {
        let output = self
            .client
            .describe_stack_resource()
            .stack_name(stack_id)
            .logical_resource_id(logical_id)
            .send()
            .await
            .map_err(error_text)?;
        let detail = output.stack_resource_detail().ok_or_else(|| {
            CloudFormationError("the answer holds no StackResourceDetail".to_string())
        })?;
        // A status this SDK does not know, or none (an answer cut short parses as one without
        // it), says nothing about whether CloudFormation still waits.
        let status = detail
            .resource_status()
            .map(ResourceStatus::as_str)
            .filter(|status| ResourceStatus::values().contains(status))
            .ok_or_else(|| {
                CloudFormationError(format!(
                    "the answer holds no known ResourceStatus ({:?})",
                    detail.resource_status()
                ))
            })?;
        Ok(StackResource {
            status: status.to_string(),
            physical_id: detail.physical_resource_id().map(str::to_string),
        })
    }
}

fn error_text<E>(err: SdkError<E>) -> CloudFormationError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let SdkError::ServiceError(context) = &err {
        if let Some(code) = context.err().code() {
            let message = context.err().message().unwrap_or("(no message)");
            return CloudFormationError(format!("{code}: {message}"));
        }
    }
    CloudFormationError(DisplayErrorContext(&err).to_string())
}
