#!/usr/bin/env python3
"""moto's server with DynamoDB calls serialised, and TransactWriteItems and Query made
proportional to what they touch (the transaction's items, the partition), not to the table.

1. moto 5.2.5 serves requests on threads, and its TransactWriteItems snapshots the whole table
   (copy.deepcopy) to roll back on a failed condition. A write on another thread during that
   copy raises "dictionary changed size during iteration" (a 500), and the rollback restores a
   snapshot that lacks the other thread's write — silently losing committed items and rewinding
   the table stream. Real DynamoDB (and LocalStack) have no such problem, so the fix belongs in
   the local emulator: one lock around every DynamoDB and DynamoDB Streams action. Other
   services (SQS long polls in particular) keep running concurrently.

2. That snapshot is taken once per *action* of the transaction, so a 20-action checkout on a
   table of 50 000 items deep-copies a million items: seconds per transaction, growing with the
   table, and under the lock every other request waits (timeouts in a long test run). Because
   the lock makes the backend single-threaded and a transaction's actions must target distinct
   items, the same all-or-nothing result is reached by checking every condition first, then
   applying the writes, backing up only the items being written. DynamoDB evaluates a
   transaction's conditions against the state before it too, so this is closer to the real
   semantics, not further.

3. Its Query starts from `all_items()`, which lists and *sorts* the whole table, then keeps the
   items of the one partition asked for (or, on an index, the items that match). Every Query
   thus costs O(N log N) Python comparisons in the table's size: a quarter of a second per
   Query once a long test run has written some tens of thousands of items, so a route that
   reads a few dozen partitions (trending reads 28) took tens of seconds. Here a table Query
   reads its partition's dict directly, and an index Query skips the pre-sort (moto sorts the
   matches by the index keys afterwards anyway). The results, their order and pagination are
   unchanged: the same items reach the same code.

4. moto keeps a reference to every model object it ever creates (`BaseModel.__new__` appends it
   to its class's `instances_tracked`) so that `GET /moto-api/data.json` can dump them all. That
   is every DynamoDB item version, stream record and SQS message of the run: memory that is never
   freed, a garbage collector that walks more each time, and a data.json that serialises the
   whole table (1.6 s at 20 000 items) — and the tests poll it every quarter second for the
   e-mails, SMS and pushes they wait for. Here only the models of SES and SNS (what data.json is
   read for: `ses.Message`, `sns.SMS`, `sns.PlatformEndpoint`) are tracked; the other services
   list no instances there. And data.json encodes each object once into its text, not each
   attribute twice after a `dir()`: same output, a few times faster on a run's thousands of
   e-mails.

5. Per request, a few more costs that grow or repeat for nothing (found by sampling a test run
   with py-spy):
   - the dispatcher lists moto's package directory (a `stat` per service) twice per request, under
     a global lock, to see whether the host names a service: the list is read once here;
   - each message an SQS ReceiveMessage hands out recomputes all the queue's attributes three
     times (two walks over its messages each) to read its retention period: quadratic in the
     backlog when a consumer falls behind. Here the retention period is read from the queue;
   - every EventBridge delivery to a target parses the rule's input paths with a fresh JSONPath
     parser (ply tables rebuilt): parsed paths are kept;
   - werkzeug logs a line per request to the emulator's log under the logging lock: only
     warnings and errors are logged.

6. moto 5.2's DynamoDB answers go through its botocore-model-driven serializer, which walks the
   output shape attribute by attribute: once the fixes above were in, a fifth of the emulator's
   time in a test run. The results of the data-plane operations are already in wire form
   (DynamoDB JSON; binary values as bytes), so they are written with `json.dumps` (bytes as
   base64; absent members, and keys that are not members of the output, left out, as the
   serializer does). Anything else — control-plane
   calls, errors, a value `json` cannot write — still goes through moto's serializer.

Same arguments as `moto_server`.
"""
import base64
import copy
import functools
import inspect
import json
import logging
import threading

import jsonpath_ng.ext
import moto.backends
from moto.core.common_models import BaseModel
from moto.core.utils import unix_time
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.moto_api._internal.responses import MotoAPIResponse
from moto.server import main
from moto.sqs.models import SQSBackend

_LOCK = threading.RLock()

# See 4. above: the services whose objects `/moto-api/data.json` lists.
_TRACKED = ("moto.ses.", "moto.sns.")
_tracked_new = BaseModel.__new__


def _new(cls, *args, **kwargs):
    if cls.__module__.startswith(_TRACKED):
        return _tracked_new(cls, *args, **kwargs)
    return super(BaseModel, cls).__new__(cls)


BaseModel.__new__ = staticmethod(_new)

_PUBLIC_PROPERTIES = {}


def _public_attributes(instance):
    """What moto's data.json shows of an object, as JSON text: its public attributes and
    properties whose values are JSON."""
    cls = type(instance)
    names = _PUBLIC_PROPERTIES.get(cls)
    if names is None:
        names = _PUBLIC_PROPERTIES[cls] = sorted(
            n for n in dir(cls) if not n.startswith("_") and isinstance(getattr(cls, n), property))
    shown = {k: v for k, v in vars(instance).items() if not k.startswith("_")}
    for name in names:
        try:
            shown[name] = getattr(instance, name)
        except Exception:  # noqa: BLE001 — moto skips attributes that fail to read
            pass
    try:
        return json.dumps(shown)
    except (TypeError, ValueError):
        pass
    kept = {}
    for k, v in shown.items():
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            continue
        kept[k] = v
    return json.dumps(kept)


