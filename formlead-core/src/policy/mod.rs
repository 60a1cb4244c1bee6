//! Policies: the send gates and their configuration.

mod send_gates;

pub use send_gates::{Allowlist, ApiEnv, GatedPolicy, SendPolicyConfig, UnsafeSendConfig};
