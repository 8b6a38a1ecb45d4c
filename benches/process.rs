//! Cold start, latency, peak memory and size of the release `cfn-ivs-recording` binary, run the
//! way Lambda runs it: every sample is a new process that takes its events from the fake Lambda
//! Runtime API, calls the IVS emulator over HTTP and PUTs its answers to the fake ResponseURL.
//!
//! ```text
//! cargo bench --bench process                       # 20 processes
//! BENCH_PROCESSES=50 cargo bench --bench process
//! BENCH_BINARY=/path/to/cfn-ivs-recording cargo bench --bench process   # another build of it
//! ```
//!
//! `BENCH_BINARY` wants a copy made right after `cargo build --release`: building this bench
//! (`cargo bench`, `--no-run` too) writes `target/release/cfn-ivs-recording` over with the
//! dev-dependencies' features unified in, which is not the binary that gets deployed.
//!
//! Unless given `BENCH_BINARY`, the bench first runs `cargo build --release --bin
//! cfn-ivs-recording` (a no-op when the binary is up to date), and unless given
//! `BENCH_EMPTY_BINARY`, it builds the floor, `../shared/anchors/empty-lambda-function` (an empty
//! `lambda_runtime` function), into `target/empty-lambda-function`. It prints a markdown table
//! (min / median / max, and the targets for the median) and writes the same figures to
//! `target/bench/process.json`. The processes' logs go to `target/bench/process.log`.
//!
//! Every process gets its own Runtime API, emulator and ResponseURL, and three Create events:
//!
//! 1. **cold**: queued before the process starts, the emulator ACTIVE at once. Gives the init
//!    duration (just before `spawn()` to the first `GET .../invocation/next`) and the cold
//!    latency (event handed out to answer PUT received).
//! 2. **warm**: the same with another RequestId, queued once the process waits for it. Then a
//!    bare keep-alive HTTP client in this process replays the event's IVS requests and its PUT:
//!    that is what the fakes themselves cost (emulator, ResponseURL, loopback). The warm latency
//!    minus it is the function's own time.
//! 3. **stabilization**: the emulator keeps the configuration CREATING for 1.5 s. The lag runs
//!    from the flip to ACTIVE to the PUT. The emulator exposes no timestamps, so a thread watches
//!    its request count and takes the moment CreateRecordingConfiguration arrives as the creation
//!    instant; the emulator's own clock starts microseconds later, when it stores the
//!    configuration, so the lag is overstated by that much at most.
//!
//! Once all three are answered and the process asks for more, its peak RSS (`VmHWM`) is read and
//! it is killed. These per-process emulators impose no rate quotas: they time one process. Each
//! emulator shows the events' stack resource CREATE_IN_PROGRESS, so that the Create's question to
//! CloudFormation (is it still waiting?) is answered yes, as in a stack being created.
//!
//! **The floor**: before each of these processes, the empty function starts against a Runtime API
//! of its own, and its init is timed the same way; the function's init is reported as a multiple
//! of the empty function's (medians). Then the same again with the **page cache dropped** before
//! every start (`sync; echo 3 > /proc/sys/vm/drop_caches`), as in a fresh Lambda sandbox where
//! nothing of the package has been read yet: the two binaries start alternately, each timed to
//! its first `next` and then killed. Dropping the page cache needs root; where it is refused, the
//! bench says so and leaves those rows empty.
//!
//! Then the **storm**, 3 times: 10 processes, each a Lambda instance with its own Runtime API,
//! against one emulator with IVS's rate quotas (the default) and configurations ACTIVE 2 s after
//! their create. Once every process waits for an event, each gets a Create (its own RequestId,
//! a ResponseURL on one shared sink), and once its answer arrives, a Delete of the
//! PhysicalResourceId it answered. Reported per run and as min / median / max: the wall time
//! from the first event handed out to the last answer, every request the emulator received, the
//! 429s among them and their share, whether every answer was SUCCESS, and the calls by operation
//! and status.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use ivs_emulator::{
    EmulatorOptions, IvsEmulator, Operation, RecordedRequest, Service, Stabilization,
};
use lambda_fakes::{Invocation, InvocationResult, RecordedPut, ResponseSink, RuntimeApi};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = "cfn-ivs-recording";
/// The floor for init, relative to this package's directory.
const EMPTY_MANIFEST: &str = "../shared/anchors/empty-lambda-function/Cargo.toml";
const EMPTY_BIN: &str = "empty-lambda-function";
/// The targets for the function's init as a multiple of the empty function's (medians).
const INIT_RATIO_TARGET: f64 = 1.5;
const COLD_CACHE_INIT_RATIO_TARGET: f64 = 2.0;
const DEFAULT_PROCESSES: usize = 20;
const STABILIZE_AFTER: Duration = Duration::from_millis(1500);
/// A step that takes this long is broken, not slow.
const PATIENCE: Duration = Duration::from_secs(30);
const CREATE_EVENT: &str = include_str!("../events/create.json");
const DELETE_EVENT: &str = include_str!("../events/delete.json");
/// The storm: this many concurrent create-then-delete lifecycles, as many processes, one
/// emulator with IVS's quotas; run `STORM_RUNS` times.
const STORM_LIFECYCLES: usize = 10;
const STORM_RUNS: usize = 3;
const STORM_ACTIVE_AFTER: Duration = Duration::from_secs(2);
/// A storm not over after this long is reported with its answers missing.
const STORM_PATIENCE: Duration = Duration::from_secs(120);
/// The storm's targets: wall time, and the throttled share of the IVS calls.
const STORM_WALL_TARGET_MS: f64 = 10_000.0;
const STORM_THROTTLED_TARGET_PCT: f64 = 25.0;
const PY_ZIP: &str = "import sys, zipfile\n\
    with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z:\n    \
    z.write(sys.argv[2], 'bootstrap')";

