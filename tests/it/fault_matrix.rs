//! The fault matrix: every request type against every fault the IVS emulator and the fake
//! ResponseURL can inject, over HTTP, with the real `aws-sdk-ivs` client and the real handler.
//!
//! What each cell must do is the table in the README's "Guarantees and the fault matrix", and
//! only there, so that the table cannot drift from the cases: each [`Case`] names its row (one of
//! [`row`]), and `the_readme_table_is_the_one_the_cases_name` fails when a case names a row the
//! table lacks or runs under a column whose cell is "—", when a cell has no case, or when a row
//! the matrix cannot drive cites a covering test that is not where it says. What every cell
//! checks besides (one answer per delivery, before the deadline, exactly the configurations that
//! should exist) is [`check`].
//!
//! Each case gets its own emulator, sink and handler, so the cases of a group run concurrently.
//! A failing group lists every failing case by name.

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
/// Cases of a group running at once, all on one thread. The six groups run side by side on two
/// cores: at 16 each, some 100 debug-built handlers at once starved each other past the 300 ms
/// PUT attempts and the 2-3 s deadlines the cases time, and failed three runs in four; at 6,
/// none failed in five runs.
const CONCURRENT_CASES: usize = 6;

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
    run_matrix(Kind::Create.column(), create_cases()).await;
}

#[tokio::test]
async fn replace_matrix() {
    run_matrix(Kind::Replace.column(), replace_cases()).await;
}

#[tokio::test]
async fn tags_only_matrix() {
    run_matrix(Kind::TagsOnly.column(), tags_only_cases()).await;
}

#[tokio::test]
async fn delete_matrix() {
    run_matrix(Kind::Delete.column(), delete_cases()).await;
}

#[tokio::test]
async fn response_url_matrix() {
    run_matrix("ResponseURL", response_url_cases()).await;
}

#[tokio::test]
async fn duplicate_delivery_matrix() {
    run_matrix("duplicate deliveries", duplicate_delivery_cases()).await;
}

/// The cases of every group, which the README's table must account for.
fn every_case() -> Vec<Case> {
    [
        create_cases(),
        replace_cases(),
        tags_only_cases(),
        delete_cases(),
        response_url_cases(),
        duplicate_delivery_cases(),
    ]
    .concat()
}

/// The rows of the README's table, each by its first cell ("injected").
mod row {
    pub const NOTHING: &str = "nothing";
    pub const FIRST_CALLS_PASSING: &str = "first calls: raw 500, InternalServerException ×2, 429 ThrottlingException, connection reset, 300 ms hang — then OK";
    pub const FIRST_CALLS_BROKEN: &str =
        "first calls: InternalServerException, raw 500 or reset that never recovers";
    pub const FIRST_CALLS_THROTTLED: &str =
        "first calls: ThrottlingException that never ends (3 s left)";
    pub const FIRST_CALLS_DENIED: &str = "first calls: AccessDeniedException that never ends";
    pub const FIRST_CALLS_REFUSED: &str = "first calls: ValidationException, PendingVerification, ConflictException, ServiceQuotaExceededException";
    pub const FIRST_CALLS_NOT_FOUND: &str = "first calls: ResourceNotFoundException";
    pub const FIRST_CALLS_MALFORMED: &str = "first calls: 200 with a malformed body";
    pub const FIRST_CALLS_HANG: &str = "first calls: a hang past the deadline";
    pub const CHANNELS: &str =
        "channels record with the configuration (IVS's own ConflictException)";
    pub const IAM_PROPAGATING: &str = "IAM denies every call for the first 1 s (a role created with the stack, still propagating; a 3 s grace)";
    pub const IAM_DENIES: &str = "IAM denies every call for good";
    pub const LIST_AFTER_CREATE_FAILS: &str = "ListRecordingConfigurations fails for good after the create (the check for a concurrent delivery, once ACTIVE)";
    pub const GET_PASSING: &str = "GetRecordingConfiguration, while polled, fails passingly (raw 500, 429 ×2, reset, malformed body)";
    pub const GET_DENIED: &str =
        "GetRecordingConfiguration, while polled, answers AccessDeniedException for good";
    pub const GET_FOR_DATA_DENIED: &str = "GetRecordingConfiguration, read for the answer's Data once the tags are set, answers AccessDeniedException for good";
    pub const GET_THROTTLED: &str =
        "GetRecordingConfiguration, while polled, answers ThrottlingException for good (2 s left)";
    pub const GET_404_ONCE: &str = "GetRecordingConfiguration, while polled, answers 404 once although the configuration exists";
    pub const READ_LAG: &str =
        "IVS's reads lag its writes by 2 s (Get answers 404 and List omits the new configuration)";
    pub const READ_LAG_PAST_GRACE: &str =
        "IVS's reads lag its writes for longer than the read-lag grace (3 s here, 20 s by default)";
    pub const GET_HANG: &str = "GetRecordingConfiguration hangs past the deadline";
    pub const CREATING_FOREVER: &str = "the state stays CREATING forever";
    pub const CLEAN_UP_SLOW: &str = "… and the clean-up Delete takes 150 ms";
    pub const CLEAN_UP_REFUSED: &str = "… and the clean-up Delete is refused";
    pub const CREATE_FAILED: &str = "the state goes CREATE_FAILED";
    pub const VANISHES: &str = "the configuration vanishes (404 on every poll until the read-lag grace has passed since the create)";
    pub const TOO_SLOW_TO_SETTLE: &str =
        "it needs 2 s to become ACTIVE, 0.7 s of work time is left";
    pub const CLOUDFORMATION_WAITS: &str = "CloudFormation, asked before SUCCESS with a new configuration, shows CREATE_IN_PROGRESS (Create) or UPDATE_IN_PROGRESS (Update)";
    pub const CLOUDFORMATION_STOPPED: &str =
        "CloudFormation shows CREATE_FAILED or UPDATE_FAILED (it stopped waiting)";
    pub const CLOUDFORMATION_UNANSWERED: &str = "CloudFormation does not know the stack, or DescribeStackResource hangs past its bound (1 s here, 2 s by default), answers a malformed body, resets every connection, or answers AccessDenied or Throttling every time";
    pub const TOO_LATE: &str = "the event arrives with less time than the safety margin";
    pub const RESPONSE_URL_PASSING: &str = "ResponseURL answers 500 ×3, resets ×2, or hangs once";
    pub const RESPONSE_URL_403: &str = "ResponseURL answers 403";
    pub const RESPONSE_URL_BROKEN: &str = "ResponseURL answers 500 or hangs on every attempt";
    pub const TWICE: &str = "the same event delivered twice, one after the other";
    pub const CONCURRENTLY: &str = "… concurrently: the second while the first's configuration is CREATING (Create, replace), or both at once (tags only, Delete)";
    pub const CONCURRENTLY_LATE: &str =
        "… both at once, the first CreateRecordingConfiguration answering 300 ms late";
}

