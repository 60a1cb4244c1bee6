//! How a step fails: classified as transient (retry later), permanent
//! (dead letter) or a lost lease, and where it came from.

use std::fmt::Display;
use std::time::Duration;

use crate::domain::StepName;
use crate::ports::{Classify, Retry, StoreError};

/// A step failure, classified.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepFailure {
    pub step: Option<StepName>,
    pub kind: FailureKind,
    pub message: String,
    pub origin: FailureOrigin,
}

/// Where a step failure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureOrigin {
    /// A vendor call failed (an outage, a 4xx about this request).
    Vendor,
    /// A vendor refused our credentials: an operator must act.
    Credentials,
    /// The store, the engine itself, or the lead's own data.
    Internal,
}

#[derive(Debug, Clone, Copy, PartialEq)]
/// What a failure means for the workflow.
pub(crate) enum FailureKind {
    Transient { retry_after: Option<Duration> },
    Permanent,
    LeaseLost,
}

/// Converts a port error into a classified step failure.
pub(crate) fn port_failure<E: Classify + Display>(step: StepName) -> impl Fn(E) -> StepFailure {
    move |e| StepFailure {
        step: Some(step),
        kind: match e.retry() {
            Retry::Later { after } => FailureKind::Transient { retry_after: after },
            Retry::Never => FailureKind::Permanent,
        },
        message: e.to_string(),
        origin: if e.needs_operator() {
            FailureOrigin::Credentials
        } else {
            FailureOrigin::Vendor
        },
    }
}

/// A store failure during `step` (a lost lease is reported as such).
pub(crate) fn store_failure(step: Option<StepName>) -> impl Fn(StoreError) -> StepFailure {
    move |e| match &e {
        StoreError::LeaseLost(_) => StepFailure {
            step,
            kind: FailureKind::LeaseLost,
            message: e.to_string(),
            origin: FailureOrigin::Internal,
        },
        _ => StepFailure {
            step,
            kind: match e.retry() {
                Retry::Later { after } => FailureKind::Transient { retry_after: after },
                Retry::Never => FailureKind::Permanent,
            },
            message: format!("store: {e}"),
            origin: FailureOrigin::Internal,
        },
    }
}

pub(crate) fn permanent(step: StepName, message: impl Into<String>) -> StepFailure {
    StepFailure {
        step: Some(step),
        kind: FailureKind::Permanent,
        message: message.into(),
        origin: FailureOrigin::Internal,
    }
}
