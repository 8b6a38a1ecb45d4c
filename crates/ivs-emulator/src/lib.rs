//! An in-memory fake of the Amazon IVS recording-configuration API, served over HTTP on
//! 127.0.0.1, for the real `aws-sdk-ivs` client to talk to through its endpoint URL.
//!
//! It lets the integration tests, the local runner `cfn-ivs-local` and the benchmark exercise the
//! handler without AWS: requests are validated against the official service model, answered with
//! the service's status codes, bodies and error headers, configurations stabilize (or fail, or
//! vanish) over time as chosen, and faults — service errors, raw statuses, garbage bodies, reset
//! connections, hangs — can be injected per operation. It does not check SigV4 signatures.
//!
//! It also imposes what a real account adds: IVS's API rate quotas (on by default, so the
//! emulator is never more lenient than AWS), a window after start in which IAM denies every
//! call, a lag before reads see a new configuration, and channels that keep a configuration in
//! use.
//!
//! The same listener answers CloudFormation's DescribeStackResource in CloudFormation's query
//! protocol (a form POSTed to `/`, an XML answer), validated against botocore's model of it,
//! with the resource statuses a test sets ([`IvsEmulator::set_stack_resource`]), so that a
//! function can ask whether CloudFormation still waits for it.

#![warn(missing_docs)]

mod cloudformation;
mod limits;
mod model;
mod server;
mod stacks;
mod state;
mod store;

pub use stacks::StackResourceError;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ivs::config::{Credentials, SharedCredentialsProvider};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// A running emulator. Clones share the same server; it shuts down when the last clone is
/// dropped or when [`IvsEmulator::shutdown`] is called.
#[derive(Clone)]
pub struct IvsEmulator {
    handle: Arc<Handle>,
}

struct Handle {
    shared: Arc<server::Shared>,
    /// Dropping it is what stops serving when the last clone goes away.
    server: lambda_fakes::Server,
}

/// How an emulator behaves; `Default` is IVS in us-east-1 with its rate quotas.
#[derive(Clone, Debug)]
pub struct EmulatorOptions {
    /// Region written into ARNs.
    pub region: String,
    /// Account id written into ARNs.
    pub account_id: String,
    /// How configurations created from the start reach their final state.
    pub stabilization: Stabilization,
    /// The API rate quotas, shared by every client of the emulator; `None` never throttles.
    pub quotas: Option<Quotas>,
    /// For this long after start every request answers AccessDeniedException, as while a
    /// role's permissions are still propagating through IAM.
    pub access_denied_for: Duration,
    /// For this long after its create, reads of a configuration answer ResourceNotFoundException
    /// and List omits it, as when a read reaches a replica the write has not reached yet.
    pub read_lag: Duration,
    /// Where to listen; `None` is 127.0.0.1 on a port the OS chooses.
    pub listen: Option<SocketAddr>,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            region: "us-east-1".to_owned(),
            account_id: "123456789012".to_owned(),
            stabilization: Stabilization::Immediate,
            quotas: Some(Quotas::ivs()),
            access_denied_for: Duration::ZERO,
            read_lag: Duration::ZERO,
            listen: None,
        }
    }
}

/// API rate quotas: for each operation, the calls per second the whole account may make, as a
/// token bucket holding one second's worth and refilled continuously. Operations without an
/// entry are not limited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quotas {
    /// Calls per second, by operation.
    pub per_second: BTreeMap<Operation, u32>,
}

impl Quotas {
    /// IVS's documented quotas ("Service Quotas" in the IVS user guide), which are per account
    /// and region and not adjustable.
    pub fn ivs() -> Self {
        let per_second = Operation::ALL
            .into_iter()
            .filter_map(|operation| {
                let rate = match operation {
                    Operation::CreateRecordingConfiguration
                    | Operation::GetRecordingConfiguration
                    | Operation::DeleteRecordingConfiguration
                    | Operation::ListRecordingConfigurations => 3,
                    Operation::TagResource
                    | Operation::UntagResource
                    | Operation::ListTagsForResource => 10,
                    Operation::ListChannels => 5,
                    // CloudFormation documents no rate for it: unlimited unless a test sets one.
                    Operation::DescribeStackResource => return None,
                };
                Some((operation, rate))
            })
            .collect();
        Quotas { per_second }
    }
}

/// How a new recording configuration's `state` evolves after CreateRecordingConfiguration.
#[derive(Clone, Debug, PartialEq)]
pub enum Stabilization {
    /// ACTIVE at once; Create's own response already says ACTIVE.
    Immediate,
    /// CREATING, then ACTIVE once that much time has passed since the create.
    ActiveAfter(Duration),
    /// CREATING, then CREATE_FAILED (what IVS does when the S3 bucket is in another region).
    CreateFailedAfter(Duration),
    /// CREATING for ever, as a configuration stuck in the service would be.
    CreatingForever,
    /// CREATING, then the configuration disappears (Get answers ResourceNotFoundException).
    VanishAfter(Duration),
}