fn create_cases() -> Vec<Case> {
    let k = Kind::Create;
    let mut cases = faults_on_first_calls(k);
    cases.extend(creating(k));
    cases.extend(iam_propagation(k));
    cases.extend(cloudformation_check(k));
    cases
}

fn replace_cases() -> Vec<Case> {
    let k = Kind::Replace;
    let mut cases = faults_on_first_calls(k);
    cases.extend(creating(k));
    cases.extend(cloudformation_check(k));
    cases
}

fn tags_only_cases() -> Vec<Case> {
    let k = Kind::TagsOnly;
    let mut cases = faults_on_first_calls(k);
    cases.push(
        Case::new(
            k,
            row::GET_FOR_DATA_DENIED,
            "GetRecordingConfiguration (for Data) after the tags were set is refused",
        )
        .fault(Fault::always(GET, error("AccessDeniedException", GET)))
        .expect(failed(Id::Existing, Stored::ExistingTagged).reasons(denied_for(GET))),
    );
    cases
}

fn delete_cases() -> Vec<Case> {
    let k = Kind::Delete;
    let mut cases = faults_on_first_calls(k);
    cases.extend([
        Case::new(
            k,
            row::FIRST_CALLS_REFUSED,
            "DeleteRecordingConfiguration answers ConflictException 3 times, then OK",
        )
        .fault(Fault::times(DELETE, error("ConflictException", DELETE), 3))
        .expect(ok(k).calls(DELETE, Times::Exactly(4))),
        // IVS's own conflict, under its Delete quota: the retries are throttled too.
        Case::new(k, row::CHANNELS, "a channel records with the configuration")
            .channels(["studio-a"])
            .left(SHORT)
            .default_margin()
            .expect(
                unchanged(k)
                    .reason([
                        "A channel still references",
                        &format!("Channels still recording with it: studio-a ({CHANNEL_PREFIX}"),
                        "Remove it from the channel",
                    ])
                    .names_channels(1)
                    .calls(DELETE, Times::AtLeast(3))
                    .calls(Operation::ListChannels, Times::Exactly(1)),
            ),
        Case::new(
            k,
            row::CHANNELS,
            "seven channels record with the configuration",
        )
        .channels(["ch-1", "ch-2", "ch-3", "ch-4", "ch-5", "ch-6", "ch-7"])
        .left(SHORT)
        .default_margin()
        // Which five is up to IVS's order.
        .expect(
            unchanged(k)
                .reason([
                    "Channels still recording with it: ch-",
                    ") and more. Remove it",
                ])
                .names_channels(5),
        ),
    ]);
    cases
}

