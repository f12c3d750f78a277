//! The fault proxy: a TCP proxy whose faults change while connections are open.
//!
//! [`FaultProxy::start`] listens on `listen` and forwards every connection to
//! `upstream` (`host:port`, resolved per connection), with `TCP_NODELAY` on both
//! sides. The fault set lives in a `tokio::sync::watch`; every connection follows
//! the current set, so [`FaultProxy::set_faults`] takes effect on open connections
//! as well as new ones, and [`ProxyFaults::none`] restores plain forwarding without
//! restarting anything.
//!
//! How each fault behaves:
//!
//! - **latency** `L ± J`: a longer wire on the upstream-to-client side. Each chunk
//!   read from the upstream is stamped and delivered at
//!   `max(previous deadline, read time + L + j)`, `j` uniform in `[-J, J]` and drawn
//!   per chunk read. Reading continues while chunks wait, so a response written in
//!   two pieces 50 ms apart arrives `L` late, not `2L`, and bytes are never
//!   reordered. Requests reach the upstream at once: a round trip grows by `L`.
//!   Delays are accurate to about ±1 ms (tokio's timer works in milliseconds).
//!   Switching latency off or down delivers the bytes in flight no later than the
//!   new latency allows.
//! - **bandwidth**: at most `rate` bytes per second each way, per connection, in
//!   pieces of about 20 ms.
//! - **reset**: `SO_LINGER` 0 and close, so the client gets a TCP RST (new
//!   connections right after accept; open ones as soon as the fault applies).
//! - **blackhole**: the connection is accepted and then neither read, answered nor
//!   forwarded (new ones are not even connected upstream). When the blackhole
//!   lifts, what the client sent meanwhile is delivered and the connection goes on.
//!   (Since nothing is read, a client giving up is only noticed then, or at
//!   shutdown.)
//! - **refuse**: new connections are closed at once (the client reads EOF). Open
//!   connections are not affected.
//! - **slow close**: after the upstream closed, the client's side stays open for
//!   `delay` before the proxy passes the close on.
//! - **data limit**: a connection is closed (FIN) once `bytes` have passed in
//!   either direction; that direction delivers exactly `bytes`.
//! - **http_error / http_delay**: a fraction of HTTP requests is answered by the
//!   proxy itself with a complete `5xx` response (`Content-Length`, keep-alive kept
//!   when the client asked for it; the request never reaches the upstream), or has
//!   only its response held back by `delay` (the request is forwarded at once).
//!
//! Probabilities are per connection: each connection draws one number per fault
//! kind when it is accepted, and a fault with probability `p` applies while that
//! number is below `p`. The numbers are kept for the connection's life and compared
//! again whenever the fault set changes, so a changed set reaches open connections
//! consistently (raising `p` keeps the connections already hit). HTTP fractions are
//! drawn per request, when the request's head has arrived. All dice come from one
//! seed ([`FaultProxy::start_with_seed`]), so a run can be replayed.
//!
//! HTTP mode: a connection whose first bytes are an HTTP/1.x request line is
//! followed request by request (keep-alive and pipelining included) with
//! `Content-Length` request bodies; chunked request bodies are not supported (the
//! connection is then passed through untouched, without HTTP faults), nor are
//! upgrades and CONNECT tunnels after their answer. Other protocols are never
//! touched. An injected answer to a request that asked for `Connection: close`
//! (or HTTP/1.0 without keep-alive, or `Expect: 100-continue`) says so and the
//! proxy closes the connection after it; otherwise the connection stays open.

mod conn;
mod describe;
mod faults;
mod http;
mod http_parse;
mod http_response;
mod pipe;
mod rng;
mod stats;
mod verify;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::{DriverError, Verification};
pub use faults::{
    Bandwidth, Chance, DataLimit, HttpDelay, HttpError, Latency, ProxyFaults, SlowClose,
};
use rng::Rng;
use stats::{Counters, OpenGuard};
pub mod running;
pub use stats::{ProxyStats, ProxyStatsReader};
pub use verify::verify_passthrough;

/// How long `shutdown` waits for connections to close before aborting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running fault proxy. Dropping it stops it too, without waiting.
#[derive(Debug)]
pub struct FaultProxy {
    local_addr: SocketAddr,
    seed: u64,
    shared: Arc<Shared>,
    faults: watch::Sender<Arc<ProxyFaults>>,
    cancel: CancellationToken,
    accept: Option<JoinHandle<()>>,
}

