//! The fault matrix: every request type against every fault the IVS emulator and the fake
//! ResponseURL can inject, over HTTP, with the real `aws-sdk-ivs` client and the real handler.
//!
//! Rows starting "first calls" apply to each call the request type makes first, in order:
//! Create and replace: ListRecordingConfigurations (an earlier delivery may have created it),
//! then CreateRecordingConfiguration; tags only: ListTagsForResource, UntagResource, TagResource;
//! Delete: DeleteRecordingConfiguration.
//!
//! | injected | Create | Update (replace) | Update (tags only) | Delete |
//! |---|---|---|---|---|
//! | nothing | SUCCESS, new ARN; ListRecordingConfigurations exactly twice (before creating, and once ACTIVE) | SUCCESS, new ARN, the same two Lists; the old one stays for CloudFormation's cleanup | SUCCESS, same ARN, tags set | SUCCESS, deleted |
//! | first calls: raw 500, InternalServerException ×2, 429 ThrottlingException, connection reset, 300 ms hang — then OK | SUCCESS (the SDK retries) | SUCCESS | SUCCESS | SUCCESS |
//! | first calls: InternalServerException, raw 500 or reset that never recovers | FAILED `IVS <op> failed …` naming code and message, or status and body, after the SDK's 3 attempts; failed-create id; nothing created | FAILED, old ARN; nothing new | FAILED, same ARN | FAILED, same ARN; kept |
//! | first calls: ThrottlingException that never ends (3 s left) | waited out with full-jitter backoff, then FAILED before the deadline: `IVS <op> was throttled until the function's deadline (N attempts, last: <message>). IVS allows 3 <op> calls a second …`; nothing created | same, old ARN | same (10 calls a second for the tag calls), same ARN | same, same ARN; kept |
//! | first calls: AccessDeniedException that never ends | retried for the grace given to IAM propagation (0.6 s here, 30 s by default), then FAILED `IVS <op> was denied (AccessDeniedException: <message>) …: the function's role may lack ivs:<op>, or a role created with this stack may still be propagating …`; nothing created | same, old ARN | same, same ARN | same, same ARN; kept |
//! | first calls: ValidationException, PendingVerification, ConflictException, ServiceQuotaExceededException | FAILED naming operation, code and message; not retried | same | same | same, but ConflictException is retried until the deadline, then FAILED `A channel still references …` |
//! | first calls: ResourceNotFoundException | FAILED, naming it | FAILED, old ARN | FAILED `… no longer exists …` | SUCCESS `… was already gone` |
//! | first calls: 200 with a malformed body | FAILED naming the operation and the unreadable answer | same, old ARN | ListTagsForResource: FAILED; UntagResource, TagResource: SUCCESS (their answer has no body to read) | SUCCESS (no body to read) |
//! | first calls: a hang past the deadline | FAILED `timed out waiting for IVS <op>` before the deadline; nothing created | same, old ARN | FAILED, same ARN | FAILED, same ARN; kept |
//! | channels record with the configuration (IVS's own ConflictException) | — | — | — | retried until the deadline, then FAILED, same ARN, kept; the Reason names the channels: `Channels still recording with it: <name> (<channel ARN>), …`, at most 5, then `and more` |
//! | IAM denies every call for the first 1 s (a role created with the stack, still propagating; a 3 s grace) | SUCCESS, one configuration | — ¹ | — ¹ | — ¹ |
//! | IAM denies every call for good | FAILED `IVS ListRecordingConfigurations was denied …` once the grace has passed, before the deadline; no CreateRecordingConfiguration; failed-create id | — ¹ | — ¹ | — ¹ |
//! | ListRecordingConfigurations fails for good after the create (the check for a concurrent delivery, once ACTIVE) | SUCCESS, keeps what it created | same | — | — |
//! | GetRecordingConfiguration, while polled, fails passingly (raw 500, 429 ×2, reset, malformed body) | polling goes on: SUCCESS | same | — | — |
//! | GetRecordingConfiguration, while polled, answers AccessDeniedException for good | retried for the grace, then FAILED naming it; the new configuration is deleted | same, old ARN | — | — |
//! | GetRecordingConfiguration, while polled, answers ThrottlingException for good (2 s left) | FAILED `timed out waiting for recording configuration … (last poll: IVS GetRecordingConfiguration was throttled …)` before the deadline; deleted, or, when the SDK's client-side rate limiter holds the clean-up Delete past its slice of the margin, as when the clean-up Delete is refused (below) | same, old ARN | — | — |
//! | GetRecordingConfiguration, while polled, answers 404 once although the configuration exists | polling goes on: SUCCESS | same | — | — |
//! | IVS's reads lag its writes by 2 s (Get answers 404 and List omits the new configuration) | polling goes on: SUCCESS; the configuration is kept, no Delete | same | — | — |
//! | IVS's reads lag its writes for longer than the read-lag grace (3 s here, 20 s by default) | FAILED `… disappeared …` once the grace has passed since the create; deleted, nothing left | same, old ARN | — | — |
//! | GetRecordingConfiguration hangs past the deadline | FAILED `timed out waiting for recording configuration …`; deleted within the safety margin | same, old ARN | — | — |
//! | the state stays CREATING forever | FAILED `timed out …` before the deadline; deleted | same, old ARN | — | — |
//! | … and the clean-up Delete takes 150 ms | deleted all the same (the clean-up uses the safety margin) | same | — | — |
//! | … and the clean-up Delete is refused | FAILED with the new ARN as PhysicalResourceId, so the rollback's Delete removes it | FAILED, old ARN; the Reason names the new ARN to delete by hand | — | — |
//! | the state goes CREATE_FAILED | FAILED naming the bucket and the region; deleted | same, old ARN | — | — |
//! | the configuration vanishes (404 on every poll until the read-lag grace has passed since the create) | FAILED `… disappeared …`; nothing left | same, old ARN | — | — |
//! | it needs 2 s to become ACTIVE, 0.7 s of work time is left | FAILED `timed out …`; deleted | same, old ARN | — | — |
//! | the event arrives with less time than the safety margin | FAILED `timed out before starting …`, no IVS call; failed-create id | FAILED, old ARN | FAILED, same ARN | FAILED, same ARN; kept |
//! | ResponseURL answers 500 ×3, resets ×2, or hangs once | delivered by a later attempt, the same body each time | same | same | same |
//! | ResponseURL answers 403 | exactly one PUT; the handler returns `Err(HandlerError::Send)` so Lambda retries; the work is kept for the retry | same | same | same |
//! | ResponseURL answers 500 or hangs on every attempt | retried; `Err(HandlerError::Send)` before the deadline | same | same | same |
//! | the same event delivered twice, one after the other | the same answer twice; one configuration (CreateRecordingConfiguration called once) | same | same | same |
//! | … concurrently: the second while the first's configuration is CREATING (Create, replace), or both at once (tags only, Delete) | the same ARN; one configuration | same | same | same |
//! | … both at once, the first CreateRecordingConfiguration answering 300 ms late | the same ARN; one configuration: both keep the oldest configuration carrying the request's marker (`<RequestId>@<unix ms>`), and the other is deleted | same | — | — |
//! | a panic in the handler | FAILED `… panicked: …` (unit test of `answer_or_failed` in `src/handler.rs`) | same | same | same |
//!
//! ¹ The emulator's IAM window starts with it, so the configuration an Update or a Delete
//! starts from could not be made.
//!
//! In every row the emulator imposes IVS's rate quotas per account (3 calls a second for each
//! recording-configuration call, 10 for each tag call, 5 for ListChannels); injected faults
//! answer before the quota is counted. The configuration an Update or a Delete starts from is
//! made a second before the request, so that the request starts with full quotas, as one long
//! after the Create does.
//!
//! In every cell: exactly one answer is accepted by the ResponseURL per delivery (or, where it
//! cannot be delivered, the handler returns `Err(HandlerError::Send)`), before the Lambda
//! deadline; its Status, Reason and non-empty PhysicalResourceId are as above; and IVS holds
//! exactly the configurations that should exist, compared by ARN.
//!
//! Each row is a [`Case`]; each case gets its own emulator, sink and handler, so the cases of a
//! group run concurrently. A failing group lists every failing case by name.

