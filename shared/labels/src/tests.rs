//! Whole-document tests: the PDF is parsed back here (xref, trailer, page tree, streams) with
//! a deliberately small, strict reader, and the barcode is decoded from the drawn rectangles.

use crate::code128::tests::decode_widths;
use crate::layout::{BAR_HEIGHT, MARGIN, PAGE_HEIGHT, PAGE_WIDTH, QUIET_MODULES};
use crate::pdf::Font;
use crate::{Label, LabelError, MAX_LABELS, labels_pdf};

fn sample() -> Label {
    Label {
        tracking_number: "VN1234567890AB".into(),
        order_id: "01JZ3K8QW7".into(),
        service: "Express".into(),
        from_name: "Gốm Sứ (Bát Tràng)".into(),
        from_city: "Hà Nội".into(),
        to_name: "Nguyễn Văn Đức".into(),
        to_phone: "0901 234 567".into(),
        to_address: vec![
            "Số 12 ngõ 34 đường Nguyễn Trãi".into(),
            "Phường Thanh Xuân, Thành phố Hà Nội".into(),
        ],
        weight_grams: 1250,
        cod: Some("250.000 VND".into()),
        created_at: "2025-07-01 10:30".into(),
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

fn ascii(bytes: &[u8]) -> &str {
    assert!(bytes.is_ascii(), "non-ASCII bytes where ASCII was expected");
    std::str::from_utf8(bytes).unwrap()
}

/// The integer after `key` in `dict`, e.g. `int_after("<< /Count 3 >>", "/Count")` = 3.
fn int_after(dict: &str, key: &str) -> usize {
    let at = dict
        .find(key)
        .unwrap_or_else(|| panic!("{key} missing in {dict}"))
        + key.len();
    dict[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A parsed PDF: the bytes and, per object number, the offset the xref gives.
struct Pdf {
    bytes: Vec<u8>,
    offsets: Vec<usize>, // index = object number; [0] unused
    root: usize,
}

impl Pdf {
    /// Parses and checks the file's skeleton: header, `startxref` → `xref`, every in-use entry
    /// pointing at "N 0 obj", the trailer's /Size and /Root, the final `%%EOF`.
    fn parse(bytes: Vec<u8>) -> Pdf {
        assert!(bytes.starts_with(b"%PDF-1.4\n"));
        assert!(bytes.ends_with(b"%%EOF\n"));
        let sx = bytes
            .windows(9)
            .rposition(|w| w == b"startxref")
            .expect("startxref");
        let xref: usize = ascii(&bytes[sx + 9..bytes.len() - 6])
            .trim()
            .parse()
            .unwrap();
        assert!(
            bytes[xref..].starts_with(b"xref\n0 "),
            "startxref does not point at xref"
        );
        let header_end = find(&bytes, b"\n", xref + 5).unwrap();
        let size: usize = ascii(&bytes[xref + 7..header_end]).parse().unwrap();
        let entries = &bytes[header_end + 1..header_end + 1 + 20 * size];
        assert_eq!(&entries[..20], b"0000000000 65535 f \n");
        let mut offsets = vec![0];
        for (n, entry) in entries.chunks(20).enumerate().skip(1) {
            let entry = ascii(entry);
            assert!(entry.ends_with(" 00000 n \n"), "entry {n}: {entry:?}");
            let offset: usize = entry[..10].parse().unwrap();
            assert!(
                bytes[offset..].starts_with(format!("{n} 0 obj\n").as_bytes()),
                "xref entry {n} points at {offset}, not at its object"
            );
            offsets.push(offset);
        }
        let trailer_at = header_end + 1 + 20 * size;
        assert!(bytes[trailer_at..].starts_with(b"trailer\n"));
        let trailer = ascii(&bytes[trailer_at..sx]);
        assert_eq!(int_after(trailer, "/Size"), size);
        assert!(trailer.contains(&format!("/Root {} 0 R", int_after(trailer, "/Root"))));
        let root = int_after(trailer, "/Root");
        Pdf {
            bytes,
            offsets,
            root,
        }
    }

    /// Object `n`'s bytes between "N 0 obj\n" and "endobj".
    fn object(&self, n: usize) -> &[u8] {
        let start = self.offsets[n] + format!("{n} 0 obj\n").len();
        let end = find(&self.bytes, b"endobj", start).unwrap();
        &self.bytes[start..end]
    }

    fn dict(&self, n: usize) -> &str {
        ascii(self.object(n))
    }

    /// The data of stream object `n`, checking that /Length is exactly the bytes between
    /// "stream\n" and "\nendstream".
    fn stream(&self, n: usize) -> &[u8] {
        let obj = self.object(n);
        let data_at = find(obj, b">>\nstream\n", 0).expect("stream keyword") + 10;
        let length = int_after(ascii(&obj[..data_at]), "/Length");
        let end = find(obj, b"\nendstream", data_at).unwrap();
        assert_eq!(
            length,
            end - data_at,
            "object {n}: /Length disagrees with the data"
        );
        &obj[data_at..end]
    }

    /// Each page's content stream, in page-tree order, after checking the tree.
    fn page_contents(&self) -> Vec<String> {
        let catalog = self.dict(self.root);
        assert!(catalog.contains("/Type /Catalog"));
        let pages_id = int_after(catalog, "/Pages");
        let pages = self.dict(pages_id);
        assert!(pages.contains("/Type /Pages"));
        let kids_at = pages.find("/Kids [").unwrap() + 7;
        let kids_end = kids_at + pages[kids_at..].find(']').unwrap();
        let kids: Vec<usize> = pages[kids_at..kids_end]
            .split(" 0 R")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(int_after(pages, "/Count"), kids.len());
        kids.iter()
            .map(|&kid| {
                let page = self.dict(kid);
                assert!(page.contains("/Type /Page "));
                assert_eq!(int_after(page, "/Parent"), pages_id);
                assert!(
                    page.contains("/MediaBox [0 0 297.638 419.528]"),
                    "not A6: {page}"
                );
                assert!(page.contains("/F1 3 0 R") && page.contains("/F2 4 0 R"));
                ascii(self.stream(int_after(page, "/Contents"))).to_string()
            })
            .collect()
    }
}

/// A `Tj` text drawing read back from a content stream.
#[derive(Debug)]
struct Shown {
    font: Font,
    size: f64,
    x: f64,
    y: f64,
    /// The WinAnsi bytes after undoing the literal-string escapes.
    bytes: Vec<u8>,
}

impl Shown {
    fn text(&self) -> String {
        self.bytes.iter().map(|&b| char::from(b)).collect()
    }
}

/// Every "BT /Fn size Tf x y Td (…) Tj ET" line, with the string unescaped; fails if a string
/// does not end where the operator says (an unescaped parenthesis would do that).
fn shown(content: &str) -> Vec<Shown> {
    content
        .lines()
        .filter(|l| l.starts_with("BT "))
        .map(|line| {
            let open = line.find('(').unwrap();
            let head: Vec<&str> = line[..open].split_whitespace().collect();
            assert_eq!((head[0], head[3], head[6]), ("BT", "Tf", "Td"), "{line}");
            let font = match head[1] {
                "/F1" => Font::Helvetica,
                "/F2" => Font::HelveticaBold,
                other => panic!("unknown font {other}"),
            };
            let mut bytes = Vec::new();
            let raw = &line.as_bytes()[open + 1..];
            let mut i = 0;
            loop {
                match raw[i] {
                    b'\\' if raw[i + 1].is_ascii_digit() => {
                        let octal = std::str::from_utf8(&raw[i + 1..i + 4]).unwrap();
                        bytes.push(u8::from_str_radix(octal, 8).unwrap());
                        i += 4;
                    }
                    b'\\' => {
                        bytes.push(raw[i + 1]);
                        i += 2;
                    }
                    b'(' => panic!("unescaped '(' in {line}"),
                    b')' => break,
                    b => {
                        bytes.push(b);
                        i += 1;
                    }
                }
            }
            assert_eq!(
                &line[open + 1 + i..],
                ") Tj ET",
                "string ends early in {line}"
            );
            Shown {
                font,
                size: head[2].parse().unwrap(),
                x: head[4].parse().unwrap(),
                y: head[5].parse().unwrap(),
                bytes,
            }
        })
        .collect()
}

/// The (x, y, w, h) of every "x y w h re f" (filled rectangle: the bars).
fn bars(content: &str) -> Vec<[f64; 4]> {
    content
        .lines()
        .filter_map(|l| l.strip_suffix(" re f"))
        .map(|l| {
            let v: Vec<f64> = l.split_whitespace().map(|n| n.parse().unwrap()).collect();
            [v[0], v[1], v[2], v[3]]
        })
        .collect()
}

/// Decodes the barcode drawn in `content`: the narrowest bar is one module (Start B and Start
/// C both have one), bars and the gaps between them are rounded to whole modules, and the
/// width string goes to the test decoder. Also checks bar height and quiet zones.
fn decode_drawn_barcode(content: &str) -> String {
    let mut rects = bars(content);
    assert!(!rects.is_empty(), "no bars drawn");
    rects.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let module = rects.iter().map(|r| r[2]).fold(f64::INFINITY, f64::min);
    let units = |w: f64| {
        let u = w / module;
        assert!(
            (u - u.round()).abs() < 0.05,
            "width {w} is not a whole number of modules"
        );
        u.round() as u8
    };
    let mut widths = Vec::new();
    for (i, r) in rects.iter().enumerate() {
        assert!(
            r[3] >= 15.0 * 72.0 / 25.4,
            "bars must be at least 15 mm tall"
        );
        assert_eq!(
            (r[1], r[3]),
            (rects[0][1], rects[0][3]),
            "bars share one baseline and height"
        );
        widths.push(b'0' + units(r[2]));
        if let Some(next) = rects.get(i + 1) {
            widths.push(b'0' + units(next[0] - (r[0] + r[2])));
        }
    }
    let first = rects[0][0];
    let last = rects.last().map(|r| r[0] + r[2]).unwrap();
    let quiet = QUIET_MODULES as f64 * module;
    assert!(first - MARGIN >= quiet - 0.01, "left quiet zone too small");
    assert!(
        PAGE_WIDTH - MARGIN - last >= quiet - 0.01,
        "right quiet zone too small"
    );
    decode_widths(&widths).expect("drawn barcode decodes")
}

#[test]
fn the_pdf_skeleton_is_valid_and_has_one_page_per_label() {
    for n in [1, 2, 7] {
        let labels: Vec<Label> = (0..n)
            .map(|i| Label {
                tracking_number: format!("VN{:010}AB", 1000 + i),
                ..sample()
            })
            .collect();
        let pdf = Pdf::parse(labels_pdf(&labels).unwrap());
        let pages = pdf.page_contents();
        assert_eq!(pages.len(), n);
        // /Count equals the number of labels, and /Type /Page appears once per label.
        let body = String::from_utf8_lossy(&pdf.bytes);
        assert_eq!(body.matches("/Type /Page ").count(), n);
        assert!(body.contains(&format!("/Count {n} ")));
        // Pages are in label order: each shows, and encodes, its own tracking number.
        for (content, label) in pages.iter().zip(&labels) {
            let texts: Vec<String> = shown(content).iter().map(Shown::text).collect();
            assert!(texts.contains(&label.tracking_number), "{texts:?}");
            assert_eq!(decode_drawn_barcode(content), label.tracking_number);
        }
    }
}

#[test]
fn every_stream_length_in_the_file_is_exact() {
    // Independently of the page tree: every "stream" keyword in the file.
    let bytes = labels_pdf(&[
        sample(),
        Label {
            cod: None,
            ..sample()
        },
    ])
    .unwrap();
    let mut at = 0;
    let mut seen = 0;
    while let Some(s) = find(&bytes, b">>\nstream\n", at) {
        let dict_start = bytes[..s].windows(2).rposition(|w| w == b"<<").unwrap();
        let length = int_after(ascii(&bytes[dict_start..s]), "/Length");
        let data = s + 10;
        assert_eq!(&bytes[data + length..data + length + 10], b"\nendstream");
        at = data + length;
        seen += 1;
    }
    assert_eq!(seen, 2);
}

#[test]
fn fields_are_printed_folded_and_escaped() {
    let content = &Pdf::parse(labels_pdf(&[sample()]).unwrap()).page_contents()[0];
    let texts: Vec<String> = shown(content).iter().map(Shown::text).collect();
    for expected in [
        "Express",
        "1.25 kg",
        "Order: 01JZ3K8QW7",
        "Gom Su (Bat Trang)",
        "Ha Noi",
        "Nguyen Van Duc",
        "Tel: 0901 234 567",
        "So 12 ngo 34 duong Nguyen Trai",
        "Phuong Thanh Xuan, Thanh pho Ha Noi",
        "COD: 250.000 VND",
        "VN1234567890AB",
        "Created: 2025-07-01 10:30",
    ] {
        assert!(
            texts.iter().any(|t| t == expected),
            "{expected:?} not in {texts:?}"
        );
    }
    // The raw stream: folded, parentheses escaped, nothing of the original diacritics.
    assert!(content.contains("(Nguyen Van Duc) Tj"));
    assert!(content.contains("(Gom Su \\(Bat Trang\\)) Tj"), "{content}");
    assert!(content.contains("(COD: 250.000 VND) Tj"));
    // Address lines are in order, top to bottom.
    let ys: Vec<f64> = shown(content)
        .iter()
        .filter(|s| s.text().starts_with("So 12") || s.text().starts_with("Phuong"))
        .map(|s| s.y)
        .collect();
    assert!(ys.len() == 2 && ys[0] > ys[1], "{ys:?}");
}

#[test]
fn unbalanced_parentheses_and_backslashes_are_escaped() {
    let label = Label {
        to_address: vec![r"Lot 5) back door \ gate (B".into()],
        ..sample()
    };
    let content = &Pdf::parse(labels_pdf(&[label]).unwrap()).page_contents()[0];
    assert!(
        content.contains(r"(Lot 5\) back door \\ gate \(B) Tj"),
        "{content}"
    );
    let texts: Vec<String> = shown(content).iter().map(Shown::text).collect();
    assert!(texts.contains(&r"Lot 5) back door \ gate (B".to_string()));
}

#[test]
fn cod_is_printed_only_when_set() {
    let with = &Pdf::parse(labels_pdf(&[sample()]).unwrap()).page_contents()[0];
    assert!(with.contains("COD:"));
    assert!(with.contains(" re S"), "the COD frame");
    let without = &Pdf::parse(
        labels_pdf(&[Label {
            cod: None,
            ..sample()
        }])
        .unwrap(),
    )
    .page_contents()[0];
    assert!(!without.contains("COD"), "{without}");
    assert!(!without.contains(" re S"));
}

#[test]
fn the_barcode_sits_under_nothing_and_above_its_text() {
    let content = &Pdf::parse(labels_pdf(&[sample()]).unwrap()).page_contents()[0];
    let rects = bars(content);
    let bottom = rects[0][1];
    let top = bottom + rects[0][3];
    assert!((rects[0][3] - BAR_HEIGHT).abs() < 0.01);
    let texts = shown(content);
    let tracking = texts.iter().find(|s| s.text() == "VN1234567890AB").unwrap();
    assert!(
        tracking.y + tracking.size < bottom,
        "the tracking number is printed under the bars"
    );
    // Centred under the symbol (within a point).
    let centre = tracking.x + tracking.font.width(&tracking.bytes, tracking.size) / 2.0;
    let bars_centre = (rects[0][0] + rects.last().map(|r| r[0] + r[2]).unwrap()) / 2.0;
    assert!(
        (centre - bars_centre).abs() < 1.0,
        "{centre} vs {bars_centre}"
    );
    // No other text overlaps the bars.
    for s in &texts {
        assert!(
            s.y > top || s.y + s.size < bottom,
            "{:?} overlaps the barcode",
            s.text()
        );
    }
}

#[test]
fn text_stays_on_the_page_whatever_its_length() {
    let long = "Công ty TNHH Thương mại Dịch vụ Xuất nhập khẩu Sài Gòn Bến Thành ".repeat(6);
    let label = Label {
        service: long.clone(),
        order_id: long.clone(),
        from_name: long.clone(),
        from_city: long.clone(),
        to_name: long.clone(),
        to_phone: long.clone(),
        to_address: vec![
            long.clone(),
            "Xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx".into(),
            long.clone(),
        ],
        weight_grams: u64::MAX,
        cod: Some(long.clone()),
        created_at: long,
        tracking_number: "SPXVN061234567890123".into(),
    };
    let content = &Pdf::parse(labels_pdf(&[label]).unwrap()).page_contents()[0];
    let texts = shown(content);
    for s in &texts {
        let width = s.font.width(&s.bytes, s.size);
        assert!(
            s.x >= MARGIN - 0.01 && s.x + width <= PAGE_WIDTH - MARGIN + 0.01,
            "{:?} runs off",
            s.text()
        );
        // Helvetica's ascender is 718/1000 em, its descender 207/1000.
        assert!(
            s.y - 0.207 * s.size >= MARGIN && s.y + 0.718 * s.size <= PAGE_HEIGHT - MARGIN,
            "{:?}",
            s.text()
        );
    }
    // The address is capped at 8 printed lines, the last one marked as cut.
    let address: Vec<&Shown> = texts
        .iter()
        .filter(|s| s.size == 11.0 && !s.text().starts_with("Tel:"))
        .collect();
    assert_eq!(address.len(), 8);
    assert!(address[7].text().ends_with("..."));
    assert_eq!(decode_drawn_barcode(content), "SPXVN061234567890123");
}

#[test]
fn characters_outside_win_ansi_become_question_marks_and_kept_ones_octal() {
    let label = Label {
        to_name: "Straße 東京 €5".into(),
        ..sample()
    };
    let content = &Pdf::parse(labels_pdf(&[label]).unwrap()).page_contents()[0];
    assert!(content.contains(r"(Stra\337e ?? \2005) Tj"), "{content}");
}

#[test]
fn limits() {
    assert_eq!(labels_pdf(&[]), Err(LabelError::NoLabels));
    let many = vec![sample(); MAX_LABELS + 1];
    assert_eq!(labels_pdf(&many), Err(LabelError::TooMany));
    let pdf = Pdf::parse(labels_pdf(&many[..MAX_LABELS]).unwrap());
    assert_eq!(pdf.page_contents().len(), MAX_LABELS);
    assert_eq!(pdf.offsets.len(), 1 + 4 + 2 * MAX_LABELS);
}

#[test]
fn a_bad_tracking_number_in_any_label_is_reported() {
    let bad = Label {
        tracking_number: "VN12Đ45".into(),
        ..sample()
    };
    assert_eq!(
        labels_pdf(&[sample(), bad]),
        Err(LabelError::NotEncodable { position: 4 })
    );
    assert_eq!(
        LabelError::NotEncodable { position: 4 }.to_string(),
        "tracking number has a character Code 128 cannot encode at position 4"
    );
}

#[test]
fn a_one_label_pdf_is_small() {
    let size = labels_pdf(&[sample()]).unwrap().len();
    eprintln!("1-label PDF: {size} bytes");
    assert!(size < 6_000, "{size} bytes");
}
