//! Every partition/sort key shape of the single table lives here and nowhere else.
//! See docs/data-model.md for the access pattern each key serves.

/// Sort key used by items that are the only one of their kind in a partition.
pub const PROFILE: &str = "PROFILE";

pub fn user_pk(user_id: &str) -> String {
    format!("USER#{user_id}")
}
pub fn user_profile(user_id: &str) -> (String, String) {
    (user_pk(user_id), PROFILE.to_owned())
}
/// Guard item that makes an e-mail address unique across users.
pub fn email_guard(email: &str) -> (String, String) {
    (format!("EMAIL#{email}"), "USER".to_owned())
}
pub const ADDRESS_PREFIX: &str = "ADDRESS#";
pub fn address(user_id: &str, address_id: &str) -> (String, String) {
    (user_pk(user_id), format!("{ADDRESS_PREFIX}{address_id}"))
}
/// The pending password-reset code of a user (at most one at a time).
pub fn password_reset(user_id: &str) -> (String, String) {
    (user_pk(user_id), "PASSWORD_RESET".to_owned())
}
/// E-mail verification token, keyed by the SHA-256 of the token so the table never holds it.
pub fn email_verification(token_hash: &str) -> (String, String) {
    (format!("EMAILVERIFY#{token_hash}"), "TOKEN".to_owned())
}
/// A refresh-token family: one login session whose token rotates on every use.
pub fn refresh_family(family_id: &str) -> (String, String) {
    (format!("REFRESH#{family_id}"), "FAMILY".to_owned())
}
/// Failed-login counter for one (normalised) e-mail address.
/// One write-rate window of a client (`scope` is `ip` or `user`; `window` = minute number).
pub fn rate_window(scope: &str, id: &str, window: i64) -> (String, String) {
    (format!("RATE#{scope}#{id}"), format!("W#{window}"))
}

pub fn login_throttle(email: &str) -> (String, String) {
    (format!("LOGINTHROTTLE#{email}"), "COUNTER".to_owned())
}
pub const OUTBOX_PREFIX: &str = "OUTBOX#";
pub fn outbox(event_id: &str) -> (String, String) {
    (format!("{OUTBOX_PREFIX}{event_id}"), "EVENT".to_owned())
}
/// Marks an event as handled by one consumer (idempotency record).
pub fn processed_event(consumer: &str, event_id: &str) -> (String, String) {
    (
        format!("PROCESSED#{consumer}#{event_id}"),
        "EVENT".to_owned(),
    )
}
pub fn idempotency(scope: &str, key: &str) -> (String, String) {
    (format!("IDEMPOTENCY#{scope}#{key}"), "RESPONSE".to_owned())
}

/// GSI1: every user, newest first (admin listing).
pub const GSI1_ALL_USERS: &str = "USERS";
pub fn gsi1_user_sort(created_at: &str, user_id: &str) -> String {
    format!("{created_at}#{user_id}")
}

