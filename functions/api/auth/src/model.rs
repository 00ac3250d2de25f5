//! Request and response bodies of the auth routes, with their validation.

use serde::{Deserialize, Serialize};
use shared::auth::{self, Role};
use shared::error::FieldError;
use shared::validate::{self, Errors, Validate};
use utoipa::ToSchema;

/// Roles a user may pick when signing up; shipper and admin are granted by an admin.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SignupRole {
    Buyer,
    Seller,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(
        example = "alice@example.com",
        max_length = 254,
        pattern = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}){0,2}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?\.){1,3}[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?$"
    )]
    pub email: String,
    /// 10–128 characters with at least one letter and one digit; not a well-known password and
    /// not containing the e-mail's local part.
    #[schema(
        example = "tulip-river-42",
        min_length = 10,
        max_length = 128,
        pattern = r"^(?=.*[A-Za-z])(?=.*[0-9])"
    )]
    pub password: String,
    #[schema(
        example = "Alice Nguyen",
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub name: String,
    /// `buyer` (default) or `seller`.
    #[serde(default)]
    pub role: Option<SignupRole>,
    /// The token of an invitation to an organisation, sent to this e-mail address: the new
    /// account joins it in the same transaction. It is checked before anything is created; an
    /// invalid one fails the registration (see `POST /api/v1/invitations/accept` for the rules).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200, pattern = "^[A-Za-z0-9_-]+$")]
    pub invitation_token: Option<String>,
}

impl Validate for RegisterRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        e.check(validate::email("email", &mut self.email));
        e.check(validate::text("name", &mut self.name, 1, 100));
        e.check(auth::check_password_policy(
            "password",
            &self.password,
            Some(&self.email),
        ));
        e.check(invitation_token_field(&self.invitation_token));
        e.finish()
    }
}

/// An invitation token is URL-safe base64 (the e-mail's).
fn invitation_token_field(token: &Option<String>) -> Result<(), FieldError> {
    match token {
        Some(t)
            if t.is_empty()
                || t.len() > 200
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Err(FieldError::new(
                "invitation_token",
                "must be the invitation token from the e-mail",
            ))
        }
        _ => Ok(()),
    }
}

impl RegisterRequest {
    pub fn roles(&self) -> Vec<Role> {
        match self.role.unwrap_or(SignupRole::Buyer) {
            SignupRole::Buyer => vec![Role::Buyer],
            SignupRole::Seller => vec![Role::Buyer, Role::Seller],
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(
        example = "alice@example.com",
        max_length = 254,
        pattern = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}){0,2}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?\.){1,3}[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?$"
    )]
    pub email: String,
    #[schema(min_length = 1, max_length = 128)]
    pub password: String,
    /// The token of an invitation to an organisation, sent to this account's address: accepted
    /// once the password is verified, before the session starts. An invalid one fails the
    /// login with the invitation's problem (log in without it to sign in anyway).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200, pattern = "^[A-Za-z0-9_-]+$")]
    pub invitation_token: Option<String>,
}

impl Validate for LoginRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        e.check(validate::email("email", &mut self.email));
        if self.password.is_empty() {
            e.push("password", "is required");
        } else if self.password.chars().count() > auth::PASSWORD_MAX_LEN {
            e.push("password", "must be at most 128 characters long");
        }
        e.check(invitation_token_field(&self.invitation_token));
        e.finish()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh; it rotates on every use.
    #[schema(min_length = 1, max_length = 200, pattern = "^[A-Za-z0-9._-]+$")]
    pub refresh_token: String,
}

impl Validate for RefreshRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        token_field("refresh_token", &self.refresh_token)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    /// The token from the verification e-mail.
    #[schema(min_length = 1, max_length = 200, pattern = "^[A-Za-z0-9._-]+$")]
    pub token: String,
}

impl Validate for VerifyEmailRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        token_field("token", &self.token)
    }
}

fn token_field(field: &str, value: &str) -> Result<(), Vec<FieldError>> {
    if value.is_empty() {
        return Err(vec![FieldError::new(field, "is required")]);
    }
    if value.len() > 200
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(vec![FieldError::new(
            field,
            "is not a token this API issued",
        )]);
    }
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotPasswordRequest {
    #[schema(
        example = "alice@example.com",
        max_length = 254,
        pattern = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}){0,2}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?\.){1,3}[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?$"
    )]
    pub email: String,
}

impl Validate for ForgotPasswordRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        validate::email("email", &mut self.email).map_err(|e| vec![e])
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    #[schema(
        example = "alice@example.com",
        max_length = 254,
        pattern = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}){0,2}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?\.){1,3}[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?$"
    )]
    pub email: String,
    /// The 6-digit code from the reset e-mail.
    #[schema(example = "042917", pattern = "^[0-9]{6}$")]
    pub code: String,
    /// As at registration: 10–128 characters with a letter and a digit.
    #[schema(
        min_length = 10,
        max_length = 128,
        pattern = r"^(?=.*[A-Za-z])(?=.*[0-9])"
    )]
    pub new_password: String,
}

impl Validate for ResetPasswordRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        e.check(validate::email("email", &mut self.email));
        if self.code.len() != 6 || !self.code.bytes().all(|b| b.is_ascii_digit()) {
            e.push("code", "must be the 6-digit code from the e-mail");
        }
        e.check(auth::check_password_policy(
            "new_password",
            &self.new_password,
            Some(&self.email),
        ));
        e.finish()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(min_length = 1)]
    pub current_password: String,
    /// As at registration: 10–128 characters with a letter and a digit, and not the current one.
    #[schema(
        min_length = 10,
        max_length = 128,
        pattern = r"^(?=.*[A-Za-z])(?=.*[0-9])"
    )]
    pub new_password: String,
}

impl Validate for ChangePasswordRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        if self.current_password.is_empty() {
            e.push("current_password", "is required");
        }
        e.check(auth::check_password_policy(
            "new_password",
            &self.new_password,
            None,
        ));
        if self.current_password == self.new_password {
            e.push("new_password", "must differ from the current password");
        }
        e.finish()
    }
}

/// A fresh session: a short-lived access token and a rotating refresh token.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub message: String,
}
