//! Pricing a buyer's cart against the live catalogue: one batched read of every variant,
//! product, shop, voucher and voucher usage the cart mentions ([`load_catalog`]), then the pure
//! [`quote`]: lines grouped by shop with live prices and availability flags, vouchers with the
//! discount they give (or why they give none), and the fee breakdown of
//! [`crate::domain::checkout::price_checkout`]. The cart view, `cart/calculate-total`,
//! `orders/preview` and order placement all use this one quote.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use utoipa::ToSchema;

use crate::cart::{Cart, CartLine};
use crate::catalog::{ShopRecord, ShopStatus};
use crate::domain::checkout::{PricedLine, ShopGroup, VoucherRejection, price_checkout};
use crate::domain::shipping::{Leg, Method, Quote as ShippingQuote, Terms};
use crate::domain::{Currency, Money, effective_price};
use crate::error::FieldError;
use crate::geocode::{AddressPlace, Gazetteer};
use crate::products::{ProductRecord, ProductStatus, VariantRecord};
use crate::store::{Db, Item, StoreError, from_item, keys};
use crate::vouchers::{VoucherRecord, VoucherUsageRecord};
use crate::warehouses::{ShopWarehousesRecord, orderable};

/// Most lines one order placement takes: a line is two actions of its transaction (the
/// warehouse's stock row and the variant's sums), and three when its order is delivered or
/// returned (with the ledger entry), all within DynamoDB's 100 actions.
pub const MAX_CHECKOUT_LINES: usize = 25;
/// Most shops one order placement splits into.
pub const MAX_CHECKOUT_SHOPS: usize = 5;

/// Everything the catalogue says about a cart.
#[derive(Debug, Default)]
pub struct Catalog {
    pub variants: HashMap<(String, String), VariantRecord>,
    pub products: HashMap<String, ProductRecord>,
    pub shops: HashMap<String, ShopRecord>,
    /// Shop → the warehouses serving it (where its lines can be reserved).
    pub serving: HashMap<String, ShopWarehousesRecord>,
    /// (scope, code) → voucher.
    pub vouchers: HashMap<(String, String), VoucherRecord>,
    /// (scope, code) → how often this buyer redeemed it.
    pub usage: HashMap<(String, String), i64>,
}

#[derive(Clone)]
enum Kind {
    Variant(String, String),
    Product(String),
    Shop(String),
    Serving(String),
    Voucher(String, String),
    Usage(String, String),
}

/// The applied vouchers of a cart as (scope, code), platform first.
pub fn applied_vouchers(cart: &Cart) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(code) = &cart.platform_voucher {
        out.push((keys::voucher_scope(None), code.clone()));
    }
    for (shop, code) in &cart.shop_vouchers {
        if cart.lines.iter().any(|l| &l.line.shop_id == shop) {
            out.push((keys::voucher_scope(Some(shop)), code.clone()));
        }
    }
    out
}

fn catalog_keys(
    user_id: &str,
    lines: &[CartLine],
    vouchers: &[(String, String)],
) -> Vec<((String, String), Kind)> {
    let mut out = Vec::new();
    for l in lines {
        out.push((
            keys::variant(&l.product_id, &l.sku),
            Kind::Variant(l.product_id.clone(), l.sku.clone()),
        ));
        out.push((
            keys::product(&l.product_id),
            Kind::Product(l.product_id.clone()),
        ));
        out.push((
            keys::shop_profile(&l.line.shop_id),
            Kind::Shop(l.line.shop_id.clone()),
        ));
        out.push((
            keys::shop_warehouses(&l.line.shop_id),
            Kind::Serving(l.line.shop_id.clone()),
        ));
    }
    for (scope, code) in vouchers {
        out.push((
            keys::voucher(scope, code),
            Kind::Voucher(scope.clone(), code.clone()),
        ));
        out.push((
            keys::voucher_usage(scope, code, user_id),
            Kind::Usage(scope.clone(), code.clone()),
        ));
    }
    out
}

fn item_key(item: &Item) -> Option<(String, String)> {
    match (item.get("PK"), item.get("SK")) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => {
            Some((pk.clone(), sk.clone()))
        }
        _ => None,
    }
}

