//! MeetingSlot: two or three free slots inside business hours.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::ports::BusyBlock;

/// When meetings may be proposed. Times are in `time_zone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusinessHours {
    /// IANA zone of the sender, e.g. `Europe/Berlin`.
    pub time_zone: Tz,
    /// First possible start, local time.
    pub day_start: NaiveTime,
    /// Latest possible end, local time.
    pub day_end: NaiveTime,
    /// Days meetings can be on.
    pub workdays: Vec<Weekday>,
    /// Length of one slot.
    pub slot_minutes: u32,
    /// Earliest slot is at least this far from now.
    pub min_notice_minutes: u32,
    /// How many days ahead to look.
    pub horizon_days: u32,
    /// At most this many slots (2 or 3 is typical).
    pub max_slots: usize,
}

impl Default for BusinessHours {
    fn default() -> Self {
        Self {
            time_zone: Tz::UTC,
            day_start: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(NaiveTime::MIN),
            day_end: NaiveTime::from_hms_opt(17, 0, 0).unwrap_or(NaiveTime::MIN),
            workdays: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            slot_minutes: 30,
            min_notice_minutes: 120,
            horizon_days: 10,
            max_slots: 3,
        }
    }
}

/// Invalid business hours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid business hours: {0}")]
pub struct InvalidBusinessHours(pub &'static str);

impl BusinessHours {
    /// # Errors
    /// [`InvalidBusinessHours`] for an empty day, no workdays, a slot that
    /// does not fit the day, or a zero horizon.
    pub fn validate(&self) -> Result<(), InvalidBusinessHours> {
        if self.day_end <= self.day_start {
            return Err(InvalidBusinessHours("day_end must be after day_start"));
        }
        if self.workdays.is_empty() {
            return Err(InvalidBusinessHours("no workdays"));
        }
        if self.slot_minutes < 5
            || i64::from(self.slot_minutes) > (self.day_end - self.day_start).num_minutes()
        {
            return Err(InvalidBusinessHours(
                "slot_minutes must be at least 5 and fit in the day",
            ));
        }
        if self.horizon_days == 0 || self.horizon_days > 60 {
            return Err(InvalidBusinessHours("horizon_days must be 1 to 60"));
        }
        if self.max_slots == 0 {
            return Err(InvalidBusinessHours("max_slots must be at least 1"));
        }
        Ok(())
    }

    /// The range to ask the calendar about.
    pub fn window(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        (now, now + Duration::days(i64::from(self.horizon_days) + 1))
    }
}

/// A proposed meeting time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingSlot {
    /// When the slot starts.
    pub start: DateTime<Utc>,
    /// When it ends.
    pub end: DateTime<Utc>,
}

impl MeetingSlot {
    /// e.g. `Tue 1 Dec, 10:00–10:30`, in `tz`.
    pub fn display(&self, tz: Tz) -> String {
        let s = self.start.with_timezone(&tz);
        let e = self.end.with_timezone(&tz);
        format!("{}–{}", s.format("%a %-d %b, %H:%M"), e.format("%H:%M"))
    }
}

/// Proposes free slots.
#[derive(Debug, Clone)]
pub struct MeetingSlotFinder {
    /// The hours slots are proposed in.
    pub hours: BusinessHours,
}

impl MeetingSlotFinder {
    /// Up to `max_slots` free slots: never before `now + min_notice`, never
    /// overlapping a busy block, inside business hours on workdays. Prefers
    /// one slot per day (so the prospect gets a choice of days), then fills
    /// up from the days already used.
    pub fn propose(&self, now: DateTime<Utc>, busy: &[BusyBlock]) -> Vec<MeetingSlot> {
        let h = &self.hours;
        let earliest = now + Duration::minutes(i64::from(h.min_notice_minutes));
        let len = Duration::minutes(i64::from(h.slot_minutes));
        let local_today = now.with_timezone(&h.time_zone).date_naive();

        let mut per_day: Vec<Vec<MeetingSlot>> = Vec::new();
        for offset in 0..=i64::from(h.horizon_days) {
            let Some(day) = local_today.checked_add_signed(Duration::days(offset)) else {
                break;
            };
            if !h.workdays.contains(&day.weekday()) {
                continue;
            }
            let mut free = Vec::new();
            let mut t = h.day_start;
            while t + len <= h.day_end && t >= h.day_start {
                // `earliest()` resolves DST ambiguity; a time skipped by DST is None.
                if let Some(start) = h.time_zone.from_local_datetime(&day.and_time(t)).earliest() {
                    let start = start.with_timezone(&Utc);
                    let slot = MeetingSlot {
                        start,
                        end: start + len,
                    };
                    if start >= earliest
                        && !busy
                            .iter()
                            .any(|b| b.start < slot.end && b.end > slot.start)
                    {
                        free.push(slot);
                    }
                }
                let next = t + len;
                if next <= t {
                    break; // wrapped past midnight
                }
                t = next;
            }
            if !free.is_empty() {
                per_day.push(free);
            }
        }

        let mut chosen: Vec<MeetingSlot> = Vec::new();
        for round in 0.. {
            let mut any = false;
            for day in &per_day {
                if chosen.len() >= h.max_slots {
                    break;
                }
                if let Some(slot) = day.get(round) {
                    chosen.push(*slot);
                    any = true;
                }
            }
            if !any || chosen.len() >= h.max_slots {
                break;
            }
        }
        chosen.sort_by_key(|s| s.start);
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utc(y: i32, m: u32, d: u32, hh: u32, mm: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, hh, mm, 0).unwrap()
    }

