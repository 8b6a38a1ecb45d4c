//! `cfn-ivs-local serve` as a user runs it: a child process that prints the environment a
//! function needs, serves IVS to the real SDK client there, and prints every answer PUT to its
//! capture.

use aws_sdk_ivs::error::ProvideErrorMetadata;
use aws_sdk_ivs::operation::create_recording_configuration::CreateRecordingConfigurationError;
use aws_sdk_ivs::types::{DestinationConfiguration, S3DestinationConfiguration};
use aws_sdk_ivs::Client;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::Duration;

/// Generous: the first start may wait for a cold cache on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(30);

const ENVIRONMENT: [&str; 6] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_ENDPOINT_URL_CLOUDFORMATION",
    "AWS_ENDPOINT_URL_IVS",
    "AWS_REGION",
    "AWS_SECRET_ACCESS_KEY",
    "RESPONSE_URL_BASE",
];

/// The running server; killed when dropped, so a failing test leaves no process behind.
struct Serve {
    child: Child,
    stdout: Receiver<String>,
    stderr: Option<JoinHandle<String>>,
    environment: BTreeMap<String, String>,
}

impl Serve {
    /// Starts `cfn-ivs-local serve` on free ports and waits for its environment.
    fn start(args: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cfn-ivs-local"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("AWS_LAMBDA_LOG_FORMAT")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cfn-ivs-local serve starts");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (lines, stdout_lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let mut serve = Serve {
            child,
            stdout: stdout_lines,
            stderr: Some(stderr),
            environment: BTreeMap::new(),
        };
        for _ in ENVIRONMENT {
            let line = serve.line();
            let (name, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not a NAME=value line: {line}"));
            serve.environment.insert(name.to_owned(), value.to_owned());
        }
        serve
    }

    fn line(&self) -> String {
        self.stdout
            .recv_timeout(PATIENCE)
            .expect("cfn-ivs-local serve printed a line in time")
    }

    /// Reads stdout until the lines read make one JSON document.
    fn json(&self) -> Value {
        let mut text = String::new();
        loop {
            text.push_str(&self.line());
            text.push('\n');
            if let Ok(value) = serde_json::from_str(&text) {
                return value;
            }
        }
    }

    /// The port in one of the printed URLs.
    fn port(&self, name: &str) -> u16 {
        let url = self.environment[name].trim_end_matches('/');
        let (_, port) = url.rsplit_once(':').unwrap();
        port.parse().unwrap()
    }

    /// A client configured from the printed environment, reaching the emulator on loopback.
    fn client(&self) -> Client {
        let endpoint = format!("http://127.0.0.1:{}", self.port("AWS_ENDPOINT_URL_IVS"));
        let sdk = ivs_emulator::sdk_config_for(&endpoint, &self.environment["AWS_REGION"]);
        Client::new(&sdk)
    }

    /// Stops the server and returns what it wrote to stderr.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr.take().unwrap().join().unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn destination() -> DestinationConfiguration {
    DestinationConfiguration::builder()
        .s3(S3DestinationConfiguration::builder()
            .bucket_name("recordings")
            .build()
            .unwrap())
        .build()
}

/// PUTs `body` as a function answers (no Content-Type) and returns the status line.
fn put(port: u16, path_and_query: &str, body: &str) -> String {
    let response = send(port, "PUT", path_and_query, body);
    response.lines().next().unwrap_or_default().to_owned()
}

/// Sends `method` with `body` and no Content-Type; the whole response.
fn send(port: u16, method: &str, path_and_query: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "{method} {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[tokio::test]
async fn serve_prints_the_environment_serves_ivs_and_prints_each_answer() {
    let serve = Serve::start(&[]);
    let names: Vec<&str> = serve.environment.keys().map(String::as_str).collect();
    assert_eq!(names, ENVIRONMENT);
    let endpoint = &serve.environment["AWS_ENDPOINT_URL_IVS"];
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
    assert_eq!(
        &serve.environment["AWS_ENDPOINT_URL_CLOUDFORMATION"],
        endpoint
    );
    assert_eq!(serve.environment["AWS_REGION"], "us-east-1");
    assert_eq!(
        serve.environment["AWS_ACCESS_KEY_ID"],
        ivs_emulator::ACCESS_KEY_ID
    );
    let capture = &serve.environment["RESPONSE_URL_BASE"];
    assert!(capture.starts_with("http://127.0.0.1:"), "{capture}");
    assert!(capture.ends_with('/'), "{capture}");
    assert_ne!(
        serve.port("AWS_ENDPOINT_URL_IVS"),
        serve.port("RESPONSE_URL_BASE")
    );

    let client = serve.client();
    let created = client
        .create_recording_configuration()
        .name("served")
        .destination_configuration(destination())
        .send()
        .await
        .expect("the served emulator creates")
        .recording_configuration
        .unwrap();
    let fetched = client
        .get_recording_configuration()
        .arn(created.arn())
        .send()
        .await
        .expect("the served emulator finds it")
        .recording_configuration
        .unwrap();
    assert_eq!(fetched, created);
    assert_eq!(fetched.name(), Some("served"));

    // The served CloudFormation knows no stack: the answer a function gets for a local event.
    let sdk = ivs_emulator::sdk_config_for(
        &serve.environment["AWS_ENDPOINT_URL_CLOUDFORMATION"],
        "us-east-1",
    );
    let stack_id = "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/5b1f8e10";
    let described = aws_sdk_cloudformation::Client::new(&sdk)
        .describe_stack_resource()
        .stack_name(stack_id)
        .logical_resource_id("Recording")
        .send()
        .await
        .expect_err("no stack is known");
    assert_eq!(described.code(), Some("ValidationError"));
    assert_eq!(
        described.message(),
        Some(format!("Stack with id {stack_id} does not exist").as_str())
    );

    let answer = json!({
        "Status": "SUCCESS",
        "PhysicalResourceId": created.arn(),
        "Reason": "één answer",
    });
    let status = put(
        serve.port("RESPONSE_URL_BASE"),
        "/stack/Recording?X-Amz-Signature=SECRET",
        &answer.to_string(),
    );
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(serve.json(), answer);
    // Only a PUT is an answer: anything else is refused and not printed.
    let refused = send(
        serve.port("RESPONSE_URL_BASE"),
        "POST",
        "/stack/Recording",
        "{}",
    );
    assert!(refused.starts_with("HTTP/1.1 405"), "{refused}");
    assert!(
        refused.to_ascii_lowercase().contains("allow: put"),
        "{refused}"
    );

    let stderr = serve.stop();
    assert!(
        stderr.contains("answer received at /stack/Recording"),
        "{stderr}"
    );
    assert!(!stderr.contains("SECRET"), "{stderr}");
}

#[tokio::test]
async fn serve_applies_the_emulator_options_and_prints_the_host_address() {
    let serve = Serve::start(&[
        "--host-address",
        "host.docker.internal",
        "--region",
        "eu-west-1",
        "--access-denied-for",
        "60",
    ]);
    let port = serve.port("AWS_ENDPOINT_URL_IVS");
    assert_eq!(
        serve.environment["AWS_ENDPOINT_URL_IVS"],
        format!("http://host.docker.internal:{port}")
    );
    assert!(serve.environment["RESPONSE_URL_BASE"].starts_with("http://host.docker.internal:"));
    assert_eq!(serve.environment["AWS_REGION"], "eu-west-1");

    let error = serve
        .client()
        .create_recording_configuration()
        .destination_configuration(destination())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("AccessDeniedException"));
    let CreateRecordingConfigurationError::AccessDeniedException(denied) =
        error.into_service_error()
    else {
        panic!("expected AccessDeniedException");
    };
    let message = denied.exception_message().unwrap();
    assert!(
        message
            .contains("on resource: arn:aws:ivs:eu-west-1:123456789012:recording-configuration/*"),
        "{message}"
    );
    serve.stop();
}
