#!/usr/bin/env python3
"""The patched emulator (infra/local/moto_server.py) answers as stock moto does.

Starts stock `moto.server` and the patched server on free ports, sends both the same DynamoDB
data-plane calls (every attribute type, projections, pages, indexes, batches, transactions,
failed conditions, ReturnValues), and compares the raw responses: status, content type, error
type and the JSON body. Then checks on the patched server what its other patches touch: SQS
hands out and dead-letters messages, an EventBridge input transformer still fills its template,
and `/moto-api/data.json` lists sent e-mail but no DynamoDB items.

Run by `make test`; exits non-zero on the first difference.
"""
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3

HERE = Path(__file__).resolve().parent
TABLE = "parity"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args):
    port = free_port()
    proc = subprocess.Popen([sys.executable, *args, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=2).read()
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    sys.exit(f"emulator {args} did not start")


def client(service, url):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def recording(url):
    c = client("dynamodb", url)
    c.raw = []

    def keep(http_response, **_):
        headers = {h.lower(): v for h, v in http_response.headers.items()
                   if h.lower() in ("content-type", "x-amzn-errortype")}
        c.raw.append((http_response.status_code, headers, json.loads(http_response.content or b"{}")))

    c.meta.events.register("after-call.dynamodb", keep)
    return c


def expect_failure(call, exception):
    try:
        call()
    except exception:
        return
    sys.exit(f"{call} was expected to fail with {exception}")


def data_plane(c):
    """The calls compared; returns what each answered."""
    s = lambda v: {"S": v}  # noqa: E731
    c.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "g")],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[{
            "IndexName": "GSI1",
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
        }],
    )
    c.raw.clear()
    key = {"pk": s("a"), "sk": s("1")}
    item = {
        **key, "g": s("x"), "n": {"N": "1.50"}, "b": {"B": b"\x00\x01bin"}, "bs": {"BS": [b"a", b"b"]},
        "ss": {"SS": ["p", "q"]}, "ns": {"NS": ["1", "2"]}, "t": {"BOOL": True},
        "l": {"L": [s("x"), {"N": "2"}, {"NULL": True}, {"BOOL": False}]},
        "m": {"M": {"k": s("v"), "e": {"M": {}}, "el": {"L": []}}},
    }
    c.put_item(TableName=TABLE, Item=item)
    c.put_item(TableName=TABLE, Item=dict(item, n={"N": "2"}), ReturnValues="ALL_OLD")
    for i in range(5):
        c.put_item(TableName=TABLE, Item={"pk": s("a"), "sk": s(f"s{i}"), "g": s("x")})
    c.get_item(TableName=TABLE, Key=key)
    c.get_item(TableName=TABLE, Key={"pk": s("a"), "sk": s("none")})
    c.get_item(TableName=TABLE, Key=key, ProjectionExpression="b, m.k, l[1]", ReturnConsumedCapacity="TOTAL")
    one = {":one": {"N": "1"}}
    c.update_item(TableName=TABLE, Key=key, UpdateExpression="ADD n :one SET z = :z",
                  ExpressionAttributeValues={**one, ":z": s("zz")}, ReturnValues="ALL_NEW")
    c.update_item(TableName=TABLE, Key=key, UpdateExpression="SET z = :z",
                  ExpressionAttributeValues={":z": s("z2")}, ReturnValues="UPDATED_OLD")
    c.update_item(TableName=TABLE, Key=key, UpdateExpression="SET z = :z", ExpressionAttributeValues={":z": s("z3")})
    expect_failure(lambda: c.update_item(
        TableName=TABLE, Key=key, UpdateExpression="SET z = :z", ConditionExpression="attribute_not_exists(pk)",
        ExpressionAttributeValues={":z": s("z4")}, ReturnValuesOnConditionCheckFailure="ALL_OLD",
    ), c.exceptions.ConditionalCheckFailedException)
    a = {":p": s("a")}
    c.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues=a, Limit=2)
    c.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues=a, Select="COUNT")
    c.query(TableName=TABLE, KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
            ExpressionAttributeValues={**a, ":s": s("s")}, FilterExpression="attribute_exists(g)",
            ProjectionExpression="sk")
    c.query(TableName=TABLE, IndexName="GSI1", KeyConditionExpression="g = :p",
            ExpressionAttributeValues={":p": s("x")}, ScanIndexForward=False, Limit=3)
    c.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": s("nothing")})
    c.scan(TableName=TABLE, Limit=3)
    c.batch_get_item(RequestItems={TABLE: {"Keys": [key, {"pk": s("a"), "sk": s("none")}]}})
    c.batch_write_item(RequestItems={TABLE: [
        {"PutRequest": {"Item": {"pk": s("b"), "sk": s("1")}}},
        {"DeleteRequest": {"Key": {"pk": s("a"), "sk": s("s0")}}},
    ]})
    c.transact_get_items(TransactItems=[
        {"Get": {"TableName": TABLE, "Key": key}},
        {"Get": {"TableName": TABLE, "Key": {"pk": s("q"), "sk": s("1")}}},
    ])
    c.transact_write_items(TransactItems=[
        {"Put": {"TableName": TABLE, "Item": {"pk": s("c"), "sk": s("1")}}},
        {"Update": {"TableName": TABLE, "Key": key, "UpdateExpression": "ADD n :one", "ExpressionAttributeValues": one}},
    ])
    expect_failure(lambda: c.transact_write_items(TransactItems=[
        {"Put": {"TableName": TABLE, "Item": {"pk": s("c"), "sk": s("1")}, "ConditionExpression": "attribute_not_exists(pk)"}},
        {"ConditionCheck": {"TableName": TABLE, "Key": key, "ConditionExpression": "attribute_exists(pk)"}},
    ]), c.exceptions.TransactionCanceledException)
    c.delete_item(TableName=TABLE, Key={"pk": s("b"), "sk": s("1")}, ReturnValues="ALL_OLD")
    c.delete_item(TableName=TABLE, Key={"pk": s("b"), "sk": s("zz")})
    c.get_item(TableName=TABLE, Key=key)
    return c.raw


