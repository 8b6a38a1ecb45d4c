//! The Lambda function: the `bootstrap` of a `provided.al2023` custom runtime. It builds the IVS
//! and CloudFormation clients and the HTTPS stack they share with the answer once per process,
//! on a thread of their own while the runtime asks Lambda for the first event (see
//! [`Background`]), and hands every event to the handler.

use cfn_ivs_recording::background::Background;
use cfn_ivs_recording::handler::{Handler, HandlerConfig};
use cfn_ivs_recording::{clients, https, logging};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use std::sync::Arc;
use tracing::error;

// The runtime on this one thread, the clients built beside it: a custom resource handles one
// event at a time, and a lone runtime thread starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    https::choose_trust_store();
    logging::init(std::io::stdout);
    let config = HandlerConfig::from_env(|name| std::env::var(name).ok())?;
    // sam local invoke's runtime emulator names the same made-up function ARN (account
    // 012345678912) whatever the account, so there it says nothing of where the function runs.
    let arn_is_real = !config.allow_plain_http;
    let handler = Arc::new(Background::start(async {
        https::load_trust_store();
        let (ivs, cloudformation) = clients::from_env().await;
        Handler::new(ivs, cloudformation, config)
    }));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = handler.clone();
        async move {
            let handler = match handler.get().await {
                Ok(handler) => handler,
                // As if the start had failed: Lambda starts the function afresh and retries
                // the event, where an error would only end this one attempt.
                Err(panicked) => {
                    error!(error = %panicked, "building the AWS clients failed; exiting");
                    std::process::exit(1)
                }
            };
            let function_arn = &event.context.invoked_function_arn;
            handler
                .handle_for(
                    event.payload,
                    event.context.deadline(),
                    arn_is_real.then_some(function_arn.as_str()),
                )
                .await
        }
    }))
    .await
}
