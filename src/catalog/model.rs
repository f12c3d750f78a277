//! The fault spec as written in `catalog/*.yaml`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::action::Action;
use super::duration::HumanDuration;

/// One catalog entry: what to break, how, how to undo it, what to expect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub id: String,
    pub name: String,
    pub category: Category,
    pub severity: Severity,
    pub target: TargetKind,
    pub description: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, ParamSpec>,
    pub actions: Vec<Action>,
    pub expect: Expectation,
    pub ttl: HumanDuration,
    #[serde(default)]
    pub prompt: String,
    #[serde(default)]
    pub runbook: String,
}

/// A parameter the operator may change before injecting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    pub default: serde_yaml::Value,
    #[serde(default)]
    pub help: String,
}

impl ParamSpec {
    /// The default as an operator would type it.
    pub fn default_text(&self) -> String {
        scalar_text(&self.default)
    }
}

/// A YAML scalar written back the way a person typed it.
pub fn scalar_text(value: &serde_yaml::Value) -> String {
    match value {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Null => String::new(),
        other => serde_yaml::to_string(other)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default(),
    }
}

/// What the experiment expects to see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// Probes expected to fail while the fault is active.
    #[serde(default)]
    pub impact: Vec<String>,
    /// Steady state must be regained within this long after teardown
    /// (after injection for self-healing faults).
    pub recover_within: HumanDuration,
    /// The system heals by itself (a restart policy, a supervisor): recovery is
    /// timed from injection, not from teardown.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub self_healing: bool,
}

macro_rules! word_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                let lower = text.trim().to_ascii_lowercase();
                Self::ALL.iter().copied().find(|v| v.as_str() == lower).ok_or_else(|| {
                    let words: Vec<String> =
                        Self::ALL.iter().map(|v| format!("\"{}\"", v.as_str())).collect();
                    format!("unknown {} \"{text}\"; expected one of {}",
                        stringify!($name).to_ascii_lowercase(), words.join(", "))
                })
            }
        }
    };
}

word_enum!(
    /// Which shelf of the catalog a fault sits on.
    Category {
        Database => "database",
        Container => "container",
        Process => "process",
        Host => "host",
        Network => "network",
        Kubernetes => "kubernetes",
        Compound => "compound",
    }
);

word_enum!(
    /// How much harm a fault can do; decides the confirmation gate.
    Severity {
        Low => "low",
        Medium => "medium",
        High => "high",
        Critical => "critical",
    }
);

word_enum!(
    /// The kind of real thing a fault acts on.
    TargetKind {
        Postgres => "postgres",
        Docker => "docker",
        Process => "process",
        Host => "host",
        Proxy => "proxy",
        Command => "command",
        Kubernetes => "kubernetes",
        Compound => "compound",
    }
);

impl Severity {
    /// The confirmation the console asks for before injecting, in words.
    pub fn gate(self) -> &'static str {
        match self {
            Severity::Low => "press Enter",
            Severity::Medium => "press y on a summary of what will happen and to what",
            Severity::High => "type the fault id",
            Severity::Critical => "type the target's name, then Enter after a 3 s arming countdown",
        }
    }
}
