//! A stand-in for the AWS Lambda Runtime API, the local HTTP endpoint a function process polls for
//! events and posts its results to.
//!
//! Point `lambda_runtime` at it with [`RuntimeApi::lambda_env`], queue events with
//! [`RuntimeApi::enqueue`], and read back what the function answered and when.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::Value;
use tokio::sync::{mpsc, Mutex};

use super::server::{status_response, Fake, FakeResponse, Log};

const FUNCTION_NAME: &str = "cfn-ivs-recording";
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:cfn-ivs-recording";
const TRACE_ID: &str = "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0";
const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";

/// One event for the function.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub request_id: String,
    pub event: Value,
    /// Time the function gets, counted from the moment the event is handed out.
    pub deadline: Duration,
}

/// What the function posted back.
#[derive(Clone, Debug, PartialEq)]
pub enum InvocationResult {
    Response {
        request_id: String,
        body: String,
    },
    Error {
        request_id: String,
        error_type: Option<String>,
        body: String,
    },
    InitError {
        body: String,
    },
}

/// The Runtime API paths the fake serves, below `/2018-06-01/runtime/`.
enum Route {
    Next,
    Report(Report),
}

/// A path on which the function posts a result.
enum Report {
    Response(String),
    Error(String),
    InitError,
}

impl Route {
    fn parse(method: &Method, path: &str) -> Option<Route> {
        let path = path.strip_prefix("/2018-06-01/runtime/")?;
        match (method, path) {
            (&Method::GET, "invocation/next") => Some(Route::Next),
            (&Method::POST, "init/error") => Some(Route::Report(Report::InitError)),
            (&Method::POST, path) => {
                let (request_id, action) = path.strip_prefix("invocation/")?.split_once('/')?;
                let request_id = request_id.to_owned();
                match action {
                    "response" => Some(Route::Report(Report::Response(request_id))),
                    "error" => Some(Route::Report(Report::Error(request_id))),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

impl Report {
    fn into_result(self, error_type: Option<String>, body: String) -> InvocationResult {
        match self {
            Report::Response(request_id) => InvocationResult::Response { request_id, body },
            Report::Error(request_id) => InvocationResult::Error {
                request_id,
                error_type,
                body,
            },
            Report::InitError => InvocationResult::InitError { body },
        }
    }
}

struct Shared {
    queue: mpsc::UnboundedSender<Invocation>,
    // Behind an async mutex so concurrent long polls take events one at a time, in FIFO order.
    pending: Mutex<mpsc::UnboundedReceiver<Invocation>>,
    next_calls: Log<Instant>,
    handed_out: Log<(String, Instant)>,
    results: Log<(InvocationResult, Instant)>,
}

impl Shared {
    fn new() -> Shared {
        let (queue, pending) = mpsc::unbounded_channel();
        Shared {
            queue,
            pending: Mutex::new(pending),
            next_calls: Log::default(),
            handed_out: Log::default(),
            results: Log::default(),
        }
    }

    async fn answer(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Result<FakeResponse, hyper::Error> {
        let arrived = Instant::now();
        match Route::parse(request.method(), request.uri().path()) {
            Some(Route::Next) => {
                self.next_calls.push(arrived);
                Ok(self.next_event().await)
            }
            Some(Route::Report(report)) => self.record(report, request).await,
            None => Ok(status_response(StatusCode::NOT_FOUND, "")),
        }
    }

    async fn record(
        &self,
        report: Report,
        request: Request<Incoming>,
    ) -> Result<FakeResponse, hyper::Error> {
        let error_type = request
            .headers()
            .get(ERROR_TYPE_HEADER)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let body = request.into_body().collect().await?.to_bytes();
        let body = String::from_utf8_lossy(&body).into_owned();
        self.results
            .push((report.into_result(error_type, body), Instant::now()));
        Ok(status_response(StatusCode::ACCEPTED, r#"{"status":"OK"}"#))
    }

    /// Like the real API, holds the request open while the queue is empty.
    async fn next_event(&self) -> FakeResponse {
        let invocation = self
            .pending
            .lock()
            .await
            .recv()
            .await
            .expect("the queue's sender lives as long as its receiver");
        let response = Response::builder()
            .header(CONTENT_TYPE, "application/json")
            .header("lambda-runtime-aws-request-id", &invocation.request_id)
            .header(
                "lambda-runtime-deadline-ms",
                epoch_millis_in(invocation.deadline),
            )
            .header("lambda-runtime-invoked-function-arn", FUNCTION_ARN)
            .header("lambda-runtime-trace-id", TRACE_ID)
            .body(Full::from(invocation.event.to_string()))
            .expect("enqueue() only accepts request ids that are valid header values");
        self.handed_out
            .push((invocation.request_id, Instant::now()));
        response
    }
}

/// The `Lambda-Runtime-Deadline-Ms` value for `duration` from now.
fn epoch_millis_in(duration: Duration) -> String {
    let deadline = (SystemTime::now() + duration)
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    deadline.as_millis().to_string()
}

/// The fake Runtime API server; stops when dropped.
pub struct RuntimeApi {
    fake: Fake<Shared>,
}

impl RuntimeApi {
    /// Starts the API on `127.0.0.1` with an OS-chosen port and an empty event queue.
    pub async fn start() -> io::Result<RuntimeApi> {
        let fake = Fake::start(Shared::new(), Shared::answer).await?;
        Ok(RuntimeApi { fake })
    }

    /// `127.0.0.1:PORT`, the value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.fake.server.addr().to_string()
    }

    /// Queues an event; a `next` call waiting on an empty queue receives it at once.
    ///
    /// # Panics
    ///
    /// If the request id cannot be sent as an HTTP header value.
    pub fn enqueue(&self, invocation: Invocation) {
        assert!(
            HeaderValue::from_str(&invocation.request_id).is_ok(),
            "request id {:?} is not a valid header value",
            invocation.request_id
        );
        self.fake
            .shared
            .queue
            .send(invocation)
            .expect("the queue's receiver lives as long as its sender");
    }

    /// When each `GET .../invocation/next` arrived.
    pub fn next_calls(&self) -> Vec<Instant> {
        self.fake.shared.next_calls.snapshot()
    }

    /// Each handed-out event's request id and when it was given to the runtime.
    pub fn handed_out(&self) -> Vec<(String, Instant)> {
        self.fake.shared.handed_out.snapshot()
    }

    /// Every response, error and init error posted so far, with when it arrived.
    pub fn results(&self) -> Vec<(InvocationResult, Instant)> {
        self.fake.shared.results.snapshot()
    }

    /// Waits until at least `n` results have arrived or `timeout` passes, then returns
    /// [`results`](Self::results); callers assert on the count.
    pub async fn wait_for_results(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Vec<(InvocationResult, Instant)> {
        self.fake.shared.results.wait_for(n, timeout).await
    }

    /// Waits until at least `n` `next` calls have arrived or `timeout` passes, then returns
    /// [`next_calls`](Self::next_calls).
    pub async fn wait_for_next_calls(&self, n: usize, timeout: Duration) -> Vec<Instant> {
        self.fake.shared.next_calls.wait_for(n, timeout).await
    }

    /// Environment variables a function process needs to run against this fake;
    /// `lambda_runtime` panics at start-up without the first four.
    pub fn lambda_env(&self) -> Vec<(String, String)> {
        let address = self.address();
        let log_group = format!("/aws/lambda/{FUNCTION_NAME}");
        [
            ("AWS_LAMBDA_RUNTIME_API", address.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2024/01/01/[$LATEST]fake"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", log_group.as_str()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
    }
}
