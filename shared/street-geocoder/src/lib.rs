//! Street-level geocoding in production, behind [`StreetGeocoder`]. The offline gazetteer
//! (`shared::geocode::Gazetteer`) places every address at its ward's centroid, which is what
//! prices and zones need and what checkout uses everywhere, so a quote never depends on a
//! remote call. A shipper at the door needs the street: when a provider is configured, the
//! dispatcher asks it for the drop-off point of each new shipment, keeps the answer only if it
//! lies in the address's own province near its ward ([`fits`]), and otherwise (or when the
//! provider is slow or down) keeps the centroid.
//!
//! The adapter, [`GoogleGeocoder`], speaks the Google Geocoding API's JSON
//! (`GET {base}/maps/api/geocode/json?address=…&components=country:VN&key=…`), which other
//! providers with Vietnamese street data answer in the same shape. It is configured by
//! `GEOCODER_URL` (e.g. `https://maps.googleapis.com`; empty: off) and `GEOCODER_SECRET_ARN`
//! (`{"api_key"}`). Locally it is off.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use shared::geo::distance_km;
use shared::geocode::{AddressPlace, Gazetteer, Geocoder};

/// An address to find: its street line and the names of its ward and province.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreetQuery {
    pub line: String,
    pub ward: Option<String>,
    pub province: String,
}

impl StreetQuery {
    /// `12 Hàng Bạc, Phường Hoàn Kiếm, Thành phố Hà Nội, Việt Nam`.
    pub fn text(&self) -> String {
        let mut parts = vec![self.line.as_str()];
        parts.extend(self.ward.as_deref());
        parts.push(&self.province);
        parts.push("Việt Nam");
        parts.join(", ")
    }
}

/// How exactly the provider found the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// The building.
    Rooftop,
    /// Interpolated between two numbered points of the street.
    Interpolated,
    /// The middle of the street or of a place.
    Street,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreetPoint {
    pub lat: f64,
    pub lng: f64,
    pub precision: Precision,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeocodeError {
    /// The provider refused the request (a bad key, over quota, an invalid query).
    #[error("the geocoder refused: {0}")]
    Refused(String),
    /// Unreachable, slow or broken.
    #[error("the geocoder is unavailable: {0}")]
    Unavailable(String),
}

#[async_trait::async_trait]
pub trait StreetGeocoder: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &'static str;
    /// The point of a street address, or `None` when the provider knows no better than the
    /// ward (no result, or only an approximate one).
    async fn street_point(&self, query: &StreetQuery) -> Result<Option<StreetPoint>, GeocodeError>;
}

/// Farthest a street point may be from its ward's centroid (wards of the 2025 division are
/// at most a few tens of kilometres across), or from the province's when the ward is not known.
pub const MAX_KM_FROM_WARD: f64 = 25.0;
pub const MAX_KM_FROM_PROVINCE: f64 = 150.0;

/// Whether a provider's point is believable for an address placed at `place`: it falls in
/// the same province (by the gazetteer) and near the place's centroid. A provider that matched
/// a street of the same name elsewhere is not believed.
pub fn fits(place: &AddressPlace, point: (f64, f64)) -> bool {
    let Some(ward) = Gazetteer.ward_at(point.0, point.1) else {
        return false;
    };
    let limit = if place.ward_code.is_some() {
        MAX_KM_FROM_WARD
    } else {
        MAX_KM_FROM_PROVINCE
    };
    ward.province_code == place.province_code && distance_km(place.point(), point) <= limit
}

#[derive(Clone)]
pub struct GoogleGeocoder {
    base_url: String,
    api_key: String,
    http: reqwest::Client,
}

