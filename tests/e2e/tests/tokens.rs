//! Access tokens the API must refuse with 401 on the authenticated routes of every function (a
//! read and a write of each, where it has them): signed with another key, expired, `alg: none`
//! or another algorithm, without or with another `kid`, without or with a wrong `aud` / `iss` /
//! `exp`, tampered, garbage, of a user who does not exist, of an ended session and of a disabled
//! user. The tokens are forged with the real signing secret (read from the emulator), so a
//! token forged with everything right must pass exactly like one the API issued — which proves
//! the refusals are about the defects. (`bad_input.rs` sends its malformed, expired, wrongly
//! signed and `alg: none` tokens to every authenticated route.)

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use e2e::{Ctx, Reply, jwt_kid};
use futures::StreamExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// An id that names nothing: authentication must answer before any lookup.
const NO_SUCH_ID: &str = "01JZZZZZZZZZZZZZZZZZZZZZZZ";
const ISSUER: &str = "commerce";
const AUDIENCE: &str = "commerce-api";

/// The OpenAPI tags of the route groups, each served by one function (`users` and `admin`:
/// api-users; `catalog`: api-products).
const FUNCTIONS: [&str; 13] = [
    "auth",
    "users",
    "admin",
    "shops",
    "catalog",
    "inventory",
    "cart",
    "vouchers",
    "orders",
    "payments",
    "discovery",
    "shipping",
    "notifications",
];

struct Route {
    method: reqwest::Method,
    path: String,
}

/// Per function, the first authenticated read and the first authenticated write of the served
/// OpenAPI document, their path parameters filled with ids that exist nowhere.
async fn sampled_routes(ctx: &Ctx) -> Vec<Route> {
    let doc = ctx.get("/openapi.json", None).await.body;
    let mut routes = Vec::new();
    for function in FUNCTIONS {
        let mut read = None;
        let mut write = None;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
                let ours = op["tags"].as_array().is_some_and(|t| t[0] == function);
                let slot = if method == "get" {
                    &mut read
                } else {
                    &mut write
                };
                if secured && ours && slot.is_none() {
                    *slot = Some(Route {
                        method: method.to_uppercase().parse().unwrap(),
                        path: path
                            .split('/')
                            .map(|s| if s.starts_with('{') { NO_SUCH_ID } else { s })
                            .collect::<Vec<_>>()
                            .join("/"),
                    });
                }
            }
        }
        assert!(
            read.is_some() || write.is_some(),
            "no authenticated route of {function} in the document"
        );
        routes.extend(read.into_iter().chain(write));
    }
    routes
}

/// Calls a route with `authorization: Bearer <token>` and an empty JSON object for a body
/// (the token is checked before the body is read).
async fn call(ctx: &Ctx, route: &Route, token: &str) -> Reply {
    let mut req = ctx
        .http
        .request(route.method.clone(), format!("{}{}", ctx.base, route.path))
        .bearer_auth(token);
    if matches!(route.method, reqwest::Method::POST | reqwest::Method::PUT) {
        req = req.json(&json!({}));
    }
    Ctx::read(req.send().await.expect("the dev server answers")).await
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Forges tokens for one user with the real signing secret.
struct Forger {
    secret: Vec<u8>,
    kid: String,
    user_id: String,
}

impl Forger {
    async fn new(ctx: &Ctx, user_id: &str) -> Self {
        let secret = ctx.jwt_secret().await;
        Self {
            kid: jwt_kid(&secret),
            secret,
            user_id: user_id.to_owned(),
        }
    }

    /// The claims the API issues: subject, session version 0 (a new account's), roles, issued
    /// now, valid 10 minutes, issuer and audience.
    fn claims(&self) -> Value {
        json!({"sub": self.user_id, "sv": 0, "roles": ["buyer"], "iat": now(), "exp": now() + 600,
               "iss": ISSUER, "aud": AUDIENCE})
    }

    fn sign(&self, alg: Algorithm, kid: Option<&str>, claims: &Value, key: &[u8]) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(key)).unwrap()
    }

    /// HS256 with the real secret and its kid.
    fn signed(&self, claims: &Value) -> String {
        self.sign(Algorithm::HS256, Some(&self.kid), claims, &self.secret)
    }

    /// The claims with `changes` applied (a `null` removes the claim).
    fn with(&self, changes: Value) -> String {
        let mut claims = self.claims();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        self.signed(&claims)
    }

    fn good(&self) -> String {
        self.signed(&self.claims())
    }
}

