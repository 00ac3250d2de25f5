#!/usr/bin/env python3
"""Provision the local emulator from template.yaml — the template is the only resource list.

Reads the SAM template, resolves the intrinsics it uses (Ref, Fn::Sub, Fn::GetAtt, Fn::Join,
Fn::Select, Fn::Split) and creates, idempotently and in dependency order, every resource type
the emulator can hold: DynamoDB tables (GSIs, stream, TTL), EventBridge buses and rules,
SQS queues (redrive) and queue policies, Secrets Manager secrets, SES identities and S3
buckets (CORS, notifications). Types that only matter in AWS (IAM, alarms, the HTTP API —
the dev server serves the routes) are skipped with a note.

It writes the stack description the dev server reads (--out, JSON) and a shell env file next
to it (stack.env) so tests and tools reach the same resources.

  provision.py --endpoint http://127.0.0.1:4566 --stack commerce-local --out .local/stack.json
"""
import argparse
import json
import os
import re
import secrets
import string
import sys
from pathlib import Path

import boto3
import yaml
from botocore.exceptions import ClientError

ACCOUNT_ID = "123456789012"  # moto's default account
SUPPORTED_TAGS = {"Ref": "Ref", "Sub": "Fn::Sub", "GetAtt": "Fn::GetAtt", "Join": "Fn::Join",
                  "Select": "Fn::Select", "Split": "Fn::Split"}


# ---------------------------------------------------------------- template loading
class CfnLoader(yaml.SafeLoader):
    pass


def _tag_constructor(fn_name):
    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if fn_name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {fn_name: value}
    return construct


for tag, fn in SUPPORTED_TAGS.items():
    CfnLoader.add_constructor(f"!{tag}", _tag_constructor(fn))


def _unknown_tag(loader, tag_suffix, node):
    raise SystemExit(f"template.yaml uses !{tag_suffix}, which the provisioner does not resolve yet")


CfnLoader.add_multi_constructor("!", _unknown_tag)


def load_template(path):
    with open(path) as f:
        return yaml.load(f, Loader=CfnLoader)


# ---------------------------------------------------------------- intrinsic resolution
class Resolver:
    def __init__(self, params, region, stack):
        self.values = dict(params)
        self.values.update({"AWS::Region": region, "AWS::AccountId": ACCOUNT_ID, "AWS::StackName": stack,
                            "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": None})
        self.attrs = {}  # logical id -> {attr: value}

    def resolve(self, value):
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(*arg)
            if key == "Fn::Sub":
                return self.sub(arg)
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(self.resolve(i)) for i in self.resolve(items))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                sep, text = arg
                return str(self.resolve(text)).split(sep)
            if key.startswith("Fn::") or key == "Condition":
                raise SystemExit(f"unsupported intrinsic {key} in template.yaml")
        return {k: self.resolve(v) for k, v in value.items()}

    def ref(self, name):
        if name in self.values:
            return self.values[name]
        raise KeyError(f"Ref {name} is not resolved yet")

    def get_att(self, logical_id, attr):
        try:
            return self.attrs[logical_id][attr]
        except KeyError:
            raise KeyError(f"GetAtt {logical_id}.{attr} is not resolved yet")

    def sub(self, arg):
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def repl(m):
            token = m.group(1)
            if token in extra:
                return str(extra[token])
            if "." in token:
                return str(self.get_att(*token.split(".", 1)))
            return str(self.ref(token))
        return re.sub(r"\$\{([^}!]+)\}", repl, text)


