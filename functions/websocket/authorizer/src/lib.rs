//! The Lambda REQUEST authorizer of the live-tracking WebSocket API's `$connect` route.
//!
//! Browsers cannot set headers on a WebSocket handshake, so the access token travels in the
//! query string (`wss://…/dev?token=<jwt>`, the template's identity source
//! `route.request.querystring.token`). The token is checked as the HTTP API's `AuthUser` checks
//! a bearer token — signature, key id, issuer, audience, expiry, then the user: active, with the
//! token's session version — and the answer is an IAM policy for the `methodArn`:
//!
//! - allowed: `Allow execute-api:Invoke`, principal = the user id, and the context
//!   `{user_id, roles}` (roles comma-separated, [`shared::shipments::roles_context`]) that API
//!   Gateway hands every later route of the connection;
//! - refused (forged, expired or garbage token, unknown or disabled user, ended session):
//!   `Deny`, which API Gateway answers with 403 and no connection. Without a `token` parameter
//!   API Gateway answers 401 before calling the authorizer at all.
//!
//! A storage failure is an error (API Gateway answers 500): never an Allow.

use std::sync::Arc;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use serde_json::{Value, json};
use shared::auth::{Claims, JwtKeys, Role, TokenError};
use shared::identity::{UserRecord, load_user};
use shared::store::{Db, StoreError};

/// The query-string parameter that carries the access token.
pub const TOKEN_PARAM: &str = "token";

/// Why a connection attempt is refused (logged; the client only sees 401/403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NoToken,
    Expired,
    Invalid,
    /// Unknown or disabled user, or a session ended since the token was issued.
    StaleSession,
}

/// Who connects, once allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub roles: Vec<Role>,
}

pub type Decision = Result<Caller, Refusal>;

/// The token's own checks (no I/O).
pub fn verify_token(keys: &JwtKeys, token: Option<&str>) -> Result<Claims, Refusal> {
    let token = token.map(str::trim).filter(|t| !t.is_empty());
    keys.verify(token.ok_or(Refusal::NoToken)?)
        .map_err(|e| match e {
            TokenError::Expired => Refusal::Expired,
            TokenError::Invalid => Refusal::Invalid,
        })
}

/// The user behind valid claims, as `shared::http::AuthUser` requires it: it exists, is
/// active, and its session version is the token's. The roles are the user's current ones.
pub fn check_session(claims: &Claims, user: Option<&UserRecord>) -> Decision {
    match user {
        Some(u) if u.is_active() && u.session_version == claims.sv && u.id == claims.sub => {
            Ok(Caller {
                user_id: u.id.clone(),
                roles: u.roles.clone(),
            })
        }
        _ => Err(Refusal::StaleSession),
    }
}

/// The authorizer's answer for a decision on `method_arn`.
pub fn policy(decision: &Decision, method_arn: &str) -> ApiGatewayCustomAuthorizerResponse {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".into()];
    statement.resource = vec![method_arn.to_owned()];
    let mut document = ApiGatewayCustomAuthorizerPolicy::default();
    document.version = Some("2012-10-17".into());
    let mut response = ApiGatewayCustomAuthorizerResponse::<Value>::default();
    match decision {
        Ok(caller) => {
            statement.effect = IamPolicyEffect::Allow;
            response.principal_id = Some(caller.user_id.clone());
            response.context = json!({
                "user_id": caller.user_id,
                "roles": shared::shipments::roles_context(&caller.roles),
            });
        }
        Err(_) => {
            statement.effect = IamPolicyEffect::Deny;
            response.principal_id = Some("anonymous".into());
            response.context = json!({});
        }
    }
    document.statement = vec![statement];
    response.policy_document = document;
    response
}

pub struct Authorizer {
    pub db: Db,
    pub keys: Arc<JwtKeys>,
}

impl Authorizer {
    pub fn new(db: Db, keys: Arc<JwtKeys>) -> Self {
        Self { db, keys }
    }

