//! Request and response bodies of the users routes, with their validation.

use serde::{Deserialize, Serialize};
use shared::auth::Role;
use shared::error::FieldError;
use shared::identity::UserStatus;
use shared::validate::{self, Errors, Validate};
use utoipa::ToSchema;

/// Partial profile update: only the fields present change (at least one of them).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct UpdateProfileRequest {
    #[schema(
        nullable = false,
        example = "Alice Nguyen",
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub name: Option<String>,
    /// E.164 phone number; `null` or "" clears it.
    #[schema(example = "+84901234567", pattern = r"^(?:\+?[0-9]{8,15})?$")]
    #[serde(default, deserialize_with = "double_option")]
    pub phone: Option<Option<String>>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn double_option<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl Validate for UpdateProfileRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        if self.name.is_none() && self.phone.is_none() {
            e.push("body", "give at least one of name, phone");
        }
        if let Some(name) = &mut self.name {
            e.check(validate::text("name", name, 1, 100));
        }
        if let Some(phone) = &mut self.phone {
            match phone {
                Some(p) if p.trim().is_empty() => *phone = None,
                Some(p) => e.check(validate::phone("phone", p)),
                None => {}
            }
        }
        e.finish()
    }
}

/// A postal address as the client sends it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    /// Free label such as "Home" or "Office".
    #[schema(
        example = "Home",
        max_length = 40,
        pattern = r"^(?:[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?)?$"
    )]
    pub label: Option<String>,
    #[schema(
        example = "Alice Nguyen",
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub recipient_name: String,
    /// `+` and 8–15 digits.
    #[schema(example = "+84901234567", pattern = r"^\+?[0-9]{8,15}$")]
    pub phone: String,
    #[schema(
        example = "12 Ly Thuong Kiet",
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub line1: String,
    #[schema(
        max_length = 200,
        pattern = r"^(?:[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?)?$"
    )]
    pub line2: Option<String>,
    #[schema(
        example = "Ward 7",
        max_length = 100,
        pattern = r"^(?:[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?)?$"
    )]
    pub ward: Option<String>,
    #[schema(
        example = "District 10",
        max_length = 100,
        pattern = r"^(?:[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?)?$"
    )]
    pub district: Option<String>,
    #[schema(
        example = "Ho Chi Minh City",
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub city: String,
    #[schema(
        max_length = 100,
        pattern = r"^(?:[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?)?$"
    )]
    pub region: Option<String>,
    #[schema(
        max_length = 20,
        pattern = r"^(?:[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?)?$"
    )]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "VN", pattern = "^[A-Za-z]{2}$")]
    pub country: String,
}

impl Validate for AddressInput {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::default();
        e.check(validate::optional_text("label", &mut self.label, 40));
        e.check(validate::text(
            "recipient_name",
            &mut self.recipient_name,
            1,
            100,
        ));
        e.check(validate::phone("phone", &mut self.phone));
        e.check(validate::text("line1", &mut self.line1, 1, 200));
        e.check(validate::optional_text("line2", &mut self.line2, 200));
        e.check(validate::optional_text("ward", &mut self.ward, 100));
        e.check(validate::optional_text("district", &mut self.district, 100));
        e.check(validate::text("city", &mut self.city, 1, 100));
        e.check(validate::optional_text("region", &mut self.region, 100));
        e.check(validate::optional_text(
            "postal_code",
            &mut self.postal_code,
            20,
        ));
        e.check(validate::country("country", &mut self.country));
        e.finish()
    }
}

/// An address as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Address {
    pub id: String,
    pub label: Option<String>,
    pub recipient_name: String,
    pub phone: String,
    pub line1: String,
    pub line2: Option<String>,
    pub ward: Option<String>,
    pub district: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: String,
    /// Where the address lies (province, ward, point), placed from `city`/`region` and `ward`
    /// when saved; absent outside Vietnam, where we do not deliver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<shared::geocode::AddressPlace>,
    /// Exactly one address of a user is the default (the first one, until another is chosen).
    pub is_default: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRolesRequest {
    /// The complete new set of roles (not empty, no role twice).
    #[schema(schema_with = roles_schema)]
    pub roles: Vec<Role>,
}

/// The documented shape of `SetRolesRequest::roles` (utoipa has no `uniqueItems` attribute):
/// what `validate` checks.
fn roles_schema() -> utoipa::openapi::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .description(Some(
            "The complete new set of roles (not empty, no role twice).",
        ))
        .items(utoipa::openapi::Ref::from_schema_name("Role"))
        .min_items(Some(1))
        .unique_items(true)
        .build()
}

impl Validate for SetRolesRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        if self.roles.is_empty() {
            return Err(vec![FieldError::new(
                "roles",
                "must contain at least one role",
            )]);
        }
        let before = self.roles.len();
        self.roles.sort();
        self.roles.dedup();
        if self.roles.len() != before {
            return Err(vec![FieldError::new("roles", "must not repeat a role")]);
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStatusRequest {
    pub status: UserStatus,
    /// Why the account was disabled (kept for the audit trail).
    #[schema(
        max_length = 500,
        pattern = r"^(?:[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?)?$"
    )]
    pub reason: Option<String>,
}

impl Validate for SetStatusRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        validate::optional_text("reason", &mut self.reason, 500).map_err(|e| vec![e])
    }
}
