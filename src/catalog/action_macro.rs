//! Declares the `Action` enum from one table of `Variant(Params) => "kind"` rows and
//! gives it the YAML shape operators write: a map with the kind as its only key,
//! `- postgres.hold_connections: { count: fill }`.

macro_rules! actions {
    ($(#[$meta:meta])* $($variant:ident($params:ty) => $kind:literal,)+) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub enum Action {
            $($variant($params),)+
        }

        impl Action {
            /// Every action kind, as written in YAML.
            pub const KINDS: &'static [&'static str] = &[$($kind,)+];

            /// The kind as written in YAML, e.g. `postgres.hold_connections`.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Action::$variant(_) => $kind,)+
                }
            }
        }

        impl serde::Serialize for Action {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(Some(1))?;
                match self {
                    $(Action::$variant(params) => map.serialize_entry($kind, params)?,)+
                }
                map.end()
            }
        }

        impl<'de> serde::Deserialize<'de> for Action {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl<'de> serde::de::Visitor<'de> for Visitor {
                    type Value = Action;

                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("an action written as `kind: { parameters }`")
                    }

                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Action, A::Error> {
                        let Some(kind) = map.next_key::<String>()? else {
                            return Err(serde::de::Error::custom(
                                "empty action; expected `kind: { parameters }`",
                            ));
                        };
                        let action = match kind.as_str() {
                            $($kind => Action::$variant(map.next_value()?),)+
                            other => return Err(serde::de::Error::unknown_variant(other, Action::KINDS)),
                        };
                        if let Some(extra) = map.next_key::<String>()? {
                            return Err(serde::de::Error::custom(format!(
                                "one action per list item; \"{extra}\" follows \"{kind}\" in the same item (start it with its own \"- \")"
                            )));
                        }
                        Ok(action)
                    }
                }
                deserializer.deserialize_map(Visitor)
            }
        }
    };
}

pub(crate) use actions;
