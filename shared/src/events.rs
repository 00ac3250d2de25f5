//! The event catalog (every detail-type the system publishes), the envelope carried in an
//! EventBridge `detail`, and the transactional-outbox writer.
//!
//! A producer never calls EventBridge: it adds [`outbox_put`] to the same `TransactWriteItems`
//! as its state change; the outbox relay publishes from the table stream.

use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::store::{self, StoreError, keys};

/// How long an outbox row stays in the table after it was written (TTL cleanup only).
const OUTBOX_RETENTION_SECS: i64 = 7 * 24 * 3600;

pub mod source {
    pub const IDENTITY: &str = "commerce.identity";
    pub const CATALOG: &str = "commerce.catalog";
    pub const ORDERS: &str = "commerce.orders";
    pub const PAYMENTS: &str = "commerce.payments";
    /// Behaviour-driven features: recommendations and price alerts.
    pub const DISCOVERY: &str = "commerce.discovery";
    /// The own delivery fleet: shippers, shipments, live positions.
    pub const SHIPPING: &str = "commerce.shipping";
    /// The notification centre: phone verification and admin broadcasts.
    pub const NOTIFICATIONS: &str = "commerce.notifications";
}

/// Every event of the system. The variant name is the EventBridge `detail-type`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "detail_type", content = "data")]
pub enum DomainEvent {
    UserRegistered(UserRegistered),
    PasswordResetRequested(PasswordResetRequested),
    PasswordChanged(PasswordChanged),
    ProductUpserted(ProductUpserted),
    ProductDeleted(ProductDeleted),
    StockChanged(StockChanged),
    StockLow(StockLow),
    ShopUpdated(ShopUpdated),
    OrganizationInvitationCreated(OrganizationInvitationCreated),
    OrderPlaced(OrderPlaced),
    OrderConfirmed(OrderStatusChanged),
    OrderProcessing(OrderStatusChanged),
    OrderShipped(OrderStatusChanged),
    OrderDelivered(OrderStatusChanged),
    OrderCompleted(OrderStatusChanged),
    OrderCancelled(OrderStatusChanged),
    OrderPaymentFailed(OrderStatusChanged),
    OrderReturnRequested(OrderStatusChanged),
    OrderReturned(OrderStatusChanged),
    OrderReturnRejected(OrderStatusChanged),
    OrderRefunded(OrderStatusChanged),
    PaymentSucceeded(PaymentSucceeded),
    PaymentFailed(PaymentFailed),
    RefundIssued(RefundIssued),
    DisputeOpened(DisputeChanged),
    DisputeClosed(DisputeChanged),
    EscrowReleased(EscrowReleased),
    PayoutRequested(PayoutRequested),
    InvoiceIssued(InvoiceIssued),
    PriceAlertTriggered(PriceAlertTriggered),
    ShipmentCreated(ShipmentCreated),
    ShipmentOffered(ShipmentOffer),
    ShipmentOfferDeclined(ShipmentOffer),
    ShipmentAssigned(ShipmentOffer),
    ShipmentHandedOver(ShipmentHandedOver),
    ShipmentPickedUp(ShipmentStatusChanged),
    ShipmentInTransit(ShipmentStatusChanged),
    ShipmentOutForDelivery(ShipmentStatusChanged),
    ShipmentDelivered(ShipmentStatusChanged),
    ShipmentFailed(ShipmentStatusChanged),
    ShipmentReturned(ShipmentStatusChanged),
    ShipmentCancelled(ShipmentStatusChanged),
    ShipmentLocationUpdated(ShipmentLocation),
    ShipperAvailable(ShipperAvailable),
    PhoneVerificationRequested(PhoneVerificationRequested),
    BroadcastRequested(BroadcastRequested),
}

/// The own fleet took an order: a shipment with a tracking number waits for a shipper.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShipmentCreated {
    pub order_id: String,
    pub tracking_number: String,
    pub shop_id: String,
    pub buyer_id: String,
    /// The pickup province (gazetteer code): where a shipper is looked for.
    pub province_code: String,
}

