//! `formlead voice learn`: a voice profile learned from the sender's sent
//! mail (Gmail `in:sent`; the bundled sample messages without Google
//! credentials), written as the TOML `VOICE_PROFILE` reads, with what it
//! changes from the profile in force.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use formlead_adapters::google::SentMail;
use formlead_core::agents::{VoiceLearner, profile_changes};

use crate::config::Settings;

#[derive(Debug, Clone, Args)]
pub struct VoiceArgs {
    #[command(subcommand)]
    pub command: VoiceCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum VoiceCommand {
    /// Learn greeting, sign-off, signature, length and tone from the
    /// sender's last sent messages (Gmail `in:sent`; without Google
    /// credentials, a bundled set of sample sent messages).
    Learn {
        /// How many sent messages to read (3–500).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(3..=500))]
        messages: u16,
        /// Write the profile here (TOML, as `VOICE_PROFILE` reads it);
        /// without it, the profile is printed.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub async fn run(settings: Settings, args: VoiceArgs) -> anyhow::Result<ExitCode> {
    let VoiceCommand::Learn { messages, out } = args.command;
    let current = crate::app::voice_profile(&settings)?;
    let sent = match &settings.google {
        Some(google) => {
            let clients = crate::live::google_clients(google)?;
            let sent = SentMail::new(clients.gmail)
                .recent(usize::from(messages))
                .await
                .context("reading sent mail from Gmail")?;
            eprintln!("read {} sent message(s) from Gmail", sent.len());
            sent
        }
        None => {
            let mut sent = formlead_adapters::sandbox::sample_sent_messages();
            sent.truncate(usize::from(messages));
            eprintln!(
                "no Google credentials: learning from {} bundled sample sent messages",
                sent.len()
            );
            sent
        }
    };
    let mut learned = VoiceLearner
        .learn(&sent, &current)
        .context("learning the voice profile")?;
    // Example sentences are for an LLM writer only; the template writer
    // needs none.
    if settings.llm.is_some() {
        learned.profile.examples = learned.example_sentences.clone();
        eprintln!(
            "{} example sentence(s) for the LLM writer (anonymised: none names a person, company, number or address)",
            learned.profile.examples.len()
        );
    }
    eprintln!(
        "learned from {} message(s): median {} words, tone {:?}",
        learned.messages, learned.median_words, learned.profile.tone
    );
    if !learned.frequent_phrases.is_empty() {
        eprintln!("frequent phrases: {}", learned.frequent_phrases.join("; "));
    }
    let changes = profile_changes(&current, &learned.profile);
    if changes.is_empty() {
        eprintln!("no change from the profile in force");
    } else {
        eprintln!("changes from the profile in force:");
        for c in &changes {
            eprintln!("  {c}");
        }
    }
    let toml = learned.profile.to_toml();
    match out {
        Some(path) => {
            std::fs::write(&path, &toml)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "wrote {} (set VOICE_PROFILE={} to use it)",
                path.display(),
                path.display()
            );
        }
        None => print!("{toml}"),
    }
    Ok(ExitCode::SUCCESS)
}
