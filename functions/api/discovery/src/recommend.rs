//! "For you": a hybrid of item-to-item co-occurrence and content similarity.
//!
//! Seeds are the caller's recent purchases (`RECENT#U#<user>/PURCHASES`, kept by the
//! recommender from `OrderPlaced`) and recent views (`…/PRODUCTS`). For each seed its
//! co-occurrence partition `COOC#<seed>` is read (`B#<other>`: bought in one order, `C#<other>`:
//! put in one cart, `V#<other>`: viewed in a row by one caller), and for the two newest seeds the seed's category listing
//! partitions are read over a band around the seed's effective price (`LIST#CAT#<c>#<n>`, `P#`
//! sort keys, one Query per listing shard). [`blend`] scores the candidates; what the caller bought and the seeds themselves
//! are left out; cards are loaded for the best, and trending products fill what is left. A
//! caller with no history (cold start) gets trending products.

use std::collections::HashMap;

use serde::Deserialize;
use shared::discovery::Window;
use shared::discovery::cards;
use shared::discovery::recent::RecentList;
use shared::products::ProductCard;
use shared::store::{StoreError, classify, from_item, keys, s};
use shared::{ApiError, AppState};

use crate::model::{
    RecommendationBasis, RecommendationReason, Recommendations, RecommendedProduct, RecommendedShop,
};

/// Seeds of each kind, at most.
const SEEDS: usize = 5;
/// Seeds whose price band is read for similar products.
const CONTENT_SEEDS: usize = 2;
/// Neighbours read per seed, at most.
const NEIGHBOURS: i32 = 200;
/// Similar products read per seed.
const SIMILAR: i32 = 20;
/// The price band around a seed: 70 % to 140 % of its price.
const BAND: (i64, i64) = (70, 140);

/// One bought-together count weighs this much; one carted-together count 2; one
/// viewed-together count 1; a similar product at most [`SIMILAR_WEIGHT`] (less than any
/// co-occurrence, so evidence of behaviour wins).
const BOUGHT_WEIGHT: f64 = 3.0;
const CARTED_WEIGHT: f64 = 2.0;
const VIEWED_WEIGHT: f64 = 1.0;
const SIMILAR_WEIGHT: f64 = 0.5;

/// What a seed's neighbours and similar products say about one candidate.
#[derive(Debug, Clone, PartialEq)]
pub enum Evidence {
    Bought {
        count: i64,
    },
    Carted {
        count: i64,
    },
    Viewed {
        count: i64,
    },
    /// Closeness of price to the seed's, 0..=1.
    Similar {
        closeness: f64,
    },
}