def references(value):
    """Logical ids a property tree refers to."""
    found = set()
    if isinstance(value, list):
        for v in value:
            found |= references(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            if k == "Ref" and isinstance(v, str):
                found.add(v)
            elif k == "Fn::GetAtt":
                found.add(v[0])
            elif k == "Fn::Sub":
                text = v if isinstance(v, str) else v[0]
                found |= {t.split(".")[0] for t in re.findall(r"\$\{([^}!]+)\}", text)}
                if not isinstance(v, str):
                    found |= references(v[1])
            else:
                found |= references(v)
    return found


# ---------------------------------------------------------------- resource handlers
class Provisioner:
    SKIPPED = {"AWS::Serverless::HttpApi", "AWS::Serverless::Api", "AWS::CloudWatch::Alarm", "AWS::IAM::Role",
               "AWS::IAM::Policy", "AWS::Logs::LogGroup", "AWS::Lambda::Permission", "AWS::Serverless::Function",
               "AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage"}

    def __init__(self, endpoint, region, stack, resolver):
        kw = dict(endpoint_url=endpoint, region_name=region,
                  aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
                  aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"))
        self.client = lambda service: boto3.client(service, **kw)
        self.ddb, self.sqs, self.events = self.client("dynamodb"), self.client("sqs"), self.client("events")
        self.stack, self.region, self.r = stack, region, resolver
        self.resources = {}

    def name(self, logical_id, props, key):
        return self.r.resolve(props.get(key)) or f"{self.stack}-{logical_id}"

    def record(self, logical_id, rtype, ref, **attrs):
        self.r.values[logical_id] = ref
        self.r.attrs[logical_id] = attrs
        self.resources[logical_id] = {"type": rtype, **{k.lower(): v for k, v in attrs.items()}, "ref": ref}

    def done(self, logical_id, rtype, what, created):
        print(f"  ✓ {logical_id:<22} {rtype:<28} {what} ({'created' if created else 'exists'})", flush=True)

    # DynamoDB ------------------------------------------------------------
    def table(self, lid, p):
        name = self.name(lid, p, "TableName")
        created = False
        try:
            desc = self.ddb.describe_table(TableName=name)["Table"]
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            args = dict(TableName=name, AttributeDefinitions=p["AttributeDefinitions"], KeySchema=p["KeySchema"],
                        BillingMode=p.get("BillingMode", "PAY_PER_REQUEST"))
            if p.get("GlobalSecondaryIndexes"):
                args["GlobalSecondaryIndexes"] = p["GlobalSecondaryIndexes"]
            if p.get("StreamSpecification"):
                args["StreamSpecification"] = {"StreamEnabled": True, **p["StreamSpecification"]}
            desc = self.ddb.create_table(**args)["TableDescription"]
            created = True
        ttl = p.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            current = self.ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                self.ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        if p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
            try:
                self.ddb.update_continuous_backups(
                    TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
            except ClientError:
                pass  # not every emulator models backups; AWS gets it from the template
        self.record(lid, "AWS::DynamoDB::Table", name, Arn=desc["TableArn"], StreamArn=desc.get("LatestStreamArn"),
                    Name=name)
        self.done(lid, "AWS::DynamoDB::Table", name, created)

    # EventBridge -----------------------------------------------------------
    def event_bus(self, lid, p):
        name = self.name(lid, p, "Name")
        try:
            arn = self.events.describe_event_bus(Name=name)["Arn"]
            created = False
        except ClientError:
            arn = self.events.create_event_bus(Name=name)["EventBusArn"]
            created = True
        self.record(lid, "AWS::Events::EventBus", name, Arn=arn, Name=name)
        self.done(lid, "AWS::Events::EventBus", name, created)

    def rule(self, lid, p):
        name = self.name(lid, p, "Name")
        bus = p.get("EventBusName", "default")
        existed = True
        try:
            self.events.describe_rule(Name=name, EventBusName=bus)
        except ClientError:
            existed = False
        args = dict(Name=name, EventBusName=bus, State=p.get("State", "ENABLED"))
        if "EventPattern" in p:
            args["EventPattern"] = json.dumps(p["EventPattern"])
        if "ScheduleExpression" in p:
            args["ScheduleExpression"] = p["ScheduleExpression"]
        if "Description" in p:
            args["Description"] = p["Description"]
        arn = self.events.put_rule(**args)["RuleArn"]
        targets = [{k: v for k, v in t.items() if k in ("Id", "Arn", "Input", "InputPath", "SqsParameters")}
                   for t in p.get("Targets", [])]
        if targets:
            self.events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        self.record(lid, "AWS::Events::Rule", name, Arn=arn)
        self.done(lid, "AWS::Events::Rule", f"{name} → {len(targets)} target(s)", not existed)

    # SQS -------------------------------------------------------------------
    QUEUE_ATTRS = ["DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
                   "VisibilityTimeout", "FifoQueue", "ContentBasedDeduplication", "SqsManagedSseEnabled"]

    def queue(self, lid, p):
        name = self.name(lid, p, "QueueName")
        attrs = {k: str(p[k]).lower() if isinstance(p[k], bool) else str(p[k]) for k in self.QUEUE_ATTRS if k in p}
        if "RedrivePolicy" in p:
            attrs["RedrivePolicy"] = json.dumps(p["RedrivePolicy"])
        try:
            url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
            if attrs:
                self.sqs.set_queue_attributes(QueueUrl=url, Attributes=attrs)
            created = False
        except ClientError:
            url = self.sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
            created = True
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.record(lid, "AWS::SQS::Queue", url, Arn=arn, QueueName=name, QueueUrl=url)
        self.done(lid, "AWS::SQS::Queue", name, created)

    def queue_policy(self, lid, p):
        for url in p["Queues"]:
            self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(p["PolicyDocument"])})
        self.record(lid, "AWS::SQS::QueuePolicy", lid)
        self.done(lid, "AWS::SQS::QueuePolicy", f"{len(p['Queues'])} queue(s)", True)

    # Secrets Manager -------------------------------------------------------
    def secret(self, lid, p):
        sm = self.client("secretsmanager")
        name = self.name(lid, p, "Name")
        try:
            arn = sm.describe_secret(SecretId=name)["ARN"]
            created = False
        except ClientError:
            gen = p.get("GenerateSecretString", {})
            if "SecretString" in p:
                value = p["SecretString"]
            else:
                alphabet = string.ascii_letters + string.digits
                if not gen.get("ExcludePunctuation"):
                    alphabet += "!#$%&*+-.:;<=>?@^_~"
                value = "".join(secrets.choice(alphabet) for _ in range(int(gen.get("PasswordLength", 32))))
            arn = sm.create_secret(Name=name, SecretString=value, Description=p.get("Description", ""))["ARN"]
            created = True
        self.record(lid, "AWS::SecretsManager::Secret", arn, Arn=arn, Name=name)
        self.done(lid, "AWS::SecretsManager::Secret", name, created)

    # SES -------------------------------------------------------------------
    def email_identity(self, lid, p):
        ses = self.client("ses")
        identity = p["EmailIdentity"]
        if "@" in identity:
            ses.verify_email_identity(EmailAddress=identity)
        else:
            ses.verify_domain_identity(Domain=identity)
        self.record(lid, "AWS::SES::EmailIdentity", identity)
        self.done(lid, "AWS::SES::EmailIdentity", identity, True)

    # S3 --------------------------------------------------------------------
    def bucket(self, lid, p):
        s3 = self.client("s3")
        name = self.name(lid, p, "BucketName").lower()
        try:
            s3.head_bucket(Bucket=name)
            created = False
        except ClientError:
            args = {"Bucket": name}
            if self.region != "us-east-1":
                args["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            s3.create_bucket(**args)
            created = True
        cors = p.get("CorsConfiguration")
        if cors:
            # CloudFormation's property names differ from the S3 API's in three places.
            rename = {"MaxAge": "MaxAgeSeconds", "Id": "ID", "ExposedHeaders": "ExposeHeaders"}
            rules = [{rename.get(k, k): v for k, v in rule.items()} for rule in cors["CorsRules"]]
            s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})
        notif = p.get("NotificationConfiguration", {})
        queues = [{"QueueArn": q["Queue"], "Events": [q["Event"]],
                   **({"Filter": {"Key": {"FilterRules": q["Filter"]["S3Key"]["Rules"]}}} if "Filter" in q else {})}
                  for q in notif.get("QueueConfigurations", [])]
        if queues:
            s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={"QueueConfigurations": queues})
        self.record(lid, "AWS::S3::Bucket", name, Arn=f"arn:aws:s3:::{name}", DomainName=f"{name}.s3.amazonaws.com")
        self.done(lid, "AWS::S3::Bucket", name, created)

    def bucket_policy(self, lid, p):
        self.client("s3").put_bucket_policy(Bucket=p["Bucket"], Policy=json.dumps(p["PolicyDocument"]))
        self.record(lid, "AWS::S3::BucketPolicy", lid)
        self.done(lid, "AWS::S3::BucketPolicy", p["Bucket"], True)

    def handlers(self):
        return {"AWS::DynamoDB::Table": self.table, "AWS::Events::EventBus": self.event_bus,
                "AWS::Events::Rule": self.rule, "AWS::SQS::Queue": self.queue,
                "AWS::SQS::QueuePolicy": self.queue_policy, "AWS::SecretsManager::Secret": self.secret,
                "AWS::SES::EmailIdentity": self.email_identity, "AWS::S3::Bucket": self.bucket,
                "AWS::S3::BucketPolicy": self.bucket_policy}


