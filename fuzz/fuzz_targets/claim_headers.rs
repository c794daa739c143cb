//! Fuzz target `claim_headers`: see `harness::claim_headers` in fuzz/harness.rs.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::claim_headers(data));