// ---------------------------------------------------------------- catalog
pub fn org_profile(org_id: &str) -> (String, String) {
    (format!("ORG#{org_id}"), PROFILE.to_owned())
}
pub const MEMBER_PREFIX: &str = "MEMBER#";
pub fn org_member(org_id: &str, user_id: &str) -> (String, String) {
    (format!("ORG#{org_id}"), format!("{MEMBER_PREFIX}{user_id}"))
}
pub fn org_pk(org_id: &str) -> String {
    format!("ORG#{org_id}")
}
/// GSI1 partition listing the organisations a user belongs to.
pub fn gsi1_memberships(user_id: &str) -> String {
    format!("MEMBERSHIPS#{user_id}")
}
pub const ORG_SHOP_PREFIX: &str = "SHOP#";
/// Pointer from an organisation to one of its shops (lists an org's shops in one query).
pub fn org_shop(org_id: &str, shop_id: &str) -> (String, String) {
    (org_pk(org_id), format!("{ORG_SHOP_PREFIX}{shop_id}"))
}
pub fn shop_profile(shop_id: &str) -> (String, String) {
    (format!("SHOP#{shop_id}"), PROFILE.to_owned())
}
/// GSI1: active shops by lower-cased name (prefix search).
pub const GSI1_SHOPS_BY_NAME: &str = "SHOPS";
/// Name, then id after U+0001 — a separator below every printable character, so "abc" sorts
/// before "abc south" (with '#' it would not).
pub fn gsi1_shop_name(name_lower: &str, shop_id: &str) -> String {
    format!("{name_lower}\u{1}{shop_id}")
}
/// GSI2: active shops by geohash cell (precision [`SHOP_GEO_PRECISION`]).
pub const SHOP_GEO_PRECISION: usize = 4;
pub fn gsi2_shop_geo(cell: &str) -> String {
    format!("SHOPGEO#{cell}")
}
// ---------------------------------------------------------------- warehouses
/// `WAREHOUSE#<id>/PROFILE`; GSI1 lists an organisation's warehouses by name.
pub fn warehouse(warehouse_id: &str) -> (String, String) {
    (format!("WAREHOUSE#{warehouse_id}"), PROFILE.to_owned())
}
pub fn gsi1_org_warehouses(org_id: &str) -> String {
    format!("ORG#{org_id}#WAREHOUSES")
}
/// `SHOP#<id>/WAREHOUSES`: the warehouses serving a shop with their locations, read in the
/// checkout's one batched catalogue read (the key needs only the shop id).
pub fn shop_warehouses(shop_id: &str) -> (String, String) {
    (format!("SHOP#{shop_id}"), "WAREHOUSES".to_owned())
}
/// The warehouse every shop starts with (created with the shop, or by `make migrate`):
/// deterministic, so creating it twice is one warehouse.
pub fn default_warehouse_id(shop_id: &str) -> String {
    format!("{shop_id}-main")
}
pub const STOCK_PREFIX: &str = "STOCK#";
/// `PRODUCT#<id>/STOCK#<sku>#<warehouse>`: a variant's stock in one warehouse. In the product's
/// partition, between `STATS` and `VARIANT#`, so the product page's one query reads it too.
pub fn warehouse_stock(product_id: &str, sku: &str, warehouse_id: &str) -> (String, String) {
    (
        product_pk(product_id),
        format!("{STOCK_PREFIX}{sku}#{warehouse_id}"),
    )
}
/// GSI1: a warehouse's stock rows by product and SKU (the warehouse inventory view).
pub fn gsi1_warehouse_stock(warehouse_id: &str) -> String {
    format!("WAREHOUSE#{warehouse_id}#STOCK")
}
pub fn gsi1_stock_sort(product_id: &str, sku: &str) -> String {
    format!("{product_id}#{sku}")
}
/// GSI2: a shop's stock rows over all its warehouses (the shop inventory view, one query per page).
pub fn gsi2_shop_stock(shop_id: &str) -> String {
    format!("SHOP#{shop_id}#STOCK")
}
pub fn gsi2_stock_sort(product_id: &str, sku: &str, warehouse_id: &str) -> String {
    format!("{product_id}#{sku}#{warehouse_id}")
}
/// `STOCKTRANSFER#<id>/PROFILE`: a stock transfer between two warehouses (not a payment
/// ledger's `TRANSFER#`); GSI1 lists an organisation's transfers, newest first.
pub fn stock_transfer(transfer_id: &str) -> (String, String) {
    (format!("STOCKTRANSFER#{transfer_id}"), PROFILE.to_owned())
}
pub fn gsi1_org_transfers(org_id: &str) -> String {
    format!("ORG#{org_id}#TRANSFERS")
}

pub fn category(category_id: &str) -> (String, String) {
    (format!("CATEGORY#{category_id}"), PROFILE.to_owned())
}

