//! `cfn-ivs-local`: runs the real handler on sample events, against the embedded IVS emulator
//! (default) or the real IVS of the configured account (`--aws`), and prints each answer that
//! would reach CloudFormation as pretty JSON on stdout. The handler's logs go to stderr.
//!
//! `cfn-ivs-local serve` instead keeps the emulator and a ResponseURL capture running for a
//! function started some other way (`sam local invoke`, `cargo lambda watch`).

mod capture;
mod serve;
mod stack;

use cfn_ivs_recording::cloudformation::SdkCloudFormation;
use cfn_ivs_recording::handler::{Handler, HandlerConfig};
use cfn_ivs_recording::{clients, ivs, logging};
use clap::{Args, Parser, Subcommand};
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

/// The name of the channel `--channel-on-delete` adds.
const BLOCKING_CHANNEL: &str = "cfn-ivs-local-channel";

/// Runs the custom-resource handler on each event in turn and prints the answer it sends to
/// CloudFormation.
///
/// Events share one IVS: an event whose PhysicalResourceId is "{{PhysicalResourceId}}" gets the
/// PhysicalResourceId of the previous answer.
#[derive(Debug, Parser)]
#[command(
    name = "cfn-ivs-local",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the IVS emulator and a ResponseURL capture until stopped, for a function run
    /// elsewhere; prints the environment the function needs, then every answer it PUTs.
    Serve(serve::ServeArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The events, run in order.
    #[arg(value_name = "EVENT.json", required = true)]
    events: Vec<String>,
    /// The invocation's time in seconds, as the function's Lambda timeout.
    #[arg(long, value_name = "SECS", value_parser = seconds, default_value = "60")]
    timeout: Duration,
    /// Use the real IVS of the configured AWS account and region.
    #[arg(long)]
    aws: bool,
    /// With --aws, PUT the answer to the event's own ResponseURL instead of printing only.
    #[arg(long, requires = "aws")]
    send: bool,
    /// Before each Delete, a channel starts recording with the configuration to delete, so the
    /// Delete meets ConflictException as when a channel still uses it.
    #[arg(long, conflicts_with = "aws")]
    channel_on_delete: bool,
    // Last, because its help heading carries on to the arguments after it.
    #[command(flatten)]
    emulator: EmulatorArgs,
}

/// How the embedded IVS emulator behaves.
#[derive(Debug, Args)]
#[command(next_help_heading = "Emulated IVS")]
struct EmulatorArgs {
    #[command(flatten)]
    stabilization: StabilizationArgs,
    /// The next OPERATION call fails with IVS error CODE, e.g.
    /// CreateRecordingConfiguration=ServiceQuotaExceededException; repeatable.
    #[arg(long = "fail", value_name = "OPERATION=CODE", value_parser = fault)]
    faults: Vec<Fault>,
    /// The emulator's region.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Do not impose IVS's API rate quotas (3 calls per second for most operations).
    #[arg(long)]
    no_quotas: bool,
    /// Every call answers AccessDeniedException for SECS seconds after start, as while a new
    /// role's permissions propagate.
    #[arg(long, value_name = "SECS", value_parser = seconds, default_value = "0")]
    access_denied_for: Duration,
    /// Reads do not see a new configuration for SECS seconds after its create.
    #[arg(long, value_name = "SECS", value_parser = seconds, default_value = "0")]
    read_lag: Duration,
}

#[derive(Debug, Args)]
#[group(multiple = false)]
struct StabilizationArgs {
    /// New configurations stay CREATING for SECS seconds.
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    stabilize_after: Option<Duration>,
    /// New configurations end in CREATE_FAILED, as when the S3 bucket is in another region.
    #[arg(long)]
    create_failed: bool,
    /// New configurations never leave CREATING (shows the deadline).
    #[arg(long)]
    creating_forever: bool,
}

impl EmulatorArgs {
    fn options(&self) -> EmulatorOptions {
        let stabilization = &self.stabilization;
        let stabilization = if let Some(delay) = stabilization.stabilize_after {
            Stabilization::ActiveAfter(delay)
        } else if stabilization.create_failed {
            // Long enough for the handler to see CREATING first, as it would on IVS.
            Stabilization::CreateFailedAfter(Duration::from_millis(200))
        } else if stabilization.creating_forever {
            Stabilization::CreatingForever
        } else {
            Stabilization::Immediate
        };
        let defaults = EmulatorOptions::default();
        EmulatorOptions {
            region: self.region.clone(),
            stabilization,
            quotas: defaults.quotas.filter(|_| !self.no_quotas),
            access_denied_for: self.access_denied_for,
            read_lag: self.read_lag,
            ..defaults
        }
    }

