//! The fuzz findings, on stable: every input kept in `fuzz/corpus/<target>/`
//! and every crash ever found, kept in `fuzz/regressions/<target>/`, run
//! through the same checks as the fuzz targets (`tests/fuzz_checks/`, and
//! `tests/classic_checks/` for the classic wire's target).

mod classic_checks;
mod fuzz_checks;

use proptest::strategy::Strategy;
use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

/// The files of `fuzz/<kind>/<target>/`, sorted; none if it does not exist.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(kind)
        .join(target);
    let mut files: Vec<PathBuf> = match fs::read_dir(&dir) {
        Ok(entries) => entries
            .map(|e| e.expect("a readable directory entry").path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// Runs `check` on every file, then fails naming each one that panicked.
fn replay(files: &[PathBuf], check: fn(&[u8])) {
    let failed: Vec<String> = files
        .iter()
        .filter(|path| {
            let data = fs::read(path).expect("a readable input");
            panic::catch_unwind(|| check(&data)).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(failed.is_empty(), "failing inputs:\n{}", failed.join("\n"));
}

fn corpus(target: &str, check: fn(&[u8])) {
    let files = inputs("corpus", target);
    assert!(!files.is_empty(), "no corpus for {target}");
    replay(&files, check);
}

#[test]
fn corpus_decode() {
    corpus("decode", fuzz_checks::decode);
}

#[test]
fn corpus_roundtrip() {
    corpus("roundtrip", fuzz_checks::roundtrip);
}

#[test]
fn corpus_frame_parse() {
    corpus("frame_parse", fuzz_checks::frame_parse);
}

#[test]
fn corpus_chunk() {
    corpus("chunk", fuzz_checks::chunk);
}

#[test]
fn corpus_classic() {
    corpus("classic", classic_checks::classic);
}

#[test]
fn classic_hand_made_inputs() {
    // Empty, then every convention byte with a short stream.
    classic_checks::classic(&[]);
    for conv in 0..=255u8 {
        classic_checks::classic(&[conv, 0xFF, 2, 1, 10, 3, 0, 200, 2, 0, 1, 0, 0, 0]);
    }
}

proptest::proptest! {
    /// The chunk check on random messages: mostly text, some bytes at random.
    #[test]
    fn chunk_random_messages(
        seed: u8,
        parts in proptest::collection::vec(
            proptest::prop_oneof![
                8 => ".{0,40}".prop_map(String::into_bytes),
                1 => proptest::collection::vec(proptest::num::u8::ANY, 0..3),
            ],
            0..40,
        ),
    ) {
        let mut data = vec![seed];
        data.extend(parts.concat());
        fuzz_checks::chunk(&data);
    }
}

#[test]
fn regressions() {
    replay(&inputs("regressions", "decode"), fuzz_checks::decode);
    replay(&inputs("regressions", "roundtrip"), fuzz_checks::roundtrip);
    replay(
        &inputs("regressions", "frame_parse"),
        fuzz_checks::frame_parse,
    );
    replay(&inputs("regressions", "chunk"), fuzz_checks::chunk);
    replay(&inputs("regressions", "classic"), classic_checks::classic);
}