fn main() {
    let processes = processes_from_env();
    let binary = std::env::var_os("BENCH_BINARY").map_or_else(build_release_binary, PathBuf::from);
    let empty = std::env::var_os("BENCH_EMPTY_BINARY")
        .map(PathBuf::from)
        .or_else(build_empty_function);
    let out_dir = bench_dir();
    fs::create_dir_all(&out_dir).expect("target/bench can be created");
    let log = File::create(out_dir.join("process.log")).expect("the log file can be created");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut empty_inits = Vec::new();
    let samples: Vec<Sample> = (1..=processes)
        .map(|n| {
            eprintln!("process {n}/{processes}");
            if let Some(empty) = &empty {
                empty_inits.push(runtime.block_on(empty_init(empty, &log)));
            }
            runtime.block_on(sample(&binary, &log))
        })
        .collect();
    let cold_cache = empty
        .as_deref()
        .and_then(|empty| runtime.block_on(cold_cache_inits(&binary, empty, &log, processes)));
    let storms: Vec<StormRun> = (1..=STORM_RUNS)
        .map(|run| {
            eprintln!("storm {run}/{STORM_RUNS}");
            runtime.block_on(storm(&binary, &log, run))
        })
        .collect();

    let mut rows = rows(&samples, &binary, &out_dir);
    rows.extend(floor_rows(&samples, &empty_inits, cold_cache.as_ref()));
    rows.extend(storm_rows(&storms));
    let report = Report {
        processes,
        binary: binary.display().to_string(),
        empty_binary: empty.map(|path| path.display().to_string()),
        machine: machine(),
        date: utc_now(),
        rows,
        storms,
    };
    println!("{}", report.markdown());
    let json = serde_json::to_string_pretty(&report.json()).expect("figures serialize");
    fs::write(out_dir.join("process.json"), json + "\n").expect("process.json can be written");
}

fn processes_from_env() -> usize {
    match std::env::var("BENCH_PROCESSES") {
        Ok(n) => n
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or_else(|| panic!("BENCH_PROCESSES must be a positive integer, got {n:?}")),
        Err(_) => DEFAULT_PROCESSES,
    }
}

/// `target/bench`: this bench runs as `<target dir>/release/deps/process-<hash>`.
fn bench_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the bench knows its own path");
    let target_dir = exe
        .ancestors()
        .nth(3)
        .expect("the bench runs from <target>/release/deps");
    target_dir.join("bench")
}

/// Builds the binary as `cargo build --release` does and returns its path. Not the bench's own
/// `CARGO_BIN_EXE_*`: that one is built with the dev-dependencies' features unified in (regex
/// with every Unicode table, for one), so it is not the binary that gets deployed.
fn build_release_binary() -> PathBuf {
    let output = Command::new(env!("CARGO"))
        .args(["build", "--release", "--bin", BIN])
        .arg("--message-format=json-render-diagnostics")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "cargo build --release failed");
    executable_of(&output.stdout, BIN).expect("cargo reports where it put the binary")
}

/// Builds the empty function with its own lock file and release profile into
/// `target/empty-lambda-function` and returns its path; `None`, with a message, when the anchor
/// is not there.
fn build_empty_function() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join(EMPTY_MANIFEST);
    if !manifest.exists() {
        eprintln!(
            "{} not found: no rows for the empty function (BENCH_EMPTY_BINARY names a build of it)",
            manifest.display()
        );
        return None;
    }
    let target_dir = bench_dir()
        .parent()
        .expect("target/bench is inside the target directory")
        .join(EMPTY_BIN);
    // Built from its own directory, so that only its own configuration applies.
    let output = Command::new(env!("CARGO"))
        .args(["build", "--release", "--locked"])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .arg("--message-format=json-render-diagnostics")
        .current_dir(manifest.parent().expect("a manifest lives in a directory"))
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo build --release of the empty function failed"
    );
    executable_of(&output.stdout, EMPTY_BIN)
}

/// The path cargo's JSON messages give for the executable of `bin`.
fn executable_of(messages: &[u8], bin: &str) -> Option<PathBuf> {
    String::from_utf8_lossy(messages)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| message["target"]["name"] == bin)
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
}

/// One process's figures, in milliseconds unless named otherwise.
struct Sample {
    init: f64,
    cold: f64,
    warm: f64,
    fakes: f64,
    stabilization_lag: f64,
    peak_rss_kib: u64,
}

async fn sample(binary: &Path, log: &File) -> Sample {
    let rig = Rig::start().await;
    rig.enqueue_create("cold");
    let mut command = rig.command(binary, log);
    let spawned = Instant::now();
    let function = Function(command.spawn().expect("the binary starts"));
    let cold = rig.answer(1).await;
    let init = millis(spawned, rig.api.next_calls()[0]);

    let before_warm = rig.ivs.requests().len();
    rig.wait_ready(2).await;
    rig.enqueue_create("warm");
    let warm = rig.answer(2).await;
    let fakes = rig
        .replay(&rig.ivs.requests()[before_warm..], &warm.put)
        .await;

    let stabilization_lag = rig.stabilization_lag().await;
    rig.wait_ready(4).await;
    Sample {
        init,
        cold: cold.latency,
        warm: warm.latency,
        fakes,
        stabilization_lag,
        peak_rss_kib: function.peak_rss_kib(),
    }
}

