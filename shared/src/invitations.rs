//! Invitations to an organisation by e-mail: the stored invitation, its single-use token (only
//! a keyed hash of it is stored), the acceptance rule, and the acceptance writes that make the
//! membership in the same transaction as the invitation's conditional `pending → accepted`.
//!
//! Created, listed and revoked by `api-shops`; accepted there (`POST /api/v1/invitations/accept`)
//! and by `api-auth` on register and login (`invitation_token`).

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::JwtKeys;
use crate::catalog::{MemberRecord, MemberRole};
use crate::error::ApiError;
use crate::identity::UserRecord;
use crate::store::{Db, StoreError, keys, n, s, tx};

/// An invitation can be accepted for 7 days.
pub const INVITATION_TTL_SECS: i64 = 7 * 24 * 3600;
/// The scope of the token's HMAC (see [`JwtKeys::hash_code`]).
const TOKEN_SCOPE: &str = "org-invitation";

/// Where an invitation stands. `expired` is never stored: it is a pending invitation past its
/// `expires_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

/// `INVITES#<org>/INVITE#<id>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvitationRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub id: String,
    pub org_id: String,
    /// Lower-cased.
    pub email: String,
    pub role: MemberRole,
    pub shop_ids: Vec<String>,
    #[serde(default)]
    pub warehouse_ids: Vec<String>,
    /// HMAC-SHA-256 of the e-mailed token ([`token_hash`]).
    pub token_hash: String,
    /// `pending`, `accepted` or `revoked`.
    pub status: InvitationStatus,
    /// Unix seconds; also the table's TTL attribute, so DynamoDB removes the invitation (with
    /// its guard and token pointer) some time after it expired.
    pub expires_at: i64,
    pub invited_by: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

impl InvitationRecord {
    /// A pending invitation with a fresh token; returns it with the token to e-mail.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        keys: &JwtKeys,
        org_id: &str,
        email: &str,
        role: MemberRole,
        shop_ids: Vec<String>,
        warehouse_ids: Vec<String>,
        invited_by: &str,
        now: i64,
    ) -> (Self, String) {
        let id = ulid::Ulid::new().to_string();
        let token = crate::auth::random_token();
        let (pk, sk) = keys::invitation(org_id, &id);
        let owner = role == MemberRole::Owner;
        let expires_at = now + INVITATION_TTL_SECS;
        let record = Self {
            pk,
            sk,
            entity_type: "org_invitation".into(),
            id,
            org_id: org_id.into(),
            email: email.to_lowercase(),
            role,
            shop_ids: if owner { Vec::new() } else { shop_ids },
            warehouse_ids: if owner { Vec::new() } else { warehouse_ids },
            token_hash: token_hash(keys, &token),
            status: InvitationStatus::Pending,
            expires_at,
            invited_by: invited_by.into(),
            created_at: crate::now_rfc3339(),
            accepted_by: None,
            finished_at: None,
        };
        (record, token)
    }

    /// The status as of `now` (a pending invitation past `expires_at` is expired).
    pub fn status_at(&self, now: i64) -> InvitationStatus {
        match self.status {
            InvitationStatus::Pending if self.expires_at <= now => InvitationStatus::Expired,
            other => other,
        }
    }

    /// The guard that keeps one live invitation per address and organisation.
    pub fn guard(&self) -> InvitationGuard {
        let (pk, sk) = keys::invitation_email_guard(&self.org_id, &self.email);
        InvitationGuard {
            pk,
            sk,
            entity_type: "org_invitation_guard".into(),
            invitation_id: self.id.clone(),
            expires_at: self.expires_at,
        }
    }

    /// The pointer from the token's hash to this invitation.
    pub fn pointer(&self) -> InvitationTokenPointer {
        let (pk, sk) = keys::invitation_token(&self.token_hash);
        InvitationTokenPointer {
            pk,
            sk,
            entity_type: "org_invitation_token".into(),
            org_id: self.org_id.clone(),
            invitation_id: self.id.clone(),
            expires_at: self.expires_at,
        }
    }
}

/// `INVITES#<org>/EMAIL#<email>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvitationGuard {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub invitation_id: String,
    /// The guarded invitation's expiry: after it, a new invitation may replace the guard.
    pub expires_at: i64,
}

/// `INVITETOKEN#<hash>/TOKEN`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvitationTokenPointer {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub org_id: String,
    pub invitation_id: String,
    /// The invitation's (TTL).
    pub expires_at: i64,
}

/// Keyed hash of an invitation token: the table holds only this, and without the server's
/// secret a stolen table cannot be turned into working tokens.
pub fn token_hash(keys: &JwtKeys, token: &str) -> String {
    keys.hash_code(TOKEN_SCOPE, token)
}

