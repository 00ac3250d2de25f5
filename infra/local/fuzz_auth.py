#!/usr/bin/env python3
"""Schemathesis hooks for infra/local/fuzz.sh, and the fuzz run's data preparation.

As a hooks file (SCHEMATHESIS_HOOKS=infra/local/fuzz_auth.py, with FUZZ_BASE_URL and FUZZ_IDS
set by fuzz.sh):
  * one identity per operation, logged in as the dev server's demo accounts (`--seed`): admin
    routes as admin@demo.local, shop and catalogue-management routes as seller@demo.local (who owns
    the demo shop), everything else that needs a token as buyer@demo.local; operations without a
    security requirement are sent without a token. Tokens are cached per identity and fetched
    again on a 401 (a fuzzed logout or password change may end a session).
  * path parameters and body fields that name demo objects (shop, organisation, product + SKU,
    address, order, checkout, payment, voucher code, category) get a real demo id in about half
    of the positive cases, so those cases reach the handlers' logic instead of a 404; operations
    that would destroy the demo data get spare objects instead (SPARE).

As a script, `fuzz_auth.py prepare --base-url URL --ids FILE` adds to the ids that
seed_demo.py --ids-out wrote: the demo accounts' ids, spare objects (a product, a shop, an
address, a user) for the destructive operations, two cash-on-delivery orders and an online
checkout with a pending Stripe payment of buyer@demo.local. Standard library only in that mode.
"""
import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.request
import uuid

PASSWORD = "demo-pass-2026"
ACCOUNTS = {"admin": "admin@demo.local", "seller": "seller@demo.local", "buyer": "buyer@demo.local"}

# (methods or None for any, path regex, identity); the first match wins, the default is the buyer.
IDENTITY_RULES = [
    (None, r"^/api/v1/users$", "admin"),
    (None, r"^/api/v1/users/\{id\}/(roles|status)$", "admin"),
    ({"POST"}, r"^/api/v1/(categories|brands|vouchers)$", "admin"),
    ({"PUT"}, r"^/api/v1/vouchers/\{code\}$", "admin"),
    (None, r"^/api/v1/payments/(bank-transfers|chargebacks|transactions)$", "admin"),
    (None, r"^/api/v1/payments/\{id\}/refund$", "admin"),
    (None, r"^/api/v1/shops/\{id\}/status$", "admin"),
    (None, r"^/api/v1/notifications/(email/send|sms/send|templates)", "admin"),
    (None, r"^/api/v1/organizations", "seller"),
    (None, r"^/api/v1/shops/\{id\}/", "seller"),
    ({"PUT"}, r"^/api/v1/shops/\{id\}$", "seller"),
    ({"PUT", "DELETE"}, r"^/api/v1/products/\{id\}$", "seller"),
    (None, r"^/api/v1/products/\{id\}/(media|variants)", "seller"),
    (None, r"^/api/v1/orders/\{id\}/(confirm|process|ship|deliver|return/accept|return/reject)$", "seller"),
]

# Operations that would take the demo data away from every later case, or from the next run's
# seed_demo.py, which finds the demo objects by name (archive or rewrite a product, rename or
# suspend the shop, rewrite or delete the buyer's address, disable or demote a demo account,
# remove the shop's owner): `before_call` points them at the spare objects `prepare` made
# instead, also when schemathesis learnt a demo id from a response.
SPARE = {
    ("PUT", "/api/v1/products/{id}"): ("id", "products", "spare_product"),
    ("DELETE", "/api/v1/products/{id}"): ("id", "products", "spare_product"),
    ("PUT", "/api/v1/shops/{id}"): ("id", "shop", "spare_shop"),
    ("PUT", "/api/v1/shops/{id}/status"): ("id", "shop", "spare_shop"),
    ("PUT", "/api/v1/users/me/addresses/{id}"): ("id", "address", "spare_address"),
    ("DELETE", "/api/v1/users/me/addresses/{id}"): ("id", "address", "spare_address"),
    ("PUT", "/api/v1/users/{id}/roles"): ("id", "users", "spare_user"),
    ("PUT", "/api/v1/users/{id}/status"): ("id", "users", "spare_user"),
    ("PUT", "/api/v1/organizations/{id}/members/{user_id}"): ("user_id", "users", "spare_user"),
    ("DELETE", "/api/v1/organizations/{id}/members/{user_id}"): ("user_id", "users", "spare_user"),
}


