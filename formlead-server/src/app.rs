//! Wiring: settings → store, queue, vendor adapters (live or sandbox),
//! policy and writer → the engine, plus the workers that drive it.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use formlead_adapters::sandbox::{self, SandboxCalendar, SandboxCrm, SandboxMail, StaticAssets};
use formlead_adapters::sql::{ApalisWorkerConfig, PgStore, SqliteStore};
use formlead_core::agents::{TemplateWriter, VoiceProfile};
use formlead_core::orchestrator::{Engine, EngineConfig, Ports, RetryPolicy};
use formlead_core::policy::GatedPolicy;
use formlead_core::ports::DraftWriter;
use formlead_core::ports::{
    AssetPort, CalendarPort, CrmPort, FlagPolicy, MailPort, Queue, Store, SystemClock,
};

use crate::config::Settings;

/// The database backend in use.
#[derive(Clone, Debug)]
pub enum Database {
    Sqlite(Arc<SqliteStore>),
    Postgres(Arc<PgStore>),
}

impl Database {
    /// Opens the database named by `DATABASE_URL` and applies migrations.
    ///
    /// # Errors
    /// When the database cannot be opened or migrated.
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        let pool_size = u32::try_from(settings.workers * 2 + 8).unwrap_or(32);
        if settings.is_postgres() {
            let store = PgStore::connect_postgres(settings.database_url.expose(), pool_size)
                .await
                .context("cannot open the PostgreSQL database (DATABASE_URL)")?
                .with_merge_window(settings.merge_window);
            Ok(Self::Postgres(Arc::new(store)))
        } else {
            let store = SqliteStore::connect_sqlite(
                settings.database_url.expose(),
                settings.sqlite_durability,
                pool_size,
            )
            .await
            .with_context(|| {
                let url = settings.database_url.expose();
                // The usual cause: a directory that is not there.
                let missing_dir = formlead_adapters::sql::sqlite_path(url)
                    .ok()
                    .and_then(|p| {
                        let dir = std::path::Path::new(&p).parent()?.to_path_buf();
                        (!dir.as_os_str().is_empty() && !dir.is_dir()).then_some(dir)
                    });
                match missing_dir {
                    Some(dir) => format!(
                        "cannot open the SQLite database {url}: the directory {} does not exist (create it, or point DATABASE_URL elsewhere)",
                        dir.display()
                    ),
                    None => format!("cannot open the SQLite database {url}"),
                }
            })?
            .with_merge_window(settings.merge_window);
            Ok(Self::Sqlite(Arc::new(store)))
        }
    }

    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Self::Sqlite(s) => s.clone(),
            Self::Postgres(s) => s.clone(),
        }
    }

    pub fn queue(&self) -> Arc<dyn Queue> {
        match self {
            Self::Sqlite(s) => Arc::new(s.queue()),
            Self::Postgres(s) => Arc::new(s.queue()),
        }
    }

    /// Where vendor budgets live: shared in PostgreSQL, in this process on
    /// SQLite (one process).
    pub fn budgets(&self) -> crate::live::Budgets {
        match self {
            Self::Sqlite(_) => crate::live::Budgets::Local,
            Self::Postgres(s) => crate::live::Budgets::Shared(s.clone()),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Runs apalis workers until `shutdown` resolves.
    ///
    /// # Errors
    /// When the workers fail.
    pub async fn run_workers(
        &self,
        engine: Engine,
        config: ApalisWorkerConfig,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        match self {
            Self::Sqlite(s) => {
                formlead_adapters::sql::run_sqlite_workers(s, engine, config, shutdown).await?
            }
            Self::Postgres(s) => {
                formlead_adapters::sql::run_postgres_workers(s, engine, config, shutdown).await?
            }
        }
        Ok(())
    }
}

/// The vendor-side adapters and what they are (for logs and check-config).
pub struct Vendors {
    pub crm: Arc<dyn CrmPort>,
    pub mail: Arc<dyn MailPort>,
    pub calendar: Arc<dyn CalendarPort>,
    pub assets: Arc<dyn AssetPort>,
    pub writer: Arc<dyn DraftWriter>,
    pub policy: Arc<dyn FlagPolicy>,
    /// `(port, description)`, e.g. `("crm", "sandbox (set HUBSPOT_ACCESS_TOKEN for HubSpot)")`.
    pub summary: Vec<(&'static str, String)>,
    /// The live vendors' budgets (for the dashboard).
    pub budgets: Vec<Arc<dyn formlead_adapters::budget::Budget>>,
}

impl Vendors {
    /// Live adapters where credentials are configured, sandboxes elsewhere.
    ///
    /// # Errors
    /// When a configured file (voice profile, asset catalogue) is invalid.
    pub fn from_settings(
        settings: &Settings,
        budget_store: &crate::live::Budgets,
    ) -> anyhow::Result<Self> {
        let policy: Arc<dyn FlagPolicy> = Arc::new(GatedPolicy::new(settings.send_policy.clone()));
        let mut summary = Vec::new();
        let mut budgets = Vec::new();

        let crm: Arc<dyn CrmPort> = match &settings.hubspot.access_token {
            Some(_) => {
                let hubspot = crate::live::hubspot_crm(settings, budget_store)?;
                budgets.extend(hubspot.budget());
                hubspot
            }
            None => {
                summary.push((
                    "crm",
                    "sandbox (set HUBSPOT_ACCESS_TOKEN for HubSpot)".to_owned(),
                ));
                Arc::new(SandboxCrm::new())
            }
        };
        if settings.hubspot.access_token.is_some() {
            summary.push(("crm", format!("HubSpot ({})", settings.hubspot.api_base)));
        }

        let assets: Arc<dyn AssetPort> = match &settings.asset_catalogue {
            Some(path) => {
                let catalogue = sandbox::load_catalogue(path)
                    .with_context(|| format!("ASSET_CATALOGUE {}", path.display()))?;
                summary.push((
                    "assets",
                    format!(
                        "catalogue {} ({} assets)",
                        path.display(),
                        catalogue.assets().len()
                    ),
                ));
                Arc::new(catalogue)
            }
            None => {
                summary.push((
                    "assets",
                    "sample catalogue (set ASSET_CATALOGUE)".to_owned(),
                ));
                Arc::new(StaticAssets::sample())
            }
        };

        let (mail, calendar, assets): (
            Arc<dyn MailPort>,
            Arc<dyn CalendarPort>,
            Arc<dyn AssetPort>,
        ) = match &settings.google {
            Some(google) => {
                let (live, gmail) =
                    crate::live::google(settings, google, policy.clone(), assets, budget_store)?;
                budgets.push(gmail);
                summary.push(("mail", format!("Gmail ({})", google.gmail_base)));
                summary.push((
                    "calendar",
                    format!("Google Calendar ({})", google.calendar_id),
                ));
                if google.drive_folder_id.is_some() {
                    summary.push(("assets", "Google Drive folder".to_owned()));
                }
                live
            }
            None => {
                summary.push(("mail", "sandbox (set GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, GOOGLE_REFRESH_TOKEN for Gmail)".to_owned()));
                summary.push(("calendar", "sandbox (always free)".to_owned()));
                (
                    Arc::new(SandboxMail::new(policy.clone())),
                    Arc::new(SandboxCalendar::new()),
                    assets,
                )
            }
        };

        let template = TemplateWriter::new(voice_profile(settings)?);
        let writer: Arc<dyn DraftWriter> = match &settings.llm {
            Some(llm) => {
                summary.push(("writer", format!("LLM {} (template fallback)", llm.model)));
                crate::live::llm_writer(llm, template)?
            }
            None => {
                summary.push(("writer", "template (voice profile)".to_owned()));
                Arc::new(template)
            }
        };
        summary.push(("send mode", settings.send_policy.mode().as_str().to_owned()));
        Ok(Self {
            crm,
            mail,
            calendar,
            assets,
            writer,
            policy,
            summary,
            budgets,
        })
    }
}

/// Engine settings from configuration.
pub fn engine_config(settings: &Settings, worker_id: String) -> EngineConfig {
    EngineConfig {
        retry: RetryPolicy {
            max_attempts: settings.max_attempts,
            base: settings.retry_base,
        },
        lease: settings.orphan_timeout,
        business_hours: settings.business_hours.clone(),
        message_id_domain: settings
            .sender_email
            .as_ref()
            .map_or_else(|| "formlead.local".to_owned(), |e| e.domain().to_owned()),
        worker_id,
        support_owner_id: settings.support_owner_id.clone(),
        cold_after: settings.cold_after,
        ..EngineConfig::default()
    }
}

/// The engine on `store`/`queue` with `vendors`.
pub fn engine(
    settings: &Settings,
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    vendors: &Vendors,
    worker_id: String,
) -> Engine {
    let ports = Ports {
        store,
        queue,
        crm: vendors.crm.clone(),
        mail: vendors.mail.clone(),
        calendar: vendors.calendar.clone(),
        assets: vendors.assets.clone(),
        policy: vendors.policy.clone(),
        writer: vendors.writer.clone(),
        clock: Arc::new(SystemClock),
    };
    Engine::new(ports, engine_config(settings, worker_id)).with_observer(crate::metrics::observer())
}

/// Worker settings from configuration.
pub fn worker_config(settings: &Settings, name: &str) -> ApalisWorkerConfig {
    ApalisWorkerConfig {
        name: name.to_owned(),
        concurrency: settings.workers,
        shutdown_timeout: settings.shutdown_timeout,
        orphan_sweep_every: (settings.orphan_timeout / 4).clamp(
            std::time::Duration::from_millis(250),
            std::time::Duration::from_secs(30),
        ),
        ..ApalisWorkerConfig::default()
    }
}

/// A running service: database, vendors and engine.
pub struct App {
    pub settings: Arc<Settings>,
    pub database: Database,
    pub vendors: Vendors,
    pub engine: Engine,
}

impl App {
    /// Opens the database (migrating it) and builds the engine.
    ///
    /// # Errors
    /// When the database or a configured file cannot be used.
    pub async fn build(settings: Settings, role: &str) -> anyhow::Result<Self> {
        let database = Database::open(&settings).await?;
        let vendors = Vendors::from_settings(&settings, &database.budgets())?;
        let worker_id = format!("{role}-{}", std::process::id());
        let engine = engine(
            &settings,
            database.store(),
            database.queue(),
            &vendors,
            worker_id,
        );
        Ok(Self {
            settings: Arc::new(settings),
            database,
            vendors,
            engine,
        })
    }
}

/// The voice profile in force: `VOICE_PROFILE`'s, or the default signed
/// with `SENDER_NAME`.
///
/// # Errors
/// When the file cannot be read or is not a valid profile.
pub fn voice_profile(settings: &Settings) -> anyhow::Result<VoiceProfile> {
    Ok(match &settings.voice_profile {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read VOICE_PROFILE {}", path.display()))?;
            VoiceProfile::from_toml(&text)
                .with_context(|| format!("VOICE_PROFILE {}", path.display()))?
        }
        None => VoiceProfile {
            company_name: settings.sender_name.clone(),
            signature: settings.sender_name.clone(),
            ..VoiceProfile::default()
        },
    })
}
