//! A refund through the payment's provider, end to end: reserve it in the ledger
//! (`shared::payments::ops::reserve_refund`), ask the provider (idempotent by our refund id),
//! then book it or give the reservation back. Used by the admin refund route and by the escrow
//! consumer (accepted returns, cancelled paid orders, late payments).

use shared::orders::Move;
use shared::payments::ops::{self, OpError};
use shared::payments::{EscrowRecord, PaymentRecord, RefundRecord, RefundStatus};

use crate::{ProviderError, ProviderKind, RefundRequest, registry::Providers};

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error(transparent)]
    Op(#[from] OpError),
    /// The provider refused: the reservation was given back.
    #[error("the provider refused the refund: {0}")]
    Refused(String),
    /// The provider could not be reached or answered oddly: the refund stays reserved
    /// (`pending`) so it is never booked twice; it is logged as an incident.
    #[error("the provider did not confirm the refund: {0}")]
    Unconfirmed(String),
    #[error("no adapter configured for {0}")]
    NotConfigured(&'static str),
}

/// Refunds `amount` of `payment`, charged to `escrow`'s order (or, without one, to the late part
/// held in suspense). `order_move` is written with the booking (an accepted return → refunded).
pub async fn refund(
    db: &shared::store::Db,
    providers: &Providers,
    payment: &PaymentRecord,
    escrow: Option<&EscrowRecord>,
    amount: i64,
    reason: &str,
    order_move: Option<Move>,
) -> Result<RefundRecord, RefundError> {
    // Before anything is reserved: a refund that cannot be asked for must not stay pending.
    let adapter = match ProviderKind::for_method(payment.method) {
        None => None,
        Some(kind) => Some(
            providers
                .get(kind)
                .ok_or(RefundError::NotConfigured(payment.method.as_str()))?,
        ),
    };
    let mut record = ops::reserve_refund(db, payment, escrow, amount, reason).await?;
    let provider_ref = match adapter {
        None => format!("manual-{}", record.id),
        Some(adapter) => {
            let created = time::OffsetDateTime::parse(
                &payment.created_at,
                &time::format_description::well_known::Rfc3339,
            )
            .map(|t| t.unix_timestamp())
            .unwrap_or_default();
            let answer = adapter
                .refund(&RefundRequest {
                    payment_id: &payment.id,
                    refund_id: &record.id,
                    provider_ref: payment.provider_ref.as_deref().unwrap_or(&payment.id),
                    capture_ref: payment.capture_ref.as_deref(),
                    amount,
                    paid_amount: payment.captured,
                    currency: &format!("{:?}", payment.currency),
                    minor_digits: payment.currency.minor_digits(),
                    reason,
                    payment_created_at: created,
                    client_ip: "127.0.0.1",
                })
                .await;
            match answer {
                Ok(r) => r.provider_refund_ref,
                Err(e @ (ProviderError::Declined { .. } | ProviderError::Unsupported(_))) => {
                    tracing::warn!(refund_id = %record.id, payment_id = %payment.id, error = %e, "provider refused the refund; reservation released");
                    ops::release_refund(db, &record, &e.to_string()).await?;
                    return Err(RefundError::Refused(e.to_string()));
                }
                Err(e) => {
                    tracing::error!(incident = true, refund_id = %record.id, payment_id = %payment.id, error = %e, "refund not confirmed by the provider; left pending");
                    return Err(RefundError::Unconfirmed(e.to_string()));
                }
            }
        }
    };
    ops::settle_refund(db, &record, &provider_ref, order_move).await?;
    record.status = RefundStatus::Succeeded;
    record.provider_refund_ref = Some(provider_ref);
    Ok(record)
}
