"""Prints an events/ fixture ready for `cargo lambda invoke`: TOKEN_PLACEHOLDER replaced by a
real access token of a demo account (logged in through the running API, `make dev`), the
stack's own names filled in from .local/stack.env, and any other placeholder set on the
command line. Python standard library only.

  .venv/bin/python infra/local/fixture_token.py events/apigw-v2-cart-get.json > /tmp/cart.json
  .venv/bin/python infra/local/fixture_token.py events/apigw-v2-inventory-shop-stock.json \\
      --user seller --set SHOP_ID_PLACEHOLDER=01J... > /tmp/inventory.json
  cargo lambda invoke api-cart --data-file /tmp/cart.json

Filled without being asked: BUCKET_PLACEHOLDER (MEDIA_BUCKET of the stack env),
EVENT_ID_PLACEHOLDER (a fresh id, so an idempotent consumer does the work again) and
EMAIL_PLACEHOLDER (a fresh address). A placeholder left in the output is reported on stderr.
"""
import argparse
import json
import re
import shlex
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

# The demo accounts the dev server's --seed creates (infra/dev-server/src/seed.rs).
DEMO_PASSWORD = "demo-pass-2026"
DEMO_USERS = {
    "admin": "admin@demo.local",
    "seller": "seller@demo.local",
    "buyer": "buyer@demo.local",
    "shipper": "shipper@demo.local",
}


def stack_env(path: Path) -> dict:
    """The `export K=V` lines provision.py wrote; empty if the file is not there."""
    env = {}
    if not path.is_file():
        return env
    for line in path.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line[len("export "):].partition("=")
            parts = shlex.split(value)
            env[key] = parts[0] if parts else ""
    return env


def login(base_url: str, email: str, password: str) -> str:
    request = urllib.request.Request(
        f"{base_url.rstrip('/')}/api/v1/auth/login",
        data=json.dumps({"email": email, "password": password}).encode(),
        headers={"content-type": "application/json", "accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["access_token"]
    except urllib.error.HTTPError as e:
        sys.exit(f"login as {email} failed: {e.code} {e.read().decode(errors='replace')}")
    except urllib.error.URLError as e:
        sys.exit(f"the API at {base_url} does not answer ({e.reason}); start it with `make dev`")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("fixture", type=Path, help="a file of events/")
    ap.add_argument("--user", default="buyer", help=f"demo account ({', '.join(DEMO_USERS)}) or an e-mail")
    ap.add_argument("--password", default=DEMO_PASSWORD)
    ap.add_argument("--base-url", default="http://localhost:3000")
    ap.add_argument("--env", type=Path, default=Path(".local/stack.env"), help="the stack environment")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="replace NAME (e.g. SHOP_ID_PLACEHOLDER) by VALUE; repeatable")
    args = ap.parse_args()

    text = args.fixture.read_text()
    env = stack_env(args.env)
    values = {
        "EVENT_ID_PLACEHOLDER": uuid.uuid4().hex.upper(),
        "EMAIL_PLACEHOLDER": f"fixture-{int(time.time())}-{uuid.uuid4().hex[:6]}@example.com",
    }
    if "MEDIA_BUCKET" in env:
        values["BUCKET_PLACEHOLDER"] = env["MEDIA_BUCKET"]
    for pair in args.set:
        name, sep, value = pair.partition("=")
        if not sep:
            sys.exit(f"--set {pair}: expected NAME=VALUE")
        values[name] = value
    if "TOKEN_PLACEHOLDER" in text and "TOKEN_PLACEHOLDER" not in values:
        values["TOKEN_PLACEHOLDER"] = login(args.base_url, DEMO_USERS.get(args.user, args.user), args.password)
    for name, value in values.items():
        text = text.replace(name, value)
    left = sorted(set(re.findall(r"[A-Z][A-Z_]*_PLACEHOLDER", text)))
    if left:
        print(f"warning: still in the output, set them with --set: {' '.join(left)}", file=sys.stderr)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