/// The process under test; killed when dropped, also when a step fails.
struct Function(Child);

impl Function {
    /// `VmHWM`, the peak resident set size so far, in KiB.
    fn peak_rss_kib(&self) -> u64 {
        let status = fs::read_to_string(format!("/proc/{}/status", self.0.id()))
            .expect("the process is still running");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("/proc/<pid>/status has a VmHWM line")
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The empty function's init: spawn to its first `next`, against a Runtime API of its own.
async fn empty_init(empty: &Path, log: &File) -> f64 {
    let api = RuntimeApi::start().await.expect("the Runtime API starts");
    let mut command = Command::new(empty);
    command
        .env_clear()
        .envs(api.lambda_env())
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("the log file handle clones"))
        .stderr(log.try_clone().expect("the log file handle clones"));
    init_of(&api, &mut command).await
}

/// The function's init alone: spawn to its first `next`.
async fn function_init(binary: &Path, log: &File) -> f64 {
    let rig = Rig::start().await;
    let mut command = rig.command(binary, log);
    init_of(&rig.api, &mut command).await
}

/// Spawns `command` and returns the milliseconds to its first `next`; the process is killed.
async fn init_of(api: &RuntimeApi, command: &mut Command) -> f64 {
    let spawned = Instant::now();
    let _process = Function(command.spawn().expect("the binary starts"));
    let calls = api.wait_for_next_calls(1, PATIENCE).await;
    let first = *calls.first().expect("the process asked for an event");
    millis(spawned, first)
}

/// Init of the function and of the empty function, `n` each, starting alternately with the page
/// cache dropped before every start; `None`, with a message, where dropping it is refused.
async fn cold_cache_inits(binary: &Path, empty: &Path, log: &File, n: usize) -> Option<ColdCache> {
    let mut cold = ColdCache::default();
    for i in 1..=n {
        eprintln!("page cache dropped: start {i}/{n}");
        if let Err(error) = drop_page_cache() {
            eprintln!(
                "the page cache cannot be dropped ({error}; it needs root): no cold-cache rows"
            );
            return None;
        }
        cold.empty.push(empty_init(empty, log).await);
        drop_page_cache().ok()?;
        cold.function.push(function_init(binary, log).await);
    }
    Some(cold)
}

/// Inits with the page cache dropped before each start, in milliseconds.
#[derive(Default)]
struct ColdCache {
    function: Vec<f64>,
    empty: Vec<f64>,
}

/// Writes dirty pages out, then drops the clean page cache, dentries and inodes.
fn drop_page_cache() -> std::io::Result<()> {
    let synced = Command::new("sync").status()?;
    if !synced.success() {
        return Err(std::io::Error::other(format!("sync failed: {synced}")));
    }
    fs::write("/proc/sys/vm/drop_caches", "3")
}

/// The environment Lambda gives a `provided.al2023` function, pointed at the fakes.
fn lambda_command(binary: &Path, log: &File, api: &RuntimeApi, ivs: &IvsEmulator) -> Command {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .envs(api.lambda_env())
        .env("AWS_ENDPOINT_URL_IVS", ivs.endpoint_url())
        .env(
            "AWS_ENDPOINT_URL_CLOUDFORMATION",
            ivs.cloudformation_endpoint_url(),
        )
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDBENCH")
        .env("AWS_SECRET_ACCESS_KEY", "bench-secret")
        .env("AWS_SESSION_TOKEN", "bench-session-token")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("the log file handle clones"))
        .stderr(log.try_clone().expect("the log file handle clones"));
    command
}

