//! TLS for PostgreSQL sessions, through rustls with the `ring` provider, following
//! libpq's `sslmode` and `sslrootcert`.
//!
//! tokio-postgres knows only `sslmode=disable|prefer|require` and rejects any other
//! TLS key, so [`split_tls_options`] takes `sslmode`, `sslrootcert` and the client
//! certificate keys out of the connection string first and the rest goes to
//! tokio-postgres. What each mode means, as in libpq:
//!
//! | `sslmode` | TLS | server certificate |
//! | --- | --- | --- |
//! | `disable` | never | — |
//! | `allow`, `prefer` (default) | when the server offers it, else plain | not checked |
//! | `require` | always | not checked, unless `sslrootcert` names a file: then as `verify-ca` |
//! | `verify-ca` | always | chain to a trusted root; the host name is not checked |
//! | `verify-full` | always | chain to a trusted root and valid for the host name |
//!
//! Trusted roots are the PEM certificates in `sslrootcert=<file>`, else the system's
//! store (`sslrootcert=system` names it explicitly and, as in libpq, demands
//! `verify-full`). Client certificates (`sslcert`, `sslkey`) are not supported.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_name, WebPkiServerVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Disable,
    /// `allow` and `prefer`: TLS when the server offers it, certificate unchecked.
    Prefer,
    /// TLS always, certificate unchecked.
    Require,
    /// TLS always, certificate chain checked, host name not.
    VerifyCa,
    /// TLS always, certificate chain and host name checked.
    VerifyFull,
}

impl TlsMode {
    /// The libpq spelling.
    pub fn name(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }

    /// What tokio-postgres is told: whether it may fall back to a plain session.
    pub fn ssl_mode(self) -> SslMode {
        match self {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        }
    }
}

/// Where trusted root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootSource {
    /// PEM certificates in a file (`sslrootcert=<file>`).
    File(PathBuf),
    /// The system's certificate store.
    System,
}

impl RootSource {
    fn describe(&self) -> String {
        match self {
            RootSource::File(path) => format!("sslrootcert={}", path.display()),
            RootSource::System => "the system's trusted roots".to_string(),
        }
    }
}

/// The TLS settings of one connection string, and the rustls configuration built from
/// them on first use.
#[derive(Clone)]
pub struct TlsSettings {
    pub mode: TlsMode,
    /// Trusted roots, for the verifying modes.
    pub roots: RootSource,
    config: Arc<OnceLock<Result<Arc<ClientConfig>, String>>>,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("mode", &self.mode)
            .field("roots", &self.roots)
            .finish_non_exhaustive()
    }
}

impl TlsSettings {
    fn new(mode: TlsMode, roots: RootSource) -> TlsSettings {
        TlsSettings {
            mode,
            roots,
            config: Arc::new(OnceLock::new()),
        }
    }

    /// A short note for error messages: the mode and what it checks against.
    pub fn describe(&self) -> String {
        match self.mode {
            TlsMode::VerifyCa | TlsMode::VerifyFull => {
                format!(
                    "sslmode={} against {}",
                    self.mode.name(),
                    self.roots.describe()
                )
            }
            mode => format!("sslmode={}", mode.name()),
        }
    }

    /// The rustls client configuration for this mode (`None` for `disable`), built
    /// once and shared by every session of the same target.
    pub fn client_config(&self) -> Result<Option<Arc<ClientConfig>>, String> {
        if self.mode == TlsMode::Disable {
            return Ok(None);
        }
        self.config
            .get_or_init(|| build_client_config(self.mode, &self.roots).map(Arc::new))
            .clone()
            .map(Some)
    }
}

fn build_client_config(mode: TlsMode, roots: &RootSource) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => {
            Arc::new(AnyCertificate::new(&provider))
        }
        TlsMode::VerifyCa | TlsMode::VerifyFull => {
            let (store, anchors) = load_roots(roots)?;
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                    .build()
                    .map_err(|e| format!("cannot use {}: {e}", roots.describe()))?;
            Arc::new(RootVerifier {
                webpki,
                anchors,
                check_name: mode == TlsMode::VerifyFull,
            })
        }
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    // As libpq 17 does; PostgreSQL 17 insists on it for direct TLS negotiation and
    // older servers ignore it.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(config)
}

