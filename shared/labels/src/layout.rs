//! Where things go on an A6 portrait label (105 × 148 mm), top to bottom:
//!
//! 1. the service (big, bold) with the weight right-aligned beside it, the order id small below;
//! 2. FROM: shop name and city;
//! 3. TO: recipient (bold), phone, up to [`ADDRESS_LINES`] address lines (long lines are
//!    word-wrapped, the overflow truncated with "...");
//! 4. a framed "COD: …" box when the label has cash on delivery;
//! 5. the Code 128 barcode (bars 25 mm tall, quiet zones of 10 modules, module width chosen so
//!    the symbol fits the page width minus margins, at most 0.5 mm), the tracking number under
//!    it, and the creation time at the bottom.
//!
//! Every text goes through [`win_ansi`] and is cut to fit its line, so nothing overflows the
//! page whatever the input. Coordinates are PDF points (1/72 in) from the lower-left corner.

use crate::Label;
use crate::code128;
use crate::pdf::{Content, Font, win_ansi};

/// Millimetres to points.
const MM: f64 = 72.0 / 25.4;
/// A6 portrait width.
pub(crate) const PAGE_WIDTH: f64 = 105.0 * MM;
/// A6 portrait height.
pub(crate) const PAGE_HEIGHT: f64 = 148.0 * MM;
/// White border on every side.
pub(crate) const MARGIN: f64 = 5.0 * MM;
/// Width available between the margins.
const INNER: f64 = PAGE_WIDTH - 2.0 * MARGIN;
/// Light modules on each side of the symbol.
pub(crate) const QUIET_MODULES: usize = 10;
/// Height of the bars.
pub(crate) const BAR_HEIGHT: f64 = 25.0 * MM;
/// Upper bound of the module (narrowest bar) width, so short symbols are not absurdly wide.
const MAX_MODULE: f64 = 0.5 * MM;
/// Bottom edge of the bars.
pub(crate) const BAR_BOTTOM: f64 = MARGIN + 26.0;
/// Address lines printed at most (after wrapping).
pub(crate) const ADDRESS_LINES: usize = 8;
/// Marks text that was cut.
const ELLIPSIS: &[u8] = b"...";

/// Draws one label; `symbol` is the Code 128 encoding of its tracking number.
pub(crate) fn render(label: &Label, symbol: &[u8]) -> Vec<u8> {
    let mut page = Content::default();
    let left = MARGIN;
    let right = PAGE_WIDTH - MARGIN;
    let mut y = PAGE_HEIGHT - MARGIN;

    // 1. Service, weight, order id.
    y -= 17.0;
    let weight = win_ansi(&format_weight(label.weight_grams));
    let weight_width = Font::HelveticaBold.width(&weight, 14.0);
    page.text(Font::HelveticaBold, 14.0, right - weight_width, y, &weight);
    let service = fit(
        Font::HelveticaBold,
        22.0,
        &win_ansi(&label.service),
        INNER - weight_width - 8.0,
    );
    page.text(Font::HelveticaBold, 22.0, left, y, &service);
    y -= 12.0;
    text_line(
        &mut page,
        Font::Helvetica,
        8.0,
        y,
        &format!("Order: {}", label.order_id),
    );
    y -= 6.0;
    page.line(0.8, left, y, right, y);

    // 2. Sender.
    y -= 10.0;
    page.text(Font::HelveticaBold, 7.0, left, y, b"FROM");
    y -= 12.0;
    text_line(&mut page, Font::HelveticaBold, 10.0, y, &label.from_name);
    y -= 11.0;
    text_line(&mut page, Font::Helvetica, 9.0, y, &label.from_city);
    y -= 7.0;
    page.line(0.8, left, y, right, y);

    // 3. Recipient.
    y -= 10.0;
    page.text(Font::HelveticaBold, 7.0, left, y, b"TO");
    y -= 16.0;
    text_line(&mut page, Font::HelveticaBold, 14.0, y, &label.to_name);
    y -= 14.0;
    text_line(
        &mut page,
        Font::Helvetica,
        11.0,
        y,
        &format!("Tel: {}", label.to_phone),
    );
    let address = wrap_lines(
        Font::Helvetica,
        11.0,
        &label.to_address,
        INNER,
        ADDRESS_LINES,
    );
    for (i, line) in address.iter().enumerate() {
        page.text(
            Font::Helvetica,
            11.0,
            left,
            y - 13.0 * (i as f64 + 1.0),
            line,
        );
    }
    // The address block has a fixed height, so every label has the same layout.
    y -= 13.0 * ADDRESS_LINES as f64 + 7.0;
    page.line(0.8, left, y, right, y);

    // 4. Cash on delivery.
    if let Some(cod) = &label.cod {
        let top = y - 6.0;
        let height = 32.0;
        page.frame(1.5, left, top - height, INNER, height);
        let text = fit(
            Font::HelveticaBold,
            18.0,
            &win_ansi(&format!("COD: {cod}")),
            INNER - 12.0,
        );
        page.text(
            Font::HelveticaBold,
            18.0,
            left + 6.0,
            top - height + 10.0,
            &text,
        );
    }

    // 5. Barcode, tracking number, creation time.
    draw_barcode(&mut page, symbol);
    let tracking = fit(
        Font::HelveticaBold,
        12.0,
        &win_ansi(&label.tracking_number),
        INNER,
    );
    let tracking_width = Font::HelveticaBold.width(&tracking, 12.0);
    page.text(
        Font::HelveticaBold,
        12.0,
        (PAGE_WIDTH - tracking_width) / 2.0,
        MARGIN + 13.0,
        &tracking,
    );
    text_line(
        &mut page,
        Font::Helvetica,
        7.0,
        MARGIN + 2.0,
        &format!("Created: {}", label.created_at),
    );

    page.into_bytes()
}

