//! Golden tests of the query DSL: every route's request body, for representative inputs, is
//! compared with a JSON fixture in `tests/golden/`. A change in relevance logic is then a
//! visible diff of a fixture. After an intended change, regenerate them with
//! `UPDATE_GOLDEN=1 cargo nextest run -p product-search -E 'binary(golden)'` and review the diff.

use std::collections::BTreeMap;
use std::path::PathBuf;

use product_search::ProductDoc;
use product_search::doc::GeoPoint;
use product_search::query::{self, Filters, Near, Search, Sort};
use serde_json::{Value, json};
use shared::domain::Currency;

fn check(name: &str, body: &Value) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.json"));
    let pretty = serde_json::to_string_pretty(body).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &pretty).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no fixture {}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    let want: Value = serde_json::from_str(&want).unwrap();
    assert_eq!(
        body, &want,
        "{name}: the query changed; if intended, regenerate with UPDATE_GOLDEN=1 and review the diff\n{pretty}"
    );
}

fn doc() -> ProductDoc {
    ProductDoc {
        id: "01PRODUCT".into(),
        name: "Áo thun nam cổ tròn".into(),
        description: "Vải cotton".into(),
        brand_id: Some("01BRAND".into()),
        brand: Some("Coolmate".into()),
        category_id: "01TSHIRTS".into(),
        category_path: vec!["01FASHION".into(), "01TSHIRTS".into()],
        category_names: vec!["Thời trang".into(), "Áo thun".into()],
        category_name: "Áo thun".into(),
        shop_id: "01SHOP".into(),
        shop_name: "Threads Hà Nội".into(),
        shop_city: "Hà Nội".into(),
        shop_location: GeoPoint {
            lat: 21.02,
            lon: 105.85,
        },
        attributes: vec!["color=đỏ".into(), "size=m".into()],
        currency: Currency::VND,
        price_min: 150_000,
        price_max: 180_000,
        in_stock: true,
        rating: 0.0,
        rating_count: 0,
        sales: 12,
        created_at: "2026-11-30T10:00:00Z".into(),
        image_url: None,
    }
}

#[test]
fn a_text_search_with_every_filter() {
    let search = Search {
        q: Some("ao thun nam".into()),
        filters: Filters {
            category: Some("01FASHION".into()),
            brand: Some("01BRAND".into()),
            shop: Some("01SHOP".into()),
            min_price: Some(100_000),
            max_price: Some(500_000),
            rating: Some(4.0),
            in_stock: Some(true),
            near: Some(Near {
                lat: 21.0,
                lng: 105.8,
                radius_km: 5.0,
            }),
            attributes: BTreeMap::from([("size".into(), vec!["m".into(), "l".into()])]),
        },
        sort: Sort::Relevance,
        limit: 20,
        after: None,
    };
    check("search_text_all_filters", &query::search_body(&search));
}

#[test]
fn browsing_a_category_by_price_from_a_cursor() {
    let search = Search {
        q: None,
        filters: Filters {
            category: Some("01TSHIRTS".into()),
            ..Filters::default()
        },
        sort: Sort::PriceAsc,
        limit: 2,
        after: Some(vec![json!(150_000), json!("01PRODUCT")]),
    };
    check(
        "search_browse_price_asc_after",
        &query::search_body(&search),
    );
}

#[test]
fn every_sort() {
    let sorts = [
        Sort::Relevance,
        Sort::PriceAsc,
        Sort::PriceDesc,
        Sort::Newest,
        Sort::BestSelling,
        Sort::Rating,
    ];
    let bodies: Vec<Value> = sorts
        .iter()
        .map(|s| {
            query::search_body(&Search {
                q: Some("dam".into()),
                sort: *s,
                limit: 10,
                ..Search::default()
            })["sort"]
                .clone()
        })
        .collect();
    check("sorts", &json!(bodies));
}

#[test]
fn available_filters_of_a_query() {
    check("filters_available", &query::filters_body(Some("giay")));
}

#[test]
fn suggestions_of_a_prefix() {
    check("suggest", &query::suggest_body("ao th", 5));
}

#[test]
fn similar_products() {
    check("similar", &query::similar_body(&doc(), 10));
}

#[test]
fn price_comparison() {
    check("price_comparison", &query::comparison_body(&doc(), 10));
}

#[test]
fn the_index_mapping() {
    check("index_settings", &product_search::index::settings());
}
