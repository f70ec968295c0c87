"""One JSON line on standard error per login, logout, refusal and decision.

Lines carry who, what and where (the path), never a cookie, a task token or a secret; the
signoff is named by its id. In Lambda and in a container, standard error is the log stream.
"""

import json
import sys
import time

from flask import g, has_request_context, request

_MAX_VALUE = 300


def record(event: str, **fields) -> None:
    """Write one line: the event, the signed-in reviewer and request path, and the fields."""
    line = {"time": round(time.time(), 3), "app": "signoff", "event": event}
    if has_request_context():
        reviewer = g.get("reviewer")
        line["user"] = reviewer.email if reviewer else None
        line["method"] = request.method
        line["path"] = request.path
    line.update({key: _trim(value) for key, value in fields.items()})
    print(json.dumps(line, default=str), file=sys.stderr, flush=True)


def _trim(value):
    if isinstance(value, str) and len(value) > _MAX_VALUE:
        return value[:_MAX_VALUE] + "…"
    return value