def identity_for(method, path):
    for methods, pattern, who in IDENTITY_RULES:
        if (methods is None or method in methods) and re.search(pattern, path):
            return who
    return "buyer"


# --- HTTP (standard library: the prepare mode runs before schemathesis is involved) -------------

def call(base, method, path, body=None, token=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base.rstrip("/") + "/api/v1" + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        raise RuntimeError(f"{method} {path} → {e.code}: {raw[:300].decode(errors='replace')}") from e


def login(base, who):
    _, body = call(base, "POST", "/auth/login", {"email": ACCOUNTS[who], "password": PASSWORD})
    return body["access_token"]


def spare_address_of(base, buyer, demo_address, body):
    """A spare address of the buyer: an earlier run's, or a new one. The book holds 20, and
    fuzzed requests fill it against a long-running server: then one that is not the demo
    address makes room."""
    book = call(base, "GET", "/users/me/addresses", token=buyer)[1]["items"]
    spare = next((a for a in book if a["line1"].endswith(" Fuzz St")), None)
    if spare:
        return spare
    if len(book) >= 20:
        victim = next(a for a in book if a["id"] != demo_address and not a["is_default"])
        call(base, "DELETE", f"/users/me/addresses/{victim['id']}", token=buyer)
    return call(base, "POST", "/users/me/addresses", body, buyer)[1]


def prepare(base, ids_file):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import seed_demo

    with open(ids_file) as f:
        ids = json.load(f)
    tokens = {who: login(base, who) for who in ACCOUNTS}
    buyer, seller = tokens["buyer"], tokens["seller"]
    shipper = call(base, "POST", "/auth/login", {"email": "shipper@demo.local", "password": PASSWORD})[1]["access_token"]
    ids["users"] = [call(base, "GET", "/users/me", token=t)[1]["id"] for t in [*tokens.values(), shipper]]
    tag = uuid.uuid4().hex[:8].upper()
    _, spare = call(base, "POST", "/shops/{}/products".format(ids["shop"]), {
        "name": f"Fuzz spare {tag}", "status": "active", "category_id": next(iter(ids["categories"].values())),
        "variants": [seed_demo.variant(f"FUZZ-{tag}", {}, 100000, 100, 5)]}, seller)
    _, spare_shop = call(base, "POST", "/organizations/{}/shops".format(ids["organization"]),
                         {**seed_demo.SHOP, "name": f"Fuzz spare shop {tag}"}, seller)
    spare_address = spare_address_of(base, buyer, ids["address"], {**seed_demo.ADDRESS, "line1": f"{tag} Fuzz St"})
    _, spare_user = call(base, "POST", "/auth/register",
                         {"email": f"fuzz-{tag.lower()}@demo.local", "password": PASSWORD, "name": "Fuzz Spare"})
    ids.update(spare_product=spare["id"], spare_shop=spare_shop["id"], spare_address=spare_address["id"],
               spare_user=spare_user["id"])
    orders, checkout, payment = [], None, None
    call(base, "DELETE", "/cart", token=buyer)  # what an earlier run left there (lines, vouchers)

    def place(product, method):
        call(base, "POST", "/cart/items", {"product_id": product["id"], "sku": product["skus"][0], "quantity": 1}, buyer)
        _, placed = call(base, "POST", "/orders", {"payment_method": method, "address_id": ids["address"]}, buyer,
                         {"idempotency-key": str(uuid.uuid4())})
        orders.extend(o["id"] for o in placed["orders"])
        return placed["checkout_id"]

    # Best effort: against a long-running `make dev` the demo stock may be gone; the run goes on
    # with fewer real ids rather than not at all.
    try:
        for product in ids["products"][:2]:
            place(product, "cod")
        checkout = place(ids["products"][2], "online")
        _, paid = call(base, "POST", "/payments", {"checkout_id": checkout, "method": "stripe"}, buyer,
                       {"idempotency-key": str(uuid.uuid4())})
        payment = paid["id"]
    except RuntimeError as e:
        print(f"  warning: could not place all the fuzz orders ({e}); going on with {len(orders)}")
        call(base, "DELETE", "/cart", token=buyer)
    ids.update(orders=orders, checkout=checkout, payment=payment)
    with open(ids_file, "w") as f:
        json.dump(ids, f, indent=2)
    print(f"  fuzz data: {len(orders)} orders, checkout {ids['checkout']}, payment {ids['payment']}; spare product "
          f"{ids['spare_product']}, shop {ids['spare_shop']}, address {ids['spare_address']}, user {ids['spare_user']}")


def main():
    ap = argparse.ArgumentParser(description="prepare the fuzz run's demo orders and payment")
    ap.add_argument("command", choices=["prepare"])
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--ids", required=True, help="the file seed_demo.py --ids-out wrote (updated in place)")
    args = ap.parse_args()
    try:
        prepare(args.base_url, args.ids)
    except (RuntimeError, OSError, KeyError) as e:
        print(f"fuzz_auth.py prepare failed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())


# --- schemathesis hooks ---------------------------------------------------------------------------

import ast  # noqa: E402
import threading  # noqa: E402
import zlib  # noqa: E402

import schemathesis  # noqa: E402  (only the hooks need schemathesis)

# CPython before 3.12 keeps the AST constructor's recursion depth in interpreter-wide state, so
# two of schemathesis' worker threads parsing at once (hypothesis parses lambdas to describe its
# strategies) can fail a run with "SystemError: AST constructor recursion depth mismatch"
# (python/cpython#106905; seen here on 3.11.7): one parse at a time.
if sys.version_info < (3, 12):
    _ast_parse, _ast_lock = ast.parse, threading.Lock()

    def _one_parse_at_a_time(*args, **kwargs):
        with _ast_lock:
            return _ast_parse(*args, **kwargs)

    ast.parse = _one_parse_at_a_time

BASE_URL = os.environ["FUZZ_BASE_URL"]
with open(os.environ["FUZZ_IDS"]) as _f:
    IDS = json.load(_f)


def _needs_token(operation):
    return bool(operation.definition.raw.get("security"))


def _identity_key(case, context):
    op = context.operation
    return identity_for(op.method.upper(), op.path) if _needs_token(op) else "anonymous"


@schemathesis.auth(cache_by_key=_identity_key, retry_on=[401])
class DemoIdentities:
    """The demo account an operation is meant for (see IDENTITY_RULES), logged in once and again
    after a 401."""

    def get(self, case, context):
        who = _identity_key(case, context)
        return None if who == "anonymous" else login(BASE_URL, who)

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


def _present(values):
    return [v for v in values if v]


def _product_pairs():
    return [(p["id"], sku) for p in IDS["products"] for sku in p["skus"]]


def _real_path_parameters(operation):
    """Candidate real values for this operation's path parameters (a list of dicts), or []."""
    path, names = operation.path, {p.name for p in operation.path_parameters}
    if "sku" in names:  # products/{id}/variants/{sku}, cart/items/{id}/{sku}, cart/saved/{id}/{sku}
        return [{"id": pid, "sku": sku} for pid, sku in _product_pairs()]
    if path.startswith("/api/v1/shops/{id}/vouchers/{code}"):
        return [{"id": IDS["shop"], "code": IDS["shop_voucher"]}]
    if path.startswith("/api/v1/vouchers/{code}"):
        return [{"code": IDS["platform_voucher"]}]
    if names == {"id", "user_id"}:  # organizations/{id}/members/{user_id}
        return [{"id": IDS["organization"], "user_id": IDS["spare_user"]}]
    if names == {"order_id"}:
        return [{"order_id": o} for o in IDS["orders"]]
    if names != {"id"}:
        return []
    for prefix, values in [
        ("/api/v1/shops/", [IDS["shop"]]),
        ("/api/v1/cart/vouchers/shops/", [IDS["shop"]]),
        ("/api/v1/organizations/", [IDS["organization"]]),
        ("/api/v1/products/", [p["id"] for p in IDS["products"]]),
        ("/api/v1/users/me/addresses/", [IDS["address"]]),
        ("/api/v1/users/", [IDS["spare_user"]]),
        ("/api/v1/orders/", IDS["orders"]),
        ("/api/v1/payments/", [IDS["payment"]]),
    ]:
        if path.startswith(prefix) and not path.startswith("/api/v1/payments/methods/"):
            return [{"id": v} for v in _present(values)]
    return []


def _body_candidates(operation):
    """Body fields that name demo objects, and their real values (`product_id` with its SKU)."""
    candidates = {
        "shop_id": [IDS["shop"]],
        "org_id": [IDS["organization"]],
        "address_id": [IDS["address"]],
        "category_id": list(IDS["categories"].values()),
        "order_id": IDS["orders"],
        "checkout_id": [IDS["checkout"]],
        "payment_id": [IDS["payment"]],
        "product_id": _product_pairs(),
    }
    if "voucher" in operation.path:  # elsewhere `code` is a reset code
        candidates["code"] = [IDS["shop_voucher"], IDS["platform_voucher"]]
    return {k: _present(v) for k, v in candidates.items() if _present(v)}


def _choice(value, options):
    """One of `options` for about half of the cases, picked by a hash of the generated value, so
    a seed replays the same requests and a failure shrinks; `None` for the other half."""
    h = zlib.crc32(json.dumps(value, sort_keys=True, default=str).encode())
    return options[(h >> 1) % len(options)] if options and h % 2 == 0 else None


def _is_positive(case):
    meta = case.meta
    return meta is None or str(meta.generation.mode) == "positive"


def _realise_ids(case):
    """Real demo ids into about half of the positive cases' paths and bodies (negative cases keep
    their invalid values: replacing those would make them valid)."""
    if not _is_positive(case):
        return
    if isinstance(case.path_parameters, dict):
        real = _choice(case.path_parameters, _real_path_parameters(case.operation))
        if real:
            case.path_parameters.update(real)
    if isinstance(case.body, dict):
        for field, options in _body_candidates(case.operation).items():
            if field not in case.body:
                continue
            real = _choice(case.body[field], options)
            if real is None:
                continue
            if field == "product_id":
                case.body["product_id"], sku = real
                if "sku" in case.body:
                    case.body["sku"] = sku
            else:
                case.body[field] = real


def _protected(ids_key):
    value = IDS[ids_key]
    if ids_key == "products":
        return {p["id"] for p in value}
    return set(value) if isinstance(value, list) else {value}


@schemathesis.hook
def before_call(context, case, kwargs):
    """Real ids into the request (see `_realise_ids`), then keeps the demo data usable for the
    whole run (see SPARE), and keeps demo e-mail addresses out of fuzzed logins, whose failures
    would lock the accounts the run logs in with. Runs before every request of every phase, and
    schemathesis re-checks a case it changes, so the checks judge what was sent."""
    _realise_ids(case)
    spare = SPARE.get((case.operation.method.upper(), case.operation.path))
    if spare and isinstance(case.path_parameters, dict):
        name, ids_key, spare_key = spare
        if str(case.path_parameters.get(name)) in _protected(ids_key):
            case.path_parameters[name] = IDS[spare_key]
    if case.operation.path == "/api/v1/auth/login" and isinstance(case.body, dict):
        if str(case.body.get("email", "")).lower() in ACCOUNTS.values():
            case.body["email"] = "someone-else@demo.local"
