//! The upstream's side of the HTTP-aware mode: cuts the stream into responses
//! (`Content-Length`, chunked, no body for HEAD, 1xx, 204 and 304, or until close),
//! matches them to the requests in order, holds back delayed ones, and writes the
//! proxy's own answers exactly where the upstream's would have been.

use std::borrow::Cow;
use std::time::Duration;

use super::http::{Answer, Exchange, Exchanges, Out};
use super::http_parse::{self as parse, Chunked};

/// Cuts the upstream's stream into responses and puts injected answers in between.
#[derive(Debug, Default)]
pub(super) struct ResponseFramer {
    state: Resp,
    held: Vec<u8>,
    /// The exchange being answered: (HEAD?, CONNECT?, delay).
    current: Option<(bool, bool, Duration)>,
}

#[derive(Debug, Default, PartialEq)]
enum Resp {
    /// Between responses.
    #[default]
    Idle,
    Head,
    Fixed(u64),
    Chunked(Chunked),
    UntilClose,
    /// After an injected answer that closes the connection.
    Closed,
}

impl ResponseFramer {
    pub(super) fn feed<'a>(&mut self, mut input: &'a [u8], ex: &Exchanges, out: &mut Vec<Out<'a>>) {
        loop {
            self.inject_due(ex, out);
            if input.is_empty() || self.state == Resp::Closed {
                return;
            }
            if ex.is_opaque() {
                self.flush_held(out);
                out.push(Out::Send(Cow::Borrowed(input), Duration::ZERO));
                return;
            }
            if self.state == Resp::Idle {
                let Some(next) = ex.with(|s| s.waiting.pop_front()) else {
                    // Bytes nobody asked for (a 408 before closing): pass them on.
                    out.push(Out::Send(Cow::Borrowed(input), Duration::ZERO));
                    return;
                };
                let delay = match next.answer {
                    Answer::Forward { delay } => delay,
                    Answer::Inject { .. } => Duration::ZERO,
                };
                self.current = Some((next.is_head, next.is_connect, delay));
                self.state = Resp::Head;
            }
            let delay = self.current.map_or(Duration::ZERO, |c| c.2);
            let (used, done) = match &mut self.state {
                Resp::Head => match self.head(input, ex, out) {
                    Some(used) => (used, false),
                    None => return,
                },
                Resp::Fixed(left) => {
                    let take = (*left).min(input.len() as u64) as usize;
                    *left -= take as u64;
                    out.push(Out::Send(Cow::Borrowed(&input[..take]), delay));
                    (take, *left == 0)
                }
                Resp::Chunked(chunked) => match chunked.advance(input) {
                    Some((take, done)) => {
                        out.push(Out::Send(Cow::Borrowed(&input[..take]), delay));
                        (take, done)
                    }
                    None => {
                        ex.go_opaque();
                        (0, false)
                    }
                },
                Resp::UntilClose => {
                    out.push(Out::Send(Cow::Borrowed(input), delay));
                    (input.len(), false)
                }
                Resp::Idle | Resp::Closed => (0, false),
            };
            if done {
                self.state = Resp::Idle;
            }
            input = &input[used..];
        }
    }

    /// The upstream closed: a response that lasts until close is complete, and
    /// answers injected after it are still written.
    pub(super) fn finish(&mut self, ex: &Exchanges, out: &mut Vec<Out<'_>>) {
        // A head cut short by the close goes to the client as it came.
        self.flush_held(out);
        if self.state == Resp::UntilClose {
            self.state = Resp::Idle;
        }
        self.inject_due(ex, out);
    }

    /// Injected answers whose turn has come, written between responses.
    pub(super) fn inject_due(&mut self, ex: &Exchanges, out: &mut Vec<Out<'_>>) {
        while self.state == Resp::Idle {
            let due = ex.with(|s| match s.waiting.front() {
                Some(Exchange {
                    answer: Answer::Inject { .. },
                    ..
                }) => s.waiting.pop_front(),
                _ => None,
            });
            let Some(Exchange {
                answer: Answer::Inject { response, close },
                ..
            }) = due
            else {
                return;
            };
            out.push(Out::Inject(response, close));
            if close {
                self.state = Resp::Closed;
            }
        }
    }

    /// Reads a response head; returns the bytes of `input` it used once the head is
    /// complete, `None` while it waits for more.
    fn head(&mut self, input: &[u8], ex: &Exchanges, out: &mut Vec<Out<'_>>) -> Option<usize> {
        let before = self.held.len();
        self.held.extend_from_slice(input);
        let Some(end) = parse::head_end(&self.held, before) else {
            if self.held.len() > parse::MAX_HEAD {
                ex.go_opaque();
                self.flush_held(out);
            }
            return None;
        };
        let head: Vec<u8> = self.held.drain(..end).collect();
        self.held.clear();
        let (is_head, is_connect, delay) = self.current.unwrap_or_default();
        let Some(resp) = parse::parse_response(&head) else {
            ex.go_opaque();
            out.push(Out::Send(Cow::Owned(head), Duration::ZERO));
            return Some(end - before);
        };
        out.push(Out::Send(Cow::Owned(head), delay));
        let upgraded = resp.status == 101 || (is_connect && (200..300).contains(&resp.status));
        self.state = if upgraded {
            ex.go_opaque();
            Resp::Idle
        } else if (100..200).contains(&resp.status) {
            Resp::Head
        } else if is_head || resp.status == 204 || resp.status == 304 {
            Resp::Idle
        } else if resp.chunked {
            Resp::Chunked(Chunked::new())
        } else {
            match resp.content_length {
                Some(0) => Resp::Idle,
                Some(n) => Resp::Fixed(n),
                None => Resp::UntilClose,
            }
        };
        Some(end - before)
    }

    fn flush_held(&mut self, out: &mut Vec<Out<'_>>) {
        if !self.held.is_empty() {
            let held = std::mem::take(&mut self.held);
            out.push(Out::Send(Cow::Owned(held), Duration::ZERO));
        }
    }
}