use crate::util::*;
use cfn_ivs_recording::answer::send::SendError;
use cfn_ivs_recording::handler::{Delivered, HandlerConfig, HandlerError};
use cfn_ivs_recording::ownership::{Marker, MARKER_TAG};
use ivs_emulator::{
    EmulatorOptions, Fault, FaultKind, Operation, RecordedRequest, Stabilization,
    StoredConfiguration,
};
use lambda_fakes::{RecordedPut, SinkReply};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Time left before the Lambda deadline in most cases: room for the SDK's retry backoff.
const LONG: Duration = Duration::from_secs(10);
/// For hangs, timeouts and throttling: 1.2 s of work time, then the 0.8 s safety margin.
const SHORT: Duration = Duration::from_secs(2);
/// Less than `fast_config()`'s 800 ms safety margin.
const CLOSE: Duration = Duration::from_millis(500);
/// For throttling that never ends: 2.2 s of work time, room for a few rounds of backoff.
const THROTTLED: Duration = Duration::from_secs(3);
/// A case that takes longer has hung.
const CASE_TIMEOUT: Duration = Duration::from_secs(30);
/// Cases of a group running at once: all on one thread, so that timings stay meaningful.
const CONCURRENT_CASES: usize = 16;
/// Between making the configuration an Update or Delete starts from and sending the request:
/// long enough for the emulator's quotas (a second's worth of calls) to refill.
const QUOTAS_REFILL: Duration = Duration::from_secs(1);

const REQUEST_ID: &str = "req-1";
const SETUP_REQUEST_ID: &str = "req-0";
const FAILED_CREATE_ID: &str = "demo-Recording-failed-create-req-1";
const ARN_PREFIX: &str = "arn:aws:ivs:us-east-1:123456789012:recording-configuration/";
const CHANNEL_PREFIX: &str = "arn:aws:ivs:us-east-1:123456789012:channel/";

/// Every IVS error the model defines.
const CODES: [&str; 8] = [
    "ValidationException",
    "AccessDeniedException",
    "PendingVerification",
    "ConflictException",
    "ServiceQuotaExceededException",
    "ResourceNotFoundException",
    "InternalServerException",
    "ThrottlingException",
];

/// Words one of which a Reason about an unreadable answer must contain.
const UNREADABLE: [&str; 6] = [
    "malformed",
    "unexpected",
    "parse",
    "deserializ",
    "invalid",
    "unreadable",
];

use Operation::{
    CreateRecordingConfiguration as CREATE, DeleteRecordingConfiguration as DELETE,
    DescribeStackResource as DESCRIBE, GetRecordingConfiguration as GET,
    ListRecordingConfigurations as LIST, ListTagsForResource as LIST_TAGS, TagResource as TAG,
    UntagResource as UNTAG,
};

// ---------------------------------------------------------------------------------------------
// The matrix
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_matrix() {
    let r = Request::Create;
    let mut cases = faults_on_first_calls(r);
    cases.extend(creating(r));
    cases.extend(iam_propagation(r));
    cases.extend(cloudformation_check(r));
    run_matrix("Create", cases).await;
}

#[tokio::test]
async fn replace_matrix() {
    let r = Request::Replace;
    let mut cases = faults_on_first_calls(r);
    cases.extend(creating(r));
    cases.extend(cloudformation_check(r));
    run_matrix("Update (replace)", cases).await;
}

#[tokio::test]
async fn tags_only_matrix() {
    let r = Request::TagsOnly;
    let mut cases = faults_on_first_calls(r);
    cases.push(
        Case::new(
            r,
            "GetRecordingConfiguration (for Data) after the tags were set is refused",
        )
        .fault(Fault::always(GET, error("AccessDeniedException", GET)))
        .expect(failed(Id::Existing, Stored::ExistingTagged).reasons(denied_for(GET))),
    );
    run_matrix("Update (tags only)", cases).await;
}

#[tokio::test]
async fn delete_matrix() {
    let r = Request::Delete;
    let mut cases = faults_on_first_calls(r);
    cases.extend([
        Case::new(
            r,
            "DeleteRecordingConfiguration answers ConflictException 3 times, then OK",
        )
        .fault(Fault::times(DELETE, error("ConflictException", DELETE), 3))
        .expect(ok(r).calls(DELETE, Calls::Exactly(4))),
        // IVS's own conflict, under its Delete quota: the retries are throttled too.
        Case::new(r, "a channel records with the configuration")
            .channels(["studio-a"])
            .left(SHORT)
            .expect(
                unchanged(r)
                    .reason([
                        "A channel still references",
                        &format!("Channels still recording with it: studio-a ({CHANNEL_PREFIX}"),
                        "Remove it from the channel",
                    ])
                    .names_channels(1)
                    .calls(DELETE, Calls::AtLeast(3))
                    .calls(Operation::ListChannels, Calls::Exactly(1)),
            ),
        Case::new(r, "seven channels record with the configuration")
            .channels(["ch-1", "ch-2", "ch-3", "ch-4", "ch-5", "ch-6", "ch-7"])
            .left(SHORT)
            // Which five is up to IVS's order.
            .expect(
                unchanged(r)
                    .reason([
                        "Channels still recording with it: ch-",
                        ") and more. Remove it",
                    ])
                    .names_channels(5),
            ),
    ]);
    run_matrix("Delete", cases).await;
}

