//! What every port error has in common: it says whether a retry can help.

use std::time::Duration;

/// The boxed cause inside a port error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How the caller should react to a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Try again later; `after` is the vendor's retry-after, when it gave one.
    /// Try again later.
    Later {
        /// The vendor's retry-after, when it gave one.
        after: Option<Duration>,
    },
    /// Retrying cannot help.
    Never,
}

/// Implemented by every port error.
pub trait Classify {
    /// Whether and when a retry may help.
    fn retry(&self) -> Retry;

    /// Whether a retry may help.
    fn is_transient(&self) -> bool {
        matches!(self.retry(), Retry::Later { .. })
    }

    /// The vendor refused our credentials (a revoked token, a missing
    /// scope): an operator has to fix the configuration; never retried.
    fn needs_operator(&self) -> bool {
        false
    }
}

/// Builds an error of a port from a classification and its cause (a
/// vendor adapter's typed failure, or an injected fault), which stays the
/// error's `source` for callers to match on.
pub trait FromRetry: Sized {
    /// An error classified by `retry`, caused by `source`.
    fn from_retry(retry: Retry, source: BoxError) -> Self;

    /// A refusal of our credentials (see [`Classify::needs_operator`]);
    /// ports without such a variant make it a permanent error.
    fn from_unauthorized(source: BoxError) -> Self {
        Self::from_retry(Retry::Never, source)
    }
}

/// Adds `transient`, `transient_after` and `permanent` constructors and the
/// [`Classify`] impl to an error enum with `Transient { retry_after, source }`
/// and `Permanent { source }` variants. Other variants are permanent unless
/// listed after `transient:`; the variant named after `unauthorized:` (with
/// a `source`) is the credentials refusal of [`Classify::needs_operator`].
macro_rules! port_error_common {
    ($name:ident $(, transient: $($tvariant:pat),+)? $(, unauthorized: $uvariant:ident)?) => {
        impl $name {
            $(
                /// The vendor refused our credentials: an operator must act.
                pub fn unauthorized(source: impl Into<$crate::ports::BoxError>) -> Self {
                    Self::$uvariant { source: source.into() }
                }
            )?

            /// A failure worth retrying later.
            pub fn transient(source: impl Into<$crate::ports::BoxError>) -> Self {
                Self::Transient { retry_after: None, source: source.into() }
            }

            /// A failure worth retrying after `after` (the vendor's retry-after).
            pub fn transient_after(
                source: impl Into<$crate::ports::BoxError>,
                after: std::time::Duration,
            ) -> Self {
                Self::Transient { retry_after: Some(after), source: source.into() }
            }

            /// A failure that retrying cannot fix.
            pub fn permanent(source: impl Into<$crate::ports::BoxError>) -> Self {
                Self::Permanent { source: source.into() }
            }
        }

        impl $crate::ports::FromRetry for $name {
            fn from_retry(retry: $crate::ports::Retry, source: $crate::ports::BoxError) -> Self {
                match retry {
                    $crate::ports::Retry::Later { after: Some(d) } => Self::transient_after(source, d),
                    $crate::ports::Retry::Later { after: None } => Self::transient(source),
                    $crate::ports::Retry::Never => Self::permanent(source),
                }
            }

            #[allow(unreachable_code)]
            fn from_unauthorized(source: $crate::ports::BoxError) -> Self {
                $( return Self::$uvariant { source }; )?
                Self::permanent(source)
            }
        }

        impl $crate::ports::Classify for $name {
            fn retry(&self) -> $crate::ports::Retry {
                match self {
                    Self::Transient { retry_after, .. } => {
                        $crate::ports::Retry::Later { after: *retry_after }
                    }
                    $($($tvariant => $crate::ports::Retry::Later { after: None },)+)?
                    #[allow(unreachable_patterns)]
                    _ => $crate::ports::Retry::Never,
                }
            }

            fn needs_operator(&self) -> bool {
                $( if matches!(self, Self::$uvariant { .. }) { return true; } )?
                false
            }
        }
    };
}

pub(crate) use port_error_common;
