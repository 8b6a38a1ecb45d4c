//! An in-memory [`IvsApi`] for unit tests: scripted answers per operation, configurations that
//! stay CREATING for a number of polls, reads that lag the create, and a log of the calls.

use crate::ivs::{CallCount, Channel, Configuration, IvsApi, IvsError, Marked, Operation, State};
use crate::ownership::{Marker, MARKER_TAG};
use crate::properties::RecordingSpec;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

/// What a scripted call does instead of its normal work.
pub enum Step {
    Fail(IvsError),
    /// Does the normal work, then fails (a create whose answer was lost).
    SucceedThenFail(IvsError),
    Panic,
}

#[derive(Default)]
pub struct FakeIvs {
    state: Mutex<FakeState>,
}

#[derive(Default)]
struct FakeState {
    configurations: BTreeMap<String, Stored>,
    next_id: u32,
    script: HashMap<Operation, VecDeque<Step>>,
    calls: Vec<Operation>,
    /// Gets a new configuration answers CREATING before its final state.
    creating_polls: u32,
    final_state: Option<State>,
    /// Gets and Lists a new configuration is invisible to (IVS's reads lagging its writes).
    hidden_reads: u32,
    channels: Vec<Channel>,
    throttled: u32,
}

struct Stored {
    configuration: Configuration,
    marker: Marker,
    polls_left: u32,
    hidden_left: u32,
    final_state: State,
}

pub fn service_error(operation: Operation, code: &str) -> IvsError {
    IvsError::Service {
        operation,
        code: code.into(),
        message: format!("{code} from the fake"),
    }
}

impl FakeIvs {
    pub fn new() -> Self {
        Self::default()
    }

    /// New configurations answer CREATING to that many Gets, then `final_state`.
    pub fn stabilizing(self, polls: u32, final_state: State) -> Self {
        {
            let mut s = self.lock();
            s.creating_polls = polls;
            s.final_state = Some(final_state);
        }
        self
    }

    /// New configurations are invisible to that many Gets and Lists.
    pub fn lagging(self, reads: u32) -> Self {
        self.lock().hidden_reads = reads;
        self
    }

    pub fn script(&self, operation: Operation, step: Step) {
        self.lock()
            .script
            .entry(operation)
            .or_default()
            .push_back(step);
    }

    /// A configuration that exists already, made by an earlier delivery of `marker`'s request.
    pub fn insert(&self, marker: Marker, state: State) -> String {
        let mut s = self.lock();
        let arn = s.arn();
        s.configurations.insert(
            arn.clone(),
            Stored {
                configuration: Configuration {
                    arn: arn.clone(),
                    name: String::new(),
                    state: state.clone(),
                },
                marker,
                polls_left: 0,
                hidden_left: 0,
                final_state: state,
            },
        );
        arn
    }

    pub fn add_channel(&self, name: &str) {
        let mut s = self.lock();
        let arn = format!("arn:aws:ivs:us-east-1:123456789012:channel/{name}");
        s.channels.push(Channel {
            name: name.into(),
            arn,
        });
    }

    /// The marker a configuration carries now.
    pub fn marker(&self, arn: &str) -> Option<Marker> {
        self.lock()
            .configurations
            .get(arn)
            .map(|s| s.marker.clone())
    }

    pub fn arns(&self) -> Vec<String> {
        self.lock().configurations.keys().cloned().collect()
    }

    pub fn count(&self, operation: Operation) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|o| **o == operation)
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Logs the call and takes its scripted step, if any.
    fn begin(&self, operation: Operation) -> Result<Option<IvsError>, IvsError> {
        let mut s = self.lock();
        s.calls.push(operation);
        match s.script.get_mut(&operation).and_then(VecDeque::pop_front) {
            None => Ok(None),
            Some(Step::Fail(e)) => {
                if e.is_throttle() {
                    s.throttled += 1;
                }
                Err(e)
            }
            Some(Step::SucceedThenFail(e)) => Ok(Some(e)),
            Some(Step::Panic) => {
                drop(s);
                panic!("scripted panic in {operation}")
            }
        }
    }
}