/// An offer of a shipment to a shipper, or its outcome (accepted: `ShipmentAssigned`;
/// declined or expired: `ShipmentOfferDeclined`, with the reason).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShipmentOffer {
    pub order_id: String,
    pub shipper_id: String,
    /// Which offer of this shipment (1, 2, …): a late answer to an older one changes nothing.
    pub offer: u32,
    /// Unix seconds when an open offer lapses.
    pub expires_at: i64,
    /// `declined`, `expired`, `withdrawn` for a declined offer; `accepted` or `manual`.
    pub reason: String,
    pub province_code: String,
}

/// A shipment was handed to an outside carrier, which booked it under its own `label`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShipmentHandedOver {
    pub order_id: String,
    pub tracking_number: String,
    pub buyer_id: String,
    pub shop_id: String,
    pub carrier: String,
    pub label: String,
    pub province_code: String,
}

/// A shipment moved; the detail-type names the new status.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShipmentStatusChanged {
    pub order_id: String,
    pub tracking_number: String,
    pub buyer_id: String,
    pub shop_id: String,
    pub shipper_id: Option<String>,
    pub from: crate::shipments::ShipmentStatus,
    pub to: crate::shipments::ShipmentStatus,
    pub at: String,
    /// Delivery attempts so far.
    pub attempts: u32,
    pub province_code: String,
    pub note: Option<String>,
}

impl ShipmentStatusChanged {
    pub fn into_event(self) -> DomainEvent {
        use crate::shipments::ShipmentStatus as S;
        match self.to {
            S::PickedUp => DomainEvent::ShipmentPickedUp(self),
            S::InTransit => DomainEvent::ShipmentInTransit(self),
            S::OutForDelivery => DomainEvent::ShipmentOutForDelivery(self),
            S::Delivered => DomainEvent::ShipmentDelivered(self),
            S::FailedAttempt => DomainEvent::ShipmentFailed(self),
            S::ReturnedToShop => DomainEvent::ShipmentReturned(self),
            S::Cancelled => DomainEvent::ShipmentCancelled(self),
            S::AwaitingPickup => unreachable!("no move leads back to awaiting_pickup"),
        }
    }
}

/// The assigned shipper's position on the way (no personal data: the order, the point).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShipmentLocation {
    pub order_id: String,
    pub shipper_id: String,
    pub lat: f64,
    pub lng: f64,
    pub at: String,
}

/// A shipper can take parcels in a province (approved and online, or a slot freed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShipperAvailable {
    pub shipper_id: String,
    pub province_code: String,
}

/// One shop order's share of a payment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PaidOrder {
    pub order_id: String,
    pub shop_id: String,
    pub amount: i64,
}

/// A payment was captured. `orders` are the orders it confirmed (or funded, for COD at
/// delivery); `late_amount` is the part that arrived after its orders expired or were
/// cancelled: it is held apart and refunded automatically.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PaymentSucceeded {
    pub payment_id: String,
    pub checkout_id: String,
    pub buyer_id: String,
    pub provider: String,
    pub amount: crate::domain::Money,
    pub orders: Vec<PaidOrder>,
    #[serde(default)]
    pub late_amount: i64,
}

/// A payment failed (declined, cancelled by the buyer); its orders moved to `payment_failed`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PaymentFailed {
    pub payment_id: String,
    pub checkout_id: String,
    pub buyer_id: String,
    pub provider: String,
    pub amount: crate::domain::Money,
    pub reason: String,
}

/// Money went back to the buyer (booked in the ledger in the same transaction).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RefundIssued {
    pub refund_id: String,
    pub payment_id: String,
    pub buyer_id: String,
    pub provider: String,
    /// The order it is charged to; `None` for a late payment that never funded an order.
    pub order_id: Option<String>,
    pub amount: crate::domain::Money,
    pub reason: String,
}

