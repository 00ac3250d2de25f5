//! The ledger's invariants under a random sequence of at least 200 money moves (captures,
//! provider refunds, two-phase refunds settled or released, disputes opened and closed won or
//! lost, escrow releases, payouts, some of them refused), written through `shared::payments::ops`
//! against the emulator. Afterwards every transfer sums to zero, every stored balance equals the
//! sum of its account's entries, no protected account is negative, and no payment refunded more
//! than it captured. Everything runs in THB, a currency no other test uses, so every THB account
//! is this test's. Needs `make test`'s environment (TABLE_NAME, AWS_ENDPOINT_URL).

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use shared::domain::{Currency, Money};
use shared::events::PaidOrder;
use shared::orders::OrderRecord;
use shared::payments::ledger::{self, AccountRecord, EntryRecord, TransferRecord};
use shared::payments::ops::{self, OpError};
use shared::payments::{
    DisputeRecord, DisputeStatus, EscrowRecord, EscrowStatus, Method, PAYMENT_ENTITY,
    PaymentRecord, PaymentStatus,
};
use shared::store::{Db, from_item, keys, s};

const CUR: Currency = Currency::THB;
const STEPS: usize = 240;

fn order(id: &str, shop: &str, buyer: &str, total: i64) -> OrderRecord {
    serde_json::from_value(json!({
        "PK": keys::order(id).0, "SK": keys::order(id).1,
        "GSI1PK": keys::gsi1_buyer_orders(buyer), "GSI1SK": format!("2026#{id}"),
        "GSI2PK": keys::gsi2_shop_orders(shop), "GSI2SK": format!("2026#{id}"),
        "entity_type": "order", "id": id, "checkout_id": format!("C{id}"), "buyer_id": buyer,
        "shop_id": shop, "shop_name": "Ledger shop", "org_id": "ORG", "status": "pending_payment",
        "payment_method": "online", "currency": "THB", "lines": [], "subtotal": total,
        "shop_discount": 0, "platform_discount": 0, "shipping_fee": 0, "tax_included": 0,
        "total": total, "weight_grams": 0,
        "shipping_address": {"recipient_name": "R", "phone": "+66800000000", "line1": "1 Road", "city": "Bangkok", "country": "TH"},
        "created_at": shared::now_rfc3339(), "updated_at": shared::now_rfc3339(), "timeline": []
    }))
    .unwrap()
}

fn payment(id: &str, buyer: &str, orders: &[OrderRecord]) -> PaymentRecord {
    let amount = orders.iter().map(|o| o.total).sum();
    let (pk, sk) = keys::payment(id);
    PaymentRecord {
        pk,
        sk,
        gsi1pk: keys::gsi1_buyer_payments(buyer),
        gsi1sk: format!("2026#{id}"),
        entity_type: PAYMENT_ENTITY.into(),
        id: id.into(),
        checkout_id: format!("C{id}"),
        buyer_id: buyer.into(),
        method: Method::Stripe,
        status: PaymentStatus::Pending,
        currency: CUR,
        amount,
        orders: orders
            .iter()
            .map(|o| PaidOrder {
                order_id: o.id.clone(),
                shop_id: o.shop_id.clone(),
                amount: o.total,
            })
            .collect(),
        provider_ref: None,
        capture_ref: None,
        redirect_url: None,
        client_secret: None,
        captured: 0,
        refunded: 0,
        refundable: 0,
        refund_pending: 0,
        disputed: 0,
        late_amount: 0,
        failure_reason: None,
        created_at: shared::now_rfc3339(),
        updated_at: shared::now_rfc3339(),
        expires_at: 0,
        succeeded_at: None,
    }
}

async fn escrows(db: &Db, p: &PaymentRecord) -> Vec<EscrowRecord> {
    let mut found = Vec::new();
    for o in &p.orders {
        if let Some(e) = db
            .get::<EscrowRecord>(keys::escrow(&o.order_id))
            .await
            .unwrap()
        {
            found.push(e);
        }
    }
    found
}

/// Every item of `entity` in THB (the table is small in tests: a scan is fine here).
async fn scan<T: serde::de::DeserializeOwned>(db: &Db, entity: &str) -> Vec<T> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = db
            .client
            .scan()
            .table_name(&db.table)
            .filter_expression("entity_type = :e AND currency = :c")
            .expression_attribute_values(":e", s(entity))
            .expression_attribute_values(":c", s("THB"))
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items.unwrap_or_default() {
            out.push(from_item(item).unwrap());
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return out;
        }
    }
}

/// A refusal the rules allow; anything else is a failure of the test.
fn allowed(e: OpError) -> &'static str {
    match e {
        OpError::NotRefundable { .. } => "not refundable",
        OpError::InsufficientBalance(_) => "insufficient balance",
        OpError::AlreadyFinal => "already final",
        OpError::Raced => "raced",
        OpError::Duplicate => "duplicate",
        e => panic!("unexpected error: {e:?}"),
    }
}