/// Why an invitation cannot be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No invitation has this token.
    Unknown,
    /// The account's e-mail is not the invited one.
    WrongEmail,
    Expired,
    Revoked,
    /// Accepted before: a token works once.
    Used,
    /// The account is a member of the organisation already.
    AlreadyMember,
}

impl Refusal {
    /// The problem for a refusal; `field` names the request field that carried the token
    /// (`token`, or `invitation_token` on register and login). Unknown → 422 naming the field;
    /// another account's invitation → 403; expired, revoked, used or already a member → 409.
    pub fn error(self, field: &str) -> ApiError {
        match self {
            Self::Unknown => ApiError::field(field, "is not a valid invitation token"),
            Self::WrongEmail => ApiError::Forbidden(format!(
                "{field}: this invitation is for another e-mail address; an invitation is accepted only by the account with the invited address"
            )),
            Self::Expired => ApiError::Conflict(format!(
                "{field}: this invitation has expired (invitations are valid for 7 days); ask the organisation for a new one"
            )),
            Self::Revoked => ApiError::Conflict(format!(
                "{field}: this invitation was revoked by the organisation"
            )),
            Self::Used => ApiError::Conflict(format!(
                "{field}: this invitation was already accepted; an invitation works once"
            )),
            Self::AlreadyMember => ApiError::Conflict(format!(
                "{field}: you are already a member of this organisation"
            )),
        }
    }
}

/// The acceptance rule, pure: the invitation must be pending and unexpired at `now`, and
/// `email` (the accepting account's) must be the invited address, case-insensitively.
pub fn check_acceptable(inv: &InvitationRecord, email: &str, now: i64) -> Result<(), Refusal> {
    match inv.status_at(now) {
        InvitationStatus::Accepted => return Err(Refusal::Used),
        InvitationStatus::Revoked => return Err(Refusal::Revoked),
        InvitationStatus::Expired => return Err(Refusal::Expired),
        InvitationStatus::Pending => {}
    }
    if !inv.email.eq_ignore_ascii_case(email.trim()) {
        return Err(Refusal::WrongEmail);
    }
    Ok(())
}

/// The invitation a token names, if any.
pub async fn find_by_token(
    db: &Db,
    keys: &JwtKeys,
    token: &str,
) -> Result<Option<InvitationRecord>, StoreError> {
    let pointer: Option<InvitationTokenPointer> = db
        .get(keys::invitation_token(&token_hash(keys, token)))
        .await?;
    match pointer {
        Some(p) => db.get(keys::invitation(&p.org_id, &p.invitation_id)).await,
        None => Ok(None),
    }
}

/// A checked acceptance: the writes to add to a transaction, and the membership they make.
#[derive(Debug)]
pub struct Acceptance {
    pub invitation: InvitationRecord,
    pub member: MemberRecord,
    now: i64,
    field: &'static str,
}

/// Number of actions [`Acceptance::actions`] returns.
pub const ACCEPTANCE_ACTIONS: usize = 3;

impl Acceptance {
    /// Loads the token's invitation and checks the rule for the account (`user_id`, `email`).
    /// Nothing is written: add [`Acceptance::actions`] to the transaction.
    pub async fn prepare(
        db: &Db,
        keys: &JwtKeys,
        token: &str,
        user_id: &str,
        email: &str,
        field: &'static str,
    ) -> Result<Self, ApiError> {
        let invitation = find_by_token(db, keys, token)
            .await?
            .ok_or_else(|| Refusal::Unknown.error(field))?;
        let now = crate::now_epoch();
        check_acceptable(&invitation, email, now).map_err(|r| r.error(field))?;
        let mut member = MemberRecord::new(
            &invitation.org_id,
            user_id,
            &email.trim().to_lowercase(),
            invitation.role,
            invitation.shop_ids.clone(),
        );
        member.warehouse_ids = invitation.warehouse_ids.clone();
        Ok(Self {
            invitation,
            member,
            now,
            field,
        })
    }

