//! # formlead
//!
//! The umbrella crate: the engine ([`core`]) and its adapters ([`adapters`]).
//! See `README.md` for the architecture and how to embed it.
#![forbid(unsafe_code)]

pub use formlead_adapters as adapters;
pub use formlead_core as core;
