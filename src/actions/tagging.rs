//! An Update that changed only `Tags`: TagResource and UntagResource on the same configuration.
//! The marker tag and AWS's own `aws:` tags are never removed or changed.

use crate::answer::data;
use crate::answer::Answer;
use crate::ivs::Calls;
use crate::ivs::{Configuration, IvsApi, IvsError};
use crate::ownership::MARKER_TAG;
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
    let changes = tag_changes(&current, desired);
    if !changes.remove.is_empty() {
        calls.untag(arn, &changes.remove).await?;
    }
    if !changes.set.is_empty() {
        calls.tag(arn, &changes.set).await?;
    }
    let configuration = calls.get(arn).await?;
    Ok((changes, configuration))
}

/// What TagResource and UntagResource must do to turn the tags a configuration has into the ones
/// the template asks for. The request marker and AWS's own `aws:` tags are never removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagChanges {
    /// Tags to add or overwrite.
    pub set: BTreeMap<String, String>,
    /// Keys to remove.
    pub remove: Vec<String>,
}

impl TagChanges {
    /// Nothing to change.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }
}

/// The changes that turn `current` into `desired`.
pub fn tag_changes(
    current: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> TagChanges {
    let set = desired
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = current
        .keys()
        .filter(|k| !desired.contains_key(*k))
        .filter(|k| k.as_str() != MARKER_TAG && !k.starts_with("aws:"))
        .cloned()
        .collect();
    TagChanges { set, remove }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_changes_set_differences_and_keep_marker_and_aws_tags() {
        let current: BTreeMap<String, String> = [
            ("keep", "1"),
            ("change", "old"),
            ("drop", "x"),
            (MARKER_TAG, "req"),
            ("aws:cloudformation:stack-name", "s"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let desired: BTreeMap<String, String> = [("keep", "1"), ("change", "new"), ("add", "y")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let c = tag_changes(&current, &desired);
        assert_eq!(
            c.set,
            [
                ("add".to_string(), "y".to_string()),
                ("change".to_string(), "new".to_string())
            ]
            .into()
        );
        assert_eq!(c.remove, vec!["drop".to_string()]);
        assert!(tag_changes(&desired, &desired).is_empty());
    }
}