def dependency_order(resources):
    """Logical ids so that every resource comes after the ones it references."""
    order, visiting, done = [], set(), set()

    def visit(lid):
        if lid in done:
            return
        if lid in visiting:
            raise SystemExit(f"circular reference through {lid}")
        visiting.add(lid)
        for dep in sorted(references(resources[lid].get("Properties", {}))):
            if dep in resources:
                visit(dep)
        visiting.discard(lid)
        done.add(lid)
        order.append(lid)

    for lid in resources:
        visit(lid)
    return order


def function_description(lid, res, globals_env, r, provisioner):
    props = res.get("Properties", {})
    env = dict(globals_env)
    env.update(r.resolve(props.get("Environment", {}).get("Variables", {})))
    out = {"binary": res.get("Metadata", {}).get("BuildProperties", {}).get("Binary", lid), "env": env,
           "routes": [], "queues": [], "streams": [], "s3": []}
    arn_to_url = {v.get("arn"): v.get("queueurl") for v in provisioner.resources.values() if v["type"] == "AWS::SQS::Queue"}
    for ev_name, ev in (props.get("Events") or {}).items():
        ep = r.resolve(ev.get("Properties", {}))
        kind = ev.get("Type")
        if kind in ("HttpApi", "Api"):
            out["routes"].append({"method": ep["Method"].upper(), "path": ep["Path"]})
        elif kind == "SQS":
            out["queues"].append({"url": arn_to_url[ep["Queue"]], "arn": ep["Queue"], "batch_size": ep.get("BatchSize", 10)})
        elif kind == "DynamoDB":
            table = next((v["ref"] for v in provisioner.resources.values() if v.get("streamarn") == ep["Stream"]), None)
            out["streams"].append({"stream_arn": ep["Stream"], "table": table, "batch_size": ep.get("BatchSize", 100),
                                   "starting_position": ep.get("StartingPosition", "TRIM_HORIZON")})
        elif kind == "S3":
            out["s3"].append({"bucket": ep["Bucket"], "events": ep.get("Events")})
        else:
            print(f"  · {lid}.{ev_name}: event type {kind} is not pumped locally", flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"))
    ap.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    ap.add_argument("--stack", default="commerce-local")
    ap.add_argument("--template", default="template.yaml")
    ap.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="parameter override")
    ap.add_argument("--out", default=".local/stack.json")
    args = ap.parse_args()

    template = load_template(args.template)
    params = {k: v.get("Default") for k, v in (template.get("Parameters") or {}).items()}
    for kv in args.param:
        k, _, v = kv.partition("=")
        if k not in params:
            raise SystemExit(f"unknown parameter {k}")
        params[k] = v
    r = Resolver(params, args.region, args.stack)
    p = Provisioner(args.endpoint, args.region, args.stack, r)
    resources = template["Resources"]
    handlers = p.handlers()
    print(f"provisioning {len(resources)} resources of {args.template} into {args.endpoint} (stack {args.stack})", flush=True)
    for lid in dependency_order(resources):
        res = resources[lid]
        rtype = res["Type"]
        if rtype in handlers:
            handlers[rtype](lid, r.resolve(res.get("Properties", {})))
        elif rtype in Provisioner.SKIPPED:
            if rtype != "AWS::Serverless::Function":
                r.values[lid] = f"local-{lid}"
                print(f"  · {lid:<22} {rtype:<28} not needed locally", flush=True)
        else:
            print(f"  ! {lid:<22} {rtype:<28} unsupported locally, skipped", file=sys.stderr, flush=True)

    globals_env = r.resolve(((template.get("Globals") or {}).get("Function") or {}).get("Environment", {}).get("Variables", {}))
    functions = {lid: function_description(lid, res, globals_env, r, p)
                 for lid, res in resources.items() if res["Type"] == "AWS::Serverless::Function"}
    stack = {"endpoint": args.endpoint, "region": args.region, "stack": args.stack, "env": globals_env,
             "resources": p.resources, "functions": functions}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(stack, indent=2))
    env_lines = [f"AWS_ENDPOINT_URL={args.endpoint}", f"AWS_REGION={args.region}",
                 f"AWS_ACCESS_KEY_ID={os.environ.get('AWS_ACCESS_KEY_ID', 'test')}",
                 f"AWS_SECRET_ACCESS_KEY={os.environ.get('AWS_SECRET_ACCESS_KEY', 'test')}"]
    env_lines += [f"{k}={v}" for k, v in globals_env.items()]
    (out.parent / "stack.env").write_text("".join(f"export {line}\n" for line in env_lines))
    print(f"wrote {out} and {out.parent / 'stack.env'} ({len(functions)} functions)", flush=True)


if __name__ == "__main__":
    main()
