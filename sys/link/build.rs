//! Link settings of a no_std, no_main binary; one comment per flag.
fn main() {
    // The C library provides the start-up code, the system call wrappers and
    // memcpy & co. The libc crate links it too, except when some other crate
    // in the build enables its "std" feature; say it here so that never matters.
    println!("cargo:rustc-link-lib=c");
    if std::env::var("CARGO_CFG_TARGET_ENV").as_deref() != Ok("musl") {
        return;
    }
    // The static musl build is the small one (README, "Static binaries").
    let discard = concat!(env!("CARGO_MANIFEST_DIR"), "/../sys/link/discard.ld");
    println!("cargo:rerun-if-changed={discard}");
    for flag in [
        "-Wl,-z,noseparate-code", // no page-aligned padding between headers, code and data
        "-Wl,-z,norelro",         // no RELRO segment (static: nothing to relocate)
        "-Wl,-z,common-page-size=64", // data right after code in the file, not on the next page
        "-Wl,--build-id=none",    // no .note.gnu.build-id section
        "-Wl,--gc-sections",      // drop every unreferenced function and datum
        "-Wl,--no-eh-frame-hdr",  // panic = "abort": nothing unwinds
        &format!("-Wl,-T,{discard}"), // ...so drop the unwind tables too (sys/link/discard.ld)
    ] {
        println!("cargo:rustc-link-arg-bins={flag}");
    }
}
