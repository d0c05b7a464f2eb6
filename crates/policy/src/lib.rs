//! Policy: the incident response policy's watch list. Native detectors for
//! what Sigma cannot say (missing time spans, unexpected reboots, new
//! ports, slowdowns, ...) and the annotations (policy item, severity,
//! incident category, runbook) that policy detections carry.
//!
//! Pure, like `detect`: no IO and no wall clock.

use detect::{Detection, Detector};
use events::Event;

/// The native detectors that run by default in `hunt` and in the server.
pub fn default_detectors() -> Vec<Box<dyn Detector>> {
    Vec::new()
}

/// Adds policy information (policy item, entity keys) to a detection made
/// by a rule of the bundled policy pack. Detections of other rules are left
/// alone.
pub fn annotate(_detection: &mut Detection, _event: Option<&Event>) {}
