//! Days as the county counts them: China Standard Time (UTC+8, no daylight saving time since
//! 1991), the calendar of operating hours, daily watch lists and yearly counts.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Days, FixedOffset, NaiveDate, NaiveTime, TimeZone};

/// Offset of China Standard Time (北京时间) from UTC, seconds.
pub const CHINA_STANDARD_TIME_OFFSET_SECS: i32 = 8 * 3_600;

fn offset() -> FixedOffset {
    FixedOffset::east_opt(CHINA_STANDARD_TIME_OFFSET_SECS).unwrap_or_else(|| unreachable!())
}

/// A calendar day in China Standard Time. `Display` and `FromStr` use `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalDay(NaiveDate);

impl LocalDay {
    /// The day holding the instant `at_ms` (UTC ms); `None` out of chrono's range.
    pub fn of_ms(at_ms: i64) -> Option<Self> {
        offset()
            .timestamp_millis_opt(at_ms)
            .single()
            .map(|t| LocalDay(t.date_naive()))
    }

    /// The day of a calendar date; `None` for an impossible date.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Self> {
        NaiveDate::from_ymd_opt(year, month, day).map(LocalDay)
    }

    /// The calendar year.
    pub fn year(self) -> i32 {
        self.0.year()
    }

    /// The day before (saturating at chrono's earliest date).
    pub fn previous(self) -> Self {
        LocalDay(self.0.checked_sub_days(Days::new(1)).unwrap_or(self.0))
    }

    /// This day and the `n - 1` days before it, latest first.
    pub fn recent(self, n: usize) -> Vec<LocalDay> {
        let mut days = Vec::with_capacity(n);
        let mut day = self;
        for _ in 0..n {
            days.push(day);
            day = day.previous();
        }
        days
    }

    /// The instant this day starts at `time` (local), UTC ms.
    pub fn at_ms(self, time: NaiveTime) -> i64 {
        self.0
            .and_time(time)
            .and_local_timezone(offset())
            .single()
            .map_or(i64::MIN, |t| t.timestamp_millis())
    }

    /// The instant this day starts (00:00 local), UTC ms.
    pub fn start_ms(self) -> i64 {
        self.at_ms(NaiveTime::MIN)
    }

    /// The date.
    pub fn date(self) -> NaiveDate {
        self.0
    }
}

impl fmt::Display for LocalDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl FromStr for LocalDay {
    type Err = chrono::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map(LocalDay)
    }
}

/// The local time of day of the instant `at_ms` (UTC ms) in China Standard Time.
pub fn local_time_of_day(at_ms: i64) -> Option<NaiveTime> {
    offset()
        .timestamp_millis_opt(at_ms)
        .single()
        .map(|t| t.time())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_turn_at_midnight_beijing_time() {
        // 2026-11-28T16:00:00Z is 2026-11-29 00:00 in Beijing.
        let midnight = 1_795_881_600_000;
        assert_eq!(LocalDay::of_ms(midnight).unwrap().to_string(), "2026-11-29");
        assert_eq!(
            LocalDay::of_ms(midnight - 1).unwrap().to_string(),
            "2026-11-28"
        );
        let day: LocalDay = "2026-11-29".parse().unwrap();
        assert_eq!(day.start_ms(), midnight);
        assert_eq!(
            day.recent(3)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["2026-11-29", "2026-11-28", "2026-11-27"]
        );
        assert_eq!(
            LocalDay::from_ymd(2027, 1, 1).unwrap().previous().year(),
            2026
        );
        assert!("2026-02-30".parse::<LocalDay>().is_err());
        assert_eq!(
            local_time_of_day(midnight + 3_600_000),
            NaiveTime::from_hms_opt(1, 0, 0)
        );
    }
}
