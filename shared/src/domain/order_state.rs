//! The order state machine: which status may follow which, and what each move does to the
//! stock reserved for the order. Pure; `shared::orders` turns a move into one conditional
//! transaction.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed with an online payment method; waits for the payment (15 minutes).
    PendingPayment,
    /// Paid, or cash on delivery: the shop should prepare it.
    Confirmed,
    /// The shop is preparing it.
    Processing,
    /// Handed to a carrier.
    Shipped,
    Delivered,
    /// Delivered and accepted (by the buyer, or when the return window closed).
    Completed,
    Cancelled,
    PaymentFailed,
    ReturnRequested,
    /// The shop accepted the return.
    Returned,
    Refunded,
}

/// What a status change does to the units the order holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockEffect {
    None,
    /// Reserved units become available again (cancel, expiry, failed payment).
    Release,
    /// Reserved units leave the stock for good (delivery).
    Sell,
    /// Sold units come back into the warehouse they left from (an accepted return, unless the
    /// shop found them damaged).
    Restock,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 11] = [
        Self::PendingPayment,
        Self::Confirmed,
        Self::Processing,
        Self::Shipped,
        Self::Delivered,
        Self::Completed,
        Self::Cancelled,
        Self::PaymentFailed,
        Self::ReturnRequested,
        Self::Returned,
        Self::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingPayment => "pending_payment",
            Self::Confirmed => "confirmed",
            Self::Processing => "processing",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::PaymentFailed => "payment_failed",
            Self::ReturnRequested => "return_requested",
            Self::Returned => "returned",
            Self::Refunded => "refunded",
        }
    }

    /// The legal moves. A return that the shop rejects goes back to `delivered`. An own-fleet
    /// pickup ships a confirmed order the shop never marked as processing; a shipped order is
    /// cancelled only when its delivery failed for good (the parcel went back to the shop:
    /// nobody may cancel a shipped order, see [`OrderStatus::cancellable`]).
    pub fn can_become(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (PendingPayment, Confirmed | Cancelled | PaymentFailed)
                | (Confirmed, Processing | Shipped | Cancelled)
                | (Processing, Shipped | Cancelled)
                | (Shipped, Delivered | Cancelled)
                | (Delivered, Completed | ReturnRequested)
                | (ReturnRequested, Returned | Delivered)
                | (Returned, Refunded)
        )
    }

    /// Whether units are still reserved (counted in the variant's `reserved`) in this status.
    pub fn holds_reservation(self) -> bool {
        matches!(
            self,
            Self::PendingPayment | Self::Confirmed | Self::Processing | Self::Shipped
        )
    }

    /// The buyer may still cancel (nothing has left the shop).
    pub fn cancellable(self) -> bool {
        matches!(
            self,
            Self::PendingPayment | Self::Confirmed | Self::Processing
        )
    }

    /// Money of an order in this status no longer counts as the buyer's spend.
    pub fn voids_spend(self) -> bool {
        matches!(self, Self::Cancelled | Self::PaymentFailed | Self::Refunded)
    }

    /// What moving from `self` to `to` does to the stock. Exactly one move out of the
    /// reserving statuses happens per order (each is conditional on the current status), so a
    /// reservation is released or sold exactly once; likewise one move accepts a return.
    pub fn stock_effect(self, to: OrderStatus) -> StockEffect {
        if (self, to) == (Self::ReturnRequested, Self::Returned) {
            return StockEffect::Restock;
        }
        if !self.holds_reservation() || to.holds_reservation() {
            return StockEffect::None;
        }
        match to {
            Self::Delivered => StockEffect::Sell,
            _ => StockEffect::Release,
        }
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::*;
    use super::*;

    #[test]
    fn the_happy_path_is_legal_and_skipping_steps_is_not() {
        let path = [
            PendingPayment,
            Confirmed,
            Processing,
            Shipped,
            Delivered,
            Completed,
        ];
        for pair in path.windows(2) {
            assert!(pair[0].can_become(pair[1]), "{} → {}", pair[0], pair[1]);
        }
        assert!(!PendingPayment.can_become(Shipped));
        assert!(!Confirmed.can_become(Delivered));
        assert!(
            !Shipped.cancellable(),
            "nobody cancels a shipped order (only a failed delivery does)"
        );
        assert!(Shipped.can_become(Cancelled), "returned to the shop");
        assert!(Confirmed.can_become(Shipped), "an own-fleet pickup");
        assert!(!Delivered.can_become(Cancelled));
        for terminal in [Completed, Cancelled, PaymentFailed, Refunded] {
            assert!(
                OrderStatus::ALL.iter().all(|s| !terminal.can_become(*s)),
                "{terminal} is terminal"
            );
        }
    }

    #[test]
    fn every_exit_from_a_reserving_status_releases_or_sells_an_accepted_return_restocks_and_nothing_else_touches_stock()
     {
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                if !from.can_become(to) {
                    continue;
                }
                let effect = from.stock_effect(to);
                let expected = match (from.holds_reservation(), from, to) {
                    (true, _, Delivered) => StockEffect::Sell,
                    (true, _, Cancelled | PaymentFailed) => StockEffect::Release,
                    (false, ReturnRequested, Returned) => StockEffect::Restock,
                    _ => StockEffect::None,
                };
                assert_eq!(effect, expected, "{from} → {to}");
            }
        }
        assert_eq!(Shipped.stock_effect(Delivered), StockEffect::Sell);
        assert_eq!(ReturnRequested.stock_effect(Delivered), StockEffect::None);
    }

    #[test]
    fn statuses_serialise_as_snake_case() {
        for s in OrderStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
