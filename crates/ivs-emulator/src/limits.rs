//! What a real account imposes before an operation runs: the API rate quotas, as one token
//! bucket per operation, and IAM refusing every call while a new role's permissions propagate,
//! each answered in the words of the operation's service.

use super::store::ApiError;
use super::{EmulatorOptions, Operation, Quotas, Service};
use serde_json::Value;
use std::collections::BTreeMap;
use tokio::time::Instant;

/// Tokens are counted in billionths so that refilling by elapsed nanoseconds is exact integer
/// arithmetic: a bucket refilled for exactly a third of a second at 3 per second holds exactly
/// one token, where floating point could leave it a rounding error short.
const PARTS_PER_TOKEN: u128 = 1_000_000_000;

/// The answer IVS gives over a quota, word for word.
const RATE_EXCEEDED: &str = "Rate exceeded";

/// The role the denied caller is reported as; any name would do, since nothing checks it.
const CALLER: &str = "assumed-role/ivs-emulator-caller/emulator-session";

pub(super) struct RateLimiter {
    buckets: BTreeMap<Operation, Bucket>,
    throttled: usize,
}

struct Bucket {
    /// Tokens added per second, which is also the capacity: a burst of one second's worth.
    per_second: u128,
    parts: u128,
    refilled: Instant,
}

impl Bucket {
    fn full(per_second: u32, now: Instant) -> Self {
        let per_second = u128::from(per_second);
        Bucket {
            per_second,
            parts: per_second * PARTS_PER_TOKEN,
            refilled: now,
        }
    }

    fn try_take(&mut self, now: Instant) -> bool {
        // Requests can reach the lock out of arrival order, so `now` may be slightly earlier
        // than the last refill; that refills nothing rather than going back in time.
        let elapsed = now.saturating_duration_since(self.refilled).as_nanos();
        self.refilled = self.refilled.max(now);
        let capacity = self.per_second * PARTS_PER_TOKEN;
        self.parts = capacity.min(self.parts + elapsed * self.per_second);
        match self.parts.checked_sub(PARTS_PER_TOKEN) {
            Some(left) => {
                self.parts = left;
                true
            }
            None => false,
        }
    }
}

impl RateLimiter {
    pub(super) fn new(quotas: Option<&Quotas>, now: Instant) -> Self {
        let buckets = quotas
            .into_iter()
            .flat_map(|quotas| &quotas.per_second)
            .map(|(operation, rate)| (*operation, Bucket::full(*rate, now)))
            .collect();
        RateLimiter {
            buckets,
            throttled: 0,
        }
    }

    /// Takes a token for `operation`, or answers ThrottlingException when its bucket is empty.
    pub(super) fn admit(&mut self, operation: Operation, now: Instant) -> Result<(), ApiError> {
        let admitted = self
            .buckets
            .get_mut(&operation)
            .is_none_or(|bucket| bucket.try_take(now));
        if admitted {
            return Ok(());
        }
        self.throttled += 1;
        let code = match operation.service() {
            Service::Ivs => "ThrottlingException",
            Service::CloudFormation => "Throttling",
        };
        Err(ApiError {
            code,
            message: RATE_EXCEEDED.to_owned(),
        })
    }

    pub(super) fn throttled(&self) -> usize {
        self.throttled
    }

    /// Fills every bucket as of `now`, as a second without calls would.
    pub(super) fn refill(&mut self, now: Instant) {
        for bucket in self.buckets.values_mut() {
            bucket.parts = bucket.per_second * PARTS_PER_TOKEN;
            bucket.refilled = bucket.refilled.max(now);
        }
    }
}

/// IAM's side: every call before `denied_until` is refused.
pub(super) struct Iam {
    denied_until: Instant,
    caller_arn: String,
    /// What Create is authorized against: every configuration of the account and region.
    create_resource: String,
    /// `arn:aws:cloudformation:REGION:ACCOUNT:stack/`, before a stack's name.
    stack_prefix: String,
}

impl Iam {
    pub(super) fn new(options: &EmulatorOptions, started: Instant) -> Self {
        Iam {
            denied_until: started + options.access_denied_for,
            caller_arn: format!("arn:aws:sts::{}:{CALLER}", options.account_id),
            create_resource: format!(
                "arn:aws:ivs:{}:{}:recording-configuration/*",
                options.region, options.account_id
            ),
            stack_prefix: format!(
                "arn:aws:cloudformation:{}:{}:stack/",
                options.region, options.account_id
            ),
        }
    }

