//! Demo data for `make dev`: one account per role with a known password (local emulator
//! only — never run against a deployed stack). Idempotent: existing accounts are left alone.

use shared::auth::{self, Role};
use shared::identity::{EmailGuard, UserRecord};
use shared::store::tx;
use shared::{AppState, store::StoreError};

/// Password of every demo account.
pub const DEMO_PASSWORD: &str = "demo-pass-2026";

pub const DEMO_USERS: [(&str, &str, &[Role]); 4] = [
    ("admin@demo.local", "Ada Admin", &[Role::Buyer, Role::Admin]),
    (
        "seller@demo.local",
        "Sam Seller",
        &[Role::Buyer, Role::Seller],
    ),
    ("buyer@demo.local", "Bao Buyer", &[Role::Buyer]),
    (
        "shipper@demo.local",
        "Shay Shipper",
        &[Role::Buyer, Role::Shipper],
    ),
];

/// Creates the demo accounts that do not exist yet; returns how many were created.
pub async fn seed(state: &AppState) -> anyhow::Result<usize> {
    let hash = tokio::task::spawn_blocking(|| auth::hash_password(DEMO_PASSWORD)).await?;
    let mut created = 0;
    for (email, name, roles) in DEMO_USERS {
        let mut user = UserRecord::new(
            ulid::Ulid::new().to_string(),
            email.into(),
            name.into(),
            hash.clone(),
            roles.to_vec(),
        );
        user.email_verified = true;
        let table = &state.db.table;
        match state
            .db
            .transact(vec![
                tx::put_new(table, &EmailGuard::new(email, &user.id))?,
                tx::put_new(table, &user)?,
            ])
            .await
        {
            Ok(()) => created += 1,
            Err(StoreError::TransactionCanceled(_)) => {} // already seeded
            Err(e) => return Err(e.into()),
        }
    }
    Ok(created)
}
