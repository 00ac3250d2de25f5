//! The bad-input battery, driven by the served OpenAPI document so every route is covered:
//! missing / extra / wrong-typed fields, empty and non-JSON bodies, a 1 MB body, and
//! malformed / expired / wrongly signed / `alg: none` tokens. Each must be a 4xx problem JSON
//! that says what is wrong — never a 500 — and must write nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use e2e::{Ctx, PASSWORD, Reply, unique_email};
use reqwest::Method;
use serde_json::{Value, json};

struct Op {
    method: Method,
    path: String,
    secured: bool,
    body_schema: Option<Value>,
}

fn resolve(doc: &Value, schema: &Value) -> Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => resolve(
            doc,
            &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
        ),
        None => schema.clone(),
    }
}

async fn operations(ctx: &Ctx) -> (Value, Vec<Op>) {
    let doc = ctx.get("/openapi.json", None).await.body;
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            // Provider webhooks (payments, carriers) speak the providers' protocols, not ours: any body that is not
            // the provider's signed bytes is refused by its signature check with the provider's
            // answer (tests/payments.rs), so the JSON-API expectations below do not apply.
            if op["tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == "webhooks"))
            {
                continue;
            }
            let body_schema = op["requestBody"]["content"]["application/json"]["schema"]
                .as_object()
                .map(|_| {
                    resolve(
                        &doc,
                        &op["requestBody"]["content"]["application/json"]["schema"],
                    )
                });
            ops.push(Op {
                method: method.to_uppercase().parse().unwrap(),
                // ids that exist nowhere: auth and validation must answer before any lookup
                path: path
                    .replace("{id}", "01JZZZZZZZZZZZZZZZZZZZZZZZ")
                    .replace("{user_id}", "01JZZZZZZZZZZZZZZZZZZZZZZY")
                    .replace("{sku}", "NO-SUCH-SKU")
                    .replace("{media_id}", "01JZZZZZZZZZZZZZZZZZZZZZZX")
                    .replace("{code}", "NOSUCHCODE")
                    .replace("{order_id}", "01JZZZZZZZZZZZZZZZZZZZZZZW"),
                secured: op["security"].as_array().is_some_and(|s| !s.is_empty()),
                body_schema,
            });
        }
    }
    assert!(ops.len() >= 18, "the document lists every identity route");
    (doc, ops)
}

async fn raw(
    ctx: &Ctx,
    op: &Op,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut req = ctx
        .http
        .request(op.method.clone(), format!("{}{}", ctx.base, op.path))
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    Ctx::read(req.send().await.unwrap()).await
}

#[track_caller]
fn assert_problem(r: &Reply, allowed: &[u16], what: &str) {
    assert!(
        allowed.contains(&r.status.as_u16()),
        "{what}: got {} {}",
        r.status,
        r.text
    );
    r.problem(r.status.as_u16());
}

/// A value of the wrong JSON type for a schema property.
fn wrong_type(prop: &Value) -> Value {
    match prop["type"].as_str().or_else(|| prop["type"][0].as_str()) {
        Some("string") => json!(12345),
        Some("array") => json!("not-an-array"),
        Some("integer" | "number") => json!("NaN"),
        Some("boolean") => json!("yes"),
        _ => json!(12345),
    }
}

#[tokio::test]
async fn every_route_rejects_bad_bodies_with_a_problem_naming_the_field() {
    let ctx = Ctx::new();
    let (doc, ops) = operations(&ctx).await;
    let (_, token, _) = ctx.user("battery").await;
    for op in ops.iter().filter(|o| o.body_schema.is_some()) {
        let schema = op.body_schema.as_ref().unwrap();
        let t = op.secured.then_some(token.as_str());
        let label = format!("{} {}", op.method, op.path);
        let json_ct = Some("application/json");

        assert_problem(
            &raw(&ctx, op, t, json_ct, Vec::new()).await,
            &[400],
            &format!("{label} empty body"),
        );
        assert_problem(
            &raw(&ctx, op, t, Some("text/plain"), b"hello".to_vec()).await,
            &[415],
            &format!("{label} text/plain"),
        );
        assert_problem(
            &raw(&ctx, op, t, None, b"{}".to_vec()).await,
            &[415],
            &format!("{label} no content type"),
        );
        assert_problem(
            &raw(&ctx, op, t, json_ct, b"{".to_vec()).await,
            &[400],
            &format!("{label} truncated JSON"),
        );
        assert_problem(
            &raw(&ctx, op, t, json_ct, b"[1,2,3]".to_vec()).await,
            &[422],
            &format!("{label} array body"),
        );
        let huge = format!("{{\"x\":\"{}\"}}", "a".repeat(1024 * 1024));
        assert_problem(
            &raw(&ctx, op, t, json_ct, huge.into_bytes()).await,
            &[413],
            &format!("{label} 1 MB body"),
        );

        // an unknown field is named
        let extra = ctx
            .send(
                op.method.clone(),
                &op.path,
                t,
                Some(json!({"is_admin": true})),
            )
            .await;
        assert_problem(&extra, &[422], &format!("{label} extra field"));
        assert!(
            extra.error_fields().contains(&"is_admin".to_owned()),
            "{label}: {}",
            extra.text
        );

        // each required field, when missing, is named
        let required: Vec<String> = schema["required"]
            .as_array()
            .map(|r| r.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        if !required.is_empty() {
            let missing = ctx
                .send(op.method.clone(), &op.path, t, Some(json!({})))
                .await;
            assert_problem(&missing, &[422], &format!("{label} missing fields"));
            assert!(
                required.contains(&missing.error_fields()[0]),
                "{label}: {} not among {required:?}",
                missing.text
            );
        }

        // each property with the wrong type is named
        for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
            let prop = resolve(&doc, prop);
            let mut body = serde_json::Map::new();
            body.insert(name.clone(), wrong_type(&prop));
            let r = ctx
                .send(op.method.clone(), &op.path, t, Some(Value::Object(body)))
                .await;
            assert_problem(&r, &[422], &format!("{label} wrong type for {name}"));
            assert!(
                r.error_fields().contains(name),
                "{label} wrong type for {name}: {}",
                r.text
            );
        }
    }
}

