//! The double-entry ledger. Every movement of money is one [`Transfer`]: legs on accounts
//! whose amounts sum to zero (a positive leg credits an account, a negative one debits it).
//! A transfer is written as part of the `TransactWriteItems` of the state change it belongs to:
//! the transfer item, one entry per leg under its account (the account's statement) and an
//! `ADD balance` on each account. Debits of a protected account (a shop's balances, the
//! platform's) are conditional on the balance covering them, so none of those can go negative.
//!
//! Accounts are per currency: `external:<provider>:<CUR>` (the outside world: what came in
//! through a provider is a debit there), `shop:<id>:escrow|available|hold:<CUR>`,
//! `platform:commission:<CUR>`, `platform:suspense:<CUR>` (late payments awaiting their refund),
//! `platform:refunds:<CUR>` (refunds asked of a provider, not yet confirmed) and
//! `external:payouts:<CUR>`.

use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::Currency;
use crate::store::{StoreError, keys, n, s, tx};

pub fn external(provider: &str, currency: Currency) -> String {
    format!("external:{provider}:{currency:?}")
}
pub fn shop_escrow(shop_id: &str, currency: Currency) -> String {
    format!("shop:{shop_id}:escrow:{currency:?}")
}
pub fn shop_available(shop_id: &str, currency: Currency) -> String {
    format!("shop:{shop_id}:available:{currency:?}")
}
pub fn shop_hold(shop_id: &str, currency: Currency) -> String {
    format!("shop:{shop_id}:hold:{currency:?}")
}
pub fn commission(currency: Currency) -> String {
    format!("platform:commission:{currency:?}")
}
pub fn suspense(currency: Currency) -> String {
    format!("platform:suspense:{currency:?}")
}
/// Refunds reserved against a payment and not yet confirmed by the provider.
pub fn refunds_in_flight(currency: Currency) -> String {
    format!("platform:refunds:{currency:?}")
}
pub fn payouts(currency: Currency) -> String {
    format!("external:payouts:{currency:?}")
}

/// Accounts that must never go negative: everything the platform or a shop holds.
pub fn is_protected(account: &str) -> bool {
    account.starts_with("shop:") || account.starts_with("platform:")
}

/// One leg of a transfer: `amount` > 0 credits `account`, < 0 debits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Leg {
    pub account: String,
    pub amount: i64,
}

/// What a transfer records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferKind {
    /// A captured payment into the escrow of its orders (and suspense for a late part).
    Capture,
    /// Cash collected on delivery into the order's escrow.
    CodCollected,
    /// Escrow to the shop's available balance, less commission.
    Release,
    /// A refund reserved: out of the shop's balance into refunds in flight.
    RefundReserved,
    /// A reserved refund the provider refused: back where it came from.
    RefundReleased,
    Refund,
    DisputeHold,
    DisputeWon,
    DisputeLost,
    Payout,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LedgerError {
    #[error("a transfer's legs must sum to zero (they sum to {0})")]
    Unbalanced(i64),
    #[error("a transfer needs at least two non-zero legs")]
    Empty,
}

/// A balanced set of legs, ready to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: String,
    pub kind: TransferKind,
    pub currency: Currency,
    /// What it belongs to: a payment, order, dispute or payout id.
    pub reference: String,
    pub legs: Vec<Leg>,
}

impl Transfer {
    /// Merges legs on the same account, drops zero legs and checks the balance.
    pub fn new(
        kind: TransferKind,
        currency: Currency,
        reference: &str,
        legs: impl IntoIterator<Item = (String, i64)>,
    ) -> Result<Self, LedgerError> {
        let mut merged: Vec<Leg> = Vec::new();
        for (account, amount) in legs {
            match merged.iter_mut().find(|l| l.account == account) {
                Some(leg) => leg.amount += amount,
                None => merged.push(Leg { account, amount }),
            }
        }
        merged.retain(|l| l.amount != 0);
        let sum: i64 = merged.iter().map(|l| l.amount).sum();
        if sum != 0 {
            return Err(LedgerError::Unbalanced(sum));
        }
        if merged.len() < 2 {
            return Err(LedgerError::Empty);
        }
        Ok(Self {
            id: ulid::Ulid::new().to_string(),
            kind,
            currency,
            reference: reference.to_owned(),
            legs: merged,
        })
    }

    /// How many transaction actions [`Transfer::actions`] takes.
    pub fn action_count(&self) -> usize {
        1 + 2 * self.legs.len()
    }