#[tokio::test]
async fn a_random_sequence_of_money_moves_keeps_the_ledger_balanced() {
    std::env::var("TABLE_NAME").expect("run under `make test` (TABLE_NAME and the emulator)");
    let sdk = shared::state::aws_config().await;
    let db = Db::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        std::env::var("TABLE_NAME").unwrap(),
    );
    let seed: u64 = std::env::var("LEDGER_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_261_201);
    let mut rng = StdRng::seed_from_u64(seed);
    let run = ulid::Ulid::new().to_string();
    let shops: Vec<String> = (0..3).map(|i| format!("LEDGERSHOP{i}{run}")).collect();
    let mut payments: Vec<String> = Vec::new();
    let mut disputes: Vec<(String, String)> = Vec::new();
    let mut outcomes: BTreeMap<&'static str, u32> = BTreeMap::new();
    for step in 0..STEPS {
        let kind = if payments.len() < 5 {
            0
        } else {
            rng.random_range(0..8)
        };
        let label: &'static str = match kind {
            // a new payment of 1-2 orders, captured
            0 | 1 => {
                let id = format!("LP{step}{run}");
                let buyer = format!("LEDGERBUYER{run}");
                let orders: Vec<OrderRecord> = (0..rng.random_range(1..=2))
                    .map(|i| {
                        let shop = &shops[rng.random_range(0..shops.len())];
                        order(
                            &format!("LO{step}X{i}{run}"),
                            shop,
                            &buyer,
                            rng.random_range(1_000..50_000),
                        )
                    })
                    .collect();
                for o in &orders {
                    db.put_new(o).await.unwrap();
                }
                let p = payment(&id, &buyer, &orders);
                db.put_new(&p).await.unwrap();
                payments.push(id);
                match ops::capture(&db, &p, &orders, Money::new(p.amount, CUR), None, None).await {
                    Ok(_) => "captured",
                    Err(e) => allowed(e),
                }
            }
            _ => {
                let id = &payments[rng.random_range(0..payments.len())];
                let p: PaymentRecord = db.get(keys::payment(id)).await.unwrap().unwrap();
                let es = escrows(&db, &p).await;
                let amount = rng.random_range(1..=p.amount + p.amount / 5);
                let result = match kind {
                    2 => {
                        let r = format!("re_{step}{run}");
                        ops::book_provider_refund(&db, &p, &es, &r, amount, None).await
                    }
                    3 => match es.first() {
                        None => Ok(()),
                        Some(e) => {
                            match ops::reserve_refund(&db, &p, Some(e), amount, "test").await {
                                Err(e) => Err(e),
                                Ok(r) if rng.random_bool(0.7) => {
                                    ops::settle_refund(&db, &r, &format!("re_{step}{run}"), None)
                                        .await
                                }
                                Ok(r) => ops::release_refund(&db, &r, "refused").await,
                            }
                        }
                    },
                    4 => ops::open_dispute(&db, &p, &es, &format!("dp_{step}{run}"), amount, None)
                        .await
                        .map(|d| disputes.push((d.pk, d.sk))),
                    5 => {
                        let mut open = None;
                        for k in &disputes {
                            let d: DisputeRecord = db.get(k.clone()).await.unwrap().unwrap();
                            if d.payment_id == p.id && d.status == DisputeStatus::Open {
                                open = Some(d);
                                break;
                            }
                        }
                        match open {
                            None => Ok(()),
                            Some(d) => {
                                ops::close_dispute(&db, &d, &es, rng.random_bool(0.5), None).await
                            }
                        }
                    }
                    6 => match es.iter().find(|e| e.status == EscrowStatus::Held) {
                        None => Ok(()),
                        Some(e) => ops::release_escrow(&db, e, 500).await.map(|_| ()),
                    },
                    _ => {
                        let shop = &shops[rng.random_range(0..shops.len())];
                        ops::request_payout(
                            &db,
                            shop,
                            "ORG",
                            Money::new(rng.random_range(1..20_000), CUR),
                            "owner",
                        )
                        .await
                        .map(|_| ())
                    }
                };
                match result {
                    Ok(()) => [
                        "",
                        "",
                        "provider refund",
                        "reserved refund",
                        "dispute opened",
                        "dispute closed",
                        "released",
                        "payout",
                    ][kind],
                    Err(e) => allowed(e),
                }
            }
        };
        *outcomes.entry(label).or_default() += 1;
    }
    eprintln!("seed {seed}, {STEPS} steps: {outcomes:?}");
    assert!(
        outcomes.get("captured").copied().unwrap_or(0) >= 10,
        "{outcomes:?}"
    );
    for kind in ["provider refund", "dispute opened", "released", "payout"] {
        assert!(
            outcomes.contains_key(kind),
            "the sequence exercised {kind}: {outcomes:?}"
        );
    }

    // Every transfer sums to zero.
    let transfers: Vec<TransferRecord> = scan(&db, ledger::TRANSFER_ENTITY).await;
    assert!(transfers.len() >= 50, "{} transfers", transfers.len());
    for t in &transfers {
        assert_eq!(
            t.legs.iter().map(|l| l.amount).sum::<i64>(),
            0,
            "transfer {} is unbalanced",
            t.id
        );
    }
    // Every stored balance is the sum of its entries, and protected ones are not negative.
    let entries: Vec<EntryRecord> = scan(&db, ledger::ENTRY_ENTITY).await;
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    for e in &entries {
        *sums.entry(e.account.clone()).or_default() += e.amount;
    }
    let accounts: Vec<AccountRecord> = scan(&db, ledger::ACCOUNT_ENTITY).await;
    assert_eq!(
        accounts.len(),
        sums.len(),
        "every account with entries has a balance"
    );
    for a in &accounts {
        assert_eq!(
            Some(&a.balance),
            sums.get(&a.account),
            "balance of {}",
            a.account
        );
        if ledger::is_protected(&a.account) {
            assert!(a.balance >= 0, "{} went negative: {}", a.account, a.balance);
        }
    }
    // No payment refunded more than it captured; escrows never below zero.
    for id in &payments {
        let p: PaymentRecord = db.get(keys::payment(id)).await.unwrap().unwrap();
        assert!(p.refunded + p.refund_pending <= p.captured, "{id}: {p:?}");
        assert!(p.refundable >= 0, "{id}: {p:?}");
        for e in escrows(&db, &p).await {
            assert!(e.balance >= 0 && e.on_hold >= 0, "{e:?}");
        }
    }
}