/// A dispute (chargeback) was opened or closed; `won` is set when it closed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DisputeChanged {
    pub provider: String,
    pub dispute_ref: String,
    pub payment_id: String,
    pub buyer_id: String,
    pub order_id: String,
    pub shop_id: String,
    pub amount: crate::domain::Money,
    pub won: Option<bool>,
}

/// A completed order's escrow went to the shop's available balance, less commission.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EscrowReleased {
    pub order_id: String,
    pub shop_id: String,
    pub amount: crate::domain::Money,
    pub commission: i64,
    pub net: i64,
}

/// A shop owner asked for a payout of available balance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PayoutRequested {
    pub payout_id: String,
    pub shop_id: String,
    pub org_id: String,
    pub amount: crate::domain::Money,
}

/// An order's invoice was numbered and stored; the notifier e-mails the buyer a link.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InvoiceIssued {
    pub order_id: String,
    pub shop_id: String,
    pub buyer_id: String,
    /// `<year>-<number>` as printed, e.g. `2026-000017`.
    pub number: String,
    pub total: crate::domain::Money,
}

/// A buyer's price alert met its target: the product's lowest in-stock price is now at or
/// below it. Written once per alert (the alert is marked notified in the same transaction);
/// the notifier e-mails the buyer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PriceAlertTriggered {
    pub user_id: String,
    pub product_id: String,
    pub product_name: String,
    pub target_price: crate::domain::Money,
    pub price: crate::domain::Money,
}

/// A shop order was placed (one per shop of a checkout). Payment and shipping consume it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderPlaced {
    pub order_id: String,
    pub checkout_id: String,
    pub buyer_id: String,
    pub shop_id: String,
    /// The shop's name and organisation (whose owners and managers hear of the order).
    #[serde(default)]
    pub shop_name: String,
    #[serde(default)]
    pub org_id: String,
    pub status: crate::domain::order_state::OrderStatus,
    pub payment_method: String,
    pub total: crate::domain::Money,
    /// When an unpaid online order expires (RFC 3339), if it waits for payment.
    pub payment_due_at: Option<String>,
    /// What was ordered (search re-reads these products' stock; recommendations count them
    /// bought together). Empty in events written before the field existed.
    #[serde(default)]
    pub items: Vec<OrderedItem>,
}

/// One line of a placed order, as consumers of `OrderPlaced` need it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderedItem {
    pub product_id: String,
    pub sku: String,
    pub quantity: i64,
}

/// An order moved from one status to another; the detail-type names the move.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderStatusChanged {
    pub order_id: String,
    pub buyer_id: String,
    pub shop_id: String,
    #[serde(default)]
    pub shop_name: String,
    #[serde(default)]
    pub org_id: String,
    pub from: crate::domain::order_state::OrderStatus,
    pub to: crate::domain::order_state::OrderStatus,
    pub total: crate::domain::Money,
    /// Why (cancellation or return reason), when one was given.
    pub reason: Option<String>,
    /// `buyer`, `seller`, `admin` or `system`.
    pub actor: String,
}

impl OrderStatusChanged {
    /// The event of a move: `OrderConfirmed`, `OrderCancelled`, … (a rejected return, which goes
    /// back to `delivered`, is `OrderReturnRejected`).
    pub fn into_event(self) -> DomainEvent {
        use crate::domain::order_state::OrderStatus as S;
        match (self.from, self.to) {
            (S::ReturnRequested, S::Delivered) => DomainEvent::OrderReturnRejected(self),
            (_, S::Confirmed) => DomainEvent::OrderConfirmed(self),
            (_, S::Processing) => DomainEvent::OrderProcessing(self),
            (_, S::Shipped) => DomainEvent::OrderShipped(self),
            (_, S::Delivered) => DomainEvent::OrderDelivered(self),
            (_, S::Completed) => DomainEvent::OrderCompleted(self),
            (_, S::Cancelled) => DomainEvent::OrderCancelled(self),
            (_, S::PaymentFailed) => DomainEvent::OrderPaymentFailed(self),
            (_, S::ReturnRequested) => DomainEvent::OrderReturnRequested(self),
            (_, S::Returned) => DomainEvent::OrderReturned(self),
            (_, S::Refunded) => DomainEvent::OrderRefunded(self),
            (_, S::PendingPayment) => unreachable!("no move leads back to pending_payment"),
        }
    }
}

