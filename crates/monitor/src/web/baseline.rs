//! The approved web baselines: one [`Fingerprint`] per URL, kept in a
//! versioned state file (kind `web`, see [`crate::state`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Fingerprint;

/// The `kind` of a web state file.
pub const STATE_KIND: &str = "web";

/// The approved fingerprint of every watched URL.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebState {
    /// Approved fingerprints by URL.
    #[serde(default)]
    pub urls: BTreeMap<String, Fingerprint>,
}
