//! Invitations to an organisation by e-mail: an owner invites an address (with or without an
//! account), the e-mailed single-use token is accepted on sign-up, on login or by
//! `POST /api/v1/invitations/accept`, once, by the invited address only, within 7 days, unless
//! revoked — and a refused acceptance writes nothing.

use e2e::{Ctx, PASSWORD, Reply, TestShop, extract_after, unique_email};
use serde_json::{Value, json};

fn invitations(org: &str) -> String {
    format!("/api/v1/organizations/{org}/invitations")
}

/// Invites `email` as `role` on `shops`; asserts 201 and returns the invitation.
async fn invite(
    ctx: &Ctx,
    owner: &str,
    org: &str,
    email: &str,
    role: &str,
    shops: &[&str],
) -> Value {
    let r = ctx
        .post(
            &invitations(org),
            Some(owner),
            json!({"email": email, "role": role, "shop_ids": shops}),
        )
        .await;
    assert_eq!(r.status, 201, "inviting {email}: {}", r.text);
    assert_eq!(r.body["status"], "pending");
    assert!(
        r.body.get("token").is_none(),
        "the token is only e-mailed: {}",
        r.text
    );
    r.body
}

/// The token of the invitation e-mail to `email` (and the mail's text).
async fn token_mailed_to(ctx: &Ctx, email: &str) -> (String, String) {
    let body = ctx.wait_for_mail(email, "invited to join").await;
    (extract_after(&body, "Invitation token:"), body)
}

async fn register_with(ctx: &Ctx, email: &str, token: &str) -> Reply {
    ctx.post(
        "/api/v1/auth/register",
        None,
        json!({"email": email, "password": PASSWORD, "name": "Invitee", "invitation_token": token}),
    )
    .await
}

async fn login_token(ctx: &Ctx, email: &str) -> String {
    let r = ctx.login(email, PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["access_token"].as_str().unwrap().to_owned()
}

async fn members(ctx: &Ctx, owner: &str, org: &str) -> Vec<Value> {
    let r = ctx
        .get(&format!("/api/v1/organizations/{org}/members"), Some(owner))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"].as_array().unwrap().clone()
}

fn member_with<'a>(members: &'a [Value], email: &str) -> Option<&'a Value> {
    members.iter().find(|m| m["email"] == email)
}