/// A product was created or changed (any status). Search indexing consumes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProductUpserted {
    pub product_id: String,
    pub shop_id: String,
    pub category_id: String,
    pub name: String,
    pub status: crate::products::ProductStatus,
    pub version: u64,
}

/// A product was archived: it leaves every buyer-facing listing and the search index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProductDeleted {
    pub product_id: String,
    pub shop_id: String,
}

/// A variant's stock was adjusted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StockChanged {
    pub product_id: String,
    pub shop_id: String,
    pub sku: String,
    pub delta: i64,
    pub reason: String,
}

/// A variant's available stock fell to or below its threshold (once per crossing).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StockLow {
    pub product_id: String,
    pub shop_id: String,
    pub org_id: String,
    pub sku: String,
    pub available: i64,
    pub threshold: i64,
    /// The warehouse whose stock fell low; absent when the shop's total over its warehouses
    /// did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<String>,
}

/// A shop's profile or status changed (an admin suspended or reinstated it, its owner edited
/// it): search re-indexes its products (a suspended shop's leave the index).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShopUpdated {
    pub shop_id: String,
    pub status: crate::catalog::ShopStatus,
}

/// An organisation's owner invited an e-mail address (which may have no account yet) to join
/// with a role. Carries the single-use invitation token for the notifier, which e-mails it to
/// `email`: secret-bearing, never log its data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrganizationInvitationCreated {
    pub invitation_id: String,
    pub org_id: String,
    pub org_name: String,
    /// The invited address (lower-cased).
    pub email: String,
    /// The account with that address, if there is one already.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub role: crate::catalog::MemberRole,
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub invited_by: String,
}

/// A user signed up. Carries the one-time e-mail verification token for the notifier: treat
/// the event as secret-bearing and never log its data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserRegistered {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub verification_token: String,
}

/// A password reset was requested. Carries the 6-digit code for the notifier (secret-bearing).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PasswordResetRequested {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub code: String,
    pub expires_in_minutes: u32,
}

/// A user's password was changed (by them, or with an e-mailed reset code): every session
/// ended; the user is told, in case it was not them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PasswordChanged {
    pub user_id: String,
    pub email: String,
    pub name: String,
    /// With a reset code (else: changed while signed in).
    pub reset: bool,
}

/// A user set a phone number for SMS: the code to text to it (the notifier sends it, and only
/// it reads this event).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhoneVerificationRequested {
    pub user_id: String,
    pub phone: String,
    pub code: String,
    pub expires_in_minutes: u32,
}

/// Who an admin's broadcast goes to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    /// Every user.
    Everyone,
    /// Users holding a role (`buyer`, `seller`, `shipper`, `admin`).
    Role(crate::auth::Role),
    /// These users (at most 500).
    Users(Vec<String>),
}

/// An admin's broadcast (a promotion): normal priority, so each recipient gets it in their
/// next digest on the channels they allow for promotions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BroadcastRequested {
    pub broadcast_id: String,
    pub segment: Segment,
    /// `email` or `sms` (the route it came from); in-app and push always go along.
    pub channel: crate::notifications::Channel,
    pub title: String,
    pub message: String,
    pub requested_by: String,
}

