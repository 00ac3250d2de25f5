//! The invoice as a PDF: [`InvoiceDoc`] (everything printed, already formatted) and the pure
//! [`render_pdf`]. A4 pages, the standard Helvetica fonts with WinAnsi encoding (nothing
//! embedded, so a document is a few kilobytes), content streams left uncompressed so the text
//! stays searchable. Lines that do not fit continue on further pages, each repeating the table
//! header and numbered "Page i of n".

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use shared::domain::Money;

use crate::text::{Face, width, win_ansi, wrap};

/// Who sells or buys: a name and the lines printed under it (address, e-mail).
#[derive(Debug, Clone, PartialEq)]
pub struct Party {
    pub name: String,
    pub lines: Vec<String>,
}

/// One bought item as printed.
#[derive(Debug, Clone, PartialEq)]
pub struct DocLine {
    pub name: String,
    /// "Color: Red, Size: M"; empty when the product has no variants.
    pub attributes: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub line_total: Money,
}

/// Everything an invoice shows.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceDoc {
    /// As printed: `2026-000017`.
    pub number: String,
    /// `YYYY-MM-DD` (UTC).
    pub issue_date: String,
    pub order_id: String,
    pub seller: Party,
    pub buyer: Party,
    pub ship_to: Party,
    pub lines: Vec<DocLine>,
    pub subtotal: Money,
    /// Positive amounts; printed as deductions.
    pub shop_discount: Money,
    pub platform_discount: Money,
    pub shipping_fee: Money,
    /// The VAT contained in the total (prices include it).
    pub tax_included: Money,
    pub total: Money,
}

// A4 in points, and the frame everything is laid out in.
const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const LEFT: f32 = 50.0;
const RIGHT: f32 = PAGE_WIDTH - 50.0;
const TOP: f32 = PAGE_HEIGHT - 50.0;
/// Nothing but the footer goes below this line.
const BOTTOM: f32 = 60.0;
const FOOTER_Y: f32 = 32.0;

// The lines table: the item column, then right edges of quantity, unit price and amount.
const ITEM_WIDTH: f32 = 245.0;
const QTY_RIGHT: f32 = 350.0;
const UNIT_RIGHT: f32 = 445.0;
const AMOUNT_RIGHT: f32 = RIGHT;
/// An item's name wraps onto at most this many lines (then ends in "...").
const MAX_NAME_LINES: usize = 4;

// The three address columns (seller, buyer, ship to).
const COLUMN_WIDTH: f32 = 155.0;
const COLUMN_STEP: f32 = 170.0;

// Totals: labels start here, amounts end at RIGHT.
const TOTALS_LABEL_X: f32 = 330.0;

const GREY: f32 = 0.4;
const RULE_GREY: f32 = 0.8;

/// One drawing instruction of a laid-out page.
#[derive(Debug)]
enum Op {
    Text {
        face: Face,
        size: f32,
        x: f32,
        y: f32,
        grey: f32,
        bytes: Vec<u8>,
    },
    Rule {
        y: f32,
        grey: f32,
        width: f32,
    },
}

