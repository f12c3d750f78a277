//! Reading theme files: YAML nested by region (`severity: { critical: { fg:
//! magenta, bold: true } }`), checked strictly, with errors that read
//! `FILE:LINE:COL: field.path: message` and a "did you mean" for near misses.

use std::fmt;
use std::path::{Path, PathBuf};

use ratatui::style::{Color, Modifier, Style};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_yaml::Value;

use super::theme::{parse_colour, Meaning, BUILT_IN, COLOURS};
use crate::catalog::error::{closest, write_located};

/// Theme files larger than this are refused before they are parsed.
const MAX_FILE_BYTES: u64 = 256 * 1024;

const EXPECTED: &str = "meanings by region, such as \"severity: { critical: { fg: magenta } }\"";
const COLOUR_HINT: &str = "use a name such as magenta, #rrggbb or 0-255";
const STYLE_KEYS: &str = "fg, bg, bold, dim, italic, underlined, reversed";

/// A theme that cannot be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThemeError {
    /// The file could not be read at all.
    #[error("cannot read {}: {reason}", file.display())]
    Read { file: PathBuf, reason: String },
    /// The file was read and something in it is wrong.
    #[error("{}", Located(file, *position, path, message))]
    Invalid {
        file: PathBuf,
        /// 1-based line and column, when the problem has a place.
        position: Option<(usize, usize)>,
        /// Field path such as `severity.critical.fg`; empty for the whole file.
        path: String,
        message: String,
    },
    /// `--theme NAME` is neither a built-in theme nor an existing file.
    #[error(
        "theme \"{name}\": not a built-in theme (dark, light, high-contrast) and no file \
         at that path{}",
        closest(name, &BUILT_IN).map(|b| format!("; did you mean \"{b}\"?")).unwrap_or_default()
    )]
    UnknownName { name: String },
}

struct Located<'a>(&'a Path, Option<(usize, usize)>, &'a str, &'a str);

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_located(f, self.0, self.1, self.2, self.3)
    }
}

/// The file's text, or why it cannot be had.
pub(super) fn read(path: &Path) -> Result<String, ThemeError> {
    let read_error = |reason: String| ThemeError::Read {
        file: path.to_path_buf(),
        reason,
    };
    let io_error = |e: std::io::Error| {
        let text = e.to_string();
        let reason = text.split(" (os error ").next().unwrap_or_default();
        read_error(reason.to_string())
    };
    if std::fs::metadata(path).map_err(io_error)?.len() > MAX_FILE_BYTES {
        let reason = "the file is larger than 256 KiB; a theme is a few dozen lines";
        return Err(read_error(reason.into()));
    }
    std::fs::read_to_string(path).map_err(io_error)
}

/// What a theme file says: its name, its base, and the meanings it lists.
#[derive(Default)]
pub(super) struct Spec {
    pub name: Option<String>,
    pub inherits: Option<String>,
    pub styles: Vec<(Meaning, Style)>,
}

/// One thing wrong, before it is placed in the file: the field path; which copy
/// of the key that ends it to point at (for a key that must go), or `None` for its
/// value; and the message.
type Problem = (Vec<String>, Option<usize>, String);

fn problem(path: &[&str], at_key: bool, message: String) -> Problem {
    let path = path.iter().map(|s| s.to_string()).collect();
    (path, at_key.then_some(0), message)
}

/// `what`, then a "did you mean" when `bad` is a near miss of a `known` name, or
/// else `hint`.
fn unknown(what: &str, bad: &str, known: &[&str], hint: &str) -> String {
    match closest(bad, known) {
        Some(best) => format!("{what}; did you mean \"{best}\"?"),
        None => format!("{what}; {hint}"),
    }
}

/// Reads theme YAML; `file` names it in errors.
pub(super) fn parse(file: &Path, text: &str) -> Result<Spec, ThemeError> {
    let error = |position, path: String, message: String| ThemeError::Invalid {
        file: file.to_path_buf(),
        position,
        path,
        message,
    };
    let blank = |line: &str| line.trim().is_empty() || line.trim().starts_with('#');
    if text.lines().all(blank) {
        let message = format!("file is empty; expected {EXPECTED}");
        return Err(error(None, String::new(), message));
    }
    let (path, key_copy, message) = match serde_yaml::from_str::<Value>(text) {
        Ok(value) => match spec(&value) {
            Ok(spec) => return Ok(spec),
            Err(problem) => problem,
        },
        Err(e) => match duplicate_key(&e.to_string()) {
            Some(problem) => problem,
            None => {
                let position = e.location().map(|l| (l.line(), l.column()));
                let message = e.to_string();
                let message = message.split(" at line ").next().unwrap_or(&message);
                let message = format!("not valid YAML: {message}");
                return Err(error(position, String::new(), message));
            }
        },
    };
    let position = locate(text, &path, key_copy);
    Err(error(position, path.join("."), message))
}