    /// The invitation's `pending → accepted` (conditional on its status and expiry, so a token
    /// is used at most once, however many requests race), the new membership (conditional on
    /// not being a member yet), and the address guard's release.
    pub fn actions(&self, table: &str) -> Result<Vec<TransactWriteItem>, StoreError> {
        let inv = &self.invitation;
        Ok(vec![
            tx::update(
                table,
                tx::UpdateSpec {
                    key: (inv.pk.clone(), inv.sk.clone()),
                    update: "SET #status = :accepted, accepted_by = :user, finished_at = :at",
                    condition: Some("#status = :pending AND expires_at > :now"),
                    names: &[("#status", "status")],
                    values: vec![
                        (":accepted", s("accepted")),
                        (":pending", s("pending")),
                        (":user", s(self.member.user_id.clone())),
                        (":at", s(crate::now_rfc3339())),
                        (":now", n(self.now)),
                    ],
                },
            )?,
            tx::put_new(table, &self.member)?,
            tx::delete(
                table,
                keys::invitation_email_guard(&inv.org_id, &inv.email),
                Some("attribute_not_exists(PK) OR invitation_id = :id"),
                vec![(":id", s(inv.id.clone()))],
            )?,
        ])
    }

    /// The problem for a transaction that failed, the acceptance's actions starting at
    /// `offset`. `None`: the failure was not the acceptance's.
    pub async fn explain(
        &self,
        db: &Db,
        err: &StoreError,
        offset: usize,
    ) -> Result<Option<ApiError>, ApiError> {
        match err.failed_condition_index().map(|i| i.checked_sub(offset)) {
            Some(Some(0)) => {
                // the invitation changed since it was read: say what it is now
                let now: Option<InvitationRecord> = db
                    .get((self.invitation.pk.clone(), self.invitation.sk.clone()))
                    .await?;
                let refusal = now
                    .map(|inv| {
                        check_acceptable(&inv, &self.member.email, crate::now_epoch())
                            .err()
                            .unwrap_or(Refusal::Used)
                    })
                    .unwrap_or(Refusal::Unknown);
                Ok(Some(refusal.error(self.field)))
            }
            Some(Some(1)) => Ok(Some(Refusal::AlreadyMember.error(self.field))),
            Some(Some(2)) => Ok(Some(ApiError::Conflict(format!(
                "{}: the invitation changed concurrently; retry",
                self.field
            )))),
            _ => Ok(None),
        }
    }
}

/// Accepts an invitation for a signed-in account on its own: the membership and the
/// invitation's change in one transaction. A transaction that lost a race with another on the
/// same items is retried (it then reads the invitation as accepted and answers 409).
pub async fn accept(
    db: &Db,
    keys: &JwtKeys,
    token: &str,
    user: &UserRecord,
    field: &'static str,
) -> Result<MemberRecord, ApiError> {
    let mut attempt = 0u64;
    loop {
        let acceptance = Acceptance::prepare(db, keys, token, &user.id, &user.email, field).await?;
        match db.transact(acceptance.actions(&db.table)?).await {
            Ok(()) => {
                tracing::info!(user_id = %user.id, org_id = %acceptance.member.org_id, invitation_id = %acceptance.invitation.id, "invitation accepted");
                return Ok(acceptance.member);
            }
            Err(StoreError::Throttled) if attempt < 5 => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
            }
            Err(e) => {
                return Err(match acceptance.explain(db, &e, 0).await? {
                    Some(problem) => problem,
                    None => e.into(),
                });
            }
        }
    }
}

/// The condition of a new invitation's guard: no live invitation to the address (none, or
/// the guarded one expired).
pub const GUARD_CONDITION: &str = "attribute_not_exists(PK) OR expires_at <= :now";