    fn finder(tz: Tz) -> MeetingSlotFinder {
        MeetingSlotFinder {
            hours: BusinessHours {
                time_zone: tz,
                ..BusinessHours::default()
            },
        }
    }

    #[test]
    fn three_slots_on_three_workdays() {
        // Wednesday 2026-11-25 12:00 UTC = 13:00 in Berlin.
        let f = finder(chrono_tz::Europe::Berlin);
        let slots = f.propose(utc(2026, 11, 25, 12, 0), &[]);
        assert_eq!(slots.len(), 3);
        let tz = chrono_tz::Europe::Berlin;
        // Earliest: now + 2 h = 15:00 local.
        assert_eq!(slots[0].display(tz), "Wed 25 Nov, 15:00–15:30");
        assert_eq!(slots[1].display(tz), "Thu 26 Nov, 09:00–09:30");
        assert_eq!(slots[2].display(tz), "Fri 27 Nov, 09:00–09:30");
    }

    #[test]
    fn skips_weekends_and_busy_blocks() {
        let f = finder(chrono_tz::UTC);
        // Friday 2026-11-27 16:00: nothing left today.
        let busy = [BusyBlock {
            start: utc(2026, 11, 30, 8, 0),
            end: utc(2026, 11, 30, 10, 15),
        }];
        let slots = f.propose(utc(2026, 11, 27, 16, 0), &busy);
        assert_eq!(
            slots[0].start,
            utc(2026, 11, 30, 10, 30),
            "Monday after the busy block"
        );
        assert_eq!(slots[1].start, utc(2026, 12, 1, 9, 0));
        for s in &slots {
            assert!(!matches!(s.start.weekday(), Weekday::Sat | Weekday::Sun));
        }
    }

    #[test]
    fn fills_from_one_day_when_only_one_is_free() {
        let mut f = finder(chrono_tz::UTC);
        f.hours.horizon_days = 1;
        f.hours.min_notice_minutes = 0;
        // Thursday 08:00; horizon reaches Friday but Friday is fully booked.
        let busy = [BusyBlock {
            start: utc(2026, 11, 27, 0, 0),
            end: utc(2026, 11, 28, 0, 0),
        }];
        let slots = f.propose(utc(2026, 11, 26, 8, 0), &busy);
        assert_eq!(
            slots.iter().map(|s| s.start).collect::<Vec<_>>(),
            vec![
                utc(2026, 11, 26, 9, 0),
                utc(2026, 11, 26, 9, 30),
                utc(2026, 11, 26, 10, 0)
            ]
        );
    }

    #[test]
    fn no_free_time_means_no_slots() {
        let f = finder(chrono_tz::UTC);
        let busy = [BusyBlock {
            start: utc(2026, 1, 1, 0, 0),
            end: utc(2027, 1, 1, 0, 0),
        }];
        assert!(f.propose(utc(2026, 11, 25, 12, 0), &busy).is_empty());
    }

    #[test]
    fn handles_dst_change() {
        // 2026-03-29 is the spring-forward day in Berlin (a Sunday); the
        // Monday after must still be at 09:00 local = 07:00 UTC.
        let f = finder(chrono_tz::Europe::Berlin);
        let slots = f.propose(utc(2026, 3, 28, 12, 0), &[]);
        assert_eq!(slots[0].start, utc(2026, 3, 30, 7, 0));
    }

    #[test]
    fn validates_configuration() {
        assert!(BusinessHours::default().validate().is_ok());
        let bad = BusinessHours {
            day_end: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            ..BusinessHours::default()
        };
        assert!(bad.validate().is_err());
        let bad = BusinessHours {
            workdays: vec![],
            ..BusinessHours::default()
        };
        assert!(bad.validate().is_err());
    }

    proptest! {
        #[test]
        fn slots_are_free_in_hours_and_in_the_future(
            now_secs in 1_700_000_000i64..1_900_000_000,
            busy_raw in proptest::collection::vec((0i64..20*24*60, 1i64..600), 0..30),
            tz_idx in 0usize..4,
        ) {
            let tz = [chrono_tz::UTC, chrono_tz::Europe::Berlin, chrono_tz::America::New_York, chrono_tz::Asia::Kolkata][tz_idx];
            let now = Utc.timestamp_opt(now_secs, 0).unwrap();
            let busy: Vec<BusyBlock> = busy_raw.iter().map(|(off, len)| BusyBlock {
                start: now + Duration::minutes(*off),
                end: now + Duration::minutes(off + len),
            }).collect();
            let f = finder(tz);
            let slots = f.propose(now, &busy);
            prop_assert!(slots.len() <= 3);
            for s in &slots {
                prop_assert!(s.start >= now + Duration::minutes(120));
                prop_assert!(!busy.iter().any(|b| b.start < s.end && b.end > s.start));
                let local = s.start.with_timezone(&tz);
                prop_assert!(f.hours.workdays.contains(&local.weekday()));
                prop_assert!(local.time() >= f.hours.day_start);
                prop_assert!(s.end.with_timezone(&tz).time() <= f.hours.day_end);
            }
        }
    }
}
