//! Product search on OpenSearch, shared by the search routes (`api-search`) and the indexer
//! (`consumer-search-indexer`); nothing else links it, so the other Lambdas stay free of the
//! OpenSearch client.
//!
//! - [`index`]: the index settings and mappings (Vietnamese folding that keeps the original,
//!   edge n-grams for completion, keyword facets, numeric sorts), its versioned name behind the
//!   [`index::ALIAS`] alias, and the alias swap of a reindex.
//! - [`doc`]: the document of a product, built from the catalogue's records, and its external
//!   version (so an older event never overwrites a newer document).
//! - [`query`]: the query DSL every route sends, pure and pinned by golden tests
//!   (`tests/golden/*.json`), with the `search_after` cursor.
//! - [`engine`]: the client: SigV4-signed in AWS, unsigned on a loopback endpoint (the local
//!   OpenSearch-compatible server), counting the requests it sends.
//! - [`text`]: NFC normalisation of everything indexed or queried (the folding filter maps
//!   precomposed Vietnamese letters only).

pub mod doc;
pub mod engine;
pub mod index;
pub mod query;
pub mod text;

pub use doc::ProductDoc;
pub use engine::{Engine, EngineError};
