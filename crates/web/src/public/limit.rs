//! A small in-memory rate limiter keyed by the peer's IP address: at most
//! `limit` requests in a sliding `window`. Memory is bounded: past
//! [`MAX_KEYS`] addresses, those with nothing in the window are forgotten,
//! and if that is not enough, all are.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most addresses remembered.
const MAX_KEYS: usize = 10_000;

/// Requests per address in a sliding window.
#[derive(Debug)]
pub(crate) struct Limiter {
    limit: usize,
    window: Duration,
    seen: Mutex<HashMap<Option<IpAddr>, VecDeque<Instant>>>,
}

impl Limiter {
    /// At most `limit` requests per `window` from one address.
    pub(crate) fn new(limit: usize, window: Duration) -> Self {
        Limiter {
            limit: limit.max(1),
            window,
            seen: Mutex::default(),
        }
    }

    /// The most requests in a window.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// The window.
    pub(crate) fn window(&self) -> Duration {
        self.window
    }

    /// Counts a request from `ip` (`None`: the peer is unknown, and all such
    /// requests share one count) at `now`; `Err(retry_after)` when the
    /// address already made `limit` requests in the window (the request is
    /// then not counted).
    pub(crate) fn check(&self, ip: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !seen.contains_key(&ip) && seen.len() >= MAX_KEYS {
            let window = self.window;
            seen.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
            if seen.len() >= MAX_KEYS {
                seen.clear();
            }
        }
        let times = seen.entry(ip).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.len() >= self.limit {
            let oldest = times.front().copied().unwrap_or(now);
            let left = self.window.saturating_sub(now.duration_since(oldest));
            return Err(left.max(Duration::from_secs(1)));
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_request_in_an_hour_waits_for_the_first_to_leave() {
        let l = Limiter::new(5, Duration::from_secs(3600));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..5 {
            assert_eq!(l.check(Some(a), t0 + Duration::from_secs(i * 60)), Ok(()));
        }
        assert_eq!(
            l.check(Some(a), t0 + Duration::from_secs(600)),
            Err(Duration::from_secs(3000))
        );
        // Another address has its own count.
        assert_eq!(l.check(Some(b), t0 + Duration::from_secs(600)), Ok(()));
        // The first request leaves the window an hour after it was made.
        assert_eq!(l.check(Some(a), t0 + Duration::from_secs(3600)), Ok(()));
        assert!(l.check(Some(a), t0 + Duration::from_secs(3601)).is_err());
    }
}