/// Guard making a category's name unique among its siblings (case-insensitive).
pub fn category_name_guard(parent_id: Option<&str>, name: &str) -> (String, String) {
    (
        format!(
            "CATEGORYNAME#{}#{}",
            parent_id.unwrap_or("ROOT"),
            name.to_lowercase()
        ),
        "GUARD".to_owned(),
    )
}
pub const GSI1_CATEGORIES: &str = "CATEGORIES";
pub fn brand(brand_id: &str) -> (String, String) {
    (format!("BRAND#{brand_id}"), PROFILE.to_owned())
}
pub const GSI1_BRANDS: &str = "BRANDS";
pub fn product_pk(product_id: &str) -> String {
    format!("PRODUCT#{product_id}")
}
/// The product item; its variants share the partition and sort after it (`VARIANT#…`), price
/// history sorts before it (`PRICE#…`), so `SK >= "PRODUCT"` reads product + variants at once.
pub const PRODUCT_SK: &str = "PRODUCT";
pub fn product(product_id: &str) -> (String, String) {
    (product_pk(product_id), PRODUCT_SK.to_owned())
}
pub const VARIANT_PREFIX: &str = "VARIANT#";
/// Search counters of a product (`ProductStats`); sorts after `PRODUCT`.
pub const PRODUCT_STATS_SK: &str = "STATS";
pub fn product_stats(product_id: &str) -> (String, String) {
    (product_pk(product_id), PRODUCT_STATS_SK.to_owned())
}
/// A search document due to be rebuilt at `at` (epoch seconds: a discount window of the product
/// opens or closes then), in the partition of that hour, so the indexer's scheduled tick reads
/// the passed boundaries of the last hours in a few Queries.
pub fn search_due_pk(hour: i64) -> String {
    format!("SEARCHDUE#{hour}")
}
pub fn search_due(at: i64, product_id: &str) -> (String, String) {
    (
        search_due_pk(at.div_euclid(3600)),
        format!("{at:012}#{product_id}"),
    )
}
pub fn variant(product_id: &str, sku: &str) -> (String, String) {
    (product_pk(product_id), format!("{VARIANT_PREFIX}{sku}"))
}
/// SKUs are unique per shop.
pub fn sku_guard(shop_id: &str, sku: &str) -> (String, String) {
    (format!("SKU#{shop_id}#{sku}"), "GUARD".to_owned())
}
pub const PRICE_PREFIX: &str = "PRICE#";
pub fn price_change(product_id: &str, sku: &str, at: &str, id: &str) -> (String, String) {
    (
        product_pk(product_id),
        format!("{PRICE_PREFIX}{sku}#{at}#{id}"),
    )
}
/// GSI2: all products of a shop, any status, newest first (seller back office).
pub fn gsi2_shop_products(shop_id: &str) -> String {
    format!("SHOPPRODUCTS#{shop_id}")
}
pub fn ledger_pk(product_id: &str, sku: &str) -> String {
    format!("LEDGER#{product_id}#{sku}")
}
pub fn ledger_entry(product_id: &str, sku: &str, at: &str, id: &str) -> (String, String) {
    (ledger_pk(product_id, sku), format!("{at}#{id}"))
}
/// Buyer-facing listing partitions (active products only): one for everything, one per
/// category, one per shop. Each holds two orderings of the same cards: `N#` newest, `P#` price.
/// `listing_all` and `listing_category` are now the prefixes of their shards
/// ([`listing_all_shard`], [`listing_category_shard`]) and the keys rows had before listings
/// were sharded (`relist_product` deletes those).
pub fn listing_all() -> String {
    "LIST#ALL".to_owned()
}
pub fn listing_category(category_id: &str) -> String {
    format!("LIST#CAT#{category_id}")
}
pub fn listing_shop(shop_id: &str) -> String {
    format!("LIST#SHOP#{shop_id}")
}
pub const LIST_NEWEST: &str = "N#";
pub const LIST_PRICE: &str = "P#";
pub fn listing_newest_sk(created_at: &str, product_id: &str) -> String {
    format!("{LIST_NEWEST}{created_at}#{product_id}")
}
/// Zero-padded so string order is numeric order (amounts are at most 10^12).
pub fn listing_price_sk(amount: i64, product_id: &str) -> String {
    format!("{LIST_PRICE}{amount:013}#{product_id}")
}
/// Where a presigned upload lands (the media processor watches this prefix).
pub const UPLOAD_PREFIX: &str = "uploads/";
pub fn upload_object(product_id: &str, media_id: &str) -> String {
    format!("{UPLOAD_PREFIX}{product_id}/{media_id}")
}
/// Where a verified image and its thumbnails live.
pub fn media_object(product_id: &str, media_id: &str, name: &str) -> String {
    format!("media/{product_id}/{media_id}/{name}")
}
/// Marks an upload as attached to its product (the media processor's idempotency guard).
pub fn media_guard(media_id: &str) -> (String, String) {
    (format!("MEDIA#{media_id}"), "ATTACHED".to_owned())
}

// ---------------------------------------------------------------- cart, vouchers, orders
/// A buyer's whole cart is one item: lines, saved-for-later lines and applied vouchers are
/// attributes of it (see `shared::cart`), so the cart reads in one GetItem, concurrent edits
/// of different lines never collide, and checkout empties it with one action.
pub fn cart(user_id: &str) -> (String, String) {
    (format!("CART#{user_id}"), "CART".to_owned())
}
/// Attribute name prefixes inside the cart item.
pub const CART_LINE_PREFIX: &str = "L#";
pub const CART_SAVED_PREFIX: &str = "S#";
pub const CART_SHOP_VOUCHER_PREFIX: &str = "V#";
pub const CART_PLATFORM_VOUCHER: &str = "voucher_platform";
pub fn cart_line_attr(product_id: &str, sku: &str) -> String {
    format!("{CART_LINE_PREFIX}{product_id}#{sku}")
}
pub fn cart_saved_attr(product_id: &str, sku: &str) -> String {
    format!("{CART_SAVED_PREFIX}{product_id}#{sku}")
}
pub fn cart_shop_voucher_attr(shop_id: &str) -> String {
    format!("{CART_SHOP_VOUCHER_PREFIX}{shop_id}")
}

