//! A Docker client over the local Unix socket that keeps its connections open
//! between requests.
//!
//! bollard's own Unix transport turns connection pooling off, so every request opens
//! and closes a socket to the engine. Probes and samplers ask Docker several times a
//! second, and on a virtual machine each new connection costs more CPU than the
//! request itself (BENCHMARKS.md, "Engine CPU"). This transport is the same hyper
//! client over the same socket with pooling left on; streams (stats, logs, builds)
//! hold their connection while they run, as before.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bollard::{BollardRequest, Docker, API_DEFAULT_VERSION};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use hyperlocal::UnixConnector;

/// How long an idle connection stays open for the next request.
const IDLE: Duration = Duration::from_secs(30);
/// bollard's default: how long one request may take.
const REQUEST_TIMEOUT_SECS: u64 = 120;

/// The socket path when `host` (a `DOCKER_HOST` value, or none) names a local Unix
/// socket; other hosts (TCP, TLS) are left to bollard.
pub fn unix_socket_path(host: Option<&str>) -> Option<&str> {
    match host {
        None => Some("/var/run/docker.sock"),
        Some(host) => host.strip_prefix("unix://"),
    }
}

/// A client for the engine listening on the Unix socket at `path`.
pub fn connect_unix(path: &str) -> Result<Docker, bollard::errors::Error> {
    if !Path::new(path).exists() {
        return Err(bollard::errors::Error::SocketNotFoundError(
            path.to_string(),
        ));
    }
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(IDLE)
        .build(UnixConnector);
    let client = Arc::new(client);
    let transport = move |request: BollardRequest| {
        let client = Arc::clone(&client);
        async move {
            client
                .request(request)
                .await
                .map_err(bollard::errors::Error::from)
        }
    };
    // Requests go to `unix://<hex of the path>/…`, the address hyperlocal reads.
    Docker::connect_with_custom_transport(
        transport,
        Some(format!("unix://{}", hex(path))),
        REQUEST_TIMEOUT_SECS,
        API_DEFAULT_VERSION,
    )
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unix_hosts_use_the_kept_socket() {
        assert_eq!(unix_socket_path(None), Some("/var/run/docker.sock"));
        assert_eq!(
            unix_socket_path(Some("unix:///run/user/1000/docker.sock")),
            Some("/run/user/1000/docker.sock")
        );
        assert_eq!(unix_socket_path(Some("tcp://127.0.0.1:2375")), None);
    }

    #[test]
    fn the_socket_path_is_hex_encoded_as_hyperlocal_reads_it() {
        assert_eq!(hex("/a.sock"), "2f612e736f636b");
    }

    #[test]
    fn a_missing_socket_is_named() {
        let Err(e) = connect_unix("/nonexistent/docker.sock") else {
            panic!("connected to a missing socket");
        };
        assert!(e.to_string().contains("/nonexistent/docker.sock"), "{e}");
    }
}