/// Never prints the key.
impl std::fmt::Debug for GoogleGeocoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleGeocoder")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl GoogleGeocoder {
    /// 1 s to connect, 2 s for the call: a new shipment waits for it, so it must be quick.
    pub fn new(base_url: &str, api_key: &str) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(2))
            .build()
            .expect("the TLS backend initialises");
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
            http,
        }
    }

    /// From `GEOCODER_URL` and the `{"api_key"}` secret at `GEOCODER_SECRET_ARN`; `None` when
    /// the URL is unset or empty (street geocoding is off).
    pub async fn from_env(
        sdk: &aws_config::SdkConfig,
    ) -> anyhow::Result<Option<Arc<dyn StreetGeocoder>>> {
        let Some(url) = std::env::var("GEOCODER_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
        else {
            return Ok(None);
        };
        let secret = shared::state::secret_from_env(sdk, "GEOCODER_SECRET_ARN")
            .await?
            .ok_or_else(|| anyhow::anyhow!("GEOCODER_URL is set but GEOCODER_SECRET_ARN is not"))?;
        #[derive(Deserialize)]
        struct Secret {
            #[serde(default)]
            api_key: String,
        }
        let key = serde_json::from_str::<Secret>(&secret)
            .map_err(|_| anyhow::anyhow!("the geocoder secret is not a JSON object"))?
            .api_key;
        anyhow::ensure!(!key.trim().is_empty(), "the geocoder secret has no api_key");
        Ok(Some(Arc::new(Self::new(&url, &key))))
    }
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    results: Vec<Hit>,
    #[serde(default)]
    error_message: Option<String>,
}

#[derive(Deserialize)]
struct Hit {
    geometry: Geometry,
}

#[derive(Deserialize)]
struct Geometry {
    location: Location,
    #[serde(default)]
    location_type: String,
}

#[derive(Deserialize)]
struct Location {
    lat: f64,
    lng: f64,
}