/// One batched, strongly consistent read of what `lines` and the applied vouchers need (a
/// single BatchGetItem while the keys fit in 100, which a checkout's limits guarantee).
pub async fn load_catalog(
    db: &Db,
    user_id: &str,
    lines: &[CartLine],
    vouchers: &[(String, String)],
) -> Result<Catalog, StoreError> {
    let wanted = catalog_keys(user_id, lines, vouchers);
    let kinds: HashMap<(String, String), Kind> = wanted.iter().cloned().collect();
    let keys: Vec<(String, String)> = wanted.into_iter().map(|(k, _)| k).collect();
    let mut catalog = Catalog::default();
    for item in db.batch_get(&keys).await? {
        let Some(kind) = item_key(&item).and_then(|k| kinds.get(&k).cloned()) else {
            continue;
        };
        match kind {
            Kind::Variant(p, s) => {
                catalog.variants.insert((p, s), from_item(item)?);
            }
            Kind::Product(p) => {
                catalog.products.insert(p, from_item(item)?);
            }
            Kind::Shop(s) => {
                catalog.shops.insert(s, from_item(item)?);
            }
            Kind::Serving(s) => {
                catalog.serving.insert(s, from_item(item)?);
            }
            Kind::Voucher(scope, code) => {
                catalog.vouchers.insert((scope, code), from_item(item)?);
            }
            Kind::Usage(scope, code) => {
                let usage: VoucherUsageRecord = from_item(item)?;
                catalog.usage.insert((scope, code), usage.used);
            }
        }
    }
    Ok(catalog)
}

/// Why a cart line cannot be bought now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineProblem {
    /// The product was archived or unpublished, or its shop is suspended.
    Unavailable,
    OutOfStock,
    /// Fewer units are available than the line asks for (`available` says how many).
    InsufficientStock,
}

/// A cart line priced now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuoteLine {
    pub product_id: String,
    pub sku: String,
    pub name: String,
    pub attributes: BTreeMap<String, String>,
    pub quantity: i64,
    pub list_price: Money,
    /// What one unit costs now (list price less an active product discount).
    pub unit_price: Money,
    pub line_total: Money,
    pub weight_grams: u32,
    /// Units that can be bought now.
    pub available: i64,
    /// The price shown when the line was added.
    pub price_when_added: Money,
    /// `unit_price` differs from `price_when_added`.
    pub price_changed: bool,
    /// Set when the line cannot be bought as it is; it is then left out of the totals.
    pub problem: Option<LineProblem>,
    /// Cover image (200 px thumbnail), if the product has one.
    pub image_url: Option<String>,
}

/// A voucher applied to the cart and what it does.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AppliedVoucher {
    pub code: String,
    /// Whether it gives its discount to the cart as it is now.
    pub applies: bool,
    pub discount: Money,
    /// Why it does not apply.
    pub reason: Option<String>,
}

/// One shop's part of the cart, priced.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShopQuote {
    pub shop_id: String,
    pub shop_name: String,
    pub lines: Vec<QuoteLine>,
    pub voucher: Option<AppliedVoucher>,
    pub subtotal: Money,
    pub shop_discount: Money,
    /// This shop's share of the platform voucher.
    pub platform_discount: Money,
    pub weight_grams: u64,
    /// The cart shows standard delivery within the shop's district (an estimate: no address
    /// is chosen yet); the preview and the order price the method over the real distance and
    /// zone (`shipping`).
    pub shipping_fee: Money,
    /// How `shipping_fee` was reached: method, zone, distance, weights and days. Absent in the
    /// cart, and when the parcel cannot go this way (then `problems` says why).
    pub shipping: Option<ShippingQuote>,
    /// VAT contained in `total` (listed prices include tax).
    pub tax_included: Money,
    /// `subtotal - shop_discount - platform_discount + shipping_fee`.
    pub total: Money,
}

/// Where and how a checkout ships: the address's place and the method chosen.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub method: Method,
    pub to: &'a AddressPlace,
}

/// The field a shipping problem of the preview or the placement names: the buyer fixes it by
/// choosing another method (or address).
pub const SHIPPING_METHOD_FIELD: &str = "shipping_method";

