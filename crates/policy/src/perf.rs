//! [`Performance`]: sudden, sustained performance degradation of a
//! numeric series (web request time, latency, CPU) per key.
//!
//! Each series (host + key fields + value field) keeps a robust EWMA
//! baseline: an exponentially weighted mean and mean absolute deviation,
//! where each new point is first clamped to `mean ± k·deviation`, so a
//! single spike moves the baseline only a little. A point deviates when
//! it is above `mean + k·max(deviation, min_relative·mean)`. The detector
//! fires once when `n` of the last `m` points deviate, and re-arms after
//! `m` points in a row that do not. Nothing is judged during `warmup`.
//!
//! Saved state ([`Detector::save`]) holds every series: its baseline
//! (mean and deviation, exactly), point count, recent deviations, whether
//! it is firing and its quiet run.

use detect::{Detection, Detector};
use events::Event;
use serde::{Deserialize, Serialize};

pub use crate::ids::PERF_ID;

use crate::config::{PerformanceConfig, StateConfig};
use crate::emit::{self, detection, entity, field};
use crate::fields;
use crate::keyed::{KeyedState, SavedKeys, hash_key};
use crate::saved::{self, RestoreError, Stamp, exact_f64};

/// The request time at the end of an access-log line (nginx
/// `$request_time` in seconds, as in `... "GET / HTTP/1.1" 200 512 "-"
/// "agent" 0.123`). Lines without a request line or a trailing decimal
/// number give `None`.
pub fn access_log_request_time(line: &str) -> Option<f64> {
    if !line.contains(" HTTP/") || !line.contains("\"") {
        return None;
    }
    let last = line.trim_end().rsplit(' ').next()?;
    if !last.contains('.') || last.starts_with('"') {
        return None;
    }
    let v: f64 = last.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// What a series belongs to: `host` (the event's), or without one its
/// input (series of different inputs stay apart).
fn scope<'a>(host: &'a str, event: &'a Event) -> &'a str {
    if host.is_empty() {
        &event.meta.source
    } else {
        host
    }
}

/// The event's time, or for an access-log line without one, the time in
/// its `[02/Nov/2026:08:00:00 +0000]` field.
fn event_time(event: &Event) -> Option<events::Timestamp> {
    event.meta.timestamp.or_else(|| {
        let line = fields::message(event)?;
        let start = line.find('[')? + 1;
        let end = start + line[start..].find(']')?;
        events::Timestamp::parse(
            &line[start..end],
            time::macros::format_description!(
                "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"
            ),
        )
        .ok()
    })
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Series {
    #[serde(with = "exact_f64")]
    mean: f64,
    #[serde(with = "exact_f64")]
    dev: f64,
    points: u32,
    /// Bit i set: the i-th most recent point deviated.
    recent: u32,
    firing: bool,
    quiet: u32,
}

/// The performance detector.
#[derive(Debug)]
pub struct Performance {
    config: PerformanceConfig,
    series: KeyedState<u64, Series>,
    /// The settings that shape the state, as saved state records them.
    fingerprint: String,
}

/// The version of the saved state's format.
const STATE_VERSION: u32 = 1;

/// Everything the detector learned from events, as saved.
#[derive(Serialize)]
struct SavedRef<'a> {
    series: &'a KeyedState<u64, Series>,
}

/// [`SavedRef`], read back.
#[derive(Deserialize)]
struct Saved {
    series: SavedKeys<u64, Series>,
}

impl Performance {
    /// A detector with the given settings.
    pub fn new(config: PerformanceConfig, state: &StateConfig) -> Self {
        Self {
            series: KeyedState::new(state.idle_ttl.0, state.max_keys),
            // Every setting shapes the series: their keys, the points
            // they take and how their baselines move.
            fingerprint: saved::fingerprint(&(&config, state)),
            config,
        }
    }

    fn stamp(&self) -> Stamp<'_> {
        Stamp {
            detector: self.name(),
            version: STATE_VERSION,
            config: &self.fingerprint,
            key_hash: Some(crate::keyed::hash_probe()),
        }
    }

    /// Decodes and checks everything before changing anything.
    fn restore_state(&mut self, bytes: &[u8]) -> Result<(), RestoreError> {
        let saved: Saved = saved::decode(&self.stamp(), bytes)?;
        self.series = self.series.restored(saved.series)?;
        Ok(())
    }

    /// Series held.
    pub fn keys(&self) -> usize {
        self.series.len()
    }

    fn value<'c>(&'c self, event: &Event) -> Option<(&'c str, f64)> {
        value(&self.config, event)
    }
}

