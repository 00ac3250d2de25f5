//! `shared::products::relist_product` and `relist_due` against the emulator: a product written
//! before listings were sharded loses its old rows and gets sharded rows at its effective price
//! (idempotently), and a discount window that opens moves the product's price rows at the
//! sweeper's tick.

use std::collections::{BTreeMap, BTreeSet};

use shared::domain::{Currency, Discount, DiscountKind, Money};
use shared::products::{
    ListingDue, ListingItem, ProductRecord, ProductStatus, VariantRecord, listing_items,
    load_product, relist_due, relist_product,
};
use shared::store::{Db, keys, tx};

fn product(shop: &str, category: &str) -> ProductRecord {
    let id = ulid::Ulid::new().to_string();
    let now = shared::now_rfc3339();
    let (pk, sk) = keys::product(&id);
    ProductRecord {
        pk,
        sk,
        gsi2pk: keys::gsi2_shop_products(shop),
        gsi2sk: format!("{now}#{id}"),
        entity_type: "product".into(),
        id,
        shop_id: shop.into(),
        org_id: "org".into(),
        name: "Relisted".into(),
        description: String::new(),
        category_id: category.into(),
        brand_id: None,
        status: ProductStatus::Active,
        created_at: now.clone(),
        updated_at: now,
        version: 1,
        media: Vec::new(),
        summary: None,
    }
}

fn variant(product_id: &str, sku: &str, price: i64, discount: Option<Discount>) -> VariantRecord {
    let (pk, sk) = keys::variant(product_id, sku);
    VariantRecord {
        pk,
        sk,
        entity_type: "variant".into(),
        product_id: product_id.into(),
        sku: sku.into(),
        attributes: BTreeMap::new(),
        price: Money::new(price, Currency::VND),
        discount,
        weight_grams: 100,
        stock: 5,
        reserved: 0,
        available: 5,
        low_stock_threshold: 1,
        rev: 0,
        warehouses: Default::default(),
    }
}

/// Every listing row of `product_id` under the partitions a product of `shop`/`category` can
/// have rows in (old unsharded keys and every shard), as (PK, SK, price_amount).
async fn rows_of(
    db: &Db,
    product_id: &str,
    shop: &str,
    category: &str,
) -> BTreeSet<(String, String, i64)> {
    let mut partitions = vec![
        keys::listing_all(),
        keys::listing_category(category),
        keys::listing_shop(shop),
    ];
    for n in 0..keys::LISTING_SHARDS {
        partitions.push(keys::listing_all_shard(n));
        partitions.push(keys::listing_category_shard(category, n));
    }
    let mut found = BTreeSet::new();
    for pk in partitions {
        // The all-products partitions hold other tests' rows too: only this product's count.
        let rows: Vec<ListingItem> = db
            .query_all(None, "PK = :pk", &[(":pk", shared::store::s(pk))])
            .await
            .unwrap();
        found.extend(
            rows.into_iter()
                .filter(|r| r.card.id == product_id)
                .map(|r| (r.pk, r.sk, r.price_amount)),
        );
    }
    found
}

async fn db() -> Db {
    shared::AppState::from_env()
        .await
        .expect("make test exports the stack environment")
        .db
}

