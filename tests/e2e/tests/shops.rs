//! Seller organisations and shops: creation, public pages, name and location search,
//! membership scopes, isolation between organisations, admin suspension.

use e2e::Ctx;
use serde_json::{Value, json};

fn shop(name: &str, lat: f64, lng: f64) -> Value {
    json!({
        "name": name,
        "description": "Linen and silk",
        "address": {"line1": "1 Hang Gai", "city": "Hanoi", "country": "VN", "location": {"lat": lat, "lng": lng}},
        "opening_hours": [{"weekday": 1, "opens": "08:00", "closes": "21:30"}]
    })
}

async fn org(ctx: &Ctx, token: &str) -> String {
    let r = ctx
        .post(
            "/api/v1/organizations",
            Some(token),
            json!({"name": "Threads Co", "tax_id": "0101234567"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["your_role"], "owner");
    let id = r.body["id"].as_str().unwrap().to_owned();
    let mine = ctx.get("/api/v1/organizations", Some(token)).await;
    let listed = mine.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["org_id"] == id.as_str())
        .unwrap_or_else(|| panic!("{}", mine.text))
        .clone();
    assert_eq!(
        (listed["org_name"].as_str(), listed["role"].as_str()),
        (Some("Threads Co"), Some("owner"))
    );
    id
}

async fn open_shop(ctx: &Ctx, token: &str, org_id: &str, body: Value) -> String {
    let r = ctx
        .post(
            &format!("/api/v1/organizations/{org_id}/shops"),
            Some(token),
            body,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_seller_opens_a_shop_that_buyers_find_by_name_and_by_distance() {
    let ctx = Ctx::new();
    let (_, _, seller) = ctx.seller("shop-owner").await;
    let org_id = org(&ctx, &seller).await;
    let unique = ulid::Ulid::new().to_string().to_lowercase();
    let name = format!("Lụa {unique}");
    // a shop in Hanoi's old quarter, and one ~1 100 km away in Ho Chi Minh City
    let near = open_shop(&ctx, &seller, &org_id, shop(&name, 21.0333, 105.8500)).await;
    let far = open_shop(
        &ctx,
        &seller,
        &org_id,
        shop(&format!("{name} south"), 10.7769, 106.7009),
    )
    .await;

    let page = ctx.get(&format!("/api/v1/shops/{near}"), None).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.body["name"], name);
    assert_eq!(page.body["address"]["location"]["lat"], 21.0333);

    let by_name = ctx
        .get(
            &format!("/api/v1/shops?q={}", urlencode(&name.to_uppercase())),
            None,
        )
        .await;
    let ids: Vec<&str> = by_name.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![near.as_str(), far.as_str()], "{}", by_name.text);

    // 3 km from Hoan Kiem lake: the Hanoi shop, with its distance; not the southern one
    let nearby = ctx
        .get("/api/v1/shops?lat=21.0285&lng=105.8542&radius_km=3", None)
        .await;
    assert_eq!(nearby.status, 200, "{}", nearby.text);
    let found: Vec<&Value> = nearby.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["id"] == near.as_str() || s["id"] == far.as_str())
        .collect();
    assert_eq!(found.len(), 1, "{}", nearby.text);
    let d = found[0]["distance_km"].as_f64().unwrap();
    assert!((0.4..0.9).contains(&d), "distance {d}");

    let mine = ctx
        .get(
            &format!("/api/v1/organizations/{org_id}/shops"),
            Some(&seller),
        )
        .await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn organisations_are_isolated_and_roles_are_scoped_to_shops() {
    let ctx = Ctx::new();
    let (_, _, owner_a) = ctx.seller("org-a").await;
    let (_, _, owner_b) = ctx.seller("org-b").await;
    let org_a = org(&ctx, &owner_a).await;
    let org_b = org(&ctx, &owner_b).await;
    let s1 = open_shop(&ctx, &owner_a, &org_a, shop("A one", 21.0, 105.8)).await;
    let s2 = open_shop(&ctx, &owner_a, &org_a, shop("A two", 21.0, 105.8)).await;

    // another organisation's owner sees nothing of A's back office
    ctx.put(
        &format!("/api/v1/shops/{s1}"),
        Some(&owner_b),
        shop("hijack", 21.0, 105.8),
    )
    .await
    .problem(404);
    ctx.get(
        &format!("/api/v1/organizations/{org_a}/members"),
        Some(&owner_b),
    )
    .await
    .problem(404);
    ctx.get(&format!("/api/v1/organizations/{org_a}"), Some(&owner_b))
        .await
        .problem(404);
    ctx.post(
        &format!("/api/v1/organizations/{org_a}/shops"),
        Some(&owner_b),
        shop("xx", 1.0, 1.0),
    )
    .await
    .problem(404);
    ctx.get(&format!("/api/v1/organizations/{org_b}"), Some(&owner_a))
        .await
        .problem(404);

    // a buyer cannot found an organisation
    let (_, buyer, _) = ctx.user("plain-buyer").await;
    ctx.post(
        "/api/v1/organizations",
        Some(&buyer),
        json!({"name": "Nope Ltd"}),
    )
    .await
    .problem(403);

    // a manager of s1 edits s1 only; staff of s1 cannot edit the profile
    let (manager_id, manager_email, manager) = ctx.seller("manager").await;
    let (_, staff_email, staff) = ctx.seller("staff").await;
    let added = ctx
        .post(
            &format!("/api/v1/organizations/{org_a}/members"),
            Some(&owner_a),
            json!({"email": manager_email, "role": "manager", "shop_ids": [s1]}),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.text);
    assert!(added.body.get("PK").is_none(), "internal keys never leak");
    ctx.post(
        &format!("/api/v1/organizations/{org_a}/members"),
        Some(&owner_a),
        json!({"email": manager_email, "role": "staff", "shop_ids": [s1]}),
    )
    .await
    .problem(409);
    assert_eq!(
        ctx.post(
            &format!("/api/v1/organizations/{org_a}/members"),
            Some(&owner_a),
            json!({"email": staff_email, "role": "staff", "shop_ids": [s1]})
        )
        .await
        .status,
        201
    );

    assert_eq!(
        ctx.put(
            &format!("/api/v1/shops/{s1}"),
            Some(&manager),
            shop("A one renamed", 21.0, 105.8)
        )
        .await
        .status,
        200
    );
    ctx.put(
        &format!("/api/v1/shops/{s2}"),
        Some(&manager),
        shop("nope", 21.0, 105.8),
    )
    .await
    .problem(403);
    ctx.put(
        &format!("/api/v1/shops/{s1}"),
        Some(&staff),
        shop("nope", 21.0, 105.8),
    )
    .await
    .problem(403);
    // managers see only their shops, and cannot manage members
    let visible = ctx
        .get(
            &format!("/api/v1/organizations/{org_a}/shops"),
            Some(&manager),
        )
        .await;
    assert_eq!(visible.body["items"].as_array().unwrap().len(), 1);
    ctx.post(
        &format!("/api/v1/organizations/{org_a}/members"),
        Some(&manager),
        json!({"email": staff_email, "role": "owner"}),
    )
    .await
    .problem(403);

    // the owner widens the manager's scope, then removes them
    let widened = ctx
        .put(
            &format!("/api/v1/organizations/{org_a}/members/{manager_id}"),
            Some(&owner_a),
            json!({"role": "manager", "shop_ids": [s1, s2]}),
        )
        .await;
    assert_eq!(widened.status, 200, "{}", widened.text);
    assert_eq!(
        ctx.put(
            &format!("/api/v1/shops/{s2}"),
            Some(&manager),
            shop("A two by manager", 21.0, 105.8)
        )
        .await
        .status,
        200
    );
    assert_eq!(
        ctx.delete(
            &format!("/api/v1/organizations/{org_a}/members/{manager_id}"),
            Some(&owner_a)
        )
        .await
        .status,
        204
    );
    ctx.put(
        &format!("/api/v1/shops/{s1}"),
        Some(&manager),
        shop("gone", 21.0, 105.8),
    )
    .await
    .problem(404);
    // a shop of another organisation cannot be put in a member's scope
    let s_b = open_shop(&ctx, &owner_b, &org_b, shop("B one", 21.0, 105.8)).await;
    let r = ctx
        .post(
            &format!("/api/v1/organizations/{org_a}/members"),
            Some(&owner_a),
            json!({"email": manager_email, "role": "manager", "shop_ids": [s_b]}),
        )
        .await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "shop_ids[0]");
}