/// Lays out pages top to bottom: a cursor `y` and the pages filled so far.
struct Layout<'a> {
    doc: &'a InvoiceDoc,
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl<'a> Layout<'a> {
    fn new(doc: &'a InvoiceDoc) -> Self {
        Self {
            doc,
            pages: vec![Vec::new()],
            y: TOP,
        }
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("there is always a page")
    }

    fn text(&mut self, face: Face, size: f32, x: f32, y: f32, bytes: Vec<u8>) {
        self.grey_text(face, size, x, y, 0.0, bytes);
    }

    fn grey_text(&mut self, face: Face, size: f32, x: f32, y: f32, grey: f32, bytes: Vec<u8>) {
        self.ops().push(Op::Text {
            face,
            size,
            x,
            y,
            grey,
            bytes,
        });
    }

    /// Text whose right edge is at `right`.
    fn right_text(&mut self, face: Face, size: f32, right: f32, y: f32, text: &str) {
        let bytes = win_ansi(text);
        let x = right - width(face, size, &bytes);
        self.text(face, size, x, y, bytes);
    }

    fn rule(&mut self, y: f32, grey: f32, width: f32) {
        self.ops().push(Op::Rule { y, grey, width });
    }

    /// Starts a new page headed by the invoice number, so a loose page still says whose it is.
    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        let heading = win_ansi(&format!("INVOICE {} (continued)", self.doc.number));
        self.text(Face::Bold, 12.0, LEFT, TOP - 12.0, heading);
        self.y = TOP - 32.0;
    }

    /// Makes room for `height` points, on a new page if this one is full.
    fn ensure(&mut self, height: f32) -> bool {
        if self.y - height < BOTTOM {
            self.new_page();
            return true;
        }
        false
    }

    fn header(&mut self) {
        let doc = self.doc;
        self.text(Face::Bold, 24.0, LEFT, TOP - 22.0, b"INVOICE".to_vec());
        self.right_text(
            Face::Bold,
            11.0,
            RIGHT,
            TOP - 10.0,
            &format!("No. {}", doc.number),
        );
        self.right_text(
            Face::Regular,
            9.0,
            RIGHT,
            TOP - 24.0,
            &format!("Issue date: {}", doc.issue_date),
        );
        self.right_text(
            Face::Regular,
            9.0,
            RIGHT,
            TOP - 36.0,
            &format!("Order: {}", doc.order_id),
        );
        self.y = TOP - 64.0;

        let columns = [
            ("SELLER", &doc.seller),
            ("BUYER", &doc.buyer),
            ("SHIP TO", &doc.ship_to),
        ];
        let top = self.y;
        let mut lowest = top;
        for (i, (title, party)) in columns.into_iter().enumerate() {
            let x = LEFT + COLUMN_STEP * i as f32;
            let mut y = top;
            self.grey_text(Face::Bold, 8.0, x, y, GREY, title.as_bytes().to_vec());
            y -= 14.0;
            for line in wrap(Face::Bold, 10.0, &win_ansi(&party.name), COLUMN_WIDTH, 2) {
                self.text(Face::Bold, 10.0, x, y, line);
                y -= 12.0;
            }
            for detail in &party.lines {
                for line in wrap(Face::Regular, 9.0, &win_ansi(detail), COLUMN_WIDTH, 3) {
                    self.text(Face::Regular, 9.0, x, y, line);
                    y -= 11.0;
                }
            }
            lowest = lowest.min(y);
        }
        self.y = lowest - 16.0;
    }

    fn table_header(&mut self) {
        let y = self.y - 9.0;
        self.text(Face::Bold, 9.0, LEFT, y, b"Item".to_vec());
        self.right_text(Face::Bold, 9.0, QTY_RIGHT, y, "Qty");
        self.right_text(Face::Bold, 9.0, UNIT_RIGHT, y, "Unit price");
        self.right_text(Face::Bold, 9.0, AMOUNT_RIGHT, y, "Amount");
        self.rule(y - 5.0, 0.0, 0.75);
        self.y = y - 7.0;
    }

    fn line(&mut self, line: &DocLine) {
        let names = wrap(
            Face::Regular,
            10.0,
            &win_ansi(&line.name),
            ITEM_WIDTH,
            MAX_NAME_LINES,
        );
        let attributes = if line.attributes.is_empty() {
            Vec::new()
        } else {
            wrap(
                Face::Regular,
                8.0,
                &win_ansi(&line.attributes),
                ITEM_WIDTH,
                2,
            )
        };
        let height = 6.0 + 12.0 * names.len() as f32 + 10.0 * attributes.len() as f32 + 4.0;
        if self.ensure(height) {
            self.table_header();
        }
        // Name first, so extracted text reads in order.
        let first = self.y - 6.0 - 10.0;
        let mut y = first;
        for name in names {
            self.text(Face::Regular, 10.0, LEFT, y, name);
            y -= 12.0;
        }
        for attribute in attributes {
            self.grey_text(Face::Regular, 8.0, LEFT, y + 2.0, GREY, attribute);
            y -= 10.0;
        }
        for (right, amount) in [
            (QTY_RIGHT, line.quantity.to_string()),
            (UNIT_RIGHT, line.unit_price.to_string()),
            (AMOUNT_RIGHT, line.line_total.to_string()),
        ] {
            self.right_text(Face::Regular, 10.0, right, first, &amount);
        }
        self.y -= height;
        self.rule(self.y, RULE_GREY, 0.5);
    }

    fn totals(&mut self) {
        let doc = self.doc;
        let negative = |m: Money| Money::new(-m.amount, m.currency);
        let rows = [
            ("Subtotal", doc.subtotal),
            ("Shop discount", negative(doc.shop_discount)),
            ("Platform discount", negative(doc.platform_discount)),
            ("Shipping fee", doc.shipping_fee),
        ];
        let height = 14.0 + 14.0 * rows.len() as f32 + 10.0 + 18.0 + 14.0;
        self.ensure(height);
        let mut y = self.y - 18.0;
        for (label, amount) in rows {
            self.text(
                Face::Regular,
                10.0,
                TOTALS_LABEL_X,
                y,
                label.as_bytes().to_vec(),
            );
            self.right_text(Face::Regular, 10.0, RIGHT, y, &amount.to_string());
            y -= 14.0;
        }
        self.ops().push(Op::Rule {
            y: y + 8.0,
            grey: 0.0,
            width: 0.75,
        });
        y -= 8.0;
        self.text(Face::Bold, 12.0, TOTALS_LABEL_X, y, b"TOTAL".to_vec());
        self.right_text(Face::Bold, 12.0, RIGHT, y, &doc.total.to_string());
        y -= 16.0;
        self.grey_text(
            Face::Regular,
            9.0,
            TOTALS_LABEL_X,
            y,
            GREY,
            b"VAT included".to_vec(),
        );
        let vat = win_ansi(&doc.tax_included.to_string());
        let x = RIGHT - width(Face::Regular, 9.0, &vat);
        self.grey_text(Face::Regular, 9.0, x, y, GREY, vat);
        self.y = y - 14.0;
    }
}

