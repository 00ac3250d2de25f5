//! Request and response bodies of the organisation and shop routes, with their validation.

use serde::{Deserialize, Serialize};
use shared::catalog::{
    GeoPoint, MemberRecord, MemberRole, OpeningHours, ShopAddress, ShopRecord, ShopStatus,
};
use shared::error::FieldError;
use shared::invitations::{InvitationRecord, InvitationStatus};
use shared::validate::{self, Errors, Validate};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    #[schema(
        example = "Saigon Threads",
        min_length = 2,
        max_length = 100,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub name: String,
    #[schema(
        max_length = 200,
        pattern = r"^(?:[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?)?$"
    )]
    pub legal_name: Option<String>,
    #[schema(
        max_length = 40,
        pattern = r"^(?:[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?)?$"
    )]
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
    #[schema(
        example = "alice@example.com",
        max_length = 254,
        pattern = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}){0,2}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?\.){1,3}[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?$"
    )]
    pub email: String,
    pub role: MemberRole,
    /// Shops a manager or staff member works on (at least one for them; ignored for owners).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub shop_ids: Vec<String>,
    /// Warehouses a manager or staff member operates (inventory, transfers); optional, ignored
    /// for owners (who operate every warehouse).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub warehouse_ids: Vec<String>,
}

impl Validate for AddMemberRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        e.check(validate::email("email", &mut self.email));
        e.check(scope("shop_ids", self.role, &mut self.shop_ids));
        e.check(warehouse_scope(self.role, &mut self.warehouse_ids));
        e.finish()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    pub role: MemberRole,
    /// Shops a manager or staff member works on (at least one for them; ignored for owners).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub shop_ids: Vec<String>,
    /// Warehouses a manager or staff member operates; optional (default none), ignored for
    /// owners.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub warehouse_ids: Vec<String>,
}

impl Validate for UpdateMemberRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        e.check(scope("shop_ids", self.role, &mut self.shop_ids));
        e.check(warehouse_scope(self.role, &mut self.warehouse_ids));
        e.finish()
    }
}

/// Warehouses are optional for every role; owners' are dropped (they operate all of them).
fn warehouse_scope(role: MemberRole, warehouse_ids: &mut Vec<String>) -> Result<(), FieldError> {
    if role == MemberRole::Owner {
        warehouse_ids.clear();
    }
    warehouse_ids.sort();
    warehouse_ids.dedup();
    if warehouse_ids.len() > 50 {
        return Err(FieldError::new("warehouse_ids", "at most 50 warehouses"));
    }
    Ok(())
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
    #[schema(
        example = "Threads Hanoi",
        min_length = 2,
        max_length = 100,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub name: String,
    #[serde(default)]
    #[schema(
        max_length = 2000,
        pattern = r"^(?:[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?)?$"
    )]
    pub description: String,
    /// An http(s) URL.
    #[schema(max_length = 500, pattern = "^https?://")]
    pub logo_url: Option<String>,
    pub address: ShopAddress,
    #[serde(default)]
    pub opening_hours: Vec<OpeningHours>,
}

/// A coordinate rounded to 7 decimal places (about 1 cm): DynamoDB numbers stop at magnitude
/// 1e-130, so an unrounded `5e-303` failed the write with a 500. `+ 0.0` turns `-0.0` into 0.
fn to_centimetres(degrees: f64) -> f64 {
    (degrees * 1e7).round() / 1e7 + 0.0
}

/// `HH:MM`, 00:00 to 23:59, digits only (`u8::from_str` alone would take `+1:+5`).
fn hhmm(v: &str) -> bool {
    let b = v.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    b.len() == 5
        && b[2] == b':'
        && digits(&b[..2])
        && digits(&b[3..])
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
            && (!(url.starts_with("https://") || url.starts_with("http://"))
                || url.chars().count() > 500)
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
        self.address.location = GeoPoint {
            lat: to_centimetres(lat),
            lng: to_centimetres(lng),
        };
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
    #[schema(
        max_length = 500,
        pattern = r"^(?:[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?)?$"
    )]
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
    /// Warehouses a manager or staff member operates (empty for owners: all warehouses).
    pub warehouse_ids: Vec<String>,
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
            warehouse_ids: m.warehouse_ids.clone(),
            added_at: m.added_at.clone(),
        }
    }
}

