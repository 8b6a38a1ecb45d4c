//! CloudFormation's query protocol on the emulator's listener: a form POSTed to `/` names its
//! operation in `Action` and the API in `Version`; the answer is XML, an operation's result inside
//! its result wrapper, or an `ErrorResponse` with the status CloudFormation gives the code.

use super::model::{parse_form, Model};
use super::server::{reply, Reply, Shared};
use super::store::ApiError;
use super::{lock, Operation};
use hyper::header::CONTENT_TYPE;
use serde_json::{Map, Value};
use tokio::time::Instant;

/// The API version of the embedded model; CloudFormation knows its operations only under it.
const VERSION: &str = "2010-05-15";

/// A response cut short mid-document, as a truncated or corrupted answer would look.
const MALFORMED_XML: &str = "<DescribeStackResourceResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><DescribeStackResourceResult><StackResourceDetail><StackName>";

/// Whether a request is in the query protocol: its form is POSTed to `/`, where no IVS operation
/// lives.
pub(super) fn is_query(method: &str, path: &str) -> bool {
    method == "POST" && path == "/"
}

/// A query-protocol request as read from its form.
pub(super) struct QueryRequest {
    params: Vec<(String, String)>,
    /// The emulated operation that `Action` and `Version` name, or the error CloudFormation
    /// gives a request naming none.
    pub(super) operation: Result<Operation, ApiError>,
}

impl QueryRequest {
    pub(super) fn parse(model: &Model, body: &[u8]) -> QueryRequest {
        let params = match parse_form(body) {
            Ok(params) => params,
            Err(error) => {
                return QueryRequest {
                    params: Vec::new(),
                    operation: Err(ApiError {
                        code: "MalformedQueryString",
                        message: error.to_string(),
                    }),
                }
            }
        };
        let param = |name: &str| {
            params
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        let operation = match param("Action") {
            None => Err(ApiError {
                code: "MissingAction",
                message: "Missing Action".to_owned(),
            }),
            Some(action) => {
                let version = param("Version").unwrap_or("NO_VERSION_SPECIFIED");
                action
                    .parse::<Operation>()
                    .ok()
                    .filter(|_| version == VERSION && model.operation(action).is_some())
                    .ok_or_else(|| ApiError {
                        code: "InvalidAction",
                        message: format!("Could not find operation {action} for version {version}"),
                    })
            }
        };
        QueryRequest { params, operation }
    }

    /// The parameters as a JSON object, for the request log; a repeated key keeps its first
    /// value, as the binding does.
    pub(super) fn params_json(&self) -> Value {
        let mut object = Map::new();
        for (key, value) in &self.params {
            object
                .entry(key.clone())
                .or_insert_with(|| Value::String(value.clone()));
        }
        Value::Object(object)
    }
}

/// Runs a routed request: the account's quota and IAM first, as for IVS, then the model's
/// validation, then the stacks.
pub(super) fn answer(
    shared: &Shared,
    request: &QueryRequest,
    operation: Operation,
    request_id: &str,
) -> Reply {
    let model = shared.cloudformation;
    let Some(definition) = model.operation(operation.name()) else {
        return error_reply(
            &ApiError {
                code: "InvalidAction",
                message: format!("Could not find operation {operation} for version {VERSION}"),
            },
            request_id,
        );
    };
    let bound = model.bind_form(definition, &request.params);
    let now = Instant::now();
    let mut state = lock(&shared.state);
    let outcome = state
        .admit(operation, bound.as_ref().ok(), now)
        .and_then(|()| {
            let input = bound.map_err(|error| ApiError {
                code: "ValidationError",
                message: error.to_string(),
            })?;
            state.stacks.describe(&input)
        });
    drop(state);
    match outcome {
        Ok(output) => xml_reply(200, model.query_response(definition, &output, request_id)),
        Err(error) => error_reply(&error, request_id),
    }
}

/// An `ErrorResponse` as CloudFormation writes it.
pub(super) fn error_reply(error: &ApiError, request_id: &str) -> Reply {
    service_error(error.code, &error.message, request_id)
}

pub(super) fn service_error(code: &str, message: &str, request_id: &str) -> Reply {
    let status = error_status(code);
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    let escape = super::model::escape_xml;
    let body = format!(
        "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/{VERSION}/\"><Error>\
         <Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error>\
         <RequestId>{}</RequestId></ErrorResponse>",
        escape(code),
        escape(message),
        escape(request_id)
    );
    xml_reply(status, body)
}

pub(super) fn malformed() -> Reply {
    xml_reply(200, MALFORMED_XML.to_owned())
}

/// The statuses CloudFormation answers its codes with: IAM's denial is a 403 `AccessDenied`,
/// throttling a 400 `Throttling`, and the common errors as AWS's query APIs document them.
fn error_status(code: &str) -> u16 {
    match code {
        "AccessDenied" | "InvalidClientTokenId" | "OptInRequired" => 403,
        "MalformedQueryString" => 404,
        "InternalFailure" => 500,
        "ServiceUnavailable" => 503,
        _ => 400,
    }
}

fn xml_reply(status: u16, body: String) -> Reply {
    reply(
        status,
        vec![(CONTENT_TYPE, "text/xml".to_owned())],
        body.into(),
    )
}