impl FakeState {
    fn arn(&mut self) -> String {
        self.next_id += 1;
        format!(
            "arn:aws:ivs:us-east-1:123456789012:recording-configuration/fake{:04}",
            self.next_id
        )
    }

    fn visible(&mut self, arn: &str) -> Option<&mut Stored> {
        let stored = self.configurations.get_mut(arn)?;
        if stored.hidden_left > 0 {
            stored.hidden_left -= 1;
            return None;
        }
        Some(stored)
    }
}

fn not_found(operation: Operation) -> IvsError {
    service_error(operation, "ResourceNotFoundException")
}

impl IvsApi for FakeIvs {
    async fn create(
        &self,
        _spec: &RecordingSpec,
        marker: &Marker,
    ) -> Result<Configuration, IvsError> {
        let after = self.begin(Operation::Create)?;
        let mut s = self.lock();
        let arn = s.arn();
        let final_state = s.final_state.clone().unwrap_or(State::Active);
        let state = if s.creating_polls == 0 {
            final_state.clone()
        } else {
            State::Creating
        };
        let configuration = Configuration {
            arn: arn.clone(),
            name: String::new(),
            state,
        };
        let stored = Stored {
            configuration: configuration.clone(),
            marker: marker.clone(),
            polls_left: s.creating_polls,
            hidden_left: s.hidden_reads,
            final_state,
        };
        s.configurations.insert(arn, stored);
        match after {
            Some(e) => Err(e),
            None => Ok(configuration),
        }
    }

    async fn get(&self, arn: &str) -> Result<Configuration, IvsError> {
        self.begin(Operation::Get)?;
        let mut s = self.lock();
        let stored = s.visible(arn).ok_or(not_found(Operation::Get))?;
        if stored.polls_left > 0 {
            stored.polls_left -= 1;
        } else {
            stored.configuration.state = stored.final_state.clone();
        }
        Ok(stored.configuration.clone())
    }

    async fn delete(&self, arn: &str) -> Result<(), IvsError> {
        self.begin(Operation::Delete)?;
        self.lock()
            .configurations
            .remove(arn)
            .map(|_| ())
            .ok_or(not_found(Operation::Delete))
    }

    async fn list_marked(&self) -> Result<Vec<Marked>, IvsError> {
        self.begin(Operation::List)?;
        let mut s = self.lock();
        let arns: Vec<String> = s.configurations.keys().cloned().collect();
        Ok(arns
            .iter()
            .filter_map(|arn| {
                let stored = s.visible(arn)?;
                Some(Marked {
                    configuration: stored.configuration.clone(),
                    marker: stored.marker.clone(),
                })
            })
            .collect())
    }

    async fn tags(&self, _arn: &str) -> Result<BTreeMap<String, String>, IvsError> {
        self.begin(Operation::ListTags)?;
        Ok(BTreeMap::new())
    }

    async fn tag(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<(), IvsError> {
        self.begin(Operation::Tag)?;
        let mut s = self.lock();
        let stored = s
            .configurations
            .get_mut(arn)
            .ok_or(not_found(Operation::Tag))?;
        if let Some(marker) = tags.get(MARKER_TAG).and_then(|v| Marker::parse(v)) {
            stored.marker = marker;
        }
        Ok(())
    }

    async fn untag(&self, _arn: &str, _keys: &[String]) -> Result<(), IvsError> {
        self.begin(Operation::Untag)?;
        Ok(())
    }

    async fn channels_using(&self, _arn: &str, max: i32) -> Result<Vec<Channel>, IvsError> {
        self.begin(Operation::ListChannels)?;
        Ok(self
            .lock()
            .channels
            .iter()
            .take(max as usize)
            .cloned()
            .collect())
    }

    fn call_count(&self) -> CallCount {
        let s = self.lock();
        CallCount {
            attempts: s.calls.len() as u32,
            throttled: s.throttled,
        }
    }
}
