//! Steps 3–6: what the reply draws on, read concurrently: earlier threads with
//! the prospect, the history of earlier leads and CRM notes, matching
//! assets, free meeting slots. Each only adds context: a vendor failure
//! degrades its step instead of failing the lead.

use super::super::checkpoint::{Checkpoints, StepResult};
use super::super::engine::Engine;
use super::super::failure::{FailureKind, StepFailure, port_failure, store_failure};
use crate::agents::{
    AssetHunter, LongMemory, MeetingSlot, MeetingSlotFinder, MemoryRecall, RankedAsset,
    ThreadInsight, ThreadReader,
};
use crate::domain::{Prospect, StepName, Workflow};
use crate::ports::{Contact, ProspectHistory};

/// The context of a reply (steps 3–6).
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub threads: ThreadInsight,
    pub memory: MemoryRecall,
    pub assets: Vec<RankedAsset>,
    pub slots: Vec<MeetingSlot>,
}

impl Engine {
    pub(super) async fn gather_context(
        &self,
        wf: &Workflow,
        done: &Checkpoints,
        prospect: &Prospect,
        contact: &Contact,
    ) -> Result<Context, StepFailure> {
        let (threads, memory, assets, slots) = futures_util::join!(
            self.read_threads(wf, done, prospect),
            self.recall_history(wf, done, prospect, contact),
            self.find_assets(wf, done, prospect),
            self.find_meeting_slots(wf, done),
        );
        // Report the most serious failure: permanent before transient.
        let failures = [
            threads.as_ref().err(),
            memory.as_ref().err(),
            assets.as_ref().err(),
            slots.as_ref().err(),
        ];
        if let Some(f) = failures
            .iter()
            .flatten()
            .max_by_key(|f| matches!(f.kind, FailureKind::Permanent))
        {
            return Err((*f).clone());
        }
        Ok(Context {
            threads: threads?,
            memory: memory?,
            assets: assets?,
            slots: slots?,
        })
    }

    /// 3. `read_threads`.
    async fn read_threads(
        &self,
        wf: &Workflow,
        done: &Checkpoints,
        prospect: &Prospect,
    ) -> Result<ThreadInsight, StepFailure> {
        self.enrichment(wf, StepName::ReadThreads, done, |_| async {
            let found = self
                .ports
                .mail
                .threads_with(&prospect.email, self.config.thread_lookup_limit)
                .await
                .map_err(port_failure(StepName::ReadThreads))?;
            let insight = ThreadReader::default().read(&found, self.ports.clock.now());
            let s = insight.summary.clone();
            StepResult::<ThreadInsight>::Ok((insight, s))
        })
        .await
    }

    /// 4. `recall_history`.
    async fn recall_history(
        &self,
        wf: &Workflow,
        done: &Checkpoints,
        prospect: &Prospect,
        contact: &Contact,
    ) -> Result<MemoryRecall, StepFailure> {
        let step = StepName::RecallHistory;
        self.enrichment(wf, step, done, |_| async {
            let email = prospect.email.as_str();
            let history = if done.is_new_prospect(email) {
                ProspectHistory::default()
            } else {
                self.ports
                    .store
                    .prospect_history(email, wf.id)
                    .await
                    .map_err(store_failure(Some(step)))?
            };
            // A contact created in step 2 has no notes yet: no call.
            let notes = if contact.created {
                Vec::new()
            } else {
                self.ports
                    .crm
                    .recent_notes(&contact.id, self.config.note_lookup_limit)
                    .await
                    .map_err(port_failure(step))?
            };
            let recall = LongMemory.recall(&history, &notes, self.ports.clock.now());
            let s = recall.summary.clone();
            StepResult::<MemoryRecall>::Ok((recall, s))
        })
        .await
    }

    /// 5. `find_assets`.
    async fn find_assets(
        &self,
        wf: &Workflow,
        done: &Checkpoints,
        prospect: &Prospect,
    ) -> Result<Vec<RankedAsset>, StepFailure> {
        self.enrichment(wf, StepName::FindAssets, done, |_| async {
            let hunter = AssetHunter::default();
            let terms = hunter.search_terms(prospect);
            let candidates = self
                .ports
                .assets
                .search(&terms, 50)
                .await
                .map_err(port_failure(StepName::FindAssets))?;
            let ranked = hunter.rank(prospect, &candidates);
            let s = match ranked.first() {
                Some(a) => format!(
                    "{} match(es); best \"{}\" (score {})",
                    ranked.len(),
                    a.asset.title,
                    a.score
                ),
                None => format!("no matching asset among {}", candidates.len()),
            };
            StepResult::<Vec<RankedAsset>>::Ok((ranked, s))
        })
        .await
    }

    /// 6. `find_meeting_slots`.
    async fn find_meeting_slots(
        &self,
        wf: &Workflow,
        done: &Checkpoints,
    ) -> Result<Vec<MeetingSlot>, StepFailure> {
        self.enrichment(wf, StepName::FindMeetingSlots, done, |_| async {
            let hours = &self.config.business_hours;
            let at = self.ports.clock.now();
            let (from, to) = hours.window(at);
            let busy = self
                .ports
                .calendar
                .busy(from, to)
                .await
                .map_err(port_failure(StepName::FindMeetingSlots))?;
            let slots = MeetingSlotFinder {
                hours: hours.clone(),
            }
            .propose(at, &busy);
            let s = if slots.is_empty() {
                "no free slot in business hours".to_owned()
            } else {
                slots
                    .iter()
                    .map(|s| s.display(hours.time_zone))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            StepResult::<Vec<MeetingSlot>>::Ok((slots, s))
        })
        .await
    }
}
