//! Text as the index and the queries see it: Unicode NFC (so `asciifolding` folds every
//! Vietnamese letter; decomposed input would keep its combining marks), trimmed, with runs of
//! whitespace and control characters collapsed to one space.

use unicode_normalization::UnicodeNormalization;

/// NFC, trimmed, whitespace collapsed.
pub fn normalise(s: &str) -> String {
    let nfc: String = s.nfc().collect();
    let mut out = String::with_capacity(nfc.len());
    for word in nfc.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decomposed_vietnamese_becomes_precomposed_and_spacing_is_collapsed() {
        // "Áo" written as A + combining acute (NFD) and "đầm" with combining marks.
        let nfd = "  A\u{301}o \t thun\n\u{111}a\u{302}\u{300}m  ";
        assert_eq!(normalise(nfd), "Áo thun đầm");
        assert_eq!(normalise("\u{0}\u{7}"), "");
    }
}
