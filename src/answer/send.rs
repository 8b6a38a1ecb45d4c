//! Delivering the answer (its body is [`crate::answer`]'s): the PUT to CloudFormation's pre-signed ResponseURL, retried on
//! connection errors and 5xx with jittered backoff until the function's deadline.
//!
//! The PUT carries no Content-Type (the URL's signature covers the headers, and S3 refuses a
//! content type it was not signed with) and a Content-Length equal to the body's byte length.
//! It goes through the connector and trust store the SDK clients use ([`crate::https`]).
//! The URL's query string is the signature, a credential for the stack: it is never logged.

use crate::https::{self, Https};
use crate::timing::backoff::BackoffPolicy;
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{header, Method, Request, StatusCode, Uri};
use std::net::IpAddr;
use std::time::{Duration, Instant};
use thiserror::Error;
use tracing::{info, warn};

/// How the answer's PUT is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendPolicy {
    /// Between attempts.
    pub backoff: BackoffPolicy,
    /// One attempt may take this long; S3 answers a PUT in well under a second.
    pub attempt_timeout: Duration,
}

/// Why the answer did not reach CloudFormation.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The ResponseURL cannot be parsed.
    #[error("ResponseURL is not a URL: {0}")]
    InvalidUrl(String),
    /// The ResponseURL is plain http to a host that is not loopback.
    #[error(
        "ResponseURL must be https (plain http only to a loopback host), got {scheme}://{host}"
    )]
    NotHttps {
        /// The URL's scheme.
        scheme: String,
        /// The URL's host.
        host: String,
    },
    /// S3 said no for good (an expired or tampered signature).
    #[error("{url} refused the answer with HTTP {status}: {body}")]
    Refused {
        /// The URL without its signature.
        url: String,
        /// S3's status.
        status: u16,
        /// The start of S3's answer.
        body: String,
    },
    /// Under `sam local invoke`, the ResponseURL's host does not resolve: no retry can help.
    #[error("the answer could not be delivered to {url}: its host does not resolve in the function's container ({last}). {}", SAM_LOCAL_HINT)]
    Unresolvable {
        /// The URL without its signature.
        url: String,
        /// What the resolver said.
        last: String,
    },
    /// Every attempt failed passingly until the deadline.
    #[error("the answer could not be delivered to {url} in {attempts} attempts before the deadline; last error: {last}")]
    Undelivered {
        /// The URL without its signature.
        url: String,
        /// PUTs made.
        attempts: u32,
        /// Why the last one failed.
        last: String,
    },
}

/// What to do when a name does not resolve under `sam local invoke`: Docker Desktop provides
/// `host.docker.internal`, Docker Engine on Linux does not.
pub const SAM_LOCAL_HINT: &str =
    "On Linux, run sam local invoke with --add-host host.docker.internal:host-gateway";

/// What sending an answer came to, and the PUTs it took.
#[derive(Debug)]
pub struct Sent {
    /// PUTs made.
    pub attempts: u32,
    /// The status S3 answered, or why the answer did not arrive.
    pub result: Result<u16, SendError>,
}

/// Sends answers, through the process's HTTPS stack.
#[derive(Debug)]
pub struct AnswerSender {
    policy: SendPolicy,
    allow_plain_http: bool,
}

impl AnswerSender {
    /// A delivery retrying by `policy`. `allow_plain_http` accepts a plain-http ResponseURL to
    /// any host, which only `sam local invoke` needs (its function runs in a container and
    /// reaches the host through Docker's address, which is no loopback).
    pub fn new(policy: SendPolicy, allow_plain_http: bool) -> Self {
        AnswerSender {
            policy,
            allow_plain_http,
        }
    }

    /// Checks that answers can be sent to `url` (https, or plain http to a loopback host or,
    /// under `sam local invoke`, to any host).
    pub fn check_url(&self, url: &str) -> Result<(), SendError> {
        Target::parse(url, self.allow_plain_http).map(|_| ())
    }

