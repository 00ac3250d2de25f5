//! Warehouses, the stock each holds per variant, and transfers between them, as stored in the
//! table; the access rule every warehouse route uses; and the checkout's warehouse choice.
//!
//! A variant's stock lives per warehouse in `PRODUCT#<p>/STOCK#<sku>#<warehouse>` rows: the
//! truth that every conditional write guards (`available >= q`). The variant item keeps the sums
//! (`stock`, `reserved`, `available`: what a shop can sell, since a variant belongs to one shop
//! and only warehouses serving that shop hold it) and `warehouses`, the available units per
//! warehouse, written in the same transaction as the rows, so the checkout can choose a
//! warehouse from the one batched read it already makes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::{GeoPoint, MemberRecord, MemberRole, ShopAddress};
use crate::error::ApiError;
use crate::http::AuthUser;
use crate::products::VariantRecord;
use crate::store::{Db, keys};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WarehouseStatus {
    Active,
    /// Holds no stock and takes none; kept for the ledger's and transfers' history.
    Closed,
}

/// `WAREHOUSE#<id>/PROFILE`; GSI1 lists the organisation's warehouses by name.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WarehouseRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub address: ShopAddress,
    /// Shops of the organisation this warehouse sells for.
    pub shop_ids: Vec<String>,
    pub status: WarehouseStatus,
    pub created_at: String,
    pub updated_at: String,
    /// Bumped by every write; writes are conditional on it.
    pub version: u64,
}

impl WarehouseRecord {
    pub fn new(
        id: &str,
        org_id: &str,
        name: &str,
        address: ShopAddress,
        shop_ids: Vec<String>,
    ) -> Self {
        let (pk, sk) = keys::warehouse(id);
        let now = crate::now_rfc3339();
        Self {
            pk,
            sk,
            gsi1pk: keys::gsi1_org_warehouses(org_id),
            gsi1sk: format!("{}\u{1}{id}", name.to_lowercase()),
            entity_type: "warehouse".into(),
            id: id.into(),
            org_id: org_id.into(),
            name: name.into(),
            address,
            shop_ids,
            status: WarehouseStatus::Active,
            created_at: now.clone(),
            updated_at: now,
            version: 1,
        }
    }

    pub fn rename(&mut self, name: &str) {
        self.name = name.into();
        self.gsi1sk = format!("{}\u{1}{}", name.to_lowercase(), self.id);
    }
}

/// One warehouse as a shop's list of serving warehouses holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServingWarehouse {
    pub id: String,
    pub location: GeoPoint,
}

/// `SHOP#<id>/WAREHOUSES`: the active warehouses serving a shop, kept by every warehouse write
/// in the same transaction (conditional on `version`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShopWarehousesRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub shop_id: String,
    /// Where stock of new products goes (the shop's first warehouse unless changed).
    pub default_warehouse_id: Option<String>,
    pub warehouses: Vec<ServingWarehouse>,
    pub version: u64,
}

impl ShopWarehousesRecord {
    pub fn new(shop_id: &str) -> Self {
        let (pk, sk) = keys::shop_warehouses(shop_id);
        Self {
            pk,
            sk,
            entity_type: "shop_warehouses".into(),
            shop_id: shop_id.into(),
            default_warehouse_id: None,
            warehouses: Vec::new(),
            version: 0,
        }
    }
}

/// `PRODUCT#<p>/STOCK#<sku>#<warehouse>`: a variant's stock in one warehouse. GSI1 lists a
/// warehouse's rows, GSI2 a shop's (both by product and SKU).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StockRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    #[serde(rename = "GSI2PK")]
    pub gsi2pk: String,
    #[serde(rename = "GSI2SK")]
    pub gsi2sk: String,
    pub entity_type: String,
    pub product_id: String,
    pub product_name: String,
    pub shop_id: String,
    pub org_id: String,
    pub sku: String,
    pub warehouse_id: String,
    pub stock: i64,
    pub reserved: i64,
    /// `stock - reserved`, kept in the item so conditions can guard it.
    pub available: i64,
    /// `StockLow` for this warehouse when `available` falls to this or below.
    pub low_stock_threshold: i64,
}

pub const STOCK_ENTITY: &str = "warehouse_stock";

impl StockRecord {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        product_id: &str,
        product_name: &str,
        shop_id: &str,
        org_id: &str,
        sku: &str,
        warehouse_id: &str,
        stock: i64,
        low_stock_threshold: i64,
    ) -> Self {
        let (pk, sk) = keys::warehouse_stock(product_id, sku, warehouse_id);
        Self {
            pk,
            sk,
            gsi1pk: keys::gsi1_warehouse_stock(warehouse_id),
            gsi1sk: keys::gsi1_stock_sort(product_id, sku),
            gsi2pk: keys::gsi2_shop_stock(shop_id),
            gsi2sk: keys::gsi2_stock_sort(product_id, sku, warehouse_id),
            entity_type: STOCK_ENTITY.into(),
            product_id: product_id.into(),
            product_name: product_name.into(),
            shop_id: shop_id.into(),
            org_id: org_id.into(),
            sku: sku.into(),
            warehouse_id: warehouse_id.into(),
            stock,
            reserved: 0,
            available: stock,
            low_stock_threshold,
        }
    }

    pub fn low_stock(&self) -> bool {
        self.available <= self.low_stock_threshold
    }
}

