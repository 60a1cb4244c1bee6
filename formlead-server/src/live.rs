//! Live vendor adapters (HubSpot, Google, LLM), built from settings.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use formlead_core::agents::{DraftWriter, TemplateWriter};
use formlead_core::domain::FormsApiSubmission;
use formlead_core::ports::{AssetPort, CalendarPort, CrmPort, FlagPolicy, MailPort};

use crate::config::{GoogleSettings, LlmSettings, Settings};

pub fn hubspot_crm(_settings: &Settings) -> anyhow::Result<Arc<dyn CrmPort>> {
    anyhow::bail!("HUBSPOT_ACCESS_TOKEN is set but this build has no HubSpot adapter yet")
}

pub type GooglePorts = (Arc<dyn MailPort>, Arc<dyn CalendarPort>, Arc<dyn AssetPort>);

pub fn google(
    _settings: &Settings,
    _google: &GoogleSettings,
    _policy: Arc<dyn FlagPolicy>,
    _assets: Arc<dyn AssetPort>,
) -> anyhow::Result<GooglePorts> {
    anyhow::bail!("Google credentials are set but this build has no Google adapters yet")
}

pub fn llm_writer(
    _llm: &LlmSettings,
    _template: TemplateWriter,
) -> anyhow::Result<Arc<dyn DraftWriter>> {
    anyhow::bail!("LLM settings are set but this build has no LLM writer yet")
}

pub struct FormsClient;

impl FormsClient {
    pub async fn submissions_since(
        &self,
        _form: &str,
        _since: DateTime<Utc>,
    ) -> anyhow::Result<Vec<FormsApiSubmission>> {
        anyhow::bail!("no HubSpot forms client in this build yet")
    }
}

pub fn hubspot_forms(_settings: &Settings) -> anyhow::Result<FormsClient> {
    anyhow::bail!("HUBSPOT_ACCESS_TOKEN is required")
}