/// Scores candidates from evidence gathered per seed (`(seed weight, candidate, evidence)`),
/// best first, with the reasons behind each; `exclude` never appears. Pure.
pub fn blend(
    evidence: &[(f64, String, Evidence)],
    exclude: &[String],
) -> Vec<(String, f64, Vec<RecommendationReason>)> {
    let mut scored: HashMap<&str, (f64, Vec<RecommendationReason>)> = HashMap::new();
    for (weight, id, e) in evidence {
        if exclude.contains(id) {
            continue;
        }
        let (score, reason) = match e {
            Evidence::Bought { count } => (
                BOUGHT_WEIGHT * *count as f64,
                RecommendationReason::BoughtTogether,
            ),
            Evidence::Carted { count } => (
                CARTED_WEIGHT * *count as f64,
                RecommendationReason::CartedTogether,
            ),
            Evidence::Viewed { count } => (
                VIEWED_WEIGHT * *count as f64,
                RecommendationReason::ViewedTogether,
            ),
            Evidence::Similar { closeness } => {
                (SIMILAR_WEIGHT * closeness, RecommendationReason::Similar)
            }
        };
        let entry = scored.entry(id).or_default();
        entry.0 += weight * score;
        if !entry.1.contains(&reason) {
            entry.1.push(reason);
        }
    }
    let mut out: Vec<(String, f64, Vec<RecommendationReason>)> = scored
        .into_iter()
        .filter(|(_, (score, _))| *score > 0.0)
        .map(|(id, (score, reasons))| (id.to_owned(), score, reasons))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// How close `price` is to `seed` within the band: 1 at the seed's price, 0 at the band's edge.
pub fn closeness(seed: i64, price: i64) -> f64 {
    if seed <= 0 {
        return 0.0;
    }
    let off = (price - seed).abs() as f64 / seed as f64;
    (1.0 - off / 0.4).clamp(0.0, 1.0)
}

/// The caller's seeds: (viewed, bought), newest first.
async fn history(state: &AppState, owner: &str) -> Result<(Vec<String>, Vec<String>), ApiError> {
    let lists = [keys::RECENT_PRODUCTS, keys::RECENT_PURCHASES];
    let mut viewed = Vec::new();
    let mut bought = Vec::new();
    for item in state
        .db
        .batch_get(&lists.map(|l| keys::recent_list(owner, l)))
        .await?
    {
        let list: RecentList = from_item(item)?;
        let values = list.entries.into_iter().map(|e| e.value);
        if list.sk == keys::RECENT_PURCHASES {
            bought.extend(values);
        } else {
            viewed.extend(values);
        }
    }
    Ok((viewed, bought))
}

#[derive(Deserialize)]
struct Neighbour {
    #[serde(rename = "SK")]
    sk: String,
    #[serde(default)]
    n: i64,
}

async fn neighbours(state: &AppState, seed: &str) -> Result<Vec<(String, Evidence)>, StoreError> {
    let out = state
        .db
        .client
        .query()
        .table_name(&state.db.table)
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", s(keys::cooccurrence_pk(seed)))
        .limit(NEIGHBOURS)
        .send()
        .await
        .map_err(classify)?;
    let mut found = Vec::new();
    for item in out.items.unwrap_or_default() {
        let row: Neighbour = from_item(item)?;
        let Some((kind, other)) = row.sk.split_once('#') else {
            continue;
        };
        let count = row.n;
        match kind {
            keys::COOC_BOUGHT => found.push((other.to_owned(), Evidence::Bought { count })),
            keys::COOC_CARTED => found.push((other.to_owned(), Evidence::Carted { count })),
            keys::COOC_VIEWED => found.push((other.to_owned(), Evidence::Viewed { count })),
            _ => {}
        }
    }
    Ok(found)
}

/// Products of the seed's category with an effective price within the band around the seed's
/// (one Query per category listing shard).
async fn similar(
    state: &AppState,
    seed: &ProductCard,
) -> Result<Vec<(String, Evidence)>, StoreError> {
    let price = seed.effective_price.amount;
    let (lo, hi) = (price * BAND.0 / 100, price * BAND.1 / 100 + 1);
    let rows = shared::products::category_price_band(&state.db, &seed.category_id, lo, hi, SIMILAR)
        .await?;
    let mut found = Vec::new();
    for row in rows {
        if row.card.id != seed.id {
            found.push((
                row.card.id,
                Evidence::Similar {
                    closeness: closeness(price, row.price_amount),
                },
            ));
        }
    }
    Ok(found)
}

/// Scored candidates from the caller's history (empty for a cold start).
async fn candidates(
    state: &AppState,
    owner: &str,
) -> Result<Option<(Vec<(String, f64, Vec<RecommendationReason>)>, Vec<String>)>, ApiError> {
    let (viewed, bought) = history(state, owner).await?;
    if viewed.is_empty() && bought.is_empty() {
        return Ok(None);
    }
    let mut seeds: Vec<(String, f64)> = Vec::new();
    for (i, id) in bought.iter().take(SEEDS).enumerate() {
        seeds.push((id.clone(), 2.0 / (1.0 + 0.25 * i as f64)));
    }
    for (i, id) in viewed.iter().take(SEEDS).enumerate() {
        if !seeds.iter().any(|(s, _)| s == id) {
            seeds.push((id.clone(), 1.0 / (1.0 + 0.25 * i as f64)));
        }
    }
    // The newest views first, then purchases, for the price bands.
    let content_ids: Vec<String> = viewed
        .iter()
        .chain(&bought)
        .take(CONTENT_SEEDS)
        .cloned()
        .collect();
    let (co, seed_cards) = tokio::join!(
        futures::future::join_all(seeds.iter().map(|(id, _)| neighbours(state, id))),
        cards::product_cards(&state.db, &content_ids),
    );
    let seed_cards = seed_cards?;
    let bands = futures::future::join_all(
        content_ids
            .iter()
            .filter_map(|id| seed_cards.get(id))
            .map(|card| similar(state, card)),
    )
    .await;
    let mut evidence = Vec::new();
    for ((_, weight), found) in seeds.iter().zip(co) {
        for (id, e) in found? {
            evidence.push((*weight, id, e));
        }
    }
    for found in bands {
        for (id, e) in found? {
            evidence.push((1.0, id, e));
        }
    }
    // Already bought, or just viewed: not news to the caller.
    let mut exclude: Vec<String> = bought;
    exclude.extend(viewed.into_iter().take(SEEDS));
    Ok(Some((blend(&evidence, &exclude), exclude)))
}

pub async fn products(
    state: &AppState,
    owner: Option<&str>,
    limit: usize,
) -> Result<Recommendations<RecommendedProduct>, ApiError> {
    let found = match owner {
        Some(owner) => candidates(state, owner).await?,
        None => None,
    };
    let Some((ranked, exclude)) = found else {
        let items = crate::top_products(state, Window::Day, limit, &[])
            .await?
            .into_iter()
            .map(|(product, score)| RecommendedProduct {
                product,
                score,
                reasons: vec![RecommendationReason::Trending],
            })
            .collect();
        return Ok(Recommendations {
            basis: RecommendationBasis::Trending,
            items,
        });
    };
    let best: Vec<_> = ranked.into_iter().take(limit * 2 + 10).collect();
    let ids: Vec<String> = best.iter().map(|(id, ..)| id.clone()).collect();
    let cards = cards::product_cards(&state.db, &ids).await?;
    let mut items: Vec<RecommendedProduct> = best
        .into_iter()
        .filter_map(|(id, score, reasons)| {
            cards.get(&id).map(|c| RecommendedProduct {
                product: c.clone(),
                score,
                reasons,
            })
        })
        .take(limit)
        .collect();
    if items.len() < limit {
        let mut skip = exclude;
        skip.extend(items.iter().map(|i| i.product.id.clone()));
        let fill = crate::top_products(state, Window::Day, limit - items.len(), &skip).await?;
        items.extend(fill.into_iter().map(|(product, score)| RecommendedProduct {
            product,
            // below every history-based score
            score: score.min(0.0),
            reasons: vec![RecommendationReason::Trending],
        }));
    }
    Ok(Recommendations {
        basis: RecommendationBasis::History,
        items,
    })
}

pub async fn shops(
    state: &AppState,
    owner: Option<&str>,
    limit: usize,
) -> Result<Recommendations<RecommendedShop>, ApiError> {
    let recommended = products(state, owner, 50).await?;
    if recommended.basis == RecommendationBasis::Trending {
        let items = crate::top_shops(state, Window::Day, limit)
            .await?
            .into_iter()
            .map(|(shop, score)| RecommendedShop { shop, score })
            .collect();
        return Ok(Recommendations {
            basis: RecommendationBasis::Trending,
            items,
        });
    }
    let mut by_shop: Vec<(String, f64)> = Vec::new();
    for (rank, item) in recommended.items.iter().enumerate() {
        // the rank keeps trending fill-ins (score 0) in order too
        let score = item.score.max(0.0) + 1.0 / (rank as f64 + 2.0);
        match by_shop.iter_mut().find(|(s, _)| *s == item.product.shop_id) {
            Some((_, total)) => *total += score,
            None => by_shop.push((item.product.shop_id.clone(), score)),
        }
    }
    by_shop.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let ids: Vec<String> = by_shop.iter().map(|(id, _)| id.clone()).collect();
    let found = cards::shop_cards(&state.db, &ids).await?;
    Ok(Recommendations {
        basis: RecommendationBasis::History,
        items: by_shop
            .into_iter()
            .filter_map(|(id, score)| {
                found.get(&id).map(|c| RecommendedShop {
                    shop: c.clone(),
                    score,
                })
            })
            .take(limit)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn co_purchases_outrank_co_views_and_similar_products() {
        let evidence = vec![
            (
                1.0,
                "viewed-a-lot".to_owned(),
                Evidence::Viewed { count: 2 },
            ),
            (1.0, "bought-with".to_owned(), Evidence::Bought { count: 1 }),
            (
                1.0,
                "similar".to_owned(),
                Evidence::Similar { closeness: 1.0 },
            ),
            (1.0, "similar".to_owned(), Evidence::Viewed { count: 1 }),
            (
                2.0,
                "already-bought".to_owned(),
                Evidence::Bought { count: 9 },
            ),
        ];
        let ranked = blend(&evidence, &["already-bought".to_owned()]);
        let ids: Vec<&str> = ranked.iter().map(|(id, ..)| id.as_str()).collect();
        assert_eq!(ids, ["bought-with", "viewed-a-lot", "similar"]);
        assert_eq!(
            ranked[2].2,
            [
                RecommendationReason::Similar,
                RecommendationReason::ViewedTogether
            ]
        );
    }

    #[test]
    fn closeness_falls_to_zero_at_the_band_edge() {
        assert_eq!(closeness(1000, 1000), 1.0);
        assert!((closeness(1000, 1200) - 0.5).abs() < 1e-9);
        assert_eq!(closeness(1000, 1400), 0.0);
        assert_eq!(closeness(0, 5), 0.0);
    }
}
