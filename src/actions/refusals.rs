//! Answers given without a call to IVS: properties that are invalid, a Delete of a create that
//! made nothing, a configuration of another account or region, an event with no time left.

use crate::answer::Answer;
use crate::ownership::Mismatch;
use crate::properties::PropertyError;
use crate::timing::deadline::Deadline;
use std::collections::BTreeMap;
use std::time::Duration;

/// The properties are invalid; `id` is the PhysicalResourceId CloudFormation has, or the
/// failed-create id.
pub fn invalid_properties(id: String, error: &PropertyError) -> Answer {
    Answer::failed(id, format!("Invalid properties: {error}"))
}

/// A Delete of `id`, the failed-create id of a create that made nothing.
pub fn nothing_to_delete(id: String) -> Answer {
    let reason =
        format!("Nothing to delete: {id} names no recording configuration (its Create failed)");
    Answer::success(id, reason, BTreeMap::new())
}

/// A Delete of `arn`, which lies outside the function's account or region: never this
/// resource's.
pub fn foreign_delete(arn: &str, mismatch: &Mismatch) -> Answer {
    Answer::success(
        arn,
        format!("Nothing of this resource's to delete: {arn} is not in this function's account and region ({mismatch}), so it was never this resource's; nothing was sent to IVS"),
        BTreeMap::new(),
    )
}

/// An Update of `arn`, which lies outside the function's account or region.
pub fn foreign_update(arn: &str, mismatch: &Mismatch) -> Answer {
    Answer::failed(
        arn,
        format!("Recording configuration {arn} is not in this function's account and region ({mismatch}); this function manages only its own. Nothing was changed"),
    )
}

/// The event arrived with less time than the safety margin kept for answering.
pub fn no_time_left(id: String, deadline: &Deadline, safety_margin: Duration) -> Answer {
    Answer::failed(
        id,
        format!(
            "timed out before starting: the invocation arrived with {:.1?} left, less than the {safety_margin:?} safety margin kept for answering; nothing was changed. Raise the function's timeout",
            deadline.hard_left(),
        ),
    )
}
