//! Rules: loads Sigma detection, correlation and filter rules, and the
//! bundled policy rule pack, into a [`RuleSet`] with located load errors.
//!
//! Loading is partial-success: a file or document that does not parse is
//! reported as a [`RuleError`] (file, rule id when known, reason) and the
//! rest of the rules still load.
//!
//! Pure: [`load_str`] parses text; reading rule files and folders is the
//! `engine` crate's `load_rule_paths`.
//!
//! This crate only parses (with `rsigma-parser`, pinned); it must not depend
//! on `detect` or on anything that matches. The parsed Sigma types are
//! reached through accessors that only `detect` calls; rsigma is never
//! re-exported, and no public field has one of its types.
//!
//! Before a rule is handed on, known engine bugs are worked around here
//! (see [`base64offset`] and [`keyword_all`]).

pub mod base64offset;
pub mod keyword_all;
mod load;

use std::sync::Arc;

pub use load::load_str;

use rsigma_parser as sigma;

/// Where a rule came from: a file path, or `policy:<name>` for the bundled
/// pack.
pub type RuleFile = Arc<str>;

/// One rule that failed to load (parse here, or compile in `detect`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleError {
    /// The file the rule is in.
    pub file: String,
    /// The Sigma `id`, when it could be read.
    pub rule_id: Option<String>,
    /// Why it failed.
    pub reason: String,
}

/// A detection rule and the file it came from.
#[derive(Debug, Clone)]
pub struct DetectionRule {
    /// Source file.
    pub file: RuleFile,
    rule: sigma::SigmaRule,
}

impl DetectionRule {
    /// A rule exactly as given: no engine workaround is applied (the
    /// rules of [`load_str`] have them applied). For `detect`'s tests.
    pub fn new(file: RuleFile, rule: sigma::SigmaRule) -> Self {
        Self { file, rule }
    }

    /// The parsed rule (base64offset already expanded, `'|all'` keyword
    /// lists already split). For `detect` only.
    pub fn rule(&self) -> &sigma::SigmaRule {
        &self.rule
    }
}

/// A correlation rule and the file it came from.
#[derive(Debug, Clone)]
pub struct CorrelationRule {
    /// Source file.
    pub file: RuleFile,
    rule: sigma::CorrelationRule,
}

impl CorrelationRule {
    /// The parsed correlation. For `detect` only.
    pub fn rule(&self) -> &sigma::CorrelationRule {
        &self.rule
    }
}

/// A filter rule and the file it came from.
#[derive(Debug, Clone)]
pub struct FilterRule {
    /// Source file.
    pub file: RuleFile,
    rule: sigma::FilterRule,
}

impl FilterRule {
    /// The parsed filter. For `detect` only.
    pub fn rule(&self) -> &sigma::FilterRule {
        &self.rule
    }
}

/// The catalogue of loaded rules.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// Detection rules, in load order (files sorted by path).
    pub detections: Vec<DetectionRule>,
    /// Correlation rules.
    pub correlations: Vec<CorrelationRule>,
    /// Filter rules.
    pub filters: Vec<FilterRule>,
    /// Non-fatal remarks met while parsing (invalid `date`, bad `related`
    /// entries, ...): the rule still loaded.
    pub warnings: Vec<RuleError>,
}

impl RuleSet {
    /// Number of rules of every kind.
    pub fn len(&self) -> usize {
        self.detections.len() + self.correlations.len() + self.filters.len()
    }

    /// True when no rule is loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends every rule of `other`.
    pub fn extend(&mut self, other: RuleSet) {
        self.detections.extend(other.detections);
        self.correlations.extend(other.correlations);
        self.filters.extend(other.filters);
        self.warnings.extend(other.warnings);
    }
}

/// The bundled policy pack: every `*.yml`/`*.yaml` under the repository's
/// `rules/policy/`, embedded at build time, as `(relative name, text)`.
pub const POLICY_FILES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/policy_pack.rs"));

/// Loads the bundled policy pack. Files are named `policy:<name>`.
pub fn policy_pack() -> (RuleSet, Vec<RuleError>) {
    let mut set = RuleSet::default();
    let mut errors = Vec::new();
    for (name, text) in POLICY_FILES {
        let (s, e) = load_str(&format!("policy:{name}"), text);
        set.extend(s);
        errors.extend(e);
    }
    (set, errors)
}