def model_data(self, request, full_url, headers):
    """moto's data.json, assembled from each object's JSON text (each object encoded once)."""
    from moto.core.model_instances import model_data as tracked

    def models_of(service):
        models = tracked[service]
        return ", ".join(
            f"{json.dumps(name)}: [{', '.join(_public_attributes(i) for i in list(models[name].instances_tracked))}]"
            for name in sorted(models))

    body = ", ".join(f"{json.dumps(service)}: {{{models_of(service)}}}" for service in sorted(tracked))
    return 200, {"Content-Type": "application/javascript"}, "{" + body + "}"


MotoAPIResponse.model_data = model_data


def _serialised(call_action):
    def wrapper(self, *args, **kwargs):
        with _LOCK:
            return call_action(self, *args, **kwargs)
    return wrapper


for handler in (DynamoHandler, DynamoDBStreamsHandler):
    handler.call_action = _serialised(handler.call_action)


def _key_of(table, op_type, op):
    if op_type != "Put":
        return op["Key"]
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def _restore(table, key, old):
    """Puts an item back as it was (None: absent) without a stream record."""
    h = DynamoType(key[table.hash_key_attr])
    if table.range_key_attr is None:
        if old is None:
            table.items.pop(h, None)
        else:
            table.items[h] = old
        return
    r = DynamoType(key[table.range_key_attr])
    if old is None:
        table.items[h].pop(r, None)
    else:
        table.items[h][r] = old


def transact_write_items(self, transact_items):
    """All conditions first (against the state before the transaction), then the writes."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    seen = set()
    errors = []
    writes = []
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        original_item = None
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            table = self.get_table(table_name)
            key = _key_of(table, op_type, op)
            unique = (str(table_name), str(dict(sorted(key.items()))))
            if unique in seen:
                raise MultipleTransactionsException()
            seen.add(unique)
            condition = op.get("ConditionExpression")
            current = self.get_item(table_name, key)
            if condition is not None:
                check = get_filter_expression(condition, op.get("ExpressionAttributeNames"),
                                              op.get("ExpressionAttributeValues"))
                if not check.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            if op_type != "ConditionCheck":
                writes.append((op_type, op, table_name, table, key))
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # noqa: BLE001 — reported per action, as moto does
            errors.append((type(e).__name__, str(e), original_item))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)

    backups = []
    try:
        for op_type, op, table_name, table, key in writes:
            backups.append((table, key, copy.deepcopy(self.get_item(table_name, key))))
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(table_name, op["Item"], expression_attribute_names=names,
                              expression_attribute_values=values)
            elif op_type == "Delete":
                self.delete_item(table_name, key, expression_attribute_names=names,
                                 expression_attribute_values=values)
            else:
                self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                 expression_attribute_names=names, expression_attribute_values=values)
    except Exception:
        # an invalid write (e.g. ADD to a string): undo the ones done, then report it
        for table, key, old in reversed(backups):
            _restore(table, key, old)
        raise


DynamoDBBackend.transact_write_items = transact_write_items

# What the Query running on this thread needs from `all_items()` (see 3. above).
_QUERY = threading.local()
_all_items_sorted = Table.all_items
_query = Table.query
_QUERY_SIGNATURE = inspect.signature(_query)


def _all_items(self):
    scope = getattr(_QUERY, "scope", None)
    if scope is None:
        return _all_items_sorted(self)
    if isinstance(scope, _IndexScope):
        # moto checks every hash condition again; this only skips the items that cannot match
        return [item for part in self.items.values()
                for item in (part.values() if self.range_key_attr else [part])
                if all((v := item.attrs.get(name)) is not None and v.value == raw
                       for name, raw in scope.conditions)]
    part = self.items.get(scope)
    if part is None:
        return []
    return list(part.values()) if self.range_key_attr else [part]


class _IndexScope:
    def __init__(self, conditions):
        self.conditions = [(name, value.value) for name, value in conditions or []]


def _partition_query(self, *args, **kwargs):
    call = _QUERY_SIGNATURE.bind(self, *args, **kwargs).arguments
    if call.get("index_name"):
        _QUERY.scope = _IndexScope(call.get("hash_key_conditions"))
    else:
        _QUERY.scope = call["hash_key"]
    try:
        return _query(self, *args, **kwargs)
    finally:
        _QUERY.scope = None


Table.all_items = _all_items
Table.query = _partition_query

# See 5. above.
_MOTO_MODULES = tuple(moto.backends.list_of_moto_modules())
moto.backends.list_of_moto_modules = lambda: _MOTO_MODULES


def _retained(self, queue_name, message):
    retention = int(self.get_queue(queue_name).message_retention_period)
    return retention + message.sent_timestamp / 1000 > unix_time()


SQSBackend.is_message_valid_based_on_retention_period = _retained

# See 6. above.
_DATA_PLANE = frozenset({
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
    "BatchWriteItem", "TransactGetItems", "TransactWriteItems",
})
_serialize_with_model = DynamoResult.execute_result


def _without_absent(value):
    if isinstance(value, dict):
        return {k: _without_absent(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_absent(v) for v in value]
    return value


def _wire(value):
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


def _execute_result(self, context):
    if context.operation_model.name in _DATA_PLANE and isinstance(self.result, dict):
        members = context.operation_model.output_shape.members
        result = {k: v for k, v in self.result.items() if k in members}
        try:
            body = json.dumps(_without_absent(result), default=_wire)
        except (TypeError, ValueError):
            pass
        else:
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, body
    return _serialize_with_model(self, context)


DynamoResult.execute_result = _execute_result
jsonpath_ng.ext.parse = functools.lru_cache(maxsize=1024)(jsonpath_ng.ext.parse)
logging.getLogger("werkzeug").setLevel(logging.WARNING)

if __name__ == "__main__":
    main()
