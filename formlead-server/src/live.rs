//! Live vendor adapters (HubSpot, Google, LLM), built from settings.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use formlead_adapters::budget::{Budget, BudgetSpec, LocalBudget, PgBudget};
use formlead_adapters::google::{
    DriveAssets, GmailMailer, GoogleCalendar, GoogleClients, GoogleCredentials, GoogleEndpoints,
    gmail_budget,
};
use formlead_adapters::hubspot::{HubSpotConfig, HubSpotCrm};
use formlead_adapters::llm::{LlmConfig, LlmWriter};
use formlead_core::agents::TemplateWriter;
use formlead_core::domain::FormsApiSubmission;
use formlead_core::ports::DraftWriter;
use formlead_core::ports::{AssetPort, CalendarPort, FlagPolicy, MailPort};

use crate::config::{GoogleSettings, LlmSettings, Settings};

fn hubspot(settings: &Settings, budgets: &Budgets) -> anyhow::Result<HubSpotCrm> {
    let token = settings
        .hubspot
        .access_token
        .clone()
        .context("HUBSPOT_ACCESS_TOKEN is not set")?;
    let mut config = HubSpotConfig::new(&settings.hubspot.api_base, token);
    config.calls_per_10s = settings.hubspot.rate_per_10s;
    let budget = budgets.budget(config.budget_spec());
    HubSpotCrm::with_budget(config, budget).map_err(|e| anyhow::anyhow!("{e}"))
}

pub fn hubspot_crm(settings: &Settings, budgets: &Budgets) -> anyhow::Result<Arc<HubSpotCrm>> {
    Ok(Arc::new(hubspot(settings, budgets)?))
}

pub type GooglePorts = (Arc<dyn MailPort>, Arc<dyn CalendarPort>, Arc<dyn AssetPort>);

/// The Google API clients (OAuth refresh shared) for `google`.
///
/// # Errors
/// When the client cannot be built.
pub fn google_clients(google: &GoogleSettings) -> anyhow::Result<GoogleClients> {
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
    GoogleClients::new(
        credentials,
        &endpoints,
        formlead_adapters::http::DEFAULT_TIMEOUT,
    )
    .map_err(|f| anyhow::anyhow!(f.message))
}

/// Gmail and Calendar; Drive for assets when a folder is configured,
/// otherwise `assets` (the catalogue).
pub fn google(
    settings: &Settings,
    google: &GoogleSettings,
    policy: Arc<dyn FlagPolicy>,
    assets: Arc<dyn AssetPort>,
    budgets: &Budgets,
) -> anyhow::Result<(GooglePorts, Arc<dyn Budget>)> {
    let clients = google_clients(google)?;
    let from = settings
        .sender_email
        .as_ref()
        .context("SENDER_EMAIL is required with Google credentials")?;
    // One budget per mailbox, shared by every process sending from it.
    let gmail_budget = budgets.budget(gmail_budget(
        &format!("gmail:{}", from.as_str()),
        google.gmail_units_per_s,
    ));
    let clients = clients.with_gmail_budget(gmail_budget.clone());
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
    Ok(((mail, calendar, assets), gmail_budget))
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
    Ok(FormsClient(hubspot(settings, &Budgets::Local)?))
}

/// Where vendor budgets live: in this process, or in PostgreSQL, shared by
/// every process on the database.
#[derive(Debug, Clone)]
pub enum Budgets {
    Local,
    Shared(Arc<formlead_adapters::sql::PgStore>),
}

impl Budgets {
    pub fn budget(&self, spec: BudgetSpec) -> Arc<dyn Budget> {
        match self {
            Self::Local => Arc::new(LocalBudget::new(spec)),
            Self::Shared(store) => Arc::new(PgBudget::for_store(store, spec)),
        }
    }
}
