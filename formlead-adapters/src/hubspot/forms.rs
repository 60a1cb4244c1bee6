//! Listing a form's submissions (forms API v1), for `formlead reconcile`.

use chrono::{DateTime, Utc};
use formlead_core::domain::FormsApiSubmission;
use reqwest::Method;

use super::crm::{HubSpotCrm, urlencode};
use super::types::FormsPage;
use crate::http::{Op, VendorFailure};

/// `GET /form-integrations/v1/submissions/forms/{guid}`.
const FORMS_LIST: Op = Op::new("forms.submissions", 1.0);

impl HubSpotCrm {
    /// Submissions of `form_guid` received since `since`, newest first
    /// (cursor pagination, 50 per page; stops at the first older one).
    ///
    /// # Errors
    /// [`VendorFailure`] from the API.
    pub async fn form_submissions_since(
        &self,
        form_guid: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<FormsApiSubmission>, VendorFailure> {
        let since_ms = since.timestamp_millis();
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..1_000 {
            let mut req = self
                .req(
                    Method::GET,
                    &format!(
                        "/form-integrations/v1/submissions/forms/{}",
                        urlencode(form_guid)
                    ),
                )
                .query(&[("limit", "50")]);
            if let Some(a) = &after {
                req = req.query(&[("after", a.as_str())]);
            }
            let page: FormsPage = self
                .vendor()
                .call_idempotent::<(), _>(req, None, FORMS_LIST)
                .await?;
            let mut older = false;
            for r in page.results {
                if r.submitted_at >= since_ms {
                    out.push(r);
                } else {
                    older = true;
                }
            }
            after = page.paging.and_then(|p| p.next).map(|n| n.after);
            if older || after.is_none() {
                break;
            }
        }
        Ok(out)
    }
}
