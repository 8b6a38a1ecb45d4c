//! Why properties were refused: every message names the property path and what is allowed.

use super::{MAX_USER_TAGS, RENDITIONS};
use crate::ownership::MARKER_TAG;
use thiserror::Error;

/// Why the properties were refused. Every message names the property path and what is allowed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PropertyError {
    /// `ResourceProperties` is not a JSON object.
    #[error("ResourceProperties must be a JSON object")]
    NotAnObject,
    /// A required property is absent or null.
    #[error("{path} is required")]
    Missing {
        /// The missing property's full path, e.g. `DestinationConfiguration.S3.BucketName`.
        path: String,
    },
    /// A key that the resource does not have, usually a typo.
    #[error("{path} is not a property of Custom::IvsRecordingConfiguration{}", suggestion_text(.suggestion))]
    Unknown {
        /// The unknown key, with the path to it.
        path: String,
        /// The known property it most likely misspells, if any is close.
        suggestion: Option<String>,
    },
    /// A value of the wrong JSON type, e.g. a list where an object belongs.
    #[error("{path} must be {expected}")]
    WrongType {
        /// The property with the wrong type.
        path: String,
        /// What the property must be, as the message names it.
        expected: &'static str,
    },
    /// A value that is neither a whole number nor a string holding one.
    #[error("{path} must be a whole number, got {value}")]
    NotANumber {
        /// The numeric property.
        path: String,
        /// The refused value, shortened for the Reason.
        value: String,
    },
    /// A whole number outside the range IVS accepts.
    #[error("{path} must be between {min} and {max}, got {value}")]
    OutOfRange {
        /// The numeric property.
        path: String,
        /// The number given.
        value: i64,
        /// The smallest number allowed.
        min: i64,
        /// The largest number allowed.
        max: i64,
    },
    /// A string too short or too long for IVS.
    #[error("{path} must be {min} to {max} characters long, got {len}")]
    Length {
        /// The string property.
        path: String,
        /// The string's length in characters.
        len: usize,
        /// The fewest characters allowed.
        min: usize,
        /// The most characters allowed.
        max: usize,
    },
    /// A string with characters that IVS does not accept there.
    #[error("{path} may contain only {allowed}, got {value:?}")]
    Pattern {
        /// The string property.
        path: String,
        /// The refused string, shortened for the Reason.
        value: String,
        /// The characters allowed, in words.
        allowed: &'static str,
    },
    /// A value outside a property's fixed set of choices.
    #[error("{path} must be one of {}, got {value}", .allowed.join(" | "))]
    NotInEnum {
        /// The enum property.
        path: String,
        /// The refused value, shortened for the Reason.
        value: String,
        /// The choices IVS accepts.
        allowed: &'static [&'static str],
    },
    /// A value repeated in a list, or a tag key given twice.
    #[error("{path} lists {value} more than once")]
    Duplicate {
        /// The list, or `Tags`.
        path: String,
        /// The repeated value or key.
        value: String,
    },
    /// A list longer than its distinct choices allow.
    #[error("{path} may list at most {max} values, got {len}")]
    TooMany {
        /// The list property.
        path: String,
        /// How many entries were given.
        len: usize,
        /// The most entries allowed.
        max: usize,
    },
    /// A thumbnail interval given although thumbnail recording is disabled.
    #[error("ThumbnailConfiguration.TargetIntervalSeconds is allowed only with RecordingMode INTERVAL, not DISABLED")]
    IntervalWithDisabled,
    /// A CUSTOM rendition selection that lists no renditions.
    #[error("RenditionConfiguration.Renditions must list at least one of {} when RenditionSelection is CUSTOM", RENDITIONS.join(" | "))]
    CustomWithoutRenditions,
    /// More tags than IVS leaves room for beside the request marker.
    #[error("Tags may hold at most {MAX_USER_TAGS} tags (IVS allows 50, one is used by cfn-ivs-recording's request marker {MARKER_TAG}), got {count}")]
    TooManyTags {
        /// How many tags were given.
        count: usize,
    },
    /// A tag key reserved for AWS or for the request marker.
    #[error("Tags key {key:?} is reserved: keys starting with \"aws:\" belong to AWS and {MARKER_TAG} to this resource")]
    ReservedTagKey {
        /// The refused key, shortened for the Reason.
        key: String,
    },
}

fn suggestion_text(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean {s}?"),
        None => String::new(),
    }
}
