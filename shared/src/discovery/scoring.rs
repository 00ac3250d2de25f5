//! Pure scoring: time buckets, exponential decay by bucket age and the blend of behaviour and
//! sales counts into one trend score. No I/O, and the clock is a parameter, so decay is tested
//! with any "now".

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Length of a counter bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    FourHours,
    Day,
}

impl Grain {
    pub const ALL: [Grain; 2] = [Grain::FourHours, Grain::Day];

    pub fn secs(self) -> i64 {
        match self {
            Self::FourHours => 4 * 3600,
            Self::Day => 24 * 3600,
        }
    }

    /// The name in keys.
    pub fn name(self) -> &'static str {
        match self {
            Self::FourHours => "4h",
            Self::Day => "1d",
        }
    }

    /// The bucket `at` (epoch seconds) falls in.
    pub fn bucket(self, at: i64) -> i64 {
        at.div_euclid(self.secs())
    }

    /// When a counter of `bucket` may be removed: after every window that reads it, plus a day.
    pub fn expires_at(self, bucket: i64) -> i64 {
        let end = (bucket + 1) * self.secs();
        end + match self {
            Self::FourHours => Window::Day.span_secs(),
            Self::Day => Window::Week.span_secs(),
        } + 24 * 3600
    }
}

/// A trending window (`?window=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, ToSchema)]
pub enum Window {
    #[default]
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
}

impl Window {
    pub fn span_secs(self) -> i64 {
        match self {
            Self::Day => 24 * 3600,
            Self::Week => 7 * 24 * 3600,
        }
    }

    /// The bucket grain the window is read in.
    pub fn grain(self) -> Grain {
        match self {
            Self::Day => Grain::FourHours,
            Self::Week => Grain::Day,
        }
    }

    /// A count's weight halves every half-life of age: 6 h in the 24 h window, 2 days in 7 d.
    pub fn half_life_secs(self) -> i64 {
        match self {
            Self::Day => 6 * 3600,
            Self::Week => 2 * 24 * 3600,
        }
    }

    /// Every bucket that overlaps `(now - span, now]`, oldest first.
    pub fn buckets(self, now: i64) -> Vec<i64> {
        let g = self.grain();
        (g.bucket(now - self.span_secs() + 1)..=g.bucket(now)).collect()
    }

    /// The weight of a bucket's counts at `now`: `0.5^(age / half-life)` with the age taken at
    /// the bucket's middle (a bucket still filling counts fully), 0 once the bucket ended before
    /// the window began, or if it is in the future.
    pub fn decay(self, bucket: i64, now: i64) -> f64 {
        let secs = self.grain().secs();
        let (start, end) = (bucket * secs, (bucket + 1) * secs);
        if end <= now - self.span_secs() || start > now {
            return 0.0;
        }
        let age = (now - (start + secs / 2)).max(0) as f64;
        0.5f64.powf(age / self.half_life_secs() as f64)
    }
}

/// What one counter item holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    #[serde(default)]
    pub views: i64,
    #[serde(default)]
    pub clicks: i64,
    #[serde(default)]
    pub searches: i64,
    /// Units sold (from `OrderPlaced`).
    #[serde(default)]
    pub units: i64,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.views += other.views;
        self.clicks += other.clicks;
        self.searches += other.searches;
        self.units += other.units;
    }

    pub fn is_empty(&self) -> bool {
        *self == Counts::default()
    }

    /// Behaviour and sales blended: a sale weighs as much as five views, a click (a search
    /// result chosen) three, a search one.
    pub fn weighted(&self) -> f64 {
        self.views as f64
            + 3.0 * self.clicks as f64
            + self.searches as f64
            + 5.0 * self.units as f64
    }
}