/// What one process talks to, plus a plain HTTP client to replay its requests with.
struct Rig {
    api: RuntimeApi,
    ivs: IvsEmulator,
    sink: ResponseSink,
    /// Takes the replayed PUTs, so that `sink` holds only the function's answers.
    replay_sink: ResponseSink,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// An event answered: the time from hand-out to PUT, and the PUT.
struct Answered {
    latency: f64,
    put: RecordedPut,
}

impl Rig {
    async fn start() -> Rig {
        // No rate quotas: these figures are one process's latencies, and the replay alone
        // makes more Creates within a second than IVS's 3 a second allow. The storm is where
        // the quotas are measured.
        let ivs = IvsEmulator::start(EmulatorOptions {
            quotas: None,
            ..EmulatorOptions::default()
        })
        .await
        .expect("the emulator starts");
        stack_being_created(&ivs);
        Rig {
            api: RuntimeApi::start().await.expect("the Runtime API starts"),
            ivs,
            sink: ResponseSink::start().await.expect("the ResponseURL starts"),
            replay_sink: ResponseSink::start().await.expect("the ResponseURL starts"),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    fn command(&self, binary: &Path, log: &File) -> Command {
        lambda_command(binary, log, &self.api, &self.ivs)
    }

    /// Queues `events/create.json` with its own RequestId and a ResponseURL on the sink.
    fn enqueue_create(&self, request_id: &str) {
        let mut event: Value = serde_json::from_str(CREATE_EVENT).expect("create.json is JSON");
        event["RequestId"] = json!(request_id);
        event["ResponseURL"] = json!(self.sink.url(&format!(
            "/demo/Recording/{request_id}?X-Amz-Signature=BENCH"
        )));
        self.api.enqueue(Invocation {
            request_id: format!("invocation-{request_id}"),
            event,
            deadline: Duration::from_secs(300),
        });
    }

    /// Waits until the process has asked for its `n`th event, so that one queued now is handed
    /// out at once.
    async fn wait_ready(&self, n: usize) {
        let calls = self.api.wait_for_next_calls(n, PATIENCE).await;
        assert!(calls.len() >= n, "the process never asked for event {n}");
    }

    /// Waits for the answer to the `n`th event and checks it succeeded.
    async fn answer(&self, n: usize) -> Answered {
        let puts = self.sink.wait_for(n, PATIENCE).await;
        let put = puts
            .get(n - 1)
            .unwrap_or_else(|| panic!("no answer to event {n}"))
            .clone();
        assert_eq!(put.json()["Status"], "SUCCESS", "event {n}: {}", put.body);
        let results = self.api.wait_for_results(n, PATIENCE).await;
        assert!(
            matches!(
                results.get(n - 1),
                Some((InvocationResult::Response { .. }, _))
            ),
            "event {n} did not end in a response to the runtime: {results:?}"
        );
        let handed_out = self.api.handed_out()[n - 1].1;
        Answered {
            latency: millis(handed_out, put.received_at),
            put,
        }
    }

    /// The time the emulator and the sink take for `requests` and `put` over warm keep-alive
    /// connections. The first round only warms those connections, as the function's pool is warm
    /// after its cold event; it creates one more configuration, which changes nothing here.
    async fn replay(&self, requests: &[RecordedRequest], put: &RecordedPut) -> f64 {
        self.replay_once(requests, put).await;
        let started = Instant::now();
        self.replay_once(requests, put).await;
        millis(started, Instant::now())
    }

    async fn replay_once(&self, requests: &[RecordedRequest], put: &RecordedPut) {
        for request in requests {
            let (content_type, body) = match &request.body {
                Value::Null => (JSON, String::new()),
                Value::Object(params)
                    if request.operation.map(|op| op.service())
                        == Some(Service::CloudFormation) =>
                {
                    (FORM, form_encoded(params))
                }
                body => (JSON, body.to_string()),
            };
            let uri = self.ivs.endpoint_url() + &path_and_query(&request.path, &request.query);
            self.send(&request.method, uri, content_type, body).await;
        }
        let uri = self.replay_sink.url(&path_and_query(&put.path, &put.query));
        self.send(&put.method, uri, JSON, put.body.clone()).await;
    }

    async fn send(&self, method: &str, uri: String, content_type: &str, body: String) {
        let request = hyper::Request::builder()
            .method(method)
            .uri(&uri)
            .header(hyper::header::CONTENT_TYPE, content_type)
            .body(Full::from(body))
            .expect("a recorded request is a valid request");
        let response = self
            .client
            .request(request)
            .await
            .expect("the fake answers");
        let status = response.status();
        // Read to the end: that is part of the round trip and frees the connection for reuse.
        let body = response.into_body().collect().await.expect("a whole body");
        assert!(status.is_success(), "{method} {uri}: {status} {body:?}");
    }

    /// Runs the third event with `STABILIZE_AFTER` and returns the lag from the flip to ACTIVE
    /// to the PUT.
    async fn stabilization_lag(&self) -> f64 {
        self.ivs
            .set_stabilization(Stabilization::ActiveAfter(STABILIZE_AFTER));
        self.wait_ready(3).await;
        let creation = watch_next_create(self.ivs.clone());
        self.enqueue_create("stabilize");
        let answered = self.answer(3).await;
        let created = creation.join().expect("the emulator received the Create");
        millis(created + STABILIZE_AFTER, answered.put.received_at)
    }
}

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// CloudFormation's query protocol as the SDK sends it: the recorded parameters as a form.
fn form_encoded(params: &serde_json::Map<String, Value>) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|byte| match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(byte).to_string()
                }
                _ => format!("%{byte:02X}"),
            })
            .collect::<String>()
    };
    params
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value.as_str().unwrap_or(""))))
        .collect::<Vec<_>>()
        .join("&")
}

/// Shows the events' stack resource CREATE_IN_PROGRESS: CloudFormation waits for the Create.
fn stack_being_created(ivs: &IvsEmulator) {
    let event: Value = serde_json::from_str(CREATE_EVENT).expect("create.json is JSON");
    ivs.set_stack_resource(
        event["StackId"]
            .as_str()
            .expect("create.json has a StackId"),
        event["LogicalResourceId"]
            .as_str()
            .expect("create.json has a LogicalResourceId"),
        "CREATE_IN_PROGRESS",
    )
    .expect("the emulator takes the event's stack");
}

/// When the emulator receives its next CreateRecordingConfiguration, seen from a thread of its
/// own so that the runtime serving the fakes is not disturbed; polling every 100 µs keeps the
/// error well under a millisecond.
fn watch_next_create(ivs: IvsEmulator) -> std::thread::JoinHandle<Instant> {
    let creates = ivs.count(Operation::CreateRecordingConfiguration);
    let give_up = Instant::now() + PATIENCE;
    std::thread::spawn(move || loop {
        if ivs.count(Operation::CreateRecordingConfiguration) > creates {
            return Instant::now();
        }
        assert!(
            Instant::now() < give_up,
            "no CreateRecordingConfiguration arrived"
        );
        std::thread::sleep(Duration::from_micros(100));
    })
}

