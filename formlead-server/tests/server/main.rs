//! formlead-server integration tests: the server in-process on port 0 with
//! its own SQLite file, and the real binary for process-level behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod binary;
mod dashboard;
mod helpers;
mod operator;
mod probe;
mod router;
mod shared_budget;
mod stalled;
mod webhook;
