//! `cargo +nightly fuzz run classic`: see `classic_checks::classic` for what it checks.
#![no_main]

#[path = "../../protocol/tests/classic_checks/mod.rs"]
mod classic_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| classic_checks::classic(data));
