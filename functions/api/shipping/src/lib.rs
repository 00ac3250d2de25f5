//! `/api/v1/shipping/*`: shipping methods and providers, prices by distance, zone and weight,
//! address validation, geocoding and distances (public; they read nothing from DynamoDB:
//! prices come from the one pure function `shared::domain::shipping::quote`, places from the
//! embedded gazetteer, [`geocode`]); the fleet's shippers ([`fleet`]); shipments, tracking and
//! labels ([`shipments`]).
//!
//! A price needs the two ends' coordinates: the zone comes from the wards they fall in (the
//! nearest ward centroid), the distance from the great circle between them. A point more than
//! [`geocode::MAX_KM_FROM_A_WARD`] from every ward is outside the delivery area (422).

use shared::geocode;
pub mod fleet;
pub mod handover;
pub mod model;
pub mod shipments;

use axum::{Extension, Json};
use shared::domain::Currency;
use shared::domain::shipping::{
    self, DIMENSIONAL_DIVISOR, DISTANCE_STEP_KM, INCLUDED_KM, Leg, MAX_GRAMS, Method, Parcel,
    PricingError, Quote, SAME_DAY_RADIUS_KM, Zone,
};
use shared::http::{Query, ValidJson};
use shared::validate::Errors;
use shared::{ApiError, AppState};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use geocode::{Gazetteer, Geocoder, Precision};
use model::*;

pub const TAG: &str = "shipping";

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(shared::openapi::base())
        .routes(routes!(methods))
        .routes(routes!(providers))
        .routes(routes!(calculate))
        .routes(routes!(calculate_fees))
        .routes(routes!(cost_calculator))
        .routes(routes!(weight_pricing))
        .routes(routes!(validate_address))
        .routes(routes!(geocode_addresses))
        .routes(routes!(distance_matrix))
        .routes(routes!(fleet::register_shipper))
        .routes(routes!(fleet::list_shippers))
        .routes(routes!(fleet::available_shippers))
        .routes(routes!(fleet::get_shipper))
        .routes(routes!(fleet::decide_shipper))
        .routes(routes!(fleet::set_shipper_status))
        .routes(routes!(fleet::report_shipper_location))
        .routes(routes!(fleet::shipper_location))
        .routes(routes!(fleet::shipper_jobs))
        .routes(routes!(shipments::shipment_tracking))
        .routes(routes!(shipments::track_parcel))
        .routes(routes!(shipments::accept_offer))
        .routes(routes!(shipments::decline_offer))
        .routes(routes!(shipments::assign_shipper))
        .routes(routes!(shipments::move_shipment))
        .routes(routes!(shipments::delivery_photo))
        .routes(routes!(shipments::report_shipment_location))
        .routes(routes!(shipments::print_labels))
        .routes(routes!(handover::hand_over_parcel))
        .routes(routes!(handover::carrier_update))
}

pub fn router(state: AppState, carriers: shipping_carriers::Carriers) -> axum::Router {
    let (routes, _) = api().split_for_parts();
    shared::http::finish(routes.layer(handover::extension(carriers)), state)
}

const fn method_text(m: Method) -> (&'static str, &'static str) {
    match m {
        Method::Standard => ("Standard", "Delivered in 1–5 days by zone."),
        Method::Express => ("Express", "Faster, at 1.5 × the standard price."),
        Method::SameDay => (
            "Same day",
            "Delivered today within 30 km of the shop, at 2.5 × the standard price.",
        ),
        Method::Pickup => ("Pickup", "Collected by the buyer at the shop; free."),
    }
}

/// The delivery methods, their multipliers, reach and delivery days per zone.
#[utoipa::path(get, path = "/api/v1/shipping/methods", tag = TAG,
    responses((status = 200, description = "Every method", body = Methods)))]
