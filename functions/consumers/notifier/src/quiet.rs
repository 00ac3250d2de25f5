//! Quiet hours, in the user's own time zone: important SMS and push wait until they end
//! (critical ones never wait; e-mail and in-app are quiet by nature).

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use shared::notifications::{Channel, Priority, QuietHours, parse_clock};

/// When the quiet hours around `now` end (Unix seconds), if `now` is inside them. A time zone
/// or clock that does not parse (the API refuses them) means no quiet hours.
pub fn quiet_until(quiet: &QuietHours, now: Timestamp) -> Option<i64> {
    let (start, end) = (parse_clock(&quiet.start)?, parse_clock(&quiet.end)?);
    if start == end {
        return None;
    }
    let tz = TimeZone::get(&quiet.time_zone).ok()?;
    let local = now.to_zoned_datetime(tz.clone());
    let minute = local.hour() as u32 * 60 + local.minute() as u32;
    let inside = if start < end {
        (start..end).contains(&minute)
    } else {
        minute >= start || minute < end
    };
    if !inside {
        return None;
    }
    let end_time = Time::new((end / 60) as i8, (end % 60) as i8, 0, 0).ok()?;
    let mut day = local.date();
    if minute >= end {
        // past midnight still to come: the quiet hours end tomorrow
        day = day.checked_add(1.day()).ok()?;
    }
    let ends = day.to_datetime(end_time).to_zoned_datetime(tz).ok()?;
    Some(ends.timestamp().as_second())
}

/// Whether a message of `priority` on `channel` waits for the quiet hours to end.
pub fn holds(priority: Priority, channel: Channel) -> bool {
    priority == Priority::Important && matches!(channel, Channel::Sms | Channel::Push)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(start: &str, end: &str) -> QuietHours {
        QuietHours {
            start: start.into(),
            end: end.into(),
            time_zone: "Asia/Ho_Chi_Minh".into(),
        }
    }

    fn at(utc: &str) -> Timestamp {
        utc.parse().unwrap()
    }

    #[test]
    fn overnight_quiet_hours_end_the_next_morning_in_the_users_zone() {
        // 23:30 in Hồ Chí Minh City (UTC+7) is 16:30 UTC; the quiet hours end at 07:00 local,
        // 00:00 UTC the next day
        let until = quiet_until(&hours("22:00", "07:00"), at("2026-12-01T16:30:00Z"));
        assert_eq!(until, Some(at("2026-12-02T00:00:00Z").as_second()));
        // 05:00 local (22:00 UTC the day before): the same morning
        let until = quiet_until(&hours("22:00", "07:00"), at("2026-12-01T22:00:00Z"));
        assert_eq!(until, Some(at("2026-12-02T00:00:00Z").as_second()));
        // 12:00 local: not quiet
        assert_eq!(
            quiet_until(&hours("22:00", "07:00"), at("2026-12-01T05:00:00Z")),
            None
        );
    }

    #[test]
    fn daytime_quiet_hours_and_odd_settings() {
        let lunch = hours("12:00", "13:30");
        assert_eq!(
            quiet_until(&lunch, at("2026-12-01T05:15:00Z")),
            Some(at("2026-12-01T06:30:00Z").as_second())
        );
        assert_eq!(quiet_until(&lunch, at("2026-12-01T06:30:00Z")), None);
        assert_eq!(
            quiet_until(&hours("08:00", "08:00"), at("2026-12-01T01:00:00Z")),
            None
        );
        let mut nowhere = hours("00:00", "23:59");
        nowhere.time_zone = "Mars/Olympus".into();
        assert_eq!(quiet_until(&nowhere, at("2026-12-01T01:00:00Z")), None);
    }

    #[test]
    fn only_important_sms_and_push_wait() {
        assert!(holds(Priority::Important, Channel::Sms));
        assert!(holds(Priority::Important, Channel::Push));
        assert!(!holds(Priority::Important, Channel::Email));
        assert!(!holds(Priority::Critical, Channel::Sms));
        assert!(!holds(Priority::Normal, Channel::InApp));
    }
}