#[tokio::test]
async fn response_url_matrix() {
    let mut cases = Vec::new();
    for r in Request::ALL {
        cases.extend([
            Case::new(r, "ResponseURL answers 500 three times, then 200")
                .sink([
                    SinkReply::Status(500),
                    SinkReply::Status(500),
                    SinkReply::Status(500),
                ])
                .expect(ok(r)),
            Case::new(r, "ResponseURL resets the connection twice, then 200")
                .sink([SinkReply::ConnectionReset, SinkReply::ConnectionReset])
                .expect(ok(r)),
            Case::new(
                r,
                "ResponseURL hangs once (the attempt times out), then 200",
            )
            .sink([SinkReply::Hang])
            .expect(ok(r)),
            Case::new(r, "ResponseURL answers 403")
                .sink([SinkReply::Status(403)])
                .expect(ok(r).refused()),
            Case::new(r, "ResponseURL answers 500 every time")
                .sink(vec![SinkReply::Status(500); 500])
                .left(SHORT)
                .expect(ok(r).undelivered()),
            Case::new(r, "ResponseURL hangs every time")
                .sink(vec![SinkReply::Hang; 100])
                .left(SHORT)
                .expect(ok(r).undelivered()),
        ]);
    }
    run_matrix("ResponseURL", cases).await;
}

#[tokio::test]
async fn duplicate_delivery_matrix() {
    let mut cases = Vec::new();
    for r in Request::ALL {
        let once = |e: Expect| match r {
            Request::Create | Request::Replace => e.calls(CREATE, Calls::Exactly(1)),
            _ => e,
        };
        cases.push(
            Case::new(r, "delivered twice, one after the other")
                .deliveries(Deliveries::Twice)
                .expect(once(ok(r))),
        );
        match r {
            Request::Create | Request::Replace => cases.extend([
                Case::new(r, "delivered twice, the second while the first's configuration is CREATING")
                    .stabilize(Stabilization::ActiveAfter(ms(500)))
                    .deliveries(Deliveries::SecondWhileCreating)
                    .expect(once(ok(r))),
                // IVS answers a create with CREATING and takes seconds to settle, so a delivery
                // whose create lands 300 ms late still does so before the other has answered:
                // both look again once ACTIVE and keep the oldest by the marker's time. A race,
                // hence 10 runs.
                Case::new(r, "delivered twice at once, the first CreateRecordingConfiguration answering 300 ms late")
                    .stabilize(Stabilization::ActiveAfter(ms(500)))
                    .fault(Fault::once(CREATE, FaultKind::Hang(ms(300))))
                    .deliveries(Deliveries::AtOnce)
                    .runs(10)
                    .expect(ok(r)),
            ]),
            Request::TagsOnly | Request::Delete => cases.push(
                Case::new(r, "delivered twice at once")
                    .deliveries(Deliveries::AtOnce)
                    .expect(ok(r)),
            ),
        }
    }
    run_matrix("duplicate deliveries", cases).await;
}

// A panic inside the handler is answered FAILED by `answer_or_failed`; it is covered by the unit
// test `a_panic_becomes_a_failed_answer_naming_it` in src/handler.rs (nothing here can make the
// handler panic).

/// The calls each request type makes first, in order; each gets every fault.
fn first_calls(r: Request) -> &'static [Operation] {
    match r {
        // ListRecordingConfigurations first: an earlier delivery may have created it already.
        Request::Create | Request::Replace => &[LIST, CREATE],
        Request::TagsOnly => &[LIST_TAGS, UNTAG, TAG],
        Request::Delete => &[DELETE],
    }
}

fn faults_on_first_calls(r: Request) -> Vec<Case> {
    let nothing = match r {
        Request::Create | Request::Replace => ok(r).calls(LIST, Calls::Exactly(2)),
        _ => ok(r),
    };
    let mut cases = vec![
        Case::new(r, "no fault").expect(nothing),
        Case::new(
            r,
            "arrives with 0.5 s left, less than the 0.8 s safety margin",
        )
        .left(CLOSE)
        .expect(
            unchanged(r)
                .reason([
                    "timed out before starting",
                    "safety margin",
                    "nothing was changed",
                ])
                .no_ivs_call(),
        ),
    ];
    for &op in first_calls(r) {
        let on = |what: &str| format!("{op} {what}");
        cases.extend([
            Case::new(r, on("answers a raw 500 once, then OK"))
                .fault(Fault::once(op, raw(500)))
                .expect(ok(r).calls(op, Calls::AtLeast(2))),
            Case::new(r, on("answers InternalServerException twice, then OK"))
                .fault(Fault::times(op, error("InternalServerException", op), 2))
                .expect(ok(r).calls(op, Calls::AtLeast(3))),
            Case::new(r, on("answers 429 ThrottlingException once, then OK"))
                .fault(Fault::once(op, error("ThrottlingException", op)))
                .expect(ok(r).calls(op, Calls::AtLeast(2))),
            Case::new(r, on("resets the connection once, then OK"))
                .fault(Fault::once(op, FaultKind::ConnectionReset))
                .expect(ok(r).calls(op, Calls::AtLeast(2))),
            Case::new(r, on("answers 300 ms late"))
                .fault(Fault::once(op, FaultKind::Hang(ms(300))))
                .expect(ok(r)),
        ]);
        cases.extend(CODES.iter().map(|code| lasting_error(r, op, code)));
        cases.extend([
            Case::new(r, on("answers a raw 500 every time"))
                .fault(Fault::always(op, raw(500)))
                .expect(
                    unchanged(r)
                        .reason([op.name(), "HTTP 500"])
                        .calls(op, Calls::AtLeast(2)),
                ),
            Case::new(r, on("resets every connection"))
                .fault(Fault::always(op, FaultKind::ConnectionReset))
                .expect(
                    unchanged(r)
                        .reason([op.name(), "connection closed"])
                        .calls(op, Calls::AtLeast(2)),
                ),
            malformed(r, op),
            Case::new(r, on("hangs past the deadline"))
                .fault(Fault::always(op, FaultKind::Hang(Duration::from_secs(60))))
                .left(SHORT)
                .expect(unchanged(r).reason([format!("timed out waiting for IVS {op}").as_str()])),
        ]);
    }
    cases
}

