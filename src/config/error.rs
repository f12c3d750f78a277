//! Config errors a person can act on: `targets.yaml:LINE:COL: field.path: message`,
//! with the bad value in quotes and what would be right. No message ever carries a
//! password: connection strings are quoted masked, and every message is scrubbed of
//! the passwords the file holds before it leaves this module.

use std::fmt;
use std::path::{Path, PathBuf};

use super::locate::{key_position, value_position};
use super::path::FieldPath;
use crate::catalog::error::closest;

/// Something wrong with `targets.yaml`, or a name it does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("cannot read {}: {reason}", file.display())]
    Read { file: PathBuf, reason: String },
    /// The file was read and something in it is wrong.
    #[error("{}", Located { file, position: *position, path, message })]
    Invalid {
        file: PathBuf,
        /// 1-based line and column, when the problem has a place.
        position: Option<(usize, usize)>,
        /// Field path such as `services.shop.probes[1].status`; empty for the file.
        path: String,
        message: String,
    },
    /// `--target NAME` names no bundle of the file.
    #[error("{}: {message}", file.display())]
    UnknownTarget {
        file: PathBuf,
        name: String,
        message: String,
    },
}

struct Located<'a> {
    file: &'a Path,
    position: Option<(usize, usize)>,
    path: &'a str,
    message: &'a str,
}

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::catalog::error::write_located(f, self.file, self.position, self.path, self.message)
    }
}

/// An I/O error in words, without Rust's ` (os error 2)`.
pub fn io_reason(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// What errors about one file need: its name, its text (to find places) and the
/// passwords it holds (to keep them out of every message).
pub struct Ctx<'a> {
    pub file: &'a Path,
    pub text: &'a str,
    pub secrets: Vec<String>,
}

impl Ctx<'_> {
    /// An error with an explicit place (or none), scrubbed of passwords.
    pub fn error(
        &self,
        position: Option<(usize, usize)>,
        path: &str,
        message: &str,
    ) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_path_buf(),
            position,
            path: self.scrub(path),
            message: self.scrub(message),
        }
    }

    /// An error placed at the value `path` leads to.
    pub fn at_value(&self, path: &FieldPath, message: &str) -> ConfigError {
        let position = value_position(self.text, path);
        self.error(position, &path.to_string(), message)
    }

    /// An error placed at the key that ends `path` (for a key that must go).
    pub fn at_key(&self, path: &FieldPath, message: &str) -> ConfigError {
        let position = key_position(self.text, path).or_else(|| value_position(self.text, path));
        self.error(position, &path.to_string(), message)
    }

    /// `text` with every password of the file replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if !secret.is_empty() {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }
}

/// "did you mean" for a name that must be one of `known`, or the list of them.
pub fn unknown_name(what: &str, bad: &str, known: &[&str]) -> String {
    if let Some(best) = closest(bad, known) {
        return format!("unknown {what} \"{bad}\"; did you mean \"{best}\"?");
    }
    if known.is_empty() {
        return format!("unknown {what} \"{bad}\"; none are defined");
    }
    let list: Vec<String> = known.iter().map(|k| format!("\"{k}\"")).collect();
    format!(
        "unknown {what} \"{bad}\"; expected one of {}",
        list.join(", ")
    )
}

/// The passwords inside a libpq string or `postgres://` URL, as written.
pub fn passwords_in(conn: &str) -> Vec<String> {
    let conn = conn.trim();
    let mut found = Vec::new();
    if let Some(rest) = conn
        .strip_prefix("postgres://")
        .or_else(|| conn.strip_prefix("postgresql://"))
    {
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            if let Some((_, password)) = userinfo.split_once(':') {
                found.push(password.to_string());
            }
        }
        if let Some((_, query)) = rest.split_once('?') {
            for pair in query.split('&') {
                if let Some(("password", value)) = pair.split_once('=') {
                    found.push(value.to_string());
                }
            }
        }
    } else {
        let mut rest = conn;
        while let Some(at) = rest.find("password") {
            let before_ok = rest[..at].is_empty() || rest[..at].ends_with(char::is_whitespace);
            let after = rest[at + "password".len()..].trim_start();
            rest = &rest[at + "password".len()..];
            let Some(value) = after.strip_prefix('=').filter(|_| before_ok) else {
                continue;
            };
            let value = value.trim_start();
            let secret = match value.strip_prefix('\'') {
                Some(quoted) => quoted.split('\'').next().unwrap_or_default(),
                None => value.split(char::is_whitespace).next().unwrap_or_default(),
            };
            found.push(secret.trim_end_matches('\\').to_string());
        }
    }
    found.retain(|s| !s.is_empty());
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_passwords_in_every_spelling() {
        let cases: [(&str, &[&str]); 5] = [
            ("host=x password=s3cret user=a", &["s3cret"]),
            ("password = 'two words' host=x", &["two words"]),
            ("postgres://app:s3cret@db:5432/shop", &["s3cret"]),
            ("postgresql://db/shop?user=app&password=s3cret", &["s3cret"]),
            ("host=x user=nopassword", &[]),
        ];
        for (conn, want) in cases {
            assert_eq!(passwords_in(conn), want, "{conn}");
        }
    }

    #[test]
    fn every_message_is_scrubbed_of_the_files_passwords() {
        let ctx = Ctx {
            file: Path::new("targets.yaml"),
            text: "",
            secrets: passwords_in("host=x password=hunter22"),
        };
        let err = ctx.error(Some((1, 1)), "a", "found \"hunter22\" here");
        assert_eq!(err.to_string(), "targets.yaml:1:1: a: found \"***\" here");
    }

    #[test]
    fn io_reasons_drop_the_os_error_number() {
        let error = std::io::Error::from_raw_os_error(2);
        assert_eq!(io_reason(&error), "No such file or directory");
    }
}