    /// Starts an emulator with these options (listening on `listen` if given) and the faults.
    async fn start(&self, listen: Option<std::net::SocketAddr>) -> Result<IvsEmulator, String> {
        let options = EmulatorOptions {
            listen,
            ..self.options()
        };
        let started = IvsEmulator::start(options)
            .await
            .map_err(|e| format!("cannot start the IVS emulator: {e}"))?;
        for fault in &self.faults {
            started.inject(fault.clone());
        }
        Ok(started)
    }
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
    // Usage errors exit 2, as clap does by default.
    let cli = Cli::parse();
    logging::init(std::io::stderr);
    let outcome = match cli.command {
        Some(Command::Serve(args)) => serve::serve(args).await,
        None => run(cli.run).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cfn-ivs-local: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: RunArgs) -> Result<(), String> {
    let sink = ResponseSink::start()
        .await
        .map_err(|e| format!("cannot start the response capture: {e}"))?;
    // Kept alive for the whole run: every event talks to the same emulated IVS.
    let mut emulated = None;
    let (ivs, cloudformation) = if options.aws {
        clients::from_env().await
    } else {
        let started = options.emulator.start(None).await?;
        // The emulator answers CloudFormation's DescribeStackResource on the same address.
        let sdk = emulator::sdk_config_for(&started.endpoint_url(), &options.emulator.region);
        emulated = Some(started);
        (ivs::SdkIvs::new(&sdk), SdkCloudFormation::new(&sdk))
    };
    let handler = Handler::new(ivs, cloudformation, HandlerConfig::default());
    let mut previous_id: Option<String> = None;
    for path in &options.events {
        let mut event = read_event(path)?;
        if event["PhysicalResourceId"] == PREVIOUS_ID {
            let id = previous_id.clone().ok_or(format!(
                "{path} asks for the PhysicalResourceId of a previous answer, but it is the first event"
            ))?;
            event["PhysicalResourceId"] = Value::String(id);
        }
        if let Some(emulated) = emulated.as_ref().filter(|_| options.channel_on_delete) {
            if event["RequestType"] == "Delete" {
                let arn = event["PhysicalResourceId"].as_str().unwrap_or_default();
                emulated.add_channel(BLOCKING_CHANNEL, arn);
            }
        }
        if !options.send {
            let name = Path::new(path)
                .file_name()
                .unwrap_or_default()
                .to_string_lossy();
            event["ResponseURL"] =
                Value::String(sink.url(&format!("/{name}?X-Amz-Signature=local")));
        }
        // The emulated CloudFormation shows the resource as waited for while the handler works.
        let tracked = emulated.as_ref().and_then(|e| stack::begin(e, &event));
        let deadline = SystemTime::now() + options.timeout;
        let delivered = handler
            .handle(event, deadline)
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        if let Some(tracked) = tracked {
            tracked.finish(delivered.status, &delivered.physical_resource_id);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("cfn-ivs-local").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn emulator_options_map_onto_the_emulator() {
        let cli = parse(&[
            "--no-quotas",
            "--access-denied-for",
            "2.5",
            "--read-lag",
            "1",
            "--region",
            "eu-west-1",
            "--stabilize-after",
            "3",
            "event.json",
        ])
        .unwrap();
        let options = cli.run.emulator.options();
        assert_eq!(options.quotas, None);
        assert_eq!(options.access_denied_for, Duration::from_millis(2500));
        assert_eq!(options.read_lag, Duration::from_secs(1));
        assert_eq!(options.region, "eu-west-1");
        assert_eq!(
            options.stabilization,
            Stabilization::ActiveAfter(Duration::from_secs(3))
        );

        let defaults = parse(&["event.json"]).unwrap().run.emulator.options();
        assert_eq!(defaults.quotas, EmulatorOptions::default().quotas);
        assert!(defaults.quotas.is_some());
        assert_eq!(defaults.stabilization, Stabilization::Immediate);
        assert_eq!(defaults.access_denied_for, Duration::ZERO);
    }

    #[test]
    fn usage_errors_are_refused() {
        use clap::error::ErrorKind;
        let kind = |args: &[&str]| parse(args).unwrap_err().kind();
        assert_eq!(kind(&[]), ErrorKind::MissingRequiredArgument);
        assert_eq!(
            kind(&["--send", "e.json"]),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            kind(&["--create-failed", "--creating-forever", "e.json"]),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(
            kind(&["--fail", "Nothing=X", "e.json"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(&["--timeout=-1", "e.json"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(kind(&["serve", "e.json"]), ErrorKind::UnknownArgument);
        assert!(matches!(
            parse(&["serve", "--read-lag", "2"]).unwrap().command,
            Some(Command::Serve(_))
        ));
    }
}