/// Draws the symbol's bars as filled rectangles, centred, with the quiet zones inside the
/// margins.
fn draw_barcode(page: &mut Content, symbol: &[u8]) {
    let modules = code128::modules(symbol);
    let total = modules.len() + 2 * QUIET_MODULES;
    let module = (INNER / total as f64).min(MAX_MODULE);
    let x0 = (PAGE_WIDTH - total as f64 * module) / 2.0 + QUIET_MODULES as f64 * module;
    let mut i = 0;
    while i < modules.len() {
        let run = modules[i..]
            .iter()
            .take_while(|&&m| m == modules[i])
            .count();
        if modules[i] {
            page.fill(
                x0 + i as f64 * module,
                BAR_BOTTOM,
                run as f64 * module,
                BAR_HEIGHT,
            );
        }
        i += run;
    }
}

/// One line of text at the left margin, folded and cut to the inner width.
fn text_line(page: &mut Content, font: Font, size: f64, y: f64, text: &str) {
    let text = fit(font, size, &win_ansi(text), INNER);
    page.text(font, size, MARGIN, y, &text);
}

/// "850 g" below a kilogram, "1.25 kg" (rounded to 10 g) from there.
fn format_weight(grams: u64) -> String {
    if grams < 1000 {
        return format!("{grams} g");
    }
    let centi = grams / 10 + u64::from(grams % 10 >= 5);
    format!("{}.{:02} kg", centi / 100, centi % 100)
}

/// `text` unchanged if it fits `max` points, else cut and ended with "..." so it does.
pub(crate) fn fit(font: Font, size: f64, text: &[u8], max: f64) -> Vec<u8> {
    if font.width(text, size) <= max {
        return text.to_vec();
    }
    ellipsize(font, size, text, max)
}

/// `text` cut at the longest prefix to which "..." can be appended within `max` points.
fn ellipsize(font: Font, size: f64, text: &[u8], max: f64) -> Vec<u8> {
    let room = max - font.width(ELLIPSIS, size);
    let mut keep = 0;
    let mut width = 0.0;
    for (i, &b) in text.iter().enumerate() {
        width += font.width(&[b], size);
        if width > room {
            break;
        }
        keep = i + 1;
    }
    let mut out = text[..keep].trim_ascii_end().to_vec();
    out.extend_from_slice(ELLIPSIS);
    out
}

