//! # formlead-server
//!
//! The reference server: wires formlead-core to adapters chosen from
//! configuration and exposes the webhook receiver, the operator API and
//! dashboard, service routes and the `formlead` CLI commands.
#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod config;
pub mod http;
mod http_server;
mod live;
pub mod metrics;
pub mod server;
pub mod telemetry;
