//! Everything the emulator remembers between requests: the configuration store, the stacks, the account's
//! limits, the queue of injected faults and the log of received requests. One lock guards it
//! all, so a request sees the fault queue, the quotas and the store consistently.

use super::limits::{Iam, RateLimiter};
use super::stacks::Stacks;
use super::store::{ApiError, Store};
use super::{EmulatorOptions, Fault, FaultKind, Operation, RecordedRequest, StoredConfiguration};
use serde_json::Value;
use tokio::time::Instant;

pub(super) struct State {
    pub(super) store: Store,
    pub(super) stacks: Stacks,
    limiter: RateLimiter,
    iam: Iam,
    faults: Vec<PendingFault>,
    requests: Vec<RecordedRequest>,
}

struct PendingFault {
    operation: Option<Operation>,
    kind: FaultKind,
    /// `None` applies forever.
    remaining: Option<u32>,
}

impl State {
    pub(super) fn new(options: &EmulatorOptions, started: Instant) -> Self {
        State {
            store: Store::new(options),
            stacks: Stacks::new(options),
            limiter: RateLimiter::new(options.quotas.as_ref(), started),
            iam: Iam::new(options, started),
            faults: Vec::new(),
            requests: Vec::new(),
        }
    }

    /// What the account checks before the operation runs, in this order: the quota (so a
    /// denied call still uses up the account's rate, the stricter reading), then IAM.
    pub(super) fn admit(
        &mut self,
        operation: Operation,
        input: Option<&Value>,
        now: Instant,
    ) -> Result<(), ApiError> {
        self.limiter.admit(operation, now)?;
        self.iam.authorize(operation, input, now)
    }

    pub(super) fn throttled(&self) -> usize {
        self.limiter.throttled()
    }

    pub(super) fn refill_quotas(&mut self, now: Instant) {
        self.limiter.refill(now);
    }

    pub(super) fn configurations(&mut self) -> Vec<StoredConfiguration> {
        self.store.configurations(Instant::now())
    }

    pub(super) fn requests(&self) -> &[RecordedRequest] {
        &self.requests
    }

    /// Logs a request on arrival, so that hanging and dropped requests are seen too; returns the
    /// index for [`State::respond`].
    pub(super) fn record(&mut self, request: RecordedRequest) -> usize {
        self.requests.push(request);
        self.requests.len() - 1
    }

    pub(super) fn respond(&mut self, index: usize, status: u16) {
        if let Some(request) = self.requests.get_mut(index) {
            request.status = status;
        }
    }

    pub(super) fn inject(&mut self, fault: Fault) {
        if fault.times != Some(0) {
            self.faults.push(PendingFault {
                operation: fault.operation,
                kind: fault.kind,
                remaining: fault.times,
            });
        }
    }

    /// Consumes one use of the first fault that applies to `operation`.
    pub(super) fn take_fault(&mut self, operation: Operation) -> Option<FaultKind> {
        let index = self
            .faults
            .iter()
            .position(|f| f.operation.is_none_or(|op| op == operation))?;
        let fault = &mut self.faults[index];
        let kind = fault.kind.clone();
        match &mut fault.remaining {
            Some(1) => {
                self.faults.remove(index);
            }
            Some(n) => *n -= 1,
            None => {}
        }
        Some(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn state() -> State {
        State::new(&EmulatorOptions::default(), Instant::now())
    }

    fn status_of(kind: Option<FaultKind>) -> Option<u16> {
        match kind {
            Some(FaultKind::Status { status, .. }) => Some(status),
            _ => None,
        }
    }

    fn status(status: u16) -> FaultKind {
        FaultKind::Status {
            status,
            body: String::new(),
        }
    }

    #[test]
    fn faults_apply_in_injection_order_and_are_used_up() {
        let mut state = state();
        state.inject(Fault::times(Operation::TagResource, status(500), 2));
        state.inject(Fault::once(Operation::TagResource, status(503)));
        let taken: Vec<_> = (0..4)
            .map(|_| status_of(state.take_fault(Operation::TagResource)))
            .collect();
        assert_eq!(taken, [Some(500), Some(500), Some(503), None]);
    }

    #[test]
    fn faults_only_apply_to_their_operation_unless_they_have_none() {
        let mut state = state();
        state.inject(Fault::always(
            Operation::GetRecordingConfiguration,
            status(500),
        ));
        assert!(state.take_fault(Operation::ListTagsForResource).is_none());
        state.inject(Fault {
            operation: None,
            kind: FaultKind::Hang(Duration::from_millis(1)),
            times: None,
        });
        assert!(matches!(
            state.take_fault(Operation::ListTagsForResource),
            Some(FaultKind::Hang(_))
        ));
        for _ in 0..3 {
            assert_eq!(
                status_of(state.take_fault(Operation::GetRecordingConfiguration)),
                Some(500)
            );
        }
    }

    #[test]
    fn a_denied_call_still_uses_up_the_quota() {
        let now = Instant::now();
        let mut state = State::new(
            &EmulatorOptions {
                access_denied_for: Duration::from_secs(60),
                ..EmulatorOptions::default()
            },
            now,
        );
        let codes: Vec<&str> = (0..4)
            .map(|_| {
                let outcome = state.admit(Operation::ListRecordingConfigurations, None, now);
                outcome.unwrap_err().code
            })
            .collect();
        assert_eq!(
            codes,
            [
                "AccessDeniedException",
                "AccessDeniedException",
                "AccessDeniedException",
                "ThrottlingException"
            ]
        );
        assert_eq!(state.throttled(), 1);
    }

    #[test]
    fn a_fault_for_zero_requests_never_applies() {
        let mut state = state();
        state.inject(Fault::times(Operation::TagResource, status(500), 0));
        assert!(state.take_fault(Operation::TagResource).is_none());
    }
}
