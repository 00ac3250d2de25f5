//! Text as the standard Helvetica fonts can show it: WinAnsi bytes (Vietnamese letters
//! transliterated to ASCII, other Latin-1 kept), and the fonts' glyph widths for alignment and
//! wrapping. The 14 standard fonts are not embedded, so only WinAnsi's 218 glyphs exist.

/// The two faces the invoice uses (both standard Type1 fonts, never embedded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    Regular,
    Bold,
}

/// Helvetica advance widths (1/1000 em) of ASCII 32..=126, from the Adobe AFM.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // ' '../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0..?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P.._
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // `..o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p..~
];

/// Helvetica-Bold advance widths of ASCII 32..=126.
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, // ' '../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 0..?
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // P.._
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // `..o
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, // p..~
];

/// The WinAnsi byte of the euro sign (the only non-Latin-1 glyph the invoice may need).
const EURO: u8 = 0x80;

/// Base letter of a Vietnamese letter carrying a diacritic (tone marks, circumflex, breve, horn,
/// the stroke of đ), whether precomposed in Latin-1, Latin Extended-A/B or the Vietnamese block
/// of Latin Extended Additional.
fn vietnamese_base(c: char) -> Option<char> {
    let base = match c {
        'À' | 'Á' | 'Â' | 'Ã' | 'Ă' => 'A',
        'à' | 'á' | 'â' | 'ã' | 'ă' => 'a',
        'È' | 'É' | 'Ê' => 'E',
        'è' | 'é' | 'ê' => 'e',
        'Ì' | 'Í' | 'Ĩ' => 'I',
        'ì' | 'í' | 'ĩ' => 'i',
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ơ' => 'O',
        'ò' | 'ó' | 'ô' | 'õ' | 'ơ' => 'o',
        'Ù' | 'Ú' | 'Ũ' | 'Ư' => 'U',
        'ù' | 'ú' | 'ũ' | 'ư' => 'u',
        'Ý' => 'Y',
        'ý' => 'y',
        'Đ' => 'D',
        'đ' => 'd',
        // U+1EA0..=U+1EF9 runs A (24), E (16), I (4), O (24), U (14), Y (8), upper case at even
        // code points.
        '\u{1EA0}'..='\u{1EF9}' => {
            let offset = c as u32 - 0x1EA0;
            let upper = match offset {
                0..=23 => 'A',
                24..=39 => 'E',
                40..=43 => 'I',
                44..=67 => 'O',
                68..=81 => 'U',
                _ => 'Y',
            };
            if offset.is_multiple_of(2) {
                upper
            } else {
                upper.to_ascii_lowercase()
            }
        }
        _ => return None,
    };
    Some(base)
}

/// `text` as WinAnsi bytes for a standard font: Vietnamese letters lose their diacritics
/// ("Áo thun" → "Ao thun", "đ" → "d"), combining marks of decomposed text are dropped, other
/// Latin-1 characters are kept, common typography (curly quotes, dashes, ellipsis) becomes
/// ASCII, white space becomes a space, and anything else a `?`.
pub fn win_ansi(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if let Some(base) = vietnamese_base(c) {
            out.push(base as u8);
            continue;
        }
        match c {
            ' '..='~' => out.push(c as u8),
            '\u{A0}'..='\u{FF}' => out.push(c as u32 as u8),
            '\u{300}'..='\u{36F}' => {}
            c if c.is_whitespace() => out.push(b' '),
            c if c.is_control() => {}
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{2032}' => out.push(b'\''),
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{2033}' => out.push(b'"'),
            '\u{2010}'..='\u{2015}' | '\u{2212}' => out.push(b'-'),
            '\u{2026}' => out.extend_from_slice(b"..."),
            '\u{2022}' => out.push(0xB7),
            '\u{20AC}' => out.push(EURO),
            _ => out.push(b'?'),
        }
    }
    out
}

/// Width of one WinAnsi byte in 1/1000 em. Outside ASCII the Latin-1 glyphs are close to an
/// average lower-case letter; only left-aligned text (names, addresses) can hold them, where
/// the estimate merely decides where a line wraps.
fn glyph_width(face: Face, byte: u8) -> u16 {
    let table = match face {
        Face::Regular => &HELVETICA,
        Face::Bold => &HELVETICA_BOLD,
    };
    match byte {
        32..=126 => table[usize::from(byte - 32)],
        _ => 556,
    }
}

