//! GHTK (Giao Hàng Tiết Kiệm) over its public API: `GET /services/shipment/fee`,
//! `POST /services/shipment/order`, `POST /services/shipment/cancel/{label}`, every call
//! with the headers `Token` and `X-Client-Source` (the partner code). GHTK takes provinces,
//! districts and wards by **name**, so the gazetteer's names are enough (GHN, by contrast,
//! wants its own district and ward ids from its master data: an adapter for it needs that
//! table first).
//!
//! Status callbacks carry no signature: the partner registers a callback URL holding a secret
//! `hash` query parameter, and GHTK posts each status change there. The hash is compared in
//! constant time; a callback without it is refused.
//!
//! The secret (`GHTK_SECRET_ARN`) is `{"token", "partner_code", "webhook_hash"}`. Facts about
//! GHTK's API are in `docs/payments-sandbox.md` (GHTK section), which the local sandbox
//! implements; the status codes come from GHTK's documentation as integrations quote it.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use shared::domain::shipping::Method;
use shared::shipments::ShipmentStatus;

use super::{
    Booking, Carrier, CarrierError, CarrierQuote, CarrierUpdate, Consignment, Progress, UpdateError,
};

pub const PRODUCTION_URL: &str = "https://services.giaohangtietkiem.vn";
const METHODS: &[Method] = &[Method::Standard, Method::Express];

#[derive(Clone, PartialEq, Eq)]
pub struct GhtkConfig {
    api_url: String,
    token: String,
    partner_code: String,
    webhook_hash: String,
}

/// Never prints the token or the hash.
impl std::fmt::Debug for GhtkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GhtkConfig")
            .field("api_url", &self.api_url)
            .field("partner_code", &self.partner_code)
            .finish_non_exhaustive()
    }
}

impl GhtkConfig {
    /// From the secret's JSON; errors name the missing field, never a value.
    pub fn from_secret_json(secret: &str, api_url: &str) -> anyhow::Result<Self> {
        #[derive(Deserialize)]
        struct Secret {
            #[serde(default)]
            token: String,
            #[serde(default)]
            partner_code: String,
            #[serde(default)]
            webhook_hash: String,
        }
        let s: Secret = serde_json::from_str(secret)
            .map_err(|_| anyhow::anyhow!("the GHTK secret is not a JSON object"))?;
        for (name, value) in [
            ("token", &s.token),
            ("partner_code", &s.partner_code),
            ("webhook_hash", &s.webhook_hash),
        ] {
            anyhow::ensure!(!value.trim().is_empty(), "the GHTK secret has no {name}");
        }
        anyhow::ensure!(
            s.webhook_hash.len() >= 16,
            "the GHTK secret's webhook_hash is shorter than 16 characters"
        );
        Ok(Self {
            api_url: api_url.trim_end_matches('/').to_owned(),
            token: s.token,
            partner_code: s.partner_code,
            webhook_hash: s.webhook_hash,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Ghtk {
    config: GhtkConfig,
    http: reqwest::Client,
}

impl Ghtk {
    /// 3 s to connect and 8 s for a whole call, so a slow carrier fails the request fast.
    pub fn new(config: GhtkConfig) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(8))
            .build()
            .expect("the TLS backend initialises");
        Self { config, http }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.config.api_url))
            .header("Token", &self.config.token)
            .header("X-Client-Source", &self.config.partner_code)
    }

    /// Sends a call and reads GHTK's JSON answer. Business refusals come as HTTP 200 with
    /// `"success": false`; the callers read those.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, CarrierError> {
        let unavailable =
            |e: reqwest::Error| CarrierError::Unavailable(e.without_url().to_string());
        let response = request.send().await.map_err(unavailable)?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            tracing::error!(status = status.as_u16(), "GHTK refused our token");
            return Err(CarrierError::Unavailable(format!(
                "GHTK refused the marketplace's credentials (HTTP {})",
                status.as_u16()
            )));
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(CarrierError::Unavailable(format!(
                "HTTP {}",
                status.as_u16()
            )));
        }
        let body = response.bytes().await.map_err(unavailable)?;
        serde_json::from_slice(&body).map_err(|e| {
            CarrierError::Unavailable(format!(
                "an answer that is not GHTK's (HTTP {}): {e}",
                status.as_u16()
            ))
        })
    }
}

/// `road` for standard, `fly` for express.
fn transport(method: Method) -> &'static str {
    if method == Method::Express {
        "fly"
    } else {
        "road"
    }
}

