//! Parsing rule text, with per-document errors.

use std::sync::Arc;

use crate::{
    CorrelationRule, DetectionRule, FilterRule, RuleError, RuleSet, base64offset, keyword_all,
};

/// Parses one rule file's text (one or more YAML documents). `name` is
/// used as the file in errors and on each rule.
pub fn load_str(name: &str, text: &str) -> (RuleSet, Vec<RuleError>) {
    let file: Arc<str> = Arc::from(name);
    let mut set = RuleSet::default();
    let mut errors = Vec::new();
    let collection = match rsigma_parser::parse_sigma_yaml(text) {
        Ok(c) => c,
        Err(err) => {
            errors.push(RuleError {
                file: name.to_string(),
                rule_id: first_id(text),
                reason: err.to_string(),
            });
            return (set, errors);
        }
    };
    for message in collection.errors {
        let entry = RuleError {
            file: name.to_string(),
            rule_id: first_id(text),
            reason: message,
        };
        if is_warning(&entry.reason) {
            set.warnings.push(entry);
        } else {
            errors.push(entry);
        }
    }
    for mut rule in collection.rules {
        base64offset::expand_rule(&mut rule);
        keyword_all::split_rule(&mut rule);
        set.detections.push(DetectionRule {
            file: file.clone(),
            rule,
        });
    }
    for rule in collection.correlations {
        set.correlations.push(CorrelationRule {
            file: file.clone(),
            rule,
        });
    }
    for rule in collection.filters {
        set.filters.push(FilterRule {
            file: file.clone(),
            rule,
        });
    }
    (set, errors)
}

/// Parser remarks that leave the rule loaded (metadata only).
fn is_warning(message: &str) -> bool {
    message.starts_with("invalid ")
        || message.starts_with("related[")
        || message.starts_with("'related'")
}

/// The first top-level `id:` of the text, for locating errors.
fn first_id(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix("id:")?;
        let id = rest.trim().trim_matches(['\'', '"']);
        (!id.is_empty()).then(|| id.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_documents_are_reported_and_good_ones_load() {
        let text = "title: good\nid: 11111111-1111-1111-1111-111111111111\nlogsource:\n  product: windows\ndetection:\n  sel:\n    EventID: 1\n  condition: sel\n---\ntitle: no detection\nlogsource:\n  product: windows\n";
        let (set, errors) = load_str("x.yml", text);
        assert_eq!(set.detections.len(), 1);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].file, "x.yml");
    }

    #[test]
    fn invalid_yaml_is_one_error_with_the_id() {
        let (set, errors) = load_str("y.yml", "id: abc\ntitle: [unclosed\n");
        assert!(set.is_empty());
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].rule_id.as_deref(), Some("abc"));
    }

    #[test]
    fn policy_pack_loads_without_errors() {
        let (_set, errors) = crate::policy_pack();
        assert!(errors.is_empty(), "{errors:?}");
    }
}