/// `op` answers `code` every time.
fn lasting_error(r: Request, op: Operation, code: &str) -> Case {
    let message = message(code, op);
    let case = Case::new(r, format!("{op} answers {code} every time"))
        .fault(Fault::always(op, error(code, op)));
    let tries = if code == "InternalServerException" {
        Calls::AtLeast(2) // the SDK's standard retries
    } else {
        Calls::Exactly(1)
    };
    match (r, code) {
        // Waited out until the work deadline, then named with the quota: a short deadline.
        // The last message is IVS's, or "Rate exceeded" when the deadline cut off the SDK's own
        // retries (IVS's word for it).
        (_, "ThrottlingException") => case.left(THROTTLED).expect(
            unchanged(r)
                .reasons(throttled(op))
                .reason_any([format!("last: {message})").as_str(), "last: Rate exceeded)"])
                .calls(op, Calls::AtLeast(2)),
        ),
        // Retried for the grace given to IAM propagation, then named with the permission.
        (_, "AccessDeniedException") => case.expect(
            unchanged(r)
                .reasons(denied_for(op))
                .calls(op, Calls::AtLeast(2)),
        ),
        // A real 404 means it is gone; here the fault stood in for the deletion, so it stays.
        (Request::Delete, "ResourceNotFoundException") => case.expect(
            success(Id::Existing, Stored::Existing)
                .reason(["was already gone"])
                .calls(op, tries),
        ),
        // No channel uses it, so none is named: the Reason is the conflict's.
        (Request::Delete, "ConflictException") => case.left(SHORT).expect(
            unchanged(r)
                .reason(["A channel still references", &message, "then retry"])
                .calls(op, Calls::AtLeast(3)),
        ),
        (Request::TagsOnly, "ResourceNotFoundException") => case.expect(
            unchanged(r)
                .reason(["no longer exists", op.name(), code, &message])
                .calls(op, tries),
        ),
        _ => case.expect(
            unchanged(r)
                .reason([op.name(), code, &message])
                .calls(op, tries),
        ),
    }
}

/// What a Reason says of throttling that outlasted the work time.
fn throttled(op: Operation) -> Vec<String> {
    let per_second = match op {
        LIST_TAGS | TAG | UNTAG => 10,
        _ => 3,
    };
    vec![
        format!("IVS {op} was throttled until the function's deadline ("),
        format!("IVS allows {per_second} {op} calls a second per account and region"),
    ]
}

/// What a Reason says of an AccessDeniedException that outlasted the grace.
fn denied_for(op: Operation) -> Vec<String> {
    vec![
        format!(
            "IVS {op} was denied (AccessDeniedException: {})",
            message("AccessDeniedException", op)
        ),
        format!("the function's role may lack ivs:{op}"),
        "may still be propagating".to_string(),
    ]
}

/// `op` answers 200 once, with a body cut short.
fn malformed(r: Request, op: Operation) -> Case {
    let case = Case::new(r, format!("{op} answers 200 with a malformed body"))
        .fault(Fault::once(op, FaultKind::MalformedBody));
    match op {
        LIST | CREATE | LIST_TAGS | GET => {
            case.expect(unchanged(r).reason([op.name()]).reason_any(UNREADABLE))
        }
        // No output to read: the 200 is the success. The fault stood in for the operation, so
        // what it would have changed is unchanged in the emulator.
        _ => case.expect(success(Id::Existing, Stored::Existing)),
    }
}

/// What happens after CreateRecordingConfiguration, for Create and replace.
fn creating(r: Request) -> Vec<Case> {
    let slow = Stabilization::ActiveAfter(ms(300));
    let on_get = |what: &str| format!("{GET} {what} while polled");
    vec![
        Case::new(r, "ACTIVE after 300 ms")
            .stabilize(slow.clone())
            .expect(
                ok(r)
                    .calls(GET, Calls::AtLeast(2))
                    .calls(LIST, Calls::Exactly(2)),
            ),
        Case::new(
            r,
            "ListRecordingConfigurations once ACTIVE (the check for a concurrent delivery) is refused",
        )
        .fault(Fault::once(LIST, FaultKind::Hang(Duration::ZERO))) // the first one passes
        .fault(Fault::always(LIST, error("AccessDeniedException", LIST)))
        // Before creating, then the check, retried for the grace.
        .expect(ok(r).calls(LIST, Calls::AtLeast(3))),
        Case::new(r, on_get("answers a raw 500 once"))
            .stabilize(slow.clone())
            .fault(Fault::once(GET, raw(500)))
            .expect(ok(r)),
        Case::new(r, on_get("answers 429 ThrottlingException twice"))
            .stabilize(slow.clone())
            .fault(Fault::times(GET, error("ThrottlingException", GET), 2))
            .expect(ok(r)),
        Case::new(r, on_get("resets the connection once"))
            .stabilize(slow.clone())
            .fault(Fault::once(GET, FaultKind::ConnectionReset))
            .expect(ok(r)),
        Case::new(r, on_get("answers 200 with a malformed body once"))
            .stabilize(slow.clone())
            .fault(Fault::once(GET, FaultKind::MalformedBody))
            .expect(ok(r)),
        Case::new(r, on_get("answers AccessDeniedException"))
            .stabilize(slow.clone())
            .fault(Fault::always(GET, error("AccessDeniedException", GET)))
            .expect(
                unchanged(r)
                    .reasons(denied_for(GET))
                    .reason(["It was deleted"])
                    .calls(GET, Calls::AtLeast(2))
                    .calls(DELETE, Calls::Exactly(1)),
            ),
        // Once IVS throttles it, the SDK's adaptive mode slows the whole client down, so the
        // clean-up Delete may wait past its slice of the margin: then as when it is refused.
        Case::new(r, on_get("answers ThrottlingException every time"))
            .stabilize(slow.clone())
            .fault(Fault::always(GET, error("ThrottlingException", GET)))
            .left(SHORT)
            .expect(
                unchanged(r)
                    .reason(["timed out waiting for recording configuration"])
                    .reasons(throttled(GET))
                    .reason(["It was deleted"]),
            )
            .expect(clean_up_failed(r).reasons(throttled(GET))),
        Case::new(
            r,
            on_get("answers 404 once although the configuration exists"),
        )
        .stabilize(slow.clone())
        .fault(Fault::once(GET, error("ResourceNotFoundException", GET)))
        .expect(ok(r).calls(DELETE, Calls::Exactly(0))),
        Case::new(r, "reads lag the create by 2 s (Get answers 404, List omits it)")
            .stabilize(slow.clone())
            .read_lag(Duration::from_secs(2))
            .expect(
                ok(r)
                    .calls(GET, Calls::AtLeast(4))
                    .calls(DELETE, Calls::Exactly(0)),
            ),
        Case::new(r, "reads lag the create for longer than the read-lag grace")
            .stabilize(slow.clone())
            .read_lag(Duration::from_secs(60))
            .expect(unchanged(r).reason([
                "disappeared while waiting for it to become ACTIVE",
                "It was deleted",
            ])),
        Case::new(r, format!("{GET} hangs past the deadline"))
            .stabilize(slow.clone())
            .fault(Fault::always(GET, FaultKind::Hang(Duration::from_secs(60))))
            .left(SHORT)
            .expect(unchanged(r).reason([
                "timed out waiting for recording configuration",
                "It was deleted",
            ])),
        Case::new(r, "stays CREATING forever")
            .stabilize(Stabilization::CreatingForever)
            .left(SHORT)
            .expect(unchanged(r).reason([
                "timed out waiting for recording configuration",
                "still CREATING",
                "It was deleted",
            ])),
        Case::new(
            r,
            "stays CREATING forever, and the clean-up Delete takes 150 ms",
        )
        .stabilize(Stabilization::CreatingForever)
        .fault(Fault::always(DELETE, FaultKind::Hang(ms(150))))
        .left(SHORT)
        .expect(unchanged(r).reason([
            "timed out waiting for recording configuration",
            "It was deleted",
        ])),
        Case::new(
            r,
            "stays CREATING forever, and the clean-up Delete is refused",
        )
        .stabilize(Stabilization::CreatingForever)
        .fault(Fault::always(
            DELETE,
            error("AccessDeniedException", DELETE),
        ))
        .left(SHORT)
        .expect(clean_up_failed(r).reason(["AccessDeniedException"])),
        Case::new(r, "goes CREATE_FAILED")
            .stabilize(Stabilization::CreateFailedAfter(ms(100)))
            .expect(unchanged(r).reason([
                "CREATE_FAILED",
                "S3 bucket demo-bucket is not in us-east-1",
                "It was deleted",
            ])),
        Case::new(r, "vanishes (404) while polled")
            .stabilize(Stabilization::VanishAfter(ms(200)))
            .expect(unchanged(r).reason(["disappeared while waiting"])),
        Case::new(r, "needs 2 s to become ACTIVE, 0.7 s of work time is left")
            .stabilize(Stabilization::ActiveAfter(Duration::from_secs(2)))
            .left(ms(1500))
            .expect(unchanged(r).reason(["timed out waiting for recording configuration"])),
    ]
}

