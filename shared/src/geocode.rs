//! Geocoding behind the [`Geocoder`] trait: addresses (province, ward) to coordinates, and
//! coordinates back to the ward they fall in (for zones). [`Gazetteer`] answers offline from
//! the embedded 2025 division (`vn-gazetteer`): used locally and, until a provider adapter is
//! configured, in AWS too — it resolves to the ward's or the province's centroid, which is
//! what a shipping zone and a distance estimate need.

use crate::domain::shipping::Zone;
use crate::geo::distance_km;
use vn_gazetteer::{Province, Ward};

/// Farther than this from every ward's centroid is outside the delivery area.
pub const MAX_KM_FROM_A_WARD: f64 = 60.0;

/// How exactly an address was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    Ward,
    Province,
}

/// A resolved address.
#[derive(Debug, Clone, Copy)]
pub struct Place {
    pub province: &'static Province,
    pub ward: Option<&'static Ward>,
}

impl Place {
    pub fn point(&self) -> (f64, f64) {
        match self.ward {
            Some(w) => (w.lat, w.lng),
            None => (self.province.lat, self.province.lng),
        }
    }

    pub fn precision(&self) -> Precision {
        if self.ward.is_some() {
            Precision::Ward
        } else {
            Precision::Province
        }
    }
}

/// What is wrong with an address, per field, with close names when there are some.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub field: &'static str,
    pub message: String,
    pub suggestions: Vec<String>,
}

pub trait Geocoder: Send + Sync {
    /// Places an address given by its province and, optionally, its ward (names, with or
    /// without diacritics). Problems name the field that could not be placed; a province found
    /// with an unknown ward is still placed, at the province.
    fn locate(&self, province: &str, ward: Option<&str>) -> (Option<Place>, Vec<Problem>);

    /// The ward a point falls in (the nearest centroid), or `None` outside the delivery area.
    fn ward_at(&self, lat: f64, lng: f64) -> Option<&'static Ward>;
}

/// The offline geocoder.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gazetteer;

impl Geocoder for Gazetteer {
    fn locate(&self, province: &str, ward: Option<&str>) -> (Option<Place>, Vec<Problem>) {
        let Some(p) = vn_gazetteer::find_province(province) else {
            let suggestions = vn_gazetteer::suggest_provinces(province, 3)
                .into_iter()
                .map(|p| p.name.to_owned())
                .collect();
            let problem = Problem {
                field: "province",
                message: "is not a province or city of Vietnam (the 34 of the 2025 division)"
                    .into(),
                suggestions,
            };
            return (None, vec![problem]);
        };
        let mut problems = Vec::new();
        let found = ward.and_then(|w| {
            let hit = vn_gazetteer::find_ward(p, w);
            if hit.is_none() {
                problems.push(Problem {
                    field: "ward",
                    message: format!(
                        "is not a ward or commune of {} (or is ambiguous without diacritics)",
                        p.name
                    ),
                    suggestions: Vec::new(),
                });
            }
            hit
        });
        (
            Some(Place {
                province: p,
                ward: found,
            }),
            problems,
        )
    }

    fn ward_at(&self, lat: f64, lng: f64) -> Option<&'static Ward> {
        let (ward, km) = vn_gazetteer::wards()
            .iter()
            .map(|w| (w, distance_km((lat, lng), (w.lat, w.lng))))
            .min_by(|a, b| a.1.total_cmp(&b.1))?;
        (km <= MAX_KM_FROM_A_WARD).then_some(ward)
    }
}

/// The distance and zone between two points, or which end lies outside the delivery area
/// (`"from"` or `"to"`).
pub fn leg(
    geocoder: &impl Geocoder,
    from: (f64, f64),
    to: (f64, f64),
) -> Result<(f64, Zone), &'static str> {
    let a = geocoder.ward_at(from.0, from.1).ok_or("from")?;
    let b = geocoder.ward_at(to.0, to.1).ok_or("to")?;
    let km = distance_km(from, to);
    Ok((
        km,
        Zone::of((a.province_code, a.code), (b.province_code, b.code), km),
    ))
}

/// Where a saved address lies: its province and ward (gazetteer codes) and a point (the
/// ward's centroid, or the province's when the ward is not known). Stored on addresses when
/// they are saved and copied into orders; shipping prices and dispatches from it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AddressPlace {
    pub province_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ward_code: Option<String>,
    pub lat: f64,
    pub lng: f64,
}

impl AddressPlace {
    pub fn point(&self) -> (f64, f64) {
        (self.lat, self.lng)
    }
}