/// One storm: `STORM_LIFECYCLES` processes, each a Lambda instance with its own Runtime API,
/// all calling one emulator that imposes IVS's rate quotas, with configurations ACTIVE
/// `STORM_ACTIVE_AFTER` after their create. Each gets a Create; once its answer arrives, a Delete
/// of the PhysicalResourceId it answered.
async fn storm(binary: &Path, log: &File, run: usize) -> StormRun {
    let load_average = load_average();
    let ivs = IvsEmulator::start(EmulatorOptions {
        stabilization: Stabilization::ActiveAfter(STORM_ACTIVE_AFTER),
        ..EmulatorOptions::default()
    })
    .await
    .expect("the emulator starts");
    stack_being_created(&ivs);
    let sink = ResponseSink::start().await.expect("the ResponseURL starts");
    let mut apis = Vec::with_capacity(STORM_LIFECYCLES);
    for _ in 0..STORM_LIFECYCLES {
        apis.push(RuntimeApi::start().await.expect("the Runtime API starts"));
    }
    let _functions: Vec<Function> = apis
        .iter()
        .map(|api| {
            Function(
                lambda_command(binary, log, api, &ivs)
                    .spawn()
                    .expect("the binary starts"),
            )
        })
        .collect();
    // The storm starts with the first event, not with the processes' init: all of them wait
    // for an event before any is queued.
    for (i, api) in apis.iter().enumerate() {
        let calls = api.wait_for_next_calls(1, PATIENCE).await;
        assert!(
            !calls.is_empty(),
            "storm process {i} never asked for an event"
        );
    }
    for (i, api) in apis.iter().enumerate() {
        api.enqueue(storm_event(
            CREATE_EVENT,
            &format!("storm{run}-{i}-create"),
            &sink.url(&format!("/storm/{i}/create?X-Amz-Signature=BENCH")),
            None,
        ));
    }

    // Hands out each Delete as soon as its Create is answered, driven by the sink's arrivals.
    let give_up = Instant::now() + STORM_PATIENCE;
    let mut creates: Vec<Option<RecordedPut>> = vec![None; STORM_LIFECYCLES];
    let mut deletes: Vec<Option<RecordedPut>> = vec![None; STORM_LIFECYCLES];
    let mut seen = 0;
    while deletes.iter().any(Option::is_none) {
        let left = give_up.saturating_duration_since(Instant::now());
        let puts = sink.wait_for(seen + 1, left).await;
        if puts.len() <= seen {
            break;
        }
        for put in &puts[seen..] {
            let Some((i, kind)) = storm_answer_of(&put.path) else {
                continue;
            };
            match kind {
                "create" if creates[i].is_none() => {
                    let physical_id = put.json()["PhysicalResourceId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    apis[i].enqueue(storm_event(
                        DELETE_EVENT,
                        &format!("storm{run}-{i}-delete"),
                        &sink.url(&format!("/storm/{i}/delete?X-Amz-Signature=BENCH")),
                        Some(&physical_id),
                    ));
                    creates[i] = Some(put.clone());
                }
                "delete" if deletes[i].is_none() => deletes[i] = Some(put.clone()),
                _ => {}
            }
        }
        seen = puts.len();
    }
    let ended = Instant::now();

    let first_event = apis
        .iter()
        .filter_map(|api| api.handed_out().first().map(|(_, at)| *at))
        .min()
        .expect("the storm's events were handed out");
    let answers: Vec<&RecordedPut> = creates.iter().chain(&deletes).flatten().collect();
    let complete = answers.len() == 2 * STORM_LIFECYCLES;
    let last_answer = if complete {
        answers
            .iter()
            .map(|put| put.received_at)
            .max()
            .unwrap_or(ended)
    } else {
        ended
    };
    let failures: Vec<String> = answers
        .iter()
        .filter(|put| put.json()["Status"] != "SUCCESS")
        .map(|put| format!("{}: {}", put.path, put.json()["Reason"]))
        .collect();
    let requests = ivs.requests();
    let mut operations: BTreeMap<String, BTreeMap<u16, usize>> = BTreeMap::new();
    for request in &requests {
        let name = request.operation.map_or("(unknown)", |op| op.name());
        *operations
            .entry(name.to_owned())
            .or_default()
            .entry(request.status)
            .or_default() += 1;
    }
    StormRun {
        load_average,
        wall_ms: millis(first_event, last_answer),
        answers: answers.len(),
        successes: answers.len() - failures.len(),
        calls: requests.len(),
        throttled: ivs.throttled(),
        operations,
        failures,
    }
}

/// `template` (create.json or delete.json) with its own RequestId and ResponseURL, and for a
/// Delete the PhysicalResourceId to delete.
fn storm_event(
    template: &str,
    request_id: &str,
    response_url: &str,
    physical_id: Option<&str>,
) -> Invocation {
    let mut event: Value = serde_json::from_str(template).expect("the event is JSON");
    event["RequestId"] = json!(request_id);
    event["ResponseURL"] = json!(response_url);
    if let Some(physical_id) = physical_id {
        event["PhysicalResourceId"] = json!(physical_id);
    }
    Invocation {
        request_id: format!("invocation-{request_id}"),
        event,
        deadline: Duration::from_secs(300),
    }
}

