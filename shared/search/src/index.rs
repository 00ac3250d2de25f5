//! The products index: settings and mappings, and how it is named.
//!
//! Searches and writes go through the alias [`ALIAS`] (`products` unless `SEARCH_INDEX` says
//! otherwise). Each physical index is `<alias>-v<SCHEMA_VERSION>-<generation>`; a reindex
//! creates a new generation, fills it from DynamoDB, then moves the alias in one `_aliases`
//! call and deletes the old generations. While a reindex runs, the indexer writes every change
//! to every generation (`<alias>-v*`), so nothing written during the rebuild is lost.
//!
//! Text analysis, the same on OpenSearch and on the local server:
//! - `vi`: standard tokenizer, lowercase, `asciifolding` with `preserve_original` — "Áo" is
//!   indexed as both `áo` and `ao`, so "ao" finds it and "áo" scores it higher;
//! - `vi_exact` (`name.exact`): lowercase only, so an exact-diacritics query earns a bonus;
//! - `vi_ac` (`*.ac`, index side): folded edge n-grams (1–20) for completion as you type,
//!   searched with `vi_folded` so the typed prefix is folded but not n-grammed.
//!
//! No ICU components: the local server rejects them, so text is NFC-normalised in the
//! application ([`crate::text`]).

use serde_json::{Value, json};

/// Bump when the mapping or analysis changes: a new generation is then built by a reindex.
pub const SCHEMA_VERSION: u32 = 1;
/// The default alias name.
pub const ALIAS: &str = "products";

/// The physical index of a generation (`products-v1-20261201t150000`).
pub fn generation_name(alias: &str, generation: &str) -> String {
    format!("{alias}-v{SCHEMA_VERSION}-{generation}")
}

/// The pattern matching every generation of an alias, of any schema version.
pub fn generations_pattern(alias: &str) -> String {
    format!("{alias}-v*")
}

/// Settings and mappings of a new generation.
pub fn settings() -> Value {
    let text = |extra: Value| {
        let mut field = json!({"type": "text", "analyzer": "vi"});
        if let (Some(f), Some(e)) = (field.as_object_mut(), extra.as_object()) {
            f.extend(e.clone());
        }
        field
    };
    let keyword = json!({"type": "keyword"});
    let ac = json!({"type": "text", "analyzer": "vi_ac", "search_analyzer": "vi_folded"});
    json!({
        "settings": {
            "number_of_shards": 1,
            "analysis": {
                "filter": {
                    "vi_fold": {"type": "asciifolding", "preserve_original": true},
                    "vi_edge": {"type": "edge_ngram", "min_gram": 1, "max_gram": 20}
                },
                "analyzer": {
                    "vi": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "vi_fold"]},
                    "vi_exact": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase"]},
                    "vi_folded": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
                    "vi_ac": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding", "vi_edge"]}
                }
            }
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "id": keyword,
                "name": text(json!({"fields": {
                    "exact": {"type": "text", "analyzer": "vi_exact"},
                    "ac": ac
                }})),
                "description": text(json!({})),
                "brand_id": keyword,
                "brand": text(json!({"fields": {"kw": keyword}})),
                "category_id": keyword,
                "category_path": keyword,
                "category_names": text(json!({"fields": {"ac": ac}})),
                "category_name": keyword,
                "shop_id": keyword,
                "shop_name": text(json!({"fields": {"kw": keyword, "ac": ac}})),
                "shop_city": keyword,
                "shop_location": {"type": "geo_point"},
                "attributes": keyword,
                "currency": keyword,
                "price_min": {"type": "long"},
                "price_max": {"type": "long"},
                "in_stock": {"type": "boolean"},
                "rating": {"type": "float"},
                "rating_count": {"type": "long"},
                "sales": {"type": "long"},
                "created_at": {"type": "date"},
                "image_url": {"type": "keyword", "index": false}
            }
        }
    })
}
