//! `str_enum!`: an enum with a fixed text form used in the database, the
//! JSON API and the contract (`as_str`, `parse`, `Display`, `FromStr`, serde).

/// An unknown text value for one of the text enums.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{value}'")]
pub struct UnknownVariant {
    /// Which kind of value it should have been.
    pub kind: &'static str,
    /// The value given.
    pub value: String,
}

macro_rules! str_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident : $kind:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text form used in storage and the API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the text form.
            ///
            /// # Errors
            /// [`UnknownVariant`](crate::domain::UnknownVariant) for any other text.
            pub fn parse(s: &str) -> Result<Self, $crate::domain::UnknownVariant> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::domain::UnknownVariant { kind: $kind, value: other.to_owned() }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::domain::UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

pub(crate) use str_enum;