fn response_url_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for k in Kind::ALL {
        cases.extend([
            Case::new(
                k,
                row::RESPONSE_URL_PASSING,
                "ResponseURL answers 500 three times, then 200",
            )
            .sink([
                SinkReply::Status(500),
                SinkReply::Status(500),
                SinkReply::Status(500),
            ])
            .expect(ok(k)),
            Case::new(
                k,
                row::RESPONSE_URL_PASSING,
                "ResponseURL resets the connection twice, then 200",
            )
            .sink([SinkReply::ConnectionReset, SinkReply::ConnectionReset])
            .expect(ok(k)),
            Case::new(
                k,
                row::RESPONSE_URL_PASSING,
                "ResponseURL hangs once (the attempt times out), then 200",
            )
            .sink([SinkReply::Hang])
            .expect(ok(k)),
            Case::new(k, row::RESPONSE_URL_403, "ResponseURL answers 403")
                .sink([SinkReply::Status(403)])
                .expect(ok(k).refused()),
            Case::new(
                k,
                row::RESPONSE_URL_BROKEN,
                "ResponseURL answers 500 every time",
            )
            .sink(vec![SinkReply::Status(500); 500])
            .left(SHORT)
            .expect(ok(k).undelivered()),
            Case::new(k, row::RESPONSE_URL_BROKEN, "ResponseURL hangs every time")
                .sink(vec![SinkReply::Hang; 100])
                .left(SHORT)
                .expect(ok(k).undelivered()),
        ]);
    }
    cases
}

fn duplicate_delivery_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for k in Kind::ALL {
        let once = |e: Expect| match k {
            Kind::Create | Kind::Replace => e.calls(CREATE, Times::Exactly(1)),
            _ => e,
        };
        cases.push(
            Case::new(k, row::TWICE, "delivered twice, one after the other")
                .deliveries(Deliveries::Twice)
                .expect(once(ok(k))),
        );
        match k {
            Kind::Create | Kind::Replace => cases.extend([
                Case::new(k, row::CONCURRENTLY, "delivered twice, the second while the first's configuration is CREATING")
                    .stabilize(Stabilization::ActiveAfter(ms(500)))
                    .deliveries(Deliveries::SecondWhileCreating)
                    .expect(once(ok(k))),
                // IVS answers a create with CREATING and takes seconds to settle, so a delivery
                // whose create lands 300 ms late still does so before the other has answered:
                // both look again once ACTIVE and keep the oldest by the marker's time. A race,
                // hence 10 runs.
                Case::new(k, row::CONCURRENTLY_LATE, "delivered twice at once, the first CreateRecordingConfiguration answering 300 ms late")
                    .stabilize(Stabilization::ActiveAfter(ms(500)))
                    .fault(Fault::once(CREATE, FaultKind::Hang(ms(300))))
                    .deliveries(Deliveries::AtOnce)
                    .runs(10)
                    .expect(ok(k)),
            ]),
            Kind::TagsOnly | Kind::Delete => cases.push(
                Case::new(k, row::CONCURRENTLY, "delivered twice at once")
                    .deliveries(Deliveries::AtOnce)
                    .expect(ok(k)),
            ),
        }
    }
    cases
}

// ---------------------------------------------------------------------------------------------
// The README's table
// ---------------------------------------------------------------------------------------------

const README_SECTION: &str = "## Guarantees and the fault matrix";

#[test]
fn the_readme_table_is_the_one_the_cases_name() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let rows = readme_table(&readme);
    let cases = every_case();
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for row in &rows {
        if !seen.insert(row[0].as_str()) {
            problems.push(format!("row {:?} is in the table twice", row[0]));
        }
    }
    for case in &cases {
        match rows.iter().find(|row| row[0] == case.row) {
            None => problems.push(format!(
                "{} names row {:?}, which the table lacks",
                case.name, case.row
            )),
            Some(row) if is_empty_cell(&row[case.kind.column_index()]) => problems.push(format!(
                "{} runs under {:?}, where row {:?} says {:?}",
                case.name,
                case.kind.column(),
                case.row,
                row[case.kind.column_index()]
            )),
            Some(_) => {}
        }
    }
    for row in &rows {
        if let Some(covered) = covered_elsewhere(row) {
            problems.extend(check_citation(root, &row[0], &covered).err());
            continue;
        }
        for k in Kind::ALL {
            let exercised = cases.iter().any(|c| c.kind == k && c.row == row[0]);
            if !is_empty_cell(&row[k.column_index()]) && !exercised {
                problems.push(format!(
                    "row {:?} says {:?} under {:?}, and no {k:?} case names it",
                    row[0],
                    row[k.column_index()],
                    k.column()
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the README's fault matrix (\"{README_SECTION}\") and the cases disagree:\n  - {}",
        problems.join("\n  - ")
    );
}

/// The rows of the first table in the README's section, as their cells; the header must be the
/// matrix's columns.
fn readme_table(readme: &str) -> Vec<Vec<String>> {
    let (_, section) = readme
        .split_once(&format!("\n{README_SECTION}\n"))
        .unwrap_or_else(|| panic!("the README has no section {README_SECTION:?}"));
    let section = section.split("\n## ").next().unwrap_or_default();
    let mut lines = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_string())
                .collect::<Vec<_>>()
        });
    let header = lines.next().expect("a table in the section");
    let columns: Vec<&str> = std::iter::once("injected")
        .chain(Kind::ALL.map(Kind::column))
        .collect();
    assert_eq!(header, columns, "the table's columns");
    lines.next(); // |---|---|…
    let rows: Vec<Vec<String>> = lines.collect();
    for row in &rows {
        assert_eq!(
            row.len(),
            columns.len(),
            "a row of {} cells: {row:?}",
            row.len()
        );
    }
    rows
}

/// A cell that says the request type has no such case: "—", perhaps with a footnote.
fn is_empty_cell(cell: &str) -> bool {
    cell.starts_with('—')
}

