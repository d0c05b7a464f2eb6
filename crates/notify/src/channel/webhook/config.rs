//! The webhook channel's configuration.

use serde::Deserialize;

use crate::secret::Secret;

/// The generic webhook (`[notify.webhook]`), a shared destination: it never
/// receives sensitive incidents.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The URL that receives a signed JSON POST.
    pub url: String,
    /// The HMAC-SHA256 key. Never logged.
    pub secret: Secret,
}
