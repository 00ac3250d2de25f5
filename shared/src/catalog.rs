//! Seller organisations, their members and shops as stored in the table, and the one access
//! check every seller route uses: what may this caller do to this shop?

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Role;
use crate::error::ApiError;
use crate::http::AuthUser;
use crate::store::{Db, keys};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    /// Everything in the organisation, including members.
    Owner,
    /// Profile, catalogue and stock of the shops in `shop_ids`.
    Manager,
    /// Catalogue and stock of the shops in `shop_ids`.
    Staff,
}

/// `ORG#<id>/PROFILE`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

/// `ORG#<org>/MEMBER#<user>`; GSI1 lists a user's memberships.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity_type: String,
    pub org_id: String,
    pub user_id: String,
    pub email: String,
    pub role: MemberRole,
    /// Shops a manager or staff member works on (empty for owners: all shops).
    pub shop_ids: Vec<String>,
    /// Warehouses a manager or staff member operates (inventory, transfers); empty for owners
    /// (all warehouses) and for members who work on no warehouse.
    #[serde(default)]
    pub warehouse_ids: Vec<String>,
    pub added_at: String,
}

impl MemberRecord {
    pub fn new(
        org_id: &str,
        user_id: &str,
        email: &str,
        role: MemberRole,
        shop_ids: Vec<String>,
    ) -> Self {
        let (pk, sk) = keys::org_member(org_id, user_id);
        Self {
            pk,
            sk,
            gsi1pk: keys::gsi1_memberships(user_id),
            gsi1sk: keys::org_pk(org_id),
            entity_type: "org_member".into(),
            org_id: org_id.into(),
            user_id: user_id.into(),
            email: email.into(),
            role,
            shop_ids: if role == MemberRole::Owner {
                Vec::new()
            } else {
                shop_ids
            },
            warehouse_ids: Vec::new(),
            added_at: crate::now_rfc3339(),
        }
    }

    pub fn covers(&self, shop_id: &str) -> bool {
        self.role == MemberRole::Owner || self.shop_ids.iter().any(|s| s == shop_id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShopStatus {
    Active,
    Suspended,
}

/// Degrees; stored rounded to 7 decimal places (about 1 cm).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GeoPoint {
    #[schema(example = 21.0285, minimum = -90, maximum = 90)]
    pub lat: f64,
    #[schema(example = 105.8542, minimum = -180, maximum = 180)]
    pub lng: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShopAddress {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub line1: String,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub city: String,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "VN", pattern = "^[A-Za-z]{2}$")]
    pub country: String,
    pub location: GeoPoint,
}

/// Opening hours of one weekday, local time `HH:MM`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    /// 1 = Monday … 7 = Sunday.
    #[schema(minimum = 1, maximum = 7)]
    pub weekday: u8,
    #[schema(example = "08:00", pattern = "^(?:[01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub opens: String,
    /// After `opens`.
    #[schema(example = "21:30", pattern = "^(?:[01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub closes: String,
}

/// `SHOP#<id>/PROFILE`; GSI1 (name search) and GSI2 (geo cell) only while active.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShopRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
    pub entity_type: String,
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    pub address: ShopAddress,
    pub opening_hours: Vec<OpeningHours>,
    pub status: ShopStatus,
    pub created_at: String,
    pub updated_at: String,
    /// Bumped by every write of the record, so search documents (which show the shop) get a
    /// newer version when the shop changes (see `product_search::doc`).
    #[serde(default)]
    pub rev: u64,
}

impl ShopRecord {
    /// Sets the index attributes from name, location and status (suspended shops leave the
    /// public indexes).
    pub fn index(&mut self) {
        if self.status == ShopStatus::Active {
            let cell = crate::geo::geohash(
                self.address.location.lat,
                self.address.location.lng,
                keys::SHOP_GEO_PRECISION,
            );
            self.gsi1pk = Some(keys::GSI1_SHOPS_BY_NAME.into());
            self.gsi1sk = Some(keys::gsi1_shop_name(&self.name.to_lowercase(), &self.id));
            self.gsi2pk = Some(keys::gsi2_shop_geo(&cell));
            self.gsi2sk = Some(self.id.clone());
        } else {
            (self.gsi1pk, self.gsi1sk, self.gsi2pk, self.gsi2sk) = (None, None, None, None);
        }
    }
}