/// `/storm/<i>/<create|delete>`: which lifecycle an answer belongs to, and to which event.
fn storm_answer_of(path: &str) -> Option<(usize, &str)> {
    let mut parts = path.strip_prefix("/storm/")?.splitn(2, '/');
    let i: usize = parts.next()?.parse().ok()?;
    let kind = parts.next()?;
    (i < STORM_LIFECYCLES).then_some((i, kind))
}

/// `/proc/loadavg`'s first three fields: the load over 1, 5 and 15 minutes.
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|line| {
            line.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// One storm's figures.
struct StormRun {
    /// The machine's load average when the run started.
    load_average: String,
    /// First event handed out → last answer received; when answers are missing, → giving up.
    wall_ms: f64,
    /// Answers received, of `2 * STORM_LIFECYCLES`.
    answers: usize,
    successes: usize,
    /// Every request the emulator received, throttled ones included.
    calls: usize,
    /// The 429s.
    throttled: usize,
    /// Requests by operation, then by response status.
    operations: BTreeMap<String, BTreeMap<u16, usize>>,
    /// The path and Reason of every answer that was not SUCCESS.
    failures: Vec<String>,
}

impl StormRun {
    fn throttled_pct(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.throttled as f64 * 100.0 / self.calls as f64
        }
    }

    /// Answers not SUCCESS, missing ones included.
    fn not_success(&self) -> usize {
        2 * STORM_LIFECYCLES - self.successes
    }

    fn all_success(&self) -> bool {
        self.not_success() == 0
    }

    /// `CreateRecordingConfiguration 10 (429: 3)`, and so on.
    fn operations_line(&self) -> String {
        self.operations
            .iter()
            .map(|(name, statuses)| {
                let calls: usize = statuses.values().sum();
                let others: Vec<String> = statuses
                    .iter()
                    .filter(|(status, _)| !(200..300).contains(*status))
                    .map(|(status, n)| format!("{status}: {n}"))
                    .collect();
                if others.is_empty() {
                    format!("{name} {calls}")
                } else {
                    format!("{name} {calls} ({})", others.join(", "))
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn json(&self) -> Value {
        let operations: serde_json::Map<String, Value> = self
            .operations
            .iter()
            .map(|(name, statuses)| {
                let by_status: serde_json::Map<String, Value> = statuses
                    .iter()
                    .map(|(status, n)| (status.to_string(), json!(n)))
                    .collect();
                (
                    name.clone(),
                    json!({
                        "calls": statuses.values().sum::<usize>(),
                        "throttled": statuses.get(&429).copied().unwrap_or(0),
                        "by_status": by_status,
                    }),
                )
            })
            .collect();
        json!({
            "load_average": self.load_average,
            "wall_ms": (self.wall_ms * 1e3).round() / 1e3,
            "answers": self.answers,
            "success": self.successes,
            "all_success": self.all_success(),
            "ivs_calls": self.calls,
            "throttled": self.throttled,
            "throttled_pct": (self.throttled_pct() * 1e3).round() / 1e3,
            "operations": operations,
            "failures": self.failures,
        })
    }
}

fn path_and_query(path: &str, query: &Option<String>) -> String {
    match query {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    }
}

/// Milliseconds from `start` to `end`, negative if `end` came first.
fn millis(start: Instant, end: Instant) -> f64 {
    match end.checked_duration_since(start) {
        Some(elapsed) => elapsed.as_secs_f64() * 1e3,
        None => -(start - end).as_secs_f64() * 1e3,
    }
}

#[derive(Clone, Copy)]
struct Stats {
    min: f64,
    median: f64,
    max: f64,
}

impl Stats {
    fn of(mut values: Vec<f64>) -> Stats {
        assert!(!values.is_empty(), "no samples");
        values.sort_by(f64::total_cmp);
        let middle = values.len() / 2;
        let median = if values.len().is_multiple_of(2) {
            (values[middle - 1] + values[middle]) / 2.0
        } else {
            values[middle]
        };
        Stats {
            min: values[0],
            median,
            max: values[values.len() - 1],
        }
    }
}

/// One line of the table; `stats` is `None` when the figure could not be taken.
struct Row {
    key: &'static str,
    label: &'static str,
    decimals: usize,
    stats: Option<Stats>,
    /// The most the median may be; with `every_run`, the most the max may be.
    target: Option<f64>,
    every_run: bool,
}

impl Row {
    /// A row judged by its median.
    fn median(
        key: &'static str,
        label: &'static str,
        decimals: usize,
        stats: Option<Stats>,
        target: Option<f64>,
    ) -> Row {
        Row {
            key,
            label,
            decimals,
            stats,
            target,
            every_run: false,
        }
    }

    fn met(&self) -> Option<bool> {
        let stats = self.stats?;
        let judged = if self.every_run {
            stats.max
        } else {
            stats.median
        };
        Some(judged <= self.target?)
    }
}

/// Megabytes of 10^6 bytes, the stricter reading of the targets.
const MB: f64 = 1e6;

fn rows(samples: &[Sample], binary: &Path, out_dir: &Path) -> Vec<Row> {
    let each = |figure: fn(&Sample) -> f64| Some(Stats::of(samples.iter().map(figure).collect()));
    let binary_bytes = fs::metadata(binary).expect("the binary exists").len() as f64;
    let zip_bytes = zipped_size(binary, out_dir).map(|bytes| bytes as f64);
    vec![
        Row::median(
            "init_ms",
            "init: spawn → first `next` (ms)",
            2,
            each(|s| s.init),
            Some(15.0),
        ),
        Row::median(
            "cold_create_ms",
            "cold create: hand-out → PUT (ms)",
            2,
            each(|s| s.cold),
            Some(20.0),
        ),
        Row::median(
            "warm_create_ms",
            "warm create: hand-out → PUT (ms)",
            2,
            each(|s| s.warm),
            None,
        ),
        Row::median(
            "fakes_ms",
            "the fakes' own time for the warm create (ms)",
            2,
            each(|s| s.fakes),
            None,
        ),
        Row::median(
            "warm_beyond_fakes_ms",
            "warm create beyond the fakes' time (ms)",
            2,
            each(|s| s.warm - s.fakes),
            Some(2.0),
        ),
        Row::median(
            "stabilization_lag_ms",
            "stabilization lag: ACTIVE → PUT (ms)",
            1,
            each(|s| s.stabilization_lag),
            // IVS's Get quota, 3 a second per account and shared by every resource being
            // created, allows each about one poll a second: the answer follows the flip by up
            // to one poll interval (1.33 s at most, 1 s on average) and the settle step.
            Some(1500.0),
        ),
        Row::median(
            "peak_rss_mb",
            "peak RSS, VmHWM (MB)",
            2,
            each(|s| s.peak_rss_kib as f64 * 1024.0 / MB),
            Some(20.0),
        ),
        Row::median(
            "binary_bytes",
            "stripped binary (bytes)",
            0,
            Some(Stats::of(vec![binary_bytes])),
            Some(5.0 * MB),
        ),
        Row::median(
            "zip_bytes",
            "zipped `bootstrap`, deflate -9 (bytes)",
            0,
            zip_bytes.map(|b| Stats::of(vec![b])),
            None,
        ),
    ]
}

/// The function's init beside the empty function's, with a warm page cache (the starts of
/// [`sample`], interleaved) and with the page cache dropped before every start.
fn floor_rows(samples: &[Sample], empty_inits: &[f64], cold: Option<&ColdCache>) -> Vec<Row> {
    let stats = |values: &[f64]| (!values.is_empty()).then(|| Stats::of(values.to_vec()));
    let ratio = |function: Option<Stats>, empty: Option<Stats>| {
        function
            .zip(empty)
            .map(|(function, empty)| Stats::of(vec![function.median / empty.median]))
    };
    let inits: Vec<f64> = samples.iter().map(|s| s.init).collect();
    let empty_warm = stats(empty_inits);
    let cold_function = cold.and_then(|c| stats(&c.function));
    let cold_empty = cold.and_then(|c| stats(&c.empty));
    vec![
        Row::median(
            "empty_init_ms",
            "init of the empty function, started before each (ms)",
            2,
            empty_warm,
            None,
        ),
        Row::median(
            "init_ratio",
            "init ÷ the empty function's (medians)",
            2,
            ratio(stats(&inits), empty_warm),
            Some(INIT_RATIO_TARGET),
        ),
        Row::median(
            "cold_cache_init_ms",
            "init, page cache dropped before each start (ms)",
            2,
            cold_function,
            None,
        ),
        Row::median(
            "cold_cache_empty_init_ms",
            "init of the empty function, page cache dropped before each start (ms)",
            2,
            cold_empty,
            None,
        ),
        Row::median(
            "cold_cache_init_ratio",
            "init ÷ the empty function's, page cache dropped (medians)",
            2,
            ratio(cold_function, cold_empty),
            Some(COLD_CACHE_INIT_RATIO_TARGET),
        ),
    ]
}

/// The storm's figures over its runs.
fn storm_rows(storms: &[StormRun]) -> Vec<Row> {
    let each = |figure: fn(&StormRun) -> f64| Some(Stats::of(storms.iter().map(figure).collect()));
    vec![
        Row::median(
            "storm_wall_ms",
            "storm, 10 create+delete processes: first event → last answer (ms)",
            0,
            each(|s| s.wall_ms),
            Some(STORM_WALL_TARGET_MS),
        ),
        Row::median(
            "storm_ivs_calls",
            "storm: IVS calls",
            0,
            each(|s| s.calls as f64),
            None,
        ),
        Row::median(
            "storm_throttled_calls",
            "storm: throttled IVS calls (429)",
            0,
            each(|s| s.throttled as f64),
            None,
        ),
        Row::median(
            "storm_throttled_pct",
            "storm: throttled share of IVS calls (%)",
            1,
            each(StormRun::throttled_pct),
            Some(STORM_THROTTLED_TARGET_PCT),
        ),
        Row {
            every_run: true,
            ..Row::median(
                "storm_not_success",
                "storm: answers not SUCCESS, of 20",
                0,
                each(|s| s.not_success() as f64),
                Some(0.0),
            )
        },
    ]
}

/// The Lambda package's size: the binary as `bootstrap`, zipped with deflate level 9 by `zip`
/// or else by Python's zipfile; `None` when neither is available.
fn zipped_size(binary: &Path, out_dir: &Path) -> Option<u64> {
    let staging = out_dir.join("package");
    fs::create_dir_all(&staging).ok()?;
    let bootstrap = staging.join("bootstrap");
    fs::copy(binary, &bootstrap).ok()?;
    let zip = out_dir.join("bootstrap.zip");
    // `zip` adds to an existing archive instead of replacing it.
    let _ = fs::remove_file(&zip);
    let zipped = succeeds(
        Command::new("zip")
            .args(["-9", "-X", "-q", "-j"])
            .arg(&zip)
            .arg(&bootstrap),
    ) || succeeds(
        Command::new("python3")
            .args(["-c", PY_ZIP])
            .arg(&zip)
            .arg(&bootstrap),
    );
    zipped
        .then(|| fs::metadata(&zip).ok().map(|m| m.len()))
        .flatten()
}

fn succeeds(command: &mut Command) -> bool {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

struct Machine {
    cpu: String,
    cores: usize,
}

fn machine() -> Machine {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map_or("unknown", |(_, name)| name.trim())
        .to_owned();
    // What `nproc` prints: the cores this process may run on.
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    Machine { cpu, cores }
}

fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .ok()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .filter(|date| !date.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

struct Report {
    processes: usize,
    binary: String,
    empty_binary: Option<String>,
    machine: Machine,
    date: String,
    rows: Vec<Row>,
    storms: Vec<StormRun>,
}

impl Report {
    fn markdown(&self) -> String {
        let mut out = format!(
            "## cfn-ivs-recording as a process: {} fresh processes\n\n\
             Machine: {}, {} cores ({} {}); {}\n\
             Binary: {}\n\
             Empty function: {}\n\n\
             | measure | min | median | max | target (median) | |\n\
             |---|--:|--:|--:|--:|---|\n",
            self.processes,
            self.machine.cpu,
            self.machine.cores,
            std::env::consts::OS,
            std::env::consts::ARCH,
            self.date,
            self.binary,
            self.empty_binary.as_deref().unwrap_or("none"),
        );
        for row in &self.rows {
            out += &markdown_row(row);
        }
        out += &format!(
            "\n### storm: {STORM_LIFECYCLES} concurrent create → delete lifecycles, one emulator \
             with IVS's quotas, ACTIVE after {:?}\n\n\
             Targets: every answer SUCCESS; wall time ≤ {STORM_WALL_TARGET_MS:.0} ms; \
             throttled ≤ {STORM_THROTTLED_TARGET_PCT:.0} % of calls.\n\n\
             | run | load avg | wall (ms) | IVS calls | 429s | 429 share | SUCCESS | calls by operation (non-2xx) |\n\
             |--:|---|--:|--:|--:|--:|--:|---|\n",
            STORM_ACTIVE_AFTER,
        );
        for (run, storm) in self.storms.iter().enumerate() {
            out += &format!(
                "| {} | {} | {:.0} | {} | {} | {:.1} % | {}/{} | {} |\n",
                run + 1,
                storm.load_average,
                storm.wall_ms,
                storm.calls,
                storm.throttled,
                storm.throttled_pct(),
                storm.successes,
                2 * STORM_LIFECYCLES,
                storm.operations_line(),
            );
        }
        for (run, storm) in self.storms.iter().enumerate() {
            for failure in &storm.failures {
                out += &format!("\nrun {}: {failure}", run + 1);
            }
        }
        out
    }

    fn json(&self) -> Value {
        let figures: serde_json::Map<String, Value> = self
            .rows
            .iter()
            .map(|row| (row.key.to_owned(), row_json(row)))
            .collect();
        json!({
            "machine": {
                "cpu": self.machine.cpu,
                "cores": self.machine.cores,
                "os": std::env::consts::OS,
                "arch": std::env::consts::ARCH,
            },
            "date": self.date,
            "processes": self.processes,
            "binary": self.binary,
            "empty_binary": self.empty_binary,
            "figures": figures,
            "storm": {
                "lifecycles": STORM_LIFECYCLES,
                "active_after_ms": STORM_ACTIVE_AFTER.as_millis() as u64,
                "quotas": "IVS (EmulatorOptions::default())",
                "targets": {
                    "all_success": true,
                    "wall_ms_max": STORM_WALL_TARGET_MS,
                    "throttled_pct_max": STORM_THROTTLED_TARGET_PCT,
                },
                "runs": self.storms.iter().map(StormRun::json).collect::<Vec<_>>(),
            },
        })
    }
}

fn markdown_row(row: &Row) -> String {
    let number = |value: f64| format!("{value:.prec$}", prec = row.decimals);
    let (min, median, max) = match row.stats {
        Some(s) => (number(s.min), number(s.median), number(s.max)),
        None => ("n/a".into(), "n/a".into(), "n/a".into()),
    };
    let target = row.target.map_or(String::new(), |t| {
        if row.every_run {
            format!("≤ {} (every run)", number(t))
        } else {
            format!("≤ {}", number(t))
        }
    });
    let verdict = match row.met() {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "",
    };
    format!(
        "| {} | {min} | {median} | {max} | {target} | {verdict} |\n",
        row.label
    )
}

fn row_json(row: &Row) -> Value {
    // Microseconds, kilobytes and bytes are as fine as these figures get.
    let rounded = |value: f64| (value * 1e3).round() / 1e3;
    match row.stats {
        Some(s) => {
            let mut figures = json!({
                "min": rounded(s.min),
                "median": rounded(s.median),
                "max": rounded(s.max),
                "target_max": row.target,
                "met": row.met(),
            });
            if row.every_run {
                figures["target_applies_to"] = json!("every run (max)");
            }
            figures
        }
        None => Value::Null,
    }
}