/// Places an address of the address book: in Vietnam its `city` (or else `region`) must name a
/// province of the 2025 division (with or without diacritics), and a `ward` that is not found
/// leaves it at the province. Outside Vietnam there is nothing to place (`Ok(None)`: we do not
/// deliver there). The error names the field, with close province names.
pub fn place_address(
    geocoder: &impl Geocoder,
    country: &str,
    city: &str,
    region: Option<&str>,
    ward: Option<&str>,
) -> Result<Option<AddressPlace>, crate::error::FieldError> {
    if !country.eq_ignore_ascii_case("VN") {
        return Ok(None);
    }
    let (mut place, mut problems) = geocoder.locate(city, ward);
    if place.is_none()
        && let Some(region) = region
    {
        (place, problems) = geocoder.locate(region, ward);
    }
    let Some(place) = place else {
        let suggestions = problems
            .first()
            .map(|p| p.suggestions.join(", "))
            .unwrap_or_default();
        let mut message =
            "is not a province or city of Vietnam (the 34 of the 2025 division)".to_owned();
        if !suggestions.is_empty() {
            message.push_str(&format!("; did you mean {suggestions}?"));
        }
        return Err(crate::error::FieldError::new("city", message));
    };
    let (lat, lng) = place.point();
    Ok(Some(AddressPlace {
        province_code: place.province.code.to_owned(),
        ward_code: place.ward.map(|w| w.code.to_owned()),
        lat,
        lng,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HANOI_BA_DINH: (f64, f64) = (21.0386, 105.838);
    const HCMC_BEN_THANH: (f64, f64) = (10.7725, 106.698);

    #[test]
    fn points_fall_in_their_ward_and_the_sea_is_nowhere() {
        let ward = Gazetteer.ward_at(HANOI_BA_DINH.0, HANOI_BA_DINH.1).unwrap();
        assert_eq!(ward.province_code, "01");
        assert!(Gazetteer.ward_at(48.85, 2.35).is_none(), "Paris");
        assert!(Gazetteer.ward_at(0.0, 0.0).is_none());
    }

    #[test]
    fn legs_have_their_zone() {
        let (km, zone) = leg(&Gazetteer, HANOI_BA_DINH, HCMC_BEN_THANH).unwrap();
        assert!((1_100.0..1_200.0).contains(&km), "{km}");
        assert_eq!(zone, Zone::OtherProvince);
        let (km, zone) = leg(&Gazetteer, HANOI_BA_DINH, (21.03, 105.85)).unwrap();
        assert!(km < 2.0);
        assert_eq!(zone, Zone::SameDistrict);
        // Ba Đình to Sóc Sơn (north of Hà Nội, about 30 km): the same province, beyond 10 km
        let (km, zone) = leg(&Gazetteer, HANOI_BA_DINH, (21.257, 105.849)).unwrap();
        assert!(km > 10.0, "{km}");
        assert_eq!(zone, Zone::SameProvince);
        assert_eq!(leg(&Gazetteer, (48.85, 2.35), HANOI_BA_DINH), Err("from"));
        assert_eq!(leg(&Gazetteer, HANOI_BA_DINH, (0.0, 0.0)), Err("to"));
    }

    #[test]
    fn addresses_are_placed_with_or_without_diacritics_and_problems_name_the_field() {
        let (place, problems) = Gazetteer.locate("tp ha noi", Some("phuong ba dinh"));
        let place = place.unwrap();
        assert!(problems.is_empty());
        assert_eq!(place.precision(), Precision::Ward);
        assert_eq!(place.ward.unwrap().name, "Phường Ba Đình");

        let (place, problems) = Gazetteer.locate("Hà Nội", Some("Nowhere"));
        assert_eq!(place.unwrap().precision(), Precision::Province);
        assert_eq!(problems[0].field, "ward");

        let (place, problems) = Gazetteer.locate("Ha Noj", None);
        assert!(place.is_none());
        assert_eq!(problems[0].field, "province");
        assert_eq!(problems[0].suggestions[0], "Thành phố Hà Nội");
    }

    #[test]
    fn saved_addresses_are_placed_in_vietnam_and_refused_with_the_field_when_unknown() {
        let placed = place_address(&Gazetteer, "VN", "Hanoi", None, Some("Hoàn Kiếm"))
            .unwrap()
            .unwrap();
        assert_eq!(placed.province_code, "01");
        assert!(placed.ward_code.is_some());
        let at_province = place_address(&Gazetteer, "vn", "Ha Noi", None, Some("Ward 7"))
            .unwrap()
            .unwrap();
        assert_eq!(at_province.ward_code, None);
        let by_region = place_address(&Gazetteer, "VN", "Thu Duc", Some("TP HCM"), None)
            .unwrap()
            .unwrap();
        assert_eq!(by_region.province_code, "79");
        let e = place_address(&Gazetteer, "VN", "Atlantis", None, None).unwrap_err();
        assert_eq!(e.field, "city");
        assert_eq!(
            place_address(&Gazetteer, "FR", "Paris", None, None),
            Ok(None)
        );
    }
}
