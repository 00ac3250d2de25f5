//! Geocoding behind the [`Geocoder`] trait: addresses (province, ward) to coordinates, and
//! coordinates back to the ward they fall in (for zones). [`Gazetteer`] answers offline from
//! the embedded 2025 division (`vn-gazetteer`): used locally and, until a provider adapter is
//! configured, in AWS too — it resolves to the ward's or the province's centroid, which is
//! what a shipping zone and a distance estimate need.

use shared::domain::shipping::Zone;
use shared::geo::distance_km;
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
}
