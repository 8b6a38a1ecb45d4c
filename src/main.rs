//! The Lambda function: the `bootstrap` of a `provided.al2023` custom runtime. It builds the IVS
//! and CloudFormation clients and the HTTPS stack they share with the answer once per process,
//! and hands every event to the handler.

use cfn_ivs_recording::handler::{Handler, HandlerConfig};
use cfn_ivs_recording::{clients, https, logging};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

// One thread: a custom resource handles one event at a time, and a lone thread starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    https::start();
    logging::init(std::io::stdout);
    let config = HandlerConfig::from_env(|name| std::env::var(name).ok())?;
    // sam local invoke's runtime emulator names the same made-up function ARN (account
    // 012345678912) whatever the account, so there it says nothing of where the function runs.
    let arn_is_real = !config.allow_plain_http;
    let (ivs, cloudformation) = clients::from_env().await;
    let handler = Handler::new(ivs, cloudformation, config);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = handler.clone();
        async move {
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
