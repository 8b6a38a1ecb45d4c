//! The CloudFormation custom-resource request: parsed from the raw event with
//! `aws_lambda_events`' types, checked for the fields the answer must echo, and reduced to what
//! the lifecycle needs.

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;
use serde_json::Value;
use thiserror::Error;

/// Limits that keep every answer under CloudFormation's 4096-byte body limit; CloudFormation's
/// own values are far shorter (a stack ARN is under 300 bytes, a logical id at most 255).
const MAX_STACK_ID: usize = 1024;
const MAX_REQUEST_ID: usize = 256;
const MAX_LOGICAL_ID: usize = 255;
const MAX_PHYSICAL_ID: usize = 1024;

/// The fields every answer copies back verbatim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RequestKind {
    Create,
    Update {
        physical_resource_id: String,
        old_properties: Value,
    },
    Delete {
        physical_resource_id: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub kind: RequestKind,
    pub identity: Identity,
    pub response_url: String,
    pub properties: Value,
}

#[derive(Debug, Error)]
pub enum EventError {
    #[error("the event is not a CloudFormation custom-resource request: {0}")]
    NotCustomResource(String),
    #[error("the event has an empty {0}")]
    Empty(&'static str),
    #[error("the event's {field} is {len} bytes long, more than the {max} a CloudFormation answer can echo")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
}

impl Request {
    pub fn parse(event: Value) -> Result<Request, EventError> {
        let request: CloudFormationCustomResourceRequest = serde_json::from_value(event)
            .map_err(|e| EventError::NotCustomResource(e.to_string()))?;
        let request = match request {
            CloudFormationCustomResourceRequest::Create(r) => Request {
                kind: RequestKind::Create,
                identity: Identity {
                    stack_id: r.stack_id,
                    request_id: r.request_id,
                    logical_resource_id: r.logical_resource_id,
                },
                response_url: r.response_url,
                properties: r.resource_properties,
            },
            CloudFormationCustomResourceRequest::Update(r) => Request {
                kind: RequestKind::Update {
                    physical_resource_id: r.physical_resource_id,
                    old_properties: r.old_resource_properties,
                },
                identity: Identity {
                    stack_id: r.stack_id,
                    request_id: r.request_id,
                    logical_resource_id: r.logical_resource_id,
                },
                response_url: r.response_url,
                properties: r.resource_properties,
            },
            CloudFormationCustomResourceRequest::Delete(r) => Request {
                kind: RequestKind::Delete {
                    physical_resource_id: r.physical_resource_id,
                },
                identity: Identity {
                    stack_id: r.stack_id,
                    request_id: r.request_id,
                    logical_resource_id: r.logical_resource_id,
                },
                response_url: r.response_url,
                properties: r.resource_properties,
            },
            other => {
                return Err(EventError::NotCustomResource(format!(
                    "unsupported request {other:?}"
                )))
            }
        };
        request.check()?;
        Ok(request)
    }

    fn check(&self) -> Result<(), EventError> {
        let id = &self.identity;
        for (field, value, max) in [
            ("ResponseURL", &self.response_url, usize::MAX),
            ("StackId", &id.stack_id, MAX_STACK_ID),
            ("RequestId", &id.request_id, MAX_REQUEST_ID),
            ("LogicalResourceId", &id.logical_resource_id, MAX_LOGICAL_ID),
        ] {
            if value.is_empty() {
                return Err(EventError::Empty(field));
            }
            if value.len() > max {
                return Err(EventError::TooLong {
                    field,
                    len: value.len(),
                    max,
                });
            }
        }
        match self.physical_resource_id() {
            Some(id) if id.len() > MAX_PHYSICAL_ID => Err(EventError::TooLong {
                field: "PhysicalResourceId",
                len: id.len(),
                max: MAX_PHYSICAL_ID,
            }),
            _ => Ok(()),
        }
    }

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
