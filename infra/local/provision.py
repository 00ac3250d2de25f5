#!/usr/bin/env python3
"""Provision the local AWS emulator from template.yaml: the template is the only resource list.

Reads the SAM template, resolves the intrinsics it uses (Ref, Fn::Sub, Fn::GetAtt, Fn::Join,
Fn::Select, Fn::Split, Fn::If and the condition functions) and creates, idempotently and in
dependency order, every resource type the emulator can hold — handled by resource TYPE, never by
logical id, so new queues, rules, tables or buckets in the template need no change here:

  AWS::DynamoDB::Table         keys, GSIs/LSIs, billing, stream, TTL (update_time_to_live), PITR
  AWS::Events::EventBus        custom bus
  AWS::Events::Rule            put_rule (EventPattern / ScheduleExpression) + put_targets
  AWS::SQS::Queue              attributes incl. RedrivePolicy (FIFO names get .fifo)
  AWS::SQS::QueuePolicy        the Policy attribute of each queue (also AWS::SQS::QueueInlinePolicy)
  AWS::SecretsManager::Secret  SecretString, or a random value per GenerateSecretString (never printed)
  AWS::SES::EmailIdentity      verified at once in the emulator, so sending works
  AWS::S3::Bucket              CORS, versioning, notifications (queues; Lambda targets get a local queue)
  AWS::S3::BucketPolicy        bucket policy

Resources that only matter in AWS (IAM, alarms and their SNS topic, the dashboard, log groups,
the HTTP API — the dev server serves the routes — Lambda permissions) are skipped with a note;
an unknown type is skipped with a warning. Physical names: the resource's own name property when given, else <stack>-<LogicalId>.

Writes the stack description the dev server reads (--out, JSON: env, resources, per function
its binary, environment, routes, queues, streams and S3 sources, the schedules: every
rule with a rate(...) ScheduleExpression and its queue targets, which the dev server fires
itself because the emulator never does; cron(...) is not emulated; and websocket_apis: every
WEBSOCKET AWS::ApiGatewayV2::Api with its routes, their functions and authorizers, which the
dev server serves because the emulator has no WebSocket data plane) and a shell file next to it
(stack.env, `export K=V` lines) so tests and tools reach the same resources.

  provision.py --endpoint http://127.0.0.1:4566 --stack commerce-local --out .local/stack.json
  provision.py --routes-only            # HttpApi routes of every function as JSON; no AWS calls
"""
import argparse
import json
import os
import re
import secrets
import shlex
import string
import sys
from pathlib import Path

import yaml

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account; the emulator's STS answer wins

# Short tags → the intrinsic they stand for. Anything else fails loudly.
SHORT_TAGS = {"Ref": "Ref", "Condition": "Condition", "Sub": "Fn::Sub", "GetAtt": "Fn::GetAtt",
              "Join": "Fn::Join", "Select": "Fn::Select", "Split": "Fn::Split", "If": "Fn::If",
              "Equals": "Fn::Equals", "Not": "Fn::Not", "And": "Fn::And", "Or": "Fn::Or"}


class TemplateError(SystemExit):
    def __init__(self, message):
        super().__init__(f"provision.py: {message}")


