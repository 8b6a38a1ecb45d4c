//! The CloudFormation custom-resource request: parsed from the raw event with
//! `aws_lambda_events`' types, checked for the fields the answer must echo, and reduced to what
//! the lifecycle needs.

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;
use serde_json::Value;
use thiserror::Error;

/// Limits that keep every answer under CloudFormation's 4096-byte body limit, on the fields'
/// lengths once written in JSON (a control character takes six bytes there). CloudFormation's
/// own values are far shorter: a stack ARN is under 300 bytes, a logical id at most 255.
pub const MAX_STACK_ID: usize = 1024;
/// The marker tag's value is the RequestId, `@`, 13 digits and `@kept`: at most 256 characters
/// in IVS.
pub const MAX_REQUEST_ID: usize = 237;
/// CloudFormation's own limit for a LogicalResourceId.
pub const MAX_LOGICAL_ID: usize = 255;
/// CloudFormation's own limit for a PhysicalResourceId.
pub const MAX_PHYSICAL_ID: usize = 1024;

/// The fields every answer copies back verbatim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The ARN of the stack the resource belongs to.
    pub stack_id: String,
    /// The id of this request, unique per stack operation and resource.
    pub request_id: String,
    /// The resource's name in the template.
    pub logical_resource_id: String,
}

impl Identity {
    /// The fields in the order the event gives them.
    pub fn new(stack_id: String, request_id: String, logical_resource_id: String) -> Identity {
        Identity {
            stack_id,
            request_id,
            logical_resource_id,
        }
    }
}

/// What CloudFormation asks to be done, with the state each kind of request brings along.
#[derive(Clone, Debug, PartialEq)]
pub enum RequestKind {
    /// Make a new recording configuration.
    Create,
    /// Change an existing resource, or replace it when the change needs a new one.
    Update {
        /// The id of the resource being updated.
        physical_resource_id: String,
        /// The `ResourceProperties` before the update, raw and unvalidated.
        old_properties: Value,
    },
    /// Remove the resource.
    Delete {
        /// The id of the resource to remove.
        physical_resource_id: String,
    },
}

/// A checked custom-resource request, reduced to what the lifecycle needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// Create, Update or Delete, with the kind's own fields.
    pub kind: RequestKind,
    /// The fields the answer must echo back.
    pub identity: Identity,
    /// The presigned S3 URL the answer is PUT to; it is a secret and must not be logged.
    pub response_url: String,
    /// The raw `ResourceProperties`, validated later by `properties::parse`.
    pub properties: Value,
}

/// Why an event was refused without an answer; it goes back to the Lambda runtime as an error.
#[derive(Debug, Error)]
pub enum EventError {
    /// The event does not parse as a Create, Update or Delete request; holds the cause.
    #[error("the event is not a CloudFormation custom-resource request: {0}")]
    NotCustomResource(String),
    /// A field the answer depends on is empty; holds the field's name.
    #[error("the event has an empty {0}")]
    Empty(&'static str),
    /// A field to echo is too long to fit in a CloudFormation answer.
    #[error("the event's {field} is {len} bytes long in JSON, more than the {max} a CloudFormation answer can echo")]
    TooLong {
        /// The field's name in the event.
        field: &'static str,
        /// Its length in bytes once written in JSON.
        len: usize,
        /// The most this field may take.
        max: usize,
    },
}

impl Request {
    /// Reads a raw Lambda event, refusing anything but an answerable custom-resource request.
    pub fn parse(mut event: Value) -> Result<Request, EventError> {
        // The properties are taken out before the typed parse and put back after it: they are
        // validated field by field later, and a deeply nested value must not reach serde's
        // recursive descent.
        let (properties, old_properties) = match event.as_object_mut() {
            Some(map) => (
                map.get_mut("ResourceProperties").map(Value::take),
                map.get_mut("OldResourceProperties").map(Value::take),
            ),
            None => (None, None),
        };
        let request: CloudFormationCustomResourceRequest = serde_json::from_value(event)
            .map_err(|e| EventError::NotCustomResource(e.to_string()))?;
        let properties = properties.unwrap_or_default();
        let old_properties = old_properties.unwrap_or_default();
        let request = match request {
            CloudFormationCustomResourceRequest::Create(r) => Request {
                kind: RequestKind::Create,
                identity: Identity::new(r.stack_id, r.request_id, r.logical_resource_id),
                response_url: r.response_url,
                properties,
            },
            CloudFormationCustomResourceRequest::Update(r) => Request {
                kind: RequestKind::Update {
                    physical_resource_id: r.physical_resource_id,
                    old_properties,
                },
                identity: Identity::new(r.stack_id, r.request_id, r.logical_resource_id),
                response_url: r.response_url,
                properties,
            },
            CloudFormationCustomResourceRequest::Delete(r) => Request {
                kind: RequestKind::Delete {
                    physical_resource_id: r.physical_resource_id,
                },
                identity: Identity::new(r.stack_id, r.request_id, r.logical_resource_id),
                response_url: r.response_url,
                properties,
            },
            // Only its kind is named: a request of an unknown kind is otherwise unread, and its
            // ResponseURL signature must not reach the logs.
            _ => {
                return Err(EventError::NotCustomResource(
                    "unsupported RequestType".to_string(),
                ))
            }
        };
        request.check()?;
        Ok(request)
    }

