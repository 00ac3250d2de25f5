//! Request and response bodies of the shipping routes, with their checks.

use serde::{Deserialize, Serialize};
use shared::domain::Currency;
use shared::domain::shipping::{MAX_GRAMS, MAX_SIDE_CM, Method, Parcel, Quote, Zone};
use shared::error::FieldError;
use shared::validate::{Errors, Validate};
use utoipa::{IntoParams, ToSchema};

/// Addresses geocoded by one request, at most.
pub const MAX_ADDRESSES: usize = 20;
/// Destinations of one distance matrix, at most.
pub const MAX_DESTINATIONS: usize = 25;

/// A point (WGS 84 degrees).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Point {
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub lng: f64,
}

impl Point {
    pub fn pair(self) -> (f64, f64) {
        (self.lat, self.lng)
    }
}

/// Checks a latitude and a longitude (finite, in range), naming `<field>.lat` / `<field>.lng`
/// or the two fields given.
pub fn check_point(errors: &mut Errors, lat: (&str, f64), lng: (&str, f64)) {
    if !lat.1.is_finite() || !(-90.0..=90.0).contains(&lat.1) {
        errors.push(lat.0, "must be a latitude from -90 to 90");
    }
    if !lng.1.is_finite() || !(-180.0..=180.0).contains(&lng.1) {
        errors.push(lng.0, "must be a longitude from -180 to 180");
    }
}

fn check_named_point(errors: &mut Errors, field: &str, p: &Point) {
    check_point(
        errors,
        (&format!("{field}.lat"), p.lat),
        (&format!("{field}.lng"), p.lng),
    );
}

/// The parcel's sides in cm.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dimensions {
    #[schema(minimum = 1, maximum = 200)]
    pub length_cm: i64,
    #[schema(minimum = 1, maximum = 200)]
    pub width_cm: i64,
    #[schema(minimum = 1, maximum = 200)]
    pub height_cm: i64,
}

/// Checks a weight and optional sides, and makes the parcel.
pub fn parcel(
    errors: &mut Errors,
    weight: (&str, i64),
    sides: [(&str, Option<i64>); 3],
) -> Option<Parcel> {
    let mut ok = true;
    if !(0..=MAX_GRAMS as i64).contains(&weight.1) {
        errors.push(weight.0, "must be 0 to 50000 grams");
        ok = false;
    }
    let given = sides.iter().filter(|(_, v)| v.is_some()).count();
    if given != 0 && given != 3 {
        errors.push(sides[0].0, "give all three sides or none");
        ok = false;
    }
    for (field, v) in sides {
        if v.is_some_and(|v| !(1..=i64::from(MAX_SIDE_CM)).contains(&v)) {
            errors.push(field, "must be 1 to 200 cm");
            ok = false;
        }
    }
    let dimensions_cm = match sides {
        [(_, Some(l)), (_, Some(w)), (_, Some(h))] => Some((l as u32, w as u32, h as u32)),
        _ => None,
    };
    ok.then_some(Parcel {
        weight_grams: weight.1 as u64,
        dimensions_cm,
    })
}

/// The checks of a priced body: both points, the weight and the sides; the parcel.
fn route_parcel(
    from: &Point,
    to: &Point,
    weight_grams: i64,
    dimensions: Option<&Dimensions>,
) -> Result<Parcel, Vec<FieldError>> {
    let mut errors = Errors::default();
    check_named_point(&mut errors, "from", from);
    check_named_point(&mut errors, "to", to);
    let parcel = parcel(
        &mut errors,
        ("weight_grams", weight_grams),
        [
            ("dimensions_cm.length_cm", dimensions.map(|d| d.length_cm)),
            ("dimensions_cm.width_cm", dimensions.map(|d| d.width_cm)),
            ("dimensions_cm.height_cm", dimensions.map(|d| d.height_cm)),
        ],
    );
    errors.finish()?;
    Ok(parcel.expect("no errors, so a parcel"))
}

/// `POST shipping/calculate`: one method's price from a shop to a destination.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalculateRequest {
    /// The shop (or wherever the parcel is picked up).
    pub from: Point,
    pub to: Point,
    /// Actual weight in grams.
    #[schema(minimum = 0, maximum = 50000)]
    pub weight_grams: i64,
    /// Sides, for the dimensional weight (L × W × H / 5 000 kg).
    pub dimensions_cm: Option<Dimensions>,
    pub method: Method,
    /// Default VND.
    pub currency: Option<Currency>,
    #[serde(skip)]
    #[schema(ignore)]
    pub parcel: Option<Parcel>,
}