def other_services(url):
    sqs, events, ses = client("sqs", url), client("events", url), client("ses", url)
    dlq = sqs.create_queue(QueueName="parity-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName="parity", Attributes={
        "MessageRetentionPeriod": "60", "VisibilityTimeout": "1",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}),
    })["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="parity", EventPattern=json.dumps({"source": ["parity"]}))
    events.put_targets(Rule="parity", Targets=[{"Id": "1", "Arn": arn, "InputTransformer": {
        "InputPathsMap": {"x": "$.detail.x"}, "InputTemplate": '{"got": <x>}'}}])
    for i in range(3):
        events.put_events(Entries=[{"Source": "parity", "DetailType": "t", "Detail": json.dumps({"x": i})}])
    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
    bodies = sorted(m["Body"] for m in got)
    if bodies != ['{"got": 0}', '{"got": 1}', '{"got": 2}']:
        sys.exit(f"the input transformer's deliveries: {bodies}")
    time.sleep(1.5)
    sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
    if len(dead) != 3:
        sys.exit(f"{len(dead)} of 3 messages received once (maxReceiveCount 1) reached the DLQ")
    ses.verify_email_identity(EmailAddress="shop@example.com")
    ses.send_email(Source="shop@example.com", Destination={"ToAddresses": ["buyer@example.com"]},
                   Message={"Subject": {"Data": "Parity"}, "Body": {"Text": {"Data": "hello"}}})
    data = json.load(urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=10))
    mails = [(m["destinations"], m["subject"], m["body"]) for m in data["ses"]["Message"]]
    if mails != [({"ToAddresses": ["buyer@example.com"]}, "Parity", "hello")]:
        sys.exit(f"data.json's ses.Message: {mails}")
    if any(data.get("dynamodb", {}).values()):
        sys.exit("data.json lists DynamoDB objects")


def main():
    stock, stock_url = start(["-m", "moto.server"])
    ours, ours_url = start([str(HERE / "moto_server.py")])
    try:
        expected, got = data_plane(recording(stock_url)), data_plane(recording(ours_url))
        differ = [(i, e, g) for i, (e, g) in enumerate(zip(expected, got)) if e != g]
        for i, e, g in differ:
            print(f"call {i}:\n  stock moto: {e}\n  patched:    {g}", file=sys.stderr)
        if differ or len(expected) != len(got):
            sys.exit(f"{len(differ)} of {len(expected)} DynamoDB answers differ from stock moto's")
        other_services(ours_url)
        print(f"the patched emulator answers {len(expected)} DynamoDB calls as stock moto does; "
              "SQS, EventBridge and data.json checks hold")
    finally:
        for proc in (stock, ours):
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
