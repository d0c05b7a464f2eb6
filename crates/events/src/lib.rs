//! Events: the one shape every log source produces and every detector reads.
//!
//! An [`Event`] is a set of named fields (a JSON object, so nested cloud
//! records keep their shape and Sigma rules address them with dots, as in
//! `userIdentity.type`) plus [`Meta`]: where the event came from (file and
//! record number), when it happened, which host it is about, and its Sigma
//! [`LogSource`].
//!
//! [`taxonomy`] is the one place that decides an event's logsource.
//!
//! It also holds [`Category`], the incident category that both the policy
//! catalogue and the incident store use, so the two agree on one type.
//!
//! This crate is pure data. It must not depend on IO, async runtimes, the
//! wall clock, or any rule engine: `sources` fills events in, `detect`
//! reads them.

mod category;
mod event;
mod logsource;
pub mod taxonomy;

pub use category::{Category, ParseEnumError};
pub use event::{Event, Meta, SourceId, lookup};
pub use logsource::LogSource;

/// Re-exported so that every crate names field values the same way.
pub use serde_json::{Map, Value};
/// Re-exported so that every crate agrees on the timestamp type.
pub use time::OffsetDateTime as Timestamp;
