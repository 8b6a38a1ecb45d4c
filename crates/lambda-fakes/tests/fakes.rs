//! The local fakes behave like the AWS endpoints they stand in for: the response sink records and
//! answers like a scriptable S3 pre-signed URL, and the Runtime API drives a real
//! `lambda_runtime` function.
//!
//! Only `runtime_api_drives_a_real_lambda_runtime` touches the process environment, which is why
//! it lives in this binary and nothing else here reads it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, Error as ClientError};
use hyper_util::rt::TokioExecutor;
use lambda_fakes::{Invocation, InvocationResult, ResponseSink, RuntimeApi, SinkReply};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(5);

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn http_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn put(client: &HttpClient, url: &str, body: &str) -> Result<StatusCode, ClientError> {
    let request = Request::builder()
        .method(Method::PUT)
        .uri(url)
        .header("x-test", "yes")
        .body(Full::from(body.to_owned()))
        .expect("valid request");
    Ok(client.request(request).await?.status())
}

#[tokio::test]
async fn response_sink_records_a_put_exactly() {
    let sink = ResponseSink::start().await.unwrap();
    // Multi-byte characters make the byte length differ from the character count.
    let body = r#"{"Status":"SUCCESS","Reason":"créé ✓"}"#;
    let url = sink.url("/stack/res?X-Amz-Signature=secret");

    let status = put(&http_client(), &url, body).await.unwrap();

    assert_eq!(status, StatusCode::OK);
    let [recorded] = sink.received().try_into().expect("exactly one request");
    assert_eq!(recorded.method, "PUT");
    assert_eq!(recorded.path, "/stack/res");
    assert_eq!(recorded.query.as_deref(), Some("X-Amz-Signature=secret"));
    assert_eq!(recorded.header("X-Test"), Some("yes"));
    assert_eq!(recorded.header("content-type"), None);
    assert_eq!(recorded.body, body);
    assert_eq!(
        recorded.header("content-length"),
        Some(&*body.len().to_string())
    );
    assert_eq!(recorded.json()["Reason"], "créé ✓");
}

#[tokio::test]
async fn response_sink_plays_statuses_in_order_then_answers_200() {
    let sink = ResponseSink::start().await.unwrap();
    sink.script([SinkReply::Status(500), SinkReply::Status(403)]);
    let client = http_client();
    let url = sink.url("/r");

    let mut statuses = Vec::new();
    for attempt in 0..3 {
        statuses.push(put(&client, &url, &attempt.to_string()).await.unwrap());
    }

    assert_eq!(
        statuses,
        [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::FORBIDDEN,
            StatusCode::OK
        ]
    );
    let bodies: Vec<String> = sink.received().into_iter().map(|put| put.body).collect();
    assert_eq!(bodies, ["0", "1", "2"]);
}

/// A sink that answers its first request with `reply`, a client, and a URL on the sink.
async fn scripted(reply: SinkReply) -> (ResponseSink, HttpClient, String) {
    let sink = ResponseSink::start().await.unwrap();
    sink.script([reply]);
    let url = sink.url("/r");
    (sink, http_client(), url)
}

#[tokio::test]
async fn response_sink_reset_is_a_client_error_but_still_recorded() {
    let (sink, client, url) = scripted(SinkReply::ConnectionReset).await;

    let reset = put(&client, &url, "first").await;
    let retried = put(&client, &url, "second").await.unwrap();

    assert!(reset.is_err(), "expected a connection error, got {reset:?}");
    assert_eq!(retried, StatusCode::OK);
    let bodies: Vec<String> = sink.received().into_iter().map(|put| put.body).collect();
    assert_eq!(bodies, ["first", "second"]);
}