/// The fee call's query.
pub fn fee_query(c: &Consignment) -> Vec<(&'static str, String)> {
    let mut q = vec![
        ("pick_province", c.from.province.clone()),
        ("pick_address", c.from.address.clone()),
        ("province", c.to.province.clone()),
        ("address", c.to.address.clone()),
        ("weight", c.weight_grams.to_string()),
        ("value", c.value_vnd.to_string()),
        ("transport", transport(c.method).into()),
        ("deliver_option", "none".into()),
    ];
    for (name, value) in [
        ("pick_district", &c.from.district),
        ("pick_ward", &c.from.ward),
        ("district", &c.to.district),
        ("ward", &c.to.ward),
    ] {
        if let Some(v) = value {
            q.push((name, v.clone()));
        }
    }
    q
}

/// The order call's body. The buyer paid shipping to the marketplace, so the receiver pays
/// GHTK nothing beyond `pick_money` (the cash-on-delivery total, 0 when paid online).
pub fn order_body(c: &Consignment) -> Value {
    let products: Vec<Value> = c
        .items
        .iter()
        .map(|i| {
            json!({
                "name": i.name,
                "weight": i.weight_grams as f64 / 1000.0,
                "quantity": i.quantity,
            })
        })
        .collect();
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    json!({
        "products": products,
        "order": {
            "id": c.reference,
            "pick_name": c.from.name,
            "pick_address": c.from.address,
            "pick_province": c.from.province,
            "pick_district": text(&c.from.district),
            "pick_ward": text(&c.from.ward),
            "pick_tel": c.from.phone,
            "name": c.to.name,
            "address": c.to.address,
            "province": c.to.province,
            "district": text(&c.to.district),
            "ward": text(&c.to.ward),
            "hamlet": "Khác",
            "tel": c.to.phone,
            "is_freeship": "1",
            "pick_money": c.cod_vnd,
            "value": c.value_vnd,
            "transport": transport(c.method),
            "pick_option": "cod",
            "deliver_option": "none",
            "note": c.note.clone().unwrap_or_default(),
        }
    })
}

/// A GHTK status id in our terms.
pub fn progress(status_id: i64) -> Progress {
    match status_id {
        // picked up (3), or the courier says so (123)
        3 | 123 => Progress::Moved(ShipmentStatus::PickedUp),
        // delivering
        4 => Progress::Moved(ShipmentStatus::OutForDelivery),
        // delivered (5), reconciled (6), the courier says delivered (45)
        5 | 6 | 45 => Progress::Moved(ShipmentStatus::Delivered),
        // could not deliver (9), the courier says so (49)
        9 | 49 => Progress::Moved(ShipmentStatus::FailedAttempt),
        // returned (21), return reconciled (11)
        21 | 11 => Progress::Moved(ShipmentStatus::ReturnedToShop),
        -1 => Progress::Withdrawn,
        // not received yet, received, picking up, pickup or delivery delayed, returning, …
        _ => Progress::Noted,
    }
}

