//! Pumping bytes one way through a connection, with the faults that shape the
//! stream: latency and bandwidth (through its [`Wire`]), the data limit, blackhole,
//! reset and the HTTP framers. Both directions run as futures of the connection's
//! one task.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::conn::{Active, ConnCtx, End, Kind};
use super::faults::ProxyFaults;
use super::http::{Out, RequestFaults, RequestFramer};
use super::http_response::ResponseFramer;
use super::rng::Rng;
use super::wire::Wire;

const READ_BUF: usize = 16 * 1024;

/// Runs both directions until the connection ends; the reason is in `ctx`.
pub(super) async fn run(
    client: &mut TcpStream,
    upstream: &mut TcpStream,
    ctx: &ConnCtx,
    faults: watch::Receiver<Arc<ProxyFaults>>,
    rng: &mut Rng,
) {
    let (client_read, client_write) = client.split();
    let (upstream_read, upstream_write) = upstream.split();
    let up = Pump::new(
        Dir::Up,
        client_read,
        upstream_write,
        ctx,
        faults.clone(),
        rng.fork(),
    );
    let down = Pump::new(
        Dir::Down,
        upstream_read,
        client_write,
        ctx,
        faults,
        rng.fork(),
    );
    tokio::join!(up.run(), down.run());
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Dir {
    /// Client to upstream.
    Up,
    /// Upstream to client.
    Down,
}

enum Event {
    Read(usize),
    Eof,
    Failed,
    Changed,
    Stop,
    Tick,
}

struct Pump<'a> {
    dir: Dir,
    src: ReadHalf<'a>,
    dst: WriteHalf<'a>,
    ctx: &'a ConnCtx,
    faults: watch::Receiver<Arc<ProxyFaults>>,
    rng: Rng,
    buf: Vec<u8>,
    wire: Wire,
    src_done: bool,
    /// Writing to the upstream failed: what the client sends is dropped.
    discard: bool,
    close_after_flush: bool,
    requests: RequestFramer,
    responses: ResponseFramer,
}

