//! [`TimeZone`]: the zone of timestamps that carry none (RFC 3164 syslog
//! lines), and [`LocalClock`], which turns such a file's civil times into
//! instants in file order, daylight-saving changes included.
//!
//! The zone database is built into the binary (jiff's bundled copy of the
//! IANA database), so a zone name means the same on every machine, with or
//! without `/usr/share/zoneinfo`. `local` reads the machine's own zone.

use std::fmt;

use time::OffsetDateTime;

/// The time zone that RFC 3164 syslog lines are read in. The default is
/// UTC.
#[derive(Clone, PartialEq, Default)]
pub struct TimeZone {
    zone: Option<jiff::tz::TimeZone>,
    name: Option<String>,
}

impl fmt::Debug for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A time zone name that is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown time zone {name:?}: give an IANA name such as America/New_York or Europe/Berlin, `local`, or `UTC`"
)]
pub struct UnknownZone {
    /// The name given.
    pub name: String,
}

impl TimeZone {
    /// UTC.
    pub const UTC: TimeZone = TimeZone {
        zone: None,
        name: None,
    };

    /// Parses a zone: an IANA name (`America/New_York`), `local` (this
    /// machine's zone) or `UTC`, case-insensitively for `local` and `UTC`.
    pub fn parse(name: &str) -> Result<TimeZone, UnknownZone> {
        let trimmed = name.trim();
        if trimmed.eq_ignore_ascii_case("utc") || trimmed.eq_ignore_ascii_case("z") {
            return Ok(TimeZone::UTC);
        }
        let zone = if trimmed.eq_ignore_ascii_case("local") {
            jiff::tz::TimeZone::try_system().map_err(|_| UnknownZone {
                name: name.to_string(),
            })?
        } else {
            jiff::tz::TimeZone::get(trimmed).map_err(|_| UnknownZone {
                name: name.to_string(),
            })?
        };
        let name = if trimmed.eq_ignore_ascii_case("local") {
            format!("local ({})", zone.iana_name().unwrap_or("system zone"))
        } else {
            zone.iana_name().unwrap_or(trimmed).to_string()
        };
        Ok(TimeZone {
            zone: Some(zone),
            name: Some(name),
        })
    }

    /// The zone's name (`UTC` for UTC).
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("UTC")
    }

    /// True for UTC.
    pub fn is_utc(&self) -> bool {
        self.zone.is_none()
    }
}

/// Turns one file's civil times (no zone) into instants, in file order.
///
/// A civil time that happens twice (the hour repeated when daylight-saving
/// time ends) is the first occurrence, unless the file has already moved
/// past it: then it is the second. A civil time that never happens (the
/// hour skipped when daylight-saving time starts) is read with the offset
/// before the change, as a clock that was not yet set forward would write.
#[derive(Debug, Clone)]
pub struct LocalClock {
    zone: TimeZone,
    last: Option<i64>,
}

impl LocalClock {
    /// A clock for one file in `zone`.
    pub fn new(zone: TimeZone) -> Self {
        Self { zone, last: None }
    }

    /// The instant of a civil time read as UTC (`naive`: the civil fields
    /// with a zero offset), in this clock's zone.
    pub fn instant(&mut self, naive: OffsetDateTime) -> OffsetDateTime {
        let Some(zone) = &self.zone.zone else {
            return naive;
        };
        let Some(civil) = civil(naive) else {
            return naive;
        };
        let secs = naive.unix_timestamp();
        let offset_secs = match zone.to_ambiguous_timestamp(civil).offset() {
            jiff::tz::AmbiguousOffset::Unambiguous { offset } => offset.seconds(),
            jiff::tz::AmbiguousOffset::Gap { before, .. } => before.seconds(),
            jiff::tz::AmbiguousOffset::Fold { before, after } => {
                // `before` is the larger offset: its instant is earlier.
                let first = secs - i64::from(before.seconds());
                match self.last {
                    Some(last) if last > first => after.seconds(),
                    _ => before.seconds(),
                }
            }
        };
        let instant = naive - time::Duration::seconds(i64::from(offset_secs));
        let t = instant.unix_timestamp();
        self.last = Some(self.last.map_or(t, |l| l.max(t)));
        instant
    }
}