/// The guard write of a new invitation (see [`GUARD_CONDITION`]).
pub fn put_guard(
    table: &str,
    invitation: &InvitationRecord,
    now: i64,
) -> Result<TransactWriteItem, StoreError> {
    let put = aws_sdk_dynamodb::types::Put::builder()
        .table_name(table)
        .set_item(Some(crate::store::to_item(&invitation.guard())?))
        .condition_expression(GUARD_CONDITION)
        .expression_attribute_values(":now", n(now))
        .build()
        .map_err(|e| StoreError::Other(e.into()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A check that `key` does not exist (the invited address is not a member yet).
pub fn check_absent(table: &str, k: (String, String)) -> Result<TransactWriteItem, StoreError> {
    let c = aws_sdk_dynamodb::types::ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(crate::store::key(k)))
        .condition_expression("attribute_not_exists(PK)")
        .build()
        .map_err(|e| StoreError::Other(e.into()))?;
    Ok(TransactWriteItem::builder().condition_check(c).build())
}

/// The conditional `pending → revoked`.
pub fn revoke_action(
    table: &str,
    invitation: &InvitationRecord,
) -> Result<TransactWriteItem, StoreError> {
    tx::update(
        table,
        tx::UpdateSpec {
            key: (invitation.pk.clone(), invitation.sk.clone()),
            update: "SET #status = :revoked, finished_at = :at",
            condition: Some("#status = :pending"),
            names: &[("#status", "status")],
            values: vec![
                (":revoked", s("revoked")),
                (":pending", s("pending")),
                (":at", s(crate::now_rfc3339())),
            ],
        },
    )
}

/// Deletes the address guard if it still guards `invitation_id`.
pub fn release_guard(
    table: &str,
    invitation: &InvitationRecord,
) -> Result<TransactWriteItem, StoreError> {
    tx::delete(
        table,
        keys::invitation_email_guard(&invitation.org_id, &invitation.email),
        Some("invitation_id = :id"),
        vec![(":id", AttributeValue::S(invitation.id.clone()))],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invitation(keys: &JwtKeys, now: i64) -> (InvitationRecord, String) {
        InvitationRecord::new(
            keys,
            "O1",
            "Invitee@Example.com",
            MemberRole::Staff,
            vec!["S1".into()],
            vec!["W1".into()],
            "U0",
            now,
        )
    }

    #[test]
    fn only_a_keyed_hash_of_the_token_is_stored_and_it_matches_only_that_token() {
        let keys = JwtKeys::new(b"a-test-secret-of-enough-length-0123456789");
        let (inv, token) = invitation(&keys, 1_000);
        assert_eq!(token.len(), 43, "32 random bytes, URL-safe base64");
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        let stored = serde_json::to_string(&inv).unwrap();
        assert!(!stored.contains(&token), "the token itself is never stored");
        assert_eq!(inv.token_hash, token_hash(&keys, &token));
        assert_ne!(
            inv.token_hash,
            crate::auth::sha256_hex(&token),
            "keyed, not bare"
        );
        assert_ne!(inv.token_hash, token_hash(&keys, &format!("{token}x")));
        let other = JwtKeys::new(b"another-secret-of-enough-length-9876543210");
        assert_ne!(inv.token_hash, token_hash(&other, &token));
        let (second, second_token) = invitation(&keys, 1_000);
        assert_ne!(token, second_token);
        assert_ne!(inv.token_hash, second.token_hash);
        assert_eq!(inv.pointer().pk, keys::invitation_token(&inv.token_hash).0);
    }

    #[test]
    fn an_invitation_is_acceptable_for_seven_days_once_by_the_invited_address() {
        let keys = JwtKeys::new(b"a-test-secret-of-enough-length-0123456789");
        let now = 1_000_000;
        let (mut inv, _) = invitation(&keys, now);
        assert_eq!(inv.email, "invitee@example.com");
        assert_eq!(inv.expires_at, now + 7 * 24 * 3600);
        assert_eq!(check_acceptable(&inv, "INVITEE@example.COM", now), Ok(()));
        assert_eq!(
            check_acceptable(&inv, "invitee@example.com", inv.expires_at - 1),
            Ok(())
        );
        assert_eq!(
            check_acceptable(&inv, "invitee@example.com", inv.expires_at),
            Err(Refusal::Expired)
        );
        assert_eq!(inv.status_at(inv.expires_at), InvitationStatus::Expired);
        assert_eq!(
            check_acceptable(&inv, "someone@example.com", now),
            Err(Refusal::WrongEmail)
        );
        inv.status = InvitationStatus::Accepted;
        assert_eq!(
            check_acceptable(&inv, "invitee@example.com", now),
            Err(Refusal::Used)
        );
        assert_eq!(
            inv.status_at(inv.expires_at + 1),
            InvitationStatus::Accepted
        );
        inv.status = InvitationStatus::Revoked;
        assert_eq!(
            check_acceptable(&inv, "invitee@example.com", now),
            Err(Refusal::Revoked)
        );
    }

    #[test]
    fn refusals_name_the_token_field_and_their_rule() {
        assert_eq!(Refusal::Unknown.error("invitation_token").status(), 422);
        assert_eq!(Refusal::WrongEmail.error("token").status(), 403);
        for r in [
            Refusal::Expired,
            Refusal::Revoked,
            Refusal::Used,
            Refusal::AlreadyMember,
        ] {
            let e = r.error("invitation_token");
            assert_eq!(e.status(), 409);
            assert!(
                e.problem().detail.starts_with("invitation_token: "),
                "{r:?}"
            );
        }
    }

    #[test]
    fn owners_are_invited_without_a_shop_or_warehouse_scope() {
        let keys = JwtKeys::new(b"a-test-secret-of-enough-length-0123456789");
        let (inv, _) = InvitationRecord::new(
            &keys,
            "O1",
            "a@b.co",
            MemberRole::Owner,
            vec!["S1".into()],
            vec!["W1".into()],
            "U0",
            0,
        );
        assert!(inv.shop_ids.is_empty() && inv.warehouse_ids.is_empty());
    }
}
