//! Identity primitives: roles, JWT access tokens (HS256, verified strictly), argon2id password
//! hashing and policy, opaque random tokens (refresh, verification) and one-time codes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm as JwtAlg, DecodingKey, EncodingKey, Header, Validation};
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::error::FieldError;

/// Lifetime of an access token.
pub const ACCESS_TOKEN_TTL_SECS: i64 = 15 * 60;
/// Lifetime of a refresh-token family (one login session), counted from login.
pub const REFRESH_FAMILY_TTL_SECS: i64 = 30 * 24 * 3600;
const ISSUER: &str = "commerce";
const AUDIENCE: &str = "commerce-api";

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Buyer,
    Seller,
    Shipper,
    Admin,
}

/// Claims of an access token. `sv` is the user's session version: bumping it (password change,
/// reset, disable) invalidates every token issued before.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub sv: u64,
    pub roles: Vec<Role>,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

/// Signing and verification keys derived from the JWT secret.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Key id sent in every token's header and required on verify: the first 16 hex digits of
    /// SHA-256(secret). It names the key without revealing it, so a rotated secret's tokens are
    /// told apart (and refused) before any signature work.
    kid: String,
    /// Key for HMAC-ing short one-time codes before they are stored.
    code_key: Vec<u8>,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(..)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is invalid")]
    Invalid,
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(JwtAlg::HS256);
        validation.leeway = 5;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        let code_key = Sha256::new_with_prefix(b"one-time-codes")
            .chain_update(secret)
            .finalize()
            .to_vec();
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            kid: key_id(secret),
            code_key,
        }
    }

    pub fn issue(&self, user_id: &str, session_version: u64, roles: &[Role], now: i64) -> String {
        let claims = Claims {
            sub: user_id.to_owned(),
            sv: session_version,
            roles: roles.to_vec(),
            iat: now,
            exp: now + ACCESS_TOKEN_TTL_SECS,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        };
        let mut header = Header::new(JwtAlg::HS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding).expect("HS256 signing cannot fail")
    }

    /// Verifies the key id, signature, algorithm (HS256 only: `none` and others are rejected),
    /// issuer, audience and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(TokenError::Invalid);
        }
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }

    /// Keyed hash of a short code (a bare SHA-256 of a 6-digit code is trivially reversible).
    pub fn hash_code(&self, scope: &str, code: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.code_key).expect("any key length works");
        mac.update(scope.as_bytes());
        mac.update(b":");
        mac.update(code.as_bytes());
        hex(&mac.finalize().into_bytes())
    }
}

/// The public id of a signing secret (see `JwtKeys::kid`).
pub fn key_id(secret: &[u8]) -> String {
    hex(&Sha256::digest(secret))[..16].to_owned()
}

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane.
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("valid params"),
    )
}

/// Hashes a password with argon2id (PHC string). CPU-bound: call from `spawn_blocking`.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing cannot fail with valid params")
        .to_string()
}

/// Constant-time verification against a stored PHC string. CPU-bound: call from `spawn_blocking`.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a throw-away password, verified against when an account does not exist so a
/// failed login costs the same time either way.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not-a-real-password-0"))
}

pub const PASSWORD_MIN_LEN: usize = 10;
pub const PASSWORD_MAX_LEN: usize = 128;
const COMMON_PASSWORDS: [&str; 12] = [
    "password12",
    "password123",
    "1234567890",
    "qwertyuiop",
    "iloveyou12",
    "letmein123",
    "welcome123",
    "admin12345",
    "passw0rd12",
    "abc1234567",
    "qwerty1234",
    "1q2w3e4r5t",
];

