#!/usr/bin/env python3
"""Scans a log for secrets that must never be logged: passwords, access/refresh tokens, one-time
codes and card-like numbers. `make test` runs it over the dev server's log of the whole run
(every test's and the fuzzer's requests went through it); a finding fails the run.

  scan_logs.py LOG [--secret TEXT ...] [--secrets-json FILE]
                                         scan LOG; --secret / the file's secret members are literal
                                         values that must not appear
  scan_logs.py --self-test               prove each rule finds what it should, and nothing in clean lines
"""
import argparse
import json
import re
import sys

# Passwords the test suites and the demo data use (tests/e2e/src/lib.rs PASSWORD, dev seed).
KNOWN_PASSWORDS = ["tulip-river-42", "demo-pass-2026"]

# A JWT: three base64url parts, the first two JSON objects ("eyJ" = '{"').
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{16,}")
# A JSON member whose name says it holds a secret, with a non-empty string value. The log's own
# field names are checked; a value that is a placeholder ("[redacted]") is fine.
SECRET_FIELD = re.compile(
    r'"(password|new_password|current_password|refresh_token|access_token|token|'
    r'secret|client_secret|authorization|card_number|cvv|cvc)"\s*:\s*"([^"]+)"',
    re.IGNORECASE,
)
# A one-time code (reset, verification) is six digits under a "code"-like name; a voucher's
# "code" is public and may be logged.
ONE_TIME_CODE = re.compile(r'"(\w*code|otp)"\s*:\s*"?\d{4,8}"?(?=[,}])', re.IGNORECASE)
PLACEHOLDERS = {"[redacted]", "***", "<redacted>"}
# 13-19 digits, bare or in groups of four with one kind of separator, not part of a longer id.
CARD = re.compile(
    r"(?<![0-9A-Za-z_-])(\d{13,19}|\d{4}([ -])\d{4}\2\d{4}\2\d{1,7})(?![0-9A-Za-z_-])"
)


def luhn(digits):
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def findings(line, secrets):
    found = []
    for s in secrets:
        if s and s in line:
            found.append(f"a known secret ({s[:3]}…)")
    if JWT.search(line):
        found.append("a JWT")
    for m in SECRET_FIELD.finditer(line):
        if m.group(2) not in PLACEHOLDERS:
            found.append(f'a "{m.group(1)}" value')
    if ONE_TIME_CODE.search(line):
        found.append("a one-time code")
    for m in CARD.finditer(line):
        digits = re.sub(r"\D", "", m.group(1))
        if 13 <= len(digits) <= 19 and luhn(digits):
            found.append("a card-like number")
    return found


def secret_members(doc, name=""):
    """String values under names that say secret or key (the payment providers' credentials)."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from secret_members(v, k)
    elif isinstance(doc, list):
        for v in doc:
            yield from secret_members(v, name)
    elif isinstance(doc, str) and len(doc) >= 8 and ("secret" in name or "key" in name):
        yield doc


def scan(path, secrets):
    bad = 0
    lines = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            lines += 1
            what = findings(line, secrets)
            if what:
                bad += 1
                if bad <= 20:
                    # Print where and what, not the secret itself.
                    print(f"{path}:{n}: {', '.join(sorted(set(what)))}", file=sys.stderr)
    return lines, bad


def self_test():
    secrets = KNOWN_PASSWORDS
    leaks = [
        '{"message":"login","fields":{"password":"hunter2-hunter2"}}',
        'authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSIsImV4cCI6MX0.c2lnbmF0dXJlLXNpZ25hdHVyZQ',
        '{"body":{"code":"493021"}}',
        "card 4242 4242 4242 4242 declined",
        "pan=4111111111111111",
        "registered with tulip-river-42",
    ]
    clean = [
        '{"request_id":"01JD9Z6Q4Y0M8K3V7N2B5C1X0A","status":200,"latency_ms":12}',
        '{"order_id":"5e3b9c1a-2f4d-4e8a-9b7c-1d2e3f4a5b6c","amount":1250000}',
        '{"password":"[redacted]"}',
        '{"message":"voucher created","code":"VMZCJ7BTWB7","scope":"PLATFORM"}',
        "expires_at=1764590400 total=4242424242424241",  # not Luhn-valid
        "payment pi_3Qx7Z2 captured 1234567890",
    ]
    failures = [l for l in leaks if not findings(l, secrets)]
    failures += [l for l in clean if findings(l, secrets)]
    if failures:
        for l in failures:
            print(f"self-test: wrong verdict on: {l}", file=sys.stderr)
        return 1
    print(f"self-test: {len(leaks)} leaks found, {len(clean)} clean lines passed")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log", nargs="?")
    ap.add_argument("--secret", action="append", default=[], help="a literal value that must not appear")
    ap.add_argument("--secrets-json", help="a JSON file whose *secret* / *key* string members must not appear")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if not args.log:
        ap.error("LOG is required")
    secrets = KNOWN_PASSWORDS + args.secret
    if args.secrets_json:
        with open(args.secrets_json, encoding="utf-8") as f:
            secrets += list(secret_members(json.load(f)))
    lines, bad = scan(args.log, secrets)
    if bad:
        print(f"{bad} of {lines} log lines hold a secret (first 20 above)", file=sys.stderr)
        return 1
    print(f"{lines} log lines, no password, token, one-time code or card-like number")
    return 0


if __name__ == "__main__":
    sys.exit(main())
