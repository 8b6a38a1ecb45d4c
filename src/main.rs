//! The Lambda function: the `bootstrap` of a `provided.al2023` custom runtime. It starts reading
//! the trust store of the HTTPS stack that the IVS and CloudFormation clients share with the
//! answer, builds the clients once per process at the first event, and hands every event to the
//! handler.

use cfn_ivs_recording::handler::{Handler, HandlerConfig};
use cfn_ivs_recording::{clients, https, logging};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::OnceCell;

// One thread: a custom resource handles one event at a time, and a lone thread starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    https::start();
    logging::init(std::io::stdout);
    let config = HandlerConfig::from_env(|name| std::env::var(name).ok())?;
    // sam local invoke's runtime emulator names the same made-up function ARN (account
    // 012345678912) whatever the account, so there it says nothing of where the function runs.
    let arn_is_real = !config.allow_plain_http;
    // Built at the first event rather than before the first request for one: Lambda counts the
    // start up to that request, the event of a cold start is already waiting, and the trust
    // store is still being read on its own thread meanwhile, so the clients are built while it
    // finishes instead of before.
    let config = Arc::new(config);
    let handler = Arc::new(OnceCell::new());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (handler, config) = (handler.clone(), config.clone());
        async move {
            let handler = handler
                .get_or_init(|| async {
                    let (ivs, cloudformation) = clients::from_env().await;
                    Handler::new(ivs, cloudformation, HandlerConfig::clone(&config))
                })
                .await;
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
