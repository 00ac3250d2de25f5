//! A minimal PDF 1.4 writer: numbered objects, uncompressed content streams, the two standard
//! Type 1 fonts Helvetica and Helvetica-Bold in WinAnsiEncoding, and a cross-reference table.
//!
//! [`Document`] collects objects and writes the file; [`Content`] builds a page's content
//! stream (text, lines, rectangles); [`win_ansi`] turns Unicode text into WinAnsi bytes the
//! standard fonts can show (Vietnamese diacritics folded away); [`Font::width`] measures it with
//! the fonts' Adobe metrics so the layout can wrap and align.

use std::fmt::Write as _;

use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// A PDF object number (generation is always 0).
pub(crate) type ObjId = usize;

/// A PDF file under construction. Object numbers come from [`Document::alloc`], so objects can
/// refer to each other before they are written; [`Document::finish`] adds the xref and trailer.
pub(crate) struct Document {
    buf: Vec<u8>,
    /// Byte offset of each object, index = object number − 1; `None` until written.
    offsets: Vec<Option<usize>>,
}

impl Document {
    /// Starts a file with the PDF 1.4 header and a binary-marker comment.
    pub(crate) fn new() -> Self {
        let mut buf = Vec::with_capacity(8 * 1024);
        buf.extend_from_slice(b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");
        Self {
            buf,
            offsets: Vec::new(),
        }
    }

    /// Reserves the next object number.
    pub(crate) fn alloc(&mut self) -> ObjId {
        self.offsets.push(None);
        self.offsets.len()
    }

    /// Writes object `id` with `body` (a dictionary or other direct object) as its value.
    pub(crate) fn object(&mut self, id: ObjId, body: &str) {
        self.begin(id);
        self.buf.extend_from_slice(body.as_bytes());
        self.buf.extend_from_slice(b"\nendobj\n");
    }

    /// Writes object `id` as a stream of `data`, uncompressed, with its exact `/Length`.
    pub(crate) fn stream(&mut self, id: ObjId, data: &[u8]) {
        self.begin(id);
        let dict = format!("<< /Length {} >>\nstream\n", data.len());
        self.buf.extend_from_slice(dict.as_bytes());
        self.buf.extend_from_slice(data);
        // The end-of-line before `endstream` is not part of the stream's length.
        self.buf.extend_from_slice(b"\nendstream\nendobj\n");
    }

    fn begin(&mut self, id: ObjId) {
        if let Some(slot) = id.checked_sub(1).and_then(|i| self.offsets.get_mut(i)) {
            *slot = Some(self.buf.len());
        }
        self.buf
            .extend_from_slice(format!("{id} 0 obj\n").as_bytes());
    }

    /// Writes the cross-reference table and the trailer pointing at `root` (the catalog) and
    /// returns the file. An allocated object never written is listed as free.
    pub(crate) fn finish(mut self, root: ObjId) -> Vec<u8> {
        let xref = self.buf.len();
        let size = self.offsets.len() + 1;
        let mut table = format!("xref\n0 {size}\n0000000000 65535 f \n");
        for offset in &self.offsets {
            // Each entry is exactly 20 bytes: 10-digit offset, 5-digit generation, type, EOL.
            match offset {
                Some(o) => {
                    let _ = writeln!(table, "{o:010} 00000 n ");
                }
                None => table.push_str("0000000000 65535 f \n"),
            }
        }
        let _ = write!(
            table,
            "trailer\n<< /Size {size} /Root {root} 0 R >>\nstartxref\n{xref}\n%%EOF\n"
        );
        self.buf.extend_from_slice(table.as_bytes());
        self.buf
    }
}

/// The two fonts every label page uses, named `/F1` and `/F2` in the page resources.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Font {
    Helvetica,
    HelveticaBold,
}

