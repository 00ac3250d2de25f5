//! Vouchers end to end: a seller's shop vouchers (unique codes, public and owner listings,
//! disabling and expiry), who may create and edit them, admins' platform vouchers in
//! campaigns, and bad terms refused with the field named.

use e2e::Ctx;
use serde_json::{Value, json};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A code no other test uses.
fn code(prefix: &str) -> String {
    format!("{prefix}{}", &ulid::Ulid::new().to_string()[16..])
}

fn terms(kind: &str, value: i64, min_spend: i64) -> Value {
    json!({"kind": kind, "value": value, "currency": "VND", "min_spend": min_spend,
           "starts_at": now() - 60, "ends_at": now() + 86_400})
}

fn voucher(code: &str, terms: Value) -> Value {
    json!({"code": code, "description": "Tet sale", "terms": terms, "usage_limit": 100})
}

/// Every item of a list route, following `next_cursor` (filtered pages may be short).
async fn all(ctx: &Ctx, path: &str, token: Option<&str>) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit=100&cursor={c}"),
            None => format!("{path}{sep}limit=100"),
        };
        let r = ctx.get(&url, token).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text);
        items.extend(r.body["items"].as_array().unwrap().iter().cloned());
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return items,
        }
    }
}

fn find<'a>(items: &'a [Value], code: &str) -> Option<&'a Value> {
    items.iter().find(|v| v["code"] == code)
}

#[tokio::test]
async fn a_sellers_shop_voucher_is_listed_for_buyers_until_disabled_or_expired() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("vouchers").await;
    let path = format!("/api/v1/shops/{}/vouchers", shop.shop_id);
    let c = code("TET");

    let created = ctx
        .post(
            &path,
            Some(&shop.seller_token),
            voucher(&c.to_lowercase(), terms("percentage", 1_000, 0)),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let v = &created.body;
    assert_eq!(v["code"], c, "codes are upper-cased");
    assert_eq!(v["shop_id"], shop.shop_id.as_str());
    assert_eq!(v["campaign"], Value::Null);
    assert_eq!(
        (
            v["status"].as_str(),
            v["used_count"].as_i64(),
            v["remaining"].as_i64()
        ),
        (Some("active"), Some(0), Some(100))
    );
    assert_eq!(
        v["per_user_limit"], 1,
        "one redemption per buyer by default"
    );
    assert_eq!(v["terms"]["value"], 1_000);

    // the code is taken in this shop, whatever its case
    let dup = ctx
        .post(
            &path,
            Some(&shop.seller_token),
            voucher(&c, terms("fixed", 5_000, 0)),
        )
        .await;
    dup.problem(409);

    // buyers and anonymous callers see it, without the counters
    let (_, buyer, _) = ctx.user("voucher-buyer").await;
    for token in [Some(buyer.as_str()), None] {
        let items = all(&ctx, &path, token).await;
        let seen = find(&items, &c).expect("listed for buyers");
        assert_eq!(seen["used_count"], Value::Null);
        assert_eq!(seen["remaining"], Value::Null);
    }
    let owner_view = all(&ctx, &path, Some(&shop.seller_token)).await;
    assert_eq!(find(&owner_view, &c).unwrap()["used_count"], 0);

    // disabling hides it from buyers, not from the shop
    let mut update = json!({"description": "Tet sale (ended early)", "terms": terms("percentage", 1_000, 0),
                            "usage_limit": 100, "per_user_limit": 1, "status": "disabled"});
    let r = ctx
        .put(
            &format!("{path}/{}", c.to_lowercase()),
            Some(&shop.seller_token),
            update.clone(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "disabled");
    assert_eq!(r.body["description"], "Tet sale (ended early)");
    assert_eq!(r.body["used_count"], 0, "the counter is never edited");
    assert!(find(&all(&ctx, &path, Some(&buyer)).await, &c).is_none());
    let owner_view = all(&ctx, &path, Some(&shop.seller_token)).await;
    assert_eq!(find(&owner_view, &c).unwrap()["status"], "disabled");

    // active again but expired: still hidden from buyers
    update["status"] = json!("active");
    update["terms"]["starts_at"] = json!(now() - 7_200);
    update["terms"]["ends_at"] = json!(now() - 3_600);
    let r = ctx
        .put(&format!("{path}/{c}"), Some(&shop.seller_token), update)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(find(&all(&ctx, &path, None).await, &c).is_none());
    assert!(find(&all(&ctx, &path, Some(&shop.seller_token)).await, &c).is_some());

    // an unknown code, an unknown shop
    let put = json!({"description": "x", "terms": terms("fixed", 1_000, 0), "usage_limit": 1, "per_user_limit": 1, "status": "active"});
    ctx.put(&format!("{path}/NOSUCHCODE"), Some(&shop.seller_token), put)
        .await
        .problem(404);
    ctx.get("/api/v1/shops/01JNOSUCHSHOP0000000000000/vouchers", None)
        .await
        .problem(404);
}

#[tokio::test]
async fn only_the_shops_own_sellers_create_and_edit_its_vouchers() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("voucher-owner").await;
    let other = ctx.test_shop("voucher-intruder").await;
    let (_, buyer, _) = ctx.user("voucher-nobody").await;
    let path = format!("/api/v1/shops/{}/vouchers", shop.shop_id);
    let c = code("MINE");
    let created = ctx
        .post(
            &path,
            Some(&shop.seller_token),
            voucher(&c, terms("fixed", 10_000, 50_000)),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);

    let update = json!({"description": "hijacked", "terms": terms("percentage", 10_000, 0),
                        "usage_limit": 1_000_000, "per_user_limit": 1_000, "status": "active"});
    for intruder in [&other.seller_token, &buyer] {
        let r = ctx
            .post(
                &path,
                Some(intruder),
                voucher(&code("EVIL"), terms("percentage", 10_000, 0)),
            )
            .await;
        assert!(matches!(r.status.as_u16(), 403 | 404), "{}", r.text);
        r.problem(r.status.as_u16());
        let r = ctx
            .put(&format!("{path}/{c}"), Some(intruder), update.clone())
            .await;
        assert!(matches!(r.status.as_u16(), 403 | 404), "{}", r.text);
        r.problem(r.status.as_u16());
        // and an intruder's listing is the public one
        let seen = all(&ctx, &path, Some(intruder)).await;
        assert_eq!(find(&seen, &c).unwrap()["used_count"], Value::Null);
    }
    ctx.post(&path, None, voucher(&code("ANON"), terms("fixed", 1, 0)))
        .await
        .problem(401);
    // nothing changed
    let owner_view = all(&ctx, &path, Some(&shop.seller_token)).await;
    let v = find(&owner_view, &c).unwrap();
    assert_eq!(v["description"], "Tet sale");
    assert_eq!(v["terms"]["value"], 10_000);
    assert_eq!(v["terms"]["kind"], "fixed");
    assert_eq!(owner_view.len(), 1, "no intruder's voucher was created");
}

