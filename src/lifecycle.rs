//! What to do for a request: the pure decisions of the resource's lifecycle, kept apart from I/O
//! so that each rule is tested without a server.

use crate::arn::is_recording_configuration_arn;
use crate::event::{Identity, Request, RequestKind, MAX_PHYSICAL_ID};
use crate::ownership::{Home, Mismatch};
use crate::properties::{self, PropertyError, RecordingSpec};
use std::collections::BTreeMap;

/// What a request asks of IVS, decided before any call.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Make a configuration: a Create, or an Update of a resource whose Create never made one.
    Create {
        /// What to create.
        spec: RecordingSpec,
    },
    /// An Update changed a create-only property: make a new configuration. The old one stays;
    /// CloudFormation deletes it in its cleanup phase.
    Replace {
        /// The configuration CloudFormation holds now.
        old_arn: String,
        /// What to create.
        spec: RecordingSpec,
    },
    /// An Update that changed at most `Tags`: set them in place on the same configuration.
    UpdateTags {
        /// The configuration.
        arn: String,
        /// Its tags as the template asks for them.
        tags: BTreeMap<String, String>,
    },
    /// Delete the configuration.
    Delete {
        /// Its ARN.
        arn: String,
    },
    /// A Delete of a resource whose Create never made anything.
    NothingToDelete,
    /// A Delete whose PhysicalResourceId CloudFormation made up, as it does after cancelling
    /// a create that was still running: delete what the stack resource owns.
    DeleteCancelled {
        /// The id CloudFormation sent.
        made_up_id: String,
    },
    /// A Delete or Update naming a configuration in another account, region or partition
    /// than the function's: never this resource's, and never sent to IVS.
    Foreign {
        /// The ARN named.
        arn: String,
        /// How it differs.
        mismatch: Mismatch,
    },
    /// The properties are invalid; nothing is sent to IVS.
    Reject {
        /// What is wrong.
        error: PropertyError,
    },
}

/// Decides what `request` asks for. `home` is where the function runs, when known: an ARN
/// elsewhere is refused without a call to IVS.
pub fn decide(request: &Request, home: Option<&Home>) -> Action {
    if let Some(id) = request.physical_resource_id() {
        if let Some(mismatch) = home
            .filter(|_| is_recording_configuration_arn(id))
            .and_then(|home| home.mismatch(id))
        {
            return Action::Foreign {
                arn: id.to_string(),
                mismatch,
            };
        }
    }
    match &request.kind {
        RequestKind::Create => create(&request.properties),
        RequestKind::Update {
            physical_resource_id,
            old_properties,
        } => {
            if !is_recording_configuration_arn(physical_resource_id) {
                return create(&request.properties);
            }
            let spec = match properties::parse(&request.properties) {
                Ok(spec) => spec,
                Err(error) => return Action::Reject { error },
            };
            // Old properties this version cannot read are treated as changed: a replacement is
            // always safe, an in-place update of the wrong thing is not.
            let replace = properties::parse(old_properties)
                .map(|old| old.needs_replacement(&spec))
                .unwrap_or(true);
            if replace {
                Action::Replace {
                    old_arn: physical_resource_id.clone(),
                    spec,
                }
            } else {
                Action::UpdateTags {
                    arn: physical_resource_id.clone(),
                    tags: spec.tags,
                }
            }
        }
        RequestKind::Delete {
            physical_resource_id,
        } => {
            if is_recording_configuration_arn(physical_resource_id) {
                Action::Delete {
                    arn: physical_resource_id.clone(),
                }
            } else if physical_resource_id.starts_with(&failed_create_prefix(&request.identity)) {
                Action::NothingToDelete
            } else {
                Action::DeleteCancelled {
                    made_up_id: physical_resource_id.clone(),
                }
            }
        }
    }
}

fn create(properties: &serde_json::Value) -> Action {
    match properties::parse(properties) {
        Ok(spec) => Action::Create { spec },
        Err(error) => Action::Reject { error },
    }
}

/// The PhysicalResourceId to answer with when no configuration can be named: the one
/// CloudFormation already has, or, for a Create that made nothing, one derived from the stack,
/// the logical id and the request, which a later Delete recognises as "nothing to delete".
pub fn fallback_physical_id(request: &Request) -> String {
    match request.physical_resource_id() {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => failed_create_id(&request.identity),
    }
}

/// The PhysicalResourceId of a Create that made nothing: stack, logical id and request.
pub fn failed_create_id(identity: &Identity) -> String {
    plain_id(&format!(
        "{}{}",
        failed_create_prefix(identity),
        identity.request_id
    ))
}

/// What every failed-create id of the request's stack resource starts with, whichever
/// request made it.
fn failed_create_prefix(identity: &Identity) -> String {
    let stack_name = identity
        .stack_id
        .split('/')
        .nth(1)
        .unwrap_or(&identity.stack_id);
    plain_id(&format!(
        "{stack_name}-{}-failed-create-",
        identity.logical_resource_id
    ))
}