/// Scope of a voucher: the platform's, or one shop's. Codes are unique within a scope.
pub fn voucher_scope(shop_id: Option<&str>) -> String {
    match shop_id {
        Some(shop) => format!("SHOP#{shop}"),
        None => "PLATFORM".to_owned(),
    }
}
pub fn voucher(scope: &str, code: &str) -> (String, String) {
    (format!("VOUCHER#{scope}#{code}"), "VOUCHER".to_owned())
}
/// How often one user redeemed one voucher (the per-user limit guards it).
pub fn voucher_usage(scope: &str, code: &str, user_id: &str) -> (String, String) {
    (
        format!("VOUCHERUSE#{scope}#{code}#{user_id}"),
        "USAGE".to_owned(),
    )
}
/// GSI1: vouchers of one scope (a shop's, or the platform's), by code.
pub fn gsi1_vouchers(scope: &str) -> String {
    format!("VOUCHERS#{scope}")
}

pub fn order(order_id: &str) -> (String, String) {
    (format!("ORDER#{order_id}"), "ORDER".to_owned())
}
/// GSI1: a buyer's orders, newest first.
pub fn gsi1_buyer_orders(user_id: &str) -> String {
    format!("BUYERORDERS#{user_id}")
}
/// GSI2: a shop's orders, newest first.
pub fn gsi2_shop_orders(shop_id: &str) -> String {
    format!("SHOPORDERS#{shop_id}")
}
pub fn order_sort(created_at: &str, order_id: &str) -> String {
    format!("{created_at}#{order_id}")
}
/// GSI3 (sparse): orders with a deadline the order sweeper acts on, by deadline, spread over
/// [`DUE_SHARDS`] partitions so writes do not share one hot key. `PAYMENTDUE#<n>` while an
/// order is `pending_payment` (it expires), `COMPLETEDUE#<n>` while it is `delivered` (it
/// completes when the return window closes); no GSI3 attributes otherwise.
pub const DUE_SHARDS: u32 = 4;
/// A deadline the sweeper acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    Payment,
    Completion,
}
fn due_shard(order_id: &str) -> u32 {
    order_id
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % DUE_SHARDS
}
pub fn gsi3_due(due: Due, order_id: &str) -> String {
    gsi3_due_shard(due, due_shard(order_id))
}
pub fn gsi3_due_shard(due: Due, shard: u32) -> String {
    match due {
        Due::Payment => format!("PAYMENTDUE#{shard}"),
        Due::Completion => format!("COMPLETEDUE#{shard}"),
    }
}
/// A buyer's order counters and spend (purchase summary), kept by the same transactions that
/// change orders.
pub fn order_stats(user_id: &str) -> (String, String) {
    (user_pk(user_id), "ORDERSTATS".to_owned())
}
/// The response of a checkout, remembered under the buyer's Idempotency-Key.
pub fn checkout_idempotency(user_id: &str, key: &str) -> (String, String) {
    idempotency(&format!("checkout#{user_id}"), key)
}
/// Where a buyer's return photo is uploaded; the media processor deletes it unless its bytes are
/// an accepted image (it is never made public).
pub const RETURN_PHOTO_PREFIX: &str = "returns/";
pub fn return_photo_object(order_id: &str, photo_id: &str) -> String {
    format!("{RETURN_PHOTO_PREFIX}{order_id}/{photo_id}")
}