impl Validate for CalculateRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        self.parcel = Some(route_parcel(
            &self.from,
            &self.to,
            self.weight_grams,
            self.dimensions_cm.as_ref(),
        )?);
        Ok(())
    }
}

/// `POST shipping/calculate-fees`: every method's price for one parcel and destination.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeesRequest {
    pub from: Point,
    pub to: Point,
    #[schema(minimum = 0, maximum = 50000)]
    pub weight_grams: i64,
    pub dimensions_cm: Option<Dimensions>,
    pub currency: Option<Currency>,
    #[serde(skip)]
    #[schema(ignore)]
    pub parcel: Option<Parcel>,
}

impl Validate for FeesRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        self.parcel = Some(route_parcel(
            &self.from,
            &self.to,
            self.weight_grams,
            self.dimensions_cm.as_ref(),
        )?);
        Ok(())
    }
}

/// A method that cannot serve this parcel, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unavailable {
    pub method: Method,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Fees {
    /// Cheapest first.
    pub quotes: Vec<Quote>,
    pub unavailable: Vec<Unavailable>,
}

/// `GET shipping/cost-calculator`: [`CalculateRequest`] as a query string.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CostQuery {
    #[param(minimum = -90, maximum = 90)]
    pub from_lat: f64,
    #[param(minimum = -180, maximum = 180)]
    pub from_lng: f64,
    #[param(minimum = -90, maximum = 90)]
    pub to_lat: f64,
    #[param(minimum = -180, maximum = 180)]
    pub to_lng: f64,
    #[param(minimum = 0, maximum = 50000)]
    pub weight_grams: i64,
    /// All three sides or none.
    #[param(minimum = 1, maximum = 200)]
    pub length_cm: Option<i64>,
    #[param(minimum = 1, maximum = 200)]
    pub width_cm: Option<i64>,
    #[param(minimum = 1, maximum = 200)]
    pub height_cm: Option<i64>,
    /// Default standard.
    pub method: Option<Method>,
    /// Default VND.
    pub currency: Option<Currency>,
}

/// `?currency=` (default VND).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CurrencyQuery {
    pub currency: Option<Currency>,
}

/// One zone's rates.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneRate {
    pub zone: Zone,
    /// Covers the first `included_grams`.
    pub base: shared::domain::Money,
    /// Each started `step_grams` beyond.
    pub per_step: shared::domain::Money,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MethodRate {
    pub method: Method,
    pub multiplier_pct: i64,
}

/// The tariff [`Quote`]s come from.
#[derive(Debug, Serialize, ToSchema)]
pub struct WeightPricing {
    pub currency: Currency,
    pub included_grams: u64,
    pub step_grams: u64,
    /// cm³ per kg of dimensional weight.
    pub dimensional_divisor: u64,
    pub max_grams: u64,
    pub zones: Vec<ZoneRate>,
    /// Distance included in every price, then `distance_step_fee` per started
    /// `distance_step_km`, at most `distance_cap`.
    pub included_km: f64,
    pub distance_step_km: f64,
    pub distance_step_fee: shared::domain::Money,
    pub distance_cap: shared::domain::Money,
    pub methods: Vec<MethodRate>,
}

/// Delivery days of a method in a zone (0: the same day).
#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneDays {
    pub zone: Zone,
    pub min_days: u32,
    pub max_days: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MethodInfo {
    pub method: Method,
    pub name: &'static str,
    pub description: &'static str,
    pub multiplier_pct: i64,
    /// How far from the shop the method reaches (same-day only).
    pub max_distance_km: Option<f64>,
    pub days: Vec<ZoneDays>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Methods {
    pub items: Vec<MethodInfo>,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// The marketplace's own shippers (assigned automatically, tracked live).
    OwnFleet,
    /// An outside carrier, called through its adapter.
    Carrier,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Provider {
    pub id: &'static str,
    pub name: &'static str,
    pub kind: ProviderKind,
    pub methods: Vec<Method>,
    pub live_tracking: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Providers {
    pub items: Vec<Provider>,
}

/// An address to check or place: its province and, optionally, its ward (2025 division: no
/// district), with or without diacritics.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressLookup {
    /// Street and number (kept as written, trimmed).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub line1: Option<String>,
    /// Ward, commune or special zone ("Phường Ba Đình", "ba dinh").
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub ward: Option<String>,
    /// Province or centrally governed city ("Hà Nội", "TP HCM").
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f](?:[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$"
    )]
    pub province: String,
    /// ISO 3166-1 alpha-2; only `VN` is served (default).
    #[schema(pattern = "^[A-Za-z]{2}$")]
    pub country: Option<String>,
}

impl AddressLookup {
    fn check(&mut self, prefix: &str, errors: &mut Errors) {
        let f = |name: &str| format!("{prefix}{name}");
        if let Some(line1) = self.line1.as_mut() {
            errors.check(shared::validate::text(&f("line1"), line1, 1, 200));
        }
        if let Some(ward) = self.ward.as_mut() {
            errors.check(shared::validate::text(&f("ward"), ward, 1, 100));
        }
        errors.check(shared::validate::text(
            &f("province"),
            &mut self.province,
            1,
            100,
        ));
        if let Some(country) = self.country.as_mut() {
            errors.check(shared::validate::country(&f("country"), country));
        }
    }
}

impl Validate for AddressLookup {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        self.check("", &mut errors);
        errors.finish()
    }
}

