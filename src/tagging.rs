//! An Update that changed only `Tags`: TagResource and UntagResource on the same configuration.
//! The marker tag and AWS's own `aws:` tags are never removed or changed.

use crate::answer::Answer;
use crate::create::data;
use crate::ivs::{Configuration, IvsApi, IvsError};
use crate::lifecycle::{self, TagChanges};
use crate::retry::Calls;
use std::collections::BTreeMap;
use tracing::info;

/// Sets the tags of `arn` to `desired` and answers.
pub async fn update_tags<A: IvsApi>(
    calls: &Calls<'_, A>,
    arn: &str,
    desired: &BTreeMap<String, String>,
) -> Answer {
    match set_tags(calls, arn, desired).await {
        Ok((changes, current)) => {
            info!(
                arn,
                set = changes.set.len(),
                removed = changes.remove.len(),
                "tags updated in place"
            );
            let summary = if changes.is_empty() {
                "no change".to_string()
            } else {
                format!(
                    "set {:?}, removed {:?}",
                    changes.set.keys().collect::<Vec<_>>(),
                    changes.remove
                )
            };
            Answer::success(
                arn,
                format!("Updated tags of {arn} in place: {summary}"),
                data(&current),
            )
        }
        Err(e) if e.is_not_found() => Answer::failed(
            arn,
            format!("Recording configuration {arn} no longer exists, so its tags cannot be updated ({e})"),
        ),
        Err(e) => Answer::failed(arn, e.to_string()),
    }
}

async fn set_tags<A: IvsApi>(
    calls: &Calls<'_, A>,
    arn: &str,
    desired: &BTreeMap<String, String>,
) -> Result<(TagChanges, Configuration), IvsError> {
    let current = calls.tags(arn).await?;
    let changes = lifecycle::tag_changes(&current, desired);
    if !changes.remove.is_empty() {
        calls.untag(arn, &changes.remove).await?;
    }
    if !changes.set.is_empty() {
        calls.tag(arn, &changes.set).await?;
    }
    let configuration = calls.get(arn).await?;
    Ok((changes, configuration))
}
