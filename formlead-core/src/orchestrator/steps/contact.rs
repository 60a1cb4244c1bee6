//! Step 2, `upsert_contact`: the CRM contact, found by email or created.

use super::super::checkpoint::Checkpoints;
use super::super::engine::Engine;
use super::super::failure::{StepFailure, port_failure};
use crate::domain::{Prospect, StepName, Workflow};
use crate::ports::Contact;

impl Engine {
    pub(super) async fn upsert_contact(
        &self,
        wf: &Workflow,
        done: &Checkpoints,
        prospect: &Prospect,
    ) -> Result<Contact, StepFailure> {
        // Find-or-create by email: a retry finds the contact an earlier
        // attempt created, so this step needs no `running` record written
        // ahead of it; its outcome goes with the next durable write.
        let step = StepName::UpsertContact;
        self.checkpointed_as(wf, step, done, false, |_| async {
            let fail = port_failure(StepName::UpsertContact);
            let crm = &self.ports.crm;
            match crm.find_contact(&prospect.email).await.map_err(&fail)? {
                Some(c) => {
                    let s = format!("found contact {}", c.id);
                    Ok((c, s))
                }
                None => {
                    let c = crm.create_contact(prospect).await.map_err(&fail)?;
                    let s = format!("created contact {}", c.id);
                    Ok((c, s))
                }
            }
        })
        .await
    }
}
