//! A stand-in for the pre-signed S3 `ResponseURL` that CloudFormation hands a custom resource.
//!
//! It records every request exactly as it arrived and answers from a script, so tests can check
//! both what the function sent and how it copes with S3 failing, resetting or never answering.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::{Request, StatusCode};

use super::server::{lock, status_response, Fake, FakeResponse, Log};

/// CloudFormation's limit on a custom resource's answer, in bytes. The sink records longer
/// bodies as they came, as S3 takes them; CloudFormation then refuses the answer.
pub const MAX_ANSWER_BYTES: usize = 4096;

/// How the sink answers one request.
#[derive(Clone, Debug)]
pub enum SinkReply {
    /// Answer with this status and an empty body, e.g. 500 or 403.
    Status(u16),
    /// Close the connection without sending a response.
    ConnectionReset,
    /// Never answer, leaving the client to its own timeout.
    Hang,
}

/// One request as the sink received it.
#[derive(Clone, Debug)]
pub struct RecordedPut {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Every header in arrival order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body bytes; they are only altered if they are not UTF-8 (replacement characters).
    pub body: String,
    /// When the request head arrived, before its body was read.
    pub received_at: Instant,
}

impl RecordedPut {
    fn new(parts: &Parts, body: &Bytes, received_at: Instant) -> RecordedPut {
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        RecordedPut {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers,
            body: String::from_utf8_lossy(body).into_owned(),
            received_at,
        }
    }

    /// The first value of header `name`, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body parsed as JSON.
    ///
    /// # Panics
    ///
    /// If the body is not JSON; the message includes the body.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {}", self.body))
    }
}

/// Why the sink ended a connection instead of answering.
#[derive(Debug, thiserror::Error)]
enum SinkError {
    #[error("could not read the request body")]
    Body(#[from] hyper::Error),
    #[error("connection reset as scripted")]
    ScriptedReset,
}

#[derive(Default)]
struct Shared {
    requests: Log<RecordedPut>,
    script: Mutex<VecDeque<SinkReply>>,
}

impl Shared {
    async fn answer(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Result<FakeResponse, SinkError> {
        let received_at = Instant::now();
        let (parts, body) = request.into_parts();
        let body = body.collect().await?.to_bytes();
        match self.record(RecordedPut::new(&parts, &body, received_at)) {
            None => Ok(empty_response(StatusCode::OK)),
            Some(SinkReply::Status(code)) => {
                let status = StatusCode::from_u16(code).expect("script() only queues valid codes");
                Ok(empty_response(status))
            }
            Some(SinkReply::ConnectionReset) => Err(SinkError::ScriptedReset),
            Some(SinkReply::Hang) => std::future::pending().await,
        }
    }

    /// Records the request and takes its scripted reply in one step, so that concurrent requests
    /// get the replies in the order they are recorded.
    fn record(&self, put: RecordedPut) -> Option<SinkReply> {
        let mut script = lock(&self.script);
        self.requests.push(put);
        script.pop_front()
    }
}

fn empty_response(status: StatusCode) -> FakeResponse {
    status_response(status, Bytes::new())
}

/// The fake `ResponseURL` server; stops when dropped.
pub struct ResponseSink {
    fake: Fake<Shared>,
}

impl ResponseSink {
    /// Starts the sink on `127.0.0.1` with an OS-chosen port.
    pub async fn start() -> io::Result<ResponseSink> {
        let fake = Fake::start(Shared::default(), Shared::answer).await?;
        Ok(ResponseSink { fake })
    }

    /// The URL of `path_and_query` on this sink, e.g. `url("/stack/res?X-Amz-Signature=secret")`.
    pub fn url(&self, path_and_query: &str) -> String {
        let separator = if path_and_query.starts_with('/') {
            ""
        } else {
            "/"
        };
        format!(
            "http://{}{separator}{path_and_query}",
            self.fake.server.addr()
        )
    }

    /// Queues answers for the next requests, in order, after any still queued; requests beyond
    /// the script get 200.
    ///
    /// # Panics
    ///
    /// If a [`SinkReply::Status`] is not a valid HTTP status code, so the mistake shows up here
    /// rather than as a puzzling connection error later.
    pub fn script(&self, replies: impl IntoIterator<Item = SinkReply>) {
        let replies: Vec<SinkReply> = replies.into_iter().collect();
        for reply in &replies {
            if let SinkReply::Status(code) = reply {
                assert!(
                    StatusCode::from_u16(*code).is_ok(),
                    "invalid HTTP status {code}"
                );
            }
        }
        lock(&self.fake.shared.script).extend(replies);
    }

    /// Every request received so far, including those answered with errors, resets or hangs.
    pub fn received(&self) -> Vec<RecordedPut> {
        self.fake.shared.requests.snapshot()
    }

    /// Waits until at least `n` requests have arrived or `timeout` passes, then returns
    /// [`received`](Self::received); callers assert on the count.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<RecordedPut> {
        self.fake.shared.requests.wait_for(n, timeout).await
    }
}