/// FAILED after a timeout, and the clean-up Delete failed too: a Create answers with the new ARN
/// so that the rollback's Delete removes it; a replacement names it to delete by hand.
fn clean_up_failed(r: Request) -> Expect {
    match r {
        Request::Create => failed(Id::New, Stored::Answered)
            .reason(["timed out", "the stack's rollback will delete it"]),
        _ => {
            failed(Id::Existing, Stored::ExistingAndNamedInReason).reason(["timed out", "by hand"])
        }
    }
}

/// Before answering SUCCESS with a new configuration, the function asks CloudFormation whether
/// it still waits (DescribeStackResource, within 1 s here, 2 s by default); when it cannot be
/// asked, it answers as if it did.
fn cloudformation_check(r: Request) -> Vec<Case> {
    let (waiting, gave_up) = match r {
        Request::Create => ("CREATE_IN_PROGRESS", "CREATE_FAILED"),
        _ => ("UPDATE_IN_PROGRESS", "UPDATE_FAILED"),
    };
    let asked_once = |e: Expect| e.calls(DESCRIBE, Calls::Exactly(1));
    let mut cases = vec![
        Case::new(r, format!("CloudFormation shows {waiting}"))
            .cloudformation_shows(waiting)
            .expect(asked_once(ok(r))),
        Case::new(
            r,
            format!("CloudFormation shows {gave_up} (it cancelled the operation)"),
        )
        .cloudformation_shows(gave_up)
        .expect(asked_once(unchanged(r).reasons(vec![
            format!("CloudFormation stopped waiting for this resource (it shows {gave_up}"),
            "It was deleted; nothing is left behind".to_string(),
        ]))),
        Case::new(
            r,
            "CloudFormation does not know the stack (a hand-written event)",
        )
        .expect(asked_once(ok(r))),
        Case::new(r, "DescribeStackResource hangs past its bound")
            .cloudformation_shows(gave_up)
            .fault(Fault::always(DESCRIBE, FaultKind::HangForever))
            .expect(ok(r)),
        Case::new(r, "DescribeStackResource answers a malformed body")
            .cloudformation_shows(gave_up)
            .fault(Fault::always(DESCRIBE, FaultKind::MalformedBody))
            .expect(ok(r)),
        Case::new(r, "DescribeStackResource resets the connection every time")
            .cloudformation_shows(gave_up)
            .fault(Fault::always(DESCRIBE, FaultKind::ConnectionReset))
            .expect(ok(r)),
    ];
    for code in ["AccessDenied", "Throttling"] {
        cases.push(
            Case::new(
                r,
                format!("DescribeStackResource answers {code} every time"),
            )
            .cloudformation_shows(gave_up)
            .fault(Fault::always(
                DESCRIBE,
                FaultKind::ServiceError {
                    code: code.into(),
                    message: format!("{code} from the matrix"),
                },
            ))
            .expect(ok(r)),
        );
    }
    cases
}

