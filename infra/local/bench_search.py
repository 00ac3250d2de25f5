#!/usr/bin/env python3
"""Product search through the API beside the same queries sent straight to the search engine,
in the same run, over a generated Vietnamese catalogue (`make bench-search`).

What it does, in order:

1. Generates --products documents (default 100 000) in the exact shape of the index
   (`ProductDoc`, shared/search/src/doc.rs; the mapping is `dynamic: strict`) from the
   vocabulary of infra/local/vocab_vi.py: 51 leaf categories under 12 roots, each with its
   product nouns, qualifiers, attributes, brands and price band; 200 shops in 25 cities; about
   30 % of the listings written without diacritics, as some sellers do. Deterministic (--seed).
2. Loads them with `_bulk` (chunks of --chunk, default 2 000, the action line the indexer sends:
   `version_type: external`) into the generation the alias `products` points at, which the real
   indexer path created with the real mapping (`dev-server --reindex-only`, run by the Makefile).
   Printed: the engine's bulk rate (docs/s over the `_bulk` calls) and the refresh time. The
   indexer's own writes are the same `_bulk` call, so this is the rate a reindex gets from
   the engine; it is not the indexer's end-to-end rate (which also reads DynamoDB).
3. Builds --queries mixed queries (default 1 000), deterministic from the seed: plain text with and
   without diacritics, text with one typo, text with filters (category, brand, price range,
   in stock, rating, near a point) and sorts, browsing by filters, POST search/advanced with
   attributes, filters/available (facets), suggestions and autocomplete prefixes. Every GET
   search answers with facets too.
4. For each query, the body the API sends to the engine, built here by a Python mirror of
   shared/search/src/query.rs. The mirror is checked first against the golden fixtures that pin
   the Rust bodies (shared/search/tests/golden), and in the paired pass every API answer is compared
   with the direct answer to the same body (totals and hit ids), so the engine figures are of the
   very queries the API sent.
5. Times, one keep-alive client, sequential, after a warm-up of 50 queries through each path
   (--passes picks which of these run; paired by default):
   - paired: query i through the API and straight to the engine, back to back (API first for
     even i, engine first for odd i, so neither path always meets the other's warmed state);
     both see the same engine state and load; overhead of query i = its API time − its engine time;
     - and, from the same API calls, server-timing: overhead of query i = its API time (client
       side) − the time the API itself spent on its engine request, which every search route
       answers as `Server-Timing: engine;dur=<ms>` (from before sending to the whole answer
       read). One engine execution, no proxy: what is left is the API's own time plus the
       client's hop to it and this client's own work on the answer;
     - in-server: the route's whole time (`app;dur=`) − its engine wait, both from the same
       header: the API's own work alone;
   - compiled (with --replay-bin): the same queries replayed by a compiled client
     (tests/e2e bench-search-replay): its time per query, request sent → whole body read, less
     the engine wait the route reports for that call. The budget is judged on it when it runs;
   - block: every query through the API, then every query straight to the engine;
   - same-request: every query through a second dev server (same build, no pump) started on a
     copy of the stack whose engine and emulator endpoints are counting proxies in this process;
     overhead of query i = its API time − the time the proxy spent on the very engine request the
     API sent (the engine's answer plus the proxy's own forwarding). One engine execution per
     query, so the engine's run-to-run jitter cancels; the hop into the proxy is counted as API
     time, so it is an upper bound.
6. Counts, through the same proxies (a second dev server is started for them whenever
   --server-bin and --stack are given), the engine and DynamoDB requests of --count-sample calls
   per route. (The local search server has no request counter and logs no requests: its
   `_stats` search counters stay 0.)

How to read the figures: the local engine is osmem-server, an in-memory OpenSearch-compatible
emulator; its latency is its own, not OpenSearch's (it is far slower on broad matches and
aggregations), and the engine columns say so. What this bench judges is the API's overhead over
its one engine query (parsing and validating the request, building the body, the engine client,
reading the answer, writing the response), with a budget of 3 ms at p99. "overhead/query" is the
distribution of per-query differences; "Δ" is API percentile − engine percentile. The paired and
block overheads subtract two separate engine executions, so their tails carry the engine's jitter
(hundreds of ms on slow queries) and cannot resolve 3 ms. The server-timing overhead subtracts
the API's own engine time from this client's time for the same call, so it also holds this Python
client's work on the API's answer and the loopback hop (the direct engine calls have theirs too,
but their times are not subtracted there); the in-server overhead is the route's own work. The
verdict uses the in-server p99, and the report prints the server-timing p99 beside it. Latencies are client-side (this Python client's time on
both paths alike), on a 2-core machine that other work may share: compare the paths, not the
absolute numbers.

Usage: make bench-search [BENCH_SEARCH_ARGS="--products 20000 --queries 300"], which builds the
dev server with the optimised `bench` profile, starts its own emulator, search server and dev
server on free ports, runs this, and stops them. By hand, against such a stack:
  .venv/bin/python infra/local/bench_search.py --base-url http://127.0.0.1:PORT \\
      --search-url http://127.0.0.1:PORT --stack .local/…/stack.json [--server-bin target/bench/dev-server]
It writes into the alias it is pointed at: never point it at an index you care about.
Needs only the standard library (the project venv's Python).
"""
import argparse
import http.client
import http.server
import itertools
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import unicodedata
import urllib.parse
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vocab_vi  # noqa: E402  (the vocabulary, beside this file)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN = os.path.join(REPO, "shared", "search", "tests", "golden")
BUDGET_P99_MS = 3.0
WARMUP = 50


# ---------------------------------------------------------------- text
def nfc(s):
    """NFC, trimmed, whitespace collapsed: product_search::text::normalise."""
    s = unicodedata.normalize("NFC", s)
    words = re.split(r"[\s\x00-\x1f\x7f-\x9f]+", s)
    return " ".join(w for w in words if w)