fn civil(naive: OffsetDateTime) -> Option<jiff::civil::DateTime> {
    jiff::civil::DateTime::new(
        i16::try_from(naive.year()).ok()?,
        i8::try_from(u8::from(naive.month())).ok()?,
        i8::try_from(naive.day()).ok()?,
        i8::try_from(naive.hour()).ok()?,
        i8::try_from(naive.minute()).ok()?,
        i8::try_from(naive.second()).ok()?,
        i32::try_from(naive.nanosecond()).ok()?,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn read(clock: &mut LocalClock, naive: OffsetDateTime) -> OffsetDateTime {
        clock.instant(naive)
    }

    #[test]
    fn utc_is_the_identity() {
        let mut c = LocalClock::new(TimeZone::UTC);
        let t = datetime!(2024-03-10 02:30:00 UTC);
        assert_eq!(read(&mut c, t), t);
        assert_eq!(TimeZone::parse("utc").unwrap(), TimeZone::UTC);
    }

    #[test]
    fn new_york_in_winter_and_summer() {
        let ny = TimeZone::parse("America/New_York").unwrap();
        let mut c = LocalClock::new(ny);
        // EST is UTC-5, EDT is UTC-4 (written out by hand).
        assert_eq!(
            read(&mut c, datetime!(2024-01-15 09:00:00 UTC)),
            datetime!(2024-01-15 14:00:00 UTC)
        );
        assert_eq!(
            read(&mut c, datetime!(2024-07-15 09:00:00 UTC)),
            datetime!(2024-07-15 13:00:00 UTC)
        );
    }

    #[test]
    fn the_repeated_hour_comes_out_in_file_order() {
        // 2024-11-03: New York goes from EDT back to EST at 02:00 EDT, so
        // 01:00-01:59 happens twice: 05:00-05:59 UTC, then 06:00-06:59 UTC.
        let mut c = LocalClock::new(TimeZone::parse("America/New_York").unwrap());
        let lines = [
            (
                datetime!(2024-11-03 00:59:00 UTC),
                datetime!(2024-11-03 04:59:00 UTC),
            ),
            (
                datetime!(2024-11-03 01:30:00 UTC),
                datetime!(2024-11-03 05:30:00 UTC),
            ),
            (
                datetime!(2024-11-03 01:59:00 UTC),
                datetime!(2024-11-03 05:59:00 UTC),
            ),
            // The clock goes back: the second 01:10.
            (
                datetime!(2024-11-03 01:10:00 UTC),
                datetime!(2024-11-03 06:10:00 UTC),
            ),
            (
                datetime!(2024-11-03 01:45:00 UTC),
                datetime!(2024-11-03 06:45:00 UTC),
            ),
            (
                datetime!(2024-11-03 02:05:00 UTC),
                datetime!(2024-11-03 07:05:00 UTC),
            ),
        ];
        for (naive, want) in lines {
            assert_eq!(read(&mut c, naive), want, "{naive}");
        }
    }

    #[test]
    fn the_skipped_hour_keeps_the_offset_before() {
        // 2024-03-10: 02:00 EST jumps to 03:00 EDT; 02:30 never happens.
        let mut c = LocalClock::new(TimeZone::parse("America/New_York").unwrap());
        assert_eq!(
            read(&mut c, datetime!(2024-03-10 01:59:00 UTC)),
            datetime!(2024-03-10 06:59:00 UTC)
        );
        assert_eq!(
            read(&mut c, datetime!(2024-03-10 02:30:00 UTC)),
            datetime!(2024-03-10 07:30:00 UTC)
        );
        assert_eq!(
            read(&mut c, datetime!(2024-03-10 03:00:00 UTC)),
            datetime!(2024-03-10 07:00:00 UTC)
        );
    }

    #[test]
    fn unknown_names_are_refused() {
        let err = TimeZone::parse("Mars/Olympus_Mons").unwrap_err();
        assert!(err.to_string().contains("IANA"), "{err}");
        assert!(TimeZone::parse("Europe/Berlin").is_ok());
        assert!(TimeZone::parse("LOCAL").is_ok());
    }
}
