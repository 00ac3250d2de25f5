//! Plain text to an e-mail's HTML body: escaped, paragraphs at blank lines, `<br>` at single
//! newlines, http(s) URLs as links, inside a small fixed layout.

use crate::Language;

/// `text` with `& < > " '` escaped, safe in element content and in quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole HTML document of an e-mail whose plain text is `text`.
pub(crate) fn document(language: Language, title: &str, text: &str) -> String {
    format!(
        "<!DOCTYPE html>\n\
         <html lang=\"{lang}\">\n\
         <head>\n\
         <meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n\
         </head>\n\
         <body style=\"margin:0;padding:0;background:#f4f4f5;\">\n\
         <div style=\"max-width:600px;margin:0 auto;padding:24px;background:#ffffff;\
         font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.5;color:#18181b;\">\n\
         {body}\
         <p style=\"margin-top:32px;font-size:12px;color:#71717a;\">{footer}</p>\n\
         </div>\n\
         </body>\n\
         </html>\n",
        lang = language.as_str(),
        title = escape(title),
        body = paragraphs(text),
        footer = footer(language),
    )
}

fn footer(language: Language) -> &'static str {
    match language {
        Language::Vi => "Đây là thư tự động, vui lòng không trả lời thư này.",
        Language::En => "This is an automated message; please do not reply to it.",
    }
}

/// `<p>` per paragraph (lines separated by blank lines), `<br>` between its lines.
fn paragraphs(text: &str) -> String {
    let mut out = String::new();
    let mut lines: Vec<&str> = Vec::new();
    for line in text.lines().chain(std::iter::once("")) {
        if line.trim().is_empty() {
            if !lines.is_empty() {
                let inner: Vec<String> = lines.iter().map(|l| linkify(l.trim_end())).collect();
                out.push_str(&format!("<p>{}</p>\n", inner.join("<br>\n")));
                lines.clear();
            }
        } else {
            lines.push(line);
        }
    }
    out
}

/// One line escaped, its http(s) URLs made links.
fn linkify(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some((start, end)) = next_url(rest) {
        out.push_str(&escape(&rest[..start]));
        let url = escape(&rest[start..end]);
        out.push_str(&format!("<a href=\"{url}\">{url}</a>"));
        rest = &rest[end..];
    }
    out.push_str(&escape(rest));
    out
}

/// The byte range of the first http(s) URL in `text`: from `http://` or `https://` (not
/// inside a word) to the next space or `<>"'`, without trailing punctuation.
fn next_url(text: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    loop {
        let start = from + earliest(&text[from..], &["https://", "http://"])?;
        let inside_word = text[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric());
        let length = text[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\''))
            .unwrap_or(text.len() - start);
        let url = text[start..start + length].trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
        let scheme = if url.starts_with("https://") { 8 } else { 7 };
        if !inside_word && url.len() > scheme {
            return Some((start, start + url.len()));
        }
        from = start + scheme;
    }
}

fn earliest(text: &str, needles: &[&str]) -> Option<usize> {
    needles.iter().filter_map(|n| text.find(n)).min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_become_links_without_trailing_punctuation() {
        assert_eq!(
            linkify("See https://a.vn/orders/1. Or http://b.vn?x=1&y=2"),
            "See <a href=\"https://a.vn/orders/1\">https://a.vn/orders/1</a>. Or \
             <a href=\"http://b.vn?x=1&amp;y=2\">http://b.vn?x=1&amp;y=2</a>"
        );
        assert_eq!(
            linkify("xhttps://a.vn and https:// alone"),
            "xhttps://a.vn and https:// alone"
        );
        assert_eq!(
            linkify("(https://a.vn)"),
            "(<a href=\"https://a.vn\">https://a.vn</a>)"
        );
    }

    #[test]
    fn paragraphs_and_line_breaks() {
        assert_eq!(
            paragraphs("Hello,\n\nline one\nline two\n \n\n<b>"),
            "<p>Hello,</p>\n<p>line one<br>\nline two</p>\n<p>&lt;b&gt;</p>\n"
        );
    }
}
