//! # formlead-adapters
//!
//! Implementations of formlead-core's ports, by technology:
//!
//! - [`embedded`]: an engine in a few lines, every port defaulted.
//! - [`memory`]: in-process queue and store; [`sandbox`]: local stand-ins for
//!   the vendors; [`worker`]: the worker pool that drives the engine.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "http")]
pub mod budget;
pub mod embedded;
#[cfg(feature = "google")]
pub mod google;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "hubspot")]
pub mod hubspot;
#[cfg(feature = "llm")]
pub mod llm;

pub mod memory;

pub mod sandbox;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod sql;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
pub mod worker;
