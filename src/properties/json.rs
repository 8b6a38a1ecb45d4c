//! Reading JSON values the way the properties need it: required and optional members, objects,
//! strings, scalars that CloudFormation sends as strings, bounded integers, enums and enum
//! lists, text checked against a pattern, and short excerpts of refused values for a Reason.

use super::PropertyError;
use serde_json::{Map, Value};

/// How much of a refused value a Reason quotes: enough to recognise it, never the megabyte.
const EXCERPT_CHARS: usize = 64;

pub(super) fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// A refused value as a Reason shows it. Lists and objects are named, not printed: printing
/// recurses, and a value can be nested deeper than a stack allows.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{:?}", excerpt(s)),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_string(),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

pub(super) fn join(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_string()
    } else {
        format!("{base}.{key}")
    }
}

pub(super) fn require<'a>(
    map: &'a Map<String, Value>,
    base: &str,
    key: &str,
) -> Result<&'a Value, PropertyError> {
    map.get(key)
        .filter(|v| !v.is_null())
        .ok_or_else(|| PropertyError::Missing {
            path: join(base, key),
        })
}

pub(super) fn optional<T>(
    map: &Map<String, Value>,
    key: &str,
    parse: impl FnOnce(&Value) -> Result<T, PropertyError>,
) -> Result<Option<T>, PropertyError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => parse(value).map(Some),
    }
}

pub(super) fn object<'a>(
    value: &'a Value,
    path: &str,
) -> Result<&'a Map<String, Value>, PropertyError> {
    value.as_object().ok_or_else(|| PropertyError::WrongType {
        path: path.into(),
        expected: "an object",
    })
}

pub(super) fn string(value: &Value, path: &str) -> Result<String, PropertyError> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| PropertyError::WrongType {
            path: path.into(),
            expected: "a string",
        })
}

/// A string, or a number or boolean that a hand-written template left unquoted.
pub(super) fn scalar(value: &Value, path: &str) -> Result<String, PropertyError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(PropertyError::WrongType {
            path: path.into(),
            expected: "a string",
        }),
    }
}

pub(super) fn integer(value: &Value, path: &str, min: i64, max: i64) -> Result<i64, PropertyError> {
    let not_a_number = || PropertyError::NotANumber {
        path: path.into(),
        value: describe(value),
    };
    let n = match value {
        Value::Number(n) => n.as_i64().ok_or_else(not_a_number)?,
        Value::String(s) => s.trim().parse::<i64>().map_err(|_| not_a_number())?,
        _ => return Err(not_a_number()),
    };
    if !(min..=max).contains(&n) {
        return Err(PropertyError::OutOfRange {
            path: path.into(),
            value: n,
            min,
            max,
        });
    }
    Ok(n)
}

pub(super) fn one_of(
    value: &Value,
    path: &str,
    allowed: &'static [&'static str],
) -> Result<&'static str, PropertyError> {
    let given = value.as_str().ok_or_else(|| PropertyError::NotInEnum {
        path: path.into(),
        value: describe(value),
        allowed,
    })?;
    allowed
        .iter()
        .find(|a| **a == given)
        .copied()
        .ok_or_else(|| PropertyError::NotInEnum {
            path: path.into(),
            value: format!("{:?}", excerpt(given)),
            allowed,
        })
}

pub(super) fn enum_list(
    value: &Value,
    path: &str,
    allowed: &'static [&'static str],
    unique: bool,
) -> Result<Vec<&'static str>, PropertyError> {
    let items = value.as_array().ok_or_else(|| PropertyError::WrongType {
        path: path.into(),
        expected: "a list",
    })?;
    if items.len() > allowed.len() && unique {
        return Err(PropertyError::TooMany {
            path: path.into(),
            len: items.len(),
            max: allowed.len(),
        });
    }
    let mut values: Vec<&'static str> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let v = one_of(item, &format!("{path}[{i}]"), allowed)?;
        if unique && values.contains(&v) {
            return Err(PropertyError::Duplicate {
                path: path.into(),
                value: v.into(),
            });
        }
        values.push(v);
    }
    Ok(values)
}

pub(super) fn check_text(
    value: &str,
    path: &str,
    min: usize,
    max: usize,
    allowed: &'static str,
    valid_char: impl Fn(char) -> bool,
) -> Result<(), PropertyError> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(PropertyError::Length {
            path: path.into(),
            len,
            min,
            max,
        });
    }
    if !value.chars().all(valid_char) {
        return Err(PropertyError::Pattern {
            path: path.into(),
            value: excerpt(value),
            allowed,
        });
    }
    Ok(())
}
