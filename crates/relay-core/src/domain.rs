//! Site domains, compared normalized: case, scheme, user info, port, path, query, fragment and a
//! trailing dot do not matter (`HTTPS://Example.COM:443/wp/` is `example.com`).

use std::fmt;

/// The longest domain name (RFC 1035).
pub const MAX_DOMAIN_LEN: usize = 253;

/// Why a string is not a usable domain.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// Nothing left after removing scheme, port and path.
    #[error("domain is empty")]
    Empty,
    /// Longer than 253 characters.
    #[error("domain is {len} characters long, the limit is {MAX_DOMAIN_LEN}")]
    TooLong {
        /// The length.
        len: usize,
    },
    /// A label is empty or longer than 63 characters.
    #[error("domain {domain:?} has an empty or over-long label")]
    BadLabel {
        /// The normalized domain.
        domain: String,
    },
    /// A character that cannot be in a host name.
    #[error("domain has an invalid character {ch:?}")]
    InvalidChar {
        /// The character.
        ch: char,
    },
}

/// A normalized domain.
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Domain(String);

impl Domain {
    /// Normalizes and validates a domain as users and plugins write it.
    pub fn parse(input: &str) -> Result<Domain, DomainError> {
        let mut rest = input.trim();
        if let Some((scheme, after)) = rest.split_once("://") {
            if scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            {
                rest = after;
            }
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        rest = &rest[..end];
        if let Some((_, host)) = rest.rsplit_once('@') {
            rest = host;
        }
        if let Some((host, port)) = rest.rsplit_once(':') {
            if port.chars().all(|c| c.is_ascii_digit()) {
                rest = host;
            }
        }
        let host = rest.trim_end_matches('.').to_lowercase();
        if host.is_empty() {
            return Err(DomainError::Empty);
        }
        if host.chars().count() > MAX_DOMAIN_LEN {
            return Err(DomainError::TooLong {
                len: host.chars().count(),
            });
        }
        if let Some(ch) = host
            .chars()
            .find(|&c| !(c.is_alphanumeric() || matches!(c, '-' | '.' | '_')))
        {
            return Err(DomainError::InvalidChar { ch });
        }
        if host
            .split('.')
            .any(|l| l.is_empty() || l.chars().count() > 63)
        {
            return Err(DomainError::BadLabel { domain: host });
        }
        Ok(Domain(host))
    }

    /// The normalized domain.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        for (input, want) in [
            ("example.com", "example.com"),
            ("Example.COM", "example.com"),
            ("https://example.com/", "example.com"),
            (
                "http://Sub2.Test-WPWorld.uk:8080/wp-admin?x=1#y",
                "sub2.test-wpworld.uk",
            ),
            ("example.com.", "example.com"),
            ("  example.com  ", "example.com"),
            ("https://user:pw@example.com:443", "example.com"),
            ("localhost", "localhost"),
            ("Bücher.de", "bücher.de"),
        ] {
            assert_eq!(Domain::parse(input).unwrap().as_str(), want, "{input}");
        }
    }

    #[test]
    fn rejects() {
        assert_eq!(Domain::parse(""), Err(DomainError::Empty));
        assert_eq!(Domain::parse("https:///path"), Err(DomainError::Empty));
        assert!(matches!(
            Domain::parse("exa mple.com"),
            Err(DomainError::InvalidChar { ch: ' ' })
        ));
        assert!(matches!(
            Domain::parse("a..b"),
            Err(DomainError::BadLabel { .. })
        ));
        assert!(matches!(
            Domain::parse(&"a".repeat(64)),
            Err(DomainError::BadLabel { .. })
        ));
        assert!(matches!(
            Domain::parse(&"a.".repeat(130)),
            Err(DomainError::TooLong { .. })
        ));
    }
}
