//! One CloudWatch Embedded Metric Format record per invocation, written to stdout with the
//! logs: CloudWatch Logs turns it into metrics without an agent, in Lambda's JSON and text log
//! formats alike. Dimensions are the request type and the outcome only: no ARN, stack or
//! request id, whose cardinality has no bound.

use crate::ivs::CallCount;
use serde_json::{json, Map, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The namespace when `CFN_IVS_METRICS_NAMESPACE` is not set.
pub const DEFAULT_NAMESPACE: &str = "CfnIvsRecording";

/// How an invocation ended, for operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// SUCCESS was delivered.
    Success,
    /// FAILED was delivered.
    Failed,
    /// No answer reached CloudFormation (Lambda retries the event).
    NotDelivered,
}

impl Outcome {
    /// The dimension's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "SUCCESS",
            Outcome::Failed => "FAILED",
            Outcome::NotDelivered => "NOT_DELIVERED",
        }
    }
}

/// What one invocation did.
#[derive(Clone, Debug, PartialEq)]
pub struct InvocationMetrics {
    /// Create, Update, Delete, or Unknown for an event that could not be read.
    pub request_type: &'static str,
    /// How it ended.
    pub outcome: Outcome,
    /// From the event's arrival to the answer's delivery (or the giving up).
    pub duration: Duration,
    /// From the create call to ACTIVE, when a configuration became ACTIVE.
    pub time_to_active: Option<Duration>,
    /// IVS HTTP attempts and how many IVS throttled.
    pub calls: CallCount,
    /// PUTs of the answer.
    pub delivery_attempts: u32,
}

impl InvocationMetrics {
    /// The EMF record, stamped now.
    pub fn record(&self, namespace: &str) -> Value {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.record_at(namespace, timestamp)
    }

    fn record_at(&self, namespace: &str, timestamp_ms: u64) -> Value {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mut values: Vec<(&str, &str, Value)> = vec![
            ("Duration", "Milliseconds", json!(ms(self.duration))),
            ("IvsCalls", "Count", json!(self.calls.attempts)),
            ("ThrottledCalls", "Count", json!(self.calls.throttled)),
            ("DeliveryAttempts", "Count", json!(self.delivery_attempts)),
        ];
        if let Some(t) = self.time_to_active {
            values.push(("TimeToActive", "Milliseconds", json!(ms(t))));
        }
        let definitions: Vec<Value> = values
            .iter()
            .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
            .collect();
        let mut record = Map::new();
        record.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [["RequestType", "Outcome"], ["Outcome"]],
                    "Metrics": definitions,
                }],
            }),
        );
        record.insert("RequestType".into(), json!(self.request_type));
        record.insert("Outcome".into(), json!(self.outcome.as_str()));
        for (name, _, value) in values {
            record.insert(name.into(), value);
        }
        Value::Object(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(time_to_active: Option<Duration>) -> InvocationMetrics {
        InvocationMetrics {
            request_type: "Create",
            outcome: Outcome::Success,
            duration: Duration::from_millis(1500),
            time_to_active,
            calls: CallCount {
                attempts: 6,
                throttled: 2,
            },
            delivery_attempts: 1,
        }
    }

    #[test]
    fn every_declared_metric_has_a_value_and_every_dimension_a_member() {
        for tta in [None, Some(Duration::from_millis(1200))] {
            let record = metrics(tta).record_at("Ns", 1_764_150_000_000);
            let directive = &record["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(record["_aws"]["Timestamp"], 1_764_150_000_000u64);
            assert_eq!(directive["Namespace"], "Ns");
            for set in directive["Dimensions"].as_array().unwrap() {
                for key in set.as_array().unwrap() {
                    assert!(record[key.as_str().unwrap()].is_string(), "{record}");
                }
            }
            let names: Vec<&str> = directive["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["Name"].as_str().unwrap())
                .collect();
            for name in &names {
                assert!(record[*name].is_number(), "{name} has no value: {record}");
            }
            assert_eq!(names.contains(&"TimeToActive"), tta.is_some());
        }
        let record = metrics(Some(Duration::from_millis(1200))).record_at("Ns", 0);
        assert_eq!(record["Duration"], 1500.0);
        assert_eq!(record["TimeToActive"], 1200.0);
        assert_eq!(record["IvsCalls"], 6);
        assert_eq!(record["ThrottledCalls"], 2);
        assert_eq!(record["Outcome"], "SUCCESS");
    }
}