#[async_trait::async_trait]
impl StreetGeocoder for GoogleGeocoder {
    fn name(&self) -> &'static str {
        "google-geocoding"
    }

    async fn street_point(&self, query: &StreetQuery) -> Result<Option<StreetPoint>, GeocodeError> {
        let unavailable =
            |e: reqwest::Error| GeocodeError::Unavailable(e.without_url().to_string());
        let response = self
            .http
            .get(format!("{}/maps/api/geocode/json", self.base_url))
            .query(&[
                ("address", query.text().as_str()),
                ("components", "country:VN"),
                ("language", "vi"),
                ("key", self.api_key.as_str()),
            ])
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(GeocodeError::Unavailable(format!(
                "HTTP {}",
                status.as_u16()
            )));
        }
        let body = response.bytes().await.map_err(unavailable)?;
        let answer: Answer = serde_json::from_slice(&body).map_err(|e| {
            GeocodeError::Unavailable(format!(
                "an answer that is not the Geocoding API's (HTTP {}): {e}",
                status.as_u16()
            ))
        })?;
        match answer.status.as_str() {
            "OK" => {}
            "ZERO_RESULTS" => return Ok(None),
            "UNKNOWN_ERROR" => return Err(GeocodeError::Unavailable("UNKNOWN_ERROR".into())),
            other => {
                return Err(GeocodeError::Refused(match answer.error_message {
                    Some(m) => format!("{other}: {m}"),
                    None => other.to_owned(),
                }));
            }
        }
        let Some(first) = answer.results.into_iter().next() else {
            return Ok(None);
        };
        let precision = match first.geometry.location_type.as_str() {
            "ROOFTOP" => Precision::Rooftop,
            "RANGE_INTERPOLATED" => Precision::Interpolated,
            "GEOMETRIC_CENTER" => Precision::Street,
            // APPROXIMATE: a ward or a town, no better than the gazetteer's centroid
            _ => return Ok(None),
        };
        let Location { lat, lng } = first.geometry.location;
        Ok(Some(StreetPoint {
            lat,
            lng,
            precision,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::Query;
    use axum::routing::get;
    use std::collections::HashMap;

    fn query() -> StreetQuery {
        StreetQuery {
            line: "12 Hàng Bạc".into(),
            ward: Some("Phường Hoàn Kiếm".into()),
            province: "Thành phố Hà Nội".into(),
        }
    }

    /// A stand-in for the provider on a loopback port: answers by the address it is asked.
    async fn provider() -> String {
        let app = axum::Router::new().route(
            "/maps/api/geocode/json",
            get(|Query(q): Query<HashMap<String, String>>| async move {
                let key_ok = q.get("key").map(String::as_str) == Some("k-123")
                    && q.get("components").map(String::as_str) == Some("country:VN");
                let address = q.get("address").cloned().unwrap_or_default();
                let body = match () {
                    _ if !key_ok => serde_json::json!({"status": "REQUEST_DENIED", "error_message": "The provided API key is invalid."}),
                    _ if address.starts_with("12 Hàng Bạc, Phường Hoàn Kiếm, Thành phố Hà Nội") => serde_json::json!({
                        "status": "OK",
                        "results": [{"geometry": {"location": {"lat": 21.0341, "lng": 105.8520}, "location_type": "ROOFTOP"}}]
                    }),
                    _ if address.starts_with("Somewhere") => serde_json::json!({
                        "status": "OK",
                        "results": [{"geometry": {"location": {"lat": 21.03, "lng": 105.85}, "location_type": "APPROXIMATE"}}]
                    }),
                    _ if address.starts_with("Broken") => return (axum::http::StatusCode::BAD_GATEWAY, "upstream").into_response(),
                    _ => serde_json::json!({"status": "ZERO_RESULTS", "results": []}),
                };
                axum::Json(body).into_response()
            }),
        );
        use axum::response::IntoResponse;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    #[tokio::test]
    async fn answers_are_read_by_precision_and_refusals_are_told_apart() {
        let url = provider().await;
        let g = GoogleGeocoder::new(&url, "k-123");
        let p = g.street_point(&query()).await.unwrap().unwrap();
        assert_eq!(
            (p.lat, p.lng, p.precision),
            (21.0341, 105.8520, Precision::Rooftop)
        );
        let approx = StreetQuery {
            line: "Somewhere".into(),
            ..query()
        };
        assert_eq!(
            g.street_point(&approx).await.unwrap(),
            None,
            "approximate is not a street"
        );
        let none = StreetQuery {
            line: "1 Nowhere".into(),
            ..query()
        };
        assert_eq!(g.street_point(&none).await.unwrap(), None);
        let broken = StreetQuery {
            line: "Broken".into(),
            ..query()
        };
        assert!(matches!(
            g.street_point(&broken).await,
            Err(GeocodeError::Unavailable(_))
        ));
        let bad_key = GoogleGeocoder::new(&url, "wrong");
        let e = bad_key.street_point(&query()).await.unwrap_err();
        assert_eq!(
            e,
            GeocodeError::Refused("REQUEST_DENIED: The provided API key is invalid.".into())
        );
        assert!(
            !format!("{bad_key:?}").contains("wrong"),
            "the key never prints"
        );
        let nobody = GoogleGeocoder::new("http://127.0.0.1:9", "k");
        assert!(matches!(
            nobody.street_point(&query()).await,
            Err(GeocodeError::Unavailable(_))
        ));
    }

    #[test]
    fn a_point_is_believed_only_in_the_addresses_province_and_near_its_ward() {
        let hoan_kiem = AddressPlace {
            province_code: "01".into(),
            ward_code: Some("00070".into()),
            lat: 21.0287,
            lng: 105.8524,
        };
        assert!(fits(&hoan_kiem, (21.0341, 105.8520)));
        // the same street name in Hồ Chí Minh City
        assert!(!fits(&hoan_kiem, (10.7725, 106.698)));
        // in Hà Nội but 40 km away from the ward
        assert!(!fits(&hoan_kiem, (21.25, 105.50)));
        // at sea
        assert!(!fits(&hoan_kiem, (17.0, 112.0)));
        let province_only = AddressPlace {
            ward_code: None,
            ..hoan_kiem
        };
        assert!(
            fits(&province_only, (21.257, 105.849)),
            "Sóc Sơn, 25 km north"
        );
    }

    #[test]
    fn the_query_names_street_ward_province_and_country() {
        assert_eq!(
            query().text(),
            "12 Hàng Bạc, Phường Hoàn Kiếm, Thành phố Hà Nội, Việt Nam"
        );
    }
}
