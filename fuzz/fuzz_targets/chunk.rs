//! `cargo +nightly fuzz run chunk`: see `fuzz_checks::chunk` for what it checks.
#![no_main]

#[allow(dead_code)] // each target uses one of the shared checks
#[path = "../../protocol/tests/fuzz_checks/mod.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::chunk(data));
