//! The handler's settings: timings, retry policies and where metrics go, with the defaults the
//! function runs with and the environment variables that change them.

use crate::actions::stabilize::PollPolicy;
use crate::answer::send::SendPolicy;
use crate::ivs::CallPolicy;
use crate::metrics::DEFAULT_NAMESPACE;
use crate::timing::backoff::{BackoffPolicy, Jitter};
use std::time::Duration;
use thiserror::Error;

/// The namespace of the function's metrics.
pub const METRICS_NAMESPACE_VAR: &str = "CFN_IVS_METRICS_NAMESPACE";
/// How long AccessDenied is retried while IAM propagates, in seconds.
pub const ACCESS_DENIED_GRACE_VAR: &str = "CFN_IVS_ACCESS_DENIED_GRACE_SECONDS";
/// Set by `sam local invoke` in the function's container.
pub const SAM_LOCAL_VAR: &str = "AWS_SAM_LOCAL";

/// Everything about an invocation that is not in its event.
#[derive(Clone, Debug)]
pub struct HandlerConfig {
    /// Kept back from Lambda's deadline for cleaning up and delivering the answer.
    pub safety_margin: Duration,
    /// How a new configuration is polled until ACTIVE.
    pub poll: PollPolicy,
    /// How IVS calls wait out throttling and IAM propagation.
    pub calls: CallPolicy,
    /// Retries of a Delete refused because a channel still uses the configuration.
    pub conflict_retry: BackoffPolicy,
    /// How the answer's PUT is retried.
    pub send: SendPolicy,
    /// Where each invocation's EMF record goes: its namespace, or `None` for no record.
    pub metrics_namespace: Option<String>,
    /// Accept a plain-http ResponseURL to any host (`sam local invoke` only).
    pub allow_plain_http: bool,
    /// How long CloudFormation is given to say whether it still waits for an answer.
    pub ask_cloudformation_within: Duration,
}

impl Default for HandlerConfig {
    fn default() -> Self {
        HandlerConfig {
            safety_margin: Duration::from_secs(5),
            // IVS usually settles within a second or two. IVS allows 3 Gets a second per
            // account, shared by every resource being created: each polls about once a second
            // (0.67 to 1.33 s apart, jittered so that resources created together do not poll
            // together).
            poll: PollPolicy {
                schedule: BackoffPolicy {
                    first: Duration::from_millis(1333),
                    max: Duration::from_millis(1333),
                    jitter: Jitter::Half,
                },
                read_lag_grace: Duration::from_secs(20),
            },
            // Full jitter spreads the functions that compete for one quota the most; the SDK's
            // own retries come first (see `ivs::sdk`).
            calls: CallPolicy {
                throttled: BackoffPolicy {
                    first: Duration::from_millis(750),
                    max: Duration::from_secs(8),
                    jitter: Jitter::Full,
                },
                access_denied_grace: Duration::from_secs(30),
                denied: BackoffPolicy {
                    first: Duration::from_secs(1),
                    max: Duration::from_secs(5),
                    jitter: Jitter::Half,
                },
            },
            conflict_retry: BackoffPolicy {
                first: Duration::from_secs(1),
                max: Duration::from_secs(10),
                jitter: Jitter::Half,
            },
            // S3 answers a PUT in well under a second.
            send: SendPolicy {
                backoff: BackoffPolicy {
                    first: Duration::from_millis(200),
                    max: Duration::from_secs(5),
                    jitter: Jitter::Half,
                },
                attempt_timeout: Duration::from_secs(5),
            },
            metrics_namespace: None,
            allow_plain_http: false,
            ask_cloudformation_within: Duration::from_secs(2),
        }
    }
}

/// An environment variable the function cannot use.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// Not a number of seconds.
    #[error("{var} must be a whole number of seconds, e.g. 30; got {value:?}. Fix the function's environment")]
    NotSeconds {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// Not a CloudWatch namespace.
    #[error("{var} must be 1 to 255 characters of letters, digits and . - _ / # : (a CloudWatch namespace, not starting with AWS/); got {value:?}. Fix the function's environment")]
    BadNamespace {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
    },
}

