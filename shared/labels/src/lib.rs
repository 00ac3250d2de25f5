//! Printable parcel labels: one A6 portrait page (105 × 148 mm) per [`Label`], as a PDF with a
//! Code 128 barcode of the tracking number.
//!
//! Everything is written by hand to keep the crate small enough for a Lambda: the PDF is
//! version 1.4 with uncompressed content streams and the two standard fonts Helvetica and
//! Helvetica-Bold in WinAnsiEncoding (nothing embedded), and the barcode is drawn as filled
//! rectangles. Those fonts cannot show Vietnamese diacritics, so text is folded to ASCII
//! ("Nguyễn Văn Đức" prints as "Nguyen Van Duc"); other characters WinAnsi has are kept and
//! anything else prints as `?`.
//!
//! Inside, module `code128` is the barcode encoder (values and module patterns), `pdf` the PDF
//! object/xref writer with content-stream operators, text encoding and font metrics, and
//! `layout` places each field, the barcode and the COD frame on the page.
//!
//! ```
//! use shipping_labels::{Label, labels_pdf};
//! let label = Label {
//!     tracking_number: "VN1234567890AB".into(),
//!     order_id: "01JZ3K8Q".into(),
//!     service: "Express".into(),
//!     from_name: "Gốm Bát Tràng".into(),
//!     from_city: "Hà Nội".into(),
//!     to_name: "Nguyễn Văn Đức".into(),
//!     to_phone: "0901 234 567".into(),
//!     to_address: vec!["12 Nguyễn Trãi".into(), "Phường Bến Thành, TP. Hồ Chí Minh".into()],
//!     weight_grams: 1250,
//!     cod: Some("250.000 VND".into()),
//!     created_at: "2025-07-01 10:30".into(),
//! };
//! let pdf = labels_pdf(&[label]).unwrap();
//! assert!(pdf.starts_with(b"%PDF-1.4"));
//! assert_eq!(shipping_labels::code128("PJJ123C").unwrap(), [104, 48, 42, 42, 17, 18, 19, 35, 55, 106]);
//! ```

mod code128;
mod layout;
mod pdf;
#[cfg(test)]
mod tests;

use pdf::{Document, Font, num};

/// Most labels one PDF may hold.
pub const MAX_LABELS: usize = 100;

/// What one parcel label shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Label {
    /// Printable ASCII (32–126), e.g. "VN1234567890AB"; encoded in the Code 128 barcode and
    /// printed under it.
    pub tracking_number: String,
    /// Printed small under the service.
    pub order_id: String,
    /// E.g. "Express"; printed big at the top.
    pub service: String,
    /// The shop's name.
    pub from_name: String,
    pub from_city: String,
    /// The recipient.
    pub to_name: String,
    pub to_phone: String,
    /// Address lines, printed in order; long ones are word-wrapped, and past 8 printed lines
    /// the rest is cut with "...".
    pub to_address: Vec<String>,
    /// Printed as "850 g" or "1.25 kg".
    pub weight_grams: u64,
    /// E.g. "250.000 VND": printed prominently, framed, as "COD: …" when `Some`.
    pub cod: Option<String>,
    /// Printed small at the bottom, as given.
    pub created_at: String,
}

/// Why no PDF (or barcode) could be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    /// An empty slice of labels: a PDF needs at least one page.
    #[error("no labels to print")]
    NoLabels,
    /// A tracking number has a character outside printable ASCII (32–126) at this char index
    /// (counted from 0; also its byte index, everything before it being ASCII).
    #[error("tracking number has a character Code 128 cannot encode at position {position}")]
    NotEncodable { position: usize },
    /// More than [`MAX_LABELS`] labels in one call.
    #[error("too many labels for one PDF (at most {MAX_LABELS})")]
    TooMany,
}

/// Renders `labels` as one PDF, one A6 portrait page per label, in order.
///
/// Errors: an empty slice gives [`LabelError::NoLabels`], more than [`MAX_LABELS`]
/// [`LabelError::TooMany`], and a tracking number Code 128 cannot carry
/// [`LabelError::NotEncodable`] (whichever label it is in). Never panics.
pub fn labels_pdf(labels: &[Label]) -> Result<Vec<u8>, LabelError> {
    if labels.is_empty() {
        return Err(LabelError::NoLabels);
    }
    if labels.len() > MAX_LABELS {
        return Err(LabelError::TooMany);
    }
    let symbols = labels
        .iter()
        .map(|label| code128::encode(&label.tracking_number))
        .collect::<Result<Vec<_>, _>>()?;

    let mut doc = Document::new();
    let catalog = doc.alloc();
    let pages = doc.alloc();
    let helvetica = doc.alloc();
    let bold = doc.alloc();
    let page_ids: Vec<_> = labels.iter().map(|_| (doc.alloc(), doc.alloc())).collect();

    doc.object(catalog, &format!("<< /Type /Catalog /Pages {pages} 0 R >>"));
    let kids: Vec<String> = page_ids
        .iter()
        .map(|(page, _)| format!("{page} 0 R"))
        .collect();
    doc.object(
        pages,
        &format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            labels.len()
        ),
    );
    doc.object(helvetica, &Font::Helvetica.dictionary());
    doc.object(bold, &Font::HelveticaBold.dictionary());

    let media_box = format!(
        "[0 0 {} {}]",
        num(layout::PAGE_WIDTH),
        num(layout::PAGE_HEIGHT)
    );
    let resources = format!(
        "<< /Font << /{} {helvetica} 0 R /{} {bold} 0 R >> >>",
        Font::Helvetica.resource(),
        Font::HelveticaBold.resource()
    );
    for ((page, content), (label, symbol)) in page_ids.into_iter().zip(labels.iter().zip(&symbols))
    {
        doc.object(
            page,
            &format!(
                "<< /Type /Page /Parent {pages} 0 R /MediaBox {media_box} /Resources {resources} /Contents {content} 0 R >>"
            ),
        );
        doc.stream(content, &layout::render(label, symbol));
    }
    Ok(doc.finish(catalog))
}

/// The Code 128 symbol values of `text`, including the start code, the checksum and the stop
/// code (106): code set B (value = ASCII − 32) with code set C for digit runs where it is
/// shorter. Characters outside printable ASCII (32–126) give [`LabelError::NotEncodable`]
/// with the index of the first one.
pub fn code128(text: &str) -> Result<Vec<u8>, LabelError> {
    code128::encode(text)
}