/// An emulated API operation: IVS's, and CloudFormation's DescribeStackResource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// `POST /CreateRecordingConfiguration`.
    CreateRecordingConfiguration,
    /// `POST /GetRecordingConfiguration`.
    GetRecordingConfiguration,
    /// `POST /DeleteRecordingConfiguration`.
    DeleteRecordingConfiguration,
    /// `POST /ListRecordingConfigurations`.
    ListRecordingConfigurations,
    /// `POST /tags/{resourceArn}`.
    TagResource,
    /// `DELETE /tags/{resourceArn}`.
    UntagResource,
    /// `GET /tags/{resourceArn}`.
    ListTagsForResource,
    /// `POST /ListChannels`.
    ListChannels,
    /// CloudFormation's, in its query protocol: `POST /` with the form
    /// `Action=DescribeStackResource&Version=2010-05-15&StackName=…&LogicalResourceId=…`.
    DescribeStackResource,
}

/// The AWS service an operation belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// Amazon IVS, rest-json.
    Ivs,
    /// AWS CloudFormation, query protocol.
    CloudFormation,
}

impl Operation {
    /// Every emulated operation.
    pub const ALL: [Operation; 9] = [
        Operation::CreateRecordingConfiguration,
        Operation::GetRecordingConfiguration,
        Operation::DeleteRecordingConfiguration,
        Operation::ListRecordingConfigurations,
        Operation::TagResource,
        Operation::UntagResource,
        Operation::ListTagsForResource,
        Operation::ListChannels,
        Operation::DescribeStackResource,
    ];

    /// The service it belongs to.
    pub fn service(&self) -> Service {
        match self {
            Operation::DescribeStackResource => Service::CloudFormation,
            _ => Service::Ivs,
        }
    }

    /// The operation's name in the IVS API and its model.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::CreateRecordingConfiguration => "CreateRecordingConfiguration",
            Operation::GetRecordingConfiguration => "GetRecordingConfiguration",
            Operation::DeleteRecordingConfiguration => "DeleteRecordingConfiguration",
            Operation::ListRecordingConfigurations => "ListRecordingConfigurations",
            Operation::TagResource => "TagResource",
            Operation::UntagResource => "UntagResource",
            Operation::ListTagsForResource => "ListTagsForResource",
            Operation::ListChannels => "ListChannels",
            Operation::DescribeStackResource => "DescribeStackResource",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of the emulated operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown operation: {0}")]
pub struct UnknownOperation(pub String);

impl FromStr for Operation {
    type Err = UnknownOperation;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Operation::ALL
            .into_iter()
            .find(|op| op.name() == name)
            .ok_or_else(|| UnknownOperation(name.to_owned()))
    }
}

/// What an injected fault does to a request. Except for the hangs, a fault replaces the
/// operation entirely: the store is left untouched.
#[derive(Clone, Debug)]
pub enum FaultKind {
    /// An error response as the operation's service writes it. For IVS the status comes from
    /// the model's error shape for `code` (400 when the model has no such error). For
    /// CloudFormation it is a query-protocol `ErrorResponse` (`Type` Sender, or Receiver for a
    /// 5xx) with the status CloudFormation gives the code: 403 for `AccessDenied`, 500 for
    /// `InternalFailure`, 503 for `ServiceUnavailable`, 400 for the others (`Throttling`,
    /// `ValidationError`, …).
    ServiceError {
        /// The error code, e.g. `ConflictException` (IVS, sent as `x-amzn-ErrorType`) or
        /// `Throttling` (CloudFormation, in the XML).
        code: String,
        /// The `exceptionMessage` (IVS) or `Message` (CloudFormation).
        message: String,
    },
    /// A raw status and body without `x-amzn-ErrorType`, e.g. a 500 HTML page, a 503, a 429.
    Status {
        /// The HTTP status.
        status: u16,
        /// The body, sent as is.
        body: String,
    },
    /// 200 with a body cut short: JSON for IVS, XML for CloudFormation.
    MalformedBody,
    /// The connection is closed without any response.
    ConnectionReset,
    /// Waits that long, then serves the request normally.
    Hang(Duration),
    /// Never answers; the request stays open until the client gives up or the emulator stops.
    HangForever,
}