/// serde_yaml's `probe: duplicate entry with key "up"`, placed at the second copy.
fn duplicate_key(message: &str) -> Option<Problem> {
    let message = message.split(" at line ").next()?;
    let (parent, key) = message.split_once("duplicate entry with key ")?;
    let key = key.trim_matches('"');
    let parent = parent.trim_end_matches(": ").split('.');
    let mut path: Vec<String> = parent.filter(|s| !s.is_empty()).map(String::from).collect();
    path.push(key.to_string());
    let message = format!("\"{key}\" is written twice in the same mapping; keep one");
    Some((path, Some(1), message))
}

fn spec(value: &Value) -> Result<Spec, Problem> {
    let Value::Mapping(top) = value else {
        let message = format!("expected {EXPECTED}; found {}", describe(value));
        return Err(problem(&[], false, message));
    };
    let regions = regions();
    let mut spec = Spec::default();
    for (key, value) in top {
        let key = key_text(key);
        match key.as_str() {
            "name" => spec.name = Some(string(value, &[&key])?),
            "inherits" => {
                let base = string(value, &[&key])?;
                if !BUILT_IN.contains(&base.as_str()) {
                    let what = format!("unknown theme \"{base}\"");
                    let hint = format!("built-in themes are {}", BUILT_IN.join(", "));
                    let message = unknown(&what, &base, &BUILT_IN, &hint);
                    return Err(problem(&[&key], false, message));
                }
                spec.inherits = Some(base);
            }
            region if regions.contains(&region) => region_styles(region, value, &mut spec)?,
            other => {
                let mut known = vec!["name", "inherits"];
                known.extend(&regions);
                let hint = format!(
                    "a theme takes name, inherits and the regions {}",
                    regions.join(", ")
                );
                let message = unknown("unknown key", other, &known, &hint);
                return Err(problem(&[other], true, message));
            }
        }
    }
    Ok(spec)
}

fn region_styles(region: &str, value: &Value, spec: &mut Spec) -> Result<(), Problem> {
    let names: Vec<&str> = Meaning::ALL
        .iter()
        .filter_map(|m| m.key().strip_prefix(region)?.strip_prefix('.'))
        .collect();
    let Value::Mapping(map) = value else {
        let message = format!(
            "expected a mapping of {}; found {}",
            names.join(", "),
            describe(value)
        );
        return Err(problem(&[region], false, message));
    };
    for (key, value) in map {
        let name = key_text(key);
        let full = format!("{region}.{name}");
        let Some(meaning) = Meaning::from_key(&full) else {
            let keys: Vec<&str> = Meaning::ALL.iter().map(|m| m.key()).collect();
            let hint = format!("{region} has {}", names.join(", "));
            let message = unknown("unknown meaning", &full, &keys, &hint);
            return Err(problem(&[region, &name], true, message));
        };
        spec.styles.push((meaning, style(value, &[region, &name])?));
    }
    Ok(())
}

fn style(value: &Value, path: &[&str]) -> Result<Style, Problem> {
    let map = match value {
        Value::String(_) | Value::Number(_) => return Ok(Style::new().fg(colour(value, path)?)),
        Value::Mapping(map) => map,
        other => {
            let message = format!(
                "expected a style such as {{ fg: red, bold: true }}, or {{}}; found {}",
                describe(other)
            );
            return Err(problem(path, false, message));
        }
    };
    let mut style = Style::default();
    for (key, value) in map {
        let key = key_text(key);
        let at: Vec<&str> = path.iter().copied().chain([key.as_str()]).collect();
        let modifier = match key.as_str() {
            "fg" => {
                style = style.fg(colour(value, &at)?);
                continue;
            }
            "bg" => {
                style = style.bg(colour(value, &at)?);
                continue;
            }
            "bold" => Modifier::BOLD,
            "dim" => Modifier::DIM,
            "italic" => Modifier::ITALIC,
            "underlined" => Modifier::UNDERLINED,
            "reversed" => Modifier::REVERSED,
            other => {
                let keys: Vec<&str> = STYLE_KEYS.split(", ").collect();
                let hint = format!("a style takes {STYLE_KEYS}");
                let message = unknown("unknown style key", other, &keys, &hint);
                return Err(problem(&at, true, message));
            }
        };
        match value {
            Value::Bool(true) => style = style.add_modifier(modifier),
            Value::Bool(false) => style = style.remove_modifier(modifier),
            other => {
                let message = format!("expected true or false; found {}", describe(other));
                return Err(problem(&at, false, message));
            }
        }
    }
    Ok(style)
}

