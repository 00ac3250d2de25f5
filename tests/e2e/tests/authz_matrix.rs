//! The authorisation matrix: every operation of the served OpenAPI document, called as each of
//! eight callers — nobody, the buyer (whose address, saved method, orders and payment the rows
//! name), another buyer, the seller of another shop, and the staff member, manager and owner of
//! the shop the rows name, and an admin. Who may do what is declared once, per operation, in
//! [`ROUTES`]; an operation the document serves and the table does not list, or a row naming an
//! operation the document no longer has, fails the test.
//!
//! An allowed caller must get past authorisation: not 401 or 403, and not 404 where the route
//! hides what is not the caller's (the fixtures exist). A denied caller gets exactly its denial:
//! 401 without a token, 403 when it may know the resource exists but not act on it, 404 when
//! the resource must not be revealed to it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use e2e::{Ctx, NewVariant, PASSWORD, Reply, eventually, png, unique_email};

#[path = "support/inbox.rs"]
mod inbox;
use futures::StreamExt;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    Anonymous,
    Buyer,
    OtherBuyer,
    OtherSeller,
    Staff,
    Manager,
    Owner,
    Admin,
}
use Who::*;

const EVERYONE: [Who; 8] = [
    Anonymous,
    Buyer,
    OtherBuyer,
    OtherSeller,
    Staff,
    Manager,
    Owner,
    Admin,
];

/// What a seller route needs to do to the shop. The organisation roles' rights are restated
/// here rather than taken from `shared::catalog`, so that the table does not derive its
/// expectations from the code it checks.
#[derive(Debug, Clone, Copy)]
enum Cap {
    /// The shop's profile: owners and managers.
    ManageShop,
    /// Products and stock: owners, managers and staff.
    ManageCatalog,
    /// The shop's orders and vouchers: owners, managers and staff.
    FulfilOrders,
    /// Balance, ledger, disputes: owners and managers.
    ViewFinances,
}
use Cap::*;

/// Who may call an operation.
#[derive(Debug, Clone, Copy)]
enum Access {
    /// Anyone, without a token; a valid token changes nothing.
    Public,
    /// No token: a credential in the body decides (the rows send a bogus one), so every caller
    /// gets the anonymous caller's refusal — a bearer token is no substitute.
    Credential,
    /// A provider's webhook: its signature decides and a bearer token is ignored; unsigned, every
    /// caller is refused alike.
    Webhook,
    /// Any signed-in user, on their own account, cart and orders.
    AnyUser,
    /// Users with the seller role (admins are not sellers).
    Seller,
    /// Admins.
    AdminOnly,
    /// The buyer's own resource, with no admin override: 404 to anyone else.
    Own,
    /// The buyer's payment: its buyer and admins; 404 to anyone else.
    Payment,
    /// Members of the shop's organisation (any role) and admins; 404 to outsiders.
    OrgMember,
    /// The organisation's owners and admins; 403 to managers and staff; 404 to outsiders.
    OrgOwner,
    /// Members whose role gives the capability on the shop, and admins; 403 to members whose
    /// role does not; 404 to outsiders (the shop's back office does not exist for them).
    Shop(Cap),
    /// Payouts: the organisation's owners only, not admins; 403 to other members and admins;
    /// 404 to outsiders.
    Payout,
    /// The order: its buyer, the members of its shop who fulfil orders, admins; 404 to anyone
    /// else (another buyer's order does not exist for them).
    Order,
    /// A move only the order's buyer makes: 403 to the shop and admins, 404 to anyone else.
    OrderBuyer,
    /// A move only the order's shop (or an admin) makes: 403 to its buyer, 404 to anyone else.
    OrderShop,
    /// The order's money (escrow, invoice): its buyer, the shop's finance roles, admins; 404 to
    /// anyone else, the shop's staff included.
    OrderFinance,
    /// Evidence for a payment's dispute: the disputed shop's finance roles and admins; 403 to
    /// its staff; 404 to anyone else.
    Dispute,
    /// A shipper's profile: the shipper (the buyer, who applied) and admins; 404 to anyone else.
    OwnShipper,
    /// A shipment's moves: only the shipper it is offered to or held by — none of these callers
    /// — so 404 to everyone (shipments do not exist for other shippers).
    AssignedShipper,
    /// Looking for free shippers: sellers and admins; 403 to buyers.
    SellerOrAdmin,
    /// The shop's main warehouse (the transfer's source): owners, admins and the staff member,
    /// whose `warehouse_ids` include it; 403 to the manager (no warehouses); 404 to outsiders.
    MainWarehouse,
    /// The organisation's second warehouse (the transfer's target): owners and admins; 403 to
    /// the staff member and the manager, who do not operate it; 404 to outsiders.
    SecondWarehouse,
}
use Access::*;

/// What one caller must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// Past authorisation: neither 401 nor 403 (nor a 5xx); the business answer decides.
    Pass,
    /// Past authorisation to a resource that exists: not 404 either.
    Reach,
    /// Exactly this denial, as problem JSON.
    Deny(u16),
    /// Exactly the anonymous caller's answer, which is a refusal.
    AsAnonymous,
}
use Want::*;

fn expect(access: Access, who: Who) -> Want {
    match (access, who) {
        (Public, _) => Reach,
        (Credential | Webhook, _) => AsAnonymous,
        (_, Anonymous) => Deny(401),
        (AnyUser, _) => Pass,
        (Seller, OtherSeller | Staff | Manager | Owner) | (AdminOnly, Admin) => Pass,
        (Seller | AdminOnly, _) => Deny(403),
        (Own, Buyer) | (Payment, Buyer | Admin) => Reach,
        (OrgMember, Staff | Manager | Owner | Admin) | (OrgOwner, Owner | Admin) => Reach,
        (OrgOwner, Staff | Manager) => Deny(403),
        (Shop(_), Manager | Owner | Admin) | (Shop(ManageCatalog | FulfilOrders), Staff) => Reach,
        (Shop(ManageShop | ViewFinances), Staff) => Deny(403),
        (Payout, Owner) => Reach,
        (Payout, Staff | Manager | Admin) => Deny(403),
        (Order, Buyer | Staff | Manager | Owner | Admin) => Reach,
        (OrderBuyer, Buyer) => Reach,
        (OrderBuyer, Staff | Manager | Owner | Admin) => Deny(403),
        (OrderShop, Staff | Manager | Owner | Admin) => Reach,
        (OrderShop, Buyer) => Deny(403),
        (OrderFinance, Buyer | Manager | Owner | Admin) => Reach,
        (Dispute, Manager | Owner | Admin) => Reach,
        (Dispute, Staff) => Deny(403),
        (OwnShipper, Buyer | Admin) => Reach,
        (SellerOrAdmin, OtherSeller | Staff | Manager | Owner | Admin) => Pass,
        (SellerOrAdmin, Buyer | OtherBuyer) => Deny(403),
        (MainWarehouse, Staff | Owner | Admin) | (SecondWarehouse, Owner | Admin) => Reach,
        (MainWarehouse, Manager) | (SecondWarehouse, Staff | Manager) => Deny(403),
        // No relation to the resource: it does not exist for this caller.
        _ => Deny(404),
    }
}

