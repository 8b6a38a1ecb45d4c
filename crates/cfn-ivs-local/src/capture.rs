//! The ResponseURL side of `serve`: takes the answer a function PUTs to its ResponseURL, prints
//! it on stdout (pretty JSON when it is JSON) and answers 200, as S3 would. It warns on stderr
//! about what the real pre-signed URL or CloudFormation would refuse, which a local run would
//! otherwise hide.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::convert::Infallible;
use std::time::Duration;
use tokio::net::TcpListener;

/// CloudFormation's limit on a custom resource's answer.
const MAX_ANSWER_BYTES: usize = 4096;

/// Serves until the process ends.
pub(super) async fn serve(listener: TcpListener) -> Infallible {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Typically out of file descriptors: back off instead of spinning.
                eprintln!("cfn-ivs-local: the capture could not accept a connection: {error}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        tokio::spawn(async move {
            let connection =
                http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(answer));
            // A client that hangs up mid-request concerns only that client.
            let _ = connection.await;
        });
    }
}

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
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

fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::default());
    *response.status_mut() = status;
    response
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
