//! Random messages: mixed scripts, every UTF-8 length, no newline (the
//! newline ends a message in the server's output).

use crate::rng::Rng;

/// Ranges of characters, one script (or kind of character) each.
const SCRIPTS: &[(char, char)] = &[
    (' ', '~'),                 // ASCII
    ('\u{e0}', '\u{ff}'),       // Latin-1 letters
    ('\u{100}', '\u{17f}'),     // Latin Extended-A
    ('\u{3b1}', '\u{3c9}'),     // Greek
    ('\u{430}', '\u{44f}'),     // Cyrillic
    ('\u{627}', '\u{64a}'),     // Arabic
    ('\u{905}', '\u{94c}'),     // Devanagari, with vowel signs
    ('\u{4e00}', '\u{9fa5}'),   // CJK
    ('\u{ac00}', '\u{d7a3}'),   // Hangul
    ('\u{1f300}', '\u{1f64f}'), // emoji
];

/// Characters that make text awkward: combining marks, joiners, skin
/// tones, controls other than the newline, the replacement character.
const ODD: &[char] = &[
    '\u{301}',
    '\u{308}',
    '\u{200d}',
    '\u{1f3fd}',
    '\u{fe0f}',
    '\t',
    '\r',
    '\0',
    '\u{7f}',
    '\u{fffd}',
    '\u{10ffff}',
];

/// A message of about `len` bytes (it may exceed `len` by up to 3 bytes).
pub fn message_of_len(rng: &mut Rng, len: usize) -> String {
    let mut scripts = [SCRIPTS[0]; 3];
    let n = 1 + rng.below(3) as usize;
    for s in scripts.iter_mut().take(n) {
        *s = *rng.pick(SCRIPTS);
    }
    let mut text = String::with_capacity(len + 4);
    while text.len() < len {
        let c = if rng.chance(0.02) {
            *rng.pick(ODD)
        } else {
            let (lo, hi) = scripts[rng.below(n as u64) as usize];
            let code = rng.range(lo as u64, hi as u64 + 1) as u32;
            char::from_u32(code).unwrap_or('?')
        };
        text.push(c);
    }
    text
}

/// A message of random length: mostly short, some of several frames, a
/// few of about 3000 bytes.
pub fn message(rng: &mut Rng) -> String {
    let len = match rng.below(100) {
        0..=4 => 0,
        5..=39 => rng.range(1, 40),
        40..=69 => rng.range(40, 256),
        70..=86 => rng.range(256, 800),
        87..=97 => rng.range(800, 2000),
        _ => rng.range(2000, 3100),
    };
    message_of_len(rng, len as usize)
}
