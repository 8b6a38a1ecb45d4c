//! `cfn-ivs-local`: runs the real handler on sample events, against the embedded IVS emulator
//! (default) or the real IVS of the configured account (`--aws`), and prints each answer that
//! would reach CloudFormation as pretty JSON on stdout. The handler's logs go to stderr.

use cfn_ivs_recording::handler::{Handler, HandlerConfig};
use cfn_ivs_recording::{ivs, logging};
use ivs_emulator::{
    self as emulator, EmulatorOptions, Fault, FaultKind, IvsEmulator, Operation, Stabilization,
};
use lambda_fakes::ResponseSink;
use serde_json::Value;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// An event whose PhysicalResourceId is this gets the one of the previous answer in the run.
const PREVIOUS_ID: &str = "{{PhysicalResourceId}}";

const USAGE: &str = "\
usage: cfn-ivs-local [options] EVENT.json [EVENT.json ...]

Runs the custom-resource handler on each event in turn and prints the answer it sends to
CloudFormation. Events share one IVS: an event whose PhysicalResourceId is
\"{{PhysicalResourceId}}\" gets the PhysicalResourceId of the previous answer.

options (embedded IVS emulator, the default):
  --stabilize-after SECS   new configurations stay CREATING for SECS seconds (default 0)
  --create-failed          new configurations end in CREATE_FAILED, as when the S3 bucket is
                           in another region
  --creating-forever       new configurations never leave CREATING (shows the deadline)
  --fail OPERATION=CODE    the next OPERATION call fails with IVS error CODE, e.g.
                           CreateRecordingConfiguration=ServiceQuotaExceededException
  --region REGION          the emulator's region (default us-east-1)
options (all modes):
  --timeout SECS           the invocation's time, as the function's Lambda timeout (default 60)
  --aws                    use the real IVS of the configured AWS account and region
  --send                   with --aws, PUT the answer to the event's own ResponseURL instead
                           of printing only
";

#[derive(Debug)]
struct Options {
    events: Vec<String>,
    emulator: EmulatorOptions,
    faults: Vec<Fault>,
    timeout: Duration,
    aws: bool,
    send: bool,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        events: Vec::new(),
        emulator: EmulatorOptions::default(),
        faults: Vec::new(),
        timeout: Duration::from_secs(60),
        aws: false,
        send: false,
    };
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--stabilize-after" => {
                options.emulator.stabilization =
                    Stabilization::ActiveAfter(seconds(&value("--stabilize-after")?)?)
            }
            "--create-failed" => {
                options.emulator.stabilization =
                    Stabilization::CreateFailedAfter(Duration::from_millis(200))
            }
            "--creating-forever" => options.emulator.stabilization = Stabilization::CreatingForever,
            "--fail" => options.faults.push(fault(&value("--fail")?)?),
            "--region" => options.emulator.region = value("--region")?,
            "--timeout" => options.timeout = seconds(&value("--timeout")?)?,
            "--aws" => options.aws = true,
            "--send" => options.send = true,
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            event => options.events.push(event.to_string()),
        }
    }
    if options.events.is_empty() {
        return Err("no event file given".into());
    }
    if options.send && !options.aws {
        return Err("--send goes with --aws: the emulator's configurations are not real".into());
    }
    Ok(options)
}

fn seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or(format!("{text:?} is not a number of seconds"))
}

fn fault(text: &str) -> Result<Fault, String> {
    let (operation, code) = text
        .split_once('=')
        .ok_or(format!("--fail takes OPERATION=CODE, got {text:?}"))?;
    let operation: Operation = operation
        .parse()
        .map_err(|_| format!("unknown IVS operation {operation:?}"))?;
    Ok(Fault::once(
        operation,
        FaultKind::ServiceError {
            code: code.to_string(),
            message: format!("{code} injected by cfn-ivs-local --fail"),
        },
    ))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("cfn-ivs-local: {message}\n");
            }
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    logging::init(std::io::stderr);
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cfn-ivs-local: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Options) -> Result<(), String> {
    let sink = ResponseSink::start()
        .await
        .map_err(|e| format!("cannot start the response capture: {e}"))?;
    // Kept alive for the whole run: every event talks to the same emulated IVS.
    let mut _emulator = None;
    let sdk = if options.aws {
        aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
    } else {
        let started = IvsEmulator::start(options.emulator.clone())
            .await
            .map_err(|e| format!("cannot start the IVS emulator: {e}"))?;
        for fault in &options.faults {
            started.inject(fault.clone());
        }
        let sdk = emulator::sdk_config_for(&started.endpoint_url(), &options.emulator.region);
        _emulator = Some(started);
        sdk
    };
    let handler = Handler::new(ivs::client(&sdk), HandlerConfig::default());
    let mut previous_id: Option<String> = None;
    for path in &options.events {
        let mut event = read_event(path)?;
        if event["PhysicalResourceId"] == PREVIOUS_ID {
            let id = previous_id.clone().ok_or(format!(
                "{path} asks for the PhysicalResourceId of a previous answer, but it is the first event"
            ))?;
            event["PhysicalResourceId"] = Value::String(id);
        }
        if !options.send {
            let name = Path::new(path)
                .file_name()
                .unwrap_or_default()
                .to_string_lossy();
            event["ResponseURL"] =
                Value::String(sink.url(&format!("/{name}?X-Amz-Signature=local")));
        }
        let deadline = SystemTime::now() + options.timeout;
        let delivered = handler
            .handle(event, deadline)
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        if options.send {
            println!(
                "{}",
                pretty(&serde_json::to_value(&delivered).unwrap_or_default())
            );
        } else {
            let answer = sink
                .received()
                .pop()
                .ok_or(format!("{path}: no answer was sent"))?;
            println!("{}", pretty(&answer.json()));
        }
        previous_id = Some(delivered.physical_resource_id);
    }
    Ok(())
}

fn read_event(path: &str) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path} is not JSON: {e}"))
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("a JSON value always prints")
}
