//! Input validation: the `Validate` trait every request body implements, and field checks
//! shared by all routes. Failures name the field so clients can show them next to inputs.
//!
//! The OpenAPI document states each check next to the field it guards (`#[schema(...)]`), with
//! one pattern per check so generated clients and fuzzers build requests the checks accept:
//! - [`text`] / [`optional_text`]: `min_length` / `max_length` and
//!   `^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$`
//!   (no control characters, no surrounding whitespace: the check trims it, so a documented
//!   value keeps its length), wrapped in `(?:…)?` where the field may be empty;
//! - [`email`]: `max_length = 254` and a pattern of the addresses it accepts (a subset: at most
//!   two dots before the `@`, domain labels of up to 22 characters);
//! - [`phone`]: `^\+?[0-9]{8,15}$`; [`country`]: `^[A-Za-z]{2}$`; [`id`]: `^[A-Za-z0-9]{1,64}$`.

use crate::error::FieldError;

pub trait Validate {
    /// Checks the value and may normalise it (trim, lowercase e-mail). Returns every problem.
    fn validate(&mut self) -> Result<(), Vec<FieldError>>;
}

/// Collects field errors while a body is checked.
#[derive(Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    pub fn check(&mut self, result: Result<(), FieldError>) {
        if let Err(e) = result {
            self.0.push(e);
        }
    }
    pub fn push(&mut self, field: &str, message: &str) {
        self.0.push(FieldError::new(field, message));
    }
    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

/// Normalises (trim + lowercase) and checks an e-mail address.
pub fn email(field: &str, value: &mut String) -> Result<(), FieldError> {
    *value = value.trim().to_lowercase();
    let err = |m: &str| Err(FieldError::new(field, m));
    if value.is_empty() {
        return err("is required");
    }
    if value.len() > 254 {
        return err("must be at most 254 characters");
    }
    let Some((local, domain)) = value.split_once('@') else {
        return err("must be a valid e-mail address");
    };
    let valid_local = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let labels: Vec<&str> = domain.split('.').collect();
    let valid_domain = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !valid_local || !valid_domain {
        return err("must be a valid e-mail address");
    }
    Ok(())
}

/// Trims a free-text field and checks its length in characters.
pub fn text(field: &str, value: &mut String, min: usize, max: usize) -> Result<(), FieldError> {
    *value = value.trim().to_owned();
    let len = value.chars().count();
    if len < min {
        return Err(FieldError::new(
            field,
            if min == 1 {
                "must not be empty".to_owned()
            } else {
                format!("must be at least {min} characters")
            },
        ));
    }
    if len > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

pub fn optional_text(
    field: &str,
    value: &mut Option<String>,
    max: usize,
) -> Result<(), FieldError> {
    match value {
        Some(v) => {
            text(field, v, 0, max)?;
            if v.is_empty() {
                *value = None;
            }
            Ok(())
        }
        None => Ok(()),
    }
}

/// An id this API issued (ULIDs and the like: ASCII letters and digits, at most 64), trimmed.
/// Checked before any lookup so a malformed one never reaches a key.
pub fn id(field: &str, value: &mut String) -> Result<(), FieldError> {
    *value = value.trim().to_owned();
    if value.is_empty() || value.len() > 64 || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(FieldError::new(field, "must be an id this API issued"));
    }
    Ok(())
}

/// An E.164-style phone number: `+` and 8–15 digits (spaces and dashes are removed).
pub fn phone(field: &str, value: &mut String) -> Result<(), FieldError> {
    *value = value
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    let digits = value.strip_prefix('+').unwrap_or(value);
    if !(8..=15).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(FieldError::new(
            field,
            "must be a phone number like +84901234567",
        ));
    }
    Ok(())
}

/// ISO 3166-1 alpha-2 country code, upper-cased. Checked before upper-casing: `ß` upper-cases
/// to `SS`, which is two ASCII letters but no country code anyone typed.
pub fn country(field: &str, value: &mut String) -> Result<(), FieldError> {
    *value = value.trim().to_owned();
    if value.len() != 2 || !value.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(FieldError::new(
            field,
            "must be an ISO 3166-1 alpha-2 country code like VN",
        ));
    }
    value.make_ascii_uppercase();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        let mut e = "  Alice@Example.COM ".to_owned();
        email("email", &mut e).unwrap();
        assert_eq!(e, "alice@example.com");
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "a@b",
            "a b@example.com",
            "a@-x.com",
            "a..b@example.com",
        ] {
            assert!(
                email("email", &mut bad.to_owned()).is_err(),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn text_fields_are_trimmed_and_bounded() {
        let mut v = "  Ann ".to_owned();
        text("name", &mut v, 1, 10).unwrap();
        assert_eq!(v, "Ann");
        assert!(text("name", &mut "   ".to_owned(), 1, 10).is_err());
        assert!(text("name", &mut "x".repeat(11), 1, 10).is_err());
        assert!(text("name", &mut "a\u{0}b".to_owned(), 1, 10).is_err());
    }

    #[test]
    fn phones_and_countries() {
        let mut p = "+84 90-123 4567".to_owned();
        phone("phone", &mut p).unwrap();
        assert_eq!(p, "+84901234567");
        assert!(phone("phone", &mut "12ab".to_owned()).is_err());
        let mut c = "vn".to_owned();
        country("country", &mut c).unwrap();
        assert_eq!(c, "VN");
        assert!(country("country", &mut "VNM".to_owned()).is_err());
        assert!(country("country", &mut "ß".to_owned()).is_err());
    }

    #[test]
    fn ids_are_trimmed_ascii_letters_and_digits() {
        let mut ok = " 01JD7Q2W8Y3C5V6B7N8M9K0J1H ".to_owned();
        id("product_id", &mut ok).unwrap();
        assert_eq!(ok, "01JD7Q2W8Y3C5V6B7N8M9K0J1H");
        for bad in ["", "   ", "a#b", "with-dash", "é", &"A".repeat(65)] {
            assert_eq!(
                id("product_id", &mut bad.to_owned()).unwrap_err().field,
                "product_id",
                "{bad:?}"
            );
        }
    }
}
