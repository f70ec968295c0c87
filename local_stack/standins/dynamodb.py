"""moto's DynamoDB, corrected in one respect: a conditional write is checked and applied as
one step, as DynamoDB does it.

The workflow leans on that guarantee: a signoff decision is recorded only if the signoff is
still pending, and an add-on version is held by one execution only. moto checks the
condition, then writes, with nothing to stop another thread in between, so two writers at
the same moment can both pass. Serializing moto's item writes restores the guarantee; reads
stay as they are.
"""

import functools
import threading

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_lock = threading.RLock()


def make_conditional_writes_atomic() -> None:
    """Serialize every item write of moto's DynamoDB backend in this process (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in _WRITES:
        write = getattr(DynamoDBBackend, name)
        if getattr(write, "serialized", False):
            continue
        setattr(DynamoDBBackend, name, _serialized(write))


def _serialized(write):
    @functools.wraps(write)
    def serialized_write(*args, **kwargs):
        with _lock:
            return write(*args, **kwargs)

    serialized_write.serialized = True
    return serialized_write