fn font_name(face: Face) -> Name<'static> {
    match face {
        Face::Regular => Name(b"F1"),
        Face::Bold => Name(b"F2"),
    }
}

/// One run of text at a baseline position.
fn show(content: &mut Content, face: Face, size: f32, (x, y): (f32, f32), grey: f32, bytes: &[u8]) {
    content
        .set_fill_gray(grey)
        .begin_text()
        .set_font(font_name(face), size)
        .next_line(x, y)
        .show(Str(bytes))
        .end_text();
}

/// One page's content stream, with its footer.
fn page_content(ops: &[Op], footer_left: &[u8], page: usize, pages: usize) -> Vec<u8> {
    let mut content = Content::new();
    for op in ops {
        match op {
            Op::Text {
                face,
                size,
                x,
                y,
                grey,
                bytes,
            } => show(&mut content, *face, *size, (*x, *y), *grey, bytes),
            Op::Rule { y, grey, width } => {
                content
                    .set_stroke_gray(*grey)
                    .set_line_width(*width)
                    .move_to(LEFT, *y)
                    .line_to(RIGHT, *y)
                    .stroke();
            }
        }
    }
    show(
        &mut content,
        Face::Regular,
        8.0,
        (LEFT, FOOTER_Y),
        GREY,
        footer_left,
    );
    let page_label = format!("Page {page} of {pages}").into_bytes();
    let x = RIGHT - width(Face::Regular, 8.0, &page_label);
    show(
        &mut content,
        Face::Regular,
        8.0,
        (x, FOOTER_Y),
        GREY,
        &page_label,
    );
    content.finish().to_vec()
}