    /// PUTs `body` to `url`, retrying until `deadline`.
    pub async fn send(&self, url: &str, body: Vec<u8>, deadline: Instant) -> Sent {
        let target = match Target::parse(url, self.allow_plain_http) {
            Ok(target) => target,
            Err(e) => {
                return Sent {
                    attempts: 0,
                    result: Err(e),
                }
            }
        };
        if !target.tls && !is_loopback(target.uri.host().unwrap_or_default()) {
            warn!(url = %target.redacted, "sending the answer over plain http (AWS_SAM_LOCAL is set)");
        }
        let body = Bytes::from(body);
        let mut backoff = self.policy.backoff.start();
        let mut attempts = 0;
        let result = loop {
            attempts += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            let outcome = match tokio::time::timeout(
                self.policy.attempt_timeout.min(left),
                self.put(&target, body.clone()),
            )
            .await
            {
                Ok(outcome) => outcome,
                Err(_) => Err(Attempt::Retry(format!(
                    "no answer within {:?}",
                    self.policy.attempt_timeout.min(left)
                ))),
            };
            let last = match outcome {
                Ok(status) => {
                    info!(url = %target.redacted, status, attempts, "answer delivered");
                    break Ok(status);
                }
                Err(Attempt::Refused { status, body }) => {
                    break Err(SendError::Refused {
                        url: target.redacted,
                        status,
                        body,
                    })
                }
                // Only `sam local invoke` sends answers to a name of Docker's, which either
                // exists in the container or never will: waiting out the deadline for it would
                // keep the user waiting minutes for nothing.
                Err(Attempt::Retry(reason)) if self.allow_plain_http && is_unresolved(&reason) => {
                    break Err(SendError::Unresolvable {
                        url: target.redacted,
                        last: reason,
                    });
                }
                Err(Attempt::Retry(reason)) => reason,
            };
            warn!(url = %target.redacted, attempts, error = %last, "answer not delivered");
            if !backoff
                .pause_within(deadline.saturating_duration_since(Instant::now()))
                .await
            {
                break Err(SendError::Undelivered {
                    url: target.redacted,
                    attempts,
                    last,
                });
            }
        };
        Sent { attempts, result }
    }

    async fn put(&self, target: &Target, body: Bytes) -> Result<u16, Attempt> {
        let request = Request::builder()
            .method(Method::PUT)
            .uri(target.uri.clone())
            .header(header::CONTENT_LENGTH, body.len())
            .body(SdkBody::from(body))
            .expect("method, a parsed URI and a numeric header always build a request");
        let request = HttpRequest::try_from(request).expect(
            "only header names that http 0.2 refuses fail the conversion, and this has none",
        );
        let response = Https
            .connector(&https::settings())
            .call(request)
            .await
            .map_err(|e| Attempt::Retry(error_chain(&e)))?;
        let status = StatusCode::from_u16(response.status().as_u16())
            .expect("an HTTP response carries a valid status");
        if status.is_success() {
            return Ok(status.as_u16());
        }
        let body = error_body(response.into_body()).await;
        if is_retryable(status) {
            Err(Attempt::Retry(format!("HTTP {}: {body}", status.as_u16())))
        } else {
            Err(Attempt::Refused {
                status: status.as_u16(),
                body,
            })
        }
    }
}

enum Attempt {
    Retry(String),
    Refused { status: u16, body: String },
}

/// S3 asks for a retry with 5xx (and 503 SlowDown); 408 and 429 are passing too. Any other
/// client error (an expired or tampered signature) will not get better.
fn is_retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

/// How much of a refusal's body is read: S3's XML error fits, and a hostile host streaming
/// hundreds of megabytes cannot fill a 128 MB function.
pub const MAX_ERROR_BODY: usize = 4096;

/// The start of an error answer's body, as text, reading at most [`MAX_ERROR_BODY`] bytes.
async fn error_body<B>(mut body: B) -> String
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let mut read = Vec::new();
    while read.len() < MAX_ERROR_BODY {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let room = MAX_ERROR_BODY - read.len();
                    read.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            _ => break,
        }
    }
    String::from_utf8_lossy(&read).chars().take(300).collect()
}

