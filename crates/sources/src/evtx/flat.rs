//! Flattens the JSON the `evtx` crate renders for one record straight from
//! its bytes into the flat field map, without first building the nested
//! `serde_json::Value` tree (which costs about as much as rendering).
//!
//! Gives exactly the fields [`super::flatten_evtx`] gives for the same
//! record (a test checks this on every shape of the unit fixtures, and the
//! corpus tests on every record); that function stays for JSON exports,
//! which arrive as values already.

use std::borrow::Cow;
use std::fmt;

use events::{Map, Value};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{element_text, flatten_system_entry, flatten_user_data, insert_named, insert_unnamed};

/// Parses the rendered JSON of one record into flat fields. Returns
/// `Ok(None)` when it has no `Event.System` object.
pub(crate) fn flatten_bytes(json: &[u8]) -> Result<Option<Map<String, Value>>, serde_json::Error> {
    // Room for the fields of a typical record (20 to 30), so the map is not
    // regrown (and rehashed) several times on the way.
    let mut out = Map::with_capacity(FIELDS_HINT);
    let mut has_system = false;
    let mut de = serde_json::Deserializer::from_slice(json);
    Walk {
        out: &mut out,
        has_system: &mut has_system,
        level: Level::Root,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(has_system.then_some(out))
}

/// Initial capacity of a record's field map.
const FIELDS_HINT: usize = 32;

/// An object key, borrowed from the JSON bytes when it has no escapes: most
/// keys are element names that are only compared, never kept.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

/// Which element the walker is in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    /// `{"Event": ...}`.
    Root,
    /// `Event`.
    Event,
    /// `Event.System`.
    System,
    /// `Event.EventData`.
    EventData,
    /// An attribute holder in `System` (`Provider`, `TimeCreated`, ...):
    /// its `#attributes` are inserted with this prefix.
    Attributes(&'static str),
    /// The `#attributes` object itself, with the prefix.
    AttributeValues(&'static str),
}

/// The walker: one visitor for every level, writing into `out`.
struct Walk<'a> {
    out: &'a mut Map<String, Value>,
    has_system: &'a mut bool,
    level: Level,
}

impl Walk<'_> {
    /// The walker for a child element.
    fn child(&mut self, level: Level) -> Walk<'_> {
        Walk {
            out: self.out,
            has_system: self.has_system,
            level,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// Scalars and arrays where an element was expected: unnamed event data
/// text, or else nothing to flatten.
macro_rules! ignore_scalar {
    ($($name:ident: $ty:ty => $value:expr),* $(,)?) => {
        $(fn $name<E: de::Error>(self, v: $ty) -> Result<(), E> {
            if self.level == Level::EventData {
                insert_unnamed(self.out, $value(v));
            }
            Ok(())
        })*
    };
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an EVTX record rendered as JSON")
    }

    ignore_scalar! {
        visit_bool: bool => Value::from,
        visit_i64: i64 => Value::from,
        visit_u64: u64 => Value::from,
        visit_f64: f64 => Value::from,
        visit_str: &str => Value::from,
        visit_string: String => Value::from,
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.level == Level::EventData {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element::<Value>()? {
                items.push(item);
            }
            insert_unnamed(self.out, Value::Array(items));
        } else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        if self.level == Level::System {
            *self.has_system = true;
        }
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match (self.level, key.as_ref()) {
                (Level::Root, "Event") => map.next_value_seed(self.child(Level::Event))?,
                (Level::Event, "System") => map.next_value_seed(self.child(Level::System))?,
                (Level::Event, "EventData") => map.next_value_seed(self.child(Level::EventData))?,
                (Level::Event, "UserData") => {
                    let data: Value = map.next_value()?;
                    flatten_user_data(data, self.out);
                }
                (Level::System, "Provider") => {
                    map.next_value_seed(self.child(Level::Attributes("Provider_")))?;
                }
                (Level::System, "TimeCreated") => {
                    map.next_value_seed(self.child(Level::Attributes("TimeCreated_")))?;
                }
                (Level::System, "Security") => {
                    map.next_value_seed(self.child(Level::Attributes("Security_")))?;
                }
                (Level::System, "Execution" | "Correlation") => {
                    map.next_value_seed(self.child(Level::Attributes("")))?;
                }
                (Level::System, _) => {
                    let value: Value = map.next_value()?;
                    flatten_system_entry(key.into_owned(), value, self.out);
                }
                (Level::EventData, "#attributes") => {
                    map.next_value::<IgnoredAny>()?;
                }
                (Level::EventData, "Data" | "#text") => {
                    let value: Value = map.next_value()?;
                    insert_unnamed(self.out, element_text(value));
                }
                (Level::EventData, _) => {
                    let value: Value = map.next_value()?;
                    insert_named(self.out, key.into_owned(), element_text(value));
                }
                (Level::Attributes(prefix), "#attributes") => {
                    map.next_value_seed(self.child(Level::AttributeValues(prefix)))?;
                }
                (Level::AttributeValues(prefix), _) => {
                    let value: Value = map.next_value()?;
                    let name = if prefix.is_empty() {
                        key.into_owned()
                    } else {
                        let mut name = String::with_capacity(prefix.len() + key.len());
                        name.push_str(prefix);
                        name.push_str(&key);
                        name
                    };
                    self.out.insert(name, value);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}