/// A fault to inject with [`IvsEmulator::inject`].
#[derive(Clone, Debug)]
pub struct Fault {
    /// The operation it applies to; `None` applies to every operation, DescribeStackResource
    /// included.
    pub operation: Option<Operation>,
    /// What it does.
    pub kind: FaultKind,
    /// How many requests it applies to; `None` means forever.
    pub times: Option<u32>,
}

impl Fault {
    /// A fault for the next request of `op`.
    pub fn once(op: Operation, kind: FaultKind) -> Self {
        Fault::times(op, kind, 1)
    }

    /// A fault for the next `n` requests of `op`.
    pub fn times(op: Operation, kind: FaultKind, n: u32) -> Self {
        Fault {
            operation: Some(op),
            kind,
            times: Some(n),
        }
    }

    /// A fault for every request of `op` from now on.
    pub fn always(op: Operation, kind: FaultKind) -> Self {
        Fault {
            operation: Some(op),
            kind,
            times: None,
        }
    }
}

/// A recording configuration as the emulator holds it, for tests to inspect.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredConfiguration {
    /// Its ARN.
    pub arn: String,
    /// Its name, empty when none was given.
    pub name: String,
    /// `CREATING`, `ACTIVE` or `CREATE_FAILED`.
    pub state: String,
    /// The S3 bucket it records to.
    pub bucket_name: String,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// The full `recordingConfiguration` JSON as GetRecordingConfiguration would return it.
    pub body: serde_json::Value,
}

/// A resource of a stack, as DescribeStackResource reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackResource {
    /// Its `ResourceStatus`, e.g. `CREATE_IN_PROGRESS`.
    pub status: String,
    /// Its `PhysicalResourceId`; CloudFormation has none before the resource's first answer.
    pub physical_resource_id: Option<String>,
    /// Its `ResourceType`.
    pub resource_type: String,
}

/// A request as the emulator received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// `None` when no operation matches the method and path.
    pub operation: Option<Operation>,
    /// The HTTP method.
    pub method: String,
    /// The path as received, still percent-encoded.
    pub path: String,
    /// The query string, still percent-encoded.
    pub query: Option<String>,
    /// The JSON body; `Null` if empty, a JSON string holding the raw text if it is not JSON.
    /// For CloudFormation's query protocol, the form's parameters as an object of strings.
    pub body: serde_json::Value,
    /// The response status; 0 while no response has been sent (a hang, a reset connection).
    pub status: u16,
}