/// What a seller route needs to do to a shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Edit the shop profile: owners, and managers of the shop.
    ManageShop,
    /// Products and stock: owners, and managers or staff of the shop.
    ManageCatalog,
    /// Members of the organisation: owners.
    ManageMembers,
    /// The shop's orders and vouchers: owners, and managers or staff of the shop.
    FulfilOrders,
    /// The shop's balance, ledger and disputes: owners, and managers of the shop.
    ViewFinances,
    /// Payouts of the shop's balance: owners only.
    RequestPayouts,
}

/// The caller's standing in a shop's organisation, after [`authorize_shop`].
#[derive(Debug, Clone)]
pub struct ShopAccess {
    pub shop: ShopRecord,
    /// `None` for an admin acting without membership.
    pub member: Option<MemberRecord>,
}

/// Loads the shop and checks the caller may do `cap` to it. A caller with no membership in
/// the shop's organisation gets 404 (the shop's back office does not exist for them); a member
/// whose role or scope is too narrow gets 403.
pub async fn authorize_shop(
    db: &Db,
    caller: &AuthUser,
    shop_id: &str,
    cap: Capability,
) -> Result<ShopAccess, ApiError> {
    let not_found = || ApiError::NotFound("no shop with this id in your organisations".into());
    let shop: ShopRecord = db
        .get(keys::shop_profile(shop_id))
        .await?
        .ok_or_else(not_found)?;
    if caller.user.has_role(Role::Admin) {
        return Ok(ShopAccess { shop, member: None });
    }
    let member: MemberRecord = db
        .get(keys::org_member(&shop.org_id, caller.id()))
        .await?
        .ok_or_else(not_found)?;
    check_member(&member, shop_id, cap)?;
    Ok(ShopAccess {
        shop,
        member: Some(member),
    })
}

/// The role/scope rule, pure.
pub fn check_member(member: &MemberRecord, shop_id: &str, cap: Capability) -> Result<(), ApiError> {
    let allowed = match (member.role, cap) {
        (MemberRole::Owner, _) => true,
        (_, Capability::ManageMembers | Capability::RequestPayouts) => false,
        (MemberRole::Manager, _) => member.covers(shop_id),
        (MemberRole::Staff, Capability::ManageCatalog | Capability::FulfilOrders) => {
            member.covers(shop_id)
        }
        (MemberRole::Staff, Capability::ManageShop | Capability::ViewFinances) => false,
    };
    if allowed {
        Ok(())
    } else if !member.covers(shop_id) {
        Err(ApiError::Forbidden(
            "your role in this organisation does not cover this shop".into(),
        ))
    } else {
        Err(ApiError::Forbidden(
            "your role in this organisation does not allow this".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_scopes_decide_what_a_member_may_do() {
        let owner = MemberRecord::new("o", "u1", "a@b.co", MemberRole::Owner, vec!["x".into()]);
        assert!(owner.shop_ids.is_empty());
        let manager =
            MemberRecord::new("o", "u2", "b@b.co", MemberRole::Manager, vec!["s1".into()]);
        let staff = MemberRecord::new("o", "u3", "c@b.co", MemberRole::Staff, vec!["s1".into()]);
        for cap in [
            Capability::ManageShop,
            Capability::ManageCatalog,
            Capability::ManageMembers,
        ] {
            assert!(check_member(&owner, "any", cap).is_ok());
        }
        assert!(check_member(&manager, "s1", Capability::ManageShop).is_ok());
        assert!(check_member(&manager, "s2", Capability::ManageCatalog).is_err());
        assert!(check_member(&manager, "s1", Capability::ManageMembers).is_err());
        assert!(check_member(&staff, "s1", Capability::ManageCatalog).is_ok());
        assert!(check_member(&staff, "s1", Capability::ManageShop).is_err());
        assert!(check_member(&staff, "s2", Capability::ManageCatalog).is_err());
    }
}
