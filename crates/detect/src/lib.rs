//! Detect: matches events against rules and runs the stateful detectors.
//!
//! Pure and replayable: no IO, no wall clock, no async runtime. Time comes
//! from the events themselves or from an injected clock, so the same events
//! always give the same detections, in `hunt` and in the live server.

mod detection;

pub use detection::{Detection, Detector, Level, Policy};
