//! The HTTP-aware mode. A connection whose first bytes are an HTTP/1.x request line
//! is tracked: the client-to-upstream side cuts the stream into requests (head plus
//! `Content-Length` body) and decides per request whether the proxy answers it with
//! an error, delays its response, or forwards it untouched; the other side cuts the
//! upstream's stream into responses (`Content-Length`, chunked, no body for HEAD,
//! 1xx, 204 and 304, or until close) and matches them to requests in order, so an
//! injected error is written exactly where the upstream's answer would have been,
//! even for pipelined requests (that side lives in `http_response.rs`). Anything
//! it cannot follow (a chunked request body,
//! an upgrade, CONNECT, a malformed head) turns the connection opaque: plain bytes,
//! no HTTP faults, for the rest of its life.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;

use super::faults::ProxyFaults;
use super::http_parse as parse;
use super::rng::Rng;

/// The two sides' shared view: whether the stream is HTTP, and the requests still
/// waiting for their answer, oldest first.
#[derive(Debug, Default)]
pub(super) struct Exchanges {
    state: Mutex<Shared>,
    /// Wakes the response side when an injected answer is due.
    pub wake: Notify,
}

#[derive(Debug, Default)]
pub(super) struct Shared {
    opaque: bool,
    pub waiting: VecDeque<Exchange>,
}

/// One request waiting for its answer.
#[derive(Debug)]
pub(super) struct Exchange {
    pub is_head: bool,
    pub is_connect: bool,
    pub answer: Answer,
}

#[derive(Debug)]
pub(super) enum Answer {
    Forward { delay: Duration },
    Inject { response: Vec<u8>, close: bool },
}

/// What a framer makes of the bytes it was fed.
#[derive(Debug)]
pub(super) enum Out<'a> {
    /// Bytes to pass on, held back `delay` more than the wire would.
    Send(Cow<'a, [u8]>, Duration),
    /// A response the proxy answers with; `close` ends the connection after it.
    Inject(Vec<u8>, bool),
}

/// Decisions taken when a request's head is complete.
pub(super) struct RequestFaults<'a> {
    pub faults: &'a ProxyFaults,
    pub rng: &'a mut Rng,
    /// Called once per request answered with an error or delayed.
    pub fired: &'a dyn Fn(),
}

impl Exchanges {
    pub(super) fn with<T>(&self, f: impl FnOnce(&mut Shared) -> T) -> T {
        match self.state.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    pub(super) fn is_opaque(&self) -> bool {
        self.with(|s| s.opaque)
    }

    pub(super) fn go_opaque(&self) {
        self.with(|s| s.opaque = true);
    }
}

/// Cuts the client's stream into requests.
#[derive(Debug, Default)]
pub(super) struct RequestFramer {
    held: Vec<u8>,
    body_left: u64,
    drop_body: bool,
    /// After an answer with `Connection: close`: nothing more is forwarded.
    discard: bool,
}

impl RequestFramer {
    pub(super) fn feed<'a>(
        &mut self,
        mut input: &'a [u8],
        ex: &Exchanges,
        decide: &mut RequestFaults<'_>,
        out: &mut Vec<Out<'a>>,
    ) {
        while !input.is_empty() {
            if self.discard {
                return;
            }
            if self.body_left > 0 {
                let take = self.body_left.min(input.len() as u64) as usize;
                if !self.drop_body {
                    out.push(Out::Send(Cow::Borrowed(&input[..take]), Duration::ZERO));
                }
                self.body_left -= take as u64;
                input = &input[take..];
                continue;
            }
            if ex.is_opaque() {
                self.flush_held(out);
                out.push(Out::Send(Cow::Borrowed(input), Duration::ZERO));
                return;
            }
            let before = self.held.len();
            let (head, used): (Cow<'a, [u8]>, usize) = if before == 0 {
                match parse::head_end(input, 0) {
                    Some(end) => (Cow::Borrowed(&input[..end]), end),
                    None => return self.hold(input, ex, out),
                }
            } else {
                self.held.extend_from_slice(input);
                match parse::head_end(&self.held, before) {
                    Some(end) => {
                        let head = self.held[..end].to_vec();
                        self.held.clear();
                        (Cow::Owned(head), end - before)
                    }
                    None => {
                        self.held.truncate(before);
                        return self.hold(input, ex, out);
                    }
                }
            };
            input = &input[used..];
            self.request(head, ex, decide, out);
        }
    }

    /// The client closed its side: an incomplete head it left is passed on as is.
    pub(super) fn finish(&mut self, out: &mut Vec<Out<'_>>) {
        if !self.discard {
            self.flush_held(out);
        }
    }

    /// Keeps an incomplete head, unless it cannot be HTTP or is too long.
    fn hold<'a>(&mut self, input: &'a [u8], ex: &Exchanges, out: &mut Vec<Out<'a>>) {
        self.held.extend_from_slice(input);
        let hopeless = parse::looks_like_request(&self.held) == Some(false)
            || self.held.len() > parse::MAX_HEAD;
        if hopeless {
            ex.go_opaque();
            self.flush_held(out);
        }
    }

    fn flush_held(&mut self, out: &mut Vec<Out<'_>>) {
        if !self.held.is_empty() {
            let held = std::mem::take(&mut self.held);
            out.push(Out::Send(Cow::Owned(held), Duration::ZERO));
        }
    }

    fn request<'a>(
        &mut self,
        head: Cow<'a, [u8]>,
        ex: &Exchanges,
        decide: &mut RequestFaults<'_>,
        out: &mut Vec<Out<'a>>,
    ) {
        let parsed = (parse::looks_like_request(&head) == Some(true))
            .then(|| parse::parse_request(&head))
            .flatten();
        let Some(req) = parsed.filter(|r| !r.has_transfer_encoding) else {
            ex.go_opaque();
            out.push(Out::Send(head, Duration::ZERO));
            return;
        };
        let answer = match (decide.faults.http_error, decide.faults.http_delay) {
            (Some(e), _) if decide.rng.chance(e.fraction) => {
                let keep = req.keep_alive && !req.expect_continue;
                Answer::Inject {
                    response: parse::error_response(e.status, req.is_head, keep),
                    close: !keep,
                }
            }
            (_, Some(d)) if decide.rng.chance(d.fraction) => Answer::Forward { delay: d.delay },
            _ => Answer::Forward {
                delay: Duration::ZERO,
            },
        };
        let injected = matches!(answer, Answer::Inject { .. });
        if injected || matches!(answer, Answer::Forward { delay } if !delay.is_zero()) {
            (decide.fired)();
        }
        self.body_left = req.content_length;
        self.drop_body = injected;
        self.discard = matches!(answer, Answer::Inject { close: true, .. });
        ex.with(|s| {
            s.waiting.push_back(Exchange {
                is_head: req.is_head,
                is_connect: req.is_connect,
                answer,
            })
        });
        if injected {
            ex.wake.notify_one();
        } else {
            out.push(Out::Send(head, Duration::ZERO));
        }
    }
}
