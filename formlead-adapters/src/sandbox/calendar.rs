//! `SandboxCalendar`: a calendar with fixed busy blocks.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::faults::{Faults, lock};
use formlead_core::ports::{BusyBlock, CalendarError, CalendarPort};

/// In-memory [`CalendarPort`]: free except for the seeded busy blocks.
#[derive(Debug, Default)]
pub struct SandboxCalendar {
    busy: Mutex<Vec<BusyBlock>>,
    faults: Faults,
}

impl SandboxCalendar {
    /// A calendar with nothing booked.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scripted failures and latency of free/busy reads.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Books `block`: proposed slots avoid it.
    pub fn add_busy(&self, block: BusyBlock) {
        lock(&self.busy).push(block);
    }
}

#[async_trait]
impl CalendarPort for SandboxCalendar {
    async fn busy(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<BusyBlock>, CalendarError> {
        self.faults.before::<CalendarError>("busy").await?;
        Ok(lock(&self.busy)
            .iter()
            .filter(|b| b.start < to && b.end > from)
            .copied()
            .collect())
    }
}
