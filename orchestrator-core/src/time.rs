//! Timestamps, through one maintained calendar library.
//!
//! The task records, nightly tags, GitHub's wire times and the mock server each carried their own
//! day arithmetic, and the wire parser accepted month 13. [`jiff`] (already compiled into the
//! binary through gix) does the calendar; this module is the one place that says which formats
//! the orchestrator reads and writes, and a malformed time is an error naming its field.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::error::{Error, Result};

/// An RFC 3339 time (`2026-01-31T23:59:59Z`, with fractional seconds or an offset such as
/// `+02:00`) as milliseconds since the epoch; `field` names it in the error.
pub fn parse_timestamp_ms(field: &str, value: &str) -> Result<i64> {
    value
        .trim()
        .parse::<Timestamp>()
        .map(Timestamp::as_millisecond)
        .map_err(|e| Error::invalid_input(format!("{field}: invalid time {value:?}: {e}")))
}

/// The UTC civil time of `ms` (clamped to the years -9999..=9999 the calendar covers).
fn civil(ms: i64) -> jiff::civil::DateTime {
    let ts = Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    });
    ts.to_zoned(TimeZone::UTC).datetime()
}

/// Milliseconds since the epoch as `2026-01-31T23:59:59.123Z`.
pub fn format_utc_ms(ms: i64) -> String {
    let t = civil(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Milliseconds since the epoch as GitHub writes times: `2026-01-31T23:59:59Z` (whole seconds,
/// rounded down).
pub fn format_utc_s(ms: i64) -> String {
    let t = civil(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The UTC date of `ms` as `(year, month, day)`.
pub fn utc_date(ms: i64) -> (i16, i8, i8) {
    let t = civil(ms);
    (t.year(), t.month(), t.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_parse_with_fractions_and_offsets() {
        assert_eq!(
            parse_timestamp_ms("created_at", "2020-01-22T19:33:08Z").ok(),
            Some(1_579_721_588_000)
        );
        assert_eq!(
            parse_timestamp_ms("created_at", "2020-01-22T19:33:08.250Z").ok(),
            Some(1_579_721_588_250)
        );
        assert_eq!(
            parse_timestamp_ms("created_at", "2020-01-22T21:33:08+02:00").ok(),
            Some(1_579_721_588_000)
        );
    }

    #[test]
    fn malformed_times_are_errors_naming_the_field() {
        for bad in [
            "2020-13-01T00:00:00Z",
            "2020-02-30T00:00:00Z",
            "2020-01-01T24:61:00Z",
            "2020-01-01",
            "yesterday",
            "",
            "2020-01-22T19:33:08",
        ] {
            let e = parse_timestamp_ms("updated_at", bad)
                .expect_err(bad)
                .to_string();
            assert!(
                e.contains(&format!("updated_at: invalid time {bad:?}")),
                "{e}"
            );
        }
    }

    #[test]
    fn formats_round_trip_and_match_the_wire() {
        assert_eq!(format_utc_ms(1_795_608_000_999), "2026-11-25T12:00:00.999Z");
        assert_eq!(format_utc_s(1_795_608_000_999), "2026-11-25T12:00:00Z");
        assert_eq!(format_utc_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_utc_ms(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(utc_date(1_763_344_800_000), (2025, 11, 17));
        // Leap day.
        assert_eq!(utc_date(1_709_164_800_000), (2024, 2, 29));
        for ms in [0, 1_579_721_588_250, 1_795_608_000_999, 4_102_444_799_999] {
            assert_eq!(parse_timestamp_ms("t", &format_utc_ms(ms)).ok(), Some(ms));
        }
        // Beyond the calendar: clamped, never a panic.
        assert!(format_utc_ms(i64::MAX).starts_with("9999-12-"));
        assert!(format_utc_ms(i64::MIN).starts_with("-9999-01-"));
    }
}