/// A token signed with `secret` under the key id of `kid_of` (the real secret's id, so that a
/// wrong-key token is refused for its signature, not its key id).
fn forge(secret: &[u8], kid_of: &[u8], claims: Value) -> String {
    let header = jsonwebtoken::Header {
        kid: Some(e2e::jwt_kid(kid_of)),
        ..Default::default()
    };
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

#[tokio::test]
async fn every_secured_route_rejects_bad_tokens() {
    let ctx = Ctx::new();
    let (_, ops) = operations(&ctx).await;
    let (user_id, _, _) = ctx.user("tokens").await;
    let secret = ctx.jwt_secret().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = |iat: i64, exp: i64| json!({"sub": user_id, "sv": 0, "roles": ["admin"], "iat": iat, "exp": exp, "iss": "commerce", "aud": "commerce-api"});
    let expired = forge(&secret, &secret, claims(now - 7200, now - 3600));
    let wrong_key = forge(
        b"not-the-real-secret-not-the-real-secret",
        &secret,
        claims(now, now + 600),
    );
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims(now, now + 600).to_string())
    );
    // a well-signed token is accepted (so the rejections below are about the defects)
    let good = forge(&secret, &secret, claims(now, now + 600));
    assert_eq!(ctx.get("/api/v1/users/me", Some(&good)).await.status, 200);

    let secured: Vec<&Op> = ops.iter().filter(|o| o.secured).collect();
    assert!(secured.len() >= 11);
    for op in secured {
        let label = format!("{} {}", op.method, op.path);
        for (what, header) in [
            ("no header", None),
            ("malformed", Some("Bearer not.a.jwt".to_owned())),
            ("garbage scheme", Some("Basic dXNlcjpwYXNz".to_owned())),
            ("expired", Some(format!("Bearer {expired}"))),
            ("wrong signature", Some(format!("Bearer {wrong_key}"))),
            ("alg none", Some(format!("Bearer {alg_none}"))),
        ] {
            let mut req = ctx
                .http
                .request(op.method.clone(), format!("{}{}", ctx.base, op.path))
                .json(&json!({}));
            if let Some(h) = &header {
                req = req.header("authorization", h);
            }
            let r = Ctx::read(req.send().await.unwrap()).await;
            assert_problem(&r, &[401], &format!("{label} {what}"));
            assert_eq!(r.headers["www-authenticate"], "Bearer");
            if what == "expired" {
                assert!(
                    r.body["detail"].as_str().unwrap().contains("expired"),
                    "{}",
                    r.text
                );
            }
        }
    }
}

#[tokio::test]
async fn invalid_registrations_name_the_field_and_write_nothing() {
    let ctx = Ctx::new();
    let email = unique_email("bad");
    for (body, field) in [
        (
            json!({"email": "not-an-email", "password": PASSWORD, "name": "A"}),
            "email",
        ),
        (
            json!({"email": email, "password": "short1", "name": "A"}),
            "password",
        ),
        (
            json!({"email": email, "password": "onlyletterspassword", "name": "A"}),
            "password",
        ),
        (
            json!({"email": email, "password": PASSWORD, "name": "   "}),
            "name",
        ),
        (
            json!({"email": email, "password": PASSWORD, "name": "A", "role": "admin"}),
            "role",
        ),
        (json!({"email": email, "password": PASSWORD}), "name"),
    ] {
        let r = ctx.post("/api/v1/auth/register", None, body.clone()).await;
        r.problem(422);
        assert!(
            r.error_fields().contains(&field.to_owned()),
            "{body}: {}",
            r.text
        );
    }
    // none of the rejected attempts reserved the address
    ctx.login(&email, PASSWORD).await.problem(401);
    assert_eq!(ctx.register(&email, PASSWORD).await.status, 201);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems_too() {
    let ctx = Ctx::new();
    ctx.get("/api/v1/nope", None).await.problem(404);
    ctx.delete("/api/v1/auth/login", None).await.problem(405);
    let (_, t, _) = ctx.user("q").await;
    ctx.put("/api/v1/users/me", Some(&t), json!({}))
        .await
        .problem(422);
    let r = ctx.post("/api/v1/users/me/addresses", Some(&t), json!({"recipient_name": "A", "phone": "12", "line1": "x", "city": "y", "country": "Vietnam"})).await;
    r.problem(422);
    let fields = r.error_fields();
    assert!(
        fields.contains(&"phone".to_owned()) && fields.contains(&"country".to_owned()),
        "{}",
        r.text
    );
    ctx.get("/api/v1/users?limit=0", Some(&t))
        .await
        .problem(403);
}
