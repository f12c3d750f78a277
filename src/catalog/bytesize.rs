//! Sizes as operators write them: `512MiB`, `2GB`, `64k`, `1048576`.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

const UNITS: [(&str, u64); 9] = [
    ("b", 1),
    ("k", 1024),
    ("kb", 1000),
    ("kib", 1024),
    ("m", 1024 * 1024),
    ("mb", 1000 * 1000),
    ("mib", 1024 * 1024),
    ("gb", 1000 * 1000 * 1000),
    ("gib", 1024 * 1024 * 1024),
];

pub const BYTESIZE_HINT: &str = "expected a size such as 64KiB, 512MiB or 2GB";

impl std::str::FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        let unit = unit.trim().to_ascii_lowercase();
        let bad = || format!("invalid size \"{text}\"; {BYTESIZE_HINT}");
        let number: f64 = number.parse().map_err(|_| bad())?;
        let factor = if unit.is_empty() {
            1
        } else {
            UNITS
                .iter()
                .find(|(name, _)| *name == unit)
                .map(|(_, f)| *f)
                .ok_or_else(bad)?
        };
        Ok(ByteSize((number * factor as f64).round() as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const STEPS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
        for (unit, size) in STEPS {
            if self.0 >= size && self.0 % size == 0 {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = ByteSize;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(BYTESIZE_HINT)
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<ByteSize, E> {
                text.parse().map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(n))
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<ByteSize, E> {
                u64::try_from(n)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("invalid size \"{n}\"; {BYTESIZE_HINT}")))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!("64KiB".parse::<ByteSize>().unwrap().0, 64 * 1024);
        assert_eq!("2GB".parse::<ByteSize>().unwrap().0, 2_000_000_000);
        assert_eq!("512 MiB".parse::<ByteSize>().unwrap().0, 512 << 20);
        assert_eq!("100".parse::<ByteSize>().unwrap().0, 100);
        assert!("lots".parse::<ByteSize>().unwrap_err().contains("\"lots\""));
        assert_eq!(ByteSize(512 << 20).to_string(), "512MiB");
    }
}
