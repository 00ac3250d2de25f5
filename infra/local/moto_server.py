#!/usr/bin/env python3
"""moto's server with DynamoDB calls serialised.

moto 5.2.5 serves requests on threads, and its TransactWriteItems snapshots the whole table
(copy.deepcopy) to roll back on a failed condition. A write on another thread during that copy
raises "dictionary changed size during iteration" (a 500), and the rollback restores a
snapshot that lacks the other thread's write — silently losing committed items and rewinding
the table stream. Real DynamoDB (and LocalStack) have no such problem, so the fix belongs in
the local emulator: one lock around every DynamoDB and DynamoDB Streams action. Other services
(SQS long polls in particular) keep running concurrently.

Same arguments as `moto_server`.
"""
import threading

from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.server import main

_LOCK = threading.RLock()


def _serialised(call_action):
    def wrapper(self, *args, **kwargs):
        with _LOCK:
            return call_action(self, *args, **kwargs)
    return wrapper


for handler in (DynamoHandler, DynamoDBStreamsHandler):
    handler.call_action = _serialised(handler.call_action)

if __name__ == "__main__":
    main()
