//! A side effect on an external system (a mail draft, a CRM task or note),
//! done exactly once across attempts. The rule, in order:
//!
//! 1. an earlier attempt started the step (its `running` checkpoint) and
//!    its record is in the store: nothing to do, the record stands;
//! 2. an earlier attempt started the step but recorded nothing: the effect
//!    may exist though its answer was lost, so look it up at the vendor by
//!    its idempotency key;
//! 3. not found (or never attempted): create it;
//! 4. record it in the store before the step completes, so a later attempt
//!    stops at 1.

use std::fmt;
use std::future::Future;

use super::failure::{StepFailure, store_failure};
use crate::domain::StepName;
use crate::ports::StoreError;

/// How the effect came to exist, for the step's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Recorded by an earlier attempt.
    Stored,
    /// Made by an earlier attempt whose answer was lost; found again.
    Recovered,
    /// Made now.
    Created,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Stored => "already stored",
            Self::Recovered => "recovered",
            Self::Created => "created",
        })
    }
}

/// Step 1's lookup for `step`: the first of the records an earlier attempt
/// stored (read by `rows`), as its checkpoint (`to`).
pub(crate) async fn first_stored<R, T>(
    rows: impl Future<Output = Result<Vec<R>, StoreError>>,
    step: StepName,
    to: impl FnOnce(R) -> T,
) -> Result<Option<T>, StepFailure> {
    let rows = rows.await.map_err(store_failure(Some(step)))?;
    Ok(rows.into_iter().next().map(to))
}

/// Runs the rule above: `stored` is step 1's lookup, `find` step 2's,
/// `create` step 3, `record` step 4 (given the vendor's answer).
pub(crate) async fn exactly_once<T, X, FindFut, CreateFut, RecordFut>(
    attempted: bool,
    stored: impl Future<Output = Result<Option<T>, StepFailure>>,
    find: impl FnOnce() -> FindFut,
    create: impl FnOnce() -> CreateFut,
    record: impl FnOnce(X) -> RecordFut,
) -> Result<(T, Origin), StepFailure>
where
    FindFut: Future<Output = Result<Option<X>, StepFailure>>,
    CreateFut: Future<Output = Result<X, StepFailure>>,
    RecordFut: Future<Output = Result<T, StepFailure>>,
{
    // A step never started has nothing stored and nothing to find.
    if attempted && let Some(done) = stored.await? {
        return Ok((done, Origin::Stored));
    }
    let found = if attempted { find().await? } else { None };
    let (effect, origin) = match found {
        Some(x) => (x, Origin::Recovered),
        None => (create().await?, Origin::Created),
    };
    Ok((record(effect).await?, origin))
}