fn allowed(want: Want) -> bool {
    matches!(want, Pass | Reach)
}

/// The request body a row sends: a minimal valid one, so that authorisation decides, not
/// validation (the body is parsed after the caller is authenticated but before the handler
/// checks what the caller may do).
enum Body {
    None,
    Json(fn(&Fx) -> Value),
}

const PRICE: i64 = 100_000;

fn address() -> Value {
    json!({"recipient_name": "Bao Buyer", "phone": "+84901234567", "line1": "12 Hang Bac", "city": "Hanoi", "country": "VN"})
}

fn shop_profile() -> Value {
    json!({"name": "Matrix shop", "address": {"line1": "1 Trang Tien", "city": "Hanoi", "country": "VN", "location": {"lat": 21.02, "lng": 105.85}}})
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", ulid::Ulid::new())
}

fn voucher_terms() -> Value {
    json!({"kind": "percentage", "value": 1000, "currency": "VND", "min_spend": 0,
           "starts_at": now() - 60, "ends_at": now() + 86_400})
}

fn new_voucher() -> Value {
    json!({"code": unique("MX"), "description": "Matrix", "terms": voucher_terms(), "usage_limit": 100})
}

fn voucher_update() -> Value {
    json!({"description": "Matrix", "terms": voucher_terms(), "usage_limit": 100, "per_user_limit": 1, "status": "active"})
}

fn reason(_: &Fx) -> Value {
    json!({"reason": "Matrix check"})
}

fn image_upload(_: &Fx) -> Value {
    json!({"content_type": "image/png", "size_bytes": 1024})
}

/// A phone number of nobody's (E.164, Vietnam).
fn matrix_phone() -> String {
    format!("+8497{:07}", ulid::Ulid::new().random() % 10_000_000)
}

fn broadcast(f: &Fx) -> Value {
    json!({"segment": {"user_ids": [f.user]}, "title": "Matrix", "message": "Matrix check"})
}

fn cod_checkout(f: &Fx) -> Value {
    json!({"payment_method": "cod", "address_id": f.address})
}

