#!/usr/bin/env python3
"""Warm-request latency of the dev server: p50/p90/p99 of POST auth/login and GET users/me
over N sequential requests (default 1000 each), beside the emulator's own raw GetItem
latency measured in the same run, so the figures read as a ratio to the emulator's ceiling.

Usage: make dev (in another terminal), then `make bench` or
       .venv/bin/python infra/local/bench.py --base-url http://localhost:3000 [-n 1000]
"""
import argparse
import http.client
import json
import statistics
import sys
import time
import urllib.parse
import uuid


def percentile(samples, p):
    s = sorted(samples)
    k = max(0, min(len(s) - 1, round(p / 100 * (len(s) - 1))))
    return s[k]


class Client:
    """One keep-alive connection, like a warm client."""

    def __init__(self, base):
        u = urllib.parse.urlparse(base)
        self.conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)

    def call(self, method, path, body=None, token=None):
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        start = time.perf_counter()
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        payload = resp.read()
        elapsed = (time.perf_counter() - start) * 1000
        return resp.status, payload, elapsed


def measure(label, n, fn):
    samples = []
    for i in range(n):
        status, _, ms = fn()
        if status >= 300:
            sys.exit(f"{label}: request {i} answered {status}")
        samples.append(ms)
        if (i + 1) % max(1, n // 10) == 0:
            print(f"  {label}: {i + 1}/{n}", file=sys.stderr)
    return {
        "requests": n,
        "p50_ms": round(statistics.median(samples), 2),
        "p90_ms": round(percentile(samples, 90), 2),
        "p99_ms": round(percentile(samples, 99), 2),
        "max_ms": round(max(samples), 2),
    }


def emulator_getitem(endpoint, table, n):
    """Raw DynamoDB GetItem latency against the emulator (the floor under every request)."""
    import boto3

    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    key = {"PK": {"S": "BENCH#probe"}, "SK": {"S": "PROFILE"}}
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        ddb.get_item(TableName=table, Key=key, ConsistentRead=True)
        samples.append((time.perf_counter() - start) * 1000)
    return {"requests": n, "p50_ms": round(statistics.median(samples), 2), "p99_ms": round(percentile(samples, 99), 2)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", default="http://localhost:3000")
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--stack", default=".local/stack.json")
    args = ap.parse_args()

    c = Client(args.base_url)
    email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
    password = "bench-pass-2026"
    status, body, _ = c.call("POST", "/api/v1/auth/register", {"email": email, "password": password, "name": "Bench"})
    if status != 201:
        sys.exit(f"register failed: {status} {body[:200]!r}")
    status, body, _ = c.call("POST", "/api/v1/auth/login", {"email": email, "password": password})
    token = json.loads(body)["access_token"]
    for _ in range(20):  # warm-up
        c.call("GET", "/api/v1/users/me", token=token)

    results = {
        "login": measure("login", args.n, lambda: c.call("POST", "/api/v1/auth/login", {"email": email, "password": password})),
        "users_me": measure("users/me", args.n, lambda: c.call("GET", "/api/v1/users/me", token=token)),
    }
    try:
        stack = json.load(open(args.stack))
        results["emulator_getitem"] = emulator_getitem(stack["endpoint"], stack["env"]["TABLE_NAME"], 300)
        floor = results["emulator_getitem"]["p50_ms"]
        # users/me = verify JWT + 1 GetItem: the ratio shows what the service adds over the emulator.
        results["users_me_p50_over_getitem_p50"] = round(results["users_me"]["p50_ms"] / floor, 2)
    except (OSError, KeyError, ImportError) as e:
        print(f"(emulator floor not measured: {e})", file=sys.stderr)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
