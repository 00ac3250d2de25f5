//! Product search end to end, against the dev server, the emulator and the local
//! OpenSearch-compatible server (osmem): products created through the API reach the index
//! through the event pipeline (outbox → bus → queue → indexer), then are searched through the
//! API. Tests run in parallel on one index, so each filters on its own shop.
//!
//! The local engine scores with bleve's BM25, not Lucene's: relevance is asserted as an order
//! between clearly different matches, never as score values.

use e2e::{Ctx, TestShop, eventually};
use serde_json::{Value, json};

/// A product of `shop` named `name` (one variant per `(sku, price, stock)`), active.
async fn product(
    ctx: &Ctx,
    shop: &TestShop,
    name: &str,
    description: &str,
    variants: &[(&str, i64, i64)],
    extra: Value,
) -> String {
    let suffix = &ulid::Ulid::new().to_string()[18..];
    let mut body = json!({
        "name": name,
        "description": description,
        "category_id": shop.category_id,
        "status": "active",
        "variants": variants.iter().map(|(sku, price, stock)| json!({
            "sku": format!("{sku}-{suffix}"),
            "attributes": {"size": sku.to_string()},
            "price": {"amount": price, "currency": "VND"},
            "weight_grams": 300,
            "stock": stock,
        })).collect::<Vec<_>>(),
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let r = ctx
        .post(
            &format!("/api/v1/shops/{}/products", shop.shop_id),
            Some(&shop.seller_token),
            body,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

/// `GET search?<query>&shop=<shop>` (200 expected).
async fn search(ctx: &Ctx, shop: &TestShop, query: &str) -> Value {
    let sep = if query.is_empty() { "" } else { "&" };
    let r = ctx
        .get(
            &format!("/api/v1/search?shop={}{sep}{query}", shop.shop_id),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{query}: {}", r.text);
    r.body
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until the shop's products are all indexed (the pipeline is asynchronous).
async fn indexed(ctx: &Ctx, shop: &TestShop, count: u64) {
    eventually(&format!("{count} products of the shop indexed"), || async {
        (search(ctx, shop, "limit=100").await["total"] == json!(count)).then_some(())
    })
    .await;
}

fn position(list: &[String], id: &str) -> usize {
    list.iter()
        .position(|x| x == id)
        .unwrap_or_else(|| panic!("{id} is not among the hits {list:?}"))
}

#[tokio::test]
async fn vietnamese_words_match_without_diacritics_with_a_typo_and_rank_name_and_exact_matches_first()
 {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("search-vi").await;
    let ao = product(
        &ctx,
        &shop,
        "Áo thun nam cổ tròn",
        "Vải cotton 100%",
        &[("M", 150_000, 5)],
        json!({}),
    )
    .await;
    let folded = product(
        &ctx,
        &shop,
        "Ao thun nam basic",
        "Cotton",
        &[("L", 120_000, 5)],
        json!({}),
    )
    .await;
    let jeans = product(
        &ctx,
        &shop,
        "Quần jean slim",
        "Phối cùng áo thun nam rất đẹp",
        &[("S", 300_000, 5)],
        json!({}),
    )
    .await;
    let dam = product(
        &ctx,
        &shop,
        "Đầm maxi đi biển",
        "Đầm nữ mùa hè",
        &[("S", 350_000, 5)],
        json!({}),
    )
    .await;
    indexed(&ctx, &shop, 4).await;

    // Without diacritics: both shirts, and the jeans whose description says it.
    let hits = ids(&search(&ctx, &shop, "q=ao%20thun%20nam").await);
    assert!(hits.contains(&ao) && hits.contains(&folded), "{hits:?}");
    assert!(!hits.contains(&dam), "{hits:?}");
    // A name match ranks above a description-only match.
    assert!(position(&hits, &ao) < position(&hits, &jeans), "{hits:?}");
    assert!(
        position(&hits, &folded) < position(&hits, &jeans),
        "{hits:?}"
    );

    // "đầm" and "dam" both find the dress.
    for q in ["%C4%91%E1%BA%A7m", "dam"] {
        let hits = ids(&search(&ctx, &shop, &format!("q={q}")).await);
        assert_eq!(hits, vec![dam.clone()], "q={q}");
    }
    // One typo per word is forgiven.
    let hits = ids(&search(&ctx, &shop, "q=ao%20thum").await);
    assert!(hits.contains(&ao), "ao thum: {hits:?}");
    // Exact diacritics rank above the folded spelling.
    let hits = ids(&search(&ctx, &shop, "q=%C3%A1o%20thun").await);
    assert!(
        position(&hits, &ao) < position(&hits, &folded),
        "áo thun: {hits:?}"
    );
    // Every word must match: no shirt is a dress.
    assert_eq!(search(&ctx, &shop, "q=ao%20dam").await["total"], json!(0));

    // Highlights mark the matched words; text is HTML-escaped around them.
    let page = search(&ctx, &shop, "q=dam").await;
    let name = page["items"][0]["highlights"]["name"][0]
        .as_str()
        .unwrap_or_default();
    assert!(name.contains("<em>"), "{page}");
}

#[tokio::test]
async fn facet_counts_equal_the_totals_of_their_filters_and_hits_show_the_product_pages_price_and_stock()
 {
    let ctx = Ctx::new();
    let admin = ctx.admin_token().await;
    let mut brands = Vec::new();
    for name in ["Coolmate", "Yody"] {
        let r = ctx
            .post(
                "/api/v1/brands",
                Some(&admin),
                json!({"name": format!("{name} {}", ulid::Ulid::new())}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        brands.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let shop = ctx.test_shop("search-facets").await;
    let specs = [
        (0, 90_000, 4),
        (0, 150_000, 0),
        (0, 180_000, 2),
        (1, 450_000, 1),
        (1, 2_000_000, 3),
    ];
    let mut products = Vec::new();
    for (i, (brand, price, stock)) in specs.iter().enumerate() {
        products.push(
            product(
                &ctx,
                &shop,
                &format!("Giày thể thao {i}"),
                "",
                &[("M", *price, *stock)],
                json!({"brand_id": brands[*brand]}),
            )
            .await,
        );
    }
    indexed(&ctx, &shop, specs.len() as u64).await;

    let page = search(&ctx, &shop, "q=giay").await;
    assert_eq!(page["total"], json!(5));
    let facets = &page["facets"];
    assert_eq!(facets["in_stock"], json!(4));
    let in_stock = search(&ctx, &shop, "q=giay&in_stock=true").await;
    assert_eq!(in_stock["total"], json!(4));
    let mut brand_sum = 0;
    for bucket in facets["brands"].as_array().unwrap() {
        let filtered = search(
            &ctx,
            &shop,
            &format!("q=giay&brand={}", bucket["key"].as_str().unwrap()),
        )
        .await;
        assert_eq!(filtered["total"], bucket["count"], "brand {bucket}");
        let label = bucket["label"].as_str().unwrap();
        assert!(
            label.starts_with("Coolmate") || label.starts_with("Yody"),
            "{bucket}"
        );
        brand_sum += bucket["count"].as_u64().unwrap();
    }
    assert_eq!(brand_sum, 5);
    let mut price_sum = 0;
    for bucket in facets["prices"].as_array().unwrap() {
        let key = bucket["key"].as_str().unwrap();
        let (from, to) = key.split_once('-').unwrap();
        let mut q = String::from("q=giay");
        if from != "*" {
            q.push_str(&format!("&min_price={from}"));
        }
        if to != "*" {
            q.push_str(&format!("&max_price={}", to.parse::<i64>().unwrap() - 1));
        }
        let filtered = search(&ctx, &shop, &q).await;
        assert_eq!(filtered["total"], bucket["count"], "price bucket {key}");
        price_sum += bucket["count"].as_u64().unwrap();
    }
    assert_eq!(price_sum, 5);

    // Every hit shows what its product page shows.
    for hit in page["items"].as_array().unwrap() {
        let id = hit["id"].as_str().unwrap();
        let p = ctx.get(&format!("/api/v1/products/{id}"), None).await;
        assert_eq!(p.status, 200, "{}", p.text);
        let variants = p.body["variants"].as_array().unwrap();
        let lowest = variants
            .iter()
            .map(|v| v["effective_price"]["amount"].as_i64().unwrap())
            .min()
            .unwrap();
        assert_eq!(hit["price_min"]["amount"], json!(lowest), "{id}");
        let any = variants.iter().any(|v| v["in_stock"] == json!(true));
        assert_eq!(hit["in_stock"], json!(any), "{id}");
    }

    // Sorting by price, paged two at a time with the cursor, visits every hit once in order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("q=giay&sort=price_asc&limit=2&cursor={c}"),
            None => "q=giay&sort=price_asc&limit=2".into(),
        };
        let page = search(&ctx, &shop, &q).await;
        for hit in page["items"].as_array().unwrap() {
            seen.push(hit["price_min"]["amount"].as_i64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(seen.len() <= 5, "paging does not end: {seen:?}");
    }
    assert_eq!(seen, vec![90_000, 150_000, 180_000, 450_000, 2_000_000]);
    let _ = products;
}

#[tokio::test]
async fn the_index_follows_price_changes_archiving_and_shop_suspension() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("search-follow").await;
    let cheap = product(
        &ctx,
        &shop,
        "Nón lá Huế",
        "",
        &[("M", 80_000, 3)],
        json!({}),
    )
    .await;
    let other = product(
        &ctx,
        &shop,
        "Nón bảo hiểm",
        "",
        &[("M", 200_000, 3)],
        json!({}),
    )
    .await;
    indexed(&ctx, &shop, 2).await;
    let order = |page: &Value| ids(page);
    assert_eq!(
        order(&search(&ctx, &shop, "q=non&sort=price_asc").await),
        vec![cheap.clone(), other.clone()]
    );

    // A price change: the new price in results and in the sort order.
    let sku = ctx
        .get(&format!("/api/v1/products/{cheap}"), None)
        .await
        .body["variants"][0]["sku"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = ctx
        .put(
            &format!("/api/v1/products/{cheap}/variants/{sku}/price"),
            Some(&shop.seller_token),
            json!({"price": {"amount": 250_000, "currency": "VND"}, "discount": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    eventually("the new price is searchable", || async {
        let page = search(&ctx, &shop, "q=non&sort=price_asc").await;
        (order(&page) == vec![other.clone(), cheap.clone()]
            && page["items"][1]["price_min"]["amount"] == json!(250_000))
        .then_some(())
    })
    .await;

    // A discount counts as the product page counts it.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let r = ctx
        .put(
            &format!("/api/v1/products/{cheap}/variants/{sku}/price"),
            Some(&shop.seller_token),
            json!({"price": {"amount": 250_000, "currency": "VND"},
                   "discount": {"kind": "percentage", "value": 2000, "starts_at": now - 60, "ends_at": now + 3600}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    eventually("the discounted price is searchable", || async {
        let page = search(&ctx, &shop, "q=non%20la").await;
        (page["items"][0]["price_min"]["amount"] == json!(200_000)).then_some(())
    })
    .await;

    // Archived: gone.
    let r = ctx
        .delete(
            &format!("/api/v1/products/{other}"),
            Some(&shop.seller_token),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    indexed(&ctx, &shop, 1).await;
    assert_eq!(
        order(&search(&ctx, &shop, "q=non").await),
        vec![cheap.clone()]
    );

    // A suspended shop's products leave the index, and come back when it is reinstated.
    let admin = ctx.admin_token().await;
    for (status, count) in [("suspended", 0), ("active", 1)] {
        let r = ctx
            .put(
                &format!("/api/v1/shops/{}/status", shop.shop_id),
                Some(&admin),
                json!({"status": status, "reason": "search test"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        indexed(&ctx, &shop, count).await;
    }
}

#[tokio::test]
async fn suggestions_complete_typed_prefixes_without_diacritics() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("search-suggest").await;
    let marker = ulid::Ulid::new().to_string()[16..].to_lowercase();
    let name = format!("Đồng hồ {marker} thông minh");
    let id = product(&ctx, &shop, &name, "", &[("M", 990_000, 2)], json!({})).await;
    indexed(&ctx, &shop, 1).await;
    let prefix = format!("dong ho {}", &marker[..6]);
    for route in ["suggestions", "autocomplete"] {
        let r = ctx
            .get(
                &format!("/api/v1/search/{route}?q={}", prefix.replace(' ', "%20")),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let text = r.body.to_string();
        assert!(text.contains(&id), "{route} {prefix}: {text}");
    }
    let r = ctx.get("/api/v1/search/autocomplete?q=%20", None).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.error_fields(), vec!["q"]);
}

#[tokio::test]
async fn similar_products_and_price_comparison_find_the_same_kind_elsewhere() {
    let ctx = Ctx::new();
    let marker = ulid::Ulid::new().to_string()[16..].to_lowercase();
    let shop_a = ctx.test_shop("search-cmp-a").await;
    let mut shop_b = ctx.test_shop("search-cmp-b").await;
    // Same category in both shops, so the products compare.
    shop_b.category_id = shop_a.category_id.clone();
    let name = format!("Tai nghe {marker} không dây");
    let here = product(&ctx, &shop_a, &name, "", &[("M", 500_000, 2)], json!({})).await;
    let cheaper = product(&ctx, &shop_b, &name, "", &[("M", 450_000, 2)], json!({})).await;
    let dearer = product(
        &ctx,
        &shop_b,
        &format!("{name} pro"),
        "",
        &[("L", 700_000, 2)],
        json!({}),
    )
    .await;
    indexed(&ctx, &shop_a, 1).await;
    indexed(&ctx, &shop_b, 2).await;

    let r = ctx
        .get(&format!("/api/v1/products/{here}/price-comparison"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let offers: Vec<&str> = r.body["offers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        offers,
        vec![cheaper.as_str(), dearer.as_str()],
        "{}",
        r.text
    );
    assert_eq!(r.body["offers"][0]["difference"]["amount"], json!(-50_000));

    let r = ctx
        .get(&format!("/api/v1/products/{here}/similar"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let similar = ids(&r.body);
    assert!(
        similar.contains(&cheaper) && !similar.contains(&here),
        "{similar:?}"
    );

    let r = ctx
        .get("/api/v1/products/01NOSUCHPRODUCT0000000000/similar", None)
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
}

#[tokio::test]
async fn bad_search_input_is_a_4xx_naming_the_parameter_and_query_syntax_is_only_text() {
    let ctx = Ctx::new();
    let long = "a".repeat(5000);
    let cases: Vec<(String, u16, &str)> = vec![
        ("limit=0".into(), 422, "limit"),
        ("limit=10000".into(), 422, "limit"),
        ("min_price=-1".into(), 422, "min_price"),
        ("min_price=500&max_price=100".into(), 422, "min_price"),
        ("sort=cheapest".into(), 400, "sort"),
        (format!("q={long}"), 422, "q"),
        ("cursor=bm90LWEtY3Vyc29y".into(), 422, "cursor"),
        ("lat=21.0".into(), 422, "lng"),
        ("lng=105.8".into(), 422, "lat"),
        ("lat=91&lng=0".into(), 422, "lat"),
        ("rating=6".into(), 422, "rating"),
        ("category=a%20b".into(), 422, "category"),
    ];
    for (query, status, field) in cases {
        let r = ctx.get(&format!("/api/v1/search?{query}"), None).await;
        assert_eq!(r.status, status, "{query}: {}", r.text);
        assert_eq!(r.content_type(), "application/problem+json", "{query}");
        if status == 422 {
            assert_eq!(
                r.error_fields(),
                vec![field.to_owned()],
                "{query}: {}",
                r.text
            );
        } else {
            assert!(
                r.body["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(field),
                "{query}: {}",
                r.text
            );
        }
    }
    // A cursor of another sort is refused too.
    let shop = ctx.test_shop("search-bad").await;
    product(&ctx, &shop, "Bút bi", "", &[("M", 5_000, 1)], json!({})).await;
    product(&ctx, &shop, "Bút chì", "", &[("M", 3_000, 1)], json!({})).await;
    indexed(&ctx, &shop, 2).await;
    let page = search(&ctx, &shop, "sort=price_asc&limit=1").await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let r = ctx
        .get(
            &format!(
                "/api/v1/search?shop={}&sort=newest&cursor={cursor}",
                shop.shop_id
            ),
            None,
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);

    // OpenSearch syntax is searched as words, never run.
    for q in [
        "name:*",
        "%7B%22script%22%3A%7B%22source%22%3A%22x%22%7D%7D",
        "*",
        "bút%20OR%20*",
    ] {
        let page = search(&ctx, &shop, &format!("q={q}")).await;
        assert!(page["total"].as_u64().unwrap() <= 1, "q={q}: {page}");
    }
    let r = ctx
        .post(
            "/api/v1/search/advanced",
            None,
            json!({"near": {"lat": 21.0, "lng": 500}}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.error_fields(), vec!["near.lng"]);
    let r = ctx
        .post(
            "/api/v1/search/advanced",
            None,
            json!({"attributes": {"size": []}}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.error_fields(), vec!["attributes.size"]);
}

#[tokio::test]
async fn advanced_search_filters_on_attributes() {
    let ctx = Ctx::new();
    let shop = ctx.test_shop("search-attrs").await;
    let m = product(
        &ctx,
        &shop,
        "Sơ mi trắng",
        "",
        &[("M", 200_000, 1)],
        json!({}),
    )
    .await;
    let xl = product(
        &ctx,
        &shop,
        "Sơ mi xanh",
        "",
        &[("XL", 210_000, 1)],
        json!({}),
    )
    .await;
    indexed(&ctx, &shop, 2).await;
    let r = ctx
        .post(
            "/api/v1/search/advanced",
            None,
            json!({"q": "so mi", "shop": shop.shop_id, "attributes": {"Size": ["m", "L"]}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ids(&r.body), vec![m.clone()]);
    let r = ctx
        .get(
            &format!("/api/v1/search/filters/available?q=so%20mi%20{}", ""),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["attributes"]["size"].is_array(), "{}", r.text);
    let _ = xl;
}