/// Every operation of the API: (method, OpenAPI path, who may call it, body).
///
/// Path parameters are filled from the fixtures by [`fill`]. The POST rows under
/// `/orders/{id}/` move one cash-on-delivery order through its life, one after another in the
/// order listed; the other rows run concurrently.
#[rustfmt::skip] // one row per line: a table to read down
const ROUTES: &[(&str, &str, Access, Body)] = &[
    // api-auth
    ("POST", "/api/v1/auth/register", Public, Body::Json(|_| json!({"email": unique_email("matrix-signup"), "password": PASSWORD, "name": "Matrix"}))),
    ("POST", "/api/v1/auth/login", Public, Body::Json(|f| json!({"email": f.login_email, "password": PASSWORD}))),
    ("POST", "/api/v1/auth/refresh", Credential, Body::Json(|_| json!({"refresh_token": "not-a-refresh-token"}))),
    ("POST", "/api/v1/auth/logout", Public, Body::Json(|_| json!({"refresh_token": "not-a-refresh-token"}))),
    ("POST", "/api/v1/auth/verify-email", Credential, Body::Json(|_| json!({"token": "not-a-verification-token"}))),
    ("POST", "/api/v1/auth/forgot-password", Public, Body::Json(|_| json!({"email": unique_email("matrix-nobody")}))),
    ("POST", "/api/v1/auth/reset-password", Credential, Body::Json(|_| json!({"email": unique_email("matrix-nobody"), "code": "123456", "new_password": "a-new-pass-2027"}))),
    // a wrong current password: the caller's session must survive the matrix
    ("PUT", "/api/v1/auth/change-password", AnyUser, Body::Json(|_| json!({"current_password": "not-the-password-9", "new_password": "a-new-pass-2027"}))),
    // api-users
    ("GET", "/api/v1/users/me", AnyUser, Body::None),
    ("PUT", "/api/v1/users/me", AnyUser, Body::Json(|_| json!({"name": "Matrix User"}))),
    ("GET", "/api/v1/users/me/addresses", AnyUser, Body::None),
    ("POST", "/api/v1/users/me/addresses", AnyUser, Body::Json(|_| address())),
    ("PUT", "/api/v1/users/me/addresses/{id}", Own, Body::Json(|_| address())),
    ("DELETE", "/api/v1/users/me/addresses/{id}", Own, Body::None),
    ("PUT", "/api/v1/users/me/addresses/{id}/default", Own, Body::None),
    ("GET", "/api/v1/users", AdminOnly, Body::None),
    ("PUT", "/api/v1/users/{id}/roles", AdminOnly, Body::Json(|_| json!({"roles": ["buyer"]}))),
    ("PUT", "/api/v1/users/{id}/status", AdminOnly, Body::Json(|_| json!({"status": "active"}))),
    // api-shops
    ("POST", "/api/v1/organizations", Seller, Body::Json(|_| json!({"name": "Matrix Co"}))),
    ("GET", "/api/v1/organizations", AnyUser, Body::None),
    ("GET", "/api/v1/organizations/{id}", OrgMember, Body::None),
    ("GET", "/api/v1/organizations/{id}/members", OrgMember, Body::None),
    ("POST", "/api/v1/organizations/{id}/members", OrgOwner, Body::Json(|f| json!({"email": f.joiner_email, "role": "staff", "shop_ids": [f.shop]}))),
    ("PUT", "/api/v1/organizations/{id}/members/{user_id}", OrgOwner, Body::Json(|f| json!({"role": "staff", "shop_ids": [f.shop]}))),
    ("DELETE", "/api/v1/organizations/{id}/members/{user_id}", OrgOwner, Body::None),
    ("POST", "/api/v1/organizations/{id}/invitations", OrgOwner, Body::Json(|f| json!({"email": unique_email("matrix-invitee"), "role": "staff", "shop_ids": [f.shop]}))),
    ("GET", "/api/v1/organizations/{id}/invitations", OrgOwner, Body::None),
    ("DELETE", "/api/v1/organizations/{id}/invitations/{invitation_id}", OrgOwner, Body::None),
    // an unknown token: a signed-in caller gets the 422, not a denial
    ("POST", "/api/v1/invitations/accept", AnyUser, Body::Json(|_| json!({"token": "not-an-invitation-token"}))),
    ("POST", "/api/v1/organizations/{id}/shops", OrgOwner, Body::Json(|_| shop_profile())),
    ("GET", "/api/v1/organizations/{id}/shops", OrgMember, Body::None),
    ("GET", "/api/v1/shops", Public, Body::None),
    ("GET", "/api/v1/shops/{id}", Public, Body::None),
    ("PUT", "/api/v1/shops/{id}", Shop(ManageShop), Body::Json(|_| shop_profile())),
    ("PUT", "/api/v1/shops/{id}/status", AdminOnly, Body::Json(|_| json!({"status": "active"}))),
    // api-products
    ("GET", "/api/v1/categories", Public, Body::None),
    ("POST", "/api/v1/categories", AdminOnly, Body::Json(|_| json!({"name": unique("Matrix ")}))),
    ("GET", "/api/v1/brands", Public, Body::None),
    ("POST", "/api/v1/brands", AdminOnly, Body::Json(|_| json!({"name": unique("Matrix ")}))),
    ("POST", "/api/v1/shops/{id}/products", Shop(ManageCatalog), Body::Json(|f| json!({
        "name": "Matrix product", "category_id": f.category, "status": "active",
        "variants": [{"sku": unique("MX-"), "attributes": {"size": "M"}, "price": {"amount": PRICE, "currency": "VND"}, "weight_grams": 200, "stock": 5}]
    }))),
    ("GET", "/api/v1/shops/{id}/products", Shop(ManageCatalog), Body::None),
    ("GET", "/api/v1/products", Public, Body::None),
    ("GET", "/api/v1/products/{id}", Public, Body::None),
    ("PUT", "/api/v1/products/{id}", Shop(ManageCatalog), Body::Json(|f| json!({"name": "Matrix product", "description": "For tests", "category_id": f.category, "status": "active"}))),
    ("DELETE", "/api/v1/products/{id}", Shop(ManageCatalog), Body::None),
    ("PUT", "/api/v1/products/{id}/variants/{sku}/price", Shop(ManageCatalog), Body::Json(|_| json!({"price": {"amount": PRICE, "currency": "VND"}}))),
    ("GET", "/api/v1/products/{id}/price-history", Public, Body::None),
    ("GET", "/api/v1/products/{id}/related", Public, Body::None),
    // api-shipping: prices, places and distances are public
    ("GET", "/api/v1/shipping/methods", Public, Body::None),
    ("GET", "/api/v1/shipping/providers", Public, Body::None),
    ("POST", "/api/v1/shipping/calculate", Public, Body::Json(|_| json!({"from": {"lat": 21.0386, "lng": 105.838}, "to": {"lat": 10.7725, "lng": 106.698}, "weight_grams": 800, "method": "standard"}))),
    ("POST", "/api/v1/shipping/calculate-fees", Public, Body::Json(|_| json!({"from": {"lat": 21.0386, "lng": 105.838}, "to": {"lat": 21.03, "lng": 105.85}, "weight_grams": 800}))),
    ("GET", "/api/v1/shipping/cost-calculator", Public, Body::None),
    ("GET", "/api/v1/shipping/weight-pricing", Public, Body::None),
    ("POST", "/api/v1/shipping/validate-address", Public, Body::Json(|_| json!({"province": "Hà Nội", "ward": "Ba Đình"}))),
    ("POST", "/api/v1/shipping/geocode", Public, Body::Json(|_| json!({"addresses": [{"province": "TP HCM"}]}))),
    ("GET", "/api/v1/shipping/distance-matrix", Public, Body::None),
    // ... the fleet: the buyer applied as a shipper (pending); the paid order's shipment waits
    // for a shipper (nobody delivers in Hà Nội in the tests)
    ("POST", "/api/v1/shipping/shippers/register", AnyUser, Body::Json(|_| json!({"name": "Matrix Rider", "phone": "+84912345678", "vehicle": "motorbike", "province": "Hà Nội", "capacity": 2}))),
    ("GET", "/api/v1/shipping/shippers", AdminOnly, Body::None),
    ("GET", "/api/v1/shipping/shippers/available", SellerOrAdmin, Body::None),
    ("GET", "/api/v1/shipping/shippers/{id}", OwnShipper, Body::None),
    ("PUT", "/api/v1/shipping/shippers/{id}/approval", AdminOnly, Body::Json(|_| json!({"decision": "approved"}))),
    ("PUT", "/api/v1/shipping/shippers/{id}/status", OwnShipper, Body::Json(|_| json!({"status": "offline"}))),
    ("POST", "/api/v1/shipping/shippers/{id}/location", Own, Body::Json(|_| json!({"lat": 21.02, "lng": 105.85}))),
    ("GET", "/api/v1/shipping/shipper/{shipper_id}/location", OwnShipper, Body::None),
    ("GET", "/api/v1/shipping/shippers/{id}/shipments", OwnShipper, Body::None),
    ("GET", "/api/v1/shipping/{order_id}/tracking", Order, Body::None),
    ("GET", "/api/v1/shipping/track/{tracking_number}", Public, Body::None),
    ("POST", "/api/v1/shipping/{order_id}/accept", AssignedShipper, Body::None),
    ("POST", "/api/v1/shipping/{order_id}/decline", AssignedShipper, Body::None),
    ("PUT", "/api/v1/shipping/{order_id}/status", AssignedShipper, Body::Json(|_| json!({"status": "picked_up"}))),
    ("POST", "/api/v1/shipping/{order_id}/proof-photos", AssignedShipper, Body::Json(image_upload)),
    ("POST", "/api/v1/shipping/{order_id}/location", AssignedShipper, Body::Json(|_| json!({"lat": 21.02, "lng": 105.85}))),
    ("POST", "/api/v1/shipping/assign/{order_id}", OrderShop, Body::Json(|_| json!({"shipper_id": "01NOSUCHSHIPPER"}))),
    ("POST", "/api/v1/shipping/{order_id}/hand-over", OrderShop, Body::Json(|_| json!({"carrier": "nosuchcarrier", "pickup_phone": "+84912345678"}))),
    ("POST", "/api/v1/shipping/labels", Shop(FulfilOrders), Body::Json(|f| json!({"order_ids": [f.order]}))),
    ("POST", "/api/v1/shipping/carriers/{carrier}/updates", Webhook, Body::Json(|f| json!({"partner_id": f.order, "label_id": "S1", "status_id": 5}))),
    // api-search
    ("GET", "/api/v1/search", Public, Body::None),
    ("POST", "/api/v1/search/advanced", Public, Body::Json(|_| json!({"q": "matrix"}))),
    ("GET", "/api/v1/search/filters/available", Public, Body::None),
    ("GET", "/api/v1/search/suggestions", Public, Body::None),
    ("GET", "/api/v1/search/autocomplete", Public, Body::None),
    ("GET", "/api/v1/products/{id}/similar", Public, Body::None),
    ("GET", "/api/v1/products/{id}/price-comparison", Public, Body::None),
    ("POST", "/api/v1/products/{id}/media/upload-url", Shop(ManageCatalog), Body::Json(image_upload)),
    ("PUT", "/api/v1/products/{id}/media/order", Shop(ManageCatalog), Body::Json(|f| json!({"media_ids": f.media_ids}))),
    ("DELETE", "/api/v1/products/{id}/media/{media_id}", Shop(ManageCatalog), Body::None),
    ("PUT", "/api/v1/products/{id}/media/{media_id}/cover", Shop(ManageCatalog), Body::None),
    // api-inventory
    ("POST", "/api/v1/products/{id}/variants/{sku}/stock-adjustments", Shop(ManageCatalog), Body::Json(|_| json!({"delta": 1, "reason": "restock"}))),
    ("POST", "/api/v1/shops/{id}/inventory/adjustments", Shop(ManageCatalog), Body::Json(|f| json!({"adjustments": [{"product_id": f.product, "sku": f.sku, "delta": 1, "reason": "restock"}]}))),
    ("GET", "/api/v1/products/{id}/variants/{sku}/ledger", Shop(ManageCatalog), Body::None),
    ("GET", "/api/v1/shops/{id}/inventory", Shop(ManageCatalog), Body::None),
    // ... warehouses (the shop's main one, and a second one) and a transfer from main to second
    ("POST", "/api/v1/organizations/{id}/warehouses", OrgOwner, Body::Json(|f| json!({"name": unique("Matrix depot "), "address": shop_profile()["address"], "shop_ids": [f.shop]}))),
    ("GET", "/api/v1/organizations/{id}/warehouses", OrgMember, Body::None),
    ("GET", "/api/v1/warehouses/{id}", MainWarehouse, Body::None),
    ("PUT", "/api/v1/warehouses/{id}", OrgOwner, Body::Json(|f| json!({"name": "Matrix main", "address": shop_profile()["address"], "shop_ids": [f.shop]}))),
    ("DELETE", "/api/v1/warehouses/{id}", OrgOwner, Body::None),
    ("GET", "/api/v1/warehouses/{id}/inventory", MainWarehouse, Body::None),
    ("POST", "/api/v1/transfers", MainWarehouse, Body::Json(|f| json!({"from_warehouse_id": f.warehouse, "to_warehouse_id": f.second_warehouse, "lines": [{"product_id": f.product, "sku": f.sku, "quantity": 1}]}))),
    ("GET", "/api/v1/transfers/{id}", MainWarehouse, Body::None),
    ("POST", "/api/v1/transfers/{id}/ship", MainWarehouse, Body::None),
    ("POST", "/api/v1/transfers/{id}/receive", SecondWarehouse, Body::Json(|_| json!({"lines": []}))),
    ("POST", "/api/v1/transfers/{id}/cancel", MainWarehouse, Body::None),
    ("GET", "/api/v1/organizations/{id}/transfers", OrgMember, Body::None),
    // api-cart: every caller's own cart
    ("GET", "/api/v1/cart", AnyUser, Body::None),
    ("DELETE", "/api/v1/cart", AnyUser, Body::None),
    ("GET", "/api/v1/cart/summary", AnyUser, Body::None),
    ("POST", "/api/v1/cart/items", AnyUser, Body::Json(|f| json!({"product_id": f.product, "sku": f.sku, "quantity": 1}))),
    ("PUT", "/api/v1/cart/items/{id}/{sku}", AnyUser, Body::Json(|_| json!({"quantity": 1}))),
    ("DELETE", "/api/v1/cart/items/{id}/{sku}", AnyUser, Body::None),
    ("POST", "/api/v1/cart/items/{id}/{sku}/save-for-later", AnyUser, Body::None),
    ("POST", "/api/v1/cart/saved/{id}/{sku}/restore", AnyUser, Body::None),
    ("DELETE", "/api/v1/cart/saved/{id}/{sku}", AnyUser, Body::None),
    ("POST", "/api/v1/cart/calculate-total", AnyUser, Body::Json(|_| json!({}))),
    ("POST", "/api/v1/cart/vouchers", AnyUser, Body::Json(|f| json!({"code": f.platform_voucher}))),
    ("DELETE", "/api/v1/cart/vouchers/platform", AnyUser, Body::None),
    ("DELETE", "/api/v1/cart/vouchers/shops/{id}", AnyUser, Body::None),
    // api-vouchers
    ("POST", "/api/v1/shops/{id}/vouchers", Shop(FulfilOrders), Body::Json(|_| new_voucher())),
    ("GET", "/api/v1/shops/{id}/vouchers", Public, Body::None),
    ("PUT", "/api/v1/shops/{id}/vouchers/{code}", Shop(FulfilOrders), Body::Json(|_| voucher_update())),
    ("POST", "/api/v1/vouchers", AdminOnly, Body::Json(|_| new_voucher())),
    ("GET", "/api/v1/vouchers", Public, Body::None),
    ("PUT", "/api/v1/vouchers/{code}", AdminOnly, Body::Json(|_| voucher_update())),
    // api-notifications: the buyer's own notifications (another caller's id is not theirs: 404)
    ("GET", "/api/v1/notifications", AnyUser, Body::None),
    ("PUT", "/api/v1/notifications/{id}/read", Own, Body::None),
    ("POST", "/api/v1/notifications/mark-all-read", AnyUser, Body::None),
    ("DELETE", "/api/v1/notifications/{id}", Own, Body::None),
    ("GET", "/api/v1/notifications/preferences", AnyUser, Body::None),
    ("PUT", "/api/v1/notifications/preferences", AnyUser, Body::Json(|_| json!({"language": "vi"}))),
    ("POST", "/api/v1/notifications/preferences/phone", AnyUser, Body::Json(|_| json!({"phone": matrix_phone()}))),
    // no code pending (409) or a wrong one (422): either way past authorisation
    ("POST", "/api/v1/notifications/preferences/phone/verify", AnyUser, Body::Json(|_| json!({"code": "000000"}))),
    ("POST", "/api/v1/notifications/push/register", AnyUser, Body::Json(|_| json!({"token": unique("matrix-device-"), "platform": "web"}))),
    ("DELETE", "/api/v1/notifications/push/unregister", AnyUser, Body::Json(|_| json!({"token": "matrix-no-such-device"}))),
    ("POST", "/api/v1/notifications/email/send", AdminOnly, Body::Json(broadcast)),
    ("POST", "/api/v1/notifications/sms/send", AdminOnly, Body::Json(broadcast)),
    ("GET", "/api/v1/notifications/templates", AdminOnly, Body::None),
    // a built-in template saved as it is: what is delivered does not change
    ("POST", "/api/v1/notifications/templates", AdminOnly, Body::Json(|f| f.template.clone())),
    ("POST", "/api/v1/notifications/templates/preview", AdminOnly, Body::Json(|_| json!({"kind": "order_confirmed", "channel": "email", "language": "en"}))),
    // api-orders: the checkout (another user's address id is a 422, not an authorisation matter)
    ("POST", "/api/v1/orders/preview", AnyUser, Body::Json(cod_checkout)),
    ("POST", "/api/v1/orders", AnyUser, Body::Json(cod_checkout)),
    ("GET", "/api/v1/orders", AnyUser, Body::None),
    ("GET", "/api/v1/orders/summary", AnyUser, Body::None),
    ("GET", "/api/v1/shops/{id}/orders", Shop(FulfilOrders), Body::None),
    ("GET", "/api/v1/orders/{id}", Order, Body::None),
    ("GET", "/api/v1/orders/{id}/timeline", Order, Body::None),
    // ... and one order's life: confirmed (cash on delivery) → processing → shipped → delivered
    // → return requested → rejected (delivered) → completed; the moves that no longer apply are
    // 409 for the callers allowed to make them, and still their denial for everyone else.
    ("POST", "/api/v1/orders/{id}/reorder", OrderBuyer, Body::None),
    ("POST", "/api/v1/orders/{id}/confirm", OrderShop, Body::None),
    ("POST", "/api/v1/orders/{id}/process", OrderShop, Body::None),
    ("POST", "/api/v1/orders/{id}/ship", OrderShop, Body::Json(|_| json!({"carrier": "GHN", "tracking_number": "GHN123456789VN"}))),
    ("POST", "/api/v1/orders/{id}/deliver", OrderShop, Body::None),
    ("POST", "/api/v1/orders/{id}/return-photos", OrderBuyer, Body::Json(image_upload)),
    ("POST", "/api/v1/orders/{id}/return", OrderBuyer, Body::Json(reason)),
    ("POST", "/api/v1/orders/{id}/return/reject", OrderShop, Body::Json(reason)),
    ("POST", "/api/v1/orders/{id}/return/accept", OrderShop, Body::None),
    ("POST", "/api/v1/orders/{id}/complete", OrderBuyer, Body::None),
    ("POST", "/api/v1/orders/{id}/confirm-receipt", OrderBuyer, Body::None),
    ("POST", "/api/v1/orders/{id}/cancel", Order, Body::Json(reason)),
    // api-payments
    ("POST", "/api/v1/payments", Own, Body::Json(|f| json!({"checkout_id": f.checkout, "method": "stripe"}))),
    ("GET", "/api/v1/payments/history", AnyUser, Body::None),
    ("GET", "/api/v1/payments/methods", AnyUser, Body::None),
    ("POST", "/api/v1/payments/methods", AnyUser, Body::Json(|_| json!({"provider": "stripe", "token": "pm_1MatrixAAAA", "label": "Matrix card"}))),
    ("DELETE", "/api/v1/payments/methods/{id}", Own, Body::None),
    ("PUT", "/api/v1/payments/methods/{id}/default", Own, Body::None),
    ("GET", "/api/v1/payments/chargebacks", AdminOnly, Body::None),
    ("GET", "/api/v1/payments/transactions", AdminOnly, Body::None),
    ("POST", "/api/v1/payments/bank-transfers", AdminOnly, Body::Json(|_| json!({"reference": "MATRIXNOSUCHREF", "amount": {"amount": 1000, "currency": "VND"}}))),
    ("GET", "/api/v1/payments/escrow/{order_id}/status", OrderFinance, Body::None),
    ("GET", "/api/v1/payments/{id}", Payment, Body::None),
    ("GET", "/api/v1/payments/{id}/receipt", Payment, Body::None),
    ("POST", "/api/v1/payments/{id}/refund", AdminOnly, Body::Json(|_| json!({"amount": 1, "reason": "Matrix check"}))),
    ("GET", "/api/v1/payments/{id}/refund-status", Payment, Body::None),
    ("POST", "/api/v1/payments/{id}/dispute", Dispute, Body::Json(|_| json!({"text": "Delivered with tracking GHN123456789VN."}))),
    ("GET", "/api/v1/shops/{id}/balance", Shop(ViewFinances), Body::None),
    ("GET", "/api/v1/shops/{id}/ledger", Shop(ViewFinances), Body::None),
    ("POST", "/api/v1/shops/{id}/payouts", Payout, Body::Json(|_| json!({"amount": {"amount": 1, "currency": "VND"}}))),
    ("GET", "/api/v1/orders/{id}/invoice", OrderFinance, Body::None),
    // api-discovery: behaviour, recent lists, trending and recommendations are open to anyone (a
    // token, or without one an X-Device-Id, names whose history it is: anonymous writes without
    // a device id are a 422); price alerts are the signed-in buyer's own
    ("POST", "/api/v1/behavior/view-product", Public, Body::Json(|f| json!({"events": [{"product_id": f.product}]}))),
    ("POST", "/api/v1/behavior/search", Public, Body::Json(|_| json!({"events": [{"query": "matrix shoes"}]}))),
    ("POST", "/api/v1/behavior/click", Public, Body::Json(|f| json!({"events": [{"product_id": f.product, "query": "matrix shoes", "position": 1}]}))),
    ("GET", "/api/v1/popular/searches", Public, Body::None),
    ("GET", "/api/v1/recent/searches", Public, Body::None),
    ("DELETE", "/api/v1/recent/searches", Public, Body::None),
    ("DELETE", "/api/v1/recent/searches/{query}", Public, Body::None),
    ("GET", "/api/v1/recent/products", Public, Body::None),
    ("GET", "/api/v1/trending/products", Public, Body::None),
    ("GET", "/api/v1/trending/shops", Public, Body::None),
    ("GET", "/api/v1/trending/categories", Public, Body::None),
    ("GET", "/api/v1/recommendations/products", Public, Body::None),
    ("GET", "/api/v1/recommendations/shops", Public, Body::None),
    ("GET", "/api/v1/price-alerts", AnyUser, Body::None),
    ("POST", "/api/v1/price-alerts", AnyUser, Body::Json(|f| json!({"product_id": f.product, "target_price": 1}))),
    ("DELETE", "/api/v1/price-alerts/{id}", Own, Body::None),
    // api-webhooks
    ("POST", "/api/v1/payments/stripe/webhook", Webhook, Body::Json(|_| json!({}))),
    ("POST", "/api/v1/payments/paypal/webhook", Webhook, Body::Json(|_| json!({}))),
    ("GET", "/api/v1/payments/vnpay/webhook", Webhook, Body::None),
    ("POST", "/api/v1/payments/vnpay/webhook", Webhook, Body::None),
    ("POST", "/api/v1/payments/momo/webhook", Webhook, Body::Json(|_| json!({}))),
];

