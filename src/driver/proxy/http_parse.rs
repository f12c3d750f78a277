//! Just enough HTTP/1.x parsing to find message boundaries: request and response
//! heads, `Content-Length` bodies, chunked response bodies, and the proxy's own
//! error responses.

/// Longest head the proxy waits for before deciding the stream is not HTTP.
pub(super) const MAX_HEAD: usize = 64 * 1024;

/// What the proxy needs to know about one request.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RequestHead {
    pub is_head: bool,
    pub is_connect: bool,
    pub content_length: u64,
    /// A `Transfer-Encoding` on a request: not supported, the stream goes opaque.
    pub has_transfer_encoding: bool,
    /// The client may send another request on this connection after the answer.
    pub keep_alive: bool,
    pub expect_continue: bool,
}

/// What the proxy needs to know about one response.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ResponseHead {
    pub status: u16,
    pub content_length: Option<u64>,
    pub chunked: bool,
}

/// The end of the head (index just past the empty line), if it is all there.
pub(super) fn head_end(bytes: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    bytes
        .get(start..)?
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| start + i + 4)
}

/// Whether `bytes` can still be the start of an HTTP/1.x request: `Some(false)`
/// when it cannot, `None` while the request line is incomplete.
pub(super) fn looks_like_request(bytes: &[u8]) -> Option<bool> {
    let method_len = bytes.iter().take_while(|b| b.is_ascii_uppercase()).count();
    match bytes.get(method_len) {
        None => return if method_len <= 16 { None } else { Some(false) },
        Some(b' ') if (1..=16).contains(&method_len) => {}
        Some(_) => return Some(false),
    }
    match bytes.iter().position(|&b| b == b'\n') {
        Some(end) => {
            let line = trim_cr(&bytes[..end]);
            Some(line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0"))
        }
        None if bytes.len() > 8 * 1024 => Some(false),
        None => None,
    }
}

pub(super) fn parse_request(head: &[u8]) -> Option<RequestHead> {
    let mut lines = lines(head);
    let first = lines.next()?;
    let mut parts = first.split(|&b| b == b' ');
    let method = parts.next()?;
    let _target = parts.next()?;
    let version = parts.next()?;
    let http11 = match version {
        b"HTTP/1.1" => true,
        b"HTTP/1.0" => false,
        _ => return None,
    };
    let mut req = RequestHead {
        is_head: method == b"HEAD",
        is_connect: method == b"CONNECT",
        content_length: 0,
        has_transfer_encoding: false,
        keep_alive: http11,
        expect_continue: false,
    };
    let mut length = None;
    for (name, value) in headers(lines)? {
        if name.eq_ignore_ascii_case(b"content-length") {
            length = Some(merge_length(length, value)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            req.has_transfer_encoding = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',').map(trim) {
                if token.eq_ignore_ascii_case(b"close") {
                    req.keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && !http11 {
                    req.keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            req.expect_continue = value.eq_ignore_ascii_case(b"100-continue");
        }
    }
    req.content_length = length.unwrap_or(0);
    Some(req)
}

pub(super) fn parse_response(head: &[u8]) -> Option<ResponseHead> {
    let mut lines = lines(head);
    let first = lines.next()?;
    let rest = first
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| first.strip_prefix(b"HTTP/1.0 "))?;
    let code = rest.get(..3)?;
    let status = std::str::from_utf8(code).ok()?.parse().ok()?;
    let mut resp = ResponseHead {
        status,
        content_length: None,
        chunked: false,
    };
    for (name, value) in headers(lines)? {
        if name.eq_ignore_ascii_case(b"content-length") {
            resp.content_length = Some(merge_length(resp.content_length, value)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let last = value.split(|&b| b == b',').map(trim).next_back()?;
            resp.chunked = last.eq_ignore_ascii_case(b"chunked");
        }
    }
    Some(resp)
}

/// Where a chunked body stands, fed byte ranges as they arrive.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Chunked {
    /// Reading a chunk-size line (value so far, inside an extension).
    Size {
        value: u64,
        digits: usize,
        ext: bool,
    },
    /// Inside chunk data: bytes left.
    Data(u64),
    /// The CRLF after chunk data.
    DataEnd,
    /// Trailer lines after the last chunk; `empty` while the line has no content.
    Trailer { empty: bool },
}

impl Chunked {
    pub(super) fn new() -> Chunked {
        Chunked::Size {
            value: 0,
            digits: 0,
            ext: false,
        }
    }

    /// Consumes bytes of `input`; returns how many, and whether the body ended there.
    /// `None` when the framing is broken.
    pub(super) fn advance(&mut self, input: &[u8]) -> Option<(usize, bool)> {
        let mut i = 0;
        while i < input.len() {
            match self {
                Chunked::Data(left) => {
                    let take = (*left).min((input.len() - i) as u64) as usize;
                    i += take;
                    *left -= take as u64;
                    if *left == 0 {
                        *self = Chunked::DataEnd;
                    }
                    continue;
                }
                Chunked::Size { value, digits, ext } => match input[i] {
                    b'\n' if *digits == 0 => return None,
                    b'\n' if *value == 0 => *self = Chunked::Trailer { empty: true },
                    b'\n' => *self = Chunked::Data(*value),
                    b'\r' => {}
                    b';' | b' ' | b'\t' => *ext = true,
                    _ if *ext => {}
                    c => {
                        let digit = u64::from((c as char).to_digit(16)?);
                        *value = value.checked_mul(16)?.checked_add(digit)?;
                        *digits += 1;
                    }
                },
                Chunked::DataEnd => match input[i] {
                    b'\r' => {}
                    b'\n' => *self = Chunked::new(),
                    _ => return None,
                },
                Chunked::Trailer { empty } => match input[i] {
                    b'\r' => {}
                    b'\n' if *empty => return Some((i + 1, true)),
                    b'\n' => *empty = true,
                    _ => *empty = false,
                },
            }
            i += 1;
        }
        Some((i, false))
    }
}

/// A complete response the proxy sends in place of the upstream's.
pub(super) fn error_response(status: u16, is_head: bool, keep_alive: bool) -> Vec<u8> {
    let reason = reason(status);
    let body = format!("{status} {reason} (injected by chaosdeck's fault proxy)\n");
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: {connection}\r\nX-Chaosdeck-Fault: http_error\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !is_head {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        511 => "Network Authentication Required",
        _ => "Server Error",
    }
}

fn lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    head.split(|&b| b == b'\n').map(trim_cr)
}

/// `name: value` pairs up to the empty line; `None` on a malformed line.
fn headers<'a>(lines: impl Iterator<Item = &'a [u8]>) -> Option<Vec<(&'a [u8], &'a [u8])>> {
    let mut out = Vec::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        let colon = line.iter().position(|&b| b == b':')?;
        out.push((trim(&line[..colon]), trim(&line[colon + 1..])));
    }
    Some(out)
}

/// One `Content-Length` value; repeated headers must agree.
fn merge_length(previous: Option<u64>, value: &[u8]) -> Option<u64> {
    let length: u64 = std::str::from_utf8(value).ok()?.parse().ok()?;
    match previous {
        Some(p) if p != length => None,
        _ => Some(length),
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}