impl IvsEmulator {
    /// Binds `options.listen` (by default 127.0.0.1 on a free port) and serves on a spawned task
    /// of the current tokio runtime, each connection on its own task.
    pub async fn start(options: EmulatorOptions) -> std::io::Result<IvsEmulator> {
        let invalid = |e: &model::ModelError| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
        };
        let model = model::Model::embedded().map_err(invalid)?;
        let cloudformation = model::Model::cloudformation().map_err(invalid)?;
        let listen = options
            .listen
            .unwrap_or_else(|| SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0)));
        let shared = Arc::new(server::Shared {
            model,
            cloudformation,
            state: Mutex::new(state::State::new(&options, tokio::time::Instant::now())),
        });
        let serving = shared.clone();
        let server = lambda_fakes::Server::bind(listen, move |request| {
            server::handle(serving.clone(), request)
        })
        .await?;
        Ok(IvsEmulator {
            handle: Arc::new(Handle { shared, server }),
        })
    }

    /// The URL to give a client as its endpoint, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.handle.server.addr())
    }

    /// The URL to give a CloudFormation client as its endpoint (`AWS_ENDPOINT_URL_CLOUDFORMATION`):
    /// the same listener as [`IvsEmulator::endpoint_url`], which tells the two services' requests
    /// apart by their protocol.
    pub fn cloudformation_endpoint_url(&self) -> String {
        self.endpoint_url()
    }

    /// The address the emulator listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.server.addr()
    }

    /// The configurations that exist now (states evaluated as of now), sorted by ARN.
    pub fn configurations(&self) -> Vec<StoredConfiguration> {
        self.state().configurations()
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests().to_vec()
    }

    /// How many requests of that operation were received, faulted and throttled ones included.
    pub fn count(&self, op: Operation) -> usize {
        self.state()
            .requests()
            .iter()
            .filter(|r| r.operation == Some(op))
            .count()
    }

    /// How many requests the rate quotas refused, all operations together.
    pub fn throttled(&self) -> usize {
        self.state().throttled()
    }

    /// Refills every operation's quota to a full second's worth at once, as a second without
    /// calls would: a test that sets something up through the API can then start its request
    /// with full quotas without waiting for them.
    pub fn refill_quotas(&self) {
        self.state().refill_quotas(tokio::time::Instant::now());
    }

    /// Adds a channel that records with the configuration `recording_configuration_arn` (which
    /// need not exist) and returns the channel's ARN. While it exists, deleting that
    /// configuration answers ConflictException, and ListChannels lists it.
    pub fn add_channel(&self, name: &str, recording_configuration_arn: &str) -> String {
        self.state()
            .store
            .add_channel(name, recording_configuration_arn)
    }

    /// Removes a channel added with [`IvsEmulator::add_channel`]; false if there is none.
    pub fn remove_channel(&self, channel_arn: &str) -> bool {
        self.state().store.remove_channel(channel_arn)
    }

    /// Faults apply in the order injected: a request gets the first one that matches it.
    pub fn inject(&self, fault: Fault) {
        self.state().inject(fault);
    }

    /// Applies to configurations created from now on.
    pub fn set_stabilization(&self, s: Stabilization) {
        self.state().store.set_stabilization(s);
    }

    /// Declares the resource `logical_id` of the stack `stack_id` (a stack ARN of the emulated
    /// account and region, as in an event's `StackId`) with `status`, one of the model's
    /// `ResourceStatus` values; DescribeStackResource answers it from now on, by the stack's
    /// ARN or name. A resource already declared keeps its PhysicalResourceId and type.
    pub fn set_stack_resource(
        &self,
        stack_id: &str,
        logical_id: &str,
        status: &str,
    ) -> Result<(), StackResourceError> {
        let previous = self.state().stacks.get(stack_id, logical_id);
        let resource = StackResource {
            status: status.to_owned(),
            physical_resource_id: previous
                .as_ref()
                .and_then(|r| r.physical_resource_id.clone()),
            resource_type: previous.map_or_else(
                || stacks::DEFAULT_RESOURCE_TYPE.to_owned(),
                |r| r.resource_type,
            ),
        };
        self.put_stack_resource(stack_id, logical_id, resource)
    }

    /// Declares the resource as [`IvsEmulator::set_stack_resource`] does, with everything
    /// DescribeStackResource reports of it.
    pub fn put_stack_resource(
        &self,
        stack_id: &str,
        logical_id: &str,
        resource: StackResource,
    ) -> Result<(), StackResourceError> {
        let allowed = self
            .handle
            .shared
            .cloudformation
            .enum_values("ResourceStatus");
        if !allowed.contains(&resource.status) {
            return Err(StackResourceError::Status {
                status: resource.status,
                allowed: allowed.join(", "),
            });
        }
        let mut state = self.state();
        state.stacks.name_in(stack_id)?;
        state.stacks.set(stack_id, logical_id, resource);
        Ok(())
    }

    /// The resource as declared, if it is.
    pub fn stack_resource(&self, stack_id: &str, logical_id: &str) -> Option<StackResource> {
        self.state().stacks.get(stack_id, logical_id)
    }

    /// Forgets the resource; its stack stays known. False if it was not declared.
    pub fn remove_stack_resource(&self, stack_id: &str, logical_id: &str) -> bool {
        self.state().stacks.remove(stack_id, logical_id)
    }

    /// Forgets the stack and its resources, so that DescribeStackResource answers that it does
    /// not exist. False if it was not declared.
    pub fn remove_stack(&self, stack_id: &str) -> bool {
        self.state().stacks.remove_stack(stack_id)
    }

    /// Stops accepting connections and drops the open ones, hanging requests included.
    pub fn shutdown(&self) {
        self.handle.server.stop();
    }

    fn state(&self) -> MutexGuard<'_, state::State> {
        lock(&self.handle.shared.state)
    }
}

impl fmt::Debug for IvsEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IvsEmulator")
            .field("endpoint_url", &self.endpoint_url())
            .finish_non_exhaustive()
    }
}

/// A panic while the lock was held cannot leave the state half-written (every update is a single
/// push or assignment), so a poisoned lock is still safe to use.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The access key id of the credentials [`sdk_config_for`] gives a client; the emulator checks
/// no signature, so any key would do, but one that names the emulator is easy to recognise.
pub const ACCESS_KEY_ID: &str = "AKIDEMULATOR";

/// The secret access key that goes with [`ACCESS_KEY_ID`].
pub const SECRET_ACCESS_KEY: &str = "secret";

/// SDK configuration for a client of the emulator, IVS's or CloudFormation's (both are served at
/// the same endpoint): fake static credentials (the emulator does not check signatures), the
/// given region and endpoint, and the SDK's standard retry policy. The client's default runtime
/// plugins supply the tokio sleep and the system time source that retries need.
pub fn sdk_config_for(endpoint_url: &str, region: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint_url)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            None,
            None,
            "emulator",
        )))
        .retry_config(RetryConfig::standard())
        .build()
}
