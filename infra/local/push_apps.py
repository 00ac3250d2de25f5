#!/usr/bin/env python3
"""The SNS platform applications push notifications go through, in the local emulator.

CloudFormation (so template.yaml) has no resource for an SNS platform application: in AWS, ops
create one per platform with the real APNs / FCM credentials and pass the ARNs as the template
parameters PushIosApplicationArn, PushAndroidApplicationArn and PushWebApplicationArn. Locally
this script plays ops: it creates the three applications in the emulator (with dummy
credentials, which the emulator accepts), or finds them by name when they exist, and prints the
parameter overrides for provision.py:

  provision.py ... $(push_apps.py --endpoint http://127.0.0.1:4566 --stack commerce-local)
  → --param PushIosApplicationArn=arn:aws:sns:us-east-1:123456789012:app/APNS/commerce-local-push-ios ...

Idempotent: run it before every provisioning.
"""
import argparse
import os
import sys

import boto3
from botocore.config import Config

# (template parameter, SNS platform, name suffix)
APPLICATIONS = [
    ("PushIosApplicationArn", "APNS", "ios"),
    ("PushAndroidApplicationArn", "GCM", "android"),
    ("PushWebApplicationArn", "GCM", "web"),
]


def existing(sns):
    """ARN of every platform application, by name (the ARN's last segment)."""
    found, token = {}, None
    while True:
        page = sns.list_platform_applications(**({"NextToken": token} if token else {}))
        for app in page.get("PlatformApplications", []):
            arn = app["PlatformApplicationArn"]
            found[arn.rsplit("/", 1)[-1]] = arn
        token = page.get("NextToken")
        if not token:
            return found


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"))
    ap.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
                    or "us-east-1")
    ap.add_argument("--stack", default="commerce-local", help="stack name: prefix of the applications' names")
    args = ap.parse_args()
    # Fake credentials are enough for an emulator; never fall through to a real account's.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    os.environ.pop("AWS_PROFILE", None)
    sns = boto3.client("sns", endpoint_url=args.endpoint, region_name=args.region,
                       config=Config(retries={"max_attempts": 3}, connect_timeout=5, read_timeout=30))
    have = existing(sns)
    params = []
    for parameter, platform, suffix in APPLICATIONS:
        name = f"{args.stack}-push-{suffix}"
        arn = have.get(name)
        if arn is None:
            arn = sns.create_platform_application(
                Name=name, Platform=platform,
                Attributes={"PlatformCredential": "local-credential", "PlatformPrincipal": "local-principal"},
            )["PlatformApplicationArn"]
            print(f"    created SNS platform application {name} ({platform})", file=sys.stderr, flush=True)
        params.append(f"--param {parameter}={arn}")
    print(" ".join(params))


if __name__ == "__main__":
    main()