#[tokio::test]
async fn response_sink_hang_times_out_the_client_without_blocking_others() {
    let (sink, client, url) = scripted(SinkReply::Hang).await;

    let hung = tokio::spawn({
        let (client, url) = (client.clone(), url.clone());
        async move { tokio::time::timeout(Duration::from_millis(300), put(&client, &url, "hung")).await }
    });
    sink.wait_for(1, WAIT).await;
    let other = put(&client, &url, "other").await.unwrap();

    assert_eq!(other, StatusCode::OK);
    assert!(
        hung.await.unwrap().is_err(),
        "the hung request should time out"
    );
    assert_eq!(sink.wait_for(2, WAIT).await.len(), 2);
}

async fn echo_or_fail(event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
    if event.payload["fail"] == true {
        return Err("asked to fail".into());
    }
    Ok(json!({"echo": event.payload, "deadline_ms": event.context.deadline}))
}

fn invocation(request_id: &str, event: Value) -> Invocation {
    Invocation {
        request_id: request_id.to_owned(),
        event,
        deadline: Duration::from_secs(30),
    }
}

fn epoch_millis() -> u64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(since_epoch.as_millis()).unwrap()
}

#[tokio::test]
async fn runtime_api_drives_a_real_lambda_runtime() {
    let api = RuntimeApi::start().await.unwrap();
    for (name, value) in api.lambda_env() {
        std::env::set_var(name, value);
    }
    tokio::spawn(lambda_runtime::run(service_fn(echo_or_fail)));
    // The runtime polls before anything is queued: the poll must wait rather than fail.
    assert_eq!(api.wait_for_next_calls(1, WAIT).await.len(), 1);
    assert!(api.handed_out().is_empty());

    let queued_at = epoch_millis();
    api.enqueue(invocation("req-1", json!({"n": 1})));
    api.enqueue(invocation("req-2", json!({"n": 2})));
    api.enqueue(invocation("req-3", json!({"fail": true})));
    let results = api.wait_for_results(3, WAIT).await;
    let answered_at = epoch_millis();

    let results: Vec<InvocationResult> = results.into_iter().map(|(result, _)| result).collect();
    let [first, second, failed] = results.try_into().expect("exactly three results");
    for (result, id, n) in [(first, "req-1", 1), (second, "req-2", 2)] {
        let InvocationResult::Response { request_id, body } = result else {
            panic!("{id}: expected a response, got {result:?}");
        };
        assert_eq!(request_id, id);
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["echo"], json!({ "n": n }));
        let deadline = body["deadline_ms"]
            .as_u64()
            .expect("deadline reached the handler");
        assert!((queued_at + 30_000..=answered_at + 30_000).contains(&deadline));
    }
    let InvocationResult::Error {
        request_id,
        error_type,
        body,
    } = failed
    else {
        panic!("req-3: expected an error, got {failed:?}");
    };
    assert_eq!(request_id, "req-3");
    assert!(error_type.is_some());
    assert!(body.contains("asked to fail"), "{body}");
    let handed_out: Vec<String> = api.handed_out().into_iter().map(|(id, _)| id).collect();
    assert_eq!(handed_out, ["req-1", "req-2", "req-3"]);
}

#[tokio::test]
async fn runtime_api_gives_an_abandoned_poll_event_to_the_next_poller() {
    let api = RuntimeApi::start().await.unwrap();
    let mut abandoned = TcpStream::connect(api.address()).await.unwrap();
    abandoned
        .write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    api.wait_for_next_calls(1, WAIT).await;
    drop(abandoned);
    // Gives the server a moment to notice the hang-up, as it would before a new process starts.
    tokio::time::sleep(Duration::from_millis(50)).await;

    api.enqueue(invocation("req-1", json!({})));
    let next = format!(
        "http://{}/2018-06-01/runtime/invocation/next",
        api.address()
    );
    let response = tokio::time::timeout(WAIT, http_client().get(next.parse().unwrap()))
        .await
        .expect("the event went to the abandoned poll")
        .unwrap();

    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("lambda-runtime-aws-request-id"), "req-1");
    let deadline: u64 = header("lambda-runtime-deadline-ms").parse().unwrap();
    assert!(deadline > epoch_millis() + 29_000);
    assert!(response
        .headers()
        .contains_key("lambda-runtime-invoked-function-arn"));
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"{}");
}
