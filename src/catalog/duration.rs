//! Durations as operators write them: `250ms`, `30s`, `5m`, `1h30m`.

use std::fmt;
use std::time::Duration;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A duration read from YAML or a flag, always written with a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    pub fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    pub fn as_duration(self) -> Duration {
        self.0
    }
}

/// The hint every duration error ends with, so all of them read the same.
pub const DURATION_HINT: &str = "expected a number with a unit, such as 250ms, 30s, 5m or 1h30m";

impl std::str::FromStr for HumanDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        humantime::parse_duration(text.trim())
            .map(HumanDuration)
            .map_err(|_| format!("invalid duration \"{text}\"; {DURATION_HINT}"))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = HumanDuration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(DURATION_HINT)
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<HumanDuration, E> {
                text.parse().map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<HumanDuration, E> {
                Err(E::custom(format!(
                    "invalid duration \"{n}\" (no unit); {DURATION_HINT}"
                )))
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<HumanDuration, E> {
                self.visit_u64(n.unsigned_abs())
            }

            fn visit_f64<E: de::Error>(self, n: f64) -> Result<HumanDuration, E> {
                Err(E::custom(format!(
                    "invalid duration \"{n}\" (no unit); {DURATION_HINT}"
                )))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_operator_forms() {
        let cases = [
            ("250ms", 250),
            ("30s", 30_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
        ];
        for (text, ms) in cases {
            let d: HumanDuration = text.parse().unwrap();
            assert_eq!(d.0.as_millis(), ms, "{text}");
        }
    }

    #[test]
    fn rejects_numbers_without_unit_and_words() {
        let err = "5 minutes please".parse::<HumanDuration>().unwrap_err();
        assert!(err.contains("\"5 minutes please\""), "{err}");
        let err = serde_yaml::from_str::<HumanDuration>("30").unwrap_err();
        assert!(err.to_string().contains("no unit"), "{err}");
    }
}
