//! The network half of the probes: a TCP connect that tries every address a name
//! resolves to, and a tiny HTTP/1.1 GET client over it (one request,
//! `Connection: close`, the body read by `Content-Length`, by chunks or until close,
//! and cut at [`BODY_CAP`]). Errors are short phrases a probe can show as they are.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The most of a body the HTTP probe reads; the rest is never fetched.
pub const BODY_CAP: usize = 64 * 1024;
/// The longest status line, header line or chunk-size line accepted.
const LINE_CAP: u64 = 8 * 1024;
/// The most header lines accepted in one response.
const MAX_HEADERS: usize = 100;

/// A parsed `http://host[:port]/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// As written, brackets kept for IPv6 (`[::1]`).
    pub host: String,
    pub port: u16,
    /// The path and query, starting with `/`.
    pub path: String,
}

impl HttpUrl {
    /// Parses an `http://` URL; other schemes, credentials and bad ports are errors.
    pub fn parse(url: &str) -> Result<HttpUrl, String> {
        let url = url.trim();
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                return Err(format!(
                    "only http:// URLs are supported, not {scheme}:// (put a plain-HTTP \
                     health endpoint or the fault proxy in front)"
                ))
            }
            None => {
                return Err(format!(
                    "\"{url}\" is not a URL; expected http://HOST[:PORT]/PATH"
                ))
            }
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err("credentials in a probe URL are not supported".to_string());
        }
        let (host, port) = split_host_port(authority)?;
        let path = match path {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        Ok(HttpUrl { host, port, path })
    }

    /// `host:port`, for connecting.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The `Host` header: the port only when it is not 80.
    fn host_header(&self) -> String {
        if self.port == 80 {
            self.host.clone()
        } else {
            self.addr()
        }
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; port 80 when none is given.
fn split_host_port(authority: &str) -> Result<(String, u16), String> {
    let (host, port) = if authority.starts_with('[') {
        match authority.find(']') {
            Some(end) => {
                let (host, rest) = authority.split_at(end + 1);
                (host, rest.strip_prefix(':'))
            }
            None => return Err(format!("unclosed \"[\" in the host \"{authority}\"")),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err("the URL names no host".to_string());
    }
    let port = match port {
        None => 80,
        Some(text) => text
            .parse()
            .map_err(|_| format!("bad port \"{text}\"; expected 1 to 65535"))?,
    };
    Ok((host.to_string(), port))
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// At most [`BODY_CAP`] bytes.
    pub body: Vec<u8>,
}

/// The headers that decide how the body is read.
struct Head {
    status: u16,
    content_length: Option<u64>,
    chunked: bool,
}

/// Sends `GET` for `url` and reads the answer.
pub async fn get(url: &HttpUrl) -> Result<HttpResponse, String> {
    let mut stream = connect(&url.addr()).await?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: chaosdeck-probe\r\n\r\n",
        url.path,
        url.host_header()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("sending the request: {}", io_detail(&e)))?;
    let mut reader = BufReader::new(stream);
    let head = loop {
        let head = read_head(&mut reader).await?;
        // An interim answer (100 Continue) comes before the real one.
        if !(100..200).contains(&head.status) {
            break head;
        }
    };
    let body = match head.status {
        204 | 304 => Vec::new(),
        _ => read_body(&mut reader, &head).await?,
    };
    Ok(HttpResponse {
        status: head.status,
        body,
    })
}

/// Connects to `HOST:PORT`, trying each address the name resolves to.
pub async fn connect(addr: &str) -> Result<TcpStream, String> {
    let addrs = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| format!("cannot resolve \"{addr}\": {}", io_detail(&e)))?;
    let mut last = format!("\"{addr}\" resolves to no address");
    for candidate in addrs {
        match TcpStream::connect(candidate).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = io_detail(&e),
        }
    }
    Err(last)
}

/// An I/O error as a short phrase: `connection refused`, `connection reset`.
pub fn io_detail(error: &io::Error) -> String {
    let phrase = match error.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused",
        io::ErrorKind::ConnectionReset => "connection reset",
        io::ErrorKind::ConnectionAborted => "connection aborted",
        io::ErrorKind::TimedOut => "timed out",
        io::ErrorKind::HostUnreachable => "host unreachable",
        io::ErrorKind::NetworkUnreachable => "network unreachable",
        io::ErrorKind::UnexpectedEof => "connection closed before the answer ended",
        io::ErrorKind::NotFound => "not found",
        io::ErrorKind::PermissionDenied => "permission denied",
        _ => {
            let text = error.to_string();
            return match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
        }
    };
    phrase.to_string()
}