/// The invoice as PDF bytes. Pure: the same document gives the same bytes (no clock, no ids),
/// so storing it again after a failure rewrites the same object.
pub fn render_pdf(doc: &InvoiceDoc) -> Vec<u8> {
    let mut layout = Layout::new(doc);
    layout.header();
    layout.table_header();
    for line in &doc.lines {
        layout.line(line);
    }
    layout.totals();
    let pages = layout.pages;

    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let page_ref = |i: usize| Ref::new(6 + 2 * i as i32);
    let content_ref = |i: usize| Ref::new(7 + 2 * i as i32);

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids((0..pages.len()).map(page_ref))
        .count(pages.len() as i32);
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.document_info(info)
        .title(TextStr(&format!("Invoice {}", doc.number)));

    let footer = win_ansi(&format!("Invoice {} - order {}", doc.number, doc.order_id));
    for (i, ops) in pages.iter().enumerate() {
        let mut page = pdf.page(page_ref(i));
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .parent(tree)
            .contents(content_ref(i));
        let mut resources = page.resources();
        resources
            .fonts()
            .pair(font_name(Face::Regular), regular)
            .pair(font_name(Face::Bold), bold);
        resources.finish();
        page.finish();
        let content = page_content(ops, &footer, i + 1, pages.len());
        pdf.stream(content_ref(i), &content);
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::domain::Currency;

    fn vnd(amount: i64) -> Money {
        Money::new(amount, Currency::VND)
    }

    fn doc(lines: usize) -> InvoiceDoc {
        InvoiceDoc {
            number: "2026-000017".into(),
            issue_date: "2026-03-05".into(),
            order_id: "01JORDER".into(),
            seller: Party {
                name: "Cửa hàng Áo Đẹp".into(),
                lines: vec!["12 Lê Lợi".into(), "Hà Nội, VN".into()],
            },
            buyer: Party {
                name: "Nguyễn Văn Bảo".into(),
                lines: vec!["bao@example.com".into()],
            },
            ship_to: Party {
                name: "Nguyễn Văn Bảo".into(),
                lines: vec!["34 Trần Hưng Đạo".into(), "Quận 1, Hồ Chí Minh".into()],
            },
            lines: (0..lines)
                .map(|i| DocLine {
                    name: format!("Áo thun số {i}"),
                    attributes: "Màu: Đỏ, Size: M".into(),
                    quantity: 2,
                    unit_price: vnd(150_000),
                    line_total: vnd(300_000),
                })
                .collect(),
            subtotal: vnd(300_000 * lines as i64),
            shop_discount: vnd(20_000),
            platform_discount: vnd(10_000),
            shipping_fee: vnd(30_000),
            tax_included: vnd(27_273),
            total: vnd(300_000 * lines as i64),
        }
    }

    fn pages_and_text(bytes: &[u8]) -> (usize, String) {
        let pdf = lopdf::Document::load_mem(bytes).expect("the PDF parses");
        let pages: Vec<u32> = pdf.get_pages().keys().copied().collect();
        let text = pdf.extract_text(&pages).expect("its text extracts");
        (pages.len(), text)
    }

    #[test]
    fn an_invoice_is_a_pdf_whose_text_shows_its_number_and_total() {
        let bytes = render_pdf(&doc(2));
        assert!(bytes.starts_with(b"%PDF-"));
        let (pages, text) = pages_and_text(&bytes);
        assert_eq!(pages, 1);
        for expected in [
            "INVOICE",
            "No. 2026-000017",
            "Issue date: 2026-03-05",
            "Order: 01JORDER",
            "Cua hang Ao Dep",
            "12 Le Loi",
            "Nguyen Van Bao",
            "bao@example.com",
            "34 Tran Hung Dao",
            "Ao thun so 1",
            "Mau: Do, Size: M",
            "150000 VND",
            "Subtotal",
            "-20000 VND",
            "-10000 VND",
            "30000 VND",
            "VAT included",
            "27273 VND",
            "TOTAL",
            "600000 VND",
            "Page 1 of 1",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from {text}");
        }
    }

    #[test]
    fn the_text_is_stored_uncompressed() {
        let bytes = render_pdf(&doc(1));
        let raw = String::from_utf8_lossy(&bytes);
        assert!(raw.contains("(TOTAL) Tj"), "{raw}");
        assert!(raw.contains("(300000 VND) Tj"));
        assert!(!raw.contains("/Filter"));
        assert!(raw.contains("/BaseFont /Helvetica"));
        assert!(raw.contains("/Encoding /WinAnsiEncoding"));
    }

    #[test]
    fn many_lines_continue_on_more_pages_and_the_totals_come_last() {
        let bytes = render_pdf(&doc(60));
        let pdf = lopdf::Document::load_mem(&bytes).unwrap();
        let pages: Vec<u32> = pdf.get_pages().keys().copied().collect();
        assert!(pages.len() >= 3, "{} pages", pages.len());
        let last = *pages.last().unwrap();
        let first_text = pdf.extract_text(&[1]).unwrap();
        let last_text = pdf.extract_text(&[last]).unwrap();
        assert!(first_text.contains("Ao thun so 0"));
        assert!(!first_text.contains("TOTAL"));
        assert!(last_text.contains("INVOICE 2026-000017 (continued)"));
        assert!(last_text.contains("TOTAL"));
        assert!(last_text.contains("18000000 VND"));
        assert!(last_text.contains(&format!("Page {n} of {n}", n = pages.len())));
        // every line is on some page, once
        let all = pdf.extract_text(&pages).unwrap();
        for i in 0..60 {
            let name = format!("Ao thun so {i}\n");
            assert_eq!(all.matches(&name).count(), 1, "{name:?}");
        }
    }

    #[test]
    fn the_same_document_renders_to_the_same_bytes() {
        assert_eq!(render_pdf(&doc(3)), render_pdf(&doc(3)));
    }

    #[test]
    fn an_overlong_item_name_wraps_and_is_cut() {
        let mut d = doc(1);
        d.lines[0].name = "Áo khoác ".repeat(80);
        let (_, text) = pages_and_text(&render_pdf(&d));
        assert!(text.contains("Ao khoac Ao khoac"));
        assert!(text.contains("..."));
    }
}
