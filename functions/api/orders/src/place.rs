//! Order placement: preview and the idempotent checkout. A checkout is two batched reads
//! (Idempotency record + cart + address; then every variant, product, shop, voucher and voucher
//! usage of the cart) and ONE `TransactWriteItems` that writes one order per shop, reserves the
//! stock of every line (`available >= qty`), redeems the vouchers under their limits, removes the
//! purchased lines from the cart, counts the orders in the buyer's stats, puts `OrderPlaced`
//! in the outbox and remembers the response under the Idempotency-Key — all or nothing.

use aws_sdk_dynamodb::types::TransactWriteItem;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::cart::{Cart, CartLine};
use shared::checkout::{self, Catalog, Delivery, MAX_CHECKOUT_LINES, MAX_CHECKOUT_SHOPS, Quote};
use shared::domain::order_state::OrderStatus;
use shared::events::{self, DomainEvent, OrderPlaced};
use shared::geocode::AddressPlace;
use shared::orders::{
    self, OrderLine, OrderRecord, PAYMENT_WINDOW_SECS, PaymentMethod, ShippingAddress,
    TimelineEntry,
};
use shared::stock;
use shared::store::{Item, StoreError, from_item, keys, tx};
use shared::vouchers::redeem_actions;
use shared::warehouses::choose_warehouse;
use shared::{ApiError, AppState};

use crate::model::{CheckoutRequest, CheckoutResult, Order};

use shared::idempotency::{IdempotencyRecord, request_hash};

/// The caller's cart, address and (when placing) earlier response, in one batched read.
struct Basket {
    cart: Cart,
    address: Option<ShippingAddress>,
    earlier: Option<IdempotencyRecord>,
}

fn key_of(item: &Item) -> Option<(String, String)> {
    Some((
        item.get("PK")?.as_s().ok()?.clone(),
        item.get("SK")?.as_s().ok()?.clone(),
    ))
}

async fn read_basket(
    state: &AppState,
    user_id: &str,
    address_id: &str,
    idempotency: Option<&(String, String)>,
) -> Result<Basket, ApiError> {
    let cart_key = keys::cart(user_id);
    let address_key = keys::address(user_id, address_id);
    let mut wanted = vec![cart_key.clone(), address_key.clone()];
    wanted.extend(idempotency.cloned());
    let mut basket = Basket {
        cart: Cart::default(),
        address: None,
        earlier: None,
    };
    for item in state.db.batch_get(&wanted).await? {
        let k = key_of(&item);
        if k.as_ref() == Some(&cart_key) {
            basket.cart = Cart::from_item(item)?;
        } else if k.as_ref() == Some(&address_key) {
            basket.address = Some(from_item(item)?);
        } else if k.as_ref() == idempotency {
            basket.earlier = Some(from_item(item)?);
        }
    }
    Ok(basket)
}

/// Refuses carts that cannot become one placement before reading the catalogue (which must
/// fit one batched read).
fn check_limits(cart: &Cart) -> Result<(), ApiError> {
    if cart.lines.is_empty() {
        return Err(ApiError::field(
            "cart",
            "is empty; add items before checking out",
        ));
    }
    if cart.lines.len() > MAX_CHECKOUT_LINES {
        return Err(ApiError::field(
            "cart",
            format!(
                "has {} lines; one order placement takes at most {MAX_CHECKOUT_LINES} (save the rest for later)",
                cart.lines.len()
            ),
        ));
    }
    let mut shops: Vec<&str> = cart.lines.iter().map(|l| l.line.shop_id.as_str()).collect();
    shops.sort_unstable();
    shops.dedup();
    if shops.len() > MAX_CHECKOUT_SHOPS {
        return Err(ApiError::field(
            "cart",
            format!(
                "has items of {} shops; one order placement takes at most {MAX_CHECKOUT_SHOPS} (save the rest for later)",
                shops.len()
            ),
        ));
    }
    Ok(())
}

