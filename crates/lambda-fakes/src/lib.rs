//! Local fakes of AWS's side of a custom-resource invocation, for integration tests, the local
//! runner and the benchmark.
//!
//! - [`RuntimeApi`] plays the Lambda Runtime API: it feeds events to a real `lambda_runtime`
//!   function (in-process or a spawned binary) and records its answers and timing.
//! - [`ResponseSink`] plays the pre-signed S3 `ResponseURL` the function reports to
//!   CloudFormation through, with scriptable failures.
//!
//! Both listen on `127.0.0.1` with an OS-chosen port, serve each connection on its own task (a
//! response that never comes does not hold up others), work on current-thread runtimes, and
//! stop when dropped. Their [`Server`] is the one the IVS emulator and `cfn-ivs-local serve`
//! build on too.

pub mod response_sink;
pub mod runtime_api;
pub mod server;

pub use response_sink::{RecordedPut, ResponseSink, SinkReply, MAX_ANSWER_BYTES};
pub use runtime_api::{Invocation, InvocationResult, RuntimeApi};
pub use server::{FakeResponse, Server};