/// The rows that walk the shared order through its life, one after another.
fn is_order_move(method: &str, path: &str) -> bool {
    method == "POST" && path.starts_with("/api/v1/orders/{id}/")
}

/// Resources the rows name. Everything belongs to the buyer or to the shop of the staff
/// member, manager and owner, unless said otherwise.
struct Fx {
    tokens: HashMap<Who, String>,
    org: String,
    shop: String,
    category: String,
    product: String,
    sku: String,
    /// The product's images: `media` is the one the cover row names.
    media: String,
    media_ids: Vec<String>,
    /// A staff member of the shop whose membership the PUT row rewrites (to the same).
    member: String,
    /// An account the add-member row adds to the organisation.
    joiner_email: String,
    /// A pending invitation to the organisation (the revoke row's, for callers without a
    /// victim of their own).
    invitation: String,
    /// An account (a plain buyer) the admin rows address by id; the login row logs it in.
    user: String,
    login_email: String,
    address: String,
    method: String,
    /// Paid online (so it has an escrow, an invoice and a disputed payment); only read.
    order: String,
    checkout: String,
    payment: String,
    /// Cash on delivery: the order the move rows walk through its life.
    moving: String,
    shop_voucher: String,
    platform_voucher: String,
    /// A product the buyer has a price alert on (the DELETE row's; the POST row uses `product`,
    /// so no other caller's alert is on it).
    alert_product: String,
    /// The buyer's application as a shipper (its id is the buyer's user id).
    shipper: String,
    /// The tracking number of the paid order's shipment.
    tracking: String,
    /// A recent search the DELETE row forgets.
    search: String,
    /// A notification in the buyer's inbox (the mark-read row's).
    notification: String,
    /// A built-in template, as the save row sends it back.
    template: Value,
    /// What a DELETE row deletes, per caller allowed to: a deletion is not repeatable, so each
    /// gets a resource of its own. Keyed by the path segment before the parameter.
    victims: HashMap<(&'static str, Who), String>,
    /// The shop's main warehouse (the staff member operates it) and a second one of the
    /// organisation serving the shop; a transfer of one unit from the first to the second.
    warehouse: String,
    second_warehouse: String,
    transfer: String,
}

/// The callers a DELETE row of `kind` (`/…/{kind}/{param}` at the end) lets delete.
fn deleters(kind: &str) -> Vec<Who> {
    ROUTES
        .iter()
        .filter(|(method, path, ..)| {
            *method == "DELETE" && path.ends_with('}') && path.rsplit('/').nth(1) == Some(kind)
        })
        .flat_map(|(_, _, access, _)| {
            EVERYONE
                .into_iter()
                .filter(move |w| allowed(expect(*access, *w)))
        })
        .collect()
}

/// The concrete path of `template` for `who`.
fn fill(f: &Fx, who: Who, method: &str, template: &str) -> String {
    let segments: Vec<&str> = template.split('/').collect();
    let last = segments.len() - 1;
    let carrier = String::from("ghtk");
    let mut out = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        if !seg.starts_with('{') {
            out.push(seg.to_string());
            continue;
        }
        let kind = segments[i - 1];
        if method == "DELETE"
            && i == last
            && let Some(victim) = f.victims.get(&(kind, who))
        {
            out.push(victim.clone());
            continue;
        }
        let value = match (kind, *seg) {
            ("organizations", "{id}") => &f.org,
            ("members", "{user_id}") => &f.member,
            ("invitations", "{invitation_id}") => &f.invitation,
            ("shops", "{id}") => &f.shop,
            ("products" | "items" | "saved", "{id}") => &f.product,
            (_, "{sku}") => &f.sku,
            ("media", "{media_id}") => &f.media,
            ("orders", "{id}") if is_order_move(method, template) => &f.moving,
            ("orders", "{id}") | ("escrow", "{order_id}") => &f.order,
            ("payments", "{id}") => &f.payment,
            ("methods", "{id}") => &f.method,
            ("addresses", "{id}") => &f.address,
            ("users", "{id}") => &f.user,
            ("vouchers", "{code}") if template.starts_with("/api/v1/shops/") => &f.shop_voucher,
            ("vouchers", "{code}") => &f.platform_voucher,
            ("searches", "{query}") => &f.search,
            ("price-alerts", "{id}") => &f.alert_product,
            ("notifications", "{id}") => &f.notification,
            ("shippers", "{id}") | ("shipper", "{shipper_id}") => &f.shipper,
            ("shipping" | "assign", "{order_id}") => &f.order,
            ("track", "{tracking_number}") => &f.tracking,
            ("carriers", "{carrier}") => &carrier,
            ("warehouses", "{id}") => &f.warehouse,
            ("transfers", "{id}") => &f.transfer,
            _ => panic!("no fixture for {seg} in {template}"),
        };
        out.push(value.clone());
    }
    out.join("/")
}