// ---------------------------------------------------------------- payments, ledger, invoices
/// One payment attempt for a checkout (`shared::payments::PaymentRecord`).
pub fn payment(payment_id: &str) -> (String, String) {
    (format!("PAYMENT#{payment_id}"), "PAYMENT".to_owned())
}
/// Immutable pointer from a provider's reference (Stripe intent id, bank-transfer reference, …)
/// to the payment and its orders, so a webhook finds both in two reads.
pub fn payment_ref(provider: &str, reference: &str) -> (String, String) {
    (
        format!("PAYREF#{provider}#{reference}"),
        "PAYREF".to_owned(),
    )
}
/// The `payment_ref` namespace of pointers by our own payment id.
pub const PAYREF_BY_ID: &str = "id";
/// GSI1: a buyer's payments, newest first.
pub fn gsi1_buyer_payments(user_id: &str) -> String {
    format!("BUYERPAYMENTS#{user_id}")
}
/// A provider webhook already applied (30-day dedupe, written in the transaction it caused).
pub fn webhook_event(provider: &str, event_id: &str) -> (String, String) {
    (format!("WEBHOOK#{provider}#{event_id}"), "EVENT".to_owned())
}
/// A refund (ours: admin, return or late-payment refunds; or one the provider reported).
pub fn refund(refund_id: &str) -> (String, String) {
    (format!("REFUND#{refund_id}"), "REFUND".to_owned())
}
/// Guard: a provider's refund id is booked once, whichever path (our call, its webhook) sees it first.
pub fn provider_refund(provider: &str, refund_ref: &str) -> (String, String) {
    (
        format!("PAYREFUND#{provider}#{refund_ref}"),
        "GUARD".to_owned(),
    )
}
pub fn dispute(provider: &str, dispute_ref: &str) -> (String, String) {
    (
        format!("DISPUTE#{provider}#{dispute_ref}"),
        "DISPUTE".to_owned(),
    )
}
/// GSI2: every dispute (chargeback), newest first (admin view; low volume).
pub const GSI2_DISPUTES: &str = "DISPUTES";
/// Where a shop's dispute evidence files are uploaded (presigned PUT).
pub fn dispute_evidence_object(payment_id: &str, file_id: &str) -> String {
    format!("disputes/{payment_id}/{file_id}")
}
/// The money of one shop order held by the platform until the order completes.
pub fn escrow(order_id: &str) -> (String, String) {
    (format!("ESCROW#{order_id}"), "ESCROW".to_owned())
}
/// A ledger account's balance (`shared::payments::ledger`).
pub fn ledger_account_pk(account: &str) -> String {
    format!("ACCOUNT#{account}")
}
pub fn ledger_account(account: &str) -> (String, String) {
    (ledger_account_pk(account), "BALANCE".to_owned())
}
pub const LEDGER_ENTRY_PREFIX: &str = "ENTRY#";
/// One entry (leg) of a transfer on an account, in time order.
pub fn ledger_account_entry(account: &str, at: &str, transfer_id: &str) -> (String, String) {
    (
        ledger_account_pk(account),
        format!("{LEDGER_ENTRY_PREFIX}{at}#{transfer_id}"),
    )
}
/// A balanced ledger transfer with all its legs.
pub fn ledger_transfer(transfer_id: &str) -> (String, String) {
    (format!("TRANSFER#{transfer_id}"), "TRANSFER".to_owned())
}
/// GSI2: transfers of one UTC day (`YYYY-MM-DD`), for the admin's transaction list.
pub fn gsi2_transfers(day: &str) -> String {
    format!("TRANSFERS#{day}")
}
pub fn payout(payout_id: &str) -> (String, String) {
    (format!("PAYOUT#{payout_id}"), "PAYOUT".to_owned())
}
/// A buyer's saved payment method (a provider token, never a card number).
pub const PAYMENT_METHOD_PREFIX: &str = "PAYMETHOD#";
pub fn payment_method(user_id: &str, method_id: &str) -> (String, String) {
    (
        user_pk(user_id),
        format!("{PAYMENT_METHOD_PREFIX}{method_id}"),
    )
}
/// The response of `POST payments`, remembered under the buyer's Idempotency-Key.
pub fn payment_idempotency(user_id: &str, key: &str) -> (String, String) {
    idempotency(&format!("payment#{user_id}"), key)
}
/// The last invoice number a shop issued in a year (numbers run 1, 2, 3… with no gap).
pub fn invoice_sequence(shop_id: &str, year: i32) -> (String, String) {
    (format!("INVOICESEQ#{shop_id}#{year}"), "SEQ".to_owned())
}
/// Guard: invoice number `number` of a shop's year exists once.
pub fn invoice_number(shop_id: &str, year: i32, number: u64) -> (String, String) {
    (
        format!("INVOICENO#{shop_id}#{year}#{number:06}"),
        "GUARD".to_owned(),
    )
}
/// The invoice of one order (at most one).
pub fn invoice(order_id: &str) -> (String, String) {
    (format!("INVOICE#{order_id}"), "INVOICE".to_owned())
}
/// Where the invoice PDF lives in the media bucket (never public; presigned GET).
pub fn invoice_object(shop_id: &str, year: i32, number: u64) -> String {
    format!("invoices/{shop_id}/{year}/{number:06}.pdf")
}
/// One checkout: its orders (what `POST payments` pays for).
pub fn checkout(checkout_id: &str) -> (String, String) {
    (format!("CHECKOUT#{checkout_id}"), "CHECKOUT".to_owned())
}
/// GSI1: the refunds of one payment.
pub fn gsi1_payment_refunds(payment_id: &str) -> String {
    format!("PAYMENTREFUNDS#{payment_id}")
}
/// GSI1: the disputes of one payment.
pub fn gsi1_payment_disputes(payment_id: &str) -> String {
    format!("PAYMENTDISPUTES#{payment_id}")
}
/// A buyer's default saved payment method.
pub fn default_payment_method(user_id: &str) -> (String, String) {
    (user_pk(user_id), "PAYMETHODDEFAULT".to_owned())
}