impl Font {
    /// The resource name used in content streams.
    pub(crate) fn resource(self) -> &'static str {
        match self {
            Font::Helvetica => "F1",
            Font::HelveticaBold => "F2",
        }
    }

    /// The font dictionary: a standard (non-embedded) Type 1 font in WinAnsiEncoding.
    pub(crate) fn dictionary(self) -> String {
        let name = match self {
            Font::Helvetica => "Helvetica",
            Font::HelveticaBold => "Helvetica-Bold",
        };
        format!("<< /Type /Font /Subtype /Type1 /BaseFont /{name} /Encoding /WinAnsiEncoding >>")
    }

    /// Width in points of WinAnsi `text` set at `size` points, from the Adobe font metrics.
    pub(crate) fn width(self, text: &[u8], size: f64) -> f64 {
        let table = match self {
            Font::Helvetica => &HELVETICA_WIDTHS,
            Font::HelveticaBold => &HELVETICA_BOLD_WIDTHS,
        };
        let units: u32 = text
            .iter()
            .map(|&b| {
                usize::from(b)
                    .checked_sub(32)
                    .and_then(|i| table.get(i))
                    .map_or(556, |&w| u32::from(w))
            })
            .sum();
        f64::from(units) * size / 1000.0
    }
}

/// Helvetica advance widths (1/1000 em) of WinAnsi codes 32–255 (Adobe AFM; codes the encoding
/// leaves undefined get the bullet width 350, they are never produced).
#[rustfmt::skip]
const HELVETICA_WIDTHS: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // 32
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 48
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // 64
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // 80
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // 96
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 350, // 112
    556, 350, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 350, 611, 350, // 128
    350, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 350, 500, 667, // 144
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333, // 160
    400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611, // 176
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, // 192
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, // 208
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, // 224
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500, // 240
];

/// Helvetica-Bold advance widths, laid out as [`HELVETICA_WIDTHS`].
#[rustfmt::skip]
const HELVETICA_BOLD_WIDTHS: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, // 32
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 48
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // 64
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // 80
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // 96
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 350, // 112
    556, 350, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 350, 611, 350, // 128
    350, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 350, 500, 667, // 144
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333, // 160
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611, // 176
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, // 192
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, // 208
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278, // 224
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556, // 240
];

/// Converts Unicode text to WinAnsi bytes for the standard fonts.
///
/// Each character is canonically decomposed (NFD) and its combining marks dropped, so
/// "Nguyễn Văn Đức" becomes "Nguyen Van Duc" (đ/Đ, which do not decompose, map to d/D).
/// What is left is kept if WinAnsi has it (ASCII, Latin-1, and the 0x80–0x9F extras such as
/// €, “ ”, –, —, …) and is otherwise replaced by one `?` per original character. Any
/// whitespace (tabs, newlines, no-break spaces) becomes a plain space; other control
/// characters become `?`.
pub(crate) fn win_ansi(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if is_combining_mark(c) {
            continue; // a mark of already-decomposed input
        }
        if c.is_whitespace() {
            out.push(b' ');
            continue;
        }
        let start = out.len();
        let mut ok = true;
        decompose_canonical(c, |d| {
            if is_combining_mark(d) {
                return;
            }
            match win_ansi_byte(d) {
                Some(b) => out.push(b),
                None => ok = false,
            }
        });
        if !ok {
            out.truncate(start);
            out.push(b'?');
        }
    }
    out
}

/// The WinAnsi code of one (decomposed, mark-free) character, if it has one.
fn win_ansi_byte(c: char) -> Option<u8> {
    let b = match c {
        'đ' => b'd',
        'Đ' => b'D',
        ' '..='~' => c as u8,
        '\u{a0}'..='\u{ff}' => c as u8,
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8A,
        '‹' => 0x8B,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '\u{2018}' => 0x91,
        '\u{2019}' => 0x92,
        '\u{201c}' => 0x93,
        '\u{201d}' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9A,
        '›' => 0x9B,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        _ => return None,
    };
    Some(b)
}

