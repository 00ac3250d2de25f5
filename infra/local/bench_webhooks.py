#!/usr/bin/env python3
"""Webhook handling latency of the dev server, beside the emulator's raw TransactWriteItems
rate measured in the same run (a ratio: the emulator is the ceiling).

Setup (not timed): a shop with one product; --webhooks buyers each place an online checkout and
open a Stripe payment (POST /api/v1/payments) against the payment sandbox.

Timed: for each payment, one genuine `payment_intent.succeeded` signed with the local Stripe
webhook secret (from the sandbox's secrets file) is POSTed to /api/v1/payments/stripe/webhook
from --concurrency workers: p50/p90/p99/max. Each is two reads and one transaction that
confirms the order, books the capture in the ledger and writes the events. Then the same number
of raw 4-action TransactWriteItems against the emulator, with the same concurrency.

Usage: make dev (in another terminal), then `make bench-webhooks` or
       .venv/bin/python infra/local/bench_webhooks.py --base-url http://localhost:3000 \\
           [--webhooks 100] [--concurrency 4] [--stack .local/stack.json] \\
           [--secrets .local/payment-sandbox.json]
"""
import argparse
import concurrent.futures
import hashlib
import hmac
import json
import sys
import threading
import time
import uuid

import bench_checkout as bc


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", default="http://localhost:3000")
    ap.add_argument("--stack", default=".local/stack.json")
    ap.add_argument("--secrets", default=".local/payment-sandbox.json")
    ap.add_argument("--webhooks", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    with open(args.stack) as f:
        stack = json.load(f)
    with open(args.secrets) as f:
        secret = json.load(f)["stripe"]["webhook_secret"]
    endpoint, region, table = stack["endpoint"], stack.get("region", "us-east-1"), stack["env"]["TABLE_NAME"]
    import boto3
    from botocore.config import Config

    def ddb_client():
        return boto3.client("dynamodb", endpoint_url=endpoint, region_name=region, aws_access_key_id="test",
                            aws_secret_access_key="test",
                            config=Config(retries={"max_attempts": 1}, max_pool_connections=2))
    ddb = ddb_client()
    base = args.base_url
    print(f"setup: a shop and {args.webhooks} online checkouts with a Stripe payment each (not timed)",
          file=sys.stderr, flush=True)
    (product, sku), = bc.setup_catalogue(base, ddb, table, 1, args.webhooks + 10)
    lock, done = threading.Lock(), [0]

    def payment(i):
        token, address = bc.setup_buyer(base, product, sku)
        c = bc.client(base)
        s, b, _ = c.call("POST", "/api/v1/orders", {"payment_method": "online", "address_id": address}, token,
                         headers={"idempotency-key": f"bench-{uuid.uuid4().hex}"})
        placed = bc.expect("checkout", s, b, (201,))
        s, b, _ = c.call("POST", "/api/v1/payments", {"checkout_id": placed["checkout_id"], "method": "stripe"},
                         token, headers={"idempotency-key": f"bench-{uuid.uuid4().hex}"})
        paid = bc.expect("payment", s, b, (201,))
        with lock:
            done[0] += 1
            bc.progress("payments", done[0], args.webhooks)
        return paid["redirect_url"].rsplit("/", 1)[-1], paid["amount"]["amount"], paid["id"]

    with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
        payments = list(pool.map(payment, range(args.webhooks)))

    samples, errors = [], []

    def deliver(p):
        intent, amount, payment_id = p
        body = json.dumps({
            "id": f"evt_bench_{uuid.uuid4().hex}", "object": "event", "api_version": "2024-06-20",
            "created": int(time.time()), "type": "payment_intent.succeeded", "livemode": False,
            "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None},
            "data": {"object": {"id": intent, "object": "payment_intent", "amount": amount,
                                "amount_received": amount, "currency": "vnd", "status": "succeeded",
                                "latest_charge": f"ch_{intent}", "metadata": {"payment_id": payment_id}}},
        }, separators=(",", ":")).encode()
        t = str(int(time.time()))
        sig = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
        s, b, ms = bc.client(base).call("POST", "/api/v1/payments/stripe/webhook", raw=body,
                                        headers={"stripe-signature": f"t={t},v1={sig}"})
        with lock:
            (samples.append(ms) if s == 200 else errors.append((s, b)))
            bc.progress("webhooks", len(samples) + len(errors), len(payments))

    print(f"timed: {len(payments)} webhooks, concurrency {args.concurrency}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(deliver, payments))
    seconds = time.perf_counter() - start
    bc.show_errors("webhooks", errors)
    hooks = bc.summary(samples, seconds, "webhooks", len(samples), len(errors))
    hooks["per_second"] = round(len(samples) / seconds, 2)

    print(f"timed: {args.webhooks} raw TransactWriteItems (4 actions), concurrency {args.concurrency}",
          file=sys.stderr, flush=True)
    scratch = bc.RawScratch(ddb, table, args.webhooks, 1)
    clients = [ddb_client() for _ in range(args.concurrency)]
    r_samples, r_errors, r_seconds = bc.raw_transactions(clients, table, scratch, range(args.webhooks),
                                                         args.concurrency, "raw TransactWriteItems")
    bc.delete_keys(ddb, table, scratch.keys())
    raw = bc.summary(r_samples, r_seconds, "transactions", len(r_samples), len(r_errors))
    raw["per_second"] = round(len(r_samples) / r_seconds, 2)
    print(json.dumps({"webhooks": hooks, "raw_transactions": raw,
                      "ratio_rate": round(hooks["per_second"] / raw["per_second"], 3),
                      "ratio_p50": round(hooks["p50_ms"] / raw["p50_ms"], 2)}, indent=2))


if __name__ == "__main__":
    main()