/// What a row the matrix cannot drive cites after "covered by": the backquoted names up to and
/// including the first file (`….rs`).
fn covered_elsewhere(row: &[String]) -> Option<Vec<String>> {
    let text = row.join(" | ");
    let (_, after) = text.split_once("covered by ")?;
    let mut cited = Vec::new();
    for quoted in after.split('`').skip(1).step_by(2) {
        cited.push(quoted.to_string());
        if quoted.ends_with(".rs") {
            return Some(cited);
        }
    }
    Some(cited)
}

/// The cited file exists, relative to the repository, and holds each cited test.
fn check_citation(root: &std::path::Path, row: &str, cited: &[String]) -> Result<(), String> {
    let Some((file, tests)) = cited.split_last().filter(|(f, _)| f.ends_with(".rs")) else {
        return Err(format!(
            "row {row:?} says \"covered by\" but names no `….rs` file"
        ));
    };
    let source = std::fs::read_to_string(root.join(file))
        .map_err(|e| format!("row {row:?} cites {file}, which cannot be read: {e}"))?;
    for test in tests {
        let name = test.rsplit("::").next().unwrap_or(test);
        if !source.contains(&format!("fn {name}(")) {
            return Err(format!(
                "row {row:?} cites `{test}` in {file}, which does not hold it: find where it \
                 went (grep -rn 'fn {name}(' src tests) and cite that"
            ));
        }
    }
    Ok(())
}

/// The calls each request type makes first, in order; each gets every fault.
fn first_calls(k: Kind) -> &'static [Operation] {
    match k {
        // ListRecordingConfigurations first: an earlier delivery may have created it already.
        Kind::Create | Kind::Replace => &[LIST, CREATE],
        Kind::TagsOnly => &[LIST_TAGS, UNTAG, TAG],
        Kind::Delete => &[DELETE],
    }
}

fn faults_on_first_calls(k: Kind) -> Vec<Case> {
    let nothing = match k {
        Kind::Create | Kind::Replace => ok(k).calls(LIST, Times::Exactly(2)),
        _ => ok(k),
    };
    let mut cases = vec![
        Case::new(k, row::NOTHING, "no fault").expect(nothing),
        Case::new(
            k,
            row::TOO_LATE,
            "arrives with 0.5 s left, less than the 0.8 s safety margin",
        )
        .left(CLOSE)
        .expect(
            unchanged(k)
                .reason([
                    "timed out before starting",
                    "safety margin",
                    "nothing was changed",
                ])
                .no_ivs_call(),
        ),
    ];
    for &op in first_calls(k) {
        let on = |what: &str| format!("{op} {what}");
        cases.extend([
            Case::new(
                k,
                row::FIRST_CALLS_PASSING,
                on("answers a raw 500 once, then OK"),
            )
            .fault(Fault::once(op, raw(500)))
            .expect(ok(k).calls(op, Times::AtLeast(2))),
            Case::new(
                k,
                row::FIRST_CALLS_PASSING,
                on("answers InternalServerException twice, then OK"),
            )
            .fault(Fault::times(op, error("InternalServerException", op), 2))
            .expect(ok(k).calls(op, Times::AtLeast(3))),
            Case::new(
                k,
                row::FIRST_CALLS_PASSING,
                on("answers 429 ThrottlingException once, then OK"),
            )
            .fault(Fault::once(op, error("ThrottlingException", op)))
            .expect(ok(k).calls(op, Times::AtLeast(2))),
            Case::new(
                k,
                row::FIRST_CALLS_PASSING,
                on("resets the connection once, then OK"),
            )
            .fault(Fault::once(op, FaultKind::ConnectionReset))
            .expect(ok(k).calls(op, Times::AtLeast(2))),
            Case::new(k, row::FIRST_CALLS_PASSING, on("answers 300 ms late"))
                .fault(Fault::once(op, FaultKind::Hang(ms(300))))
                .expect(ok(k)),
        ]);
        cases.extend(CODES.iter().map(|code| lasting_error(k, op, code)));
        cases.extend([
            Case::new(
                k,
                row::FIRST_CALLS_BROKEN,
                on("answers a raw 500 every time"),
            )
            .fault(Fault::always(op, raw(500)))
            .expect(
                unchanged(k)
                    .reason([op.name(), "HTTP 500"])
                    .calls(op, Times::AtLeast(2)),
            ),
            Case::new(k, row::FIRST_CALLS_BROKEN, on("resets every connection"))
                .fault(Fault::always(op, FaultKind::ConnectionReset))
                .expect(
                    unchanged(k)
                        .reason([op.name(), "connection closed"])
                        .calls(op, Times::AtLeast(2)),
                ),
            malformed(k, op),
            Case::new(k, row::FIRST_CALLS_HANG, on("hangs past the deadline"))
                .fault(Fault::always(op, FaultKind::Hang(Duration::from_secs(60))))
                .left(SHORT)
                .expect(unchanged(k).reason([format!("timed out waiting for IVS {op}").as_str()])),
        ]);
    }
    cases
}

