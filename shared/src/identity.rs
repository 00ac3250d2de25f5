//! The user record as stored in the table, shared by the auth and users route groups and by
//! the authentication extractor.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Role;
use crate::store::{Db, StoreError, keys};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Disabled,
}

/// `USER#<id>/PROFILE`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
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
    pub email: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub password_hash: String,
    pub roles: Vec<Role>,
    pub status: UserStatus,
    pub email_verified: bool,
    /// Bumped on password change/reset and on disable; tokens carrying an older value die.
    pub session_version: u64,
    /// Absent (not NULL) until the first address: `if_not_exists` relies on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_address_id: Option<String>,
    #[serde(default)]
    pub address_count: u32,
    pub created_at: String,
    pub updated_at: String,
}

pub const USER_ENTITY: &str = "user";

impl UserRecord {
    pub fn new(
        id: String,
        email: String,
        name: String,
        password_hash: String,
        roles: Vec<Role>,
    ) -> Self {
        let now = crate::now_rfc3339();
        let (pk, sk) = keys::user_profile(&id);
        Self {
            pk,
            sk,
            gsi1pk: keys::GSI1_ALL_USERS.into(),
            gsi1sk: keys::gsi1_user_sort(&now, &id),
            entity_type: USER_ENTITY.into(),
            id,
            email,
            name,
            phone: None,
            password_hash,
            roles,
            status: UserStatus::Active,
            email_verified: false,
            session_version: 0,
            default_address_id: None,
            address_count: 0,
            created_at: now.clone(),
            updated_at: now,
        }
    }

    pub fn is_active(&self) -> bool {
        self.status == UserStatus::Active
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// The e-mail uniqueness guard, `EMAIL#<email>/USER`, pointing at the user that owns it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailGuard {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub user_id: String,
}

impl EmailGuard {
    pub fn new(email: &str, user_id: &str) -> Self {
        let (pk, sk) = keys::email_guard(email);
        Self {
            pk,
            sk,
            entity_type: "email_guard".into(),
            user_id: user_id.into(),
        }
    }
}

pub async fn load_user(db: &Db, user_id: &str) -> Result<Option<UserRecord>, StoreError> {
    db.get(keys::user_profile(user_id)).await
}

pub async fn find_user_by_email(db: &Db, email: &str) -> Result<Option<UserRecord>, StoreError> {
    match db.get::<EmailGuard>(keys::email_guard(email)).await? {
        Some(guard) => load_user(db, &guard.user_id).await,
        None => Ok(None),
    }
}

/// A user as the API shows it (never the password hash or internal counters).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub roles: Vec<Role>,
    pub status: UserStatus,
    pub email_verified: bool,
    pub default_address_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        Self {
            id: u.id.clone(),
            email: u.email.clone(),
            name: u.name.clone(),
            phone: u.phone.clone(),
            roles: u.roles.clone(),
            status: u.status,
            email_verified: u.email_verified,
            default_address_id: u.default_address_id.clone(),
            created_at: u.created_at.clone(),
            updated_at: u.updated_at.clone(),
        }
    }
}
