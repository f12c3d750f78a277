//! `targets.yaml` as written: serde structs that refuse unknown keys, so a typo is
//! caught with a "did you mean". Everything here is still text; [`super::resolve`]
//! turns it into driver and probe types and checks what the schema cannot.

use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::catalog::duration::HumanDuration;
use crate::catalog::Severity;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub targets: Ordered<RawTarget>,
    #[serde(default)]
    pub services: Ordered<RawService>,
    pub steady_state: Option<Vec<String>>,
    #[serde(default)]
    pub guards: Vec<String>,
    #[serde(default)]
    pub policy: RawPolicy,
    #[serde(default)]
    pub observe: RawObserve,
    pub theme: Option<String>,
}

/// One named bundle of targets.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub postgres: Option<RawPostgres>,
    pub container: Option<String>,
    pub process: Option<RawProcess>,
    pub proxy: Option<RawProxy>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPostgres {
    /// A libpq string or `postgres://` URL; may hold a password.
    pub conn: String,
    pub data_dir: Option<PathBuf>,
    pub bin_dir: Option<PathBuf>,
}

/// `{ name: … }`, `{ pid: … }` or `{ port: … }`: exactly one of them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProcess {
    pub name: Option<String>,
    pub pid: Option<u32>,
    pub port: Option<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProxy {
    pub listen: String,
    pub upstream: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub probes: Vec<RawProbe>,
}

/// One probe with every key any check kind takes; [`super::probes`] checks that
/// exactly one check key is present and that the others fit it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    pub name: String,
    pub http: Option<String>,
    pub status: Option<u16>,
    pub body: Option<String>,
    pub tcp: Option<String>,
    pub sql: Option<String>,
    pub postgres: Option<String>,
    pub expect: Option<String>,
    pub fresh_connection: Option<bool>,
    pub container: Option<String>,
    pub healthy: Option<bool>,
    pub process: Option<RawProcess>,
    pub command: Option<Vec<String>>,
    pub exit_code: Option<i32>,
    pub interval: Option<HumanDuration>,
    pub timeout: Option<HumanDuration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub max_severity: Option<Severity>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawObserve {
    pub interval: Option<HumanDuration>,
    pub timeout: Option<HumanDuration>,
    pub stable_for: Option<u32>,
    pub sample_interval: Option<HumanDuration>,
}

/// A mapping whose entries keep the order of the file.
#[derive(Debug)]
pub struct Ordered<V>(pub Vec<(String, V)>);

impl<V> Default for Ordered<V> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for OrderedVisitor<V> {
            type Value = Ordered<V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of names to entries")
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Ordered::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries: Vec<(String, V)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if entries.iter().any(|(k, _)| *k == key) {
                        return Err(de::Error::custom(format!(
                            "\"{key}\" is defined twice; names must be unique"
                        )));
                    }
                    let value = map.next_value()?;
                    entries.push((key, value));
                }
                Ok(Ordered(entries))
            }
        }

        deserializer.deserialize_any(OrderedVisitor(PhantomData))
    }
}