/// `op` answers `code` every time.
fn lasting_error(k: Kind, op: Operation, code: &str) -> Case {
    let message = message(code, op);
    let row = match code {
        "InternalServerException" => row::FIRST_CALLS_BROKEN,
        "ThrottlingException" => row::FIRST_CALLS_THROTTLED,
        "AccessDeniedException" => row::FIRST_CALLS_DENIED,
        "ResourceNotFoundException" => row::FIRST_CALLS_NOT_FOUND,
        _ => row::FIRST_CALLS_REFUSED,
    };
    let case = Case::new(k, row, format!("{op} answers {code} every time"))
        .fault(Fault::always(op, error(code, op)));
    let tries = if code == "InternalServerException" {
        Times::AtLeast(2) // the SDK's standard retries
    } else {
        Times::Exactly(1)
    };
    match (k, code) {
        // Waited out until the work deadline, then named with the quota: a short deadline.
        // The last message is IVS's, or "Rate exceeded" when the deadline cut off the SDK's own
        // retries (IVS's word for it).
        (_, "ThrottlingException") => case.left(THROTTLED).expect(
            unchanged(k)
                .reasons(throttled(op))
                .reason_any([format!("last: {message})").as_str(), "last: Rate exceeded)"])
                .calls(op, Times::AtLeast(2)),
        ),
        // Retried for the grace given to IAM propagation, then named with the permission.
        (_, "AccessDeniedException") => case.expect(
            unchanged(k)
                .reasons(denied_for(op))
                .calls(op, Times::AtLeast(2)),
        ),
        // A real 404 means it is gone; here the fault stood in for the deletion, so it stays.
        (Kind::Delete, "ResourceNotFoundException") => case.expect(
            success(Id::Existing, Stored::Existing)
                .reason(["was already gone"])
                .calls(op, tries),
        ),
        // No channel uses it, so none is named: the Reason is the conflict's.
        (Kind::Delete, "ConflictException") => case.left(SHORT).expect(
            unchanged(k)
                .reason(["A channel still references", &message, "then retry"])
                .calls(op, Times::AtLeast(3)),
        ),
        (Kind::TagsOnly, "ResourceNotFoundException") => case.expect(
            unchanged(k)
                .reason(["no longer exists", op.name(), code, &message])
                .calls(op, tries),
        ),
        _ => case.expect(
            unchanged(k)
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
fn malformed(k: Kind, op: Operation) -> Case {
    let case = Case::new(
        k,
        row::FIRST_CALLS_MALFORMED,
        format!("{op} answers 200 with a malformed body"),
    )
    .fault(Fault::once(op, FaultKind::MalformedBody));
    match op {
        LIST | CREATE | LIST_TAGS | GET => {
            case.expect(unchanged(k).reason([op.name()]).reason_any(UNREADABLE))
        }
        // No output to read: the 200 is the success. The fault stood in for the operation, so
        // what it would have changed is unchanged in the emulator.
        _ => case.expect(success(Id::Existing, Stored::Existing)),
    }
}

/// What happens after CreateRecordingConfiguration, for Create and replace.
fn creating(k: Kind) -> Vec<Case> {
    let slow = Stabilization::ActiveAfter(ms(300));
    let on_get = |what: &str| format!("{GET} {what} while polled");
    vec![
        Case::new(k, row::NOTHING, "ACTIVE after 300 ms")
            .stabilize(slow.clone())
            .expect(
                ok(k)
                    .calls(GET, Times::AtLeast(2))
                    .calls(LIST, Times::Exactly(2)),
            ),
        Case::new(
            k,
            row::LIST_AFTER_CREATE_FAILS,
            "ListRecordingConfigurations once ACTIVE (the check for a concurrent delivery) is refused",
        )
        .fault(Fault::once(LIST, FaultKind::Hang(Duration::ZERO))) // the first one passes
        .fault(Fault::always(LIST, error("AccessDeniedException", LIST)))
        // Before creating, then the check, retried for the grace.
        .expect(ok(k).calls(LIST, Times::AtLeast(3))),
        Case::new(k, row::GET_PASSING, on_get("answers a raw 500 once"))
            .stabilize(slow.clone())
            .fault(Fault::once(GET, raw(500)))
            .expect(ok(k)),
        Case::new(k, row::GET_PASSING, on_get("answers 429 ThrottlingException twice"))
            .stabilize(slow.clone())
            .fault(Fault::times(GET, error("ThrottlingException", GET), 2))
            .expect(ok(k)),
        Case::new(k, row::GET_PASSING, on_get("resets the connection once"))
            .stabilize(slow.clone())
            .fault(Fault::once(GET, FaultKind::ConnectionReset))
            .expect(ok(k)),
        Case::new(k, row::GET_PASSING, on_get("answers 200 with a malformed body once"))
            .stabilize(slow.clone())
            .fault(Fault::once(GET, FaultKind::MalformedBody))
            .expect(ok(k)),
        Case::new(k, row::GET_DENIED, on_get("answers AccessDeniedException"))
            .stabilize(slow.clone())
            .fault(Fault::always(GET, error("AccessDeniedException", GET)))
            .expect(
                unchanged(k)
                    .reasons(denied_for(GET))
                    .reason(["It was deleted"])
                    .calls(GET, Times::AtLeast(2))
                    .calls(DELETE, Times::Exactly(1)),
            ),
        // Once IVS throttles it, the SDK's adaptive mode slows the whole client down, so the
        // clean-up Delete may wait past its slice of the margin: then as when it is refused.
        Case::new(k, row::GET_THROTTLED, on_get("answers ThrottlingException every time"))
            .stabilize(slow.clone())
            .fault(Fault::always(GET, error("ThrottlingException", GET)))
            .left(SHORT)
            .expect(
                unchanged(k)
                    .reason(["timed out waiting for recording configuration"])
                    .reasons(throttled(GET))
                    .reason(["It was deleted"]),
            )
            .expect(clean_up_failed(k).reasons(throttled(GET))),
        Case::new(
            k,
            row::GET_404_ONCE,
            on_get("answers 404 once although the configuration exists"),
        )
        .stabilize(slow.clone())
        .fault(Fault::once(GET, error("ResourceNotFoundException", GET)))
        .expect(ok(k).calls(DELETE, Times::Exactly(0))),
        Case::new(k, row::READ_LAG, "reads lag the create by 2 s (Get answers 404, List omits it)")
            .stabilize(slow.clone())
            .read_lag(Duration::from_secs(2))
            .expect(
                ok(k)
                    .calls(GET, Times::AtLeast(4))
                    .calls(DELETE, Times::Exactly(0)),
            ),
        Case::new(k, row::READ_LAG_PAST_GRACE, "reads lag the create for longer than the read-lag grace")
            .stabilize(slow.clone())
            .read_lag(Duration::from_secs(60))
            .expect(unchanged(k).reason([
                "disappeared while waiting for it to become ACTIVE",
                "It was deleted",
            ])),
        Case::new(k, row::GET_HANG, format!("{GET} hangs past the deadline"))
            .stabilize(slow.clone())
            .fault(Fault::always(GET, FaultKind::Hang(Duration::from_secs(60))))
            .left(SHORT)
            .expect(unchanged(k).reason([
                "timed out waiting for recording configuration",
                "It was deleted",
            ])),
        Case::new(k, row::CREATING_FOREVER, "stays CREATING forever")
            .stabilize(Stabilization::CreatingForever)
            .left(SHORT)
            .expect(unchanged(k).reason([
                "timed out waiting for recording configuration",
                "still CREATING",
                "It was deleted",
            ])),
        Case::new(
            k,
            row::CLEAN_UP_SLOW,
            "stays CREATING forever, and the clean-up Delete takes 150 ms",
        )
        .stabilize(Stabilization::CreatingForever)
        .fault(Fault::always(DELETE, FaultKind::Hang(ms(150))))
        .left(SHORT)
        .expect(unchanged(k).reason([
            "timed out waiting for recording configuration",
            "It was deleted",
        ])),
        Case::new(
            k,
            row::CLEAN_UP_REFUSED,
            "stays CREATING forever, and the clean-up Delete is refused",
        )
        .stabilize(Stabilization::CreatingForever)
        .fault(Fault::always(
            DELETE,
            error("AccessDeniedException", DELETE),
        ))
        .left(SHORT)
        .expect(clean_up_failed(k).reason(["AccessDeniedException"])),
        Case::new(k, row::CREATE_FAILED, "goes CREATE_FAILED")
            .stabilize(Stabilization::CreateFailedAfter(ms(100)))
            .expect(unchanged(k).reason([
                "CREATE_FAILED",
                "S3 bucket demo-bucket is not in us-east-1",
                "It was deleted",
            ])),
        Case::new(k, row::VANISHES, "vanishes (404) while polled")
            .stabilize(Stabilization::VanishAfter(ms(200)))
            .expect(unchanged(k).reason(["disappeared while waiting"])),
        Case::new(k, row::TOO_SLOW_TO_SETTLE, "needs 2 s to become ACTIVE, 0.7 s of work time is left")
            .stabilize(Stabilization::ActiveAfter(Duration::from_secs(2)))
            .left(ms(1500))
            .expect(unchanged(k).reason(["timed out waiting for recording configuration"])),
    ]
}

/// FAILED after a timeout, and the clean-up Delete failed too: a Create answers with the new ARN
/// so that the rollback's Delete removes it; a replacement names it to delete by hand.
fn clean_up_failed(k: Kind) -> Expect {
    match k {
        Kind::Create => failed(Id::New, Stored::Answered)
            .reason(["timed out", "the stack's rollback will delete it"]),
        _ => {
            failed(Id::Existing, Stored::ExistingAndNamedInReason).reason(["timed out", "by hand"])
        }
    }
}

/// Before answering SUCCESS with a new configuration, the function asks CloudFormation whether
/// it still waits (DescribeStackResource, within 1 s here, 2 s by default); when it cannot be
/// asked, it answers as if it did.
fn cloudformation_check(k: Kind) -> Vec<Case> {
    let (waiting, gave_up) = match k {
        Kind::Create => ("CREATE_IN_PROGRESS", "CREATE_FAILED"),
        _ => ("UPDATE_IN_PROGRESS", "UPDATE_FAILED"),
    };
    let asked_once = |e: Expect| e.calls(DESCRIBE, Times::Exactly(1));
    let mut cases = vec![
        Case::new(
            k,
            row::CLOUDFORMATION_WAITS,
            format!("CloudFormation shows {waiting}"),
        )
        .cloudformation_shows(waiting)
        .expect(asked_once(ok(k))),
        Case::new(
            k,
            row::CLOUDFORMATION_STOPPED,
            format!("CloudFormation shows {gave_up} (it cancelled the operation)"),
        )
        .cloudformation_shows(gave_up)
        .expect(asked_once(unchanged(k).reasons(vec![
            format!("CloudFormation stopped waiting for this resource (it shows {gave_up}"),
            "It was deleted; nothing is left behind".to_string(),
        ]))),
        Case::new(
            k,
            row::CLOUDFORMATION_UNANSWERED,
            "CloudFormation does not know the stack (a hand-written event)",
        )
        .expect(asked_once(ok(k))),
        Case::new(
            k,
            row::CLOUDFORMATION_UNANSWERED,
            "DescribeStackResource hangs past its bound",
        )
        .cloudformation_shows(gave_up)
        .fault(Fault::always(DESCRIBE, FaultKind::HangForever))
        .expect(ok(k)),
        Case::new(
            k,
            row::CLOUDFORMATION_UNANSWERED,
            "DescribeStackResource answers a malformed body",
        )
        .cloudformation_shows(gave_up)
        .fault(Fault::always(DESCRIBE, FaultKind::MalformedBody))
        .expect(ok(k)),
        Case::new(
            k,
            row::CLOUDFORMATION_UNANSWERED,
            "DescribeStackResource resets the connection every time",
        )
        .cloudformation_shows(gave_up)
        .fault(Fault::always(DESCRIBE, FaultKind::ConnectionReset))
        .expect(ok(k)),
    ];
    for code in ["AccessDenied", "Throttling"] {
        cases.push(
            Case::new(
                k,
                row::CLOUDFORMATION_UNANSWERED,
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
            .expect(ok(k)),
        );
    }
    cases
}

/// IAM refusing every call, as while the function's role (created with the stack) propagates:
/// the emulator's window starts with it, so only for Create.
fn iam_propagation(k: Kind) -> Vec<Case> {
    vec![
        Case::new(
            k,
            row::IAM_PROPAGATING,
            "IAM denies every call for the first 1 s (grace 3 s)",
        )
        .access_denied_for(Duration::from_secs(1))
        .grace(Duration::from_secs(3))
        .expect(ok(k).calls(CREATE, Times::Exactly(1))),
        Case::new(k, row::IAM_DENIES, "IAM denies every call for good")
            .access_denied_for(Duration::from_secs(3600))
            .expect(
                unchanged(k)
                    .reason([
                        "IVS ListRecordingConfigurations was denied (AccessDeniedException: ",
                        "the function's role may lack ivs:ListRecordingConfigurations",
                    ])
                    .calls(LIST, Times::AtLeast(2))
                    .calls(CREATE, Times::Exactly(0)),
            ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Cases and what they expect
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Create,
    /// An Update changing `Name`: a new configuration.
    Replace,
    /// An Update changing only `Tags` (team=video → env=prod): UntagResource and TagResource.
    TagsOnly,
    Delete,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Create, Kind::Replace, Kind::TagsOnly, Kind::Delete];

    /// Its column's position in the README's table, after "injected".
    fn column_index(self) -> usize {
        1 + Kind::ALL
            .iter()
            .position(|k| *k == self)
            .expect("one of ALL")
    }

    /// Its column's header in the README's table.
    fn column(self) -> &'static str {
        match self {
            Kind::Create => "Create",
            Kind::Replace => "Update (replace)",
            Kind::TagsOnly => "Update (tags only)",
            Kind::Delete => "Delete",
        }
    }

    /// The event of this kind with `REQUEST_ID`; Update and Delete start from `existing`.
    fn event(self, h: &Harness, existing: Option<&str>) -> Value {
        let existing = existing.unwrap_or_default();
        match self {
            Kind::Create => create(h, REQUEST_ID, properties()),
            Kind::Replace => {
                let mut new = properties();
                new["Name"] = json!("renamed");
                update(h, REQUEST_ID, existing, properties(), new)
            }
            Kind::TagsOnly => {
                let mut new = properties();
                new["Tags"] = json!([{"Key": "env", "Value": "prod"}]);
                update(h, REQUEST_ID, existing, properties(), new)
            }
            Kind::Delete => delete(h, REQUEST_ID, existing),
        }
    }
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

/// One case of a cell of the matrix.
#[derive(Clone)]
struct Case {
    name: String,
    kind: Kind,
    /// Its row in the README's table, one of [`row`].
    row: &'static str,
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
    fn new(kind: Kind, row: &'static str, name: impl Into<String>) -> Case {
        Case {
            name: format!("{kind:?}: {}", name.into()),
            kind,
            row,
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
    /// The function's default safety margin instead of `fast_config()`'s, with the time left
    /// (set by `left` before) grown by the difference, so that the work time stays the same.
    /// For a case whose last call runs in the margin's clean-up slice (a third of it): it gets the
    /// slice a deployed function has (1.67 s), not 266 ms that two busy cores can overrun.
    fn default_margin(mut self) -> Case {
        let default = HandlerConfig::default().safety_margin;
        self.left += default - self.config.safety_margin;
        self.config.safety_margin = default;
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

/// What the ResponseURL does with the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Receipt {
    /// Each delivery's answer accepted once, after the scripted failures.
    Accepted,
    /// The 403: one PUT, not retried, `Err(HandlerError::Send)`.
    Refused,
    /// Retried until the deadline, then `Err(HandlerError::Send)`.
    Undelivered,
}

/// How many calls of an operation a case expects.
#[derive(Clone, Copy, Debug)]
enum Times {
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
    receipt: Receipt,
    /// Requests per operation after the setup; `None`: all operations.
    calls: Vec<(Option<Operation>, Times)>,
    /// How many channel ARNs the Reason names.
    channels_named: Option<usize>,
}

fn success(id: Id, stored: Stored) -> Expect {
    Expect {
        status: "SUCCESS",
        id,
        stored,
        reason: Vec::new(),
        receipt: Receipt::Accepted,
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
fn ok(k: Kind) -> Expect {
    match k {
        Kind::Create => success(Id::New, Stored::Answered).reason(["is ACTIVE"]),
        Kind::Replace => success(Id::New, Stored::ExistingAndAnswered).reason(["is ACTIVE"]),
        Kind::TagsOnly => success(Id::Existing, Stored::ExistingTagged).reason(["in place"]),
        Kind::Delete => success(Id::Existing, Stored::Nothing)
            .reason_any(["Deleted recording configuration", "was already gone"]),
    }
}

/// FAILED, and nothing new is left behind.
fn unchanged(k: Kind) -> Expect {
    match k {
        Kind::Create => failed(Id::FailedCreate, Stored::Nothing),
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
    fn calls(mut self, op: Operation, calls: Times) -> Expect {
        self.calls.push((Some(op), calls));
        self
    }
    fn names_channels(mut self, n: usize) -> Expect {
        self.channels_named = Some(n);
        self
    }
    fn no_ivs_call(mut self) -> Expect {
        self.calls.push((None, Times::Exactly(0)));
        self
    }
    fn refused(mut self) -> Expect {
        self.receipt = Receipt::Refused;
        self
    }
    fn undelivered(mut self) -> Expect {
        self.receipt = Receipt::Undelivered;
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

/// What the handler returned for one delivery, and when.
struct Returned {
    result: Result<Delivered, HandlerError>,
    elapsed: Duration,
    deadline: Instant,
}

/// What one run left behind.
struct Observed {
    existing: Option<String>,
    returned: Vec<Returned>,
    puts: Vec<RecordedPut>,
    stored: Vec<StoredConfiguration>,
    calls: Vec<RecordedRequest>,
}

async fn run_case(case: &Case) -> Result<(), String> {
    let h = Harness::with_options(case.emulator.clone(), case.config.clone()).await;
    let existing = match case.kind {
        Kind::Create => None,
        _ => {
            let arn = created_arn(&h, SETUP_REQUEST_ID).await;
            // As long after the Create as CloudFormation's Updates and Deletes usually come.
            h.emulator.refill_quotas();
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
    let event = case.kind.event(&h, existing.as_deref());

    let returned = match case.deliveries {
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
        returned,
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

async fn deliver(h: &Harness, event: Value, left: Duration) -> Returned {
    let started = Instant::now();
    let result = h.run(event, left).await;
    Returned {
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
    for (i, r) in o.returned.iter().enumerate() {
        ensure!(
            r.elapsed < case.left,
            "delivery {i} returned {:?} after it arrived, past the deadline {:?} after",
            r.elapsed,
            case.left
        );
        match (e.receipt, &r.result) {
            (Receipt::Accepted, Ok(d)) => ensure!(
                d.status == e.status,
                "delivery {i} answered {} (expected {}): {}",
                d.status,
                e.status,
                d.reason
            ),
            (Receipt::Refused, Err(HandlerError::Send { status, source })) => {
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
            (Receipt::Undelivered, Err(HandlerError::Send { status, source })) => {
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
    let deliveries = o.returned.len();
    let scripted = case.sink.len();
    let puts = o.puts.len();
    match e.receipt {
        Receipt::Accepted => ensure!(
            puts == scripted + deliveries,
            "{puts} PUTs: expected {scripted} scripted failures and {deliveries} accepted answer(s)"
        ),
        Receipt::Refused => ensure!(puts == 1, "{puts} PUTs after a 403, expected exactly 1"),
        Receipt::Undelivered => ensure!(
            puts >= 2 && puts <= scripted,
            "{puts} PUTs: expected at least 2 attempts, all failing"
        ),
    }
    let latest = o
        .returned
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
    for r in &o.returned {
        if let Ok(d) = &r.result {
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
            Times::Exactly(k) => ensure!(n == k, "{n} {what} calls, expected {k}"),
            Times::AtLeast(k) => ensure!(n >= k, "{n} {what} calls, expected at least {k}"),
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