fn colour(value: &Value, path: &[&str]) -> Result<Color, Problem> {
    let message = match value {
        Value::String(text) => match parse_colour(text) {
            Some(colour) => return Ok(colour),
            None => {
                let what = format!("unknown colour \"{text}\"");
                let names = COLOURS.map(|(name, _)| name);
                unknown(&what, &text.to_lowercase(), &names, COLOUR_HINT)
            }
        },
        Value::Number(n) => match n.as_u64().and_then(|n| u8::try_from(n).ok()) {
            Some(index) => return Ok(Color::Indexed(index)),
            None => format!("colour {n} is out of range; {COLOUR_HINT}"),
        },
        Value::Null => format!(
            "no colour given; {COLOUR_HINT} (write \"#rrggbb\" in quotes: \
             a bare # starts a YAML comment)"
        ),
        other => format!(
            "expected a colour; {COLOUR_HINT}; found {}",
            describe(other)
        ),
    };
    Err(problem(path, false, message))
}

/// The regions of theme files (`border`, `chart`, …), in alphabetical order.
fn regions() -> Vec<&'static str> {
    let region = |m: &Meaning| m.key().split('.').next().unwrap_or_default();
    let mut regions: Vec<&str> = Meaning::ALL.iter().map(region).collect();
    regions.sort_unstable();
    regions.dedup();
    regions
}

fn string(value: &Value, path: &[&str]) -> Result<String, Problem> {
    let message = || format!("expected text; found {}", describe(value));
    let text = value.as_str().map(String::from);
    text.ok_or_else(|| problem(path, false, message()))
}

fn key_text(key: &Value) -> String {
    key.as_str().map_or_else(|| describe(key), String::from)
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("\"{s}\""),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

/// 1-based line and column of the node `path` leads to, or of the key that ends
/// it (`key_copy` 0 for its first copy, 1 for the second). serde_yaml keeps no
/// positions in a parsed value, but puts the position of the node being read on
/// every error: a walker fails on purpose at the node.
fn locate(text: &str, path: &[String], key_copy: Option<usize>) -> Option<(usize, usize)> {
    let walk = Walk { path, key_copy };
    match walk.deserialize(serde_yaml::Deserializer::from_str(text)) {
        Ok(()) => None,
        Err(e) => e.location().map(|l| (l.line(), l.column())),
    }
}

/// Follows `path` through mappings; fails at the node it leads to.
#[derive(Clone, Copy)]
struct Walk<'p> {
    path: &'p [String],
    key_copy: Option<usize>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        // Every visit but `visit_map` fails by default: at the node, as wanted.
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("nothing (this failure marks a position)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let [first, rest @ ..] = self.path else {
            return Err(de::Error::custom("found"));
        };
        let last = rest.is_empty() && self.key_copy.is_some();
        let mut seen = 0;
        let key = |seen| Key {
            want: first,
            fail_on_hit: last && Some(seen) == self.key_copy,
        };
        while let Some(hit) = map.next_key_seed(key(seen))? {
            if hit && !last {
                return map.next_value_seed(Walk { path: rest, ..self });
            }
            map.next_value::<IgnoredAny>()?;
            seen += usize::from(hit);
        }
        Ok(())
    }
}

/// Reads a key: whether it is the one wanted, or a deliberate failure at it.
struct Key<'p> {
    want: &'p str,
    fail_on_hit: bool,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        let hit = self.want == key;
        if hit && self.fail_on_hit {
            return Err(E::custom("found"));
        }
        Ok(hit)
    }
}
