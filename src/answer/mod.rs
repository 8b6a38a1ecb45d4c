//! The answer to CloudFormation: its status, PhysicalResourceId, Reason and Data, the JSON body
//! PUT to the ResponseURL (built with `aws_lambda_events`' response type and kept within
//! CloudFormation's 4096-byte limit), and [`send`], the PUT itself.

pub mod send;

pub use send::{AnswerSender, SendError, SendPolicy};

use crate::event::{json_len, Identity};
use crate::ivs::Configuration;
use aws_lambda_events::event::cloudformation::{
    CloudFormationCustomResourceResponse, CloudFormationCustomResourceResponseStatus,
};
use std::collections::BTreeMap;

/// CloudFormation refuses larger bodies.
pub const MAX_BODY: usize = 4096;
const ELLIPSIS: &str = "…";

/// Whether CloudFormation should treat the request as done or as failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerStatus {
    /// The request was carried out; the stack operation may proceed.
    Success,
    /// The request could not be carried out; CloudFormation rolls back and shows the Reason.
    Failed,
}

impl AnswerStatus {
    /// The `Status` value CloudFormation expects in the response body.
    pub fn as_str(&self) -> &'static str {
        match self {
            AnswerStatus::Success => "SUCCESS",
            AnswerStatus::Failed => "FAILED",
        }
    }
}

/// What the handler decided to tell CloudFormation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Whether the request succeeded or failed.
    pub status: AnswerStatus,
    /// The human-readable explanation CloudFormation shows in the stack events.
    pub reason: String,
    /// The id CloudFormation records for the resource; a new one on Update means replacement.
    pub physical_resource_id: String,
    /// Read with `Fn::GetAtt`.
    pub data: BTreeMap<String, String>,
}

impl Answer {
    /// A SUCCESS answer carrying the resource's id and the attributes for `Fn::GetAtt`.
    pub fn success(
        physical_resource_id: impl Into<String>,
        reason: impl Into<String>,
        data: BTreeMap<String, String>,
    ) -> Self {
        Answer {
            status: AnswerStatus::Success,
            reason: reason.into(),
            physical_resource_id: physical_resource_id.into(),
            data,
        }
    }

    /// A FAILED answer with no `Data`, whose reason tells the user what went wrong.
    pub fn failed(physical_resource_id: impl Into<String>, reason: impl Into<String>) -> Self {
        Answer {
            status: AnswerStatus::Failed,
            reason: reason.into(),
            physical_resource_id: physical_resource_id.into(),
            data: BTreeMap::new(),
        }
    }
}

/// The body to PUT: valid JSON of at most [`MAX_BODY`] bytes. When too long, the Reason is
/// shortened first, then `Data` is dropped.
pub fn body(identity: &Identity, answer: &Answer) -> Vec<u8> {
    let mut answer = answer.clone();
    // No Reason given: the status stands in, whole (a shortened "FAILE…" would say nothing).
    let shortenable = !answer.reason.is_empty();
    if !shortenable {
        answer.reason = answer.status.as_str().to_string();
    }
    let full = serialize(identity, &answer);
    if full.len() <= MAX_BODY {
        return full;
    }
    let original_reason = answer.reason.clone();
    for keep_data in [true, false] {
        if !keep_data {
            answer.data.clear();
        }
        answer.reason = original_reason.clone();
        let fitted = if shortenable {
            shorten_reason_to_fit(identity, &mut answer)
        } else {
            Some(serialize(identity, &answer)).filter(|body| body.len() <= MAX_BODY)
        };
        if let Some(body) = fitted {
            return body;
        }
    }
    // Unreachable for a parsed event: its echoed fields are bounded by their length in JSON
    // (see `event`) so that an ellipsis for a Reason always fits.
    answer.reason = ELLIPSIS.to_string();
    serialize(identity, &answer)
}

/// Cuts the Reason to the longest prefix (by characters) for which the body fits: the body
/// without a Reason, then the Reason's characters as long as their JSON form fits the rest.
fn shorten_reason_to_fit(identity: &Identity, answer: &mut Answer) -> Option<Vec<u8>> {
    let reason = std::mem::take(&mut answer.reason);
    let without = serialize(identity, answer).len();
    let budget = MAX_BODY.checked_sub(without + ELLIPSIS.len())?;
    let mut used = 0;
    let mut end = 0;
    for (at, c) in reason.char_indices() {
        used += json_len(c.encode_utf8(&mut [0; 4]));
        if used > budget {
            break;
        }
        end = at + c.len_utf8();
    }
    answer.reason = format!("{}{ELLIPSIS}", &reason[..end]);
    Some(serialize(identity, answer))
}

