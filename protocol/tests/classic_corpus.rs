//! The `classic` fuzz target's kept corpus (`fuzz/corpus/classic/`) and any
//! crash it ever found (`fuzz/regressions/classic/`), replayed on stable
//! through the same checks (`tests/classic_checks/`).

mod classic_checks;

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

fn inputs(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(kind)
        .join("classic");
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

fn replay(files: &[PathBuf]) {
    let failed: Vec<String> = files
        .iter()
        .filter(|path| {
            let data = fs::read(path).expect("a readable input");
            panic::catch_unwind(|| classic_checks::classic(&data)).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(failed.is_empty(), "failing inputs:\n{}", failed.join("\n"));
}

#[test]
fn corpus_classic() {
    let files = inputs("corpus");
    assert!(!files.is_empty(), "no corpus for classic");
    replay(&files);
}

#[test]
fn regressions_classic() {
    replay(&inputs("regressions"));
}

#[test]
fn hand_made_inputs() {
    // empty, one byte, every convention byte with a short stream
    classic_checks::classic(&[]);
    for conv in 0..=255u8 {
        classic_checks::classic(&[conv, 0xFF, 2, 1, 10, 3, 0, 200, 2, 0, 1, 0, 0, 0]);
    }
}
