//! Request and response bodies of the organisation and shop routes, with their validation.

use serde::{Deserialize, Serialize};
use shared::catalog::{
    GeoPoint, MemberRecord, MemberRole, OpeningHours, ShopAddress, ShopRecord, ShopStatus,
};
use shared::error::FieldError;
use shared::validate::{self, Errors, Validate};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    #[schema(example = "Saigon Threads")]
    pub name: String,
    pub legal_name: Option<String>,
    pub tax_id: Option<String>,
}

impl Validate for CreateOrgRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        e.check(validate::text("name", &mut self.name, 2, 100));
        e.check(validate::optional_text(
            "legal_name",
            &mut self.legal_name,
            200,
        ));
        e.check(validate::optional_text("tax_id", &mut self.tax_id, 40));
        e.finish()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub legal_name: Option<String>,
    pub tax_id: Option<String>,
    pub created_at: String,
    /// The caller's role in it.
    pub your_role: Option<MemberRole>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    /// E-mail of an existing account.
    pub email: String,
    pub role: MemberRole,
    /// Shops a manager or staff member works on (ignored for owners).
    #[serde(default)]
    pub shop_ids: Vec<String>,
}

impl Validate for AddMemberRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        e.check(validate::email("email", &mut self.email));
        e.check(scope("shop_ids", self.role, &mut self.shop_ids));
        e.finish()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    pub role: MemberRole,
    #[serde(default)]
    pub shop_ids: Vec<String>,
}

impl Validate for UpdateMemberRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        scope("shop_ids", self.role, &mut self.shop_ids).map_err(|e| vec![e])
    }
}

fn scope(field: &str, role: MemberRole, shop_ids: &mut Vec<String>) -> Result<(), FieldError> {
    shop_ids.sort();
    shop_ids.dedup();
    if role != MemberRole::Owner && shop_ids.is_empty() {
        return Err(FieldError::new(
            field,
            "name at least one shop for a manager or staff member",
        ));
    }
    if shop_ids.len() > 50 {
        return Err(FieldError::new(field, "at most 50 shops"));
    }
    Ok(())
}

/// Shop profile as sent by the seller (create and full update).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShopInput {
    #[schema(example = "Threads Hanoi")]
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub logo_url: Option<String>,
    pub address: ShopAddress,
    #[serde(default)]
    pub opening_hours: Vec<OpeningHours>,
}

fn hhmm(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 5
        && b[2] == b':'
        && v[..2].parse::<u8>().is_ok_and(|h| h < 24)
        && v[3..].parse::<u8>().is_ok_and(|m| m < 60)
}

impl Validate for ShopInput {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        e.check(validate::text("name", &mut self.name, 2, 100));
        e.check(validate::text(
            "description",
            &mut self.description,
            0,
            2000,
        ));
        if let Some(url) = &self.logo_url
            && (!(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 500)
        {
            e.push(
                "logo_url",
                "must be an http(s) URL of at most 500 characters",
            );
        }
        e.check(validate::text(
            "address.line1",
            &mut self.address.line1,
            1,
            200,
        ));
        e.check(validate::text(
            "address.city",
            &mut self.address.city,
            1,
            100,
        ));
        e.check(validate::country(
            "address.country",
            &mut self.address.country,
        ));
        let GeoPoint { lat, lng } = self.address.location;
        if !(-90.0..=90.0).contains(&lat) || !lat.is_finite() {
            e.push("address.location.lat", "must be between -90 and 90");
        }
        if !(-180.0..=180.0).contains(&lng) || !lng.is_finite() {
            e.push("address.location.lng", "must be between -180 and 180");
        }
        for (i, h) in self.opening_hours.iter().enumerate() {
            if !(1..=7).contains(&h.weekday) {
                e.push(
                    &format!("opening_hours[{i}].weekday"),
                    "must be 1 (Monday) to 7 (Sunday)",
                );
            }
            if !hhmm(&h.opens) || !hhmm(&h.closes) || h.opens >= h.closes {
                e.push(
                    &format!("opening_hours[{i}]"),
                    "opens and closes are HH:MM with opens before closes",
                );
            }
        }
        e.finish()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Shop {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub description: String,
    pub logo_url: Option<String>,
    pub address: ShopAddress,
    pub opening_hours: Vec<OpeningHours>,
    pub status: ShopStatus,
    pub created_at: String,
    pub updated_at: String,
    /// Kilometres from the searched point (location search only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
}

impl From<&ShopRecord> for Shop {
    fn from(s: &ShopRecord) -> Self {
        Self {
            id: s.id.clone(),
            org_id: s.org_id.clone(),
            name: s.name.clone(),
            description: s.description.clone(),
            logo_url: s.logo_url.clone(),
            address: s.address.clone(),
            opening_hours: s.opening_hours.clone(),
            status: s.status,
            created_at: s.created_at.clone(),
            updated_at: s.updated_at.clone(),
            distance_km: None,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetShopStatusRequest {
    pub status: ShopStatus,
    pub reason: Option<String>,
}

impl Validate for SetShopStatusRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        validate::optional_text("reason", &mut self.reason, 500).map_err(|e| vec![e])
    }
}

/// A member of an organisation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Member {
    pub org_id: String,
    pub user_id: String,
    pub email: String,
    pub role: MemberRole,
    /// Shops of a manager or staff member (empty for owners: all shops).
    pub shop_ids: Vec<String>,
    pub added_at: String,
}

/// An organisation the caller belongs to, with the caller's role in it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Membership {
    pub org_id: String,
    /// The organisation's name (empty if it was removed meanwhile).
    pub org_name: String,
    pub role: MemberRole,
    /// Shops of a manager or staff member (empty for owners: all shops).
    pub shop_ids: Vec<String>,
    pub added_at: String,
}

impl From<&MemberRecord> for Member {
    fn from(m: &MemberRecord) -> Self {
        Self {
            org_id: m.org_id.clone(),
            user_id: m.user_id.clone(),
            email: m.email.clone(),
            role: m.role,
            shop_ids: m.shop_ids.clone(),
            added_at: m.added_at.clone(),
        }
    }
}
