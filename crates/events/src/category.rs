//! The incident category: the policy's list of what can happen, plus
//! `other`.
//!
//! One type for every crate: the policy catalogue maps each detection to a
//! category, and the incident store files reports and incidents under one.
//! The snake_case names ([`Category::as_str`], and the serde names, which
//! are the same) are an API contract: they appear in JSON, in the database,
//! in webhook bodies and on the command line, and never change.
//!
//! Not to be confused with the Sigma logsource category
//! ([`crate::LogSource::category`]), which classifies log records.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What kind of incident something is (a report, an incident, a policy
/// detection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A security incident (compromise, malware, evasion).
    SecurityIncident,
    /// Injury to a person.
    PhysicalInjury,
    /// Theft.
    Theft,
    /// Damage to property.
    PropertyDamage,
    /// Loss or degradation of service.
    DenialOfService,
    /// Threats.
    Threats,
    /// Harassment.
    Harassment,
    /// Misuse or takeover of an account.
    AccountAbuse,
    /// Forgery.
    Forgery,
    /// Misrepresentation.
    Misrepresentation,
    /// Anything else.
    Other,
}

impl Category {
    /// Every category, in declaration order.
    pub const ALL: &'static [Category] = &[
        Category::SecurityIncident,
        Category::PhysicalInjury,
        Category::Theft,
        Category::PropertyDamage,
        Category::DenialOfService,
        Category::Threats,
        Category::Harassment,
        Category::AccountAbuse,
        Category::Forgery,
        Category::Misrepresentation,
        Category::Other,
    ];

    /// The stable snake_case name (also the serde name).
    pub const fn as_str(self) -> &'static str {
        match self {
            Category::SecurityIncident => "security_incident",
            Category::PhysicalInjury => "physical_injury",
            Category::Theft => "theft",
            Category::PropertyDamage => "property_damage",
            Category::DenialOfService => "denial_of_service",
            Category::Threats => "threats",
            Category::Harassment => "harassment",
            Category::AccountAbuse => "account_abuse",
            Category::Forgery => "forgery",
            Category::Misrepresentation => "misrepresentation",
            Category::Other => "other",
        }
    }

    /// The allowed names, comma separated, for error messages.
    pub fn allowed() -> String {
        Self::ALL
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Categories that are always handled as sensitive (need-to-know),
    /// whatever the reporter ticked: harassment and physical injury.
    pub const fn always_sensitive(self) -> bool {
        matches!(self, Category::Harassment | Category::PhysicalInjury)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = ParseEnumError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| ParseEnumError {
                kind: "category",
                value: s.to_owned(),
                allowed: Self::allowed(),
            })
    }
}

/// An unknown name for one of the closed vocabularies ([`Category`], and the
/// incident store's channels, severities, statuses, ...). It lists the
/// allowed values, so an API or command line can answer with a helpful
/// message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseEnumError {
    /// Which vocabulary was being parsed (for example `category`).
    pub kind: &'static str,
    /// The rejected input.
    pub value: String,
    /// The allowed names, comma separated.
    pub allowed: String,
}

impl fmt::Display for ParseEnumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} {:?}; allowed values: {}",
            self.kind, self.value, self.allowed
        )
    }
}

impl std::error::Error for ParseEnumError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract, written out by hand: every category and its name.
    const NAMES: &[(Category, &str)] = &[
        (Category::SecurityIncident, "security_incident"),
        (Category::PhysicalInjury, "physical_injury"),
        (Category::Theft, "theft"),
        (Category::PropertyDamage, "property_damage"),
        (Category::DenialOfService, "denial_of_service"),
        (Category::Threats, "threats"),
        (Category::Harassment, "harassment"),
        (Category::AccountAbuse, "account_abuse"),
        (Category::Forgery, "forgery"),
        (Category::Misrepresentation, "misrepresentation"),
        (Category::Other, "other"),
    ];

    #[test]
    fn names_round_trip_as_text_and_json() {
        assert_eq!(Category::ALL.len(), NAMES.len(), "a category is missing");
        for &(category, name) in NAMES {
            assert_eq!(category.as_str(), name);
            assert_eq!(category.to_string(), name);
            assert_eq!(name.parse::<Category>(), Ok(category));
            let json = serde_json::to_string(&category).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<Category>(&json).unwrap(), category);
        }
        let listed: Vec<Category> = NAMES.iter().map(|(c, _)| *c).collect();
        assert_eq!(Category::ALL, listed.as_slice(), "ALL is in contract order");
    }

    #[test]
    fn unknown_names_list_the_allowed_ones() {
        let err = "Theft".parse::<Category>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown category \"Theft\"; allowed values: security_incident, physical_injury, \
             theft, property_damage, denial_of_service, threats, harassment, account_abuse, \
             forgery, misrepresentation, other"
        );
        assert!(serde_json::from_str::<Category>("\"security-incident\"").is_err());
    }

    #[test]
    fn harassment_and_injury_are_always_sensitive() {
        let sensitive: Vec<Category> = Category::ALL
            .iter()
            .copied()
            .filter(|c| c.always_sensitive())
            .collect();
        assert_eq!(
            sensitive,
            [Category::PhysicalInjury, Category::Harassment].as_slice()
        );
    }
}