// ---------------------------------------------------------------- discovery (behaviour, trending, recommendations, price alerts)
// See `shared::discovery` for what reads and writes these.

/// Trend counters: one item per (kind, bucket, id) holding `views`, `clicks`, `searches` and
/// `units` (sold), added to with atomic `ADD`. `kind` is `product`, `shop`, `category` or
/// `query`; `grain` is the bucket length (`4h` or `1d`) and `bucket` the bucket's number since
/// the epoch. The ids of one bucket are spread over [`TREND_SHARDS`] partitions by a hash of
/// the id, so a busy hour's writes do not all land on one partition key; a reader queries every
/// shard of the buckets of its window.
pub const TREND_SHARDS: u32 = 4;
pub fn trend_shard(id: &str) -> u32 {
    id.bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % TREND_SHARDS
}
pub fn trend_pk(kind: &str, grain: &str, bucket: i64, shard: u32) -> String {
    format!("TREND#{kind}#{grain}#{bucket}#{shard}")
}
pub fn trend_counter(kind: &str, grain: &str, bucket: i64, id: &str) -> (String, String) {
    (
        trend_pk(kind, grain, bucket, trend_shard(id)),
        id.to_owned(),
    )
}
/// A caller's recent lists (recent searches, recently viewed products, recent purchases), one
/// item per list. `owner` is [`recent_owner_user`] or [`recent_owner_device`].
pub fn recent_owner_user(user_id: &str) -> String {
    format!("U#{user_id}")
}
pub fn recent_owner_device(device_id: &str) -> String {
    format!("D#{device_id}")
}
pub fn recent_list(owner: &str, list: &str) -> (String, String) {
    (format!("RECENT#{owner}"), list.to_owned())
}
pub const RECENT_SEARCHES: &str = "SEARCHES";
pub const RECENT_PRODUCTS: &str = "PRODUCTS";
pub const RECENT_PURCHASES: &str = "PURCHASES";
/// How often two products went together: `kind` is `B` (bought in one order), `C` (put in one
/// cart) or `V` (viewed by one caller in a row). One item per ordered pair; a seed's partition
/// lists its neighbours.
pub const COOC_BOUGHT: &str = "B";
pub const COOC_VIEWED: &str = "V";
pub const COOC_CARTED: &str = "C";
pub fn cooccurrence_pk(product_id: &str) -> String {
    format!("COOC#{product_id}")
}
pub fn cooccurrence(product_id: &str, kind: &str, other_id: &str) -> (String, String) {
    (cooccurrence_pk(product_id), format!("{kind}#{other_id}"))
}
/// A buyer's price alert on a product: at most one per (user, product), so the key is the pair.
pub const PRICE_ALERT_PREFIX: &str = "PRICEALERT#";
pub fn price_alert(user_id: &str, product_id: &str) -> (String, String) {
    (
        user_pk(user_id),
        format!("{PRICE_ALERT_PREFIX}{product_id}"),
    )
}
/// GSI1 (sparse, active alerts only): a product's alerts by target price, so the recommender
/// reads the alerts a new price meets (`GSI1SK >= price`) in one query.
pub fn gsi1_price_alerts(product_id: &str) -> String {
    format!("PRICEALERTS#{product_id}")
}
/// Zero-padded like [`listing_price_sk`] so string order is numeric order.
pub fn gsi1_price_alert_sort(target: i64, user_id: &str) -> String {
    format!("{target:013}#{user_id}")
}

