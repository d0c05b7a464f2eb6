//! Log sources: reads log files (Windows EVTX, JSON in its shapes, syslog)
//! and turns every record into an [`events::Event`].
//!
//! Parsers never panic on input. Each returns the good records plus located
//! problems, so one bad line or chunk never hides the rest.
//!
//! Must not depend on `rules`, `detect` or anything that matches.
