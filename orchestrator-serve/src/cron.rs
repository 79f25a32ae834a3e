//! The nightly schedule: five-field cron expressions (`minute hour day-of-month month
//! day-of-week`, UTC) with `*`, lists, ranges and steps. Small enough to own, and it keeps the
//! service free of a scheduler dependency; the semantics are Vixie cron's, including "when both
//! day fields are restricted, either matches".

use orchestrator_core::{Error, Result};

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_restricted: bool,
    weekdays_restricted: bool,
}

/// One field as a bit set of the allowed values, and whether it was `*`-like.
fn field(expr: &str, text: &str, name: &str, min: u32, max: u32) -> Result<(u64, bool)> {
    let bad = |why: &str| {
        Error::invalid_input(format!(
            "[serve] nightly = {text:?}: {name} field {expr:?}: {why}"
        ))
    };
    let mut bits = 0u64;
    for part in expr.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| bad("the step is not a positive number"))?,
            ),
            None => (part, 1),
        };
        let number = |s: &str| {
            s.parse::<u32>()
                .ok()
                .filter(|v| (min..=max).contains(v))
                .ok_or_else(|| bad(&format!("expected numbers {min}-{max}")))
        };
        let (from, to) = match range {
            "*" => (min, max),
            r => match r.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None if step > 1 => (number(r)?, max),
                None => {
                    let v = number(r)?;
                    (v, v)
                }
            },
        };
        if from > to {
            return Err(bad("the range runs backwards"));
        }
        for v in (from..=to).step_by(step as usize) {
            bits |= 1 << v;
        }
    }
    Ok((bits, expr.starts_with('*')))
}

impl Schedule {
    /// Parses `text` (e.g. `0 2 * * *`, every day at 02:00 UTC).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the expression and the field that is wrong.
    pub fn parse(text: &str) -> Result<Self> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields[..] else {
            return Err(Error::invalid_input(format!(
                "[serve] nightly = {text:?}: expected 5 fields (minute hour day month weekday), \
                 got {}",
                fields.len()
            )));
        };
        let (minutes, _) = field(minute, text, "minute", 0, 59)?;
        let (hours, _) = field(hour, text, "hour", 0, 23)?;
        let (days, days_any) = field(day, text, "day-of-month", 1, 31)?;
        let (months, _) = field(month, text, "month", 1, 12)?;
        let (mut weekdays, weekdays_any) = field(weekday, text, "day-of-week", 0, 7)?;
        // 7 is Sunday too.
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        Ok(Self {
            text: text.to_owned(),
            minutes,
            hours,
            days,
            months,
            weekdays,
            days_restricted: !days_any,
            weekdays_restricted: !weekdays_any,
        })
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn day_matches(&self, day: i8, weekday: i8) -> bool {
        let dom = self.days & (1 << day) != 0;
        let dow = self.weekdays & (1 << weekday) != 0;
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => dom || dow,
            _ => dom && dow,
        }
    }

    /// The first slot strictly after `after_ms` (ms since the epoch, UTC), in ms; `None` when no
    /// slot comes within 5 years (e.g. `0 0 31 2 *`).
    pub fn next_after(&self, after_ms: u64) -> Option<u64> {
        use jiff::tz::TimeZone;
        let start = i64::try_from(after_ms / 60_000 + 1).ok()? * 60;
        let mut t = jiff::Timestamp::from_second(start)
            .ok()?
            .to_zoned(TimeZone::UTC);
        let limit = start + 5 * 366 * 86_400;
        while t.timestamp().as_second() < limit {
            let day_ok = self.months & (1 << t.month()) != 0
                && self.day_matches(t.day(), t.weekday().to_sunday_zero_offset());
            if !day_ok {
                // Next midnight.
                t = t
                    .start_of_day()
                    .ok()?
                    .checked_add(jiff::Span::new().days(1))
                    .ok()?;
                continue;
            }
            if self.hours & (1 << t.hour()) == 0 {
                t = t
                    .with()
                    .minute(0)
                    .build()
                    .ok()?
                    .checked_add(jiff::Span::new().hours(1))
                    .ok()?;
                continue;
            }
            if self.minutes & (1 << t.minute()) != 0 {
                return u64::try_from(t.timestamp().as_millisecond()).ok();
            }
            t = t.checked_add(jiff::Span::new().minutes(1)).ok()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> u64 {
        u64::try_from(s.parse::<jiff::Timestamp>().expect("time").as_millisecond())
            .expect("after 1970")
    }

    #[test]
    fn nightly_at_two_is_the_next_two_oclock() {
        let s = Schedule::parse("0 2 * * *").expect("valid");
        assert_eq!(
            s.next_after(at("2026-12-03T19:00:00Z")),
            Some(at("2026-12-04T02:00:00Z"))
        );
        assert_eq!(
            s.next_after(at("2026-12-04T02:00:00Z")),
            Some(at("2026-12-05T02:00:00Z"))
        );
        assert_eq!(
            s.next_after(at("2026-12-04T01:59:59Z")),
            Some(at("2026-12-04T02:00:00Z"))
        );
    }

    #[test]
    fn steps_lists_ranges_and_weekdays() {
        let every_15 = Schedule::parse("*/15 * * * *").expect("valid");
        assert_eq!(
            every_15.next_after(at("2026-12-03T19:01:00Z")),
            Some(at("2026-12-03T19:15:00Z"))
        );
        // Weekdays at 06:30: 2026-12-05 is a Saturday, so Monday the 7th.
        let weekdays = Schedule::parse("30 6 * * 1-5").expect("valid");
        assert_eq!(
            weekdays.next_after(at("2026-12-05T00:00:00Z")),
            Some(at("2026-12-07T06:30:00Z"))
        );
        let sunday = Schedule::parse("0 0 * * 7").expect("valid");
        assert_eq!(
            sunday.next_after(at("2026-12-03T00:00:00Z")),
            Some(at("2026-12-06T00:00:00Z"))
        );
        assert_eq!(
            Schedule::parse("0 0 31 2 *").expect("valid").next_after(0),
            None
        );
    }

    #[test]
    fn bad_expressions_name_the_field() {
        let err = Schedule::parse("0 25 * * *").expect_err("hour 25");
        assert!(err.to_string().contains("hour field \"25\""), "{err}");
        let err = Schedule::parse("0 2 * *").expect_err("4 fields");
        assert!(err.to_string().contains("expected 5 fields"), "{err}");
        assert!(Schedule::parse("*/0 * * * *").is_err());
        assert!(Schedule::parse("5-1 * * * *").is_err());
    }
}
