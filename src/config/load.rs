//! Reading `targets.yaml`: size and encoding limits, YAML syntax, then the typed
//! schema. Every failure becomes a [`ConfigError`] with a place in the file.

use std::path::Path;

use super::error::{io_reason, passwords_in, ConfigError, Ctx};
use super::locate::second_key_position;
use super::model::RawConfig;
use super::path::FieldPath;
use crate::catalog::error::humanize_serde_message;
use crate::driver::postgres::conn::mask_password;

/// Config files larger than this are refused before they are parsed.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The file's text, or why it cannot be had.
pub fn read(path: &Path) -> Result<String, ConfigError> {
    let read_error = |e: std::io::Error| ConfigError::Read {
        file: path.to_path_buf(),
        reason: io_reason(&e),
    };
    let meta = std::fs::metadata(path).map_err(read_error)?;
    let invalid = |message: String| ConfigError::Invalid {
        file: path.to_path_buf(),
        position: None,
        path: String::new(),
        message,
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(invalid(too_large(meta.len())));
    }
    let bytes = std::fs::read(path).map_err(read_error)?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        let start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let column = String::from_utf8_lossy(&valid[start..]).chars().count() + 1;
        ConfigError::Invalid {
            file: path.to_path_buf(),
            position: Some((line, column)),
            path: String::new(),
            message: "file is not UTF-8 text; save it as UTF-8".to_string(),
        }
    })
}

fn too_large(len: u64) -> String {
    format!(
        "file is {:.1} MiB; config files are limited to 1 MiB",
        len as f64 / (1024.0 * 1024.0)
    )
}

/// Parses the text against the schema; returns it with the passwords it holds.
pub fn parse_raw(file: &Path, text: &str) -> Result<(RawConfig, Vec<String>), ConfigError> {
    let mut ctx = Ctx {
        file,
        text,
        secrets: Vec::new(),
    };
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(ctx.error(None, "", &too_large(text.len() as u64)));
    }
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(ctx.error(
            None,
            "",
            "file is empty; expected a mapping with \"targets:\" and \"services:\"",
        ));
    }
    let raw: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
        let position = e.location().map(|l| (l.line(), l.column()));
        duplicate_key(&ctx, &e.to_string(), position)
            .unwrap_or_else(|| ctx.error(position, "", &syntax_message(&e.to_string(), position)))
    })?;
    if !raw.is_mapping() {
        let found = match raw {
            serde_yaml::Value::Sequence(_) => "a list",
            _ => "a single value",
        };
        return Err(ctx.error(
            Some((1, 1)),
            "",
            &format!(
                "expected a mapping with \"targets:\" and \"services:\" at the top; found {found}"
            ),
        ));
    }
    ctx.secrets = secrets_of(&raw);
    let deserializer = serde_yaml::Deserializer::from_str(text);
    let config: RawConfig = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let position = e.inner().location().map(|l| (l.line(), l.column()));
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let inner = e.inner().to_string();
        let message = strip_yaml_path(&inner, &path);
        let message = schema_message(&path, &humanize_serde_message(message));
        ctx.error(position, &path, &message)
    })?;
    Ok((config, ctx.secrets))
}

/// The passwords of every `targets.*.postgres.conn`, to scrub from messages.
fn secrets_of(raw: &serde_yaml::Value) -> Vec<String> {
    let mut secrets = Vec::new();
    let Some(targets) = raw.get("targets").and_then(|t| t.as_mapping()) else {
        return secrets;
    };
    for target in targets.values() {
        if let Some(conn) = target
            .get("postgres")
            .and_then(|p| p.get("conn"))
            .and_then(|c| c.as_str())
        {
            secrets.extend(passwords_in(conn));
        }
    }
    secrets
}

/// `targets.shop: unknown field …` → `unknown field …`: serde_yaml's own path is
/// reported separately, as the field path.
fn strip_yaml_path<'m>(message: &'m str, path: &str) -> &'m str {
    match message.split_once(": ") {
        Some((prefix, rest)) if !prefix.contains(' ') && path.starts_with(prefix) => rest,
        _ => message,
    }
}

/// A key written twice in one mapping, placed at its second copy.
fn duplicate_key(
    ctx: &Ctx,
    message: &str,
    position: Option<(usize, usize)>,
) -> Option<ConfigError> {
    let message = message.split(" at line ").next().unwrap_or(message);
    let (parent, key) = match message.split_once(": duplicate entry with key ") {
        Some((parent, key)) => (FieldPath::parse(parent), key),
        None => (
            FieldPath::default(),
            message.strip_prefix("duplicate entry with key ")?,
        ),
    };
    let key = key.trim_matches('"');
    let path = parent.key(key);
    let second = second_key_position(ctx.text, &path).or(position);
    let message = format!("\"{key}\" is written twice in the same mapping; keep one");
    Some(ctx.error(second, &path.to_string(), &message))
}

/// Serde's words, made to say what would be right for the fields that need it:
/// `invalid type: integer "-1", expected u32` keeps what was found and says what
/// the field takes in the operator's terms.
fn schema_message(path: &str, message: &str) -> String {
    let field = path.rsplit(['.', ']']).next().unwrap_or_default();
    let wrong_type = message.starts_with("invalid type") || message.starts_with("invalid value");
    if !wrong_type {
        return message.to_string();
    }
    let hint = match field {
        // Never quote what was found: it may hold a password.
        "conn" => {
            return "expected a connection string such as \"host=localhost port=5432 \
                    dbname=app user=postgres password=…\" or postgres://user:password@host:port/dbname"
                .to_string()
        }
        "command" => "a list of arguments (no shell), such as [kubectl, rollout, status, deploy/shop]",
        "stable_for" => "a whole number of consecutive passing checks, 1 or more",
        "status" => "an HTTP status code such as 200",
        "exit_code" => "the exit code as a whole number, such as 0",
        "pid" => "a process id, such as 1234",
        "port" => "a TCP port number, such as 8080",
        "steady_state" | "guards" => "a list of probe names, such as [app-health, db-query]",
        "process" => "{ name: NAME }, { pid: PID } or { port: PORT }",
        "proxy" => "{ listen: \"127.0.0.1:15433\", upstream: \"127.0.0.1:15432\" }",
        _ => return message.to_string(),
    };
    let found = message.split(", expected ").next().unwrap_or(message);
    format!("{found}; expected {hint}")
}

/// A YAML syntax error in words: the position already reported is not repeated.
fn syntax_message(message: &str, position: Option<(usize, usize)>) -> String {
    let mut text = message.to_string();
    if let Some((line, column)) = position {
        text = text.replacen(&format!(" at line {line} column {column}"), "", 1);
    }
    if text.contains("repetition limit exceeded") {
        return "not valid YAML: aliases expand past the repetition limit (an alias bomb?); \
                write the values out instead of repeating aliases"
            .to_string();
    }
    format!(
        "not valid YAML: {}",
        mask_password(&text).replace('`', "\"")
    )
}
