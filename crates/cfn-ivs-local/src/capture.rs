//! The ResponseURL side of `serve`: takes the answer a function PUTs to its ResponseURL, prints
//! it on stdout (pretty JSON when it is JSON) and answers 200, as S3 would. It warns on stderr
//! about what the real pre-signed URL or CloudFormation would refuse, which a local run would
//! otherwise hide. Its own handler on lambda-fakes' server: unlike the tests' ResponseSink, it
//! refuses anything but PUT and prints each answer as it arrives rather than recording it.

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, StatusCode};
use lambda_fakes::server::{status_response, FakeResponse};
use lambda_fakes::{Server, MAX_ANSWER_BYTES};
use serde_json::Value;
use std::io;
use std::net::SocketAddr;

/// Serves on `addr` until the returned server is dropped.
pub(super) async fn start(addr: SocketAddr) -> io::Result<Server> {
    Server::bind(addr, answer).await
}

async fn answer(request: Request<Incoming>) -> Result<FakeResponse, hyper::Error> {
    if request.method() != Method::PUT {
        let mut refused = empty(StatusCode::METHOD_NOT_ALLOWED);
        refused
            .headers_mut()
            .insert(ALLOW, hyper::header::HeaderValue::from_static("PUT"));
        return Ok(refused);
    }
    // The query string is the URL's signature, a bearer credential: only the path is logged.
    let path = request.uri().path().to_owned();
    let typed = request
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|value| !value.is_empty());
    let body = request.into_body().collect().await?.to_bytes();
    eprintln!("cfn-ivs-local: answer received at {path}");
    for problem in problems(typed, body.len()) {
        eprintln!("cfn-ivs-local: warning: the answer to {path} {problem}");
    }
    println!("{}", printable(&body));
    Ok(empty(StatusCode::OK))
}

/// What the real ResponseURL would refuse in an answer.
fn problems(typed: bool, length: usize) -> Vec<String> {
    let mut problems = Vec::new();
    if typed {
        problems.push(
            "has a Content-Type, which the pre-signed URL's signature does not cover: S3 would \
             answer SignatureDoesNotMatch"
                .to_owned(),
        );
    }
    if length > MAX_ANSWER_BYTES {
        problems.push(format!(
            "is {length} bytes, over CloudFormation's limit of {MAX_ANSWER_BYTES}"
        ));
    }
    problems
}

fn printable(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(json) => serde_json::to_string_pretty(&json).expect("a JSON value always prints"),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}

fn empty(status: StatusCode) -> FakeResponse {
    status_response(status, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_printed_pretty_and_anything_else_as_it_came() {
        assert_eq!(
            printable(br#"{"Status":"SUCCESS"}"#),
            "{\n  \"Status\": \"SUCCESS\"\n}"
        );
        assert_eq!(printable(b"not json"), "not json");
    }

    #[test]
    fn a_content_type_or_an_oversized_body_is_flagged() {
        assert!(problems(false, MAX_ANSWER_BYTES).is_empty());
        let flagged = problems(true, MAX_ANSWER_BYTES + 1);
        assert_eq!(flagged.len(), 2);
        assert!(flagged[0].contains("SignatureDoesNotMatch"));
        assert!(flagged[1].contains("4097 bytes"));
    }
}
