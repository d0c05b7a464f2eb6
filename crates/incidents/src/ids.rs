//! Typed identifiers. Every id is a UUIDv7 (time-sortable) wrapped in its own
//! newtype so an incident id can never be passed where a report id is meant.
//! Ids are opaque to callers: they are random enough not to leak counts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// Identifies a [`crate::Report`].
    ReportId
);
id_type!(
    /// Identifies an [`crate::Incident`].
    IncidentId
);
id_type!(
    /// Identifies an [`crate::Alert`].
    AlertId
);
id_type!(
    /// Identifies a [`crate::User`].
    UserId
);
id_type!(
    /// Identifies an [`crate::ApiToken`].
    TokenId
);
id_type!(
    /// Identifies a [`crate::RoleGrant`].
    RoleGrantId
);
id_type!(
    /// Identifies a [`crate::Task`].
    TaskId
);
id_type!(
    /// Identifies a [`crate::Note`].
    NoteId
);
id_type!(
    /// Identifies a [`crate::TimelineEvent`].
    TimelineId
);
id_type!(
    /// Identifies an [`crate::Attachment`].
    AttachmentId
);
id_type!(
    /// Identifies a [`crate::SuppressionRule`].
    SuppressionId
);
id_type!(
    /// Identifies an [`crate::OutboxMessage`].
    OutboxId
);

impl UserId {
    /// The reserved id of the system actor (the nil UUID); see
    /// [`crate::Viewer::system`].
    pub const SYSTEM: UserId = UserId(Uuid::nil());
}
