//! `cargo +nightly fuzz run decode`: see `fuzz_checks::decode` for what it checks.
#![no_main]

#[allow(dead_code)] // each target uses one of the shared checks
#[path = "../../protocol/tests/fuzz_checks/mod.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::decode(data));