async fn methods() -> Json<Methods> {
    let items = Method::ALL
        .into_iter()
        .map(|method| {
            let (name, description) = method_text(method);
            MethodInfo {
                method,
                name,
                description,
                multiplier_pct: method.multiplier_pct(),
                max_distance_km: (method == Method::SameDay).then_some(SAME_DAY_RADIUS_KM),
                days: Zone::ALL
                    .into_iter()
                    .map(|zone| {
                        let (min_days, max_days) = method.days(zone);
                        ZoneDays {
                            zone,
                            min_days,
                            max_days,
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    Json(Methods { items })
}

/// Who delivers: the marketplace's own fleet (every method, live tracking), and the outside
/// carriers configured for this deployment (each behind its adapter; locally the provider
/// sandbox stands in for GHTK). Shop staff hand a parcel to one with `shipping/assign`.
#[utoipa::path(get, path = "/api/v1/shipping/providers", tag = TAG,
    responses((status = 200, description = "Every provider", body = Providers)))]
async fn providers(Extension(carriers): handover::CarrierSet) -> Json<Providers> {
    let mut items = vec![Provider {
        id: shared::shipments::OWN_FLEET,
        name: "Marketplace Express",
        kind: ProviderKind::OwnFleet,
        methods: Method::ALL.to_vec(),
        live_tracking: true,
    }];
    items.extend(carriers.all().iter().map(|c| Provider {
        id: c.id(),
        name: c.name(),
        kind: ProviderKind::Carrier,
        methods: c.methods().to_vec(),
        live_tracking: false,
    }));
    Json(Providers { items })
}

/// The leg between two points, or a 422 naming the end outside the delivery area.
fn leg_between(from: Point, to: Point, names: (&str, &str)) -> Result<Leg, ApiError> {
    geocode::leg(&Gazetteer, from.pair(), to.pair())
        .map(|(distance_km, zone)| Leg { distance_km, zone })
        .map_err(|end| {
            let field = if end == "from" { names.0 } else { names.1 };
            ApiError::field(
                field,
                "is outside the delivery area (more than 60 km from every ward of Vietnam)",
            )
        })
}

/// A pricing refusal as a 422 naming `method` or `weight_grams`.
fn pricing_problem(e: PricingError) -> ApiError {
    match e {
        PricingError::SameDayTooFar { .. } => ApiError::field("method", e.to_string()),
        PricingError::TooHeavy => ApiError::field("weight_grams", e.to_string()),
    }
}

fn priced(method: Method, leg: Leg, parcel: Parcel, currency: Currency) -> Result<Quote, ApiError> {
    shipping::quote(method, leg, parcel, currency).map_err(pricing_problem)
}

/// The price of one method for a parcel from `from` to `to`: zone, distance, chargeable weight
/// (the larger of actual and dimensional) and the parts of the fee.
#[utoipa::path(post, path = "/api/v1/shipping/calculate", tag = TAG,
    request_body = CalculateRequest,
    responses(
        (status = 200, description = "The price and how it was reached", body = Quote),
        shared::openapi::BodyErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn calculate(ValidJson(req): ValidJson<CalculateRequest>) -> Result<Json<Quote>, ApiError> {
    let parcel = req.parcel.expect("set by validate");
    let leg = leg_between(req.from, req.to, ("from", "to"))?;
    let currency = req.currency.unwrap_or(Currency::VND);
    priced(req.method, leg, parcel, currency).map(Json)
}

/// Every method's price for one parcel and destination, cheapest first; the methods that
/// cannot serve it (same-day too far) are listed with the reason.
#[utoipa::path(post, path = "/api/v1/shipping/calculate-fees", tag = TAG,
    request_body = FeesRequest,
    responses(
        (status = 200, description = "Prices by method", body = Fees),
        shared::openapi::BodyErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn calculate_fees(ValidJson(req): ValidJson<FeesRequest>) -> Result<Json<Fees>, ApiError> {
    let parcel = req.parcel.expect("set by validate");
    let leg = leg_between(req.from, req.to, ("from", "to"))?;
    let currency = req.currency.unwrap_or(Currency::VND);
    let mut quotes = Vec::new();
    let mut unavailable = Vec::new();
    for method in Method::ALL {
        match shipping::quote(method, leg, parcel, currency) {
            Ok(q) => quotes.push(q),
            Err(e @ PricingError::SameDayTooFar { .. }) => unavailable.push(Unavailable {
                method,
                reason: e.to_string(),
            }),
            Err(e) => return Err(pricing_problem(e)),
        }
    }
    quotes.sort_by_key(|q| q.fee.amount);
    Ok(Json(Fees {
        quotes,
        unavailable,
    }))
}

/// [`calculate`] as a query string (for links and simple clients).
#[utoipa::path(get, path = "/api/v1/shipping/cost-calculator", tag = TAG,
    params(CostQuery),
    responses(
        (status = 200, description = "The price and how it was reached", body = Quote),
        (status = 400, description = "Malformed query string (a missing or non-numeric parameter, an unknown method or currency)", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A coordinate out of range or outside the delivery area, a weight or side out of range, same-day beyond its radius; `errors` names the parameter", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
async fn cost_calculator(Query(q): Query<CostQuery>) -> Result<Json<Quote>, ApiError> {
    let mut errors = Errors::default();
    check_point(
        &mut errors,
        ("from_lat", q.from_lat),
        ("from_lng", q.from_lng),
    );
    check_point(&mut errors, ("to_lat", q.to_lat), ("to_lng", q.to_lng));
    let parcel = model::parcel(
        &mut errors,
        ("weight_grams", q.weight_grams),
        [
            ("length_cm", q.length_cm),
            ("width_cm", q.width_cm),
            ("height_cm", q.height_cm),
        ],
    );
    errors.finish().map_err(ApiError::Validation)?;
    let parcel = parcel.expect("checked");
    let from = Point {
        lat: q.from_lat,
        lng: q.from_lng,
    };
    let to = Point {
        lat: q.to_lat,
        lng: q.to_lng,
    };
    let leg = leg_between(from, to, ("from_lat", "to_lat"))?;
    let method = q.method.unwrap_or(Method::Standard);
    let currency = q.currency.unwrap_or(Currency::VND);
    priced(method, leg, parcel, currency).map(Json)
}

/// The tariff prices are computed from, in one currency.
#[utoipa::path(get, path = "/api/v1/shipping/weight-pricing", tag = TAG,
    params(CurrencyQuery),
    responses(
        (status = 200, description = "The tariff", body = WeightPricing),
        (status = 400, description = "Unknown currency", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
async fn weight_pricing(Query(q): Query<CurrencyQuery>) -> Json<WeightPricing> {
    let currency = q.currency.unwrap_or(Currency::VND);
    let rate = |zone: Zone, grams: u64, km: f64| {
        let leg = Leg {
            distance_km: km,
            zone,
        };
        let parcel = Parcel {
            weight_grams: grams,
            dimensions_cm: None,
        };
        shipping::quote(Method::Standard, leg, parcel, currency).expect("within the limits")
    };
    let step_grams = shared::domain::checkout::STEP_GRAMS;
    let included_grams = shared::domain::checkout::INCLUDED_GRAMS;
    let zones = Zone::ALL
        .into_iter()
        .map(|zone| {
            let q = rate(zone, included_grams + 1, 0.0);
            ZoneRate {
                zone,
                base: q.base,
                per_step: q.weight_surcharge,
            }
        })
        .collect();
    let one_step = rate(Zone::SameDistrict, 0, INCLUDED_KM + 1.0).distance_surcharge;
    let capped = rate(Zone::SameDistrict, 0, 40_000.0).distance_surcharge;
    Json(WeightPricing {
        currency,
        included_grams,
        step_grams,
        dimensional_divisor: DIMENSIONAL_DIVISOR,
        max_grams: MAX_GRAMS,
        zones,
        included_km: INCLUDED_KM,
        distance_step_km: DISTANCE_STEP_KM,
        distance_step_fee: one_step,
        distance_cap: capped,
        methods: Method::ALL
            .into_iter()
            .map(|method| MethodRate {
                method,
                multiplier_pct: method.multiplier_pct(),
            })
            .collect(),
    })
}

fn check_address(address: AddressLookup) -> AddressCheck {
    let mut problems: Vec<AddressProblem> = Vec::new();
    let country = address
        .country
        .as_deref()
        .unwrap_or("VN")
        .to_ascii_uppercase();
    if country != "VN" {
        problems.push(AddressProblem {
            field: "country".into(),
            message: "only addresses in Vietnam (VN) are delivered".into(),
            suggestions: vec!["VN".into()],
        });
    }
    let (place, found) = Gazetteer.locate(&address.province, address.ward.as_deref());
    problems.extend(found.into_iter().map(|p| AddressProblem {
        field: p.field.into(),
        message: p.message,
        suggestions: p.suggestions,
    }));
    let placed = place.map(|place| {
        let (lat, lng) = place.point();
        PlacedAddress {
            line1: address.line1.clone(),
            ward: place.ward.map(|w| w.name.to_owned()),
            ward_code: place.ward.map(|w| w.code.to_owned()),
            province: place.province.name.to_owned(),
            province_code: place.province.code.to_owned(),
            country: "VN",
            location: Point { lat, lng },
            precision: match place.precision() {
                Precision::Ward => "ward",
                Precision::Province => "province",
            },
        }
    });
    AddressCheck {
        valid: problems.is_empty() && placed.is_some(),
        address: placed,
        problems,
    }
}

/// Checks an address against the 2025 division (34 provinces, no districts): its province and
/// ward, written with or without diacritics; answers the official names and codes, the
/// centroid, and what is wrong with close names. A bad address is a 200 with `valid: false`;
/// 422 is for a malformed body.
#[utoipa::path(post, path = "/api/v1/shipping/validate-address", tag = TAG,
    request_body = AddressLookup,
    responses(
        (status = 200, description = "What was recognised and what was not", body = AddressCheck),
        shared::openapi::BodyErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn validate_address(ValidJson(address): ValidJson<AddressLookup>) -> Json<AddressCheck> {
    Json(check_address(address))
}

/// Coordinates of up to 20 addresses (each its ward's centroid, or its province's when the
/// ward is not known), in order.
#[utoipa::path(post, path = "/api/v1/shipping/geocode", tag = TAG,
    request_body = GeocodeRequest,
    responses(
        (status = 200, description = "One result per address", body = Geocoded),
        shared::openapi::BodyErrors,
    ))]
#[tracing::instrument(skip_all)]
async fn geocode_addresses(ValidJson(req): ValidJson<GeocodeRequest>) -> Json<Geocoded> {
    Json(Geocoded {
        results: req.addresses.into_iter().map(check_address).collect(),
    })
}

/// Distances and zones from one origin to up to 25 destinations.
#[utoipa::path(get, path = "/api/v1/shipping/distance-matrix", tag = TAG,
    params(DistanceMatrixQuery),
    responses(
        (status = 200, description = "One row per destination, in order", body = DistanceMatrix),
        (status = 400, description = "Malformed query string (a parameter missing)", body = shared::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A point that is not `lat,lng` in range, or more than 25 destinations, or an origin outside the delivery area", body = shared::error::Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
async fn distance_matrix(
    Query(q): Query<DistanceMatrixQuery>,
) -> Result<Json<DistanceMatrix>, ApiError> {
    let mut errors = Errors::default();
    let origin = parse_point("origin", &q.origin, &mut errors);
    let parts: Vec<&str> = q.destinations.split('|').collect();
    if parts.len() > MAX_DESTINATIONS {
        errors.push("destinations", "at most 25 destinations");
    }
    let destinations: Vec<Option<Point>> = parts
        .iter()
        .map(|p| parse_point("destinations", p, &mut errors))
        .collect();
    errors.finish().map_err(ApiError::Validation)?;
    let origin = origin.expect("checked");
    let from = Gazetteer
        .ward_at(origin.lat, origin.lng)
        .ok_or_else(|| ApiError::field("origin", "is outside the delivery area"))?;
    let rows = destinations
        .into_iter()
        .map(|d| {
            let destination = d.expect("checked");
            let km = shared::geo::distance_km(origin.pair(), destination.pair());
            let zone = Gazetteer
                .ward_at(destination.lat, destination.lng)
                .map(|to| {
                    Zone::of(
                        (from.province_code, from.code),
                        (to.province_code, to.code),
                        km,
                    )
                });
            DistanceRow {
                destination,
                distance_km: (km * 10.0).round() / 10.0,
                zone,
            }
        })
        .collect();
    Ok(Json(DistanceMatrix { origin, rows }))
}