/// Scores of ids from their bucketed counts: Σ decay(bucket) × weighted(counts), highest first
/// (ties by id, so the order is stable). Ids whose every bucket is outside the window are left
/// out.
pub fn rank(window: Window, now: i64, rows: &[(i64, String, Counts)]) -> Vec<(String, f64)> {
    let mut scores: std::collections::HashMap<&str, f64> = std::collections::HashMap::new();
    for (bucket, id, counts) in rows {
        let w = window.decay(*bucket, now);
        if w > 0.0 {
            *scores.entry(id.as_str()).or_default() += w * counts.weighted();
        }
    }
    let mut out: Vec<(String, f64)> = scores
        .into_iter()
        .filter(|(_, s)| *s > 0.0)
        .map(|(id, s)| (id.to_owned(), s))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// The distinct unordered pairs of the first `max_items` distinct ids, at most `max_pairs` of
/// them (the earliest ids' pairs first). What an order or a run of views adds to co-occurrence.
pub fn capped_pairs(ids: &[String], max_items: usize, max_pairs: usize) -> Vec<(String, String)> {
    let mut distinct: Vec<&String> = Vec::new();
    for id in ids {
        if !distinct.contains(&id) && distinct.len() < max_items {
            distinct.push(id);
        }
    }
    let mut pairs = Vec::new();
    for (i, a) in distinct.iter().enumerate() {
        for b in &distinct[i + 1..] {
            if pairs.len() == max_pairs {
                return pairs;
            }
            pairs.push(((*a).clone(), (*b).clone()));
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;
    /// 2026-12-01T00:00:00Z, a multiple of every grain.
    const NOW: i64 = 1_795_996_800;

    fn views(n: i64) -> Counts {
        Counts {
            views: n,
            ..Counts::default()
        }
    }

    #[test]
    fn a_window_reads_the_buckets_that_overlap_it() {
        let day = Window::Day.buckets(NOW + 1);
        assert_eq!(day.len(), 7, "six whole 4 h buckets and the one filling");
        assert_eq!(*day.last().unwrap(), Grain::FourHours.bucket(NOW + 1));
        assert_eq!(Window::Week.buckets(NOW + 1).len(), 8);
    }

    #[test]
    fn weight_halves_every_half_life_and_drops_out_of_the_window() {
        let g = Grain::FourHours;
        let current = g.bucket(NOW);
        // the bucket's middle is 2 h old at its end
        let now = (current + 1) * g.secs();
        let fresh = Window::Day.decay(current, now);
        assert!((fresh - 0.5f64.powf(2.0 / 6.0)).abs() < 1e-9, "{fresh}");
        let six_hours_older = Window::Day.decay(current - 1, now + 2 * H);
        assert!((six_hours_older - fresh / 2.0).abs() < 1e-9);
        // ended 24 h ago or more: nothing
        assert_eq!(Window::Day.decay(current - 6, now), 0.0);
        assert!(Window::Day.decay(current - 5, now) > 0.0);
        // a future bucket counts nothing either
        assert_eq!(Window::Day.decay(current + 1, now - 1), 0.0);
        // the 7 d window keeps a 3-day-old day bucket, at a smaller weight than yesterday's
        let d = Grain::Day.bucket(NOW);
        let w3 = Window::Week.decay(d - 3, NOW);
        let w1 = Window::Week.decay(d - 1, NOW);
        assert!(w3 > 0.0 && w1 > w3 && (w1 / w3 - 2.0).abs() < 1e-9);
        assert!(Window::Week.decay(d - 7, NOW) > 0.0, "ended 6 days ago");
        assert_eq!(Window::Week.decay(d - 8, NOW), 0.0);
    }

    #[test]
    fn recent_interest_outranks_a_bigger_but_older_one() {
        let g = Grain::FourHours;
        let b = g.bucket(NOW);
        let rows = vec![
            (b - 4, "old-hit".to_owned(), views(30)),
            (b, "rising".to_owned(), views(10)),
            (b - 8, "gone".to_owned(), views(1000)),
        ];
        let ranked = rank(Window::Day, NOW + H, &rows);
        let ids: Vec<&str> = ranked.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["rising", "old-hit"], "{ranked:?}");
        // with the 7 d window the old hit wins, and the 32 h old one counts again
        let day_rows: Vec<_> = rows
            .iter()
            .map(|(bucket, id, c)| (Grain::Day.bucket(bucket * g.secs()), id.clone(), *c))
            .collect();
        let ranked = rank(Window::Week, NOW + H, &day_rows);
        assert_eq!(ranked[0].0, "gone");
    }

    #[test]
    fn sales_weigh_more_than_views() {
        let sale = Counts {
            units: 1,
            ..Counts::default()
        };
        assert!(sale.weighted() > views(4).weighted());
        let mut c = views(1);
        c.add(sale);
        assert_eq!(c.weighted(), 6.0);
    }

    #[test]
    fn pairs_are_distinct_and_capped() {
        let ids: Vec<String> = ["a", "b", "a", "c", "d", "e"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let all = capped_pairs(&ids, 10, 100);
        assert_eq!(all.len(), 10, "5 distinct ids make 10 pairs: {all:?}");
        assert!(all.iter().all(|(a, b)| a != b));
        assert_eq!(capped_pairs(&ids, 3, 100).len(), 3, "a, b, c only");
        let capped = capped_pairs(&ids, 10, 4);
        assert_eq!(
            capped,
            [("a", "b"), ("a", "c"), ("a", "d"), ("a", "e")]
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        assert!(capped_pairs(&ids[..1], 10, 10).is_empty());
    }
}