#[tokio::test]
async fn admins_run_platform_vouchers_in_campaigns() {
    let ctx = Ctx::new();
    let admin = ctx.admin_token().await;
    let campaign = format!("Tet {}", ulid::Ulid::new());
    let c = code("PLAT");
    let mut body = voucher(&c, terms("percentage", 500, 0));
    body["campaign"] = json!(campaign);
    body["per_user_limit"] = json!(2);
    let created = ctx
        .post("/api/v1/vouchers", Some(&admin), body.clone())
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["campaign"], campaign.as_str());
    assert_eq!(created.body["shop_id"], Value::Null);
    assert_eq!(created.body["per_user_limit"], 2);
    ctx.post("/api/v1/vouchers", Some(&admin), body.clone())
        .await
        .problem(409);

    // buyers and sellers may not create platform vouchers
    let (_, buyer, _) = ctx.user("platform-buyer").await;
    let (_, _, seller) = ctx.seller("platform-seller").await;
    for token in [&buyer, &seller] {
        body["code"] = json!(code("NOPE"));
        ctx.post("/api/v1/vouchers", Some(token), body.clone())
            .await
            .problem(403);
    }

    // listed by campaign, for everyone
    let in_campaign = |items: Vec<Value>| items.iter().any(|v| v["code"] == c);
    let q = format!("/api/v1/vouchers?campaign={}", campaign.replace(' ', "%20"));
    assert!(in_campaign(all(&ctx, &q, None).await));
    let listed = all(&ctx, &q, Some(&admin)).await;
    assert!(listed.iter().all(|v| v["campaign"] == campaign.as_str()));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["used_count"], 0, "admins see the counters");
    assert!(!in_campaign(
        all(&ctx, "/api/v1/vouchers?campaign=another", None).await
    ));

    // admins edit it; others may not
    let update = json!({"description": "Tet, extended", "terms": terms("percentage", 700, 0),
                        "usage_limit": 50, "per_user_limit": 1, "status": "disabled", "campaign": campaign});
    ctx.put(
        &format!("/api/v1/vouchers/{c}"),
        Some(&buyer),
        update.clone(),
    )
    .await
    .problem(403);
    let r = ctx
        .put(&format!("/api/v1/vouchers/{c}"), Some(&admin), update)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (
            r.body["terms"]["value"].as_i64(),
            r.body["remaining"].as_i64()
        ),
        (Some(700), Some(50))
    );
    assert!(!in_campaign(all(&ctx, &q, None).await), "disabled");
    assert!(in_campaign(all(&ctx, &q, Some(&admin)).await));

    // a shop voucher belongs to no campaign
    let shop = ctx.test_shop("voucher-campaign").await;
    let mut shop_body = voucher(&code("SHOP"), terms("fixed", 1_000, 0));
    shop_body["campaign"] = json!("Tet");
    let r = ctx
        .post(
            &format!("/api/v1/shops/{}/vouchers", shop.shop_id),
            Some(&shop.seller_token),
            shop_body,
        )
        .await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "campaign");
}

