#!/usr/bin/env python3
"""`make load`: a bounded mixed workload against a running `make dev`, then the invariants.

For --duration seconds (default 60) --concurrency workers (default 8), each with its own
buyers and one keep-alive connection, pick operations at random by weight:

  browse   GET /api/v1/products (a page) or GET /api/v1/products/{id}
  cart     POST /api/v1/cart/items (one of the run's products, 1 or 2 units)
  checkout POST /api/v1/orders (cash on delivery, Idempotency-Key); a share of checkouts first
           put the run's shop voucher on the cart (POST /api/v1/cart/vouchers)
  cancel   POST /api/v1/orders/{id}/cancel of one of the buyer's open orders

and one seller worker fulfils an open order every --fulfil-every seconds (process → ship →
deliver), racing the buyers' cancellations. The run's shop has --products products of --stock
units each and a voucher of --voucher-limit redemptions, so both run out: a cart line or a
checkout beyond the stock, a move that lost its race, is a 409, and a voucher applied after it
was used up is a 422 naming `code`. Those are the expected refusals; any other non-2xx (or a
dropped connection) is an error.

Reported per operation: requests, expected refusals, errors, p50 / p99 latency and rate, the
total throughput and error rate, beside the emulator's raw rate of 4-action TransactWriteItems
measured in the same run (half before, half after the load; bench_checkout.py's measurement).

Then the invariants, read through the API (the seller's inventory, ledger, order and voucher
views) and, for the stored counters, from the table:
  - no oversold variant: stock, reserved and available never negative, available = stock -
    reserved, reserved ≤ the initial stock;
  - every order's stock movement is accounted for: per variant, reserved = the units of the
    orders that still hold a reservation; stock = initial - the units of delivered orders; the
    ledger is the initial entry plus exactly one "sale" entry per delivered order line
    (actor order:<id>, -quantity) and sums to the stock;
  - the voucher's used_count ≤ its usage_limit, and = the orders that carry it.

Exit status 1 if any error happened or any invariant failed.

Usage: make dev (in another terminal), then `make load` or
       .venv/bin/python infra/local/load.py --base-url http://localhost:3000 [--duration 60]
           [--concurrency 8] [--stack .local/stack.json] [--json]
Needs only the standard library and boto3 (the project venv). Reuses bench_checkout.py.
"""
import argparse
import concurrent.futures
import json
import os
import random
import statistics
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_checkout as bench  # noqa: E402 — a sibling script, imported for its helpers

WEIGHTS = {"browse": 40, "cart": 25, "checkout": 20, "cancel": 15}
HOLDING = {"pending_payment", "confirmed", "processing", "shipped"}
SOLD = {"delivered", "completed", "return_requested", "returned", "refunded"}
BUYERS_PER_WORKER = 4