/// The measured value of an event: the first configured field that holds
/// a finite number, else (when enabled) an access log's request time.
fn value<'c>(config: &'c PerformanceConfig, event: &Event) -> Option<(&'c str, f64)> {
    let from_field = config.value_fields.iter().find_map(|f| {
        let v = fields::number(event, f)?;
        v.is_finite().then_some((f.as_str(), v))
    });
    if from_field.is_some() || !config.access_log_request_time {
        return from_field;
    }
    fields::message(event)
        .and_then(access_log_request_time)
        .map(|v| ("request_time", v))
}

impl Detector for Performance {
    fn name(&self) -> &'static str {
        "performance"
    }

    fn selector(&self) -> std::sync::Arc<dyn detect::Selector> {
        let config = self.config.clone();
        std::sync::Arc::new(move |event: &Event| {
            value(&config, event).is_some() && event_time(event).is_some()
        })
    }

    /// A series is one host's (or, without a host, one input's): every
    /// series of a host goes to the host's shard.
    fn shard_key(&self, event: &Event) -> Option<u64> {
        let host = fields::host(event).unwrap_or_default();
        Some(detect::shard_key(&["performance", scope(&host, event)]))
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Detection>) {
        let Some(ts) = event_time(event) else {
            return;
        };
        let Some((value_field, value)) = self.value(event) else {
            return;
        };
        let value_field = value_field.to_string();
        let host = fields::host(event).unwrap_or_default();
        let scope = scope(&host, event);
        let mut key = format!("{scope}|{value_field}");
        let mut labels = Vec::new();
        for k in &self.config.key_fields {
            if let Some(v) = fields::text(event, k) {
                key.push('|');
                key.push_str(&v);
                labels.push((k.clone(), v));
            }
        }
        let cfg = &self.config;
        let m = cfg.m.clamp(1, 32);
        let n = cfg.n.clamp(1, m);
        let s = self
            .series
            .entry(hash_key(&[&key]), emit::secs(ts), Series::default);
        s.points = s.points.saturating_add(1);
        if s.points == 1 {
            s.mean = value;
            s.dev = 0.0;
            return;
        }
        let spread = s.dev.max(cfg.min_relative * s.mean.abs());
        let limit = s.mean + cfg.k * spread;
        let deviates = s.points > cfg.warmup && value > limit && spread > 0.0;
        // Robust update: clamp the point before it enters the baseline.
        let clamped = if s.points > cfg.warmup && spread > 0.0 {
            value.clamp(s.mean - cfg.k * spread, limit)
        } else {
            value
        };
        let a = cfg.alpha.clamp(0.0001, 1.0);
        s.dev = (1.0 - a) * s.dev + a * (clamped - s.mean).abs();
        s.mean = (1.0 - a) * s.mean + a * clamped;
        let mask = if m == 32 { u32::MAX } else { (1u32 << m) - 1 };
        s.recent = ((s.recent << 1) | u32::from(deviates)) & mask;
        if deviates {
            s.quiet = 0;
        } else {
            s.quiet = s.quiet.saturating_add(1);
            if s.quiet >= m {
                s.firing = false;
            }
        }
        if !s.firing && s.recent.count_ones() >= n {
            s.firing = true;
            let mut d = detection(PERF_ID, &event.meta, Some(ts), None);
            entity(&mut d, "host", (!host.is_empty()).then_some(host.as_str()));
            for (k, v) in &labels {
                if k == "url" || k == "path" {
                    entity(&mut d, "url", Some(v));
                }
                field(&mut d, k, v);
            }
            field(&mut d, "metric", &value_field);
            field(&mut d, "value", value);
            field(&mut d, "baseline", format!("{:.3}", s.mean));
            field(&mut d, "limit", format!("{limit:.3}"));
            field(
                &mut d,
                "deviating_points",
                format!("{}/{m}", s.recent.count_ones()),
            );
            out.push(d);
        }
    }

    fn save(&self) -> Option<Vec<u8>> {
        saved::encode(
            &self.stamp(),
            SavedRef {
                series: &self.series,
            },
        )
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        self.restore_state(state).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Per-series state, in bytes, and its slot in the keyed table.
    #[test]
    fn per_series_state_is_compact() {
        assert_eq!(std::mem::size_of::<Series>(), 32);
        assert_eq!(KeyedState::<u64, Series>::SLOT_BYTES, 48);
    }
}