    fn check(&self) -> Result<(), EventError> {
        let id = &self.identity;
        if self.response_url.is_empty() {
            return Err(EventError::Empty("ResponseURL"));
        }
        let physical_id = self.physical_resource_id().unwrap_or_default();
        for (field, value, max) in [
            ("StackId", id.stack_id.as_str(), MAX_STACK_ID),
            ("RequestId", &id.request_id, MAX_REQUEST_ID),
            ("LogicalResourceId", &id.logical_resource_id, MAX_LOGICAL_ID),
            ("PhysicalResourceId", physical_id, MAX_PHYSICAL_ID),
        ] {
            if value.is_empty() && field != "PhysicalResourceId" {
                return Err(EventError::Empty(field));
            }
            let len = json_len(value);
            if len > max {
                return Err(EventError::TooLong { field, len, max });
            }
        }
        Ok(())
    }

    /// The `RequestType` as CloudFormation spells it, for logs and messages.
    pub fn request_type(&self) -> &'static str {
        match self.kind {
            RequestKind::Create => "Create",
            RequestKind::Update { .. } => "Update",
            RequestKind::Delete { .. } => "Delete",
        }
    }

    /// The PhysicalResourceId CloudFormation knows this resource by, if it has one yet.
    pub fn physical_resource_id(&self) -> Option<&str> {
        match &self.kind {
            RequestKind::Create => None,
            RequestKind::Update {
                physical_resource_id,
                ..
            }
            | RequestKind::Delete {
                physical_resource_id,
            } => Some(physical_resource_id),
        }
    }
}

/// The length of `text` written as a JSON string, without its quotes.
pub fn json_len(text: &str) -> usize {
    serde_json::to_string(text).map_or(usize::MAX, |json| json.len() - 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(request_type: &str) -> Value {
        json!({
            "RequestType": request_type,
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "ResponseURL": "https://bucket.s3.amazonaws.com/x?sig=1",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/guid",
            "RequestId": "req-1",
            "ResourceType": "Custom::IvsRecordingConfiguration",
            "LogicalResourceId": "Recording",
            "PhysicalResourceId": "arn:aws:ivs:us-east-1:123456789012:recording-configuration/abc",
            "ResourceProperties": {"DestinationConfiguration": {"S3": {"BucketName": "b-1"}}},
            "OldResourceProperties": {"DestinationConfiguration": {"S3": {"BucketName": "b-0"}}}
        })
    }

    #[test]
    fn parses_each_request_type() {
        assert_eq!(
            Request::parse(event("Create")).unwrap().kind,
            RequestKind::Create
        );
        let update = Request::parse(event("Update")).unwrap();
        match update.kind {
            RequestKind::Update { old_properties, .. } => {
                assert_eq!(
                    old_properties["DestinationConfiguration"]["S3"]["BucketName"],
                    "b-0"
                )
            }
            other => panic!("expected Update, got {other:?}"),
        }
        let delete = Request::parse(event("Delete")).unwrap();
        assert_eq!(
            delete.physical_resource_id(),
            Some("arn:aws:ivs:us-east-1:123456789012:recording-configuration/abc")
        );
        assert_eq!(delete.identity.logical_resource_id, "Recording");
    }

    #[test]
    fn a_non_custom_resource_event_is_refused() {
        let e = Request::parse(json!({"hello": "world"})).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("the event is not a CloudFormation custom-resource request"),
            "{e}"
        );
        let mut no_url = event("Create");
        no_url.as_object_mut().unwrap().remove("ResponseURL");
        let e = Request::parse(no_url).unwrap_err();
        assert!(e.to_string().contains("ResponseURL"), "{e}");
    }

    #[test]
    fn a_refused_event_never_quotes_its_response_url() {
        for request_type in ["Replace", "create"] {
            let mut v = event("Create");
            v["RequestType"] = json!(request_type);
            v["ResponseURL"] = json!("https://b.s3.amazonaws.com/x?X-Amz-Signature=SECRET");
            let e = Request::parse(v).unwrap_err().to_string();
            assert!(!e.contains("SECRET"), "{e}");
        }
    }

    #[test]
    fn empty_or_oversized_echo_fields_are_refused() {
        let mut v = event("Create");
        v["ResponseURL"] = json!("");
        assert!(matches!(
            Request::parse(v),
            Err(EventError::Empty("ResponseURL"))
        ));
        let mut v = event("Create");
        v["StackId"] = json!("s".repeat(5000));
        assert!(matches!(
            Request::parse(v),
            Err(EventError::TooLong {
                field: "StackId",
                ..
            })
        ));
    }
}
