//! Open string enums: known values are variants, unknown ones are kept verbatim.

use std::fmt;

/// A string kept by the hidden `_Custom` variant of an open enum.
///
/// Not part of the API: match on `as_str()` or use `is_known()` instead of this type.
#[doc(hidden)]
#[derive(Clone, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct PrivOwnedStr(pub(crate) Box<str>);

impl fmt::Debug for PrivOwnedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// Declares an open string enum.
///
/// Each variant has one canonical spelling (what `as_str()` returns) and optional aliases
/// (extra spellings that parse to it), given as constant paths. Unknown strings become the
/// hidden `_Custom` variant and round-trip unchanged.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $canonical:literal $(| $alias:path)*
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Eq, Hash, PartialEq)]
        #[non_exhaustive]
        pub enum $name {
            $(
                $(#[$vmeta])*
                $variant,
            )+
            #[doc(hidden)]
            _Custom($crate::PrivOwnedStr),
        }

        impl $name {
            /// Every known value, in declaration order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The canonical spelling of this value (or the unknown value as received).
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $canonical,)+
                    Self::_Custom(s) => &s.0,
                }
            }

            /// Whether this is one of the known values rather than a kept unknown one.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::_Custom(_))
            }

            fn from_known(s: &str) -> Option<Self> {
                match s {
                    $($canonical $(| $alias)* => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::from_known(s)
                    .unwrap_or_else(|| Self::_Custom($crate::PrivOwnedStr(s.into())))
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self::from_known(&s)
                    .unwrap_or_else(|| Self::_Custom($crate::PrivOwnedStr(s.into_boxed_str())))
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::from(s))
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(deserializer)?;
                Ok(Self::from(&*s))
            }
        }
    };
}