/// Plain characters only, so that the id takes as many bytes in the answer's JSON as it has:
/// CloudFormation's own values (stack names, logical ids, UUIDs) are made of these.
fn plain_id(id: &str) -> String {
    id.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .take(MAX_PHYSICAL_ID)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const ARN: &str = "arn:aws:ivs:us-west-2:123456789012:recording-configuration/AbCdEf123456";

    fn props(bucket: &str, tags: Value) -> Value {
        json!({"ServiceToken": "t", "DestinationConfiguration": {"S3": {"BucketName": bucket}}, "Tags": tags})
    }

    fn request(kind: RequestKind, properties: Value) -> Request {
        Request {
            kind,
            identity: Identity {
                stack_id: "arn:aws:cloudformation:us-west-2:123456789012:stack/demo/1234".into(),
                request_id: "req-1".into(),
                logical_resource_id: "Recording".into(),
            },
            response_url: "https://example.com/x".into(),
            properties,
        }
    }

    fn update(physical: &str, old: Value, new: Value) -> Request {
        request(
            RequestKind::Update {
                physical_resource_id: physical.into(),
                old_properties: old,
            },
            new,
        )
    }

    fn decide_here(request: &Request) -> Action {
        decide(request, Some(&home()))
    }

    fn home() -> Home {
        Home::from_function_arn("arn:aws:lambda:us-west-2:123456789012:function:f").unwrap()
    }

    #[test]
    fn arns_of_another_account_or_region_are_foreign_and_nothing_else_is() {
        let foreign = "arn:aws:ivs:us-west-2:999999999999:recording-configuration/AbCd";
        let delete = |id: &str| {
            request(
                RequestKind::Delete {
                    physical_resource_id: id.into(),
                },
                json!({}),
            )
        };
        match decide_here(&delete(foreign)) {
            Action::Foreign { arn, mismatch } => {
                assert_eq!(arn, foreign);
                assert_eq!(mismatch.what, "account");
            }
            other => panic!("expected Foreign, got {other:?}"),
        }
        let update = update(
            foreign,
            props("bucket", json!({})),
            props("bucket", json!({"a": "1"})),
        );
        assert!(matches!(decide_here(&update), Action::Foreign { .. }));
        assert_eq!(
            decide_here(&delete(ARN)),
            Action::Delete { arn: ARN.into() }
        );
        assert_eq!(
            decide(&delete(foreign), None),
            Action::Delete {
                arn: foreign.into()
            }
        );
        assert_eq!(
            decide_here(&delete("demo-Recording-failed-create-r")),
            Action::NothingToDelete
        );
    }

    #[test]
    fn create_validates_first() {
        let ok = decide_here(&request(RequestKind::Create, props("bucket", json!({}))));
        assert!(matches!(ok, Action::Create { .. }));
        let bad = decide_here(&request(RequestKind::Create, props("B", json!({}))));
        assert!(matches!(bad, Action::Reject { .. }));
    }

    #[test]
    fn tag_only_update_is_in_place() {
        let a = decide_here(&update(
            ARN,
            props("bucket", json!({"a": "1"})),
            props("bucket", json!({"a": "2"})),
        ));
        assert_eq!(
            a,
            Action::UpdateTags {
                arn: ARN.into(),
                tags: [("a".into(), "2".into())].into()
            }
        );
    }

    #[test]
    fn other_changes_replace_and_keep_the_old_arn_for_cloudformation() {
        let a = decide_here(&update(
            ARN,
            props("bucket", json!({})),
            props("other-bucket", json!({})),
        ));
        match a {
            Action::Replace { old_arn, spec } => {
                assert_eq!(old_arn, ARN);
                assert_eq!(spec.bucket_name, "other-bucket");
            }
            other => panic!("expected Replace, got {other:?}"),
        }
    }

    #[test]
    fn unreadable_old_properties_mean_replacement() {
        let a = decide_here(&update(
            ARN,
            json!({"Bogus": 1}),
            props("bucket", json!({})),
        ));
        assert!(matches!(a, Action::Replace { .. }), "{a:?}");
    }

    #[test]
    fn update_of_a_failed_create_is_a_create() {
        let a = decide_here(&update(
            "demo-Recording-failed-create-req-0",
            json!({}),
            props("bucket", json!({})),
        ));
        assert!(matches!(a, Action::Create { .. }), "{a:?}");
    }

    #[test]
    fn invalid_update_is_rejected() {
        let a = decide_here(&update(
            ARN,
            props("bucket", json!({})),
            props("bucket", json!({"aws:x": "y"})),
        ));
        assert!(matches!(a, Action::Reject { .. }), "{a:?}");
    }

    #[test]
    fn a_delete_of_our_failed_create_touches_nothing_and_any_other_id_was_made_up() {
        let kind = |id: &str| RequestKind::Delete {
            physical_resource_id: id.into(),
        };
        // Another request's failed create of the same stack resource, as a rollback sends it.
        assert_eq!(
            decide_here(&request(kind("demo-Recording-failed-create-1"), json!({}))),
            Action::NothingToDelete
        );
        for made_up in [
            "demo-Recording-1A2B3C4D5E6F",
            "demo-Recording-1A2B3C4D5E6F7",
            "demo-Other-failed-create-1",
        ] {
            assert_eq!(
                decide_here(&request(kind(made_up), json!({}))),
                Action::DeleteCancelled {
                    made_up_id: made_up.into()
                },
                "{made_up}"
            );
        }
        assert_eq!(
            decide_here(&request(kind(ARN), json!({}))),
            Action::Delete { arn: ARN.into() }
        );
    }

    #[test]
    fn failed_create_id_names_stack_logical_id_and_request_and_is_no_arn() {
        let r = request(RequestKind::Create, json!({}));
        let id = fallback_physical_id(&r);
        assert_eq!(id, "demo-Recording-failed-create-req-1");
        assert!(!is_recording_configuration_arn(&id));
        let mut long = r.identity.clone();
        long.request_id = "é\"\u{1}".repeat(2000);
        let id = failed_create_id(&long);
        assert_eq!(id.len(), 1024);
        assert_eq!(crate::event::json_len(&id), id.len(), "{id}");
    }

    #[test]
    fn fallback_keeps_the_id_cloudformation_has() {
        let r = request(
            RequestKind::Delete {
                physical_resource_id: ARN.into(),
            },
            json!({}),
        );
        assert_eq!(fallback_physical_id(&r), ARN);
    }
}