impl DomainEvent {
    pub fn detail_type(&self) -> &'static str {
        match self {
            Self::UserRegistered(_) => "UserRegistered",
            Self::PasswordResetRequested(_) => "PasswordResetRequested",
            Self::PasswordChanged(_) => "PasswordChanged",
            Self::ProductUpserted(_) => "ProductUpserted",
            Self::ProductDeleted(_) => "ProductDeleted",
            Self::StockChanged(_) => "StockChanged",
            Self::StockLow(_) => "StockLow",
            Self::ShopUpdated(_) => "ShopUpdated",
            Self::OrganizationInvitationCreated(_) => "OrganizationInvitationCreated",
            Self::OrderPlaced(_) => "OrderPlaced",
            Self::OrderConfirmed(_) => "OrderConfirmed",
            Self::OrderProcessing(_) => "OrderProcessing",
            Self::OrderShipped(_) => "OrderShipped",
            Self::OrderDelivered(_) => "OrderDelivered",
            Self::OrderCompleted(_) => "OrderCompleted",
            Self::OrderCancelled(_) => "OrderCancelled",
            Self::OrderPaymentFailed(_) => "OrderPaymentFailed",
            Self::OrderReturnRequested(_) => "OrderReturnRequested",
            Self::OrderReturned(_) => "OrderReturned",
            Self::OrderReturnRejected(_) => "OrderReturnRejected",
            Self::OrderRefunded(_) => "OrderRefunded",
            Self::PaymentSucceeded(_) => "PaymentSucceeded",
            Self::PaymentFailed(_) => "PaymentFailed",
            Self::RefundIssued(_) => "RefundIssued",
            Self::DisputeOpened(_) => "DisputeOpened",
            Self::DisputeClosed(_) => "DisputeClosed",
            Self::EscrowReleased(_) => "EscrowReleased",
            Self::PayoutRequested(_) => "PayoutRequested",
            Self::InvoiceIssued(_) => "InvoiceIssued",
            Self::PriceAlertTriggered(_) => "PriceAlertTriggered",
            Self::ShipmentCreated(_) => "ShipmentCreated",
            Self::ShipmentOffered(_) => "ShipmentOffered",
            Self::ShipmentOfferDeclined(_) => "ShipmentOfferDeclined",
            Self::ShipmentAssigned(_) => "ShipmentAssigned",
            Self::ShipmentHandedOver(_) => "ShipmentHandedOver",
            Self::ShipmentPickedUp(_) => "ShipmentPickedUp",
            Self::ShipmentInTransit(_) => "ShipmentInTransit",
            Self::ShipmentOutForDelivery(_) => "ShipmentOutForDelivery",
            Self::ShipmentDelivered(_) => "ShipmentDelivered",
            Self::ShipmentFailed(_) => "ShipmentFailed",
            Self::ShipmentReturned(_) => "ShipmentReturned",
            Self::ShipmentCancelled(_) => "ShipmentCancelled",
            Self::ShipmentLocationUpdated(_) => "ShipmentLocationUpdated",
            Self::ShipperAvailable(_) => "ShipperAvailable",
            Self::PhoneVerificationRequested(_) => "PhoneVerificationRequested",
            Self::BroadcastRequested(_) => "BroadcastRequested",
        }
    }

    /// The shipment move a `Shipment…` status event records.
    pub fn shipment_change(&self) -> Option<&ShipmentStatusChanged> {
        match self {
            Self::ShipmentPickedUp(e)
            | Self::ShipmentInTransit(e)
            | Self::ShipmentOutForDelivery(e)
            | Self::ShipmentDelivered(e)
            | Self::ShipmentFailed(e)
            | Self::ShipmentReturned(e)
            | Self::ShipmentCancelled(e) => Some(e),
            _ => None,
        }
    }

    /// The order move an `Order…` event (other than `OrderPlaced`) records.
    pub fn status_change(&self) -> Option<&OrderStatusChanged> {
        match self {
            Self::OrderConfirmed(e)
            | Self::OrderProcessing(e)
            | Self::OrderShipped(e)
            | Self::OrderDelivered(e)
            | Self::OrderCompleted(e)
            | Self::OrderCancelled(e)
            | Self::OrderPaymentFailed(e)
            | Self::OrderReturnRequested(e)
            | Self::OrderReturned(e)
            | Self::OrderReturnRejected(e)
            | Self::OrderRefunded(e) => Some(e),
            _ => None,
        }
    }

    pub fn source(&self) -> &'static str {
        match self {
            Self::UserRegistered(_)
            | Self::PasswordResetRequested(_)
            | Self::PasswordChanged(_) => source::IDENTITY,
            Self::ProductUpserted(_)
            | Self::ProductDeleted(_)
            | Self::StockChanged(_)
            | Self::StockLow(_)
            | Self::ShopUpdated(_)
            | Self::OrganizationInvitationCreated(_) => source::CATALOG,
            Self::OrderPlaced(_)
            | Self::OrderConfirmed(_)
            | Self::OrderProcessing(_)
            | Self::OrderShipped(_)
            | Self::OrderDelivered(_)
            | Self::OrderCompleted(_)
            | Self::OrderCancelled(_)
            | Self::OrderPaymentFailed(_)
            | Self::OrderReturnRequested(_)
            | Self::OrderReturned(_)
            | Self::OrderReturnRejected(_)
            | Self::OrderRefunded(_) => source::ORDERS,
            Self::PaymentSucceeded(_)
            | Self::PaymentFailed(_)
            | Self::RefundIssued(_)
            | Self::DisputeOpened(_)
            | Self::DisputeClosed(_)
            | Self::EscrowReleased(_)
            | Self::PayoutRequested(_)
            | Self::InvoiceIssued(_) => source::PAYMENTS,
            Self::PriceAlertTriggered(_) => source::DISCOVERY,
            Self::ShipmentCreated(_)
            | Self::ShipmentOffered(_)
            | Self::ShipmentOfferDeclined(_)
            | Self::ShipmentAssigned(_)
            | Self::ShipmentHandedOver(_)
            | Self::ShipmentPickedUp(_)
            | Self::ShipmentInTransit(_)
            | Self::ShipmentOutForDelivery(_)
            | Self::ShipmentDelivered(_)
            | Self::ShipmentFailed(_)
            | Self::ShipmentReturned(_)
            | Self::ShipmentCancelled(_)
            | Self::ShipmentLocationUpdated(_)
            | Self::ShipperAvailable(_) => source::SHIPPING,
            Self::PhoneVerificationRequested(_) | Self::BroadcastRequested(_) => {
                source::NOTIFICATIONS
            }
        }
    }

    /// Rebuilds an event from a detail-type and the envelope's `data`.
    pub fn from_parts(
        detail_type: &str,
        data: serde_json::Value,
    ) -> Result<Self, serde_json::Error> {
        serde_json::from_value(serde_json::json!({ "detail_type": detail_type, "data": data }))
    }

    fn data(&self) -> serde_json::Value {
        match self {
            Self::UserRegistered(d) => serde_json::to_value(d),
            Self::PasswordResetRequested(d) => serde_json::to_value(d),
            Self::PasswordChanged(d) => serde_json::to_value(d),
            Self::ProductUpserted(d) => serde_json::to_value(d),
            Self::ProductDeleted(d) => serde_json::to_value(d),
            Self::StockChanged(d) => serde_json::to_value(d),
            Self::StockLow(d) => serde_json::to_value(d),
            Self::ShopUpdated(d) => serde_json::to_value(d),
            Self::OrganizationInvitationCreated(d) => serde_json::to_value(d),
            Self::OrderPlaced(d) => serde_json::to_value(d),
            Self::OrderConfirmed(d)
            | Self::OrderProcessing(d)
            | Self::OrderShipped(d)
            | Self::OrderDelivered(d)
            | Self::OrderCompleted(d)
            | Self::OrderCancelled(d)
            | Self::OrderPaymentFailed(d)
            | Self::OrderReturnRequested(d)
            | Self::OrderReturned(d)
            | Self::OrderReturnRejected(d)
            | Self::OrderRefunded(d) => serde_json::to_value(d),
            Self::PaymentSucceeded(d) => serde_json::to_value(d),
            Self::PaymentFailed(d) => serde_json::to_value(d),
            Self::RefundIssued(d) => serde_json::to_value(d),
            Self::DisputeOpened(d) | Self::DisputeClosed(d) => serde_json::to_value(d),
            Self::EscrowReleased(d) => serde_json::to_value(d),
            Self::PayoutRequested(d) => serde_json::to_value(d),
            Self::InvoiceIssued(d) => serde_json::to_value(d),
            Self::PriceAlertTriggered(d) => serde_json::to_value(d),
            Self::ShipmentCreated(d) => serde_json::to_value(d),
            Self::ShipmentOffered(d)
            | Self::ShipmentOfferDeclined(d)
            | Self::ShipmentAssigned(d) => serde_json::to_value(d),
            Self::ShipmentHandedOver(d) => serde_json::to_value(d),
            Self::ShipmentPickedUp(d)
            | Self::ShipmentInTransit(d)
            | Self::ShipmentOutForDelivery(d)
            | Self::ShipmentDelivered(d)
            | Self::ShipmentFailed(d)
            | Self::ShipmentReturned(d)
            | Self::ShipmentCancelled(d) => serde_json::to_value(d),
            Self::ShipmentLocationUpdated(d) => serde_json::to_value(d),
            Self::ShipperAvailable(d) => serde_json::to_value(d),
            Self::PhoneVerificationRequested(d) => serde_json::to_value(d),
            Self::BroadcastRequested(d) => serde_json::to_value(d),
        }
        .expect("event data serialises")
    }
}

