//! A value built on a thread of its own while the runtime goes on, awaited where it is first
//! needed.
//!
//! The function builds its AWS clients this way: loading the SDK's configuration and building
//! two clients takes longer than the rest of the start together, and nothing needs them before
//! the first event has arrived. Lambda counts the start up to the runtime's first request for
//! an event, and on a cold start that event is already waiting; built beside that request, the
//! clients are ready about when the event is, where a machine has a second core to build them
//! on. With one core, the work moves from the start to the first event, no slower in all.

use std::future::Future;
use tokio::sync::{Mutex, OnceCell};
use tokio::task::JoinHandle;

/// A value being built, or built, on a thread of the runtime's blocking pool.
#[derive(Debug)]
pub struct Background<T> {
    building: Mutex<JoinHandle<T>>,
    built: OnceCell<Result<T, Panicked>>,
}

/// The build panicked; the panic's message, when it had one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("panicked: {0}")]
pub struct Panicked(pub String);

impl<T: Send + 'static> Background<T> {
    /// Starts `build` on a thread of the runtime's blocking pool. It runs on the runtime's I/O
    /// and timers, which the runtime's own thread drives while it waits.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn start<F>(build: F) -> Self
    where
        F: Future<Output = T> + Send + 'static,
    {
        let runtime = tokio::runtime::Handle::current();
        Background {
            building: Mutex::new(tokio::task::spawn_blocking(move || runtime.block_on(build))),
            built: OnceCell::new(),
        }
    }

    /// The value, once built; every call after the first returns at once.
    pub async fn get(&self) -> Result<&T, &Panicked> {
        self.built
            .get_or_init(|| async {
                let mut building = self.building.lock().await;
                (&mut *building).await.map_err(|error| {
                    let message = match error.try_into_panic() {
                        Ok(panic) => panic
                            .downcast_ref::<&str>()
                            .map(|message| message.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_default(),
                        Err(cancelled) => cancelled.to_string(),
                    };
                    Panicked(message)
                })
            })
            .await
            .as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::thread::ThreadId;
    use std::time::Duration;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn the_value_is_built_once_on_another_thread_using_the_runtime_timers() {
        runtime().block_on(async {
            let builds = Arc::new(AtomicUsize::new(0));
            let counted = builds.clone();
            let background = Background::start(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                counted.fetch_add(1, Ordering::SeqCst);
                std::thread::current().id()
            });
            let built_on: ThreadId = *background.get().await.unwrap();
            assert_ne!(built_on, std::thread::current().id());
            assert_eq!(background.get().await, Ok(&built_on));
            assert_eq!(builds.load(Ordering::SeqCst), 1);
        });
    }

    #[test]
    fn the_runtime_goes_on_while_the_value_is_built() {
        runtime().block_on(async {
            let (release, released) = std::sync::mpsc::channel::<()>();
            let background = Background::start(async move {
                released.recv().unwrap();
                7
            });
            tokio::time::sleep(Duration::from_millis(10)).await;
            release.send(()).unwrap();
            assert_eq!(background.get().await, Ok(&7));
        });
    }

    #[test]
    fn a_build_that_panics_is_reported_with_its_message_every_time() {
        runtime().block_on(async {
            let background: Background<u8> =
                Background::start(async { panic!("no region configured") });
            let expected = Panicked("no region configured".into());
            assert_eq!(background.get().await, Err(&expected));
            assert_eq!(background.get().await, Err(&expected));
        });
    }
}
