//! The notification centre's routes (api-notifications) end to end: preferences and what they
//! refuse, a phone verified by the code texted to it, push devices (once per token, at most
//! ten), the inbox only its owner reaches, and the admins' broadcasts and templates. Delivery
//! itself is the notifier's (tests/notifications.rs).

use e2e::{Ctx, Reply};
use reqwest::Method;
use serde_json::{Value, json};

#[path = "support/inbox.rs"]
mod inbox;

const PREFS: &str = "/api/v1/notifications/preferences";

/// A phone number no other test uses (E.164, Vietnam).
fn phone() -> String {
    format!("+8496{:07}", ulid::Ulid::new().random() % 10_000_000)
}

#[track_caller]
fn names(r: &Reply, status: u16, field: &str) {
    r.problem(status);
    assert!(
        r.error_fields().iter().any(|f| f == field),
        "expected {field} named: {}",
        r.text
    );
}

async fn register_device(ctx: &Ctx, token: &str, device: &str) -> Reply {
    ctx.post(
        "/api/v1/notifications/push/register",
        Some(token),
        json!({"token": device, "platform": "android"}),
    )
    .await
}

#[tokio::test]
async fn preferences_reject_bad_input_naming_the_field() {
    let ctx = Ctx::new();
    let (_, token, _) = ctx.user("prefs-bad").await;
    let t = Some(token.as_str());

    let r = ctx
        .put(PREFS, t, json!({"channels": {"gossip": {"email": false}}}))
        .await;
    names(&r, 422, "channels.gossip");

    let r = ctx
        .put(
            PREFS,
            t,
            json!({"channels": {"security": {"email": false}}}),
        )
        .await;
    names(&r, 422, "channels.security.email");
    assert!(
        r.text.contains("cannot be turned off"),
        "the message says why: {}",
        r.text
    );

    let quiet = |start: &str, end: &str, zone: &str| json!({"quiet_hours": {"start": start, "end": end, "time_zone": zone}});
    let r = ctx
        .put(PREFS, t, quiet("25:00", "07:00", "Asia/Ho_Chi_Minh"))
        .await;
    names(&r, 422, "quiet_hours.start");
    let r = ctx
        .put(PREFS, t, quiet("22:00", "7:5", "Asia/Ho_Chi_Minh"))
        .await;
    names(&r, 422, "quiet_hours.end");
    let r = ctx
        .put(PREFS, t, quiet("22:00", "07:00", "Mars/Olympus_Mons"))
        .await;
    names(&r, 422, "quiet_hours.time_zone");
    let r = ctx.put(PREFS, t, json!({"language": "fr"})).await;
    names(&r, 422, "language");

    let r = register_device(&ctx, &token, &"x".repeat(5000)).await;
    names(&r, 422, "token");
    let r = register_device(&ctx, &token, "has a space").await;
    names(&r, 422, "token");
    let r = ctx
        .post(
            "/api/v1/notifications/push/register",
            t,
            json!({"token": "abc", "platform": "blackberry"}),
        )
        .await;
    names(&r, 422, "platform");

    for bad in ["0901234567", "+84 90 123 4567", "+0901234567", "call me"] {
        let r = ctx
            .post(&format!("{PREFS}/phone"), t, json!({"phone": bad}))
            .await;
        names(&r, 422, "phone");
    }

    // nothing of it was written
    let r = ctx.get(PREFS, t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["quiet_hours"], Value::Null, "{}", r.text);
    assert_eq!(r.body["phone"], Value::Null, "{}", r.text);
    assert_eq!(r.body["language"], "en", "{}", r.text);
}