    /// `input` is the request's input if it bound; the resource comes from it, because IAM
    /// authorizes before the service validates, so an invalid request is denied as well.
    pub(super) fn authorize(
        &self,
        operation: Operation,
        input: Option<&Value>,
        now: Instant,
    ) -> Result<(), ApiError> {
        if now >= self.denied_until {
            return Ok(());
        }
        let named = input
            .and_then(|input| input.get("arn").or_else(|| input.get("resourceArn")))
            .and_then(Value::as_str);
        let stack = input
            .and_then(|input| input.get("StackName"))
            .and_then(Value::as_str);
        let resource = match (named, stack, operation) {
            (Some(arn), _, _) => arn.to_owned(),
            (None, None, Operation::CreateRecordingConfiguration) => self.create_resource.clone(),
            // IAM authorizes a stack named by name against every stack of that name.
            (None, Some(stack), _) if !stack.starts_with("arn:") => {
                format!("{}{stack}/*", self.stack_prefix)
            }
            (None, Some(stack), _) => stack.to_owned(),
            (None, None, _) => "*".to_owned(),
        };
        let (code, service) = match operation.service() {
            Service::Ivs => ("AccessDeniedException", "ivs"),
            Service::CloudFormation => ("AccessDenied", "cloudformation"),
        };
        Err(ApiError {
            code,
            message: format!(
                "User: {} is not authorized to perform: {service}:{operation} on resource: \
                 {resource} because no identity-based policy allows the {service}:{operation} \
                 action",
                self.caller_arn
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn limiter(rate: u32, now: Instant) -> RateLimiter {
        let quotas = Quotas {
            per_second: BTreeMap::from([(Operation::GetRecordingConfiguration, rate)]),
        };
        RateLimiter::new(Some(&quotas), now)
    }

    fn admitted(limiter: &mut RateLimiter, at: Instant, calls: usize) -> usize {
        (0..calls)
            .filter(|_| {
                limiter
                    .admit(Operation::GetRecordingConfiguration, at)
                    .is_ok()
            })
            .count()
    }

    #[test]
    fn a_full_bucket_admits_one_seconds_worth_then_throttles() {
        let start = Instant::now();
        let mut limiter = limiter(3, start);
        assert_eq!(admitted(&mut limiter, start, 10), 3);
        assert_eq!(limiter.throttled(), 7);
        let error = limiter
            .admit(Operation::GetRecordingConfiguration, start)
            .unwrap_err();
        assert_eq!(error.code, "ThrottlingException");
        assert_eq!(error.message, "Rate exceeded");
    }

    #[test]
    fn the_bucket_refills_continuously_up_to_its_capacity() {
        let start = Instant::now();
        let mut limiter = limiter(3, start);
        assert_eq!(admitted(&mut limiter, start, 3), 3);
        let third = Duration::from_nanos(333_333_334);
        assert_eq!(
            admitted(&mut limiter, start + third - Duration::from_millis(1), 1),
            0
        );
        assert_eq!(admitted(&mut limiter, start + third, 2), 1);
        // An idle minute still leaves only one second's worth.
        assert_eq!(
            admitted(&mut limiter, start + Duration::from_secs(60), 10),
            3
        );
    }

    #[test]
    fn operations_have_their_own_buckets_and_unlisted_ones_are_free() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(Some(&Quotas::ivs()), start);
        let burst = |limiter: &mut RateLimiter, operation| {
            (0..20)
                .filter(|_| limiter.admit(operation, start).is_ok())
                .count()
        };
        assert_eq!(
            burst(&mut limiter, Operation::CreateRecordingConfiguration),
            3
        );
        assert_eq!(burst(&mut limiter, Operation::GetRecordingConfiguration), 3);
        assert_eq!(burst(&mut limiter, Operation::TagResource), 10);
        assert_eq!(burst(&mut limiter, Operation::ListChannels), 5);
        let mut free = RateLimiter::new(None, start);
        assert_eq!(burst(&mut free, Operation::ListChannels), 20);
        assert_eq!(free.throttled(), 0);
    }

    #[test]
    fn requests_arriving_out_of_order_do_not_refill_twice() {
        let start = Instant::now();
        let mut limiter = limiter(1, start);
        let later = start + Duration::from_secs(1);
        assert_eq!(admitted(&mut limiter, later, 1), 1);
        assert_eq!(admitted(&mut limiter, start, 1), 0);
        assert_eq!(admitted(&mut limiter, later, 1), 0);
    }

    #[test]
    fn iam_denies_until_the_window_ends_naming_action_and_resource() {
        let start = Instant::now();
        let iam = Iam::new(
            &EmulatorOptions {
                access_denied_for: Duration::from_secs(5),
                ..EmulatorOptions::default()
            },
            start,
        );
        let arn = "arn:aws:ivs:us-east-1:123456789012:recording-configuration/AbCd1234EfGh";
        let message = |operation, input: Value| {
            iam.authorize(operation, Some(&input), start)
                .unwrap_err()
                .message
        };
        assert_eq!(
            message(Operation::GetRecordingConfiguration, json!({ "arn": arn })),
            format!(
                "User: arn:aws:sts::123456789012:assumed-role/ivs-emulator-caller/emulator-session \
                 is not authorized to perform: ivs:GetRecordingConfiguration on resource: {arn} \
                 because no identity-based policy allows the ivs:GetRecordingConfiguration action"
            )
        );
        assert!(
            message(Operation::TagResource, json!({ "resourceArn": arn }))
                .contains(&format!("ivs:TagResource on resource: {arn} "))
        );
        assert!(
            message(Operation::CreateRecordingConfiguration, json!({})).contains(
                "on resource: arn:aws:ivs:us-east-1:123456789012:recording-configuration/* "
            )
        );
        let denied = iam
            .authorize(Operation::ListChannels, None, start)
            .unwrap_err();
        assert_eq!(denied.code, "AccessDeniedException");
        assert!(denied.message.contains("ivs:ListChannels on resource: * "));
        let end = start + Duration::from_secs(5);
        assert!(iam.authorize(Operation::ListChannels, None, end).is_ok());
    }

    #[test]
    fn no_window_denies_nothing() {
        let start = Instant::now();
        let iam = Iam::new(&EmulatorOptions::default(), start);
        assert!(iam
            .authorize(Operation::DeleteRecordingConfiguration, None, start)
            .is_ok());
    }
}