#[tokio::test]
async fn bad_terms_are_refused_naming_the_field() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("voucher-terms").await;
    let path = format!("/api/v1/shops/{}/vouchers", shop.shop_id);
    let backwards = {
        let mut t = terms("fixed", 1_000, 0);
        t["ends_at"] = t["starts_at"].clone();
        t
    };
    let past = {
        let mut t = terms("fixed", 1_000, 0);
        t["starts_at"] = json!(now() - 7_200);
        t["ends_at"] = json!(now() - 3_600);
        t
    };
    let mut no_limit = voucher(&code("LIM"), terms("fixed", 1_000, 0));
    no_limit["usage_limit"] = json!(0);
    let mut per_user_above = voucher(&code("LIM"), terms("fixed", 1_000, 0));
    per_user_above["per_user_limit"] = json!(101);
    for (body, field) in [
        (
            voucher(&code("PCT"), terms("percentage", 10_001, 0)),
            "terms.value",
        ),
        (voucher(&code("ZERO"), terms("fixed", 0, 0)), "terms.value"),
        (
            voucher(&code("NEG"), terms("fixed", 1_000, -1)),
            "terms.min_spend",
        ),
        (voucher(&code("BACK"), backwards.clone()), "terms.ends_at"),
        (voucher(&code("PAST"), past), "terms.ends_at"),
        (voucher("x!", terms("fixed", 1_000, 0)), "code"),
        (no_limit, "usage_limit"),
        (per_user_above, "per_user_limit"),
        (
            json!({"code": code("MISS"), "description": "x", "usage_limit": 1}),
            "terms",
        ),
    ] {
        let r = ctx
            .post(&path, Some(&shop.seller_token), body.clone())
            .await;
        r.problem(422);
        assert!(
            r.error_fields().contains(&field.to_owned()),
            "{body}: {}",
            r.text
        );
    }
    // the same on an update, and nothing was created
    let c = code("OK");
    let created = ctx
        .post(
            &path,
            Some(&shop.seller_token),
            voucher(&c, terms("fixed", 1_000, 0)),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let r = ctx
        .put(
            &format!("{path}/{c}"),
            Some(&shop.seller_token),
            json!({"description": "x", "terms": backwards, "usage_limit": 1, "per_user_limit": 1, "status": "active"}),
        )
        .await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "terms.ends_at");
    let r = ctx
        .put(
            &format!("{path}/{c}"),
            Some(&shop.seller_token),
            json!({"description": "x", "terms": terms("fixed", 1_000, 0), "usage_limit": 1, "per_user_limit": 1, "status": "paused"}),
        )
        .await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "status");
    let owner_view = all(&ctx, &path, Some(&shop.seller_token)).await;
    assert_eq!(owner_view.len(), 1, "{owner_view:?}");
    assert_eq!(owner_view[0]["code"], c);
}
