//! Helpers for the end-to-end tests: start, drive and always clean up real processes.