fn created_id(r: &Reply, what: &str) -> String {
    assert!(r.status.is_success(), "{what}: {} {}", r.status, r.text);
    r.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no id in {}", r.text))
        .to_owned()
}

/// A registered account that never logs in: (user id, e-mail).
async fn account(ctx: &Ctx, prefix: &str) -> (String, String) {
    let email = unique_email(prefix);
    let r = ctx.register(&email, PASSWORD).await;
    (created_id(&r, "registering"), email)
}

async fn saved_method(ctx: &Ctx, buyer: &str) -> String {
    let r = ctx
        .post(
            "/api/v1/payments/methods",
            Some(buyer),
            json!({"provider": "stripe", "token": format!("pm_1{}", ulid::Ulid::new()), "label": "Card"}),
        )
        .await;
    created_id(&r, "saving a payment method")
}

async fn voucher(ctx: &Ctx, token: &str, path: &str) -> String {
    let r = ctx.post(path, Some(token), new_voucher()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["code"].as_str().unwrap().to_owned()
}

/// The shop with its owner, manager, staff and products; another organisation's shop; the
/// buyer with an address, saved methods, a paid online order (with its invoice and an open
/// dispute) and a cash-on-delivery order; another buyer; an admin.
async fn fixtures(ctx: &Ctx) -> Fx {
    let (admin, shop, other, (buyer_id, buyer, _), (_, other_buyer, _), staff, manager) = tokio::join!(
        ctx.admin_token(),
        ctx.test_shop("matrix"),
        ctx.test_shop("matrix-other"),
        ctx.user("matrix-buyer"),
        ctx.user("matrix-other-buyer"),
        ctx.seller("matrix-staff"),
        ctx.seller("matrix-manager"),
    );
    let (member_victims, product_victims, media_victims, address_victims, method_victims) = (
        deleters("members"),
        deleters("products"),
        deleters("media"),
        deleters("addresses"),
        deleters("methods"),
    );
    let owner = shop.seller_token.clone();
    let (org, shop_id) = (shop.org_id.clone(), shop.shop_id.clone());
    let ((user, login_email), (_, joiner_email), (member, member_email), victim_accounts) = tokio::join!(
        account(ctx, "matrix-user"),
        account(ctx, "matrix-joiner"),
        account(ctx, "matrix-member"),
        futures::future::join_all(member_victims.iter().map(|_| account(ctx, "matrix-victim"))),
    );
    let one = |sku| NewVariant {
        sku,
        price: PRICE,
        stock: 1000,
        weight_grams: 200,
    };
    let (_, (product, skus), victim_products, address, victim_addresses, method, victim_methods) = tokio::join!(
        async {
            let s = [shop_id.as_str()];
            ctx.add_member(&owner, &org, &staff.1, "staff", &s).await;
            ctx.add_member(&owner, &org, &manager.1, "manager", &s)
                .await;
            ctx.add_member(&owner, &org, &member_email, "staff", &s)
                .await;
            for (_, email) in &victim_accounts {
                ctx.add_member(&owner, &org, email, "staff", &s).await;
            }
        },
        async { ctx.test_product(&shop, &[one("MATRIX")]).await },
        futures::future::join_all(
            product_victims
                .iter()
                .map(|_| async { ctx.test_product(&shop, &[one("DOOMED")]).await })
        ),
        ctx.test_address(&buyer),
        futures::future::join_all(address_victims.iter().map(|_| ctx.test_address(&buyer))),
        saved_method(ctx, &buyer),
        futures::future::join_all(method_victims.iter().map(|_| saved_method(ctx, &buyer))),
    );
    let sku = skus[0].clone();

    // Warehouses: the staff member operates the shop's main one; a second one serves the shop
    // too; a transfer of one unit from main to second waits; and an empty warehouse per caller
    // the close row lets close.
    let warehouse = format!("{shop_id}-main");
    let new_warehouse = || async {
        let r = ctx
            .post(
                &format!("/api/v1/organizations/{org}/warehouses"),
                Some(&owner),
                json!({"name": unique("Matrix depot "), "address": shop_profile()["address"], "shop_ids": [shop_id]}),
            )
            .await;
        created_id(&r, "opening a warehouse")
    };
    let second_warehouse = new_warehouse().await;
    let mut warehouse_victims = Vec::new();
    for who in deleters("warehouses") {
        warehouse_victims.push((who, new_warehouse().await));
    }
    let r = ctx
        .put(
            &format!("/api/v1/organizations/{org}/members/{}", staff.0),
            Some(&owner),
            json!({"role": "staff", "shop_ids": [shop_id], "warehouse_ids": [warehouse]}),
        )
        .await;
    assert_eq!(
        r.status, 200,
        "giving the staff member the main warehouse: {}",
        r.text
    );
    let r = ctx
        .post(
            "/api/v1/transfers",
            Some(&owner),
            json!({"from_warehouse_id": warehouse, "to_warehouse_id": second_warehouse, "lines": [{"product_id": product, "sku": sku, "quantity": 1}]}),
        )
        .await;
    let transfer = created_id(&r, "requesting a transfer");

    // Invitations: one the rows name, and one per caller the revoke row lets revoke.
    let invite = || async {
        let r = ctx
            .post(
                &format!("/api/v1/organizations/{org}/invitations"),
                Some(&owner),
                json!({"email": unique_email("matrix-invitee"), "role": "staff", "shop_ids": [shop_id]}),
            )
            .await;
        created_id(&r, "inviting an address")
    };
    let invitation = invite().await;
    let mut invitation_victims = Vec::new();
    for who in deleters("invitations") {
        invitation_victims.push((who, invite().await));
    }

    // The product's images (one per deleter, and one for the cover row), the buyer's two
    // orders (paid online, cash on delivery) and a line left in the cart, the vouchers.
    let images = 1 + media_victims.len();
    let (media_ids, (checkout, order, payment, moving), shop_voucher, platform_voucher) = tokio::join!(
        async {
            let mut ids = Vec::new();
            for _ in 0..images {
                ids.push(
                    ctx.upload_image(&owner, &product, "image/png", png(32, 24))
                        .await,
                );
            }
            ids
        },
        async {
            ctx.add_to_cart(&buyer, &product, &sku, 1).await;
            let online = ctx
                .checkout(&buyer, &address, "online", &unique("matrix-"))
                .await;
            assert_eq!(online.status, 201, "{}", online.text);
            let checkout = online.body["checkout_id"].as_str().unwrap().to_owned();
            let order = online.body["orders"][0]["id"].as_str().unwrap().to_owned();
            let paid = ctx.pay(&buyer, &checkout, "stripe").await;
            let payment = created_id(&paid, "paying");
            let intent = paid.body["redirect_url"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned();
            let r = ctx
                .sandbox(
                    "pay",
                    json!({"provider": "stripe", "ref": intent, "outcome": "succeed"}),
                )
                .await;
            assert_eq!(r["status"], 200, "{r}");
            let r = ctx
                .sandbox(
                    "disputes",
                    json!({"provider": "stripe", "ref": intent, "amount": 10_000}),
                )
                .await;
            assert_eq!(r["status"], 200, "{r}");
            ctx.add_to_cart(&buyer, &product, &sku, 1).await;
            let cod = ctx
                .checkout(&buyer, &address, "cod", &unique("matrix-"))
                .await;
            assert_eq!(cod.status, 201, "{}", cod.text);
            let moving = cod.body["orders"][0]["id"].as_str().unwrap().to_owned();
            ctx.add_to_cart(&buyer, &product, &sku, 1).await;
            (checkout, order, payment, moving)
        },
        async {
            let path = format!("/api/v1/shops/{shop_id}/vouchers");
            voucher(ctx, &owner, &path).await
        },
        voucher(ctx, &admin, "/api/v1/vouchers"),
    );
    // The pipeline attaches the images and issues the paid order's invoice.
    eventually("the product's images are attached", || async {
        let r = ctx.get(&format!("/api/v1/products/{product}"), None).await;
        (r.body["media"].as_array().map(Vec::len) == Some(images)).then_some(())
    })
    .await;
    eventually("the paid order's invoice is issued", || async {
        let r = ctx
            .get(&format!("/api/v1/orders/{order}/invoice"), Some(&buyer))
            .await;
        (r.status == 200).then_some(())
    })
    .await;

    // The buyer applies to deliver; the paid order's shipment is created (and waits).
    let applied = ctx
        .post(
            "/api/v1/shipping/shippers/register",
            Some(&buyer),
            json!({"name": "Matrix Rider", "phone": "+84912345678", "vehicle": "bicycle", "province": "Hà Nội", "capacity": 1}),
        )
        .await;
    let shipper = created_id(&applied, "applying as a shipper");
    let tracking = eventually("the paid order's shipment is created", || async {
        let r = ctx
            .get(&format!("/api/v1/shipping/{order}/tracking"), Some(&buyer))
            .await;
        (r.status == 200).then(|| r.body["tracking_number"].as_str().unwrap().to_owned())
    })
    .await;

    // The buyer's price alert on a product of its own.
    let (alert_product, _) = ctx.test_product(&shop, &[one("ALERT")]).await;
    let alert = ctx
        .post(
            "/api/v1/price-alerts",
            Some(&buyer),
            json!({"product_id": alert_product, "target_price": 1}),
        )
        .await;
    assert_eq!(alert.status, 201, "{}", alert.text);

    // The buyer's notifications (only the notifier makes them: written straight into the
    // table) and a built-in template.
    let notification = inbox::seed_notification(&buyer_id).await;
    let mut victims = HashMap::new();
    for who in deleters("notifications") {
        victims.insert(
            ("notifications", who),
            inbox::seed_notification(&buyer_id).await,
        );
    }
    let templates = ctx
        .get("/api/v1/notifications/templates", Some(&admin))
        .await;
    assert_eq!(templates.status, 200, "{}", templates.text);
    let t = templates.body["items"]
        .as_array()
        .unwrap()
        .iter()
        // a template no other test edits (notifications_api edits stock_low's push ones)
        .find(|t| {
            t["kind"] == "invoice_issued" && t["channel"] == "in_app" && t["language"] == "vi"
        })
        .unwrap_or_else(|| panic!("no invoice_issued in-app template: {}", templates.text));
    let template = json!({"kind": t["kind"], "channel": t["channel"], "language": t["language"], "title": t["title"], "body": t["body"]});
    for (who, (id, _)) in member_victims.iter().zip(&victim_accounts) {
        victims.insert(("members", *who), id.clone());
    }
    for (who, (id, _)) in product_victims.iter().zip(&victim_products) {
        victims.insert(("products", *who), id.clone());
    }
    for (who, id) in media_victims.iter().zip(&media_ids[1..]) {
        victims.insert(("media", *who), id.clone());
    }
    for (who, id) in address_victims.iter().zip(&victim_addresses) {
        victims.insert(("addresses", *who), id.clone());
    }
    for (who, id) in method_victims.iter().zip(&victim_methods) {
        victims.insert(("methods", *who), id.clone());
    }
    for (who, id) in warehouse_victims {
        victims.insert(("warehouses", who), id);
    }
    for (who, id) in invitation_victims {
        victims.insert(("invitations", who), id);
    }
    // The search-backed product routes need the product in the index (the event pipeline
    // indexes it asynchronously).
    eventually("the matrix product indexed for search", || async {
        let r = ctx
            .get(&format!("/api/v1/products/{product}/similar"), None)
            .await;
        (r.status == 200).then_some(())
    })
    .await;
    let tokens = HashMap::from([
        (Buyer, buyer),
        (OtherBuyer, other_buyer),
        (OtherSeller, other.seller_token),
        (Staff, staff.2),
        (Manager, manager.2),
        (Owner, owner),
        (Admin, admin),
    ]);
    Fx {
        tokens,
        org,
        shop: shop_id,
        category: shop.category_id,
        product,
        sku,
        media: media_ids[0].clone(),
        media_ids,
        member,
        joiner_email,
        invitation,
        user,
        login_email,
        address,
        method,
        order,
        checkout,
        payment,
        moving,
        shop_voucher,
        platform_voucher,
        alert_product,
        search: "matrix-shoes".to_owned(),
        notification,
        template,
        shipper,
        tracking,
        victims,
        warehouse,
        second_warehouse,
        transfer,
    }
}

/// One call. A 503 or 429 (the store or a rate limit saying "later", which a loaded full run
/// can cause) is retried as a client is told to, with the same Idempotency-Key; authorisation
/// is decided on a request the API took.
async fn call(
    ctx: &Ctx,
    method: &str,
    path: &str,
    token: Option<&String>,
    body: Option<Value>,
) -> Reply {
    // Checkout and payment need one; every other route ignores it.
    let key = unique("matrix-");
    let mut attempt = 0;
    loop {
        let mut req = ctx
            .http
            .request(method.parse().unwrap(), format!("{}{}", ctx.base, path))
            .header("idempotency-key", &key);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = &body {
            req = req.json(b);
        }
        let r = Ctx::read(req.send().await.expect("the dev server answers")).await;
        attempt += 1;
        if !matches!(r.status.as_u16(), 429 | 503) || attempt == 4 {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_secs(attempt)).await;
    }
}

/// A refusal of a bogus credential or an unsigned webhook: a 4xx, or VNPay's 200 with
/// `RspCode` 97 (bad signature), which is how VNPay must be answered.
fn refused(r: &Reply) -> bool {
    r.status.is_client_error() || (r.status == 200 && r.body["RspCode"] == "97")
}

/// Calls one row as every caller; returns the statuses (in [`EVERYONE`]'s order) and what
/// went wrong.
async fn check_row(ctx: &Ctx, f: &Fx, row: &(&str, &str, Access, Body)) -> (String, Vec<String>) {
    let (method, template, access, body) = row;
    let mut failures = Vec::new();
    let mut statuses = format!("{method:6} {template:58}");
    let mut anonymous = None;
    for who in EVERYONE {
        let want = expect(*access, who);
        let path = fill(f, who, method, template);
        let payload = match body {
            Body::None => None,
            Body::Json(make) => Some(make(f)),
        };
        let r = call(ctx, method, &path, f.tokens.get(&who), payload).await;
        let status = r.status.as_u16();
        statuses.push_str(&format!(" {status}"));
        let ok = match want {
            Pass => !matches!(status, 401 | 403) && status < 500,
            Reach => !matches!(status, 401 | 403 | 404) && status < 500,
            Deny(d) => status == d && r.content_type() == "application/problem+json",
            AsAnonymous => match anonymous {
                None => refused(&r),
                Some(first) => status == first,
            },
        };
        if !ok {
            let text: String = r.text.chars().take(200).collect();
            failures.push(format!(
                "{method} {template} as {who:?}: expected {want:?}, got {status} {text}"
            ));
        }
        if who == Anonymous {
            anonymous = Some(status);
        }
    }
    (statuses, failures)
}

/// The operations of the served OpenAPI document, with whether each declares a bearer token.
async fn documented(ctx: &Ctx) -> BTreeMap<(String, String), bool> {
    let doc = ctx.get("/openapi.json", None).await;
    assert_eq!(doc.status, 200, "{}", doc.text);
    let mut ops = BTreeMap::new();
    for (path, item) in doc.body["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            ops.insert((method.to_uppercase(), path.clone()), secured);
        }
    }
    ops
}

#[tokio::test]
async fn the_table_lists_every_operation_of_the_openapi_document_and_no_other() {
    let ctx = Ctx::new();
    let documented = documented(&ctx).await;
    let mut listed = BTreeSet::new();
    for (method, path, ..) in ROUTES {
        assert!(
            listed.insert((method.to_string(), path.to_string())),
            "{method} {path} is listed twice"
        );
    }
    let served: BTreeSet<(String, String)> = documented.keys().cloned().collect();
    let missing: Vec<_> = served.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&served).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "operations the table does not declare: {missing:?}; rows for operations the document \
         does not have: {stale:?}"
    );
    // The document's security agrees with the table: tokenless rows are exactly the
    // operations that declare no bearer token.
    let disagree: Vec<_> = ROUTES
        .iter()
        .filter(|(method, path, access, _)| {
            let tokenless = matches!(access, Public | Credential | Webhook);
            documented[&(method.to_string(), path.to_string())] == tokenless
        })
        .map(|(method, path, access, _)| format!("{method} {path} ({access:?})"))
        .collect();
    assert!(
        disagree.is_empty(),
        "the document's security contradicts the table: {disagree:?}"
    );
}

