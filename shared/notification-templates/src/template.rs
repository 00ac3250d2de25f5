//! Template sources, their placeholders, and [`check`].

use serde::{Deserialize, Serialize};

use crate::{Channel, Kind};

/// The longest title (in characters) on any channel.
pub const TITLE_LIMIT: usize = 200;

/// A template's source: `title` (subject for e-mail, title for in-app/push; must be absent or
/// empty for SMS) and `body` (plain text). Placeholders are `{{name}}` (spaces inside the
/// braces allowed: `{{ name }}`); there is no escaping syntax; a lone `{` or `}` is literal
/// text, but an unclosed `{{` is an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    #[serde(default)]
    pub title: String,
    pub body: String,
}

/// An error naming the field ("title" or "body") and saying what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct TemplateError {
    pub field: &'static str,
    pub message: String,
}

impl TemplateError {
    fn title(message: String) -> Self {
        Self {
            field: "title",
            message,
        }
    }

    fn body(message: String) -> Self {
        Self {
            field: "body",
            message,
        }
    }
}

/// One piece of a template source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// Literal text.
    Text(&'a str),
    /// A placeholder: the variable's name, without the braces and spaces.
    Var(&'a str),
    /// `{{` never closed: the source from it to the end.
    Unclosed(&'a str),
    /// `{{…}}` whose inside is not a variable name: the whole of it.
    BadName(&'a str),
}

/// Splits a source into its pieces. Never fails: what [`check`] rejects comes out as
/// [`Piece::Unclosed`] or [`Piece::BadName`].
pub(crate) fn pieces(source: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            out.push(Piece::Unclosed(&rest[open..]));
            return out;
        };
        let name = after[..close].trim();
        out.push(if is_name(name) {
            Piece::Var(name)
        } else {
            Piece::BadName(&rest[open..open + 2 + close + 2])
        });
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

fn is_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The variables a source uses, in order of first use.
#[cfg(test)]
pub(crate) fn variables(source: &str) -> Vec<&str> {
    let mut names = Vec::new();
    for piece in pieces(source) {
        if let Piece::Var(name) = piece
            && !names.contains(&name)
        {
            names.push(name);
        }
    }
    names
}

/// Whether `template` may be used for `kind` on `channel`: only the kind's variables, every
/// `{{` closed, a non-empty body, a one-line title where the channel needs one and none on
/// SMS, a title of at most [`TITLE_LIMIT`] and a body of at most [`Channel::body_limit`]
/// characters.
pub fn check(kind: &Kind, channel: Channel, template: &Template) -> Result<(), TemplateError> {
    check_title(kind, channel, &template.title).map_err(TemplateError::title)?;
    check_body(kind, channel, &template.body).map_err(TemplateError::body)
}

fn check_title(kind: &Kind, channel: Channel, title: &str) -> Result<(), String> {
    let blank = title.trim().is_empty();
    if !channel.needs_title() {
        return match blank {
            true => Ok(()),
            false => Err("an SMS has no title; leave it empty".into()),
        };
    }
    if blank {
        return Err(format!("{} needs a title", channel_label(channel)));
    }
    if title.contains(['\n', '\r']) {
        return Err("the title must be a single line".into());
    }
    check_length(title, TITLE_LIMIT, "the title")?;
    check_placeholders(kind, title)
}

fn check_body(kind: &Kind, channel: Channel, body: &str) -> Result<(), String> {
    if body.trim().is_empty() {
        return Err("the body is empty".into());
    }
    check_length(
        body,
        channel.body_limit(),
        &format!("the body of {}", channel_label(channel)),
    )?;
    check_placeholders(kind, body)
}

fn check_length(text: &str, limit: usize, what: &str) -> Result<(), String> {
    let length = text.chars().count();
    match length <= limit {
        true => Ok(()),
        false => Err(format!(
            "{what} may be at most {limit} characters long; this one has {length}"
        )),
    }
}

fn check_placeholders(kind: &Kind, source: &str) -> Result<(), String> {
    for piece in pieces(source) {
        match piece {
            Piece::Text(_) => {}
            Piece::Var(name) if kind.variables.contains(&name) => {}
            Piece::Var(name) => {
                return Err(format!(
                    "unknown variable `{{{{{name}}}}}`; {} may use {}",
                    kind.name,
                    allowed(kind)
                ));
            }
            Piece::Unclosed(rest) => {
                let start = source.len() - rest.len();
                return Err(format!(
                    "the `{{{{` at character {} is never closed with `}}}}`",
                    source[..start].chars().count() + 1
                ));
            }
            Piece::BadName(whole) => {
                return Err(format!(
                    "`{whole}` is not a placeholder: a variable's name has only letters, \
                     digits and `_`; {} may use {}",
                    kind.name,
                    allowed(kind)
                ));
            }
        }
    }
    Ok(())
}

fn allowed(kind: &Kind) -> String {
    kind.variables
        .iter()
        .map(|v| format!("{{{{{v}}}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn channel_label(channel: Channel) -> &'static str {
    match channel {
        Channel::InApp => "an in-app notification",
        Channel::Email => "an e-mail",
        Channel::Sms => "an SMS",
        Channel::Push => "a push notification",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_split_text_and_placeholders() {
        assert_eq!(
            pieces("Hi {{name}}, {x} }} {{ url }}/a"),
            vec![
                Piece::Text("Hi "),
                Piece::Var("name"),
                Piece::Text(", {x} }} "),
                Piece::Var("url"),
                Piece::Text("/a"),
            ]
        );
        assert_eq!(
            pieces("a {{b c}} d {{e"),
            vec![
                Piece::Text("a "),
                Piece::BadName("{{b c}}"),
                Piece::Text(" d "),
                Piece::Unclosed("{{e"),
            ]
        );
        assert_eq!(pieces(""), vec![]);
        assert_eq!(variables("{{a}}{{b}}{{ a }}"), vec!["a", "b"]);
    }
}