/// Calls every route with every token (a few at a time) and lists what was not a 401 problem
/// with `WWW-Authenticate: Bearer`, by token.
async fn refusals(ctx: &Ctx, routes: &[Route], tokens: &[(&str, String)]) -> Vec<String> {
    let calls = tokens
        .iter()
        .flat_map(|(what, token)| routes.iter().map(move |route| (what, token, route)));
    let mut failures: Vec<String> = futures::stream::iter(calls)
        .map(|(what, token, route)| async move {
            let r = call(ctx, route, token).await;
            let refused = r.status == 401
                && r.content_type() == "application/problem+json"
                && r.headers
                    .get("www-authenticate")
                    .is_some_and(|v| v == "Bearer");
            (!refused).then(|| {
                let text: String = r.text.chars().take(160).collect();
                format!(
                    "{what}: {} {} answered {} {text}",
                    route.method, route.path, r.status
                )
            })
        })
        .buffer_unordered(8)
        .filter_map(|f| async move { f })
        .collect()
        .await;
    failures.sort();
    failures
}

#[tokio::test]
async fn a_token_forged_with_the_right_key_kid_and_claims_passes_like_an_issued_one() {
    let ctx = Ctx::new();
    let routes = sampled_routes(&ctx).await;
    let (user_id, issued, _) = ctx.user("forged-ok").await;
    let forged = Forger::new(&ctx, &user_id).await.good();
    // Per route the issued token first, then the forged one: both meet the same state.
    let failures: Vec<String> = futures::stream::iter(&routes)
        .map(|route| {
            let (ctx, issued, forged) = (&ctx, &issued, &forged);
            async move {
                let real = call(ctx, route, issued).await;
                let fake = call(ctx, route, forged).await;
                (real.status == 401 || fake.status != real.status).then(|| {
                    format!(
                        "{} {}: the issued token got {}, the forged one {} {}",
                        route.method, route.path, real.status, fake.status, fake.text
                    )
                })
            }
        })
        .buffer_unordered(8)
        .filter_map(|f| async move { f })
        .collect()
        .await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn defective_tokens_are_refused_with_401_by_every_function() {
    let ctx = Ctx::new();
    let routes = sampled_routes(&ctx).await;
    let (user_id, _, _) = ctx.user("forged-bad").await;
    let f = Forger::new(&ctx, &user_id).await;
    let t = now();

    // A user an admin disables: their issued token, and one forged with the session version
    // the disabling set, both stop working.
    let admin = ctx.admin_token().await;
    let (disabled_id, disabled_token, _) = ctx.user("disabled").await;
    assert_eq!(
        ctx.get("/api/v1/users/me", Some(&disabled_token))
            .await
            .status,
        200
    );
    let r = ctx
        .put(
            &format!("/api/v1/users/{disabled_id}/status"),
            Some(&admin),
            json!({"status": "disabled", "reason": "token tests"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Disabling moved the session version from 0 to 1; re-enabled below, this token passes.
    let disabled_now = Forger::new(&ctx, &disabled_id).await.with(json!({"sv": 1}));

    let unsigned = |header: Value| {
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(f.claims().to_string())
        )
    };
    let good = f.good();
    let (head, _) = good.split_once('.').unwrap();
    let sig = good.rsplit('.').next().unwrap();
    let elevated = json!({"sub": user_id, "sv": 0, "roles": ["admin"], "iat": t, "exp": t + 600, "iss": ISSUER, "aud": AUDIENCE});
    let tampered = format!(
        "{head}.{}.{sig}",
        URL_SAFE_NO_PAD.encode(elevated.to_string())
    );
    let tokens = [
        (
            "signed with another key",
            f.sign(
                Algorithm::HS256,
                Some(&f.kid),
                &f.claims(),
                b"another-secret-another-secret-another",
            ),
        ),
        (
            "expired an hour ago",
            f.with(json!({"iat": t - 7200, "exp": t - 3600})),
        ),
        (
            "alg none",
            unsigned(json!({"alg": "none", "typ": "JWT", "kid": f.kid})),
        ),
        (
            "HS512, with the right key",
            f.sign(Algorithm::HS512, Some(&f.kid), &f.claims(), &f.secret),
        ),
        ("without aud", f.with(json!({"aud": null}))),
        ("without iss", f.with(json!({"iss": null}))),
        ("without exp", f.with(json!({"exp": null}))),
        (
            "for another audience",
            f.with(json!({"aud": "commerce-admin"})),
        ),
        (
            "from another issuer",
            f.with(json!({"iss": "someone-else"})),
        ),
        ("claims changed after signing", tampered),
        (
            "of a user who does not exist",
            f.with(json!({"sub": NO_SUCH_ID})),
        ),
        ("of an ended session", f.with(json!({"sv": 7}))),
        ("garbage", "not-a-token".to_owned()),
        ("three garbage parts", "bm90.YS10b2tlbg.c2ln".to_owned()),
        ("of a disabled user, as issued", disabled_token),
        (
            "of a disabled user, forged for its current session",
            disabled_now,
        ),
    ];
    let failures = refusals(&ctx, &routes, &tokens).await;
    // The disabled user's forged token was refused for the account's status alone.
    let r = ctx
        .put(
            &format!("/api/v1/users/{disabled_id}/status"),
            Some(&admin),
            json!({"status": "active"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (_, current) = &tokens[tokens.len() - 1];
    assert_eq!(ctx.get("/api/v1/users/me", Some(current)).await.status, 200);
    assert!(
        failures.is_empty(),
        "{} of {} calls accepted a defective token:\n{}",
        failures.len(),
        routes.len() * tokens.len(),
        failures.join("\n")
    );
}

/// The kid names the signing key (the first 16 hex digits of SHA-256 of the secret); a token
/// without it, or with another key's, is refused before its signature is looked at.
#[tokio::test]
async fn tokens_without_the_kid_of_the_signing_key_are_refused_by_every_function() {
    let ctx = Ctx::new();
    let routes = sampled_routes(&ctx).await;
    let (user_id, _, _) = ctx.user("forged-kid").await;
    let f = Forger::new(&ctx, &user_id).await;
    let tokens = [
        (
            "without kid",
            f.sign(Algorithm::HS256, None, &f.claims(), &f.secret),
        ),
        (
            "with another key's kid",
            f.sign(
                Algorithm::HS256,
                Some(&jwt_kid(b"a rotated-out secret")),
                &f.claims(),
                &f.secret,
            ),
        ),
    ];
    let failures = refusals(&ctx, &routes, &tokens).await;
    assert!(
        failures.is_empty(),
        "{} of {} calls accepted a token without the signing key's kid:\n{}",
        failures.len(),
        routes.len() * tokens.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn issued_tokens_name_the_signing_key_by_kid() {
    let ctx = Ctx::new();
    let (_, issued, _) = ctx.user("kid").await;
    let header = jsonwebtoken::decode_header(&issued).unwrap();
    assert_eq!(header.alg, Algorithm::HS256);
    assert_eq!(header.kid, Some(jwt_kid(&ctx.jwt_secret().await)));
}
