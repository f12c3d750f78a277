//! PostgreSQL sessions over TLS as `sslmode` asks, against a real throwaway cluster
//! with a self-signed certificate made at test time with the `openssl` CLI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use chaosdeck::driver::postgres::PgConnSpec;
use chaosdeck::driver::DriverError;
use chaosdeck::lab::{PgCluster, PgClusterOptions};

/// A self-signed certificate and its key, in a directory the server user can read.
struct Certs {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
}

/// The uid and gid the lab runs the server as: `nobody` when we are root.
fn server_user() -> Option<(u32, u32)> {
    if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&"nobody") && f.len() > 3)
        .map(|f| (f[2].parse().unwrap(), f[3].parse().unwrap()))
}

/// Makes a self-signed certificate for `localhost` and 127.0.0.1.
fn self_signed() -> Certs {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cert = dir.path().join("server.crt");
    let key = dir.path().join("server.key");
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("the openssl CLI makes the test certificate: apt-get install openssl");
    assert!(
        out.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::set_permissions(&cert, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    if let Some((uid, gid)) = server_user() {
        std::os::unix::fs::chown(&key, Some(uid), Some(gid)).unwrap();
    }
    Certs {
        _dir: dir,
        cert,
        key,
    }
}

/// A cluster with `ssl = on` serving `certs`.
fn tls_cluster(certs: &Certs) -> Option<PgCluster> {
    support::pg_cluster_with(
        PgClusterOptions::default()
            .setting("ssl", "on")
            .setting("ssl_cert_file", certs.cert.display().to_string())
            .setting("ssl_key_file", certs.key.display().to_string()),
    )
}

/// The cluster's connection string with `host=127.0.0.1` swapped for `host`, plus `extra`.
fn conn(cluster: &PgCluster, host: &str, extra: &str) -> String {
    let base = cluster
        .conn_string()
        .replace("host=127.0.0.1", &format!("host={host}"));
    format!("{base} {extra}")
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// Connects as the console does and asks whether the session is encrypted.
async fn session_ssl(text: &str) -> Result<bool, DriverError> {
    let spec = PgConnSpec::parse(text)?;
    let client = spec.connect_plain("chaosdeck:test").await?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    Ok(row.get(0))
}

fn assert_clear(err: &DriverError, wants: &[&str]) {
    let text = err.to_string();
    assert!(!text.contains("testpass"), "{text}");
    assert!(text.contains("password=***"), "{text}");
    for want in wants {
        assert!(text.contains(want), "{text} should mention {want}");
    }
}

#[tokio::test]
async fn require_encrypts_without_checking_the_certificate() {
    let certs = self_signed();
    let Some(cluster) = tls_cluster(&certs) else {
        return;
    };
    // The certificate is self-signed and not trusted anywhere: require does not care.
    assert!(session_ssl(&conn(&cluster, "127.0.0.1", "sslmode=require"))
        .await
        .unwrap());
    assert!(session_ssl(&format!("{}?sslmode=require", cluster.url()))
        .await
        .unwrap());
    // libpq's default, prefer, takes TLS when the server offers it.
    assert!(session_ssl(&cluster.conn_string()).await.unwrap());
}

#[tokio::test]
async fn verify_full_accepts_a_certificate_from_the_given_root() {
    let certs = self_signed();
    let Some(cluster) = tls_cluster(&certs) else {
        return;
    };
    let root = format!("sslrootcert={}", path(&certs.cert));
    let text = conn(
        &cluster,
        "localhost",
        &format!("sslmode=verify-full {root}"),
    );
    assert!(session_ssl(&text).await.unwrap());
    // The certificate also names 127.0.0.1.
    let text = conn(
        &cluster,
        "127.0.0.1",
        &format!("sslmode=verify-full {root}"),
    );
    assert!(session_ssl(&text).await.unwrap());

    // A name the certificate does not carry: verify-ca accepts, verify-full refuses.
    let other_name = "db.invalid hostaddr=127.0.0.1";
    let text = conn(&cluster, other_name, &format!("sslmode=verify-ca {root}"));
    assert!(session_ssl(&text).await.unwrap());
    let text = conn(&cluster, other_name, &format!("sslmode=verify-full {root}"));
    let err = session_ssl(&text).await.unwrap_err();
    assert_clear(&err, &["sslmode=verify-full", "db.invalid"]);
}

#[tokio::test]
async fn verify_full_refuses_a_certificate_from_another_root() {
    let certs = self_signed();
    let stranger = self_signed();
    let Some(cluster) = tls_cluster(&certs) else {
        return;
    };
    let wrong_root = format!("sslrootcert={}", path(&stranger.cert));
    for mode in ["verify-full", "verify-ca", "require"] {
        let text = conn(
            &cluster,
            "localhost",
            &format!("sslmode={mode} {wrong_root}"),
        );
        let err = session_ssl(&text).await.unwrap_err();
        assert!(matches!(err, DriverError::Unreachable { .. }), "{err:?}");
        // require with a root certificate file checks the chain, as in libpq.
        let shown = if mode == "require" { "verify-ca" } else { mode };
        assert_clear(
            &err,
            &[
                &format!("port={}", cluster.port()),
                "TLS handshake",
                "not among the trusted roots",
                &format!("sslmode={shown} against {wrong_root}"),
            ],
        );
    }
}

#[tokio::test]
async fn disable_stays_plain_on_a_tls_server() {
    let certs = self_signed();
    let Some(cluster) = tls_cluster(&certs) else {
        return;
    };
    assert!(
        !session_ssl(&conn(&cluster, "127.0.0.1", "sslmode=disable"))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn require_fails_clearly_against_a_server_without_tls() {
    let Some(cluster) = support::pg_cluster() else {
        return;
    };
    let err = session_ssl(&conn(&cluster, "127.0.0.1", "sslmode=require"))
        .await
        .unwrap_err();
    assert_clear(&err, &["server does not support TLS", "sslmode=require"]);
    // prefer falls back to a plain session.
    assert!(!session_ssl(&cluster.conn_string()).await.unwrap());
}

#[tokio::test]
async fn client_certificates_are_refused_by_name() {
    let err =
        PgConnSpec::parse("host=db password=testpass sslcert=/c.pem sslkey=/k.pem").unwrap_err();
    assert!(matches!(err, DriverError::Input(_)), "{err:?}");
    assert_clear(&err, &["sslcert is not supported"]);
}
