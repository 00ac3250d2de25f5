//! Ownership and roles: a user only ever reaches their own profile and addresses; only admins
//! reach the admin routes; a disabled user's tokens stop working at once.

use e2e::Ctx;
use serde_json::json;

fn address(line1: &str) -> serde_json::Value {
    json!({"recipient_name": "Ann", "phone": "+84901234567", "line1": line1, "city": "Hanoi", "country": "VN"})
}

#[tokio::test]
async fn a_user_cannot_read_or_change_another_users_addresses() {
    let ctx = Ctx::new();
    let (_, alice, _) = ctx.user("alice").await;
    let (_, bob, _) = ctx.user("bob").await;
    let created = ctx
        .post(
            "/api/v1/users/me/addresses",
            Some(&alice),
            address("1 Alice Road"),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap();

    ctx.put(
        &format!("/api/v1/users/me/addresses/{id}"),
        Some(&bob),
        address("hijacked"),
    )
    .await
    .problem(404);
    ctx.put(
        &format!("/api/v1/users/me/addresses/{id}/default"),
        Some(&bob),
        json!({}),
    )
    .await
    .problem(404);
    ctx.delete(&format!("/api/v1/users/me/addresses/{id}"), Some(&bob))
        .await
        .problem(404);
    let bobs = ctx.get("/api/v1/users/me/addresses", Some(&bob)).await;
    assert_eq!(bobs.body["items"], json!([]));

    // Alice's address is untouched
    let alices = ctx.get("/api/v1/users/me/addresses", Some(&alice)).await;
    assert_eq!(alices.body["items"][0]["line1"], "1 Alice Road");
    assert_eq!(alices.body["items"][0]["is_default"], true);
}

#[tokio::test]
async fn profile_routes_only_ever_show_the_caller() {
    let ctx = Ctx::new();
    let (alice_id, alice, _) = ctx.user("alice-p").await;
    let (bob_id, bob, _) = ctx.user("bob-p").await;
    let renamed = ctx
        .put(
            "/api/v1/users/me",
            Some(&bob),
            json!({"name": "Bob B", "phone": "+84 912 345 678"}),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(
        (renamed.body["id"].as_str(), renamed.body["phone"].as_str()),
        (Some(bob_id.as_str()), Some("+84912345678"))
    );
    let me = ctx.get("/api/v1/users/me", Some(&alice)).await;
    assert_eq!(me.body["id"], alice_id);
    assert_eq!(me.body["name"], "Test User");
    // the admin routes addressed by id are closed to non-admins, even for their own id
    ctx.put(
        &format!("/api/v1/users/{alice_id}/roles"),
        Some(&bob),
        json!({"roles": ["admin"]}),
    )
    .await
    .problem(403);
    ctx.put(
        &format!("/api/v1/users/{bob_id}/roles"),
        Some(&bob),
        json!({"roles": ["admin"]}),
    )
    .await
    .problem(403);
    ctx.put(
        &format!("/api/v1/users/{alice_id}/status"),
        Some(&bob),
        json!({"status": "disabled"}),
    )
    .await
    .problem(403);
    ctx.get("/api/v1/users", Some(&bob)).await.problem(403);
    assert_eq!(
        ctx.get("/api/v1/users/me", Some(&alice)).await.body["roles"],
        json!(["buyer"])
    );
}

#[tokio::test]
async fn an_admin_manages_roles_and_disabling_ends_the_users_sessions() {
    let ctx = Ctx::new();
    let (admin_id, admin, _) = ctx.user("admin").await;
    ctx.make_admin(&admin_id).await;
    let (user_id, user, user_refresh) = ctx.user("managed").await;

    let page = ctx.get("/api/v1/users?limit=2", Some(&admin)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.body["items"].as_array().unwrap().len(), 2);
    let cursor = page.body["next_cursor"]
        .as_str()
        .expect("more users exist")
        .to_owned();
    let next = ctx
        .get(
            &format!("/api/v1/users?limit=2&cursor={cursor}"),
            Some(&admin),
        )
        .await;
    assert_eq!(next.status, 200);
    assert_ne!(next.body["items"][0]["id"], page.body["items"][0]["id"]);
    ctx.get("/api/v1/users?cursor=forged", Some(&admin))
        .await
        .problem(422);

    let roles = ctx
        .put(
            &format!("/api/v1/users/{user_id}/roles"),
            Some(&admin),
            json!({"roles": ["buyer", "shipper"]}),
        )
        .await;
    assert_eq!(roles.status, 200, "{}", roles.text);
    assert_eq!(roles.body["roles"], json!(["buyer", "shipper"]));
    assert_eq!(
        ctx.get("/api/v1/users/me", Some(&user)).await.body["roles"],
        json!(["buyer", "shipper"])
    );
    ctx.put(
        &format!("/api/v1/users/{admin_id}/roles"),
        Some(&admin),
        json!({"roles": ["buyer"]}),
    )
    .await
    .problem(422);
    ctx.put(
        "/api/v1/users/NOPE/roles",
        Some(&admin),
        json!({"roles": ["buyer"]}),
    )
    .await
    .problem(404);

    let disabled = ctx
        .put(
            &format!("/api/v1/users/{user_id}/status"),
            Some(&admin),
            json!({"status": "disabled", "reason": "fraud"}),
        )
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.text);
    assert_eq!(disabled.body["status"], "disabled");
    ctx.get("/api/v1/users/me", Some(&user)).await.problem(401);
    ctx.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": user_refresh}),
    )
    .await
    .problem(401);
    let email = disabled.body["email"].as_str().unwrap();
    ctx.login(email, e2e::PASSWORD).await.problem(403);

    let enabled = ctx
        .put(
            &format!("/api/v1/users/{user_id}/status"),
            Some(&admin),
            json!({"status": "active"}),
        )
        .await;
    assert_eq!(enabled.body["status"], "active");
    assert_eq!(ctx.login(email, e2e::PASSWORD).await.status, 200);
}

#[tokio::test]
async fn the_address_book_keeps_exactly_one_default() {
    let ctx = Ctx::new();
    let (_, t, _) = ctx.user("book").await;
    let a = ctx
        .post("/api/v1/users/me/addresses", Some(&t), address("A"))
        .await;
    let b = ctx
        .post("/api/v1/users/me/addresses", Some(&t), address("B"))
        .await;
    assert_eq!(
        (
            a.body["is_default"].as_bool(),
            b.body["is_default"].as_bool()
        ),
        (Some(true), Some(false))
    );
    let b_id = b.body["id"].as_str().unwrap();
    let made = ctx
        .put(
            &format!("/api/v1/users/me/addresses/{b_id}/default"),
            Some(&t),
            json!({}),
        )
        .await;
    assert_eq!(made.body["is_default"], true);
    let updated = ctx
        .put(
            &format!("/api/v1/users/me/addresses/{b_id}"),
            Some(&t),
            address("B2"),
        )
        .await;
    assert_eq!(
        (
            updated.body["line1"].as_str(),
            updated.body["is_default"].as_bool()
        ),
        (Some("B2"), Some(true))
    );
    // deleting the default promotes the remaining address
    assert_eq!(
        ctx.delete(&format!("/api/v1/users/me/addresses/{b_id}"), Some(&t))
            .await
            .status,
        204
    );
    let list = ctx.get("/api/v1/users/me/addresses", Some(&t)).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["items"][0]["is_default"], true);
    assert_eq!(
        ctx.get("/api/v1/users/me", Some(&t)).await.body["default_address_id"],
        a.body["id"]
    );
}