# ---------------------------------------------------------------- template loading
class CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short tags into their long (mapping) form."""


def _short_tag(fn_name):
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


for _tag, _fn in SHORT_TAGS.items():
    CfnLoader.add_constructor(f"!{_tag}", _short_tag(_fn))


def _unknown_tag(loader, suffix, node):
    raise TemplateError(f"the template uses !{suffix} (line {node.start_mark.line + 1}), "
                        "which provision.py does not resolve: add it to SHORT_TAGS and Resolver")


CfnLoader.add_multi_constructor("!", _unknown_tag)


def load_template(path):
    with open(path) as f:
        template = yaml.load(f, Loader=CfnLoader)
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise TemplateError(f"{path} has no Resources section")
    return template


# ---------------------------------------------------------------- intrinsic resolution
_NO_VALUE = object()


class Resolver:
    """Resolves intrinsics against parameters, pseudo parameters, conditions and the resources
    created so far (Ref values and GetAtt attributes)."""

    def __init__(self, params, pseudo, conditions=None):
        self.refs = dict(params)
        self.refs.update(pseudo)
        self.attrs = {}  # logical id -> {attribute: value}
        self.condition_defs = conditions or {}
        self.condition_values = {}

    # Conditions -------------------------------------------------------------
    def condition(self, name):
        if name not in self.condition_values:
            if name not in self.condition_defs:
                raise TemplateError(f"unknown condition {name}")
            self.condition_values[name] = bool(self.resolve(self.condition_defs[name]))
        return self.condition_values[name]

    # Resolution -------------------------------------------------------------
    def resolve(self, value):
        out = self._resolve(value)
        return None if out is _NO_VALUE else out

    def _resolve(self, value):
        if isinstance(value, list):
            return [v for v in (self._resolve(v) for v in value) if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self.function(key, arg)
        return {k: v for k, v in ((k, self._resolve(v)) for k, v in value.items()) if v is not _NO_VALUE}

    def function(self, key, arg):
        if key == "Fn::GetAtt":
            logical_id, attr = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.get_att(logical_id, self.resolve(attr))
        if key == "Fn::Sub":
            return self.sub(arg)
        if key == "Fn::Join":
            sep, items = arg
            return sep.join(str(i) for i in self.resolve(items))
        if key == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        if key == "Fn::Split":
            sep, text = arg
            return str(self.resolve(text)).split(sep)
        if key == "Fn::If":
            name, when_true, when_false = arg
            return self._resolve(when_true if self.condition(name) else when_false)
        if key == "Fn::Equals":
            a, b = (self.resolve(x) for x in arg)
            return str(a) == str(b)
        if key == "Fn::Not":
            return not self.resolve(arg[0])
        if key == "Fn::And":
            return all(self.resolve(x) for x in arg)
        if key == "Fn::Or":
            return any(self.resolve(x) for x in arg)
        raise TemplateError(f"the template uses {key}, which provision.py does not resolve")

    def ref(self, name):
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(f"Ref {name}: not a parameter, pseudo parameter or provisioned resource")

    def get_att(self, logical_id, attr):
        try:
            return self.attrs[logical_id][attr]
        except KeyError:
            known = sorted(self.attrs.get(logical_id, {}))
            raise TemplateError(f"GetAtt {logical_id}.{attr}: not known locally"
                                + (f" (known: {', '.join(known)})" if known else "")) from None

    def sub(self, arg):
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def repl(m):
            token = m.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"  # ${!Literal}
            if token in extra:
                return str(extra[token])
            if token in self.refs or "." not in token:
                return str(self.ref(token))
            return str(self.get_att(*token.split(".", 1)))
        return re.sub(r"\$\{([^}]+)\}", repl, text)


def references(value):
    """Logical ids (or parameter names) a property tree refers to."""
    found = set()
    if isinstance(value, list):
        for v in value:
            found |= references(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            if k == "Ref" and isinstance(v, str):
                found.add(v)
            elif k == "Fn::GetAtt":
                found.add(v[0] if isinstance(v, list) else v.split(".", 1)[0])
            elif k == "Fn::Sub":
                text = v if isinstance(v, str) else v[0]
                found |= {t.split(".", 1)[0] for t in re.findall(r"\$\{([^}!][^}]*)\}", text)}
                if not isinstance(v, str):
                    found |= references(v[1])
            else:
                found |= references(v)
    return found


def dependency_order(resources):
    """Logical ids so that every resource comes after the ones it references or DependsOn."""
    order, visiting, done = [], [], set()

    def deps(lid):
        res = resources[lid]
        depends = res.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else depends
        props = res.get("Properties") or {}
        if res.get("Type") == "AWS::Serverless::Function":
            # Locally a function only needs its name; its events and environment are resolved once
            # everything exists (and its S3 events make the bucket depend on it, not the reverse).
            props = {"FunctionName": props.get("FunctionName")}
        return sorted((references(props) | set(depends)) & resources.keys())

    def visit(lid):
        if lid in done:
            return
        if lid in visiting:
            raise TemplateError("circular reference: " + " → ".join(visiting[visiting.index(lid):] + [lid]))
        visiting.append(lid)
        for dep in deps(lid):
            visit(dep)
        visiting.pop()
        done.add(lid)
        order.append(lid)

    for lid in resources:
        visit(lid)
    return order


def parameters(template, overrides):
    """Template parameter defaults with --param overrides, checked like CloudFormation would."""
    decl = template.get("Parameters") or {}
    values = {}
    for name, spec in decl.items():
        if "Default" in spec:
            values[name] = spec["Default"]
    for kv in overrides:
        key, sep, val = kv.partition("=")
        if not sep:
            raise TemplateError(f"--param {kv}: expected KEY=VALUE")
        if key not in decl:
            raise TemplateError(f"--param {key}: the template has no such parameter "
                                f"(it has: {', '.join(decl) or 'none'})")
        values[key] = val
    for name, spec in decl.items():
        if name not in values:
            raise TemplateError(f"parameter {name} has no Default: pass --param {name}=VALUE")
        val = values[name]
        allowed = spec.get("AllowedValues")
        if allowed and str(val) not in [str(a) for a in allowed]:
            raise TemplateError(f"parameter {name}={val} is not one of {allowed}")
        pattern = spec.get("AllowedPattern")
        if pattern and not re.fullmatch(pattern, str(val)):
            raise TemplateError(f"parameter {name}={val} does not match {pattern}")
        ptype = spec.get("Type", "String")
        if ptype == "CommaDelimitedList" and isinstance(val, str):
            values[name] = [v.strip() for v in val.split(",")]
        elif ptype == "Number":
            values[name] = str(val)
        elif ptype.startswith("AWS::SSM::"):
            raise TemplateError(f"parameter {name} is an SSM parameter: pass --param {name}=VALUE")
        else:
            values[name] = val if isinstance(val, list) else str(val)
    return values


def env_string(value):
    """A Lambda environment value the way CloudFormation stringifies it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        raise TemplateError(f"an environment variable resolved to {type(value).__name__}: {value!r}")
    return "" if value is None else str(value)