/// IAM refusing every call, as while the function's role (created with the stack) propagates:
/// the emulator's window starts with it, so only for Create.
fn iam_propagation(r: Request) -> Vec<Case> {
    vec![
        Case::new(r, "IAM denies every call for the first 1 s (grace 3 s)")
            .access_denied_for(Duration::from_secs(1))
            .grace(Duration::from_secs(3))
            .expect(ok(r).calls(CREATE, Calls::Exactly(1))),
        Case::new(r, "IAM denies every call for good")
            .access_denied_for(Duration::from_secs(3600))
            .expect(
                unchanged(r)
                    .reason([
                        "IVS ListRecordingConfigurations was denied (AccessDeniedException: ",
                        "the function's role may lack ivs:ListRecordingConfigurations",
                    ])
                    .calls(LIST, Calls::AtLeast(2))
                    .calls(CREATE, Calls::Exactly(0)),
            ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Cases and what they expect
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Request {
    Create,
    /// An Update changing `Name`: a new configuration.
    Replace,
    /// An Update changing only `Tags` (team=video → env=prod): UntagResource and TagResource.
    TagsOnly,
    Delete,
}

impl Request {
    const ALL: [Request; 4] = [
        Request::Create,
        Request::Replace,
        Request::TagsOnly,
        Request::Delete,
    ];
}

#[derive(Clone, Copy, Debug)]
enum Deliveries {
    Once,
    Twice,
    /// The same event twice, at the same time.
    AtOnce,
    /// The same event twice; the second once the first's configuration exists, still CREATING.
    SecondWhileCreating,
}

/// One cell of the matrix.
#[derive(Clone)]
struct Case {
    name: String,
    request: Request,
    /// For configurations created by the request (the one Update and Delete start from is
    /// ACTIVE).
    stabilization: Stabilization,
    /// Injected after the setup, in order.
    faults: Vec<Fault>,
    /// The ResponseURL's replies to the request's PUTs, in order; then 200.
    sink: Vec<SinkReply>,
    /// Time before the Lambda deadline when each delivery arrives.
    left: Duration,
    deliveries: Deliveries,
    /// Independent repetitions, for races.
    runs: usize,
    /// The emulated account: quotas, IAM window, read lag.
    emulator: EmulatorOptions,
    /// The handler's settings.
    config: HandlerConfig,
    /// Channels recording with the configuration the request starts from, by name.
    channels: Vec<String>,
    /// The status CloudFormation shows for the resource while the request runs; `None`: it
    /// does not know the stack.
    cloudformation_shows: Option<&'static str>,
    /// The outcome must match one of these.
    expect: Vec<Expect>,
}

impl Case {
    fn new(request: Request, name: impl Into<String>) -> Case {
        Case {
            name: format!("{request:?}: {}", name.into()),
            request,
            stabilization: Stabilization::Immediate,
            faults: Vec::new(),
            sink: Vec::new(),
            left: LONG,
            deliveries: Deliveries::Once,
            runs: 1,
            emulator: EmulatorOptions::default(),
            config: fast_config(),
            channels: Vec::new(),
            cloudformation_shows: None,
            expect: Vec::new(),
        }
    }
    fn cloudformation_shows(mut self, status: &'static str) -> Case {
        self.cloudformation_shows = Some(status);
        self
    }
    fn stabilize(mut self, s: Stabilization) -> Case {
        self.stabilization = s;
        self
    }
    fn fault(mut self, f: Fault) -> Case {
        self.faults.push(f);
        self
    }
    fn sink(mut self, replies: impl IntoIterator<Item = SinkReply>) -> Case {
        self.sink.extend(replies);
        self
    }
    fn left(mut self, left: Duration) -> Case {
        self.left = left;
        self
    }
    fn deliveries(mut self, d: Deliveries) -> Case {
        self.deliveries = d;
        self
    }
    fn runs(mut self, n: usize) -> Case {
        self.runs = n;
        self
    }
    /// For this long after its create, IVS's reads do not show a configuration.
    fn read_lag(mut self, lag: Duration) -> Case {
        self.emulator.read_lag = lag;
        self
    }
    /// For this long after the emulator starts, IAM denies every call.
    fn access_denied_for(mut self, window: Duration) -> Case {
        self.emulator.access_denied_for = window;
        self
    }
    /// How long the handler retries AccessDenied (`fast_config()`: 600 ms).
    fn grace(mut self, grace: Duration) -> Case {
        self.config.calls.access_denied_grace = grace;
        self
    }
    fn channels<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Case {
        self.channels.extend(names.into_iter().map(str::to_string));
        self
    }
    fn expect(mut self, e: Expect) -> Case {
        self.expect.push(e);
        self
    }
}

/// The PhysicalResourceId the answer must carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Id {
    /// A recording-configuration ARN other than the one the request started from.
    New,
    /// The ARN the Update or Delete started from.
    Existing,
    /// `<stack>-<logical id>-failed-create-<request id>`.
    FailedCreate,
}

/// The configurations IVS must hold afterwards, exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stored {
    Nothing,
    Existing,
    /// The existing one, with the tags the tags-only update asks for.
    ExistingTagged,
    /// Exactly the one the answer names.
    Answered,
    ExistingAndAnswered,
    /// The existing one and one more, which the Reason names.
    ExistingAndNamedInReason,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivery {
    /// Each delivery's answer accepted once, after the scripted failures.
    Accepted,
    /// The 403: one PUT, not retried, `Err(HandlerError::Send)`.
    Refused,
    /// Retried until the deadline, then `Err(HandlerError::Send)`.
    Undelivered,
}

#[derive(Clone, Copy, Debug)]
enum Calls {
    Exactly(usize),
    AtLeast(usize),
}

#[derive(Clone, Debug)]
struct Expect {
    status: &'static str,
    id: Id,
    stored: Stored,
    /// Each entry: the Reason contains one of these.
    reason: Vec<Vec<String>>,
    delivery: Delivery,
    /// Requests per operation after the setup; `None`: all operations.
    calls: Vec<(Option<Operation>, Calls)>,
    /// How many channel ARNs the Reason names.
    channels_named: Option<usize>,
}

fn success(id: Id, stored: Stored) -> Expect {
    Expect {
        status: "SUCCESS",
        id,
        stored,
        reason: Vec::new(),
        delivery: Delivery::Accepted,
        calls: Vec::new(),
        channels_named: None,
    }
}

fn failed(id: Id, stored: Stored) -> Expect {
    Expect {
        status: "FAILED",
        ..success(id, stored)
    }
}

/// What the request does when nothing goes wrong.
fn ok(r: Request) -> Expect {
    match r {
        Request::Create => success(Id::New, Stored::Answered).reason(["is ACTIVE"]),
        Request::Replace => success(Id::New, Stored::ExistingAndAnswered).reason(["is ACTIVE"]),
        Request::TagsOnly => success(Id::Existing, Stored::ExistingTagged).reason(["in place"]),
        Request::Delete => success(Id::Existing, Stored::Nothing)
            .reason_any(["Deleted recording configuration", "was already gone"]),
    }
}

/// FAILED, and nothing new is left behind.
fn unchanged(r: Request) -> Expect {
    match r {
        Request::Create => failed(Id::FailedCreate, Stored::Nothing),
        _ => failed(Id::Existing, Stored::Existing),
    }
}

impl Expect {
    fn reason<'a>(mut self, parts: impl IntoIterator<Item = &'a str>) -> Expect {
        self.reason
            .extend(parts.into_iter().map(|p| vec![p.to_string()]));
        self
    }
    fn reasons(mut self, parts: Vec<String>) -> Expect {
        self.reason.extend(parts.into_iter().map(|p| vec![p]));
        self
    }
    fn reason_any<'a>(mut self, alternatives: impl IntoIterator<Item = &'a str>) -> Expect {
        self.reason
            .push(alternatives.into_iter().map(str::to_string).collect());
        self
    }
    fn calls(mut self, op: Operation, calls: Calls) -> Expect {
        self.calls.push((Some(op), calls));
        self
    }
    fn names_channels(mut self, n: usize) -> Expect {
        self.channels_named = Some(n);
        self
    }
    fn no_ivs_call(mut self) -> Expect {
        self.calls.push((None, Calls::Exactly(0)));
        self
    }
    fn refused(mut self) -> Expect {
        self.delivery = Delivery::Refused;
        self
    }
    fn undelivered(mut self) -> Expect {
        self.delivery = Delivery::Undelivered;
        self
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn message(code: &str, op: Operation) -> String {
    format!("injected {code} on {op}")
}

fn error(code: &str, op: Operation) -> FaultKind {
    FaultKind::ServiceError {
        code: code.to_string(),
        message: message(code, op),
    }
}

/// What a load balancer in front of IVS sends: no error type, an HTML body.
fn raw(status: u16) -> FaultKind {
    FaultKind::Status {
        status,
        body: format!("<html><body><h1>{status}</h1>upstream error</body></html>"),
    }
}

// ---------------------------------------------------------------------------------------------
// Running and checking
// ---------------------------------------------------------------------------------------------

/// Runs every case (and every run of it) concurrently, then fails listing each failing case.
async fn run_matrix(group: &str, cases: Vec<Case>) {
    let started = Instant::now();
    let permits = Arc::new(Semaphore::new(CONCURRENT_CASES));
    let mut tasks = Vec::new();
    // FAULT_MATRIX_FILTER=text runs only the cases whose name contains it.
    let filter = std::env::var("FAULT_MATRIX_FILTER").unwrap_or_default();
    for case in cases.into_iter().filter(|c| c.name.contains(&filter)) {
        assert!(!case.expect.is_empty(), "{}: no expectation", case.name);
        let case = Arc::new(case);
        let runs: Vec<_> = (0..case.runs)
            .map(|_| {
                let case = Arc::clone(&case);
                let permits = Arc::clone(&permits);
                tokio::spawn(async move {
                    let _permit = permits.acquire_owned().await.expect("never closed");
                    tokio::time::timeout(CASE_TIMEOUT, run_case(&case))
                        .await
                        .unwrap_or_else(|_| Err(format!("did not finish within {CASE_TIMEOUT:?}")))
                })
            })
            .collect();
        tasks.push((case, runs));
    }
    let total = tasks.len();
    let mut failures = Vec::new();
    for (case, runs) in tasks {
        let mut errors = Vec::new();
        for run in runs {
            let outcome = match run.await {
                Ok(outcome) => outcome,
                Err(e) => Err(panic_text(e)),
            };
            if let Err(why) = outcome {
                errors.push(why);
            }
        }
        if let Some(first) = errors.first() {
            let runs = if case.runs > 1 {
                format!(" [{} of {} runs failed]", errors.len(), case.runs)
            } else {
                String::new()
            };
            failures.push(format!("{}{runs}: {first}", case.name));
        }
    }
    eprintln!("{group}: {total} cases in {:.1?}", started.elapsed());
    assert!(
        failures.is_empty(),
        "{} of {total} {group} cases failed:\n  - {}",
        failures.len(),
        failures.join("\n  - ")
    );
}

fn panic_text(e: tokio::task::JoinError) -> String {
    if !e.is_panic() {
        return e.to_string();
    }
    let payload = e.into_panic();
    let text = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    format!("panicked: {text}")
}

struct Outcome {
    result: Result<Delivered, HandlerError>,
    elapsed: Duration,
    deadline: Instant,
}

/// What one run left behind.
struct Observed {
    existing: Option<String>,
    outcomes: Vec<Outcome>,
    puts: Vec<RecordedPut>,
    stored: Vec<StoredConfiguration>,
    calls: Vec<RecordedRequest>,
}

async fn run_case(case: &Case) -> Result<(), String> {
    let h = Harness::with_options(case.emulator.clone(), case.config.clone()).await;
    let existing = match case.request {
        Request::Create => None,
        _ => {
            let arn = created_arn(&h, SETUP_REQUEST_ID).await;
            tokio::time::sleep(QUOTAS_REFILL).await;
            Some(arn)
        }
    };
    for name in &case.channels {
        let arn = existing
            .as_deref()
            .expect("channels use an existing configuration");
        h.emulator.add_channel(name, arn);
    }
    if let Some(status) = case.cloudformation_shows {
        h.emulator
            .set_stack_resource(STACK_ID, "Recording", status)
            .expect("a status of the model");
    }
    h.emulator.set_stabilization(case.stabilization.clone());
    for fault in &case.faults {
        h.emulator.inject(fault.clone());
    }
    h.sink.script(case.sink.clone());
    let puts_before = h.sink.received().len();
    let calls_before = h.emulator.requests().len();
    let event = event(&h, case.request, existing.as_deref());

    let outcomes = match case.deliveries {
        Deliveries::Once => vec![deliver(&h, event, case.left).await],
        Deliveries::Twice => vec![
            deliver(&h, event.clone(), case.left).await,
            deliver(&h, event, case.left).await,
        ],
        Deliveries::AtOnce => {
            let (first, second) = tokio::join!(
                deliver(&h, event.clone(), case.left),
                deliver(&h, event.clone(), case.left)
            );
            vec![first, second]
        }
        Deliveries::SecondWhileCreating => {
            let (first, (state, second)) =
                tokio::join!(deliver(&h, event.clone(), case.left), async {
                    let state = state_once_created(&h).await;
                    (state, deliver(&h, event.clone(), case.left).await)
                });
            if state != "CREATING" {
                return Err(format!(
                    "the second delivery came when the first's configuration was {state}, not CREATING"
                ));
            }
            vec![first, second]
        }
    };
    let observed = Observed {
        existing,
        outcomes,
        puts: h.sink.received()[puts_before..].to_vec(),
        stored: h.configurations(),
        calls: h.emulator.requests()[calls_before..].to_vec(),
    };
    let mismatches: Vec<String> = case
        .expect
        .iter()
        .map(|e| check(case, e, &observed))
        .filter_map(Result::err)
        .collect();
    if mismatches.len() < case.expect.len() {
        Ok(())
    } else {
        Err(mismatches.join("\n      or: "))
    }
}

fn event(h: &Harness, r: Request, existing: Option<&str>) -> Value {
    let existing = existing.unwrap_or_default();
    match r {
        Request::Create => create(h, REQUEST_ID, properties()),
        Request::Replace => {
            let mut new = properties();
            new["Name"] = json!("renamed");
            update(h, REQUEST_ID, existing, properties(), new)
        }
        Request::TagsOnly => {
            let mut new = properties();
            new["Tags"] = json!([{"Key": "env", "Value": "prod"}]);
            update(h, REQUEST_ID, existing, properties(), new)
        }
        Request::Delete => delete(h, REQUEST_ID, existing),
    }
}

/// The state of the configuration the request created, as soon as it exists.
async fn state_once_created(h: &Harness) -> String {
    loop {
        let created = h
            .configurations()
            .into_iter()
            .find(|c| made_by(c, REQUEST_ID));
        if let Some(c) = created {
            return c.state;
        }
        tokio::time::sleep(ms(2)).await;
    }
}

/// Whether `c` carries the marker of request `request_id`.
fn made_by(c: &StoredConfiguration, request_id: &str) -> bool {
    c.tags
        .get(MARKER_TAG)
        .and_then(|value| Marker::parse(value))
        .is_some_and(|m| m.request_id == request_id)
}

async fn deliver(h: &Harness, event: Value, left: Duration) -> Outcome {
    let started = Instant::now();
    let result = h.run(event, left).await;
    Outcome {
        result,
        elapsed: started.elapsed(),
        deadline: started + left,
    }
}

macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+));
        }
    };
}

