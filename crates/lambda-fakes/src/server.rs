//! Plumbing shared by the fakes: a loopback HTTP/1 server that gives every connection its own
//! task, and an append-only log of observations that tests can wait on.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};

/// The response type of every fake: bodies are small and known up front.
pub(crate) type FakeResponse = Response<Full<Bytes>>;

/// An HTTP/1 server on `127.0.0.1` with an OS-chosen port, stopped when dropped.
pub(crate) struct Server {
    addr: SocketAddr,
    accept_loop: AbortHandle,
}

impl Server {
    /// Binds and starts serving on a spawned task, so the caller's runtime flavour does not matter.
    pub(crate) async fn start<F, Fut, E>(handle: F) -> io::Result<Server>
    where
        F: Fn(Request<Incoming>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = Result<FakeResponse, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let accept_loop = tokio::spawn(accept_loop(listener, handle)).abort_handle();
        Ok(Server { addr, accept_loop })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept_loop.abort();
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
