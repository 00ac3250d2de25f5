#!/usr/bin/env python3
"""Seeds a small demo catalogue through the real HTTP API, so a newcomer can go straight to
cart → checkout → orders. `make dev` runs it once the dev server answers; the demo accounts
(admin@, seller@, buyer@demo.local, password demo-pass-2026) come from the server's --seed.

  as admin   categories "Fashion" and "Home"; platform voucher WELCOME10 (valid for a year)
  as seller  organisation "Demo Threads Co" with the shop "Demo Threads Hanoi" (Hoan Kiem),
             4 active products with 1-3 variants each (VND), shop voucher THREADS10
  as buyer   one address ("Home", Hanoi) in the address book

Idempotent: everything is looked up before it is created (categories and the organisation by
name, the shop by name, products by SKU, vouchers by code, the address by its first line), so a
second run creates nothing and says "demo catalogue already present".

Usage: .venv/bin/python infra/local/seed_demo.py [--base-url http://localhost:3000] [--ids-out FILE]
(--ids-out writes the ids as JSON, for tools that need real ids: infra/local/fuzz.sh.)
Standard library only. Exits non-zero (printing the problem, with its field errors) when a call
fails.
"""
import argparse
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

PASSWORD = "demo-pass-2026"
ADMIN, SELLER, BUYER = "admin@demo.local", "seller@demo.local", "buyer@demo.local"
YEAR = 365 * 24 * 3600

CATEGORIES = ["Fashion", "Home"]
ORG = {"name": "Demo Threads Co", "legal_name": "Demo Threads Company Limited"}
SHOP = {
    "name": "Demo Threads Hanoi",
    "description": "Silk, linen and ceramics from the Old Quarter (demo data).",
    "address": {"line1": "1 Hang Gai, Hoan Kiem", "city": "Hanoi", "country": "VN",
                "location": {"lat": 21.0333, "lng": 105.8500}},
    "opening_hours": [{"weekday": d, "opens": "08:00", "closes": "21:00"} for d in range(1, 8)],
}


def variant(sku, attributes, price, weight, stock, discount=None):
    v = {"sku": sku, "attributes": attributes, "price": {"amount": price, "currency": "VND"},
         "weight_grams": weight, "stock": stock}
    if discount:
        v["discount"] = discount
    return v


def products(now):
    """(category name, product body without category_id) for each demo product."""
    hat_sale = {"kind": "percentage", "value": 2000, "starts_at": now - 60, "ends_at": now + YEAR}
    return [
        ("Fashion", {"name": "Silk ao dai", "status": "active",
                     "description": "Hand-finished silk ao dai from Hang Gai.",
                     "variants": [variant("AODAI-RED-M", {"colour": "red", "size": "M"}, 450000, 350, 30),
                                  variant("AODAI-RED-L", {"colour": "red", "size": "L"}, 450000, 370, 25),
                                  variant("AODAI-BLUE-M", {"colour": "blue", "size": "M"}, 480000, 350, 20)]}),
        ("Fashion", {"name": "Linen shirt", "status": "active",
                     "description": "Breathable linen shirt, relaxed fit.",
                     "variants": [variant("LINEN-SHIRT-M", {"size": "M"}, 320000, 250, 40),
                                  variant("LINEN-SHIRT-L", {"size": "L"}, 320000, 270, 35)]}),
        ("Fashion", {"name": "Non la conical hat", "status": "active",
                     "description": "Palm-leaf conical hat; 20% off for a year.",
                     "variants": [variant("NONLA-STD", {}, 120000, 200, 50, hat_sale)]}),
        ("Home", {"name": "Bat Trang ceramic mug", "status": "active",
                  "description": "Glazed stoneware mug from Bat Trang village, 350 ml.",
                  "variants": [variant("MUG-BLUE", {"glaze": "blue"}, 90000, 400, 50),
                               variant("MUG-WHITE", {"glaze": "white"}, 85000, 400, 45)]}),
    ]


