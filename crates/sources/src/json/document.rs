//! Streams the records of a JSON document (an array, `{"Records": [...]}`,
//! or plain objects, one after another) to a callback one at a time, so a
//! large CloudTrail file or array is never held whole in memory.
//!
//! An object whose first member is `Records` holding an array is taken as
//! a CloudTrail file: its elements are the records and any later members
//! are ignored. Any other object is one record. Top-level scalars are
//! skipped.

use std::fmt;
use std::io::Read;

use events::{Map, Value};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Calls `on_record` for every record of the document stream in `reader`.
/// Returns the first syntax or read error, if any; records before it have
/// been passed on.
pub(crate) fn stream_records<R: Read>(
    reader: R,
    on_record: &mut dyn FnMut(Value),
) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    loop {
        let mut started = false;
        let result = Top {
            on_record: &mut *on_record,
            started: &mut started,
        }
        .deserialize(&mut de);
        match result {
            Ok(()) => {}
            // The end of the input between two values.
            Err(error) if error.is_eof() && !started => return Ok(()),
            Err(error) => return Err(error),
        }
    }
}

/// One top-level value.
struct Top<'a> {
    on_record: &'a mut dyn FnMut(Value),
    started: &'a mut bool,
}

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// Top-level scalars: noted and skipped.
macro_rules! skip_scalars {
    ($($name:ident: $ty:ty),* $(,)?) => {
        $(fn $name<E: de::Error>(self, _: $ty) -> Result<(), E> {
            *self.started = true;
            Ok(())
        })*
    };
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array or object")
    }

    skip_scalars! {
        visit_bool: bool,
        visit_i64: i64,
        visit_u64: u64,
        visit_f64: f64,
        visit_str: &str,
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        *self.started = true;
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        *self.started = true;
        while let Some(item) = seq.next_element::<Value>()? {
            (self.on_record)(item);
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        *self.started = true;
        let Some(first) = map.next_key::<String>()? else {
            (self.on_record)(Value::Object(Map::new()));
            return Ok(());
        };
        let mut record = Map::new();
        if first == "Records" {
            match map.next_value_seed(RecordsValue {
                on_record: &mut *self.on_record,
            })? {
                None => {
                    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    return Ok(());
                }
                Some(value) => {
                    record.insert(first, value);
                }
            }
        } else {
            let value = map.next_value::<Value>()?;
            record.insert(first, value);
        }
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            record.insert(key, value);
        }
        (self.on_record)(Value::Object(record));
        Ok(())
    }
}

/// The value of a `Records` member: an array is streamed (giving `None`),
/// anything else is returned as a value.
struct RecordsValue<'a> {
    on_record: &'a mut dyn FnMut(Value),
}

impl<'de> DeserializeSeed<'de> for RecordsValue<'_> {
    type Value = Option<Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        d.deserialize_any(self)
    }
}

/// Scalars of a non-array `Records` member, kept as values.
macro_rules! keep_scalars {
    ($($name:ident: $ty:ty),* $(,)?) => {
        $(fn $name<E: de::Error>(self, v: $ty) -> Result<Option<Value>, E> {
            Ok(Some(Value::from(v)))
        })*
    };
}

impl<'de> Visitor<'de> for RecordsValue<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    keep_scalars! {
        visit_bool: bool,
        visit_i64: i64,
        visit_u64: u64,
        visit_f64: f64,
        visit_str: &str,
        visit_string: String,
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<Value>, E> {
        Ok(Some(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Value>, A::Error> {
        while let Some(item) = seq.next_element::<Value>()? {
            (self.on_record)(item);
        }
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Value>, A::Error> {
        let mut out = Map::new();
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            out.insert(key, value);
        }
        Ok(Some(Value::Object(out)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn records(input: &str) -> (Vec<Value>, Result<(), String>) {
        let mut got = Vec::new();
        let result =
            stream_records(input.as_bytes(), &mut |v| got.push(v)).map_err(|e| e.to_string());
        (got, result)
    }

    #[test]
    fn streams_every_shape() {
        let (got, result) = records(r#"[{"a":1},{"a":2}]"#);
        assert_eq!(got, [json!({"a":1}), json!({"a":2})]);
        assert!(result.is_ok());

        let (got, _) = records(r#"{"Records":[{"e":1},{"e":2}]}"#);
        assert_eq!(got, [json!({"e":1}), json!({"e":2})]);

        let (got, _) = records("{\n \"a\": 1\n}\n{\n \"b\": [1]\n}\n");
        assert_eq!(got, [json!({"a":1}), json!({"b":[1]})]);

        let (got, _) = records(r#"{"Records": {"not": "an array"}, "x": 1}"#);
        assert_eq!(got, [json!({"Records": {"not": "an array"}, "x": 1})]);

        let (got, result) = records("  ");
        assert!(got.is_empty());
        assert!(result.is_ok());
    }

    #[test]
    fn errors_come_after_the_good_records() {
        let (got, result) = records(r#"[{"a":1},{"a":2},{"a": tru"#);
        assert_eq!(got.len(), 2);
        assert!(result.is_err());
        let (got, result) = records(r#"[{"a":1},{"a":2},"#);
        assert_eq!(got.len(), 2);
        assert!(result.is_err(), "a truncated array is reported");
    }
}
