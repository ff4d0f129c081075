//! Date-time fields of payloads (`started_at`, `attack_time`, ...).

use std::{fmt, str::FromStr};

/// A date and time as payloads send it: `2025-06-26 02:10:37` (the plugin's format, no zone)
/// or RFC 3339 (`2025-06-26T02:10:37Z`, `2025-06-26T02:10:37.5+02:00`).
///
/// Only the syntax and the ranges of the fields are checked (including the days of each month
/// and leap years); nothing is converted, since the relay never reads a clock.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct Timestamp {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    nanosecond: u32,
    offset_minutes: Option<i16>,
}

/// The text is not a date and time in one of the formats [`Timestamp`] accepts.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
#[error("expected a date and time like `2025-06-26 02:10:37` or RFC 3339")]
pub struct TimestampError;

impl Timestamp {
    /// The year.
    pub fn year(&self) -> u16 {
        self.year
    }

    /// The month, 1 to 12.
    pub fn month(&self) -> u8 {
        self.month
    }

    /// The day of the month, from 1.
    pub fn day(&self) -> u8 {
        self.day
    }

    /// The hour, 0 to 23.
    pub fn hour(&self) -> u8 {
        self.hour
    }

    /// The minute, 0 to 59.
    pub fn minute(&self) -> u8 {
        self.minute
    }

    /// The second, 0 to 60 (60 only for a leap second).
    pub fn second(&self) -> u8 {
        self.second
    }

    /// The fraction of the second, in nanoseconds.
    pub fn nanosecond(&self) -> u32 {
        self.nanosecond
    }

    /// The UTC offset in minutes, `None` when the text gave no zone.
    pub fn offset_minutes(&self) -> Option<i16> {
        self.offset_minutes
    }
}

/// A cursor over the bytes of a timestamp.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Result<u32, TimestampError> {
        let end = self.at.checked_add(n).ok_or(TimestampError)?;
        let chunk = self.bytes.get(self.at..end).ok_or(TimestampError)?;
        let mut value = 0u32;
        for b in chunk {
            if !b.is_ascii_digit() {
                return Err(TimestampError);
            }
            value = value * 10 + u32::from(b - b'0');
        }
        self.at = end;
        Ok(value)
    }

    fn byte(&mut self, allowed: &[u8]) -> Result<u8, TimestampError> {
        match self.bytes.get(self.at) {
            Some(b) if allowed.contains(b) => {
                self.at += 1;
                Ok(*b)
            }
            _ => Err(TimestampError),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn in_range(value: u32, min: u32, max: u32) -> Result<u8, TimestampError> {
        if (min..=max).contains(&value) {
            // All ranges used here end below 256.
            u8::try_from(value).map_err(|_| TimestampError)
        } else {
            Err(TimestampError)
        }
    }
}

fn days_in_month(year: u32, month: u8) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut c = Cursor {
            bytes: s.as_bytes(),
            at: 0,
        };
        let year = c.digits(4)?;
        c.byte(b"-")?;
        let month = Cursor::in_range(c.digits(2)?, 1, 12)?;
        c.byte(b"-")?;
        let day = Cursor::in_range(c.digits(2)?, 1, days_in_month(year, month))?;
        c.byte(b" Tt")?;
        let hour = Cursor::in_range(c.digits(2)?, 0, 23)?;
        c.byte(b":")?;
        let minute = Cursor::in_range(c.digits(2)?, 0, 59)?;
        c.byte(b":")?;
        let second = Cursor::in_range(c.digits(2)?, 0, 60)?;
        let mut nanosecond = 0u32;
        if c.peek() == Some(b'.') {
            c.at += 1;
            let mut count = 0;
            while let Some(b) = c.peek().filter(u8::is_ascii_digit) {
                if count < 9 {
                    nanosecond = nanosecond * 10 + u32::from(b - b'0');
                }
                count += 1;
                c.at += 1;
            }
            if count == 0 {
                return Err(TimestampError);
            }
            for _ in count..9 {
                nanosecond *= 10;
            }
        }
        let offset_minutes = match c.peek() {
            None => None,
            Some(b'Z' | b'z') => {
                c.at += 1;
                Some(0)
            }
            Some(b'+' | b'-') => {
                let sign = if c.byte(b"+-")? == b'-' { -1 } else { 1 };
                let hours = Cursor::in_range(c.digits(2)?, 0, 23)?;
                c.byte(b":")?;
                let minutes = Cursor::in_range(c.digits(2)?, 0, 59)?;
                Some(sign * (i16::from(hours) * 60 + i16::from(minutes)))
            }
            Some(_) => return Err(TimestampError),
        };
        if c.at != s.len() {
            return Err(TimestampError);
        }
        Ok(Timestamp {
            year: u16::try_from(year).map_err(|_| TimestampError)?,
            month,
            day,
            hour,
            minute,
            second,
            nanosecond,
            offset_minutes,
        })
    }
}

impl fmt::Display for Timestamp {
    /// Writes `YYYY-MM-DD HH:MM:SS`, then the fraction and the offset when there are any.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )?;
        if self.nanosecond != 0 {
            let frac = format!("{:09}", self.nanosecond);
            write!(f, ".{}", frac.trim_end_matches('0'))?;
        }
        match self.offset_minutes {
            None => Ok(()),
            Some(0) => f.write_str("Z"),
            Some(m) => {
                let sign = if m < 0 { '-' } else { '+' };
                let m = m.unsigned_abs();
                write!(f, "{sign}{:02}:{:02}", m / 60, m % 60)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plugin_and_rfc3339_forms() {
        let t: Timestamp = "2025-06-26 02:10:37".parse().unwrap();
        assert_eq!((t.year(), t.month(), t.day()), (2025, 6, 26));
        assert_eq!((t.hour(), t.minute(), t.second()), (2, 10, 37));
        assert_eq!(t.offset_minutes(), None);
        assert_eq!(t.to_string(), "2025-06-26 02:10:37");

        let t: Timestamp = "2024-02-29T23:59:60.250-05:30".parse().unwrap();
        assert_eq!(t.nanosecond(), 250_000_000);
        assert_eq!(t.offset_minutes(), Some(-330));
        assert_eq!(t.to_string(), "2024-02-29 23:59:60.25-05:30");

        let t: Timestamp = "2025-06-26T02:10:37Z".parse().unwrap();
        assert_eq!(t.offset_minutes(), Some(0));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "2025-06-26",
            "2025-13-01 00:00:00",
            "2025-02-29 00:00:00",
            "2025-06-31 00:00:00",
            "2025-06-26 24:00:00",
            "2025-06-26 02:10",
            "2025-06-26 02:10:37 ",
            "2025-06-26 02:10:37.",
            "2025-06-26 02:10:37+0200",
            "26/06/2025 02:10:37",
            "yesterday",
        ] {
            assert_eq!(bad.parse::<Timestamp>(), Err(TimestampError), "{bad:?}");
        }
    }
}
