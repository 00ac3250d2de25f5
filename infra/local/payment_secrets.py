#!/usr/bin/env python3
"""Writes the local payment providers' and the GHTK carrier's secrets (the Secrets Manager values
the provisioner generated from template.yaml) to one JSON file for the payment sandbox, so the
sandbox signs webhooks (and puts GHTK's callback `hash`) with exactly the secrets the adapters
verify with. Also prints the webhook secrets (`--print`), as `make dev` shows them for signing
webhooks by hand.

usage: payment_secrets.py --stack .local/stack.json --out .local/payment-secrets.json [--print]
"""
import argparse
import json
import os
from pathlib import Path

import boto3

SECRETS = {"stripe": "StripeSecret", "paypal": "PaypalSecret", "vnpay": "VnpaySecret", "momo": "MomoSecret",
           "ghtk": "GhtkSecret"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stack", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--print", action="store_true", help="print the webhook secrets")
    args = ap.parse_args()
    stack = json.loads(Path(args.stack).read_text())
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    sm = boto3.client("secretsmanager", endpoint_url=stack["endpoint"], region_name=stack["region"])
    values = {}
    for provider, lid in SECRETS.items():
        arn = stack["resources"][lid]["arn"]
        values[provider] = json.loads(sm.get_secret_value(SecretId=arn)["SecretString"])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(values, indent=2) + "\n")
    os.chmod(tmp, 0o600)
    tmp.replace(out)
    if args.print:
        print(f"    stripe webhook_secret  {values['stripe']['webhook_secret']}")
        print(f"    vnpay  hash_secret     {values['vnpay']['hash_secret']}  (tmn_code {values['vnpay']['tmn_code']})")
        print(f"    momo   secret_key      {values['momo']['secret_key']}  (access_key {values['momo']['access_key']})")
        print(f"    paypal webhook_id      {values['paypal']['webhook_id']}  (verified by the sandbox's postback)")
        print(f"    ghtk   webhook_hash    {values['ghtk']['webhook_hash']}  (the callback URL's ?hash=)")


if __name__ == "__main__":
    main()
