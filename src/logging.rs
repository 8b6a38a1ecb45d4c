//! Log set-up: `tracing` lines in Lambda's advanced-logging conventions (`AWS_LAMBDA_LOG_FORMAT`
//! JSON or text, level from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO), as
//! `lambda_runtime` implements them. The function logs to stdout, the local runner to stderr so
//! that its stdout holds only the answer.

use lambda_runtime::tracing::subscriber::fmt::MakeWriter;

/// Installs the global `tracing` subscriber, sending log lines to `writer`; call once at start-up.
pub fn init<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    lambda_runtime::tracing::init_default_subscriber_with_writer(writer);
}
