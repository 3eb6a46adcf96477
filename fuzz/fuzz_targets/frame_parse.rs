//! `cargo +nightly fuzz run frame_parse`: see `fuzz_checks::frame_parse` for what it checks.
#![no_main]

#[allow(dead_code)] // each target uses one of the shared checks
#[path = "../../protocol/tests/fuzz_checks/mod.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::frame_parse(data));