/// Width in points of WinAnsi `bytes` set in `face` at `size`.
pub fn width(face: Face, size: f32, bytes: &[u8]) -> f32 {
    let units: u32 = bytes.iter().map(|b| u32::from(glyph_width(face, *b))).sum();
    units as f32 * size / 1000.0
}

/// Breaks WinAnsi `bytes` into lines no wider than `max` points, at spaces where it can
/// (a word longer than a line is cut). At most `max_lines` lines; if the text is longer, the
/// last one ends in "...".
pub fn wrap(face: Face, size: f32, bytes: &[u8], max: f32, max_lines: usize) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    for word in bytes.split(|b| *b == b' ').filter(|w| !w.is_empty()) {
        let mut word = word;
        loop {
            let joined = if current.is_empty() {
                word.to_vec()
            } else {
                [current.as_slice(), b" ", word].concat()
            };
            if width(face, size, &joined) <= max {
                current = joined;
                break;
            }
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
                continue;
            }
            // A single word wider than the line: cut it where it stops fitting.
            let mut cut = word.len();
            while cut > 1 && width(face, size, &word[..cut]) > max {
                cut -= 1;
            }
            lines.push(word[..cut].to_vec());
            word = &word[cut..];
            if word.is_empty() {
                break;
            }
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        let last = lines.last_mut().expect("max_lines > 0");
        while !last.is_empty() && width(face, size, &[last.as_slice(), b"..."].concat()) > max {
            last.pop();
        }
        last.extend_from_slice(b"...");
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_letters_lose_their_diacritics() {
        assert_eq!(win_ansi("Áo thun"), b"Ao thun");
        assert_eq!(win_ansi("đồng"), b"dong");
        assert_eq!(
            win_ansi("Đường Nguyễn Huệ, Quận 1, Thành phố Hồ Chí Minh"),
            b"Duong Nguyen Hue, Quan 1, Thanh pho Ho Chi Minh"
        );
        assert_eq!(
            win_ansi("Ặ ặ Ỹ ỹ Ự ự Ị ị Ệ ệ Ợ ợ"),
            b"A a Y y U u I i E e O o"
        );
    }

    #[test]
    fn decomposed_text_is_transliterated_too() {
        // "Áo" with a combining acute accent, "ệ" as e + dot below + circumflex
        assert_eq!(win_ansi("A\u{301}o nhe\u{323}\u{302}"), b"Ao nhe");
    }

    #[test]
    fn other_latin_1_is_kept_and_the_rest_becomes_a_question_mark() {
        assert_eq!(win_ansi("Müller"), b"M\xFCller");
        assert_eq!(win_ansi("“a” – b…"), b"\"a\" - b...");
        assert_eq!(win_ansi("9 €"), b"9 \x80");
        assert_eq!(win_ansi("茶\tx\n"), b"? x ");
    }

    #[test]
    fn widths_follow_the_font_metrics() {
        assert_eq!(width(Face::Regular, 10.0, b"0123456789"), 55.6);
        assert!(width(Face::Bold, 10.0, b"Wim") > width(Face::Regular, 10.0, b"Wim"));
    }

    #[test]
    fn long_text_wraps_at_spaces_and_ends_in_an_ellipsis_when_cut() {
        let text = b"one two three four five six seven";
        let lines = wrap(Face::Regular, 10.0, text, 60.0, 10);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| width(Face::Regular, 10.0, l) <= 60.0));
        assert_eq!(lines.join(&b' '), text.to_vec());

        let cut = wrap(Face::Regular, 10.0, text, 60.0, 2);
        assert_eq!(cut.len(), 2);
        assert!(cut[1].ends_with(b"..."));
        assert!(width(Face::Regular, 10.0, &cut[1]) <= 60.0);
    }

    #[test]
    fn a_word_longer_than_a_line_is_cut() {
        let lines = wrap(Face::Regular, 10.0, &[b'W'; 40], 50.0, 10);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| width(Face::Regular, 10.0, l) <= 50.0));
        assert_eq!(lines.concat().len(), 40);
    }
}