impl<'a> Pump<'a> {
    fn new(
        dir: Dir,
        src: ReadHalf<'a>,
        dst: WriteHalf<'a>,
        ctx: &'a ConnCtx,
        faults: watch::Receiver<Arc<ProxyFaults>>,
        rng: Rng,
    ) -> Pump<'a> {
        Pump {
            dir,
            src,
            dst,
            ctx,
            faults,
            rng,
            buf: vec![0; READ_BUF],
            wire: Wire::new(),
            src_done: false,
            discard: false,
            close_after_flush: false,
            requests: RequestFramer::default(),
            responses: ResponseFramer::default(),
        }
    }

    async fn run(mut self) {
        let mut set = self.faults.borrow_and_update().clone();
        let mut active = self.ctx.resolve(&set);
        loop {
            if active.reset {
                return self.ctx.finish(End::Reset);
            }
            if active
                .data_limit
                .is_some_and(|l| self.wire.delivered() >= l)
            {
                self.ctx.fire(Kind::DataLimit);
                return self.ctx.finish(End::Limit);
            }
            let event = if active.blackhole {
                // Neither read nor write until the blackhole lifts.
                self.wait_change().await
            } else {
                if !self.flush(&active).await {
                    return;
                }
                if self.close_after_flush && self.wire.is_empty() {
                    return self.ctx.finish(End::Close);
                }
                if self.src_done && self.wire.is_empty() {
                    return self.close_direction(active).await;
                }
                self.wait(&active).await
            };
            match event {
                Event::Stop => return,
                Event::Failed => {
                    let end = match self.dir {
                        Dir::Up => End::ClientGone,
                        Dir::Down => End::UpstreamGone,
                    };
                    return self.ctx.finish(end);
                }
                Event::Changed => {
                    set = self.faults.borrow_and_update().clone();
                    active = self.ctx.resolve(&set);
                    self.wire.reschedule(self.longest_delay(&active));
                }
                Event::Read(n) => self.on_read(n, &set, &active),
                Event::Eof => {
                    self.src_done = true;
                    let mut out = Vec::new();
                    match self.dir {
                        Dir::Up => self.requests.finish(&mut out),
                        Dir::Down => self.responses.finish(&self.ctx.http, &mut out),
                    }
                    self.push_outs(out, &active);
                }
                Event::Tick => {
                    if self.dir == Dir::Down {
                        let mut out = Vec::new();
                        self.responses.inject_due(&self.ctx.http, &mut out);
                        self.push_outs(out, &active);
                    }
                }
            }
        }
    }

    async fn wait_change(&mut self) -> Event {
        tokio::select! {
            _ = self.ctx.stop.cancelled() => Event::Stop,
            changed = self.faults.changed() => if changed.is_ok() { Event::Changed } else { Event::Stop },
        }
    }

    /// Waits for bytes to read, a deadline, a change of faults, an injected answer.
    async fn wait(&mut self, active: &Active) -> Event {
        let can_read = !self.src_done && self.wire.has_room();
        let due = self.wire.next_due(active);
        let http_wake = self.dir == Dir::Down;
        tokio::select! {
            biased;
            _ = self.ctx.stop.cancelled() => Event::Stop,
            changed = self.faults.changed() => if changed.is_ok() { Event::Changed } else { Event::Stop },
            read = self.src.read(&mut self.buf), if can_read => match read {
                Ok(0) => Event::Eof,
                Ok(n) => Event::Read(n),
                Err(_) => Event::Failed,
            },
            _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => Event::Tick,
            _ = self.ctx.http.wake.notified(), if http_wake => Event::Tick,
        }
    }

    fn on_read(&mut self, n: usize, set: &ProxyFaults, active: &Active) {
        if self.discard {
            return;
        }
        let buf = std::mem::take(&mut self.buf);
        let input = &buf[..n];
        let mut out = Vec::new();
        match self.dir {
            Dir::Up => {
                let ctx = self.ctx;
                let fired = || ctx.shared.counters.fire();
                let mut decide = RequestFaults {
                    faults: set,
                    rng: &mut self.rng,
                    fired: &fired,
                };
                self.requests.feed(input, &ctx.http, &mut decide, &mut out);
            }
            Dir::Down => self.responses.feed(input, &self.ctx.http, &mut out),
        }
        self.push_outs(out, active);
        self.buf = buf;
    }

    /// Queues what a read (or an injection) produced. The wire delay is drawn once
    /// per read; pieces due at the same moment are merged, so they go out in one
    /// write as they came in one read.
    fn push_outs(&mut self, out: Vec<Out<'_>>, active: &Active) {
        let read_at = Instant::now();
        let wire = match (self.dir, active.latency) {
            (Dir::Down, Some((latency, jitter))) => self.rng.around(latency, jitter),
            _ => Duration::ZERO,
        };
        for piece in out {
            match piece {
                Out::Send(bytes, extra) => self.wire.push(&bytes, read_at, wire, extra),
                Out::Inject(bytes, close) => {
                    self.wire.push(&bytes, read_at, wire, Duration::ZERO);
                    self.close_after_flush |= close;
                }
            }
        }
    }

    /// The most a chunk read now would wait on this side's wire.
    fn longest_delay(&self, active: &Active) -> Duration {
        match (self.dir, active.latency) {
            (Dir::Down, Some((latency, jitter))) => latency + jitter,
            _ => Duration::ZERO,
        }
    }

    /// Writes everything that is due. Returns false when the connection must end.
    async fn flush(&mut self, active: &Active) -> bool {
        loop {
            let now = Instant::now();
            let Some(piece) = self.wire.due(now, active) else {
                return true;
            };
            let written = if self.discard || piece.is_empty() {
                piece.len()
            } else {
                tokio::select! {
                    _ = self.ctx.stop.cancelled() => return false,
                    written = self.dst.write(piece) => match written {
                        Ok(n) if n > 0 => n,
                        _ => return self.write_failed(),
                    },
                }
            };
            if !self.discard {
                self.ctx.shared.counters.moved(self.dir == Dir::Up, written);
            }
            self.wire.sent(written, now, active);
            if active
                .data_limit
                .is_some_and(|l| self.wire.delivered() >= l)
            {
                self.ctx.fire(Kind::DataLimit);
                self.ctx.finish(End::Limit);
                return false;
            }
        }
    }

    /// The upstream no longer takes bytes: keep the client's side going (it may be
    /// held open by a slow close) and drop what it sends. The client vanishing ends
    /// the connection.
    fn write_failed(&mut self) -> bool {
        match self.dir {
            Dir::Up => {
                self.discard = true;
                true
            }
            Dir::Down => {
                self.ctx.finish(End::ClientGone);
                false
            }
        }
    }

    /// The source closed and everything was delivered: pass the close on, after the
    /// slow-close delay for the client's side.
    async fn close_direction(&mut self, mut active: Active) {
        if self.dir == Dir::Down {
            let started = Instant::now();
            while let Some(delay) = active.slow_close {
                self.ctx.fire(Kind::SlowClose);
                tokio::select! {
                    _ = tokio::time::sleep_until(started + delay) => break,
                    event = self.wait_change() => match event {
                        Event::Changed => active = self.ctx.resolve(&self.faults.borrow_and_update()),
                        _ => return,
                    },
                }
            }
        }
        let _ = self.dst.shutdown().await;
    }
}