/// Password policy (NIST 800-63B flavoured): 10–128 characters, at least one letter and one
/// digit, not a well-known password, not containing the e-mail's local part.
pub fn check_password_policy(
    field: &str,
    password: &str,
    email: Option<&str>,
) -> Result<(), FieldError> {
    let len = password.chars().count();
    let fail = |m: &str| Err(FieldError::new(field, m));
    if len < PASSWORD_MIN_LEN {
        return fail("must be at least 10 characters long");
    }
    if len > PASSWORD_MAX_LEN {
        return fail("must be at most 128 characters long");
    }
    if !password.chars().any(char::is_alphabetic) || !password.chars().any(|c| c.is_ascii_digit()) {
        return fail("must contain at least one letter and one digit");
    }
    let lower = password.to_lowercase();
    if COMMON_PASSWORDS.contains(&lower.as_str()) {
        return fail("is too common");
    }
    if let Some(local) = email
        .and_then(|e| e.split('@').next())
        .filter(|l| l.len() >= 4)
        && lower.contains(&local.to_lowercase())
    {
        return fail("must not contain your e-mail address");
    }
    Ok(())
}

/// 32 random bytes, URL-safe: refresh-token secrets, verification tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A uniformly random 6-digit code.
pub fn six_digit_code() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

pub fn sha256_hex(data: &str) -> String {
    hex(&Sha256::digest(data.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_only_against_its_own_hash() {
        let h = hash_password("correct horse 1");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse 1", &h));
        assert!(!verify_password("correct horse 2", &h));
        assert!(!verify_password("correct horse 1", "garbage"));
    }

    #[test]
    fn weak_passwords_are_rejected_with_the_field_named() {
        assert_eq!(
            check_password_policy("password", "short1", None)
                .unwrap_err()
                .field,
            "password"
        );
        assert!(check_password_policy("p", "onlyletters", None).is_err());
        assert!(check_password_policy("p", "1234567890123", None).is_err());
        assert!(check_password_policy("p", "Password123", None).is_err());
        assert!(check_password_policy("p", "alice-secret-9", Some("alice@example.com")).is_err());
        assert!(check_password_policy("p", "tulip-river-42", Some("alice@example.com")).is_ok());
    }

    #[test]
    fn tokens_verify_and_tampering_is_detected() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let t = keys.issue("u1", 3, &[Role::Buyer], now);
        let claims = keys.verify(&t).unwrap();
        assert_eq!((claims.sub.as_str(), claims.sv), ("u1", 3));

        let other = JwtKeys::new(b"another-secret-another-secret-xx");
        assert_eq!(other.verify(&t).unwrap_err(), TokenError::Invalid);

        let expired = keys.issue("u1", 3, &[Role::Buyer], now - 3600);
        assert_eq!(keys.verify(&expired).unwrap_err(), TokenError::Expired);
    }

    #[test]
    fn tokens_carry_the_key_id_and_one_without_it_or_with_another_is_refused() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let keys = JwtKeys::new(secret);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let t = keys.issue("u1", 0, &[Role::Buyer], now);
        let header = jsonwebtoken::decode_header(&t).unwrap();
        assert_eq!(header.kid.as_deref(), Some(key_id(secret).as_str()));
        assert_eq!(key_id(secret).len(), 16);
        let claims = keys.verify(&t).unwrap();
        for kid in [None, Some("0000000000000000".to_owned())] {
            let mut h = Header::new(JwtAlg::HS256);
            h.kid = kid.clone();
            let forged =
                jsonwebtoken::encode(&h, &claims, &EncodingKey::from_secret(secret)).unwrap();
            assert_eq!(
                keys.verify(&forged).unwrap_err(),
                TokenError::Invalid,
                "{kid:?}"
            );
        }
    }

    #[test]
    fn alg_none_tokens_are_rejected() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(
            format!(r#"{{"sub":"u1","sv":0,"roles":["admin"],"iat":{now},"exp":{},"iss":"commerce","aud":"commerce-api"}}"#, now + 600)
                .as_bytes(),
        );
        assert_eq!(
            keys.verify(&format!("{header}.{body}.")).unwrap_err(),
            TokenError::Invalid
        );
    }

    #[test]
    fn codes_are_six_digits_and_hashes_are_keyed() {
        let code = six_digit_code();
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
        let a = JwtKeys::new(b"secret-a-secret-a-secret-a-secret");
        let b = JwtKeys::new(b"secret-b-secret-b-secret-b-secret");
        assert_ne!(a.hash_code("u1", "123456"), b.hash_code("u1", "123456"));
        assert_ne!(a.hash_code("u1", "123456"), a.hash_code("u2", "123456"));
    }
}
