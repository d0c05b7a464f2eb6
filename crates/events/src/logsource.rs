//! The Sigma logsource of an event: `product`, `service` and `category`.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

/// The Sigma logsource an event belongs to.
///
/// Values come from the closed taxonomy of the Sigma specification (and
/// the few extra services watchpost knows), so they are `&'static str`:
/// classifying an event never allocates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub struct LogSource {
    /// For example `windows`, `linux`, `aws`, `gcp`, `github`, `okta`.
    pub product: Option<&'static str>,
    /// For example `security`, `sysmon`, `sshd`, `cloudtrail`, `audit`.
    pub service: Option<&'static str>,
    /// For example `process_creation`, `network_connection`, `webserver`.
    pub category: Option<&'static str>,
}

impl LogSource {
    /// A logsource with only a product.
    pub const fn product(product: &'static str) -> Self {
        Self {
            product: Some(product),
            service: None,
            category: None,
        }
    }

    /// A logsource with a product and a service.
    pub const fn service(product: &'static str, service: &'static str) -> Self {
        Self {
            product: Some(product),
            service: Some(service),
            category: None,
        }
    }

    /// Returns a copy with the category set.
    pub const fn with_category(mut self, category: &'static str) -> Self {
        self.category = Some(category);
        self
    }

    /// A logsource from names read back from saved state (a detector's
    /// checkpoint). Names are the taxonomy's, but arrive as text: each
    /// distinct one is kept once per process ([`intern`]).
    pub fn from_names(
        product: Option<&str>,
        service: Option<&str>,
        category: Option<&str>,
    ) -> Self {
        Self {
            product: product.map(intern),
            service: service.map(intern),
            category: category.map(intern),
        }
    }

    /// True when nothing is known about the event's origin.
    pub const fn is_unknown(&self) -> bool {
        self.product.is_none() && self.service.is_none() && self.category.is_none()
    }
}

/// The `&'static str` for a logsource name read back as text. A
/// [`LogSource`] holds names of the closed taxonomy as `&'static str`, so
/// each distinct name is leaked once per process and reused: what this
/// holds is bounded by the distinct names ever read back, and callers
/// bound the names they accept.
pub fn intern(name: &str) -> &'static str {
    static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(Box::from(name));
    names.insert(leaked);
    leaked
}