def fold(s):
    """The text without diacritics, as a seller typing without Vietnamese input writes it."""
    s = unicodedata.normalize("NFD", s.replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize("NFC", "".join(c for c in s if unicodedata.category(c) != "Mn"))


def attribute_part(s):
    """product_search::doc::attribute_part: NFC, trimmed, lower case."""
    return nfc(s).lower()


# ---------------------------------------------------------------- the query DSL (mirror)
# A line-by-line mirror of shared/search/src/query.rs; check_golden() holds it to the fixtures
# the Rust golden tests pin.
PRICE_BUCKETS = [100_000, 200_000, 500_000, 1_000_000, 5_000_000]
RATING_BUCKETS = [4, 3, 2, 1]
HIT_FIELDS = ["id", "name", "brand_id", "brand", "category_id", "shop_id", "shop_name", "shop_city",
              "currency", "price_min", "price_max", "in_stock", "rating", "rating_count", "sales"]
SORTS = {
    "relevance": [{"_score": "desc"}, {"id": "asc"}],
    "price_asc": [{"price_min": "asc"}, {"id": "asc"}],
    "price_desc": [{"price_min": "desc"}, {"id": "asc"}],
    "newest": [{"created_at": "desc"}, {"id": "asc"}],
    "best_selling": [{"sales": "desc"}, {"id": "asc"}],
    "rating": [{"rating": "desc"}, {"rating_count": "desc"}, {"id": "asc"}],
}


def rust_float(x):
    """`format!("{}", f64)`: no trailing `.0` on whole numbers."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def text_query(q):
    return {"multi_match": {
        "query": q, "type": "best_fields",
        "fields": ["name^4", "brand^2", "category_names^2", "shop_name", "description"],
        "operator": "and", "fuzziness": "AUTO", "prefix_length": 1, "max_expansions": 20}}


def filter_clauses(f):
    out = []
    if f.get("category") is not None:
        out.append({"term": {"category_path": f["category"]}})
    if f.get("brand") is not None:
        out.append({"term": {"brand_id": f["brand"]}})
    if f.get("shop") is not None:
        out.append({"term": {"shop_id": f["shop"]}})
    if f.get("min_price") is not None or f.get("max_price") is not None:
        rng = {}
        if f.get("min_price") is not None:
            rng["gte"] = f["min_price"]
        if f.get("max_price") is not None:
            rng["lte"] = f["max_price"]
        out.append({"range": {"price_min": rng}})
    if f.get("rating") is not None:
        out.append({"range": {"rating": {"gte": float(f["rating"])}}})
    if f.get("in_stock") is not None:
        out.append({"term": {"in_stock": f["in_stock"]}})
    if f.get("near") is not None:
        n = f["near"]
        out.append({"geo_distance": {"distance": f"{rust_float(n['radius_km'])}km",
                                     "shop_location": {"lat": float(n["lat"]), "lon": float(n["lng"])}}})
    for name in sorted(f.get("attributes") or {}):  # a BTreeMap in Rust
        out.append({"terms": {"attributes": [f"{name}={v}" for v in f["attributes"][name]]}})
    return out


def scored_query(q, filters):
    bool_query = {"filter": filter_clauses(filters)}
    if q is not None:
        bool_query["must"] = [text_query(q)]
        bool_query["should"] = [
            {"match": {"name.exact": {"query": q, "operator": "and", "boost": 2}}},
            {"match_phrase": {"name": {"query": q, "boost": 2}}},
        ]
    return {"function_score": {
        "query": {"bool": bool_query},
        "field_value_factor": {"field": "sales", "modifier": "log2p", "factor": 0.001, "missing": 0},
        "boost_mode": "multiply"}}


def named_terms(id_field, name_field, size):
    return {"terms": {"field": id_field, "size": size},
            "aggs": {"name": {"terms": {"field": name_field, "size": 1}}}}


def facet_aggs():
    prices, frm = [], None
    for to in PRICE_BUCKETS:
        prices.append({"key": f"*-{to}", "to": to} if frm is None else {"key": f"{frm}-{to}", "from": frm, "to": to})
        frm = to
    prices.append({"key": f"{PRICE_BUCKETS[-1]}-*", "from": PRICE_BUCKETS[-1]})
    return {
        "categories": named_terms("category_id", "category_name", 20),
        "brands": named_terms("brand_id", "brand.kw", 20),
        "prices": {"range": {"field": "price_min", "ranges": prices}},
        "ratings": {"range": {"field": "rating", "ranges": [{"key": f"{r}+", "from": r} for r in RATING_BUCKETS]}},
        "in_stock": {"filter": {"term": {"in_stock": True}}},
    }


def search_body(q, filters, sort="relevance", limit=20, after=None):
    body = {"size": limit, "track_total_hits": True, "_source": HIT_FIELDS + ["image_url"],
            "query": scored_query(q, filters), "sort": SORTS[sort], "aggs": facet_aggs()}
    if q is not None:
        body["highlight"] = {"encoder": "html", "pre_tags": ["<em>"], "post_tags": ["</em>"],
                             "fields": {"name": {"number_of_fragments": 0},
                                        "description": {"fragment_size": 120, "number_of_fragments": 1}}}
    if after is not None:
        body["search_after"] = after
    return body


def filters_body(q):
    aggs = facet_aggs()
    aggs["attributes"] = {"terms": {"field": "attributes", "size": 100}}
    aggs["price_low"] = {"min": {"field": "price_min"}}
    aggs["price_high"] = {"max": {"field": "price_max"}}
    return {"size": 0, "track_total_hits": True, "query": scored_query(q, {}), "aggs": aggs}


def prefix_match(field, q):
    return {"match": {field: {"query": q, "operator": "and"}}}


def suggest_body(q, limit):
    name, category, shop = (prefix_match(f, q) for f in ("name.ac", "category_names.ac", "shop_name.ac"))
    return {
        "size": limit,
        "_source": ["id", "name", "shop_id", "currency", "price_min", "image_url"],
        "query": {"bool": {"should": [name, category, shop], "minimum_should_match": 1}},
        "post_filter": name,
        "sort": [{"_score": "desc"}, {"sales": "desc"}, {"id": "asc"}],
        "aggs": {
            "categories": {"filter": category, "aggs": {"ids": named_terms("category_id", "category_name", limit)}},
            "shops": {"filter": shop, "aggs": {"ids": named_terms("shop_id", "shop_name.kw", limit)}},
        },
    }


def check_golden():
    """The mirror builds exactly the bodies the Rust golden tests pin (same inputs as
    shared/search/tests/golden.rs). Exits on a difference: the engine figures would not be of
    the API's queries."""
    cases = {
        "search_text_all_filters": search_body("ao thun nam", {
            "category": "01FASHION", "brand": "01BRAND", "shop": "01SHOP", "min_price": 100_000,
            "max_price": 500_000, "rating": 4.0, "in_stock": True,
            "near": {"lat": 21.0, "lng": 105.8, "radius_km": 5.0}, "attributes": {"size": ["m", "l"]}}),
        "search_browse_price_asc_after": search_body(None, {"category": "01TSHIRTS"}, "price_asc", 2,
                                                     [150_000, "01PRODUCT"]),
        "sorts": [search_body("dam", {}, s, 10)["sort"] for s in
                  ("relevance", "price_asc", "price_desc", "newest", "best_selling", "rating")],
        "filters_available": filters_body("giay"),
        "suggest": suggest_body("ao th", 5),
    }
    for name, body in cases.items():
        path = os.path.join(GOLDEN, f"{name}.json")
        with open(path) as f:
            want = json.load(f)
        if body != want:
            sys.exit(f"bench_search.py: the Python mirror of query.rs no longer builds {path}; update "
                     f"infra/local/bench_search.py to the Rust query builder.\nmirror: {json.dumps(body)}")
    return sorted(cases)


# ---------------------------------------------------------------- the catalogue
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(rng, when):
    """A ULID-shaped id (time part from `when`, random part from rng): what the catalogue uses."""
    n = (int(when.timestamp() * 1000) << 80) | rng.getrandbits(80)
    return "".join(CROCKFORD[(n >> (5 * i)) & 31] for i in range(25, -1, -1))


class Catalogue:
    """Categories, brands and shops, with the ids the products and the queries refer to."""

    def __init__(self, rng, now, shops=200):
        epoch = now - timedelta(days=900)
        self.roots, self.leaves, self.brands = [], [], {}
        for root_name, leaves in vocab_vi.CATEGORIES.items():
            root = {"id": ulid(rng, epoch), "name": nfc(root_name), "leaves": []}
            self.roots.append(root)
            for leaf_name, spec in leaves.items():
                leaf = dict(spec, id=ulid(rng, epoch), name=nfc(leaf_name), root=root)
                root["leaves"].append(leaf)
                self.leaves.append(leaf)
                for b in spec["brands"]:
                    self.brands.setdefault(b, {"id": ulid(rng, epoch), "name": nfc(b)})
        cities = list(vocab_vi.CITIES.items())
        self.shops = []
        names = set()
        while len(self.shops) < shops:
            city, ((lat, lon), _) = rng.choices(cities, weights=[w for _, (_, w) in cities])[0]
            kind, given = rng.choice(vocab_vi.SHOP_KINDS), rng.choice(vocab_vi.SHOP_NAMES)
            name = f"{kind} {given}" if rng.random() < 0.6 else f"{given} {kind}"
            if rng.random() < 0.3:
                name += f" {city}"
            if name in names:
                continue
            names.add(name)
            # within ~4 km of the centre
            self.shops.append({"id": ulid(rng, epoch), "name": nfc(name), "city": nfc(city),
                               "lat": round(lat + rng.uniform(-0.035, 0.035), 6),
                               "lon": round(lon + rng.uniform(-0.035, 0.035), 6)})
        # A few big sellers hold many listings (Zipf-like shop weights).
        self.shop_weights = list(itertools.accumulate(1 / (i + 1) ** 0.8 for i in range(len(self.shops))))

    def words(self):
        """Distinct vocabulary words and brands (for the report)."""
        nouns = {n for leaf in self.leaves for n in leaf["nouns"]}
        quals = {q for leaf in self.leaves for q in leaf["qualifiers"]} | set(vocab_vi.GENERIC_QUALIFIERS)
        return len(nouns), len(quals), len(self.brands)


def price_in(rng, low, high):
    """Log-uniform in the band, rounded as shops price: 189 000, 1 290 000, sometimes 185 000."""
    p = math.exp(rng.uniform(math.log(low), math.log(high)))
    step = 10_000 if p < 1_000_000 else 100_000
    base = int(p // step * step)
    return max(9_000, base + (step * 9 // 10 if rng.random() < 0.6 else step // 2) - (step if base >= step else 0))


def make_doc(rng, cat, now):
    leaf = rng.choice(cat.leaves)
    root = leaf["root"]
    shop = rng.choices(cat.shops, cum_weights=cat.shop_weights)[0]
    brand = cat.brands[rng.choice(leaf["brands"])] if leaf["brands"] and rng.random() < 0.85 else None
    noun = rng.choice(leaf["nouns"])
    quals = rng.sample(leaf["qualifiers"], k=min(len(leaf["qualifiers"]), rng.choice((1, 1, 2, 2, 3))))
    if rng.random() < 0.3:
        quals.append(rng.choice(vocab_vi.GENERIC_QUALIFIERS))
    # variants: per attribute 1–4 values
    attributes, colour = set(), None
    for name, values in leaf["attributes"].items():
        chosen = rng.sample(values, k=min(len(values), rng.randint(1, 4)))
        attributes.update(f"{attribute_part(name)}={attribute_part(v)}" for v in chosen)
        if name == "màu":
            colour = chosen[0]
    parts = [noun]
    if brand and rng.random() < 0.7:
        parts.append(brand["name"])
    parts += quals
    if brand and brand["name"] not in parts:
        parts.append(brand["name"])
    if colour and rng.random() < 0.4:
        parts.append(f"màu {colour}")
    name = " ".join(parts)
    description = " ".join(
        rng.choice(vocab_vi.DESCRIPTION_PARTS).format(
            noun=noun, brand=brand["name"] if brand else "của shop", qualifier=rng.choice(leaf["qualifiers"]),
            city=shop["city"])
        for _ in range(rng.randint(2, 4)))
    if rng.random() < 0.3:  # written without diacritics
        name, description = fold(name), fold(description)
    price_min = price_in(rng, *leaf["price"])
    price_max = price_min if rng.random() < 0.6 else int(price_min * rng.uniform(1.05, 1.6)) // 1000 * 1000
    reviews = 0 if rng.random() < 0.35 else int(rng.paretovariate(1.1) * 3)
    rating = round(min(5.0, max(1.0, rng.gauss(4.5, 0.45))), 1) if reviews else 0.0
    sales = min(250_000, int(rng.paretovariate(0.9)) - 1 + (reviews * rng.randint(2, 10)))
    created = now - timedelta(seconds=rng.randint(0, 700 * 86400))
    pid = ulid(rng, created)
    doc = {
        "id": pid, "name": nfc(name), "description": nfc(description),
        "category_id": leaf["id"], "category_path": [root["id"], leaf["id"]],
        "category_names": [root["name"], leaf["name"]], "category_name": leaf["name"],
        "shop_id": shop["id"], "shop_name": shop["name"], "shop_city": shop["city"],
        "shop_location": {"lat": shop["lat"], "lon": shop["lon"]},
        "attributes": sorted(attributes), "currency": "VND",
        "price_min": price_min, "price_max": max(price_min, price_max),
        "in_stock": rng.random() < 0.88, "rating": rating, "rating_count": reviews, "sales": sales,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if brand:
        doc["brand_id"], doc["brand"] = brand["id"], brand["name"]
    if rng.random() < 0.85:
        doc["image_url"] = f"https://cdn.example.vn/products/{pid}/200.webp"
    return doc


# ---------------------------------------------------------------- HTTP
class Client:
    """One keep-alive connection, like a warm client (bench.py's)."""

    def __init__(self, base):
        u = urllib.parse.urlparse(base)
        self.host, self.port = u.hostname, u.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        self.last_headers = None

    def call(self, method, path, body=None, raw=None, content_type="application/json"):
        """(status, payload bytes, milliseconds)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"content-type": content_type} if data is not None else {}
        for attempt in (0, 1):
            start = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                self.last_headers = resp.headers
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest):
                self.conn.close()  # a stale keep-alive connection: not the server's latency
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                if attempt:
                    raise
                continue
            return resp.status, payload, (time.perf_counter() - start) * 1000
        raise AssertionError("unreachable")

    def json(self, method, path, body=None):
        status, payload, _ = self.call(method, path, body)
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload.decode(errors="replace")
        if status >= 300:
            sys.exit(f"bench_search.py: {method} {path} answered {status}: {str(parsed)[:400]}")
        return parsed


def progress(label, done, total, started=None):
    if done % max(1, total // 10) == 0 or done == total:
        extra = ""
        if started:
            spent = time.perf_counter() - started
            extra = f" ({spent:.0f} s" + (f", about {spent / done * (total - done):.0f} s to go)" if done < total else ")")
        print(f"  {label}: {done}/{total}{extra}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- loading
def load(engine, index, docs, chunk):
    """_bulk in chunks: (seconds in _bulk calls, per-call ms, refresh seconds)."""
    calls, total = [], 0.0
    started = time.perf_counter()
    for i in range(0, len(docs), chunk):
        lines = []
        for d in docs[i:i + chunk]:
            lines.append(json.dumps({"index": {"_index": index, "_id": d["id"], "version": 1,
                                               "version_type": "external"}}, ensure_ascii=False))
            lines.append(json.dumps(d, ensure_ascii=False))
        raw = ("\n".join(lines) + "\n").encode()
        status, payload, ms = engine.call("POST", "/_bulk", raw=raw, content_type="application/x-ndjson")
        answer = json.loads(payload)
        if status != 200 or answer.get("errors"):
            bad = [it for it in answer.get("items", []) if next(iter(it.values())).get("status", 0) >= 300]
            sys.exit(f"bench_search.py: _bulk answered {status}, {len(bad)} failed items, e.g. "
                     f"{json.dumps(bad[:2] or answer, ensure_ascii=False)[:600]}")
        calls.append(ms)
        total += ms / 1000
        progress("bulk-loaded", min(i + chunk, len(docs)), len(docs), started)
    status, payload, ms = engine.call("POST", f"/{index}/_refresh")
    if status != 200:
        sys.exit(f"bench_search.py: refresh answered {status}: {payload[:300]!r}")
    return total, calls, ms / 1000


# ---------------------------------------------------------------- queries
KIND_WEIGHTS = {"text": 18, "text_no_diacritics": 14, "typo": 10, "text_filters": 18, "browse": 8,
                "advanced": 8, "facets": 6, "suggestions": 9, "autocomplete": 9}
ALPHABET = "abcdeghiklmnopqrstuvxy"


def typo(rng, word):
    """One edit after the first letter (the API forgives one typo in 3–5 letters, two from 6,
    never in the first: prefix_length 1)."""
    i = rng.randint(1, len(word) - 1)
    op = rng.choice(("swap", "delete", "replace", "insert"))
    if op == "swap" and i < len(word) - 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op == "delete":
        return word[:i] + word[i + 1:]
    if op == "insert":
        return word[:i] + rng.choice(ALPHABET) + word[i:]
    return word[:i] + rng.choice([c for c in ALPHABET if c != word[i]]) + word[i + 1:]


class QueryMaker:
    """Mixed queries, each: kind, API method + path (+ body), the engine body the API sends, and
    how to compare the two answers."""

    def __init__(self, rng, cat, docs):
        self.rng, self.cat, self.docs = rng, cat, docs

    def text(self, leaf):
        """What a buyer types for a leaf: a noun, sometimes with a qualifier or a brand; lower case."""
        rng = self.rng
        words = rng.choice(leaf["nouns"])
        r = rng.random()
        if r < 0.3:
            words += " " + rng.choice(leaf["qualifiers"])
        elif r < 0.5 and leaf["brands"]:
            words += " " + rng.choice(leaf["brands"])
        elif r < 0.6:  # a few words of a real listing
            d = rng.choice(self.docs)
            w = d["name"].split()
            k = rng.randint(0, max(0, len(w) - 3))
            words = " ".join(w[k:k + rng.randint(2, 3)])
        return words.lower()

    def filters(self, leaf, n):
        rng = self.rng
        out = {}
        options = ["category", "price", "in_stock", "rating", "near"] + (["brand"] if leaf["brands"] else [])
        for f in rng.sample(options, k=min(n, len(options))):
            if f == "category":
                out["category"] = leaf["id"] if rng.random() < 0.7 else leaf["root"]["id"]
            elif f == "brand":
                out["brand"] = self.cat.brands[rng.choice(leaf["brands"])]["id"]
            elif f == "price":
                low, high = leaf["price"]
                lo = int(math.exp(rng.uniform(math.log(low), math.log(high))) // 10_000 * 10_000)
                r = rng.random()
                if r < 0.4:
                    out["max_price"] = max(lo, 10_000)
                elif r < 0.7:
                    out["min_price"] = lo
                else:
                    out["min_price"], out["max_price"] = lo, lo * rng.choice((2, 3, 5))
            elif f == "in_stock":
                out["in_stock"] = True
            elif f == "rating":
                out["rating"] = rng.choice((3.0, 4.0, 4.5))
            elif f == "near":
                cities = list(vocab_vi.CITIES.items())  # where buyers are: as many as sellers
                city, ((lat, lon), _) = rng.choices(cities, weights=[w for _, (_, w) in cities])[0]
                out["near"] = {"lat": lat, "lng": lon, "radius_km": rng.choice((5.0, 10.0, 25.0))}
        return out

    @staticmethod
    def get_params(q, filters, sort):
        params = []
        if q is not None:
            params.append(("q", q))
        for k in ("category", "brand", "min_price", "max_price", "rating"):
            if k in filters:
                params.append((k, rust_float(filters[k]) if k == "rating" else str(filters[k])))
        if "in_stock" in filters:
            params.append(("in_stock", "true" if filters["in_stock"] else "false"))
        if "near" in filters:
            n = filters["near"]
            params += [("lat", repr(n["lat"])), ("lng", repr(n["lng"])), ("radius_km", rust_float(n["radius_km"]))]
        if sort != "relevance":
            params.append(("sort", sort))
        return urllib.parse.urlencode(params)

    def make(self, kind):
        rng = self.rng
        leaf = rng.choice(self.cat.leaves)
        sort = "relevance"
        if kind in ("text", "text_no_diacritics", "typo"):
            q = self.text(leaf)
            if kind == "text_no_diacritics":
                q = fold(q)
            elif kind == "typo":
                q = q if rng.random() < 0.6 else fold(q)
                words = q.split()
                candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
                if not candidates:  # e.g. "áo dài": fall back to a longer noun
                    return self.make(kind)
                i = rng.choice(candidates)
                words[i] = typo(rng, words[i])
                q = " ".join(words)
            return self.search(kind, q, {}, sort)
        if kind == "text_filters":
            q = self.text(leaf)
            if rng.random() < 0.3:
                q = fold(q)
            sort = rng.choice(("relevance", "relevance", "price_asc", "newest", "best_selling", "rating"))
            return self.search(kind, q, self.filters(leaf, rng.randint(1, 3)), sort)
        if kind == "browse":
            filters = self.filters(leaf, rng.randint(0, 2))
            filters["category"] = leaf["id"] if rng.random() < 0.6 else leaf["root"]["id"]
            return self.search(kind, None, filters, rng.choice(("price_asc", "newest", "best_selling")))
        if kind == "advanced":
            q = self.text(leaf) if rng.random() < 0.6 else None
            filters = self.filters(leaf, rng.randint(0, 2))
            filters["category"] = leaf["id"]
            attrs = {}
            for name in rng.sample(list(leaf["attributes"]), k=rng.randint(1, len(leaf["attributes"]))):
                attrs[name] = rng.sample(leaf["attributes"][name], k=min(2, rng.randint(1, 2)))
            filters["attributes"] = attrs
            sort = rng.choice(("relevance", "price_asc", "newest", "best_selling"))
            request = {k: v for k, v in filters.items() if k != "attributes"}
            request["attributes"] = attrs
            if sort != "relevance":
                request["sort"] = sort
            if q is not None:
                request["q"] = q
            engine_filters = dict(filters, attributes={
                attribute_part(n): [attribute_part(v) for v in vs] for n, vs in attrs.items()})
            body = search_body(nfc(q) if q else None, engine_filters, sort)
            return {"kind": kind, "method": "POST", "path": "/api/v1/search/advanced", "body": request,
                    "engine": body, "compare": "search"}
        if kind == "facets":
            q = None if rng.random() < 0.1 else self.text(leaf)
            if q and rng.random() < 0.3:
                q = fold(q)
            path = "/api/v1/search/filters/available" + (f"?{urllib.parse.urlencode({'q': q})}" if q else "")
            return {"kind": kind, "method": "GET", "path": path, "engine": filters_body(nfc(q) if q else None),
                    "compare": "total"}
        # suggestions / autocomplete: what is typed so far of a noun or a shop name
        source = rng.choice(leaf["nouns"]) if rng.random() < 0.85 else rng.choice(self.cat.shops)["name"]
        typed = source.lower()
        cut = rng.randint(2, len(typed))
        typed = typed[:cut].rstrip() or typed[:2]
        if rng.random() < 0.4:
            typed = fold(typed)
        limit = rng.choice((None, None, 8))
        params = {"q": typed} | ({"limit": limit} if limit else {})
        route = "suggestions" if kind == "suggestions" else "autocomplete"
        return {"kind": kind, "method": "GET", "path": f"/api/v1/search/{route}?{urllib.parse.urlencode(params)}",
                "engine": suggest_body(nfc(typed), limit or 5), "compare": route}

    def search(self, kind, q, filters, sort):
        path = "/api/v1/search"
        qs = self.get_params(q, filters, sort)
        return {"kind": kind, "method": "GET", "path": f"{path}?{qs}" if qs else path,
                "engine": search_body(nfc(q) if q else None, filters, sort), "compare": "search"}

    def batch(self, n):
        kinds = list(KIND_WEIGHTS)
        weights = [KIND_WEIGHTS[k] for k in kinds]
        return [self.make(self.rng.choices(kinds, weights=weights)[0]) for _ in range(n)]


# ---------------------------------------------------------------- timing
def run_api(api, q):
    """(payload, client-side ms, and as the API timed them (`Server-Timing`): its engine wait
    and the route's whole time, ms)."""
    raw = json.dumps(q["body"]).encode() if q["method"] == "POST" else None
    status, payload, ms = api.call(q["method"], q["path"], raw=raw)
    if status != 200:
        sys.exit(f"bench_search.py: {q['method']} {q['path']} answered {status}: {payload[:400]!r}")
    header = api.last_headers.get("server-timing", "")
    return payload, ms, server_timing(header, "engine", q), server_timing(header, "app", q)


def server_timing(header, name, q):
    match = re.search(r"(?:^|,)\s*" + name + r";dur=([0-9.]+)", header)
    if not match:
        sys.exit(f"bench_search.py: {q['method']} {q['path']} answered no `Server-Timing: {name};dur=…` ({header!r})")
    return float(match.group(1))


def run_engine(engine, q):
    status, payload, ms = engine.call("POST", "/products/_search", raw=json.dumps(q["engine"]).encode())
    if status != 200:
        sys.exit(f"bench_search.py: the engine refused the body of {q['path']} ({status}): {payload[:400]!r}")
    return payload, ms


def agree(q, api_payload, engine_payload):
    """Whether the API's answer is the engine's answer to the body built here (None: not
    comparable for this route)."""
    a, e = json.loads(api_payload), json.loads(engine_payload)
    hits = [h["_source"]["id"] for h in e["hits"]["hits"]]
    total = e["hits"]["total"]["value"]
    if q["compare"] == "search":
        return a["total"] == total and [i["id"] for i in a["items"]] == hits
    if q["compare"] == "total":
        return a["total"] == total
    if q["compare"] == "suggestions":
        return [p["id"] for p in a["products"]] == hits
    if q["compare"] == "autocomplete":  # product completions come first, each a hit, in order
        ids = [c["id"] for c in a["completions"] if c["kind"] == "product"]
        it = iter(hits)
        return all(i in it for i in ids)
    return None


def pct(samples, p):
    s = sorted(samples)
    k = max(0, min(len(s) - 1, round(p / 100 * (len(s) - 1))))
    return s[k]


def stats(samples):
    if not samples:
        return {"count": 0}
    return {"count": len(samples), "p50_ms": round(statistics.median(samples), 2),
            "p90_ms": round(pct(samples, 90), 2), "p99_ms": round(pct(samples, 99), 2),
            "max_ms": round(max(samples), 2)}


# ---------------------------------------------------------------- request counts
class CountingProxy:
    """A forwarding HTTP/1.1 proxy that counts requests by engine path or DynamoDB action and
    times each request it handles (reading the body, the upstream call over a kept-alive
    connection, until its answer is ready to write)."""

    def __init__(self, upstream, label):
        u = urllib.parse.urlparse(upstream)
        self.counts, self.lock = Counter(), threading.Lock()
        self.handled = []  # ms from reading each request's body to its answer ready, in order
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body are two writes: without this, Nagle + delayed ACK add 40 ms
            disable_nagle_algorithm = True

            def log_message(self, *a):
                pass

            def forward(self):
                start = time.perf_counter()
                if self.headers.get("transfer-encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        data += self.rfile.read(size)
                        self.rfile.readline()
                else:
                    data = self.rfile.read(int(self.headers.get("content-length") or 0))
                target = self.headers.get("x-amz-target")
                key = target.split(".")[-1] if target else f"{self.command} {self.path.split('?')[0]}"
                with proxy.lock:
                    proxy.counts[key] += 1
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("connection", "transfer-encoding", "content-length", "keep-alive")}
                conn = getattr(self, "upstream_conn", None)  # one upstream connection per client connection
                if conn is None:
                    conn = self.upstream_conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
                try:
                    conn.request(self.command, self.path, body=data, headers=headers)
                    resp = conn.getresponse()
                except (http.client.RemoteDisconnected, ConnectionError, http.client.CannotSendRequest):
                    conn.close()
                    conn.request(self.command, self.path, body=data, headers=headers)
                    resp = conn.getresponse()
                body = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding", "content-length", "keep-alive"):
                        self.send_header(k, v)
                # Recorded before the answer goes out, so the caller always finds it once it has the
                # answer; writing the answer is thus counted on the API's side (an upper bound).
                with proxy.lock:
                    proxy.handled.append((time.perf_counter() - start) * 1000)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.label = label
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self):
        with self.lock:
            return Counter(self.counts)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def retarget(value, old, new):
    """Every string of a JSON value with URL `old` (exactly that port) replaced by `new`."""
    if isinstance(value, dict):
        return {k: retarget(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [retarget(v, old, new) for v in value]
    if isinstance(value, str):
        return re.sub(re.escape(old.rstrip("/")) + r"(?![0-9])", new, value)
    return value


def proxied(args, queries, timing):
    """Through a second dev server (same build, no pump) whose engine and emulator endpoints are
    counting proxies in this process:
    - the engine and DynamoDB requests per API call, --count-sample calls per route;
    - the overhead of each query on the very same engine request: the API's time (client-side)
      less the time the proxy spent on the request the API sent (the engine's answer plus the
      proxy's forwarding). The hop into the proxy stays on the API's side, so this overhead is an
      upper bound, free of the engine's run-to-run jitter.
    None when it cannot run (no --server-bin or --stack)."""
    if not (args.server_bin and args.stack):
        return None
    with open(args.stack) as f:
        stack = json.load(f)
    search = CountingProxy(args.search_url, "engine")
    emulator = CountingProxy(stack["endpoint"], "dynamodb")
    copy = retarget(retarget(stack, args.search_url, search.url), stack["endpoint"], emulator.url)
    path = os.path.join(os.path.dirname(os.path.abspath(args.stack)), "stack-counting.json")
    with open(path, "w") as f:
        json.dump(copy, f)
    port = free_port()
    log = open(os.path.join(os.path.dirname(path), "dev-server-counting.log"), "w")
    server = subprocess.Popen([args.server_bin, "--stack", path, "--port", str(port), "--no-pump"],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                if Client(base).call("GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline or server.poll() is not None:
                print(f"  skipped: the counting dev server did not start (see {log.name})", file=sys.stderr)
                return None
            time.sleep(0.2)
        api = Client(base)
        by_route = defaultdict(list)
        for q in queries:
            by_route[f"{q['method']} {q['path'].split('?')[0]}"].append(q)
        counts = {}
        for route, qs in sorted(by_route.items()):
            sample = qs[:args.count_sample]
            run_api(api, sample[0])  # the route's first call: not counted
            time.sleep(0.2)
            before_s, before_d = search.snapshot(), emulator.snapshot()
            for q in sample:
                run_api(api, q)
            time.sleep(0.2)
            engine_calls = search.snapshot() - before_s
            dynamo_calls = emulator.snapshot() - before_d
            counts[route] = {"calls": len(sample),
                             "engine_requests": sum(engine_calls.values()),
                             "engine_requests_by_path": dict(engine_calls),
                             "dynamodb_requests": sum(dynamo_calls.values()),
                             "dynamodb_requests_by_action": dict(dynamo_calls)}
        api_ms, engine_ms = [], []
        started = time.perf_counter()
        for i, q in enumerate(queries if timing else []):
            before = len(search.handled)
            api_ms.append(run_api(api, q)[1])
            with search.lock:
                engine_ms.append(sum(search.handled[before:]))
            progress("same-request pass (through the proxied dev server)", i + 1, len(queries), started)
        return {"counts": counts, "api_ms": api_ms, "engine_ms": engine_ms}
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        search.close()
        emulator.close()


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- report
CHOOSABLE_PASSES = ("paired", "block", "same_request", "compiled")
PASS_TITLES = {
    "server_timing": "the API calls of the paired pass; engine = the API's own time on its engine request, as "
                     "it answers it (`Server-Timing: engine;dur=`); API = this client's time",
    "in_server": "the same calls, both times as the route answers them: API = the route's whole time "
                 "(`app;dur=`), engine = its engine wait (`engine;dur=`): the API's own work, without this "
                 "Python client and the loopback hop",
    "same_request": "same-request pass (through a second dev server; engine = the time of the very request "
                    "the API sent, timed by a proxy)",
    "paired": "paired pass (query i through the API and straight to the engine, back to back)",
    "block": "block passes (every query through the API, then every query straight to the engine)",
    "compiled": "the same queries replayed by a compiled client (tests/e2e bench-search-replay, one keep-alive "
                "connection); engine = the route's engine wait (`engine;dur=`); API = that client's time, "
                "request sent → whole body read",
}


def report_text(r):
    lines = []
    g = r["catalogue"]
    lines.append(f"catalogue  {g['products']} products (seed {r['seed']}), {g['written_without_diacritics_pct']} % "
                 f"written without diacritics; {g['leaf_categories']} leaf categories under {g['root_categories']} "
                 f"roots, {g['brands']} brands, {g['shops']} shops in {g['cities']} cities; vocabulary: "
                 f"{g['product_nouns']} product nouns, {g['qualifiers']} qualifiers")
    ld = r["indexing"]
    lines.append(f"indexing   {ld['docs_per_second']:.0f} docs/s over the _bulk calls ({ld['docs']} docs in "
                 f"{ld['bulk_seconds']:.1f} s, {ld['calls']} calls of {ld['chunk']}: p50 {ld['call_p50_ms']:.0f} ms, "
                 f"max {ld['call_max_ms']:.0f} ms), then refresh {ld['refresh_seconds']:.2f} s")
    lines.append(f"           = the engine's bulk rate ({r['engine']}, into {ld['index']}, the indexer's _bulk call); "
                 f"generating the documents took {ld['generate_seconds']:.1f} s, not in the rate")
    lines.append("")
    lines.append(f"queries    {r['queries']} mixed ({', '.join(f'{k} {n}' for k, n in r['kinds'].items())}), "
                 f"sequential, one keep-alive client, after {r['warmup']} warm-up queries per path")
    head = (f"{'':20} {'n':>4} | {'API p50':>8} {'p90':>8} {'p99':>8} | {'engine p50':>10} {'p90':>8} {'p99':>8} | "
            f"{'overhead/query p50':>18} {'p99':>7} | {'Δp50':>7} {'Δp99':>7}")
    for key in ("compiled", "server_timing", "in_server", "same_request", "paired", "block"):
        if key not in r["passes"]:
            continue
        lines.append("")
        lines.append(PASS_TITLES[key])
        lines.append(head)
        lines.append("-" * len(head))
        for kind, row in r["passes"][key].items():
            a, e = row["api"], row["engine"]
            o = row.get("overhead") or {}
            op50 = f"{o['p50_ms']:18.2f}" if o else f"{'':>18}"
            op99 = f"{o['p99_ms']:7.2f}" if o else f"{'':>7}"
            label = "ALL" if kind == "all" else kind
            lines.append(f"{label:20} {a['count']:4d} | {a['p50_ms']:8.2f} {a['p90_ms']:8.2f} {a['p99_ms']:8.2f} | "
                         f"{e['p50_ms']:10.2f} {e['p90_ms']:8.2f} {e['p99_ms']:8.2f} | {op50} {op99} | "
                         f"{a['p50_ms'] - e['p50_ms']:7.2f} {a['p99_ms'] - e['p99_ms']:7.2f}")
    lines.append("(overhead/query: percentiles of API − engine per query; Δ: API percentile − engine percentile)")
    lines.append("")
    c = r["agreement"]
    if c:
        lines.append(f"agreement  {c['same']} of {c['compared']} API answers equal the engine's answer to the body "
                     f"built here (total and hit ids; autocomplete: its products are hits, in order)"
                     + (f"; DIFFERENT: {c['different'][:5]}" if c["different"] else ""))
    lines.append(f"           the Python body builder reproduces the golden fixtures {', '.join(r['golden_checked'])}")
    if r["requests"]:
        lines.append("requests   per API call, counted by proxies in front of the second dev server's engine and emulator:")
        for route, v in r["requests"].items():
            lines.append(f"           {route:36} engine {v['engine_requests'] / v['calls']:.2f} "
                         f"({', '.join(f'{k} ×{n}' for k, n in v['engine_requests_by_path'].items()) or 'none'}), "
                         f"DynamoDB {v['dynamodb_requests'] / v['calls']:.2f}, over {v['calls']} calls")
    else:
        lines.append("requests   not counted (needs --server-bin and --stack)")
    b = r["budget"]
    lines.append("")
    lines.append(f"budget     API overhead ≤ {BUDGET_P99_MS} ms at p99 over the engine, by {b['judged_on']}: "
                 f"p99 {b['overhead_p99_ms']} ms (p50 {b['overhead_p50_ms']} ms) → {b['verdict']}")
    for other in b["others"]:
        lines.append(f"           {other}")
    lines.append(f"           the engine is {r['engine']}: its latency is its own, not OpenSearch's; "
                 "only the overhead is judged")
    return "\n".join(lines)


def replayed(args, queries):
    """The queries through the API again, by the compiled client (`--replay-bin`): its time per
    query against the engine wait the route itself reports."""
    work = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(work, exist_ok=True)
    qpath, tpath = os.path.join(work, "bench-search-queries.jsonl"), os.path.join(work, "bench-search-replay.json")
    with open(qpath, "w") as f:
        for q in queries:
            f.write(json.dumps({"kind": q["kind"], "method": q["method"], "path": q["path"],
                                "body": q.get("body")}, ensure_ascii=False) + "\n")
    print(f"compiled client: {len(queries)} queries through the API ({args.replay_bin})", file=sys.stderr, flush=True)
    subprocess.run([args.replay_bin, "--base-url", args.base_url, "--queries", qpath, "--out", tpath,
                    "--warmup", str(args.warmup)], check=True)
    with open(tpath) as f:
        samples = json.load(f)
    if len(samples) != len(queries) or any(s["engine_ms"] is None for s in samples):
        sys.exit("bench_search.py: the compiled client's samples do not match the queries (or lack Server-Timing)")
    return summarise([s["client_ms"] for s in samples], [s["engine_ms"] for s in samples], queries, paired=True)


def summarise(api_ms, engine_ms, queries, paired):
    """Per kind and overall: API and engine percentiles, and with paired samples the per-query
    overhead (API − engine)."""
    out = {}
    for kind in ["all"] + list(KIND_WEIGHTS):
        idx = [i for i, q in enumerate(queries) if kind == "all" or q["kind"] == kind]
        if not idx:
            continue
        a, e = [api_ms[i] for i in idx], [engine_ms[i] for i in idx]
        row = {"api": stats(a), "engine": stats(e)}
        if paired:
            row["overhead"] = stats([x - y for x, y in zip(a, e)])
        out[kind] = row
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", required=True, help="the dev server (API)")
    ap.add_argument("--search-url", required=True, help="the search engine the dev server uses")
    ap.add_argument("--stack", help="the dev server's stack file (for the second, proxied dev server)")
    ap.add_argument("--server-bin", help="the dev server binary (for the second, proxied dev server)")
    ap.add_argument("--products", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--chunk", type=int, default=2000, help="documents per _bulk call")
    ap.add_argument("--shops", type=int, default=200)
    ap.add_argument("--passes", default="paired",
                    help="which timed passes to run, comma-separated: paired (with the Server-Timing figures), "
                         "block, same_request, compiled (needs --replay-bin); the request counts run whenever "
                         "--server-bin and --stack are given")
    ap.add_argument("--warmup", type=int, default=WARMUP, help="untimed queries through each path first")
    ap.add_argument("--count-sample", type=int, default=20, help="API calls per route for the request counts")
    ap.add_argument("--engine-name", default="osmem-server", help="what the engine is, for the report")
    ap.add_argument("--replay-bin", help="the compiled replay client (bench-search-replay): a pass judged on it")
    ap.add_argument("--out", default=".local/bench-search.json")
    args = ap.parse_args()
    passes = [p.strip() for p in args.passes.split(",") if p.strip()]
    if min(args.products, args.queries, args.chunk, args.shops, args.count_sample) < 1:
        ap.error("--products, --queries, --chunk, --shops and --count-sample must be ≥ 1")
    if not passes or set(passes) - set(CHOOSABLE_PASSES):
        ap.error(f"--passes: choose among {', '.join(CHOOSABLE_PASSES)}")

    golden = check_golden()
    api, engine = Client(args.base_url), Client(args.search_url)
    aliases = engine.json("GET", "/_alias/products")
    indexes = [name for name, v in (aliases or {}).items() if "products" in v.get("aliases", {})]
    if len(indexes) != 1:
        sys.exit(f"bench_search.py: the alias `products` must point at one index (dev-server --reindex-only "
                 f"creates it); found {aliases}")
    index = indexes[0]
    version = engine.json("GET", "/")["version"]["number"]
    engine_label = f"{args.engine_name} {version} (OpenSearch-compatible, in memory)"

    rng = random.Random(args.seed)
    now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    cat = Catalogue(rng, now, args.shops)
    print(f"generating {args.products} products (seed {args.seed})", file=sys.stderr, flush=True)
    started = time.perf_counter()
    docs = []
    for i in range(args.products):
        docs.append(make_doc(rng, cat, now))
        progress("generated", i + 1, args.products, started)
    generate_seconds = time.perf_counter() - started
    plain = sum(1 for d in docs if d["name"] == fold(d["name"]))
    print(f"bulk-loading into {index} ({args.chunk} per call)", file=sys.stderr, flush=True)
    bulk_seconds, calls, refresh_seconds = load(engine, index, docs, args.chunk)
    count = engine.json("GET", f"/{index}/_count")["count"]
    if count != len(docs):
        sys.exit(f"bench_search.py: {index} holds {count} documents after loading {len(docs)}")

    qrng = random.Random(args.seed + 1)
    maker = QueryMaker(qrng, cat, docs)
    warm = maker.batch(args.warmup)
    queries = maker.batch(args.queries)
    print(f"warm-up: {args.warmup} queries through each path", file=sys.stderr, flush=True)
    for q in warm:
        run_api(api, q)
        run_engine(engine, q)

    timed, agreement, requests = {}, None, None
    if "paired" in passes:
        pair_api, pair_engine, pair_timed, pair_app, different, compared = [], [], [], [], [], 0
        started = time.perf_counter()
        for i, q in enumerate(queries):
            if i % 2 == 0:
                (a_payload, a_ms, t_ms, app_ms), (e_payload, e_ms) = run_api(api, q), run_engine(engine, q)
            else:
                (e_payload, e_ms), (a_payload, a_ms, t_ms, app_ms) = run_engine(engine, q), run_api(api, q)
            pair_api.append(a_ms)
            pair_engine.append(e_ms)
            pair_timed.append(t_ms)
            pair_app.append(app_ms)
            same = agree(q, a_payload, e_payload)
            if same is not None:
                compared += 1
                if not same:
                    different.append(f"{q['method']} {q['path']}")
            progress("paired pass", i + 1, len(queries), started)
        timed["paired"] = summarise(pair_api, pair_engine, queries, paired=True)
        timed["server_timing"] = summarise(pair_api, pair_timed, queries, paired=True)
        timed["in_server"] = summarise(pair_app, pair_timed, queries, paired=True)
        agreement = {"compared": compared, "same": compared - len(different), "different": different}
    if "block" in passes:
        block_api, block_engine = [], []
        started = time.perf_counter()
        for i, q in enumerate(queries):
            block_api.append(run_api(api, q)[1])
            progress("block pass, through the API", i + 1, len(queries), started)
        started = time.perf_counter()
        for i, q in enumerate(queries):
            block_engine.append(run_engine(engine, q)[1])
            progress("block pass, straight to the engine", i + 1, len(queries), started)
        timed["block"] = summarise(block_api, block_engine, queries, paired=False)
    if args.server_bin and args.stack:
        print("request counts" + (" and the same-request pass" if "same_request" in passes else "")
              + ": a second dev server behind counting proxies", file=sys.stderr, flush=True)
        got = proxied(args, queries, timing="same_request" in passes)
        if got:
            requests = got["counts"]
            if "same_request" in passes:
                timed["same_request"] = summarise(got["api_ms"], got["engine_ms"], queries, paired=True)

    if args.replay_bin and "compiled" in passes:
        timed["compiled"] = replayed(args, queries)
    judged = next((k for k in ("compiled", "in_server", "server_timing", "same_request", "paired") if k in timed),
                  None)
    others = []
    for key in ("compiled", "server_timing", "in_server", "same_request", "paired"):
        if key in timed and key != judged:
            o = timed[key]["all"]["overhead"]
            others.append(f"{key.replace('_', '-')} pass: overhead p50 {o['p50_ms']} ms, p99 {o['p99_ms']} ms")
    for key in ("paired", "block"):
        if key in timed:
            a, e = timed[key]["all"]["api"], timed[key]["all"]["engine"]
            others.append(f"{key} pass: Δ of p50s {round(a['p50_ms'] - e['p50_ms'], 2)} ms, "
                          f"Δ of p99s {round(a['p99_ms'] - e['p99_ms'], 2)} ms")
    if judged:
        o = timed[judged]["all"]["overhead"]
        budget = {"judged_on": f"the {judged.replace('_', '-')} pass, per query", "overhead_p50_ms": o["p50_ms"],
                  "overhead_p99_ms": o["p99_ms"], "budget_p99_ms": BUDGET_P99_MS,
                  "verdict": "within budget" if o["p99_ms"] <= BUDGET_P99_MS else "OVER BUDGET", "others": others}
    else:
        budget = {"judged_on": "nothing (no paired pass)", "overhead_p50_ms": None, "overhead_p99_ms": None,
                  "budget_p99_ms": BUDGET_P99_MS, "verdict": "not judged", "others": others}
    results = {
        "seed": args.seed, "base_url": args.base_url, "search_url": args.search_url, "engine": engine_label,
        "catalogue": {
            "products": len(docs), "written_without_diacritics_pct": round(100 * plain / len(docs), 1),
            "root_categories": len(cat.roots), "leaf_categories": len(cat.leaves), "brands": len(cat.brands),
            "shops": len(cat.shops), "cities": len({s["city"] for s in cat.shops}),
            "product_nouns": cat.words()[0], "qualifiers": cat.words()[1],
        },
        "indexing": {
            "index": index, "docs": len(docs), "chunk": args.chunk, "calls": len(calls),
            "bulk_seconds": round(bulk_seconds, 2), "docs_per_second": round(len(docs) / bulk_seconds, 1),
            "call_p50_ms": round(statistics.median(calls), 1), "call_max_ms": round(max(calls), 1),
            "refresh_seconds": round(refresh_seconds, 3), "generate_seconds": round(generate_seconds, 2),
        },
        "queries": len(queries), "warmup": args.warmup, "kinds": dict(Counter(q["kind"] for q in queries)),
        "passes": timed, "agreement": agreement, "golden_checked": golden, "requests": requests,
        "budget": budget,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2, ensure_ascii=False)
    print(report_text(results))
    print(f"\n(written to {args.out})")
    if agreement and agreement["different"]:
        sys.exit("bench_search.py: some API answers differ from the engine's answers to the bodies built here")


if __name__ == "__main__":
    main()