/// The quote, or 422 naming `shipping_method` or `address_id` when the parcels cannot travel
/// as asked (the preview and the placement refuse alike).
fn shippable(quote: Quote) -> Result<Quote, ApiError> {
    let shipping: Vec<_> = quote
        .problems
        .iter()
        .filter(|p| p.field == checkout::SHIPPING_METHOD_FIELD || p.field == "address_id")
        .cloned()
        .collect();
    if shipping.is_empty() {
        Ok(quote)
    } else {
        Err(ApiError::Validation(shipping))
    }
}

/// Where the address lies: placed when it was saved, or now for an address saved before
/// addresses were placed. 422 naming `address_id` outside Vietnam (no delivery there).
fn address_place(address: &ShippingAddress) -> Result<AddressPlace, ApiError> {
    let placed = match &address.place {
        Some(place) => Some(place.clone()),
        None => shared::geocode::place_address(
            &shared::geocode::Gazetteer,
            &address.country,
            &address.city,
            address.region.as_deref(),
            address.ward.as_deref(),
        )
        .map_err(|e| ApiError::field("address_id", format!("its city {}", e.message)))?,
    };
    placed.ok_or_else(|| {
        ApiError::field(
            "address_id",
            "is outside Vietnam; the marketplace delivers within Vietnam only",
        )
    })
}

/// The quote of the whole cart shipped to `place`, or what stands in the way of ordering it:
/// 422 naming `shipping_method` or `address_id` when the parcels cannot go that way (same-day
/// too far, too heavy, outside the delivery area), else 409.
fn ready_quote(
    cart: &Cart,
    catalog: &Catalog,
    now: i64,
    delivery: &Delivery<'_>,
) -> Result<Quote, ApiError> {
    let quote = shippable(checkout::quote(
        cart,
        &cart.lines,
        catalog,
        now,
        Some(delivery),
    ))?;
    if !quote.ready {
        let what: Vec<String> = quote
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect();
        return Err(ApiError::Conflict(format!(
            "the cart cannot be ordered as it is — {}",
            what.join("; ")
        )));
    }
    Ok(quote)
}

/// Preview: the fee breakdown an order placed now would have (nothing is written).
pub async fn preview(
    state: &AppState,
    user_id: &str,
    req: &CheckoutRequest,
) -> Result<Quote, ApiError> {
    let basket = read_basket(state, user_id, &req.address_id, None).await?;
    let address = basket.address.as_ref().ok_or_else(no_address)?;
    let place = address_place(address)?;
    check_limits(&basket.cart)?;
    let catalog = checkout::load_catalog(
        &state.db,
        user_id,
        &basket.cart.lines,
        &checkout::applied_vouchers(&basket.cart),
    )
    .await?;
    let delivery = Delivery {
        method: req.shipping_method,
        to: &place,
    };
    let quote = checkout::quote(
        &basket.cart,
        &basket.cart.lines,
        &catalog,
        shared::now_epoch(),
        Some(&delivery),
    );
    shippable(quote)
}

fn no_address() -> ApiError {
    ApiError::field("address_id", "is not an address of your address book")
}

/// The warehouse a line reserves from: the nearest to the buyer among the shop's warehouses
/// with enough of it, then the one with the most (`shared::warehouses::choose_warehouse`),
/// decided from the variant's per-warehouse counts in the catalogue read (no read per line).
fn warehouse_for(
    catalog: &Catalog,
    shop_id: &str,
    line: &checkout::QuoteLine,
    buyer: &AddressPlace,
) -> Result<String, ApiError> {
    let variant = catalog
        .variants
        .get(&(line.product_id.clone(), line.sku.clone()));
    let serving = catalog.serving.get(shop_id);
    match (variant, serving) {
        (Some(v), Some(serving)) if !v.warehouses.is_empty() => choose_warehouse(
            &serving.warehouses,
            &v.warehouses,
            line.quantity,
            Some(buyer.point()),
        )
        .map(|w| w.id.clone())
        .ok_or_else(|| {
            ApiError::Conflict(format!(
                "{}: no single warehouse of the shop holds {} units; order fewer",
                line.sku, line.quantity
            ))
        }),
        // Stock not yet in warehouses (before `make migrate` ran): nothing to reserve from.
        _ => Err(ApiError::Unavailable {
            retry_after_secs: 60,
        }),
    }
}

