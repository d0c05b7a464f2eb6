//! Splits `'|all'` keyword lists into one keyword item per value.
//!
//! A selection written as a map with no field name,
//!
//! ```yaml
//! keywords_dd:
//!     '|all':
//!         - 'dd'
//!         - 'if='
//! ```
//!
//! means, as pySigma reads it, that every keyword occurs somewhere in the
//! event (full-text search, so each one is a substring). rsigma-eval 0.23
//! instead compiles the values with field semantics (whole-value equality)
//! and requires one single string of the event to satisfy all of them, so
//! such a selection never matches. Here each value becomes a keyword item
//! of its own with `contains`, AND-linked by the selection, which the
//! engine evaluates as intended. Modifiers the author gave besides `all`
//! are kept (and then no `contains` is added).
//!
//! Only top-level selections are rewritten; items inside array scopes
//! (where a nameless item is the array member itself) are left alone.

use rsigma_parser::{Detection, DetectionItem, FieldSpec, Modifier, SigmaRule};

/// Rewrites every `'|all'` keyword item of the rule in place.
pub fn split_rule(rule: &mut SigmaRule) {
    for detection in rule.detection.named.values_mut() {
        split_detection(detection);
    }
}

/// Rewrites every `'|all'` keyword item of a detection in place.
pub fn split_detection(detection: &mut Detection) {
    match detection {
        Detection::AllOf(items) if items.iter().any(is_keyword_all) => {
            *items = std::mem::take(items)
                .into_iter()
                .flat_map(split_item)
                .collect();
        }
        Detection::AnyOf(subs) | Detection::And(subs) => {
            subs.iter_mut().for_each(split_detection);
        }
        _ => {}
    }
}

/// True for a nameless item with `all` and several values.
fn is_keyword_all(item: &DetectionItem) -> bool {
    item.field.name.is_none() && item.field.has_modifier(Modifier::All) && item.values.len() > 1
}

/// One item per value for a keyword `all` item; any other item as it is.
fn split_item(item: DetectionItem) -> Vec<DetectionItem> {
    if !is_keyword_all(&item) {
        return vec![item];
    }
    let mut modifiers: Vec<Modifier> = item
        .field
        .modifiers
        .iter()
        .copied()
        .filter(|m| *m != Modifier::All)
        .collect();
    if modifiers.is_empty() {
        modifiers.push(Modifier::Contains);
    }
    item.values
        .into_iter()
        .map(|value| DetectionItem {
            field: FieldSpec::new(None, modifiers.clone()),
            values: vec![value],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rsigma_parser::SigmaValue;

    use super::*;

    fn rule(detection: &str) -> SigmaRule {
        let text = format!("title: t\nlogsource:\n    product: linux\ndetection:\n{detection}\n");
        let mut collection = rsigma_parser::parse_sigma_yaml(&text).expect("parses");
        assert!(collection.errors.is_empty(), "{:?}", collection.errors);
        let mut rule = collection.rules.remove(0);
        split_rule(&mut rule);
        rule
    }

    /// `(field name, modifiers, values)` of each item of a selection.
    fn items(rule: &SigmaRule, name: &str) -> Vec<(Option<String>, Vec<Modifier>, Vec<String>)> {
        let Detection::AllOf(items) = &rule.detection.named[name] else {
            panic!("{name} is not a map: {:?}", rule.detection.named[name]);
        };
        items
            .iter()
            .map(|i| {
                let values = i
                    .values
                    .iter()
                    .map(|v| match v {
                        SigmaValue::String(s) => s.original.clone(),
                        other => format!("{other:?}"),
                    })
                    .collect();
                (i.field.name.clone(), i.field.modifiers.clone(), values)
            })
            .collect()
    }

    #[test]
    fn keyword_all_lists_become_one_contains_item_per_value() {
        let r = rule(
            "    kw:\n        '|all':\n            - 'dd'\n            - 'if='\n    sel:\n        type: EXECVE\n        a1|contains|all:\n            - 'x'\n            - 'y'\n    condition: kw and sel",
        );
        assert_eq!(
            items(&r, "kw"),
            [
                (None, vec![Modifier::Contains], vec!["dd".to_owned()]),
                (None, vec![Modifier::Contains], vec!["if=".to_owned()]),
            ]
        );
        // Named fields keep `all` as written.
        assert_eq!(
            items(&r, "sel")[1],
            (
                Some("a1".to_owned()),
                vec![Modifier::Contains, Modifier::All],
                vec!["x".to_owned(), "y".to_owned()]
            )
        );
    }

    #[test]
    fn other_modifiers_are_kept_without_adding_contains() {
        let r = rule(
            "    kw:\n        '|startswith|all':\n            - 'a'\n            - 'b'\n    condition: kw",
        );
        assert_eq!(
            items(&r, "kw"),
            [
                (None, vec![Modifier::StartsWith], vec!["a".to_owned()]),
                (None, vec![Modifier::StartsWith], vec!["b".to_owned()]),
            ]
        );
    }
}
