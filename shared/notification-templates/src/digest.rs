//! Several normal-priority notifications of one user bundled into one message.

use crate::{Channel, Language, Rendered, html};

/// One digest message bundling several normal-priority notifications for one user on one
/// channel: each item is an already-rendered in-app `(title, text)` pair.
///
/// - E-mail: the title counts the items ("3 new updates" / "3 thông báo mới"), the text
///   lists every item's title and text, numbered, and `html` is that text laid out.
/// - Push: the same title; the text lists the items' titles only.
/// - SMS: no title (an SMS has none); the text is the count, then the items' titles.
/// - In-app (not a digest channel, but answered): as e-mail, without `html`.
///
/// SMS and push texts are trimmed to [`Channel::body_limit`] characters, ending in "…",
/// when they are longer (cut between characters, and between lines when that keeps most).
pub fn digest(channel: Channel, language: Language, items: &[(String, String)]) -> Rendered {
    let heading = heading(language, items.len());
    match channel {
        Channel::Sms => Rendered {
            title: String::new(),
            text: fit(
                &format!("{heading}:\n{}", titles(items)),
                channel.body_limit(),
            ),
            html: None,
        },
        Channel::Push => Rendered {
            text: fit(&titles(items), channel.body_limit()),
            title: heading,
            html: None,
        },
        Channel::Email | Channel::InApp => {
            let text = full_text(language, items);
            let html =
                (channel == Channel::Email).then(|| html::document(language, &heading, &text));
            Rendered {
                title: heading,
                text,
                html,
            }
        }
    }
}

fn heading(language: Language, count: usize) -> String {
    match (language, count) {
        (Language::Vi, n) => format!("{n} thông báo mới"),
        (Language::En, 1) => "1 new update".to_owned(),
        (Language::En, n) => format!("{n} new updates"),
    }
}

/// One bulleted line per item's title (its text when it has no title).
fn titles(items: &[(String, String)]) -> String {
    items
        .iter()
        .map(|(title, text)| format!("• {}", headline(title, text)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn headline<'a>(title: &'a str, text: &'a str) -> &'a str {
    match title.trim() {
        "" => text.trim(),
        title => title,
    }
}

/// An introduction, then each item numbered: its title, then its text.
fn full_text(language: Language, items: &[(String, String)]) -> String {
    let intro = match language {
        Language::Vi => "Đây là các thông báo mới nhất của bạn:",
        Language::En => "Here are your latest updates:",
    };
    let mut text = format!("{intro}\n");
    for (number, (title, body)) in items.iter().enumerate() {
        let number = number + 1;
        match title.trim() {
            "" => text.push_str(&format!("\n{number}. {}\n", body.trim())),
            title => text.push_str(&format!("\n{number}. {title}\n{}\n", body.trim())),
        }
    }
    text
}

/// `text` if it has at most `limit` characters, else a prefix of it ending in "…" that has:
/// cut after the last whole line when that keeps at least half, else between characters.
fn fit(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    // room for "\n…"
    let keep = limit.saturating_sub(2);
    let cut = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    let head = &text[..cut];
    match head.rfind('\n') {
        Some(line_end) if head[..line_end].chars().count() >= limit / 2 => {
            format!("{}\n…", head[..line_end].trim_end())
        }
        _ => format!("{}…", head.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_between_lines_or_characters() {
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("aaaa\nbbbb\ncccc", 12), "aaaa\nbbbb\n…");
        assert_eq!(fit("ééééééééééééé", 6), "éééé…");
        assert_eq!(fit("a\nbbbbbbbbbbbb", 10), "a\nbbbbbb…");
        assert!(fit(&"ữ".repeat(1000), 480).chars().count() <= 480);
    }

    #[test]
    fn english_counts_one_update_in_the_singular() {
        assert_eq!(heading(Language::En, 1), "1 new update");
        assert_eq!(heading(Language::En, 2), "2 new updates");
        assert_eq!(heading(Language::Vi, 2), "2 thông báo mới");
    }
}
