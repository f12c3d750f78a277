//! `{{name}}` references from a fault's fields to its declared parameters.
//!
//! A typed action field may hold either its value or a whole-field reference such
//! as `reserve: "{{reserve}}"`; free text (SQL, prompts, command arguments) may embed
//! references anywhere. Names are resolved when the fault is prepared for a target.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// Variables every fault may use without declaring them.
pub const BUILTIN_VARIABLES: [&str; 3] = ["target", "run", "fault"];

/// A typed field that is either written out or taken from a parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param<T> {
    Value(T),
    Ref(String),
}

impl<T> Param<T> {
    pub fn value(value: T) -> Self {
        Param::Value(value)
    }
}

impl<T: fmt::Display> fmt::Display for Param<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Param::Value(v) => v.fmt(f),
            Param::Ref(name) => write!(f, "{{{{{name}}}}}"),
        }
    }
}

impl<T: Serialize> Serialize for Param<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Param::Value(v) => v.serialize(serializer),
            Param::Ref(name) => serializer.collect_str(&format_args!("{{{{{name}}}}}")),
        }
    }
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Param<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = serde_yaml::Value::deserialize(deserializer)?;
        if let Some(name) = raw.as_str().and_then(whole_reference) {
            return Ok(Param::Ref(name.to_string()));
        }
        T::deserialize(raw)
            .map(Param::Value)
            .map_err(|e| de::Error::custom(strip_location(&e.to_string())))
    }
}

/// serde_yaml appends " at line L column C" for errors found inside a detached value;
/// those positions are relative to the value, so they are dropped here and the outer
/// document's position is reported instead.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// `"{{ name }}"` → `Some("name")`; anything else → `None`.
pub fn whole_reference(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
    (!inner.is_empty() && inner.chars().all(is_name_char)).then_some(inner)
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Every `{{name}}` referenced in a piece of text, in order of appearance.
pub fn references(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        if !name.is_empty() && name.chars().all(is_name_char) {
            found.push(name);
        }
        rest = &after[end + 2..];
    }
    found
}

/// Replaces every `{{name}}` whose value `lookup` knows; unknown names stay as written.
pub fn render(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after[..end].trim();
        match lookup(name) {
            Some(value) => out.push_str(&value),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_references_only_match_the_entire_field() {
        assert_eq!(whole_reference("{{reserve}}"), Some("reserve"));
        assert_eq!(whole_reference(" {{ reserve }} "), Some("reserve"));
        assert_eq!(whole_reference("x {{reserve}}"), None);
        assert_eq!(whole_reference("{{}}"), None);
    }

    #[test]
    fn finds_and_renders_embedded_references() {
        let text = "SELECT pg_sleep({{seconds}}) -- on {{target}} {{ unknown }}";
        assert_eq!(references(text), vec!["seconds", "target", "unknown"]);
        let out = render(text, |name| (name == "seconds").then(|| "30".to_string()));
        assert_eq!(out, "SELECT pg_sleep(30) -- on {{target}} {{ unknown }}");
    }

    #[test]
    fn typed_param_reads_value_or_reference() {
        let v: Param<u32> = serde_yaml::from_str("3").unwrap();
        assert_eq!(v, Param::Value(3));
        let r: Param<u32> = serde_yaml::from_str("'{{reserve}}'").unwrap();
        assert_eq!(r, Param::Ref("reserve".into()));
        let err = serde_yaml::from_str::<Param<u32>>("lots").unwrap_err();
        assert!(err.to_string().contains("lots"), "{err}");
    }
}
