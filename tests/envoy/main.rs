//! The suites that need the built filter, as one test binary: the harness (`support`) compiles
//! once and every module below uses it. Most start a real Envoy around `dist/jwt_authn.wasm`;
//! `exports` reads the module's export section and `oci` the images of `make oci`.
//!
//! Needs Envoy (`make setup`) and the built filter (`make build`, `make dist` for the matrix,
//! deploy and OCI checks); a missing one fails the test. Run one suite with
//! `cargo test --test envoy idp::`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[macro_use]
mod support;

mod conformance;
mod deploy;
mod e2e;
mod exports;
mod hostile;
mod idp;
mod lifecycle;
mod matrix;
mod oci;
mod policy;
mod replay;
mod reply;