#[tokio::test]
async fn every_operation_admits_exactly_the_callers_its_row_declares() {
    let ctx = Ctx::new();
    let started = std::time::Instant::now();
    let f = fixtures(&ctx).await;
    let built = started.elapsed();
    let (moves, rest): (Vec<_>, Vec<_>) = ROUTES
        .iter()
        .partition(|(method, path, ..)| is_order_move(method, path));
    // The order's moves touch nothing the other rows read, so their chain runs beside them.
    let (mut results, moved): (Vec<(String, Vec<String>)>, Vec<_>) = tokio::join!(
        futures::stream::iter(&rest)
            .map(|row| check_row(&ctx, &f, row))
            .buffer_unordered(6)
            .collect(),
        async {
            let mut out = Vec::new();
            for row in &moves {
                out.push(check_row(&ctx, &f, row).await);
            }
            out
        },
    );
    results.extend(moved);
    // The statuses each caller got, for whoever reads the output.
    eprintln!("{:65} {EVERYONE:?}", "");
    for (statuses, _) in &results {
        eprintln!("{statuses}");
    }
    let mut failures: Vec<String> = results.into_iter().flat_map(|(_, f)| f).collect();
    failures.sort();
    eprintln!(
        "authorisation matrix: {} operations × {} callers = {} calls in {:.1} s (fixtures {:.1} s)",
        ROUTES.len(),
        EVERYONE.len(),
        ROUTES.len() * EVERYONE.len(),
        started.elapsed().as_secs_f64(),
        built.as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {} calls broke the table:\n{}",
        failures.len(),
        ROUTES.len() * EVERYONE.len(),
        failures.join("\n")
    );
}