/// The fee breakdown of a cart: per shop and in total.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Quote {
    /// The cart's currency (`null` while it is empty).
    pub currency: Option<Currency>,
    pub shops: Vec<ShopQuote>,
    pub platform_voucher: Option<AppliedVoucher>,
    /// Units in lines that can be bought.
    pub item_count: i64,
    pub subtotal: Money,
    pub discount: Money,
    pub shipping_fee: Money,
    pub tax_included: Money,
    pub total: Money,
    /// Whether an order can be placed from the cart as it is.
    pub ready: bool,
    /// What stands in the way of placing the order (lines, vouchers, limits).
    pub problems: Vec<FieldError>,
}

impl Quote {
    pub fn currency(&self) -> Currency {
        self.currency.unwrap_or(Currency::VND)
    }
}

fn line_problem<'a>(
    line: &CartLine,
    catalog: &'a Catalog,
) -> (
    Option<LineProblem>,
    Option<&'a VariantRecord>,
    Option<&'a ProductRecord>,
) {
    let variant = catalog
        .variants
        .get(&(line.product_id.clone(), line.sku.clone()));
    let product = catalog.products.get(&line.product_id);
    let shop_ok = catalog
        .shops
        .get(&line.line.shop_id)
        .is_some_and(|s| s.status == ShopStatus::Active);
    let (Some(v), Some(p)) = (variant, product) else {
        return (Some(LineProblem::Unavailable), variant, product);
    };
    let available = orderable(v, catalog.serving.get(&line.line.shop_id));
    let problem = if p.status != ProductStatus::Active || !shop_ok {
        Some(LineProblem::Unavailable)
    } else if available <= 0 {
        Some(LineProblem::OutOfStock)
    } else if available < line.line.quantity {
        Some(LineProblem::InsufficientStock)
    } else {
        None
    };
    (problem, variant, product)
}

fn voucher_view(
    code: &str,
    currency: Currency,
    discount: i64,
    reason: Option<String>,
) -> AppliedVoucher {
    AppliedVoucher {
        code: code.to_owned(),
        applies: reason.is_none(),
        discount: Money::new(if reason.is_none() { discount } else { 0 }, currency),
        reason,
    }
}

/// A voucher's pre-checks (exists, usable, under this buyer's limit); `Err` says why not.
fn usable_voucher<'a>(
    catalog: &'a Catalog,
    scope: String,
    code: &str,
    now: i64,
) -> Result<&'a VoucherRecord, String> {
    let key = (scope, code.to_owned());
    let v = catalog
        .vouchers
        .get(&key)
        .ok_or_else(|| "no such voucher".to_owned())?;
    if let Some(reason) = v.unusable_reason(now) {
        return Err(reason);
    }
    if catalog.usage.get(&key).copied().unwrap_or(0) >= v.per_user_limit {
        return Err("you have already used this voucher as often as allowed".into());
    }
    Ok(v)
}

fn rejection_text(r: Option<VoucherRejection>) -> Option<String> {
    r.map(|r| r.message())
}

/// The shipping terms of one shop's parcel: the cart's estimate, or the method over the leg
/// from the shop to the address (a problem when either end is outside the delivery area).
fn shipping_terms(
    shop: Option<&ShopRecord>,
    delivery: Option<&Delivery<'_>>,
) -> Result<Terms, &'static str> {
    let Some(d) = delivery else {
        return Ok(Terms::Estimate);
    };
    let Some(shop) = shop else {
        return Ok(Terms::Estimate);
    };
    let from = (shop.address.location.lat, shop.address.location.lng);
    match crate::geocode::leg(&Gazetteer, from, d.to.point()) {
        Ok((distance_km, zone)) => Ok(Terms::Leg(d.method, Leg { distance_km, zone })),
        Err("from") => Err("ships from outside our delivery area"),
        Err(_) => Err("is outside our delivery area"),
    }
}

