//! `formlead migrate`: apply schema migrations (forward-only).

use std::process::ExitCode;

use crate::app::Database;
use crate::config::Settings;

pub async fn run(settings: Settings) -> anyhow::Result<ExitCode> {
    let db = Database::open(&settings).await?;
    println!(
        "migrations applied ({}: {})",
        db.kind(),
        settings.database_url
    );
    Ok(ExitCode::SUCCESS)
}
