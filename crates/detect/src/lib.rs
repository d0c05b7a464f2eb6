//! Detect: matches events against rules and runs the stateful detectors.
//!
//! Pure and replayable: no IO, no wall clock, no async runtime. Time comes
//! from the events themselves or from an injected clock, so the same events
//! always give the same detections, in `hunt` and in the live server.
//!
//! - [`routing`] turns the logsource decision ([`events::taxonomy`]; the
//!   one table is in `docs/logsource-mapping.md`) into the views rules are
//!   compared with, and the field renames they read through.
//! - [`Matcher`] compiles Sigma rules (rsigma-eval, pinned and kept behind
//!   this crate's boundary) grouped by logsource, and matches events from
//!   any number of threads.
//! - [`Stateful`] feeds the events that correlations and [`Detector`]s need
//!   in time order; a [`Shard`] of it keeps the state of some keys only.
//! - [`Catalogue`] lists the rules that run, with their logsources, and
//!   which of them an event's route feeds (for coverage reports).

mod catalogue;
mod detection;
mod matcher;
pub mod routing;
mod rule;
mod shard;
mod stateful;
mod view;

pub use catalogue::Catalogue;
pub use detection::{Annotator, Detection, Detector, Level, NoAnnotation, Selector};
pub use matcher::{CorrelationInput, FIELD_VALUE_MAX, FIELDS_MAX, Matcher};
pub use rule::{RuleInfo, RuleKind};
pub use shard::{Shard, shard_key};
pub use stateful::{Pending, StageState, Stateful};
pub use view::EventView;