/// An address as the gazetteer knows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlacedAddress {
    pub line1: Option<String>,
    pub ward: Option<String>,
    pub ward_code: Option<String>,
    pub province: String,
    pub province_code: String,
    pub country: &'static str,
    /// The ward's centroid, or the province's when the ward is not known.
    pub location: Point,
    /// `ward` or `province`: which centroid `location` is.
    pub precision: &'static str,
}

/// One thing wrong with an address.
#[derive(Debug, Serialize, ToSchema)]
pub struct AddressProblem {
    pub field: String,
    pub message: String,
    /// Close names, best first.
    pub suggestions: Vec<String>,
}

/// `valid`: every part was recognised. `address` is what could be placed (absent when the
/// province is not recognised).
#[derive(Debug, Serialize, ToSchema)]
pub struct AddressCheck {
    pub valid: bool,
    pub address: Option<PlacedAddress>,
    pub problems: Vec<AddressProblem>,
}

/// `POST shipping/geocode`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GeocodeRequest {
    #[schema(min_items = 1, max_items = 20)]
    pub addresses: Vec<AddressLookup>,
}

impl Validate for GeocodeRequest {
    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        if self.addresses.is_empty() || self.addresses.len() > MAX_ADDRESSES {
            errors.push("addresses", "1 to 20 addresses");
        }
        for (i, a) in self.addresses.iter_mut().enumerate() {
            a.check(&format!("addresses[{i}]."), &mut errors);
        }
        errors.finish()
    }
}

/// One result per address, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct Geocoded {
    pub results: Vec<AddressCheck>,
}

/// `GET shipping/distance-matrix`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DistanceMatrixQuery {
    /// `lat,lng` (the shop).
    #[param(pattern = r"^-?[0-9]{1,2}(\.[0-9]{1,7})?,-?[0-9]{1,3}(\.[0-9]{1,7})?$")]
    pub origin: String,
    /// 1 to 25 destinations, `lat,lng|lat,lng|…`.
    #[param(
        pattern = r"^-?[0-9]{1,2}(\.[0-9]{1,7})?,-?[0-9]{1,3}(\.[0-9]{1,7})?(\|-?[0-9]{1,2}(\.[0-9]{1,7})?,-?[0-9]{1,3}(\.[0-9]{1,7})?){0,24}$"
    )]
    pub destinations: String,
}

/// Parses `lat,lng`, naming `field` when it is not a valid point.
pub fn parse_point(field: &str, s: &str, errors: &mut Errors) -> Option<Point> {
    let parsed = s
        .split_once(',')
        .and_then(|(a, b)| Some((a.trim().parse::<f64>().ok()?, b.trim().parse::<f64>().ok()?)));
    let Some((lat, lng)) = parsed else {
        errors.push(field, "must be `lat,lng` in degrees");
        return None;
    };
    let before = errors.0.len();
    check_point(errors, (field, lat), (field, lng));
    (errors.0.len() == before).then_some(Point { lat, lng })
}

/// One destination's distance and zone (absent outside the delivery area).
#[derive(Debug, Serialize, ToSchema)]
pub struct DistanceRow {
    pub destination: Point,
    /// Great-circle km (one decimal).
    pub distance_km: f64,
    pub zone: Option<Zone>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DistanceMatrix {
    pub origin: Point,
    pub rows: Vec<DistanceRow>,
}
