//! Connecting to a PostgreSQL target: libpq strings and `postgres://` URLs, TLS as
//! `sslmode` asks (see [`super::tls`]), the `application_name` tag on every session
//! chaosdeck opens, server-side failsafe timeouts, and target names with the password
//! masked.

use std::ops::Range;
use std::str::FromStr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, Config, NoTls, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::tls::{self, TlsMode, TlsSettings};
use crate::driver::DriverError;

/// How chaosdeck reaches one PostgreSQL server.
#[derive(Debug, Clone)]
pub struct PgConnSpec {
    config: Config,
    /// `sslmode` and the trusted roots, which tokio-postgres's parser does not take.
    tls: TlsSettings,
    /// The connection string as given, with the password masked.
    masked: String,
}

impl PgConnSpec {
    /// Parses a libpq key/value string (`host=… port=… password=…`) or a URL
    /// (`postgres://user:pass@host:port/db`).
    ///
    /// `sslmode` (`disable`, `allow`, `prefer`, `require`, `verify-ca`, `verify-full`)
    /// and `sslrootcert` mean what they mean to libpq; client certificates are refused.
    pub fn parse(text: &str) -> Result<PgConnSpec, DriverError> {
        let masked = mask_password(text);
        let (rest, tls) = tls::split_tls_options(text)
            .map_err(|e| DriverError::Input(format!("\"{masked}\": {e}")))?;
        let mut config = Config::from_str(&rest).map_err(|e| {
            DriverError::Input(format!(
                "invalid connection string \"{masked}\": {e}; expected \
                 \"host=localhost port=5432 dbname=app user=postgres password=…\" \
                 or postgres://user:password@host:port/dbname"
            ))
        })?;
        config.ssl_mode(tls.mode.ssl_mode());
        Ok(PgConnSpec {
            config,
            tls,
            masked,
        })
    }

    /// The `sslmode` in force (`prefer` when the string names none).
    pub fn tls_mode(&self) -> TlsMode {
        self.tls.mode
    }

    /// The connection string for people: password replaced by `***`.
    pub fn masked(&self) -> &str {
        &self.masked
    }

    /// The connection string with no password at all, for the journal.
    pub fn without_password(&self) -> String {
        let mut parts = Vec::new();
        for host in self.config.get_hosts() {
            if let tokio_postgres::config::Host::Tcp(h) = host {
                parts.push(format!("host={}", quote_value(h)));
            }
        }
        if let Some(port) = self.config.get_ports().first() {
            parts.push(format!("port={port}"));
        }
        if let Some(db) = self.config.get_dbname() {
            parts.push(format!("dbname={}", quote_value(db)));
        }
        parts.push(format!("user={}", quote_value(self.user())));
        parts.join(" ")
    }

    /// Takes the password from `PGPASSWORD` when the string carries none.
    pub fn with_env_password(mut self) -> PgConnSpec {
        if self.config.get_password().is_none() {
            if let Ok(password) = std::env::var("PGPASSWORD") {
                self.config.password(password);
            }
        }
        self
    }

    /// Whether `other` names the same server: the same hosts and ports (a missing
    /// port is libpq's 5432).
    pub fn same_server(&self, other: &PgConnSpec) -> bool {
        let ports = |spec: &PgConnSpec| match spec.config.get_ports() {
            [] => vec![5432],
            ports => ports.to_vec(),
        };
        self.config.get_hosts() == other.config.get_hosts() && ports(self) == ports(other)
    }