/// Prices `lines` of `cart` (normally all its lines) at `now`, shipping to `delivery` (the
/// cart view has none: it shows an estimate). Pure.
pub fn quote(
    cart: &Cart,
    lines: &[CartLine],
    catalog: &Catalog,
    now: i64,
    delivery: Option<&Delivery<'_>>,
) -> Quote {
    // Group by shop in the order shops first appear.
    let mut shop_order: Vec<&str> = Vec::new();
    for l in lines {
        if !shop_order.contains(&l.line.shop_id.as_str()) {
            shop_order.push(&l.line.shop_id);
        }
    }
    let currency = lines
        .iter()
        .find_map(|l| catalog.variants.get(&(l.product_id.clone(), l.sku.clone())))
        .map(|v| v.price.currency)
        .or_else(|| lines.first().map(|l| l.line.price_when_added.currency));
    let cur = currency.unwrap_or(Currency::VND);
    let mut problems = Vec::new();
    let mut shop_lines: Vec<Vec<QuoteLine>> = Vec::new();
    let mut priced: Vec<Vec<PricedLine>> = Vec::new();
    for shop in &shop_order {
        let mut views = Vec::new();
        let mut ok = Vec::new();
        for l in lines.iter().filter(|l| l.line.shop_id == *shop) {
            let (problem, variant, product) = line_problem(l, catalog);
            let list = variant.map_or(l.line.price_when_added, |v| v.price);
            let unit = variant.map_or(list, |v| effective_price(v.price, v.discount.as_ref(), now));
            let view = QuoteLine {
                product_id: l.product_id.clone(),
                sku: l.sku.clone(),
                name: product
                    .map_or_else(|| "(no longer available)".to_owned(), |p| p.name.clone()),
                attributes: variant.map(|v| v.attributes.clone()).unwrap_or_default(),
                quantity: l.line.quantity,
                list_price: list,
                unit_price: unit,
                line_total: Money::new(unit.amount * l.line.quantity, unit.currency),
                weight_grams: variant.map_or(0, |v| v.weight_grams),
                available: variant.map_or(0, |v| {
                    orderable(v, catalog.serving.get(&l.line.shop_id)).max(0)
                }),
                price_when_added: l.line.price_when_added,
                price_changed: unit != l.line.price_when_added,
                problem,
                image_url: product
                    .and_then(|p| p.media.first())
                    .and_then(|m| m.thumbnails.get("200").cloned()),
            };
            match problem {
                Some(p) => problems.push(FieldError::new(
                    format!("lines[{}:{}]", l.product_id, l.sku),
                    match p {
                        LineProblem::Unavailable => "is no longer for sale".to_owned(),
                        LineProblem::OutOfStock => "is out of stock".to_owned(),
                        LineProblem::InsufficientStock => {
                            format!("only {} available", view.available)
                        }
                    },
                )),
                None if unit.currency != cur => problems.push(FieldError::new(
                    format!("lines[{}:{}]", l.product_id, l.sku),
                    "is priced in another currency than the rest of the cart",
                )),
                None => ok.push(PricedLine {
                    unit_price: unit.amount,
                    quantity: l.line.quantity,
                    weight_grams: view.weight_grams,
                }),
            }
            views.push(view);
        }
        shop_lines.push(views);
        priced.push(ok);
    }

    // Vouchers: pre-checks here, the discount rules in price_checkout.
    let mut shop_voucher_terms = Vec::new();
    let mut shop_voucher_errors: Vec<Option<String>> = Vec::new();
    for shop in &shop_order {
        match cart.shop_vouchers.get(*shop) {
            None => {
                shop_voucher_terms.push(None);
                shop_voucher_errors.push(None);
            }
            Some(code) => match usable_voucher(catalog, keys::voucher_scope(Some(shop)), code, now)
            {
                Ok(v) => {
                    shop_voucher_terms.push(Some(&v.terms));
                    shop_voucher_errors.push(None);
                }
                Err(reason) => {
                    shop_voucher_terms.push(None);
                    shop_voucher_errors.push(Some(reason));
                }
            },
        }
    }
    let (platform_terms, platform_error) = match &cart.platform_voucher {
        None => (None, None),
        Some(code) => match usable_voucher(catalog, keys::voucher_scope(None), code, now) {
            Ok(v) => (Some(&v.terms), None),
            Err(reason) => (None, Some(reason)),
        },
    };
    let mut groups: Vec<ShopGroup<'_>> = Vec::new();
    for ((shop, lines), voucher) in shop_order.iter().zip(&priced).zip(&shop_voucher_terms) {
        let shipping = match shipping_terms(catalog.shops.get(*shop), delivery) {
            Ok(terms) => terms,
            Err(why) => {
                let field = if why.starts_with("ships") {
                    format!("shops[{shop}]")
                } else {
                    "address_id".to_owned()
                };
                problems.push(FieldError::new(field, why));
                Terms::Estimate
            }
        };
        groups.push(ShopGroup {
            lines,
            voucher: *voucher,
            shipping,
        });
    }
    let totals = price_checkout(cur, &groups, platform_terms, now);
    let money = |a: i64| Money::new(a, cur);

    let mut shops = Vec::new();
    for (i, shop) in shop_order.iter().enumerate() {
        let t = &totals.shops[i];
        let voucher = cart.shop_vouchers.get(*shop).map(|code| {
            let reason = shop_voucher_errors[i]
                .clone()
                .or_else(|| rejection_text(t.shop_voucher_rejection));
            if let Some(r) = &reason {
                problems.push(FieldError::new(
                    format!("vouchers[{shop}]"),
                    format!("{code}: {r}"),
                ));
            }
            voucher_view(code, cur, t.shop_discount, reason)
        });
        shops.push(ShopQuote {
            shop_id: (*shop).to_owned(),
            shop_name: catalog
                .shops
                .get(*shop)
                .map_or_else(String::new, |s| s.name.clone()),
            lines: std::mem::take(&mut shop_lines[i]),
            voucher,
            subtotal: money(t.subtotal),
            shop_discount: money(t.shop_discount),
            platform_discount: money(t.platform_discount),
            weight_grams: t.weight_grams,
            shipping_fee: money(t.shipping_fee),
            shipping: match &t.shipping {
                Ok(q) => delivery.map(|_| q.clone()),
                Err(e) => {
                    problems.push(FieldError::new(SHIPPING_METHOD_FIELD, e.to_string()));
                    None
                }
            },
            tax_included: money(t.tax_included),
            total: money(t.total),
        });
    }
    let platform_voucher = cart.platform_voucher.as_ref().map(|code| {
        let reason = platform_error.or_else(|| rejection_text(totals.platform_voucher_rejection));
        if let Some(r) = &reason {
            problems.push(FieldError::new(
                "vouchers[platform]",
                format!("{code}: {r}"),
            ));
        }
        voucher_view(
            code,
            cur,
            totals.shops.iter().map(|s| s.platform_discount).sum(),
            reason,
        )
    });
    if lines.is_empty() {
        problems.push(FieldError::new("cart", "is empty"));
    }
    if lines.len() > MAX_CHECKOUT_LINES {
        problems.push(FieldError::new(
            "cart",
            format!(
                "has {} lines; one order placement takes at most {MAX_CHECKOUT_LINES} (save the rest for later)",
                lines.len()
            ),
        ));
    }
    if shop_order.len() > MAX_CHECKOUT_SHOPS {
        problems.push(FieldError::new(
            "cart",
            format!(
                "has items of {} shops; one order placement takes at most {MAX_CHECKOUT_SHOPS} (save the rest for later)",
                shop_order.len()
            ),
        ));
    }
    Quote {
        currency,
        item_count: priced.iter().flatten().map(|l| l.quantity).sum(),
        subtotal: money(totals.subtotal),
        discount: money(totals.discount),
        shipping_fee: money(totals.shipping_fee),
        tax_included: money(totals.tax_included),
        total: money(totals.total),
        ready: problems.is_empty(),
        problems,
        shops,
        platform_voucher,
    }
}

/// Loads the catalogue for the whole cart and prices it (the cart view and calculate-total).
pub async fn quote_cart(
    db: &Db,
    user_id: &str,
    cart: &Cart,
) -> Result<(Quote, Catalog), StoreError> {
    let catalog = load_catalog(db, user_id, &cart.lines, &applied_vouchers(cart)).await?;
    let q = quote(cart, &cart.lines, &catalog, crate::now_epoch(), None);
    Ok((q, catalog))
}