    /// The transfer item, its entries and the balance updates (protected debits conditional).
    pub fn actions(&self, table: &str) -> Result<Vec<TransactWriteItem>, StoreError> {
        let at = crate::now_rfc3339();
        let (pk, sk) = keys::ledger_transfer(&self.id);
        let record = TransferRecord {
            pk,
            sk,
            gsi2pk: keys::gsi2_transfers(&at[..10]),
            gsi2sk: format!("{at}#{}", self.id),
            entity_type: TRANSFER_ENTITY.into(),
            id: self.id.clone(),
            kind: self.kind,
            currency: self.currency,
            reference: self.reference.clone(),
            legs: self.legs.clone(),
            at: at.clone(),
        };
        let mut actions = vec![tx::put_new(table, &record)?];
        for leg in &self.legs {
            let (pk, sk) = keys::ledger_account_entry(&leg.account, &at, &self.id);
            actions.push(tx::put_new(
                table,
                &EntryRecord {
                    pk,
                    sk,
                    entity_type: ENTRY_ENTITY.into(),
                    account: leg.account.clone(),
                    transfer_id: self.id.clone(),
                    kind: self.kind,
                    amount: leg.amount,
                    currency: self.currency,
                    reference: self.reference.clone(),
                    at: at.clone(),
                },
            )?);
            let guarded = leg.amount < 0 && is_protected(&leg.account);
            let mut values = vec![
                (":amount", n(leg.amount)),
                (":et", s(ACCOUNT_ENTITY)),
                (":account", s(leg.account.clone())),
                (":currency", s(format!("{:?}", self.currency))),
            ];
            if guarded {
                values.push((":need", n(-leg.amount)));
            }
            actions.push(tx::update(
                table,
                tx::UpdateSpec {
                    key: keys::ledger_account(&leg.account),
                    update: "SET entity_type = :et, account = :account, currency = :currency ADD balance :amount",
                    condition: guarded.then_some("balance >= :need"),
                    names: &[],
                    values,
                },
            )?);
        }
        Ok(actions)
    }
}

pub const TRANSFER_ENTITY: &str = "ledger_transfer";
pub const ENTRY_ENTITY: &str = "ledger_entry";
pub const ACCOUNT_ENTITY: &str = "ledger_account";

/// `TRANSFER#<id>/TRANSFER`; GSI2 lists a day's transfers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransferRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI2PK")]
    pub gsi2pk: String,
    #[serde(rename = "GSI2SK")]
    pub gsi2sk: String,
    pub entity_type: String,
    pub id: String,
    pub kind: TransferKind,
    pub currency: Currency,
    pub reference: String,
    pub legs: Vec<Leg>,
    pub at: String,
}

/// `ACCOUNT#<account>/ENTRY#<at>#<transfer>`: one line of an account's statement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntryRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub account: String,
    pub transfer_id: String,
    pub kind: TransferKind,
    pub amount: i64,
    pub currency: Currency,
    pub reference: String,
    pub at: String,
}

/// `ACCOUNT#<account>/BALANCE`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountRecord {
    pub account: String,
    pub balance: i64,
    pub currency: Currency,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legs_on_one_account_merge_and_zero_legs_drop() {
        let t = Transfer::new(
            TransferKind::Release,
            Currency::VND,
            "o1",
            [
                (shop_escrow("s", Currency::VND), -100),
                (shop_available("s", Currency::VND), 95),
                (commission(Currency::VND), 5),
                (commission(Currency::VND), 0),
            ],
        )
        .unwrap();
        assert_eq!(t.legs.len(), 3);
        assert_eq!(t.action_count(), 7);
    }

    #[test]
    fn an_unbalanced_or_empty_transfer_is_refused() {
        assert_eq!(
            Transfer::new(
                TransferKind::Payout,
                Currency::VND,
                "p",
                [
                    (shop_available("s", Currency::VND), -10),
                    (payouts(Currency::VND), 9)
                ]
            ),
            Err(LedgerError::Unbalanced(-1))
        );
        assert_eq!(
            Transfer::new(
                TransferKind::Payout,
                Currency::VND,
                "p",
                [(payouts(Currency::VND), 0)]
            ),
            Err(LedgerError::Empty)
        );
    }

    #[test]
    fn only_platform_and_shop_accounts_are_protected() {
        assert!(is_protected(&shop_available("s", Currency::USD)));
        assert!(is_protected(&suspense(Currency::USD)));
        assert!(!is_protected(&external("stripe", Currency::USD)));
        assert!(!is_protected(&payouts(Currency::USD)));
    }
}
