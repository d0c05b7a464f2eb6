//! [`EventView`]: an [`events::Event`] as rsigma-eval sees it.
//!
//! Field lookup is zero-copy: strings are borrowed from the event. A name
//! is tried as a literal key first (`a.b`, `Source Name`), then through the
//! view's rename table (a Sigma name mapped to the event's own name, for
//! stand-in events such as Security 4688), then as a dotted path into
//! nested objects, following every member of an array on the way.

use std::borrow::Cow;

use events::{Event, Map, Value};
use rsigma_eval::{Event as SigmaEvent, EventValue};

use crate::routing::Renames;

/// Nesting limit for recursive walks.
const MAX_DEPTH: usize = 64;

/// An event seen through a logsource view's rename table.
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    /// The event.
    pub event: &'a Event,
    /// Sigma name → event name.
    pub renames: Renames,
}

impl<'a> EventView<'a> {
    /// A view without renames.
    pub fn raw(event: &'a Event) -> Self {
        Self {
            event,
            renames: &[],
        }
    }

    /// Looks a field up the way rules see it.
    pub fn lookup(&self, path: &str) -> Option<&'a Value> {
        let fields = &self.event.fields;
        if let Some(v) = fields.get(path) {
            return Some(v);
        }
        if let Some((_, to)) = self.renames.iter().find(|(from, _)| *from == path) {
            return fields.get(*to);
        }
        None
    }
}

impl SigmaEvent for EventView<'_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        if let Some(v) = self.lookup(path) {
            return Some(EventValue::from(v));
        }
        if !path.contains('.') {
            return None;
        }
        let mut parts = path.split('.');
        let first = parts.next()?;
        let root = self.event.fields.get(first)?;
        let rest: Vec<&str> = parts.collect();
        let mut out = Vec::new();
        collect_path(root, &rest, &mut out, MAX_DEPTH);
        match out.len() {
            0 => None,
            1 => out.pop(),
            _ => Some(EventValue::Array(out)),
        }
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        self.event
            .fields
            .values()
            .any(|v| any_string(v, pred, MAX_DEPTH))
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        let mut out = Vec::new();
        self.visit_string_values(&mut |s| out.push(Cow::Owned(s.to_string())));
        out
    }

    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        for v in self.event.fields.values() {
            visit_strings(v, visit, MAX_DEPTH);
        }
    }

    fn to_json(&self) -> Value {
        let mut map: Map<String, Value> = self.event.fields.clone();
        for (from, to) in self.renames {
            if !map.contains_key(*from)
                && let Some(v) = self.event.fields.get(*to)
            {
                map.insert((*from).to_string(), v.clone());
            }
        }
        Value::Object(map)
    }

    fn visit_top_level_keys(&self, visit: &mut dyn FnMut(&str)) -> bool {
        for key in self.event.fields.keys() {
            visit(key);
        }
        for (from, to) in self.renames {
            if self.event.fields.contains_key(*to) {
                visit(from);
            }
        }
        true
    }

    fn top_level_keys(&self) -> Option<Vec<Cow<'_, str>>> {
        let mut keys = Vec::new();
        self.visit_top_level_keys(&mut |k| keys.push(Cow::Owned(k.to_string())));
        Some(keys)
    }
}

fn collect_path<'a>(value: &'a Value, rest: &[&str], out: &mut Vec<EventValue<'a>>, depth: usize) {
    if depth == 0 {
        return;
    }
    match (value, rest.split_first()) {
        (Value::Array(items), Some(_)) => {
            for item in items {
                collect_path(item, rest, out, depth - 1);
            }
        }
        (Value::Object(map), Some((head, tail))) => {
            if let Some(v) = map.get(*head) {
                collect_path(v, tail, out, depth - 1);
            }
        }
        (_, Some(_)) => {}
        (v, None) => out.push(EventValue::from(v)),
    }
}

fn any_string(value: &Value, pred: &dyn Fn(&str) -> bool, depth: usize) -> bool {
    if depth == 0 {
        return false;
    }
    match value {
        Value::String(s) => pred(s),
        Value::Array(items) => items.iter().any(|v| any_string(v, pred, depth - 1)),
        Value::Object(map) => map.values().any(|v| any_string(v, pred, depth - 1)),
        _ => false,
    }
}

fn visit_strings(value: &Value, visit: &mut dyn FnMut(&str), depth: usize) {
    if depth == 0 {
        return;
    }
    match value {
        Value::String(s) => visit(s),
        Value::Array(items) => items
            .iter()
            .for_each(|v| visit_strings(v, visit, depth - 1)),
        Value::Object(map) => map
            .values()
            .for_each(|v| visit_strings(v, visit, depth - 1)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use events::Meta;
    use serde_json::json;

    use super::*;

    #[test]
    fn lookup_literal_rename_and_path() {
        let Value::Object(map) = json!({
            "NewProcessName": "C:\\x.exe",
            "a.b": 1,
            "userIdentity": {"type": "Root", "list": [{"k": "v1"}, {"k": "v2"}]}
        }) else {
            panic!()
        };
        let e = Event::new(Meta::new(Arc::from("t"), 1), map);
        let v = EventView {
            event: &e,
            renames: crate::routing::RENAMES_4688,
        };
        assert_eq!(
            v.get_field("Image"),
            Some(EventValue::Str(Cow::Borrowed("C:\\x.exe")))
        );
        assert_eq!(EventView::raw(&e).get_field("Image"), None);
        assert_eq!(v.get_field("a.b"), Some(EventValue::Int(1)));
        assert_eq!(
            v.get_field("userIdentity.type"),
            Some(EventValue::Str(Cow::Borrowed("Root")))
        );
        assert_eq!(
            v.get_field("userIdentity.list.k"),
            Some(EventValue::Array(vec![
                EventValue::Str(Cow::Borrowed("v1")),
                EventValue::Str(Cow::Borrowed("v2"))
            ]))
        );
        assert!(v.any_string_value(&|s| s == "v2"));
        assert!(!v.any_string_value(&|s| s == "nope"));
    }
}
