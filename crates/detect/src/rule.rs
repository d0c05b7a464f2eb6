//! [`RuleInfo`]: a rule that runs, as coverage reports show it (its id,
//! title, level and logsource), apart from the compiled rule that
//! matches.

use crate::Level;

/// What a catalogue entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// A Sigma detection rule, matched against each event of its
    /// logsource.
    Detection,
    /// A Sigma correlation rule, counting the matches of other rules.
    Correlation,
}

impl RuleKind {
    /// The kind's name: `detection` or `correlation`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RuleKind::Detection => "detection",
            RuleKind::Correlation => "correlation",
        }
    }
}

/// One rule that runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    /// The Sigma `id`, when the rule has one.
    pub id: Option<String>,
    /// The Sigma `name`, when the rule has one (correlations refer to
    /// rules by id or name).
    pub name: Option<String>,
    /// The title.
    pub title: String,
    /// The level (a rule without one is informational).
    pub level: Level,
    /// Detection or correlation.
    pub kind: RuleKind,
    /// The logsource `product` the rule names, lower case as matched
    /// (`None` for correlations, which have their rules' logsources).
    pub product: Option<String>,
    /// The logsource `service`, lower case.
    pub service: Option<String>,
    /// The logsource `category`, lower case.
    pub category: Option<String>,
    /// A correlation's `timespan` in seconds: how much event time its
    /// state covers (`None` for detection rules, which keep none).
    pub timespan_secs: Option<u64>,
}
