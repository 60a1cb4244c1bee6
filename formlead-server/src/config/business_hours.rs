//! The business hours meeting slots are proposed in.

use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;
use formlead_core::agents::BusinessHours;

use super::ConfigError;
use super::reader::{Reader, err};

/// `BUSINESS_TIME_ZONE`, `BUSINESS_HOURS` and `BUSINESS_DAYS`, validated together.
pub(super) fn business_hours(r: &Reader<'_>) -> Result<BusinessHours, ConfigError> {
    let tz_raw = r.string("BUSINESS_TIME_ZONE");
    let time_zone: Tz = tz_raw.parse().map_err(|_| {
        err(
            "BUSINESS_TIME_ZONE",
            format!("unknown IANA time zone \"{tz_raw}\" (e.g. Europe/Berlin)"),
        )
    })?;
    let hours = r.string("BUSINESS_HOURS");
    let (start, end) = hours
        .split_once('-')
        .and_then(|(a, b)| {
            Some((
                NaiveTime::parse_from_str(a.trim(), "%H:%M").ok()?,
                NaiveTime::parse_from_str(b.trim(), "%H:%M").ok()?,
            ))
        })
        .ok_or_else(|| {
            err(
                "BUSINESS_HOURS",
                format!("must look like 09:00-17:00 (got \"{hours}\")"),
            )
        })?;
    let workdays = parse_days(&r.string("BUSINESS_DAYS")).map_err(|m| err("BUSINESS_DAYS", m))?;
    let hours = BusinessHours {
        time_zone,
        day_start: start,
        day_end: end,
        workdays,
        ..BusinessHours::default()
    };
    hours
        .validate()
        .map_err(|e| err("BUSINESS_HOURS", e.to_string()))?;
    Ok(hours)
}

/// `Mon-Fri`, `Mon,Wed,Fri`, `Sat-Sun`.
fn parse_days(raw: &str) -> Result<Vec<Weekday>, String> {
    let day = |s: &str| {
        s.trim()
            .parse::<Weekday>()
            .map_err(|_| format!("unknown day \"{}\" (use Mon, Tue, …)", s.trim()))
    };
    let mut days = Vec::new();
    for part in raw.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (mut d, end) = (day(a)?, day(b)?);
                loop {
                    days.push(d);
                    if d == end {
                        break;
                    }
                    d = d.succ();
                }
            }
            None => days.push(day(part)?),
        }
    }
    days.dedup();
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_lists() {
        assert_eq!(parse_days("Mon-Fri").unwrap().len(), 5);
        assert_eq!(
            parse_days("Sat-Mon").unwrap(),
            vec![Weekday::Sat, Weekday::Sun, Weekday::Mon]
        );
        assert_eq!(
            parse_days("Mon, Wed").unwrap(),
            vec![Weekday::Mon, Weekday::Wed]
        );
    }
}
