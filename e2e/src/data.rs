//! Deterministic test data.

/// A small deterministic pseudo-random generator (xorshift64*).
///
/// # Examples
///
/// ```
/// use minitalk_e2e::XorShift;
/// let mut a = XorShift::new(7);
/// let mut b = XorShift::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!(a.below(10) < 10);
/// ```
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator seeded with `seed` (any value, 0 included).
    pub fn new(seed: u64) -> XorShift {
        // splitmix64 of the seed: distinct seeds, distinct non-zero states.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        XorShift((z ^ (z >> 31)).max(1))
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (which must not be 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Pieces of text in many scripts, none with a newline: Latin, accents as
/// combining marks, Cyrillic, Greek, CJK, Hebrew, Arabic, Devanagari, emoji
/// with skin tones, flags and zero-width-joiner sequences, a tab.
pub const SCRIPTS: &[&str] = &[
    "Hello, world! ",
    "e\u{301}te\u{301} a\u{300} l'he\u{302}tre ",
    "Привет, мир ",
    "Καλημέρα κόσμε ",
    "日本語のテキスト ",
    "你好，世界。",
    "한국어 ",
    "שלום עולם ",
    "مرحبا بالعالم ",
    "नमस्ते दुनिया ",
    "👨‍👩‍👧‍👦 ",
    "👩🏽‍💻 ",
    "🏳️‍🌈 🇫🇷🇯🇵 ",
    "Z̤̈a̐l̃g̈o ",
    "\tTab\t",
    "0123456789 ",
    "ﷺ ",
    "𝄞𝕳 ",
];

/// A deterministic text of exactly `chars` characters (Unicode scalar
/// values) made of [`SCRIPTS`] pieces, with no newline.
///
/// # Examples
///
/// ```
/// use minitalk_e2e::mixed_text;
/// let t = mixed_text(1000, 1);
/// assert_eq!(t.chars().count(), 1000);
/// assert!(!t.contains('\n'));
/// assert_eq!(t, mixed_text(1000, 1));
/// ```
pub fn mixed_text(chars: usize, seed: u64) -> String {
    let mut rng = XorShift::new(seed);
    let mut text = String::new();
    let mut count = 0;
    while count < chars {
        let piece = SCRIPTS[rng.below(SCRIPTS.len() as u64) as usize];
        for c in piece.chars().take(chars - count) {
            text.push(c);
            count += 1;
        }
    }
    text
}

/// A deterministic text in many scripts of at most `bytes` bytes, and at
/// least `bytes - 3` (whole characters only).
///
/// # Examples
///
/// ```
/// use minitalk_e2e::mixed_text_of_len;
/// let t = mixed_text_of_len(100_000, 2);
/// assert!(t.len() <= 100_000 && t.len() >= 99_997);
/// ```
pub fn mixed_text_of_len(bytes: usize, seed: u64) -> String {
    let mut text = mixed_text(bytes, seed);
    let mut end = bytes.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

/// A deterministic text of `len` printable ASCII characters (bytes).
///
/// # Examples
///
/// ```
/// use minitalk_e2e::ascii_text;
/// assert_eq!(ascii_text(100, 3).len(), 100);
/// assert!(ascii_text(100, 3).bytes().all(|b| (b' '..=b'~').contains(&b)));
/// ```
pub fn ascii_text(len: usize, seed: u64) -> String {
    let mut rng = XorShift::new(seed);
    (0..len)
        .map(|_| (b' ' + rng.below(95) as u8) as char)
        .collect()
}
