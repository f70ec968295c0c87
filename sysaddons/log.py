"""One JSON line per event, tagged with the execution and the step, with long values trimmed."""

import json
import os
import sys
import time

_MAX_VALUE_CHARS = 500
_context: dict[str, str] = {}


def bind(**fields: str) -> None:
    """Tag every following line of this invocation (execution name, step, add-on)."""
    _context.clear()
    _context.update({key: value for key, value in fields.items() if value})


def _trim(value):
    if isinstance(value, str) and len(value) > _MAX_VALUE_CHARS:
        return value[:_MAX_VALUE_CHARS] + f"...<{len(value) - _MAX_VALUE_CHARS} more chars>"
    if isinstance(value, dict):
        return {key: _trim(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_trim(item) for item in value[:50]]
    return value


def event(message: str, level: str = "INFO", **fields) -> None:
    """Write one structured line; callers pass no secrets, and long payloads are trimmed.

    Lines are written inside Lambda (where they go to CloudWatch) or when SYSADDONS_LOG is set;
    a command line tool using the shared package prints its own, shorter output instead.
    """
    if not (os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or os.environ.get("SYSADDONS_LOG")):
        return
    line = {"time": round(time.time(), 3), "level": level, "message": message, **_context}
    line.update(_trim(fields))
    print(json.dumps(line, default=str, sort_keys=False), file=sys.stderr, flush=True)