fn check(case: &Case, e: &Expect, o: &Observed) -> Result<(), String> {
    // The handler's result, before the deadline.
    for (i, outcome) in o.outcomes.iter().enumerate() {
        ensure!(
            outcome.elapsed < case.left,
            "delivery {i} returned {:?} after it arrived, past the deadline {:?} after",
            outcome.elapsed,
            case.left
        );
        match (e.delivery, &outcome.result) {
            (Delivery::Accepted, Ok(d)) => ensure!(
                d.status == e.status,
                "delivery {i} answered {} (expected {}): {}",
                d.status,
                e.status,
                d.reason
            ),
            (Delivery::Refused, Err(HandlerError::Send { status, source })) => {
                ensure!(
                    *status == e.status,
                    "delivery {i}: {status} not delivered, expected {}",
                    e.status
                );
                ensure!(
                    matches!(source, SendError::Refused { status: 403, .. }),
                    "delivery {i}: expected the 403 refusal, got {source}"
                );
            }
            (Delivery::Undelivered, Err(HandlerError::Send { status, source })) => {
                ensure!(
                    *status == e.status,
                    "delivery {i}: {status} not delivered, expected {}",
                    e.status
                );
                ensure!(
                    matches!(source, SendError::Undelivered { .. }),
                    "delivery {i}: expected retries until the deadline, got {source}"
                );
            }
            (want, got) => return Err(format!("delivery {i}: expected {want:?}, got {got:?}")),
        }
    }

    // The PUTs: the scripted failures, then one accepted answer per delivery.
    let deliveries = o.outcomes.len();
    let scripted = case.sink.len();
    let puts = o.puts.len();
    match e.delivery {
        Delivery::Accepted => ensure!(
            puts == scripted + deliveries,
            "{puts} PUTs: expected {scripted} scripted failures and {deliveries} accepted answer(s)"
        ),
        Delivery::Refused => ensure!(puts == 1, "{puts} PUTs after a 403, expected exactly 1"),
        Delivery::Undelivered => ensure!(
            puts >= 2 && puts <= scripted,
            "{puts} PUTs: expected at least 2 attempts, all failing"
        ),
    }
    let latest = o
        .outcomes
        .iter()
        .map(|x| x.deadline)
        .max()
        .expect("a delivery");
    let bodies: Vec<Value> = o.puts.iter().map(RecordedPut::json).collect();
    let first = &bodies[0];
    for (put, body) in o.puts.iter().zip(&bodies) {
        ensure!(put.method == "PUT", "a {} to the ResponseURL", put.method);
        ensure!(
            put.received_at <= latest,
            "a PUT arrived after the deadline"
        );
        ensure!(
            body["Status"] == e.status,
            "PUT {body} (expected Status {})",
            e.status
        );
        ensure!(
            body["RequestId"] == REQUEST_ID,
            "PUT for another request: {body}"
        );
        ensure!(
            body["PhysicalResourceId"] == first["PhysicalResourceId"],
            "the answers disagree: {first} and {body}"
        );
        if deliveries == 1 {
            ensure!(
                put.body == o.puts[0].body,
                "a retry PUT a different answer: {first} and {body}"
            );
        }
        let reason = body["Reason"].as_str().unwrap_or_default();
        for alternatives in &e.reason {
            ensure!(
                alternatives.iter().any(|a| reason.contains(a.as_str())),
                "Reason {reason:?} does not contain {}",
                alternatives.join(" or ")
            );
        }
    }
    for outcome in &o.outcomes {
        if let Ok(d) = &outcome.result {
            ensure!(
                bodies.iter().any(
                    |b| b["PhysicalResourceId"] == d.physical_resource_id.as_str()
                        && b["Status"] == d.status
                ),
                "the handler reports {d:?}, which no PUT carried"
            );
        }
    }

    // The PhysicalResourceId CloudFormation needs.
    let id = first["PhysicalResourceId"].as_str().unwrap_or_default();
    let reason = first["Reason"].as_str().unwrap_or_default();
    let existing = o.existing.as_deref().unwrap_or("(none)");
    ensure!(!id.is_empty(), "empty PhysicalResourceId");
    match e.id {
        Id::Existing => ensure!(
            id == existing,
            "PhysicalResourceId {id}, expected {existing}"
        ),
        Id::FailedCreate => {
            ensure!(
                id == FAILED_CREATE_ID,
                "PhysicalResourceId {id}, expected {FAILED_CREATE_ID}"
            )
        }
        Id::New => ensure!(
            id.starts_with(ARN_PREFIX) && id != existing,
            "PhysicalResourceId {id}, expected a new ARN"
        ),
    }

    if let Some(n) = e.channels_named {
        let named = reason.matches(CHANNEL_PREFIX).count();
        ensure!(
            named == n,
            "Reason {reason:?} names {named} channels, expected {n}"
        );
    }

    // Exactly the configurations that should exist.
    let arns: Vec<&str> = o.stored.iter().map(|c| c.arn.as_str()).collect();
    let mut want = match e.stored {
        Stored::Nothing => vec![],
        Stored::Existing | Stored::ExistingTagged => vec![existing],
        Stored::Answered => vec![id],
        Stored::ExistingAndAnswered => vec![existing, id],
        Stored::ExistingAndNamedInReason => {
            let other = arns
                .iter()
                .copied()
                .find(|a| *a != existing)
                .unwrap_or("(none)");
            ensure!(
                reason.contains(other),
                "Reason {reason:?} does not name {other}"
            );
            vec![existing, other]
        }
    };
    want.sort_unstable();
    ensure!(
        arns == want,
        "IVS holds {arns:?}, expected {want:?} ({:?}); answer: {first}",
        e.stored
    );
    if e.stored == Stored::ExistingTagged {
        let stored = &o.stored[0];
        let mut tags = stored.tags.clone();
        ensure!(
            made_by(stored, SETUP_REQUEST_ID),
            "the marker was not kept: {tags:?}"
        );
        tags.remove(MARKER_TAG);
        let desired = BTreeMap::from([("env".to_string(), "prod".to_string())]);
        ensure!(
            tags == desired,
            "tags {tags:?} besides the marker, expected {desired:?}"
        );
    }

    // The calls made, and every injected fault reached.
    let count = |op: Option<Operation>| {
        o.calls
            .iter()
            .filter(|c| op.is_none() || c.operation == op)
            .count()
    };
    for (op, calls) in &e.calls {
        let n = count(*op);
        let what = op.map_or("IVS".to_string(), |op| op.to_string());
        match *calls {
            Calls::Exactly(k) => ensure!(n == k, "{n} {what} calls, expected {k}"),
            Calls::AtLeast(k) => ensure!(n >= k, "{n} {what} calls, expected at least {k}"),
        }
    }
    let mut injected: BTreeMap<String, usize> = BTreeMap::new();
    for fault in &case.faults {
        let op = fault.operation.expect("faults name their operation");
        *injected.entry(op.to_string()).or_default() += fault.times.unwrap_or(1) as usize;
    }
    for (op, n) in injected {
        let made = o
            .calls
            .iter()
            .filter(|c| c.operation.is_some_and(|x| x.name() == op))
            .count();
        ensure!(made >= n, "a fault on {op} was never reached: {made} calls");
    }
    Ok(())
}
