#!/usr/bin/env python3
"""Checkout latency and throughput of the dev server, beside the emulator's own raw
TransactWriteItems rate measured in the same run, so the figures read as a ratio to the
emulator's ceiling (a checkout is, underneath, one DynamoDB transaction plus reads).

Setup (not timed): an admin (granted in the table directly, as tests/e2e make_admin does: there
is no API for it) creates a category; a seller creates an organisation, a shop and --products
active products with enough stock, in --warehouses warehouses (default 2: the shop's main one in
Hanoi, by the buyers, holds about half of what they buy, so the checkouts go on to the far ones
as it runs out); then --checkouts fresh buyers (plus --warmup) each register, log in, add an
address and put one line in their cart.

Timed: every buyer checks out once (POST /api/v1/orders, cash on delivery, a fresh
Idempotency-Key) from --concurrency workers with one keep-alive connection each: p50/p90/p99/max
latency and orders per second over the wall-clock of the phase.

Against the same emulator endpoint and table, with the same concurrency: --raw
TransactWriteItems of 4 actions each (Put of a new item, two conditional ADD Updates, one Put) on
scratch BENCH#<run>#… keys, which are deleted afterwards. Printed: both, and the ratios
checkout orders/s ÷ raw transactions/s and checkout p50 ÷ raw transaction p50.

Read the ratios, not the absolute figures: moto (5.2.5) deep-copies the whole table for every
action of a TransactWriteItems (its rollback snapshot), under the one DynamoDB lock of
infra/local/moto_server.py, so on the emulator a transaction costs time in proportion to the
table's size, and every figure falls as the table grows. Hence half of the raw transactions run
just before the checkouts and half just after, so both see on average the same table, and the
table's item count is printed with the results.

Usage: make dev (in another terminal), then `make bench-checkout` or
       .venv/bin/python infra/local/bench_checkout.py --base-url http://localhost:3000 \\
           [--checkouts 200] [--concurrency 8] [--stack .local/stack.json] [--json]
Needs only the standard library and boto3 (the project venv).
"""
import argparse
import concurrent.futures
import http.client
import json
import math
import statistics
import sys
import threading
import time
import urllib.parse
import uuid

PASSWORD = "bench-pass-2026"
MAX_ERROR_BODIES = 5


def percentile(samples, p):
    s = sorted(samples)
    k = max(0, min(len(s) - 1, round(p / 100 * (len(s) - 1))))
    return s[k]


def summary(samples, seconds, count_key, ok, errors):
    out = {count_key: ok + errors, "ok": ok, "errors": errors, "seconds": round(seconds, 3)}
    if samples:
        out.update({"p50_ms": round(statistics.median(samples), 2), "p90_ms": round(percentile(samples, 90), 2),
                    "p99_ms": round(percentile(samples, 99), 2), "max_ms": round(max(samples), 2)})
    return out


# ---------------------------------------------------------------- HTTP
class Client:
    """One keep-alive connection, like a warm client; reconnects once if the server closed it."""

    def __init__(self, base):
        u = urllib.parse.urlparse(base)
        self.host, self.port = u.hostname, u.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def call(self, method, path, body=None, token=None, headers=None, raw=None):
        """(status, parsed JSON body or raw text, milliseconds); `raw` sends exact bytes."""
        h = {"content-type": "application/json"}
        if token:
            h["authorization"] = f"Bearer {token}"
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        for attempt in (0, 1):
            start = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=h)
                resp = self.conn.getresponse()
                payload = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest):
                # a stale keep-alive connection: not the server's latency. Requests here are
                # safe to resend (checkouts carry an Idempotency-Key).
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt:
                    raise
                continue
            elapsed = (time.perf_counter() - start) * 1000
            try:
                parsed = json.loads(payload) if payload else None
            except ValueError:
                parsed = payload.decode(errors="replace")
            return resp.status, parsed, elapsed
        raise AssertionError("unreachable")


_local = threading.local()


def client(base):
    if getattr(_local, "client", None) is None:
        _local.client = Client(base)
    return _local.client


def expect(what, status, body, want=(200, 201)):
    if status not in want:
        sys.exit(f"bench_checkout.py: setup failed: {what} answered {status}: {str(body)[:400]}")
    return body