#[tokio::test]
async fn relisting_a_product_listed_under_the_old_keys_moves_it_to_its_shards_once() {
    let db = db().await;
    let (shop, category) = (ulid::Ulid::new().to_string(), ulid::Ulid::new().to_string());
    let p = product(&shop, &category);
    let now = shared::now_epoch();
    let half_off = Discount {
        kind: DiscountKind::Percentage,
        value: 5_000,
        starts_at: now - 60,
        ends_at: now + 3_600,
    };
    let variants = vec![
        variant(&p.id, "A", 100_000, Some(half_off)),
        variant(&p.id, "B", 80_000, None),
    ];
    // GIVEN a product as the code before sharding wrote it: no summary, six rows under
    // `LIST#ALL`, `LIST#CAT#<c>`, `LIST#SHOP#<s>`, priced by the lowest list price (80 000).
    let table = &db.table;
    let mut actions = vec![tx::put_new(table, &p).unwrap()];
    actions.extend(variants.iter().map(|v| tx::put_new(table, v).unwrap()));
    let legacy = shared::products::listed_keys(&p, &variants);
    assert_eq!(legacy.len(), 6);
    let card = listing_items(&p, &variants)[0].card.clone();
    for (pk, sk) in &legacy {
        let mut row = ListingItem {
            pk: pk.clone(),
            sk: sk.clone(),
            entity_type: "listing".into(),
            price_amount: 80_000,
            card: card.clone(),
        };
        row.card.effective_price = row.card.price;
        actions.push(tx::put(table, &row, None).unwrap());
    }
    db.transact(actions).await.unwrap();
    assert!(
        rows_of(&db, &p.id, &shop, &category)
            .await
            .iter()
            .any(|r| r.0 == keys::listing_all())
    );

    // WHEN it is relisted, twice (make migrate may run again)
    relist_product(&db, &p.id).await.unwrap();
    let once = rows_of(&db, &p.id, &shop, &category).await;
    relist_product(&db, &p.id).await.unwrap();
    let twice = rows_of(&db, &p.id, &shop, &category).await;

    // THEN the old all/category rows are gone and the six current rows are there: its shard of
    // all products and of its category, its shop, priced by the effective price (50 000).
    let shard = keys::listing_shard(&p.id);
    let expected: BTreeSet<(String, String, i64)> = [
        keys::listing_all_shard(shard),
        keys::listing_category_shard(&category, shard),
        keys::listing_shop(&shop),
    ]
    .into_iter()
    .flat_map(|pk| {
        [
            (
                pk.clone(),
                keys::listing_newest_sk(&p.created_at, &p.id),
                50_000,
            ),
            (pk, keys::listing_price_sk(50_000, &p.id), 50_000),
        ]
    })
    .collect();
    assert_eq!(once, expected);
    assert_eq!(twice, expected, "relisting again changes nothing");
    let (stored, _) = load_product(&db, &p.id).await.unwrap().unwrap();
    let summary = stored.summary.expect("relisting records the summary");
    assert_eq!(summary.listed_price.amount, 50_000);
    assert_eq!(summary.min_price.amount, 80_000);
    assert_eq!(summary.max_price.amount, 100_000);
    assert_eq!(summary.variant_count, 2);
    assert_eq!(summary.relist_at, Some(now + 3_600), "the discount's end");
    assert_eq!(
        stored.version, 3,
        "each relist bumps the version (sellers' stale edits 409)"
    );
    let due: ListingDue = db.get(keys::listing_due(&p.id)).await.unwrap().unwrap();
    assert_eq!(due.at, now + 3_600);
}

#[tokio::test]
async fn a_discount_that_opens_moves_the_price_rows_at_the_sweepers_tick() {
    let db = db().await;
    let (shop, category) = (ulid::Ulid::new().to_string(), ulid::Ulid::new().to_string());
    let mut p = product(&shop, &category);
    let now = shared::now_epoch();
    let opens = now + 2;
    let fixed_off = Discount {
        kind: DiscountKind::Fixed,
        value: 30_000,
        starts_at: opens,
        ends_at: opens + 3_600,
    };
    let variants = vec![variant(&p.id, "A", 100_000, Some(fixed_off))];
    // GIVEN a product written now, its discount opening in two seconds
    let table = &db.table;
    let listing = shared::products::relist_actions(table, None, &mut p, &variants, now).unwrap();
    let mut actions = vec![tx::put_new(table, &p).unwrap()];
    actions.extend(variants.iter().map(|v| tx::put_new(table, v).unwrap()));
    actions.extend(listing);
    db.transact(actions).await.unwrap();
    let before = rows_of(&db, &p.id, &shop, &category).await;
    assert!(before.contains(&(
        keys::listing_shop(&shop),
        keys::listing_price_sk(100_000, &p.id),
        100_000
    )));
    let due: ListingDue = db.get(keys::listing_due(&p.id)).await.unwrap().unwrap();
    assert_eq!(due.at, opens, "the boundary is recorded with the write");

    // A tick before the boundary leaves the product alone.
    relist_due(&db, now, 100).await.unwrap();
    assert_eq!(rows_of(&db, &p.id, &shop, &category).await, before);

    // WHEN the window has opened and the sweeper ticks
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    // (the dev server's own sweeper may tick first: either way the rows must have moved)
    relist_due(&db, shared::now_epoch(), 100).await.unwrap();

    // THEN its price rows sort at the effective price, and the next boundary is the window's end
    let after = rows_of(&db, &p.id, &shop, &category).await;
    assert_eq!(after.len(), 6);
    assert!(after.iter().all(|r| r.2 == 70_000), "{after:?}");
    assert!(after.contains(&(
        keys::listing_shop(&shop),
        keys::listing_price_sk(70_000, &p.id),
        70_000
    )));
    let due: ListingDue = db.get(keys::listing_due(&p.id)).await.unwrap().unwrap();
    assert_eq!(due.at, opens + 3_600);
}
