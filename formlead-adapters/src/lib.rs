//! Adapters implementing formlead-core's ports.
#![forbid(unsafe_code)]
