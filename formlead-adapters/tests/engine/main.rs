//! The engine's 13 steps, checkpoints, retries and operator decisions, run
//! over the in-memory store and the sandboxes (`formlead_adapters::testing`).

#![allow(clippy::unwrap_used)]

mod cold;
mod decisions;
mod degraded;
mod linking;
mod promises;
mod slots;
mod steps;

/// Production send gates for `@acme.example`: an auto-send where
/// allowed, otherwise an operator's approval before a send.
pub fn send_mode(auto: bool) -> formlead_core::policy::SendPolicyConfig {
    use formlead_core::policy::{Allowlist, ApiEnv, SendPolicyConfig};
    SendPolicyConfig {
        api_env: ApiEnv::Production,
        mode_draft_only: false,
        allow_auto_send: auto,
        allowlist: Allowlist::parse("@acme.example").unwrap(),
        require_operator_approval: !auto,
    }
}

/// Send gates that need an operator's approval before a send to
/// `@acme.example` (no auto-send).
pub fn approval_required() -> formlead_core::policy::SendPolicyConfig {
    send_mode(false)
}