class Stats:
    """Per operation: latencies of 2xx answers, expected refusals and errors."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ops = {}

    def op(self, name):
        return self.ops.setdefault(name, {"ms": [], "expected": {}, "errors": []})

    def record(self, name, status, ms, body, expected=()):
        """`expected`: the statuses that are expected refusals, or a test of (status, body)."""
        refused = expected(status, body) if callable(expected) else status in expected
        with self.lock:
            o = self.op(name)
            if 200 <= status < 300:
                o["ms"].append(ms)
            elif refused:
                o["expected"][status] = o["expected"].get(status, 0) + 1
            else:
                o["errors"].append((status, body))

    def error(self, name, what):
        with self.lock:
            self.op(name)["errors"].append(("exception", what))


class Run:
    """What the workers share: the catalogue, the open orders, every order placed."""

    def __init__(self, args, shop):
        self.base = args.base_url
        self.args = args
        self.shop = shop
        self.stats = Stats()
        self.lock = threading.Lock()
        self.open = {}  # order id -> buyer token (orders that may still be cancelled or fulfilled)
        self.placed = {}  # order id -> its lines, as the checkout answered
        self.stop_at = None
        self.voucher = None

    def call(self, op, method, path, body=None, token=None, headers=None, expected=(409,)):
        try:
            status, answer, ms = bench.client(self.base).call(method, path, body, token, headers)
        except OSError as e:  # a dropped connection is an error of the operation
            self.stats.error(op, f"{method} {path}: {e!r}")
            return None, None
        self.stats.record(op, status, ms, answer, expected)
        return status, answer


def voucher_refused(status, body):
    """A 409, or the 422 naming `code` of applying a voucher the others used up meanwhile."""
    if status == 409:
        return True
    if status != 422 or not isinstance(body, dict):
        return False
    return any(e.get("field") == "code" for e in body.get("errors") or [])


def buyer_loop(run, buyers, seed):
    rng = random.Random(seed)
    products = run.shop["products"]
    carts = {token: 0 for token, _ in buyers}  # lines believed in each buyer's cart
    ops, weights = list(WEIGHTS), list(WEIGHTS.values())
    turn = 0
    while time.monotonic() < run.stop_at:
        token, address = buyers[turn % len(buyers)]
        turn += 1
        op = rng.choices(ops, weights)[0]
        if op == "checkout" and carts[token] == 0:
            op = "cart"
        if op == "browse":
            if rng.random() < 0.5:
                run.call("browse", "GET", "/api/v1/products?limit=20", expected=())
            else:
                product_id, _ = rng.choice(products)
                run.call("browse", "GET", f"/api/v1/products/{product_id}", expected=())
        elif op == "cart":
            product_id, sku = rng.choice(products)
            status, _ = run.call("cart", "POST", "/api/v1/cart/items",
                                 {"product_id": product_id, "sku": sku, "quantity": rng.randint(1, 2)}, token)
            if status in (200, 201):
                carts[token] += 1
        elif op == "checkout":
            if rng.random() < run.args.voucher_share:
                run.call("voucher", "POST", "/api/v1/cart/vouchers",
                         {"code": run.voucher, "shop_id": run.shop["shop"]}, token, expected=voucher_refused)
            status, body = run.call("checkout", "POST", "/api/v1/orders",
                                    {"payment_method": "cod", "address_id": address}, token,
                                    headers={"idempotency-key": f"load-{uuid.uuid4().hex}"})
            if status == 201:
                carts[token] = 0
                with run.lock:
                    for order in body.get("orders") or []:
                        run.placed[order["id"]] = order["lines"]
                        run.open[order["id"]] = token
            elif status == 409:
                # more than is available: start this cart again
                run.call("cart", "DELETE", "/api/v1/cart", token=token, expected=())
                carts[token] = 0
        elif op == "cancel":
            with run.lock:
                mine = [o for o, t in run.open.items() if t == token]
                order = rng.choice(mine) if mine else None
                if order:
                    del run.open[order]
            if order:
                run.call("cancel", "POST", f"/api/v1/orders/{order}/cancel", {"reason": "load test: changed my mind"},
                         token)


def seller_loop(run, seed):
    """Fulfils one open order every --fulfil-every seconds: process, ship, deliver. The order
    stays open to its buyer meanwhile, so a cancellation may race the moves (one of them gets a
    409)."""
    rng = random.Random(seed)
    seller = run.shop["seller"]
    fulfilled = set()
    while time.monotonic() < run.stop_at:
        time.sleep(run.args.fulfil_every)
        with run.lock:
            candidates = [o for o in run.open if o not in fulfilled]
        if not candidates:
            continue
        order = rng.choice(candidates)
        fulfilled.add(order)
        for move, body in (("process", {}), ("ship", {"carrier": "GHN", "tracking_number": f"GHN{rng.randrange(10**8):08d}"}),
                           ("deliver", {})):
            status, _ = run.call("fulfil", "POST", f"/api/v1/orders/{order}/{move}", body, seller)
            if status != 200:
                break
        with run.lock:
            run.open.pop(order, None)


def setup_buyers(run, count):
    def one(_):
        _, _, token = bench.register_and_login(run.base, "load-buyer")
        s, b, _ = bench.client(run.base).call("POST", "/api/v1/users/me/addresses", {
            "recipient_name": "Load Buyer", "phone": "+84901234567", "line1": "12 Hang Bac", "city": "Hanoi",
            "country": "VN"}, token)
        return token, bench.expect("add address", s, b, (201,))["id"]
    with concurrent.futures.ThreadPoolExecutor(run.args.concurrency) as pool:
        return list(pool.map(one, range(count)))


def setup_voucher(run):
    code = f"LOAD{uuid.uuid4().hex[:10].upper()}"
    now = int(time.time())
    s, b, _ = bench.client(run.base).call("POST", f"/api/v1/shops/{run.shop['shop']}/vouchers", {
        "code": code, "description": "Load test", "usage_limit": run.args.voucher_limit,
        "per_user_limit": run.args.voucher_limit,
        "terms": {"kind": "fixed", "value": 1000, "currency": "VND", "min_spend": 0,
                  "starts_at": now - 60, "ends_at": now + 86_400}}, run.shop["seller"])
    bench.expect("create voucher", s, b, (201,))
    return code


# ---------------------------------------------------------------- invariants
def all_items(run, path, token):
    items, cursor = [], None
    sep = "&" if "?" in path else "?"
    while True:
        url = f"{path}{sep}limit=100" + (f"&cursor={cursor}" if cursor else "")
        s, b, _ = bench.client(run.base).call("GET", url, token=token)
        bench.expect(f"GET {path}", s, b, (200,))
        items += b["items"]
        cursor = b.get("next_cursor")
        if not cursor:
            return items


def shop_inventory(run, shop, seller):
    """The shop's stock per (product, SKU), summed over its warehouses' rows (every page of
    GET shops/{id}/inventory)."""
    out = {}
    for row in all_items(run, f"/api/v1/shops/{shop}/inventory", seller):
        view = out.setdefault((row["product_id"], row["sku"].upper()), {"stock": 0, "reserved": 0, "available": 0})
        for field in view:
            view[field] += row[field]
    return out


def check_invariants(run, ddb, table):
    """[(invariant, ok, detail)]."""
    seller, shop = run.shop["seller"], run.shop["shop"]
    initial = run.args.stock
    orders = all_items(run, f"/api/v1/shops/{shop}/orders", seller)
    by_id = {o["id"]: o for o in orders}
    results = []

    def check(name, ok, detail=""):
        results.append((name, bool(ok), detail))

    missing = [o for o in run.placed if o not in by_id]
    check("every order placed is in the shop's order list", not missing, f"missing {missing[:5]}")
    unknown = sorted({o["status"] for o in orders} - HOLDING - SOLD - {"cancelled"})
    check("orders end in a known status", not unknown, f"{unknown}")
    # (SKUs as the API keeps them: it normalises what it is sent)
    inventory = shop_inventory(run, shop, seller)
    for product_id, sku in run.shop["products"]:
        sku = label = sku.upper()
        held = sum(line["quantity"] for o in orders if o["status"] in HOLDING
                   for line in o["lines"] if line["product_id"] == product_id and line["sku"].upper() == sku)
        sold_lines = {(o["id"], line["quantity"]) for o in orders if o["status"] in SOLD
                      for line in o["lines"] if line["product_id"] == product_id and line["sku"].upper() == sku}
        sold = sum(q for _, q in sold_lines)
        view = inventory.get((product_id, sku))
        if view is None:
            check(f"{label}: in the inventory view", False, "absent")
            continue
        item = ddb.get_item(TableName=table, ConsistentRead=True,
                            Key={"PK": {"S": f"PRODUCT#{product_id}"}, "SK": {"S": f"VARIANT#{sku}"}}).get("Item", {})
        stored = {k: int(item[k]["N"]) for k in ("stock", "reserved", "available") if k in item}
        ledger = all_items(run, f"/api/v1/products/{product_id}/variants/{sku}/ledger", seller)
        total = sum(e["delta"] for e in ledger)
        initial_entries = [e["delta"] for e in ledger if e["reason"] == "initial"]
        sales = sorted((e["actor"].removeprefix("order:"), -e["delta"]) for e in ledger if e["reason"] == "sale")
        others = [e for e in ledger if e["reason"] not in ("initial", "sale")]
        figures = (f"{label}: stored {stored}, view stock {view['stock']} reserved {view['reserved']}; "
                   f"held by open orders {held}, delivered {sold}; ledger sum {total}, initial {initial_entries}, "
                   f"{len(sales)} sales for {len(sold_lines)} delivered lines, {len(others)} other entries")
        check("no oversold variant: stock, reserved, available ≥ 0 (stored and shown), available = stock - reserved, "
              "reserved ≤ initial stock",
              len(stored) == 3 and min(stored.values()) >= 0 and min(view["stock"], view["reserved"]) >= 0
              and stored["available"] == stored["stock"] - stored["reserved"] and view["reserved"] <= initial,
              figures)
        check("reserved = the units of the orders still holding a reservation", view["reserved"] == held, figures)
        check("stock = initial - the units of delivered orders", view["stock"] == initial - sold, figures)
        check("ledger = one initial entry + one sale entry (order:<id>, -quantity) per delivered order line, "
              "summing to the stock",
              total == view["stock"] and initial_entries == [initial] and sales == sorted(sold_lines) and not others,
              figures)
    vouchers = all_items(run, f"/api/v1/shops/{shop}/vouchers", seller)
    v = next((x for x in vouchers if x["code"] == run.voucher), None)
    carrying = sum(1 for o in orders if o.get("shop_voucher") == run.voucher)
    if v is None:
        check("the voucher is listed", False, run.voucher)
    else:
        check(f"voucher used {v['used_count']} ≤ limit {v['usage_limit']}", v["used_count"] <= v["usage_limit"])
        check(f"voucher used_count = orders carrying it ({carrying})", v["used_count"] == carrying,
              f"used {v['used_count']}")
    return results, orders


# ---------------------------------------------------------------- report
def op_summary(o, seconds):
    ms = o["ms"]
    expected = sum(o["expected"].values())
    total = len(ms) + expected + len(o["errors"])
    out = {"requests": total, "ok": len(ms), "expected": dict(sorted(o["expected"].items())),
           "errors": len(o["errors"]), "per_second": round(total / seconds, 2) if seconds else 0.0}
    if ms:
        out.update({"p50_ms": round(statistics.median(ms), 1), "p99_ms": round(bench.percentile(ms, 99), 1)})
    return out


def report_text(results):
    head = f"{'operation':10} {'requests':>8} {'ok':>6} {'expected':>16} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7}"
    lines = [head, "-" * len(head)]
    for name, o in results["operations"].items():
        exp = ", ".join(f"{k}: {v}" for k, v in o["expected"].items()) or "-"
        lines.append(f"{name:10} {o['requests']:8d} {o['ok']:6d} {exp:>16} {o['errors']:6d} "
                     f"{o.get('p50_ms', float('nan')):8.1f} {o.get('p99_ms', float('nan')):8.1f} {o['per_second']:7.2f}")
    t = results["total"]
    lines.append(f"{'all':10} {t['requests']:8d} {t['ok']:6d} {t['expected']:16d} {t['errors']:6d} "
                 f"{'':8} {'':8} {t['per_second']:7.2f}")
    raw = results["emulator_transact"]
    lines += ["",
              f"throughput {t['per_second']} requests/s ({results['orders_placed']} orders placed, "
              f"{results['orders_per_second']} orders/s) over {results['seconds']} s at concurrency "
              f"{results['concurrency']}; error rate {t['error_rate']:.4%} (expected refusals {t['expected']})",
              f"emulator raw TransactWriteItems x4 in the same run: p50 {raw.get('p50_ms')} ms, "
              f"{raw['transactions_per_second']} tx/s  →  orders/s ÷ raw tx/s = {results['orders_over_raw_tx']}",
              f"orders by final status: {results['orders_by_status']}", "", "invariants:"]
    grouped = {}
    for name, ok, detail in results["invariants"]:
        grouped.setdefault(name, []).append((ok, detail))
    for name, checks in grouped.items():
        failed = [d for ok, d in checks if not ok]
        count = f" ({len(checks) - len(failed)}/{len(checks)} variants)" if len(checks) > 1 else ""
        lines.append(f"  {'FAIL' if failed else 'ok  '} {name}{count}")
        lines += [f"         {d}" for d in failed[:5]]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", default="http://localhost:3000")
    ap.add_argument("--stack", default=".local/stack.json", help="stack file: emulator endpoint and TABLE_NAME")
    ap.add_argument("--duration", type=float, default=60, help="seconds of load")
    ap.add_argument("--concurrency", type=int, default=8, help="buyer workers")
    ap.add_argument("--products", type=int, default=6)
    ap.add_argument("--stock", type=int, default=20, help="initial units of each product (small: it runs out)")
    ap.add_argument("--voucher-limit", type=int, default=25, help="redemptions of the run's shop voucher")
    ap.add_argument("--voucher-share", type=float, default=0.3, help="share of checkouts that apply the voucher")
    ap.add_argument("--fulfil-every", type=float, default=2.5, help="seconds between two fulfilments by the seller")
    ap.add_argument("--raw", type=int, default=200, help="raw TransactWriteItems against the emulator")
    ap.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    args = ap.parse_args()
    if min(args.duration, args.concurrency, args.products, args.stock, args.voucher_limit, args.raw) <= 0:
        ap.error("--duration, --concurrency, --products, --stock, --voucher-limit and --raw must be > 0")

    endpoint, table, ddb_client = bench.emulator_from_stack(args.stack, "load.py")
    ddb = ddb_client()
    try:
        status, _, _ = bench.client(args.base_url).call("GET", "/health")
    except OSError as e:
        sys.exit(f"load.py: no dev server at {args.base_url} ({e}); start `make dev` first")
    if status != 200:
        sys.exit(f"load.py: {args.base_url}/health answered {status}")

    buyers_total = args.concurrency * BUYERS_PER_WORKER
    print(f"setup: a shop with {args.products} products of {args.stock} units, a voucher of {args.voucher_limit} "
          f"redemptions, {buyers_total} buyers (not timed)", file=sys.stderr, flush=True)
    shop = bench.setup_shop(args.base_url, ddb, table, args.products, args.stock)
    run = Run(args, shop)
    run.voucher = setup_voucher(run)
    buyers = setup_buyers(run, buyers_total)

    clients = [ddb_client() for _ in range(args.concurrency)]
    scratch = bench.RawScratch(ddb, table, args.raw, args.products)
    raw_samples, raw_errors, raw_seconds = [], [], 0.0

    def raw_half(indices, when):
        nonlocal raw_seconds
        print(f"timed: {len(indices)} raw TransactWriteItems {when} the load", file=sys.stderr, flush=True)
        s_, e_, t_ = bench.raw_transactions(clients, table, scratch, indices, args.concurrency, f"raw ({when})")
        raw_samples.extend(s_)
        raw_errors.extend(e_)
        raw_seconds += t_

    raw_half(range(0, args.raw // 2), "before")
    print(f"load: {args.duration:g} s, {args.concurrency} buyer workers + 1 seller", file=sys.stderr, flush=True)
    started = time.monotonic()
    run.stop_at = started + args.duration
    with concurrent.futures.ThreadPoolExecutor(args.concurrency + 1) as pool:
        futures = [pool.submit(buyer_loop, run, buyers[w::args.concurrency], w) for w in range(args.concurrency)]
        futures.append(pool.submit(seller_loop, run, 10_000))
        for f in futures:
            f.result()
    seconds = time.monotonic() - started
    raw_half(range(args.raw // 2, args.raw), "after")
    bench.show_errors("raw transactions", raw_errors)
    bench.delete_keys(ddb, table, scratch.keys())
    raw = bench.summary(raw_samples, raw_seconds, "transactions", len(raw_samples), len(raw_errors))
    raw["transactions_per_second"] = round(len(raw_samples) / raw_seconds, 2) if raw_seconds else 0.0

    print("checking the invariants", file=sys.stderr, flush=True)
    invariants, orders = check_invariants(run, ddb, table)
    operations = {name: op_summary(o, seconds) for name, o in run.stats.ops.items()}
    total = {k: sum(o[k] for o in operations.values()) for k in ("requests", "ok", "errors")}
    total["expected"] = sum(sum(o["expected"].values()) for o in operations.values())
    total["per_second"] = round(total["requests"] / seconds, 2)
    total["error_rate"] = total["errors"] / total["requests"] if total["requests"] else 0.0
    by_status = {}
    for o in orders:
        by_status[o["status"]] = by_status.get(o["status"], 0) + 1
    orders_per_second = round(len(run.placed) / seconds, 2)
    results = {
        "base_url": args.base_url, "endpoint": endpoint, "seconds": round(seconds, 1),
        "concurrency": args.concurrency, "operations": operations, "total": total,
        "orders_placed": len(run.placed), "orders_per_second": orders_per_second,
        "orders_by_status": dict(sorted(by_status.items())), "emulator_transact": raw,
        "orders_over_raw_tx": round(orders_per_second / raw["transactions_per_second"], 3)
        if raw["transactions_per_second"] else None,
        "invariants": invariants,
    }
    print(json.dumps(results, indent=2) if args.json else report_text(results))
    for name, o in run.stats.ops.items():
        bench.show_errors(f"{name} errors", o["errors"])
    failed = [name for name, ok, _ in invariants if not ok]
    if total["errors"] or failed:
        sys.exit(f"load.py: {total['errors']} errors, {len(failed)} invariants failed")


if __name__ == "__main__":
    main()