/// The trusted roots, and the certificates of a root file (for [`RootVerifier`]).
fn load_roots(roots: &RootSource) -> Result<(RootCertStore, Vec<CertificateDer<'static>>), String> {
    let mut store = RootCertStore::empty();
    match roots {
        RootSource::File(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|iter| iter.collect::<Result<_, _>>())
                .map_err(|e| format!("cannot read sslrootcert={}: {e}", path.display()))?;
            let (added, _ignored) = store.add_parsable_certificates(certs.iter().cloned());
            if added == 0 {
                return Err(format!(
                    "sslrootcert={} holds no usable PEM certificate",
                    path.display()
                ));
            }
            Ok((store, certs))
        }
        RootSource::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _ignored) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map_or_else(|| "none found".to_string(), ToString::to_string);
                return Err(format!(
                    "no system trusted root certificates ({why}); name a CA file with sslrootcert=<file>"
                ));
            }
            Ok((store, Vec::new()))
        }
    }
}

/// `sslmode=prefer|require`: libpq encrypts but does not authenticate the server, so
/// any certificate is accepted. The handshake signatures are still checked with the
/// provider's algorithms, so the server must hold the key of the certificate it sent:
/// this keeps the session encrypted to whoever answered, nothing more. Use
/// `verify-ca` or `verify-full` to know who that is.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AnyCertificate {
    fn new(provider: &CryptoProvider) -> AnyCertificate {
        AnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca` and `verify-full`: rustls's WebPKI check, with two changes
/// that make it agree with libpq:
///
/// - `verify-ca` accepts a certificate valid for another name. rustls checks the
///   chain (and validity dates) before the name, so a name error means the chain was
///   good.
/// - A server certificate that is itself one of the `sslrootcert` certificates is
///   trusted even when it is marked as a CA. That is PostgreSQL's documented
///   self-signed setup (`openssl req -x509` marks the certificate `CA:TRUE`, and the
///   same file serves as the server certificate and the client's root), which WebPKI
///   refuses as `CaUsedAsEndEntity`. WebPKI checks validity dates before that, so an
///   expired certificate is still refused; the name is then checked separately.
#[derive(Debug)]
struct RootVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    /// The certificates of the `sslrootcert` file (empty for the system's roots).
    anchors: Vec<CertificateDer<'static>>,
    check_name: bool,
}

impl RootVerifier {
    fn is_ca_as_end_entity(error: &rustls::Error) -> bool {
        matches!(
            error,
            rustls::Error::InvalidCertificate(CertificateError::Other(other))
                if format!("{other:?}").contains("CaUsedAsEndEntity")
        )
    }

    fn is_anchor_used_as_server(
        &self,
        end_entity: &CertificateDer<'_>,
        error: &rustls::Error,
    ) -> bool {
        Self::is_ca_as_end_entity(error)
            && self
                .anchors
                .iter()
                .any(|anchor| anchor.as_ref() == end_entity.as_ref())
    }
}

impl ServerCertVerifier for RootVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(e) if self.is_anchor_used_as_server(end_entity, &e) => {
                if self.check_name {
                    let parsed = ParsedCertificate::try_from(end_entity)?;
                    verify_server_name(&parsed, server_name)?;
                }
                Ok(ServerCertVerified::assertion())
            }
            Err(e) if Self::is_ca_as_end_entity(&e) => Err(rustls::Error::General(
                "the server's certificate is a CA certificate (CA:TRUE) that is not among \
                 the trusted roots"
                    .to_string(),
            )),
            other => other,
        };
        match verified {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// TLS keys tokio-postgres does not understand and chaosdeck does not support.
const UNSUPPORTED: [&str; 5] = ["sslcert", "sslkey", "sslpassword", "sslcrl", "sslcrldir"];

/// Takes the TLS keys out of a libpq string or URL: the rest of the string (for
/// tokio-postgres) and the TLS settings. Errors name only key names and `sslmode`
/// values, never other parts of the string.
pub fn split_tls_options(text: &str) -> Result<(String, TlsSettings), String> {
    let trimmed = text.trim();
    let (rest, pairs) =
        if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
            split_url(trimmed)
        } else {
            split_key_values(trimmed)
        };
    let mut mode = None;
    let mut root_cert = None;
    for (key, value) in pairs {
        match key.as_str() {
            "sslmode" => {
                mode = Some(match value.as_str() {
                    "disable" => TlsMode::Disable,
                    "allow" | "prefer" => TlsMode::Prefer,
                    "require" => TlsMode::Require,
                    "verify-ca" => TlsMode::VerifyCa,
                    "verify-full" => TlsMode::VerifyFull,
                    other => {
                        return Err(format!(
                            "sslmode=\"{other}\" is not one of disable, allow, prefer, require, \
                             verify-ca, verify-full"
                        ))
                    }
                });
            }
            "sslrootcert" => root_cert = Some(value),
            key => {
                return Err(format!(
                    "{key} is not supported: chaosdeck does not present client certificates; \
                     remove {key} and log in with a password"
                ))
            }
        }
    }
    let settings = match root_cert.as_deref() {
        Some("system") => match mode {
            None | Some(TlsMode::VerifyFull) => {
                TlsSettings::new(TlsMode::VerifyFull, RootSource::System)
            }
            Some(other) => {
                return Err(format!(
                    "sslrootcert=system needs sslmode=verify-full, not sslmode={}",
                    other.name()
                ))
            }
        },
        Some("") | None => TlsSettings::new(mode.unwrap_or(TlsMode::Prefer), RootSource::System),
        Some(file) => {
            let roots = RootSource::File(PathBuf::from(file));
            match mode {
                // libpq: with a root certificate file, require behaves as verify-ca.
                Some(TlsMode::Require) => TlsSettings::new(TlsMode::VerifyCa, roots),
                mode => TlsSettings::new(mode.unwrap_or(TlsMode::Prefer), roots),
            }
        }
    };
    Ok((rest, settings))
}

fn is_tls_key(key: &str) -> bool {
    key == "sslmode" || key == "sslrootcert" || UNSUPPORTED.contains(&key)
}

/// Splits a URL's query: the URL without the TLS parameters, and those parameters
/// percent-decoded.
fn split_url(url: &str) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), Vec::new());
    };
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(key);
        if is_tls_key(&key) {
            taken.push((key, percent_decode(value)));
        } else {
            kept.push(pair);
        }
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (rest, taken)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a libpq key/value string: the string without the TLS keys, and those keys
/// with their unquoted values. Stops at the first malformed item and leaves the rest
/// to tokio-postgres, which reports it.
fn split_key_values(text: &str) -> (String, Vec<(String, String)>) {
    let mut kept: Vec<&str> = Vec::new();
    let mut taken = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let Some((key, value, len)) = next_key_value(rest) else {
            kept.push(rest);
            break;
        };
        if is_tls_key(&key) {
            taken.push((key, value));
        } else {
            kept.push(&rest[..len]);
        }
        rest = rest[len..].trim_start();
    }
    (kept.join(" "), taken)
}

/// The first `key = value` item of `text` (which starts at the key): its key, its
/// unescaped value and its length in bytes.
fn next_key_value(text: &str) -> Option<(String, String, usize)> {
    let key_end = text.find(|c: char| c == '=' || c.is_whitespace())?;
    let key = &text[..key_end];
    if key.is_empty() {
        return None;
    }
    let after_key = &text[key_end..];
    let after_eq = after_key.trim_start().strip_prefix('=')?;
    let value_text = after_eq.trim_start();
    let value_at = text.len() - value_text.len();
    let mut value = String::new();
    let mut chars = value_text.char_indices();
    let end = if value_text.starts_with('\'') {
        chars.next();
        let mut close = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => value.extend(chars.next().map(|(_, c)| c)),
                '\'' => {
                    close = Some(i + 1);
                    break;
                }
                c => value.push(c),
            }
        }
        close?
    } else {
        let mut end = value_text.len();
        while let Some((i, c)) = chars.next() {
            match c {
                c if c.is_whitespace() => {
                    end = i;
                    break;
                }
                '\\' => value.extend(chars.next().map(|(_, c)| c)),
                c => value.push(c),
            }
        }
        end
    };
    Some((key.to_string(), value, value_at + end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> (String, TlsMode, RootSource) {
        let (rest, settings) = split_tls_options(text).unwrap();
        (rest, settings.mode, settings.roots)
    }

    #[test]
    fn takes_tls_keys_out_of_key_value_strings() {
        let (rest, mode, roots) = split(
            "host=db sslmode = verify-full password='a b\\' c' sslrootcert='/etc/my ca.pem' user=x",
        );
        assert_eq!(rest, "host=db password='a b\\' c' user=x");
        assert_eq!(mode, TlsMode::VerifyFull);
        assert_eq!(roots, RootSource::File(PathBuf::from("/etc/my ca.pem")));

        let (rest, mode, _) = split("host=db port=5432");
        assert_eq!(rest, "host=db port=5432");
        assert_eq!(mode, TlsMode::Prefer);

        assert_eq!(split("sslmode=disable host=db").1, TlsMode::Disable);
        assert_eq!(split("sslmode=allow").1, TlsMode::Prefer);
        assert_eq!(split("sslmode=require").1, TlsMode::Require);
        assert_eq!(split("sslmode=verify-ca").1, TlsMode::VerifyCa);
    }

    #[test]
    fn takes_tls_keys_out_of_urls() {
        let (rest, mode, roots) = split(
            "postgres://u:p@db/shop?sslmode=verify-ca&application_name=x&sslrootcert=%2Fca.pem",
        );
        assert_eq!(rest, "postgres://u:p@db/shop?application_name=x");
        assert_eq!(mode, TlsMode::VerifyCa);
        assert_eq!(roots, RootSource::File(PathBuf::from("/ca.pem")));
        let (rest, mode, _) = split("postgresql://db/shop?sslmode=require");
        assert_eq!(rest, "postgresql://db/shop");
        assert_eq!(mode, TlsMode::Require);
    }

    #[test]
    fn follows_libpq_on_root_certificates() {
        // require with a CA file checks the chain, as in libpq.
        let (_, mode, _) = split("host=db sslmode=require sslrootcert=/ca.pem");
        assert_eq!(mode, TlsMode::VerifyCa);
        let (_, mode, roots) = split("host=db sslrootcert=system");
        assert_eq!((mode, roots), (TlsMode::VerifyFull, RootSource::System));
        let err = split_tls_options("host=db sslmode=require sslrootcert=system").unwrap_err();
        assert!(err.contains("verify-full"), "{err}");
    }

    #[test]
    fn refuses_client_certificates_and_unknown_modes() {
        let err = split_tls_options("host=db sslcert=/c.pem password=hunter2").unwrap_err();
        assert!(err.starts_with("sslcert is not supported"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = split_tls_options("postgres://db?sslkey=/k.pem").unwrap_err();
        assert!(err.starts_with("sslkey is not supported"), "{err}");
        let err = split_tls_options("sslmode=always").unwrap_err();
        assert!(err.contains("sslmode=\"always\""), "{err}");
    }

    #[test]
    fn builds_a_client_config_per_mode() {
        for text in ["sslmode=prefer", "sslmode=require"] {
            let (_, settings) = split_tls_options(text).unwrap();
            assert!(settings.client_config().unwrap().is_some());
        }
        let (_, settings) = split_tls_options("sslmode=disable").unwrap();
        assert!(settings.client_config().unwrap().is_none());
        let (_, settings) =
            split_tls_options("sslmode=verify-full sslrootcert=/nonexistent/ca.pem").unwrap();
        let err = settings.client_config().unwrap_err();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("%2Fa%20b%"), "/a b%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
