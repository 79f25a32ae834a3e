//! Value checks more than one section needs: durations (`"10s"`, `"1h30m"`) and bounded counts.
//! Each refuses through the section's reporter, so the message names the section's key.

use std::time::Duration;

use toml::Spanned;

use super::errors::ErrFn;
use crate::error::{Error, Result};

/// Parses `250ms`, `10s`, `5m`, `1h`, `1h30m`, `2d`.
pub fn parse_duration(input: &str) -> Result<Duration> {
    let bad = || {
        Error::invalid_input(format!(
            "invalid duration {input:?}: expected a number and a unit, such as 500ms, 10s, 5m, 1h or 1h30m"
        ))
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let value: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            "d" => Duration::from_secs(86_400),
            _ => return Err(bad()),
        };
        total = total
            .checked_add(
                unit.checked_mul(u32::try_from(value).map_err(|_| bad())?)
                    .ok_or_else(bad)?,
            )
            .ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// The duration at `key` (or `default` when absent); zero is refused, since every duration in
/// the file bounds or spaces something that must take time.
pub(crate) fn duration_field(
    value: Option<Spanned<String>>,
    key: &str,
    default: Duration,
    err: &ErrFn<'_>,
) -> Result<Duration> {
    let Some(value) = value else {
        return Ok(default);
    };
    let d = parse_duration(value.get_ref())
        .map_err(|e| err(Some(value.span()), Some(key.into()), e.to_string()))?;
    if d.is_zero() {
        return Err(err(
            Some(value.span()),
            Some(key.into()),
            format!("{:?} must be above zero", value.get_ref()),
        ));
    }
    Ok(d)
}

/// `value` (or `default` when absent) when it lies in `1..=10000`.
pub(crate) fn positive(
    value: Option<Spanned<i64>>,
    key: &str,
    default: i64,
    err: &ErrFn<'_>,
) -> Result<i64> {
    in_range(value, key, default, 1, err)
}

/// `value` (or `default` when absent) when it lies in `min..=10000`.
pub(crate) fn in_range(
    value: Option<Spanned<i64>>,
    key: &str,
    default: i64,
    min: i64,
    err: &ErrFn<'_>,
) -> Result<i64> {
    let Some(value) = value else {
        return Ok(default);
    };
    let v = *value.get_ref();
    if !(min..=10_000).contains(&v) {
        return Err(err(
            Some(value.span()),
            Some(key.into()),
            format!("{v} is out of range ({min} to 10000)"),
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("250ms").expect("valid"),
            Duration::from_millis(250)
        );
        assert_eq!(
            parse_duration("1h30m").expect("valid"),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_duration("2d").expect("valid"),
            Duration::from_secs(172_800)
        );
        for bad in ["", "10", "s", "1.5s", "-1s", "10 s", "5x"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