/// Appends `text` (WinAnsi bytes) as a PDF literal string: `(`, `)` and `\` are escaped, and
/// bytes outside printable ASCII are written as octal escapes so the stream stays ASCII.
fn push_literal(out: &mut String, text: &[u8]) {
    out.push('(');
    for &b in text {
        match b {
            b'(' | b')' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            b' '..=b'~' => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
    }
    out.push(')');
}

/// A number as PDF wants it: at most 3 decimals, no exponent, no trailing zeros.
pub(crate) fn num(v: f64) -> String {
    if !v.is_finite() {
        return "0".into();
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// A page content stream under construction (PDF operators, one drawing per line).
#[derive(Default)]
pub(crate) struct Content {
    ops: String,
}

impl Content {
    /// Shows WinAnsi `text` in `font` at `size` points with its baseline starting at (x, y).
    pub(crate) fn text(&mut self, font: Font, size: f64, x: f64, y: f64, text: &[u8]) {
        let _ = write!(
            self.ops,
            "BT /{} {} Tf {} {} Td ",
            font.resource(),
            num(size),
            num(x),
            num(y)
        );
        push_literal(&mut self.ops, text);
        self.ops.push_str(" Tj ET\n");
    }

    /// Strokes a straight line `width` points thick from (x1, y1) to (x2, y2).
    pub(crate) fn line(&mut self, width: f64, x1: f64, y1: f64, x2: f64, y2: f64) {
        let _ = writeln!(
            self.ops,
            "{} w {} {} m {} {} l S",
            num(width),
            num(x1),
            num(y1),
            num(x2),
            num(y2)
        );
    }

    /// Strokes the outline of a rectangle (lower-left corner x, y).
    pub(crate) fn frame(&mut self, width: f64, x: f64, y: f64, w: f64, h: f64) {
        let _ = writeln!(
            self.ops,
            "{} w {} {} {} {} re S",
            num(width),
            num(x),
            num(y),
            num(w),
            num(h)
        );
    }

    /// Fills a rectangle (lower-left corner x, y) in the current colour, black.
    pub(crate) fn fill(&mut self, x: f64, y: f64, w: f64, h: f64) {
        let _ = writeln!(self.ops, "{} {} {} {} re f", num(x), num(y), num(w), num(h));
    }

    /// The finished stream data.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.ops.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_is_folded_to_ascii() {
        assert_eq!(win_ansi("Nguyễn Văn Đức"), b"Nguyen Van Duc");
        assert_eq!(
            win_ansi("Thành phố Hồ Chí Minh, Quận Bình Thạnh"),
            b"Thanh pho Ho Chi Minh, Quan Binh Thanh"
        );
        assert_eq!(win_ansi("ƯỚC ĐƯỜNG ơi"), b"UOC DUONG oi");
        // Already decomposed input (e + combining circumflex + combining tilde).
        assert_eq!(win_ansi("Nguye\u{302}\u{303}n"), b"Nguyen");
    }

    #[test]
    fn other_win_ansi_characters_are_kept_and_the_rest_replaced() {
        assert_eq!(win_ansi("Straße 5 – 10 €"), b"Stra\xDFe 5 \x96 10 \x80");
        assert_eq!(win_ansi("Øre “quoted”…"), b"\xD8re \x93quoted\x94\x85");
        // Accented Latin-1 letters are folded too (the brief: NFD first).
        assert_eq!(win_ansi("café"), b"cafe");
        // CJK, a Hangul syllable (decomposes into 2 jamo) and an emoji: one '?' each.
        assert_eq!(win_ansi("東京 한 📦"), b"?? ? ?");
        assert_eq!(win_ansi("a\tb\nc\u{a0}d\u{7}"), b"a b c d?");
    }

    #[test]
    fn literals_escape_delimiters_and_high_bytes() {
        let mut s = String::new();
        push_literal(&mut s, b"a(b)c\\d\xDF");
        assert_eq!(s, "(a\\(b\\)c\\\\d\\337)");
    }

    #[test]
    fn numbers_are_plain_decimals() {
        assert_eq!(num(297.637_795), "297.638");
        assert_eq!(num(10.5), "10.5");
        assert_eq!(num(100.0), "100");
        assert_eq!(num(-0.0001), "0");
        assert_eq!(num(f64::NAN), "0");
        assert_eq!(num(1e-9), "0");
    }

    #[test]
    fn widths_follow_the_font_metrics() {
        // "Hi" in Helvetica: H 722 + i 222 = 944 units → 9.44 pt at 10 pt.
        assert!((Font::Helvetica.width(b"Hi", 10.0) - 9.44).abs() < 1e-9);
        // Bold: H 722 + i 278 = 1000 units.
        assert!((Font::HelveticaBold.width(b"Hi", 10.0) - 10.0).abs() < 1e-9);
        // ß (0xDF) is 611 in both.
        assert!((Font::Helvetica.width(b"\xDF", 1000.0) - 611.0).abs() < 1e-9);
    }
}
