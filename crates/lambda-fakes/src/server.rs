//! The one HTTP/1 server of every fake in the workspace — these fakes, the IVS emulator, the
//! answer capture of `cfn-ivs-local serve` — each of which supplies only its handler: every
//! connection gets its own task (a response that never comes holds up nobody else), the server
//! works on any runtime flavour, and stopping it or dropping it ends the open connections too.
//! Also an append-only log of observations that tests can wait on.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};

/// The response type of every fake: bodies are small and known up front.
pub type FakeResponse = Response<Full<Bytes>>;

/// A response with `status` and `body` and no headers.
pub fn status_response(status: StatusCode, body: impl Into<Bytes>) -> FakeResponse {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

/// An HTTP/1 server, stopped by [`Server::stop`] or when dropped. A handler's error closes the
/// connection without a response, which is how fakes play a reset.
pub struct Server {
    addr: SocketAddr,
    accept_loop: AbortHandle,
}

impl Server {
    /// Serves `handle` on `127.0.0.1` with an OS-chosen port.
    pub async fn start<F, Fut, E>(handle: F) -> io::Result<Server>
    where
        F: Fn(Request<Incoming>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<FakeResponse, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        Server::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), handle).await
    }

    /// Binds `addr` and serves `handle` on a spawned task, so the caller's runtime flavour does
    /// not matter. Anything but loopback is the caller's choice, e.g. for a container to reach it.
    pub async fn bind<F, Fut, E>(addr: SocketAddr, handle: F) -> io::Result<Server>
    where
        F: Fn(Request<Incoming>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<FakeResponse, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let accept_loop = tokio::spawn(accept_loop(listener, handle)).abort_handle();
        Ok(Server { addr, accept_loop })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections and ends the open ones, hanging responses included.
    pub fn stop(&self) {
        self.accept_loop.abort();
    }
}

/// A fake's state and the server answering from it, which share the state; stops when dropped.
pub(crate) struct Fake<S> {
    pub(crate) shared: Arc<S>,
    pub(crate) server: Server,
}

impl<S: Send + Sync + 'static> Fake<S> {
    /// Serves `answer` on `127.0.0.1` with an OS-chosen port, each request with a handle on
    /// `shared`.
    pub(crate) async fn start<Fut, E>(
        shared: S,
        answer: fn(Arc<S>, Request<Incoming>) -> Fut,
    ) -> io::Result<Fake<S>>
    where
        Fut: Future<Output = Result<FakeResponse, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        let shared = Arc::new(shared);
        let handle = Arc::clone(&shared);
        let server = Server::start(move |request| answer(Arc::clone(&handle), request)).await?;
        Ok(Fake { shared, server })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop<F, Fut, E>(listener: TcpListener, handle: F) -> Infallible
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<FakeResponse, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
{
    // The loop owns its connections so that aborting it also ends responses that hang forever.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, handle.clone()));
                }
                Err(error) => {
                    tracing::warn!(%error, "fake server could not accept a connection");
                    // Errors such as running out of file descriptors persist; don't spin on them.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            // Reaps finished connections so that a long-lived fake does not accumulate them.
            Some(_) = connections.join_next() => {}
        }
    }
}

async fn serve_connection<F, Fut, E>(stream: TcpStream, handle: F)
where
    F: Fn(Request<Incoming>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<FakeResponse, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
{
    let service = hyper::service::service_fn(handle);
    let served = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
    // Clients hanging up and scripted resets end here; there is nobody left to tell.
    if let Err(error) = served {
        tracing::debug!(%error, "fake server connection ended with an error");
    }
}

/// Observations in arrival order, with a way to wait until enough of them have arrived.
pub(crate) struct Log<T> {
    entries: Mutex<Vec<T>>,
    len: watch::Sender<usize>,
}

impl<T> Default for Log<T> {
    fn default() -> Self {
        Log {
            entries: Mutex::new(Vec::new()),
            len: watch::Sender::new(0),
        }
    }
}

impl<T: Clone> Log<T> {
    pub(crate) fn push(&self, entry: T) {
        let mut entries = lock(&self.entries);
        entries.push(entry);
        self.len.send_replace(entries.len());
    }

    pub(crate) fn snapshot(&self) -> Vec<T> {
        lock(&self.entries).clone()
    }

    /// Waits until at least `n` entries exist or `timeout` passes, then returns them all: a
    /// timeout is not an error because the caller asserts on what did arrive.
    pub(crate) async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<T> {
        let mut len = self.len.subscribe();
        // The sender lives in `self`, so waiting can only end by success or by the timeout.
        let _ = tokio::time::timeout(timeout, len.wait_for(|&len| len >= n)).await;
        self.snapshot()
    }
}

/// Locks `mutex` even if a panicking test thread poisoned it: every update is a single push or
/// pop, so the data is still consistent, and one failing test should not cascade into others.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