def shop_voucher(now):
    return {"code": "THREADS10", "description": "10% off at Demo Threads Hanoi, up to 50 000 đ",
            "usage_limit": 1000, "per_user_limit": 3,
            "terms": {"kind": "percentage", "value": 1000, "currency": "VND", "min_spend": 200000,
                      "max_discount": 50000, "starts_at": now - 60, "ends_at": now + YEAR}}


def platform_voucher(now):
    return {"code": "WELCOME10", "description": "Welcome: 10% off your first orders, up to 30 000 đ",
            "usage_limit": 10000, "per_user_limit": 1, "campaign": "welcome",
            "terms": {"kind": "percentage", "value": 1000, "currency": "VND", "min_spend": 100000,
                      "max_discount": 30000, "starts_at": now - 60, "ends_at": now + YEAR}}


ADDRESS = {"label": "Home", "recipient_name": "Bao Tran", "phone": "+84901234567",
           "line1": "12 Ly Thuong Kiet", "ward": "Phan Chu Trinh", "district": "Hoan Kiem",
           "city": "Hanoi", "country": "VN"}


class ApiFailure(Exception):
    pass


class Api:
    def __init__(self, base_url):
        self.base = base_url.rstrip("/") + "/api/v1"

    def call(self, method, path, body=None, token=None, ok=(200, 201)):
        """The decoded JSON answer, or ApiFailure describing the problem (with its field errors)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("content-type", "application/json")
        if token:
            req.add_header("authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        except (urllib.error.URLError, OSError) as e:
            raise ApiFailure(f"{method} {path}: cannot reach {self.base}: {getattr(e, 'reason', e)}") from e
        if status not in ok:
            raise ApiFailure(f"{method} {path} → {status}\n" + describe_problem(raw))
        return json.loads(raw) if raw else None

    def login(self, email):
        return self.call("POST", "/auth/login", {"email": email, "password": PASSWORD})["access_token"]


def describe_problem(raw):
    try:
        p = json.loads(raw)
    except ValueError:
        return "    " + raw.decode(errors="replace")[:500]
    lines = [f"    {p.get('title', '')}: {p.get('detail', '')}".rstrip()]
    for e in p.get("errors") or []:
        lines.append(f"    field {e.get('field')}: {e.get('message')}")
    return "\n".join(lines)


def progress(created, what, ident):
    print(f"  {'created' if created else 'exists '}  {what} ({ident})", flush=True)


def seed(api):
    now = int(time.time())
    created = 0
    admin, seller, buyer = api.login(ADMIN), api.login(SELLER), api.login(BUYER)
    print(f"  logged in as {ADMIN}, {SELLER}, {BUYER}", flush=True)

    # Categories (admin), found by name among the root categories.
    roots = {}
    for c in api.call("GET", "/categories")["items"]:
        roots.setdefault(c["name"].lower(), c)
    category_ids = {}
    for name in CATEGORIES:
        cat = roots.get(name.lower())
        if cat is None:
            cat = api.call("POST", "/categories", {"name": name}, admin)
            created += 1
        category_ids[name] = cat["id"]
        progress(cat is not roots.get(name.lower()), f"category {name}", cat["id"])

    # Organisation (seller), found by name among the seller's organisations.
    org = next(({"id": m["org_id"]} for m in api.call("GET", "/organizations", token=seller)["items"]
                if m["org_name"] == ORG["name"]), None)
    new_org = org is None
    if new_org:
        org = api.call("POST", "/organizations", ORG, seller)
        created += 1
    progress(new_org, f"organisation {ORG['name']}", org["id"])

    # Shop in Hanoi, found by name in the organisation.
    shops = api.call("GET", f"/organizations/{org['id']}/shops", token=seller)["items"]
    shop = next((s for s in shops if s["name"] == SHOP["name"]), None)
    if shop is None:
        shop = api.call("POST", f"/organizations/{org['id']}/shops", SHOP, seller)
        created += 1
    progress(shop not in shops, f"shop {SHOP['name']}", shop["id"])

    # Products, found by their SKUs among the shop's products (any status).
    existing = api.call("GET", f"/shops/{shop['id']}/products?limit=100", token=seller)["items"]
    by_sku = {v["sku"]: p for p in existing for v in p["variants"]}
    seeded = []
    for category, body in products(now):
        product = by_sku.get(body["variants"][0]["sku"])
        if product is None:
            product = api.call("POST", f"/shops/{shop['id']}/products",
                               {**body, "category_id": category_ids[category]}, seller)
            created += 1
        progress(product not in existing, f"product {body['name']}", product["id"])
        seeded.append(product)

    # Vouchers: the shop's (seller) and a platform one (admin), found by code.
    codes = {v["code"] for v in api.call("GET", f"/shops/{shop['id']}/vouchers?limit=100", token=seller)["items"]}
    sv = shop_voucher(now)
    if sv["code"] not in codes:
        api.call("POST", f"/shops/{shop['id']}/vouchers", sv, seller)
        created += 1
    progress(sv["code"] not in codes, "shop voucher", sv["code"])
    codes = {v["code"] for v in api.call("GET", "/vouchers?limit=100", token=admin)["items"]}
    pv = platform_voucher(now)
    if pv["code"] not in codes:
        api.call("POST", "/vouchers", pv, admin)
        created += 1
    progress(pv["code"] not in codes, "platform voucher", pv["code"])

    # The buyer's address, found by recipient and first line.
    addresses = api.call("GET", "/users/me/addresses", token=buyer)["items"]
    address = next((a for a in addresses if a["line1"] == ADDRESS["line1"]
                    and a["recipient_name"] == ADDRESS["recipient_name"]), None)
    if address is None:
        address = api.call("POST", "/users/me/addresses", ADDRESS, buyer)
        created += 1
    progress(address not in addresses, f"{BUYER} address {ADDRESS['line1']}, {ADDRESS['city']}", address["id"])

    return created, org, shop, seeded, [sv["code"], pv["code"]], address, category_ids


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-url", default="http://localhost:3000")
    ap.add_argument("--ids-out", help="also write the demo ids to this file as JSON")
    args = ap.parse_args()
    api = Api(args.base_url)
    print(f"seeding the demo catalogue through {api.base}", flush=True)
    try:
        created, org, shop, seeded, codes, address, category_ids = seed(api)
    except ApiFailure as e:
        print(f"seeding failed: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Die of SIGINT (no traceback), so a calling shell sees the interrupt and runs its trap.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    if created == 0:
        print("demo catalogue already present")
    if args.ids_out:
        ids = {"organization": org["id"], "shop": shop["id"], "categories": category_ids,
               "products": [{"id": p["id"], "skus": [v["sku"] for v in p["variants"]]} for p in seeded],
               "shop_voucher": codes[0], "platform_voucher": codes[1], "address": address["id"]}
        with open(args.ids_out, "w") as f:
            json.dump(ids, f, indent=2)
    first = seeded[0]
    print(f"""
  Demo shop   {shop['name']}  {shop['id']}
  Products""")
    for p in seeded:
        print(f"    {p['id']}  {p['name']:<22} {' '.join(v['sku'] for v in p['variants'])}")
    print(f"""  Vouchers    {codes[0]} (shop: POST /cart/vouchers {{"code","shop_id"}})  {codes[1]} (platform: {{"code"}} only)
  Buyer's address ({BUYER})  {address['id']}

  Cart and checkout as the buyer:
    B=$(curl -s {api.base}/auth/login -H 'content-type: application/json' -d '{{"email":"{BUYER}","password":"{PASSWORD}"}}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    curl -s {api.base}/cart/items -H "authorization: Bearer $B" -H 'content-type: application/json' -d '{{"product_id":"{first['id']}","sku":"{first['variants'][0]['sku']}","quantity":1}}'
    curl -s {api.base}/orders -H "authorization: Bearer $B" -H 'content-type: application/json' -H "idempotency-key: $(python3 -c 'import uuid; print(uuid.uuid4())')" -d '{{"payment_method":"cod","address_id":"{address['id']}"}}'""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