// ---------------------------------------------------------------- own-fleet shipping
/// A shipper's profile (one per user: the shipper id is the user id).
pub fn shipper(shipper_id: &str) -> (String, String) {
    (format!("SHIPPER#{shipper_id}"), PROFILE.to_owned())
}
/// GSI1: shippers by approval state (`pending`, `approved`, `rejected`), oldest first.
pub fn gsi1_shippers(approval: &str) -> String {
    format!("SHIPPERS#{approval}")
}
/// GSI2 (sparse): approved shippers who are online, per service province, sorted by the
/// geohash of their last position (then id). The dispatcher's one Query per assignment.
pub fn gsi2_available_shippers(province_code: &str) -> String {
    format!("SHIPPERSONLINE#{province_code}")
}
/// Characters of geohash kept in the available-shippers sort key (about 4.8 m).
pub const SHIPPER_GEO_PRECISION: usize = 9;
/// One shipment per order: the shipment id is the order id.
pub fn shipment(order_id: &str) -> (String, String) {
    (format!("SHIPMENT#{order_id}"), "SHIPMENT".to_owned())
}
/// Guard item making a tracking number unique; it names the order (public tracking).
pub fn tracking_number(number: &str) -> (String, String) {
    (format!("TRACKING#{number}"), "SHIPMENT".to_owned())
}
/// GSI1: the shipments offered to or held by one shipper, newest first.
pub fn gsi1_shipper_shipments(shipper_id: &str) -> String {
    format!("SHIPPERJOBS#{shipper_id}")
}
/// GSI3 (sparse): shipments the dispatcher must act on. `SHIPWAIT` while no shipper holds
/// one (sort `<province>#<created_at>#<order>`: oldest first per province), `SHIPOFFER` while
/// an offer waits for an answer (sort `<expires_at:012>#<order>`: the tick takes the expired).
pub const GSI3_SHIPMENTS_WAITING: &str = "SHIPWAIT";
pub const GSI3_SHIPMENT_OFFERS: &str = "SHIPOFFER";
pub fn shipment_waiting_sort(province_code: &str, created_at: &str, order_id: &str) -> String {
    format!("{province_code}#{created_at}#{order_id}")
}
pub fn shipment_offer_sort(expires_at: i64, order_id: &str) -> String {
    format!("{expires_at:012}#{order_id}")
}
/// Where a shipper uploads a proof-of-delivery photo (verified by the media processor like
/// return photos; never public).
pub const DELIVERY_PROOF_PREFIX: &str = "deliveries/";
pub fn delivery_proof_object(order_id: &str, photo_id: &str) -> String {
    format!("{DELIVERY_PROOF_PREFIX}{order_id}/{photo_id}")
}

// ---------------------------------------------------------------- WebSocket live tracking
/// One open WebSocket connection (who opened it); TTL two hours, API Gateway's own limit.
pub fn ws_connection(connection_id: &str) -> (String, String) {
    (format!("WSCONN#{connection_id}"), "CONNECTION".to_owned())
}
pub fn ws_subscribers_pk(order_id: &str) -> String {
    format!("WSSUB#{order_id}")
}
/// A connection watching one order's shipment (the push consumer Queries the partition).
pub fn ws_subscription(order_id: &str, connection_id: &str) -> (String, String) {
    (ws_subscribers_pk(order_id), format!("CONN#{connection_id}"))
}

// ---------------------------------------------------------------- notification centre
/// A user's in-app notification, newest first by id (ids start with the event's ULID).
pub const NOTIFICATION_PREFIX: &str = "NOTIF#";
pub fn notification(user_id: &str, notification_id: &str) -> (String, String) {
    (
        user_pk(user_id),
        format!("{NOTIFICATION_PREFIX}{notification_id}"),
    )
}
/// A user's inbox counters (unread notifications, registered devices).
pub fn inbox(user_id: &str) -> (String, String) {
    (user_pk(user_id), "INBOX".to_owned())
}
/// What the notifier needs to reach a user, all under one sort-key prefix so one Query reads
/// it: the preferences, the push devices and the live WebSocket connections (`NOTIFY#` sorts
/// after every `NOTIF#` id, so the inbox is not read with it).
pub const NOTIFY_PREFIX: &str = "NOTIFY#";
/// A user's notification preferences (channels per category, quiet hours, phone, language).
pub fn notification_preferences(user_id: &str) -> (String, String) {
    (user_pk(user_id), format!("{NOTIFY_PREFIX}PREFS"))
}
/// A device registered for push, by the hash of its token.
pub const DEVICE_PREFIX: &str = "NOTIFY#DEVICE#";
pub fn device(user_id: &str, device_id: &str) -> (String, String) {
    (user_pk(user_id), format!("{DEVICE_PREFIX}{device_id}"))
}
/// A WebSocket connection receiving its user's in-app notifications as they are created.
pub const LIVE_PREFIX: &str = "NOTIFY#LIVE#";
pub fn ws_live(user_id: &str, connection_id: &str) -> (String, String) {
    (user_pk(user_id), format!("{LIVE_PREFIX}{connection_id}"))
}
/// Templates an admin changed (the built-in ones live in code), one partition: a few dozen.
pub const NOTIFICATION_TEMPLATES: &str = "NOTIFTEMPLATES";
pub fn notification_template(kind: &str, channel: &str, language: &str) -> (String, String) {
    (
        NOTIFICATION_TEMPLATES.to_owned(),
        format!("{kind}#{channel}#{language}"),
    )
}
/// The digest buffer: normal-priority messages (and ones held by quiet hours) waiting for the
/// minute tick, spread over shards by user, sorted by when they are due.
pub fn notification_digest_pk(shard: u32) -> String {
    format!("NOTIFDIGEST#{shard}")
}
pub fn notification_digest(
    shard: u32,
    due_at: i64,
    user_id: &str,
    channel: &str,
    notification_id: &str,
) -> (String, String) {
    (
        notification_digest_pk(shard),
        format!("{due_at:011}#{user_id}#{channel}#{notification_id}"),
    )
}
/// The sort-key bound of digest entries due by `now` (`SK < bound`).
pub fn notification_digest_due(now: i64) -> String {
    format!("{:011}#", now + 1)
}

