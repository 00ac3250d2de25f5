//! Shipping prices, addresses and distances through the API (issue 12, first part): the fee
//! table at its zone, weight-tier, distance and method boundaries, the dimensional weight,
//! same-day beyond its radius, address validation with and without diacritics, geocoding, the
//! distance matrix, and bad input naming the field.

use e2e::Ctx;
use serde_json::{Value, json};

/// Phường Ba Đình, Hà Nội; a point 1.5 km away in Hà Nội; Sóc Sơn (≈ 25 km north, Hà Nội);
/// Bến Thành, TP. Hồ Chí Minh.
const BA_DINH: (f64, f64) = (21.0386, 105.838);
const NEAR_BA_DINH: (f64, f64) = (21.03, 105.85);
const SOC_SON: (f64, f64) = (21.257, 105.849);
const BEN_THANH: (f64, f64) = (10.7725, 106.698);

fn point(p: (f64, f64)) -> Value {
    json!({"lat": p.0, "lng": p.1})
}

async fn quote(ctx: &Ctx, from: (f64, f64), to: (f64, f64), body: Value) -> Value {
    let mut req = json!({"from": point(from), "to": point(to)});
    req.as_object_mut()
        .unwrap()
        .extend(body.as_object().unwrap().clone());
    let r = ctx.post("/api/v1/shipping/calculate", None, req).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

fn fee(q: &Value) -> i64 {
    q["fee"]["amount"].as_i64().unwrap()
}

#[tokio::test]
async fn prices_follow_zone_weight_tiers_dimensional_weight_distance_and_method() {
    let ctx = Ctx::new();
    let standard = |grams: i64| json!({"weight_grams": grams, "method": "standard"});

    // Nearby in the same ward area: the base rate covers 1 kg, then 5 000 per started 500 g.
    let q = quote(&ctx, BA_DINH, NEAR_BA_DINH, standard(1_000)).await;
    assert_eq!(q["zone"], "same_district");
    assert_eq!(fee(&q), 15_000);
    assert_eq!(
        fee(&quote(&ctx, BA_DINH, NEAR_BA_DINH, standard(1_001)).await),
        20_000
    );
    assert_eq!(
        fee(&quote(&ctx, BA_DINH, NEAR_BA_DINH, standard(1_500)).await),
        20_000
    );
    assert_eq!(
        fee(&quote(&ctx, BA_DINH, NEAR_BA_DINH, standard(1_501)).await),
        25_000
    );

    // The same province beyond 10 km: base × 1.4 plus one distance step (≤ 60 km).
    let q = quote(&ctx, BA_DINH, SOC_SON, standard(500)).await;
    assert_eq!(q["zone"], "same_province");
    assert_eq!(fee(&q), 21_000 + 1_000);

    // Another province, 1 100+ km: base × 2 and the capped distance surcharge.
    let q = quote(&ctx, BA_DINH, BEN_THANH, standard(500)).await;
    assert_eq!(q["zone"], "other_province");
    assert_eq!(q["distance_surcharge"]["amount"], 20_000);
    assert_eq!(fee(&q), 50_000);
    assert!(q["distance_km"].as_f64().unwrap() > 1_000.0);

    // A light but bulky box is priced by its dimensional weight (30×20×20 cm = 2.4 kg).
    let q = quote(
        &ctx,
        BA_DINH,
        NEAR_BA_DINH,
        json!({"weight_grams": 300, "method": "standard",
               "dimensions_cm": {"length_cm": 30, "width_cm": 20, "height_cm": 20}}),
    )
    .await;
    assert_eq!(q["dimensional_grams"], 2_400);
    assert_eq!(q["chargeable_grams"], 2_400);
    assert_eq!(fee(&q), 15_000 + 3 * 5_000);

    // Methods multiply; same-day stops at 30 km from the shop.
    let express = quote(
        &ctx,
        BA_DINH,
        SOC_SON,
        json!({"weight_grams": 500, "method": "express"}),
    )
    .await;
    assert_eq!(fee(&express), 33_000);
    let same_day = quote(
        &ctx,
        BA_DINH,
        SOC_SON,
        json!({"weight_grams": 500, "method": "same_day"}),
    )
    .await;
    assert_eq!(fee(&same_day), 55_000);
    let r = ctx
        .post(
            "/api/v1/shipping/calculate",
            None,
            json!({"from": point(BA_DINH), "to": point(BEN_THANH), "weight_grams": 500, "method": "same_day"}),
        )
        .await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["method"]);

    // Every method at once: cheapest first, same-day listed as unavailable when too far.
    let r = ctx
        .post(
            "/api/v1/shipping/calculate-fees",
            None,
            json!({"from": point(BA_DINH), "to": point(BEN_THANH), "weight_grams": 500}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let methods: Vec<&str> = r.body["quotes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["pickup", "standard", "express"]);
    assert_eq!(r.body["unavailable"][0]["method"], "same_day");

    // The query-string form answers the same price.
    let r = ctx
        .get(
            &format!(
                "/api/v1/shipping/cost-calculator?from_lat={}&from_lng={}&to_lat={}&to_lng={}&weight_grams=500&method=express",
                BA_DINH.0, BA_DINH.1, SOC_SON.0, SOC_SON.1
            ),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, express);

    // The tariff the prices come from.
    let r = ctx.get("/api/v1/shipping/weight-pricing", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["zones"][0]["base"]["amount"], 15_000);
    assert_eq!(r.body["zones"][2]["per_step"]["amount"], 8_000);
    assert_eq!(r.body["distance_cap"]["amount"], 20_000);
    let r = ctx.get("/api/v1/shipping/methods", None).await;
    assert_eq!(r.body["items"][2]["method"], "same_day");
    assert_eq!(r.body["items"][2]["max_distance_km"], 30.0);
}

#[tokio::test]
async fn addresses_are_checked_and_placed_with_or_without_diacritics() {
    let ctx = Ctx::new();
    let check = |body: Value| {
        let ctx = &ctx;
        async move {
            let r = ctx
                .post("/api/v1/shipping/validate-address", None, body)
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.body
        }
    };
    let with = check(json!({"line1": "12 Điện Biên Phủ", "ward": "Phường Ba Đình", "province": "Thành phố Hà Nội"})).await;
    let without =
        check(json!({"line1": "12 Dien Bien Phu", "ward": "ba dinh", "province": "ha noi"})).await;
    for a in [&with, &without] {
        assert_eq!(a["valid"], true, "{a}");
        assert_eq!(a["address"]["ward"], "Phường Ba Đình");
        assert_eq!(a["address"]["province"], "Thành phố Hà Nội");
        assert_eq!(a["address"]["province_code"], "01");
        assert_eq!(a["address"]["precision"], "ward");
    }
    assert_eq!(with["address"]["location"], without["address"]["location"]);

    // An unknown ward still places the address, at the province, and says so.
    let a = check(json!({"ward": "Phường Không Có", "province": "TP HCM"})).await;
    assert_eq!(a["valid"], false);
    assert_eq!(a["address"]["province"], "Thành phố Hồ Chí Minh");
    assert_eq!(a["address"]["precision"], "province");
    assert_eq!(a["problems"][0]["field"], "ward");

    // An unknown province: nothing placed, close names suggested.
    let a = check(json!({"province": "Ha Noj"})).await;
    assert_eq!(a["valid"], false);
    assert!(a["address"].is_null());
    assert_eq!(a["problems"][0]["field"], "province");
    assert_eq!(a["problems"][0]["suggestions"][0], "Thành phố Hà Nội");

    // Abroad is not delivered.
    let a = check(json!({"province": "Hà Nội", "country": "FR"})).await;
    assert_eq!(a["valid"], false);
    assert_eq!(a["problems"][0]["field"], "country");

    // Geocoding several at once, in order.
    let r = ctx
        .post(
            "/api/v1/shipping/geocode",
            None,
            json!({"addresses": [{"province": "Sai Gon"}, {"province": "nowhere"}, {"province": "Hà Nội", "ward": "Ba Đình"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["address"]["province_code"], "79");
    assert_eq!(results[1]["valid"], false);
    assert_eq!(
        results[2]["address"]["location"],
        with["address"]["location"]
    );

    // Distances and zones from one origin.
    let r = ctx
        .get(
            &format!(
                "/api/v1/shipping/distance-matrix?origin={},{}&destinations={},{}%7C{},{}%7C0,0",
                BA_DINH.0, BA_DINH.1, SOC_SON.0, SOC_SON.1, BEN_THANH.0, BEN_THANH.1
            ),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rows = r.body["rows"].as_array().unwrap();
    assert_eq!(rows[0]["zone"], "same_province");
    assert_eq!(rows[1]["zone"], "other_province");
    assert!(
        rows[2]["zone"].is_null(),
        "the Gulf of Guinea is not delivered"
    );
}

#[tokio::test]
async fn bad_shipping_input_is_422_naming_the_field() {
    let ctx = Ctx::new();
    let calc = |body: Value| {
        let ctx = &ctx;
        async move { ctx.post("/api/v1/shipping/calculate", None, body).await }
    };
    let base = || json!({"from": point(BA_DINH), "to": point(NEAR_BA_DINH), "weight_grams": 500, "method": "standard"});
    let with = |field: &str, value: Value| {
        let mut b = base();
        let mut target = &mut b;
        let parts: Vec<&str> = field.split('.').collect();
        for part in &parts[..parts.len() - 1] {
            target = &mut target[*part];
        }
        target[parts[parts.len() - 1]] = value;
        b
    };
    for (field, value, named) in [
        ("from.lat", json!(91), "from.lat"),
        ("to.lng", json!(-181), "to.lng"),
        ("weight_grams", json!(-1), "weight_grams"),
        ("weight_grams", json!(50_001), "weight_grams"),
        (
            "dimensions_cm",
            json!({"length_cm": 0, "width_cm": 10, "height_cm": 10}),
            "dimensions_cm.length_cm",
        ),
        ("to", point((0.0, 0.0)), "to"),
    ] {
        let r = calc(with(field, value.clone())).await;
        r.problem(422);
        assert_eq!(r.error_fields(), [named], "{field} = {value}: {}", r.text);
    }
    // A bulky parcel over 50 kg of dimensional weight.
    let r = calc(with(
        "dimensions_cm",
        json!({"length_cm": 200, "width_cm": 200, "height_cm": 200}),
    ))
    .await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["weight_grams"]);

    // NaN and out-of-range coordinates in a query string.
    let r = ctx
        .get(
            "/api/v1/shipping/cost-calculator?from_lat=NaN&from_lng=105.8&to_lat=21&to_lng=105.8&weight_grams=100",
            None,
        )
        .await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["from_lat"]);
    let r = ctx
        .get(
            "/api/v1/shipping/cost-calculator?from_lat=21&from_lng=105.8&to_lat=21&to_lng=inf&weight_grams=100",
            None,
        )
        .await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["to_lng"]);

    // A 10 000-character address line, and an empty province.
    let r = ctx
        .post(
            "/api/v1/shipping/validate-address",
            None,
            json!({"line1": "a".repeat(10_000), "province": "Hà Nội"}),
        )
        .await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["line1"]);
    let r = ctx
        .post(
            "/api/v1/shipping/geocode",
            None,
            json!({"addresses": [{"province": " "}]}),
        )
        .await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["addresses[0].province"]);
    let r = ctx
        .post("/api/v1/shipping/geocode", None, json!({"addresses": []}))
        .await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["addresses"]);

    // Malformed and too many points in a distance matrix.
    let r = ctx
        .get(
            "/api/v1/shipping/distance-matrix?origin=abc&destinations=21,105",
            None,
        )
        .await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["origin"]);
    let many = vec!["21,105.8"; 26].join("%7C");
    let r = ctx
        .get(
            &format!("/api/v1/shipping/distance-matrix?origin=21,105.8&destinations={many}"),
            None,
        )
        .await;
    r.problem(422);
    assert_eq!(r.error_fields(), ["destinations"]);
}
