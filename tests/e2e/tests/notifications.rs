//! The notification centre end to end, as a client sees it: a buyer verifies a phone by the
//! code texted to it, registers two devices and listens on the WebSocket API; a placed order
//! then reaches them in the inbox, by e-mail, SMS and push, and live. The delivery rules in
//! detail (priorities, quiet hours, digests, exactly once) are tested on the notifier itself:
//! functions/consumers/notifier/tests/centre.rs.

use std::time::Duration;

use e2e::{Ctx, PASSWORD, eventually, unique_email, wait_for, ws};
use serde_json::json;

fn phone() -> String {
    format!("+8498{:08}", ulid::Ulid::new().random() % 100_000_000)
}

#[tokio::test]
async fn a_placed_order_reaches_the_buyer_in_app_by_email_sms_push_and_live() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("notify").await;
    let product = ctx.parcel_product(&shop, 5).await;
    let email = unique_email("notify-buyer");
    assert_eq!(ctx.register(&email, PASSWORD).await.status, 201);
    let login = ctx.login(&email, PASSWORD).await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();

    // the phone: the code texted to it verifies it
    let number = phone();
    let r = ctx
        .post(
            "/api/v1/notifications/preferences/phone",
            Some(&token),
            json!({"phone": number}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let sms = wait_for("the verification SMS", || e2e::sms_to(&number)).await;
    let code: String = sms[0]
        .chars()
        .filter(char::is_ascii_digit)
        .take(6)
        .collect();
    assert_eq!(code.len(), 6, "{sms:?}");
    let r = ctx
        .post(
            "/api/v1/notifications/preferences/phone/verify",
            Some(&token),
            json!({"code": code}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["verified"], true, "{}", r.text);

    // two devices
    let devices = [
        (format!("fcm-{}", ulid::Ulid::new()), "android"),
        (
            format!(
                "{:032x}{:032x}",
                ulid::Ulid::new().random(),
                ulid::Ulid::new().random()
            ),
            "ios",
        ),
    ];
    for (device, platform) in &devices {
        let r = ctx
            .post(
                "/api/v1/notifications/push/register",
                Some(&token),
                json!({"token": device, "platform": platform}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }

    // the live feed
    let mut live = ws::connect(&ctx.base, Some(&token))
        .await
        .unwrap_or_else(|status| panic!("connecting was refused with {status}"));
    let answer = live.ask(&json!({"action": "notifications/live"})).await;
    assert_eq!(answer["type"], "live", "{answer}");

    let address = ctx.test_address(&token).await;
    let order = ctx.cod_order(&token, &address, &product).await;

    // live, as it is created
    let frame = loop {
        let frame = live
            .next_json(Duration::from_secs(60))
            .await
            .expect("a live notification within 60 s");
        if frame["type"] == "notification" {
            break frame;
        }
    };
    assert_eq!(frame["kind"], "order_placed", "{frame}");
    assert!(frame["text"].as_str().unwrap().contains(&order), "{frame}");
    live.close().await;

    // in the inbox: one unread, then read
    let listed = eventually("the order in the inbox", || async {
        let r = ctx.get("/api/v1/notifications", Some(&token)).await;
        (r.status == 200 && !r.body["items"].as_array().unwrap().is_empty()).then_some(r.body)
    })
    .await;
    assert_eq!(listed["unread_count"], 1, "{listed}");
    let item = &listed["items"][0];
    assert_eq!(item["kind"], "order_placed");
    assert_eq!(item["read"], false);
    assert_eq!(item["id"], frame["id"]);
    let id = item["id"].as_str().unwrap();
    let r = ctx
        .put(
            &format!("/api/v1/notifications/{id}/read"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = ctx
        .get("/api/v1/notifications?unread=true", Some(&token))
        .await;
    assert_eq!(r.body["unread_count"], 0, "{}", r.text);
    assert!(r.body["items"].as_array().unwrap().is_empty(), "{}", r.text);

    // by e-mail, SMS and push to both devices
    let mail = ctx
        .wait_for_mail(&email, &format!("Order {order} placed at"))
        .await;
    assert!(mail.contains("cash on delivery"), "{mail}");
    let texts = wait_for("the order SMS", || async {
        e2e::sms_to(&number)
            .await
            .into_iter()
            .filter(|m| m.contains(&order))
            .collect()
    })
    .await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    for (device, _) in &devices {
        let pushes = wait_for("the order push", || async {
            e2e::pushes_to(device)
                .await
                .into_iter()
                .filter(|m| m.contains(&order))
                .collect()
        })
        .await;
        assert_eq!(pushes.len(), 1, "{pushes:?}");
    }
}