# ---------------------------------------------------------------- resource handlers
def _json_equal(a, b):
    def norm(x):
        if isinstance(x, str):
            try:
                x = json.loads(x)
            except ValueError:
                return x
        if isinstance(x, dict):
            return {k: norm(v) for k, v in x.items()}
        if isinstance(x, list):
            return [norm(v) for v in x]
        return str(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else x
    return norm(a) == norm(b)


class Provisioner:
    SKIPPED_PREFIXES = ("AWS::IAM::", "AWS::CloudWatch::", "AWS::Logs::", "AWS::ApiGateway::",
                        "AWS::ApiGatewayV2::", "AWS::Lambda::")
    SKIPPED = {"AWS::Serverless::HttpApi": "the dev server serves its routes",
               "AWS::Serverless::Api": "the dev server serves its routes",
               "AWS::Serverless::Function": "the dev server runs it (see --out)",
               # Alarms are skipped (AWS::CloudWatch::), so their topic has nothing to deliver.
               "AWS::SNS::Topic": "only alarms publish to it (skipped with them)",
               "AWS::SNS::Subscription": "only alarms publish to its topic",
               **{f"AWS::ApiGatewayV2::{t}": "the dev server serves WebSocket APIs (see websocket_apis in --out)"
                  for t in ("Api", "Authorizer", "Integration", "Route", "RouteResponse", "Stage")}}

    def __init__(self, endpoint, region, stack, resolver, account_id):
        import boto3
        from botocore.config import Config
        from botocore.exceptions import ClientError
        self.ClientError = ClientError
        self._clients = {}
        self._kw = dict(endpoint_url=endpoint, region_name=region,
                        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5,
                                      read_timeout=30))
        self._boto3 = boto3
        self.stack, self.region, self.account_id, self.r = stack, region, account_id, resolver
        self.resources = {}  # logical id -> description written to the stack file
        self.s3_sources = {}  # function logical id -> [s3 source]

    def client(self, service):
        if service not in self._clients:
            self._clients[service] = self._boto3.client(service, **self._kw)
        return self._clients[service]

    def code(self, e):
        return e.response.get("Error", {}).get("Code", "")

    def physical_name(self, lid, props, key):
        return props.get(key) or f"{self.stack}-{lid}"

    def record(self, lid, rtype, ref, name=None, arn=None, attrs=None, **extra):
        """Make Ref/GetAtt of this resource resolvable and describe it in the stack file."""
        self.r.refs[lid] = ref
        self.r.attrs[lid] = dict(attrs or {})
        desc = {"type": rtype, "name": name if name is not None else ref}
        if arn:
            desc["arn"] = arn
        desc.update({k: v for k, v in extra.items() if v is not None})
        self.resources[lid] = desc

    @staticmethod
    def line(mark, lid, rtype, what, state=None, stream=sys.stdout):
        suffix = f" ({state})" if state else ""
        print(f"  {mark} {lid:<24} {rtype:<28} {what}{suffix}", file=stream, flush=True)

    # DynamoDB ------------------------------------------------------------
    def table(self, lid, p):
        ddb = self.client("dynamodb")
        name = self.physical_name(lid, p, "TableName")
        state = "exists"
        try:
            desc = ddb.describe_table(TableName=name)["Table"]
        except self.ClientError as e:
            if self.code(e) != "ResourceNotFoundException":
                raise
            args = dict(TableName=name, AttributeDefinitions=p["AttributeDefinitions"], KeySchema=p["KeySchema"],
                        BillingMode=p.get("BillingMode", "PROVISIONED" if "ProvisionedThroughput" in p else
                                          "PAY_PER_REQUEST"))
            for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput"):
                if p.get(key):
                    args[key] = p[key]
            stream = p.get("StreamSpecification")
            if stream:
                args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
            desc = ddb.create_table(**args)["TableDescription"]
            state = "created"
        else:
            if {k["AttributeName"]: k["KeyType"] for k in desc["KeySchema"]} != \
                    {k["AttributeName"]: k["KeyType"] for k in p["KeySchema"]}:
                raise TemplateError(f"table {name} exists with another key schema than the template's; "
                                    "use a new --stack name or a fresh emulator")
            have = {g["IndexName"] for g in desc.get("GlobalSecondaryIndexes", [])}
            for gsi in p.get("GlobalSecondaryIndexes", []):
                if gsi["IndexName"] not in have:
                    create = {k: v for k, v in gsi.items() if k in ("IndexName", "KeySchema", "Projection",
                                                                     "ProvisionedThroughput")}
                    ddb.update_table(TableName=name, AttributeDefinitions=p["AttributeDefinitions"],
                                     GlobalSecondaryIndexUpdates=[{"Create": create}])
                    state = "updated"
            stream = p.get("StreamSpecification")
            if stream and not desc.get("StreamSpecification", {}).get("StreamEnabled"):
                ddb.update_table(TableName=name, StreamSpecification={
                    "StreamEnabled": True, "StreamViewType": stream["StreamViewType"]})
                state = "updated"
            if state == "updated":
                desc = ddb.describe_table(TableName=name)["Table"]
        ttl = p.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            current = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING") or \
                    current.get("AttributeName") != ttl["AttributeName"]:
                ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                    "AttributeName": ttl["AttributeName"], "Enabled": True})
                state = "updated" if state == "exists" else state
        pitr = (p.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled")
        if pitr:
            try:
                backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
                if backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus") != "ENABLED":
                    ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={
                        "PointInTimeRecoveryEnabled": True})
            except self.ClientError:
                pass  # an emulator without backups: only AWS needs it, and it gets it from the template
        stream_arn = desc.get("LatestStreamArn")
        attrs = {"Arn": desc["TableArn"]}
        if stream_arn:
            attrs["StreamArn"] = stream_arn
        self.record(lid, "AWS::DynamoDB::Table", name, arn=desc["TableArn"], attrs=attrs, stream_arn=stream_arn)
        gsis = ",".join(g["IndexName"] for g in p.get("GlobalSecondaryIndexes", []))
        extras = [f"GSIs {gsis}" if gsis else "", "stream" if stream_arn else "",
                  f"TTL {ttl['AttributeName']}" if ttl and ttl.get("Enabled") else ""]
        return f"{name} [{', '.join(x for x in extras if x)}]", state

    # EventBridge -----------------------------------------------------------
    def event_bus(self, lid, p):
        events = self.client("events")
        name = p["Name"]  # required by CloudFormation
        try:
            arn = events.describe_event_bus(Name=name)["Arn"]
            state = "exists"
        except self.ClientError as e:
            if self.code(e) != "ResourceNotFoundException":
                raise
            arn = events.create_event_bus(Name=name)["EventBusArn"]
            state = "created"
        self.record(lid, "AWS::Events::EventBus", name, arn=arn, attrs={"Arn": arn, "Name": name})
        return name, state

    TARGET_KEYS = ("Id", "Arn", "RoleArn", "Input", "InputPath", "InputTransformer", "SqsParameters",
                   "DeadLetterConfig", "RetryPolicy", "HttpParameters")

    def rule(self, lid, p):
        events = self.client("events")
        name = self.physical_name(lid, p, "Name")
        bus = p.get("EventBusName", "default")
        wanted = {"State": p.get("State", "ENABLED")}
        for key in ("EventPattern", "ScheduleExpression", "Description", "RoleArn"):
            if key in p:
                wanted[key] = json.dumps(p[key]) if key == "EventPattern" and not isinstance(p[key], str) else p[key]
        try:
            current = events.describe_rule(Name=name, EventBusName=bus)
            state = "exists"
            if any(not _json_equal(current.get(k), v) for k, v in wanted.items()):
                state = "updated"
        except self.ClientError as e:
            if self.code(e) != "ResourceNotFoundException":
                raise
            state = "created"
        if state != "exists":
            arn = events.put_rule(Name=name, EventBusName=bus, **wanted)["RuleArn"]
        else:
            arn = current["Arn"]
        targets = [{k: v for k, v in t.items() if k in self.TARGET_KEYS} for t in p.get("Targets", [])]
        existing = {} if state == "created" else \
            {t["Id"]: t for t in events.list_targets_by_rule(Rule=name, EventBusName=bus).get("Targets", [])}
        changed = [t for t in targets if not _json_equal({k: existing.get(t["Id"], {}).get(k) for k in t}, t)]
        if changed:
            events.put_targets(Rule=name, EventBusName=bus, Targets=changed)
        stale = sorted(set(existing) - {t["Id"] for t in targets})
        if stale:
            events.remove_targets(Rule=name, EventBusName=bus, Ids=stale)
        if (changed or stale) and state == "exists":
            state = "updated"
        self.record(lid, "AWS::Events::Rule", name, arn=arn, attrs={"Arn": arn}, event_bus=bus)
        return f"{name} on {bus} → {len(targets)} target(s)", state

    # SQS -------------------------------------------------------------------
    QUEUE_ATTRS = ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds",
                   "VisibilityTimeout", "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope",
                   "FifoThroughputLimit", "SqsManagedSseEnabled", "KmsMasterKeyId",
                   "KmsDataKeyReusePeriodSeconds")

    def queue(self, lid, p):
        sqs = self.client("sqs")
        name = p.get("QueueName") or f"{self.stack}-{lid}" + (".fifo" if p.get("FifoQueue") else "")
        attrs = {k: (str(p[k]).lower() if isinstance(p[k], bool) else str(p[k])) for k in self.QUEUE_ATTRS if k in p}
        for key in ("RedrivePolicy", "RedriveAllowPolicy"):
            if key in p:
                attrs[key] = p[key] if isinstance(p[key], str) else json.dumps(p[key])
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            state = "exists"
        except self.ClientError as e:
            if "NonExistentQueue" not in self.code(e):
                raise
            url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
            state = "created"
        current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        if state == "exists":
            # FifoQueue cannot change after creation; everything else is set when it differs.
            diff = {k: v for k, v in attrs.items() if k != "FifoQueue" and not _json_equal(current.get(k), v)}
            if diff:
                if current.get("Policy"):
                    # moto drops the queue's Policy on any SetQueueAttributes that omits it (AWS keeps it)
                    diff.setdefault("Policy", current["Policy"])
                sqs.set_queue_attributes(QueueUrl=url, Attributes=diff)
                state = "updated"
        arn = current["QueueArn"]
        self.record(lid, "AWS::SQS::Queue", url, name=name, arn=arn,
                    attrs={"Arn": arn, "QueueName": name, "QueueUrl": url}, url=url)
        return name, state

    def queue_policy(self, lid, p):
        sqs = self.client("sqs")
        urls = p["Queues"] if "Queues" in p else [p["Queue"]]  # QueuePolicy / QueueInlinePolicy
        policy = p["PolicyDocument"]
        state = "exists"
        for url in urls:
            current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {})
            if not _json_equal(current.get("Policy"), policy):
                sqs.set_queue_attributes(QueueUrl=url, Attributes={
                    "Policy": policy if isinstance(policy, str) else json.dumps(policy)})
                state = "updated" if current.get("Policy") else "created"
        self.record(lid, "AWS::SQS::QueuePolicy", f"{self.stack}-{lid}")
        names = ", ".join(u.rsplit("/", 1)[-1] for u in urls)
        return f"policy of {names}", state

    # Secrets Manager -------------------------------------------------------
    @staticmethod
    def generate_secret(gen):
        """A value per GenerateSecretString (the same options as AWS), from the OS CSPRNG."""
        pools = []
        if not gen.get("ExcludeLowercase"):
            pools.append(string.ascii_lowercase)
        if not gen.get("ExcludeUppercase"):
            pools.append(string.ascii_uppercase)
        if not gen.get("ExcludeNumbers"):
            pools.append(string.digits)
        if not gen.get("ExcludePunctuation"):
            pools.append("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
        if gen.get("IncludeSpace"):
            pools.append(" ")
        excluded = set(gen.get("ExcludeCharacters", ""))
        pools = [[c for c in pool if c not in excluded] for pool in pools]
        pools = [pool for pool in pools if pool]
        alphabet = [c for pool in pools for c in pool]
        length = int(gen.get("PasswordLength", 32))
        if not alphabet:
            raise TemplateError("GenerateSecretString excludes every character")
        while True:
            value = "".join(secrets.choice(alphabet) for _ in range(length))
            if not gen.get("RequireEachIncludedType", True) or length < len(pools) or \
                    all(any(c in pool for c in value) for pool in pools):
                break
        template, key = gen.get("SecretStringTemplate"), gen.get("GenerateStringKey")
        if template and key:
            doc = json.loads(template)
            doc[key] = value
            return json.dumps(doc)
        return value

    def secret(self, lid, p):
        sm = self.client("secretsmanager")
        name = self.physical_name(lid, p, "Name")
        try:
            arn = sm.describe_secret(SecretId=name)["ARN"]
            state = "exists"
        except self.ClientError as e:
            if self.code(e) != "ResourceNotFoundException":
                raise
            value = p["SecretString"] if "SecretString" in p else self.generate_secret(p.get("GenerateSecretString", {}))
            args = dict(Name=name, SecretString=value)
            if p.get("Description"):
                args["Description"] = p["Description"]
            arn = sm.create_secret(**args)["ARN"]
            state = "created"
        self.record(lid, "AWS::SecretsManager::Secret", arn, name=name, arn=arn, attrs={"Id": arn})
        return f"{name}, value not shown", state

    # SES -------------------------------------------------------------------
    def email_identity(self, lid, p):
        ses = self.client("ses")
        identity = p["EmailIdentity"]
        status = ses.get_identity_verification_attributes(Identities=[identity])["VerificationAttributes"]
        state = "exists"
        if status.get(identity, {}).get("VerificationStatus") != "Success":
            if "@" in identity:
                ses.verify_email_identity(EmailAddress=identity)
            else:
                ses.verify_domain_identity(Domain=identity)
            state = "created"
        arn = f"arn:aws:ses:{self.region}:{self.account_id}:identity/{identity}"
        self.record(lid, "AWS::SES::EmailIdentity", identity, arn=arn)
        return identity, state

    # S3 --------------------------------------------------------------------
    CORS_RENAME = {"MaxAge": "MaxAgeSeconds", "Id": "ID", "ExposedHeaders": "ExposeHeaders"}

    def local_s3_queue(self, function_lid):
        """Lambda targets of bucket notifications get a queue locally: the dev server pumps it."""
        sqs = self.client("sqs")
        name = f"{self.stack}-{function_lid}-s3"
        url = sqs.create_queue(QueueName=name)["QueueUrl"]  # idempotent with the same attributes
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def bucket(self, lid, p):
        s3 = self.client("s3")
        name = p.get("BucketName") or f"{self.stack}-{lid}".lower()
        state = "exists"
        try:
            s3.head_bucket(Bucket=name)
        except self.ClientError as e:
            if self.code(e) not in ("404", "NoSuchBucket", "NotFound"):
                raise
            args = {"Bucket": name}
            if self.region != "us-east-1":
                args["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            s3.create_bucket(**args)
            state = "created"
        applied = []

        cors = p.get("CorsConfiguration")
        if cors:
            rules = [{self.CORS_RENAME.get(k, k): v for k, v in rule.items()} for rule in cors["CorsRules"]]
            try:
                current = s3.get_bucket_cors(Bucket=name)["CORSRules"]
            except self.ClientError:
                current = None
            if not _json_equal(current, rules):
                s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})
                state = "updated" if state == "exists" else state
            applied.append("CORS")

        versioning = (p.get("VersioningConfiguration") or {}).get("Status")
        if versioning and s3.get_bucket_versioning(Bucket=name).get("Status") != versioning:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning})
            state = "updated" if state == "exists" else state

        notif = p.get("NotificationConfiguration") or {}
        wanted = {"QueueConfigurations": [], "TopicConfigurations": []}

        def s3_filter(cfg):
            rules = ((cfg.get("Filter") or {}).get("S3Key") or {}).get("Rules")
            return {"Filter": {"Key": {"FilterRules": rules}}} if rules else {}

        for q in notif.get("QueueConfigurations", []):
            wanted["QueueConfigurations"].append({"QueueArn": q["Queue"], "Events": [q["Event"]], **s3_filter(q)})
        for t in notif.get("TopicConfigurations", []):
            wanted["TopicConfigurations"].append({"TopicArn": t["Topic"], "Events": [t["Event"]], **s3_filter(t)})
        lambda_targets = [(cfg["Function"], cfg["Event"], s3_filter(cfg)) for cfg in notif.get("LambdaConfigurations", [])]
        lambda_targets += [(fn_arn, ev, flt) for fn_arn, ev, flt in self.pending_s3_events.get(lid, [])]
        for fn_arn, event, flt in lambda_targets:
            fn_lid = next((k for k, v in self.r.attrs.items() if v.get("Arn") == fn_arn), None)
            if fn_lid is None:
                print(f"    bucket {name}: notification target {fn_arn} is not a function of this template; skipped",
                      file=sys.stderr, flush=True)
                continue
            url, arn = self.local_s3_queue(fn_lid)
            wanted["QueueConfigurations"].append({"QueueArn": arn, "Events": [event], **flt})
            self.s3_sources.setdefault(fn_lid, []).append({
                "bucket": name, "events": [event], "filter": flt.get("Filter", {}).get("Key", {}).get("FilterRules", []),
                "queue_url": url, "queue_arn": arn})
        wanted = {k: v for k, v in wanted.items() if v}
        if wanted or notif:
            current = s3.get_bucket_notification_configuration(Bucket=name)
            current = {k: [{kk: vv for kk, vv in c.items() if kk != "Id"} for c in current.get(k, [])]
                       for k in ("QueueConfigurations", "TopicConfigurations", "LambdaFunctionConfigurations")}
            current = {k: v for k, v in current.items() if v}
            # Only when it differs: moto (like S3) sends an s3:TestEvent to the queue on every put.
            if not _json_equal(current, wanted):
                s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration=wanted)
                state = "updated" if state == "exists" else state
            applied.append(f"{sum(len(v) for v in wanted.values())} notification(s)")

        arn = f"arn:aws:s3:::{name}"
        self.record(lid, "AWS::S3::Bucket", name, arn=arn, attrs={
            "Arn": arn, "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{self.region}.amazonaws.com",
            "DualStackDomainName": f"{name}.s3.dualstack.{self.region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{self.region}.amazonaws.com"})
        return name + (f" [{', '.join(applied)}]" if applied else ""), state

    def bucket_policy(self, lid, p):
        s3 = self.client("s3")
        policy = p["PolicyDocument"]
        try:
            current = s3.get_bucket_policy(Bucket=p["Bucket"])["Policy"]
        except self.ClientError:
            current = None
        state = "exists"
        if not _json_equal(current, policy):
            s3.put_bucket_policy(Bucket=p["Bucket"], Policy=policy if isinstance(policy, str) else json.dumps(policy))
            state = "updated" if current else "created"
        self.record(lid, "AWS::S3::BucketPolicy", f"{self.stack}-{lid}")
        return f"policy of {p['Bucket']}", state

    # Skipped ---------------------------------------------------------------
    def serverless_function(self, lid, p):
        name = p.get("FunctionName") or f"{self.stack}-{lid}"
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
        self.record(lid, "AWS::Serverless::Function", name, arn=arn, attrs={"Arn": arn})

    def handlers(self):
        return {"AWS::DynamoDB::Table": self.table, "AWS::Events::EventBus": self.event_bus,
                "AWS::Events::Rule": self.rule, "AWS::SQS::Queue": self.queue,
                "AWS::SQS::QueuePolicy": self.queue_policy, "AWS::SQS::QueueInlinePolicy": self.queue_policy,
                "AWS::SecretsManager::Secret": self.secret, "AWS::SES::EmailIdentity": self.email_identity,
                "AWS::S3::Bucket": self.bucket, "AWS::S3::BucketPolicy": self.bucket_policy}

    def skip_reason(self, rtype):
        if rtype in self.SKIPPED:
            return self.SKIPPED[rtype]
        if rtype.startswith(self.SKIPPED_PREFIXES):
            return "only needed in AWS"
        return None

    def run(self, template, resources):
        handlers = self.handlers()
        # SAM S3 events on functions become notifications of their bucket: collect them first.
        self.pending_s3_events = {}
        for lid, res in resources.items():
            if res["Type"] == "AWS::Serverless::Function":
                for ev in ((res.get("Properties") or {}).get("Events") or {}).values():
                    if ev.get("Type") == "S3":
                        ep = ev["Properties"]
                        bucket = ep["Bucket"].get("Ref") if isinstance(ep["Bucket"], dict) else None
                        if bucket not in resources:
                            raise TemplateError(f"{lid}: an S3 event must Ref a bucket of this template")
                        events = ep["Events"] if isinstance(ep["Events"], list) else [ep["Events"]]
                        rules = ((ep.get("Filter") or {}).get("S3Key") or {}).get("Rules")
                        flt = {"Filter": {"Key": {"FilterRules": rules}}} if rules else {}
                        arn_ref = {"Fn::GetAtt": [lid, "Arn"]}
                        self.pending_s3_events.setdefault(bucket, []).extend((arn_ref, e, flt) for e in events)
                        # the bucket must come after the function so its Arn resolves
                        resources[bucket].setdefault("DependsOn", [])
                        if isinstance(resources[bucket]["DependsOn"], str):
                            resources[bucket]["DependsOn"] = [resources[bucket]["DependsOn"]]
                        resources[bucket]["DependsOn"].append(lid)
        for lid in dependency_order(resources):
            res = resources[lid]
            rtype = res["Type"]
            if res.get("Condition") and not self.r.condition(res["Condition"]):
                self.r.refs[lid] = None
                self.line("·", lid, rtype, f"condition {res['Condition']} is false: not created")
                continue
            if lid in self.pending_s3_events:
                self.pending_s3_events[lid] = [(self.r.resolve(a), e, self.r.resolve(f))
                                               for a, e, f in self.pending_s3_events[lid]]
            if rtype in handlers:
                what, state = handlers[rtype](lid, self.r.resolve(res.get("Properties") or {}))
                self.line("✓", lid, rtype, what, state)
                continue
            if rtype == "AWS::Serverless::Function":
                self.serverless_function(lid, self.r.resolve({k: v for k, v in (res.get("Properties") or {}).items()
                                                               if k == "FunctionName"}))
                binary = ((res.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary") or lid
                self.line("·", lid, rtype, f"{binary}: {self.SKIPPED[rtype]}")
                continue
            self.r.refs[lid] = f"{self.stack}-{lid}"
            reason = self.skip_reason(rtype)
            if reason:
                self.line("·", lid, rtype, f"skipped: {reason}")
            else:
                self.line("!", lid, rtype, "WARNING: type not supported locally, skipped", stream=sys.stderr)


# ---------------------------------------------------------------- functions and routes
def function_routes(props, resolver):
    """HttpApi/Api events of a function; only Method and Path are resolved (no resources needed)."""
    routes = []
    for ev in (props.get("Events") or {}).values():
        if ev.get("Type") in ("HttpApi", "Api"):
            ep = ev.get("Properties") or {}
            routes.append({"method": str(resolver.resolve(ep.get("Method", "ANY"))).upper(),
                           "path": str(resolver.resolve(ep.get("Path", "$default")))})
    return routes


def function_binary(lid, res):
    return ((res.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary") or lid


def function_description(lid, res, globals_env, r, prov):
    props = res.get("Properties") or {}
    env = dict(globals_env)
    env.update({k: env_string(v) for k, v in r.resolve((props.get("Environment") or {}).get("Variables") or {}).items()})
    out = {"binary": function_binary(lid, res), "env": env, "routes": function_routes(props, r), "queues": [], "streams": [],
           "s3": list(prov.s3_sources.get(lid, []))}
    queues_by_arn = {v["arn"]: v for v in prov.resources.values() if v["type"] == "AWS::SQS::Queue"}
    tables_by_stream = {v["stream_arn"]: v["name"] for v in prov.resources.values() if v.get("stream_arn")}
    for ev_name, ev in (props.get("Events") or {}).items():
        kind = ev.get("Type")
        if kind == "S3":
            continue  # collected through the bucket's notifications (see Provisioner.bucket)
        if kind in ("HttpApi", "Api"):
            continue  # routes: see function_routes
        ep = r.resolve(ev.get("Properties") or {})
        filters = [json.loads(f["Pattern"]) if isinstance(f.get("Pattern"), str) else f.get("Pattern")
                   for f in (ep.get("FilterCriteria") or {}).get("Filters", [])]
        if kind == "SQS":
            queue = queues_by_arn.get(ep["Queue"])
            if queue is None:
                raise TemplateError(f"{lid}.{ev_name}: queue {ep['Queue']} is not a queue of this template")
            out["queues"].append({"url": queue["url"], "arn": queue["arn"], "batch_size": int(ep.get("BatchSize", 10)),
                                  "filters": filters})
        elif kind == "DynamoDB":
            out["streams"].append({"stream_arn": ep["Stream"], "table": tables_by_stream.get(ep["Stream"]),
                                   "batch_size": int(ep.get("BatchSize", 100)),
                                   "starting_position": ep.get("StartingPosition", "TRIM_HORIZON"),
                                   "filters": filters})
        else:
            print(f"    {lid}.{ev_name}: {kind} events are not delivered locally", flush=True)
    return out


# ---------------------------------------------------------------- schedules
RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def rate_seconds(expression):
    """Period of a rate(N unit) schedule in seconds; None for cron(...). Fails on anything else."""
    m = re.fullmatch(r"\s*rate\(\s*(\d+)\s+([a-z]+)\s*\)\s*", expression)
    if m and m.group(2) in RATE_UNITS and int(m.group(1)) > 0:
        return int(m.group(1)) * RATE_UNITS[m.group(2)]
    if re.fullmatch(r"\s*cron\(.*\)\s*", expression):
        return None
    raise TemplateError(f"ScheduleExpression {expression!r}: expected rate(N minute|minutes|hour|hours|day|days) "
                        "or cron(...)")


def schedule_descriptions(resources, r, prov):
    """What EventBridge's scheduler would do, for the dev server to do: every enabled rule with a
    rate(...) ScheduleExpression and its targets that are queues of this template (resolved like
    function_description resolves SQS events). Other targets and cron(...) rules are reported."""
    queues_by_arn = {v["arn"]: v for v in prov.resources.values() if v["type"] == "AWS::SQS::Queue"}
    out = []
    for lid, res in resources.items():
        if res.get("Type") != "AWS::Events::Rule" or lid not in prov.resources:
            continue
        props = r.resolve(res.get("Properties") or {})
        expression = props.get("ScheduleExpression")
        if not expression:
            continue  # an event-pattern rule: nothing to fire
        rule = prov.resources[lid]
        if props.get("State", "ENABLED") != "ENABLED":
            print(f"    {lid}: schedule {expression} is {props['State']}; not fired locally", flush=True)
            continue
        if rate_seconds(expression) is None:
            print(f"    WARNING {lid}: {expression} is not emulated locally (only rate(...) schedules are "
                  "fired by the dev server)", file=sys.stderr, flush=True)
            continue
        targets = []
        for t in props.get("Targets") or []:
            queue = queues_by_arn.get(t.get("Arn"))
            if queue is None:
                print(f"    {lid}: target {t.get('Id')} ({t.get('Arn')}) is not a queue of this template; "
                      "not delivered locally", flush=True)
                continue
            if "InputPath" in t or "InputTransformer" in t:
                print(f"    WARNING {lid}: target {t.get('Id')} uses InputPath/InputTransformer, not emulated; "
                      "it gets the plain scheduled event", file=sys.stderr, flush=True)
            target = {"queue_url": queue["url"], "queue_arn": queue["arn"]}
            if "Input" in t:
                target["input"] = t["Input"] if isinstance(t["Input"], str) else json.dumps(t["Input"])
            if (t.get("SqsParameters") or {}).get("MessageGroupId"):
                target["message_group_id"] = t["SqsParameters"]["MessageGroupId"]
            targets.append(target)
        if targets:
            out.append({"rule": rule["name"], "arn": rule.get("arn"), "expression": expression, "targets": targets})
    return out


# ---------------------------------------------------------------- WebSocket APIs
def websocket_descriptions(resources, r, prov):
    """What API Gateway's WebSocket data plane would do, for the dev server to do (the emulator
    holds only the control plane): per AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET, its
    route selection expression, stage, and per route the function (logical id and binary) its
    AWS_PROXY integration invokes, the authorizer of a CUSTOM route (function, binary, identity
    sources) and whether it answers the client (a route response: two-way)."""
    by_type = {}
    for lid, res in resources.items():
        if res.get("Type", "").startswith("AWS::ApiGatewayV2::") and \
                not (res.get("Condition") and not r.condition(res["Condition"])):
            by_type.setdefault(res["Type"].rsplit("::", 1)[1], {})[lid] = r.resolve(res.get("Properties") or {})
    functions_by_arn = {v["arn"]: lid for lid, v in prov.resources.items()
                        if v["type"] == "AWS::Serverless::Function" and v.get("arn")}
    lid_by_ref = {r.refs.get(lid): lid for kind in by_type.values() for lid in kind}

    def function_of(uri, what):
        m = re.search(r"/functions/(.+)/invocations$", str(uri or ""))
        lid = functions_by_arn.get(m.group(1)) if m else None
        if lid is None:
            raise TemplateError(f"{what}: {uri!r} does not invoke a function of this template")
        return {"function": lid, "binary": function_binary(lid, resources[lid])}

    out = []
    for api_lid, api in by_type.get("Api", {}).items():
        if api.get("ProtocolType") != "WEBSOCKET":
            continue
        api_ref = r.refs.get(api_lid)
        owned = {kind: {lid: p for lid, p in items.items() if p.get("ApiId") == api_ref}
                 for kind, items in by_type.items()}
        two_way = {lid_by_ref.get(p.get("RouteId")) for p in owned.get("RouteResponse", {}).values()}
        routes = []
        for route_lid, route in owned.get("Route", {}).items():
            target = str(route.get("Target") or "")
            integration = owned.get("Integration", {}).get(lid_by_ref.get(target.removeprefix("integrations/")))
            if integration is None:
                print(f"    WARNING {route_lid}: route {route.get('RouteKey')} has no integration of this API; "
                      "not served locally", file=sys.stderr, flush=True)
                continue
            if integration.get("IntegrationType") != "AWS_PROXY":
                raise TemplateError(f"{route_lid}: only AWS_PROXY (Lambda) integrations are served locally")
            desc = {"route_key": route["RouteKey"], **function_of(integration.get("IntegrationUri"), route_lid),
                    "authorization_type": route.get("AuthorizationType", "NONE"),
                    "two_way": route_lid in two_way}
            if desc["authorization_type"] == "CUSTOM":
                authorizer = owned.get("Authorizer", {}).get(lid_by_ref.get(route.get("AuthorizerId")))
                if authorizer is None:
                    raise TemplateError(f"{route_lid}: AuthorizerId names no authorizer of this API")
                desc["authorizer"] = {**function_of(authorizer.get("AuthorizerUri"), route_lid),
                                      "type": authorizer.get("AuthorizerType", "REQUEST"),
                                      "identity_source": authorizer.get("IdentitySource") or []}
            routes.append(desc)
        stages = [p.get("StageName") for p in owned.get("Stage", {}).values()]
        out.append({"api": api_lid, "name": api.get("Name") or f"{prov.stack}-{api_lid}",
                    "api_id": api_ref, "stage": stages[0] if stages else "$default",
                    "route_selection_expression": api.get("RouteSelectionExpression", "$request.body.action"),
                    "routes": routes})
    return out


def routes_only(template, resolver):
    """All HttpApi/Api routes: [{"function", "binary", "method", "path"}], template order."""
    out = []
    for lid, res in template["Resources"].items():
        if res.get("Type") == "AWS::Serverless::Function":
            for route in function_routes(res.get("Properties") or {}, resolver):
                out.append({"function": lid, "binary": function_binary(lid, res), **route})
    return out


# ---------------------------------------------------------------- main
def write_atomically(path, text):
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def emulator_account_id(endpoint, region):
    """The account the emulator puts in its ARNs (moto: 123456789012, LocalStack: 000000000000)."""
    import boto3
    from botocore.config import Config
    try:
        return boto3.client("sts", endpoint_url=endpoint, region_name=region,
                            config=Config(retries={"max_attempts": 1}, connect_timeout=3, read_timeout=10)
                            ).get_caller_identity()["Account"]
    except Exception as e:  # noqa: BLE001 — reported below if the emulator is unreachable altogether
        if "Could not connect" in str(e) or "Connection" in type(e).__name__:
            raise SystemExit(f"provision.py: no emulator answers at {endpoint} "
                             "(start one: bash infra/local/emulator.sh start)") from None
        return DEFAULT_ACCOUNT_ID


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"))
    ap.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
                    or "us-east-1")
    ap.add_argument("--stack", default="commerce-local", help="stack name: prefix of generated physical names")
    ap.add_argument("--template", default="template.yaml")
    ap.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="parameter override (repeatable)")
    ap.add_argument("--out", default=".local/stack.json", help="stack file; stack.env is written next to it")
    ap.add_argument("--routes-only", action="store_true", help="print the template's HTTP routes as JSON and exit")
    args = ap.parse_args()

    template = load_template(args.template)
    params = parameters(template, args.param)
    pseudo = {"AWS::Region": args.region, "AWS::StackName": args.stack, "AWS::Partition": "aws",
              "AWS::URLSuffix": "amazonaws.com", "AWS::AccountId": DEFAULT_ACCOUNT_ID,
              "AWS::StackId": f"arn:aws:cloudformation:{args.region}:{DEFAULT_ACCOUNT_ID}:stack/{args.stack}/local",
              "AWS::NotificationARNs": []}

    if args.routes_only:
        print(json.dumps(routes_only(template, Resolver(params, pseudo, template.get("Conditions"))), indent=2))
        return

    # Fake credentials are enough for an emulator; never fall through to a real account's.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    os.environ.pop("AWS_PROFILE", None)
    account_id = emulator_account_id(args.endpoint, args.region)
    pseudo["AWS::AccountId"] = account_id
    pseudo["AWS::StackId"] = f"arn:aws:cloudformation:{args.region}:{account_id}:stack/{args.stack}/local"
    resolver = Resolver(params, pseudo, template.get("Conditions"))
    resources = template["Resources"]
    print(f"provisioning {len(resources)} resources of {args.template} into {args.endpoint} "
          f"(stack {args.stack}, account {account_id})", flush=True)
    prov = Provisioner(args.endpoint, args.region, args.stack, resolver, account_id)
    prov.run(template, resources)

    function_globals = (template.get("Globals") or {}).get("Function") or {}
    globals_env = {k: env_string(v) for k, v in
                   resolver.resolve((function_globals.get("Environment") or {}).get("Variables") or {}).items()}
    functions = {lid: function_description(lid, res, globals_env, resolver, prov)
                 for lid, res in resources.items()
                 if res["Type"] == "AWS::Serverless::Function" and lid in prov.resources}
    schedules = schedule_descriptions(resources, resolver, prov)
    websocket_apis = websocket_descriptions(resources, resolver, prov)
    stack = {"endpoint": args.endpoint, "region": args.region, "stack": args.stack, "account_id": account_id,
             "env": globals_env, "resources": prov.resources, "functions": functions, "schedules": schedules,
             "websocket_apis": websocket_apis}

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, json.dumps(stack, indent=2) + "\n")
    # Function-level variables too (the payment functions' provider secrets and URLs), so tests
    # that build a function's handler in-process see what its Lambda would; a name has one value.
    function_env = {k: v for f in functions.values() for k, v in f["env"].items() if k not in globals_env}
    env = {"AWS_ENDPOINT_URL": args.endpoint, "AWS_REGION": args.region, "AWS_DEFAULT_REGION": args.region,
           "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
           "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"], **globals_env, **function_env}
    env_file = out.parent / "stack.env"
    write_atomically(env_file, f"# written by infra/local/provision.py for stack {args.stack}; "
                     "`source` it (or `set -a; . it`)\n"
                     + "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()))
    print(f"wrote {out} and {env_file} ({len(functions)} functions, "
          f"{sum(len(f['routes']) for f in functions.values())} routes, "
          f"{len(schedules)} schedule(s) the dev server fires, "
          f"{sum(len(a['routes']) for a in websocket_apis)} WebSocket route(s) it serves)", flush=True)


if __name__ == "__main__":
    main()