#[tokio::test]
async fn preferences_round_trip_and_security_stays_on() {
    let ctx = Ctx::new();
    let (_, token, _) = ctx.user("prefs-trip").await;
    let t = Some(token.as_str());

    // GIVEN the defaults: every category on every channel, security mandatory
    let r = ctx.get(PREFS, t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    for category in [
        "orders",
        "payments",
        "shipping",
        "promotions",
        "account",
        "security",
    ] {
        let c = &r.body["channels"][category];
        assert_eq!(
            (
                c["in_app"].as_bool(),
                c["email"].as_bool(),
                c["sms"].as_bool(),
                c["push"].as_bool()
            ),
            (Some(true), Some(true), Some(true), Some(true)),
            "{category}: {}",
            r.text
        );
        assert_eq!(c["mandatory"], category == "security", "{}", r.text);
    }

    // WHEN the user turns order e-mail off, sets quiet hours and Vietnamese
    let r = ctx
        .put(
            PREFS,
            t,
            json!({
                "language": "vi",
                "channels": {"orders": {"email": false}, "security": {"email": true}},
                "quiet_hours": {"start": "22:00", "end": "07:00", "time_zone": "asia/ho_chi_minh"}
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // THEN a later read shows it, the rest untouched and security still on
    let r = ctx.get(PREFS, t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["language"], "vi");
    assert_eq!(r.body["channels"]["orders"]["email"], false, "{}", r.text);
    assert_eq!(r.body["channels"]["orders"]["in_app"], true);
    assert_eq!(r.body["channels"]["orders"]["push"], true);
    assert_eq!(r.body["channels"]["payments"]["email"], true);
    let security = &r.body["channels"]["security"];
    assert_eq!(security["mandatory"], true);
    assert_eq!(security["email"], true);
    assert_eq!(
        r.body["quiet_hours"],
        json!({"start": "22:00", "end": "07:00", "time_zone": "Asia/Ho_Chi_Minh"}),
        "the time zone is stored by its canonical name"
    );

    // a partial change keeps the rest; null clears the quiet hours
    let r = ctx
        .put(
            PREFS,
            t,
            json!({"channels": {"promotions": {"sms": false}}, "quiet_hours": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["channels"]["orders"]["email"], false, "{}", r.text);
    assert_eq!(r.body["channels"]["promotions"]["sms"], false);
    assert_eq!(r.body["quiet_hours"], Value::Null);
    assert_eq!(r.body["language"], "vi");
}

#[tokio::test]
async fn a_phone_is_verified_by_the_code_texted_to_it() {
    let ctx = Ctx::new();
    let (_, token, _) = ctx.user("phone").await;
    let t = Some(token.as_str());
    let number = phone();

    // no code asked for yet
    let r = ctx
        .post(
            &format!("{PREFS}/phone/verify"),
            t,
            json!({"code": "123456"}),
        )
        .await;
    r.problem(409);

    let r = ctx
        .post(&format!("{PREFS}/phone"), t, json!({"phone": number}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"phone": number, "verified": false, "expires_in_minutes": 10})
    );
    // one code a minute
    let again = ctx
        .post(&format!("{PREFS}/phone"), t, json!({"phone": number}))
        .await;
    again.problem(429);
    assert!(again.headers.contains_key("retry-after"));

    // the notifier texts the code (outbox → bus → queue → notifier → SNS)
    let sms = e2e::wait_for("the verification SMS", || e2e::sms_to(&number)).await;
    assert_eq!(sms.len(), 1, "one code, one SMS: {sms:?}");
    let code: String = sms[0]
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no 6-digit code in {sms:?}"))
        .to_owned();

    // a wrong code is refused and counted
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = ctx
        .post(&format!("{PREFS}/phone/verify"), t, json!({"code": wrong}))
        .await;
    names(&r, 422, "code");
    assert!(r.text.contains("4 tries left"), "{}", r.text);
    let r = ctx.get(PREFS, t).await;
    assert_eq!(
        r.body["phone"],
        json!({"number": number, "verified": false})
    );

    // the right one verifies the number
    let r = ctx
        .post(&format!("{PREFS}/phone/verify"), t, json!({"code": code}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"number": number, "verified": true}));
    let r = ctx.get(PREFS, t).await;
    assert_eq!(r.body["phone"], json!({"number": number, "verified": true}));
    assert!(!r.text.contains(&code), "the code is never shown");

    // and it cannot be used twice
    let r = ctx
        .post(&format!("{PREFS}/phone/verify"), t, json!({"code": code}))
        .await;
    r.problem(409);
}

#[tokio::test]
async fn a_phone_code_dies_after_five_wrong_tries() {
    let ctx = Ctx::new();
    let (_, token, _) = ctx.user("phone-dead").await;
    let t = Some(token.as_str());
    let r = ctx
        .post(&format!("{PREFS}/phone"), t, json!({"phone": phone()}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    for guess in ["100000", "200000", "300000", "400000", "500000"] {
        let r = ctx
            .post(&format!("{PREFS}/phone/verify"), t, json!({"code": guess}))
            .await;
        if r.status == 200 {
            return; // guessed it (one in 200 000): nothing more to see
        }
        names(&r, 422, "code");
    }
    // after five wrong codes even the right one is dead: ask for a new one
    let r = ctx
        .post(
            &format!("{PREFS}/phone/verify"),
            t,
            json!({"code": "700000"}),
        )
        .await;
    names(&r, 422, "code");
    assert!(r.text.contains("ask for a new one"), "{}", r.text);
}

#[tokio::test]
async fn devices_register_once_up_to_ten_and_unregister() {
    let ctx = Ctx::new();
    let (_, token, _) = ctx.user("devices").await;
    let device = |i: usize| format!("fcm-{}-{i}", ulid::Ulid::new());

    // the same token twice is one device
    let first = device(0);
    let r = register_device(&ctx, &token, &first).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["device_id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["platform"], "android");
    assert!(!r.text.contains(&first), "the token is not echoed");
    let r = register_device(&ctx, &token, &first).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["device_id"], id.as_str());

    // ten in all are fine; the eleventh is refused, naming the limit
    for i in 1..10 {
        let r = register_device(&ctx, &token, &device(i)).await;
        assert_eq!(r.status, 201, "device {i}: {}", r.text);
    }
    let eleventh = device(10);
    let r = register_device(&ctx, &token, &eleventh).await;
    r.problem(409);
    assert!(r.text.contains("10 devices"), "{}", r.text);
    // a registered one still answers as itself
    assert_eq!(register_device(&ctx, &token, &first).await.status, 200);

    // unregistering frees a place
    let unregister = |device: String| {
        let ctx = &ctx;
        let token = &token;
        async move {
            ctx.send(
                Method::DELETE,
                "/api/v1/notifications/push/unregister",
                Some(token),
                Some(json!({"token": device})),
            )
            .await
        }
    };
    let r = unregister(first.clone()).await;
    assert_eq!(r.status, 204, "{}", r.text);
    unregister(first.clone()).await.problem(404);
    unregister(eleventh.clone()).await.problem(404);
    let r = register_device(&ctx, &token, &eleventh).await;
    assert_eq!(r.status, 201, "a place was freed: {}", r.text);

    // another user's registration is theirs: unregistering someone else's token is a 404
    let (_, other, _) = ctx.user("devices-other").await;
    let r = ctx
        .send(
            Method::DELETE,
            "/api/v1/notifications/push/unregister",
            Some(&other),
            Some(json!({"token": eleventh})),
        )
        .await;
    r.problem(404);
}

#[tokio::test]
async fn nobody_touches_another_users_notifications_and_broadcasts_are_admin_only() {
    let ctx = Ctx::new();
    let ((a_id, a, _), (_, b, _), admin) =
        tokio::join!(ctx.user("inbox-a"), ctx.user("inbox-b"), ctx.admin_token());
    let older = inbox::seed_notification(&a_id).await;
    // ids sort by their ULID's millisecond
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let id = inbox::seed_notification(&a_id).await;

    // A sees both, newest first, unread
    let r = ctx.get("/api/v1/notifications", Some(&a)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ids: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str(), older.as_str()]);
    assert_eq!(r.body["unread_count"], 2);
    assert_eq!(r.body["items"][0]["read"], false);
    assert_eq!(r.body["items"][0]["category"], "orders");

    // B gets exactly what an id that does not exist gets: 404
    let read = format!("/api/v1/notifications/{id}/read");
    let one = format!("/api/v1/notifications/{id}");
    ctx.put(&read, Some(&b), json!({})).await.problem(404);
    ctx.delete(&one, Some(&b)).await.problem(404);
    let r = ctx.get("/api/v1/notifications", Some(&b)).await;
    assert_eq!(r.body["items"], json!([]));
    assert_eq!(r.body["unread_count"], 0);
    for bad in [
        "NOTIF%23x.y",
        "nodot",
        "01JNOSUCHNOTIFICATION000000.order_update",
    ] {
        ctx.put(
            &format!("/api/v1/notifications/{bad}/read"),
            Some(&a),
            json!({}),
        )
        .await
        .problem(404);
    }
    // nor can B page through A's inbox with a cursor of A's partition
    let forged = shared::store::encode_cursor(&shared::store::key(
        shared::store::keys::notification(&a_id, &id),
    ));
    let r = ctx
        .get(&format!("/api/v1/notifications?cursor={forged}"), Some(&b))
        .await;
    names(&r, 422, "cursor");
    let r = ctx
        .get("/api/v1/notifications?cursor=not-a-cursor", Some(&b))
        .await;
    names(&r, 422, "cursor");

    // A marks one read (twice: the same answer), then the rest; the count follows
    let r = ctx.put(&read, Some(&a), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["read"], true);
    let read_at = r.body["read_at"].clone();
    assert!(read_at.is_string(), "{}", r.text);
    let r = ctx.put(&read, Some(&a), json!({})).await;
    assert_eq!((r.status.as_u16(), &r.body["read_at"]), (200, &read_at));
    let r = ctx.get("/api/v1/notifications?unread=true", Some(&a)).await;
    assert_eq!(r.body["unread_count"], 1, "{}", r.text);
    assert_eq!(r.body["items"][0]["id"], older.as_str());
    let r = ctx
        .post("/api/v1/notifications/mark-all-read", Some(&a), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"marked": 1, "unread_count": 0}));

    // deleting: an unread one lowers the count, then it is gone
    let fresh = inbox::seed_notification(&a_id).await;
    let r = ctx.get("/api/v1/notifications", Some(&a)).await;
    assert_eq!(r.body["unread_count"], 1);
    let r = ctx
        .delete(&format!("/api/v1/notifications/{fresh}"), Some(&a))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    ctx.delete(&format!("/api/v1/notifications/{fresh}"), Some(&a))
        .await
        .problem(404);
    let r = ctx.get("/api/v1/notifications", Some(&a)).await;
    assert_eq!(r.body["unread_count"], 0);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);

    // broadcasts and templates are the admins'
    let segment = json!({"user_ids": [a_id]});
    let email = json!({"segment": segment, "title": "Weekend sale", "message": "Up to 50% off."});
    let sms = json!({"segment": segment, "title": "Weekend sale", "message": "Up to 50% off."});
    let preview = json!({"kind": "order_confirmed", "channel": "email", "language": "vi"});
    for token in [&a, &b] {
        let t = Some(token.as_str());
        ctx.post("/api/v1/notifications/email/send", t, email.clone())
            .await
            .problem(403);
        ctx.post("/api/v1/notifications/sms/send", t, sms.clone())
            .await
            .problem(403);
        ctx.get("/api/v1/notifications/templates", t)
            .await
            .problem(403);
        ctx.post(
            "/api/v1/notifications/templates/preview",
            t,
            preview.clone(),
        )
        .await
        .problem(403);
    }
    let t = Some(admin.as_str());
    let r = ctx
        .post("/api/v1/notifications/email/send", t, email.clone())
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert!(
        r.body["broadcast_id"]
            .as_str()
            .is_some_and(|s| s.len() == 26)
    );
    let r = ctx.post("/api/v1/notifications/sms/send", t, sms).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(
        ctx.get("/api/v1/notifications/templates", t).await.status,
        200
    );

    // a broadcast's bad input names the field
    let r = ctx
        .post(
            "/api/v1/notifications/sms/send",
            t,
            json!({"segment": {"everyone": true}, "title": "T", "message": "x".repeat(481)}),
        )
        .await;
    names(&r, 422, "message");
    let r = ctx
        .post(
            "/api/v1/notifications/email/send",
            t,
            json!({"segment": {"everyone": false}, "title": "T", "message": "M"}),
        )
        .await;
    names(&r, 422, "segment.everyone");
    let too_many: Vec<String> = (0..501).map(|i| format!("U{i}")).collect();
    let r = ctx
        .post(
            "/api/v1/notifications/email/send",
            t,
            json!({"segment": {"user_ids": too_many}, "title": "T", "message": "M"}),
        )
        .await;
    names(&r, 422, "segment.user_ids");
    let r = ctx
        .post(
            "/api/v1/notifications/email/send",
            t,
            json!({"segment": {"role": "king"}, "title": "T", "message": "M"}),
        )
        .await;
    names(&r, 422, "segment.role");
}

fn template<'a>(list: &'a Reply, kind: &str, channel: &str, language: &str) -> &'a Value {
    list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == kind && t["channel"] == channel && t["language"] == language)
        .unwrap_or_else(|| panic!("no {kind} {channel} {language} template: {}", list.text))
}

