//! Filling a template's placeholders.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::template::{Piece, pieces};
use crate::{Channel, Language, Template, html};

/// A notification ready to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    /// The e-mail's subject, the in-app or push title; empty for SMS.
    pub title: String,
    pub text: String,
    /// E-mail only: an HTML body (the text HTML-escaped, paragraphs on blank lines as `<p>`,
    /// single newlines `<br>`, http(s) URLs as `<a href>`), wrapped in a small fixed layout
    /// with `<html lang="vi|en">`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// A variable the template uses that was given no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the variable {variable} has no value")]
pub struct RenderError {
    pub variable: String,
}

/// Renders `template` with `vars`. Every placeholder the template uses must have a value,
/// else the error names the first one missing. Values are inserted verbatim into `title` and
/// `text` (never expanded again) and HTML-escaped in `html`.
///
/// The template is expected to have passed [`check`](crate::check); a malformed placeholder
/// (an unclosed `{{`, `{{not a name}}`) is left as written.
pub fn render(
    channel: Channel,
    language: Language,
    template: &Template,
    vars: &BTreeMap<String, String>,
) -> Result<Rendered, RenderError> {
    let title = match channel.needs_title() {
        true => fill(&template.title, vars)?,
        false => String::new(),
    };
    let text = fill(&template.body, vars)?;
    let html = (channel == Channel::Email).then(|| html::document(language, &title, &text));
    Ok(Rendered { title, text, html })
}

/// `source` with each placeholder replaced by its value.
pub(crate) fn fill(source: &str, vars: &BTreeMap<String, String>) -> Result<String, RenderError> {
    let mut out = String::with_capacity(source.len());
    for piece in pieces(source) {
        match piece {
            Piece::Var(name) => match vars.get(name) {
                Some(value) => out.push_str(value),
                None => {
                    return Err(RenderError {
                        variable: name.to_owned(),
                    });
                }
            },
            Piece::Text(text) | Piece::Unclosed(text) | Piece::BadName(text) => out.push_str(text),
        }
    }
    Ok(out)
}
