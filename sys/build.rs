//! Chooses the backend: `linux_raw` (raw Linux system calls, src/linux.rs)
//! on Linux unless the `posix` feature asks for the C library's
//! (src/posix.rs), which is the backend on every other system.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(linux_raw)");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    let posix = std::env::var_os("CARGO_FEATURE_POSIX").is_some();
    if linux && !posix {
        println!("cargo::rustc-cfg=linux_raw");
    }
}