/// The status line and headers.
async fn read_head<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<Head, String> {
    let line = read_line(reader)
        .await?
        .ok_or("connection closed without an answer")?;
    let status = parse_status_line(&line)?;
    let mut head = Head {
        status,
        content_length: None,
        chunked: false,
    };
    for _ in 0..=MAX_HEADERS {
        let line = read_line(reader)
            .await?
            .ok_or("connection closed in the headers")?;
        if line.is_empty() {
            return Ok(head);
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let length = value
                .parse()
                .map_err(|_| format!("bad Content-Length \"{}\"", shorten(value)))?;
            head.content_length = Some(length);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    Err(format!("more than {MAX_HEADERS} header lines"))
}

/// `HTTP/1.1 200 OK` → 200.
fn parse_status_line(line: &str) -> Result<u16, String> {
    let mut words = line.split_whitespace();
    let version = words.next().unwrap_or_default();
    let code = words.next().unwrap_or_default();
    match code.parse() {
        Ok(status) if version.starts_with("HTTP/") && code.len() == 3 => Ok(status),
        _ => Err(format!("not an HTTP answer: \"{}\"", shorten(line))),
    }
}

/// The body, at most [`BODY_CAP`] bytes of it.
async fn read_body<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    head: &Head,
) -> Result<Vec<u8>, String> {
    let cap = BODY_CAP as u64;
    if head.chunked {
        return read_chunked(reader).await;
    }
    let mut body = Vec::new();
    let want = head.content_length.map_or(cap, |length| length.min(cap));
    let got = (&mut *reader)
        .take(want)
        .read_to_end(&mut body)
        .await
        .map_err(|e| format!("reading the body: {}", io_detail(&e)))?;
    if head.content_length.is_some() && (got as u64) < want {
        return Err(format!(
            "connection closed after {got} of {want} body bytes"
        ));
    }
    Ok(body)
}

/// A chunked body: `size-in-hex\r\n data \r\n` until a zero size.
async fn read_chunked<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)
            .await?
            .ok_or("connection closed in a chunked body")?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = u64::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size \"{}\"", shorten(size_text)))?;
        if size == 0 {
            return Ok(body);
        }
        let room = (BODY_CAP - body.len()) as u64;
        let want = size.min(room);
        let got = (&mut *reader)
            .take(want)
            .read_to_end(&mut body)
            .await
            .map_err(|e| format!("reading the body: {}", io_detail(&e)))?;
        if (got as u64) < want {
            return Err("connection closed in a chunk".to_string());
        }
        if want < size {
            return Ok(body); // capped: the rest is never read
        }
        read_line(reader).await?; // the CRLF after the data
    }
}

/// One line without its CRLF; `None` at the end of the stream.
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<Option<String>, String> {
    let mut line = Vec::new();
    let read = (&mut *reader)
        .take(LINE_CAP)
        .read_until(b'\n', &mut line)
        .await
        .map_err(|e| format!("reading the answer: {}", io_detail(&e)))?;
    if read == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(if read as u64 == LINE_CAP {
            format!("a line of the answer is longer than {LINE_CAP} bytes")
        } else {
            "connection closed in the middle of a line".to_string()
        });
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// At most 60 characters of `text`, for messages.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(host: &str, port: u16, path: &str) -> HttpUrl {
        let (host, path) = (host.to_string(), path.to_string());
        HttpUrl { host, port, path }
    }

    #[test]
    fn urls_parse_with_default_port_and_path() {
        let cases = [
            ("http://example.com", url("example.com", 80, "/")),
            (
                "http://127.0.0.1:8080/health",
                url("127.0.0.1", 8080, "/health"),
            ),
            ("HTTP://h?x=1#frag", url("h", 80, "/?x=1")),
            ("http://[::1]:9000/a/b?c", url("[::1]", 9000, "/a/b?c")),
        ];
        for (text, expected) in cases {
            assert_eq!(HttpUrl::parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        let cases = [
            ("https://example.com/", "only http:// URLs are supported"),
            ("example.com/health", "expected http://HOST[:PORT]/PATH"),
            ("http://h:99999/", "bad port \"99999\""),
            ("http:///x", "names no host"),
            ("http://u:secret@h/", "credentials"),
        ];
        for (text, wanted) in cases {
            let err = HttpUrl::parse(text).unwrap_err();
            assert!(err.contains(wanted), "{text}: {err}");
            assert!(!err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn status_lines_give_their_code() {
        assert_eq!(
            parse_status_line("HTTP/1.1 503 Service Unavailable"),
            Ok(503)
        );
        assert_eq!(parse_status_line("HTTP/1.0 200"), Ok(200));
        assert!(parse_status_line("SSH-2.0-OpenSSH_9.6").is_err());
    }
}