    /// The role chaosdeck connects as.
    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or("postgres")
    }

    pub fn dbname(&self) -> Option<&str> {
        self.config.get_dbname()
    }

    /// The same server, another database (for renaming the target database).
    pub fn with_dbname(&self, dbname: &str) -> PgConnSpec {
        let mut config = self.config.clone();
        config.dbname(dbname);
        PgConnSpec {
            config,
            tls: self.tls.clone(),
            masked: format!("{} (database {dbname})", self.masked),
        }
    }

    /// The same server, another role and password (for checking a login).
    pub fn with_login(&self, user: &str, password: &str) -> PgConnSpec {
        let mut config = self.config.clone();
        config.user(user).password(password);
        PgConnSpec {
            config,
            tls: self.tls.clone(),
            masked: format!("{} (as {user})", self.masked),
        }
    }

    /// Opens a session tagged `application_name` whose statements, idle
    /// transactions and lock waits end on the server after `failsafe` even if
    /// chaosdeck dies.
    pub async fn connect(
        &self,
        application_name: &str,
        failsafe: Duration,
    ) -> Result<Client, DriverError> {
        let mut config = self.config.clone();
        let ms = failsafe.as_millis().max(1);
        config
            .application_name(application_name)
            .connect_timeout(Duration::from_secs(5))
            .options(format!(
                "-c statement_timeout={ms} -c idle_in_transaction_session_timeout={ms} -c lock_timeout={ms}"
            ));
        self.open(config).await
    }

    /// Opens a session with no failsafe timeouts, for the console's own monitoring
    /// and for undo steps that must not be cut short.
    pub async fn connect_plain(&self, application_name: &str) -> Result<Client, DriverError> {
        let mut config = self.config.clone();
        config
            .application_name(application_name)
            .connect_timeout(Duration::from_secs(5));
        self.open(config).await
    }

    async fn open(&self, config: Config) -> Result<Client, DriverError> {
        let client_config = self
            .tls
            .client_config()
            .map_err(|e| DriverError::unreachable(&self.masked, e))?;
        match client_config {
            None => self.open_with(config, NoTls).await,
            Some(client_config) => {
                let connector = MakeRustlsConnect::new((*client_config).clone());
                self.open_with(config, connector).await
            }
        }
    }

    async fn open_with<T>(&self, config: Config, tls: T) -> Result<Client, DriverError>
    where
        T: MakeTlsConnect<Socket>,
        T::Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (client, connection) = config.connect(tls).await.map_err(|e| {
            let mut message = describe(&e);
            if self.tls.mode != TlsMode::Disable && message.contains("TLS") {
                message = format!("{message} ({})", self.tls.describe());
            }
            DriverError::unreachable(&self.masked, message)
        })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("postgres session ended: {e}");
            }
        });
        Ok(client)
    }
}

fn quote_value(value: &str) -> String {
    if !value.is_empty() && !value.contains([' ', '\'', '\\']) {
        return value.to_string();
    }
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A PostgreSQL error in one line, with its SQLSTATE when the server sent one.
pub fn describe(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text = format!("{text}: {inner}");
        source = inner.source();
    }
    text
}

/// The SQLSTATE of an error, if the server sent one.
pub fn sqlstate(error: &tokio_postgres::Error) -> Option<&str> {
    error.as_db_error().map(|db| db.code().code())
}

/// Replaces the password in a libpq string or URL with `***`.
pub fn mask_password(text: &str) -> String {
    let trimmed = text.trim();
    if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
        return mask_url(trimmed);
    }
    mask_key_values(trimmed)
}

fn mask_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some(("password", _)) => "password=***".to_string(),
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

fn mask_key_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(value) = next_password_value(rest) {
        out.push_str(&rest[..value.start]);
        out.push_str("***");
        rest = &rest[value.end..];
    }
    out.push_str(rest);
    out
}

/// The byte range of the value of the first `password` key in `text`: after the `=`
/// and the spaces libpq skips, as far as libpq reads it (see [`libpq_value_len`]).
pub(crate) fn next_password_value(text: &str) -> Option<Range<usize>> {
    let at = find_password_key(text)?;
    let after_key = &text[at..];
    let eq = after_key.find('=').map_or(after_key.len(), |i| i + 1);
    let value = &after_key[eq..];
    let start = at + eq + (value.len() - value.trim_start().len());
    Some(start..start + libpq_value_len(&text[start..]))
}

