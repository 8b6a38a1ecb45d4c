//! The HTTP side of the emulator, served by lambda-fakes' [`Server`](lambda_fakes::Server) (each
//! connection on its own task, so a hanging request holds up nobody else): routes requests
//! through the model, applies injected faults,
//! then the account's quotas and IAM, and writes answers the way IVS writes them — success codes
//! from the model, errors with `x-amzn-ErrorType` and an `exceptionMessage` body. Requests in
//! CloudFormation's query protocol go to [`cloudformation`](super::cloudformation) instead.
//!
//! An injected fault comes first and replaces everything else, so the quotas never get in the
//! way of a test's script of faults, and a faulted request uses up no quota.

use super::cloudformation::{self, QueryRequest};
use super::model::{HttpInput, Model, Route};
use super::state::State;
use super::store::ApiError;
use super::{lock, FaultKind, Operation, RecordedRequest};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

/// A response cut short mid-document, as a truncated or corrupted answer would look.
const MALFORMED_JSON: &str = r#"{"recordingConfiguration":{"arn":"arn:aws:ivs:"#;

pub(super) type Reply = Response<Full<Bytes>>;

pub(super) struct Shared {
    pub(super) model: &'static Model,
    pub(super) cloudformation: &'static Model,
    pub(super) state: Mutex<State>,
}

/// Where a request goes: an IVS route, or CloudFormation's query protocol.
enum Call<'m> {
    Rest(Option<(Route<'m>, Operation)>),
    Query(QueryRequest),
}

/// Returned from the service so that hyper closes the connection without writing a response.
#[derive(Debug, thiserror::Error)]
#[error("the IVS emulator drops this connection on purpose")]
pub(super) struct DropConnection;

pub(super) async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Reply, DropConnection> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map_err(|_| DropConnection)?.to_bytes();
    let method = parts.method.as_str();
    let path = parts.uri.path();
    let query = parts.uri.query();
    let call = if cloudformation::is_query(method, path) {
        Call::Query(QueryRequest::parse(shared.cloudformation, &body))
    } else {
        Call::Rest(shared.model.route(method, path).and_then(|route| {
            let operation = route.operation.name.parse::<Operation>().ok()?;
            Some((route, operation))
        }))
    };
    let (operation, logged_body) = match &call {
        Call::Rest(routed) => (routed.as_ref().map(|(_, op)| *op), body_json(&body)),
        Call::Query(request) => (request.operation.clone().ok(), request.params_json()),
    };
    let (index, fault, request_id) = {
        let mut state = lock(&shared.state);
        let index = state.record(RecordedRequest {
            operation,
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.map(str::to_owned),
            body: logged_body,
            status: 0,
        });
        let fault = operation.and_then(|operation| state.take_fault(operation));
        (index, fault, state.store.request_id())
    };
    let serve = || match &call {
        Call::Rest(Some((route, operation))) => {
            answer(&shared, route, *operation, query, &parts.headers, &body)
        }
        Call::Rest(None) => error_reply(
            404,
            "UnknownOperationException",
            &format!("No IVS operation matches {method} {path}"),
        ),
        Call::Query(request) => match &request.operation {
            Ok(operation) => cloudformation::answer(&shared, request, *operation, &request_id),
            Err(error) => cloudformation::error_reply(error, &request_id),
        },
    };
    let query_protocol = matches!(call, Call::Query(_));
    let mut reply = match fault {
        None => serve(),
        Some(FaultKind::Hang(delay)) => {
            tokio::time::sleep(delay).await;
            serve()
        }
        Some(FaultKind::HangForever) => std::future::pending().await,
        Some(FaultKind::ConnectionReset) => return Err(DropConnection),
        Some(FaultKind::ServiceError { code, message }) if query_protocol => {
            cloudformation::service_error(&code, &message, &request_id)
        }
        Some(FaultKind::ServiceError { code, message }) => {
            service_error(shared.model, &code, &message)
        }
        Some(FaultKind::MalformedBody) if query_protocol => cloudformation::malformed(),
        Some(FaultKind::MalformedBody) => json_reply(200, MALFORMED_JSON.into()),
        Some(FaultKind::Status { status, body }) => raw_reply(status, body),
    };
    if let Ok(request_id) = HeaderValue::from_str(&request_id) {
        reply.headers_mut().insert("x-amzn-requestid", request_id);
    }
    lock(&shared.state).respond(index, reply.status().as_u16());
    Ok(reply)
}

fn answer(
    shared: &Shared,
    route: &Route<'_>,
    operation: Operation,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Reply {
    let request = HttpInput {
        query,
        header: |name: &str| headers.get(name).and_then(|value| value.to_str().ok()),
        body,
    };
    let bound = shared.model.bind_input(route, &request);
    let now = Instant::now();
    let mut state = lock(&shared.state);
    let outcome = state
        .admit(operation, bound.as_ref().ok(), now)
        .and_then(|()| {
            let input = bound.map_err(|error| ApiError::validation(error.to_string()))?;
            state.store.execute(operation, &input, now)
        });
    drop(state);
    let status = route.operation.response_code;
    match outcome {
        Ok(Some(output)) => json_reply(status, output.to_string()),
        Ok(None) => reply(status, Vec::new(), Bytes::new()),
        Err(error) => service_error(shared.model, error.code, &error.message),
    }
}

fn service_error(model: &Model, code: &str, message: &str) -> Reply {
    error_reply(model.error_status(code).unwrap_or(400), code, message)
}

fn error_reply(status: u16, code: &str, message: &str) -> Reply {
    let body = serde_json::json!({ "exceptionMessage": message }).to_string();
    let mut headers = vec![(CONTENT_TYPE, "application/json".to_owned())];
    headers.push((HeaderName::from_static("x-amzn-errortype"), code.to_owned()));
    reply(status, headers, body.into())
}

fn json_reply(status: u16, body: String) -> Reply {
    reply(
        status,
        vec![(CONTENT_TYPE, "application/json".to_owned())],
        body.into(),
    )
}

/// What a proxy or load balancer in front of the service might send.
fn raw_reply(status: u16, body: String) -> Reply {
    let content_type = if serde_json::from_str::<Value>(&body).is_ok() {
        "application/json"
    } else {
        "text/html"
    };
    reply(
        status,
        vec![(CONTENT_TYPE, content_type.to_owned())],
        body.into(),
    )
}

/// Faults carry caller-chosen statuses and codes; ones HTTP cannot carry become a 500 and a
/// missing header rather than a panic.
pub(super) fn reply(status: u16, headers: Vec<(HeaderName, String)>, body: Bytes) -> Reply {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn body_json(body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}