/// An invitation to join the organisation, to an address that may have no account yet.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    /// The address to invite; the invitation is accepted only by the account with this address.
    #[schema(
        example = "alice@example.com",
        max_length = 254,
        pattern = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}){0,2}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?\.){1,3}[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?$"
    )]
    pub email: String,
    pub role: MemberRole,
    /// Shops a manager or staff member will work on (at least one for them; ignored for owners).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub shop_ids: Vec<String>,
    /// Warehouses a manager or staff member will operate; optional, ignored for owners.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub warehouse_ids: Vec<String>,
}

impl Validate for CreateInvitationRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        e.check(validate::email("email", &mut self.email));
        e.check(scope("shop_ids", self.role, &mut self.shop_ids));
        e.check(warehouse_scope(self.role, &mut self.warehouse_ids));
        e.finish()
    }
}

/// An invitation as its organisation's owners see it (never its token).
#[derive(Debug, Serialize, ToSchema)]
pub struct Invitation {
    pub id: String,
    pub org_id: String,
    /// The invited address (lower-cased).
    pub email: String,
    pub role: MemberRole,
    pub shop_ids: Vec<String>,
    pub warehouse_ids: Vec<String>,
    /// `pending`, `accepted`, `revoked`, or `expired` (pending past `expires_at`).
    pub status: InvitationStatus,
    /// RFC 3339; 7 days after it was sent.
    pub expires_at: String,
    pub invited_by: String,
    pub created_at: String,
    /// The account that accepted it.
    pub accepted_by: Option<String>,
    /// When it was accepted or revoked.
    pub finished_at: Option<String>,
}

impl Invitation {
    pub fn at(inv: &InvitationRecord, now: i64) -> Self {
        Self {
            id: inv.id.clone(),
            org_id: inv.org_id.clone(),
            email: inv.email.clone(),
            role: inv.role,
            shop_ids: inv.shop_ids.clone(),
            warehouse_ids: inv.warehouse_ids.clone(),
            status: inv.status_at(now),
            expires_at: shared::format_epoch(inv.expires_at).unwrap_or_default(),
            invited_by: inv.invited_by.clone(),
            created_at: inv.created_at.clone(),
            accepted_by: inv.accepted_by.clone(),
            finished_at: inv.finished_at.clone(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The token from the invitation e-mail.
    #[schema(min_length = 1, max_length = 200, pattern = "^[A-Za-z0-9_-]+$")]
    pub token: String,
}

impl Validate for AcceptInvitationRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let valid = !self.token.is_empty()
            && self.token.len() <= 200
            && self
                .token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(())
        } else {
            Err(vec![FieldError::new(
                "token",
                "must be the invitation token from the e-mail",
            )])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop(lat: f64, lng: f64, opens: &str) -> ShopInput {
        ShopInput {
            name: "Threads Hanoi".into(),
            description: String::new(),
            logo_url: None,
            address: ShopAddress {
                line1: "1 Hang Gai".into(),
                city: "Hanoi".into(),
                country: "vn".into(),
                location: GeoPoint { lat, lng },
            },
            opening_hours: vec![OpeningHours {
                weekday: 1,
                opens: opens.into(),
                closes: "21:30".into(),
            }],
        }
    }

    #[test]
    fn coordinates_are_rounded_to_what_dynamodb_stores() {
        let mut s = shop(5.764529673486609e-303, -1e-200, "08:00");
        s.validate().unwrap();
        assert_eq!(s.address.location, GeoPoint { lat: 0.0, lng: 0.0 });
        assert!(s.address.location.lng.is_sign_positive());
        let mut s = shop(21.028_512_345_67, 105.854_2, "08:00");
        s.validate().unwrap();
        assert_eq!(s.address.location.lat, 21.028_512_3);
    }

    #[test]
    fn opening_hours_are_two_digit_hours_and_minutes() {
        assert!(shop(21.0, 105.0, "08:00").validate().is_ok());
        for bad in ["+1:00", "8:00", "24:00", "08:60", "08:+5", "0800"] {
            let errors = shop(21.0, 105.0, bad).validate().unwrap_err();
            assert_eq!(errors[0].field, "opening_hours[0]", "{bad}");
        }
    }
}