/// Placements of one request when a reservation lost a race (see [`place`]).
const PLACE_ATTEMPTS: u32 = 3;

/// What each action of the checkout transaction is, to explain a cancellation.
enum Action {
    Order,
    Reserve(String),
    Voucher(String),
    VoucherUsage(String),
    Cart,
    Other,
}

/// Places the orders of the caller's cart; see the module docs.
pub async fn place(
    state: &AppState,
    user_id: &str,
    idempotency_key: &str,
    req: &CheckoutRequest,
) -> Result<Response, ApiError> {
    let hash = request_hash(req);
    let idem_key = keys::checkout_idempotency(user_id, idempotency_key);
    let basket = read_basket(state, user_id, &req.address_id, Some(&idem_key)).await?;
    if let Some(earlier) = &basket.earlier {
        return earlier.replay(&hash);
    }
    let mut address = basket.address.ok_or_else(no_address)?;
    let place = address_place(&address)?;
    address.place = Some(place.clone());
    let cart = basket.cart;
    check_limits(&cart)?;
    // A line whose warehouse sold out between the read and the write is placed again from a
    // fresh read (another warehouse may still hold it); other conflicts are answered.
    for attempt in 1..=PLACE_ATTEMPTS {
        let catalog = checkout::load_catalog(
            &state.db,
            user_id,
            &cart.lines,
            &checkout::applied_vouchers(&cart),
        )
        .await?;
        let now = shared::now_epoch();
        let delivery = Delivery {
            method: req.shipping_method,
            to: &place,
        };
        let quote = ready_quote(&cart, &catalog, now, &delivery)?;

        let table = &state.db.table;
        let created_at = shared::now_rfc3339();
        let checkout_id = ulid::Ulid::new().to_string();
        let (status, payment_due_at) = match req.payment_method {
            PaymentMethod::Cod => (OrderStatus::Confirmed, None),
            PaymentMethod::Online => (OrderStatus::PendingPayment, Some(now + PAYMENT_WINDOW_SECS)),
        };
        let mut orders_out: Vec<OrderRecord> = Vec::new();
        let mut actions: Vec<TransactWriteItem> = Vec::new();
        let mut kinds: Vec<Action> = Vec::new();
        for shop in &quote.shops {
            let id = ulid::Ulid::new().to_string();
            let shop_record = &catalog.shops[&shop.shop_id];
            let lines: Vec<OrderLine> = shop
                .lines
                .iter()
                .map(|l| {
                    Ok(OrderLine {
                        product_id: l.product_id.clone(),
                        sku: l.sku.clone(),
                        name: l.name.clone(),
                        attributes: l.attributes.clone(),
                        list_price: l.list_price,
                        unit_price: l.unit_price,
                        quantity: l.quantity,
                        line_total: l.line_total,
                        weight_grams: l.weight_grams,
                        warehouse_id: Some(warehouse_for(&catalog, &shop.shop_id, l, &place)?),
                    })
                })
                .collect::<Result<_, ApiError>>()?;
            let (pk, sk) = keys::order(&id);
            let sort = keys::order_sort(&created_at, &id);
            let applied_shop_voucher = shop.voucher.as_ref().filter(|v| v.applies);
            let order = OrderRecord {
                pk,
                sk,
                gsi1pk: keys::gsi1_buyer_orders(user_id),
                gsi1sk: sort.clone(),
                gsi2pk: keys::gsi2_shop_orders(&shop.shop_id),
                gsi2sk: sort,
                gsi3pk: payment_due_at.map(|_| keys::gsi3_due(keys::Due::Payment, &id)),
                gsi3sk: payment_due_at.map(|due| orders::due_sort(due, &id)),
                entity_type: orders::ORDER_ENTITY.into(),
                id: id.clone(),
                checkout_id: checkout_id.clone(),
                buyer_id: user_id.into(),
                shop_id: shop.shop_id.clone(),
                shop_name: shop.shop_name.clone(),
                org_id: shop_record.org_id.clone(),
                status,
                payment_method: req.payment_method,
                currency: quote.currency(),
                lines,
                subtotal: shop.subtotal.amount,
                shop_discount: shop.shop_discount.amount,
                platform_discount: shop.platform_discount.amount,
                shipping_fee: shop.shipping_fee.amount,
                tax_included: shop.tax_included.amount,
                total: shop.total.amount,
                weight_grams: shop.weight_grams,
                shop_voucher: applied_shop_voucher.map(|v| v.code.clone()),
                platform_voucher: quote
                    .platform_voucher
                    .as_ref()
                    .filter(|v| v.applies && shop.platform_discount.amount > 0)
                    .map(|v| v.code.clone()),
                shipping_address: address.clone(),
                shipping_method: req.shipping_method,
                shipping_quote: shop.shipping.clone(),
                note: req.note.clone(),
                created_at: created_at.clone(),
                updated_at: created_at.clone(),
                payment_due_at,
                shipment: None,
                delivered_at: None,
                cancel_reason: None,
                return_request: None,
                timeline: vec![TimelineEntry {
                    status,
                    at: created_at.clone(),
                    actor: "buyer".into(),
                    note: Some(match req.payment_method {
                        PaymentMethod::Cod => "placed; cash on delivery".into(),
                        PaymentMethod::Online => "placed; waiting for payment".into(),
                    }),
                }],
            };
            actions.push(tx::put_new(table, &order)?);
            kinds.push(Action::Order);
            for l in &order.lines {
                let warehouse = l.warehouse(&order.shop_id);
                for action in stock::reserve(table, &l.product_id, &l.sku, &warehouse, l.quantity)?
                {
                    actions.push(action);
                    kinds.push(Action::Reserve(l.sku.clone()));
                }
            }
            if let Some(v) = applied_shop_voucher {
                let record =
                    &catalog.vouchers[&(keys::voucher_scope(Some(&shop.shop_id)), v.code.clone())];
                actions.extend(redeem_actions(table, record, user_id, now)?);
                kinds.push(Action::Voucher(v.code.clone()));
                kinds.push(Action::VoucherUsage(v.code.clone()));
            }
            actions.push(events::outbox_put(
                table,
                &DomainEvent::OrderPlaced(OrderPlaced {
                    order_id: order.id.clone(),
                    checkout_id: checkout_id.clone(),
                    buyer_id: user_id.into(),
                    shop_id: order.shop_id.clone(),
                    shop_name: order.shop_name.clone(),
                    org_id: order.org_id.clone(),
                    status,
                    payment_method: req.payment_method.as_str().into(),
                    total: order.money(order.total),
                    payment_due_at: payment_due_at.and_then(shared::format_epoch),
                    items: order
                        .lines
                        .iter()
                        .map(|l| shared::events::OrderedItem {
                            product_id: l.product_id.clone(),
                            sku: l.sku.clone(),
                            quantity: l.quantity,
                        })
                        .collect(),
                }),
            )?);
            kinds.push(Action::Other);
            orders_out.push(order);
        }
        if let Some(v) = quote.platform_voucher.as_ref().filter(|v| v.applies) {
            let record = &catalog.vouchers[&(keys::voucher_scope(None), v.code.clone())];
            actions.extend(redeem_actions(table, record, user_id, now)?);
            kinds.push(Action::Voucher(v.code.clone()));
            kinds.push(Action::VoucherUsage(v.code.clone()));
        }
        let (pk, sk) = keys::checkout(&checkout_id);
        actions.push(tx::put_new(
            table,
            &orders::CheckoutRecord {
                pk,
                sk,
                entity_type: "checkout".into(),
                id: checkout_id.clone(),
                buyer_id: user_id.into(),
                order_ids: orders_out.iter().map(|o| o.id.clone()).collect(),
                payment_method: req.payment_method,
                currency: quote.currency(),
                total: quote.total.amount,
                created_at: created_at.clone(),
                payment_due_at,
            },
        )?);
        kinds.push(Action::Other);
        let purchased: Vec<CartLine> = cart.lines.clone();
        actions.push(shared::cart::remove_purchased(table, user_id, &purchased)?);
        kinds.push(Action::Cart);
        actions.push(orders::stats_on_place(table, user_id, &orders_out)?);
        kinds.push(Action::Other);

        let result = CheckoutResult {
            checkout_id: checkout_id.clone(),
            orders: orders_out
                .iter()
                .map(|o| Order::from_record(o, Vec::new()))
                .collect(),
            subtotal: quote.subtotal,
            discount: quote.discount,
            shipping_fee: quote.shipping_fee,
            tax_included: quote.tax_included,
            total: quote.total,
            payment_due_at: payment_due_at.and_then(shared::format_epoch),
        };
        let body = serde_json::to_string(&result).map_err(ApiError::internal)?;
        actions.push(tx::put_new(
            table,
            &IdempotencyRecord::new(idem_key.clone(), &hash, StatusCode::CREATED, &body),
        )?);
        kinds.push(Action::Other);
        debug_assert!(actions.len() <= shared::store::MAX_TRANSACTION_ITEMS);

        match state.db.transact(actions).await {
            Ok(()) => {
                tracing::info!(checkout_id = %checkout_id, orders = orders_out.len(), total = quote.total.amount, "orders placed");
                shared::metrics::orders_placed(orders_out.len() as u64);
                return Ok((
                    StatusCode::CREATED,
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    body,
                )
                    .into_response());
            }
            Err(e @ StoreError::TransactionCanceled(_)) => {
                // A concurrent request with the same key may have won: answer with its response.
                if let Some(earlier) = state.db.get::<IdempotencyRecord>(idem_key.clone()).await? {
                    return earlier.replay(&hash);
                }
                let sold_out = matches!(
                    e.failed_condition_index().and_then(|i| kinds.get(i)),
                    Some(Action::Reserve(_))
                );
                if sold_out && attempt < PLACE_ATTEMPTS {
                    tracing::info!(attempt, "a warehouse sold out meanwhile; placing again");
                    continue;
                }
                if sold_out {
                    shared::metrics::stock_out();
                }
                return Err(explain(&e, &kinds));
            }
            Err(e) => return Err(e.into()),
        }
    }
    unreachable!("the last attempt answers")
}

/// A cancelled checkout transaction, in the buyer's words.
fn explain(e: &StoreError, kinds: &[Action]) -> ApiError {
    let Some(i) = e.failed_condition_index() else {
        return ApiError::Unavailable {
            retry_after_secs: 1,
        };
    };
    ApiError::Conflict(match kinds.get(i) {
        Some(Action::Reserve(sku)) => format!(
            "{sku} sold out while you were checking out: not enough stock left; nothing was ordered"
        ),
        Some(Action::Voucher(code)) => format!(
            "voucher {code} has been fully redeemed or is no longer valid; remove it and retry"
        ),
        Some(Action::VoucherUsage(code)) => {
            format!("you have already used voucher {code} as often as allowed")
        }
        Some(Action::Cart) => {
            "your cart changed while you were checking out; review it and retry".into()
        }
        Some(Action::Order | Action::Other) | None => {
            "the checkout conflicted with a concurrent change; retry".into()
        }
    })
}
