//! Shared plumbing of the HTTP vendor adapters.

pub mod client;
pub mod failure;
pub mod limiter;

pub use client::{DEFAULT_TIMEOUT, VENDOR_CALLS_METRIC, VendorClient};
pub use failure::VendorFailure;
pub use limiter::RateLimiter;
