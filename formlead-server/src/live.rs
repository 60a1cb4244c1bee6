//! Live vendor adapters (HubSpot, Google, LLM), built from settings.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use formlead_adapters::google::{
    DriveAssets, GmailMailer, GoogleCalendar, GoogleClients, GoogleCredentials, GoogleEndpoints,
};
use formlead_adapters::hubspot::{HubSpotConfig, HubSpotCrm};
use formlead_adapters::llm::{LlmConfig, LlmWriter};
use formlead_core::agents::{DraftWriter, TemplateWriter};
use formlead_core::domain::FormsApiSubmission;
use formlead_core::ports::{AssetPort, CalendarPort, CrmPort, FlagPolicy, MailPort};

use crate::config::{GoogleSettings, LlmSettings, Settings};

fn hubspot(settings: &Settings) -> anyhow::Result<HubSpotCrm> {
    let token = settings
        .hubspot
        .access_token
        .clone()
        .context("HUBSPOT_ACCESS_TOKEN is not set")?;
    let mut config = HubSpotConfig::new(&settings.hubspot.api_base, token);
    config.calls_per_10s = settings.hubspot.rate_per_10s;
    config.searches_per_s = settings.hubspot.search_per_s;
    HubSpotCrm::new(config).map_err(|e| anyhow::anyhow!("{e}"))
}

pub fn hubspot_crm(settings: &Settings) -> anyhow::Result<Arc<dyn CrmPort>> {
    Ok(Arc::new(hubspot(settings)?))
}

pub type GooglePorts = (Arc<dyn MailPort>, Arc<dyn CalendarPort>, Arc<dyn AssetPort>);

/// Gmail and Calendar; Drive for assets when a folder is configured,
/// otherwise `assets` (the catalogue).
pub fn google(
    settings: &Settings,
    google: &GoogleSettings,
    policy: Arc<dyn FlagPolicy>,
    assets: Arc<dyn AssetPort>,
) -> anyhow::Result<GooglePorts> {
    let credentials = GoogleCredentials {
        client_id: google.client_id.clone(),
        client_secret: google.client_secret.clone(),
        refresh_token: google.refresh_token.clone(),
        token_url: google.token_url.clone(),
    };
    let endpoints = GoogleEndpoints {
        gmail: google.gmail_base.clone(),
        calendar: google.calendar_base.clone(),
        drive: google.drive_base.clone(),
    };
    let clients = GoogleClients::new(
        credentials,
        &endpoints,
        formlead_adapters::http::DEFAULT_TIMEOUT,
    )
    .map_err(|f| anyhow::anyhow!(f.message))?;
    let from = settings
        .sender_email
        .as_ref()
        .context("SENDER_EMAIL is required with Google credentials")?;
    let mail: Arc<dyn MailPort> = Arc::new(GmailMailer::new(
        clients.gmail.clone(),
        policy,
        from.as_str(),
        &settings.sender_name,
    ));
    let calendar: Arc<dyn CalendarPort> = Arc::new(GoogleCalendar::new(
        clients.calendar.clone(),
        &google.calendar_id,
    ));
    let assets: Arc<dyn AssetPort> = match &google.drive_folder_id {
        Some(folder) => Arc::new(DriveAssets::new(clients.drive.clone(), folder)),
        None => assets,
    };
    Ok((mail, calendar, assets))
}

pub fn llm_writer(
    llm: &LlmSettings,
    template: TemplateWriter,
) -> anyhow::Result<Arc<dyn DraftWriter>> {
    let config = LlmConfig {
        api_base: llm.api_base.clone(),
        api_key: llm.api_key.clone(),
        model: llm.model.clone(),
        timeout: std::time::Duration::from_secs(20),
    };
    Ok(Arc::new(
        LlmWriter::new(config, template).map_err(|e| anyhow::anyhow!("{e}"))?,
    ))
}

/// HubSpot's forms API, for `reconcile`.
pub struct FormsClient(HubSpotCrm);

impl FormsClient {
    pub async fn submissions_since(
        &self,
        form: &str,
        since: DateTime<Utc>,
    ) -> anyhow::Result<Vec<FormsApiSubmission>> {
        self.0
            .form_submissions_since(form, since)
            .await
            .map_err(|f| anyhow::anyhow!(f.message))
    }
}

pub fn hubspot_forms(settings: &Settings) -> anyhow::Result<FormsClient> {
    Ok(FormsClient(hubspot(settings)?))
}