async fn status_of(ctx: &Ctx, owner: &str, org: &str, invitation_id: &str) -> String {
    let r = ctx.get(&invitations(org), Some(owner)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == invitation_id)
        .unwrap_or_else(|| panic!("invitation {invitation_id} not listed: {}", r.text))["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn product(shop: &TestShop) -> Value {
    json!({
        "name": "Invited staff's product",
        "description": "For tests",
        "category_id": shop.category_id,
        "status": "active",
        "variants": [{"sku": format!("INV-{}", &ulid::Ulid::new().to_string()[16..]), "attributes": {"size": "M"},
                      "price": {"amount": 100000, "currency": "VND"}, "weight_grams": 200, "stock": 3}],
    })
}

/// A second shop of the test shop's organisation.
async fn second_shop(ctx: &Ctx, shop: &TestShop) -> String {
    let r = ctx
        .post(&format!("/api/v1/organizations/{}/shops", shop.org_id), Some(&shop.seller_token), json!({
            "name": "Second shop",
            "address": {"line1": "2 Trang Tien", "city": "Hanoi", "country": "VN", "location": {"lat": 21.02, "lng": 105.85}}
        }))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

/// Moves an invitation's expiry into the past straight in the table (there is no API to age
/// one, and production code has no test switch).
async fn age(org: &str, invitation_id: &str) {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let (pk, sk) = shared::store::keys::invitation(org, invitation_id);
    aws_sdk_dynamodb::Client::new(&sdk)
        .update_item()
        .table_name(std::env::var("TABLE_NAME").expect("TABLE_NAME is set by make test"))
        .key("PK", A::S(pk))
        .key("SK", A::S(sk))
        .update_expression("SET expires_at = :past")
        .condition_expression("attribute_exists(PK)")
        .expression_attribute_values(":past", A::N((shared::now_epoch() - 60).to_string()))
        .send()
        .await
        .expect("ageing the invitation");
}

#[tokio::test]
async fn an_invited_address_signs_up_with_the_e_mailed_token_and_works_in_its_role() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("invite").await;
    let other_shop = second_shop(&ctx, &shop).await;
    let email = unique_email("invitee");
    // GIVEN an invitation to an address that has no account (typed in upper case by the owner)
    let created = invite(
        &ctx,
        &shop.seller_token,
        &shop.org_id,
        &email.to_uppercase(),
        "staff",
        &[&shop.shop_id],
    )
    .await;
    assert_eq!(created["email"], email.as_str(), "stored lower-cased");
    assert_eq!(created["role"], "staff");
    assert_eq!(created["shop_ids"], json!([shop.shop_id]));
    let id = created["id"].as_str().unwrap();
    // THEN the address receives an e-mail naming the organisation and the role, with the token
    let (token, mail) = token_mailed_to(&ctx, &email).await;
    assert!(
        mail.contains("invite Co invites you to join as staff"),
        "{mail}"
    );
    assert!(
        mail.contains(&format!("/invitations/accept?token={token}")),
        "{mail}"
    );
    assert!(token.len() >= 43, "{token}");
    let listed = ctx
        .get(&invitations(&shop.org_id), Some(&shop.seller_token))
        .await;
    assert!(
        !listed.text.contains(&token),
        "the list never shows the token"
    );
    assert_eq!(
        status_of(&ctx, &shop.seller_token, &shop.org_id, id).await,
        "pending"
    );
    // WHEN the invitee signs up with that e-mail and the token
    let r = register_with(&ctx, &email, &token).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let user_id = r.body["id"].as_str().unwrap();
    // THEN they are a member with the invited role and shops
    let all = members(&ctx, &shop.seller_token, &shop.org_id).await;
    let m = member_with(&all, &email).unwrap_or_else(|| panic!("{all:?}"));
    assert_eq!(m["user_id"], user_id);
    assert_eq!(m["role"], "staff");
    assert_eq!(m["shop_ids"], json!([shop.shop_id]));
    assert_eq!(
        status_of(&ctx, &shop.seller_token, &shop.org_id, id).await,
        "accepted"
    );
    // and they can do what staff may on their shop, and nothing on the organisation's other one
    let staff = login_token(&ctx, &email).await;
    let mine = ctx.get("/api/v1/organizations", Some(&staff)).await;
    assert!(mine.text.contains(&shop.org_id), "{}", mine.text);
    let r = ctx
        .post(
            &format!("/api/v1/shops/{}/products", shop.shop_id),
            Some(&staff),
            product(&shop),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = ctx
        .post(
            &format!("/api/v1/shops/{other_shop}/products"),
            Some(&staff),
            product(&shop),
        )
        .await;
    r.problem(403);
    let r = ctx
        .put(&format!("/api/v1/shops/{}", shop.shop_id), Some(&staff), json!({
            "name": "Renamed by staff",
            "address": {"line1": "1 Trang Tien", "city": "Hanoi", "country": "VN", "location": {"lat": 21.02, "lng": 105.85}}
        }))
        .await;
    r.problem(403);
    // staff do not manage invitations
    ctx.get(&invitations(&shop.org_id), Some(&staff))
        .await
        .problem(403);
}

#[tokio::test]
async fn an_existing_account_accepts_on_login_once() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("invite-login").await;
    let email = unique_email("invitee-login");
    let r = ctx.register(&email, PASSWORD).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let created = invite(
        &ctx,
        &shop.seller_token,
        &shop.org_id,
        &email,
        "manager",
        &[&shop.shop_id],
    )
    .await;
    let (token, _) = token_mailed_to(&ctx, &email).await;
    let r = ctx
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": email, "password": PASSWORD, "invitation_token": token}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["access_token"].is_string());
    let all = members(&ctx, &shop.seller_token, &shop.org_id).await;
    let m = member_with(&all, &email).unwrap_or_else(|| panic!("{all:?}"));
    assert_eq!(m["role"], "manager");
    assert_eq!(
        status_of(
            &ctx,
            &shop.seller_token,
            &shop.org_id,
            created["id"].as_str().unwrap()
        )
        .await,
        "accepted"
    );
    // the same token again: the login is refused with the rule, and nothing changes
    let r = ctx
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": email, "password": PASSWORD, "invitation_token": token}),
        )
        .await;
    let p = r.problem(409);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("invitation_token: this invitation was already accepted"),
        "{}",
        r.text
    );
    assert_eq!(
        members(&ctx, &shop.seller_token, &shop.org_id).await.len(),
        all.len()
    );
    // an invitation to a member is refused
    let r = ctx
        .post(
            &invitations(&shop.org_id),
            Some(&shop.seller_token),
            json!({"email": email, "role": "staff", "shop_ids": [shop.shop_id]}),
        )
        .await;
    assert!(
        r.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("already a member"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn expired_revoked_reused_and_unknown_invitations_are_refused_and_write_nothing() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("invite-refused").await;
    let (owner, org) = (shop.seller_token.as_str(), shop.org_id.as_str());
    let s = [shop.shop_id.as_str()];
    let (expired_email, revoked_email, used_email) = (
        unique_email("inv-expired"),
        unique_email("inv-revoked"),
        unique_email("inv-used"),
    );
    let expired = invite(&ctx, owner, org, &expired_email, "staff", &s).await;
    let revoked = invite(&ctx, owner, org, &revoked_email, "staff", &s).await;
    let used = invite(&ctx, owner, org, &used_email, "staff", &s).await;
    let (expired_token, _) = token_mailed_to(&ctx, &expired_email).await;
    let (revoked_token, _) = token_mailed_to(&ctx, &revoked_email).await;
    let (used_token, _) = token_mailed_to(&ctx, &used_email).await;
    let before = members(&ctx, owner, org).await.len();

    // expired (its expiry moved into the past in the table)
    age(org, expired["id"].as_str().unwrap()).await;
    assert_eq!(
        status_of(&ctx, owner, org, expired["id"].as_str().unwrap()).await,
        "expired"
    );
    let r = register_with(&ctx, &expired_email, &expired_token).await;
    assert!(
        r.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("invitation_token: this invitation has expired"),
        "{}",
        r.text
    );
    ctx.login(&expired_email, PASSWORD).await.problem(401); // no account was created

    // revoked: 204, again 204, then refused
    let path = format!("{}/{}", invitations(org), revoked["id"].as_str().unwrap());
    assert_eq!(ctx.delete(&path, Some(owner)).await.status, 204);
    assert_eq!(ctx.delete(&path, Some(owner)).await.status, 204);
    assert_eq!(
        status_of(&ctx, owner, org, revoked["id"].as_str().unwrap()).await,
        "revoked"
    );
    let r = register_with(&ctx, &revoked_email, &revoked_token).await;
    assert!(
        r.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("was revoked"),
        "{}",
        r.text
    );
    ctx.login(&revoked_email, PASSWORD).await.problem(401);
    // revoking freed the address: it can be invited again
    invite(&ctx, owner, org, &revoked_email, "manager", &s).await;
    // while a pending invitation stands, a second one is refused
    let r = ctx
        .post(
            &invitations(org),
            Some(owner),
            json!({"email": revoked_email.to_uppercase(), "role": "staff", "shop_ids": s}),
        )
        .await;
    assert!(
        r.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("pending invitation"),
        "{}",
        r.text
    );

    // unknown token: 422 naming the field, nothing created
    let unknown_email = unique_email("inv-unknown");
    let r = register_with(&ctx, &unknown_email, "not-an-invitation-token").await;
    assert_eq!(
        r.problem(422)["errors"][0]["field"],
        "invitation_token",
        "{}",
        r.text
    );
    ctx.login(&unknown_email, PASSWORD).await.problem(401);

    // reused: the first use joins, a second is refused, revoking it afterwards too
    let r = register_with(&ctx, &used_email, &used_token).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let token = login_token(&ctx, &used_email).await;
    let r = ctx
        .post(
            "/api/v1/invitations/accept",
            Some(&token),
            json!({"token": used_token}),
        )
        .await;
    assert!(
        r.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("token: this invitation was already accepted"),
        "{}",
        r.text
    );
    let used_path = format!("{}/{}", invitations(org), used["id"].as_str().unwrap());
    ctx.delete(&used_path, Some(owner)).await.problem(409);
    // signing up with another address and this token gets nothing either (the status is
    // checked first: 409)
    let other_email = unique_email("inv-other");
    register_with(&ctx, &other_email, &used_token)
        .await
        .problem(409);
    ctx.login(&other_email, PASSWORD).await.problem(401);

    let after = members(&ctx, owner, org).await;
    assert_eq!(
        after.len(),
        before + 1,
        "only the first use made a member: {after:?}"
    );
    assert!(member_with(&after, &used_email).is_some());
    for email in [&expired_email, &revoked_email, &unknown_email] {
        assert!(member_with(&after, email).is_none(), "{email}");
    }
}

#[tokio::test]
async fn ten_parallel_accepts_of_one_token_make_exactly_one_membership() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("invite-race").await;
    let email = unique_email("inv-race");
    let r = ctx.register(&email, PASSWORD).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let access = login_token(&ctx, &email).await;
    invite(
        &ctx,
        &shop.seller_token,
        &shop.org_id,
        &email,
        "staff",
        &[&shop.shop_id],
    )
    .await;
    let (token, _) = token_mailed_to(&ctx, &email).await;
    let replies = futures::future::join_all((0..10).map(|_| {
        ctx.post(
            "/api/v1/invitations/accept",
            Some(&access),
            json!({"token": token}),
        )
    }))
    .await;
    let ok: Vec<&Reply> = replies.iter().filter(|r| r.status.is_success()).collect();
    assert_eq!(
        ok.len(),
        1,
        "{:?}",
        replies
            .iter()
            .map(|r| (r.status, &r.text))
            .collect::<Vec<_>>()
    );
    assert_eq!(ok[0].status, 200);
    assert_eq!(ok[0].body["role"], "staff");
    for r in replies.iter().filter(|r| !r.status.is_success()) {
        assert_eq!(r.status, 409, "{}", r.text);
    }
    let all = members(&ctx, &shop.seller_token, &shop.org_id).await;
    assert_eq!(
        all.iter().filter(|m| m["email"] == email.as_str()).count(),
        1,
        "{all:?}"
    );
}