#[tokio::test]
async fn admins_edit_and_preview_templates_and_bad_templates_are_422() {
    let ctx = Ctx::new();
    let admin = ctx.admin_token().await;
    let t = Some(admin.as_str());
    const TEMPLATES: &str = "/api/v1/notifications/templates";

    // every kind on each of its channels, in both languages
    let list = ctx.get(TEMPLATES, t).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let items = list.body["items"].as_array().unwrap();
    assert!(items.len() >= 30, "{}", items.len());
    for language in ["vi", "en"] {
        let reset = template(&list, "password_reset", "email", language);
        assert_eq!(reset["category"], "security");
        assert_eq!(reset["priority"], "critical");
        assert!(
            reset["variables"]
                .as_array()
                .unwrap()
                .contains(&json!("code"))
        );
    }
    assert!(
        !items
            .iter()
            .any(|t| t["kind"] == "password_reset" && t["channel"] == "sms"),
        "a kind lists only its own channels"
    );
    // (stock_low push: no other test looks at it; restored at the end)
    let builtin = template(&list, "stock_low", "push", "en").clone();
    assert_eq!(builtin["customised"], false);

    // bad templates are refused naming the field
    let save = |kind: &str, channel: &str, title: &str, body: &str| json!({"kind": kind, "channel": channel, "language": "en", "title": title, "body": body});
    let r = ctx
        .post(
            TEMPLATES,
            t,
            save("stock_low", "push", "Low stock", "Only {{nope}} left"),
        )
        .await;
    names(&r, 422, "body");
    assert!(r.text.contains("nope"), "{}", r.text);
    let r = ctx
        .post(
            TEMPLATES,
            t,
            save("stock_low", "push", "Low {{price}}", "x"),
        )
        .await;
    names(&r, 422, "title");
    let r = ctx
        .post(
            TEMPLATES,
            t,
            save("stock_low", "push", "Low", "Unclosed {{sku"),
        )
        .await;
    names(&r, 422, "body");
    let r = ctx
        .post(TEMPLATES, t, save("no_such_kind", "push", "T", "B"))
        .await;
    names(&r, 422, "kind");
    let r = ctx
        .post(TEMPLATES, t, save("stock_low", "sms", "", "B"))
        .await;
    names(&r, 422, "channel");
    let r = ctx
        .post(
            &format!("{TEMPLATES}/preview"),
            t,
            json!({"kind": "stock_low", "channel": "push", "language": "en", "body": "{{nope}}"}),
        )
        .await;
    names(&r, 422, "body");

    // a saved template is listed as customised and previewed with the kind's samples
    let r = ctx
        .post(
            TEMPLATES,
            t,
            save(
                "stock_low",
                "push",
                "Low stock: {{sku}}",
                "Only {{available}} left of {{sku}} (threshold {{threshold}}).",
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["customised"], true);
    assert_eq!(r.body["title"], "Low stock: {{sku}}");
    let list = ctx.get(TEMPLATES, t).await;
    assert_eq!(
        template(&list, "stock_low", "push", "en")["customised"],
        true
    );
    assert_eq!(
        template(&list, "stock_low", "push", "vi")["customised"],
        false
    );
    let r = ctx
        .post(
            &format!("{TEMPLATES}/preview"),
            t,
            json!({"kind": "stock_low", "channel": "push", "language": "en"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["title"], "Low stock: AO-THUN-TRANG-M", "{}", r.text);
    assert_eq!(
        r.body["text"], "Only 2 left of AO-THUN-TRANG-M (threshold 5).",
        "{}",
        r.text
    );
    assert!(r.body.get("html").is_none(), "HTML is for e-mail only");

    // an e-mail preview of a draft has HTML, the values escaped into it
    let r = ctx
        .post(
            &format!("{TEMPLATES}/preview"),
            t,
            json!({"kind": "order_confirmed", "channel": "email", "language": "vi",
                   "title": "Đơn {{order_id}}", "body": "Chào {{name}}, {{shop}} đã xác nhận."}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["title"], "Đơn 01JB7Q2M8X4K9ZP3T6W5R1N0VC");
    assert!(
        r.body["text"]
            .as_str()
            .unwrap()
            .starts_with("Chào Nguyễn Thu Hà")
    );
    assert!(
        r.body["html"]
            .as_str()
            .is_some_and(|h| h.contains("lang=\"vi\""))
    );

    // the built-in text saved back: delivery is as before
    let r = ctx
        .post(
            TEMPLATES,
            t,
            json!({"kind": "stock_low", "channel": "push", "language": "en",
                   "title": builtin["title"], "body": builtin["body"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["body"], builtin["body"]);
}