/// What every connection of a proxy shares.
#[derive(Debug)]
struct Shared {
    upstream: String,
    counters: Counters,
    faults: watch::Receiver<Arc<ProxyFaults>>,
}

impl FaultProxy {
    /// Listens on `listen` and forwards to `upstream` (`host:port`), with no fault.
    pub async fn start(listen: SocketAddr, upstream: String) -> Result<FaultProxy, DriverError> {
        FaultProxy::start_with_seed(listen, upstream, Rng::seed_from_time()).await
    }

    /// Like [`FaultProxy::start`], with the dice seeded by `seed`: connections
    /// accepted in the same order see the same faults.
    pub async fn start_with_seed(
        listen: SocketAddr,
        upstream: String,
        seed: u64,
    ) -> Result<FaultProxy, DriverError> {
        check_upstream(&upstream).await?;
        let listener = TcpListener::bind(listen).await.map_err(|e| {
            DriverError::failed(
                format!("fault proxy {listen}"),
                format!("cannot listen: {e}"),
            )
        })?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| DriverError::failed(format!("fault proxy {listen}"), e))?;
        let (faults, receiver) = watch::channel(Arc::new(ProxyFaults::none()));
        let shared = Arc::new(Shared {
            upstream,
            counters: Counters::default(),
            faults: receiver,
        });
        let cancel = CancellationToken::new();
        let accept = tokio::spawn(accept_loop(
            listener,
            shared.clone(),
            Rng::new(seed),
            cancel.clone(),
        ));
        Ok(FaultProxy {
            local_addr,
            seed,
            shared,
            faults,
            cancel,
            accept: Some(accept),
        })
    }

    /// The address clients connect to (with the real port when `listen` had 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn upstream(&self) -> &str {
        &self.shared.upstream
    }

    /// The seed of the proxy's dice, for the journal.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Replaces the fault set; open connections follow it at once. A set with a
    /// value out of range is refused and the current one stays.
    pub fn set_faults(&self, faults: ProxyFaults) -> Result<(), DriverError> {
        faults.validate()?;
        self.faults.send_replace(Arc::new(faults));
        Ok(())
    }

    pub fn faults(&self) -> ProxyFaults {
        (**self.faults.borrow()).clone()
    }

    pub fn stats(&self) -> ProxyStats {
        self.shared.counters.read()
    }

    pub fn stats_reader(&self) -> ProxyStatsReader {
        ProxyStatsReader(self.shared.clone())
    }

    /// Checks that no fault is set and that traffic through the proxy looks like
    /// traffic to the upstream (see [`verify_passthrough`]).
    pub async fn verify_passthrough(&self) -> Verification {
        let set = self.faults();
        let faults = if set.is_none() {
            Verification::Verified
        } else {
            Verification::Residual(format!(
                "the proxy at {} still has faults: {}",
                self.local_addr,
                set.describe()
            ))
        };
        let traffic = verify_passthrough(self.local_addr, &self.shared.upstream).await;
        Verification::all([faults, traffic])
    }

    /// Stops accepting, closes every connection and waits until they are gone.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(accept) = self.accept.take() {
            if let Err(e) = accept.await {
                tracing::warn!("fault proxy {}: accept task failed: {e}", self.local_addr);
            }
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn check_upstream(upstream: &str) -> Result<(), DriverError> {
    let resolved = tokio::net::lookup_host(upstream).await.map_err(|e| {
        DriverError::Input(format!(
            "fault proxy upstream \"{upstream}\" is not a reachable host:port ({e}); \
             expected something like 127.0.0.1:5432 or db.internal:5432"
        ))
    })?;
    if resolved.count() == 0 {
        return Err(DriverError::Input(format!(
            "fault proxy upstream \"{upstream}\" resolves to no address"
        )));
    }
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut rng: Rng,
    cancel: CancellationToken,
) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let open = OpenGuard::new(shared.clone());
                    let task = conn::serve(stream, open, rng.fork(), cancel.clone());
                    connections.spawn(task);
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!("fault proxy: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        connections.shutdown().await;
    }
}