/// The shop's first warehouse, at the shop's address and serving only it, with the shop's list
/// of serving warehouses: the puts that create both (with a new shop, or by `make migrate` for
/// shops made before warehouses; both conditional on not existing).
pub fn default_warehouse(
    shop: &crate::catalog::ShopRecord,
) -> (WarehouseRecord, ShopWarehousesRecord) {
    let id = keys::default_warehouse_id(&shop.id);
    let warehouse = WarehouseRecord::new(
        &id,
        &shop.org_id,
        &format!("{} (main)", shop.name),
        shop.address.clone(),
        vec![shop.id.clone()],
    );
    let mut serving = ShopWarehousesRecord::new(&shop.id);
    serving.default_warehouse_id = Some(id.clone());
    serving.warehouses.push(ServingWarehouse {
        id,
        location: shop.address.location.clone(),
    });
    serving.version = 1;
    (warehouse, serving)
}

pub fn default_warehouse_actions(
    table: &str,
    shop: &crate::catalog::ShopRecord,
) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, crate::store::StoreError> {
    let (warehouse, serving) = default_warehouse(shop);
    Ok(vec![
        crate::store::tx::put_new(table, &warehouse)?,
        crate::store::tx::put_new(table, &serving)?,
    ])
}

/// What a warehouse route needs to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarehouseCap {
    /// Create, edit, close warehouses: owners.
    Manage,
    /// See its inventory, ship and receive transfers: owners, and managers or staff whose
    /// `warehouse_ids` include it.
    Operate,
}

/// Loads the warehouse and checks the caller may do `cap` to it: a caller outside its
/// organisation gets 404; a member whose role does not reach it, 403.
pub async fn authorize_warehouse(
    db: &Db,
    caller: &AuthUser,
    warehouse_id: &str,
    cap: WarehouseCap,
) -> Result<(WarehouseRecord, Option<MemberRecord>), ApiError> {
    let not_found = || ApiError::NotFound("no warehouse with this id in your organisations".into());
    let warehouse: WarehouseRecord = db
        .get(keys::warehouse(warehouse_id))
        .await?
        .ok_or_else(not_found)?;
    if caller.user.has_role(crate::auth::Role::Admin) {
        return Ok((warehouse, None));
    }
    let member: MemberRecord = db
        .get(keys::org_member(&warehouse.org_id, caller.id()))
        .await?
        .ok_or_else(not_found)?;
    check_warehouse_member(&member, warehouse_id, cap)?;
    Ok((warehouse, Some(member)))
}

/// The warehouse role rule, pure.
pub fn check_warehouse_member(
    member: &MemberRecord,
    warehouse_id: &str,
    cap: WarehouseCap,
) -> Result<(), ApiError> {
    let covers = member.warehouse_ids.iter().any(|w| w == warehouse_id);
    match (member.role, cap) {
        (MemberRole::Owner, _) => Ok(()),
        (_, WarehouseCap::Manage) => Err(ApiError::Forbidden(
            "only the organisation's owners manage its warehouses".into(),
        )),
        (_, WarehouseCap::Operate) if covers => Ok(()),
        (_, WarehouseCap::Operate) => Err(ApiError::Forbidden(
            "your role in this organisation does not cover this warehouse".into(),
        )),
    }
}

/// 422 naming `warehouse_ids[i]` for an id that is not a warehouse of `org_id`.
pub async fn check_warehouses_in_org(
    db: &Db,
    org_id: &str,
    warehouse_ids: &[String],
) -> Result<(), ApiError> {
    for (i, id) in warehouse_ids.iter().enumerate() {
        let w: Option<WarehouseRecord> = db.get(keys::warehouse(id)).await?;
        if w.is_none_or(|w| w.org_id != org_id) {
            return Err(ApiError::field(
                format!("warehouse_ids[{i}]"),
                "is not a warehouse of this organisation",
            ));
        }
    }
    Ok(())
}

/// The most units of `variant` one order line can take: a line reserves from one warehouse, so
/// the largest stock among the warehouses serving the shop (the variant's total before the shop
/// has its warehouse list, i.e. before `make migrate`).
pub fn orderable(variant: &VariantRecord, serving: Option<&ShopWarehousesRecord>) -> i64 {
    match serving {
        Some(serving) if !variant.warehouses.is_empty() => serving
            .warehouses
            .iter()
            .filter_map(|w| variant.warehouses.get(&w.id).copied())
            .max()
            .unwrap_or(0),
        _ => variant.available,
    }
}

