//! Helpers shared by the mock's integration tests: a raw HTTP/1.1 client (so answers are seen
//! exactly as sent) and real bare git origins.
// Each test binary uses a different part of these helpers.
#![allow(dead_code)]

pub(crate) mod app_keys;
pub(crate) mod http;
pub(crate) mod origin;