fn serialize(identity: &Identity, answer: &Answer) -> Vec<u8> {
    let mut response = CloudFormationCustomResourceResponse::default();
    response.status = match answer.status {
        AnswerStatus::Success => CloudFormationCustomResourceResponseStatus::Success,
        AnswerStatus::Failed => CloudFormationCustomResourceResponseStatus::Failed,
    };
    response.reason = Some(answer.reason.clone());
    response.physical_resource_id = answer.physical_resource_id.clone();
    response.stack_id = identity.stack_id.clone();
    response.request_id = identity.request_id.clone();
    response.logical_resource_id = identity.logical_resource_id.clone();
    response.data = answer
        .data
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    serde_json::to_vec(&response).expect("a struct of strings always serializes")
}

/// What `Fn::GetAtt` reads.
pub fn data(configuration: &Configuration) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("Arn".to_string(), configuration.arn.clone()),
        (
            "State".to_string(),
            configuration.state.as_str().to_string(),
        ),
        ("Name".to_string(), configuration.name.clone()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn identity() -> Identity {
        Identity {
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/guid".into(),
            request_id: "req-1".into(),
            logical_resource_id: "Recording".into(),
        }
    }

    fn parse(body: &[u8]) -> Value {
        serde_json::from_slice(body).expect("valid JSON")
    }

    #[test]
    fn success_body_has_every_field_cloudformation_reads() {
        let data = [("Arn".to_string(), "arn:x".to_string())].into();
        let body = parse(&body(
            &identity(),
            &Answer::success("arn:x", "created", data),
        ));
        assert_eq!(body["Status"], "SUCCESS");
        assert_eq!(body["PhysicalResourceId"], "arn:x");
        assert_eq!(body["StackId"], identity().stack_id);
        assert_eq!(body["RequestId"], "req-1");
        assert_eq!(body["LogicalResourceId"], "Recording");
        assert_eq!(body["Data"]["Arn"], "arn:x");
        assert_eq!(body["Reason"], "created");
    }

    #[test]
    fn failed_body_always_has_a_reason() {
        let body = parse(&body(&identity(), &Answer::failed("id", "")));
        assert_eq!(body["Status"], "FAILED");
        assert_eq!(body["Reason"], "FAILED");
    }

    #[test]
    fn a_long_reason_is_shortened_to_fit_and_keeps_its_start() {
        let reason = format!("IVS said: {}", "é".repeat(5000));
        let data = [("Arn".to_string(), "arn:x".to_string())].into();
        let mut answer = Answer::failed("id", reason);
        answer.data = data;
        let bytes = body(&identity(), &answer);
        assert!(bytes.len() <= MAX_BODY, "{}", bytes.len());
        assert!(
            bytes.len() > MAX_BODY - 8,
            "shortened more than needed: {}",
            bytes.len()
        );
        let body = parse(&bytes);
        let reason = body["Reason"].as_str().unwrap();
        assert!(
            reason.starts_with("IVS said: éé") && reason.ends_with('…'),
            "{reason}"
        );
        assert_eq!(
            body["Data"]["Arn"], "arn:x",
            "Data is kept while shortening the Reason is enough"
        );
    }

    #[test]
    fn data_is_dropped_when_shortening_the_reason_is_not_enough() {
        let data: BTreeMap<String, String> = (0..40)
            .map(|i| (format!("K{i}"), "v".repeat(100)))
            .collect();
        let bytes = body(&identity(), &Answer::success("arn:x", "done", data));
        assert!(bytes.len() <= MAX_BODY);
        let body = parse(&bytes);
        assert_eq!(body["Data"], serde_json::json!({}));
        assert_eq!(body["PhysicalResourceId"], "arn:x");
    }

    #[test]
    fn control_characters_and_quotes_stay_valid_json() {
        let reason = "line\nbreak \"quoted\" \u{0} tab\t".repeat(300);
        let bytes = body(&identity(), &Answer::failed("id", reason));
        assert!(bytes.len() <= MAX_BODY);
        assert!(parse(&bytes)["Reason"]
            .as_str()
            .unwrap()
            .starts_with("line\nbreak"));
    }
}