def register_and_login(base, prefix, role=None):
    c = client(base)
    email = f"{prefix}-{uuid.uuid4().hex[:16]}@example.com"
    body = {"email": email, "password": PASSWORD, "name": prefix.title()}
    if role:
        body["role"] = role
    s, b, _ = c.call("POST", "/api/v1/auth/register", body)
    user_id = expect(f"register {prefix}", s, b, (201,))["id"]
    s, b, _ = c.call("POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
    return user_id, email, expect(f"login {prefix}", s, b, (200,))["access_token"]


# ---------------------------------------------------------------- setup
def make_admin(ddb, table, user_id):
    """The admin role, straight in the table (tests/e2e make_admin): no API grants it."""
    ddb.update_item(TableName=table, Key={"PK": {"S": f"USER#{user_id}"}, "SK": {"S": "PROFILE"}},
                    UpdateExpression="SET #r = :r", ExpressionAttributeNames={"#r": "roles"},
                    ExpressionAttributeValues={":r": {"L": [{"S": "buyer"}, {"S": "admin"}]}})


def setup_catalogue(base, ddb, table, products, stock):
    """A category, a seller's shop and `products` active products: [(product_id, sku)]."""
    return setup_shop(base, ddb, table, products, stock)["products"]


def setup_shop(base, ddb, table, products, stock):
    """What setup_catalogue makes, as a dict: admin and seller tokens, category, shop and
    products [(product_id, sku)]."""
    run = uuid.uuid4().hex[:8]
    admin_id, admin_email, _ = register_and_login(base, "bench-admin")
    make_admin(ddb, table, admin_id)
    c = client(base)
    s, b, _ = c.call("POST", "/api/v1/auth/login", {"email": admin_email, "password": PASSWORD})
    admin = expect("admin login", s, b, (200,))["access_token"]
    s, b, _ = c.call("POST", "/api/v1/categories", {"name": f"Bench {run}"}, admin)
    category = expect("create category", s, b, (201,))["id"]
    _, _, seller = register_and_login(base, "bench-seller", role="seller")
    s, b, _ = c.call("POST", "/api/v1/organizations", {"name": f"Bench {run} Co"}, seller)
    org = expect("create organisation", s, b, (201,))["id"]
    s, b, _ = c.call("POST", f"/api/v1/organizations/{org}/shops", {
        "name": f"Bench shop {run}",
        "address": {"line1": "1 Trang Tien", "city": "Hanoi", "country": "VN",
                    "location": {"lat": 21.02, "lng": 105.85}}}, seller)
    shop = expect("create shop", s, b, (201,))["id"]
    out = []
    for i in range(products):
        sku = f"BENCH-{run}-{i}"
        s, b, _ = c.call("POST", f"/api/v1/shops/{shop}/products", {
            "name": f"Bench product {run} {i}", "description": "Checkout benchmark", "category_id": category,
            "status": "active",
            "variants": [{"sku": sku, "attributes": {}, "price": {"amount": 150000, "currency": "VND"},
                          "weight_grams": 500, "stock": stock}]}, seller)
        out.append((expect("create product", s, b, (201,))["id"], sku))
    return {"admin": admin, "seller": seller, "category": category, "org": org, "shop": shop, "products": out}


# Where the extra warehouses of --warehouses stand (the shop and the buyers are in Hanoi).
FAR_WAREHOUSES = [("Cần Thơ depot", "Cần Thơ", 10.03, 105.78), ("Đà Nẵng depot", "Đà Nẵng", 16.05, 108.2),
                  ("Hải Phòng depot", "Hải Phòng", 20.86, 106.68)]


def add_warehouses(base, run, count, stock):
    """`count - 1` more warehouses of the shop's organisation serving it, each restocked with
    `stock` units of every product (the main warehouse has its opening stock)."""
    c = client(base)
    for name, city, lat, lng in FAR_WAREHOUSES[:count - 1]:
        s, b, _ = c.call("POST", f"/api/v1/organizations/{run['org']}/warehouses", {
            "name": name, "shop_ids": [run["shop"]],
            "address": {"line1": "3 Kho Hang", "city": city, "country": "VN",
                        "location": {"lat": lat, "lng": lng}}}, run["seller"])
        warehouse = expect("create warehouse", s, b, (201,))["id"]
        for product_id, sku in run["products"]:
            s, b, _ = c.call("POST", f"/api/v1/products/{product_id}/variants/{sku}/stock-adjustments",
                             {"delta": stock, "reason": "restock", "warehouse_id": warehouse}, run["seller"])
            expect("restock a warehouse", s, b, (200,))


def setup_buyer(base, product_id, sku):
    """A buyer with an address and one cart line: (token, address id)."""
    _, _, token = register_and_login(base, "bench-buyer")
    c = client(base)
    s, b, _ = c.call("POST", "/api/v1/users/me/addresses", {
        "recipient_name": "Bench Buyer", "phone": "+84901234567", "line1": "12 Hang Bac", "city": "Hanoi",
        "country": "VN"}, token)
    address = expect("add address", s, b, (201,))["id"]
    s, b, _ = c.call("POST", "/api/v1/cart/items", {"product_id": product_id, "sku": sku, "quantity": 1}, token)
    expect("add to cart", s, b, (200, 201))
    return token, address


def progress(label, done, total):
    if done % max(1, total // 10) == 0 or done == total:
        print(f"  {label}: {done}/{total}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- timed phases
def run_checkouts(base, buyers, concurrency, label="checkout"):
    """Each buyer checks out once; returns (latencies of 2xx, errors [(status, body)], seconds, orders)."""
    lock = threading.Lock()
    samples, errors, orders = [], [], [0]

    def checkout(buyer):
        token, address = buyer
        status, body, ms = client(base).call(
            "POST", "/api/v1/orders", {"payment_method": "cod", "address_id": address}, token,
            headers={"idempotency-key": f"bench-{uuid.uuid4().hex}"})
        with lock:
            if 200 <= status < 300:
                samples.append(ms)
                orders[0] += len(body.get("orders") or []) if isinstance(body, dict) else 0
            else:
                errors.append((status, body))
            done = len(samples) + len(errors)
        progress(label, done, len(buyers))

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        for f in [pool.submit(checkout, b) for b in buyers]:
            f.result()
    return samples, errors, time.perf_counter() - start, orders[0]


class RawScratch:
    """Scratch items for the raw transactions, under BENCH#<run>#: `hot_items` stock counters
    (like products) and one buyer item per transaction, written before any timing."""

    def __init__(self, ddb, table, n, hot_items):
        self.prefix = f"BENCH#{uuid.uuid4().hex[:8]}"
        self.stock_keys = [{"PK": {"S": f"{self.prefix}#STOCK#{k}"}, "SK": {"S": "STOCK"}} for k in range(hot_items)]
        self.buyer_keys = [{"PK": {"S": f"{self.prefix}#BUYER#{i}"}, "SK": {"S": "PROFILE"}} for i in range(n)]
        for key in self.stock_keys:
            ddb.put_item(TableName=table, Item={**key, "available": {"N": str(n + 1000)}})
        for key in self.buyer_keys:
            ddb.put_item(TableName=table, Item={**key, "orders": {"N": "0"}})

    def keys(self):
        """Everything the transactions may have written, to delete afterwards."""
        out = self.stock_keys + self.buyer_keys
        for i in range(len(self.buyer_keys)):
            out += [{"PK": {"S": f"{self.prefix}#ORDER#{i}"}, "SK": {"S": "ORDER"}},
                    {"PK": {"S": f"{self.prefix}#IDEM#{i}"}, "SK": {"S": "IDEMPOTENCY"}}]
        return out


def raw_transactions(ddb_clients, table, scratch, indices, concurrency, label):
    """One TransactWriteItems of 4 actions per index, like a checkout's write: Put order (new),
    Update stock (ADD -1 if enough), Update buyer (ADD 1 if it exists), Put idempotency record.
    Returns (latencies, errors, seconds)."""
    prefix, stock_keys, buyer_keys = scratch.prefix, scratch.stock_keys, scratch.buyer_keys
    hot_items = len(stock_keys)
    pool_clients = list(ddb_clients)
    client_lock = threading.Lock()
    lock = threading.Lock()
    samples, errors = [], []

    def transact(i):
        with client_lock:
            ddb = pool_clients.pop()
        try:
            items = [
                {"Put": {"TableName": table, "Item": {"PK": {"S": f"{prefix}#ORDER#{i}"}, "SK": {"S": "ORDER"},
                                                      "status": {"S": "pending"}, "total": {"N": "150000"}},
                         "ConditionExpression": "attribute_not_exists(PK)"}},
                {"Update": {"TableName": table, "Key": stock_keys[i % hot_items],
                            "UpdateExpression": "ADD available :minus",
                            "ConditionExpression": "available >= :one",
                            "ExpressionAttributeValues": {":minus": {"N": "-1"}, ":one": {"N": "1"}}}},
                {"Update": {"TableName": table, "Key": buyer_keys[i],
                            "UpdateExpression": "ADD orders :one",
                            "ConditionExpression": "attribute_exists(PK)",
                            "ExpressionAttributeValues": {":one": {"N": "1"}}}},
                {"Put": {"TableName": table, "Item": {"PK": {"S": f"{prefix}#IDEM#{i}"}, "SK": {"S": "IDEMPOTENCY"},
                                                      "state": {"S": "done"}}}},
            ]
            start = time.perf_counter()
            try:
                ddb.transact_write_items(TransactItems=items)
                ms = (time.perf_counter() - start) * 1000
                with lock:
                    samples.append(ms)
            except Exception as e:  # noqa: BLE001 — counted and shown like HTTP errors
                with lock:
                    errors.append((type(e).__name__, str(e)))
            with lock:
                done = len(samples) + len(errors)
            progress(label, done, len(indices))
        finally:
            with client_lock:
                pool_clients.append(ddb)

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        for f in [pool.submit(transact, i) for i in indices]:
            f.result()
    return samples, errors, time.perf_counter() - start


def item_count(ddb, table):
    return ddb.describe_table(TableName=table)["Table"].get("ItemCount")


def delete_keys(ddb, table, keys):
    for i in range(0, len(keys), 25):
        pending = {table: [{"DeleteRequest": {"Key": k}} for k in keys[i:i + 25]]}
        for _ in range(5):
            pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                break


# ---------------------------------------------------------------- main
def show_errors(label, errors):
    if not errors:
        return
    by_status = {}
    for status, _ in errors:
        by_status[status] = by_status.get(status, 0) + 1
    print(f"{label}: {len(errors)} failed ({', '.join(f'{k}: {v}' for k, v in sorted(by_status.items(), key=str))});"
          f" first {min(len(errors), MAX_ERROR_BODIES)}:", file=sys.stderr)
    for status, body in errors[:MAX_ERROR_BODIES]:
        text = body if isinstance(body, str) else json.dumps(body)
        print(f"  {status}: {text[:300]}", file=sys.stderr)


def table_text(results):
    rows = [("checkout  POST /api/v1/orders", results["checkout"], "orders_per_second", "orders/s"),
            ("emulator  TransactWriteItems x4", results["emulator_transact"], "transactions_per_second", "tx/s")]
    head = f"{'':32} {'count':>6} {'errors':>6} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'rate':>14}"
    lines = [head, "-" * len(head)]
    for label, r, rate_key, unit in rows:
        cells = [f"{r.get(k, float('nan')):8.2f}" for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")]
        count = r.get("checkouts", r.get("transactions"))
        lines.append(f"{label:32} {count:6d} {r['errors']:6d} {' '.join(cells)} {r[rate_key]:>8.1f} {unit:<5}")
    ratio = results["ratios"]
    lines.append("")
    lines.append(f"checkout orders/s ÷ raw transactions/s = {ratio['orders_per_s_over_raw_tx_per_s']}"
                 f"    checkout p50 ÷ raw transaction p50 = {ratio['checkout_p50_over_raw_p50']}")
    lines.append(f"(concurrency {results['concurrency']}, {results['products']} products in {results['warehouses']} warehouse(s), emulator {results['endpoint']}, "
                 f"table {results['table']}: {results['table_items_before']} → {results['table_items_after']} items "
                 "over the timed phases)")
    return "\n".join(lines)


def emulator_from_stack(path, prog):
    """The endpoint, the table name and a DynamoDB client factory (no retries) for the emulator of stack file
    `path`; exits with a hint when `make dev` has not written it."""
    try:
        with open(path) as f:
            stack = json.load(f)
        endpoint, region, table = stack["endpoint"], stack.get("region", "us-east-1"), stack["env"]["TABLE_NAME"]
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"{prog}: cannot read the emulator endpoint and TABLE_NAME from {path} ({e}); "
                 "start `make dev` first or pass --stack")
    import boto3
    from botocore.config import Config

    def ddb_client():
        return boto3.client("dynamodb", endpoint_url=endpoint, region_name=region, aws_access_key_id="test",
                            aws_secret_access_key="test",
                            config=Config(retries={"max_attempts": 1}, max_pool_connections=2))
    return endpoint, table, ddb_client


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", default="http://localhost:3000")
    ap.add_argument("--stack", default=".local/stack.json", help="stack file: emulator endpoint and TABLE_NAME")
    ap.add_argument("--checkouts", type=int, default=200, help="timed checkouts, each by a fresh buyer")
    ap.add_argument("--concurrency", type=int, default=8, help="workers for the timed phases (and the setup)")
    ap.add_argument("--products", type=int, default=8, help="products the buyers' cart lines are spread over")
    ap.add_argument("--warmup", type=int, default=5, help="untimed checkouts first (extra buyers)")
    ap.add_argument("--warehouses", type=int, default=2, choices=range(1, len(FAR_WAREHOUSES) + 2),
                    help="warehouses holding each product (the main one nearest the buyers, sized to run out "
                         "halfway, so checkouts go on to the others)")
    ap.add_argument("--raw", type=int, default=200, help="raw TransactWriteItems against the emulator")
    ap.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    args = ap.parse_args()
    if min(args.checkouts, args.concurrency, args.products, args.raw) < 1 or args.warmup < 0:
        ap.error("--checkouts, --concurrency, --products and --raw must be ≥ 1, --warmup ≥ 0")

    endpoint, table, ddb_client = emulator_from_stack(args.stack, "bench_checkout.py")
    ddb = ddb_client()
    try:
        status, _, _ = client(args.base_url).call("GET", "/health")
    except OSError as e:
        sys.exit(f"bench_checkout.py: no dev server at {args.base_url} ({e}); start `make dev` first")
    if status != 200:
        sys.exit(f"bench_checkout.py: {args.base_url}/health answered {status}")

    buyers_total = args.checkouts + args.warmup
    stock = math.ceil(buyers_total / args.products / args.warehouses) + 5
    print(f"setup: catalogue ({args.products} products, stock {stock} each in {args.warehouses} warehouse(s)) and "
          f"{buyers_total} buyers with an address and a cart line (not timed)", file=sys.stderr, flush=True)
    run = setup_shop(args.base_url, ddb, table, args.products, stock)
    products = run["products"]
    if args.warehouses > 1:
        add_warehouses(args.base_url, run, args.warehouses, stock)
    done = [0]
    lock = threading.Lock()

    def make_buyer(i):
        buyer = setup_buyer(args.base_url, *products[i % len(products)])
        with lock:
            done[0] += 1
            progress("buyers", done[0], buyers_total)
        return buyer

    with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
        buyers = list(pool.map(make_buyer, range(buyers_total)))

    if args.warmup:
        _, warm_errors, _, _ = run_checkouts(args.base_url, buyers[:args.warmup], args.concurrency, "warm-up")
        show_errors("warm-up checkouts", warm_errors)

    # Raw transactions: half just before the checkouts, half just after (see the docstring).
    clients = [ddb_client() for _ in range(args.concurrency)]
    scratch = RawScratch(ddb, table, args.raw, args.products)
    halves = [range(0, args.raw // 2), range(args.raw // 2, args.raw)]
    raw_samples, raw_errors, raw_seconds = [], [], 0.0

    def raw_half(indices, when):
        nonlocal raw_seconds
        if not indices:
            return
        print(f"timed: {len(indices)} raw TransactWriteItems (4 actions) against {endpoint} {when} the checkouts, "
              f"concurrency {args.concurrency}", file=sys.stderr, flush=True)
        s_, e_, t_ = raw_transactions(clients, table, scratch, indices, args.concurrency,
                                      f"raw TransactWriteItems ({when})")
        raw_samples.extend(s_)
        raw_errors.extend(e_)
        raw_seconds += t_

    items_before = item_count(ddb, table)
    raw_half(halves[0], "before")
    print(f"timed: {args.checkouts} checkouts, concurrency {args.concurrency}", file=sys.stderr, flush=True)
    samples, errors, seconds, orders = run_checkouts(args.base_url, buyers[args.warmup:], args.concurrency)
    show_errors("checkouts", errors)
    checkout = summary(samples, seconds, "checkouts", len(samples), len(errors))
    checkout["orders"] = orders
    checkout["orders_per_second"] = round(orders / seconds, 2)
    raw_half(halves[1], "after")
    items_after = item_count(ddb, table)
    show_errors("raw transactions", raw_errors)
    delete_keys(ddb, table, scratch.keys())
    raw = summary(raw_samples, raw_seconds, "transactions", len(raw_samples), len(raw_errors))
    raw["transactions_per_second"] = round(len(raw_samples) / raw_seconds, 2) if raw_seconds else 0.0

    def ratio(a, b):
        return round(a / b, 3) if a is not None and b else None
    results = {
        "base_url": args.base_url, "endpoint": endpoint, "table": table, "concurrency": args.concurrency,
        "products": args.products, "warehouses": args.warehouses, "table_items_before": items_before, "table_items_after": items_after,
        "checkout": checkout, "emulator_transact": raw,
        "ratios": {
            "orders_per_s_over_raw_tx_per_s": ratio(checkout["orders_per_second"], raw["transactions_per_second"]),
            "checkout_p50_over_raw_p50": ratio(checkout.get("p50_ms"), raw.get("p50_ms")),
        },
    }
    print(json.dumps(results, indent=2) if args.json else table_text(results))
    if not samples:
        sys.exit("bench_checkout.py: no checkout succeeded")


if __name__ == "__main__":
    main()