/// How many bytes of `value` (which starts right where a value starts) libpq reads
/// as the value. Unquoted, up to whitespace, a backslash taking the next character
/// with it (`Trail\ Secret` is one value); quoted, up to the closing quote, a
/// backslash again taking the next character (`'it\'s'`). An unterminated quote,
/// which libpq refuses, runs to the end. Only ASCII whitespace (C's `isspace`) ends
/// a value here, so a mask never stops short of what any parser reads.
pub(crate) fn libpq_value_len(value: &str) -> usize {
    let (quoted, body) = match value.strip_prefix('\'') {
        Some(body) => (true, body),
        None => (false, value),
    };
    let open = usize::from(quoted);
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '\'' if quoted => return open + i + 1,
            ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c' if !quoted => return i,
            _ => {}
        }
    }
    value.len()
}

/// Byte offset of a `password` key (followed by optional spaces and `=`).
fn find_password_key(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text[from..].find("password") {
        let at = from + i;
        let before_ok = at == 0 || text[..at].ends_with(char::is_whitespace);
        let after = text[at + "password".len()..].trim_start();
        if before_ok && after.starts_with('=') {
            return Some(at);
        }
        from = at + "password".len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords_in_every_spelling() {
        let cases = [
            (
                "host=localhost port=15432 dbname=testdb user=postgres password=testpass",
                "host=localhost port=15432 dbname=testdb user=postgres password=***",
            ),
            ("password = 'a b\\' c' host=x", "password = *** host=x"),
            ("host=x password=", "host=x password=***"),
            (
                "postgres://app:s3cret@db:5432/shop",
                "postgres://app:***@db:5432/shop",
            ),
            (
                "postgresql://db/shop?user=app&password=s3cret&sslmode=disable",
                "postgresql://db/shop?user=app&password=***&sslmode=disable",
            ),
            ("postgres://app@db/shop", "postgres://app@db/shop"),
        ];
        for (given, masked) in cases {
            assert_eq!(mask_password(given), masked, "{given}");
        }
    }

    #[test]
    fn escaped_and_quoted_values_are_masked_whole_and_what_follows_stays() {
        let cases = [
            (
                r"host=127.0.0.1 port=5432 user=spacey password=Trail\ Secret",
                "host=127.0.0.1 port=5432 user=spacey password=***",
            ),
            (r"password=a\ b user=x", "password=*** user=x"),
            ("password=a\\ \\ b\\\tc user=x", "password=*** user=x"),
            (r"password=it\'s user=x", "password=*** user=x"),
            (r"password=back\\ user=x", "password=*** user=x"),
            (r"password=back\\\ slash user=x", "password=*** user=x"),
            (r"password=ends\", "password=***"),
            ("password='a b' user=x", "password=*** user=x"),
            (r"password='it\'s a b' user=x", "password=*** user=x"),
            (r"password='a\\' user=x", "password=*** user=x"),
            (r"password='a\\\' b' user=x", "password=*** user=x"),
            ("password='never closed user=x", "password=***"),
            (
                r"password=a\ b host=h password='c d' dbname=e",
                "password=*** host=h password=*** dbname=e",
            ),
        ];
        for (given, masked) in cases {
            assert_eq!(mask_password(given), masked, "{given}");
        }
    }

    #[test]
    fn the_mask_covers_exactly_what_the_parser_reads_as_the_password() {
        let given = r"host=127.0.0.1 port=5432 user=spacey password=Trail\ Secret dbname=d";
        let spec = PgConnSpec::parse(given).unwrap();
        assert_eq!(spec.config.get_password(), Some(&b"Trail Secret"[..]));
        assert_eq!(spec.config.get_dbname(), Some("d"));
        assert_eq!(
            spec.masked(),
            "host=127.0.0.1 port=5432 user=spacey password=*** dbname=d"
        );
    }

    #[test]
    fn bad_strings_name_the_masked_input() {
        let err = PgConnSpec::parse("host=x password=hunter2 bogus").unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("password=***"), "{text}");
    }
}
