//! Fuzz target `discovery`: see `harness::discovery` in fuzz/harness.rs.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::discovery(data));
