//! Shared plumbing of the HTTP vendor adapters.

pub mod client;
pub mod failure;

pub use client::{
    DEFAULT_TIMEOUT, Op, VENDOR_429_METRIC, VENDOR_CALLS_METRIC, VENDOR_DURATION_METRIC,
    VendorClient,
};
pub use failure::VendorFailure;