// ---------------------------------------------------------------- sharded listings
/// Buyer-facing "all products" and category listings are spread over this many partitions
/// (`LIST#ALL#<n>`, `LIST#CAT#<id>#<n>`), so no single partition key takes every product write
/// or every listing read; a page reads every shard (≤ this many Queries) and merges them. Shop
/// listings (`listing_shop`) stay one partition: one shop's writes are bounded. See
/// docs/scaling.md. Changing it needs `make migrate` (every product is relisted).
pub const LISTING_SHARDS: u32 = 8;
/// The listing shard of a product: 32-bit FNV-1a of its id, stable across processes, releases
/// and languages, with MurmurHash3's finaliser so the low bits (what `% 8` keeps) depend on
/// every bit of the hash — FNV-1a's own low 3 bits depend only on the low 3 bits of each byte.
pub fn listing_shard(product_id: &str) -> u32 {
    let mut h = product_id.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h % LISTING_SHARDS
}
/// One shard of the all-products listing.
pub fn listing_all_shard(shard: u32) -> String {
    format!("{}#{shard}", listing_all())
}
/// One shard of a category's listing.
pub fn listing_category_shard(category_id: &str, shard: u32) -> String {
    format!("{}#{shard}", listing_category(category_id))
}
/// `PRODUCT#<id>/LISTDUE`: the product's next discount boundary, when its listing rows (sorted
/// by effective price) must be rebuilt. At most one per product; sparse GSI3 `LISTDUE#<n>`
/// (sharded like listings) sorted by `<at:012>#<product>` is what the order sweeper's tick
/// reads (`shared::products::relist_due`).
pub fn listing_due(product_id: &str) -> (String, String) {
    (product_pk(product_id), "LISTDUE".to_owned())
}
pub fn gsi3_listing_due(shard: u32) -> String {
    format!("LISTDUE#{shard}")
}
pub fn gsi3_listing_due_sort(at: i64, product_id: &str) -> String {
    format!("{at:012}#{product_id}")
}

// ---------------------------------------------------------------- invitations
/// The invitations of one organisation (a partition of their own, so `ORG#` queries do not
/// meet them).
pub fn invitations_pk(org_id: &str) -> String {
    format!("INVITES#{org_id}")
}
pub const INVITATION_PREFIX: &str = "INVITE#";
/// `INVITES#<org>/INVITE#<invitation>`: one invitation (role, scope, status, token HMAC).
pub fn invitation(org_id: &str, invitation_id: &str) -> (String, String) {
    (
        invitations_pk(org_id),
        format!("{INVITATION_PREFIX}{invitation_id}"),
    )
}
/// `INVITES#<org>/EMAIL#<lower-case e-mail>`: at most one live (pending, unexpired) invitation
/// per address and organisation, written with the invitation under a condition.
pub fn invitation_email_guard(org_id: &str, email_lower: &str) -> (String, String) {
    (invitations_pk(org_id), format!("EMAIL#{email_lower}"))
}
/// `INVITETOKEN#<hmac(token)>/TOKEN`: from the e-mailed token to its invitation (the table
/// never holds the token).
pub fn invitation_token(token_hash: &str) -> (String, String) {
    (format!("INVITETOKEN#{token_hash}"), "TOKEN".to_owned())
}
