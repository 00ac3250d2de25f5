//! Outside carriers behind the [`Carrier`] trait: the shop (or an admin) hands a parcel to one
//! instead of the own fleet (`POST shipping/assign/{order_id}` with `carrier`, in
//! `api-shipping`), the carrier books it and posts its progress back
//! (`POST shipping/carriers/{carrier}/updates`), and the shipment and its order move as they
//! do with a shipper. The dispatcher cancels the booking when the order is cancelled before
//! pickup. Linked only by those two functions (it brings the HTTP client).
//!
//! Each carrier has an adapter that calls the carrier's real API: [`ghtk::Ghtk`] (Giao Hàng
//! Tiết Kiệm, which takes addresses by name, so the gazetteer's names are enough). A carrier
//! is offered only when its secret is configured (`GHTK_SECRET_ARN`). Locally its base URL
//! (`GHTK_API_URL`) points at the provider sandbox, which stands in for the carrier and posts
//! the status callbacks, so the adapter code that runs in AWS is the code the tests run.

pub mod ghtk;

use std::sync::Arc;

use shared::domain::shipping::Method;
use shared::shipments::ShipmentStatus;

/// One end of a consignment, as a carrier that takes names (not its own ids) needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub name: String,
    pub phone: String,
    /// Street and number.
    pub address: String,
    pub ward: Option<String>,
    /// Only on addresses written before the 2025 division dropped districts.
    pub district: Option<String>,
    pub province: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub name: String,
    pub quantity: u32,
    /// Per unit.
    pub weight_grams: u64,
}

/// A parcel to book: from the shop to the buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consignment {
    /// The carrier's idempotency key (a retry finds the first booking): the order id and the
    /// hand-over's number, [`reference`], so the order can be booked again after a carrier
    /// dropped it.
    pub reference: String,
    pub from: Party,
    pub to: Party,
    pub items: Vec<Item>,
    pub weight_grams: u64,
    /// Cash the carrier collects at the door (0 when paid online), VND.
    pub cod_vnd: i64,
    /// The goods' value (the insurance base), VND.
    pub value_vnd: i64,
    pub method: Method,
    pub note: Option<String>,
}

/// A carrier's price for a consignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarrierQuote {
    pub fee_vnd: i64,
    pub insurance_vnd: i64,
}

/// A booked consignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    /// The carrier's own tracking number (GHTK's "label").
    pub label: String,
    /// What the carrier charges, when it says (a booking found again by its reference may not).
    pub fee_vnd: Option<i64>,
    pub estimated_pickup: Option<String>,
    pub estimated_delivery: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarrierError {
    /// The carrier answered and said no (an address it does not serve, a parcel too heavy, a
    /// parcel it has picked up already, …): its message.
    #[error("the carrier refused: {0}")]
    Refused(String),
    /// The carrier could not be reached or failed (timeout, 5xx, an answer we cannot read).
    #[error("the carrier is unavailable: {0}")]
    Unavailable(String),
}

/// What a status callback says, verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierUpdate {
    /// Our order id (from the reference given at booking).
    pub order_id: String,
    pub label: String,
    pub progress: Progress,
    /// The carrier's own status code, kept on the timeline's note.
    pub code: String,
    pub reason: Option<String>,
}

/// A carrier status in our terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The shipment moves to this status (with the statuses before it, if the carrier skipped
    /// them).
    Moved(ShipmentStatus),
    /// The carrier dropped the booking before pickup (it was cancelled there): the shipment
    /// waits for a shipper or another carrier again.
    Withdrawn,
    /// Informational (received, pickup delayed, …): acknowledged, nothing moves.
    Noted,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// Not from the carrier: the callback's secret is missing or wrong.
    #[error("{0}")]
    NotAuthentic(&'static str),
    /// From the carrier's URL but not a body we can read.
    #[error("{0}")]
    Malformed(String),
    /// A field the update must have is missing or not of its type.
    #[error("the update has no valid {0}")]
    Missing(&'static str),
}

#[async_trait::async_trait]
pub trait Carrier: Send + Sync + std::fmt::Debug {
    /// The id in routes and on shipments (`ghtk`).
    fn id(&self) -> &'static str;
    fn name(&self) -> &'static str;
    /// The methods it carries.
    fn methods(&self) -> &'static [Method];
    /// What it would charge.
    async fn quote(&self, consignment: &Consignment) -> Result<CarrierQuote, CarrierError>;
    /// Books a pickup. Booking the same reference again answers the first booking.
    async fn book(&self, consignment: &Consignment) -> Result<Booking, CarrierError>;
    /// Cancels a booking that was not picked up yet.
    async fn cancel(&self, label: &str) -> Result<(), CarrierError>;
    /// Verifies a status callback by the carrier's own scheme and reads it.
    fn read_update(&self, query: Option<&str>, body: &[u8]) -> Result<CarrierUpdate, UpdateError>;
}

/// The reference of an order's `n`-th booking with a carrier: `<order id>-<n>`.
pub fn reference(order_id: &str, n: u32) -> String {
    format!("{order_id}-{n}")
}

/// The order id of a booking's reference (`None` if it is not one of ours).
pub fn order_of(reference: &str) -> Option<&str> {
    let (order, n) = reference.rsplit_once('-')?;
    (!order.is_empty() && n.parse::<u32>().is_ok()).then_some(order)
}

/// The ids of the carriers there is an adapter for (configured or not).
pub const ADAPTERS: &[&str] = &["ghtk"];

/// The carriers this function can use, built once per cold start.
#[derive(Debug, Clone, Default)]
pub struct Carriers {
    all: Vec<Arc<dyn Carrier>>,
}

impl Carriers {
    pub fn new(all: Vec<Arc<dyn Carrier>>) -> Self {
        Self { all }
    }

    /// Every carrier whose secret is configured: GHTK with `GHTK_SECRET_ARN` (its API at
    /// `GHTK_API_URL`, by default GHTK's production API). A secret that cannot be read stops
    /// the cold start.
    pub async fn from_env(sdk: &aws_config::SdkConfig) -> anyhow::Result<Self> {
        let mut all: Vec<Arc<dyn Carrier>> = Vec::new();
        if let Some(secret) = shared::state::secret_from_env(sdk, "GHTK_SECRET_ARN").await? {
            let url = std::env::var("GHTK_API_URL")
                .ok()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| ghtk::PRODUCTION_URL.to_owned());
            let config = ghtk::GhtkConfig::from_secret_json(&secret, &url)?;
            all.push(Arc::new(ghtk::Ghtk::new(config)));
        }
        Ok(Self { all })
    }

    pub fn get(&self, id: &str) -> Option<&Arc<dyn Carrier>> {
        self.all.iter().find(|c| c.id() == id)
    }

    pub fn all(&self) -> &[Arc<dyn Carrier>] {
        &self.all
    }

    pub fn ids(&self) -> Vec<&'static str> {
        self.all.iter().map(|c| c.id()).collect()
    }
}

/// Money in whole đồng, the unit carriers in Vietnam bill in; `None` in another currency.
pub fn vnd(m: shared::domain::Money) -> Option<i64> {
    (m.currency == shared::domain::Currency::VND).then_some(m.amount)
}