/// What an EventBridge `detail` holds: `id` is the consumers' dedupe key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: time::OffsetDateTime,
    pub version: u32,
    pub data: serde_json::Value,
}

/// An EventBridge event as SQS delivers it to a consumer (the message body).
#[derive(Debug, Deserialize)]
pub struct BusEvent {
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
    pub detail: Envelope,
}

/// The outbox row: everything the relay needs to publish without reading anything else.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutboxItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity_type: String,
    pub source: String,
    pub detail_type: String,
    /// The JSON-encoded [`Envelope`].
    pub detail: String,
    pub expires_at: i64,
}

pub const OUTBOX_ENTITY: &str = "outbox";

impl OutboxItem {
    pub fn new(event: &DomainEvent) -> Self {
        let id = Ulid::new().to_string();
        let now = crate::now();
        let envelope = Envelope {
            id: id.clone(),
            occurred_at: now,
            version: 1,
            data: event.data(),
        };
        let (pk, sk) = keys::outbox(&id);
        Self {
            pk,
            sk,
            entity_type: OUTBOX_ENTITY.into(),
            source: event.source().into(),
            detail_type: event.detail_type().into(),
            detail: serde_json::to_string(&envelope).expect("envelope serialises"),
            expires_at: now.unix_timestamp() + OUTBOX_RETENTION_SECS,
        }
    }
}

/// The outbox write to include in the transaction that makes the state change.
pub fn outbox_put(table: &str, event: &DomainEvent) -> Result<TransactWriteItem, StoreError> {
    store::tx::put_new(table, &OutboxItem::new(event))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outbox_item_carries_an_envelope_that_rebuilds_the_event() {
        let event = DomainEvent::PasswordResetRequested(PasswordResetRequested {
            user_id: "u1".into(),
            email: "a@example.com".into(),
            name: "A".into(),
            code: "012345".into(),
            expires_in_minutes: 10,
        });
        let item = OutboxItem::new(&event);
        assert_eq!(item.detail_type, "PasswordResetRequested");
        assert_eq!(item.source, "commerce.identity");
        assert!(item.pk.starts_with(keys::OUTBOX_PREFIX));
        let envelope: Envelope = serde_json::from_str(&item.detail).unwrap();
        assert_eq!(item.pk, keys::outbox(&envelope.id).0);
        assert_eq!(
            DomainEvent::from_parts(&item.detail_type, envelope.data).unwrap(),
            event
        );
    }
}
