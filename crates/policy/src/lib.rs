//! Policy: the incident response policy's watch list. Native detectors for
//! what Sigma cannot say (login-failure windows across sources, missing
//! time spans, unexpected reboots, slowdowns, ClamAV and EDR alerts) and
//! the annotations (policy item, severity, incident category, entity keys,
//! runbook) that policy detections carry.
//!
//! The Sigma half of the pack lives in `rules/policy/` at the repository
//! root; [`catalogue()`] describes both halves, and [`annotate`] tags
//! detections of the pack's Sigma rules.
//!
//! Pure, like `detect`: no IO and no wall clock. Time is event time, or the
//! time a live driver passes to [`Detector::advance`]. State is bounded:
//! keys expire after an idle TTL and are evicted past a key limit.
//!
//! A live server checkpoints that state: each stateful detector's
//! [`Detector::save`] writes it as JSON (with a format version and a
//! fingerprint of the settings that shape it), and [`Detector::restore`]
//! takes it back into a detector built from the same configuration, which
//! then goes on as if it had never stopped.

pub mod antivirus;
mod catalogue;
mod config;
mod emit;
pub mod fields;
pub mod gaps;
mod ids;
mod item;
mod keyed;
pub mod login;
pub mod perf;
pub mod reboot;
mod saved;

pub use catalogue::{Category, Entry, Source, catalogue, entry};
pub use config::{
    GapsConfig, LoginConfig, MaintenanceAction, PerformanceConfig, PolicyConfig, PolicyError,
    RebootConfig, Secs, StateConfig, parse_duration,
};
pub use item::Policy;
pub use keyed::{KeyedState, hash_key};

use detect::{Annotator, Detection, Detector};
use events::Event;

/// The native detectors that run by default in `hunt`, with the default
/// configuration.
///
/// The gap detector is not among them: it needs every event, while `hunt`
/// keeps only the events some stateful detector is interested in. Gaps are
/// found by `watchpost gaps` and, live, by [`live_detectors`].
pub fn default_detectors() -> Vec<Box<dyn Detector>> {
    detectors(&PolicyConfig::default()).expect("the default configuration is valid")
}

/// The `hunt` detectors (see [`default_detectors`]) with a given
/// configuration. Fails when the configuration holds a value that does not
/// parse (a maintenance window).
pub fn detectors(config: &PolicyConfig) -> Result<Vec<Box<dyn Detector>>, PolicyError> {
    Ok(vec![
        Box::new(login::LoginFailures::new(
            config.login.clone(),
            &config.state,
        )),
        Box::new(reboot::Reboots::new(&config.reboot, &config.state)?),
        Box::new(antivirus::Antivirus),
        Box::new(perf::Performance::new(
            config.performance.clone(),
            &config.state,
        )),
    ])
}

/// Every native detector, the gap detector included, for a live server
/// that sees every event and calls [`Detector::advance`] on a timer.
pub fn live_detectors(config: &PolicyConfig) -> Result<Vec<Box<dyn Detector>>, PolicyError> {
    let mut all = detectors(config)?;
    all.push(Box::new(gaps::Gaps::new(
        config.gaps.clone(),
        &config.state,
    )));
    Ok(all)
}

/// The policy's [`Annotator`]: [`annotate`] for every detection.
#[derive(Debug, Clone, Copy, Default)]
pub struct PolicyAnnotator;

impl Annotator for PolicyAnnotator {
    fn annotate(&self, detection: &mut Detection, event: Option<&Event>) {
        annotate(detection, event);
    }
}

/// Adds policy information to a detection made by a rule of the bundled
/// policy pack: the policy item, the entity keys read from the event
/// (`user`, `source_ip`, ...; the `host` entity is the detection's own
/// `host` field, filled when empty), and for antivirus rules the threat,
/// file and action. Detections of other rules are left alone; entity keys
/// already set (for example by a correlation's group-by) are kept.
pub fn annotate(detection: &mut Detection, event: Option<&Event>) {
    let Some(entry) = entry(&detection.rule_id) else {
        return;
    };
    detection.policy = Some(entry.policy.as_str());
    let Some(event) = event else {
        return;
    };
    for (key, paths) in entry.entities {
        // The host entity is the detection's `host` field.
        let present = if *key == "host" {
            detection.host.is_some()
        } else {
            detection.entities.contains_key(*key)
        };
        if present {
            continue;
        }
        let value = fields::first_text(event, paths).or_else(|| {
            // Windows names are also tried under `Event.EventData`.
            paths.iter().find_map(|p| fields::event_data(event, p))
        });
        if let Some(v) = value {
            let v = if *key == "source_ip" {
                fields::clean_ip(&v)
            } else {
                v
            };
            if *key == "host" {
                detection.host = Some(v);
            } else {
                detection.entities.insert((*key).to_string(), v);
            }
        }
    }
    if detection.host.is_none() {
        detection.host = fields::host(event);
    }
    if entry.policy == Policy::Antivirus && matches!(entry.source, Source::Sigma { .. }) {
        antivirus::apply(detection, &antivirus::defender(event));
    }
}