/// The warehouse a checkout line reserves from: among the shop's warehouses with at least
/// `quantity` available (per the variant's `warehouses` map), the nearest to the buyer, then
/// the one with the most available (then the smallest id, so the choice is deterministic).
/// Without a buyer location, the largest stock wins. `None` when no single warehouse has enough.
pub fn choose_warehouse<'a>(
    serving: &'a [ServingWarehouse],
    available: &BTreeMap<String, i64>,
    quantity: i64,
    buyer: Option<(f64, f64)>,
) -> Option<&'a ServingWarehouse> {
    let distance = |w: &ServingWarehouse| {
        buyer.map_or(0.0, |(lat, lng)| {
            crate::geo::distance_km((lat, lng), (w.location.lat, w.location.lng))
        })
    };
    serving
        .iter()
        .filter_map(|w| {
            let a = available.get(&w.id).copied().unwrap_or(0);
            (a >= quantity).then_some((w, a))
        })
        .min_by(|(x, ax), (y, ay)| {
            distance(x)
                .total_cmp(&distance(y))
                .then(ay.cmp(ax))
                .then(x.id.cmp(&y.id))
        })
        .map(|(w, _)| w)
}

/// Checks and normalises a warehouse's address as a shop's is checked (`api-shops`'
/// `ShopInput`): line and city trimmed text, an ISO country, coordinates in range and rounded
/// to 7 decimal places (what DynamoDB numbers keep). Errors name `address.<field>`.
pub fn check_address(address: &mut ShopAddress, e: &mut crate::validate::Errors) {
    use crate::validate;
    e.check(validate::text("address.line1", &mut address.line1, 1, 200));
    e.check(validate::text("address.city", &mut address.city, 1, 100));
    e.check(validate::country("address.country", &mut address.country));
    let GeoPoint { lat, lng } = address.location;
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        e.push("address.location.lat", "must be between -90 and 90");
    }
    if !lng.is_finite() || !(-180.0..=180.0).contains(&lng) {
        e.push("address.location.lng", "must be between -180 and 180");
    }
    // `+ 0.0` turns `-0.0` into 0; tiny values round to 0 instead of failing the write.
    let round = |d: f64| (d * 1e7).round() / 1e7 + 0.0;
    address.location = GeoPoint {
        lat: round(lat),
        lng: round(lng),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(id: &str, lat: f64, lng: f64) -> ServingWarehouse {
        ServingWarehouse {
            id: id.into(),
            location: GeoPoint { lat, lng },
        }
    }

    #[test]
    fn the_nearest_warehouse_with_enough_stock_wins_then_the_largest() {
        let hanoi = at("hn", 21.03, 105.85);
        let saigon = at("sg", 10.78, 106.70);
        let serving = vec![hanoi.clone(), saigon.clone()];
        let stock = BTreeMap::from([("hn".to_owned(), 3), ("sg".to_owned(), 50)]);
        let buyer_in_hanoi = Some((21.0, 105.8));
        assert_eq!(
            choose_warehouse(&serving, &stock, 2, buyer_in_hanoi).map(|w| w.id.as_str()),
            Some("hn")
        );
        // Hanoi has too few for 4: the far one with enough.
        assert_eq!(
            choose_warehouse(&serving, &stock, 4, buyer_in_hanoi).map(|w| w.id.as_str()),
            Some("sg")
        );
        // No location: the largest.
        assert_eq!(
            choose_warehouse(&serving, &stock, 1, None).map(|w| w.id.as_str()),
            Some("sg")
        );
        assert!(choose_warehouse(&serving, &stock, 51, buyer_in_hanoi).is_none());
        // A warehouse the variant has no row in holds nothing.
        assert!(choose_warehouse(&[at("x", 0.0, 0.0)], &stock, 1, None).is_none());
    }

    #[test]
    fn only_owners_manage_and_members_operate_the_warehouses_they_are_given() {
        let owner = MemberRecord::new("o", "u1", "a@b.co", MemberRole::Owner, vec![]);
        let mut staff = MemberRecord::new("o", "u2", "b@b.co", MemberRole::Staff, vec![]);
        staff.warehouse_ids = vec!["w1".into()];
        assert!(check_warehouse_member(&owner, "w9", WarehouseCap::Manage).is_ok());
        assert!(check_warehouse_member(&staff, "w1", WarehouseCap::Operate).is_ok());
        assert!(check_warehouse_member(&staff, "w2", WarehouseCap::Operate).is_err());
        assert!(check_warehouse_member(&staff, "w1", WarehouseCap::Manage).is_err());
    }
}
