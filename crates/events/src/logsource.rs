//! The Sigma logsource of an event: `product`, `service` and `category`.

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

    /// True when nothing is known about the event's origin.
    pub const fn is_unknown(&self) -> bool {
        self.product.is_none() && self.service.is_none() && self.category.is_none()
    }
}
