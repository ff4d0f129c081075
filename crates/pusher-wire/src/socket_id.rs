//! Socket ids: `<digits>.<digits>`, as every server SDK checks before signing (spec §1.3).

use std::fmt;

/// Why a string is not a valid socket id.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SocketIdError {
    /// Not of the form `digits.digits` (or a part does not fit in 64 bits).
    #[error("socket_id must look like '123.456'")]
    Malformed,
}

/// A connection's socket id. Both halves are kept as integers, so the id is small and `Copy`.
#[derive(Clone, Copy, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct SocketId {
    high: u64,
    low: u64,
}

impl SocketId {
    /// Builds a socket id from two numbers; the caller supplies the randomness.
    pub const fn from_parts(high: u64, low: u64) -> SocketId {
        SocketId { high, low }
    }

    /// The two numeric halves.
    pub const fn parts(self) -> (u64, u64) {
        (self.high, self.low)
    }

    /// Parses `digits.digits`.
    pub fn parse(s: &str) -> Result<SocketId, SocketIdError> {
        let (high, low) = s.split_once('.').ok_or(SocketIdError::Malformed)?;
        Ok(SocketId {
            high: parse_digits(high)?,
            low: parse_digits(low)?,
        })
    }
}

fn parse_digits(s: &str) -> Result<u64, SocketIdError> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SocketIdError::Malformed);
    }
    s.parse().map_err(|_| SocketIdError::Malformed)
}

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.high, self.low)
    }
}

impl fmt::Debug for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SocketId({self})")
    }
}

impl std::str::FromStr for SocketId {
    type Err = SocketIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SocketId::parse(s)
    }
}

impl TryFrom<&str> for SocketId {
    type Error = SocketIdError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        SocketId::parse(s)
    }
}

impl serde::Serialize for SocketId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        let id = SocketId::parse("1234.5678").unwrap();
        assert_eq!(id.to_string(), "1234.5678");
        assert_eq!(id.parts(), (1234, 5678));
        for bad in [
            "", ".", "1.", ".1", "1.2.3", "a.1", "1.-2", "+1.2", "1 .2", "123",
        ] {
            assert_eq!(SocketId::parse(bad), Err(SocketIdError::Malformed), "{bad}");
        }
        assert!(SocketId::parse("99999999999999999999999.1").is_err());
    }
}
