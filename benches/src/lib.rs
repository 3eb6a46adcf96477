//! Shared helpers of the minitalk benchmarks.
