//! Geohash cells and great-circle distance for "shops near me" (pure, no I/O).

const BASE32: &[u8] = b"0123456789bcdefghjkmnpqrstuvwxyz";

/// The geohash of a point at `precision` characters.
pub fn geohash(lat: f64, lng: f64, precision: usize) -> String {
    let (mut lat_r, mut lng_r) = ((-90.0, 90.0), (-180.0, 180.0));
    let mut out = String::with_capacity(precision);
    let (mut bits, mut bit, mut even) = (0u8, 0, true);
    while out.len() < precision {
        let (range, v) = if even {
            (&mut lng_r, lng)
        } else {
            (&mut lat_r, lat)
        };
        let mid = (range.0 + range.1) / 2.0;
        bits <<= 1;
        if v >= mid {
            bits |= 1;
            range.0 = mid;
        } else {
            range.1 = mid;
        }
        even = !even;
        bit += 1;
        if bit == 5 {
            out.push(BASE32[bits as usize] as char);
            bits = 0;
            bit = 0;
        }
    }
    out
}

/// Size of a cell in degrees (lat, lng) at `precision`.
fn cell_size(precision: usize) -> (f64, f64) {
    let bits = 5 * precision;
    let lng_bits = bits.div_ceil(2);
    let lat_bits = bits / 2;
    (
        180.0 / (1u64 << lat_bits) as f64,
        360.0 / (1u64 << lng_bits) as f64,
    )
}

/// The cells that together cover every point within `radius_km` of (lat, lng).
pub fn covering_cells(lat: f64, lng: f64, radius_km: f64, precision: usize) -> Vec<String> {
    let (dlat, dlng) = cell_size(precision);
    let lat_span = radius_km / 111.0;
    let lng_span = radius_km / (111.0 * lat.to_radians().cos().max(0.01));
    let (steps_lat, steps_lng) = (
        (lat_span / dlat).ceil() as i64,
        (lng_span / dlng).ceil() as i64,
    );
    let mut cells = Vec::new();
    for i in -steps_lat..=steps_lat {
        for j in -steps_lng..=steps_lng {
            let (y, x) = (
                (lat + i as f64 * dlat).clamp(-89.9999, 89.9999),
                wrap_lng(lng + j as f64 * dlng),
            );
            let cell = geohash(y, x, precision);
            if !cells.contains(&cell) {
                cells.push(cell);
            }
        }
    }
    cells
}

fn wrap_lng(lng: f64) -> f64 {
    ((lng + 180.0).rem_euclid(360.0)) - 180.0
}

/// Great-circle distance in kilometres (haversine).
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
    let (dlat, dlng) = ((b.0 - a.0).to_radians(), (b.1 - a.1).to_radians());
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlng / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geohash_matches_the_reference_encoding() {
        // The classic example point of the geohash spec.
        assert_eq!(geohash(57.64911, 10.40744, 11), "u4pruydqqvj");
        assert_eq!(geohash(10.7769, 106.7009, 4), "w3gv"); // Ho Chi Minh City
    }

    #[test]
    fn covering_cells_contain_every_nearby_point() {
        let centre = (21.0285, 105.8542); // Hanoi
        let cells = covering_cells(centre.0, centre.1, 10.0, 4);
        for (dlat, dlng) in [
            (0.08, 0.0),
            (-0.08, 0.0),
            (0.0, 0.09),
            (0.0, -0.09),
            (0.06, 0.06),
        ] {
            let p = (centre.0 + dlat, centre.1 + dlng);
            assert!(distance_km(centre, p) <= 10.0);
            assert!(cells.contains(&geohash(p.0, p.1, 4)), "{p:?} not covered");
        }
        assert!(cells.len() <= 25);
    }

    #[test]
    fn distances_are_in_kilometres() {
        let d = distance_km((21.0285, 105.8542), (10.7769, 106.7009));
        assert!((1130.0..1150.0).contains(&d), "{d}");
    }
}
