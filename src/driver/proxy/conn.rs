//! One proxied connection: its dice, the faults that apply to it right now, and how
//! it starts and ends (refused, reset, blackholed, closed at its limit).

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::faults::ProxyFaults;
use super::http::Exchanges;
use super::rng::Rng;
use super::OpenGuard;

/// How long the proxy waits for the upstream to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a closing connection keeps reading what the client still sends, so the
/// close is a FIN and not an RST that would throw away the bytes it was sent.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// One uniform number per connection-level fault, drawn when the connection is
/// accepted. A fault with probability `p` applies while its number is below `p`, so
/// a new fault set is applied to open connections consistently: raising `p` keeps
/// the connections already hit and adds more.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rolls {
    latency: f64,
    bandwidth: f64,
    reset: f64,
    blackhole: f64,
    refuse: f64,
    slow_close: f64,
    data_limit: f64,
}

impl Rolls {
    fn draw(rng: &mut Rng) -> Rolls {
        Rolls {
            latency: rng.unit(),
            bandwidth: rng.unit(),
            reset: rng.unit(),
            blackhole: rng.unit(),
            refuse: rng.unit(),
            slow_close: rng.unit(),
            data_limit: rng.unit(),
        }
    }
}

/// The faults that apply to one connection under the current fault set.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Active {
    /// Upstream-to-client delay and jitter.
    pub latency: Option<(Duration, Duration)>,
    pub bandwidth: Option<u64>,
    pub data_limit: Option<u64>,
    pub slow_close: Option<Duration>,
    pub reset: bool,
    pub blackhole: bool,
}

/// Faults counted in `faults_fired`, each once per connection.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Latency = 0,
    Bandwidth,
    Reset,
    Blackhole,
    Refuse,
    SlowClose,
    DataLimit,
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum End {
    /// Both sides closed normally.
    Done,
    /// The proxy is shutting down.
    Cancelled,
    /// The reset fault applies.
    Reset,
    /// The data limit was reached.
    Limit,
    /// An injected HTTP answer said `Connection: close`.
    Close,
    /// The client reset the connection or vanished.
    ClientGone,
    /// The upstream reset the connection or vanished.
    UpstreamGone,
}

/// What both directions of a connection share.
pub(super) struct ConnCtx {
    pub shared: OpenGuard,
    pub rolls: Rolls,
    /// Cancelled when the connection must end; `end` says why.
    pub stop: CancellationToken,
    end: Mutex<Option<End>>,
    fired: AtomicU16,
    pub http: Exchanges,
}

impl ConnCtx {
    /// The faults that apply to this connection under `faults`.
    pub(super) fn resolve(&self, faults: &ProxyFaults) -> Active {
        let r = &self.rolls;
        let active = Active {
            latency: faults
                .latency
                .filter(|f| r.latency < f.probability)
                .map(|f| (f.latency, f.jitter)),
            bandwidth: faults
                .bandwidth
                .filter(|f| r.bandwidth < f.probability)
                .map(|f| f.rate.max(1)),
            data_limit: faults
                .data_limit
                .filter(|f| r.data_limit < f.probability)
                .map(|f| f.bytes),
            slow_close: faults
                .slow_close
                .filter(|f| r.slow_close < f.probability)
                .map(|f| f.delay),
            reset: faults.reset.is_some_and(|f| r.reset < f.probability),
            blackhole: faults
                .blackhole
                .is_some_and(|f| r.blackhole < f.probability),
        };
        if active.latency.is_some() {
            self.fire(Kind::Latency);
        }
        if active.bandwidth.is_some() {
            self.fire(Kind::Bandwidth);
        }
        if active.blackhole {
            self.fire(Kind::Blackhole);
        }
        active
    }

    /// Counts a fault taking effect on this connection, once per kind.
    pub(super) fn fire(&self, kind: Kind) {
        let bit = 1u16 << (kind as u16);
        if self.fired.fetch_or(bit, Ordering::Relaxed) & bit == 0 {
            self.shared.counters.fire();
        }
    }

    /// Ends the connection; the first reason given wins.
    pub(super) fn finish(&self, end: End) {
        if let Ok(mut slot) = self.end.lock() {
            slot.get_or_insert(end);
        }
        self.stop.cancel();
    }

    fn end(&self) -> End {
        let recorded = self.end.lock().ok().and_then(|slot| *slot);
        match recorded {
            Some(end) => end,
            None if self.stop.is_cancelled() => End::Cancelled,
            None => End::Done,
        }
    }
}

/// Serves one accepted connection until it ends.
pub(super) async fn serve(
    mut client: TcpStream,
    open: OpenGuard,
    mut rng: Rng,
    cancel: CancellationToken,
) {
    let _ = client.set_nodelay(true);
    let mut faults = open.faults.clone();
    let ctx = ConnCtx {
        rolls: Rolls::draw(&mut rng),
        shared: open,
        stop: cancel.child_token(),
        end: Mutex::new(None),
        fired: AtomicU16::new(0),
        http: Exchanges::default(),
    };
    let first = faults.borrow_and_update().clone();
    if first
        .refuse
        .is_some_and(|f| ctx.rolls.refuse < f.probability)
    {
        ctx.fire(Kind::Refuse);
        return close_gently(client).await;
    }
    // A blackholed connection is not forwarded anywhere until the blackhole lifts.
    loop {
        let active = ctx.resolve(&faults.borrow_and_update());
        if active.reset {
            ctx.fire(Kind::Reset);
            return reset(client);
        }
        if !active.blackhole {
            break;
        }
        tokio::select! {
            _ = ctx.stop.cancelled() => return,
            changed = faults.changed() => if changed.is_err() { return },
        }
    }
    let target = ctx.shared.upstream.as_str();
    let connect = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target));
    let mut upstream = tokio::select! {
        _ = ctx.stop.cancelled() => return,
        connected = connect => match connected {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!("fault proxy: upstream {target} refused: {e}");
                return reset(client);
            }
            Err(_) => {
                tracing::debug!("fault proxy: upstream {target} did not answer in time");
                return reset(client);
            }
        },
    };
    let _ = upstream.set_nodelay(true);
    super::pipe::run(&mut client, &mut upstream, &ctx, faults, &mut rng).await;
    match ctx.end() {
        End::Done | End::Cancelled => {}
        End::Reset => {
            ctx.fire(Kind::Reset);
            reset(client);
        }
        End::Limit | End::Close => {
            drop(upstream);
            close_gently(client).await;
        }
        End::ClientGone => reset(upstream),
        End::UpstreamGone => reset(client),
    }
}

/// Closes with an RST: `SO_LINGER` 0, then close.
fn reset(stream: TcpStream) {
    if let Err(e) = stream.set_zero_linger() {
        tracing::debug!("fault proxy: cannot set SO_LINGER 0: {e}");
    }
    drop(stream);
}

/// Sends a FIN at once, then reads and drops what the peer still sends, for a short
/// while, so that closing does not turn into an RST.
async fn close_gently(mut stream: TcpStream) {
    use tokio::io::AsyncWriteExt;
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let drain = async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain).await;
}