#[tokio::test]
async fn a_suspended_shop_disappears_from_public_view() {
    let ctx = Ctx::new();
    let (_, _, seller) = ctx.seller("suspended").await;
    let org_id = org(&ctx, &seller).await;
    let name = format!("Gone {}", ulid::Ulid::new().to_string().to_lowercase());
    let id = open_shop(&ctx, &seller, &org_id, shop(&name, 16.0544, 108.2022)).await;
    ctx.put(
        &format!("/api/v1/shops/{id}/status"),
        Some(&seller),
        json!({"status": "suspended"}),
    )
    .await
    .problem(403);

    let (admin_id, admin, _) = ctx.user("shop-admin").await;
    ctx.make_admin(&admin_id).await;
    let r = ctx
        .put(
            &format!("/api/v1/shops/{id}/status"),
            Some(&admin),
            json!({"status": "suspended", "reason": "counterfeits"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    ctx.get(&format!("/api/v1/shops/{id}"), None)
        .await
        .problem(404);
    let search = ctx
        .get(&format!("/api/v1/shops?q={}", urlencode(&name)), None)
        .await;
    assert_eq!(search.body["items"], json!([]));
    let near = ctx
        .get("/api/v1/shops?lat=16.0544&lng=108.2022&radius_km=1", None)
        .await;
    assert!(!near.text.contains(&id));
    // the owner still sees it in the back office
    assert_eq!(
        ctx.get(
            &format!("/api/v1/organizations/{org_id}/shops"),
            Some(&seller)
        )
        .await
        .body["items"][0]["status"],
        "suspended"
    );

    assert_eq!(
        ctx.put(
            &format!("/api/v1/shops/{id}/status"),
            Some(&admin),
            json!({"status": "active"})
        )
        .await
        .status,
        200
    );
    assert_eq!(
        ctx.get(&format!("/api/v1/shops/{id}"), None).await.status,
        200
    );
}

#[tokio::test]
async fn bad_shop_input_names_the_field() {
    let ctx = Ctx::new();
    let (_, _, seller) = ctx.seller("bad-shop").await;
    let org_id = org(&ctx, &seller).await;
    let path = format!("/api/v1/organizations/{org_id}/shops");
    let r = ctx
        .post(&path, Some(&seller), shop("Fine", 91.0, 105.0))
        .await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "address.location.lat");
    let mut body = shop("Fine", 21.0, 105.0);
    body["opening_hours"] = json!([{"weekday": 8, "opens": "25:00", "closes": "07:00"}]);
    let fields = ctx.post(&path, Some(&seller), body).await;
    fields.problem(422);
    assert!(
        fields
            .error_fields()
            .contains(&"opening_hours[0].weekday".to_owned()),
        "{}",
        fields.text
    );
    let r = ctx
        .post(
            &format!("/api/v1/organizations/{org_id}/members"),
            Some(&seller),
            json!({"email": "x@example.com", "role": "manager"}),
        )
        .await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "shop_ids");
    ctx.get("/api/v1/shops?lat=21&lng=105&radius_km=500", None)
        .await
        .problem(422);
    ctx.get("/api/v1/shops?lat=21", None).await.problem(422);
    ctx.get("/api/v1/shops?lat=abc&lng=1", None)
        .await
        .problem(400);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn members_get_warehouse_roles_only_on_their_organisations_warehouses() {
    let ctx = Ctx::new();
    let (_, _, owner_a) = ctx.seller("wh-role-a").await;
    let (_, _, owner_b) = ctx.seller("wh-role-b").await;
    let org_a = org(&ctx, &owner_a).await;
    let org_b = org(&ctx, &owner_b).await;
    let s1 = open_shop(&ctx, &owner_a, &org_a, shop("WH one", 21.0, 105.8)).await;
    let sb = open_shop(&ctx, &owner_b, &org_b, shop("WH other", 21.0, 105.8)).await;
    // every shop starts with its default warehouse `<shop>-main`
    let (wa, wb) = (format!("{s1}-main"), format!("{sb}-main"));
    let members = format!("/api/v1/organizations/{org_a}/members");
    let (staff_id, staff_email, _) = ctx.seller("wh-staff").await;

    // another organisation's warehouse is refused, naming the index; nothing is written
    let r = ctx
        .post(
            &members,
            Some(&owner_a),
            json!({"email": staff_email, "role": "staff", "shop_ids": [s1], "warehouse_ids": [wa, wb]}),
        )
        .await;
    let sorted_index = if wa < wb { 1 } else { 0 };
    assert_eq!(
        r.problem(422)["errors"][0]["field"],
        format!("warehouse_ids[{sorted_index}]").as_str(),
        "{}",
        r.text
    );
    let listed = ctx.get(&members, Some(&owner_a)).await;
    assert!(
        !listed.text.contains(&staff_id),
        "a refused member is not half-written: {}",
        listed.text
    );

    let added = ctx
        .post(
            &members,
            Some(&owner_a),
            json!({"email": staff_email, "role": "staff", "shop_ids": [s1], "warehouse_ids": [wa, wa]}),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.text);
    assert_eq!(added.body["warehouse_ids"], json!([wa]));
    let listed = ctx.get(&members, Some(&owner_a)).await;
    let row = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == staff_id.as_str())
        .unwrap_or_else(|| panic!("{}", listed.text))
        .clone();
    assert_eq!(row["warehouse_ids"], json!([wa]));

    // PUT validates the same way, and owners hold no warehouse list (they operate all)
    let one = format!("{members}/{staff_id}");
    let r = ctx
        .put(
            &one,
            Some(&owner_a),
            json!({"role": "manager", "shop_ids": [s1], "warehouse_ids": [wb]}),
        )
        .await;
    assert_eq!(r.problem(422)["errors"][0]["field"], "warehouse_ids[0]");
    let r = ctx
        .put(
            &one,
            Some(&owner_a),
            json!({"role": "owner", "warehouse_ids": [wa]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["warehouse_ids"], json!([]));
    let r = ctx
        .put(
            &one,
            Some(&owner_a),
            json!({"role": "staff", "shop_ids": [s1]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["warehouse_ids"], json!([]), "omitted means none");
}
