//! Where a field path (`services.shop.probes[1].status`) sits in the file.
//!
//! serde_yaml keeps no positions once a document is parsed, but it puts the position
//! of the node being read on every error. So to find a node, the text is read once
//! more by a walker that follows the path and fails on purpose at the node: the
//! error's position is the node's.

use std::fmt;

use super::path::{FieldPath, Seg};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// 1-based line and column of the value at `path`.
pub fn value_position(text: &str, path: &FieldPath) -> Option<(usize, usize)> {
    walk(text, &path.0, false, 0)
}

/// 1-based line and column of the key that ends `path` (for "remove this key").
pub fn key_position(text: &str, path: &FieldPath) -> Option<(usize, usize)> {
    walk(text, &path.0, true, 0)
}

/// Where the key that ends `path` is written a second time in its mapping.
pub fn second_key_position(text: &str, path: &FieldPath) -> Option<(usize, usize)> {
    walk(text, &path.0, true, 1)
}

fn walk(text: &str, segs: &[Seg], at_key: bool, skip: usize) -> Option<(usize, usize)> {
    let deserializer = serde_yaml::Deserializer::from_str(text);
    match (Walk { segs, at_key, skip }).deserialize(deserializer) {
        Ok(()) => None,
        Err(e) => e.location().map(|l| (l.line(), l.column())),
    }
}

/// Follows `segs`; fails at the node they lead to, succeeds when there is none.
#[derive(Clone, Copy)]
struct Walk<'p> {
    segs: &'p [Seg],
    at_key: bool,
    /// With `at_key`: how many earlier copies of the last key to pass over.
    skip: usize,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.segs.is_empty() {
            deserializer.deserialize_any(Found)
        } else {
            deserializer.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let want = match self.segs.first() {
            Some(Seg::Key(key)) => Some(key.as_str()),
            _ => None,
        };
        let at_last_key = self.segs.len() == 1 && self.at_key;
        let mut seen = 0;
        loop {
            let seed = KeySeed {
                want,
                fail_on_hit: at_last_key && seen == self.skip,
            };
            let Some(hit) = map.next_key_seed(seed)? else {
                return Ok(());
            };
            if hit && seen == 0 && !at_last_key {
                map.next_value_seed(Walk {
                    segs: &self.segs[1..],
                    ..self
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
            seen += usize::from(hit);
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let want = match self.segs.first() {
            Some(Seg::Index(index)) => Some(*index),
            _ => None,
        };
        let mut at = 0;
        loop {
            let more = if Some(at) == want {
                let rest = Walk {
                    segs: &self.segs[1..],
                    ..self
                };
                seq.next_element_seed(rest)?.is_some()
            } else {
                seq.next_element::<IgnoredAny>()?.is_some()
            };
            if !more {
                return Ok(());
            }
            at += 1;
        }
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        let (IgnoredAny, variant) = data.variant::<IgnoredAny>()?;
        de::VariantAccess::newtype_variant::<IgnoredAny>(variant).map(|_| ())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// Reads a mapping key: whether it is the one wanted, or a deliberate failure at it.
#[derive(Clone, Copy)]
struct KeySeed<'p> {
    want: Option<&'p str>,
    fail_on_hit: bool,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        let hit = self.want == Some(key);
        if hit && self.fail_on_hit {
            return Err(E::custom("found"));
        }
        Ok(hit)
    }
}

/// Fails on whatever node it is given, so the error carries that node's position.
struct Found;

impl<'de> Visitor<'de> for Found {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("nothing (this failure marks a position)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
targets:
  shop: { container: web }
services:
  shop:
    probes:
      - name: a
        tcp: 127.0.0.1:1
      - name: b
        status: 200
";

    fn path(segs: &[Seg]) -> FieldPath {
        FieldPath(segs.to_vec())
    }

    #[test]
    fn finds_values_and_keys() {
        let key = |k: &str| Seg::Key(k.to_string());
        let status = path(&[
            key("services"),
            key("shop"),
            key("probes"),
            Seg::Index(1),
            key("status"),
        ]);
        assert_eq!(status.to_string(), "services.shop.probes[1].status");
        assert_eq!(value_position(TEXT, &status), Some((9, 17)));
        assert_eq!(key_position(TEXT, &status), Some((9, 9)));
        let flow = path(&[key("targets"), key("shop"), key("container")]);
        assert_eq!(value_position(TEXT, &flow), Some((2, 22)));
        let probe = path(&[key("services"), key("shop"), key("probes"), Seg::Index(0)]);
        assert_eq!(value_position(TEXT, &probe), Some((6, 9)));
    }

    #[test]
    fn reads_serde_yaml_paths_and_finds_repeated_keys() {
        let path = FieldPath::parse("services.shop.probes[1]");
        assert_eq!(path.to_string(), "services.shop.probes[1]");
        assert_eq!(FieldPath::parse("[2][0].a").to_string(), "[2][0].a");
        let text = "a:\n  b: 1\n  c: 2\n  b: 3\n";
        let b = FieldPath::parse("a.b");
        assert_eq!(key_position(text, &b), Some((2, 3)));
        assert_eq!(second_key_position(text, &b), Some((4, 3)));
    }

    #[test]
    fn a_missing_node_has_no_position() {
        let missing = path(&[Seg::Key("policy".into())]);
        assert_eq!(value_position(TEXT, &missing), None);
        let past = path(&[Seg::Key("targets".into()), Seg::Index(3)]);
        assert_eq!(value_position(TEXT, &past), None);
    }
}