/// Folds and word-wraps each of `lines` to `max` points (a word longer than a line is broken
/// where it overflows), keeping the order; past `limit` lines, the last kept one is cut and ends
/// with "...". Blank input lines are dropped.
pub(crate) fn wrap_lines(
    font: Font,
    size: f64,
    lines: &[String],
    max: f64,
    limit: usize,
) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut overflow = false;
    for line in lines {
        for wrapped in wrap(font, size, &win_ansi(line), max) {
            if out.len() == limit {
                overflow = true;
                break;
            }
            out.push(wrapped);
        }
    }
    if overflow && let Some(last) = out.last_mut() {
        let marked = [last.as_slice(), ELLIPSIS].concat();
        *last = if font.width(&marked, size) <= max {
            marked
        } else {
            ellipsize(font, size, last, max)
        };
    }
    out
}

/// Greedy word wrap of one line of WinAnsi text.
fn wrap(font: Font, size: f64, text: &[u8], max: f64) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    for word in text.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        let candidate = if current.is_empty() {
            word.to_vec()
        } else {
            [current.as_slice(), b" ", word].concat()
        };
        if font.width(&candidate, size) <= max {
            current = candidate;
            continue;
        }
        if !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        // The word alone: break it wherever it overflows.
        let mut rest = word;
        while font.width(rest, size) > max {
            let mut take = 0;
            let mut width = 0.0;
            for &b in rest {
                width += font.width(&[b], size);
                if width > max {
                    break;
                }
                take += 1;
            }
            let take = take.max(1); // a single glyph wider than the line still advances
            lines.push(rest[..take].to_vec());
            rest = &rest[take..];
        }
        current = rest.to_vec();
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_wrap_within_the_width_and_keep_every_word() {
        let line =
            "Số 12 ngõ 34 đường Nguyễn Trãi, phường Thanh Xuân Trung, Thành phố Hà Nội, Việt Nam";
        let wrapped = wrap_lines(Font::Helvetica, 11.0, &[line.to_string()], 150.0, 10);
        assert!(wrapped.len() > 1, "{wrapped:?}");
        for l in &wrapped {
            assert!(
                Font::Helvetica.width(l, 11.0) <= 150.0,
                "{}",
                String::from_utf8_lossy(l)
            );
        }
        assert_eq!(wrapped.join(&b' '), win_ansi(line));
    }

    #[test]
    fn an_overlong_word_is_broken() {
        let word = "X".repeat(200);
        let wrapped = wrap_lines(
            Font::HelveticaBold,
            11.0,
            std::slice::from_ref(&word),
            100.0,
            100,
        );
        assert!(wrapped.len() > 1);
        assert!(
            wrapped
                .iter()
                .all(|l| Font::HelveticaBold.width(l, 11.0) <= 100.0)
        );
        assert_eq!(wrapped.concat(), word.as_bytes());
    }

    #[test]
    fn too_many_lines_are_truncated_with_an_ellipsis() {
        let lines: Vec<String> = (1..=12).map(|i| format!("Line {i}")).collect();
        let wrapped = wrap_lines(Font::Helvetica, 11.0, &lines, 200.0, 8);
        assert_eq!(wrapped.len(), 8);
        assert_eq!(wrapped[6], b"Line 7");
        assert_eq!(wrapped[7], b"Line 8...");
        // Exactly at the limit: nothing is marked.
        let wrapped = wrap_lines(Font::Helvetica, 11.0, &lines[..8], 200.0, 8);
        assert_eq!(wrapped[7], b"Line 8");
    }

    #[test]
    fn fit_cuts_to_the_width() {
        let long = b"Cong ty TNHH Thuong mai Dich vu Xuat nhap khau Sai Gon Ben Thanh".to_vec();
        let cut = fit(Font::HelveticaBold, 10.0, &long, 120.0);
        assert!(cut.ends_with(b"..."));
        assert!(Font::HelveticaBold.width(&cut, 10.0) <= 120.0);
        assert_eq!(fit(Font::HelveticaBold, 10.0, b"Short", 120.0), b"Short");
    }

    #[test]
    fn weights_are_readable() {
        assert_eq!(format_weight(0), "0 g");
        assert_eq!(format_weight(850), "850 g");
        assert_eq!(format_weight(1000), "1.00 kg");
        assert_eq!(format_weight(1255), "1.26 kg");
        assert_eq!(format_weight(u64::MAX), "18446744073709551.62 kg");
    }
}
