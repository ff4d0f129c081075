//! Where in a JSON document a problem is.

use std::fmt;

/// A dotted path to a field of a JSON document, such as `data.check_status_endpoint`.
///
/// Paths are relative to the request body: `domain`, `event`, `data.origin`, or
/// `data.data.origin` when the payload arrived wrapped. The empty path is the body itself and
/// displays as `body`.
#[derive(Clone, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Path(String);

impl Path {
    /// The path of the whole document.
    pub fn root() -> Path {
        Path(String::new())
    }

    /// The path of `key` inside the object at `self`.
    pub fn child(&self, key: &str) -> Path {
        if self.0.is_empty() {
            Path(key.to_owned())
        } else {
            Path(format!("{}.{key}", self.0))
        }
    }

    /// The dotted path; empty for the whole document.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the whole document.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "body" } else { &self.0 })
    }
}

impl PartialEq<str> for Path {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Path {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}