    /// The table and the JWT secret, read as `AppState::from_env` reads them.
    pub async fn from_env() -> anyhow::Result<Self> {
        let config = shared::config::Config::from_env()?;
        let sdk = shared::state::aws_config().await;
        let secret = shared::state::load_jwt_secret(&sdk, &config.jwt_secret_arn).await?;
        Ok(Self::new(
            Db::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name),
            Arc::new(JwtKeys::new(&secret)),
        ))
    }

    /// Verifies the token, then reads the user (only for a token that verified).
    pub async fn decide(&self, token: Option<&str>) -> Result<Decision, StoreError> {
        let claims = match verify_token(&self.keys, token) {
            Ok(claims) => claims,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let user = load_user(&self.db, &claims.sub).await?;
        Ok(check_session(&claims, user.as_ref()))
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    pub async fn handle(
        &self,
        event: ApiGatewayCustomAuthorizerRequestTypeRequest,
    ) -> anyhow::Result<ApiGatewayCustomAuthorizerResponse> {
        let token = event.query_string_parameters.first(TOKEN_PARAM);
        let mut decision = self.decide(token).await?;
        let method_arn = event.method_arn.unwrap_or_default();
        if method_arn.is_empty() {
            decision = Err(Refusal::Invalid);
        }
        match &decision {
            Ok(caller) => {
                tracing::Span::current().record("user_id", caller.user_id.as_str());
                tracing::info!("connection allowed");
            }
            Err(refusal) => tracing::info!(?refusal, "connection refused"),
        }
        Ok(policy(
            &decision,
            if method_arn.is_empty() {
                "*"
            } else {
                &method_arn
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"authorizer-test-secret-authorizer-test-secret";
    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/$connect";

    fn user(active: bool, session_version: u64) -> UserRecord {
        let mut user = UserRecord::new(
            "u1".into(),
            "a@example.com".into(),
            "A".into(),
            "x".into(),
            vec![Role::Buyer, Role::Seller],
        );
        user.session_version = session_version;
        if !active {
            user.status = shared::identity::UserStatus::Disabled;
        }
        user
    }

    #[test]
    fn the_fixture_is_the_event_api_gateway_sends() {
        let event: ApiGatewayCustomAuthorizerRequestTypeRequest = serde_json::from_str(
            include_str!("../../../../events/apigw-ws-authorizer-connect.json"),
        )
        .unwrap();
        assert_eq!(
            event.query_string_parameters.first(TOKEN_PARAM),
            Some("not-a-real-token")
        );
        assert!(event.method_arn.unwrap().ends_with("/dev/$connect"));
        let keys = JwtKeys::new(SECRET);
        assert_eq!(
            verify_token(&keys, event.query_string_parameters.first(TOKEN_PARAM)).unwrap_err(),
            Refusal::Invalid
        );
    }

    #[test]
    fn only_a_token_signed_with_the_secret_and_not_expired_verifies() {
        let keys = JwtKeys::new(SECRET);
        let now = shared::now_epoch();
        let good = keys.issue("u1", 3, &[Role::Buyer], now);
        assert_eq!(verify_token(&keys, Some(&good)).unwrap().sub, "u1");
        let expired = keys.issue("u1", 3, &[Role::Buyer], now - 3600);
        assert_eq!(
            verify_token(&keys, Some(&expired)).unwrap_err(),
            Refusal::Expired
        );
        let forged = JwtKeys::new(b"another-secret-another-secret-another-secret").issue(
            "u1",
            3,
            &[Role::Buyer],
            now,
        );
        assert_eq!(
            verify_token(&keys, Some(&forged)).unwrap_err(),
            Refusal::Invalid
        );
        assert_eq!(
            verify_token(&keys, Some("garbage")).unwrap_err(),
            Refusal::Invalid
        );
        assert_eq!(
            verify_token(&keys, Some("  ")).unwrap_err(),
            Refusal::NoToken
        );
        assert_eq!(verify_token(&keys, None).unwrap_err(), Refusal::NoToken);
    }

    #[test]
    fn an_ended_session_or_a_disabled_user_is_refused() {
        let keys = JwtKeys::new(SECRET);
        let claims = keys
            .verify(&keys.issue("u1", 3, &[Role::Buyer], shared::now_epoch()))
            .unwrap();
        let allowed = check_session(&claims, Some(&user(true, 3))).unwrap();
        assert_eq!(allowed.user_id, "u1");
        assert_eq!(
            allowed.roles,
            [Role::Buyer, Role::Seller],
            "the user's current roles"
        );
        assert_eq!(
            check_session(&claims, Some(&user(true, 4))),
            Err(Refusal::StaleSession)
        );
        assert_eq!(
            check_session(&claims, Some(&user(false, 3))),
            Err(Refusal::StaleSession)
        );
        assert_eq!(check_session(&claims, None), Err(Refusal::StaleSession));
    }

    #[test]
    fn allow_names_the_user_and_deny_gives_nothing_away() {
        let caller = Caller {
            user_id: "u1".into(),
            roles: vec![Role::Buyer, Role::Admin],
        };
        let allow = serde_json::to_value(policy(&Ok(caller), ARN)).unwrap();
        assert_eq!(allow["principalId"], "u1");
        assert_eq!(allow["policyDocument"]["Version"], "2012-10-17");
        let statement = &allow["policyDocument"]["Statement"][0];
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(statement["Action"], json!(["execute-api:Invoke"]));
        assert_eq!(statement["Resource"], json!([ARN]));
        assert_eq!(
            allow["context"],
            json!({"user_id": "u1", "roles": "buyer,admin"})
        );

        let deny = serde_json::to_value(policy(&Err(Refusal::Expired), ARN)).unwrap();
        assert_eq!(deny["policyDocument"]["Statement"][0]["Effect"], "Deny");
        assert_eq!(deny["context"], json!({}));
        assert_ne!(deny["principalId"], "u1");
    }
}
