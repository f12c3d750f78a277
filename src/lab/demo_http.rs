//! The bare HTTP/1.1 the demo service speaks: one request per connection, read with a
//! deadline and size caps, one answer with `Content-Length` and `Connection: close`.
//! Enough for the load generator, probes and curl; nothing more.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most bytes of request line and headers accepted.
const HEAD_CAP: usize = 8 * 1024;
/// The most bytes of request body accepted.
const BODY_CAP: usize = 4 * 1024;
/// How long a client may take to send its request.
pub(crate) const READ_DEADLINE: Duration = Duration::from_secs(2);
/// How long writing the answer may take.
const WRITE_DEADLINE: Duration = Duration::from_secs(1);

/// One request as the service routes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    /// `GET`, `POST`, … as sent.
    pub method: String,
    /// The path without its query string.
    pub path: String,
    pub body: Vec<u8>,
}

/// One answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub status: u16,
    /// `text/plain` or `application/json`.
    pub content_type: &'static str,
    pub body: String,
}

impl Reply {
    /// A plain-text answer; a newline is added to the body.
    pub fn text(status: u16, body: &str) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{body}\n"),
        }
    }

    /// A JSON answer.
    pub fn json(status: u16, body: String) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body,
        }
    }
}

/// Reads one request, or says in a few words why it could not.
pub(crate) async fn read_request(stream: &mut TcpStream) -> Result<Request, String> {
    let mut data = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(end) = find_head_end(&data) {
            break end;
        }
        if data.len() > HEAD_CAP {
            return Err("request head too large".into());
        }
        let mut chunk = [0u8; 2048];
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("reading the request: {e}"))?;
        if n == 0 {
            return Err("connection closed before the request ended".into());
        }
        data.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let (method, path, length) = parse_head(&head)?;
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 2048];
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("reading the body: {e}"))?;
        if n == 0 {
            return Err("connection closed before the body ended".into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok(Request { method, path, body })
}

/// Writes `reply` and closes the sending side; errors are the client's problem.
pub(crate) async fn write_reply(stream: &mut TcpStream, reply: &Reply) {
    let text = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        reply.status,
        reason_phrase(reply.status),
        reply.content_type,
        reply.body.len(),
        reply.body
    );
    let write = async {
        stream.write_all(text.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(WRITE_DEADLINE, write).await;
}

/// Where the blank line after the headers starts.
fn find_head_end(data: &[u8]) -> Option<usize> {
    data.windows(4).position(|w| w == b"\r\n\r\n")
}

/// The method, the path without query, and the body length from `Content-Length`.
fn parse_head(head: &str) -> Result<(String, String, usize), String> {
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut words = request_line.split(' ');
    let (Some(method), Some(target), Some(version)) = (words.next(), words.next(), words.next())
    else {
        return Err("malformed request line".into());
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() {
        return Err("malformed request line".into());
    }
    let path = target.split('?').next().unwrap_or_default().to_string();
    let mut length = 0;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("content-length") {
            length = value
                .trim()
                .parse()
                .map_err(|_| "bad Content-Length".to_string())?;
        }
    }
    if length > BODY_CAP {
        return Err("request body too large".into());
    }
    Ok((method.to_string(), path, length))
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_gives_method_path_and_length() {
        let head = "POST /orders?x=1 HTTP/1.1\r\nHost: a\r\ncontent-length: 12";
        assert_eq!(
            parse_head(head).unwrap(),
            ("POST".to_string(), "/orders".to_string(), 12)
        );
        let head = "GET /health HTTP/1.0\r\nHost: a";
        assert_eq!(
            parse_head(head).unwrap(),
            ("GET".to_string(), "/health".to_string(), 0)
        );
    }

    #[test]
    fn bad_heads_are_refused() {
        assert!(parse_head("GET /health").is_err());
        assert!(parse_head("GET /health SPDY/3").is_err());
        assert!(parse_head("POST / HTTP/1.1\r\nContent-Length: x").is_err());
        assert!(parse_head("POST / HTTP/1.1\r\nContent-Length: 999999").is_err());
    }

    #[test]
    fn the_head_ends_at_the_blank_line() {
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\nbody"), Some(14));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n"), None);
    }
}