/// A number GHTK sends as a JSON number or a string.
fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn same_secret(given: &str, ours: &str) -> bool {
    given.len() == ours.len()
        && given
            .bytes()
            .zip(ours.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[derive(Deserialize)]
struct FeeReply {
    success: bool,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    fee: Option<Value>,
}

#[derive(Deserialize)]
struct Reply {
    success: bool,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    order: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

fn refused(message: Option<String>, what: &str) -> CarrierError {
    CarrierError::Refused(
        message
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| format!("GHTK refused the {what}")),
    )
}

#[async_trait::async_trait]
impl Carrier for Ghtk {
    fn id(&self) -> &'static str {
        "ghtk"
    }

    fn name(&self) -> &'static str {
        "Giao Hàng Tiết Kiệm (GHTK)"
    }

    fn methods(&self) -> &'static [Method] {
        METHODS
    }

    async fn quote(&self, c: &Consignment) -> Result<CarrierQuote, CarrierError> {
        let request = self
            .request(reqwest::Method::GET, "/services/shipment/fee")
            .query(&fee_query(c));
        let reply: FeeReply = self.call(request).await?;
        let fee = reply.fee.as_ref().filter(|_| reply.success);
        let Some(fee) = fee else {
            return Err(refused(reply.message, "fee request"));
        };
        if fee.get("delivery").and_then(Value::as_bool) == Some(false) {
            return Err(CarrierError::Refused(
                "GHTK does not deliver to this address".into(),
            ));
        }
        Ok(CarrierQuote {
            fee_vnd: int(fee.get("fee"))
                .ok_or_else(|| CarrierError::Unavailable("GHTK's fee answer has no fee".into()))?,
            insurance_vnd: int(fee.get("insurance_fee")).unwrap_or(0),
        })
    }

    async fn book(&self, c: &Consignment) -> Result<Booking, CarrierError> {
        let request = self
            .request(reqwest::Method::POST, "/services/shipment/order")
            .query(&[("ver", "1.5")])
            .json(&order_body(c));
        let reply: Reply = self.call(request).await?;
        if reply.success
            && let Some(order) = &reply.order
            && let Some(label) = text(order.get("label"))
        {
            return Ok(Booking {
                label,
                fee_vnd: int(order.get("fee")),
                estimated_pickup: text(order.get("estimated_pick_time")),
                estimated_delivery: text(order.get("estimated_deliver_time")),
            });
        }
        // Booked before (a retry after a timeout or a crash): GHTK names the first booking.
        if let Some(error) = &reply.error
            && error.get("code").and_then(Value::as_str) == Some("ORDER_ID_EXIST")
            && let Some(label) = text(error.get("ghtk_label"))
        {
            return Ok(Booking {
                label,
                fee_vnd: None,
                estimated_pickup: None,
                estimated_delivery: None,
            });
        }
        Err(refused(reply.message, "booking"))
    }

    async fn cancel(&self, label: &str) -> Result<(), CarrierError> {
        let path = format!("/services/shipment/cancel/{label}");
        let reply: Reply = self
            .call(self.request(reqwest::Method::POST, &path))
            .await?;
        if reply.success {
            Ok(())
        } else {
            Err(refused(reply.message, "cancellation"))
        }
    }

    fn read_update(&self, query: Option<&str>, body: &[u8]) -> Result<CarrierUpdate, UpdateError> {
        let hash = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "hash")
            .map(|(_, v)| v.into_owned())
            .ok_or(UpdateError::NotAuthentic(
                "the callback URL carries no hash",
            ))?;
        if !same_secret(&hash, &self.config.webhook_hash) {
            return Err(UpdateError::NotAuthentic(
                "the callback's hash is not this marketplace's",
            ));
        }
        // JSON, or a form (GHTK's older callbacks).
        let fields: serde_json::Map<String, Value> = match serde_json::from_slice(body) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(UpdateError::Malformed(
                    "the update is JSON but not an object".into(),
                ));
            }
            Err(_) => form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect(),
        };
        let order_id = text(fields.get("partner_id"))
            .and_then(|r| crate::order_of(&r).map(str::to_owned))
            .ok_or(UpdateError::Missing("partner_id"))?;
        let label = text(fields.get("label_id")).ok_or(UpdateError::Missing("label_id"))?;
        let status_id = int(fields.get("status_id")).ok_or(UpdateError::Missing("status_id"))?;
        Ok(CarrierUpdate {
            order_id,
            label,
            progress: progress(status_id),
            code: format!("GHTK status {status_id}"),
            reason: text(fields.get("reason")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Item, Party};

    const SECRET: &str =
        r#"{"token":"tok-123","partner_code":"S123","webhook_hash":"0123456789abcdef0123"}"#;

    fn ghtk() -> Ghtk {
        Ghtk::new(GhtkConfig::from_secret_json(SECRET, "http://127.0.0.1:9/ghtk/").unwrap())
    }

    fn consignment() -> Consignment {
        let party = |name: &str, province: &str| Party {
            name: name.into(),
            phone: "0901234567".into(),
            address: "1 Lê Lợi".into(),
            ward: Some("Phường Sài Gòn".into()),
            district: None,
            province: province.into(),
        };
        Consignment {
            reference: crate::reference("01ORDER", 1),
            from: party("Shop A", "Thành phố Hồ Chí Minh"),
            to: party("Buyer B", "Thành phố Hà Nội"),
            items: vec![Item {
                name: "Áo thun".into(),
                quantity: 2,
                weight_grams: 250,
            }],
            weight_grams: 500,
            cod_vnd: 350_000,
            value_vnd: 300_000,
            method: Method::Express,
            note: None,
        }
    }

    #[test]
    fn the_secret_needs_every_field_and_debug_hides_it() {
        let c = GhtkConfig::from_secret_json(SECRET, "https://x/").unwrap();
        assert_eq!(c.api_url, "https://x");
        let shown = format!("{c:?}");
        assert!(!shown.contains("tok-123") && !shown.contains("0123456789abcdef"));
        let e = GhtkConfig::from_secret_json(r#"{"token":"t","partner_code":"p"}"#, "u");
        assert!(e.unwrap_err().to_string().contains("webhook_hash"));
        let e = GhtkConfig::from_secret_json(
            r#"{"token":"t","partner_code":"p","webhook_hash":"short"}"#,
            "u",
        );
        assert!(e.unwrap_err().to_string().contains("shorter"));
        assert!(GhtkConfig::from_secret_json("[]", "u").is_err());
    }

    #[test]
    fn requests_carry_names_weights_and_the_cash_to_collect() {
        let c = consignment();
        let body = order_body(&c);
        let order = &body["order"];
        assert_eq!(order["id"], "01ORDER-1");
        assert_eq!(order["province"], "Thành phố Hà Nội");
        assert_eq!(order["pick_province"], "Thành phố Hồ Chí Minh");
        assert_eq!(order["ward"], "Phường Sài Gòn");
        assert_eq!(order["district"], "");
        assert_eq!(order["pick_money"], 350_000);
        assert_eq!(order["is_freeship"], "1");
        assert_eq!(order["transport"], "fly");
        assert_eq!(body["products"][0]["weight"], 0.25);
        assert_eq!(body["products"][0]["quantity"], 2);
        let q = fee_query(&Consignment {
            method: Method::Standard,
            ..c
        });
        let get = |k: &str| q.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("weight"), Some("500"));
        assert_eq!(get("transport"), Some("road"));
        assert_eq!(get("ward"), Some("Phường Sài Gòn"));
        assert_eq!(
            get("district"),
            None,
            "no district is sent when there is none"
        );
    }

    #[test]
    fn statuses_map_to_moves_and_the_rest_is_noted() {
        assert_eq!(progress(3), Progress::Moved(ShipmentStatus::PickedUp));
        assert_eq!(progress(123), Progress::Moved(ShipmentStatus::PickedUp));
        assert_eq!(progress(4), Progress::Moved(ShipmentStatus::OutForDelivery));
        assert_eq!(progress(5), Progress::Moved(ShipmentStatus::Delivered));
        assert_eq!(progress(45), Progress::Moved(ShipmentStatus::Delivered));
        assert_eq!(progress(9), Progress::Moved(ShipmentStatus::FailedAttempt));
        assert_eq!(
            progress(21),
            Progress::Moved(ShipmentStatus::ReturnedToShop)
        );
        assert_eq!(progress(-1), Progress::Withdrawn);
        for noted in [1, 2, 7, 8, 10, 12, 20, 127, 410] {
            assert_eq!(progress(noted), Progress::Noted, "{noted}");
        }
    }

    #[test]
    fn callbacks_need_our_hash_and_read_json_or_forms() {
        let g = ghtk();
        let body = br#"{"partner_id":"01ORDER-2","label_id":"S1.A1.2","status_id":5,"reason":""}"#;
        let u = g
            .read_update(Some("hash=0123456789abcdef0123"), body)
            .unwrap();
        assert_eq!(u.order_id, "01ORDER");
        assert_eq!(u.label, "S1.A1.2");
        assert_eq!(u.progress, Progress::Moved(ShipmentStatus::Delivered));
        assert_eq!(u.reason, None);
        let form =
            b"partner_id=01ORDER-1&label_id=S1.A1.2&status_id=9&reason=Kh%C3%B4ng+nghe+m%C3%A1y";
        let u = g
            .read_update(Some("x=1&hash=0123456789abcdef0123"), form)
            .unwrap();
        assert_eq!(u.progress, Progress::Moved(ShipmentStatus::FailedAttempt));
        assert_eq!(u.reason.as_deref(), Some("Không nghe máy"));
        assert!(matches!(
            g.read_update(None, body),
            Err(UpdateError::NotAuthentic(_))
        ));
        assert!(matches!(
            g.read_update(Some("hash=0123456789abcdef0124"), body),
            Err(UpdateError::NotAuthentic(_))
        ));
        assert!(matches!(
            g.read_update(Some("hash=0123"), body),
            Err(UpdateError::NotAuthentic(_))
        ));
        let e = g
            .read_update(Some("hash=0123456789abcdef0123"), br#"{"label_id":"S1"}"#)
            .unwrap_err();
        assert_eq!(e, UpdateError::Missing("partner_id"));
        let e = g
            .read_update(
                Some("hash=0123456789abcdef0123"),
                br#"{"partner_id":"01ORDER-1","label_id":"S1","status_id":"five"}"#,
            )
            .unwrap_err();
        assert_eq!(e, UpdateError::Missing("status_id"));
        assert!(matches!(
            g.read_update(Some("hash=0123456789abcdef0123"), b"[1]"),
            Err(UpdateError::Malformed(_))
        ));
        // a partner id that is not one of our references
        let e = g
            .read_update(
                Some("hash=0123456789abcdef0123"),
                br#"{"partner_id":"01ORDER","label_id":"S1","status_id":5}"#,
            )
            .unwrap_err();
        assert_eq!(e, UpdateError::Missing("partner_id"));
        assert_eq!(crate::order_of("01ORDER-12"), Some("01ORDER"));
        assert_eq!(crate::order_of("-1"), None);
        assert_eq!(crate::order_of("01ORDER-x"), None);
    }

    #[tokio::test]
    async fn an_unreachable_carrier_is_unavailable_not_a_refusal() {
        let e = ghtk().cancel("S1.A1.2").await.unwrap_err();
        assert!(matches!(e, CarrierError::Unavailable(_)), "{e:?}");
    }
}