impl HandlerConfig {
    /// The function's settings: the defaults, changed by the environment (`var` reads a
    /// variable). Metrics are on, in [`DEFAULT_NAMESPACE`] unless the environment names one.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<HandlerConfig, ConfigError> {
        let mut config = HandlerConfig::default();
        let namespace = var(METRICS_NAMESPACE_VAR)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
        let valid = (1..=255).contains(&namespace.len())
            && !namespace.starts_with("AWS/")
            && namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_/#:".contains(c));
        if !valid {
            return Err(ConfigError::BadNamespace {
                var: METRICS_NAMESPACE_VAR,
                value: namespace,
            });
        }
        config.metrics_namespace = Some(namespace);
        if let Some(value) = var(ACCESS_DENIED_GRACE_VAR).filter(|v| !v.is_empty()) {
            let seconds: u64 = value.trim().parse().map_err(|_| ConfigError::NotSeconds {
                var: ACCESS_DENIED_GRACE_VAR,
                value: value.clone(),
            })?;
            config.calls.access_denied_grace = Duration::from_secs(seconds);
        }
        config.allow_plain_http = var(SAM_LOCAL_VAR).is_some_and(|v| v == "true");
        Ok(config)
    }
}

/// Millisecond-scale policies for unit tests, so that waits and deadlines run in well under a
/// second.
#[cfg(test)]
pub(crate) mod fast {
    use crate::actions::stabilize::PollPolicy;
    use crate::ivs::CallPolicy;
    use crate::timing::backoff::{BackoffPolicy, Jitter};
    use crate::timing::deadline::Deadline;
    use std::time::Duration;

    pub fn fast_poll() -> PollPolicy {
        PollPolicy {
            schedule: BackoffPolicy {
                first: Duration::from_millis(5),
                max: Duration::from_millis(10),
                jitter: Jitter::None,
            },
            read_lag_grace: Duration::from_millis(300),
        }
    }

    pub fn fast_calls() -> CallPolicy {
        CallPolicy {
            throttled: BackoffPolicy {
                first: Duration::from_millis(5),
                max: Duration::from_millis(20),
                jitter: Jitter::Full,
            },
            access_denied_grace: Duration::from_millis(150),
            denied: BackoffPolicy {
                first: Duration::from_millis(10),
                max: Duration::from_millis(20),
                jitter: Jitter::None,
            },
        }
    }

    pub fn deadline(ms: u64) -> Deadline {
        Deadline::after(Duration::from_millis(ms), Duration::from_millis(50))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<HandlerConfig, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HandlerConfig::from_env(|k| vars.get(k).cloned())
    }

    #[test]
    fn defaults_without_environment() {
        let c = from(&[]).unwrap();
        assert_eq!(c.metrics_namespace.as_deref(), Some(DEFAULT_NAMESPACE));
        assert_eq!(c.calls.access_denied_grace, Duration::from_secs(30));
        assert!(!c.allow_plain_http);
    }

    #[test]
    fn the_environment_changes_namespace_grace_and_plain_http() {
        let c = from(&[
            (METRICS_NAMESPACE_VAR, "Team/Video"),
            (ACCESS_DENIED_GRACE_VAR, "90"),
            (SAM_LOCAL_VAR, "true"),
        ])
        .unwrap();
        assert_eq!(c.metrics_namespace.as_deref(), Some("Team/Video"));
        assert_eq!(c.calls.access_denied_grace, Duration::from_secs(90));
        assert!(c.allow_plain_http);
        assert!(!from(&[(SAM_LOCAL_VAR, "1")]).unwrap().allow_plain_http);
    }

    #[test]
    fn unusable_values_are_errors_that_name_the_variable() {
        let e = from(&[(ACCESS_DENIED_GRACE_VAR, "soon")]).unwrap_err();
        assert!(e.to_string().starts_with(ACCESS_DENIED_GRACE_VAR), "{e}");
        for ns in ["AWS/Lambda", "has space", &"x".repeat(256)] {
            let e = from(&[(METRICS_NAMESPACE_VAR, ns)]).unwrap_err();
            assert!(matches!(e, ConfigError::BadNamespace { .. }), "{ns}");
        }
    }
}