/// Whether a failed attempt's error chain says the host name did not resolve (hyper-util's
/// connector reports it as a "dns error").
pub fn is_unresolved(error_chain: &str) -> bool {
    error_chain.contains("dns error") || error_chain.contains("failed to lookup address")
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A checked ResponseURL.
struct Target {
    uri: Uri,
    tls: bool,
    /// scheme, host and path: what may be logged.
    redacted: String,
}

impl Target {
    fn parse(url: &str, allow_plain_http: bool) -> Result<Target, SendError> {
        let uri: Uri = url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| SendError::InvalidUrl(e.to_string()))?;
        let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
            return Err(SendError::InvalidUrl(
                "it needs a scheme and a host".to_string(),
            ));
        };
        let tls = match scheme {
            "https" => true,
            "http" if allow_plain_http || is_loopback(host) => false,
            _ => {
                return Err(SendError::NotHttps {
                    scheme: scheme.to_string(),
                    host: host.to_string(),
                })
            }
        };
        let redacted = redact(&uri);
        Ok(Target { uri, tls, redacted })
    }
}

/// The URL without its query string (the signature).
pub fn redact(uri: &Uri) -> String {
    format!(
        "{}://{}{}",
        uri.scheme_str().unwrap_or(""),
        uri.authority().map(|a| a.as_str()).unwrap_or(""),
        uri.path()
    )
}

/// The redacted form of a URL string, for logs; a string that is not a URL is not shown at all.
pub fn redact_str(url: &str) -> String {
    url.parse::<Uri>()
        .map(|u| redact(&u))
        .unwrap_or_else(|_| "(not a URL)".to_string())
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_and_http_only_on_loopback() {
        assert!(
            Target::parse("https://bucket.s3.amazonaws.com/a?X-Amz-Signature=s", false)
                .unwrap()
                .tls
        );
        for url in [
            "http://127.0.0.1:9/x",
            "http://127.3.4.5/x",
            "http://localhost:80/x",
            "http://[::1]:8080/x",
        ] {
            assert!(!Target::parse(url, false).unwrap().tls, "{url}");
        }
        for url in [
            "http://example.com/x",
            "http://10.0.0.1/x",
            "http://127.0.0.1.example.com/x",
        ] {
            let e = Target::parse(url, false).err().unwrap();
            assert!(matches!(e, SendError::NotHttps { .. }), "{url}: {e}");
        }
        let e = Target::parse("ftp://127.0.0.1/x", true).err().unwrap();
        assert!(
            e.to_string().starts_with("ResponseURL must be https"),
            "{e}"
        );
    }

    #[test]
    fn plain_http_to_any_host_only_when_allowed() {
        let url = "http://host.docker.internal:9001/x";
        assert!(matches!(
            Target::parse(url, false),
            Err(SendError::NotHttps { .. })
        ));
        assert!(!Target::parse(url, true).unwrap().tls);
    }

    #[tokio::test]
    async fn only_the_start_of_an_error_body_is_read() {
        let text = error_body(endless_body(Bytes::from(vec![b'x'; 1024]))).await;
        assert_eq!(text.len(), 300);
    }

    /// A body of the same chunk forever, which fails the test if read past a few KiB.
    fn endless_body(
        chunk: Bytes,
    ) -> impl hyper::body::Body<Data = Bytes, Error = std::convert::Infallible> + Unpin {
        struct Endless(Bytes, usize);
        impl hyper::body::Body for Endless {
            type Data = Bytes;
            type Error = std::convert::Infallible;
            fn poll_frame(
                mut self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>>
            {
                self.1 += 1;
                assert!(self.1 <= 5, "read past the limit: frame {}", self.1);
                std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(self.0.clone()))))
            }
        }
        Endless(chunk, 0)
    }

    #[test]
    fn not_a_url_is_refused() {
        for url in ["not a url", "", "/just/a/path"] {
            assert!(
                matches!(Target::parse(url, false), Err(SendError::InvalidUrl(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn redaction_drops_the_signature() {
        let url = "https://cfn.s3.amazonaws.com/arn%3Aaws/stack?X-Amz-Signature=SECRET&X-Amz-Credential=AKID";
        let r = redact_str(url);
        assert_eq!(r, "https://cfn.s3.amazonaws.com/arn%3Aaws/stack");
        assert!(!r.contains("SECRET"));
        assert_eq!(redact_str("not a url"), "(not a URL)");
    }

    #[test]
    fn only_passing_statuses_are_retried() {
        for s in [500, 502, 503, 408, 429] {
            assert!(is_retryable(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [400, 403, 404] {
            assert!(!is_retryable(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }
}
