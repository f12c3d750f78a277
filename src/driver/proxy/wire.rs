//! The wire of one direction: chunks stamped with the moment they may be
//! delivered, paced by the bandwidth cap and cut at the data limit.
//!
//! Latency: each chunk is stamped when it is read and delivered at
//! `max(previous deadline, read time + latency ± jitter)`; the pump goes on reading
//! while chunks wait, so a response written in two pieces 50 ms apart arrives
//! `latency` late, not twice that, and jitter never reorders bytes.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::conn::Active;

/// Bytes read ahead while they wait for their deadline or for bandwidth; past this
/// the pump stops reading and the sender feels back-pressure.
const QUEUE_CAP: usize = 4 * 1024 * 1024;
/// Bandwidth is written in pieces of about 20 ms of traffic.
const PIECES_PER_SECOND: u64 = 50;
/// A late wake-up may be caught up on, for up to two pieces' worth, so the rate
/// holds on a busy machine without allowing bursts.
const CATCH_UP: Duration = Duration::from_millis(40);
/// tokio's timer works in whole milliseconds and rounds deadlines up, so waiting
/// for the exact deadline lands 1 to 2 ms late. A chunk is therefore written once
/// its deadline is less than this far away: delays come out right to within about
/// a millisecond either way instead of always late.
const TIMER_SLACK: Duration = Duration::from_millis(1);

struct Chunk {
    read_at: Instant,
    /// Delay on top of the wire's (a delayed HTTP response).
    extra: Duration,
    at: Instant,
    data: Vec<u8>,
    sent: usize,
}

pub(super) struct Wire {
    queue: VecDeque<Chunk>,
    queued: usize,
    last_at: Instant,
    bandwidth_free_at: Instant,
    delivered: u64,
}

impl Wire {
    pub(super) fn new() -> Wire {
        let now = Instant::now();
        Wire {
            queue: VecDeque::new(),
            queued: 0,
            last_at: now,
            bandwidth_free_at: now,
            delivered: 0,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub(super) fn has_room(&self) -> bool {
        self.queued < QUEUE_CAP
    }

    /// Bytes delivered since the connection opened.
    pub(super) fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Queues bytes read at `read_at`, due `wire + extra` later and never before
    /// the bytes queued earlier. Pieces of one read due together are merged, so
    /// they go out in one write as they came in one read.
    pub(super) fn push(&mut self, data: &[u8], read_at: Instant, wire: Duration, extra: Duration) {
        if data.is_empty() {
            return;
        }
        let at = self.last_at.max(read_at + wire + extra);
        self.last_at = at;
        self.queued += data.len();
        if let Some(back) = self.queue.back_mut() {
            if back.at == at && back.extra == extra && back.read_at == read_at {
                back.data.extend_from_slice(data);
                return;
            }
        }
        self.queue.push_back(Chunk {
            read_at,
            extra,
            at,
            data: data.to_vec(),
            sent: 0,
        });
    }

    /// A new fault set whose wire delay is at most `longest`: chunks already
    /// waiting are due no later than that allows, still in order, so switching
    /// latency off delivers them at once.
    pub(super) fn reschedule(&mut self, longest: Duration) {
        let mut previous: Option<Instant> = None;
        for chunk in &mut self.queue {
            let mut at = chunk.at.min(chunk.read_at + chunk.extra + longest);
            if let Some(p) = previous {
                at = at.max(p);
            }
            chunk.at = at;
            previous = Some(at);
        }
        self.last_at = previous.unwrap_or_else(|| self.last_at.min(Instant::now()));
    }

    /// When the next piece may be written, if anything waits.
    pub(super) fn next_due(&self, active: &Active) -> Option<Instant> {
        let head = self.queue.front()?;
        let at = head.at.checked_sub(TIMER_SLACK).unwrap_or(head.at);
        Some(match active.bandwidth {
            Some(_) => at.max(self.bandwidth_free_at),
            None => at,
        })
    }

    /// The bytes that may be written at `now`: the due part of the oldest chunk,
    /// at most one bandwidth piece, never past the data limit.
    pub(super) fn due(&self, now: Instant, active: &Active) -> Option<&[u8]> {
        let head = self.queue.front()?;
        if head.at > now + TIMER_SLACK
            || (active.bandwidth.is_some() && self.bandwidth_free_at > now)
        {
            return None;
        }
        let mut len = head.data.len() - head.sent;
        if let Some(rate) = active.bandwidth {
            len = len.min((rate / PIECES_PER_SECOND).clamp(1, 64 * 1024) as usize);
        }
        if let Some(limit) = active.data_limit {
            len = len.min(limit.saturating_sub(self.delivered) as usize);
        }
        Some(&head.data[head.sent..head.sent + len])
    }

    /// `written` bytes of what `due` offered at `now` went out.
    pub(super) fn sent(&mut self, written: usize, now: Instant, active: &Active) {
        self.delivered += written as u64;
        self.queued -= written;
        if let Some(rate) = active.bandwidth {
            let cost = Duration::from_secs_f64(written as f64 / rate as f64);
            let floor = now.checked_sub(CATCH_UP).unwrap_or(now);
            self.bandwidth_free_at = self.bandwidth_free_at.max(floor) + cost;
        }
        if let Some(head) = self.queue.front_mut() {
            head.sent += written;
            if head.sent == head.data.len() {
                self.queue.pop_front();
            }
        }
    }
}
