//! Invariants under concurrent requests, enforced by DynamoDB conditions and transactions.

use e2e::{Ctx, PASSWORD, unique_email};
use futures::future::join_all;
use serde_json::json;

#[tokio::test]
async fn fifty_concurrent_registrations_of_one_email_create_exactly_one_account() {
    let ctx = Ctx::new();
    let email = unique_email("race");
    let replies = join_all((0..50).map(|_| ctx.register(&email, PASSWORD))).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    let conflicts = replies.iter().filter(|r| r.status == 409).count();
    assert_eq!(
        created,
        1,
        "statuses: {:?}",
        replies
            .iter()
            .map(|r| r.status.as_u16())
            .collect::<Vec<_>>()
    );
    assert_eq!(conflicts, 49);
    for r in replies.iter().filter(|r| r.status == 409) {
        r.problem(409);
    }
    // exactly one user holds the address: an admin lookup finds one, and login works
    let (admin_id, admin, _) = ctx.user("race-admin").await;
    ctx.make_admin(&admin_id).await;
    let found = ctx
        .get(
            &format!("/api/v1/users?email={}", email.replace('+', "%2B")),
            Some(&admin),
        )
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(found.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(ctx.login(&email, PASSWORD).await.status, 200);
}

#[tokio::test]
async fn concurrent_default_address_changes_leave_exactly_one_default() {
    let ctx = Ctx::new();
    let (_, token, _) = ctx.user("defaults").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = ctx
            .post(
                "/api/v1/users/me/addresses",
                Some(&token),
                address(&format!("Street {i}")),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let paths: Vec<String> = ids
        .iter()
        .map(|id| format!("/api/v1/users/me/addresses/{id}/default"))
        .collect();
    let replies = join_all(paths.iter().map(|p| ctx.put(p, Some(&token), json!({})))).await;
    assert!(
        replies.iter().all(|r| r.status == 200),
        "{:?}",
        replies.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    let list = ctx.get("/api/v1/users/me/addresses", Some(&token)).await;
    let defaults = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["is_default"] == true)
        .count();
    assert_eq!(defaults, 1, "{}", list.text);

    // deleting concurrently never leaves zero defaults while addresses remain
    let paths: Vec<String> = ids[..3]
        .iter()
        .map(|id| format!("/api/v1/users/me/addresses/{id}"))
        .collect();
    let replies = join_all(paths.iter().map(|p| ctx.delete(p, Some(&token)))).await;
    assert!(
        replies.iter().all(|r| r.status == 204),
        "{:?}",
        replies.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    let list = ctx.get("/api/v1/users/me/addresses", Some(&token)).await;
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        items.iter().filter(|a| a["is_default"] == true).count(),
        1,
        "{}",
        list.text
    );
}

pub fn address(line1: &str) -> serde_json::Value {
    json!({"recipient_name": "Ann", "phone": "+84901234567", "line1": line1, "city": "Hanoi", "country": "VN"})
}
