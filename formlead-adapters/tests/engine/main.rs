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
