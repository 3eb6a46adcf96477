//! Link settings of a no_std, no_main binary; one comment per flag.
fn main() {
    // The C library provides memcpy & co (the compiler calls them by itself)
    // and, except in the static x86-64 build, the start-up code. The libc
    // crate links it too, except when some other crate in the build enables
    // its "std" feature; say it here so that never matters.
    // On macOS the C library is libSystem; a C `main` (the binaries'
    // `#[no_mangle] main`) is started by dyld there as everywhere else.
    if std::env::var("CARGO_CFG_TARGET_VENDOR").as_deref() == Ok("apple") {
        println!("cargo:rustc-link-lib=System");
    } else {
        println!("cargo:rustc-link-lib=c");
    }
    if std::env::var("CARGO_CFG_TARGET_ENV").as_deref() != Ok("musl") {
        return;
    }
    // The static musl build is the small one (README, "Static binaries").
    // Its own start-up code belongs to the raw Linux backend: with the
    // C-library backend (feature `posix`), musl starts the program.
    let own_start = std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("x86_64")
        && std::env::var_os("CARGO_FEATURE_POSIX").is_none();
    let script = if own_start {
        // Start at minitalk_start (sys/src/linux.rs), not musl's _start:
        // none of musl's initialisation is linked, and own-start.ld drops
        // the C start-up files' code.
        println!("cargo:rustc-link-arg-bins=-Wl,--entry=minitalk_start");
        concat!(env!("CARGO_MANIFEST_DIR"), "/../sys/link/own-start.ld")
    } else {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../sys/link/discard.ld")
    };
    println!("cargo:rerun-if-changed={script}");
    for flag in [
        "-Wl,-z,noseparate-code", // no page-aligned padding between headers, code and data
        "-Wl,-z,norelro",         // no RELRO segment (static: nothing to relocate)
        "-Wl,-z,common-page-size=64", // data right after code in the file, not on the next page
        "-Wl,--build-id=none",    // no .note.gnu.build-id section
        "-Wl,--gc-sections",      // drop every unreferenced function and datum
        "-Wl,--no-eh-frame-hdr",  // panic = "abort": nothing unwinds
        &format!("-Wl,-T,{script}"), // ...so drop the unwind tables too (the script)
    ] {
        println!("cargo:rustc-link-arg-bins={flag}");
    }
}