#[tokio::test]
async fn only_the_invited_address_accepts_and_only_the_organisations_owners_invite() {
    let ctx = Ctx::new();
    let (shop, other) = tokio::join!(
        ctx.test_shop("invite-authz"),
        ctx.test_shop("invite-authz-other")
    );
    let (owner, org) = (shop.seller_token.as_str(), shop.org_id.as_str());
    let email = unique_email("inv-target");
    let created = invite(&ctx, owner, org, &email, "staff", &[&shop.shop_id]).await;
    let id = created["id"].as_str().unwrap();
    let (token, _) = token_mailed_to(&ctx, &email).await;

    // someone else's account cannot accept it (403 naming the rule), and cannot sign up with it
    let (_, stranger, _) = ctx.user("inv-stranger").await;
    let r = ctx
        .post(
            "/api/v1/invitations/accept",
            Some(&stranger),
            json!({"token": token}),
        )
        .await;
    assert!(
        r.problem(403)["detail"]
            .as_str()
            .unwrap()
            .contains("for another e-mail address"),
        "{}",
        r.text
    );
    let stranger_email = unique_email("inv-stranger-signup");
    register_with(&ctx, &stranger_email, &token)
        .await
        .problem(403);
    ctx.login(&stranger_email, PASSWORD).await.problem(401);
    // an anonymous accept is a 401
    ctx.post("/api/v1/invitations/accept", None, json!({"token": token}))
        .await
        .problem(401);

    // a staff member of the organisation may not invite, list or revoke (403)
    let (_, staff_email, staff) = ctx.seller("inv-staff").await;
    ctx.add_member(owner, org, &staff_email, "staff", &[&shop.shop_id])
        .await;
    let body =
        json!({"email": unique_email("inv-by-staff"), "role": "staff", "shop_ids": [shop.shop_id]});
    ctx.post(&invitations(org), Some(&staff), body.clone())
        .await
        .problem(403);
    ctx.get(&invitations(org), Some(&staff)).await.problem(403);
    let path = format!("{}/{id}", invitations(org));
    ctx.delete(&path, Some(&staff)).await.problem(403);
    // another organisation's owner does not see this one (404)
    ctx.post(&invitations(org), Some(&other.seller_token), body.clone())
        .await
        .problem(404);
    ctx.get(&invitations(org), Some(&other.seller_token))
        .await
        .problem(404);
    ctx.delete(&path, Some(&other.seller_token))
        .await
        .problem(404);
    // nor can an owner name another organisation's shop
    let r = ctx
        .post(
            &invitations(org),
            Some(owner),
            json!({"email": unique_email("inv-x"), "role": "staff", "shop_ids": [other.shop_id]}),
        )
        .await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "shop_ids[0]");

    // all of that left the invitation pending: the invited address still accepts it
    assert_eq!(status_of(&ctx, owner, org, id).await, "pending");
    let r = register_with(&ctx, &email, &token).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let all = members(&ctx, owner, org).await;
    assert_eq!(
        member_with(&all, &email).map(|m| m["role"].clone()),
        Some(json!("staff"))
    );
    assert!(member_with(&all, &stranger_email).is_none());
}
