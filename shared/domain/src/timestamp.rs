use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use std::fmt;

/// An instant in UTC with millisecond precision, shown as RFC 3339 (`2026-11-24T10:15:30.123Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    pub const EPOCH: Self = Self(DateTime::UNIX_EPOCH);

    pub fn now() -> Self {
        Self::from_millis(Utc::now().timestamp_millis()).unwrap_or(Self::EPOCH)
    }

    /// Milliseconds since the Unix epoch; `None` outside the representable range.
    pub fn from_millis(millis: i64) -> Option<Self> {
        DateTime::from_timestamp_millis(millis).map(Self)
    }

    pub fn parse_rfc3339(raw: &str) -> Option<Self> {
        let parsed = DateTime::parse_from_rfc3339(raw).ok()?;
        Self::from_millis(parsed.timestamp_millis())
    }

    pub fn as_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    pub fn plus_seconds(&self, seconds: i64) -> Option<Self> {
        self.0
            .checked_add_signed(TimeDelta::seconds(seconds))
            .map(Self)
    }

    pub fn to_rfc3339(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_shows_as_rfc3339_utc_with_milliseconds() {
        let at = Timestamp::from_millis(1_795_515_330_123).unwrap();
        assert_eq!(at.to_string(), "2026-11-24T10:15:30.123Z");
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-24T10:15:30.123Z"),
            Some(at)
        );
    }

    #[test]
    fn now_is_truncated_to_milliseconds_so_it_survives_a_round_trip() {
        let now = Timestamp::now();
        assert_eq!(Timestamp::parse_rfc3339(&now.to_rfc3339()), Some(now));
    }
}
